//! The FIFO deduplication window: which deduplication ids were accepted in the last five
//! minutes, and the message each one produced.
//!
//! Entries expire in insertion order (time only moves forward), so a deque gives O(1)
//! expiry. The window is rebuilt on open from the records of the last five minutes, so
//! deduplication survives a restart. Memory is bounded by `max_entries`: past it the
//! oldest ids are forgotten early (documented in docs/architecture.md), never the memory
//! grown without bound.

use std::collections::{HashMap, VecDeque};

use crate::record::MessageId;

/// SQS's deduplication interval.
pub const DEDUP_WINDOW_MS: u64 = 5 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupHit {
    pub message_id: MessageId,
    pub seq: u64,
}

pub struct DedupWindow {
    map: HashMap<Box<[u8]>, (u64, DedupHit)>,
    order: VecDeque<(u64, Box<[u8]>)>,
    max_entries: usize,
}

impl DedupWindow {
    pub fn new(max_entries: usize) -> Self {
        DedupWindow {
            map: HashMap::new(),
            order: VecDeque::new(),
            max_entries: max_entries.max(1),
        }
    }

    /// Forgets ids accepted at or before `now - window`.
    pub fn expire(&mut self, now_ms: u64) {
        while let Some((at, _)) = self.order.front() {
            if at + DEDUP_WINDOW_MS > now_ms && self.order.len() <= self.max_entries {
                break;
            }
            let (at, key) = self.order.pop_front().expect("front exists");
            // Only remove the map entry if it is the one this queue entry created.
            if self.map.get(&key).is_some_and(|(t, _)| *t == at) {
                self.map.remove(&key);
            }
        }
    }

    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<DedupHit> {
        self.expire(now_ms);
        self.map.get(key).map(|(_, h)| *h)
    }

    /// Records `key` as accepted at `at_ms`. Keeps the first acceptance if already present.
    pub fn insert(&mut self, key: &[u8], at_ms: u64, hit: DedupHit) {
        if self.map.contains_key(key) {
            return;
        }
        let key: Box<[u8]> = key.into();
        self.map.insert(key.clone(), (at_ms, hit));
        self.order.push_back((at_ms, key));
        if self.order.len() > self.max_entries {
            self.expire(at_ms);
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(seq: u64) -> DedupHit {
        DedupHit {
            message_id: MessageId::from_u128(seq as u128),
            seq,
        }
    }

    #[test]
    fn window_and_bound() {
        let mut w = DedupWindow::new(3);
        w.insert(b"a", 1000, hit(1));
        w.insert(b"a", 2000, hit(2));
        assert_eq!(w.get(b"a", 1000 + DEDUP_WINDOW_MS - 1), Some(hit(1)));
        assert_eq!(w.get(b"a", 1000 + DEDUP_WINDOW_MS), None);
        for (i, k) in [b"b", b"c", b"d", b"e"].iter().enumerate() {
            w.insert(*k, 5000, hit(i as u64));
        }
        assert_eq!(w.len(), 3);
        assert_eq!(w.get(b"b", 5000), None, "oldest evicted at the bound");
        assert!(w.get(b"e", 5000).is_some());
    }
}
