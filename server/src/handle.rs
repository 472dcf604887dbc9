//! Receipt handles on the wire: `shard u16 LE | engine handle`.
//!
//! Each shard's engine seals its own handles (a MAC under that shard's key); the daemon
//! prefixes the shard number so a Delete or ChangeVisibility goes straight to the shard
//! that issued the handle. Handles are raw bytes on the binary protocol, which carries
//! bytes; the SQS API spells them in base64url at its edge ([`to_text`], [`from_text`]).
//! A forged prefix only routes a handle to a shard whose key rejects it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use spool_engine::HANDLE_LEN;

/// Length of the shard prefix.
const PREFIX_LEN: usize = 2;
/// Length of a wire handle.
pub const WIRE_LEN: usize = PREFIX_LEN + HANDLE_LEN;

/// Prefixes an engine handle with the shard that issued it.
pub fn wrap(shard: u16, engine_handle: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREFIX_LEN + engine_handle.len());
    out.extend_from_slice(&shard.to_le_bytes());
    out.extend_from_slice(engine_handle);
    out
}

/// Splits a wire handle into its shard and the engine handle. None if it is too short
/// to hold a prefix or the shard is not below `shards` (the engine judges the rest).
pub fn unwrap(handle: &[u8], shards: u16) -> Option<(u16, &[u8])> {
    let (prefix, inner) = handle.split_first_chunk::<PREFIX_LEN>()?;
    let shard = u16::from_le_bytes(*prefix);
    (shard < shards).then_some((shard, inner))
}

/// The SQS API's spelling of a wire handle.
pub fn to_text(wire: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(wire)
}

/// A wire handle from its SQS spelling; None if it is not one (not base64url, or not
/// the length of a handle: anything longer is refused before decoding).
pub fn from_text(text: &str) -> Option<Vec<u8>> {
    if text.len() != (WIRE_LEN * 4).div_ceil(3) {
        return None;
    }
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let h = wrap(3, b"AbC");
        assert_eq!(h, b"\x03\x00AbC");
        assert_eq!(wrap(0x1234, b"A"), b"\x34\x12A");
        assert_eq!(unwrap(&h, 4), Some((3, &b"AbC"[..])));
        assert_eq!(unwrap(&h, 3), None, "shard out of range");
        assert_eq!(unwrap(&wrap(65535, b"A"), u16::MAX), None);
        assert_eq!(unwrap(&wrap(40, b""), 41), Some((40, &b""[..])));
        assert_eq!(unwrap(b"\x01", 4), None, "no room for a prefix");
        assert_eq!(unwrap(b"", 4), None);
    }

    #[test]
    fn text_form_round_trips_and_refuses_what_is_not_a_handle() {
        let wire: Vec<u8> = (0..WIRE_LEN as u8).collect();
        let text = to_text(&wire);
        assert_eq!(text.len(), 50);
        assert!(text
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(from_text(&text), Some(wire.clone()));
        for bad in [
            String::new(),
            "forged".into(),
            format!("{text}A"),
            text[1..].to_string(),
            format!("{}=", &text[1..]),
            text.replace(|c: char| c.is_ascii_alphabetic(), "+"),
            "A".repeat(100_000),
        ] {
            assert_eq!(from_text(&bad), None, "{bad:?}");
        }
        // The last character may carry only the bits the handle has: one spelling each.
        let mut other = text.clone().into_bytes();
        let last = other.last_mut().unwrap();
        *last = if *last == b'A' { b'B' } else { b'A' };
        let other = String::from_utf8(other).unwrap();
        assert!(from_text(&other).is_none_or(|w| to_text(&w) == other));
    }
}
