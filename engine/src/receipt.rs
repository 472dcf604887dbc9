//! MAC-sealed receipt handles.
//!
//! This module owns the sealed form of a receipt handle (the opaque bytes a
//! consumer gets back with a received message and later passes to delete /
//! change-visibility) and the per-data-directory secret that seals it.
//!
//! Promises:
//! * A handle produced by [`ReceiptKey::seal`] for queue `q` opens with the
//!   same key and the same `q` to exactly the [`Receipt`] that was sealed.
//! * Any handle not produced by `seal` with this key for this queue is
//!   rejected (up to the forgery bound of a 128-bit SipHash-1-3 tag under a
//!   128-bit key): clients cannot forge, alter or replay a handle
//!   against another queue. The queue id is mixed into the MAC but is not
//!   carried in the handle.
//! * [`ReceiptKey::open`] does bounded work on untrusted input: anything
//!   but exactly [`HANDLE_LEN`] bytes is refused before any hashing, and the
//!   tag comparison is constant-time.
//! * [`ReceiptKey::load_or_create`] returns the same key across calls and
//!   restarts; the key file is only ever visible at its final path fully
//!   written and fsynced.
//!
//! Handle layout ([`HANDLE_LEN`] = 35 raw bytes):
//!
//! ```text
//! version u8 (=4) | partition u16 LE | seq u64 LE | generation u64 LE | tag [u8; 16]
//! tag = SipHash-1-3-128(key, queue_id u64 LE || body)
//! key = SHA-256("spool-receipt-v3-key" || secret)[..16]
//! ```
//!
//! Version 4 (this one) names a receive by its generation alone: a partition draws
//! generations from one counter whose high-water mark is leased ahead in
//! `partition.meta` (`Partition::take_generation`), so a generation is never issued
//! twice, across restarts and crashes too, and a handle outlives a restart. Version 3
//! also carried the partition's epoch (bumped on every open), which made every handle
//! stale at a restart; a version-3 handle still opens (same key, same length), to
//! generation 0, which no receive has: it is stale, as it always was after a restart.
//!
//! Why SipHash and not HMAC-SHA256 (version 1): a handle is sealed on every receive and
//! opened on every delete, and two SHA-256 compressions per handle were ~5 % of the
//! daemon's CPU under load. SipHash is a keyed PRF designed as a MAC for short inputs
//! like this 27-byte one. Version 2 used SipHash-2-4 over a 16-byte domain string, the
//! queue id and the body; at ~1 M handles a second that was still ~8 % of a shard's time
//! (`ReceiptKey::mac` in perf). Version 3 drops the per-call domain string (the
//! separation lives in the key derivation: this key is used for nothing else) and uses
//! the 1-3 round variant, the one Rust's standard library keys its hash maps with
//! against adversarial inputs: a forger still faces a 128-bit tag under a secret
//! 128-bit key, and a handle that fails is only refused (no oracle beyond
//! valid/invalid).
//!
//! The handle is authenticated, not encrypted: its fields are readable by
//! whoever holds it. Nothing in it is secret.
//!
//! Handles are raw bytes here and on the binary protocol (which carries bytes); only
//! the SQS API, whose handles are strings, spells them in base64url, at its edge. Encoding
//! and decoding base64 for every handle of every receive and delete was ~3 % of the
//! daemon's CPU at a million messages a second.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use siphasher::sip128::{Hasher128, SipHasher13};

/// Name of the secret file inside the data directory.
pub const SECRET_FILE: &str = "receipt.key";

/// Length of the receipt secret in bytes.
pub const KEY_LEN: usize = 32;

/// Current handle format version (first byte of every handle).
const VERSION: u8 = 4;
/// The previous version (generation u32, epoch u32): opens as stale (generation 0).
const VERSION_EPOCH: u8 = 3;
/// Domain separation for the MAC key, so this key can never be confused with a
/// key for some other structure even if the secret were reused.
const KEY_DOMAIN: &[u8] = b"spool-receipt-v3-key";
/// version + partition + seq + generation (version 3: generation u32 + epoch u32).
const BODY_LEN: usize = 1 + 2 + 8 + 8;
/// SipHash-1-3-128 tag length (128 bits).
const TAG_LEN: usize = 16;
/// Length of a sealed handle.
pub const HANDLE_LEN: usize = BODY_LEN + TAG_LEN;
// The handle layout docs/format.md gives (35 bytes: a 19-byte body, then the tag).
const _: () = assert!(BODY_LEN == 19 && HANDLE_LEN == 35);

/// A sealed receipt handle: [`HANDLE_LEN`] opaque bytes (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptHandle([u8; HANDLE_LEN]);

impl ReceiptHandle {
    /// The handle's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for ReceiptHandle {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for ReceiptHandle {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for ReceiptHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReceiptHandle(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// Identifies one delivery of one message: where it lives and which receive
/// produced it, so stale handles can be told apart from current ones by the
/// queue layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// Partition of the message.
    pub partition: u16,
    /// Sequence number of the message in its partition.
    pub seq: u64,
    /// The receive's generation: unique within the partition, across restarts
    /// (0 = none: a handle of an older format, never current).
    pub generation: u64,
}

/// Why a handle was refused. Deliberately coarse: callers (and clients)
/// learn only "not a handle" vs "not a handle we issued".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    /// Wrong length or unknown version.
    #[error("receipt handle is malformed")]
    Malformed,
    /// Well-formed but the tag does not verify for this key and queue.
    #[error("receipt handle failed verification")]
    BadSignature,
}

/// The secret used to seal and open receipt handles.
///
#[derive(Clone)]
pub struct ReceiptKey {
    key: [u8; 16],
}

impl fmt::Debug for ReceiptKey {
    // Never print the secret (or anything derived from it) into logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReceiptKey(<redacted>)")
    }
}

impl ReceiptKey {
    /// Load `<dir>/receipt.key`, or create it with fresh random bytes if it
    /// does not exist.
    ///
    /// Creation is crash-safe and race-safe: the secret is written to a
    /// uniquely named temp file, fsynced, then published with `link(2)`,
    /// which (unlike `rename`) fails if the final name already exists. So
    /// if two callers race, exactly one secret wins and the loser loads it;
    /// and after a crash the final path either does not exist or holds a
    /// complete, durable key. The directory is fsynced so the new name
    /// itself survives a crash.
    ///
    /// A key file of any length other than 32 bytes is an
    /// `InvalidData` error (never silently replaced: that would invalidate
    /// every outstanding handle).
    pub fn load_or_create(dir: &Path) -> io::Result<ReceiptKey> {
        // Unique per process and per call so concurrent creators never
        // share (and clobber) a temp file.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let path = dir.join(SECRET_FILE);
        match read_key_file(&path) {
            Ok(key) => return Ok(key),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }

        let mut secret = [0u8; KEY_LEN];
        File::open("/dev/urandom")?.read_exact(&mut secret)?;

        let tmp = dir.join(format!(
            "{SECRET_FILE}.tmp.{}.{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let publish = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&secret)?;
            f.sync_all()?;
            drop(f);
            fs::hard_link(&tmp, &path)
        })();
        // The temp name is never needed again, whatever happened.
        let _ = fs::remove_file(&tmp);
        match publish {
            Ok(()) => {
                File::open(dir)?.sync_all()?;
                Ok(ReceiptKey::from_bytes(secret))
            }
            // Someone else published first; theirs is the key.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_key_file(&path),
            Err(e) => Err(e),
        }
    }

    /// Build a key from raw secret bytes (tests, or keys supplied by config).
    pub fn from_bytes(b: [u8; KEY_LEN]) -> ReceiptKey {
        // SipHash takes a 128-bit key: derive it from the whole 256-bit secret, once.
        use sha2::Digest;
        let digest = sha2::Sha256::new()
            .chain_update(KEY_DOMAIN)
            .chain_update(b)
            .finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        ReceiptKey { key }
    }

    /// Seal `r` for queue `queue_id` into an opaque handle.
    pub fn seal(&self, queue_id: u64, r: &Receipt) -> ReceiptHandle {
        let mut buf = [0u8; HANDLE_LEN];
        let body = encode_body(r);
        buf[..BODY_LEN].copy_from_slice(&body);
        let tag = self.mac(queue_id, &body);
        buf[BODY_LEN..].copy_from_slice(&tag);
        ReceiptHandle(buf)
    }

    /// Verify and decode a handle previously produced by [`Self::seal`] for
    /// the same `queue_id`, given as the raw bytes that came off the wire.
    pub fn open(&self, queue_id: u64, handle: &[u8]) -> Result<Receipt, ReceiptError> {
        if handle.len() != HANDLE_LEN || (handle[0] != VERSION && handle[0] != VERSION_EPOCH) {
            return Err(ReceiptError::Malformed);
        }
        let (body, tag) = handle.split_at(BODY_LEN);
        // Constant-time comparison of the tags.
        let want = self.mac(queue_id, body);
        let diff = want.iter().zip(tag).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return Err(ReceiptError::BadSignature);
        }
        Ok(decode_body(body))
    }

    /// The tag over everything that is authenticated.
    fn mac(&self, queue_id: u64, body: &[u8]) -> [u8; TAG_LEN] {
        debug_assert_eq!(body.len(), BODY_LEN);
        let mut m = SipHasher13::new_with_key(&self.key);
        // One contiguous input: the hasher then runs over it without buffering.
        let mut input = [0u8; 8 + BODY_LEN];
        input[..8].copy_from_slice(&queue_id.to_le_bytes());
        input[8..8 + body.len()].copy_from_slice(body);
        std::hash::Hasher::write(&mut m, &input[..8 + body.len()]);
        m.finish128().as_bytes()
    }
}

/// Read an existing key file, insisting on exactly [`KEY_LEN`] bytes.
fn read_key_file(path: &Path) -> io::Result<ReceiptKey> {
    let mut f = File::open(path)?;
    // Read one byte more than needed so an over-long file is detected
    // without reading an arbitrarily large file into memory.
    let mut buf = [0u8; KEY_LEN + 1];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if n != KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} must be exactly {KEY_LEN} bytes (found {}{})",
                path.display(),
                n,
                if n > KEY_LEN { "+" } else { "" }
            ),
        ));
    }
    let mut secret = [0u8; KEY_LEN];
    secret.copy_from_slice(&buf[..KEY_LEN]);
    Ok(ReceiptKey::from_bytes(secret))
}

fn encode_body(r: &Receipt) -> [u8; BODY_LEN] {
    let mut b = [0u8; BODY_LEN];
    b[0] = VERSION;
    b[1..3].copy_from_slice(&r.partition.to_le_bytes());
    b[3..11].copy_from_slice(&r.seq.to_le_bytes());
    b[11..19].copy_from_slice(&r.generation.to_le_bytes());
    b
}

/// Caller guarantees `b.len() == BODY_LEN` (checked in `open`).
fn decode_body(b: &[u8]) -> Receipt {
    let le2 = |s: &[u8]| u16::from_le_bytes([s[0], s[1]]);
    let le8 = |s: &[u8]| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_le_bytes(a)
    };
    Receipt {
        partition: le2(&b[1..3]),
        seq: le8(&b[3..11]),
        // A version-3 handle's generation was a per-slot count under an epoch that
        // changed at every restart: it names no receive of this format.
        generation: if b[0] == VERSION { le8(&b[11..19]) } else { 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(b: u8) -> ReceiptKey {
        ReceiptKey::from_bytes([b; KEY_LEN])
    }

    fn sample() -> Receipt {
        Receipt {
            partition: 7,
            seq: 0x0123_4567_89ab_cdef,
            generation: 42 << 32 | 7,
        }
    }

    fn arb_receipt() -> impl Strategy<Value = Receipt> {
        (any::<u16>(), any::<u64>(), any::<u64>()).prop_map(|(partition, seq, generation)| {
            Receipt {
                partition,
                seq,
                generation,
            }
        })
    }

    proptest! {
        #[test]
        fn round_trip(r in arb_receipt(), q in any::<u64>(), k in any::<[u8; 32]>()) {
            let key = ReceiptKey::from_bytes(k);
            let h = key.seal(q, &r);
            prop_assert_eq!(h.len(), HANDLE_LEN);
            prop_assert_eq!(key.open(q, &h), Ok(r));
        }

        #[test]
        fn garbage_never_opens(s in proptest::collection::vec(any::<u8>(), 0..200), q in any::<u64>()) {
            prop_assert!(key(1).open(q, &s).is_err());
        }
    }

    #[test]
    fn every_bit_flip_is_rejected() {
        let k = key(9);
        let raw = k.seal(5, &sample()).to_vec();
        assert_eq!(raw.len(), HANDLE_LEN);
        for i in 0..raw.len() * 8 {
            let mut m = raw.clone();
            m[i / 8] ^= 1 << (i % 8);
            let err = k.open(5, &m).unwrap_err();
            // Flipping one bit of the version byte (4) never gives 3: caught as
            // malformed; every other flip must fail the MAC.
            let want = if i < 8 {
                ReceiptError::Malformed
            } else {
                ReceiptError::BadSignature
            };
            assert_eq!(err, want, "bit {i}");
        }
    }

    #[test]
    fn truncation_and_extension_are_rejected() {
        let k = key(9);
        let h = k.seal(5, &sample());
        for n in 0..h.len() {
            assert_eq!(
                k.open(5, &h[..n]),
                Err(ReceiptError::Malformed),
                "truncated to {n}"
            );
        }
        for ext in [&b"A"[..], b"\0", b"AAAA"] {
            let mut long = h.to_vec();
            long.extend_from_slice(ext);
            assert_eq!(
                k.open(5, &long),
                Err(ReceiptError::Malformed),
                "ext {ext:?}"
            );
        }
        assert_eq!(
            k.open(5, &vec![3u8; 10 << 20]),
            Err(ReceiptError::Malformed)
        );
    }

    #[test]
    fn wrong_version_is_malformed() {
        let k = key(9);
        let mut raw = k.seal(5, &sample()).to_vec();
        raw[0] = 1; // the HMAC-SHA256 format of earlier builds
        assert_eq!(k.open(5, &raw), Err(ReceiptError::Malformed));
    }

    #[test]
    fn version_3_handle_opens_stale() {
        let k = key(9);
        let mut body = [0u8; BODY_LEN];
        body[0] = VERSION_EPOCH;
        body[1..3].copy_from_slice(&7u16.to_le_bytes());
        body[3..11].copy_from_slice(&99u64.to_le_bytes());
        body[11..15].copy_from_slice(&5u32.to_le_bytes());
        body[15..19].copy_from_slice(&2u32.to_le_bytes());
        let mut raw = body.to_vec();
        raw.extend_from_slice(&k.mac(5, &body));
        let r = k.open(5, &raw).unwrap();
        assert_eq!((r.partition, r.seq, r.generation), (7, 99, 0));
    }

    #[test]
    fn other_queue_is_rejected() {
        let k = key(9);
        let h = k.seal(5, &sample());
        assert_eq!(k.open(6, &h), Err(ReceiptError::BadSignature));
        assert_eq!(k.open(5 | 1 << 63, &h), Err(ReceiptError::BadSignature));
        assert_eq!(k.open(5, &h), Ok(sample()));
    }

    #[test]
    fn other_key_is_rejected() {
        let h = key(9).seal(5, &sample());
        assert_eq!(key(10).open(5, &h), Err(ReceiptError::BadSignature));
        let mut b = [9u8; KEY_LEN];
        b[31] ^= 1;
        assert_eq!(
            ReceiptKey::from_bytes(b).open(5, &h),
            Err(ReceiptError::BadSignature)
        );
    }

    #[test]
    fn debug_does_not_leak_key() {
        assert_eq!(format!("{:?}", key(0xAB)), "ReceiptKey(<redacted>)");
    }

    #[test]
    fn load_or_create_persists() {
        let dir = tempfile::tempdir().unwrap();
        let k1 = ReceiptKey::load_or_create(dir.path()).unwrap();
        let bytes = fs::read(dir.path().join(SECRET_FILE)).unwrap();
        assert_eq!(bytes.len(), KEY_LEN);
        assert_ne!(bytes, [0u8; KEY_LEN]);
        // No temp files are left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [SECRET_FILE]);

        let k2 = ReceiptKey::load_or_create(dir.path()).unwrap();
        assert_eq!(fs::read(dir.path().join(SECRET_FILE)).unwrap(), bytes);
        let h = k1.seal(1, &sample());
        assert_eq!(k2.open(1, &h), Ok(sample()));
        let mut arr = [0u8; KEY_LEN];
        arr.copy_from_slice(&bytes);
        assert_eq!(ReceiptKey::from_bytes(arr).open(1, &h), Ok(sample()));

        // A different directory gets a different secret.
        let other = tempfile::tempdir().unwrap();
        let k3 = ReceiptKey::load_or_create(other.path()).unwrap();
        assert_eq!(k3.open(1, &h), Err(ReceiptError::BadSignature));
    }

    #[test]
    fn load_or_create_races_agree() {
        let dir = tempfile::tempdir().unwrap();
        let handles: Vec<ReceiptHandle> = std::thread::scope(|s| {
            let ts: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        ReceiptKey::load_or_create(dir.path())
                            .unwrap()
                            .seal(1, &sample())
                    })
                })
                .collect();
            ts.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(handles.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn wrong_length_key_file_is_an_error() {
        for len in [0usize, 31, 33, 64] {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join(SECRET_FILE), vec![1u8; len]).unwrap();
            let err = ReceiptKey::load_or_create(dir.path()).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "len {len}");
            // And the bad file was not replaced.
            assert_eq!(fs::read(dir.path().join(SECRET_FILE)).unwrap().len(), len);
        }
    }
}
