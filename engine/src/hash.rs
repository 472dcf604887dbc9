//! The engine's one fast hasher, for hash maps whose keys no client chooses: sequence
//! numbers the engine assigns (timer wheel, FIFO maps), and values that are already keyed
//! hashes (FIFO group keys, deduplication fingerprints).
//!
//! Fibonacci hashing: one multiply by 2⁶⁴/φ per key, and a fold of the product's high half
//! into its low half, since hashbrown picks the bucket from the low bits and those of a
//! product depend only on the key's low bits (keys with a stride of 2ᵏ would otherwise
//! share 1/2ᵏ of the buckets). SipHash, the standard library's default, was about 2 % of a
//! shard's time in the timer wheel alone. It has no resistance to chosen collisions: never
//! use it for keys a client picks (those go through a keyed hash first).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// 2⁶⁴ divided by the golden ratio, rounded to odd.
const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;

/// See the module doc.
#[derive(Default, Clone, Copy)]
pub(crate) struct FibHasher(u64);

impl Hasher for FibHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Not used by the integer keys above; correct (if slow) for anything else.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(FIBONACCI);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(FIBONACCI);
    }

    fn write_u128(&mut self, v: u128) {
        // A keyed 128-bit fingerprint: its halves folded together keep all of it.
        self.write_u64(v as u64 ^ (v >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
}

/// Builds [`FibHasher`]s.
pub(crate) type FibState = BuildHasherDefault<FibHasher>;

/// A `HashMap` keyed by engine-assigned sequence numbers (or already-hashed keys).
pub(crate) type SeqMap<V> = HashMap<u64, V, FibState>;

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn strided_and_wide_keys_spread() {
        let h = |v: u64| FibState::default().hash_one(v);
        // Keys 2^20 apart still differ in the low bits hashbrown uses.
        let low: std::collections::HashSet<u64> = (0..64u64).map(|i| h(i << 20) & 63).collect();
        assert!(low.len() > 32, "{}", low.len());
        // Both halves of a 128-bit fingerprint count.
        let w = |v: u128| FibState::default().hash_one(v);
        assert_ne!(w(1u128 << 64), w(1u128 << 65));
        assert_ne!(w(1), w(2));
    }
}
