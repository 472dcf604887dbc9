//! A shard: one thread, one event loop, one engine.
//!
//! Each shard owns an [`Engine`] over `data/shard-N/`, which holds partition N of every
//! queue (the catalog is the same on every shard), and serves the client connections dealt
//! to it: shard 0 accepts every connection and deals them round-robin over the shards, so
//! producers (and the partitions they fill) spread evenly; the kernel's `SO_REUSEPORT`
//! hashing left whole shards idle with a handful of connections. One loop turn:
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

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use spool_engine::Engine;
use spool_protocol::message::{Map, SendEntry, VisibilityEntry, WireError};
use spool_protocol::{ErrorCode, Request, Response, SendOk, MAX_VERSION, MIN_VERSION, VERSION};

use crate::commit::Committer;
use crate::config::{Config, Durability};
use crate::conn::{Conn, Stream, INTERNAL_MAX_IN_FLIGHT, WRITE_LIMIT, WRITE_PAUSE};
use crate::dispatch::{dispatch, ServerInfo};
use crate::eventfd::EventFd;
use crate::handle;
use crate::mailbox::{Receiver, Sender};
use crate::sqs::host::HttpHost;

/// Longest long poll (SQS: 20 s).
pub const MAX_WAIT_MS: u32 = 20_000;
/// Engine timers (visibility, delays) run this often.
const TICK_MS: u64 = 10;
/// In `batch` durability, a flush starts before its interval ends once this many body
/// bytes are staged (a bound on the memory staged sends hold between flushes). At 32 MiB,
/// batch buffers grew to 64 MiB of capacity and every partition's pool, retained batch and
/// staging buffer kept that much: 440–610 MiB of heap for one queue fed at ~400 MB/s;
/// at 8 MiB (with the pool's cap, `partition.rs`) 180–280 MiB, at the same throughput
/// within this VM's noise (`docs/benchmarks.md`, the batch-mode memory probe).
const BATCH_FLUSH_BYTES: usize = 8 << 20;
/// Index headers are synced this often.
const SYNC_INDEX_MS: u64 = 1_000;
/// Compaction is retried this often when it had nothing to do.
const COMPACT_IDLE_MS: u64 = 500;
/// Keepalive of client connections: first probe after 60 s idle, then every 10 s, dead
/// after 6 unanswered.
const TCP_KEEPALIVE: socket2::TcpKeepalive = socket2::TcpKeepalive::new()
    .with_time(Duration::from_secs(60))
    .with_interval(Duration::from_secs(10))
    .with_retries(6);
/// A partition failed by an I/O error is reopened at the next tick; if that fails (the
/// disk is still full), again after this long.
const RECOVER_RETRY_MS: u64 = 250;
/// Units of work per compaction step.
const COMPACT_BUDGET: usize = 256;
/// Envelopes waiting for a full mailbox, beyond which the shard stops reading sockets.
const OVERFLOW_PAUSE: usize = 4096;
/// How long shutdown waits for in-flight work before it gives up on it.
const SHUTDOWN_GRACE_MS: u64 = 10_000;

const LISTENER: Token = Token(0);
const BELL: Token = Token(1);
const FIRST_CONN: usize = 2;
/// SQS connections' tokens start above any binary connection's slot (Linux on 64-bit
/// targets only, as the daemon as a whole).
const SQS_LISTENER: Token = Token(1 << 40);
const FIRST_HTTP: usize = (1 << 40) + 1;

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

/// State shared by every shard (and the daemon's control thread).
pub struct Shared {
    pub bells: Vec<Arc<EventFd>>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub shutdown: AtomicBool,
    pub drained: AtomicUsize,
    pub connections: AtomicUsize,
    /// SQS HTTP connections open, on every shard.
    pub http_connections: AtomicUsize,
    /// The gateway's shared state, once its thread is up (None when neither the SQS API
    /// nor the admin endpoint is on, and again after it stopped).
    pub gateway: std::sync::Mutex<Option<Arc<crate::sqs::Gateway>>>,
}

impl Shared {
    /// Asks every shard to shut down gracefully.
    pub fn request_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for b in &self.bells {
            let _ = b.notify();
        }
    }
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
    /// Server ends of the daemon's internal connections (the SQS gateway's).
    pub internal: Vec<std::os::unix::net::UnixStream>,
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
    /// One part of an operation this shard coordinates.
    Op { op: u64, part: usize },
}

/// How the parts of a fan-out become one reply.
#[derive(Debug, Clone, Copy)]
enum Merge {
    /// The first error (shard 0's first), else part 0's reply.
    FirstError,
    /// Approximate counts summed; everything else from part 0.
    Attributes,
    /// Moved counts summed.
    Redriven,
}

/// A batch split over shards: which entries each part carries.
#[derive(Debug, Clone, Copy)]
enum SplitKind {
    Send,
    Delete,
    Visibility,
}

enum Entry {
    Sent(Result<SendOk, WireError<'static>>),
    Unit(Result<(), WireError<'static>>),
}

enum OpKind {
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
    },
    /// A parked receive asking a shard that said it has messages.
    ParkedTry { parked: u64 },
}

/// One shard's share of a split batch: the shard, the entries' indices, the entries.
type Part<T> = (u16, Vec<usize>, Vec<T>);

/// Adds entry `i` to shard `shard`'s part, keeping first-seen shard order.
fn push_part<T>(parts: &mut Vec<Part<T>>, shard: u16, i: usize, item: T) {
    match parts.iter_mut().find(|(x, _, _)| *x == shard) {
        Some((_, idx, items)) => {
            idx.push(i);
            items.push(item);
        }
        None => parts.push((shard, vec![i], vec![item])),
    }
}

struct Op {
    to: ReplyTo,
    kind: OpKind,
}

/// A long poll waiting for messages.
struct Parked {
    id: u64,
    to: ReplyTo,
    queue: String,
    req: Request<'static>,
    deadline_ms: u64,
    /// A try on another shard is out.
    busy: bool,
}

pub struct Shard {
    id: u16,
    n: u16,
    engine: Engine,
    info: ServerInfo,
    cfg: Arc<Config>,
    shared: Arc<Shared>,
    poll: Poll,
    listener: Option<TcpListener>,
    /// The shard the next accepted connection goes to.
    accept_rr: usize,
    /// Shard 0's SQS listener, registered once the gateway is up ([`Self::listen_sqs`]).
    sqs_listener: Option<TcpListener>,
    sqs_registered: bool,
    /// Accepting SQS connections waits: the connection limit is reached.
    sqs_paused: bool,
    /// An SQS accept failed (e.g. EMFILE): retry on the next tick.
    sqs_accept_retry: bool,
    sqs_accept_rr: usize,
    /// This shard's SQS connections (made when the first one arrives).
    http: Option<HttpHost>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    next_generation: u64,
    inboxes: Vec<(u16, Receiver<Envelope>)>,
    outboxes: Vec<Option<Sender<Envelope>>>,
    overflow: Vec<VecDeque<Envelope>>,
    overflow_len: usize,
    committer: Committer,
    /// Replies waiting for the next group commit to start and finish.
    after_flush: Vec<(ReplyTo, Response<'static>)>,
    /// Replies waiting for the group commit that is out.
    in_flush: Vec<(ReplyTo, Response<'static>)>,
    /// Queues with sends staged since the last commit started / in the commit out.
    dirty: HashSet<String>,
    flushing_dirty: HashSet<String>,
    /// Queues that may have visible messages for a long poll or a watch.
    wake: HashSet<String>,
    ops: HashMap<u64, Op>,
    /// Requests sent to other shards, by token.
    remote: HashMap<u64, ReplyTo>,
    next_token: u64,
    parked: Vec<Parked>,
    /// Per queue, per shard: the watch that shard holds here (until, ms).
    watchers: HashMap<String, Vec<u64>>,
    /// Per queue, per shard: the watch this shard holds there.
    watch_sent: HashMap<String, Vec<u64>>,
    /// Connections with replies to write / that paused and may take frames again.
    to_write: Vec<usize>,
    to_resume: Vec<usize>,
    /// Connections paused because the mailboxes overflowed; resumed when they drain.
    overload_paused: Vec<usize>,
    /// An accept failed (e.g. EMFILE): retry on the next tick, since the edge is spent.
    accept_retry: bool,
    receive_rr: usize,
    last_tick_ms: u64,
    last_sync_ms: u64,
    last_flush_ms: u64,
    next_compact_ms: u64,
    /// When to try reopening partitions that a failed group commit left failed.
    next_recover_ms: u64,
    stopping: bool,
    stop_deadline_ms: u64,
    reported_drained: bool,
    /// The last drain hit its per-turn bound.
    inbox_backlog: bool,
    events_capacity: usize,
}

fn conn_token(slot: usize) -> Token {
    Token(slot + FIRST_CONN)
}

/// Stable across restarts and builds (FNV-1a), so a FIFO group always lands on the same
/// shard of a data directory.
pub fn shard_of_group(group: &str, shards: u16) -> u16 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in group.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % shards as u64) as u16
}

fn wire_err(code: ErrorCode, msg: impl Into<String>) -> WireError<'static> {
    WireError::new(code, Cow::Owned(msg.into()))
}

/// Whether the caller behind `to` has gone: an SQS call whose HTTP connection closed.
/// (A closed binary connection drops its long polls in `Shard::close_conn`.) A free
/// function over the shard's HTTP host, so that it can be asked while `parked` is
/// borrowed.
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
        let internal = p.internal;
        let sqs_listener = p.sqs_listener.map(|l| {
            // Non-blocking already (the gateway bound it so).
            TcpListener::from_std(l)
        });
        let mut shard = Shard {
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
            listener,
            accept_rr: 0,
            sqs_listener,
            sqs_registered: false,
            sqs_paused: false,
            sqs_accept_retry: false,
            sqs_accept_rr: 0,
            http: None,
            conns: Vec::new(),
            free: Vec::new(),
            next_generation: 1,
            inboxes: p.inboxes,
            outboxes: p.outboxes,
            overflow: (0..n).map(|_| VecDeque::new()).collect(),
            overflow_len: 0,
            committer: p.committer,
            after_flush: Vec::new(),
            in_flush: Vec::new(),
            dirty: HashSet::new(),
            flushing_dirty: HashSet::new(),
            wake: HashSet::new(),
            ops: HashMap::new(),
            remote: HashMap::new(),
            next_token: 1,
            parked: Vec::new(),
            watchers: HashMap::new(),
            watch_sent: HashMap::new(),
            to_write: Vec::new(),
            to_resume: Vec::new(),
            overload_paused: Vec::new(),
            accept_retry: false,
            receive_rr: 0,
            last_tick_ms: now,
            last_sync_ms: now,
            last_flush_ms: now,
            next_compact_ms: now,
            next_recover_ms: now,
            stopping: false,
            stop_deadline_ms: 0,
            reported_drained: false,
            inbox_backlog: false,
            events_capacity: 1024,
        };
        for s in internal {
            s.set_nonblocking(true)?;
            shard.add_conn(Stream::Unix(mio::net::UnixStream::from_std(s)), true);
        }
        Ok(shard)
    }

    /// Runs the loop until shutdown completes.
    pub fn run(mut self) -> Result<(), String> {
        let mut events = Events::with_capacity(self.events_capacity);
        loop {
            let timeout = self.timeout();
            let mut sleep = timeout != Some(Duration::ZERO);
            if sleep {
                for (_, inbox) in self.inboxes.iter_mut() {
                    if !inbox.prepare_sleep() {
                        sleep = false;
                        break;
                    }
                }
            }
            let wait = if sleep { timeout } else { Some(Duration::ZERO) };
            if let Err(e) = self.poll.poll(&mut events, wait) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(format!("shard {}: poll failed: {e}", self.id));
                }
            }
            for (_, inbox) in self.inboxes.iter_mut() {
                inbox.finish_sleep();
            }
            let mut readable = Vec::new();
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept(),
                    SQS_LISTENER => self.accept_sqs(),
                    Token(t) if t >= FIRST_HTTP => {
                        if let Some(h) = &self.http {
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
                            self.to_write.push(slot);
                        }
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            readable.push(slot);
                        }
                    }
                }
            }
            self.complete_flush();
            self.background();
            self.drain_inboxes();
            for slot in readable {
                self.read_conn(slot);
            }
            self.listen_sqs();
            // SQS requests read now join this turn's group commit.
            self.pump_http();
            self.resume_conns();
            if self.shared.shutdown.load(Ordering::Relaxed) && !self.stopping {
                self.begin_stop();
            }
            self.maybe_flush();
            self.serve_wakes();
            self.push_overflow();
            // Replies that arrived this turn (commits, other shards, long polls).
            self.pump_http();
            self.write_conns();
            if self.stopping && self.stop_step() {
                return self.finish_stop();
            }
        }
    }

    fn now(&self) -> u64 {
        self.engine.now_ms()
    }

    fn timeout(&self) -> Option<Duration> {
        if !self.to_resume.is_empty()
            || self.overflow_len > 0
            || !self.wake.is_empty()
            || self.inbox_backlog
            || self.http.as_ref().is_some_and(HttpHost::has_ready)
        {
            return Some(Duration::ZERO);
        }
        let now = self.now();
        let mut next = self.last_tick_ms + TICK_MS;
        if let Durability::Batch(d) = self.cfg.durability {
            if !self.dirty.is_empty() || !self.after_flush.is_empty() {
                next = next.min(self.last_flush_ms + d.as_millis() as u64);
            }
        }
        for p in &self.parked {
            next = next.min(p.deadline_ms);
        }
        let wait = Duration::from_millis(next.saturating_sub(now));
        match self.http.as_ref().and_then(HttpHost::next_deadline) {
            Some(t) => Some(wait.min(t.saturating_duration_since(std::time::Instant::now()))),
            None => Some(wait),
        }
    }

    // ----- connections ------------------------------------------------------------------

    fn accept(&mut self) {
        loop {
            let Some(listener) = self.listener.as_ref() else {
                return;
            };
            match listener.accept() {
                Ok((stream, _)) => {
                    let target = (self.accept_rr % self.n as usize) as u16;
                    self.accept_rr = self.accept_rr.wrapping_add(1);
                    if target == self.id {
                        self.add_conn(Stream::Tcp(stream), false);
                    } else {
                        // mio's stream is a plain socket underneath; hand over the fd.
                        let std_stream =
                            std::net::TcpStream::from(std::os::fd::OwnedFd::from(stream));
                        self.send_env(target, Envelope::Adopt(std_stream));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // EMFILE and friends: leave the rest in the backlog for the next tick.
                    tracing::warn!(shard = self.id, "accept failed: {e}");
                    self.accept_retry = true;
                    return;
                }
            }
        }
    }

    fn add_conn(&mut self, mut stream: Stream, internal: bool) {
        let count = self.shared.connections.fetch_add(1, Ordering::SeqCst);
        if (count >= self.cfg.max_connections && !internal) || self.stopping {
            self.shared.connections.fetch_sub(1, Ordering::SeqCst);
            let (code, msg) = if self.stopping {
                (ErrorCode::ShuttingDown, "the server is shutting down")
            } else {
                (ErrorCode::Busy, "too many connections")
            };
            let mut out = Vec::new();
            if Response::error(code, msg).encode(0, &mut out).is_ok() {
                let _ = stream.write(&out);
            }
            return;
        }
        if let Stream::Tcp(s) = &stream {
            let _ = s.set_nodelay(true);
            // A peer that vanished without FIN or RST (power loss, a dropped NAT entry)
            // would otherwise hold its connection slot forever: keepalive probes find it
            // dead after about two idle minutes and the read then fails.
            let _ = socket2::SockRef::from(s).set_tcp_keepalive(&TCP_KEEPALIVE);
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.conns.push(None);
                self.conns.len() - 1
            }
        };
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            conn_token(slot),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            tracing::warn!(shard = self.id, "cannot register a connection: {e}");
            self.shared.connections.fetch_sub(1, Ordering::SeqCst);
            self.free.push(slot);
            return;
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        self.conns[slot] = Some(Conn::new(stream, generation, internal));
        // The client may have written already; edge-triggered epoll will not say so again.
        self.read_conn(slot);
    }

    // ----- SQS connections --------------------------------------------------------------

    /// Shard 0: registers the SQS listener once the gateway is up (connections wait in the
    /// backlog until then), and resumes accepting when the connection limit allows.
    fn listen_sqs(&mut self) {
        if self.sqs_paused
            && self.shared.http_connections.load(Ordering::SeqCst) < self.cfg.sqs_max_connections
        {
            self.sqs_paused = false;
            self.accept_sqs();
        }
        if self.sqs_registered || self.stopping {
            return;
        }
        let Some(l) = self.sqs_listener.as_mut() else {
            return;
        };
        if lock_gateway(&self.shared).is_none() {
            return;
        }
        match self
            .poll
            .registry()
            .register(l, SQS_LISTENER, Interest::READABLE)
        {
            Ok(()) => {
                self.sqs_registered = true;
                // Clients may be waiting in the backlog already.
                self.accept_sqs();
            }
            Err(e) => tracing::error!("cannot register the SQS listener: {e}"),
        }
    }

    /// Shard 0: accepts SQS connections and deals them round-robin over the shards, up to
    /// the connection limit (beyond it they wait in the kernel's backlog).
    fn accept_sqs(&mut self) {
        loop {
            if self.shared.http_connections.load(Ordering::SeqCst) >= self.cfg.sqs_max_connections {
                self.sqs_paused = true;
                return;
            }
            let Some(l) = self.sqs_listener.as_ref() else {
                return;
            };
            match l.accept() {
                Ok((stream, _)) => {
                    self.shared.http_connections.fetch_add(1, Ordering::SeqCst);
                    let std_stream = std::net::TcpStream::from(std::os::fd::OwnedFd::from(stream));
                    let target = (self.sqs_accept_rr % self.n as usize) as u16;
                    self.sqs_accept_rr = self.sqs_accept_rr.wrapping_add(1);
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
                    self.sqs_accept_retry = true;
                    return;
                }
            }
        }
    }

    /// Serves an SQS connection (counted in `http_connections` by the accepting shard).
    fn add_http(&mut self, stream: std::net::TcpStream) {
        if self.http.is_none() {
            match lock_gateway(&self.shared) {
                Some(gw) => self.http = Some(HttpHost::new(gw, self.id as usize, FIRST_HTTP)),
                None => {
                    // The gateway stopped (shutdown): drop the connection.
                    self.shared.http_connections.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
            }
        }
        let added = match self.http.as_mut() {
            Some(h) => h.add(self.poll.registry(), stream),
            None => false,
        };
        if !added {
            self.shared.http_connections.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Polls the SQS connections that have work and routes the calls they make, until
    /// none is left (or a bound of passes, so a busy host cannot starve the loop; what is
    /// left runs next turn, which then does not sleep).
    fn pump_http(&mut self) {
        for _ in 0..4 {
            let Some(h) = self.http.as_mut() else {
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
                if self.stopping {
                    // Like binary connections, which stop taking frames: nothing new is
                    // routed (a long poll parked now would never be answered).
                    self.deliver(
                        to,
                        Response::error(ErrorCode::ShuttingDown, "the server is shutting down"),
                    );
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

    fn close_conn(&mut self, slot: usize) {
        let Some(mut c) = self.conns.get_mut(slot).and_then(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.stream);
        self.shared.connections.fetch_sub(1, Ordering::SeqCst);
        self.free.push(slot);
        let generation = c.generation;
        // Long polls of a closed connection would take messages nobody reads.
        self.parked.retain(|p| {
            !matches!(p.to, ReplyTo::Conn { slot: s, generation: g, .. } if s == slot && g == generation)
        });
    }

    fn read_conn(&mut self, slot: usize) {
        let max_frame = self.cfg.max_frame as usize;
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if c.closing {
            return;
        }
        if c.paused {
            // Read later, when it resumes.
            c.may_have_more = true;
        } else {
            if let Err(e) = c.fill(max_frame) {
                tracing::debug!(shard = self.id, "connection read error: {e}");
                self.close_conn(slot);
                return;
            }
        }
        self.take_frames(slot);
    }

    /// Takes whole frames off a connection's buffer until it runs dry or a bound says stop.
    fn take_frames(&mut self, slot: usize) {
        let max_frame = self.cfg.max_frame as usize;
        let max_in_flight = self.cfg.max_in_flight;
        loop {
            let overloaded = self.overflow_len > OVERFLOW_PAUSE;
            let stopping = self.stopping;
            let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                return;
            };
            if c.closing || stopping {
                return;
            }
            let limit = if c.internal {
                INTERNAL_MAX_IN_FLIGHT
            } else {
                max_in_flight
            };
            if c.in_flight >= limit || c.pending_out() > WRITE_PAUSE || overloaded {
                c.paused = true;
                if overloaded {
                    self.overload_paused.push(slot);
                }
                return;
            }
            c.paused = false;
            let generation = c.generation;
            let span = match c.next_frame_span(max_frame) {
                Ok(None) => {
                    if c.may_have_more && !c.eof {
                        // The socket may hold more than the buffer did.
                        if let Err(e) = c.fill(max_frame) {
                            tracing::debug!(shard = self.id, "connection read error: {e}");
                            self.close_conn(slot);
                            return;
                        }
                        continue;
                    }
                    if c.eof && c.in_flight == 0 {
                        c.closing = true;
                        self.to_write.push(slot);
                    }
                    return;
                }
                Err(e) => {
                    // The byte stream cannot be trusted any more: say why, then close.
                    let _ = Response::error(e.code(), e.to_string()).encode(0, c.out());
                    c.closing = true;
                    self.to_write.push(slot);
                    return;
                }
                Ok(Some(span)) => span,
            };
            c.in_flight += 1;
            let internal = c.internal;
            // The request borrows the read buffer while it is served (see `route`).
            let buf = c.lend_rbuf();
            let fatal = self.serve_frame(slot, generation, internal, &buf[span.0..][..span.1]);
            if let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) {
                if c.generation == generation {
                    c.restore_rbuf(buf);
                }
            }
            if fatal {
                self.close_after_write(slot);
                return;
            }
        }
    }

    /// Decodes one whole frame (`bytes`, from a connection's read buffer) and serves it.
    /// Returns true if the frame was so malformed that the stream cannot be trusted.
    fn serve_frame(&mut self, slot: usize, generation: u64, internal: bool, bytes: &[u8]) -> bool {
        // next_frame_span cut exactly this frame, so it decodes again.
        let Ok(Some((frame, _))) = spool_protocol::decode_frame(bytes, usize::MAX) else {
            debug_assert!(false, "a frame that decoded once failed to decode again");
            let to = ReplyTo::Conn {
                slot,
                generation,
                id: 0,
            };
            self.deliver(
                to,
                Response::error(
                    ErrorCode::InternalError,
                    "a request frame could not be read",
                ),
            );
            return true;
        };
        let (id, req) = (frame.request_id, Request::from_frame(&frame));
        if let (Ok(r), false) = (&req, internal) {
            // The gateway's calls are counted as SQS actions, not twice.
            self.shared.metrics.binary[self.id as usize].count(r.opcode().name());
        }
        let to = ReplyTo::Conn {
            slot,
            generation,
            id,
        };
        match req {
            Ok(req) => {
                self.on_client_request(slot, to, req);
                false
            }
            Err(e) => {
                let fatal = e.is_fatal();
                self.deliver(to, Response::error(e.code(), e.to_string()));
                fatal
            }
        }
    }

    fn close_after_write(&mut self, slot: usize) {
        if let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) {
            c.closing = true;
            self.to_write.push(slot);
        }
    }

    fn resume_conns(&mut self) {
        for slot in std::mem::take(&mut self.to_resume) {
            let paused = self
                .conns
                .get(slot)
                .and_then(Option::as_ref)
                .is_some_and(|c| c.paused);
            if paused {
                self.take_frames(slot);
            }
        }
    }

    fn write_conns(&mut self) {
        let mut slots = std::mem::take(&mut self.to_write);
        slots.sort_unstable();
        slots.dedup();
        for slot in slots {
            let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            match c.write_out() {
                Ok(true) => {
                    if c.closing {
                        self.close_conn(slot);
                    } else if c.paused {
                        self.to_resume.push(slot);
                    }
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::debug!(shard = self.id, "connection write error: {e}");
                    self.close_conn(slot);
                }
            }
        }
    }

    /// The handshake, then routing.
    fn on_client_request(&mut self, slot: usize, to: ReplyTo, req: Request<'_>) {
        let (hello_done, internal) = self
            .conns
            .get(slot)
            .and_then(Option::as_ref)
            .map_or((false, false), |c| (c.hello_done, c.internal));
        match req {
            Request::Hello { .. } if hello_done => self.deliver(
                to,
                Response::error(
                    ErrorCode::InvalidParameter,
                    "this connection has completed its Hello already",
                ),
            ),
            Request::Hello {
                min_version,
                max_version,
                api_key,
            } => {
                if min_version > VERSION || max_version < VERSION {
                    self.deliver(
                        to,
                        Response::error(
                            ErrorCode::UnsupportedVersion,
                            format!(
                                "no protocol version in common: the client speaks \
                                 {min_version}..={max_version}, the server \
                                 {MIN_VERSION}..={MAX_VERSION}"
                            ),
                        ),
                    );
                    self.close_after_write(slot);
                    return;
                }
                let keys = &self.cfg.api_keys;
                if !keys.is_empty()
                    && !internal
                    && !api_key
                        .as_deref()
                        .is_some_and(|k| keys.iter().any(|good| constant_time_eq(good, k)))
                {
                    self.deliver(
                        to,
                        Response::error(ErrorCode::Unauthorized, "missing or wrong API key"),
                    );
                    self.close_after_write(slot);
                    return;
                }
                if let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) {
                    c.hello_done = true;
                }
                self.run_local(
                    to,
                    Request::Hello {
                        min_version,
                        max_version,
                        api_key: None,
                    },
                );
            }
            _ if !hello_done => {
                self.deliver(
                    to,
                    Response::error(
                        ErrorCode::HandshakeRequired,
                        "the first request on a connection must be Hello",
                    ),
                );
                self.close_after_write(slot);
            }
            req => self.route(to, req),
        }
    }

    // ----- routing ----------------------------------------------------------------------

    /// Sends a request from a client of this shard where it must be served. The request
    /// may borrow the connection's read buffer: sends, deletes and visibility changes
    /// served here are served from it (a batch of sends is copied once, into the log);
    /// what travels to another shard, receives (small, and they may wait), catalog
    /// changes and fan-outs are copied out.
    fn route(&mut self, to: ReplyTo, req: Request<'_>) {
        match req {
            Request::CreateQueue { .. }
            | Request::DeleteQueue { .. }
            | Request::SetQueueAttributes { .. }
            | Request::TagQueue { .. }
            | Request::UntagQueue { .. }
            | Request::PurgeQueue { .. } => {
                let req = req.into_owned();
                if self.id == 0 {
                    self.coordinate(to, req);
                } else {
                    let token = self.remember(to);
                    self.send_env(
                        0,
                        Envelope::Coordinate {
                            from: self.id,
                            token,
                            req,
                        },
                    );
                }
            }
            Request::GetQueueAttributes { .. } => {
                self.fanout(to, req.into_owned(), Merge::Attributes)
            }
            Request::Redrive { .. } => self.fanout(to, req.into_owned(), Merge::Redriven),
            Request::Send { queue, entries } => self.route_send(to, queue, entries),
            Request::Receive { .. } => self.route_receive(to, req.into_owned()),
            Request::Delete {
                queue,
                receipt_handles,
            } => {
                self.route_by_handle(to, queue, SplitKind::Delete, receipt_handles, Vec::new());
            }
            Request::ChangeVisibility { queue, entries } => {
                let handles = entries.iter().map(|e| e.receipt_handle.clone()).collect();
                let timeouts = entries.iter().map(|e| e.timeout_s).collect();
                self.route_by_handle(to, queue, SplitKind::Visibility, handles, timeouts);
            }
            // Catalog reads: every shard holds the whole catalog.
            other => self.run_local(to, other),
        }
    }

    fn new_token(&mut self) -> u64 {
        let t = self.next_token;
        self.next_token += 1;
        t
    }

    /// A token for a request sent to another shard, whose reply goes to `to`.
    fn remember(&mut self, to: ReplyTo) -> u64 {
        let t = self.new_token();
        self.remote.insert(t, to);
        t
    }

    /// Runs `req` on shard `shard` (possibly this one) and replies to `to`.
    fn run_on(&mut self, shard: u16, to: ReplyTo, req: Request<'_>) {
        if shard == self.id {
            self.run_local(to, req);
        } else {
            let token = self.remember(to);
            self.send_env(
                shard,
                Envelope::Local {
                    from: self.id,
                    token,
                    req: req.into_owned(),
                },
            );
        }
    }

    /// A catalog change (shard 0 only): shard 0 decides against its own catalog and clock;
    /// if it accepts, every other shard applies the change as a replica (`Apply`), without
    /// re-deciding time-based rules, in the order shard 0 sent them. Answers when all have.
    fn coordinate(&mut self, to: ReplyTo, req: Request<'static>) {
        debug_assert_eq!(self.id, 0);
        let d = dispatch(&mut self.engine, &self.info, req.clone());
        if matches!(d.response, Response::Error(_)) || self.n == 1 {
            return self.complete_local(to, d.response, d.needs_flush);
        }
        let op = self.new_fanout(to, Merge::FirstError);
        self.complete_local(ReplyTo::Op { op, part: 0 }, d.response, d.needs_flush);
        for s in 1..self.n {
            let token = self.remember(ReplyTo::Op {
                op,
                part: s as usize,
            });
            self.send_env(
                s,
                Envelope::Apply {
                    from: self.id,
                    token,
                    req: req.clone(),
                },
            );
        }
    }

    /// Applies a catalog change shard 0 has decided.
    fn apply_replica(&mut self, to: ReplyTo, req: Request<'static>) {
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

    /// An operation awaiting one part per shard (part `s` from shard `s`).
    fn new_fanout(&mut self, to: ReplyTo, merge: Merge) -> u64 {
        let op = self.new_token();
        let n = self.n as usize;
        self.ops.insert(
            op,
            Op {
                to,
                kind: OpKind::Fanout {
                    merge,
                    parts: (0..n).map(|_| None).collect(),
                    left: n,
                },
            },
        );
        op
    }

    /// Runs `req` on every shard and merges the replies.
    fn fanout(&mut self, to: ReplyTo, req: Request<'static>, merge: Merge) {
        let op = self.new_fanout(to, merge);
        // Part order = shard order, so shard 0's answer (the catalog's) comes first.
        for s in 0..self.n {
            self.run_on(
                s,
                ReplyTo::Op {
                    op,
                    part: s as usize,
                },
                req.clone(),
            );
        }
    }

    fn route_send(&mut self, to: ReplyTo, queue: Cow<'_, str>, entries: Vec<SendEntry<'_>>) {
        let fifo = self.engine.queue_ref(&queue).map(|q| q.is_fifo());
        if fifo != Some(true) || self.n == 1 {
            // Standard queue (or unknown: the local engine says QueueDoesNotExist).
            return self.run_local(to, Request::Send { queue, entries });
        }
        let shard_of = |e: &SendEntry<'_>| match &e.group_id {
            Some(g) => shard_of_group(g, self.n),
            // The engine rejects it; any shard can say so.
            None => self.id,
        };
        let first = entries.first().map(shard_of).unwrap_or(self.id);
        if entries.iter().all(|e| shard_of(e) == first) {
            return self.run_on(first, to, Request::Send { queue, entries });
        }
        let mut by_shard: Vec<Part<SendEntry<'_>>> = Vec::new();
        for (i, e) in entries.into_iter().enumerate() {
            push_part(&mut by_shard, shard_of(&e), i, e);
        }
        let total: usize = by_shard.iter().map(|b| b.1.len()).sum();
        let op = self.new_token();
        self.ops.insert(
            op,
            Op {
                to,
                kind: OpKind::Split {
                    kind: SplitKind::Send,
                    index: by_shard.iter().map(|b| b.1.clone()).collect(),
                    results: (0..total).map(|_| None).collect(),
                    error: None,
                    left: by_shard.len(),
                },
            },
        );
        for (part, (s, _, es)) in by_shard.into_iter().enumerate() {
            let req = Request::Send {
                queue: queue.clone(),
                entries: es,
            };
            self.run_on(s, ReplyTo::Op { op, part }, req);
        }
    }

    /// Deletes and visibility changes: each handle goes to the shard that issued it.
    fn route_by_handle<'a>(
        &mut self,
        to: ReplyTo,
        queue: Cow<'a, str>,
        kind: SplitKind,
        handles: Vec<Cow<'a, [u8]>>,
        timeouts: Vec<u32>,
    ) {
        let total = handles.len();
        let mut results: Vec<Option<Entry>> = (0..total).map(|_| None).collect();
        let mut by_shard: Vec<Part<Cow<'a, [u8]>>> = Vec::new();
        for (i, h) in handles.into_iter().enumerate() {
            match handle::unwrap(&h, self.n).map(|(s, inner)| (s, h.len() - inner.len())) {
                Some((s, prefix)) => {
                    // Strip the shard prefix without a copy.
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
                    results[i] = Some(Entry::Unit(Err(wire_err(
                        ErrorCode::ReceiptHandleIsInvalid,
                        "the receipt handle is invalid: not a handle this server issued",
                    ))));
                }
            }
        }
        if by_shard.is_empty() && !self.engine.queue_exists(&queue) {
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
                queue: queue.clone(),
                entries: hs
                    .into_iter()
                    .zip(idx)
                    .map(|(h, &i)| VisibilityEntry {
                        receipt_handle: h,
                        timeout_s: timeouts[i],
                    })
                    .collect(),
            },
            _ => Request::Delete {
                queue: queue.clone(),
                receipt_handles: hs,
            },
        };
        if by_shard.len() == 1 && by_shard[0].1.len() == total {
            let (s, idx, hs) = by_shard.pop().expect("one part");
            let req = build(hs, &idx);
            return self.run_on(s, to, req);
        }
        let op = self.new_token();
        let parts: Vec<(u16, Vec<usize>, Request<'a>)> = by_shard
            .into_iter()
            .map(|(s, idx, hs)| {
                let req = build(hs, &idx);
                (s, idx, req)
            })
            .collect();
        self.ops.insert(
            op,
            Op {
                to,
                kind: OpKind::Split {
                    kind,
                    index: parts.iter().map(|p| p.1.clone()).collect(),
                    results,
                    error: None,
                    left: parts.len(),
                },
            },
        );
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
        if wait > MAX_WAIT_MS {
            return self.deliver(
                to,
                Response::error(
                    ErrorCode::InvalidParameter,
                    format!("wait time {wait} ms is over the maximum of {MAX_WAIT_MS} ms"),
                ),
            );
        }
        let local = self.receive_here(req.clone());
        if is_nonempty_receive(&local) || (self.n == 1 && wait == 0) {
            return self.deliver(to, local);
        }
        let deadline_ms = self.now() + wait as u64;
        if self.n == 1 {
            return self.park(to, req, deadline_ms);
        }
        let start = self.receive_rr;
        self.receive_rr = self.receive_rr.wrapping_add(1);
        let others: Vec<u16> = (0..self.n).filter(|&s| s != self.id).collect();
        let order: Vec<u16> = (0..others.len())
            .map(|k| others[(start + k) % others.len()])
            .collect();
        let op = self.new_token();
        self.ops.insert(
            op,
            Op {
                to,
                kind: OpKind::Chain {
                    req,
                    order,
                    next: 0,
                    deadline_ms,
                },
            },
        );
        self.chain_next(op);
    }

    /// A receive on this shard's engine, answered now (no waiting).
    fn receive_here(&mut self, req: Request<'static>) -> Response<'static> {
        dispatch(&mut self.engine, &self.info, req).response
    }

    /// Asks the next shard of a receive chain, or parks / answers empty at its end.
    fn chain_next(&mut self, op: u64) {
        let Some(o) = self.ops.get_mut(&op) else {
            return;
        };
        let OpKind::Chain {
            req,
            order,
            next,
            deadline_ms,
        } = &mut o.kind
        else {
            return;
        };
        if let Some(&s) = order.get(*next) {
            *next += 1;
            let mut r = req.clone();
            if let Request::Receive { wait_time_ms, .. } = &mut r {
                *wait_time_ms = 0;
            }
            return self.run_on(s, ReplyTo::Op { op, part: 0 }, r);
        }
        let deadline = *deadline_ms;
        let o = self.ops.remove(&op).expect("op present");
        let OpKind::Chain { req, .. } = o.kind else {
            unreachable!()
        };
        if self.now() < deadline && !self.stopping {
            self.park(o.to, req, deadline);
        } else {
            self.deliver(o.to, empty_received());
        }
    }

    // ----- long polling -----------------------------------------------------------------

    fn park(&mut self, to: ReplyTo, req: Request<'static>, deadline_ms: u64) {
        let Request::Receive { queue, .. } = &req else {
            return;
        };
        let queue = queue.to_string();
        let id = self.new_token();
        self.parked.push(Parked {
            id,
            to,
            queue: queue.clone(),
            req,
            deadline_ms,
            busy: false,
        });
        self.watch_everywhere(&queue, deadline_ms);
    }

    /// Holds a watch for `queue` until `until_ms` on every other shard.
    fn watch_everywhere(&mut self, queue: &str, until_ms: u64) {
        for s in 0..self.n {
            if s != self.id {
                self.send_watch(s, queue, until_ms);
            }
        }
    }

    fn send_watch(&mut self, shard: u16, queue: &str, until_ms: u64) {
        let n = self.n as usize;
        let sent = self
            .watch_sent
            .entry(queue.to_string())
            .or_insert_with(|| vec![0; n]);
        if sent[shard as usize] >= until_ms {
            return;
        }
        sent[shard as usize] = until_ms;
        self.send_env(
            shard,
            Envelope::Watch {
                from: self.id,
                queue: queue.to_string(),
                until_ms,
            },
        );
    }

    /// Another shard has messages for `queue`: let each idle long poll on it try there.
    fn on_ready(&mut self, from: u16, queue: String) {
        if let Some(sent) = self.watch_sent.get_mut(&queue) {
            sent[from as usize] = 0;
        }
        let now = self.now();
        let mut tries = Vec::new();
        let http = self.http.as_ref();
        for p in self.parked.iter_mut() {
            if p.queue == queue && !p.busy && p.deadline_ms > now && !abandoned(http, &p.to) {
                p.busy = true;
                let mut r = p.req.clone();
                if let Request::Receive { wait_time_ms, .. } = &mut r {
                    *wait_time_ms = 0;
                }
                tries.push((p.id, r));
            }
        }
        for (parked, r) in tries {
            let op = self.new_token();
            self.ops.insert(
                op,
                Op {
                    // Unused: a ParkedTry answers its parked receive.
                    to: ReplyTo::Op { op: 0, part: 0 },
                    kind: OpKind::ParkedTry { parked },
                },
            );
            self.run_on(from, ReplyTo::Op { op, part: 0 }, r);
        }
    }

    /// Serves long polls and watches of queues that may have visible messages.
    fn serve_wakes(&mut self) {
        if self.wake.is_empty() {
            return;
        }
        let now = self.now();
        for queue in std::mem::take(&mut self.wake) {
            // Local long polls first, oldest first.
            let mut i = 0;
            while i < self.parked.len() {
                let p = &self.parked[i];
                if p.queue != queue || p.busy {
                    i += 1;
                    continue;
                }
                if abandoned(self.http.as_ref(), &p.to) {
                    let p = self.parked.remove(i);
                    self.deliver(p.to, empty_received());
                    continue;
                }
                let resp = self.receive_here(p.req.clone());
                if is_nonempty_receive(&resp) {
                    let p = self.parked.remove(i);
                    self.deliver(p.to, resp);
                } else {
                    break;
                }
            }
            let Some(ws) = self.watchers.get_mut(&queue) else {
                continue;
            };
            if ws.iter().all(|&u| u <= now) {
                self.watchers.remove(&queue);
                continue;
            }
            let ready = self.engine.counters(&queue).map(|c| c.ready > 0);
            match ready {
                Ok(true) => {
                    let ws = self.watchers.remove(&queue).unwrap_or_default();
                    for (s, until) in ws.into_iter().enumerate() {
                        if until > now {
                            self.send_env(
                                s as u16,
                                Envelope::Ready {
                                    from: self.id,
                                    queue: queue.clone(),
                                },
                            );
                        }
                    }
                }
                Ok(false) => {}
                Err(_) => {
                    // The queue is gone: the long polls elsewhere learn it on their own.
                    self.watchers.remove(&queue);
                }
            }
        }
    }

    // ----- replies and operations -------------------------------------------------------

    /// Runs a request on this shard's engine and replies when it may.
    fn run_local(&mut self, to: ReplyTo, req: Request<'_>) {
        let (send_queue, vis_queue) = match &req {
            Request::Send { queue, .. } => (Some(queue.to_string()), None),
            Request::ChangeVisibility { queue, .. } => (None, Some(queue.to_string())),
            _ => (None, None),
        };
        let d = dispatch(&mut self.engine, &self.info, req);
        let resp = d.response;
        if let Some(q) = send_queue {
            if matches!(&resp, Response::Sent { results } if results.iter().any(Result::is_ok)) {
                self.dirty.insert(q);
            }
        }
        if let Some(q) = vis_queue {
            // A timeout of 0 makes a message visible at once.
            self.wake.insert(q);
        }
        self.complete_local(to, resp, d.needs_flush);
    }

    /// Replies now, or after the next group commit if the reply acknowledges a write.
    fn complete_local(&mut self, to: ReplyTo, resp: Response<'static>, needs_flush: bool) {
        if needs_flush && self.cfg.durability == Durability::Sync {
            self.after_flush.push((to, resp));
        } else {
            self.deliver(to, resp);
        }
    }

    fn deliver(&mut self, to: ReplyTo, resp: Response<'static>) {
        match to {
            ReplyTo::Conn {
                slot,
                generation,
                id,
            } => {
                let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                    return;
                };
                if c.generation != generation {
                    return;
                }
                if let (Response::Error(e), false) = (&resp, c.internal) {
                    let outcome = match e.code {
                        ErrorCode::InternalError | ErrorCode::Busy | ErrorCode::ShuttingDown => {
                            crate::metrics::Outcome::ServerError
                        }
                        _ => crate::metrics::Outcome::ClientError,
                    };
                    self.shared
                        .metrics
                        .binary_error(self.id as usize, e.code.name(), outcome);
                }
                if let Err(e) = resp.encode(id, c.out()) {
                    let _ = Response::error(
                        ErrorCode::InternalError,
                        format!("the reply could not be encoded: {e}"),
                    )
                    .encode(id, c.out());
                }
                c.in_flight = c.in_flight.saturating_sub(1);
                if c.eof && c.in_flight == 0 && !c.has_buffered_input() {
                    // Half-closed by the client and everything answered: done.
                    c.closing = true;
                }
                if c.pending_out() > WRITE_LIMIT {
                    tracing::warn!(
                        shard = self.id,
                        "closing a connection that does not read its replies"
                    );
                    self.close_conn(slot);
                    return;
                }
                if c.paused {
                    self.to_resume.push(slot);
                }
                self.to_write.push(slot);
            }
            ReplyTo::Shard { shard, token } => {
                self.send_env(shard, Envelope::Reply { token, resp })
            }
            ReplyTo::Http { token } => {
                if let Some(h) = &self.http {
                    h.complete(token, resp);
                }
            }
            ReplyTo::Op { op, part } => self.op_part(op, part, resp),
        }
    }

    fn op_part(&mut self, op: u64, part: usize, resp: Response<'static>) {
        let Some(o) = self.ops.get_mut(&op) else {
            return;
        };
        match &mut o.kind {
            OpKind::Fanout { parts, left, .. } => {
                if let Some(slot) = parts.get_mut(part) {
                    if slot.is_none() {
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
                let fill: Vec<Entry> = match (resp, *kind) {
                    (Response::Error(e), _) => {
                        error.get_or_insert(e);
                        Vec::new()
                    }
                    (Response::Sent { results }, SplitKind::Send) => {
                        results.into_iter().map(Entry::Sent).collect()
                    }
                    (Response::Deleted { results }, SplitKind::Delete)
                    | (Response::VisibilityChanged { results }, SplitKind::Visibility) => {
                        results.into_iter().map(Entry::Unit).collect()
                    }
                    (other, _) => {
                        error.get_or_insert(wire_err(
                            ErrorCode::InternalError,
                            format!("a shard answered a batch with {:?}", other.opcode()),
                        ));
                        Vec::new()
                    }
                };
                for (i, e) in idx.into_iter().zip(fill) {
                    if let Some(r) = results.get_mut(i) {
                        *r = Some(e);
                    }
                }
                *left = left.saturating_sub(1);
                if *left == 0 {
                    self.finish_op(op);
                }
            }
            OpKind::Chain { .. } => {
                if is_nonempty_receive(&resp) {
                    let o = self.ops.remove(&op).expect("op present");
                    self.deliver(o.to, resp);
                } else {
                    self.chain_next(op);
                }
            }
            OpKind::ParkedTry { parked } => {
                let parked = *parked;
                self.ops.remove(&op);
                let Some(i) = self.parked.iter().position(|p| p.id == parked) else {
                    return;
                };
                let now = self.now();
                if is_nonempty_receive(&resp) || self.parked[i].deadline_ms <= now {
                    let p = self.parked.remove(i);
                    self.deliver(p.to, resp);
                } else {
                    self.parked[i].busy = false;
                    let (q, until) = (self.parked[i].queue.clone(), self.parked[i].deadline_ms);
                    // Every shard, not only the one tried: a Ready from a third shard may
                    // have arrived (and consumed its watch) while this try was out.
                    self.watch_everywhere(&q, until);
                    // Messages may also have appeared here meanwhile.
                    self.wake.insert(q);
                }
            }
        }
    }

    /// Merges a completed fan-out or split and replies.
    fn finish_op(&mut self, op: u64) {
        let Some(o) = self.ops.remove(&op) else {
            return;
        };
        let resp = match o.kind {
            OpKind::Fanout { merge, parts, .. } => merge_fanout(merge, parts),
            OpKind::Split {
                kind,
                results,
                error,
                ..
            } => {
                if let Some(e) = error {
                    Response::Error(e)
                } else {
                    let missing = || wire_err(ErrorCode::InternalError, "no result for the entry");
                    match kind {
                        SplitKind::Send => Response::Sent {
                            results: results
                                .into_iter()
                                .map(|r| match r {
                                    Some(Entry::Sent(r)) => r,
                                    _ => Err(missing()),
                                })
                                .collect(),
                        },
                        SplitKind::Delete | SplitKind::Visibility => {
                            let results = results
                                .into_iter()
                                .map(|r| match r {
                                    Some(Entry::Unit(r)) => r,
                                    _ => Err(missing()),
                                })
                                .collect();
                            if matches!(kind, SplitKind::Delete) {
                                Response::Deleted { results }
                            } else {
                                Response::VisibilityChanged { results }
                            }
                        }
                    }
                }
            }
            _ => return,
        };
        self.deliver(o.to, resp);
    }

    // ----- mailboxes --------------------------------------------------------------------

    fn send_env(&mut self, shard: u16, env: Envelope) {
        let s = shard as usize;
        if !self.overflow[s].is_empty() {
            self.overflow[s].push_back(env);
            self.overflow_len += 1;
            return;
        }
        let Some(tx) = self.outboxes.get_mut(s).and_then(Option::as_mut) else {
            tracing::error!(shard = self.id, "no mailbox to shard {shard}");
            return;
        };
        match tx.try_send(env) {
            Ok(bell) => {
                if bell.must_ring() {
                    let _ = self.shared.bells[s].notify();
                }
            }
            Err(full) => {
                self.overflow[s].push_back(full.into_inner());
                self.overflow_len += 1;
            }
        }
    }

    fn push_overflow(&mut self) {
        if self.overflow_len <= OVERFLOW_PAUSE && !self.overload_paused.is_empty() {
            let paused = std::mem::take(&mut self.overload_paused);
            self.to_resume.extend(paused);
        }
        if self.overflow_len == 0 {
            return;
        }
        for s in 0..self.n as usize {
            let Some(tx) = self.outboxes.get_mut(s).and_then(Option::as_mut) else {
                continue;
            };
            let mut pushed = false;
            while let Some(env) = self.overflow[s].pop_front() {
                match tx.try_push(env) {
                    Ok(()) => {
                        pushed = true;
                        self.overflow_len -= 1;
                    }
                    Err(full) => {
                        self.overflow[s].push_front(full.into_inner());
                        break;
                    }
                }
            }
            if pushed && tx.doorbell().must_ring() {
                let _ = self.shared.bells[s].notify();
            }
        }
    }

    fn drain_inboxes(&mut self) {
        // Bounded per turn so sockets are served too.
        let mut got = Vec::new();
        for (_, inbox) in self.inboxes.iter_mut() {
            inbox.drain(4096, |env| got.push(env));
        }
        // More may wait: come back without sleeping.
        self.inbox_backlog = got.len() >= 4096;
        for env in got {
            match env {
                Envelope::Local { from, token, req } => {
                    self.run_local(ReplyTo::Shard { shard: from, token }, req)
                }
                Envelope::Coordinate { from, token, req } => {
                    let to = ReplyTo::Shard { shard: from, token };
                    if self.id == 0 {
                        self.coordinate(to, req);
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
                    self.apply_replica(ReplyTo::Shard { shard: from, token }, req)
                }
                Envelope::Reply { token, resp } => {
                    if let Some(to) = self.remote.remove(&token) {
                        self.deliver(to, resp);
                    }
                }
                Envelope::Watch {
                    from,
                    queue,
                    until_ms,
                } => {
                    let n = self.n as usize;
                    let ws = self
                        .watchers
                        .entry(queue.clone())
                        .or_insert_with(|| vec![0; n]);
                    let w = &mut ws[from as usize];
                    *w = (*w).max(until_ms);
                    // Messages may be here already.
                    self.wake.insert(queue);
                }
                Envelope::Ready { from, queue } => self.on_ready(from, queue),
                Envelope::Adopt(stream) => match stream.set_nonblocking(true) {
                    Ok(()) => self.add_conn(Stream::Tcp(TcpStream::from_std(stream)), false),
                    Err(e) => tracing::warn!(shard = self.id, "cannot adopt a connection: {e}"),
                },
                Envelope::AdoptHttp(stream) => self.add_http(stream),
            }
        }
    }

    // ----- group commit -----------------------------------------------------------------

    fn maybe_flush(&mut self) {
        if self.committer.busy() {
            return;
        }
        let now = self.now();
        // Index files are synced by the commit thread as part of a group commit, once a
        // second: never inline, where writing back a second of dirty index pages would
        // stall every connection of the shard.
        let index_wave = now >= self.last_sync_ms + SYNC_INDEX_MS;
        if let Durability::Batch(d) = self.cfg.durability {
            // Flush on the timer, or early once enough is staged: producers that outrun
            // the interval must not pile up unbounded staged data in memory.
            if now < self.last_flush_ms + d.as_millis() as u64
                && !self.stopping
                && !index_wave
                && self.engine.staged_bytes() < BATCH_FLUSH_BYTES
            {
                return;
            }
        }
        if index_wave {
            self.last_sync_ms = now;
        }
        match self.engine.begin_flush_with_index(index_wave) {
            Some(f) => {
                debug_assert!(self.in_flush.is_empty());
                self.in_flush = std::mem::take(&mut self.after_flush);
                self.flushing_dirty = std::mem::take(&mut self.dirty);
                self.committer.submit(f);
                self.last_flush_ms = self.now();
            }
            None => {
                // Nothing staged: whatever these replies acknowledge is durable already.
                for (to, resp) in std::mem::take(&mut self.after_flush) {
                    self.deliver(to, resp);
                }
                self.wake.extend(std::mem::take(&mut self.dirty));
            }
        }
    }

    fn complete_flush(&mut self) {
        let Some((f, io)) = self.committer.try_done() else {
            return;
        };
        let replies = std::mem::take(&mut self.in_flush);
        match self.engine.finish_flush(f, io) {
            Ok(_) => {
                for (to, resp) in replies {
                    self.deliver(to, resp);
                }
            }
            Err(e) => {
                tracing::error!(shard = self.id, "group commit failed: {e}");
                let msg = format!("the write could not be made durable: {e}");
                // OutOfSpace or StorageError (errors.rs): never a success.
                let code = crate::errors::code(&e);
                // Writes staged while this commit was out may sit in the partition that
                // just failed, which will never commit them: fail their replies too (a
                // client retry may duplicate a write that does commit elsewhere, which
                // at-least-once allows; acknowledging a lost write it does not).
                let staged = std::mem::take(&mut self.after_flush);
                for (to, resp) in replies.into_iter().chain(staged) {
                    let resp = match resp {
                        // Only replies that acknowledge writes wait for a commit.
                        Response::Error(e) => Response::Error(e),
                        _ => Response::error(code, msg.clone()),
                    };
                    self.deliver(to, resp);
                }
            }
        }
        self.wake.extend(std::mem::take(&mut self.flushing_dirty));
    }

    // ----- background work --------------------------------------------------------------

    fn background(&mut self) {
        let now = self.now();
        // The wall clock stepped back: restart the loop's timers from now rather than
        // waiting for the clock to catch up.
        if now < self.last_tick_ms || now < self.last_sync_ms || now < self.last_flush_ms {
            self.last_tick_ms = now.min(self.last_tick_ms);
            self.last_sync_ms = now.min(self.last_sync_ms);
            self.last_flush_ms = now.min(self.last_flush_ms);
            self.next_compact_ms = now.min(self.next_compact_ms);
            self.next_recover_ms = now.min(self.next_recover_ms);
        }
        if now >= self.last_tick_ms + TICK_MS {
            self.last_tick_ms = now;
            if std::mem::take(&mut self.sqs_accept_retry) {
                self.accept_sqs();
            }
            if std::mem::take(&mut self.accept_retry) {
                self.accept();
            }
            // Watches this shard holds elsewhere that have run out.
            self.watch_sent
                .retain(|_, until| until.iter().any(|&u| u > now));
            self.engine.tick();
            if let Some(c) = self.shared.metrics.corrupt_records.get(self.id as usize) {
                c.store(self.engine.corrupt_records(), Ordering::Relaxed);
            }
            // Timers may have made messages visible for long polls and watches.
            for p in &self.parked {
                self.wake.insert(p.queue.clone());
            }
            let watched: Vec<String> = self.watchers.keys().cloned().collect();
            self.wake.extend(watched);
            self.expire_parked(now);
        }
        if !self.committer.busy()
            && now >= self.next_recover_ms
            && self.engine.has_failed_partitions()
        {
            // Reopen from the durable state (see `Engine::recover_failed`): never a
            // retried fdatasync that would call unknown data durable.
            match self.engine.recover_failed() {
                Ok(n) => tracing::warn!(
                    shard = self.id,
                    "reopened {n} partition(s) after a failed group commit"
                ),
                Err(e) => {
                    tracing::warn!(shard = self.id, "reopening failed partitions: {e}");
                    self.next_recover_ms = now + RECOVER_RETRY_MS;
                }
            }
        }
        if !self.committer.busy() && now >= self.next_compact_ms {
            match self.engine.compact_staged(COMPACT_BUDGET) {
                Ok(0) => self.next_compact_ms = now + COMPACT_IDLE_MS,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(shard = self.id, "compaction step failed: {e}");
                    self.next_compact_ms = now + COMPACT_IDLE_MS;
                }
            }
        }
    }

    /// Answers long polls whose wait is over, and drops those whose caller has gone (they
    /// would otherwise take messages nobody reads, invisible until their visibility
    /// timeout runs out).
    fn expire_parked(&mut self, now: u64) {
        let mut i = 0;
        while i < self.parked.len() {
            let p = &self.parked[i];
            if (p.deadline_ms <= now || abandoned(self.http.as_ref(), &p.to)) && !p.busy {
                let p = self.parked.remove(i);
                self.deliver(p.to, empty_received());
            } else {
                i += 1;
            }
        }
    }

    // ----- shutdown ---------------------------------------------------------------------

    fn begin_stop(&mut self) {
        self.stopping = true;
        self.stop_deadline_ms = self.now() + SHUTDOWN_GRACE_MS;
        if let Some(mut l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        if let Some(mut l) = self.sqs_listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        for p in std::mem::take(&mut self.parked) {
            self.deliver(p.to, empty_received());
        }
        tracing::info!(
            shard = self.id,
            "shutting down: finishing in-flight requests"
        );
    }

    /// Whether every shard is done and this one may exit.
    fn stop_step(&mut self) -> bool {
        let quiet = self.ops.is_empty()
            && self.remote.is_empty()
            && self.after_flush.is_empty()
            && self.in_flush.is_empty()
            && !self.committer.busy()
            && self.overflow_len == 0
            && self.http.as_ref().is_none_or(|h| !h.waiting())
            && self
                .conns
                .iter()
                .flatten()
                .all(|c| c.pending_out() == 0 || c.closing);
        if (quiet || self.now() >= self.stop_deadline_ms) && !self.reported_drained {
            self.reported_drained = true;
            self.shared.drained.fetch_add(1, Ordering::SeqCst);
            for b in &self.shared.bells {
                let _ = b.notify();
            }
        }
        self.reported_drained && self.shared.drained.load(Ordering::SeqCst) >= self.n as usize
    }

    fn finish_stop(mut self) -> Result<(), String> {
        while self.committer.busy() {
            self.complete_flush();
            std::thread::sleep(Duration::from_millis(1));
        }
        let flushed = self.engine.flush();
        let synced = self.engine.sync_index();
        for slot in 0..self.conns.len() {
            self.close_conn(slot);
        }
        if let Some(h) = self.http.as_mut() {
            let n = h.close_all(self.poll.registry());
            self.shared.http_connections.fetch_sub(n, Ordering::SeqCst);
        }
        flushed.map_err(|e| format!("shard {}: final flush failed: {e}", self.id))?;
        synced.map_err(|e| format!("shard {}: final index sync failed: {e}", self.id))?;
        tracing::info!(shard = self.id, "stopped");
        Ok(())
    }
}

/// The gateway's shared state, if it is up.
fn lock_gateway(shared: &Shared) -> Option<Arc<crate::sqs::Gateway>> {
    shared
        .gateway
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const COUNT_ATTRIBUTES: [&str; 3] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
];

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
                    for (i, name) in COUNT_ATTRIBUTES.iter().enumerate() {
                        if let Some(v) = attributes.get(*name) {
                            sums[i] += v.parse::<u64>().unwrap_or(0);
                        }
                    }
                }
            }
            let mut first = parts.swap_remove(0);
            if let Response::QueueAttributes { attributes } = &mut first {
                let attributes: &mut Map<'static> = attributes;
                for (i, name) in COUNT_ATTRIBUTES.iter().enumerate() {
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
    fn group_hash_is_stable_and_spread() {
        // Fixed values: a change would move FIFO groups between shards of existing data.
        assert_eq!(shard_of_group("g", 1), 0);
        let a = shard_of_group("orders-17", 4);
        assert_eq!(a, shard_of_group("orders-17", 4));
        let mut seen = [0usize; 4];
        for g in 0..400 {
            seen[shard_of_group(&format!("group-{g}"), 4) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 50), "{seen:?}");
    }

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
}
