//! Removing messages from one partition: DeleteMessage by receipt, and PurgeQueue.
//!
//! Promises: only the latest receipt of a message deletes it; a delete is durable after
//! the next flush (its deletion marker is journaled in the log); a purge deletes every
//! message sent before it in O(segments), by a persisted purge floor.

use super::fifo::Fifo;
use super::{Counters, Partition};
use crate::error::{EngineError, Result};
use crate::index::SlotState;
use crate::receipt::Receipt;

/// What a DeleteMessage did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The message is deleted (durable after the next flush).
    Deleted,
    /// The handle is not the latest one (or the message is gone): nothing deleted.
    Stale,
}

impl Partition {
    /// Deletes the message a receipt refers to. A handle from an earlier receive, or of a
    /// message already gone, deletes nothing and succeeds (standard queues) or reports an
    /// expired handle (FIFO queues, as SQS does). The deletion is durable after the next
    /// flush.
    pub(crate) fn delete(&mut self, now_ms: u64, r: &Receipt) -> Result<DeleteOutcome> {
        self.check_ok()?;
        self.tick(now_ms);
        // The message may have moved to another seq (a compaction copy): `seq` is where
        // it is now.
        let found = self.current(r);
        match found {
            Some((seq, pos, slot)) if slot.state == SlotState::InFlight => {
                self.timers.remove(seq);
                self.set_state(pos, seq, SlotState::InFlight, SlotState::Deleted, slot.len);
                self.journal_delete(pos, seq);
                self.counters.in_flight -= 1;
                if self.params.fifo {
                    self.fifo_release(seq);
                }
                self.debug_check_fifo();
                Ok(DeleteOutcome::Deleted)
            }
            Some((seq, pos, slot)) if slot.state == SlotState::Ready && !self.params.fifo => {
                // Visibility ran out but nobody received it since: the handle is still the
                // latest, so SQS deletes. It may sit in the redelivery line; that entry is
                // skipped when reached.
                self.set_state(pos, seq, SlotState::Ready, SlotState::Deleted, slot.len);
                self.journal_delete(pos, seq);
                self.counters.ready -= 1;
                Ok(DeleteOutcome::Deleted)
            }
            Some((_, _, slot)) if slot.state == SlotState::Deleted => Ok(DeleteOutcome::Stale),
            _ if self.params.fifo => Err(EngineError::ReceiptHandleExpired),
            _ => Ok(DeleteOutcome::Stale),
        }
    }

    /// Deletes every message sent before now, in flight or not, in O(segments): the
    /// purge floor is persisted and everything below it reads as deleted. The FIFO
    /// deduplication window is emptied too.
    pub(crate) fn purge(&mut self) -> Result<()> {
        self.check_ok()?;
        self.purge_floor = self.next_seq;
        crate::recovery::write_meta(
            &self.dir,
            self.epoch,
            self.purge_floor,
            self.generation_lease,
        )?;
        self.timers.clear();
        self.redelivery.clear();
        self.fifo = Fifo::default();
        // AWS's PurgeQueue also empties the deduplication window: an id sent before the
        // purge is accepted (and delivered) again after it.
        self.dedup_mut().clear();
        self.counters = Counters::default();
        self.forward.clear();
        self.pending_states.clear();
        self.cursor = self.purge_floor;
        let mut freed = Vec::new();
        self.retained.clear(&mut freed);
        self.recycle(freed);
        for s in &mut self.segs {
            s.live = 0;
            s.live_bytes = 0;
            s.pinned = 0;
        }
        Ok(())
    }
}
