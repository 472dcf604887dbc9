//! Routing: where each request runs. The one place a request is sent somewhere.
//!
//! Queue-catalog changes go to shard 0, which decides and has every other shard apply the
//! change as a replica; attribute reads and redrive fan out ([`super::fanout`]); standard
//! sends stay here; every FIFO queue lives on one home shard ([`home_shard`]), where its
//! sends go; receives try here (a FIFO queue's: its home shard first), then the other
//! shards in turn (a chain; a standard queue's receive gathers its batch along it until
//! full), then park ([`super::longpoll`]); deletes and visibility changes go to the shard
//! named in each receipt handle.
//!
//! Owns [`Router`]: the token counter (tokens name requests out on other shards,
//! operations and parked long polls; never reused) and the requests out on other shards.
//! Promises: every token in `remote` is answered by exactly one `Reply` envelope.

use std::borrow::Cow;
use std::collections::HashMap;

use spool_protocol::message::{Message, MessageAttribute, SendEntry, VisibilityEntry};
use spool_protocol::{ErrorCode, Request, Response};

use super::fanout::{push_part, Entry, Merge, Op, OpKind, Part, SplitKind};
use super::{empty_received, is_nonempty_receive, wire_err, Envelope, ReplyTo, Shard};
use crate::dispatch::dispatch;
use crate::handle;
use spool_model::limits::RECEIVE_WAIT_TIME_MAX_MS;

/// The home shard of FIFO queue `queue`: where all its messages live, so that its
/// groups are scheduled together (the group with the oldest message first, across all
/// of them) and deduplication covers the whole queue, as SQS's FIFO queues promise.
/// Many FIFO queues spread over the shards by name. Stable across restarts and builds
/// (FNV-1a), so a queue's messages stay where a data directory has them.
///
/// Both FIFO modes live on the home shard: spreading a high-throughput queue's groups
/// over shards would break a group's order whenever the mode changes while the queue
/// holds messages (SQS lets both attributes change at any time), so a single FIFO queue
/// is served by one shard's core in either mode (docs/sqs-compatibility.md).
pub fn home_shard(queue: &str, shards: u16) -> u16 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in queue.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % u64::from(shards)) as u16
}

/// Tokens and requests out on other shards.
pub(super) struct Router {
    next_token: u64,
    /// Requests sent to other shards, by token: where their replies go.
    pub(super) remote: HashMap<u64, ReplyTo>,
    /// Where the next receive chain starts, so chains spread over the shards.
    receive_rr: usize,
}

impl Router {
    pub(super) fn new() -> Router {
        Router {
            next_token: 1,
            remote: HashMap::new(),
            receive_rr: 0,
        }
    }

    /// A token never handed out before.
    pub(super) fn new_token(&mut self) -> u64 {
        let t = self.next_token;
        self.next_token += 1;
        t
    }

    /// A token for a request sent to another shard, whose reply goes to `to`.
    fn remember(&mut self, to: ReplyTo) -> u64 {
        let t = self.new_token();
        let old = self.remote.insert(t, to);
        debug_assert!(old.is_none(), "a token remembered twice");
        t
    }
}

impl Shard {
    /// Sends a request from a client of this shard where it must be served. The request
    /// may borrow the connection's read buffer: sends, deletes and visibility changes
    /// served here are served from it (a send's body is copied twice: into the engine's
    /// owned `SendRequest` in `dispatch::send`, then into the log's write buffer);
    /// what travels to another shard, receives (small, and they may wait), catalog
    /// changes and fan-outs are copied out.
    pub(super) fn route(&mut self, to: ReplyTo, req: Request<'_>) {
        match req {
            Request::CreateQueue { .. }
            | Request::DeleteQueue { .. }
            | Request::SetQueueAttributes { .. }
            | Request::TagQueue { .. }
            | Request::UntagQueue { .. }
            | Request::PurgeQueue { .. } => {
                let req = req.into_owned();
                if self.id == 0 {
                    self.coordinate(to, &req);
                } else {
                    let token = self.router.remember(to);
                    let from = self.id;
                    self.send_env(0, Envelope::Coordinate { from, token, req });
                }
            }
            Request::GetQueueAttributes { .. } => {
                self.fanout(to, &req.into_owned(), Merge::Attributes);
            }
            Request::Redrive { .. } => self.fanout(to, &req.into_owned(), Merge::Redriven),
            Request::Send { queue, entries } => self.route_send(to, queue, entries),
            Request::Receive { .. } => self.route_receive(to, req.into_owned()),
            Request::Delete {
                queue,
                receipt_handles,
            } => {
                self.route_by_handle(to, &queue, SplitKind::Delete, receipt_handles, &[]);
            }
            Request::ChangeVisibility { queue, entries } => {
                let handles = entries.iter().map(|e| e.receipt_handle.clone()).collect();
                let timeouts: Vec<u32> = entries.iter().map(|e| e.timeout_s).collect();
                self.route_by_handle(to, &queue, SplitKind::Visibility, handles, &timeouts);
            }
            // Catalog reads: every shard holds the whole catalog.
            other => self.run_local(to, other),
        }
    }

    /// Runs `req` on shard `shard` (possibly this one) and replies to `to`.
    pub(super) fn run_on(&mut self, shard: u16, to: ReplyTo, req: Request<'_>) {
        if shard == self.id {
            self.run_local(to, req);
        } else {
            let token = self.router.remember(to);
            let env = Envelope::Local {
                from: self.id,
                token,
                req: req.into_owned(),
            };
            self.send_env(shard, env);
        }
    }

    /// Runs a request on this shard's engine and replies when it may.
    pub(super) fn run_local(&mut self, to: ReplyTo, req: Request<'_>) {
        let (send_queue, vis_queue) = match &req {
            Request::Send { queue, .. } => (Some(queue.to_string()), None),
            Request::ChangeVisibility { queue, .. } => (None, Some(queue.to_string())),
            _ => (None, None),
        };
        let d = dispatch(&mut self.engine, &self.info, req);
        let resp = d.response;
        if let Some(q) = send_queue {
            if matches!(&resp, Response::Sent { results } if results.iter().any(Result::is_ok)) {
                self.commit.dirty.insert(q);
            }
        }
        if let Some(q) = vis_queue {
            // A timeout of 0 makes a message visible at once.
            self.polls.wake.insert(q);
        }
        self.complete_local(to, resp, d.needs_flush);
    }

    /// A catalog change (shard 0 only): shard 0 decides against its own catalog and clock;
    /// if it accepts, every other shard applies the change as a replica (`Apply`), without
    /// re-deciding time-based rules, in the order shard 0 sent them. Answers when all have.
    pub(super) fn coordinate(&mut self, to: ReplyTo, req: &Request<'static>) {
        debug_assert_eq!(self.id, 0);
        let d = dispatch(&mut self.engine, &self.info, req.clone());
        if matches!(d.response, Response::Error(_)) || self.n == 1 {
            return self.complete_local(to, d.response, d.needs_flush);
        }
        let op = self.new_fanout(to, Merge::FirstError);
        self.complete_local(ReplyTo::Op { op, part: 0 }, d.response, d.needs_flush);
        for s in 1..self.n {
            let token = self.router.remember(ReplyTo::Op {
                op,
                part: s as usize,
            });
            let env = Envelope::Apply {
                from: self.id,
                token,
                req: req.clone(),
            };
            self.send_env(s, env);
        }
    }

    /// Applies a catalog change shard 0 has decided.
    pub(super) fn apply_replica(&mut self, to: ReplyTo, req: Request<'static>) {
        match req {
            Request::CreateQueue { ref name, .. } => {
                self.engine.forget_recent_deletion(name);
                self.run_local(to, req);
            }
            Request::PurgeQueue { name } => match self.engine.purge_queue_as_replica(&name) {
                Ok(()) => self.complete_local(to, Response::Purged, true),
                Err(e) => self.deliver(to, Response::Error(crate::errors::wire(&e))),
            },
            other => self.run_local(to, other),
        }
    }

    /// Whether `queue` is a FIFO queue (false if it does not exist).
    fn is_fifo(&self, queue: &str) -> bool {
        self.engine
            .queue_ref(queue)
            .is_some_and(spool_engine::Queue::is_fifo)
    }

    fn route_send(&mut self, to: ReplyTo, queue: Cow<'_, str>, entries: Vec<SendEntry<'_>>) {
        if !self.is_fifo(&queue) || self.n == 1 {
            // Standard queue (or unknown: the local engine says QueueDoesNotExist).
            return self.run_local(to, Request::Send { queue, entries });
        }
        let home = home_shard(&queue, self.n);
        self.run_on(home, to, Request::Send { queue, entries });
    }

    /// Deletes and visibility changes: each handle goes to the shard that issued it.
    fn route_by_handle<'a>(
        &mut self,
        to: ReplyTo,
        queue: &str,
        kind: SplitKind,
        handles: Vec<Cow<'a, [u8]>>,
        timeouts: &[u32],
    ) {
        let total = handles.len();
        let (mut by_shard, results) = split_handles(handles, self.n);
        if by_shard.is_empty() && !self.engine.queue_exists(queue) {
            return self.deliver(
                to,
                Response::error(
                    ErrorCode::QueueDoesNotExist,
                    format!("the queue {queue} does not exist"),
                ),
            );
        }
        let build = |hs: Vec<Cow<'a, [u8]>>, idx: &[usize]| match kind {
            SplitKind::Visibility => Request::ChangeVisibility {
                queue: Cow::Borrowed(queue),
                entries: hs
                    .into_iter()
                    .zip(idx)
                    .map(|(h, &i)| VisibilityEntry {
                        receipt_handle: h,
                        timeout_s: timeouts[i],
                    })
                    .collect(),
            },
            SplitKind::Delete => Request::Delete {
                queue: Cow::Borrowed(queue),
                receipt_handles: hs,
            },
        };
        if by_shard.len() == 1 && by_shard[0].1.len() == total {
            let (s, idx, hs) = by_shard.pop().expect("one part");
            let req = build(hs, &idx);
            return self.run_on(s, to, req);
        }
        let op = self.router.new_token();
        let parts: Vec<(u16, Vec<usize>, Request<'_>)> = by_shard
            .into_iter()
            .map(|(s, idx, hs)| {
                let req = build(hs, &idx);
                (s, idx, req)
            })
            .collect();
        let split = OpKind::Split {
            kind,
            index: parts.iter().map(|p| p.1.clone()).collect(),
            results,
            error: None,
            left: parts.len(),
        };
        self.ops.insert(op, Op { to, kind: split });
        if parts.is_empty() {
            return self.finish_op(op);
        }
        for (part, (s, _, req)) in parts.into_iter().enumerate() {
            self.run_on(s, ReplyTo::Op { op, part }, req);
        }
    }

    fn route_receive(&mut self, to: ReplyTo, req: Request<'static>) {
        let Request::Receive { wait_time_ms, .. } = &req else {
            unreachable!("route_receive takes receives");
        };
        let wait = *wait_time_ms;
        if wait > RECEIVE_WAIT_TIME_MAX_MS {
            return self.deliver(
                to,
                Response::error(
                    ErrorCode::InvalidParameter,
                    format!(
                        "wait time {wait} ms is over the maximum of {RECEIVE_WAIT_TIME_MAX_MS} ms"
                    ),
                ),
            );
        }
        // A FIFO queue's messages are on its home shard (only data written before FIFO
        // queues had a home can be elsewhere): ask it first.
        let home = match &req {
            Request::Receive { queue, .. } if self.n > 1 && self.is_fifo(queue) => {
                Some(home_shard(queue, self.n))
            }
            _ => None,
        };
        let mut filled = None;
        if home.is_none_or(|h| h == self.id) {
            let local = self.receive_here(req.clone());
            // A standard queue's receive goes on to the other shards while its batch is
            // not full (SQS's short poll may sample fewer servers; returning what is
            // there is what clients expect of a small queue).
            filled = match local {
                Response::Received { messages } if self.n > 1 && self.fills_batch(&req) => {
                    if !batch_open(&req, &messages) {
                        return self.deliver_received(to, Response::Received { messages });
                    }
                    Some(messages)
                }
                local => {
                    if is_nonempty_receive(&local) || (self.n == 1 && wait == 0) {
                        return self.deliver_received(to, local);
                    }
                    None
                }
            };
        }
        let deadline_ms = self.now() + u64::from(wait);
        if self.n == 1 {
            return self.park(to, req, deadline_ms);
        }
        let order = match home {
            Some(h) if h != self.id => {
                let rest = (0..self.n).filter(|&s| s != h);
                std::iter::once(h).chain(rest).collect()
            }
            _ => {
                let start = self.router.receive_rr;
                self.router.receive_rr = self.router.receive_rr.wrapping_add(1);
                let others: Vec<u16> = (0..self.n).filter(|&s| s != self.id).collect();
                (0..others.len())
                    .map(|k| others[(start + k) % others.len()])
                    .collect()
            }
        };
        let op = self.router.new_token();
        let kind = OpKind::Chain {
            req,
            order,
            next: 0,
            deadline_ms,
            filled,
        };
        self.ops.insert(op, Op { to, kind });
        self.chain_next(op);
    }

    /// A receive on this shard's engine, answered now (no waiting).
    pub(super) fn receive_here(&mut self, req: Request<'static>) -> Response<'static> {
        dispatch(&mut self.engine, &self.info, req).response
    }

    /// Asks the next shard of a receive chain, or parks / answers empty at its end.
    pub(super) fn chain_next(&mut self, op: u64) {
        let Some(o) = self.ops.get_mut(op) else {
            return;
        };
        let OpKind::Chain {
            req,
            order,
            next,
            deadline_ms,
            filled,
        } = &mut o.kind
        else {
            return;
        };
        if let Some(&s) = order.get(*next) {
            *next += 1;
            let mut r = without_wait(req);
            // A filling chain asks each shard for what the batch still lacks.
            if let (Request::Receive { max_messages, .. }, Some(got)) = (&mut r, filled) {
                *max_messages = max_messages.saturating_sub(got.len() as u32).max(1);
            }
            return self.run_on(s, ReplyTo::Op { op, part: 0 }, r);
        }
        let deadline = *deadline_ms;
        let o = self.ops.remove(op).expect("op present");
        let OpKind::Chain { req, filled, .. } = o.kind else {
            unreachable!()
        };
        if let Some(messages) = filled.filter(|m| !m.is_empty()) {
            // Some may have been received here: the reply waits for this shard's commit
            // too (those from other shards waited for theirs).
            return self.deliver_received(o.to, Response::Received { messages });
        }
        if self.now() < deadline && !self.life.is_stopping() {
            self.park(o.to, req, deadline);
        } else {
            self.deliver(o.to, empty_received());
        }
    }
}

/// A filling receive chain stops once its messages come to this many bytes (bodies,
/// attributes, handles, and [`FILL_MESSAGE_OVERHEAD_BYTES`] each): each shard's reply
/// stays within `dispatch::reply_budget`, which leaves 2 MiB of a frame for one largest
/// message and the framing, so what a chain has got before asking a shard must stay well
/// below that for the merged reply to fit one frame.
const FILL_MAX_BYTES: usize = 256 << 10;

/// What one received message is reckoned to add to a reply besides its variable fields.
const FILL_MESSAGE_OVERHEAD_BYTES: usize = 64;

impl Shard {
    /// Whether a receive fills its batch from several shards: receives of standard queues
    /// (a FIFO queue's order is its own shard's business).
    fn fills_batch(&self, req: &Request<'_>) -> bool {
        let Request::Receive { queue, .. } = req else {
            return false;
        };
        self.engine.queue_ref(queue).is_some_and(|q| !q.is_fifo())
    }
}

/// Whether a filling receive chain with messages `got` should ask the next shard: fewer
/// than asked for, and within [`FILL_MAX_BYTES`].
pub(super) fn batch_open(req: &Request<'_>, got: &[Message<'_>]) -> bool {
    let Request::Receive { max_messages, .. } = req else {
        return false;
    };
    let bytes: usize = got
        .iter()
        .map(|m| {
            m.body.len()
                + m.receipt_handle.len()
                + MessageAttribute::total_size(&m.attributes)
                + MessageAttribute::total_size(&m.system_attributes)
                + FILL_MESSAGE_OVERHEAD_BYTES
        })
        .sum();
    got.len() < *max_messages as usize && bytes < FILL_MAX_BYTES
}

/// A receive as asked of another shard: answered at once (the wait is this shard's).
pub(super) fn without_wait(req: &Request<'static>) -> Request<'static> {
    let mut r = req.clone();
    if let Request::Receive { wait_time_ms, .. } = &mut r {
        *wait_time_ms = 0;
    }
    r
}

/// Splits receipt handles by the shard that issued them, stripping each one's shard
/// prefix without a copy; a handle this server did not issue gets its error in the
/// returned results (indexed like `handles`) instead.
#[allow(clippy::type_complexity)]
fn split_handles(
    handles: Vec<Cow<'_, [u8]>>,
    shards: u16,
) -> (Vec<Part<Cow<'_, [u8]>>>, Vec<Option<Entry>>) {
    let mut results: Vec<Option<Entry>> = (0..handles.len()).map(|_| None).collect();
    let mut by_shard = Vec::new();
    for (i, h) in handles.into_iter().enumerate() {
        match handle::unwrap(&h, shards).map(|(s, inner)| (s, h.len() - inner.len())) {
            Some((s, prefix)) => {
                let inner = match h {
                    Cow::Borrowed(b) => Cow::Borrowed(&b[prefix..]),
                    Cow::Owned(mut v) => {
                        v.drain(..prefix);
                        Cow::Owned(v)
                    }
                };
                push_part(&mut by_shard, s, i, inner);
            }
            None => {
                results[i] = Some(Err(wire_err(
                    ErrorCode::ReceiptHandleIsInvalid,
                    "the receipt handle is invalid: not a handle this server issued",
                )));
            }
        }
    }
    (by_shard, results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filling_chain_stops_at_a_full_batch_or_its_byte_bound() {
        let req = Request::Receive {
            queue: "q".into(),
            max_messages: 3,
            visibility_timeout_s: None,
            wait_time_ms: 0,
            attribute_names: Vec::new(),
            system_attributes: false,
        };
        let small = |n: usize| -> Vec<Message<'static>> {
            (0..n)
                .map(|_| Message {
                    body: Cow::Owned(vec![b'x'; 10]),
                    ..Default::default()
                })
                .collect()
        };
        assert!(batch_open(&req, &[]));
        assert!(batch_open(&req, &small(2)));
        assert!(!batch_open(&req, &small(3)), "full");
        let big = vec![Message {
            body: Cow::Owned(vec![b'x'; FILL_MAX_BYTES]),
            ..Default::default()
        }];
        assert!(!batch_open(&req, &big), "over the byte bound");
    }

    #[test]
    fn home_shard_is_stable_and_spreads_queues() {
        // Fixed values: a change would move FIFO queues between shards of existing data.
        assert_eq!(home_shard("q.fifo", 1), 0);
        assert_eq!(home_shard("jobs.fifo", 4), 3);
        assert_eq!(home_shard("payments.fifo", 4), 2);
        let mut seen = [0usize; 4];
        for g in 0..400 {
            seen[home_shard(&format!("queue-{g}.fifo"), 4) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 50), "{seen:?}");
    }
}
