//! Visibility of one partition's messages: the timers that make in-flight and delayed
//! messages ready again, putting a message back in line behind the cursor, and
//! ChangeMessageVisibility.
//!
//! Promises: a message whose visibility timeout or delay ran out is ready again after the
//! next [`Partition::tick`] (bounded work per call); a ready message behind the cursor is
//! never lost (standard: the redelivery line; FIFO: its group's pending list, in order).

use super::Partition;
use crate::error::{EngineError, Result};
use crate::index::SlotState;
use crate::receipt::Receipt;

/// Longest visibility timeout SQS allows: 12 hours.
pub use spool_model::limits::VISIBILITY_TIMEOUT_MAX_MS as MAX_VISIBILITY_MS;

impl Partition {
    /// Moves expired visibility timeouts and elapsed delays to ready. Bounded work.
    pub(crate) fn tick(&mut self, now_ms: u64) {
        let mut out = std::mem::take(&mut self.timer_out);
        out.clear();
        self.timers
            .poll_expired(now_ms, self.cfg.scan_budget, &mut out);
        for &(seq, _) in &out {
            let Some((pos, mut slot)) = self.slot_of(seq) else {
                continue;
            };
            let mut group = None;
            match slot.state {
                SlotState::InFlight => {
                    self.counters.in_flight -= 1;
                    if self.params.fifo {
                        group = self.fifo_release(seq);
                    }
                }
                SlotState::Delayed => self.counters.delayed -= 1,
                _ => continue,
            }
            let from = slot.state;
            slot.state = SlotState::Ready;
            self.write_slot(pos, seq, from, &slot);
            self.counters.ready += 1;
            if seq < self.cursor {
                self.requeue(seq, group);
            }
        }
        self.timer_out = out;
        self.debug_check_fifo();
    }

    /// A ready message behind the cursor goes back in line. `group` is its FIFO group
    /// key when the caller knows it (from [`Partition::fifo_release`]).
    pub(super) fn requeue(&mut self, seq: u64, group: Option<u64>) {
        if !self.params.fifo {
            self.redelivery.push_back(seq);
            return;
        }
        self.fifo_requeue(seq, group);
    }

    /// ChangeMessageVisibility, as SQS does it: `timeout_ms` from now (0 = visible now)
    /// for the message the handle names, if it still exists. An older handle while a newer
    /// receive holds the message applies to that receive; an expired handle whose message
    /// was not received again puts it back in flight (standard queues; on a FIFO queue,
    /// where that would break its group's order, such a handle has expired, as for a
    /// delete). A handle of a message that is gone (deleted, moved, expired) is
    /// [`EngineError::MessageNotAvailable`]. The change is durable after the next flush.
    pub(crate) fn change_visibility(
        &mut self,
        now_ms: u64,
        r: &Receipt,
        timeout_ms: u64,
    ) -> Result<()> {
        self.check_ok()?;
        self.tick(now_ms);
        if timeout_ms > MAX_VISIBILITY_MS {
            return Err(EngineError::InvalidParameter {
                name: "VisibilityTimeout",
                reason: crate::error::InvalidParameter::VisibilityTooLong {
                    timeout_s: timeout_ms / 1000,
                    max_s: spool_model::limits::VISIBILITY_TIMEOUT_MAX_S,
                },
            });
        }
        let Some((seq, pos, mut slot)) = self.locate(r) else {
            return Err(EngineError::MessageNotAvailable);
        };
        match slot.state {
            SlotState::InFlight if timeout_ms == 0 => {
                self.timers.remove(seq);
                slot.state = SlotState::Ready;
                self.write_slot(pos, seq, SlotState::InFlight, &slot);
                self.counters.in_flight -= 1;
                self.counters.ready += 1;
                let group = if self.params.fifo {
                    self.fifo_release(seq)
                } else {
                    None
                };
                // Ahead of the cursor (a message kept in flight by recovery), the cursor
                // reaches it in order; behind it, it goes back in line.
                if seq < self.cursor {
                    self.requeue(seq, group);
                }
            }
            SlotState::InFlight => {
                slot.visible_at_ms = now_ms + timeout_ms;
                self.write_slot(pos, seq, SlotState::InFlight, &slot);
                let deadline = self.in_flight_deadline(seq, slot.visible_at_ms);
                self.timers.insert(seq, deadline);
            }
            // Visible again and not received since: already visible.
            SlotState::Ready if timeout_ms == 0 => return Ok(()),
            SlotState::Ready if self.params.fifo => return Err(EngineError::ReceiptHandleExpired),
            SlotState::Ready => {
                // Back in flight under the same receipt. An entry of it in the redelivery
                // line is skipped when reached (it is no longer Ready).
                slot.state = SlotState::InFlight;
                slot.visible_at_ms = now_ms + timeout_ms;
                self.write_slot(pos, seq, SlotState::Ready, &slot);
                self.timers.insert(seq, slot.visible_at_ms);
                self.counters.ready -= 1;
                self.counters.in_flight += 1;
            }
            _ => return Err(EngineError::MessageNotAvailable),
        }
        self.journal_state(pos, seq);
        self.debug_check_fifo();
        Ok(())
    }
}
