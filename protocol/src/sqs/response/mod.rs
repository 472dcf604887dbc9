//! SQS success replies: the typed [`SqsResponse`] and [`render`] to AWS JSON 1.0 or
//! query-protocol XML.
//!
//! JSON bodies use the model's member names (including its lower-case oddities:
//! `queueUrls` in ListDeadLetterSourceQueues), omit absent optional members and empty
//! optional lists/maps (ReceiveMessage with no messages is `{}`, as in SQS), and are `{}`
//! for actions without a result. Blobs are base64. XML bodies are
//! `<{Action}Response xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><{Action}Result>…</{Action}Result><ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></{Action}Response>`
//! (no `Result` element for actions without a result), lists and maps flattened with the
//! query model's element names, text escaped as SQS does (`"` → `&quot;`, CR → `&#xD;`).
//!
//! The caller builds the values (message ids, receipt handles, MD5s via [`super::md5`]);
//! nothing here checks them against a request. Rendering never panics. A query request
//! that accepts only JSON is answered by `query_json.rs`.

mod query_json;

use std::collections::BTreeMap;

use base64::Engine as _;

use super::request::Wire;
use super::{
    xml_close, xml_elem, xml_open, Action, HttpReply, JSON_CONTENT_TYPE, XML_CONTENT_TYPE,
    XML_NAMESPACE,
};
use crate::message::{AttributeValue, MessageAttribute};
use crate::sqs::error::SqsError;

/// The result of a SendMessage, or of one successful SendMessageBatch entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMessageResult {
    /// The message's id.
    pub message_id: String,
    /// Hex MD5 of the body.
    pub md5_of_message_body: String,
    /// Only when the message had attributes.
    pub md5_of_message_attributes: Option<String>,
    /// Only when the message had system attributes.
    pub md5_of_message_system_attributes: Option<String>,
    /// FIFO queues only (a decimal string).
    pub sequence_number: Option<String>,
}

/// One successful SendMessageBatch entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMessageBatchResultEntry {
    /// The entry's `Id`.
    pub id: String,
    /// What a SendMessage of the entry would have returned.
    pub result: SendMessageResult,
}

/// One failed batch entry (`BatchResultErrorEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFailure {
    /// The entry's `Id`.
    pub id: String,
    /// The query code, e.g. `InvalidMessageContents`.
    pub code: String,
    /// Human-readable.
    pub message: String,
    /// True when the request was at fault (not the server).
    pub sender_fault: bool,
}

impl BatchFailure {
    /// The failure SQS reports for an entry that failed with `err`.
    pub fn from_error(id: impl Into<String>, err: &SqsError) -> BatchFailure {
        BatchFailure {
            id: id.into(),
            code: err.kind.query_code().to_string(),
            message: err.message.clone(),
            sender_fault: err.kind.sender_fault(),
        }
    }
}

/// A message returned by ReceiveMessage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceivedSqsMessage {
    /// The message's id.
    pub message_id: String,
    /// The handle to delete it or change its visibility with.
    pub receipt_handle: String,
    /// Hex MD5 of the body.
    pub md5_of_body: String,
    /// The message body.
    pub body: String,
    /// System attributes asked for: `SenderId`, `SentTimestamp`,
    /// `ApproximateReceiveCount`, `ApproximateFirstReceiveTimestamp`, `MessageGroupId`,
    /// `MessageDeduplicationId`, `SequenceNumber`, `AWSTraceHeader`,
    /// `DeadLetterQueueSourceArn` (timestamps in epoch milliseconds, as text).
    pub attributes: BTreeMap<String, String>,
    /// Message attributes asked for.
    pub message_attributes: Vec<MessageAttribute<'static>>,
    /// MD5 of all the message's attributes (whether or not returned); None without any.
    pub md5_of_message_attributes: Option<String>,
}

/// One message move task (ListMessageMoveTasks).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MoveTask {
    /// Only for a RUNNING task.
    pub task_handle: Option<String>,
    /// RUNNING, FAILED, CANCELLING, CANCELLED or COMPLETED.
    pub status: String,
    /// The ARN of the queue messages move out of.
    pub source_arn: String,
    /// The ARN of the queue they move to; None = each message's original queue.
    pub destination_arn: Option<String>,
    /// The rate asked for; None = as fast as the system chooses.
    pub max_number_of_messages_per_second: Option<u32>,
    /// Messages moved so far.
    pub approximate_number_of_messages_moved: u64,
    /// Messages there were to move when the task started, if known.
    pub approximate_number_of_messages_to_move: Option<u64>,
    /// Why a FAILED task failed.
    pub failure_reason: Option<String>,
    /// Epoch milliseconds.
    pub started_timestamp: u64,
}

/// A successful result. Which variant answers which action: the variant named after
/// it, or [`SqsResponse::Empty`] for DeleteQueue, SetQueueAttributes, PurgeQueue,
/// DeleteMessage, ChangeMessageVisibility, TagQueue, UntagQueue, AddPermission and
/// RemovePermission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqsResponse {
    /// The empty result of the actions listed above.
    Empty,
    /// Answers CreateQueue.
    CreateQueue {
        /// The queue's URL.
        queue_url: String,
    },
    /// Answers GetQueueUrl.
    GetQueueUrl {
        /// The queue's URL.
        queue_url: String,
    },
    /// Answers ListQueues: one page.
    ListQueues {
        /// Queue URLs, in order.
        queue_urls: Vec<String>,
        /// Present when more follow: pass it to get the next page.
        next_token: Option<String>,
    },
    /// Answers GetQueueAttributes.
    GetQueueAttributes {
        /// The attributes asked for, by name.
        attributes: BTreeMap<String, String>,
    },
    /// Answers SendMessage.
    SendMessage(SendMessageResult),
    /// Answers SendMessageBatch.
    SendMessageBatch {
        /// The entries that succeeded.
        successful: Vec<SendMessageBatchResultEntry>,
        /// The entries that failed.
        failed: Vec<BatchFailure>,
    },
    /// Answers ReceiveMessage.
    ReceiveMessage {
        /// The messages received (possibly none).
        messages: Vec<ReceivedSqsMessage>,
    },
    /// Answers DeleteMessageBatch.
    DeleteMessageBatch {
        /// Ids of the entries that succeeded.
        successful: Vec<String>,
        /// The entries that failed.
        failed: Vec<BatchFailure>,
    },
    /// Answers ChangeMessageVisibilityBatch.
    ChangeMessageVisibilityBatch {
        /// Ids of the entries that succeeded.
        successful: Vec<String>,
        /// The entries that failed.
        failed: Vec<BatchFailure>,
    },
    /// Answers ListQueueTags.
    ListQueueTags {
        /// The queue's tags.
        tags: BTreeMap<String, String>,
    },
    /// Answers ListDeadLetterSourceQueues: one page.
    ListDeadLetterSourceQueues {
        /// Queue URLs, in order.
        queue_urls: Vec<String>,
        /// Present when more follow: pass it to get the next page.
        next_token: Option<String>,
    },
    /// Answers StartMessageMoveTask.
    StartMessageMoveTask {
        /// The new task's handle.
        task_handle: String,
    },
    /// Answers ListMessageMoveTasks.
    ListMessageMoveTasks {
        /// The tasks, newest first.
        results: Vec<MoveTask>,
    },
    /// Answers CancelMessageMoveTask.
    CancelMessageMoveTask {
        /// Messages the task had moved.
        approximate_number_of_messages_moved: u64,
    },
}

pub use query_json::{
    accepts_json, render_query_json, render_query_json_error, QUERY_JSON_CONTENT_TYPE,
};

/// Renders a success reply (status 200) for `action` in `wire`.
pub fn render(wire: Wire, action: Action, resp: &SqsResponse, request_id: &str) -> HttpReply {
    let headers = vec![("x-amzn-RequestId", request_id.to_string())];
    match wire {
        Wire::Json => HttpReply {
            status: 200,
            content_type: JSON_CONTENT_TYPE,
            headers,
            body: to_json(resp),
        },
        Wire::Query => HttpReply {
            status: 200,
            content_type: XML_CONTENT_TYPE,
            headers,
            body: to_xml(action, resp, request_id),
        },
    }
}

// ----- JSON -------------------------------------------------------------------------------
//
// Written straight into the body, with no `serde_json::Value` tree in between: a receive of
// ten messages built ~60 small allocations and a sorted map per object only to print them.
// Members are written in sorted (byte) order, as `serde_json`'s map printed them, so the
// bytes are what they were; strings go through `serde_json`'s own escaping.

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Appends `s` as a JSON string (quoted and escaped).
fn json_str(out: &mut Vec<u8>, s: &str) {
    if needs_no_escape(s.as_bytes()) {
        // Most strings (ids, handles, digests, most bodies): copied as they are.
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    // Writing into a Vec cannot fail, and a &str always serializes.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Whether JSON needs no escape for any byte of `b`: no `"`, `\` or control character
/// (what serde_json escapes; it leaves DEL and non-ASCII as they are). Checked 16 bytes at
/// a time without early exit, so the compiler can vectorise it.
fn needs_no_escape(b: &[u8]) -> bool {
    let bad = |x: u8| u8::from(x < 0x20 || x == b'"' || x == b'\\');
    let mut chunks = b.chunks_exact(16);
    for c in &mut chunks {
        if c.iter().fold(0u8, |acc, &x| acc | bad(x)) != 0 {
            return false;
        }
    }
    chunks.remainder().iter().all(|&x| bad(x) == 0)
}

/// One JSON object being written: members in the order they are given.
struct JsonObj<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> JsonObj<'a> {
    fn new(out: &'a mut Vec<u8>) -> JsonObj<'a> {
        out.push(b'{');
        JsonObj { out, empty: true }
    }
    /// Starts member `k`; its value is written next.
    fn key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        json_str(self.out, k);
        self.out.push(b':');
        self.out
    }
    fn str(&mut self, k: &str, v: &str) -> &mut Self {
        json_str(self.key(k), v);
        self
    }
    fn opt(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.str(k, v);
        }
        self
    }
    fn num(&mut self, k: &str, v: u64) -> &mut Self {
        let out = self.key(k);
        out.extend_from_slice(v.to_string().as_bytes());
        self
    }
    fn opt_num(&mut self, k: &str, v: Option<u64>) -> &mut Self {
        if let Some(v) = v {
            self.num(k, v);
        }
        self
    }
    fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        let out = self.key(k);
        out.extend_from_slice(if v { b"true" } else { b"false" });
        self
    }
    /// A string map, omitted when empty (a BTreeMap iterates in sorted order).
    fn map(&mut self, k: &str, m: &BTreeMap<String, String>) -> &mut Self {
        if !m.is_empty() {
            let mut o = JsonObj::new(self.key(k));
            for (mk, mv) in m {
                o.str(mk, mv);
            }
            o.end();
        }
        self
    }
    /// An array of `items`, each written by `each`; omitted when empty unless `always`.
    fn list<T>(
        &mut self,
        k: &str,
        items: &[T],
        always: bool,
        mut each: impl FnMut(&mut Vec<u8>, &T),
    ) -> &mut Self {
        if always || !items.is_empty() {
            let out = self.key(k);
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                each(out, item);
            }
            out.push(b']');
        }
        self
    }
    fn end(self) {
        self.out.push(b'}');
    }
}

/// The members of a SendMessage result (sorted among `Id`, which a batch entry adds first).
fn send_result_json(o: &mut JsonObj<'_>, r: &SendMessageResult) {
    o.opt(
        "MD5OfMessageAttributes",
        r.md5_of_message_attributes.as_deref(),
    )
    .str("MD5OfMessageBody", &r.md5_of_message_body)
    .opt(
        "MD5OfMessageSystemAttributes",
        r.md5_of_message_system_attributes.as_deref(),
    )
    .str("MessageId", &r.message_id)
    .opt("SequenceNumber", r.sequence_number.as_deref());
}

/// A batch result: `Failed` (omitted when empty, as AWS's JSON protocol omits an empty
/// list) and `Successful` (always present), each successful entry an object whose
/// members `entry` writes.
fn batch_json<T>(
    o: &mut JsonObj<'_>,
    failed: &[BatchFailure],
    successful: &[T],
    mut entry: impl FnMut(&mut JsonObj<'_>, &T),
) {
    o.list("Failed", failed, false, failure_json)
        .list("Successful", successful, true, |out, e| {
            let mut eo = JsonObj::new(out);
            entry(&mut eo, e);
            eo.end();
        });
}

fn failure_json(out: &mut Vec<u8>, f: &BatchFailure) {
    let mut o = JsonObj::new(out);
    o.str("Code", &f.code)
        .str("Id", &f.id)
        .str("Message", &f.message)
        .bool("SenderFault", f.sender_fault);
    o.end();
}

fn attribute_json(out: &mut Vec<u8>, a: &MessageAttribute<'_>) {
    let mut o = JsonObj::new(out);
    match &a.value {
        AttributeValue::Binary(b) => {
            o.str("BinaryValue", &b64(b)).str("DataType", &a.data_type);
        }
        AttributeValue::String(s) => {
            o.str("DataType", &a.data_type).str("StringValue", s);
        }
    }
    o.end();
}

fn message_json(out: &mut Vec<u8>, m: &ReceivedSqsMessage) {
    let mut o = JsonObj::new(out);
    o.map("Attributes", &m.attributes)
        .str("Body", &m.body)
        .str("MD5OfBody", &m.md5_of_body)
        .opt(
            "MD5OfMessageAttributes",
            m.md5_of_message_attributes.as_deref(),
        );
    if !m.message_attributes.is_empty() {
        // Sorted by name, as a map prints; a repeated name keeps its last value.
        let mut attrs: Vec<&MessageAttribute<'_>> = m.message_attributes.iter().collect();
        attrs.sort_by(|a, b| a.name.cmp(&b.name));
        let mut ao = JsonObj::new(o.key("MessageAttributes"));
        for (i, a) in attrs.iter().enumerate() {
            if attrs.get(i + 1).is_some_and(|next| next.name == a.name) {
                continue;
            }
            attribute_json(ao.key(&a.name), a);
        }
        ao.end();
    }
    o.str("MessageId", &m.message_id)
        .str("ReceiptHandle", &m.receipt_handle);
    o.end();
}

fn move_task_json(out: &mut Vec<u8>, t: &MoveTask) {
    let mut o = JsonObj::new(out);
    o.num(
        "ApproximateNumberOfMessagesMoved",
        t.approximate_number_of_messages_moved,
    )
    .opt_num(
        "ApproximateNumberOfMessagesToMove",
        t.approximate_number_of_messages_to_move,
    )
    .opt("DestinationArn", t.destination_arn.as_deref())
    .opt("FailureReason", t.failure_reason.as_deref())
    .opt_num(
        "MaxNumberOfMessagesPerSecond",
        t.max_number_of_messages_per_second.map(u64::from),
    )
    .str("SourceArn", &t.source_arn)
    .num("StartedTimestamp", t.started_timestamp)
    .str("Status", &t.status)
    .opt("TaskHandle", t.task_handle.as_deref());
    o.end();
}

fn to_json(resp: &SqsResponse) -> Vec<u8> {
    let mut out = Vec::with_capacity(json_size_hint(resp));
    let mut o = JsonObj::new(&mut out);
    match resp {
        SqsResponse::Empty => {}
        SqsResponse::CreateQueue { queue_url } | SqsResponse::GetQueueUrl { queue_url } => {
            o.str("QueueUrl", queue_url);
        }
        SqsResponse::ListQueues {
            queue_urls,
            next_token,
        } => {
            o.opt("NextToken", next_token.as_deref()).list(
                "QueueUrls",
                queue_urls,
                false,
                |out, u| json_str(out, u),
            );
        }
        SqsResponse::GetQueueAttributes { attributes } => {
            o.map("Attributes", attributes);
        }
        SqsResponse::SendMessage(r) => send_result_json(&mut o, r),
        SqsResponse::SendMessageBatch { successful, failed } => {
            batch_json(&mut o, failed, successful, |eo, e| {
                eo.str("Id", &e.id);
                send_result_json(eo, &e.result);
            });
        }
        SqsResponse::ReceiveMessage { messages } => {
            o.list("Messages", messages, false, message_json);
        }
        SqsResponse::DeleteMessageBatch { successful, failed }
        | SqsResponse::ChangeMessageVisibilityBatch { successful, failed } => {
            batch_json(&mut o, failed, successful, |eo, id| {
                eo.str("Id", id);
            });
        }
        SqsResponse::ListQueueTags { tags } => {
            o.map("Tags", tags);
        }
        SqsResponse::ListDeadLetterSourceQueues {
            queue_urls,
            next_token,
        } => {
            o.opt("NextToken", next_token.as_deref()).list(
                "queueUrls",
                queue_urls,
                true,
                |out, u| json_str(out, u),
            );
        }
        SqsResponse::StartMessageMoveTask { task_handle } => {
            o.str("TaskHandle", task_handle);
        }
        SqsResponse::ListMessageMoveTasks { results } => {
            o.list("Results", results, false, move_task_json);
        }
        SqsResponse::CancelMessageMoveTask {
            approximate_number_of_messages_moved,
        } => {
            o.num(
                "ApproximateNumberOfMessagesMoved",
                *approximate_number_of_messages_moved,
            );
        }
    }
    o.end();
    out
}

/// Roughly the rendered size, so the body is allocated once in the common cases.
fn json_size_hint(resp: &SqsResponse) -> usize {
    match resp {
        SqsResponse::ReceiveMessage { messages } => messages
            .iter()
            .map(|m| 200 + m.body.len() + m.receipt_handle.len() + 64 * m.attributes.len())
            .sum::<usize>()
            .max(16),
        SqsResponse::SendMessageBatch { successful, .. } => 32 + 160 * successful.len(),
        _ => 256,
    }
}

// ----- XML --------------------------------------------------------------------------------

fn xml_opt(out: &mut Vec<u8>, name: &str, v: Option<&str>) {
    if let Some(v) = v {
        xml_elem(out, name, v);
    }
}

fn xml_map(out: &mut Vec<u8>, elem: &str, key: &str, value: &str, m: &BTreeMap<String, String>) {
    for (k, v) in m {
        xml_open(out, elem);
        xml_elem(out, key, k);
        xml_elem(out, value, v);
        xml_close(out, elem);
    }
}

fn send_result_xml(out: &mut Vec<u8>, r: &SendMessageResult) {
    xml_elem(out, "MessageId", &r.message_id);
    xml_elem(out, "MD5OfMessageBody", &r.md5_of_message_body);
    xml_opt(
        out,
        "MD5OfMessageAttributes",
        r.md5_of_message_attributes.as_deref(),
    );
    xml_opt(
        out,
        "MD5OfMessageSystemAttributes",
        r.md5_of_message_system_attributes.as_deref(),
    );
    xml_opt(out, "SequenceNumber", r.sequence_number.as_deref());
}

fn failures_xml(out: &mut Vec<u8>, failed: &[BatchFailure]) {
    for f in failed {
        xml_open(out, "BatchResultErrorEntry");
        xml_elem(out, "Id", &f.id);
        xml_elem(
            out,
            "SenderFault",
            if f.sender_fault { "true" } else { "false" },
        );
        xml_elem(out, "Code", &f.code);
        xml_elem(out, "Message", &f.message);
        xml_close(out, "BatchResultErrorEntry");
    }
}

fn message_xml(out: &mut Vec<u8>, m: &ReceivedSqsMessage) {
    xml_open(out, "Message");
    xml_elem(out, "MessageId", &m.message_id);
    xml_elem(out, "ReceiptHandle", &m.receipt_handle);
    xml_elem(out, "MD5OfBody", &m.md5_of_body);
    xml_elem(out, "Body", &m.body);
    xml_map(out, "Attribute", "Name", "Value", &m.attributes);
    xml_opt(
        out,
        "MD5OfMessageAttributes",
        m.md5_of_message_attributes.as_deref(),
    );
    for a in &m.message_attributes {
        xml_open(out, "MessageAttribute");
        xml_elem(out, "Name", &a.name);
        xml_open(out, "Value");
        match &a.value {
            AttributeValue::String(s) => xml_elem(out, "StringValue", s),
            AttributeValue::Binary(b) => xml_elem(out, "BinaryValue", &b64(b)),
        }
        xml_elem(out, "DataType", &a.data_type);
        xml_close(out, "Value");
        xml_close(out, "MessageAttribute");
    }
    xml_close(out, "Message");
}

fn move_task_xml(out: &mut Vec<u8>, t: &MoveTask) {
    xml_open(out, "ListMessageMoveTasksResultEntry");
    xml_opt(out, "TaskHandle", t.task_handle.as_deref());
    xml_elem(out, "Status", &t.status);
    xml_elem(out, "SourceArn", &t.source_arn);
    xml_opt(out, "DestinationArn", t.destination_arn.as_deref());
    if let Some(r) = t.max_number_of_messages_per_second {
        xml_elem(out, "MaxNumberOfMessagesPerSecond", &r.to_string());
    }
    xml_elem(
        out,
        "ApproximateNumberOfMessagesMoved",
        &t.approximate_number_of_messages_moved.to_string(),
    );
    if let Some(n) = t.approximate_number_of_messages_to_move {
        xml_elem(out, "ApproximateNumberOfMessagesToMove", &n.to_string());
    }
    xml_opt(out, "FailureReason", t.failure_reason.as_deref());
    xml_elem(out, "StartedTimestamp", &t.started_timestamp.to_string());
    xml_close(out, "ListMessageMoveTasksResultEntry");
}

/// Writes the inside of `<{Action}Result>`; false when the response has no result.
fn result_xml(out: &mut Vec<u8>, resp: &SqsResponse) -> bool {
    match resp {
        SqsResponse::Empty => return false,
        SqsResponse::CreateQueue { queue_url } | SqsResponse::GetQueueUrl { queue_url } => {
            xml_elem(out, "QueueUrl", queue_url);
        }
        SqsResponse::ListQueues {
            queue_urls,
            next_token,
        }
        | SqsResponse::ListDeadLetterSourceQueues {
            queue_urls,
            next_token,
        } => {
            for u in queue_urls {
                xml_elem(out, "QueueUrl", u);
            }
            xml_opt(out, "NextToken", next_token.as_deref());
        }
        SqsResponse::GetQueueAttributes { attributes } => {
            xml_map(out, "Attribute", "Name", "Value", attributes);
        }
        SqsResponse::SendMessage(r) => send_result_xml(out, r),
        SqsResponse::SendMessageBatch { successful, failed } => {
            for e in successful {
                xml_open(out, "SendMessageBatchResultEntry");
                xml_elem(out, "Id", &e.id);
                send_result_xml(out, &e.result);
                xml_close(out, "SendMessageBatchResultEntry");
            }
            failures_xml(out, failed);
        }
        SqsResponse::ReceiveMessage { messages } => {
            for m in messages {
                message_xml(out, m);
            }
        }
        SqsResponse::DeleteMessageBatch { successful, failed } => {
            for id in successful {
                xml_open(out, "DeleteMessageBatchResultEntry");
                xml_elem(out, "Id", id);
                xml_close(out, "DeleteMessageBatchResultEntry");
            }
            failures_xml(out, failed);
        }
        SqsResponse::ChangeMessageVisibilityBatch { successful, failed } => {
            for id in successful {
                xml_open(out, "ChangeMessageVisibilityBatchResultEntry");
                xml_elem(out, "Id", id);
                xml_close(out, "ChangeMessageVisibilityBatchResultEntry");
            }
            failures_xml(out, failed);
        }
        SqsResponse::ListQueueTags { tags } => xml_map(out, "Tag", "Key", "Value", tags),
        SqsResponse::StartMessageMoveTask { task_handle } => {
            xml_elem(out, "TaskHandle", task_handle);
        }
        SqsResponse::ListMessageMoveTasks { results } => {
            for t in results {
                move_task_xml(out, t);
            }
        }
        SqsResponse::CancelMessageMoveTask {
            approximate_number_of_messages_moved,
        } => {
            xml_elem(
                out,
                "ApproximateNumberOfMessagesMoved",
                &approximate_number_of_messages_moved.to_string(),
            );
        }
    }
    true
}

fn to_xml(action: Action, resp: &SqsResponse, request_id: &str) -> Vec<u8> {
    let name = action.name();
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"<?xml version=\"1.0\"?><");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"Response xmlns=\"");
    out.extend_from_slice(XML_NAMESPACE.as_bytes());
    out.extend_from_slice(b"\">");
    let result_tag = format!("{name}Result");
    let mut inner = Vec::new();
    if result_xml(&mut inner, resp) {
        if inner.is_empty() {
            // An empty result is one empty element, as SQS writes it
            // (`<ReceiveMessageResult/>` for a receive that found nothing).
            out.push(b'<');
            out.extend_from_slice(result_tag.as_bytes());
            out.extend_from_slice(b"/>");
        } else {
            xml_open(&mut out, &result_tag);
            out.extend_from_slice(&inner);
            xml_close(&mut out, &result_tag);
        }
    }
    xml_open(&mut out, "ResponseMetadata");
    xml_elem(&mut out, "RequestId", request_id);
    xml_close(&mut out, "ResponseMetadata");
    xml_close(&mut out, &format!("{name}Response"));
    out
}

#[cfg(test)]
mod tests;
