//! Receipt handles on the wire: `<shard>.<engine handle>`.
//!
//! Each shard's engine seals its own handles (HMAC under that shard's key); the daemon
//! prefixes the shard number so a Delete or ChangeVisibility goes straight to the shard
//! that issued the handle. The engine handle is base64url, which has no `.`, so the first
//! `.` ends the prefix. A forged prefix only routes a handle to a shard whose key rejects
//! it.

/// Prefixes an engine handle with the shard that issued it.
pub fn wrap(shard: u16, engine_handle: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(engine_handle.len() + 6);
    // Decimal digits without a formatter: this runs once per received message.
    let mut digits = [0u8; 5];
    let mut n = shard;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.push(b'.');
    out.extend_from_slice(engine_handle);
    out
}

/// Splits a wire handle into its shard and the engine handle. None if the prefix is
/// missing, not a decimal number, or not below `shards`.
pub fn unwrap(handle: &[u8], shards: u16) -> Option<(u16, &[u8])> {
    let dot = handle.iter().take(6).position(|&b| b == b'.')?;
    let digits = &handle[..dot];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let shard: u16 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    (shard < shards).then_some((shard, &handle[dot + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let h = wrap(3, b"AbC-_x");
        assert_eq!(h, b"3.AbC-_x");
        assert_eq!(wrap(0, b"A"), b"0.A");
        assert_eq!(wrap(255, b"A"), b"255.A");
        assert_eq!(unwrap(&wrap(65535, b"A"), u16::MAX), None);
        assert_eq!(unwrap(&wrap(40, b"A"), 41), Some((40, &b"A"[..])));
        assert_eq!(unwrap(&h, 4), Some((3, &b"AbC-_x"[..])));
        assert_eq!(unwrap(&h, 3), None, "shard out of range");
        assert_eq!(unwrap(b"AbC", 4), None, "no prefix");
        assert_eq!(unwrap(b".AbC", 4), None, "empty prefix");
        assert_eq!(unwrap(b"x1.AbC", 4), None, "not a number");
        assert_eq!(unwrap(b"99999999.A", 4), None, "prefix too long");
        assert_eq!(unwrap(b"", 4), None);
    }
}
