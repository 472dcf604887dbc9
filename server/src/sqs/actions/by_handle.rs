//! The one path of the actions that name messages by receipt handle: DeleteMessage and
//! ChangeMessageVisibility, single and batch. They differ only in the binary request
//! (Delete or ChangeVisibility), what an entry carries besides its handle and the reply
//! that answers; [`ByHandle`] says those, and [`Ctx::by_handle`] does the rest once.
//!
//! Promises: one result per entry, in entry order; a handle the binary protocol cannot
//! even carry (not one of ours) is answered here with ReceiptHandleIsInvalid and never sent;
//! when no entry's handle is sendable the queue must still exist (SQS checks the queue
//! before the handles, and so does the shard when it gets the request).

use spool_protocol::message::VisibilityEntry;
use spool_protocol::sqs::{BatchEntry, BatchFailure, SqsResponse};
use spool_protocol::{Request, Response, WireError};

use super::{internal, split_batch, unexpected, Ctx, Result};
use crate::errors::{invalid_handle, sqs_handle_error};
use crate::handle;

/// The per-handle results of a binary reply.
type WireResults = Vec<std::result::Result<(), WireError<'static>>>;

/// A binary-protocol operation on messages named by receipt handle. An entry is the
/// handle as the client sent it and [`ByHandle::Extra`].
pub(super) trait ByHandle {
    /// What the operation needs besides a handle.
    type Extra;
    /// The request for `entries`: each a decoded (wire) handle and its extra.
    fn request(queue: &str, entries: Vec<(Vec<u8>, Self::Extra)>) -> Request<'_>;
    /// The per-handle results of the reply, or the reply if it is not this operation's.
    fn results(reply: Response<'static>) -> std::result::Result<WireResults, Response<'static>>;
}

/// DeleteMessage(Batch): a handle is all an entry holds.
pub(super) struct Delete;

impl ByHandle for Delete {
    type Extra = ();

    fn request(queue: &str, entries: Vec<(Vec<u8>, ())>) -> Request<'_> {
        Request::Delete {
            queue: queue.into(),
            receipt_handles: entries.into_iter().map(|(h, ())| h.into()).collect(),
        }
    }

    fn results(reply: Response<'static>) -> std::result::Result<WireResults, Response<'static>> {
        match reply {
            Response::Deleted { results } => Ok(results),
            other => Err(other),
        }
    }
}

/// ChangeMessageVisibility(Batch): an entry holds the new timeout in seconds.
pub(super) struct ChangeVisibility;

impl ByHandle for ChangeVisibility {
    type Extra = u32;

    fn request(queue: &str, entries: Vec<(Vec<u8>, u32)>) -> Request<'_> {
        Request::ChangeVisibility {
            queue: queue.into(),
            entries: entries
                .into_iter()
                .map(|(h, timeout_s)| VisibilityEntry {
                    receipt_handle: h.into(),
                    timeout_s,
                })
                .collect(),
        }
    }

    fn results(reply: Response<'static>) -> std::result::Result<WireResults, Response<'static>> {
        match reply {
            Response::VisibilityChanged { results } => Ok(results),
            other => Err(other),
        }
    }
}

impl Ctx<'_> {
    /// The single action (DeleteMessage, ChangeMessageVisibility): its one entry's error,
    /// if any, is the call's.
    pub(super) async fn one_by_handle<Op: ByHandle>(
        &self,
        queue_url: &str,
        entry: (String, Op::Extra),
    ) -> Result<SqsResponse> {
        let name = self.queue(queue_url)?;
        let mut results = self.by_handle::<Op>(&name, vec![entry]).await?;
        results
            .pop()
            .unwrap_or_else(|| Err(internal("no result for the handle")))?;
        Ok(SqsResponse::Empty)
    }

    /// The batch action: (ids of the entries that succeeded, failures), every failure
    /// in entry order after those the codec found. `entry` turns a valid batch entry into
    /// the operation's.
    pub(super) async fn batch_by_handle<Op: ByHandle, T>(
        &self,
        queue_url: &str,
        entries: Vec<BatchEntry<T>>,
        entry: impl Fn(T) -> (String, Op::Extra),
    ) -> Result<(Vec<String>, Vec<BatchFailure>)> {
        let name = self.queue(queue_url)?;
        let (ids, good, mut failed) = split_batch(entries);
        let mut successful = Vec::new();
        if !good.is_empty() {
            let entries = good.into_iter().map(entry).collect();
            let results = self.by_handle::<Op>(&name, entries).await?;
            for (id, r) in ids.into_iter().zip(results) {
                match r {
                    Ok(()) => successful.push(id),
                    Err(e) => failed.push(BatchFailure::from_error(id, &e)),
                }
            }
        }
        Ok((successful, failed))
    }

    /// Runs `Op` on every entry of queue `queue`; one result per entry, in order.
    async fn by_handle<Op: ByHandle>(
        &self,
        queue: &str,
        entries: Vec<(String, Op::Extra)>,
    ) -> Result<Vec<Result<()>>> {
        // Handles the binary protocol cannot even carry are invalid: answer them here.
        let mut out: Vec<Option<Result<()>>> = Vec::with_capacity(entries.len());
        let mut send = Vec::new();
        let mut shown = Vec::new();
        for (h, extra) in entries {
            match handle::from_text(&h) {
                Some(wire) => {
                    out.push(None);
                    send.push((wire, extra));
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
            // A delete or visibility change modifies its messages: a retry of the receive
            // attempt that returned them is a new receive (ReceiveRequestAttemptId).
            let wire: Vec<&[u8]> = send.iter().map(|(h, _)| &h[..]).collect();
            self.gw.attempts.forget_handles(queue, &wire);
            let r = self.call(Op::request(queue, send)).await?;
            let results = Op::results(r).map_err(|r| unexpected(&r))?;
            fill(&mut out, results, &shown);
        }
        Ok(out
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(internal("no result"))))
            .collect())
    }
}

/// Puts the shard's per-handle results into the slots still open, in order.
fn fill(out: &mut [Option<Result<()>>], results: WireResults, shown: &[String]) {
    let mut it = results.into_iter().zip(shown);
    for slot in out.iter_mut().filter(|s| s.is_none()) {
        *slot = Some(match it.next() {
            Some((Ok(()), _)) => Ok(()),
            Some((Err(e), h)) => Err(sqs_handle_error(&e, h)),
            None => Err(internal("fewer results than handles")),
        });
    }
}

#[cfg(test)]
mod tests {
    use spool_protocol::sqs::ErrorKind;
    use spool_protocol::ErrorCode;

    use super::*;
    use crate::errors::HANDLE_ECHO_MAX_CHARS;

    #[test]
    fn shard_results_fill_the_open_slots_in_entry_order() {
        // Entries 0 and 2 were refused here; 1, 3 and 4 went to the shard.
        let mut out = vec![
            Some(Err(invalid_handle("bad"))),
            None,
            Some(Err(invalid_handle("worse"))),
            None,
            None,
        ];
        let results: WireResults = vec![
            Ok(()),
            Err(WireError::new(ErrorCode::ReceiptHandleExpired, "expired")),
        ];
        let shown = ["h1".to_string(), "h3".to_string(), "h4".to_string()];
        fill(&mut out, results, &shown);
        let kinds: Vec<Option<ErrorKind>> = out
            .into_iter()
            .map(|r| r.unwrap().err().map(|e| e.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                Some(ErrorKind::ReceiptHandleIsInvalid),
                None,
                Some(ErrorKind::ReceiptHandleIsInvalid),
                Some(ErrorKind::InvalidParameterValue),
                // The shard answered fewer handles than it was sent.
                Some(ErrorKind::InternalError),
            ]
        );
    }

    #[test]
    fn an_invalid_handle_is_quoted_at_most_so_long() {
        let long = "x".repeat(HANDLE_ECHO_MAX_CHARS + 10);
        let e = invalid_handle(&long);
        let quoted = "x".repeat(HANDLE_ECHO_MAX_CHARS);
        assert_eq!(
            e.message,
            format!("The input receipt handle \"{quoted}\" is not a valid receipt handle.")
        );
        let e = sqs_handle_error(
            &WireError::new(ErrorCode::ReceiptHandleIsInvalid, "engine words"),
            "abc",
        );
        assert_eq!(e.kind, ErrorKind::ReceiptHandleIsInvalid);
        assert!(e.message.contains("\"abc\""));
    }
}
