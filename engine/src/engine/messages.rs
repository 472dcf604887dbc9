//! Message operations by queue name: send (staged for the next group commit), receive
//! across a queue's partitions, delete and change visibility by receipt handle.
//!
//! Promises: a send is acknowledged only by the flush that commits it (see `commit.rs`);
//! a receive visits the queue's partitions round robin and never returns more than the
//! caller's byte budget plus one message; messages past maxReceiveCount are moved to the
//! dead-letter queue instead of being returned.

use super::Engine;
use crate::error::{EngineError, InvalidHandle, InvalidParameter, Result};
use crate::partition::{DeadLetter, DeleteOutcome, Delivered, Staged};
use crate::queue::{Queue, SendRequest};
use crate::receipt::ReceiptHandle;
use crate::record::{MessageAttribute, MessageId};
use spool_model::limits::VISIBILITY_TIMEOUT_MAX_S;

/// A message handed to a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The id given when it was first sent (kept across moves).
    pub message_id: MessageId,
    /// Seals this delivery: deletes or changes visibility of exactly this receive.
    pub receipt_handle: ReceiptHandle,
    /// The message body.
    pub body: Vec<u8>,
    /// Message attributes.
    pub attributes: Vec<MessageAttribute>,
    /// Message system attributes (`AWSTraceHeader`).
    pub system_attributes: Vec<MessageAttribute>,
    /// Times received, this receive included.
    pub receive_count: u32,
    /// When it was first sent (kept across moves).
    pub sent_at_ms: u64,
    /// When it was first received.
    pub first_receive_ms: u64,
    /// FIFO message group id.
    pub group_id: Option<String>,
    /// FIFO deduplication id (given, or derived from the body).
    pub dedup_id: Option<String>,
    /// FIFO sequence number.
    pub sequence_number: Option<u128>,
    /// Name of the queue this message was dead-lettered from, if it was.
    pub dead_letter_source: Option<String>,
}

/// What a send returns for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOutcome {
    /// The id of the message (of the first one, for a duplicate).
    pub message_id: MessageId,
    /// FIFO sequence number (None for standard queues).
    pub sequence_number: Option<u128>,
    /// Dropped as a duplicate within the deduplication window.
    pub duplicate: bool,
}

/// Added to every FIFO sequence number so it has SQS's shape: a 20-digit decimal
/// (SQS's look like `18849496460467696128`); clients that store them as strings or
/// compare their lengths see what they expect.
const SEQUENCE_NUMBER_BASE: u128 = 10_000_000_000_000_000_000;

/// A FIFO message's SequenceNumber: increasing within a partition (so within a group and,
/// since a FIFO queue lives on one shard, within the queue), unique per queue.
fn sequence_number(seq: u64, partition: u16) -> u128 {
    SEQUENCE_NUMBER_BASE + ((u128::from(seq) << 16) | u128::from(partition))
}

impl Engine {
    /// Stages a batch of sends. Each entry succeeds or fails on its own, like
    /// SendMessageBatch. Messages become visible, and may be acknowledged, after
    /// [`Engine::flush`].
    pub fn send(&mut self, name: &str, batch: &[SendRequest]) -> Result<Vec<Result<SendOutcome>>> {
        let now = self.now_ms();
        let q = self.queue_mut(name)?;
        let fifo = q.is_fifo();
        let mut out = Vec::with_capacity(batch.len());
        let mut staged = 0usize;
        for r in batch {
            let res = q.prepare(now, r).and_then(|(part, m)| {
                if let Some(key) = &m.dedup_key {
                    // Queue-scoped deduplication spans partitions: the first message with
                    // this id may belong to another group, hence another partition.
                    for (i, other) in q.partitions.iter_mut().enumerate() {
                        if i == part {
                            continue;
                        }
                        if let Some(hit) = other.dedup_mut().get(key, now) {
                            return Ok(SendOutcome {
                                message_id: hit.message_id,
                                sequence_number: fifo.then(|| sequence_number(hit.seq, i as u16)),
                                duplicate: true,
                            });
                        }
                    }
                }
                let p = &mut q.partitions[part];
                let s: Staged = p.stage(now, &m)?;
                staged += r.body.len();
                Ok(SendOutcome {
                    message_id: s.message_id,
                    sequence_number: fifo.then(|| sequence_number(s.seq, part as u16)),
                    duplicate: s.duplicate,
                })
            });
            out.push(res);
        }
        self.staged_bytes = self.staged_bytes.saturating_add(staged);
        Ok(out)
    }

    /// Body bytes sent since the last flush was taken (see the field's doc).
    pub fn staged_bytes(&self) -> usize {
        self.staged_bytes
    }

    /// Receives up to `max` messages. `visibility_s` overrides the queue's timeout.
    /// Messages past the queue's maxReceiveCount are moved to its dead-letter queue
    /// instead of being returned (they appear there after the next flush).
    pub fn receive(
        &mut self,
        name: &str,
        max: usize,
        visibility_s: Option<u32>,
    ) -> Result<Vec<ReceivedMessage>> {
        self.receive_within(name, max, visibility_s, usize::MAX)
    }

    /// [`Engine::receive`], stopping after the message that brings the total of
    /// [`Record::payload_len`](crate::record::Record::payload_len) to `max_bytes` or more,
    /// so a reply stays within a frame: at most `max_bytes` plus one message.
    pub fn receive_within(
        &mut self,
        name: &str,
        max: usize,
        visibility_s: Option<u32>,
        max_bytes: usize,
    ) -> Result<Vec<ReceivedMessage>> {
        let mut bytes_left = max_bytes;
        let now = self.now_ms();
        let dlq = self.dlq_of(name);
        let q = self.queue_mut(name)?;
        let vis = u64::from(visibility_s.unwrap_or(q.meta.attrs.visibility_timeout_s)) * 1000;
        if vis > crate::partition::MAX_VISIBILITY_MS {
            return Err(EngineError::invalid(
                "VisibilityTimeout",
                InvalidParameter::VisibilityTooLong {
                    timeout_s: vis / 1000,
                    max_s: VISIBILITY_TIMEOUT_MAX_S,
                },
            ));
        }
        let n = q.partitions.len();
        let start = q.rr % n;
        q.rr = q.rr.wrapping_add(1);
        // Sized up front: growing it would copy every delivered record again.
        let mut got: Vec<Delivered> = Vec::with_capacity(max.min(4096));
        let mut dead: Vec<(u16, DeadLetter)> = Vec::new();
        let mut over: Option<EngineError> = None;
        for k in 0..n {
            if got.len() >= max || bytes_left == 0 {
                break;
            }
            let p = &mut q.partitions[(start + k) % n];
            let mut d = Vec::new();
            match p.receive(now, max - got.len(), vis, &mut got, &mut d, &mut bytes_left) {
                Ok(()) => {}
                Err(e @ EngineError::OverLimit { .. }) => over = Some(e),
                Err(e) => return Err(e),
            }
            dead.extend(d.into_iter().map(|x| (p.number(), x)));
        }
        let qid = q.meta.id;
        let fifo = q.is_fifo();
        let key = self.key.clone();
        if !dead.is_empty() {
            self.move_dead_letters(name, qid, dlq.as_deref(), dead);
        }
        if dlq.is_none() {
            self.note_dead_letter_queue_missing(name, &got);
        }
        if got.is_empty() {
            if let Some(e) = over {
                return Err(e);
            }
        }
        let mut out = Vec::with_capacity(got.len());
        for d in got {
            let dead_letter_source = d
                .record
                .origin
                .as_ref()
                .filter(|o| self.dlq_of(&o.queue_name).as_deref() == Some(name))
                .map(|o| o.queue_name.clone());
            out.push(ReceivedMessage {
                message_id: d.record.message_id,
                receipt_handle: key.seal(qid, &d.receipt),
                receive_count: d.receive_count,
                sent_at_ms: d.record.sent_at_ms,
                first_receive_ms: d.first_receive_ms,
                sequence_number: fifo.then(|| sequence_number(d.record.seq, d.receipt.partition)),
                group_id: d.record.group_id,
                dedup_id: d.record.dedup_id,
                attributes: d.record.attributes,
                system_attributes: d.record.system_attributes,
                body: d.record.body,
                dead_letter_source,
            });
        }
        Ok(out)
    }

    pub(super) fn open_receipt(&self, q: &Queue, handle: &[u8]) -> Result<crate::receipt::Receipt> {
        let r = self
            .key
            .open(q.meta.id, handle)
            .map_err(|e| EngineError::ReceiptHandleIsInvalid(e.into()))?;
        if r.partition as usize >= q.partitions.len() {
            return Err(EngineError::ReceiptHandleIsInvalid(
                InvalidHandle::UnknownPartition,
            ));
        }
        Ok(r)
    }

    /// DeleteMessage. Durable after the next [`Engine::flush`].
    pub fn delete_message(&mut self, name: &str, handle: &[u8]) -> Result<DeleteOutcome> {
        let now = self.now_ms();
        let r = self.open_receipt(self.queue(name)?, handle)?;
        let q = self.queue_mut(name)?;
        q.partitions[r.partition as usize].delete(now, &r)
    }

    /// DeleteMessage for each handle (raw bytes, as they come off the wire), with one
    /// clock read and one queue lookup for the whole batch: the form the daemon uses.
    /// One result per handle, in order; the queue missing fails the whole call.
    pub fn delete_messages<H: AsRef<[u8]>>(
        &mut self,
        name: &str,
        handles: &[H],
    ) -> Result<Vec<Result<DeleteOutcome>>> {
        let now = self.now_ms();
        let key = &self.key;
        let q = self
            .queues
            .get_mut(name)
            .ok_or_else(|| EngineError::QueueDoesNotExist(name.to_string()))?;
        let qid = q.meta.id;
        Ok(handles
            .iter()
            .map(|h| {
                let r = key
                    .open(qid, h.as_ref())
                    .map_err(|e| EngineError::ReceiptHandleIsInvalid(e.into()))?;
                let p = q.partitions.get_mut(r.partition as usize).ok_or(
                    EngineError::ReceiptHandleIsInvalid(InvalidHandle::UnknownPartition),
                )?;
                p.delete(now, &r)
            })
            .collect())
    }

    /// ChangeMessageVisibility; 0 makes the message visible now.
    pub fn change_visibility(&mut self, name: &str, handle: &[u8], timeout_s: u32) -> Result<()> {
        let now = self.now_ms();
        let r = self.open_receipt(self.queue(name)?, handle)?;
        let q = self.queue_mut(name)?;
        q.partitions[r.partition as usize].change_visibility(now, &r, u64::from(timeout_s) * 1000)
    }
}
