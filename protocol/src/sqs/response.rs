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
//! nothing here checks them against a request. Rendering never panics.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{json, Map as JsonMap, Value};

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
    pub message_id: String,
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
    pub id: String,
    pub result: SendMessageResult,
}

/// One failed batch entry (`BatchResultErrorEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFailure {
    pub id: String,
    /// The query code, e.g. `InvalidMessageContents`.
    pub code: String,
    pub message: String,
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
    pub message_id: String,
    pub receipt_handle: String,
    pub md5_of_body: String,
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
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub max_number_of_messages_per_second: Option<u32>,
    pub approximate_number_of_messages_moved: u64,
    pub approximate_number_of_messages_to_move: Option<u64>,
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
    Empty,
    CreateQueue {
        queue_url: String,
    },
    GetQueueUrl {
        queue_url: String,
    },
    ListQueues {
        queue_urls: Vec<String>,
        next_token: Option<String>,
    },
    GetQueueAttributes {
        attributes: BTreeMap<String, String>,
    },
    SendMessage(SendMessageResult),
    SendMessageBatch {
        successful: Vec<SendMessageBatchResultEntry>,
        failed: Vec<BatchFailure>,
    },
    ReceiveMessage {
        messages: Vec<ReceivedSqsMessage>,
    },
    DeleteMessageBatch {
        /// Ids of the entries that succeeded.
        successful: Vec<String>,
        failed: Vec<BatchFailure>,
    },
    ChangeMessageVisibilityBatch {
        successful: Vec<String>,
        failed: Vec<BatchFailure>,
    },
    ListQueueTags {
        tags: BTreeMap<String, String>,
    },
    ListDeadLetterSourceQueues {
        queue_urls: Vec<String>,
        next_token: Option<String>,
    },
    StartMessageMoveTask {
        task_handle: String,
    },
    ListMessageMoveTasks {
        results: Vec<MoveTask>,
    },
    CancelMessageMoveTask {
        approximate_number_of_messages_moved: u64,
    },
}

/// Renders a success reply (status 200) for `action` in `wire`.
pub fn render(wire: Wire, action: Action, resp: &SqsResponse, request_id: &str) -> HttpReply {
    let headers = vec![("x-amzn-RequestId", request_id.to_string())];
    match wire {
        Wire::Json => HttpReply {
            status: 200,
            content_type: JSON_CONTENT_TYPE,
            headers,
            body: to_json(resp).to_string().into_bytes(),
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

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

struct Obj(JsonMap<String, Value>);

impl Obj {
    fn new() -> Obj {
        Obj(JsonMap::new())
    }
    fn set(&mut self, k: &str, v: impl Into<Value>) -> &mut Obj {
        self.0.insert(k.to_string(), v.into());
        self
    }
    fn opt(&mut self, k: &str, v: Option<impl Into<Value>>) -> &mut Obj {
        if let Some(v) = v {
            self.0.insert(k.to_string(), v.into());
        }
        self
    }
    fn nonempty<T: Into<Value>>(&mut self, k: &str, v: Vec<T>) -> &mut Obj {
        if !v.is_empty() {
            self.0.insert(
                k.to_string(),
                Value::Array(v.into_iter().map(Into::into).collect()),
            );
        }
        self
    }
    fn map(&mut self, k: &str, m: &BTreeMap<String, String>) -> &mut Obj {
        if !m.is_empty() {
            let map = m
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            self.0.insert(k.to_string(), Value::Object(map));
        }
        self
    }
    fn done(&mut self) -> Value {
        Value::Object(std::mem::take(&mut self.0))
    }
}

fn send_result_json(o: &mut Obj, r: &SendMessageResult) {
    o.set("MessageId", r.message_id.as_str())
        .set("MD5OfMessageBody", r.md5_of_message_body.as_str())
        .opt(
            "MD5OfMessageAttributes",
            r.md5_of_message_attributes.as_deref(),
        )
        .opt(
            "MD5OfMessageSystemAttributes",
            r.md5_of_message_system_attributes.as_deref(),
        )
        .opt("SequenceNumber", r.sequence_number.as_deref());
}

fn failures_json(failed: &[BatchFailure]) -> Value {
    failed
        .iter()
        .map(|f| {
            json!({"Id": f.id, "SenderFault": f.sender_fault, "Code": f.code, "Message": f.message})
        })
        .collect()
}

fn ids_json(ids: &[String]) -> Value {
    ids.iter().map(|id| json!({ "Id": id })).collect()
}

fn attribute_json(a: &MessageAttribute<'_>) -> Value {
    let mut o = Obj::new();
    match &a.value {
        AttributeValue::String(s) => o.set("StringValue", s.as_ref()),
        AttributeValue::Binary(b) => o.set("BinaryValue", b64(b)),
    };
    o.set("DataType", a.data_type.as_ref()).done()
}

fn message_json(m: &ReceivedSqsMessage) -> Value {
    let mut o = Obj::new();
    o.set("MessageId", m.message_id.as_str())
        .set("ReceiptHandle", m.receipt_handle.as_str())
        .set("MD5OfBody", m.md5_of_body.as_str())
        .set("Body", m.body.as_str())
        .map("Attributes", &m.attributes)
        .opt(
            "MD5OfMessageAttributes",
            m.md5_of_message_attributes.as_deref(),
        );
    if !m.message_attributes.is_empty() {
        let attrs: JsonMap<String, Value> = m
            .message_attributes
            .iter()
            .map(|a| (a.name.to_string(), attribute_json(a)))
            .collect();
        o.set("MessageAttributes", Value::Object(attrs));
    }
    o.done()
}

fn move_task_json(t: &MoveTask) -> Value {
    Obj::new()
        .opt("TaskHandle", t.task_handle.as_deref())
        .set("Status", t.status.as_str())
        .set("SourceArn", t.source_arn.as_str())
        .opt("DestinationArn", t.destination_arn.as_deref())
        .opt(
            "MaxNumberOfMessagesPerSecond",
            t.max_number_of_messages_per_second,
        )
        .set(
            "ApproximateNumberOfMessagesMoved",
            t.approximate_number_of_messages_moved,
        )
        .opt(
            "ApproximateNumberOfMessagesToMove",
            t.approximate_number_of_messages_to_move,
        )
        .opt("FailureReason", t.failure_reason.as_deref())
        .set("StartedTimestamp", t.started_timestamp)
        .done()
}

fn to_json(resp: &SqsResponse) -> Value {
    let mut o = Obj::new();
    match resp {
        SqsResponse::Empty => {}
        SqsResponse::CreateQueue { queue_url } | SqsResponse::GetQueueUrl { queue_url } => {
            o.set("QueueUrl", queue_url.as_str());
        }
        SqsResponse::ListQueues {
            queue_urls,
            next_token,
        } => {
            o.nonempty("QueueUrls", queue_urls.clone())
                .opt("NextToken", next_token.as_deref());
        }
        SqsResponse::GetQueueAttributes { attributes } => {
            o.map("Attributes", attributes);
        }
        SqsResponse::SendMessage(r) => send_result_json(&mut o, r),
        SqsResponse::SendMessageBatch { successful, failed } => {
            let ok: Vec<Value> = successful
                .iter()
                .map(|e| {
                    let mut eo = Obj::new();
                    eo.set("Id", e.id.as_str());
                    send_result_json(&mut eo, &e.result);
                    eo.done()
                })
                .collect();
            o.set("Successful", ok).set("Failed", failures_json(failed));
        }
        SqsResponse::ReceiveMessage { messages } => {
            o.nonempty("Messages", messages.iter().map(message_json).collect());
        }
        SqsResponse::DeleteMessageBatch { successful, failed }
        | SqsResponse::ChangeMessageVisibilityBatch { successful, failed } => {
            o.set("Successful", ids_json(successful))
                .set("Failed", failures_json(failed));
        }
        SqsResponse::ListQueueTags { tags } => {
            o.map("Tags", tags);
        }
        SqsResponse::ListDeadLetterSourceQueues {
            queue_urls,
            next_token,
        } => {
            o.set("queueUrls", queue_urls.clone())
                .opt("NextToken", next_token.as_deref());
        }
        SqsResponse::StartMessageMoveTask { task_handle } => {
            o.set("TaskHandle", task_handle.as_str());
        }
        SqsResponse::ListMessageMoveTasks { results } => {
            o.nonempty("Results", results.iter().map(move_task_json).collect());
        }
        SqsResponse::CancelMessageMoveTask {
            approximate_number_of_messages_moved,
        } => {
            o.set(
                "ApproximateNumberOfMessagesMoved",
                *approximate_number_of_messages_moved,
            );
        }
    }
    o.done()
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
        xml_open(&mut out, &result_tag);
        out.extend_from_slice(&inner);
        xml_close(&mut out, &result_tag);
    }
    xml_open(&mut out, "ResponseMetadata");
    xml_elem(&mut out, "RequestId", request_id);
    xml_close(&mut out, "ResponseMetadata");
    xml_close(&mut out, &format!("{name}Response"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &HttpReply) -> String {
        String::from_utf8(r.body.clone()).unwrap()
    }

    #[test]
    fn empty_results() {
        let r = render(Wire::Json, Action::DeleteQueue, &SqsResponse::Empty, "x");
        assert_eq!((r.status, body(&r).as_str()), (200, "{}"));
        let r = render(
            Wire::Json,
            Action::ReceiveMessage,
            &SqsResponse::ReceiveMessage { messages: vec![] },
            "x",
        );
        assert_eq!(body(&r), "{}");
        let r = render(Wire::Query, Action::DeleteQueue, &SqsResponse::Empty, "rid");
        assert_eq!(
            body(&r),
            "<?xml version=\"1.0\"?><DeleteQueueResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DeleteQueueResponse>"
        );
        assert_eq!(r.content_type, "text/xml");
    }

    #[test]
    fn send_message_json_omits_absent() {
        let resp = SqsResponse::SendMessage(SendMessageResult {
            message_id: "m".into(),
            md5_of_message_body: "d".into(),
            ..Default::default()
        });
        let r = render(Wire::Json, Action::SendMessage, &resp, "x");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v, json!({"MessageId": "m", "MD5OfMessageBody": "d"}));
    }

    #[test]
    fn dead_letter_sources_use_model_name() {
        let resp = SqsResponse::ListDeadLetterSourceQueues {
            queue_urls: vec![],
            next_token: None,
        };
        let r = render(Wire::Json, Action::ListDeadLetterSourceQueues, &resp, "x");
        assert_eq!(body(&r), r#"{"queueUrls":[]}"#);
    }
}
