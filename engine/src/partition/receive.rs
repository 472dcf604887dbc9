//! Receiving from one partition: choosing the next ready message in the order the queue
//! type promises (redelivery line, then the cursor through the log; FIFO through
//! `fifo.rs`), and delivering it (in flight, with a fresh receipt) or handing it out as a
//! dead letter.
//!
//! Promises: only Ready slots are delivered; a record that fails its checksum is never
//! delivered (it is dropped and counted); work per call is bounded by the scan budget and
//! the caller's byte budget.

use super::{Partition, MAX_VISIBILITY_MS};
use crate::error::{EngineError, Result};
use crate::index::SlotState;
use crate::receipt::Receipt;
use crate::record::{self, Record};

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Its sequence number in the partition.
    pub seq: u64,
    /// This delivery (sealed into the receipt handle).
    pub receipt: Receipt,
    /// Times received, this receive included.
    pub receive_count: u32,
    /// When it was first received.
    pub first_receive_ms: u64,
    /// The record, decoded.
    pub record: Record,
}

/// A message that exceeded maxReceiveCount: the caller moves it to the dead-letter queue
/// and then calls [`Partition::finish_move`] (or [`Partition::abort_move`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its sequence number in the source partition.
    pub seq: u64,
    /// The record to copy to the dead-letter queue.
    pub record: Record,
}

impl Partition {
    /// Receives up to `max` messages, making each invisible for `visibility_ms`.
    /// Messages past maxReceiveCount are appended to `dead` instead (see [`DeadLetter`]).
    pub(crate) fn receive(
        &mut self,
        now_ms: u64,
        max: usize,
        visibility_ms: u64,
        out: &mut Vec<Delivered>,
        dead: &mut Vec<DeadLetter>,
        bytes_left: &mut usize,
    ) -> Result<()> {
        self.check_ok()?;
        self.renew_generation_lease()?;
        self.tick(now_ms);
        let visibility_ms = visibility_ms.min(MAX_VISIBILITY_MS);
        self.fifo_begin_call();
        let want = out.len() + max;
        let mut budget = self.cfg.scan_budget;
        // The byte budget bounds a reply: the message that crosses it is the last one.
        while out.len() < want && budget > 0 && *bytes_left > 0 {
            budget -= 1;
            if self.counters.in_flight as usize >= self.cfg.max_in_flight {
                if !self.params.fifo && out.is_empty() {
                    return Err(EngineError::OverLimit {
                        limit: self.cfg.max_in_flight,
                    });
                }
                break;
            }
            let Some(seq) = self.next_candidate(now_ms) else {
                break;
            };
            let before = out.len();
            if let Err(e) = self.deliver(now_ms, seq, visibility_ms, out, dead) {
                // A record damaged since it was written is never delivered: it is taken
                // out of the queue, counted, and the receive goes on with the next one
                // (failing the call would strand what it already put in flight).
                debug_assert!(matches!(e, EngineError::Corrupt { .. }), "{e}");
                continue;
            }
            for d in &out[before..] {
                *bytes_left = bytes_left.saturating_sub(d.record.payload_len());
            }
        }
        // Batches the cursor has passed are only read again on redelivery (rare): let go.
        let mut freed = Vec::new();
        self.retained.release_below(self.cursor, &mut freed);
        self.recycle(freed);
        self.debug_check_fifo();
        Ok(())
    }

    /// The next message to deliver, in the order the queue type promises. Returns only
    /// seqs whose slot is Ready.
    pub(super) fn next_candidate(&mut self, now_ms: u64) -> Option<u64> {
        if self.params.fifo {
            return self.next_fifo(now_ms);
        }
        // Fair queues: quiet tenants' messages go ahead of a noisy tenant's backlog.
        if let Some(seq) = self.fair_next() {
            return Some(seq);
        }
        for _ in 0..self.cfg.scan_budget {
            let Some(seq) = self.redelivery.pop_front() else {
                return self.advance_cursor(now_ms);
            };
            if matches!(self.slot_of(seq), Some((_, s)) if s.state == SlotState::Ready) {
                return Some(seq);
            }
        }
        None
    }

    /// Walks the cursor to the next Ready slot. Bounded by the scan budget.
    pub(super) fn advance_cursor(&mut self, _now_ms: u64) -> Option<u64> {
        let mut budget = self.cfg.scan_budget;
        self.cursor = self.cursor.max(self.purge_floor);
        while self.cursor < self.committed_seq && budget > 0 {
            budget -= 1;
            let seq = self.cursor;
            let Some(pos) = self.seg_pos(seq) else {
                // A reclaimed segment: jump to the next one that exists.
                let next = self.segs.iter().map(|s| s.base_seq).find(|&b| b > seq);
                self.cursor = next.unwrap_or(self.committed_seq);
                continue;
            };
            self.cursor += 1;
            let seg = &self.segs[pos];
            if seg.live == 0 {
                // Nothing live here: skip the rest of the segment at once, but not past
                // what is committed (staged records do not count as live yet).
                self.cursor = self.cursor.max(seg.end_seq().min(self.committed_seq));
                continue;
            }
            if seg.slot((seq - seg.base_seq) as u32).state == SlotState::Ready {
                return Some(seq);
            }
        }
        None
    }

    fn deliver(
        &mut self,
        now_ms: u64,
        seq: u64,
        visibility_ms: u64,
        out: &mut Vec<Delivered>,
        dead: &mut Vec<DeadLetter>,
    ) -> Result<()> {
        let (pos, mut slot) = self.slot_of(seq).expect("candidate exists");
        debug_assert_eq!(slot.state, SlotState::Ready);
        let seg = &self.segs[pos];
        let kept = self
            .retained
            .find(seq, seg.base_seq, u64::from(slot.offset), slot.len as usize);
        // Bytes from a kept batch never left memory: no CRC check needed.
        let in_memory = kept.is_some();
        let bytes = kept.unwrap_or_else(|| seg.record_bytes(&slot));
        let Some(header) = record::peek_header(bytes) else {
            let err = record::corrupt_at(&seg.log_path, u64::from(slot.offset));
            self.drop_corrupt(pos, seq, slot.len);
            return Err(err);
        };
        if header.sent_at_ms.saturating_add(self.params.retention_ms) <= now_ms {
            self.set_state(pos, seq, SlotState::Ready, SlotState::Expired, slot.len);
            self.counters.ready -= 1;
            if self.params.fifo {
                self.fifo_release(seq);
            }
            return Ok(());
        }
        // `decode` verifies the CRC; `decode_checked` trusts that it was verified.
        let decoded = if in_memory {
            record::decode_checked(bytes)
        } else {
            record::decode(bytes)
        };
        let Ok(rec) = decoded else {
            // Damaged on disk since it was verified: never deliver it, keep the counts
            // and the group's state right, and report it.
            let err = record::corrupt_at(&seg.log_path, u64::from(slot.offset));
            self.drop_corrupt(pos, seq, slot.len);
            return Err(err);
        };
        if let Some(max) = self.params.max_receive_count {
            if u32::from(slot.receive_count) >= max {
                self.set_state(pos, seq, SlotState::Ready, SlotState::Moving, slot.len);
                self.counters.ready -= 1;
                if self.params.fifo {
                    self.fifo_release(seq);
                }
                dead.push(DeadLetter { seq, record: rec });
                return Ok(());
            }
        }
        self.fair_delivered(seq, slot.receive_count == 0, rec.group_id.as_deref());
        slot.receive_count = slot.receive_count.saturating_add(1);
        slot.generation = self.take_generation();
        if slot.first_receive_ms == 0 {
            slot.first_receive_ms = now_ms;
        }
        slot.visible_at_ms = now_ms + visibility_ms;
        slot.state = SlotState::InFlight;
        self.write_slot(pos, seq, SlotState::Ready, &slot);
        // Journaled with the next flush, so a restart keeps it in flight.
        self.journal_state(pos, seq);
        let expires_ms = header.sent_at_ms.saturating_add(self.params.retention_ms);
        if self.params.fifo {
            self.fifo_delivered(seq, expires_ms);
        }
        // Back at the visibility deadline, or when its retention ends if sooner (it is
        // then expired on its next turn; an in-flight FIFO message past retention must
        // not hold its group).
        self.timers.insert(seq, slot.visible_at_ms.min(expires_ms));
        self.counters.ready -= 1;
        self.counters.in_flight += 1;
        out.push(Delivered {
            seq,
            receipt: Receipt {
                partition: self.number,
                seq,
                generation: slot.generation,
            },
            receive_count: u32::from(slot.receive_count),
            first_receive_ms: slot.first_receive_ms,
            record: rec,
        });
        Ok(())
    }

    /// Takes a ready message whose record is damaged out of the queue (as expired), and
    /// counts it.
    pub(crate) fn drop_corrupt(&mut self, pos: usize, seq: u64, len: u32) {
        self.corrupt_records += 1;
        self.set_state(pos, seq, SlotState::Ready, SlotState::Expired, len);
        self.counters.ready -= 1;
        if self.params.fifo {
            self.fifo_release(seq);
        }
    }

    /// Records found damaged when read (CRC mismatch) and skipped, since open.
    pub fn corrupt_records(&self) -> u64 {
        self.corrupt_records
    }
}
