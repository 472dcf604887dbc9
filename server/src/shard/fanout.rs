//! Operations over several shards, and how their replies become one.
//!
//! A fan-out runs one request on every shard (attribute reads, redrive, catalog changes
//! applied as replicas) and merges the parts ([`Merge`]); a split sends each shard its
//! share of a batch and puts the entries' results back in the client's order; a chain is a
//! receive asking the other shards in turn ([`super::route`]); a parked try is a long poll
//! asking a shard that said it has messages ([`super::longpoll`]).
//!
//! Owns [`FanOut`]: the operations in progress, by token. Promises: an operation is
//! answered once, when its last part arrives; a part that arrives twice or after the end is
//! dropped; a merge prefers any shard's error (shard 0's first) to a success.

use std::borrow::Cow;
use std::collections::HashMap;

use spool_model::attrs::COUNT_ATTRIBUTE_NAMES;
use spool_protocol::message::{Map, Message, WireError};
use spool_protocol::{ErrorCode, Request, Response};

use super::route::batch_open;
use super::{is_nonempty_receive, wire_err, ReplyTo, Shard};

/// How the parts of a fan-out become one reply.
#[derive(Debug, Clone, Copy)]
pub(super) enum Merge {
    /// The first error (shard 0's first), else part 0's reply.
    FirstError,
    /// Approximate counts summed; everything else from part 0.
    Attributes,
    /// Moved counts summed.
    Redriven,
}

/// A batch split over shards: which entries each part carries.
#[derive(Debug, Clone, Copy)]
pub(super) enum SplitKind {
    Delete,
    Visibility,
}

/// One entry's result in a split batch.
pub(super) type Entry = Result<(), WireError<'static>>;

pub(super) enum OpKind {
    Fanout {
        merge: Merge,
        parts: Vec<Option<Response<'static>>>,
        left: usize,
    },
    Split {
        kind: SplitKind,
        /// Entry indices of each part.
        index: Vec<Vec<usize>>,
        results: Vec<Option<Entry>>,
        error: Option<WireError<'static>>,
        left: usize,
    },
    /// A receive asking the other shards in turn.
    Chain {
        req: Request<'static>,
        order: Vec<u16>,
        next: usize,
        deadline_ms: u64,
        /// A standard queue's receive fills its batch across shards: the messages got so
        /// far (None: the first shard with messages answers alone).
        filled: Option<Vec<Message<'static>>>,
    },
    /// A parked receive asking a shard that said it has messages.
    ParkedTry { parked: u64 },
}

pub(super) struct Op {
    pub(super) to: ReplyTo,
    pub(super) kind: OpKind,
}

/// One shard's share of a split batch: the shard, the entries' indices, the entries.
pub(super) type Part<T> = (u16, Vec<usize>, Vec<T>);

/// Adds entry `i` to shard `shard`'s part, keeping first-seen shard order.
pub(super) fn push_part<T>(parts: &mut Vec<Part<T>>, shard: u16, i: usize, item: T) {
    match parts.iter_mut().find(|(x, _, _)| *x == shard) {
        Some((_, idx, items)) => {
            idx.push(i);
            items.push(item);
        }
        None => parts.push((shard, vec![i], vec![item])),
    }
}

/// The operations this shard coordinates, by token.
#[derive(Default)]
pub(super) struct FanOut {
    ops: HashMap<u64, Op>,
}

impl FanOut {
    pub(super) fn insert(&mut self, op: u64, o: Op) {
        let old = self.ops.insert(op, o);
        debug_assert!(old.is_none(), "an operation token used twice");
    }

    pub(super) fn get_mut(&mut self, op: u64) -> Option<&mut Op> {
        self.ops.get_mut(&op)
    }

    pub(super) fn remove(&mut self, op: u64) -> Option<Op> {
        self.ops.remove(&op)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Whether a parked try for the long poll `parked` is out.
    #[cfg(debug_assertions)]
    pub(super) fn tries(&self, parked: u64) -> usize {
        self.ops
            .values()
            .filter(|o| matches!(o.kind, OpKind::ParkedTry { parked: p } if p == parked))
            .count()
    }
}

impl Shard {
    /// An operation awaiting one part per shard (part `s` from shard `s`).
    pub(super) fn new_fanout(&mut self, to: ReplyTo, merge: Merge) -> u64 {
        let op = self.router.new_token();
        let n = self.n as usize;
        let kind = OpKind::Fanout {
            merge,
            parts: (0..n).map(|_| None).collect(),
            left: n,
        };
        self.ops.insert(op, Op { to, kind });
        op
    }

    /// Runs `req` on every shard and merges the replies.
    pub(super) fn fanout(&mut self, to: ReplyTo, req: &Request<'static>, merge: Merge) {
        let op = self.new_fanout(to, merge);
        // Part order = shard order, so shard 0's answer (the catalog's) comes first.
        for s in 0..self.n {
            let part = s as usize;
            self.run_on(s, ReplyTo::Op { op, part }, req.clone());
        }
    }

    /// One part of operation `op` arrived.
    pub(super) fn op_part(&mut self, op: u64, part: usize, resp: Response<'static>) {
        let Some(o) = self.ops.get_mut(op) else {
            return;
        };
        match &mut o.kind {
            OpKind::Fanout { parts, left, .. } => {
                if let Some(slot) = parts.get_mut(part) {
                    if slot.is_none() {
                        debug_assert!(*left > 0, "a fan-out part beyond its count");
                        *slot = Some(resp);
                        *left -= 1;
                    }
                }
                if *left == 0 {
                    self.finish_op(op);
                }
            }
            OpKind::Split {
                kind,
                index,
                results,
                error,
                left,
            } => {
                let idx = index.get(part).cloned().unwrap_or_default();
                fill_split(*kind, &idx, results, error, resp);
                debug_assert!(*left > 0, "a split part beyond its count");
                *left = left.saturating_sub(1);
                if *left == 0 {
                    self.finish_op(op);
                }
            }
            OpKind::Chain {
                filled: Some(got),
                req,
                ..
            } => {
                let full = match resp {
                    Response::Received { messages } => {
                        got.extend(messages);
                        !batch_open(req, got)
                    }
                    // Another shard's error: what was got is in flight, so it goes to
                    // the client; without any, the error does.
                    e => {
                        if got.is_empty() {
                            let o = self.ops.remove(op).expect("op present");
                            return self.deliver(o.to, e);
                        }
                        true
                    }
                };
                if full {
                    let o = self.ops.remove(op).expect("op present");
                    let OpKind::Chain {
                        filled: Some(messages),
                        ..
                    } = o.kind
                    else {
                        unreachable!("a filling chain")
                    };
                    // Some may have been received on this shard: wait for its commit.
                    self.deliver_received(o.to, Response::Received { messages });
                } else {
                    self.chain_next(op);
                }
            }
            OpKind::Chain { .. } => {
                if is_nonempty_receive(&resp) {
                    let o = self.ops.remove(op).expect("op present");
                    self.deliver(o.to, resp);
                } else {
                    self.chain_next(op);
                }
            }
            OpKind::ParkedTry { parked } => {
                let parked = *parked;
                self.ops.remove(op);
                self.on_parked_try(parked, resp);
            }
        }
    }

    /// Merges a completed fan-out or split and replies.
    pub(super) fn finish_op(&mut self, op: u64) {
        let Some(o) = self.ops.remove(op) else {
            return;
        };
        let resp = match o.kind {
            OpKind::Fanout { merge, parts, .. } => merge_fanout(merge, parts),
            OpKind::Split {
                kind,
                results,
                error,
                ..
            } => match error {
                Some(e) => Response::Error(e),
                None => merge_split(kind, results),
            },
            _ => return,
        };
        self.deliver(o.to, resp);
    }
}

/// Puts one part's per-entry results (indices `idx` in the client's batch) in place, or
/// keeps its error.
fn fill_split(
    kind: SplitKind,
    idx: &[usize],
    results: &mut [Option<Entry>],
    error: &mut Option<WireError<'static>>,
    resp: Response<'static>,
) {
    let fill: Vec<Entry> = match (resp, kind) {
        (Response::Error(e), _) => {
            error.get_or_insert(e);
            Vec::new()
        }
        (Response::Deleted { results }, SplitKind::Delete)
        | (Response::VisibilityChanged { results }, SplitKind::Visibility) => results,
        (other, _) => {
            error.get_or_insert(wire_err(
                ErrorCode::InternalError,
                format!("a shard answered a batch with {:?}", other.opcode()),
            ));
            Vec::new()
        }
    };
    for (&i, e) in idx.iter().zip(fill) {
        if let Some(r) = results.get_mut(i) {
            debug_assert!(r.is_none(), "a split entry answered twice");
            *r = Some(e);
        }
    }
}

/// The reply of a split batch whose parts all succeeded.
fn merge_split(kind: SplitKind, results: Vec<Option<Entry>>) -> Response<'static> {
    let missing = || wire_err(ErrorCode::InternalError, "no result for the entry");
    let results = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(missing())))
        .collect();
    match kind {
        SplitKind::Delete => Response::Deleted { results },
        SplitKind::Visibility => Response::VisibilityChanged { results },
    }
}

fn merge_fanout(merge: Merge, parts: Vec<Option<Response<'static>>>) -> Response<'static> {
    let mut parts: Vec<Response<'static>> = parts
        .into_iter()
        .map(|p| {
            p.unwrap_or_else(|| Response::error(ErrorCode::InternalError, "a shard did not answer"))
        })
        .collect();
    if let Some(e) = parts.iter().find(|p| matches!(p, Response::Error(_))) {
        return e.clone();
    }
    match merge {
        Merge::FirstError => parts.swap_remove(0),
        Merge::Redriven => Response::Redriven {
            moved: parts
                .iter()
                .map(|p| match p {
                    Response::Redriven { moved } => *moved,
                    _ => 0,
                })
                .sum(),
        },
        Merge::Attributes => {
            let mut sums = [0u64; 3];
            for p in &parts {
                if let Response::QueueAttributes { attributes } = p {
                    for (i, name) in COUNT_ATTRIBUTE_NAMES.iter().enumerate() {
                        if let Some(v) = attributes.get(*name) {
                            sums[i] += v.parse::<u64>().unwrap_or(0);
                        }
                    }
                }
            }
            let mut first = parts.swap_remove(0);
            if let Response::QueueAttributes { attributes } = &mut first {
                let attributes: &mut Map<'static> = attributes;
                for (i, name) in COUNT_ATTRIBUTE_NAMES.iter().enumerate() {
                    if let Some(v) = attributes.get_mut(*name) {
                        *v = Cow::Owned(sums[i].to_string());
                    }
                }
            }
            first
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fanout_merge_sums_counts_and_prefers_errors() {
        let attrs = |n: &str| Response::QueueAttributes {
            attributes: [
                (
                    Cow::Borrowed("ApproximateNumberOfMessages"),
                    Cow::Owned(n.to_string()),
                ),
                (Cow::Borrowed("VisibilityTimeout"), Cow::Borrowed("30")),
            ]
            .into(),
        };
        let merged = merge_fanout(Merge::Attributes, vec![Some(attrs("2")), Some(attrs("5"))]);
        let Response::QueueAttributes { attributes } = merged else {
            panic!("{merged:?}")
        };
        assert_eq!(attributes["ApproximateNumberOfMessages"], "7");
        assert_eq!(attributes["VisibilityTimeout"], "30");
        let err = Response::error(ErrorCode::QueueDoesNotExist, "no");
        let merged = merge_fanout(
            Merge::FirstError,
            vec![Some(Response::Purged), Some(err.clone())],
        );
        assert_eq!(merged, err);
        let merged = merge_fanout(
            Merge::Redriven,
            vec![
                Some(Response::Redriven { moved: 3 }),
                Some(Response::Redriven { moved: 4 }),
            ],
        );
        assert_eq!(merged, Response::Redriven { moved: 7 });
    }

    #[test]
    fn split_results_go_back_in_client_order() {
        let mut results: Vec<Option<Entry>> = (0..3).map(|_| None).collect();
        let mut error = None;
        let ok = || Response::Deleted {
            results: vec![Ok(())],
        };
        fill_split(SplitKind::Delete, &[1], &mut results, &mut error, ok());
        let two = Response::Deleted {
            results: vec![
                Ok(()),
                Err(wire_err(ErrorCode::ReceiptHandleIsInvalid, "x")),
            ],
        };
        fill_split(SplitKind::Delete, &[0, 2], &mut results, &mut error, two);
        assert!(error.is_none());
        let Response::Deleted { results } = merge_split(SplitKind::Delete, results) else {
            panic!("not a Deleted")
        };
        assert!(results[0].is_ok());
        assert!(results[1].is_ok());
        assert!(results[2].is_err());
    }
}
