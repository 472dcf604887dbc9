//! Moves between queues: dead letters (past maxReceiveCount) and redrive back from a
//! dead-letter queue.
//!
//! Promises exactly once: the copy is staged in the destination naming its origin; the
//! source slot stays `Moving` until the copy is committed ([`PendingMove`], finished in
//! `commit.rs`), and goes back to ready if the copy cannot be made; recovery finishes a
//! move whose copy is durable but whose source is still live ([`Engine::finish_origin`]).

use super::Engine;
use crate::error::{EngineError, RedriveRefusal, Result};
use crate::partition::{DeadLetter, NewMessage};
use crate::record::Origin;

/// Debug builds check that no source is moved twice while at most this many moves are
/// pending (the check scans them all).
const DEBUG_CHECK_MOVES_MAX: usize = 1024;

#[derive(Debug, Clone, Copy)]
pub(super) struct PendingMove {
    pub(super) dest_queue: u64,
    pub(super) dest_partition: u16,
    pub(super) dest_seq: u64,
    pub(super) src_queue: u64,
    pub(super) src_partition: u16,
    pub(super) src_seq: u64,
}

impl Engine {
    pub(super) fn finish_origin(&mut self, o: &Origin) -> bool {
        let Some(name) = self.names.get(&o.queue_id) else {
            return false;
        };
        let Some(q) = self.queues.get_mut(name) else {
            return false;
        };
        let Some(p) = q.partitions.get_mut(o.partition as usize) else {
            return false;
        };
        match p.slot_of(o.seq) {
            Some((_, s)) if s.state.is_live() => {
                p.finish_move(o.seq);
                true
            }
            _ => false,
        }
    }

    /// Stages each dead letter into the dead-letter queue; the source slot is released
    /// when the copy is durable (in [`Engine::flush`]).
    pub(super) fn move_dead_letters(
        &mut self,
        src_name: &str,
        src_id: u64,
        dlq: Option<&str>,
        dead: Vec<(u16, DeadLetter)>,
    ) {
        let now = self.now_ms();
        for (sp, d) in dead {
            let staged = match dlq {
                Some(dlq) => self.stage_move(now, dlq, src_name, src_id, sp, &d),
                None => Err(EngineError::QueueDoesNotExist("dead-letter queue".into())),
            };
            self.track_move(staged.ok(), src_id, sp, d.seq);
        }
    }

    /// After staging a move's copy (`staged`: its queue, partition and seq): remember it,
    /// so the source slot is released once the copy is durable; or, if staging failed
    /// (`None`), put the source message back. Returns whether the move is under way.
    pub(super) fn track_move(
        &mut self,
        staged: Option<(u64, u16, u64)>,
        src_queue: u64,
        src_partition: u16,
        src_seq: u64,
    ) -> bool {
        match staged {
            Some((dest_queue, dest_partition, dest_seq)) => {
                // A source is taken out (Moving) once, so it is never copied twice. The
                // scan is linear, so it is checked only while few moves are pending (a
                // redrive's `max` is the client's choice).
                debug_assert!(
                    self.moves.len() > DEBUG_CHECK_MOVES_MAX
                        || !self.moves.iter().any(|m| {
                            (m.src_queue, m.src_partition, m.src_seq)
                                == (src_queue, src_partition, src_seq)
                        }),
                    "seq {src_seq} of queue {src_queue}/{src_partition} moved twice"
                );
                self.moves.push(PendingMove {
                    dest_queue,
                    dest_partition,
                    dest_seq,
                    src_queue,
                    src_partition,
                    src_seq,
                });
                true
            }
            None => {
                if let Some(p) = self.partition_mut(src_queue, src_partition) {
                    p.abort_move(src_seq);
                }
                false
            }
        }
    }

    pub(super) fn stage_move(
        &mut self,
        now: u64,
        dest: &str,
        src_name: &str,
        src_id: u64,
        src_partition: u16,
        d: &DeadLetter,
    ) -> Result<(u64, u16, u64)> {
        let q = self.queue_mut(dest)?;
        let part = match (&d.record.group_id, q.is_fifo()) {
            (Some(g), true) => q.partition_for_group(g),
            _ => {
                q.rr = q.rr.wrapping_add(1);
                q.rr % q.partitions.len()
            }
        };
        let m = NewMessage {
            body: &d.record.body,
            attributes: &d.record.attributes,
            system_attributes: &d.record.system_attributes,
            visible_at_ms: 0,
            group_id: d.record.group_id.as_deref(),
            dedup_id: d.record.dedup_id.as_deref().map(std::borrow::Cow::Borrowed),
            dedup_key: None,
            dedup_other_scope: None,
            origin: Some(Origin {
                queue_id: src_id,
                partition: src_partition,
                seq: d.seq,
                queue_name: src_name.to_string(),
            }),
            message_id: Some(d.record.message_id),
            sent_at_ms: Some(d.record.sent_at_ms),
        };
        let qid = q.meta.id;
        let s = q.partitions[part].stage(now, &m)?;
        Ok((qid, part as u16, s.seq))
    }

    /// Moves up to `max` messages from dead-letter queue `dlq` back to `dest`, or, when
    /// `dest` is None, to the queue each message came from. Durable and exactly once,
    /// like dead-letter moves. Returns how many were moved (they are visible at their
    /// destination after the next flush).
    pub fn redrive(&mut self, dlq: &str, dest: Option<&str>, max: usize) -> Result<usize> {
        let now = self.now_ms();
        if let Some(d) = dest {
            self.queue(d)?;
        }
        let q = self.queue_mut(dlq)?;
        let dlq_id = q.meta.id;
        let mut taken = Vec::new();
        for p in &mut q.partitions {
            if taken.len() >= max {
                break;
            }
            let t = p.take_for_move(now, max - taken.len())?;
            taken.extend(t.into_iter().map(|x| (p.number(), x)));
        }
        let mut moved = 0;
        for (sp, d) in taken {
            let target = match dest {
                Some(d) => Some(d.to_string()),
                None => d.record.origin.as_ref().map(|o| o.queue_name.clone()),
            };
            let staged = match target {
                Some(t) if self.queues.contains_key(&t) => {
                    self.stage_move(now, &t, dlq, dlq_id, sp, &d)
                }
                _ => Err(EngineError::RedriveNotAllowed(
                    RedriveRefusal::NoSourceQueue,
                )),
            };
            if self.track_move(staged.ok(), dlq_id, sp, d.seq) {
                moved += 1;
            }
        }
        Ok(moved)
    }
}
