//! Moves between queues: dead letters (past maxReceiveCount) and redrive back from a
//! dead-letter queue.
//!
//! Promises exactly once: the copy is staged in the destination naming its origin; the
//! source slot stays `Moving` until the copy is committed ([`PendingMove`], finished in
//! `commit.rs`), and goes back to ready if the copy cannot be made; recovery finishes a
//! move whose copy is durable but whose source is still live ([`Engine::finish_origin`]).
//!
//! A dead letter keeps its receive count and first-receive time in the dead-letter queue
//! (its first receive there counts one more, as on SQS); a redriven message starts afresh,
//! so it is not dead-lettered again at once. Redrive is refused from a queue that is no
//! queue's dead-letter queue. A message past maxReceiveCount whose dead-letter queue does
//! not exist stays in its queue and is delivered, as SQS does; each such receive is noted
//! for the owner to log and count ([`Engine::take_dead_letter_queue_missing`]).

use std::collections::BTreeMap;

use super::Engine;
use crate::attrs::queue_name_from_arn;
use crate::error::{EngineError, RedriveRefusal, Result};
use crate::partition::{DeadLetter, Delivered, NewMessage};
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
            // The copy starts with the source's receive history (SQS keeps the count).
            let history = self
                .partition(src_id, sp)
                .and_then(|p| p.slot_of(d.seq))
                .map_or((0, 0), |(_, s)| {
                    (u32::from(s.receive_count), s.first_receive_ms)
                });
            let staged = match dlq {
                Some(dlq) => self.stage_move(now, dlq, (src_name, src_id, sp), &d, history),
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

    /// Stages the copy of `d` (from `src`: queue name, id and partition) in queue `dest`,
    /// starting with `history` (receive count, first-receive time). Returns the copy's
    /// queue id, partition and seq.
    pub(super) fn stage_move(
        &mut self,
        now: u64,
        dest: &str,
        src: (&str, u64, u16),
        d: &DeadLetter,
        history: (u32, u64),
    ) -> Result<(u64, u16, u64)> {
        let (src_name, src_id, src_partition) = src;
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
            receive_count: history.0,
            first_receive_ms: history.1,
        };
        let qid = q.meta.id;
        let s = q.partitions[part].stage(now, &m)?;
        Ok((qid, part as u16, s.seq))
    }

    /// Moves up to `max` messages from dead-letter queue `dlq` back to `dest`, or, when
    /// `dest` is None, to the queue each message came from. Durable and exactly once,
    /// like dead-letter moves. Returns how many were moved (they are visible at their
    /// destination after the next flush), each with a fresh receive count.
    ///
    /// `dlq` must be some queue's dead-letter queue
    /// ([`RedriveRefusal::NotADeadLetterQueue`] otherwise): redriving an ordinary queue
    /// would move its live messages, into its own dead-letter queue when it has one.
    pub fn redrive(&mut self, dlq: &str, dest: Option<&str>, max: usize) -> Result<usize> {
        let now = self.now_ms();
        if let Some(d) = dest {
            self.queue(d)?;
        }
        if self.dead_letter_source_queues(dlq)?.is_empty() {
            return Err(EngineError::RedriveNotAllowed(
                RedriveRefusal::NotADeadLetterQueue(dlq.to_string()),
            ));
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
                    self.stage_move(now, &t, (dlq, dlq_id, sp), &d, (0, 0))
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

    /// Notes the receives in `got` (from queue `name`) of messages past the queue's
    /// maxReceiveCount: called when its dead-letter queue does not exist, so they were
    /// delivered instead of moved.
    pub(super) fn note_dead_letter_queue_missing(&mut self, name: &str, got: &[Delivered]) {
        let Some(policy) = self
            .queues
            .get(name)
            .and_then(|q| q.meta.attrs.redrive_policy.as_ref())
        else {
            return;
        };
        // A queue naming itself has no dead-letter queue to miss.
        if queue_name_from_arn(&policy.dead_letter_target_arn) == Some(name) {
            return;
        }
        let max = policy.max_receive_count;
        let past = got.iter().filter(|d| d.receive_count > max).count() as u64;
        if past > 0 {
            *self.dlq_missing.entry(name.to_string()).or_insert(0) += past;
        }
    }

    /// Receives of messages past maxReceiveCount that were delivered because the queue's
    /// dead-letter queue does not exist (deleted after the policy was set), by source
    /// queue, since the last call. The owner logs and counts them: the engine does no I/O.
    pub fn take_dead_letter_queue_missing(&mut self) -> BTreeMap<String, u64> {
        std::mem::take(&mut self.dlq_missing)
    }
}
