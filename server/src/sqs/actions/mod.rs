//! SQS actions: one parsed SQS request in, binary-protocol requests into the shards, one
//! SQS response out.
//!
//! This file parses, renders and dispatches: `Ctx::run` hands each action to a function
//! of its own, grouped by what it works on: `queues.rs` (queue lifecycle, attributes,
//! tags, dead-letter sources), `messages.rs` (send, receive, delete, change visibility;
//! the last two through the one by-handle path of `by_handle.rs`), `permissions.rs` (the
//! queue's `Policy`) and `move_tasks.rs` (DLQ redrive). Every SQS name, limit and rule
//! they write down (attribute names, policy words, defaults) is the SQS model's
//! ([`spool_model`]); none is defined here.
//!
//! The codec (`spool_protocol::sqs`) has already checked everything that needs no queue
//! state (types, ranges, batch shape, message characters, attribute rules); the engine
//! checks the rest (queue attributes, sizes against the queue's MaximumMessageSize, FIFO
//! rules, receipt handles). These files only translate, plus the few SQS behaviours that
//! have no binary-protocol operation of their own: AddPermission / RemovePermission edit
//! the queue's `Policy` attribute, message move tasks run in [`super::move_tasks`], and
//! MD5 digests and system attributes are computed from what the shards return.
//!
//! Promises: every request gets exactly one reply, an SQS response or an AWS-shaped error
//! in the wire form the client spoke (a query request that accepts only JSON gets the
//! query form's JSON); a batch's per-entry failures are reported in its `Failed` list in
//! entry order, never as a whole-call error, except the one AWS fails whole: a FIFO
//! SendMessageBatch with an entry lacking its FIFO ids (`messages.rs`).

mod by_handle;
mod messages;
mod move_tasks;
mod permissions;
mod queues;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::http::request::Parts;
use spool_protocol::sqs::request::MAX_HTTP_BODY;
use spool_protocol::sqs::{
    self, render, render_error, BatchEntry, BatchFailure, ErrorKind, HttpReply, SqsError,
    SqsRequest, SqsResponse, Wire,
};
use spool_protocol::{Request, Response};

use super::host::LocalCalls;
use super::Gateway;
use crate::errors::sqs_error;

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
        // An empty content type is none (AWS sends none with `<UnknownOperationException/>`).
        if !self.content_type.is_empty() {
            h.insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(self.content_type),
            );
        }
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
    // A query request that accepts JSON is answered in the query form's JSON, as AWS
    // answers it (`render_query_json`); an unknown operation stays XML, as on AWS.
    let query_json = wire == Wire::Query && sqs::accepts_json(header("accept"));
    let fail = |e: &SqsError| {
        if query_json && e.kind != ErrorKind::UnknownOperation {
            sqs::render_query_json_error(e, &request_id)
        } else {
            render_error(wire, e, &request_id)
        }
    };
    let (wire, parsed) = match sqs::parse(&req) {
        Ok(x) => x,
        Err(e) => return Reply::from_http("Invalid", fail(&e)),
    };
    let action = parsed.action();
    if let Err(e) = check_signature(header("authorization")) {
        return Reply::from_http(action.name(), fail(&e));
    }
    let ctx = Ctx {
        gw,
        calls,
        host: header("host")
            .map(str::to_string)
            .or_else(|| gw.sqs_addr.map(|a| a.to_string()))
            .unwrap_or_default(),
        trace_header: header(spool_model::message::TRACE_ID_HTTP_HEADER)
            .filter(|v| !v.is_empty())
            .map(str::to_string),
    };
    let reply = match ctx.run(parsed).await {
        Ok(resp) if query_json => sqs::render_query_json(action, &resp, &request_id),
        Ok(resp) => render(wire, action, &resp, &request_id),
        Err(e) => fail(&e),
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
    /// The request's `X-Amzn-Trace-Id` header: the `AWSTraceHeader` of each message it
    /// sends that does not set one itself.
    trace_header: Option<String>,
}

impl Ctx<'_> {
    fn url(&self, name: &str) -> String {
        format!("http://{}/{}/{}", self.host, self.gw.cfg.account_id, name)
    }

    fn arn(&self, name: &str) -> String {
        sqs::url::queue_arn(&self.gw.cfg.region, &self.gw.cfg.account_id, name)
    }

    /// The queue a `QueueUrl` names: a URL of ours, or a bare queue name (our account's
    /// queue of that name, as SQS resolves it); a URL of another account names no queue
    /// of ours.
    fn queue(&self, url: &str) -> Result<String> {
        match sqs::url::queue_of_parameter(url) {
            Some((None, name)) => Ok(name.to_string()),
            Some((Some(acct), name)) if acct == self.gw.cfg.account_id => Ok(name.to_string()),
            _ => Err(SqsError::queue_does_not_exist()),
        }
    }

    async fn call(&self, req: Request<'_>) -> Result<Response<'static>> {
        match self.calls.call(req).await {
            Ok(Response::Error(e)) => Err(sqs_error(&e)),
            Ok(r) => Ok(r),
            Err(e) => Err(SqsError::new(ErrorKind::ServiceUnavailable, e.to_string())),
        }
    }

    /// Runs one action: each has a function of its own (in the file of its group).
    async fn run(&self, req: SqsRequest) -> Result<SqsResponse> {
        use SqsRequest as R;
        match req {
            R::CreateQueue {
                queue_name,
                attributes,
                tags,
            } => self.create_queue(queue_name, &attributes, &tags).await,
            R::DeleteQueue { queue_url } => self.delete_queue(&queue_url).await,
            R::GetQueueUrl {
                queue_name,
                queue_owner_aws_account_id,
            } => {
                self.get_queue_url(queue_name, queue_owner_aws_account_id)
                    .await
            }
            R::ListQueues {
                queue_name_prefix,
                max_results,
                next_token,
            } => {
                self.list_queues(queue_name_prefix, max_results, next_token)
                    .await
            }
            R::GetQueueAttributes {
                queue_url,
                attribute_names,
            } => self.get_queue_attributes(&queue_url, attribute_names).await,
            R::SetQueueAttributes {
                queue_url,
                attributes,
            } => self.set_queue_attributes(&queue_url, &attributes).await,
            R::PurgeQueue { queue_url } => self.purge_queue(&queue_url).await,
            R::SendMessage { queue_url, message } => self.send_message(&queue_url, message).await,
            R::SendMessageBatch {
                queue_url,
                entries,
                fifo_ids,
            } => {
                self.send_message_batch(&queue_url, entries, &fifo_ids)
                    .await
            }
            R::ReceiveMessage(r) => self.receive_message(r).await,
            R::DeleteMessage {
                queue_url,
                receipt_handle,
            } => self.delete_message(&queue_url, receipt_handle).await,
            R::DeleteMessageBatch { queue_url, entries } => {
                self.delete_message_batch(&queue_url, entries).await
            }
            R::ChangeMessageVisibility {
                queue_url,
                receipt_handle,
                visibility_timeout,
            } => {
                self.change_message_visibility(&queue_url, receipt_handle, visibility_timeout)
                    .await
            }
            R::ChangeMessageVisibilityBatch { queue_url, entries } => {
                self.change_message_visibility_batch(&queue_url, entries)
                    .await
            }
            R::TagQueue { queue_url, tags } => self.tag_queue(&queue_url, &tags).await,
            R::UntagQueue {
                queue_url,
                tag_keys,
            } => self.untag_queue(&queue_url, &tag_keys).await,
            R::ListQueueTags { queue_url } => self.list_queue_tags(&queue_url).await,
            R::AddPermission {
                queue_url,
                label,
                aws_account_ids,
                actions,
            } => {
                self.add_permission(&queue_url, &label, &aws_account_ids, &actions)
                    .await
            }
            R::RemovePermission { queue_url, label } => {
                self.remove_permission(&queue_url, &label).await
            }
            R::ListDeadLetterSourceQueues {
                queue_url,
                max_results,
                next_token,
            } => {
                self.list_dead_letter_source_queues(&queue_url, max_results, next_token)
                    .await
            }
            R::StartMessageMoveTask {
                source_arn,
                destination_arn,
                max_number_of_messages_per_second,
            } => {
                self.start_message_move_task(
                    source_arn,
                    destination_arn,
                    max_number_of_messages_per_second,
                )
                .await
            }
            R::ListMessageMoveTasks {
                source_arn,
                max_results,
            } => self.list_message_move_tasks(&source_arn, max_results).await,
            R::CancelMessageMoveTask { task_handle } => self.cancel_message_move_task(&task_handle),
        }
    }
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

fn internal(what: &str) -> SqsError {
    SqsError::new(ErrorKind::InternalError, format!("internal error: {what}"))
}

fn unexpected(r: &Response<'_>) -> SqsError {
    internal(&format!("unexpected reply opcode {:#04x}", r.opcode()))
}

fn expect(r: &Response<'static>, ok: impl Fn(&Response<'static>) -> bool) -> Result<()> {
    if ok(r) {
        Ok(())
    } else {
        Err(unexpected(r))
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
