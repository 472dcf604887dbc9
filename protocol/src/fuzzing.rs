//! The bodies of the `protocol_decode` and `sqs_request` fuzz targets, kept in the crate
//! so that `fuzz/` (cargo-fuzz) and the plain test over the seed corpora
//! (`tests/fuzz_corpus.rs`) run the same code.
//!
//! Promises checked by [`fuzz_decode`]: whatever the bytes, decoding never panics; a frame
//! re-encodes to the bytes it came from; a request or response that decodes re-encodes,
//! and the re-encoded frame decodes to an equal value.
//!
//! Promises checked by [`fuzz_sqs_request`]: whatever the HTTP request, the SQS parser
//! never panics and answers in the wire [`detect_wire`](crate::sqs::detect_wire) names; an
//! error renders to a well-formed reply; a parsed request holds only validated values, and
//! written back as an AWS JSON 1.0 body it parses again to the same request.

use base64::Engine as _;
use serde_json::{json, Map as JsonMap, Value};

use crate::frame::decode_frame;
use crate::message::{Request, Response};
use crate::DEFAULT_MAX_FRAME;

/// Decodes arbitrary bytes as a stream of frames, each as a request and as a response,
/// and checks the round trips (panics only if the codec breaks its promises).
pub fn fuzz_decode(data: &[u8]) {
    // A small maximum too, so the size check is exercised.
    let _ = decode_frame(data, 64);
    let mut rest = data;
    while let Ok(Some((frame, used))) = decode_frame(rest, DEFAULT_MAX_FRAME) {
        assert!(used >= crate::HEADER_LEN && used <= rest.len());
        let mut raw = Vec::new();
        frame.encode(&mut raw).expect("a decoded frame re-encodes");
        assert_eq!(raw, rest[..used], "frame round trip");

        if let Ok(req) = Request::from_frame(&frame) {
            let mut out = Vec::new();
            req.encode(frame.request_id, &mut out)
                .expect("a decoded request re-encodes");
            let (f2, n) = decode_frame(&out, DEFAULT_MAX_FRAME)
                .expect("re-encoded request frame decodes")
                .expect("re-encoded request frame is whole");
            assert_eq!(n, out.len());
            assert_eq!(f2.request_id, frame.request_id);
            let again = Request::from_frame(&f2).expect("re-encoded request decodes");
            assert_eq!(again, req, "request round trip");
        }
        if let Ok(resp) = Response::from_frame(&frame) {
            let mut out = Vec::new();
            resp.encode(frame.request_id, &mut out)
                .expect("a decoded response re-encodes");
            let (f2, n) = decode_frame(&out, DEFAULT_MAX_FRAME)
                .expect("re-encoded response frame decodes")
                .expect("re-encoded response frame is whole");
            assert_eq!(n, out.len());
            let again = Response::from_frame(&f2).expect("re-encoded response decodes");
            assert_eq!(again, resp, "response round trip");
        }
        rest = &rest[used..];
    }
}

// ----- sqs_request ----------------------------------------------------------------------

use crate::sqs::request::{
    is_valid_batch_id, validate_attribute_name, validate_body, MAX_BATCH_ENTRIES,
    MAX_DELAY_SECONDS, MAX_MESSAGE_SIZE, MAX_RECEIVE_MESSAGES, MAX_VISIBILITY_TIMEOUT,
    MAX_WAIT_TIME_SECONDS,
};
use crate::sqs::{self, Action, HttpRequest, SendMessageEntry, SqsRequest, Wire};
use crate::AttributeValue;

/// Parses an arbitrary HTTP request as an SQS API request and checks the parser's
/// promises (panics only if the parser breaks them).
///
/// Input layout: byte 0 chooses the form (bit 0: AWS JSON 1.0 or query; bit 1: query
/// parameters in the query string of a GET instead of a form body; bit 2: no `Action=`
/// / target is added, the bytes speak for themselves; bit 3: POST to a queue path
/// instead of `/`; bit 4: no `Content-Type`); byte 1 chooses the action (past the last
/// one: a name that is no action); the rest is the body (or query string).
pub fn fuzz_sqs_request(data: &[u8]) {
    let (flags, pick, rest) = match data {
        [f, p, rest @ ..] => (*f, *p as usize, rest),
        _ => (0, 0, data),
    };
    let json = flags & 1 == 1;
    let get = !json && flags & 2 != 0;
    let raw = flags & 4 != 0;
    let path = if flags & 8 != 0 {
        "/000000000000/fuzz-q"
    } else {
        "/"
    };
    let name = Action::ALL
        .get(pick % (Action::ALL.len() + 1))
        .map_or("NoSuchAction", |a| a.name());
    let target = format!("{}{name}", sqs::TARGET_PREFIX);
    let mut body = Vec::new();
    if !json && !raw {
        body.extend_from_slice(b"Action=");
        body.extend_from_slice(name.as_bytes());
        body.push(b'&');
    }
    body.extend_from_slice(rest);
    let query_text;
    let req = if get {
        query_text = String::from_utf8_lossy(&body).into_owned();
        HttpRequest {
            method: "GET",
            path,
            query: Some(&query_text),
            target: None,
            content_type: None,
            body: &[],
        }
    } else {
        HttpRequest {
            method: "POST",
            path,
            query: None,
            target: (json && !raw).then_some(target.as_str()),
            content_type: (flags & 16 == 0).then_some(if json {
                sqs::JSON_CONTENT_TYPE
            } else {
                "application/x-www-form-urlencoded; charset=utf-8"
            }),
            body: &body,
        }
    };
    check_sqs(&req);
}

/// Parses `req` and checks the result.
fn check_sqs(req: &HttpRequest<'_>) {
    let wire = sqs::detect_wire(req);
    match sqs::parse(req) {
        Err(e) => {
            let reply = sqs::render_error(wire, &e, "fuzz-request");
            assert!(reply.status >= 400, "an error with status {}", reply.status);
            if e.kind == sqs::ErrorKind::UnknownOperation {
                assert_eq!(reply.body, sqs::error::UNKNOWN_OPERATION_BODY);
            } else if wire == Wire::Json {
                serde_json::from_slice::<Value>(&reply.body).expect("JSON error body parses");
            } else {
                assert!(reply.body.starts_with(b"<?xml"), "XML error body");
            }
        }
        Ok((w, parsed)) => {
            assert_eq!(w, wire, "parse and detect_wire disagree");
            if let Some(t) = req.target.and_then(|t| t.strip_prefix(sqs::TARGET_PREFIX)) {
                assert_eq!(parsed.action().name(), t, "action differs from the target");
            }
            let _ = parsed.queue_name();
            check_valid(&parsed);
            if let Some(body) = to_json(&parsed) {
                let target = format!("{}{}", sqs::TARGET_PREFIX, parsed.action().name());
                let text = serde_json::to_vec(&body).expect("JSON renders");
                let again = sqs::parse(&HttpRequest {
                    method: "POST",
                    path: "/",
                    query: None,
                    target: Some(&target),
                    content_type: Some(sqs::JSON_CONTENT_TYPE),
                    body: &text,
                });
                match again {
                    Ok((Wire::Json, again)) => assert_eq!(again, parsed, "JSON round trip"),
                    other => panic!(
                        "{parsed:?} written as {} parses to {other:?}",
                        String::from_utf8_lossy(&text)
                    ),
                }
            }
        }
    }
}

/// A validated send entry holds only what SQS accepts.
fn check_entry(m: &SendMessageEntry) {
    validate_body(&m.body).expect("a parsed body is valid");
    assert!(m.size() <= MAX_MESSAGE_SIZE, "message over the size limit");
    assert!(m.delay_seconds.is_none_or(|d| d <= MAX_DELAY_SECONDS));
    assert!(m.message_attributes.len() <= sqs::request::MAX_MESSAGE_ATTRIBUTES);
    for a in &m.message_attributes {
        validate_attribute_name(&a.name).expect("a parsed attribute name is valid");
        match &a.value {
            AttributeValue::String(s) => {
                assert!(!s.is_empty() && !a.data_type.starts_with("Binary"));
            }
            AttributeValue::Binary(b) => {
                assert!(!b.is_empty() && a.data_type.starts_with("Binary"));
            }
        }
    }
    for id in [&m.message_group_id, &m.message_deduplication_id]
        .into_iter()
        .flatten()
    {
        assert!(crate::limits::is_valid_message_id(id), "invalid id {id:?}");
    }
}

/// Batch structure: 1 to `MAX_BATCH_ENTRIES` entries with distinct valid ids.
fn check_ids<'a>(ids: impl Iterator<Item = &'a String>) {
    let ids: Vec<&String> = ids.collect();
    assert!(
        (1..=MAX_BATCH_ENTRIES).contains(&ids.len()),
        "batch of {}",
        ids.len()
    );
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "repeated batch ids");
    assert!(ids.iter().all(|id| is_valid_batch_id(id)));
}

fn check_valid(r: &SqsRequest) {
    if let Some(u) = r.queue_url() {
        assert!(!u.is_empty(), "empty queue URL");
    }
    match r {
        SqsRequest::CreateQueue { queue_name, .. } => {
            assert!(crate::is_valid_queue_name(queue_name));
        }
        SqsRequest::SendMessage { message, .. } => check_entry(message),
        SqsRequest::SendMessageBatch {
            entries, fifo_ids, ..
        } => {
            check_ids(entries.iter().map(|e| &e.id));
            assert_eq!(fifo_ids.len(), entries.len(), "FIFO ids per entry");
            for (e, ids) in entries.iter().zip(fifo_ids) {
                if let Ok(m) = &e.result {
                    check_entry(m);
                    assert_eq!(ids.group_id, m.message_group_id.is_some());
                    assert_eq!(ids.dedup_id, m.message_deduplication_id.is_some());
                }
            }
            let total: usize = entries
                .iter()
                .flat_map(|e| &e.result)
                .map(SendMessageEntry::size)
                .sum();
            assert!(total <= MAX_MESSAGE_SIZE, "batch over the size limit");
        }
        SqsRequest::DeleteMessageBatch { entries, .. } => {
            check_ids(entries.iter().map(|e| &e.id));
            assert!(entries
                .iter()
                .flat_map(|e| &e.result)
                .all(|h| !h.is_empty()));
        }
        SqsRequest::ChangeMessageVisibilityBatch { entries, .. } => {
            check_ids(entries.iter().map(|e| &e.id));
            for c in entries.iter().flat_map(|e| &e.result) {
                assert!(!c.receipt_handle.is_empty());
                assert!(c
                    .visibility_timeout
                    .is_none_or(|t| t <= MAX_VISIBILITY_TIMEOUT));
            }
        }
        SqsRequest::ReceiveMessage(m) => {
            assert!(m
                .max_number_of_messages
                .is_none_or(|n| (1..=MAX_RECEIVE_MESSAGES).contains(&n)));
            assert!(m
                .visibility_timeout
                .is_none_or(|t| t <= MAX_VISIBILITY_TIMEOUT));
            assert!(m
                .wait_time_seconds
                .is_none_or(|t| t <= MAX_WAIT_TIME_SECONDS));
        }
        SqsRequest::DeleteMessage { receipt_handle, .. } => assert!(!receipt_handle.is_empty()),
        SqsRequest::ChangeMessageVisibility {
            receipt_handle,
            visibility_timeout,
            ..
        } => assert!(!receipt_handle.is_empty() && *visibility_timeout <= MAX_VISIBILITY_TIMEOUT),
        _ => {}
    }
}

fn str_map(m: &sqs::AttrMap) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn attrs_json(attrs: &[crate::MessageAttribute<'_>]) -> Value {
    let mut out = JsonMap::new();
    for a in attrs {
        let value = match &a.value {
            AttributeValue::String(s) => json!({ "DataType": a.data_type, "StringValue": s }),
            AttributeValue::Binary(b) => json!({
                "DataType": a.data_type,
                "BinaryValue": base64::engine::general_purpose::STANDARD.encode(b),
            }),
        };
        out.insert(a.name.to_string(), value);
    }
    Value::Object(out)
}

/// The members of a send entry, added to `o`.
fn send_json(o: &mut JsonMap<String, Value>, m: &SendMessageEntry) {
    o.insert("MessageBody".into(), json!(m.body));
    let mut opt = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            o.insert(k.into(), v);
        }
    };
    opt("DelaySeconds", m.delay_seconds.map(|d| json!(d)));
    opt(
        "MessageGroupId",
        m.message_group_id.as_ref().map(|v| json!(v)),
    );
    opt(
        "MessageDeduplicationId",
        m.message_deduplication_id.as_ref().map(|v| json!(v)),
    );
    o.insert(
        "MessageAttributes".into(),
        attrs_json(&m.message_attributes),
    );
    o.insert(
        "MessageSystemAttributes".into(),
        attrs_json(&m.message_system_attributes),
    );
}

/// Writes a parsed request back as an AWS JSON 1.0 body (None when a batch entry holds
/// an error, which has no request form).
fn to_json(r: &SqsRequest) -> Option<Value> {
    let mut o = JsonMap::new();
    let mut set = |k: &str, v: Value| {
        o.insert(k.to_string(), v);
    };
    let opt = |v: &Option<String>| v.as_ref().map_or(Value::Null, |s| json!(s));
    let opt_n = |v: &Option<u32>| v.map_or(Value::Null, |n| json!(n));
    if let Some(u) = r.queue_url() {
        set("QueueUrl", json!(u));
    }
    match r {
        SqsRequest::CreateQueue {
            queue_name,
            attributes,
            tags,
        } => {
            set("QueueName", json!(queue_name));
            set("Attributes", str_map(attributes));
            set("tags", str_map(tags));
        }
        SqsRequest::DeleteQueue { .. }
        | SqsRequest::PurgeQueue { .. }
        | SqsRequest::ListQueueTags { .. } => {}
        SqsRequest::GetQueueUrl {
            queue_name,
            queue_owner_aws_account_id,
        } => {
            set("QueueName", json!(queue_name));
            set("QueueOwnerAWSAccountId", opt(queue_owner_aws_account_id));
        }
        SqsRequest::ListQueues {
            queue_name_prefix,
            max_results,
            next_token,
        } => {
            set("QueueNamePrefix", opt(queue_name_prefix));
            set("MaxResults", opt_n(max_results));
            set("NextToken", opt(next_token));
        }
        SqsRequest::GetQueueAttributes {
            attribute_names, ..
        } => set("AttributeNames", json!(attribute_names)),
        SqsRequest::SetQueueAttributes { attributes, .. } => set("Attributes", str_map(attributes)),
        SqsRequest::SendMessage { message, .. } => send_json(&mut o, message),
        SqsRequest::SendMessageBatch { .. }
        | SqsRequest::DeleteMessageBatch { .. }
        | SqsRequest::ChangeMessageVisibilityBatch { .. } => set("Entries", entries_json(r)?),
        SqsRequest::ReceiveMessage(m) => {
            set("MaxNumberOfMessages", opt_n(&m.max_number_of_messages));
            set("VisibilityTimeout", opt_n(&m.visibility_timeout));
            set("WaitTimeSeconds", opt_n(&m.wait_time_seconds));
            set(
                "MessageSystemAttributeNames",
                json!(m.system_attribute_names),
            );
            set("MessageAttributeNames", json!(m.message_attribute_names));
            set(
                "ReceiveRequestAttemptId",
                opt(&m.receive_request_attempt_id),
            );
        }
        SqsRequest::DeleteMessage { receipt_handle, .. } => {
            set("ReceiptHandle", json!(receipt_handle));
        }
        SqsRequest::ChangeMessageVisibility {
            receipt_handle,
            visibility_timeout,
            ..
        } => {
            set("ReceiptHandle", json!(receipt_handle));
            set("VisibilityTimeout", json!(visibility_timeout));
        }
        SqsRequest::TagQueue { tags, .. } => set("Tags", str_map(tags)),
        SqsRequest::UntagQueue { tag_keys, .. } => set("TagKeys", json!(tag_keys)),
        SqsRequest::AddPermission {
            label,
            aws_account_ids,
            actions,
            ..
        } => {
            set("Label", json!(label));
            set("AWSAccountIds", json!(aws_account_ids));
            set("Actions", json!(actions));
        }
        SqsRequest::RemovePermission { label, .. } => set("Label", json!(label)),
        SqsRequest::ListDeadLetterSourceQueues {
            max_results,
            next_token,
            ..
        } => {
            set("MaxResults", opt_n(max_results));
            set("NextToken", opt(next_token));
        }
        SqsRequest::StartMessageMoveTask {
            source_arn,
            destination_arn,
            max_number_of_messages_per_second,
        } => {
            set("SourceArn", json!(source_arn));
            set("DestinationArn", opt(destination_arn));
            set(
                "MaxNumberOfMessagesPerSecond",
                opt_n(max_number_of_messages_per_second),
            );
        }
        SqsRequest::ListMessageMoveTasks {
            source_arn,
            max_results,
        } => {
            set("SourceArn", json!(source_arn));
            set("MaxResults", opt_n(max_results));
        }
        SqsRequest::CancelMessageMoveTask { task_handle } => set("TaskHandle", json!(task_handle)),
    }
    Some(Value::Object(o))
}

/// A batch request's `Entries` (None when an entry holds an error, or `r` is no batch).
fn entries_json(r: &SqsRequest) -> Option<Value> {
    let opt_n = |v: &Option<u32>| v.map_or(Value::Null, |n| json!(n));
    Some(match r {
        SqsRequest::SendMessageBatch { entries, .. } => {
            let mut list = Vec::new();
            for e in entries {
                let mut eo = JsonMap::new();
                eo.insert("Id".into(), json!(e.id));
                send_json(&mut eo, e.result.as_ref().ok()?);
                list.push(Value::Object(eo));
            }
            Value::Array(list)
        }
        SqsRequest::DeleteMessageBatch { entries, .. } => {
            let mut list = Vec::new();
            for e in entries {
                list.push(json!({ "Id": e.id, "ReceiptHandle": e.result.as_ref().ok()? }));
            }
            Value::Array(list)
        }
        SqsRequest::ChangeMessageVisibilityBatch { entries, .. } => {
            let mut list = Vec::new();
            for e in entries {
                let c = e.result.as_ref().ok()?;
                list.push(json!({
                    "Id": e.id,
                    "ReceiptHandle": c.receipt_handle,
                    "VisibilityTimeout": opt_n(&c.visibility_timeout),
                }));
            }
            Value::Array(list)
        }
        _ => return None,
    })
}
