//! The message actions: SendMessage(Batch), ReceiveMessage, DeleteMessage(Batch) and
//! ChangeMessageVisibility(Batch). Sends and receives compute what SQS adds on the way
//! (MD5 digests, message ids, system attributes); deletes and visibility changes go
//! through the by-handle path of [`super::by_handle`].

use std::collections::BTreeMap;

use spool_model::attrs::names as queue_attr;
use spool_model::limits::RECEIVE_WAIT_TIME_MAX_S;
use spool_model::message::system_names as message_attr;
use spool_model::name::is_fifo_name;
use spool_protocol::message::{
    AttributeValue, Message, MessageAttribute, SendEntry, VisibilityEntry,
};
use spool_protocol::sqs::md5::{
    md5_of_body, md5_of_message_attributes, md5_of_message_system_attributes,
};
use spool_protocol::sqs::{
    BatchEntry, BatchFailure, FifoIdsGiven, ReceiveMessageRequest, ReceivedSqsMessage,
    SendMessageBatchResultEntry, SendMessageEntry, SendMessageResult, SqsResponse,
    VisibilityChange,
};
use spool_protocol::{Request, Response};

use super::by_handle::{ChangeVisibility, Delete};
use super::{internal, split_batch, unexpected, uuid, Ctx, Result};
use crate::errors::{fifo_batch_missing_id, sqs_error};
use crate::handle;
use crate::sqs::attempts::Attempt;

/// What SQS makes of a FIFO queue's SendMessageBatch before any entry: see
/// [`fifo_batch_verdict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FifoBatch {
    /// Every entry carries the ids the queue needs.
    Pass,
    /// The whole call fails: an entry lacks its MessageGroupId (`group`) or its
    /// deduplication id.
    Refuse { group: bool },
    /// The verdict depends on the queue's ContentBasedDeduplication, not known yet.
    NeedsContentBased,
}

/// The whole-batch FIFO rule: the first entry (in order) without its ids decides, its
/// deduplication id checked before its group id (the order of LocalStack's checks,
/// validated against AWS). `content_based` is the queue's ContentBasedDeduplication,
/// None while unknown.
fn fifo_batch_verdict(ids: &[FifoIdsGiven], content_based: Option<bool>) -> FifoBatch {
    for i in ids {
        if !i.dedup_id {
            match content_based {
                None => return FifoBatch::NeedsContentBased,
                Some(false) => return FifoBatch::Refuse { group: false },
                Some(true) => {}
            }
        }
        if !i.group_id {
            return FifoBatch::Refuse { group: true };
        }
    }
    FifoBatch::Pass
}

/// The MD5 digests of a message to send: body, message attributes, system attributes.
type SendDigests = (String, Option<String>, Option<String>);

impl Ctx<'_> {
    pub(super) async fn send_message(
        &self,
        queue_url: &str,
        message: SendMessageEntry,
    ) -> Result<SqsResponse> {
        let name = self.queue(queue_url)?;
        let mut results = self.send(&name, vec![message]).await?;
        match results.pop() {
            Some(Ok(r)) => Ok(SqsResponse::SendMessage(r)),
            Some(Err(e)) => Err(e),
            None => Err(internal("no result for the message")),
        }
    }

    pub(super) async fn send_message_batch(
        &self,
        queue_url: &str,
        entries: Vec<BatchEntry<SendMessageEntry>>,
        fifo_ids: &[FifoIdsGiven],
    ) -> Result<SqsResponse> {
        let name = self.queue(queue_url)?;
        // On a FIFO queue an entry without its FIFO ids fails the whole call (AWS). The
        // deduplication rule needs the queue's ContentBasedDeduplication; when every entry
        // lacks a deduplication id (the usual batch on such a queue) the batch is sent
        // without asking: had the queue no content-based deduplication, every entry would
        // fail and nothing be sent, and only then is the attribute read to decide.
        let mut dedup_rule_unread = false;
        if is_fifo_name(&name) {
            let mut verdict = fifo_batch_verdict(fifo_ids, None);
            if verdict == FifoBatch::NeedsContentBased {
                if fifo_ids.iter().all(|i| i.group_id && !i.dedup_id) {
                    dedup_rule_unread = true;
                } else {
                    let cbd = self.content_based_dedup(&name).await?;
                    verdict = fifo_batch_verdict(fifo_ids, Some(cbd));
                }
            }
            if let FifoBatch::Refuse { group } = verdict {
                self.require_exists(&name).await?;
                return Err(fifo_batch_missing_id(group));
            }
        }
        let (ids, good, mut failed) = split_batch(entries);
        let mut successful = Vec::new();
        if !good.is_empty() {
            let results = self.send(&name, good).await?;
            for (id, r) in ids.into_iter().zip(results) {
                match r {
                    Ok(result) => successful.push(SendMessageBatchResultEntry { id, result }),
                    Err(e) => failed.push(BatchFailure::from_error(id, &e)),
                }
            }
        }
        if dedup_rule_unread && successful.is_empty() && !self.content_based_dedup(&name).await? {
            return Err(fifo_batch_missing_id(false));
        }
        Ok(SqsResponse::SendMessageBatch { successful, failed })
    }

    /// The FIFO queue's ContentBasedDeduplication.
    async fn content_based_dedup(&self, queue: &str) -> Result<bool> {
        let v = self
            .attribute(queue, queue_attr::CONTENT_BASED_DEDUPLICATION)
            .await?;
        Ok(v.as_deref() == Some("true"))
    }

    pub(super) async fn delete_message(
        &self,
        queue_url: &str,
        receipt_handle: String,
    ) -> Result<SqsResponse> {
        self.one_by_handle::<Delete>(queue_url, (receipt_handle, ()))
            .await
    }

    pub(super) async fn delete_message_batch(
        &self,
        queue_url: &str,
        entries: Vec<BatchEntry<String>>,
    ) -> Result<SqsResponse> {
        let (successful, failed) = self
            .batch_by_handle::<Delete, _>(queue_url, entries, |h| (h, ()))
            .await?;
        Ok(SqsResponse::DeleteMessageBatch { successful, failed })
    }

    pub(super) async fn change_message_visibility(
        &self,
        queue_url: &str,
        receipt_handle: String,
        visibility_timeout: u32,
    ) -> Result<SqsResponse> {
        self.one_by_handle::<ChangeVisibility>(queue_url, (receipt_handle, visibility_timeout))
            .await
    }

    pub(super) async fn change_message_visibility_batch(
        &self,
        queue_url: &str,
        entries: Vec<BatchEntry<VisibilityChange>>,
    ) -> Result<SqsResponse> {
        // An entry without a timeout gets 0, as SQS gives it.
        let (successful, failed) = self
            .batch_by_handle::<ChangeVisibility, _>(queue_url, entries, |c| {
                (c.receipt_handle, c.visibility_timeout.unwrap_or(0))
            })
            .await?;
        Ok(SqsResponse::ChangeMessageVisibilityBatch { successful, failed })
    }

    /// A message's system attributes with the request's `X-Amzn-Trace-Id` header added as
    /// its `AWSTraceHeader`, unless it sets that attribute itself (the attribute wins: it
    /// is the message's own, the header the request's). The MD5 digest the reply carries
    /// covers only what the request sent, so an SDK's check of it holds.
    fn with_trace_header(
        &self,
        mut attrs: Vec<MessageAttribute<'static>>,
    ) -> Vec<MessageAttribute<'static>> {
        if let Some(t) = &self.trace_header {
            if !attrs
                .iter()
                .any(|a| a.name == message_attr::AWS_TRACE_HEADER)
            {
                attrs.push(MessageAttribute {
                    name: message_attr::AWS_TRACE_HEADER.into(),
                    data_type: "String".into(),
                    value: AttributeValue::String(t.clone().into()),
                });
            }
        }
        attrs
    }

    /// Sends messages (one binary Send) and returns one result per message, in order.
    async fn send(
        &self,
        queue: &str,
        msgs: Vec<SendMessageEntry>,
    ) -> Result<Vec<Result<SendMessageResult>>> {
        let md5s: Vec<SendDigests> = msgs
            .iter()
            .map(|m| {
                (
                    md5_of_body(m.body.as_bytes()),
                    (!m.message_attributes.is_empty())
                        .then(|| md5_of_message_attributes(&m.message_attributes)),
                    (!m.message_system_attributes.is_empty())
                        .then(|| md5_of_message_system_attributes(&m.message_system_attributes)),
                )
            })
            .collect();
        let entries = msgs
            .into_iter()
            .map(|m| SendEntry {
                body: m.body.into_bytes().into(),
                attributes: m.message_attributes,
                system_attributes: self.with_trace_header(m.message_system_attributes),
                delay_s: m.delay_seconds,
                group_id: m.message_group_id.map(Into::into),
                dedup_id: m.message_deduplication_id.map(Into::into),
            })
            .collect();
        let r = self
            .call(Request::Send {
                queue: queue.into(),
                entries,
            })
            .await?;
        let Response::Sent { results } = r else {
            return Err(unexpected(&r));
        };
        if results.len() != md5s.len() {
            return Err(internal("a result per message"));
        }
        Ok(results
            .into_iter()
            .zip(md5s)
            .map(|(r, (body, attrs, sys))| match r {
                Ok(ok) => Ok(SendMessageResult {
                    message_id: uuid(&ok.message_id),
                    md5_of_message_body: body,
                    md5_of_message_attributes: attrs,
                    md5_of_message_system_attributes: sys,
                    sequence_number: ok.sequence_number.map(|s| s.to_string()),
                }),
                Err(e) => Err(sqs_error(&e)),
            })
            .collect())
    }

    pub(super) async fn receive_message(&self, r: ReceiveMessageRequest) -> Result<SqsResponse> {
        let name = self.queue(&r.queue_url)?;
        // ReceiveRequestAttemptId counts on FIFO queues only, as on SQS.
        let attempt_id = r
            .receive_request_attempt_id
            .clone()
            .filter(|_| is_fifo_name(&name));
        if let Some(id) = &attempt_id {
            if let Some(messages) = self.retry_attempt(&name, id, r.visibility_timeout).await? {
                return Ok(SqsResponse::ReceiveMessage {
                    messages: messages.into_iter().map(|m| self.received(&r, m)).collect(),
                });
            }
        }
        // Without WaitTimeSeconds the queue's ReceiveMessageWaitTimeSeconds applies.
        let wait_s = match r.wait_time_seconds {
            Some(w) => w,
            None => self
                .attribute(&name, queue_attr::RECEIVE_MESSAGE_WAIT_TIME_SECONDS)
                .await?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        };
        let req = Request::Receive {
            queue: name.as_str().into(),
            max_messages: r.max_number_of_messages.unwrap_or(1),
            visibility_timeout_s: r.visibility_timeout,
            wait_time_ms: wait_s.min(RECEIVE_WAIT_TIME_MAX_S) * 1000,
            attribute_names: r
                .message_attribute_names
                .iter()
                .map(|n| n.as_str().into())
                .collect(),
            system_attributes: r.wants_system_attribute(message_attr::AWS_TRACE_HEADER),
        };
        let resp = self.call(req).await?;
        let Response::Received { messages } = resp else {
            return Err(unexpected(&resp));
        };
        if is_fifo_name(&name) && !messages.is_empty() {
            // Received again: an earlier attempt that returned one of these is stale
            // (its handle is no longer the latest).
            let ids: Vec<[u8; 16]> = messages.iter().map(|m| m.message_id).collect();
            self.gw.attempts.forget_messages(&name, &ids);
        }
        if let (Some(id), false) = (&attempt_id, messages.is_empty()) {
            let attempt = Attempt {
                messages: messages.clone(),
            };
            self.gw
                .attempts
                .remember(&name, id, attempt, std::time::Instant::now());
        }
        Ok(SqsResponse::ReceiveMessage {
            messages: messages.into_iter().map(|m| self.received(&r, m)).collect(),
        })
    }

    /// A retry of receive attempt `id`: its messages, with their visibility timeout
    /// reset, if it was made within five minutes and none of them was deleted or had its
    /// visibility changed since (resetting the timeout under the same handles succeeds
    /// only then); otherwise None, and the caller receives anew.
    async fn retry_attempt(
        &self,
        name: &str,
        id: &str,
        visibility_s: Option<u32>,
    ) -> Result<Option<Vec<Message<'static>>>> {
        let Some(prev) = self.gw.attempts.get(name, id, std::time::Instant::now()) else {
            return Ok(None);
        };
        let timeout_s = match visibility_s {
            Some(v) => v,
            None => self
                .attribute(name, queue_attr::VISIBILITY_TIMEOUT)
                .await?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        };
        if timeout_s == 0 {
            // Returning them visible would let another receive take them too: a new
            // receive instead (our choice).
            self.gw.attempts.forget(name, id);
            return Ok(None);
        }
        let req = Request::ChangeVisibility {
            queue: name.into(),
            entries: prev
                .messages
                .iter()
                .map(|m| VisibilityEntry {
                    receipt_handle: m.receipt_handle.clone(),
                    timeout_s,
                })
                .collect(),
        };
        let renewed = match self.call(req).await? {
            Response::VisibilityChanged { results } => {
                results.iter().all(std::result::Result::is_ok)
            }
            other => return Err(unexpected(&other)),
        };
        if renewed {
            return Ok(Some(prev.messages));
        }
        self.gw.attempts.forget(name, id);
        Ok(None)
    }

    /// A received message as SQS shows it: with the system and message attributes asked
    /// for, and their digests.
    fn received(&self, r: &ReceiveMessageRequest, m: Message<'static>) -> ReceivedSqsMessage {
        // Bodies sent over SQS are text; one sent as raw bytes over the binary protocol is
        // shown with invalid UTF-8 replaced, and its MD5 is of the text shown.
        let body = match String::from_utf8(m.body.into_owned()) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        let mut attributes = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            if r.wants_system_attribute(k) {
                attributes.insert(k.to_string(), v);
            }
        };
        put(message_attr::SENDER_ID, self.gw.cfg.account_id.clone());
        put(message_attr::SENT_TIMESTAMP, m.sent_ms.to_string());
        put(
            message_attr::APPROXIMATE_RECEIVE_COUNT,
            m.receive_count.to_string(),
        );
        put(
            message_attr::APPROXIMATE_FIRST_RECEIVE_TIMESTAMP,
            m.first_receive_ms.to_string(),
        );
        if let Some(g) = &m.group_id {
            put(message_attr::MESSAGE_GROUP_ID, g.to_string());
        }
        if let Some(d) = &m.dedup_id {
            put(message_attr::MESSAGE_DEDUPLICATION_ID, d.to_string());
        }
        if let Some(s) = m.sequence_number {
            put(message_attr::SEQUENCE_NUMBER, s.to_string());
        }
        if let Some(src) = &m.dead_letter_source {
            put(message_attr::DEAD_LETTER_QUEUE_SOURCE_ARN, self.arn(src));
        }
        for a in &m.system_attributes {
            if let spool_protocol::AttributeValue::String(v) = &a.value {
                put(&a.name, v.to_string());
            }
        }
        let message_attributes: Vec<MessageAttribute<'static>> = m
            .attributes
            .into_iter()
            .filter(|a| r.wants_message_attribute(&a.name))
            .collect();
        let md5_of_message_attributes = (!message_attributes.is_empty())
            .then(|| md5_of_message_attributes(&message_attributes));
        ReceivedSqsMessage {
            message_id: uuid(&m.message_id),
            receipt_handle: handle::to_text(&m.receipt_handle),
            md5_of_message_attributes,
            md5_of_body: md5_of_body(body.as_bytes()),
            body,
            attributes,
            message_attributes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(spec: &[(bool, bool)]) -> Vec<FifoIdsGiven> {
        spec.iter()
            .map(|&(group_id, dedup_id)| FifoIdsGiven { group_id, dedup_id })
            .collect()
    }

    #[test]
    fn a_fifo_batch_with_every_id_passes_without_the_queue() {
        let all = ids(&[(true, true), (true, true)]);
        assert_eq!(fifo_batch_verdict(&all, None), FifoBatch::Pass);
    }

    #[test]
    fn the_first_entry_without_its_ids_decides_dedup_before_group() {
        // A missing group id before any missing deduplication id needs no attribute.
        let b = ids(&[(true, true), (false, true), (true, false)]);
        assert_eq!(
            fifo_batch_verdict(&b, None),
            FifoBatch::Refuse { group: true }
        );
        // An entry missing both: its deduplication id is checked first.
        let b = ids(&[(false, false)]);
        assert_eq!(fifo_batch_verdict(&b, None), FifoBatch::NeedsContentBased);
        assert_eq!(
            fifo_batch_verdict(&b, Some(false)),
            FifoBatch::Refuse { group: false }
        );
        assert_eq!(
            fifo_batch_verdict(&b, Some(true)),
            FifoBatch::Refuse { group: true }
        );
        let b = ids(&[(true, false), (true, false)]);
        assert_eq!(fifo_batch_verdict(&b, Some(true)), FifoBatch::Pass);
    }
}
