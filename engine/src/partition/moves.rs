//! The partition's side of moves to another queue (dead-letter, redrive) and of
//! compaction copies: taking messages out as `Moving`, then finishing (gone from here) or
//! aborting (ready again) each.
//!
//! Promises: a `Moving` message is invisible here; it becomes `Moved` only once the caller
//! says its copy is durable, so a move is never lost and, with recovery's reconciliation,
//! never doubled.

use super::receive::DeadLetter;
use super::Partition;
use crate::error::Result;
use crate::index::SlotState;
use crate::record;

impl Partition {
    /// The move of `seq` to another queue is durable there: it is gone from here.
    pub(crate) fn finish_move(&mut self, seq: u64) {
        if let Some((pos, slot)) = self.slot_of(seq) {
            if slot.state.is_live() {
                match slot.state {
                    SlotState::Ready => self.counters.ready -= 1,
                    SlotState::InFlight => {
                        self.timers.remove(seq);
                        self.counters.in_flight -= 1;
                        if self.params.fifo {
                            // Held by recovery (`fifo_hold`): its group moves on.
                            self.fifo_release(seq);
                        }
                    }
                    SlotState::Delayed => {
                        self.timers.remove(seq);
                        self.counters.delayed -= 1;
                    }
                    _ => {}
                }
                self.set_state(pos, seq, slot.state, SlotState::Moved, slot.len);
                self.segs[pos].idx_dirty = true;
            }
        }
        self.debug_check_fifo();
    }

    /// The move of `seq` failed: it becomes ready again.
    pub(crate) fn abort_move(&mut self, seq: u64) {
        if let Some((pos, slot)) = self.slot_of(seq) {
            if slot.state == SlotState::Moving {
                self.set_state(pos, seq, SlotState::Moving, SlotState::Ready, slot.len);
                self.counters.ready += 1;
                // take_for_move released it from its group: read the group back.
                self.requeue(seq, None);
            }
        }
        self.debug_check_fifo();
    }

    /// Takes up to `max` ready messages out for a move (redrive): they are marked Moving
    /// and returned; finish or abort each.
    pub(crate) fn take_for_move(&mut self, now_ms: u64, max: usize) -> Result<Vec<DeadLetter>> {
        self.check_ok()?;
        self.tick(now_ms);
        self.fifo_begin_call();
        let mut taken = Vec::new();
        let mut budget = self.cfg.scan_budget;
        while taken.len() < max && budget > 0 {
            budget -= 1;
            let Some(seq) = self.next_candidate(now_ms) else {
                break;
            };
            let (pos, slot) = self.slot_of(seq).expect("candidate exists");
            let seg = &self.segs[pos];
            // Verified (read through the mmap): a damaged record is skipped and counted,
            // never moved with a fresh CRC, and never fails the messages already taken.
            let Ok(rec) = record::decode(seg.record_bytes(&slot)) else {
                self.drop_corrupt(pos, seq, slot.len);
                continue;
            };
            self.set_state(pos, seq, SlotState::Ready, SlotState::Moving, slot.len);
            self.counters.ready -= 1;
            if self.params.fifo {
                // next_fifo counted it as in flight for its group.
                self.fifo_release(seq);
            }
            taken.push(DeadLetter { seq, record: rec });
        }
        self.debug_check_fifo();
        Ok(taken)
    }
}
