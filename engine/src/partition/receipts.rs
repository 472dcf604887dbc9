//! What keeps a receipt handle working across restarts and compaction: receipt
//! generations drawn from a leased, partition-wide counter; the journal of receive state
//! (state markers, `record::FLAG_STATES`); and finding the message a handle names, also
//! after compaction copied it forward.
//!
//! Promises:
//! - a generation is issued at most once per partition, across restarts and crashes: the
//!   counter's high-water mark is leased in `partition.meta` before any generation under
//!   it is issued, and an open continues above the lease. (A per-slot counter, as before,
//!   could roll back with a slot whose receive a crash lost in `batch`/`none` durability,
//!   and then issue the lost receive's handle again to someone else: the epoch in the
//!   handle used to prevent that, at the price of making every handle stale at a
//!   restart.) A handle therefore names exactly one receive;
//! - a receive, visibility change or compaction copy is durable with the next group
//!   commit (its state marker rides with the log's fdatasync; index files are synced only
//!   by index sync waves), and recovery re-applies it;
//! - a handle keeps naming its message when compaction copies the message forward: the
//!   copy carries the generation, and `forward` maps it to the copy's sequence number
//!   (rebuilt on open from the slots, which the state markers make durable).

use super::Partition;
use crate::aligned::Sink;
use crate::error::Result;
use crate::index::{Slot, SlotState, MAX_GENERATION};
use crate::receipt::Receipt;
use crate::record::{self, StateEntry};
use crate::recovery::{GENERATION_FLOOR, GENERATION_LEASE};

impl Partition {
    /// Makes sure the next receive call can issue generations without writing
    /// `partition.meta`: renews the lease (one fsync'd write) when less than half of it is
    /// left. A receive call issues at most `max_in_flight` generations, far below half a
    /// lease.
    pub(crate) fn renew_generation_lease(&mut self) -> Result<()> {
        if self.generation_lease - self.next_generation >= GENERATION_LEASE / 2 {
            return Ok(());
        }
        let lease = self.next_generation + GENERATION_LEASE;
        crate::recovery::write_meta(&self.dir, self.epoch, self.purge_floor, lease)?;
        self.generation_lease = lease;
        Ok(())
    }

    /// The generation of a new receive: never issued before in this partition.
    pub(crate) fn take_generation(&mut self) -> u64 {
        debug_assert!(
            self.next_generation < self.generation_lease,
            "generation {} issued past its lease {}",
            self.next_generation,
            self.generation_lease
        );
        let g = self.next_generation;
        self.next_generation += 1;
        if self.next_generation > MAX_GENERATION {
            // 2^40 receives of one partition: start over above the older builds' range. A
            // handle still held from 2^40 receives ago could only match its own slot if
            // that slot were received at exactly the same count again.
            self.next_generation = GENERATION_FLOOR;
            self.generation_lease = GENERATION_FLOOR;
        }
        g
    }

    /// `seq`'s receive state changed (received, visibility changed, copied forward): the
    /// next flush journals it in a state marker. Its index file is synced by the next
    /// index sync wave, which must precede any header that vouches for the marker.
    pub(super) fn journal_state(&mut self, pos: usize, seq: u64) {
        self.segs[pos].idx_dirty = true;
        self.pending_states.push(seq);
    }

    /// Whether receive states wait to be journaled.
    pub(super) fn has_pending_states(&self) -> bool {
        !self.pending_states.is_empty()
    }

    /// Stages state markers for every pending state change: each message's state as it is
    /// now (the latest change wins; a message gone meanwhile was journaled by its own
    /// marker or move).
    pub(super) fn stage_states(&mut self) -> Result<()> {
        if self.pending_states.is_empty() {
            return Ok(());
        }
        let mut pending = std::mem::take(&mut self.pending_states);
        pending.sort_unstable();
        pending.dedup();
        let entries: Vec<StateEntry> = pending
            .iter()
            .filter_map(|&seq| {
                let (_, s) = self.slot_of(seq)?;
                let visible_at_ms = match s.state {
                    SlotState::InFlight => s.visible_at_ms,
                    SlotState::Ready | SlotState::Staged | SlotState::Delayed => 0,
                    _ => return None,
                };
                Some(StateEntry {
                    seq,
                    visible_at_ms,
                    first_receive_ms: s.first_receive_ms,
                    generation: s.generation,
                    receive_count: u32::from(s.receive_count),
                })
            })
            .collect();
        pending.clear();
        self.pending_states = pending;
        // A marker must fit a segment (tests run tiny ones).
        let room = (self.cfg.segment_bytes as usize).saturating_sub(record::HEADER_LEN)
            / record::STATE_ENTRY_LEN;
        let chunk = record::MAX_MARKER_STATES.min(room).max(1);
        for part in entries.chunks(chunk) {
            let seq = self.next_seq;
            let start = self.buf.len();
            let len = record::encode_states(&mut self.buf, seq, part);
            self.place_marker(start, seq, len)?;
        }
        Ok(())
    }

    /// The message a handle names and its slot, if it still exists and has been received:
    /// `(seq, segment position, slot)`. Its slot's generation is the handle's, or later
    /// (the handle is older than the message's latest receive). A message compaction
    /// copied forward is found at its copy.
    pub(super) fn locate(&self, r: &Receipt) -> Option<(u64, usize, Slot)> {
        if r.partition != self.number || r.generation == 0 {
            return None;
        }
        let here = self.slot_of(r.seq);
        if let Some((pos, slot)) = here {
            if slot.state != SlotState::Moved {
                let received = slot.receive_count > 0 && slot.generation >= r.generation;
                return received.then_some((r.seq, pos, slot));
            }
        }
        // Gone from its slot: copied forward by compaction, if the copy carries it.
        let &seq = self.forward.get(&r.generation)?;
        let (pos, slot) = self.slot_of(seq)?;
        (seq != r.seq && slot.generation == r.generation && slot.state.is_live())
            .then_some((seq, pos, slot))
    }

    /// The message a handle names, if the handle is its latest receipt.
    pub(super) fn current(&self, r: &Receipt) -> Option<(u64, usize, Slot)> {
        self.locate(r)
            .filter(|(_, _, s)| s.generation == r.generation)
    }

    /// Compaction copied `old` forward to `new` (staged): the copy carries the original's
    /// generation, so its outstanding handle finds it.
    pub(crate) fn forward_copy(&mut self, old: &Slot, new: u64) {
        let Some(pos) = self.seg_pos(new) else {
            return;
        };
        let i = (new - self.segs[pos].base_seq) as u32;
        let mut slot = self.segs[pos].slot(i);
        debug_assert_eq!(slot.state, SlotState::Staged);
        slot.generation = old.generation;
        self.segs[pos].index.set_slot(i, &slot);
        if old.generation != 0 {
            self.forward.insert(old.generation, new);
            self.journal_state(pos, new);
        }
    }

    /// Drops forwarding entries whose copy is gone or was received again (run when
    /// compaction removes a segment, so the map does not outgrow the live copies).
    pub(crate) fn prune_forward(&mut self) {
        let mut forward = std::mem::take(&mut self.forward);
        forward.retain(|&g, &mut seq| {
            self.slot_of(seq)
                .is_some_and(|(_, s)| s.generation == g && s.state.is_live())
        });
        self.forward = forward;
    }
}
