//! A shard: one thread, one event loop, one engine.
//!
//! Each shard owns an [`Engine`] over `data/shard-N/`, which holds partition N of every
//! queue (the catalog is the same on every shard), and serves the client connections dealt
//! to it: shard 0 accepts every connection and deals them round-robin over the shards, so
//! producers (and the partitions they fill) spread evenly; the kernel's `SO_REUSEPORT`
//! hashing left whole shards idle with a handful of connections. One loop turn
//! ([`Shard::run`]):
//!
//! 1. wait in epoll (mio) for sockets, the shard's eventfd (mailbox doorbell and
//!    commit-thread completions) or the next timer;
//! 2. finish a group commit that came back, releasing the replies that waited for it;
//! 3. take envelopes from the other shards' mailboxes;
//! 4. read requests from ready sockets and route each one (below);
//! 5. start the next group commit with everything staged meanwhile (pipelined);
//! 6. serve long polls whose queue got messages, run timers and background steps;
//! 7. write every connection's coalesced replies.
//!
//! One file per concern, each owning its state as one struct that is a field of [`Shard`]:
//!
//! - [`conns`]: binary-protocol connections, the listener, the handshake ([`conns::Conns`]);
//! - [`http`]: SQS HTTP connections, pumped on this thread ([`http::HttpPump`]);
//! - [`route`]: where each request runs, local or on another shard ([`route::Router`]);
//! - [`mailboxes`]: envelopes to and from the other shards ([`mailboxes::Mailboxes`]);
//! - [`longpoll`]: parked receives and the watches they hold ([`longpoll::LongPolls`]);
//! - [`fanout`]: operations over several shards and how their replies merge
//!   ([`fanout::FanOut`]);
//! - [`group_commit`]: replies held until the commit that makes them durable
//!   ([`group_commit::GroupCommit`]);
//! - [`background`]: engine timers, compaction, recovery of failed partitions
//!   ([`background::Timers`]);
//! - [`stop`]: graceful shutdown ([`stop::Lifecycle`]).
//!
//! Routing (the one place a request is sent somewhere): queue-catalog changes (create,
//! delete, set attributes, purge) go to shard 0, which applies them on every shard in one
//! order; attribute reads and redrive fan out and merge; sends to a standard queue stay on
//! the shard that read them, FIFO sends go to the shard of their group (a stable hash);
//! receives are served locally first, then by the other shards in turn, then park (long
//! polling) with a watch on every other shard; deletes and visibility changes go to the
//! shard named in the receipt handle ([`crate::handle`]).
//!
//! Promises: every request gets exactly one reply, unless its connection closes first; in
//! `sync` durability a reply that acknowledges a write leaves only after the group commit
//! that made it durable, and a failed commit turns those replies into errors; memory is
//! bounded by the connection limit times the per-connection bounds (in-flight requests,
//! read and write buffers) plus the mailbox capacities; no input panics the shard.

mod background;
mod conns;
mod fanout;
mod group_commit;
mod http;
mod longpoll;
mod mailboxes;
mod route;
mod stop;

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use spool_engine::{Engine, EngineError};
use spool_protocol::message::WireError;
use spool_protocol::{ErrorCode, Request, Response};

use crate::commit::Committer;
use crate::config::{Config, Durability};
use crate::dispatch::ServerInfo;
use crate::mailbox::{Receiver, Sender};
use crate::sqs::host::HttpHost;

pub use crate::shared::Shared;
pub use route::home_shard;

use background::Timers;
use conns::Conns;
use fanout::FanOut;
use group_commit::GroupCommit;
use http::HttpPump;
use longpoll::LongPolls;
use mailboxes::Mailboxes;
use route::Router;
use stop::Lifecycle;

/// Engine timers (visibility, delays) run this often.
const TICK_MS: u64 = 10;

const LISTENER: Token = Token(0);
const BELL: Token = Token(1);
const FIRST_CONN: usize = 2;
/// SQS connections' tokens start above any binary connection's slot (Linux on 64-bit
/// targets only, as the daemon as a whole).
const SQS_LISTENER: Token = Token(1 << 40);
const FIRST_HTTP: usize = (1 << 40) + 1;

/// How a shard's loop failed.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("shard {shard}: poll failed: {source}")]
    Poll { shard: u16, source: std::io::Error },
    #[error("shard {shard}: final flush failed: {source}")]
    FinalFlush { shard: u16, source: EngineError },
    #[error("shard {shard}: final index sync failed: {source}")]
    FinalIndexSync { shard: u16, source: EngineError },
}

/// What travels between shards. Requests are already routed: the receiver runs them on
/// its own engine (`Local`) or, on shard 0, across every shard (`Coordinate`).
#[derive(Debug)]
pub enum Envelope {
    Local {
        from: u16,
        token: u64,
        req: Request<'static>,
    },
    Coordinate {
        from: u16,
        token: u64,
        req: Request<'static>,
    },
    Reply {
        token: u64,
        resp: Response<'static>,
    },
    /// A catalog change shard 0 decided: apply it as a replica.
    Apply {
        from: u16,
        token: u64,
        req: Request<'static>,
    },
    /// "I have a long poll on `queue` until `until_ms`: tell me when it has messages."
    Watch {
        from: u16,
        queue: String,
        until_ms: u64,
    },
    /// "`queue` has visible messages here." Consumes the watch.
    Ready {
        from: u16,
        queue: String,
    },
    /// A client connection accepted by shard 0, for this shard to serve.
    Adopt(std::net::TcpStream),
    /// An SQS HTTP connection accepted by shard 0, for this shard to serve.
    AdoptHttp(std::net::TcpStream),
}

/// Everything a shard thread starts with.
pub struct ShardParts {
    pub id: u16,
    pub engine: Engine,
    /// Shard 0's: it accepts for every shard.
    pub listener: Option<std::net::TcpListener>,
    /// (sending shard, mailbox) for every other shard.
    pub inboxes: Vec<(u16, Receiver<Envelope>)>,
    /// Indexed by destination shard; None for this shard itself.
    pub outboxes: Vec<Option<Sender<Envelope>>>,
    pub shared: Arc<Shared>,
    pub cfg: Arc<Config>,
    pub committer: Committer,
    /// Shard 0's, with the SQS API on: it accepts SQS connections for every shard.
    pub sqs_listener: Option<std::net::TcpListener>,
}

/// Where a reply goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplyTo {
    /// A client request: connection slot, its generation, the request id.
    Conn {
        slot: usize,
        generation: u64,
        id: u64,
    },
    /// A request another shard routed here.
    Shard { shard: u16, token: u64 },
    /// A call of one of this shard's SQS connections ([`HttpHost`]), by token.
    Http { token: u64 },
    /// A call of the gateway's own tasks (admin endpoint, move tasks), by token.
    Gateway { token: u64 },
    /// One part of an operation this shard coordinates.
    Op { op: u64, part: usize },
}

pub struct Shard {
    id: u16,
    n: u16,
    engine: Engine,
    info: ServerInfo,
    cfg: Arc<Config>,
    shared: Arc<Shared>,
    poll: Poll,
    conns: Conns,
    http: HttpPump,
    mail: Mailboxes,
    router: Router,
    polls: LongPolls,
    ops: FanOut,
    commit: GroupCommit,
    timers: Timers,
    life: Lifecycle,
    events_capacity: usize,
}

fn wire_err(code: ErrorCode, msg: impl Into<String>) -> WireError<'static> {
    WireError::new(code, Cow::Owned(msg.into()))
}

/// Whether the caller behind `to` has gone: an SQS call whose HTTP connection closed.
/// (A closed binary connection drops its long polls in `Shard::close_conn`.) A free
/// function over the shard's HTTP host, so that it can be asked while the parked long
/// polls are borrowed.
fn abandoned(http: Option<&HttpHost>, to: &ReplyTo) -> bool {
    match to {
        ReplyTo::Http { token } => http.is_some_and(|h| h.call_abandoned(*token)),
        _ => false,
    }
}

fn is_nonempty_receive(r: &Response<'_>) -> bool {
    match r {
        Response::Received { messages } => !messages.is_empty(),
        _ => true,
    }
}

fn empty_received() -> Response<'static> {
    Response::Received {
        messages: Vec::new(),
    }
}

fn shutting_down() -> Response<'static> {
    Response::error(ErrorCode::ShuttingDown, "the server is shutting down")
}

impl Shard {
    pub fn new(p: ShardParts) -> std::io::Result<Shard> {
        let poll = Poll::new()?;
        let listener = match p.listener {
            Some(l) => {
                l.set_nonblocking(true)?;
                let mut l = TcpListener::from_std(l);
                poll.registry()
                    .register(&mut l, LISTENER, Interest::READABLE)?;
                Some(l)
            }
            None => None,
        };
        let bell = p.shared.bells[p.id as usize].clone();
        let bell_fd = bell.as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&bell_fd), BELL, Interest::READABLE)?;
        let n = p.shared.bells.len() as u16;
        let now = p.engine.now_ms();
        // Non-blocking already (the gateway bound it so).
        let sqs_listener = p.sqs_listener.map(TcpListener::from_std);
        Ok(Shard {
            id: p.id,
            n,
            info: ServerInfo {
                max_frame: p.cfg.max_frame,
                shard_count: n,
                shard: p.id,
            },
            engine: p.engine,
            cfg: p.cfg,
            shared: p.shared,
            poll,
            conns: Conns::new(listener),
            http: HttpPump::new(sqs_listener),
            mail: Mailboxes::new(p.inboxes, p.outboxes, n),
            router: Router::new(),
            polls: LongPolls::default(),
            ops: FanOut::default(),
            commit: GroupCommit::new(p.committer, now),
            timers: Timers::new(now),
            life: Lifecycle::Running,
            events_capacity: 1024,
        })
    }

    /// Runs the loop until shutdown completes.
    pub fn run(mut self) -> Result<(), ShardError> {
        let mut events = Events::with_capacity(self.events_capacity);
        let mut readable = Vec::new();
        loop {
            self.wait(&mut events)?;
            readable.clear();
            self.on_events(&events, &mut readable);
            self.complete_flush();
            self.background();
            self.drain_inboxes();
            for &slot in &readable {
                self.read_conn(slot);
            }
            self.listen_sqs();
            // SQS requests read now join this turn's group commit.
            self.pump_http();
            self.take_gateway_calls();
            self.resume_conns();
            if self.shared.shutdown.load(Ordering::Relaxed) && !self.life.is_stopping() {
                self.begin_stop();
            }
            self.maybe_flush();
            self.serve_wakes();
            self.push_overflow();
            // Replies that arrived this turn (commits, other shards, long polls).
            self.pump_http();
            self.write_conns();
            if self.life.is_stopping() && self.stop_step() {
                return self.finish_stop();
            }
        }
    }

    /// Sleeps in epoll until an event or the next deadline (not at all when work waits);
    /// the mailboxes are told first, so a sender rings the doorbell.
    fn wait(&mut self, events: &mut Events) -> Result<(), ShardError> {
        let timeout = self.timeout();
        let mut sleep = !timeout.is_zero();
        if sleep {
            sleep = self.mail.prepare_sleep();
        }
        let wait = if sleep { timeout } else { Duration::ZERO };
        if let Err(e) = self.poll.poll(events, Some(wait)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(ShardError::Poll {
                    shard: self.id,
                    source: e,
                });
            }
        }
        self.mail.finish_sleep();
        Ok(())
    }

    /// Sorts this turn's readiness events: accepts now, binary connections' reads into
    /// `readable` (served after the mailboxes), writes into the write list.
    fn on_events(&mut self, events: &Events, readable: &mut Vec<usize>) {
        for ev in events {
            match ev.token() {
                LISTENER => self.accept(),
                SQS_LISTENER => self.accept_sqs(),
                Token(t) if t >= FIRST_HTTP => {
                    if let Some(h) = &self.http.host {
                        let readable = ev.is_readable() || ev.is_read_closed() || ev.is_error();
                        let writable = ev.is_writable() || ev.is_write_closed();
                        h.on_event(t, readable, writable);
                    }
                }
                BELL => {
                    let _ = self.shared.bells[self.id as usize].drain();
                }
                Token(t) => {
                    let slot = t - FIRST_CONN;
                    if ev.is_writable() || ev.is_write_closed() {
                        self.conns.to_write.push(slot);
                    }
                    if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                        readable.push(slot);
                    }
                }
            }
        }
    }

    fn now(&self) -> u64 {
        self.engine.now_ms()
    }

    /// How long the next poll may sleep (zero when work waits).
    fn timeout(&self) -> Duration {
        if !self.conns.to_resume.is_empty()
            || self.mail.overflow_len > 0
            || !self.polls.wake.is_empty()
            || self.mail.inbox_backlog
            || self.http.host.as_ref().is_some_and(HttpHost::has_ready)
            || self.has_gateway_calls()
        {
            return Duration::ZERO;
        }
        let now = self.now();
        let mut next = self.timers.last_tick_ms + TICK_MS;
        if let Durability::Batch(d) = self.cfg.durability {
            if self.commit.has_staged() {
                next = next.min(self.commit.last_flush_ms + d.as_millis() as u64);
            }
        }
        if let Some(d) = self.polls.next_deadline_ms() {
            next = next.min(d);
        }
        let wait = Duration::from_millis(next.saturating_sub(now));
        match self.http.host.as_ref().and_then(HttpHost::next_deadline) {
            Some(t) => wait.min(t.saturating_duration_since(std::time::Instant::now())),
            None => wait,
        }
    }

    /// The one way a reply leaves: to a connection, another shard, an SQS call, or a part
    /// of an operation this shard coordinates.
    fn deliver(&mut self, to: ReplyTo, resp: Response<'static>) {
        match to {
            ReplyTo::Conn {
                slot,
                generation,
                id,
            } => self.deliver_conn(slot, generation, id, &resp),
            ReplyTo::Shard { shard, token } => {
                self.send_env(shard, Envelope::Reply { token, resp });
            }
            ReplyTo::Http { token } => {
                if let Some(h) = &self.http.host {
                    h.complete(token, resp);
                }
            }
            ReplyTo::Gateway { token } => self.deliver_gateway(token, resp),
            ReplyTo::Op { op, part } => self.op_part(op, part, resp),
        }
    }
}
