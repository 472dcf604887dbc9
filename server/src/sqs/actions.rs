//! SQS actions: one parsed SQS request in, binary-protocol requests into the shards, one
//! SQS response out.
//!
//! The codec (`spool_protocol::sqs`) has already checked everything that needs no queue
//! state (types, ranges, batch shape, message characters, attribute rules); the engine
//! checks the rest (queue attributes, sizes against the queue's MaximumMessageSize, FIFO
//! rules, receipt handles). This file only translates, plus the few SQS behaviours that
//! have no binary-protocol operation of their own: AddPermission / RemovePermission edit
//! the queue's `Policy` attribute, message move tasks run in [`super::move_tasks`], and
//! MD5 digests and system attributes are computed here from what the shards return.
//!
//! Promises: every request gets exactly one reply, an SQS response or an AWS-shaped error
//! in the wire form the client spoke; a batch's per-entry failures are reported in its
//! `Failed` list in entry order, never as a whole-call error.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::http::request::Parts;
use spool_protocol::message::{Message, MessageAttribute, SendEntry, VisibilityEntry};
use spool_protocol::sqs::md5::{
    md5_of_body, md5_of_message_attributes, md5_of_message_system_attributes,
};
use spool_protocol::sqs::request::MAX_HTTP_BODY;
use spool_protocol::sqs::{
    self, render, render_error, BatchEntry, BatchFailure, ErrorKind, HttpReply, MoveTask,
    ReceiveMessageRequest, ReceivedSqsMessage, SendMessageBatchResultEntry, SendMessageEntry,
    SendMessageResult, SqsError, SqsRequest, SqsResponse,
};
use spool_protocol::{Request, Response};

use super::host::LocalCalls;
use super::move_tasks::{MoveError, NewTask, TaskView};
use super::Gateway;
use crate::errors::sqs_error;
use crate::handle;

/// A rendered reply and what it was, for the metrics.
pub struct Reply {
    pub action: &'static str,
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    fn from_http(action: &'static str, r: HttpReply) -> Reply {
        Reply {
            action,
            status: r.status,
            content_type: r.content_type,
            headers: r.headers,
            body: r.body,
        }
    }

    pub fn into_response(self) -> hyper::Response<Full<Bytes>> {
        let mut r = hyper::Response::new(Full::new(Bytes::from(self.body)));
        *r.status_mut() = hyper::StatusCode::from_u16(self.status)
            .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
        let h = r.headers_mut();
        h.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(self.content_type),
        );
        for (k, v) in self.headers {
            if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        }
        r
    }
}

type Result<T> = std::result::Result<T, SqsError>;

/// Parses, runs and renders one SQS request.
pub async fn handle(gw: &Arc<Gateway>, calls: &LocalCalls, parts: &Parts, body: &[u8]) -> Reply {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let req = sqs::HttpRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        target: header("x-amz-target"),
        content_type: header("content-type"),
        body,
    };
    let request_id = request_id();
    let wire = sqs::detect_wire(&req);
    let (wire, parsed) = match sqs::parse(&req) {
        Ok(x) => x,
        Err(e) => return Reply::from_http("Invalid", render_error(wire, &e, &request_id)),
    };
    let action = parsed.action();
    if let Err(e) = check_signature(header("authorization")) {
        return Reply::from_http(action.name(), render_error(wire, &e, &request_id));
    }
    let ctx = Ctx {
        gw,
        calls,
        host: header("host")
            .map(str::to_string)
            .or_else(|| gw.sqs_addr.map(|a| a.to_string()))
            .unwrap_or_default(),
    };
    let reply = match ctx.run(parsed).await {
        Ok(resp) => render(wire, action, &resp, &request_id),
        Err(e) => render_error(wire, &e, &request_id),
    };
    Reply::from_http(action.name(), reply)
}

/// The reply to a request whose body is over the limit (it was not read).
pub fn too_large(_gw: &Gateway, parts: &Parts) -> Reply {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let req = sqs::HttpRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        target: header("x-amz-target"),
        content_type: header("content-type"),
        body: &[],
    };
    let e = SqsError::new(
        ErrorKind::InvalidParameterValue,
        format!("The request body must be at most {MAX_HTTP_BODY} bytes."),
    );
    let wire = sqs::detect_wire(&req);
    Reply::from_http("Invalid", render_error(wire, &e, &request_id()))
}

/// Any credentials are accepted, but a request that claims a SigV4 signature must carry
/// a well-formed one (verifying it against configured keys is not done yet).
fn check_signature(auth: Option<&str>) -> Result<()> {
    let Some(auth) = auth else { return Ok(()) };
    let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(SqsError::new(
            ErrorKind::InvalidSecurity,
            "Only AWS Signature Version 4 (AWS4-HMAC-SHA256) is supported.",
        ));
    };
    let has = |k: &str| rest.split(',').any(|p| p.trim().starts_with(k));
    if has("Credential=") && has("SignedHeaders=") && has("Signature=") {
        Ok(())
    } else {
        Err(SqsError::new(
            ErrorKind::InvalidSecurity,
            "Authorization header requires Credential, SignedHeaders and Signature.",
        ))
    }
}

/// A UUID-shaped request id (unique per process, not secret).
fn request_id() -> String {
    // Unique per thread (its index in the high bits) without a counter every shard's
    // thread bumps on every request.
    static THREADS: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static NEXT: std::cell::Cell<u64> =
            std::cell::Cell::new(THREADS.fetch_add(1, Ordering::Relaxed) << 48);
    }
    let n = NEXT.with(|c| {
        let n = c.get();
        c.set(n + 1);
        n
    });
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&t.to_be_bytes());
    b[8..].copy_from_slice(&n.to_be_bytes());
    uuid(&b)
}

/// 16 bytes as `8-4-4-4-12` lower-case hex, the form of SQS message ids.
#[inline]
fn uuid(b: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[(x >> 4) as usize] as char);
        s.push(HEX[(x & 15) as usize] as char);
    }
    s
}

/// One request's context: the gateway and the host the client addressed (queue URLs in
/// replies use it, so they work whatever name the client reached us by).
struct Ctx<'a> {
    gw: &'a Arc<Gateway>,
    /// The way into the shards: this shard's routing.
    calls: &'a LocalCalls,
    host: String,
}

impl Ctx<'_> {
    fn url(&self, name: &str) -> String {
        format!("http://{}/{}/{}", self.host, self.gw.cfg.account_id, name)
    }

    fn arn(&self, name: &str) -> String {
        self.gw.queue_arn(name)
    }

    /// The queue a URL names; a URL of another account names no queue of ours.
    fn queue(&self, url: &str) -> Result<String> {
        match sqs::url::queue_account_and_name(url) {
            Some((acct, name)) if acct == self.gw.cfg.account_id => Ok(name.to_string()),
            _ => Err(queue_does_not_exist()),
        }
    }

    /// The queue an ARN names (ResourceNotFoundException otherwise, as move tasks do).
    fn queue_of_arn(&self, arn: &str) -> Result<String> {
        match sqs::url::queue_arn_parts(arn) {
            Some((region, acct, name))
                if region == self.gw.cfg.region && acct == self.gw.cfg.account_id =>
            {
                Ok(name.to_string())
            }
            _ => Err(SqsError::new(
                ErrorKind::ResourceNotFoundException,
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            )),
        }
    }

    async fn call(&self, req: Request<'_>) -> Result<Response<'static>> {
        match self.calls.call(req).await {
            Ok(Response::Error(e)) => Err(sqs_error(&e)),
            Ok(r) => Ok(r),
            Err(e) => Err(SqsError::new(ErrorKind::ServiceUnavailable, e.to_string())),
        }
    }

    async fn run(&self, req: SqsRequest) -> Result<SqsResponse> {
        match req {
            SqsRequest::CreateQueue {
                queue_name,
                attributes,
                tags,
            } => {
                let req = Request::CreateQueue {
                    name: queue_name.as_str().into(),
                    attributes: wire_map(&attributes),
                    tags: wire_map(&tags),
                };
                expect(self.call(req).await?, |r| {
                    matches!(r, Response::QueueCreated { .. })
                })?;
                Ok(SqsResponse::CreateQueue {
                    queue_url: self.url(&queue_name),
                })
            }
            SqsRequest::DeleteQueue { queue_url } => {
                let name = self.queue(&queue_url)?;
                let r = self
                    .call(Request::DeleteQueue { name: name.into() })
                    .await?;
                expect(r, |r| matches!(r, Response::QueueDeleted))?;
                Ok(SqsResponse::Empty)
            }
            SqsRequest::GetQueueUrl {
                queue_name,
                queue_owner_aws_account_id,
            } => {
                if queue_owner_aws_account_id.is_some_and(|a| a != self.gw.cfg.account_id) {
                    return Err(queue_does_not_exist());
                }
                let r = self
                    .call(Request::GetQueue {
                        name: queue_name.as_str().into(),
                    })
                    .await?;
                expect(r, |r| matches!(r, Response::Queue { .. }))?;
                Ok(SqsResponse::GetQueueUrl {
                    queue_url: self.url(&queue_name),
                })
            }
            SqsRequest::ListQueues {
                queue_name_prefix,
                max_results,
                next_token,
            } => {
                let r = self
                    .call(Request::ListQueues {
                        prefix: queue_name_prefix.unwrap_or_default().into(),
                        max_results: max_results.unwrap_or(0).min(1000) as u16,
                        next_token: next_token.map(Into::into),
                    })
                    .await?;
                let Response::Queues { names, next_token } = r else {
                    return Err(unexpected(&r));
                };
                Ok(SqsResponse::ListQueues {
                    queue_urls: names.iter().map(|n| self.url(n)).collect(),
                    // SQS pages only when MaxResults was given.
                    next_token: next_token
                        .filter(|_| max_results.is_some())
                        .map(|t| t.into_owned()),
                })
            }
            SqsRequest::GetQueueAttributes {
                queue_url,
                attribute_names,
            } => {
                let name = self.queue(&queue_url)?;
                // Without names SQS returns no attributes (but the queue must exist).
                let names = if attribute_names.is_empty() {
                    vec!["QueueArn".into()]
                } else {
                    attribute_names.iter().map(|n| n.as_str().into()).collect()
                };
                let r = self
                    .call(Request::GetQueueAttributes {
                        name: name.into(),
                        attribute_names: names,
                    })
                    .await?;
                let Response::QueueAttributes { attributes } = r else {
                    return Err(unexpected(&r));
                };
                let attributes = if attribute_names.is_empty() {
                    BTreeMap::new()
                } else {
                    attributes
                        .into_iter()
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                };
                Ok(SqsResponse::GetQueueAttributes { attributes })
            }
            SqsRequest::SetQueueAttributes {
                queue_url,
                attributes,
            } => {
                let name = self.queue(&queue_url)?;
                let r = self
                    .call(Request::SetQueueAttributes {
                        name: name.into(),
                        attributes: wire_map(&attributes),
                    })
                    .await?;
                expect(r, |r| matches!(r, Response::QueueAttributesSet))?;
                Ok(SqsResponse::Empty)
            }
            SqsRequest::PurgeQueue { queue_url } => {
                let name = self.queue(&queue_url)?;
                let r = self.call(Request::PurgeQueue { name: name.into() }).await?;
                expect(r, |r| matches!(r, Response::Purged))?;
                Ok(SqsResponse::Empty)
            }
            SqsRequest::SendMessage { queue_url, message } => {
                let name = self.queue(&queue_url)?;
                let mut results = self.send(&name, vec![message]).await?;
                match results.pop() {
                    Some(Ok(r)) => Ok(SqsResponse::SendMessage(r)),
                    Some(Err(e)) => Err(e),
                    None => Err(internal("no result for the message")),
                }
            }
            SqsRequest::SendMessageBatch { queue_url, entries } => {
                let name = self.queue(&queue_url)?;
                let mut failed = Vec::new();
                let mut ids = Vec::new();
                let mut good = Vec::new();
                for e in entries {
                    match e.result {
                        Ok(m) => {
                            ids.push(e.id);
                            good.push(m);
                        }
                        Err(err) => failed.push(BatchFailure::from_error(e.id, &err)),
                    }
                }
                let mut successful = Vec::new();
                if !good.is_empty() {
                    let results = self.send(&name, good).await?;
                    for (id, r) in ids.into_iter().zip(results) {
                        match r {
                            Ok(result) => {
                                successful.push(SendMessageBatchResultEntry { id, result })
                            }
                            Err(e) => failed.push(BatchFailure::from_error(id, &e)),
                        }
                    }
                }
                Ok(SqsResponse::SendMessageBatch { successful, failed })
            }
            SqsRequest::ReceiveMessage(r) => self.receive(r).await,
            SqsRequest::DeleteMessage {
                queue_url,
                receipt_handle,
            } => {
                let name = self.queue(&queue_url)?;
                let mut results = self.delete(&name, vec![receipt_handle]).await?;
                results
                    .pop()
                    .unwrap_or_else(|| Err(internal("no result for the handle")))?;
                Ok(SqsResponse::Empty)
            }
            SqsRequest::DeleteMessageBatch { queue_url, entries } => {
                let name = self.queue(&queue_url)?;
                let (ids, handles, mut failed) = split_batch(entries);
                let mut successful = Vec::new();
                if !handles.is_empty() {
                    let results = self.delete(&name, handles).await?;
                    collect(ids, results, &mut successful, &mut failed);
                }
                Ok(SqsResponse::DeleteMessageBatch { successful, failed })
            }
            SqsRequest::ChangeMessageVisibility {
                queue_url,
                receipt_handle,
                visibility_timeout,
            } => {
                let name = self.queue(&queue_url)?;
                let mut results = self
                    .change_visibility(&name, vec![(receipt_handle, visibility_timeout)])
                    .await?;
                results
                    .pop()
                    .unwrap_or_else(|| Err(internal("no result for the handle")))?;
                Ok(SqsResponse::Empty)
            }
            SqsRequest::ChangeMessageVisibilityBatch { queue_url, entries } => {
                let name = self.queue(&queue_url)?;
                let (ids, changes, mut failed) = split_batch(entries);
                let changes = changes
                    .into_iter()
                    .map(|c| (c.receipt_handle, c.visibility_timeout.unwrap_or(0)))
                    .collect::<Vec<_>>();
                let mut successful = Vec::new();
                if !changes.is_empty() {
                    let results = self.change_visibility(&name, changes).await?;
                    collect(ids, results, &mut successful, &mut failed);
                }
                Ok(SqsResponse::ChangeMessageVisibilityBatch { successful, failed })
            }
            SqsRequest::TagQueue { queue_url, tags } => {
                let name = self.queue(&queue_url)?;
                let r = self
                    .call(Request::TagQueue {
                        name: name.into(),
                        tags: wire_map(&tags),
                    })
                    .await?;
                expect(r, |r| matches!(r, Response::QueueTagged))?;
                Ok(SqsResponse::Empty)
            }
            SqsRequest::UntagQueue {
                queue_url,
                tag_keys,
            } => {
                let name = self.queue(&queue_url)?;
                let r = self
                    .call(Request::UntagQueue {
                        name: name.into(),
                        keys: tag_keys.iter().map(|k| k.as_str().into()).collect(),
                    })
                    .await?;
                expect(r, |r| matches!(r, Response::QueueUntagged))?;
                Ok(SqsResponse::Empty)
            }
            SqsRequest::ListQueueTags { queue_url } => {
                let name = self.queue(&queue_url)?;
                let r = self
                    .call(Request::ListQueueTags { name: name.into() })
                    .await?;
                let Response::QueueTags { tags } = r else {
                    return Err(unexpected(&r));
                };
                Ok(SqsResponse::ListQueueTags {
                    tags: tags
                        .into_iter()
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect(),
                })
            }
            SqsRequest::AddPermission {
                queue_url,
                label,
                aws_account_ids,
                actions,
            } => {
                let name = self.queue(&queue_url)?;
                let mut policy = self.policy(&name).await?;
                let statements = statements(&mut policy);
                if statements.iter().any(|s| s["Sid"] == label.as_str()) {
                    return Err(SqsError::invalid_value("Label", &label, "Already exists."));
                }
                let principals: Vec<String> = aws_account_ids
                    .iter()
                    .map(|a| format!("arn:aws:iam::{a}:root"))
                    .collect();
                let actions: Vec<String> = actions.iter().map(|a| format!("SQS:{a}")).collect();
                statements.push(serde_json::json!({
                    "Sid": label,
                    "Effect": "Allow",
                    "Principal": { "AWS": principals },
                    "Action": actions,
                    "Resource": self.arn(&name),
                }));
                self.set_policy(&name, &policy).await?;
                Ok(SqsResponse::Empty)
            }
            SqsRequest::RemovePermission { queue_url, label } => {
                let name = self.queue(&queue_url)?;
                let mut policy = self.policy(&name).await?;
                let statements = statements(&mut policy);
                let before = statements.len();
                statements.retain(|s| s["Sid"] != label.as_str());
                if statements.len() == before {
                    return Err(SqsError::invalid_value(
                        "Label",
                        &label,
                        "can't find label.",
                    ));
                }
                let empty = statements.is_empty();
                if empty {
                    self.set_policy_text(&name, "").await?;
                } else {
                    self.set_policy(&name, &policy).await?;
                }
                Ok(SqsResponse::Empty)
            }
            SqsRequest::ListDeadLetterSourceQueues {
                queue_url,
                max_results,
                next_token,
            } => {
                let name = self.queue(&queue_url)?;
                let r = self
                    .call(Request::ListDeadLetterSourceQueues {
                        name: name.into(),
                        max_results: max_results.unwrap_or(0).min(1000) as u16,
                        next_token: next_token.map(Into::into),
                    })
                    .await?;
                let Response::DeadLetterSourceQueues { names, next_token } = r else {
                    return Err(unexpected(&r));
                };
                Ok(SqsResponse::ListDeadLetterSourceQueues {
                    queue_urls: names.iter().map(|n| self.url(n)).collect(),
                    next_token: next_token
                        .filter(|_| max_results.is_some())
                        .map(|t| t.into_owned()),
                })
            }
            SqsRequest::StartMessageMoveTask {
                source_arn,
                destination_arn,
                max_number_of_messages_per_second,
            } => {
                self.start_move(
                    source_arn,
                    destination_arn,
                    max_number_of_messages_per_second,
                )
                .await
            }
            SqsRequest::ListMessageMoveTasks {
                source_arn,
                max_results,
            } => {
                let source = self.queue_of_arn(&source_arn)?;
                self.require_queue(&source, &source_arn).await?;
                let max = max_results.unwrap_or(1).clamp(1, 10) as usize;
                Ok(SqsResponse::ListMessageMoveTasks {
                    results: self
                        .gw
                        .moves
                        .list(&source, max)
                        .into_iter()
                        .map(move_task)
                        .collect(),
                })
            }
            SqsRequest::CancelMessageMoveTask { task_handle } => {
                match self.gw.moves.cancel(&task_handle) {
                    Ok(moved) => Ok(SqsResponse::CancelMessageMoveTask {
                        approximate_number_of_messages_moved: moved,
                    }),
                    Err(_) => Err(SqsError::new(
                        ErrorKind::ResourceNotFoundException,
                        "Task does not exist.",
                    )),
                }
            }
        }
    }

    /// Sends messages (one binary Send) and returns one result per message, in order.
    async fn send(
        &self,
        queue: &str,
        msgs: Vec<SendMessageEntry>,
    ) -> Result<Vec<Result<SendMessageResult>>> {
        let md5s: Vec<(String, Option<String>, Option<String>)> = msgs
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
                system_attributes: m.message_system_attributes,
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

    async fn receive(&self, r: ReceiveMessageRequest) -> Result<SqsResponse> {
        let name = self.queue(&r.queue_url)?;
        // Without WaitTimeSeconds the queue's ReceiveMessageWaitTimeSeconds applies.
        let wait_s = match r.wait_time_seconds {
            Some(w) => w,
            None => self
                .attribute(&name, "ReceiveMessageWaitTimeSeconds")
                .await?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        };
        let req = Request::Receive {
            queue: name.as_str().into(),
            max_messages: r.max_number_of_messages.unwrap_or(1),
            visibility_timeout_s: r.visibility_timeout,
            wait_time_ms: wait_s.min(20) * 1000,
            attribute_names: r
                .message_attribute_names
                .iter()
                .map(|n| n.as_str().into())
                .collect(),
            system_attributes: r.wants_system_attribute("AWSTraceHeader"),
        };
        let resp = self.call(req).await?;
        let Response::Received { messages } = resp else {
            return Err(unexpected(&resp));
        };
        Ok(SqsResponse::ReceiveMessage {
            messages: messages.into_iter().map(|m| self.received(&r, m)).collect(),
        })
    }

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
        put("SenderId", self.gw.cfg.account_id.clone());
        put("SentTimestamp", m.sent_ms.to_string());
        put("ApproximateReceiveCount", m.receive_count.to_string());
        put(
            "ApproximateFirstReceiveTimestamp",
            m.first_receive_ms.to_string(),
        );
        if let Some(g) = &m.group_id {
            put("MessageGroupId", g.to_string());
        }
        if let Some(d) = &m.dedup_id {
            put("MessageDeduplicationId", d.to_string());
        }
        if let Some(s) = m.sequence_number {
            put("SequenceNumber", s.to_string());
        }
        if let Some(src) = &m.dead_letter_source {
            put("DeadLetterQueueSourceArn", self.arn(src));
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
            md5_of_body: md5_of_body(body.as_bytes()),
            body,
            attributes,
            message_attributes,
            md5_of_message_attributes,
        }
    }

    async fn delete(&self, queue: &str, handles: Vec<String>) -> Result<Vec<Result<()>>> {
        // Handles the binary protocol cannot even carry are invalid: answer them here.
        let mut out: Vec<Option<Result<()>>> = Vec::with_capacity(handles.len());
        let mut send = Vec::new();
        let mut shown = Vec::new();
        for h in handles {
            match handle::from_text(&h) {
                Some(wire) => {
                    out.push(None);
                    send.push(wire.into());
                    shown.push(h);
                }
                None => out.push(Some(Err(invalid_handle(&h)))),
            }
        }
        if send.is_empty() {
            // Nothing worth asking the shards about, but SQS says QueueDoesNotExist before
            // it looks at a handle: so does the shard when it gets the request.
            self.require_exists(queue).await?;
        } else {
            let r = self
                .call(Request::Delete {
                    queue: queue.into(),
                    receipt_handles: send,
                })
                .await?;
            let Response::Deleted { results } = r else {
                return Err(unexpected(&r));
            };
            fill(&mut out, results, &shown);
        }
        Ok(out
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(internal("no result"))))
            .collect())
    }

    async fn change_visibility(
        &self,
        queue: &str,
        changes: Vec<(String, u32)>,
    ) -> Result<Vec<Result<()>>> {
        let mut out: Vec<Option<Result<()>>> = Vec::with_capacity(changes.len());
        let mut send = Vec::new();
        let mut shown = Vec::new();
        for (h, t) in changes {
            match handle::from_text(&h) {
                Some(wire) => {
                    out.push(None);
                    send.push(VisibilityEntry {
                        receipt_handle: wire.into(),
                        timeout_s: t,
                    });
                    shown.push(h);
                }
                None => out.push(Some(Err(invalid_handle(&h)))),
            }
        }
        if send.is_empty() {
            self.require_exists(queue).await?;
        } else {
            let r = self
                .call(Request::ChangeVisibility {
                    queue: queue.into(),
                    entries: send,
                })
                .await?;
            let Response::VisibilityChanged { results } = r else {
                return Err(unexpected(&r));
            };
            fill(&mut out, results, &shown);
        }
        Ok(out
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(internal("no result"))))
            .collect())
    }

    /// One queue attribute, or None if the queue does not report it.
    async fn attribute(&self, queue: &str, name: &str) -> Result<Option<String>> {
        let r = self
            .call(Request::GetQueueAttributes {
                name: queue.into(),
                attribute_names: vec![name.into()],
            })
            .await?;
        let Response::QueueAttributes { attributes } = r else {
            return Err(unexpected(&r));
        };
        Ok(attributes
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned()))
    }

    /// QueueDoesNotExist unless queue `name` exists.
    async fn require_exists(&self, name: &str) -> Result<()> {
        let r = self.call(Request::GetQueue { name: name.into() }).await?;
        expect(r, |r| matches!(r, Response::Queue { .. }))
    }

    async fn require_queue(&self, name: &str, arn: &str) -> Result<()> {
        let r = self
            .calls
            .call(Request::GetQueue { name: name.into() })
            .await;
        match r {
            Ok(Response::Queue { .. }) => Ok(()),
            _ => Err(SqsError::new(
                ErrorKind::ResourceNotFoundException,
                format!("The resource that you specified ({arn}) doesn't exist."),
            )),
        }
    }

    /// The queue's access policy as JSON (an empty policy if none is set).
    async fn policy(&self, queue: &str) -> Result<serde_json::Value> {
        let text = self.attribute(queue, "Policy").await?.unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(serde_json::json!({
                "Version": "2012-10-17",
                "Id": format!("{}/SQSDefaultPolicy", self.arn(queue)),
                "Statement": [],
            }));
        }
        serde_json::from_str(&text).map_err(|_| {
            SqsError::new(
                ErrorKind::InvalidAttributeValue,
                "The queue's Policy attribute is not valid JSON.",
            )
        })
    }

    async fn set_policy(&self, queue: &str, policy: &serde_json::Value) -> Result<()> {
        self.set_policy_text(queue, &policy.to_string()).await
    }

    async fn set_policy_text(&self, queue: &str, text: &str) -> Result<()> {
        let mut attrs = BTreeMap::new();
        attrs.insert("Policy".to_string(), text.to_string());
        let r = self
            .call(Request::SetQueueAttributes {
                name: queue.into(),
                attributes: wire_map(&attrs),
            })
            .await?;
        expect(r, |r| matches!(r, Response::QueueAttributesSet))
    }

    async fn start_move(
        &self,
        source_arn: String,
        destination_arn: Option<String>,
        rate: Option<u32>,
    ) -> Result<SqsResponse> {
        let source = self.queue_of_arn(&source_arn)?;
        self.require_queue(&source, &source_arn).await?;
        let destination = match &destination_arn {
            Some(arn) => {
                let d = self.queue_of_arn(arn)?;
                self.require_queue(&d, arn).await?;
                Some(d)
            }
            None => None,
        };
        // The source must be some queue's dead-letter queue.
        let r = self
            .call(Request::ListDeadLetterSourceQueues {
                name: source.as_str().into(),
                max_results: 1,
                next_token: None,
            })
            .await?;
        let is_dlq =
            matches!(&r, Response::DeadLetterSourceQueues { names, .. } if !names.is_empty());
        if !is_dlq {
            return Err(SqsError::new(
                ErrorKind::InvalidParameterValue,
                "Source queue must be configured as a Dead Letter Queue.",
            ));
        }
        let to_move = self
            .attribute(&source, "ApproximateNumberOfMessages")
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let task = NewTask {
            source,
            source_arn,
            destination,
            destination_arn,
            max_per_second: rate,
            to_move,
            now_ms,
        };
        match self.gw.moves.start(self.gw, task) {
            Ok(task_handle) => Ok(SqsResponse::StartMessageMoveTask { task_handle }),
            Err(MoveError::AlreadyRunning) => Err(SqsError::new(
                ErrorKind::InvalidParameterValue,
                "There is already a task running. Only one active task is allowed for a \
                 source queue arn at a given time.",
            )),
            Err(MoveError::NotFound) => Err(internal("move task vanished")),
        }
    }
}

fn move_task(t: TaskView) -> MoveTask {
    MoveTask {
        task_handle: t.handle,
        status: t.status.as_str().to_string(),
        source_arn: t.source_arn,
        destination_arn: t.destination_arn,
        max_number_of_messages_per_second: t.max_per_second,
        approximate_number_of_messages_moved: t.moved,
        approximate_number_of_messages_to_move: Some(t.to_move),
        failure_reason: t.failure_reason,
        started_timestamp: t.started_ms,
    }
}

/// The `Statement` array of a policy, created if missing.
fn statements(policy: &mut serde_json::Value) -> &mut Vec<serde_json::Value> {
    if !policy.is_object() {
        *policy = serde_json::json!({});
    }
    let obj = policy.as_object_mut().expect("made an object above");
    let st = obj
        .entry("Statement")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    if !st.is_array() {
        // A single statement object is legal IAM JSON: make it a list of one.
        let one = std::mem::take(st);
        *st = serde_json::Value::Array(vec![one]);
    }
    st.as_array_mut().expect("made an array above")
}

/// Splits a batch into (ids, good entries, failures of the bad ones).
fn split_batch<T>(entries: Vec<BatchEntry<T>>) -> (Vec<String>, Vec<T>, Vec<BatchFailure>) {
    let mut ids = Vec::new();
    let mut good = Vec::new();
    let mut failed = Vec::new();
    for e in entries {
        match e.result {
            Ok(v) => {
                ids.push(e.id);
                good.push(v);
            }
            Err(err) => failed.push(BatchFailure::from_error(e.id, &err)),
        }
    }
    (ids, good, failed)
}

fn collect(
    ids: Vec<String>,
    results: Vec<Result<()>>,
    successful: &mut Vec<String>,
    failed: &mut Vec<BatchFailure>,
) {
    for (id, r) in ids.into_iter().zip(results) {
        match r {
            Ok(()) => successful.push(id),
            Err(e) => failed.push(BatchFailure::from_error(id, &e)),
        }
    }
}

/// Puts the shard's per-handle results into the slots still open, in order.
fn fill(
    out: &mut [Option<Result<()>>],
    results: Vec<std::result::Result<(), spool_protocol::WireError<'static>>>,
    shown: &[String],
) {
    let mut it = results.into_iter().zip(shown);
    for slot in out.iter_mut().filter(|s| s.is_none()) {
        *slot = Some(match it.next() {
            Some((Ok(()), _)) => Ok(()),
            Some((Err(e), h)) => Err(handle_error(&e, h)),
            None => Err(internal("fewer results than handles")),
        });
    }
}

/// A handle error with the wording SQS uses, which names the handle.
fn handle_error(e: &spool_protocol::WireError<'_>, handle: &str) -> SqsError {
    use spool_protocol::ErrorCode;
    match e.code {
        ErrorCode::ReceiptHandleIsInvalid => invalid_handle(handle),
        ErrorCode::ReceiptHandleExpired => {
            SqsError::invalid_value("ReceiptHandle", handle, "The receipt handle has expired.")
        }
        _ => sqs_error(e),
    }
}

fn invalid_handle(h: &str) -> SqsError {
    let shown: String = h.chars().take(256).collect();
    SqsError::new(
        ErrorKind::ReceiptHandleIsInvalid,
        format!("The input receipt handle \"{shown}\" is not a valid receipt handle."),
    )
}

fn queue_does_not_exist() -> SqsError {
    SqsError::new(
        ErrorKind::QueueDoesNotExist,
        "The specified queue does not exist.",
    )
}

fn internal(what: &str) -> SqsError {
    SqsError::new(ErrorKind::InternalError, format!("internal error: {what}"))
}

fn unexpected(r: &Response<'_>) -> SqsError {
    internal(&format!("unexpected reply opcode {:#04x}", r.opcode()))
}

fn expect(r: Response<'static>, ok: impl Fn(&Response<'static>) -> bool) -> Result<()> {
    if ok(&r) {
        Ok(())
    } else {
        Err(unexpected(&r))
    }
}

fn wire_map(m: &BTreeMap<String, String>) -> spool_protocol::Map<'static> {
    m.iter()
        .map(|(k, v)| (k.clone().into(), v.clone().into()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_8_4_4_4_12_hex() {
        let b: [u8; 16] = std::array::from_fn(|i| (i as u8) * 17);
        assert_eq!(uuid(&b), "00112233-4455-6677-8899-aabbccddeeff");
    }

    #[test]
    fn signature_shape_is_checked_only_when_present() {
        assert!(check_signature(None).is_ok());
        assert!(check_signature(Some(
            "AWS4-HMAC-SHA256 Credential=a/b/c/sqs/aws4_request, SignedHeaders=host, Signature=ab"
        ))
        .is_ok());
        let e = check_signature(Some("AWS4-HMAC-SHA256 Credential=a")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidSecurity);
        let e = check_signature(Some("Basic dXNlcjpwYXNz")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidSecurity);
    }
}
