//! SQS requests: wire detection, parsing of both wires into one typed [`SqsRequest`],
//! and every validation that needs no queue state.
//!
//! Wires. A request with `X-Amz-Target: AmazonSQS.<Action>` (or a `Content-Type` of
//! `application/x-amz-json-…`) is AWS JSON 1.0: a JSON object body with the model's
//! member names. Anything else is the query protocol: `Action=…&…` form parameters from
//! the query string and, unless the method is GET, from the body (body parameters win on
//! a clash), with flattened lists and maps (`AttributeName.1`, `Attribute.1.Name` /
//! `Attribute.1.Value`, `MessageAttribute.1.Value.StringValue`,
//! `SendMessageBatchRequestEntry.1.Id`, `Tag.1.Key`, `TagKey.1`, `AWSAccountId.1`,
//! `ActionName.1`, …). Query parameters are first rearranged into the JSON shape, so one
//! extractor serves both wires; query values are all text, so integers there are parsed
//! from text.
//!
//! Queue. Queue-scoped actions carry `queue_url`: the `QueueUrl` parameter, or, when it
//! is absent (older SDKs POST to the queue URL itself), the request path if it has the
//! shape `/<account>/<name>` or `/queue/<region>/<account>/<name>`. So `queue_url` may be a
//! full URL with any host or a bare path; [`super::url::queue_name_from_url`] reads both.
//!
//! Errors (the kinds AWS uses, see [`super::error`]):
//! - a body over [`MAX_HTTP_BODY`], or more than [`MAX_PARAMS`] parameters / JSON
//!   tokens: `InvalidParameterValue`, refused before parsing;
//! - JSON that does not parse, a body that is not an object, or a member of the wrong
//!   JSON type (a string where an integer belongs, invalid base64 in a blob):
//!   `SerializationException` (recorded from AWS: "STRING_VALUE can not be converted to
//!   an Integer"); in the query wire an unparsable integer or bad base64 is
//!   `InvalidParameterValue`;
//! - no or unknown target / `Action`: `InvalidAction` (query without `Action`:
//!   `MissingAction`);
//! - a required parameter absent: `MissingParameter` (an empty `MessageBody` counts as
//!   absent, as in SQS);
//! - out-of-range numbers, bad names, bad message attributes: `InvalidParameterValue`
//!   with AWS's wording where recorded; body characters outside the XML set:
//!   `InvalidMessageContents`;
//! - batches: no entries `EmptyBatchRequest`, more than 10
//!   `TooManyEntriesInBatchRequest`, an id not `[A-Za-z0-9_-]{1,80}`
//!   `InvalidBatchEntryId`, a repeated id `BatchEntryIdsNotDistinct`, message bytes
//!   (bodies plus attributes) over 1 MiB `BatchRequestTooLong`, and a missing `Id` or
//!   other required entry member `MissingParameter`, all failing the whole call. Problems
//!   with one entry's *values* (message contents, attributes, delay, ids of groups,
//!   visibility timeout range, empty receipt handle) are that entry's
//!   [`BatchEntry::result`] error, reported by the caller in the `Failed` list, as SQS does.
//!
//! Promises: never panics; bounded work and memory (see the module doc of
//! [`super`]); validation here is exactly what needs no queue state (queue attribute
//! names and values, receipt handle contents, FIFO rules and MaximumMessageSize are the
//! engine's).

use std::collections::{BTreeMap, HashSet};

use super::jval::{lookup, members, JObj, JVal};
use base64::Engine as _;

use super::error::{clip, ErrorKind, SqsError};
use super::{url, Action, TARGET_PREFIX};
use crate::message::{is_valid_queue_name, AttributeValue, MessageAttribute};

/// Largest HTTP body `parse` looks at (4 MiB: a 1 MiB batch form-encoded or JSON-escaped
/// fits), in bytes. The query string has the same limit.
pub const MAX_HTTP_BODY: usize = 4 << 20;
/// Most form parameters, or JSON structural tokens, in one request.
pub const MAX_PARAMS: usize = 10_000;
/// Largest message (body plus message attributes), and largest batch, in bytes.
pub const MAX_MESSAGE_SIZE: usize = 1 << 20;
/// Most entries in a batch.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Longest batch entry id.
pub const MAX_BATCH_ID_LEN: usize = 80;
/// Most message attributes (and, separately, message system attributes) on a message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;
/// Longest message attribute name, and longest data type, in bytes.
pub const MAX_ATTRIBUTE_NAME_LEN: usize = 256;
/// Longest message group id, deduplication id or receive request attempt id.
pub const MAX_ID_LEN: usize = 128;
/// Largest DelaySeconds.
pub const MAX_DELAY_SECONDS: u32 = 900;
/// Largest visibility timeout, in seconds (12 hours).
pub const MAX_VISIBILITY_TIMEOUT: u32 = 43_200;
/// Largest WaitTimeSeconds.
pub const MAX_WAIT_TIME_SECONDS: u32 = 20;
/// Largest MaxNumberOfMessages of ReceiveMessage.
pub const MAX_RECEIVE_MESSAGES: u32 = 10;
/// Largest MaxResults of ListQueues and ListDeadLetterSourceQueues.
pub const MAX_LIST_RESULTS: u32 = 1000;
/// Largest MaxResults of ListMessageMoveTasks.
pub const MAX_MOVE_TASK_RESULTS: u32 = 10;
/// Largest MaxNumberOfMessagesPerSecond of StartMessageMoveTask.
pub const MAX_MOVE_RATE: u32 = 500;
/// Longest permission label.
pub const MAX_LABEL_LEN: usize = 80;

/// Which protocol a client speaks; replies go back in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    /// AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Action>`).
    Json,
    /// The legacy query protocol, answered in XML.
    Query,
}

/// The parts of an HTTP request the codec reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    /// The request path, e.g. `/` or `/000000000000/q`.
    pub path: &'a str,
    /// The raw query string (without `?`).
    pub query: Option<&'a str>,
    /// The `X-Amz-Target` header.
    pub target: Option<&'a str>,
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// A string-to-string map (queue attributes, tags).
pub type AttrMap = BTreeMap<String, String>;

/// One entry of a batch: its id and either the entry or the error SQS reports for it in
/// the `Failed` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry<T> {
    pub id: String,
    pub result: Result<T, SqsError>,
}

/// A message to send (SendMessage, or one SendMessageBatch entry), validated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMessageEntry {
    /// 1 byte to 1 MiB of XML-allowed characters.
    pub body: String,
    /// 0..=900; None = the queue's delay.
    pub delay_seconds: Option<u32>,
    /// At most 10, valid names and types, String/Number values are text and Binary
    /// values bytes; sorted by name (both wires carry them as a map).
    pub message_attributes: Vec<MessageAttribute<'static>>,
    /// Only `AWSTraceHeader` (String).
    pub message_system_attributes: Vec<MessageAttribute<'static>>,
    /// 1..=128 ASCII alphanumeric or punctuation characters.
    pub message_deduplication_id: Option<String>,
    /// 1..=128 ASCII alphanumeric or punctuation characters.
    pub message_group_id: Option<String>,
}

impl SendMessageEntry {
    /// Size counted against the message size limit: body plus each message attribute's
    /// name, data type and value (system attributes do not count).
    pub fn size(&self) -> usize {
        self.body.len() + attributes_size(&self.message_attributes)
    }
}

fn attributes_size(attrs: &[MessageAttribute<'_>]) -> usize {
    attrs
        .iter()
        .map(|a| {
            a.name.len()
                + a.data_type.len()
                + match &a.value {
                    AttributeValue::String(s) => s.len(),
                    AttributeValue::Binary(b) => b.len(),
                }
        })
        .sum()
}

/// One ChangeMessageVisibilityBatch entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityChange {
    pub receipt_handle: String,
    /// 0..=43200. Optional in the model (unlike ChangeMessageVisibility's); None when
    /// the entry has none (SQS then applies 0).
    pub visibility_timeout: Option<u32>,
}

/// ReceiveMessage's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiveMessageRequest {
    pub queue_url: String,
    /// 1..=10; None = 1.
    pub max_number_of_messages: Option<u32>,
    /// 0..=43200; None = the queue's.
    pub visibility_timeout: Option<u32>,
    /// 0..=20; None = the queue's ReceiveMessageWaitTimeSeconds.
    pub wait_time_seconds: Option<u32>,
    /// `MessageSystemAttributeNames` and the deprecated `AttributeNames`, merged in that
    /// order without repeats (`All` = every one). Names are not checked.
    pub system_attribute_names: Vec<String>,
    /// `MessageAttributeNames`: names, `All`, `.*` or `prefix.*`.
    pub message_attribute_names: Vec<String>,
    /// FIFO retry token, 1..=128 ASCII alphanumeric or punctuation characters.
    pub receive_request_attempt_id: Option<String>,
}

impl ReceiveMessageRequest {
    /// Whether the system attribute `name` (e.g. `SentTimestamp`) is to be returned.
    pub fn wants_system_attribute(&self, name: &str) -> bool {
        self.system_attribute_names
            .iter()
            .any(|n| n == "All" || n == name)
    }

    /// Whether the message attribute `name` is to be returned (`All`, `.*`, an exact
    /// name, or `prefix.*` for names starting with `prefix.`).
    pub fn wants_message_attribute(&self, name: &str) -> bool {
        self.message_attribute_names.iter().any(|pat| {
            pat == "All"
                || pat == ".*"
                || pat == name
                || pat
                    .strip_suffix('*')
                    .is_some_and(|p| p.ends_with('.') && name.starts_with(p))
        })
    }
}

/// A parsed SQS request. Field names follow the API's member names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqsRequest {
    CreateQueue {
        /// A valid queue name (`[A-Za-z0-9_-]{1,80}`, optionally `.fifo`).
        queue_name: String,
        /// Queue attributes, unchecked (the engine checks names and values).
        attributes: AttrMap,
        tags: AttrMap,
    },
    DeleteQueue {
        queue_url: String,
    },
    GetQueueUrl {
        queue_name: String,
        queue_owner_aws_account_id: Option<String>,
    },
    ListQueues {
        queue_name_prefix: Option<String>,
        /// 1..=1000.
        max_results: Option<u32>,
        next_token: Option<String>,
    },
    GetQueueAttributes {
        queue_url: String,
        /// Unchecked; `All` = every attribute; empty = none.
        attribute_names: Vec<String>,
    },
    SetQueueAttributes {
        queue_url: String,
        attributes: AttrMap,
    },
    PurgeQueue {
        queue_url: String,
    },
    SendMessage {
        queue_url: String,
        message: SendMessageEntry,
    },
    SendMessageBatch {
        queue_url: String,
        /// 1..=10 entries with distinct valid ids, at most 1 MiB in all.
        entries: Vec<BatchEntry<SendMessageEntry>>,
    },
    ReceiveMessage(ReceiveMessageRequest),
    DeleteMessage {
        queue_url: String,
        receipt_handle: String,
    },
    DeleteMessageBatch {
        queue_url: String,
        /// Receipt handles; an empty one is an entry error.
        entries: Vec<BatchEntry<String>>,
    },
    ChangeMessageVisibility {
        queue_url: String,
        receipt_handle: String,
        /// 0..=43200.
        visibility_timeout: u32,
    },
    ChangeMessageVisibilityBatch {
        queue_url: String,
        entries: Vec<BatchEntry<VisibilityChange>>,
    },
    TagQueue {
        queue_url: String,
        tags: AttrMap,
    },
    UntagQueue {
        queue_url: String,
        tag_keys: Vec<String>,
    },
    ListQueueTags {
        queue_url: String,
    },
    AddPermission {
        queue_url: String,
        /// `[A-Za-z0-9_-]{1,80}`.
        label: String,
        aws_account_ids: Vec<String>,
        actions: Vec<String>,
    },
    RemovePermission {
        queue_url: String,
        label: String,
    },
    ListDeadLetterSourceQueues {
        queue_url: String,
        /// 1..=1000.
        max_results: Option<u32>,
        next_token: Option<String>,
    },
    StartMessageMoveTask {
        source_arn: String,
        destination_arn: Option<String>,
        /// 1..=500.
        max_number_of_messages_per_second: Option<u32>,
    },
    ListMessageMoveTasks {
        source_arn: String,
        /// 1..=10.
        max_results: Option<u32>,
    },
    CancelMessageMoveTask {
        task_handle: String,
    },
}

impl SqsRequest {
    /// The request's action (to pass to [`super::render`]).
    pub fn action(&self) -> Action {
        match self {
            SqsRequest::CreateQueue { .. } => Action::CreateQueue,
            SqsRequest::DeleteQueue { .. } => Action::DeleteQueue,
            SqsRequest::GetQueueUrl { .. } => Action::GetQueueUrl,
            SqsRequest::ListQueues { .. } => Action::ListQueues,
            SqsRequest::GetQueueAttributes { .. } => Action::GetQueueAttributes,
            SqsRequest::SetQueueAttributes { .. } => Action::SetQueueAttributes,
            SqsRequest::PurgeQueue { .. } => Action::PurgeQueue,
            SqsRequest::SendMessage { .. } => Action::SendMessage,
            SqsRequest::SendMessageBatch { .. } => Action::SendMessageBatch,
            SqsRequest::ReceiveMessage(_) => Action::ReceiveMessage,
            SqsRequest::DeleteMessage { .. } => Action::DeleteMessage,
            SqsRequest::DeleteMessageBatch { .. } => Action::DeleteMessageBatch,
            SqsRequest::ChangeMessageVisibility { .. } => Action::ChangeMessageVisibility,
            SqsRequest::ChangeMessageVisibilityBatch { .. } => Action::ChangeMessageVisibilityBatch,
            SqsRequest::TagQueue { .. } => Action::TagQueue,
            SqsRequest::UntagQueue { .. } => Action::UntagQueue,
            SqsRequest::ListQueueTags { .. } => Action::ListQueueTags,
            SqsRequest::AddPermission { .. } => Action::AddPermission,
            SqsRequest::RemovePermission { .. } => Action::RemovePermission,
            SqsRequest::ListDeadLetterSourceQueues { .. } => Action::ListDeadLetterSourceQueues,
            SqsRequest::StartMessageMoveTask { .. } => Action::StartMessageMoveTask,
            SqsRequest::ListMessageMoveTasks { .. } => Action::ListMessageMoveTasks,
            SqsRequest::CancelMessageMoveTask { .. } => Action::CancelMessageMoveTask,
        }
    }

    /// The queue URL (or path) of a queue-scoped request.
    pub fn queue_url(&self) -> Option<&str> {
        match self {
            SqsRequest::DeleteQueue { queue_url }
            | SqsRequest::GetQueueAttributes { queue_url, .. }
            | SqsRequest::SetQueueAttributes { queue_url, .. }
            | SqsRequest::PurgeQueue { queue_url }
            | SqsRequest::SendMessage { queue_url, .. }
            | SqsRequest::SendMessageBatch { queue_url, .. }
            | SqsRequest::DeleteMessage { queue_url, .. }
            | SqsRequest::DeleteMessageBatch { queue_url, .. }
            | SqsRequest::ChangeMessageVisibility { queue_url, .. }
            | SqsRequest::ChangeMessageVisibilityBatch { queue_url, .. }
            | SqsRequest::TagQueue { queue_url, .. }
            | SqsRequest::UntagQueue { queue_url, .. }
            | SqsRequest::ListQueueTags { queue_url }
            | SqsRequest::AddPermission { queue_url, .. }
            | SqsRequest::RemovePermission { queue_url, .. }
            | SqsRequest::ListDeadLetterSourceQueues { queue_url, .. } => Some(queue_url),
            SqsRequest::ReceiveMessage(r) => Some(&r.queue_url),
            _ => None,
        }
    }

    /// The queue name of a queue-scoped request, if its URL has a queue URL's shape.
    pub fn queue_name(&self) -> Option<&str> {
        self.queue_url().and_then(url::queue_name_from_url)
    }
}

// ----- wire detection and the entry point -----------------------------------------------

/// The wire a request speaks: JSON when `X-Amz-Target` starts with `AmazonSQS.` or the
/// content type is `application/x-amz-json-*`, else query. Use it to render the error
/// when [`parse`] fails.
pub fn detect_wire(req: &HttpRequest<'_>) -> Wire {
    let target_json = req.target.is_some_and(|t| t.starts_with(TARGET_PREFIX));
    let ct_json = req.content_type.is_some_and(|c| {
        const JSON_PREFIX: &str = "application/x-amz-json";
        c.trim_start()
            .get(..JSON_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(JSON_PREFIX))
    });
    if target_json || ct_json {
        Wire::Json
    } else {
        Wire::Query
    }
}

fn invalid_action(name: &str) -> SqsError {
    SqsError::new(
        ErrorKind::InvalidAction,
        format!("The action {} is not valid for this endpoint.", clip(name)),
    )
}

fn too_large(what: &str) -> SqsError {
    SqsError::new(
        ErrorKind::InvalidParameterValue,
        format!("The {what} must be at most {MAX_HTTP_BODY} bytes."),
    )
}

fn serialization(msg: impl Into<String>) -> SqsError {
    SqsError::new(ErrorKind::SerializationException, msg)
}

/// Parses a request. On error, render it in [`detect_wire`]`(req)`.
pub fn parse(req: &HttpRequest<'_>) -> Result<(Wire, SqsRequest), SqsError> {
    let wire = detect_wire(req);
    if req.body.len() > MAX_HTTP_BODY {
        return Err(too_large("request body"));
    }
    if req.query.map_or(0, str::len) > MAX_HTTP_BODY {
        return Err(too_large("query string"));
    }
    let (action, map) = match wire {
        Wire::Json => parse_json(req)?,
        Wire::Query => parse_query(req)?,
    };
    let path = req.path.split(['?', '#']).next().unwrap_or("");
    let path_queue = url::queue_account_and_name(path).map(|_| path);
    let o = Obj { map: &map, wire };
    let request = build(action, &o, path_queue)?;
    Ok((wire, request))
}

fn parse_json<'a>(req: &HttpRequest<'a>) -> Result<(Action, JObj<'a>), SqsError> {
    let target = req.target.unwrap_or("");
    let action = target
        .strip_prefix(TARGET_PREFIX)
        .and_then(Action::from_name)
        .ok_or_else(|| invalid_action(target.strip_prefix(TARGET_PREFIX).unwrap_or(target)))?;
    if req.body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok((action, Vec::new()));
    }
    // Every counted token is a byte of the body, so a body no longer than the bound cannot
    // exceed it (most requests: the scan is skipped).
    if req.body.len() > MAX_PARAMS && json_token_count(req.body) > MAX_PARAMS {
        return Err(SqsError::new(
            ErrorKind::InvalidParameterValue,
            format!("The request must have at most {MAX_PARAMS} JSON values."),
        ));
    }
    match serde_json::from_slice::<JVal<'a>>(req.body) {
        Ok(JVal::Object(m)) => Ok((action, m)),
        Ok(v) => Err(serialization(format!(
            "{} The request body must be a JSON object.",
            json_kind(&v)
        ))),
        Err(e) => Err(serialization(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

/// Counts `{ [ , :` outside strings: a bound on the number of JSON values.
fn json_token_count(body: &[u8]) -> usize {
    let (mut n, mut in_str, mut esc) = (0usize, false, false);
    for &b in body {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
        } else {
            match b {
                b'"' => in_str = true,
                b'{' | b'[' | b',' | b':' => n += 1,
                _ => {}
            }
        }
    }
    n
}

fn parse_query(req: &HttpRequest<'_>) -> Result<(Action, JObj<'static>), SqsError> {
    let use_body = !req.method.eq_ignore_ascii_case("GET");
    let query = req.query.unwrap_or("").as_bytes();
    let count = |s: &[u8]| s.iter().filter(|&&b| b == b'&').count() + 1;
    if count(query) + if use_body { count(req.body) } else { 0 } > MAX_PARAMS {
        return Err(SqsError::new(
            ErrorKind::InvalidParameterValue,
            format!("The request must have at most {MAX_PARAMS} parameters."),
        ));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    if use_body {
        pairs.extend(
            form_urlencoded::parse(req.body).map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
    }
    pairs.extend(form_urlencoded::parse(query).map(|(k, v)| (k.into_owned(), v.into_owned())));
    let mut params: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in &pairs {
        params.entry(k.as_str()).or_insert(v.as_str());
    }
    let name = params.get("Action").copied().ok_or_else(|| {
        SqsError::new(
            ErrorKind::MissingAction,
            "The request must contain the parameter Action.",
        )
    })?;
    let action = Action::from_name(name).ok_or_else(|| invalid_action(name))?;
    let map = query_to_json(&params, action, 0)?;
    Ok((action, map))
}

/// Rearranges flattened query parameters into the JSON request shape.
fn query_to_json(
    params: &BTreeMap<&str, &str>,
    action: Action,
    depth: u8,
) -> Result<JObj<'static>, SqsError> {
    type Items<'a> = BTreeMap<u32, BTreeMap<&'a str, &'a str>>;
    let mut obj: JObj<'static> = Vec::new();
    let mut groups: BTreeMap<&str, Items<'_>> = BTreeMap::new();
    for (&k, &v) in params {
        match k.split_once('.') {
            None => {
                obj.push((k.to_string().into(), JVal::string(v)));
            }
            Some((head, tail)) => {
                let (idx, rest) = tail.split_once('.').unwrap_or((tail, ""));
                // Indices are positive decimal integers; other keys are ignored.
                let Ok(idx) = idx.parse::<u32>() else {
                    continue;
                };
                groups
                    .entry(head)
                    .or_default()
                    .entry(idx)
                    .or_default()
                    .insert(rest, v);
            }
        }
    }
    let entry_head = match action {
        Action::SendMessageBatch => "SendMessageBatchRequestEntry",
        Action::DeleteMessageBatch => "DeleteMessageBatchRequestEntry",
        Action::ChangeMessageVisibilityBatch => "ChangeMessageVisibilityBatchRequestEntry",
        _ => "",
    };
    for (head, items) in groups {
        let list = |items: &Items<'_>| {
            JVal::Array(
                items
                    .values()
                    .filter_map(|sub| sub.get("").map(|v| JVal::string(*v)))
                    .collect(),
            )
        };
        let (key, value) = match head {
            "Attribute" => ("Attributes", query_pairs(&items, head, "Name", "Value")?),
            "Tag" if action == Action::CreateQueue => {
                ("tags", query_pairs(&items, head, "Key", "Value")?)
            }
            "Tag" => ("Tags", query_pairs(&items, head, "Key", "Value")?),
            "AttributeName" => ("AttributeNames", list(&items)),
            "MessageSystemAttributeName" => ("MessageSystemAttributeNames", list(&items)),
            "MessageAttributeName" => ("MessageAttributeNames", list(&items)),
            "TagKey" => ("TagKeys", list(&items)),
            "AWSAccountId" => ("AWSAccountIds", list(&items)),
            "ActionName" => ("Actions", list(&items)),
            "MessageAttribute" => ("MessageAttributes", query_message_attributes(&items, head)?),
            "MessageSystemAttribute" => (
                "MessageSystemAttributes",
                query_message_attributes(&items, head)?,
            ),
            h if depth == 0 && !entry_head.is_empty() && h == entry_head => {
                let mut entries = Vec::with_capacity(items.len());
                for sub in items.values() {
                    entries.push(JVal::Object(query_to_json(sub, action, 1)?));
                }
                ("Entries", JVal::Array(entries))
            }
            _ => continue,
        };
        obj.push((key.into(), value));
    }
    Ok(obj)
}

fn query_pairs(
    items: &BTreeMap<u32, BTreeMap<&str, &str>>,
    head: &str,
    key: &str,
    value: &str,
) -> Result<JVal<'static>, SqsError> {
    let mut map: JObj<'static> = Vec::new();
    for (idx, sub) in items {
        let k = sub
            .get(key)
            .ok_or_else(|| SqsError::missing(&format!("{head}.{idx}.{key}")))?;
        let v = sub
            .get(value)
            .ok_or_else(|| SqsError::missing(&format!("{head}.{idx}.{value}")))?;
        map.push((k.to_string().into(), JVal::string(*v)));
    }
    Ok(JVal::Object(map))
}

fn query_message_attributes(
    items: &BTreeMap<u32, BTreeMap<&str, &str>>,
    head: &str,
) -> Result<JVal<'static>, SqsError> {
    let mut map: JObj<'static> = Vec::new();
    for (idx, sub) in items {
        let name = sub
            .get("Name")
            .ok_or_else(|| SqsError::missing(&format!("{head}.{idx}.Name")))?;
        let mut value: JObj<'static> = Vec::new();
        let mut string_list = Vec::new();
        let mut binary_list = Vec::new();
        for (&k, &v) in sub {
            let Some(field) = k.strip_prefix("Value.") else {
                continue;
            };
            match field {
                "DataType" | "StringValue" | "BinaryValue" => {
                    value.push((field.to_string().into(), JVal::string(v)));
                }
                f if f.starts_with("StringListValue.") => string_list.push(JVal::string(v)),
                f if f.starts_with("BinaryListValue.") => binary_list.push(JVal::string(v)),
                _ => {}
            }
        }
        if !string_list.is_empty() {
            value.push(("StringListValues".into(), JVal::Array(string_list)));
        }
        if !binary_list.is_empty() {
            value.push(("BinaryListValues".into(), JVal::Array(binary_list)));
        }
        map.push((name.to_string().into(), JVal::Object(value)));
    }
    Ok(JVal::Object(map))
}

// ----- typed access to a JSON-shaped object ----------------------------------------------

fn json_kind(v: &JVal<'_>) -> &'static str {
    match v {
        JVal::Null => "NULL_VALUE",
        JVal::Bool(_) => "BOOLEAN_VALUE",
        JVal::Number(_) => "NUMBER_VALUE",
        JVal::String(_) => "STRING_VALUE",
        JVal::Array(_) => "Start of list found where not expected.",
        JVal::Object(_) => "Start of structure or map found where not expected.",
    }
}

/// One JSON object (the request, or a batch entry) with the wire it came from.
struct Obj<'a> {
    map: &'a JObj<'a>,
    wire: Wire,
}

impl<'a> Obj<'a> {
    fn get(&self, name: &str) -> Option<&'a JVal<'a>> {
        match lookup(self.map, name) {
            None | Some(JVal::Null) => None,
            Some(v) => Some(v),
        }
    }

    fn type_error(&self, v: &JVal<'_>, want: &str) -> SqsError {
        match v {
            JVal::Array(_) | JVal::Object(_) => serialization(json_kind(v)),
            _ => serialization(format!("{} can not be converted to {want}", json_kind(v))),
        }
    }

    fn str_opt(&self, name: &str) -> Result<Option<&'a str>, SqsError> {
        match self.get(name) {
            None => Ok(None),
            Some(JVal::String(s)) => Ok(Some(s.as_ref())),
            Some(v) => Err(self.type_error(v, "a String")),
        }
    }

    fn string_opt(&self, name: &str) -> Result<Option<String>, SqsError> {
        Ok(self.str_opt(name)?.map(str::to_string))
    }

    fn str_req(&self, name: &str) -> Result<&'a str, SqsError> {
        self.str_opt(name)?.ok_or_else(|| SqsError::missing(name))
    }

    /// A required string that must also be non-empty.
    fn str_nonempty(&self, name: &str) -> Result<&'a str, SqsError> {
        match self.str_req(name)? {
            "" => Err(SqsError::missing(name)),
            s => Ok(s),
        }
    }

    fn int_opt(&self, name: &str) -> Result<Option<i64>, SqsError> {
        match (self.get(name), self.wire) {
            (None, _) => Ok(None),
            (Some(JVal::Number(n)), _) => match n.as_i64() {
                Some(i) => Ok(Some(i)),
                None => Err(serialization(format!(
                    "NUMBER_VALUE {} can not be converted to an Integer",
                    clip(&n.to_string())
                ))),
            },
            (Some(JVal::String(s)), Wire::Query) => match s.trim().parse::<i64>() {
                Ok(i) => Ok(Some(i)),
                Err(_) => Err(SqsError::invalid_value(name, s, "Must be an integer.")),
            },
            (Some(v), _) => Err(self.type_error(v, "an Integer")),
        }
    }

    /// An optional integer in `min..=max`, else `InvalidParameterValue` with `reason`.
    fn int_in(
        &self,
        name: &str,
        min: u32,
        max: u32,
        reason: &str,
    ) -> Result<Option<u32>, SqsError> {
        match self.int_opt(name)? {
            None => Ok(None),
            Some(v) => check_range(name, v, min, max, reason).map(Some),
        }
    }

    fn str_list(&self, name: &str) -> Result<Option<Vec<String>>, SqsError> {
        match self.get(name) {
            None => Ok(None),
            Some(JVal::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        JVal::String(s) => out.push(s.to_string()),
                        v => return Err(self.type_error(v, "a String")),
                    }
                }
                Ok(Some(out))
            }
            Some(v) => Err(self.type_error(v, "a List")),
        }
    }

    fn str_map(&self, name: &str) -> Result<Option<AttrMap>, SqsError> {
        match self.get(name) {
            None => Ok(None),
            Some(JVal::Object(m)) => {
                let mut out = AttrMap::new();
                for (k, v) in members(m) {
                    match v {
                        JVal::String(s) => {
                            out.insert(k.to_string(), s.to_string());
                        }
                        v => return Err(self.type_error(v, "a String")),
                    }
                }
                Ok(Some(out))
            }
            Some(v) => Err(self.type_error(v, "a Map")),
        }
    }

    fn objects(&self, name: &str) -> Result<Option<Vec<Obj<'a>>>, SqsError> {
        match self.get(name) {
            None => Ok(None),
            Some(JVal::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        JVal::Object(m) => out.push(Obj {
                            map: m,
                            wire: self.wire,
                        }),
                        v => return Err(self.type_error(v, "a Structure")),
                    }
                }
                Ok(Some(out))
            }
            Some(v) => Err(self.type_error(v, "a List")),
        }
    }

    fn blob(&self, name: &str, text: &str) -> Result<Vec<u8>, SqsError> {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| match self.wire {
                Wire::Json => serialization(format!("{name} is not valid base64.")),
                Wire::Query => {
                    SqsError::invalid_value(name, text, "Must be a base64-encoded binary value.")
                }
            })
    }

    /// The raw (structurally checked, not yet validated) message attributes of `name`.
    fn raw_attributes(&self, name: &str) -> Result<Vec<RawAttr>, SqsError> {
        let Some(v) = self.get(name) else {
            return Ok(Vec::new());
        };
        let JVal::Object(m) = v else {
            return Err(self.type_error(v, "a Map"));
        };
        let m = members(m);
        let mut out = Vec::with_capacity(m.len().min(MAX_MESSAGE_ATTRIBUTES + 1));
        for (attr_name, value) in m {
            let JVal::Object(fields) = value else {
                return Err(self.type_error(value, "a Structure"));
            };
            let f = Obj {
                map: fields,
                wire: self.wire,
            };
            let binary_value = match f.str_opt("BinaryValue")? {
                Some(text) => Some(f.blob("BinaryValue", text)?),
                None => None,
            };
            let has_lists = f
                .str_list("StringListValues")?
                .is_some_and(|l| !l.is_empty())
                || f.str_list("BinaryListValues")?
                    .is_some_and(|l| !l.is_empty());
            out.push(RawAttr {
                name: attr_name.to_string(),
                data_type: f.string_opt("DataType")?,
                string_value: f.string_opt("StringValue")?,
                binary_value,
                has_lists,
            });
        }
        Ok(out)
    }
}

fn check_range(name: &str, v: i64, min: u32, max: u32, reason: &str) -> Result<u32, SqsError> {
    if v < i64::from(min) || v > i64::from(max) {
        return Err(SqsError::invalid_value(name, &v.to_string(), reason));
    }
    u32::try_from(v).map_err(|_| SqsError::invalid_value(name, &v.to_string(), reason))
}

// ----- value validation -------------------------------------------------------------------

/// Whether `c` may appear in a message body (and in XML 1.0): `#x9 | #xA | #xD |
/// #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF`.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether every character of `s` [`is_xml_char`]. ASCII text (the common case) is checked
/// a byte at a time; anything else per char.
fn is_xml_text(s: &str) -> bool {
    let ascii_ok = |b: &u8| matches!(b, b'\t' | b'\n' | b'\r' | 0x20..=0x7f);
    s.as_bytes().iter().all(ascii_ok) || s.chars().all(is_xml_char)
}

/// Checks a message body: non-empty (`MissingParameter`) and only XML characters
/// (`InvalidMessageContents`).
pub fn validate_body(body: &str) -> Result<(), SqsError> {
    if body.is_empty() {
        return Err(SqsError::missing("MessageBody"));
    }
    if !is_xml_text(body) {
        return Err(SqsError::new(
            ErrorKind::InvalidMessageContents,
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
        ));
    }
    Ok(())
}

fn invalid(msg: impl Into<String>) -> SqsError {
    SqsError::new(ErrorKind::InvalidParameterValue, msg)
}

/// Checks a message attribute name: 1..=256 of `[A-Za-z0-9_.-]`, no `AWS.`/`Amazon.`
/// prefix (any case), no leading, trailing or doubled period.
pub fn validate_attribute_name(name: &str) -> Result<(), SqsError> {
    if name.is_empty() {
        return Err(invalid(
            "The request must contain non-empty message attribute name.",
        ));
    }
    if name.len() > MAX_ATTRIBUTE_NAME_LEN {
        return Err(invalid(format!(
            "Message (user) attribute name {}... must be shorter than {MAX_ATTRIBUTE_NAME_LEN} bytes.",
            clip(name)
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(invalid(format!(
            "Message (user) attribute name '{}' is invalid. Can only include alphanumeric characters, hyphens, underscores, or dots.",
            clip(name)
        )));
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("aws.") || lower.starts_with("amazon.") {
        return Err(invalid(format!(
            "Message (user) attribute name '{name}' is invalid. Names starting with 'AWS.' or 'Amazon.' are reserved."
        )));
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(invalid(format!(
            "Message (user) attribute name '{name}' is invalid. It can't start or end with a period, or have consecutive periods."
        )));
    }
    Ok(())
}

/// Whether `s` is an SQS Number: decimal with optional sign, fraction and exponent, at
/// most 38 significant digits, magnitude 0 or within 10^-128..=10^126.
pub fn is_valid_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let mut digits: Vec<u8> = Vec::new();
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        digits.push(c);
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            digits.push(c);
            i += 1;
        }
    }
    if digits.is_empty() {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if i != b.len() {
        return false;
    }
    let first = digits.iter().position(|&d| d != b'0');
    let Some(first) = first else { return true }; // zero
    let last = digits.iter().rposition(|&d| d != b'0').unwrap_or(first);
    if last + 1 - first > 38 {
        return false;
    }
    match s.parse::<f64>() {
        Ok(v) => v.is_finite() && (1e-128..=1e126).contains(&v.abs()),
        Err(_) => false,
    }
}

/// A message attribute as received, before validation.
struct RawAttr {
    name: String,
    data_type: Option<String>,
    string_value: Option<String>,
    binary_value: Option<Vec<u8>>,
    has_lists: bool,
}

impl RawAttr {
    fn size(&self) -> usize {
        self.name.len()
            + self.data_type.as_ref().map_or(0, String::len)
            + self.string_value.as_ref().map_or(0, String::len)
            + self.binary_value.as_ref().map_or(0, Vec::len)
    }
}

fn validate_message_attributes(
    raw: Vec<RawAttr>,
) -> Result<Vec<MessageAttribute<'static>>, SqsError> {
    if raw.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(invalid(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}].",
            raw.len()
        )));
    }
    let mut out = Vec::with_capacity(raw.len());
    for a in raw {
        validate_attribute_name(&a.name)?;
        let name = a.name;
        let Some(data_type) = a.data_type.filter(|t| !t.is_empty()) else {
            return Err(invalid(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            )));
        };
        if data_type.len() > MAX_ATTRIBUTE_NAME_LEN {
            return Err(invalid(format!(
                "The message attribute '{name}' has a data type longer than {MAX_ATTRIBUTE_NAME_LEN} bytes."
            )));
        }
        if a.has_lists {
            return Err(invalid(format!(
                "Message attribute '{name}': list values (StringListValues, BinaryListValues) are not supported."
            )));
        }
        let (base, label) = match data_type.split_once('.') {
            Some((b, l)) => (b, Some(l)),
            None => (data_type.as_str(), None),
        };
        if label == Some("") || !matches!(base, "String" | "Number" | "Binary") {
            return Err(invalid(format!(
                "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        let value = if base == "Binary" {
            match a.binary_value.filter(|b| !b.is_empty()) {
                Some(b) => AttributeValue::Binary(b.into()),
                None => {
                    return Err(invalid(format!(
                        "The message attribute '{name}' with type 'Binary' must use field 'Binary'."
                    )))
                }
            }
        } else {
            let Some(s) = a.string_value.filter(|s| !s.is_empty()) else {
                return Err(invalid(format!(
                    "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{base}'."
                )));
            };
            if !is_xml_text(&s) {
                return Err(invalid(format!(
                    "The message attribute '{name}' contains invalid characters."
                )));
            }
            if base == "Number" && !is_valid_number(&s) {
                return Err(invalid(format!(
                    "Can't cast the value of message (user) attribute '{name}' to a number."
                )));
            }
            AttributeValue::String(s.into())
        };
        out.push(MessageAttribute {
            name: name.into(),
            data_type: data_type.into(),
            value,
        });
    }
    Ok(out)
}

fn validate_system_attributes(
    raw: Vec<RawAttr>,
) -> Result<Vec<MessageAttribute<'static>>, SqsError> {
    let mut out = Vec::with_capacity(raw.len().min(1));
    for a in raw {
        if a.name != "AWSTraceHeader" {
            return Err(invalid(format!(
                "Message system attribute name '{}' is invalid.",
                clip(&a.name)
            )));
        }
        if a.data_type.as_deref() != Some("String") {
            return Err(invalid(
                "The message system attribute 'AWSTraceHeader' must have the data type String.",
            ));
        }
        let Some(s) = a.string_value.filter(|s| !s.is_empty() && is_xml_text(s)) else {
            return Err(invalid(
                "The message system attribute 'AWSTraceHeader' must contain a non-empty string value.",
            ));
        };
        out.push(MessageAttribute {
            name: a.name.into(),
            data_type: "String".into(),
            value: AttributeValue::String(s.into()),
        });
    }
    Ok(out)
}

/// Message group / deduplication / receive attempt ids: 1..=128 ASCII alphanumeric or
/// punctuation characters.
fn check_id(name: &str, v: Option<&str>) -> Result<Option<String>, SqsError> {
    match v {
        None => Ok(None),
        Some(s) if !s.is_empty() && s.len() <= MAX_ID_LEN && s.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(s.to_string()))
        }
        Some(s) => Err(SqsError::invalid_value(
            name,
            s,
            &format!("{name} can only include alphanumeric and punctuation characters. 1 to 128 in length."),
        )),
    }
}

// ----- messages and batches --------------------------------------------------------------

/// A send entry after the structural pass (types right, required members present).
struct RawSend<'a> {
    body: &'a str,
    delay: Option<i64>,
    attributes: Vec<RawAttr>,
    system_attributes: Vec<RawAttr>,
    dedup_id: Option<&'a str>,
    group_id: Option<&'a str>,
}

impl RawSend<'_> {
    fn size(&self) -> usize {
        self.body.len() + self.attributes.iter().map(RawAttr::size).sum::<usize>()
    }
}

fn raw_send<'a>(o: &Obj<'a>) -> Result<RawSend<'a>, SqsError> {
    Ok(RawSend {
        body: o.str_req("MessageBody")?,
        delay: o.int_opt("DelaySeconds")?,
        attributes: o.raw_attributes("MessageAttributes")?,
        system_attributes: o.raw_attributes("MessageSystemAttributes")?,
        dedup_id: o.str_opt("MessageDeduplicationId")?,
        group_id: o.str_opt("MessageGroupId")?,
    })
}

fn validate_send(raw: RawSend<'_>) -> Result<SendMessageEntry, SqsError> {
    validate_body(raw.body)?;
    let delay_seconds = match raw.delay {
        None => None,
        Some(v) => Some(check_range(
            "DelaySeconds",
            v,
            0,
            MAX_DELAY_SECONDS,
            "Must be >= 0 and <= 900, if provided.",
        )?),
    };
    let entry = SendMessageEntry {
        body: raw.body.to_string(),
        delay_seconds,
        message_attributes: validate_message_attributes(raw.attributes)?,
        message_system_attributes: validate_system_attributes(raw.system_attributes)?,
        message_deduplication_id: check_id("MessageDeduplicationId", raw.dedup_id)?,
        message_group_id: check_id("MessageGroupId", raw.group_id)?,
    };
    Ok(entry)
}

fn message_too_long() -> SqsError {
    invalid(format!(
        "One or more parameters are invalid. Reason: Message must be shorter than {MAX_MESSAGE_SIZE} bytes."
    ))
}

/// Whether `id` is a valid batch entry id: `[A-Za-z0-9_-]{1,80}`.
pub fn is_valid_batch_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_BATCH_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The structural checks every batch shares; returns the entries and their ids.
fn batch_entries<'a>(o: &Obj<'a>, action: Action) -> Result<Vec<(String, Obj<'a>)>, SqsError> {
    let entry_name = format!("{action}RequestEntry");
    let entries = match (o.objects("Entries")?, o.wire) {
        (Some(e), _) => e,
        (None, Wire::Json) => return Err(SqsError::missing("Entries")),
        (None, Wire::Query) => Vec::new(),
    };
    if entries.is_empty() {
        return Err(SqsError::new(
            ErrorKind::EmptyBatchRequest,
            format!("There should be at least one {entry_name} in the request."),
        ));
    }
    if entries.len() > MAX_BATCH_ENTRIES {
        return Err(SqsError::new(
            ErrorKind::TooManyEntriesInBatchRequest,
            format!(
                "Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {}.",
                entries.len()
            ),
        ));
    }
    let mut seen = HashSet::with_capacity(entries.len());
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.into_iter().enumerate() {
        let id = e
            .str_opt("Id")?
            .ok_or_else(|| SqsError::missing(&format!("{entry_name}.{}.Id", i + 1)))?;
        if !is_valid_batch_id(id) {
            return Err(SqsError::new(
                ErrorKind::InvalidBatchEntryId,
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(SqsError::new(
                ErrorKind::BatchEntryIdsNotDistinct,
                format!("Id {id} repeated."),
            ));
        }
        out.push((id.to_string(), e));
    }
    Ok(out)
}

// ----- per-action builders ----------------------------------------------------------------

fn queue_url(o: &Obj<'_>, path_queue: Option<&str>) -> Result<String, SqsError> {
    match o.str_opt("QueueUrl")? {
        Some(u) if !u.is_empty() => Ok(u.to_string()),
        _ => path_queue
            .map(str::to_string)
            .ok_or_else(|| SqsError::missing("QueueUrl")),
    }
}

fn list_results(o: &Obj<'_>, max: u32) -> Result<Option<u32>, SqsError> {
    o.int_in(
        "MaxResults",
        1,
        max,
        &format!("MaxResults must be an integer between 1 and {max}."),
    )
}

fn build(action: Action, o: &Obj<'_>, path_queue: Option<&str>) -> Result<SqsRequest, SqsError> {
    let qurl = || queue_url(o, path_queue);
    Ok(match action {
        Action::CreateQueue => {
            let queue_name = o.str_req("QueueName")?;
            if !is_valid_queue_name(queue_name) {
                return Err(invalid(
                    "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
                ));
            }
            let tags = match o.str_map("tags")? {
                Some(t) => t,
                None => o.str_map("Tags")?.unwrap_or_default(),
            };
            SqsRequest::CreateQueue {
                queue_name: queue_name.to_string(),
                attributes: o.str_map("Attributes")?.unwrap_or_default(),
                tags,
            }
        }
        Action::DeleteQueue => SqsRequest::DeleteQueue { queue_url: qurl()? },
        Action::GetQueueUrl => SqsRequest::GetQueueUrl {
            queue_name: o.str_req("QueueName")?.to_string(),
            queue_owner_aws_account_id: o.string_opt("QueueOwnerAWSAccountId")?,
        },
        Action::ListQueues => SqsRequest::ListQueues {
            queue_name_prefix: o.string_opt("QueueNamePrefix")?,
            max_results: list_results(o, MAX_LIST_RESULTS)?,
            next_token: o.string_opt("NextToken")?,
        },
        Action::GetQueueAttributes => SqsRequest::GetQueueAttributes {
            queue_url: qurl()?,
            attribute_names: o.str_list("AttributeNames")?.unwrap_or_default(),
        },
        Action::SetQueueAttributes => SqsRequest::SetQueueAttributes {
            queue_url: qurl()?,
            attributes: o
                .str_map("Attributes")?
                .ok_or_else(|| SqsError::missing("Attributes"))?,
        },
        Action::PurgeQueue => SqsRequest::PurgeQueue { queue_url: qurl()? },
        Action::SendMessage => {
            let queue_url = qurl()?;
            let raw = raw_send(o)?;
            if raw.size() > MAX_MESSAGE_SIZE {
                return Err(message_too_long());
            }
            SqsRequest::SendMessage {
                queue_url,
                message: validate_send(raw)?,
            }
        }
        Action::SendMessageBatch => {
            let queue_url = qurl()?;
            let entries = batch_entries(o, action)?;
            let mut raws = Vec::with_capacity(entries.len());
            let mut total = 0usize;
            for (id, e) in &entries {
                let raw = raw_send(e)?;
                total = total.saturating_add(raw.size());
                raws.push((id.clone(), raw));
            }
            if total > MAX_MESSAGE_SIZE {
                return Err(SqsError::new(
                    ErrorKind::BatchRequestTooLong,
                    format!(
                        "Batch requests cannot be longer than {MAX_MESSAGE_SIZE} bytes. You have sent {total} bytes."
                    ),
                ));
            }
            let entries = raws
                .into_iter()
                .map(|(id, raw)| BatchEntry {
                    id,
                    result: validate_send(raw),
                })
                .collect();
            SqsRequest::SendMessageBatch { queue_url, entries }
        }
        Action::ReceiveMessage => {
            let queue_url = qurl()?;
            let mut system_attribute_names: Vec<String> = Vec::new();
            for name in o
                .str_list("MessageSystemAttributeNames")?
                .into_iter()
                .flatten()
                .chain(o.str_list("AttributeNames")?.into_iter().flatten())
            {
                if !system_attribute_names.contains(&name) {
                    system_attribute_names.push(name);
                }
            }
            SqsRequest::ReceiveMessage(ReceiveMessageRequest {
                queue_url,
                max_number_of_messages: o.int_in(
                    "MaxNumberOfMessages",
                    1,
                    MAX_RECEIVE_MESSAGES,
                    "Must be between 1 and 10, if provided.",
                )?,
                visibility_timeout: o.int_in(
                    "VisibilityTimeout",
                    0,
                    MAX_VISIBILITY_TIMEOUT,
                    "Must be >= 0 and <= 43200, if provided.",
                )?,
                wait_time_seconds: o.int_in(
                    "WaitTimeSeconds",
                    0,
                    MAX_WAIT_TIME_SECONDS,
                    "Must be >= 0 and <= 20, if provided.",
                )?,
                system_attribute_names,
                message_attribute_names: o.str_list("MessageAttributeNames")?.unwrap_or_default(),
                receive_request_attempt_id: check_id(
                    "ReceiveRequestAttemptId",
                    o.str_opt("ReceiveRequestAttemptId")?,
                )?,
            })
        }
        Action::DeleteMessage => SqsRequest::DeleteMessage {
            queue_url: qurl()?,
            receipt_handle: o.str_nonempty("ReceiptHandle")?.to_string(),
        },
        Action::DeleteMessageBatch => {
            let queue_url = qurl()?;
            let mut entries = Vec::new();
            for (id, e) in batch_entries(o, action)? {
                let handle = e.str_req("ReceiptHandle")?;
                entries.push(BatchEntry {
                    id,
                    result: receipt_handle(handle),
                });
            }
            SqsRequest::DeleteMessageBatch { queue_url, entries }
        }
        Action::ChangeMessageVisibility => {
            let queue_url = qurl()?;
            let receipt_handle = o.str_nonempty("ReceiptHandle")?.to_string();
            let t = o
                .int_opt("VisibilityTimeout")?
                .ok_or_else(|| SqsError::missing("VisibilityTimeout"))?;
            SqsRequest::ChangeMessageVisibility {
                queue_url,
                receipt_handle,
                visibility_timeout: visibility(t)?,
            }
        }
        Action::ChangeMessageVisibilityBatch => {
            let queue_url = qurl()?;
            let mut entries = Vec::new();
            for (id, e) in batch_entries(o, action)? {
                let handle = e.str_req("ReceiptHandle")?;
                let t = e.int_opt("VisibilityTimeout")?;
                let result = receipt_handle(handle).and_then(|receipt_handle| {
                    Ok(VisibilityChange {
                        receipt_handle,
                        visibility_timeout: t.map(visibility).transpose()?,
                    })
                });
                entries.push(BatchEntry { id, result });
            }
            SqsRequest::ChangeMessageVisibilityBatch { queue_url, entries }
        }
        Action::TagQueue => SqsRequest::TagQueue {
            queue_url: qurl()?,
            tags: o
                .str_map("Tags")?
                .ok_or_else(|| SqsError::missing("Tags"))?,
        },
        Action::UntagQueue => SqsRequest::UntagQueue {
            queue_url: qurl()?,
            tag_keys: o
                .str_list("TagKeys")?
                .ok_or_else(|| SqsError::missing("TagKeys"))?,
        },
        Action::ListQueueTags => SqsRequest::ListQueueTags { queue_url: qurl()? },
        Action::AddPermission => {
            let queue_url = qurl()?;
            let label = label(o)?;
            SqsRequest::AddPermission {
                queue_url,
                label,
                aws_account_ids: o
                    .str_list("AWSAccountIds")?
                    .ok_or_else(|| SqsError::missing("AWSAccountIds"))?,
                actions: o
                    .str_list("Actions")?
                    .ok_or_else(|| SqsError::missing("Actions"))?,
            }
        }
        Action::RemovePermission => SqsRequest::RemovePermission {
            queue_url: qurl()?,
            label: label(o)?,
        },
        Action::ListDeadLetterSourceQueues => SqsRequest::ListDeadLetterSourceQueues {
            queue_url: qurl()?,
            max_results: list_results(o, MAX_LIST_RESULTS)?,
            next_token: o.string_opt("NextToken")?,
        },
        Action::StartMessageMoveTask => SqsRequest::StartMessageMoveTask {
            source_arn: o.str_nonempty("SourceArn")?.to_string(),
            destination_arn: o.string_opt("DestinationArn")?.filter(|s| !s.is_empty()),
            max_number_of_messages_per_second: o.int_in(
                "MaxNumberOfMessagesPerSecond",
                1,
                MAX_MOVE_RATE,
                "Must be between 1 and 500.",
            )?,
        },
        Action::ListMessageMoveTasks => SqsRequest::ListMessageMoveTasks {
            source_arn: o.str_nonempty("SourceArn")?.to_string(),
            max_results: list_results(o, MAX_MOVE_TASK_RESULTS)?,
        },
        Action::CancelMessageMoveTask => SqsRequest::CancelMessageMoveTask {
            task_handle: o.str_nonempty("TaskHandle")?.to_string(),
        },
    })
}

fn receipt_handle(handle: &str) -> Result<String, SqsError> {
    if handle.is_empty() {
        Err(SqsError::new(
            ErrorKind::ReceiptHandleIsInvalid,
            "The input receipt handle \"\" is not a valid receipt handle.",
        ))
    } else {
        Ok(handle.to_string())
    }
}

fn visibility(t: i64) -> Result<u32, SqsError> {
    check_range(
        "VisibilityTimeout",
        t,
        0,
        MAX_VISIBILITY_TIMEOUT,
        "Must be between 0 and 43200, if provided.",
    )
}

fn label(o: &Obj<'_>) -> Result<String, SqsError> {
    let label = o.str_req("Label")?;
    let ok = !label.is_empty()
        && label.len() <= MAX_LABEL_LEN
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(SqsError::invalid_value(
            "Label",
            label,
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length.",
        ));
    }
    Ok(label.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(target: &str, body: &str) -> Result<SqsRequest, SqsError> {
        parse(&HttpRequest {
            method: "POST",
            path: "/",
            query: None,
            target: Some(target),
            content_type: Some("application/x-amz-json-1.0"),
            body: body.as_bytes(),
        })
        .map(|(w, r)| {
            assert_eq!(w, Wire::Json);
            r
        })
    }

    fn form(path: &str, body: &str) -> Result<SqsRequest, SqsError> {
        parse(&HttpRequest {
            method: "POST",
            path,
            query: None,
            target: None,
            content_type: Some("application/x-www-form-urlencoded; charset=utf-8"),
            body: body.as_bytes(),
        })
        .map(|(w, r)| {
            assert_eq!(w, Wire::Query);
            r
        })
    }

    #[test]
    fn numbers() {
        for ok in [
            "0", "1", "-1", "+1.5", "1e10", "1.5E-3", "00012", ".5", "5.", "1e126", "1e-128",
        ] {
            assert!(is_valid_number(ok), "{ok}");
        }
        for bad in [
            "", "-", ".", "e5", "1e", "1.2.3", "abc", "1 ", "0x10", "NaN", "inf", "1e127", "1e-129",
        ] {
            assert!(!is_valid_number(bad), "{bad}");
        }
        assert!(is_valid_number(&"9".repeat(38)));
        assert!(!is_valid_number(&"9".repeat(39)));
        assert!(is_valid_number(&format!("{}000", "9".repeat(38))));
    }

    #[test]
    fn xml_chars() {
        assert!(validate_body("hello\t\r\n€😀\u{FFFD}").is_ok());
        for bad in ["\u{0}", "a\u{1F}", "\u{FFFE}", "\u{FFFF}", "\u{8}"] {
            assert_eq!(
                validate_body(bad).unwrap_err().kind,
                ErrorKind::InvalidMessageContents
            );
        }
        assert_eq!(
            validate_body("").unwrap_err().kind,
            ErrorKind::MissingParameter
        );
    }

    #[test]
    fn attribute_names() {
        assert!(validate_attribute_name("a.b-c_D9").is_ok());
        for bad in [
            "", "a b", "AWS.x", "aws.x", "amazon.X", ".a", "a.", "a..b", "é",
        ] {
            assert!(validate_attribute_name(bad).is_err(), "{bad}");
        }
        assert!(validate_attribute_name("awsx").is_ok());
        assert!(validate_attribute_name(&"a".repeat(256)).is_ok());
        assert!(validate_attribute_name(&"a".repeat(257)).is_err());
    }

    #[test]
    fn json_token_counting_ignores_strings() {
        assert_eq!(json_token_count(br#"{"a":"x,y:[{\"","b":[1,2]}"#), 6);
    }

    #[test]
    fn path_gives_the_queue() {
        let r = form("/000000000000/q1", "Action=PurgeQueue").unwrap();
        assert_eq!(
            r,
            SqsRequest::PurgeQueue {
                queue_url: "/000000000000/q1".into()
            }
        );
        assert_eq!(r.queue_name(), Some("q1"));
        let r = form(
            "/0/q1",
            "Action=PurgeQueue&QueueUrl=http%3A%2F%2Fh%2F0%2Fq2",
        )
        .unwrap();
        assert_eq!(r.queue_name(), Some("q2"));
        assert_eq!(
            form("/", "Action=PurgeQueue").unwrap_err().kind,
            ErrorKind::MissingParameter
        );
    }

    #[test]
    fn wrong_json_types() {
        let e = json(
            "AmazonSQS.ReceiveMessage",
            r#"{"QueueUrl":"/0/q","MaxNumberOfMessages":"5"}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::SerializationException);
        assert_eq!(e.message, "STRING_VALUE can not be converted to an Integer");
        let e = json("AmazonSQS.DeleteQueue", r#"{"QueueUrl":5}"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::SerializationException);
        let e = json("AmazonSQS.DeleteQueue", r#"[1]"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::SerializationException);
        let e = json("AmazonSQS.DeleteQueue", r#"{"QueueUrl":"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::SerializationException);
        let e = json(
            "AmazonSQS.ReceiveMessage",
            r#"{"QueueUrl":"/0/q","WaitTimeSeconds":1.5}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::SerializationException);
    }

    #[test]
    fn receive_filters() {
        let r = ReceiveMessageRequest {
            message_attribute_names: vec!["foo.*".into(), "bar".into()],
            system_attribute_names: vec!["SentTimestamp".into()],
            ..Default::default()
        };
        assert!(r.wants_message_attribute("foo.x"));
        assert!(!r.wants_message_attribute("foox"));
        assert!(r.wants_message_attribute("bar"));
        assert!(!r.wants_message_attribute("bar.x"));
        assert!(r.wants_system_attribute("SentTimestamp"));
        assert!(!r.wants_system_attribute("SenderId"));
        let all = ReceiveMessageRequest {
            message_attribute_names: vec![".*".into()],
            system_attribute_names: vec!["All".into()],
            ..Default::default()
        };
        assert!(all.wants_message_attribute("anything"));
        assert!(all.wants_system_attribute("SenderId"));
    }
}
