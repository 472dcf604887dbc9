//! FIFO scheduling of one partition: which message groups have messages in flight or
//! set aside behind the cursor, and which group is served next.
//!
//! Owns [`Fifo`] (and its [`Group`]s). Promises: the messages of one group are handed out
//! in sequence order, and never while an earlier receive call still has a message of the
//! group in flight; memory is bounded by the in-flight limit plus
//! `PartitionConfig::max_fifo_skipped` (only groups with something in flight or pending
//! are held).

use std::collections::VecDeque;

use super::Partition;
use crate::hash::SeqMap;
use crate::index::SlotState;
use crate::record;

#[derive(Default)]
pub(super) struct Group {
    pub(super) in_flight: u32,
    /// Ready messages of this group behind the cursor, in sequence order.
    pub(super) pending: VecDeque<u64>,
    /// The receive call ([`Fifo::call`]) that last put messages of this group in
    /// flight. That call may go on delivering the group's next messages, in order (as
    /// SQS returns several messages of one group in one receive); any later call waits
    /// until all of them have left flight.
    pub(super) call: u64,
}

/// FIFO scheduling state: only groups with something in flight or pending are held.
///
/// Groups are known by a keyed 64-bit hash of their id (the key is random per `Fifo`, so
/// a client cannot aim two ids at one hash). Two ids with the same hash would share one
/// `Group`: their messages would then be delivered in one combined order, which still
/// keeps each group's own order (it only serializes more than needed), so no collision
/// check is needed.
#[derive(Default)]
pub(super) struct Fifo {
    pub(super) groups: SeqMap<Group>,
    /// Groups with nothing in flight and a pending message, served round robin.
    pub(super) ready: VecDeque<u64>,
    /// The group of every message this state tracks (in flight, or pending in a group),
    /// so that releasing or requeuing one never reads its record back from the log:
    /// the log is written with O_DIRECT, so such a read faults the page in from disk.
    /// Bounded by the in-flight limit plus `max_fifo_skipped`.
    pub(super) group_of_seq: SeqMap<u64>,
    pub(super) hasher: std::collections::hash_map::RandomState,
    pub(super) skipped: usize,
    /// Counts receive calls; see [`Group::call`].
    pub(super) call: u64,
    /// The current call may deliver several messages of a group: only with a visibility
    /// timeout above zero (with zero, the first message is visible again at once, and
    /// handing out the next would break the group's order).
    pub(super) multi: bool,
}

impl Fifo {
    /// The key of group id `id`.
    pub(super) fn key(&self, id: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(id)
    }
}

impl Partition {
    /// Checks the FIFO bookkeeping (debug builds; a no-op for standard queues): every
    /// message it tracks is either set aside in a group (`skipped`) or in flight, so the
    /// group map holds exactly `skipped + in_flight` entries; with few groups, the
    /// per-group counts add up too. Called where a public call ends.
    pub(crate) fn debug_check_fifo(&self) {
        if !cfg!(debug_assertions) || !self.params.fifo {
            return;
        }
        let f = &self.fifo;
        debug_assert_eq!(
            f.group_of_seq.len(),
            f.skipped + self.counters.in_flight as usize,
            "FIFO group map: skipped {}, in flight {}",
            f.skipped,
            self.counters.in_flight
        );
        if f.groups.len() <= 64 {
            let pending: usize = f.groups.values().map(|g| g.pending.len()).sum();
            let in_flight: u64 = f.groups.values().map(|g| u64::from(g.in_flight)).sum();
            debug_assert_eq!(pending, f.skipped, "FIFO messages set aside");
            debug_assert_eq!(in_flight, self.counters.in_flight, "FIFO groups in flight");
        }
    }

    /// The FIFO group key of a message, read from its record: from a batch still kept
    /// in memory if it is there, else through the log's mmap. None if the message or its
    /// record is gone, or the record names no group.
    pub(super) fn read_group_key(&self, seq: u64) -> Option<u64> {
        let (pos, slot) = self.slot_of(seq)?;
        let seg = &self.segs[pos];
        let bytes = self
            .retained
            .find(seq, seg.base_seq, u64::from(slot.offset), slot.len as usize)
            .unwrap_or_else(|| seg.record_bytes(&slot));
        record::peek_group(bytes).map(|g| self.fifo.key(g))
    }

    /// A FIFO message left flight (deleted, expired, moved, visible again): its group may
    /// move on. Returns the message's group key, for a requeue.
    pub(crate) fn fifo_release(&mut self, seq: u64) -> Option<u64> {
        let g = match self.fifo.group_of_seq.remove(&seq) {
            Some(g) => g,
            None => self.read_group_key(seq)?,
        };
        let Some(group) = self.fifo.groups.get_mut(&g) else {
            return Some(g);
        };
        group.in_flight = group.in_flight.saturating_sub(1);
        if group.in_flight == 0 {
            if group.pending.is_empty() {
                self.fifo.groups.remove(&g);
            } else {
                self.fifo.ready.push_back(g);
            }
        }
        Some(g)
    }

    pub(super) fn next_fifo(&mut self, now_ms: u64) -> Option<u64> {
        // Only groups put in flight by this call (and only if it may deliver several of
        // a group) match `call`.
        let call = if self.fifo.multi { self.fifo.call } else { 0 };
        // Groups whose earlier messages came back are served first, oldest group first.
        while let Some(g) = self.fifo.ready.pop_front() {
            while let Some(group) = self.fifo.groups.get_mut(&g) {
                // In flight from an earlier call: the group waits (it is queued again
                // when its last message leaves flight).
                if group.in_flight > 0 && group.call != call {
                    break;
                }
                let Some(seq) = group.pending.pop_front() else {
                    if group.in_flight == 0 {
                        self.fifo.groups.remove(&g);
                    }
                    break;
                };
                self.fifo.skipped -= 1;
                let ready =
                    matches!(self.slot_of(seq), Some((_, s)) if s.state == SlotState::Ready);
                if !ready {
                    self.fifo.group_of_seq.remove(&seq);
                }
                if ready {
                    let group = self.fifo.groups.get_mut(&g).expect("group present");
                    group.in_flight += 1;
                    group.call = self.fifo.call;
                    if self.fifo.multi && !group.pending.is_empty() {
                        // This call goes on with the group's next message.
                        self.fifo.ready.push_front(g);
                    }
                    return Some(seq);
                }
                // Deleted, expired or moved since it was skipped: drop it and look on.
            }
        }
        for _ in 0..self.cfg.scan_budget {
            if self.fifo.skipped >= self.cfg.max_fifo_skipped {
                // SQS, too, looks only so far past busy groups.
                return None;
            }
            let seq = self.advance_cursor(now_ms)?;
            let g = self
                .read_group_key(seq)
                .unwrap_or_else(|| self.fifo.key(b""));
            self.fifo.group_of_seq.insert(seq, g);
            match self.fifo.groups.get_mut(&g) {
                Some(group)
                    if (group.in_flight > 0 && group.call != call) || !group.pending.is_empty() =>
                {
                    group.pending.push_back(seq);
                    self.fifo.skipped += 1;
                }
                Some(group) => {
                    // Idle, or in flight from this very call with nothing set aside:
                    // `seq` is the group's next message.
                    group.in_flight += 1;
                    group.call = self.fifo.call;
                    return Some(seq);
                }
                None => {
                    self.fifo.groups.insert(
                        g,
                        Group {
                            in_flight: 1,
                            pending: VecDeque::new(),
                            call: self.fifo.call,
                        },
                    );
                    return Some(seq);
                }
            }
        }
        // Budget spent setting messages of busy groups aside; the next call goes on.
        None
    }
}
