//! SQS HTTP connections on this shard's thread: shard 0's SQS listener (registered once
//! the gateway is up), dealing accepted connections over the shards, and pumping this
//! shard's [`HttpHost`], whose calls are routed as a binary client's requests. The calls
//! of the gateway's own tasks (admin endpoint, move tasks; [`crate::shared::GatewayCalls`])
//! are taken here too and routed the same way.
//!
//! Owns [`HttpPump`]. Promises: at most `sqs_max_connections` SQS connections are open
//! across the shards (beyond it they wait in the kernel's backlog), and every one counted
//! in `Shared::http_connections` is uncounted exactly once when it ends.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use mio::net::TcpListener;
use mio::Interest;
use spool_protocol::Response;
use tokio::sync::oneshot;

use super::{shutting_down, Envelope, ReplyTo, Shard, FIRST_HTTP, SQS_LISTENER};
use crate::sqs::host::HttpHost;

/// Passes over the SQS connections per pump, so a busy host cannot starve the loop.
const PUMP_PASSES_MAX: usize = 4;

/// The SQS side of one shard.
pub(super) struct HttpPump {
    /// Shard 0's SQS listener, registered once the gateway is up ([`Shard::listen_sqs`]).
    pub(super) listener: Option<TcpListener>,
    registered: bool,
    /// Accepting SQS connections waits: the connection limit is reached.
    paused: bool,
    /// An SQS accept failed (e.g. EMFILE): retry on the next tick.
    pub(super) accept_retry: bool,
    accept_rr: usize,
    /// This shard's SQS connections (made when the first one arrives).
    pub(super) host: Option<HttpHost>,
    /// Calls of the gateway's own tasks routed from here, by token: where each reply goes.
    gateway_replies: HashMap<u64, oneshot::Sender<Response<'static>>>,
}

impl HttpPump {
    pub(super) fn new(listener: Option<TcpListener>) -> HttpPump {
        HttpPump {
            listener,
            registered: false,
            paused: false,
            accept_retry: false,
            accept_rr: 0,
            host: None,
            gateway_replies: HashMap::new(),
        }
    }
}

impl Shard {
    /// Shard 0: registers the SQS listener once the gateway is up (connections wait in the
    /// backlog until then), and resumes accepting when the connection limit allows.
    pub(super) fn listen_sqs(&mut self) {
        if self.http.paused
            && self.shared.http_connections.load(Ordering::SeqCst) < self.cfg.sqs_max_connections
        {
            self.http.paused = false;
            self.accept_sqs();
        }
        if self.http.registered || self.life.is_stopping() {
            return;
        }
        let Some(l) = self.http.listener.as_mut() else {
            return;
        };
        if self.shared.gateway().is_none() {
            return;
        }
        match self
            .poll
            .registry()
            .register(l, SQS_LISTENER, Interest::READABLE)
        {
            Ok(()) => {
                self.http.registered = true;
                // Clients may be waiting in the backlog already.
                self.accept_sqs();
            }
            Err(e) => tracing::error!("cannot register the SQS listener: {e}"),
        }
    }

    /// Shard 0: accepts SQS connections and deals them round-robin over the shards, up to
    /// the connection limit (beyond it they wait in the kernel's backlog).
    pub(super) fn accept_sqs(&mut self) {
        loop {
            if self.shared.http_connections.load(Ordering::SeqCst) >= self.cfg.sqs_max_connections {
                self.http.paused = true;
                return;
            }
            let Some(l) = self.http.listener.as_ref() else {
                return;
            };
            match l.accept() {
                Ok((stream, _)) => {
                    self.shared.http_connections.fetch_add(1, Ordering::SeqCst);
                    let std_stream = std::net::TcpStream::from(std::os::fd::OwnedFd::from(stream));
                    let target = (self.http.accept_rr % self.n as usize) as u16;
                    self.http.accept_rr = self.http.accept_rr.wrapping_add(1);
                    if target == self.id {
                        self.add_http(std_stream);
                    } else {
                        self.send_env(target, Envelope::AdoptHttp(std_stream));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // EMFILE and friends: leave the rest in the backlog for the next tick.
                    tracing::warn!(shard = self.id, "sqs accept failed: {e}");
                    self.http.accept_retry = true;
                    return;
                }
            }
        }
    }

    /// Serves an SQS connection (counted in `http_connections` by the accepting shard).
    pub(super) fn add_http(&mut self, stream: std::net::TcpStream) {
        if self.http.host.is_none() {
            match self.shared.gateway() {
                Some(gw) => {
                    self.http.host = Some(HttpHost::new(gw, self.id as usize, FIRST_HTTP));
                }
                None => {
                    // The gateway stopped (shutdown): drop the connection.
                    self.shared.http_connections.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
            }
        }
        let added = match self.http.host.as_mut() {
            Some(h) => h.add(self.poll.registry(), stream),
            None => false,
        };
        if !added {
            self.shared.http_connections.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Takes the calls the gateway's own tasks queued for this shard and routes each as an
    /// SQS connection's call. Not while stopping: they wait, and fail when the shard has
    /// stopped ([`Shard::close_gateway_calls`]), as calls on a connection that stopped
    /// taking requests did.
    pub(super) fn take_gateway_calls(&mut self) {
        if self.life.is_stopping() {
            return;
        }
        let Some(queue) = self.shared.calls.get(self.id as usize) else {
            return;
        };
        for call in queue.take() {
            let token = self.router.new_token();
            let old = self.http.gateway_replies.insert(token, call.reply);
            debug_assert!(old.is_none(), "a gateway call token used twice");
            let to = ReplyTo::Gateway { token };
            if let Err(e) = call.req.check_limits() {
                self.deliver(to, Response::error(e.code(), e.to_string()));
                continue;
            }
            self.route(to, call.req);
        }
    }

    /// Whether the gateway's tasks queued calls for this shard.
    pub(super) fn has_gateway_calls(&self) -> bool {
        // While stopping, queued calls are left for `close_gateway_calls` (not taken), so
        // they must not keep the loop from sleeping either.
        !self.life.is_stopping()
            && self
                .shared
                .calls
                .get(self.id as usize)
                .is_some_and(super::super::shared::GatewayCalls::has_pending)
    }

    /// Replies to a call of the gateway's own tasks (dropped if the task stopped waiting).
    pub(super) fn deliver_gateway(&mut self, token: u64, resp: Response<'static>) {
        if let Some(reply) = self.http.gateway_replies.remove(&token) {
            let _ = reply.send(resp);
        }
    }

    /// The shard has stopped: calls still queued or out end (their tasks see the channel
    /// close), and no new one is taken.
    pub(super) fn close_gateway_calls(&mut self) {
        if let Some(queue) = self.shared.calls.get(self.id as usize) {
            queue.close();
        }
        self.http.gateway_replies.clear();
    }

    /// Polls the SQS connections that have work and routes the calls they make, until
    /// none is left (or a bound of passes, so a busy host cannot starve the loop; what is
    /// left runs next turn, which then does not sleep).
    pub(super) fn pump_http(&mut self) {
        for _ in 0..PUMP_PASSES_MAX {
            let Some(h) = self.http.host.as_mut() else {
                return;
            };
            let ended = h.run(self.poll.registry());
            if ended > 0 {
                self.shared
                    .http_connections
                    .fetch_sub(ended, Ordering::SeqCst);
            }
            let calls = h.take_calls();
            if calls.is_empty() {
                return;
            }
            for c in calls {
                let to = ReplyTo::Http { token: c.token };
                if self.life.is_stopping() {
                    // Like binary connections, which stop taking frames: nothing new is
                    // routed (a long poll parked now would never be answered).
                    self.deliver(to, shutting_down());
                    continue;
                }
                // The SQS parser bounds what it builds; the codec's limits (counts of
                // attribute names, map entries, lengths) still apply, as they would to a
                // binary client's request.
                if let Err(e) = c.req.check_limits() {
                    self.deliver(to, Response::error(e.code(), e.to_string()));
                    continue;
                }
                self.route(to, c.req);
            }
        }
    }
}
