//! Envelopes to and from the other shards: this shard's ends of the mailboxes
//! ([`crate::mailbox`]), what waits for a full one, and what arrives.
//!
//! Owns [`Mailboxes`]. Promises: an envelope for a full mailbox waits in that shard's
//! overflow, in order, and goes before any later one to the same shard; past
//! [`OVERFLOW_PAUSE`] waiting envelopes the shard stops reading sockets (connections
//! resume once the overflow is back under it); a drain takes at most [`DRAIN_MAX`]
//! envelopes per turn, so sockets are served too.

use std::collections::VecDeque;

use mio::net::TcpStream;
use spool_protocol::{ErrorCode, Response};

use super::{Envelope, ReplyTo, Shard};
use crate::mailbox::{Receiver, Sender};
use crate::shared::Shared;

/// Envelopes waiting for a full mailbox, beyond which the shard stops reading sockets.
const OVERFLOW_PAUSE: usize = 4096;
/// Envelopes taken from the inboxes per turn.
const DRAIN_MAX: usize = 4096;

/// This shard's ends of the mailboxes.
pub(super) struct Mailboxes {
    /// (sending shard, mailbox) for every other shard.
    inboxes: Vec<(u16, Receiver<Envelope>)>,
    /// Indexed by destination shard; None for this shard itself.
    outboxes: Vec<Option<Sender<Envelope>>>,
    /// Per destination shard: envelopes its full mailbox could not take yet.
    overflow: Vec<VecDeque<Envelope>>,
    /// Envelopes in `overflow`, over every shard.
    pub(super) overflow_len: usize,
    /// The last drain hit its per-turn bound.
    pub(super) inbox_backlog: bool,
}

impl Mailboxes {
    pub(super) fn new(
        inboxes: Vec<(u16, Receiver<Envelope>)>,
        outboxes: Vec<Option<Sender<Envelope>>>,
        shards: u16,
    ) -> Mailboxes {
        Mailboxes {
            inboxes,
            outboxes,
            overflow: (0..shards).map(|_| VecDeque::new()).collect(),
            overflow_len: 0,
            inbox_backlog: false,
        }
    }

    /// Tells every inbox this shard is about to sleep; false if one has mail already.
    pub(super) fn prepare_sleep(&mut self) -> bool {
        self.inboxes
            .iter_mut()
            .all(|(_, inbox)| inbox.prepare_sleep())
    }

    pub(super) fn finish_sleep(&mut self) {
        for (_, inbox) in &mut self.inboxes {
            inbox.finish_sleep();
        }
    }

    /// So much waits for full mailboxes that the shard stops reading sockets.
    pub(super) fn overloaded(&self) -> bool {
        self.overflow_len > OVERFLOW_PAUSE
    }

    fn check_overflow_len(&self) {
        debug_assert_eq!(
            self.overflow_len,
            self.overflow.iter().map(VecDeque::len).sum::<usize>(),
            "overflow_len counts the overflow"
        );
    }

    /// Sends `env` to shard `shard`, behind what waits for it already; rings its doorbell
    /// if it sleeps.
    fn send(&mut self, shared: &Shared, from: u16, shard: u16, env: Envelope) {
        let s = shard as usize;
        debug_assert_ne!(shard, from, "an envelope to this shard itself");
        if !self.overflow[s].is_empty() {
            self.overflow[s].push_back(env);
            self.overflow_len += 1;
            return;
        }
        let Some(tx) = self.outboxes.get_mut(s).and_then(Option::as_mut) else {
            tracing::error!(shard = from, "no mailbox to shard {shard}");
            return;
        };
        match tx.try_send(env) {
            Ok(bell) => {
                if bell.must_ring() {
                    let _ = shared.bells[s].notify();
                }
            }
            Err(full) => {
                self.overflow[s].push_back(full.into_inner());
                self.overflow_len += 1;
            }
        }
    }

    /// Moves what the overflow holds into mailboxes that have room again.
    fn push(&mut self, shared: &Shared) {
        if self.overflow_len == 0 {
            return;
        }
        for (s, overflow) in self.overflow.iter_mut().enumerate() {
            let Some(tx) = self.outboxes.get_mut(s).and_then(Option::as_mut) else {
                continue;
            };
            let mut pushed = false;
            while let Some(env) = overflow.pop_front() {
                match tx.try_push(env) {
                    Ok(()) => {
                        pushed = true;
                        self.overflow_len -= 1;
                    }
                    Err(full) => {
                        overflow.push_front(full.into_inner());
                        break;
                    }
                }
            }
            if pushed && tx.doorbell().must_ring() {
                let _ = shared.bells[s].notify();
            }
        }
        self.check_overflow_len();
    }

    /// Takes what waits in the inboxes, up to the per-turn bound.
    fn take(&mut self) -> Vec<Envelope> {
        let mut got = Vec::new();
        for (_, inbox) in &mut self.inboxes {
            inbox.drain(DRAIN_MAX, |env| got.push(env));
        }
        // More may wait: come back without sleeping.
        self.inbox_backlog = got.len() >= DRAIN_MAX;
        got
    }
}

impl Shard {
    pub(super) fn send_env(&mut self, shard: u16, env: Envelope) {
        self.mail.send(&self.shared, self.id, shard, env);
    }

    pub(super) fn push_overflow(&mut self) {
        if !self.mail.overloaded() && !self.conns.overload_paused.is_empty() {
            let paused = std::mem::take(&mut self.conns.overload_paused);
            self.conns.to_resume.extend(paused);
        }
        self.mail.push(&self.shared);
    }

    pub(super) fn drain_inboxes(&mut self) {
        for env in self.mail.take() {
            self.on_envelope(env);
        }
    }

    fn on_envelope(&mut self, env: Envelope) {
        match env {
            Envelope::Local { from, token, req } => {
                self.run_local(ReplyTo::Shard { shard: from, token }, req);
            }
            Envelope::Coordinate { from, token, req } => {
                let to = ReplyTo::Shard { shard: from, token };
                if self.id == 0 {
                    self.coordinate(to, &req);
                } else {
                    self.deliver(
                        to,
                        Response::error(
                            ErrorCode::InternalError,
                            "coordinate sent to a shard other than 0",
                        ),
                    );
                }
            }
            Envelope::Apply { from, token, req } => {
                self.apply_replica(ReplyTo::Shard { shard: from, token }, req);
            }
            Envelope::Reply { token, resp } => {
                if let Some(to) = self.router.remote.remove(&token) {
                    self.deliver(to, resp);
                }
            }
            Envelope::Watch {
                from,
                queue,
                until_ms,
            } => self.polls.on_watch(self.n, from, queue, until_ms),
            Envelope::Ready { from, queue } => self.on_ready(from, &queue),
            Envelope::Adopt(stream) => match stream.set_nonblocking(true) {
                Ok(()) => self.add_conn(TcpStream::from_std(stream)),
                Err(e) => tracing::warn!(shard = self.id, "cannot adopt a connection: {e}"),
            },
            Envelope::AdoptHttp(stream) => self.add_http(stream),
        }
    }
}
