//! The FIFO deduplication window: which deduplication ids were accepted in the last five
//! minutes, and the message each one produced.
//!
//! Entries expire in insertion order (time only moves forward), so a deque gives O(1)
//! expiry. The window is rebuilt on open from the records of the last five minutes, so
//! deduplication survives a restart. Memory is bounded by `max_entries`: past it the
//! oldest ids are forgotten early (documented in docs/architecture.md), never the memory
//! grown without bound.
//!
//! Ids are remembered by a 128-bit fingerprint, SipHash-1-3 under a key drawn at random
//! for each window, not by their bytes: an id costs a 64-byte map slot and a 32-byte entry
//! in the expiry queue, with no allocation of its own, and a send hashes the id once (its
//! lookup and its insert share the fingerprint) instead of SipHash over a copy of it. Two
//! different ids are taken for one with probability about n² / 2¹²⁹ for n ids held (below
//! 10⁻²⁶ at the default bound of 2²⁰ per partition), and since the key is secret a
//! client cannot aim for it.
//!
//! DeduplicationScope can change while ids are remembered. Each entry is keyed by its
//! fingerprint under the queue's current scope (the id alone, or its group with it) and
//! carries its fingerprint under the other scope; a scope change re-keys every entry
//! ([`DedupWindow::swap_scopes`], O(entries), once per change), so the new scope finds
//! every send of the window, whichever scope was in force when it was sent. (Remembering
//! both keys as two entries instead doubled the map, and cost 7 % of a FIFO run's CPU in
//! cache misses: `bench/profile.sh sync fifo 100`.)

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};

use siphasher::sip128::{Hasher128, SipHasher13};

use crate::hash::FibState;

use crate::record::MessageId;

/// SQS's deduplication interval.
pub use spool_model::limits::DEDUP_WINDOW_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupHit {
    pub message_id: MessageId,
    pub seq: u64,
}

/// One remembered id.
#[derive(Debug, Clone, Copy)]
struct Entry {
    at_ms: u64,
    hit: DedupHit,
    /// The id's fingerprint under the other DeduplicationScope.
    other_fp: u128,
}

pub struct DedupWindow {
    /// Fingerprint (under the current scope) → the entry.
    map: HashMap<u128, Entry, FibState>,
    /// Fingerprints in acceptance order, with their acceptance times.
    order: VecDeque<(u64, u128)>,
    /// Entries whose key under the current scope is another's (see
    /// [`DedupWindow::swap_scopes`]): (accepted at, that key, the entry), in acceptance
    /// order. Empty unless the scope changed in the last five minutes.
    shadowed: VecDeque<(u64, u128, Entry)>,
    max_entries: usize,
    keys: (u64, u64),
}

impl DedupWindow {
    pub fn new(max_entries: usize) -> Self {
        // Two draws of the standard library's per-process random keys.
        let r = std::collections::hash_map::RandomState::new();
        DedupWindow {
            map: HashMap::default(),
            order: VecDeque::new(),
            shadowed: VecDeque::new(),
            max_entries: max_entries.max(1),
            keys: (r.hash_one(0u64), r.hash_one(1u64)),
        }
    }

    /// The fingerprint `key` is remembered by; [`DedupWindow::get_fp`] and
    /// [`DedupWindow::insert_fp`] take it, so a send hashes its id once.
    pub(crate) fn fingerprint(&self, key: &[u8]) -> u128 {
        let mut h = SipHasher13::new_with_keys(self.keys.0, self.keys.1);
        h.write(key);
        h.finish128().as_u128()
    }

    /// Forgets ids accepted at or before `now - window`.
    pub fn expire(&mut self, now_ms: u64) {
        while self
            .shadowed
            .front()
            .is_some_and(|&(at, _, _)| at + DEDUP_WINDOW_MS <= now_ms)
        {
            self.shadowed.pop_front();
        }
        while let Some(&(at, fp)) = self.order.front() {
            if at + DEDUP_WINDOW_MS > now_ms && self.order.len() <= self.max_entries {
                break;
            }
            self.order.pop_front();
            // Only remove the map entry if it is the one this queue entry created.
            if self.map.get(&fp).is_some_and(|e| e.at_ms == at) {
                self.map.remove(&fp);
            }
        }
    }

    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<DedupHit> {
        let fp = self.fingerprint(key);
        self.get_fp(fp, now_ms)
    }

    pub(crate) fn get_fp(&mut self, fp: u128, now_ms: u64) -> Option<DedupHit> {
        self.expire(now_ms);
        if let Some(e) = self.map.get(&fp) {
            return Some(e.hit);
        }
        // An id kept aside under a key another holds still counts once that one expired
        // (`shadowed` is empty unless the scope changed in the last five minutes).
        self.shadowed
            .iter()
            .find(|(_, key, _)| *key == fp)
            .map(|(_, _, e)| e.hit)
    }

    /// Records `key` (under the current scope; `other_key` under the other) as accepted
    /// at `at_ms`. Keeps the first acceptance if already present.
    #[cfg(test)]
    pub fn insert(&mut self, key: &[u8], other_key: &[u8], at_ms: u64, hit: DedupHit) {
        let fp = self.fingerprint(key);
        let other_fp = self.fingerprint(other_key);
        self.insert_fp(fp, other_fp, at_ms, hit);
    }

    pub(crate) fn insert_fp(&mut self, fp: u128, other_fp: u128, at_ms: u64, hit: DedupHit) {
        if let std::collections::hash_map::Entry::Vacant(v) = self.map.entry(fp) {
            v.insert(Entry {
                at_ms,
                hit,
                other_fp,
            });
            self.order.push_back((at_ms, fp));
            if self.order.len() > self.max_entries {
                self.expire(at_ms);
            }
        }
    }

    /// [`DedupWindow::insert`] for the window's rebuild on open, in acceptance order: a
    /// key already held (the same id of two groups, sent under the group scope, looked up
    /// now under the queue scope) is kept aside as [`DedupWindow::swap_scopes`] keeps it,
    /// so it still counts after the first expires, and after a change back.
    pub fn insert_rebuilt(&mut self, key: &[u8], other_key: &[u8], at_ms: u64, hit: DedupHit) {
        let fp = self.fingerprint(key);
        let other_fp = self.fingerprint(other_key);
        if self.map.contains_key(&fp) {
            let e = Entry {
                at_ms,
                hit,
                other_fp,
            };
            self.shadowed.push_back((at_ms, fp, e));
        } else {
            self.insert_fp(fp, other_fp, at_ms, hit);
        }
    }

    /// The queue's DeduplicationScope changed: every entry is keyed by its fingerprint
    /// under the new scope. Where two entries meet under one key (the same id sent in two
    /// groups under the group scope, now under the queue scope), the earlier one answers
    /// lookups and the later one is kept aside (`shadowed`), to be keyed again by the next
    /// change back (its group's key), until it expires.
    pub fn swap_scopes(&mut self) {
        let old = std::mem::take(&mut self.map);
        let order = std::mem::take(&mut self.order);
        let mut all: Vec<(u64, u128, Entry)> = order
            .into_iter()
            .filter_map(|(at, fp)| old.get(&fp).filter(|e| e.at_ms == at).map(|e| (at, fp, *e)))
            .collect();
        all.extend(self.shadowed.drain(..));
        // Acceptance order, so that the earliest send keeps a shared key.
        all.sort_by_key(|&(at, _, _)| at);
        self.map.reserve(all.len());
        for (at, fp, e) in all {
            let key = e.other_fp;
            let swapped = Entry { other_fp: fp, ..e };
            match self.map.entry(key) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(swapped);
                    self.order.push_back((at, key));
                }
                std::collections::hash_map::Entry::Occupied(_) => {
                    self.shadowed.push_back((at, key, swapped));
                }
            }
        }
        debug_assert_eq!(self.map.len(), self.order.len());
    }

    /// Forgets every id (PurgeQueue: AWS accepts a purged message's deduplication id again).
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.shadowed.clear();
    }

    /// Ids remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

/// Hashes a value with the map's hasher (tests).
#[cfg(test)]
fn table_hash<T: std::hash::Hash>(v: &T) -> u64 {
    FibState::default().hash_one(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(seq: u64) -> DedupHit {
        DedupHit {
            message_id: MessageId::from_u128(u128::from(seq)),
            seq,
        }
    }

    #[test]
    fn window_and_bound() {
        let mut w = DedupWindow::new(3);
        w.insert(b"a", b"g\0a", 1000, hit(1));
        w.insert(b"a", b"g\0a", 2000, hit(2));
        assert_eq!(w.get(b"a", 1000 + DEDUP_WINDOW_MS - 1), Some(hit(1)));
        assert_eq!(w.get(b"a", 1000 + DEDUP_WINDOW_MS), None);
        for (i, k) in [b"b", b"c", b"d", b"e"].iter().enumerate() {
            w.insert(*k, b"", 5000, hit(i as u64));
        }
        assert_eq!(w.len(), 3);
        assert_eq!(w.get(b"b", 5000), None, "oldest evicted at the bound");
        assert!(w.get(b"e", 5000).is_some());
    }

    #[test]
    fn distinct_ids_stay_distinct_and_windows_differ_in_key() {
        let mut w = DedupWindow::new(100_000);
        for i in 0..50_000u64 {
            w.insert(format!("g\0id-{i}").as_bytes(), b"", 1000, hit(i));
        }
        assert_eq!(w.len(), 50_000);
        for i in (0..50_000u64).step_by(997) {
            assert_eq!(w.get(format!("g\0id-{i}").as_bytes(), 1000), Some(hit(i)));
        }
        assert_eq!(w.get(b"g\0id-50000", 1000), None);
        // Each window draws its own key, so fingerprints differ between windows.
        let other = DedupWindow::new(1);
        assert_ne!(w.fingerprint(b"x"), other.fingerprint(b"x"));
        // The table hash of a fingerprint depends on both halves.
        assert_ne!(table_hash(&(1u128 << 64)), table_hash(&(1u128 << 65)));
    }

    #[test]
    fn a_scope_change_finds_every_id_under_the_new_scope() {
        let mut w = DedupWindow::new(100);
        // Group scope: the same id in two groups is two entries.
        w.insert(b"g1\0d", b"d", 1000, hit(1));
        w.insert(b"g2\0d", b"d", 2000, hit(2));
        w.insert(b"g1\0e", b"e", 3000, hit(3));
        w.swap_scopes();
        // Queue scope: "d" is the first send's, "e" is known, the group keys are not.
        assert_eq!(w.get(b"d", 3000), Some(hit(1)));
        assert_eq!(w.get(b"e", 3000), Some(hit(3)));
        assert_eq!(w.get(b"g1\0d", 3000), None);
        assert_eq!(w.len(), 2);
        w.swap_scopes();
        assert_eq!(w.len(), 3);
        assert_eq!(w.get(b"g1\0d", 3000), Some(hit(1)));
        assert_eq!(w.get(b"g1\0e", 3000), Some(hit(3)));
        assert_eq!(
            w.get(b"g2\0d", 3000),
            Some(hit(2)),
            "kept aside under the queue scope"
        );
        // Under the queue scope again, "d" outlives its first send: the second still counts.
        w.swap_scopes();
        assert_eq!(w.get(b"d", 1000 + DEDUP_WINDOW_MS), Some(hit(2)));
        assert_eq!(w.get(b"d", 2000 + DEDUP_WINDOW_MS), None);
    }

    #[test]
    fn a_rebuilt_window_keeps_an_id_sent_in_two_groups_aside() {
        let mut w = DedupWindow::new(100);
        // Queue scope now; both sends were made under the group scope.
        w.insert_rebuilt(b"d", b"g1\0d", 1000, hit(1));
        w.insert_rebuilt(b"d", b"g2\0d", 2000, hit(2));
        assert_eq!(w.get(b"d", 2000), Some(hit(1)));
        assert_eq!(w.get(b"d", 1000 + DEDUP_WINDOW_MS), Some(hit(2)));
        w.swap_scopes();
        assert_eq!(w.get(b"g2\0d", 3000), Some(hit(2)));
    }
}
