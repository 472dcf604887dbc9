//! Binary-protocol connections: the listener (shard 0 deals accepted connections over the
//! shards), the connection slots, reading frames, the handshake, writing replies.
//!
//! Owns [`Conns`]: the slots (a slot's generation tells a late reply for a closed
//! connection from one for its successor), the free list, and the turn's work lists (to
//! write, to resume, paused by mailbox overload). Each [`Conn`] owns its own state
//! ([`crate::conn::State`]); this file only asks it to change.
//!
//! Promises: a slot is in `slots` or in `free`, never both; every frame taken off a
//! connection gets exactly one reply (while the connection lives); a connection stops
//! taking frames at its in-flight or write bound and resumes below them.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};
use spool_protocol::{
    ErrorCode, Request, Response, CONNECTION_ERROR_REQUEST_ID, MAX_VERSION, MIN_VERSION, VERSION,
};

use super::{Envelope, ReplyTo, Shard, FIRST_CONN};
use crate::conn::{Conn, FrameHead, WRITE_LIMIT, WRITE_PAUSE};

/// Keepalive of client connections: first probe after 60 s idle, then every 10 s, dead
/// after 6 unanswered.
const TCP_KEEPALIVE: socket2::TcpKeepalive = socket2::TcpKeepalive::new()
    .with_time(Duration::from_mins(1))
    .with_interval(Duration::from_secs(10))
    .with_retries(6);

fn conn_token(slot: usize) -> Token {
    Token(slot + FIRST_CONN)
}

/// The binary connections of one shard.
pub(super) struct Conns {
    /// Shard 0's: it accepts for every shard.
    pub(super) listener: Option<TcpListener>,
    /// The shard the next accepted connection goes to.
    accept_rr: usize,
    /// An accept failed (e.g. EMFILE): retry on the next tick, since the edge is spent.
    pub(super) accept_retry: bool,
    slots: Vec<Option<Conn>>,
    free: Vec<usize>,
    next_generation: u64,
    /// Connections with replies to write / that paused and may take frames again.
    pub(super) to_write: Vec<usize>,
    pub(super) to_resume: Vec<usize>,
    /// Connections paused because the mailboxes overflowed; resumed when they drain.
    pub(super) overload_paused: Vec<usize>,
}

impl Conns {
    pub(super) fn new(listener: Option<TcpListener>) -> Conns {
        Conns {
            listener,
            accept_rr: 0,
            accept_retry: false,
            slots: Vec::new(),
            free: Vec::new(),
            next_generation: 1,
            to_write: Vec::new(),
            to_resume: Vec::new(),
            overload_paused: Vec::new(),
        }
    }

    pub(super) fn get(&self, slot: usize) -> Option<&Conn> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    pub(super) fn get_mut(&mut self, slot: usize) -> Option<&mut Conn> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    /// Every open connection.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Conn> {
        self.slots.iter().flatten()
    }

    /// Slots ever used (open or free).
    pub(super) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// A free slot (reused first).
    fn alloc(&mut self) -> usize {
        match self.free.pop() {
            Some(s) => {
                debug_assert!(self.slots[s].is_none(), "a free slot holds a connection");
                s
            }
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        }
    }

    /// Gives back a slot that holds no connection.
    fn release(&mut self, slot: usize) {
        debug_assert!(
            self.slots[slot].is_none(),
            "released a slot that holds a connection"
        );
        debug_assert!(!self.free.contains(&slot), "a slot freed twice");
        self.free.push(slot);
    }

    /// Puts a new connection in `slot` (from [`Conns::alloc`]) under a fresh generation.
    fn fill_slot(&mut self, slot: usize, stream: TcpStream) -> u64 {
        debug_assert!(self.slots[slot].is_none());
        let generation = self.next_generation;
        self.next_generation += 1;
        self.slots[slot] = Some(Conn::new(stream, generation));
        generation
    }

    /// Which shard the next accepted connection goes to.
    pub(super) fn next_target(&mut self, shards: u16) -> u16 {
        let target = (self.accept_rr % shards as usize) as u16;
        self.accept_rr = self.accept_rr.wrapping_add(1);
        target
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Shard {
    pub(super) fn accept(&mut self) {
        loop {
            let Some(listener) = self.conns.listener.as_ref() else {
                return;
            };
            match listener.accept() {
                Ok((stream, _)) => {
                    let target = self.conns.next_target(self.n);
                    if target == self.id {
                        self.add_conn(stream);
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
                    self.conns.accept_retry = true;
                    return;
                }
            }
        }
    }

    pub(super) fn add_conn(&mut self, mut stream: TcpStream) {
        let count = self.shared.connections.fetch_add(1, Ordering::SeqCst);
        let stopping = self.life.is_stopping();
        if count >= self.cfg.max_connections || stopping {
            self.shared.connections.fetch_sub(1, Ordering::SeqCst);
            let (code, msg) = if stopping {
                (ErrorCode::ShuttingDown, "the server is shutting down")
            } else {
                (ErrorCode::Busy, "too many connections")
            };
            let mut out = Vec::new();
            if Response::error(code, msg)
                .encode(CONNECTION_ERROR_REQUEST_ID, &mut out)
                .is_ok()
            {
                let _ = stream.write(&out);
            }
            return;
        }
        let _ = stream.set_nodelay(true);
        // A peer that vanished without FIN or RST (power loss, a dropped NAT entry) would
        // otherwise hold its connection slot forever: keepalive probes find it dead after
        // about two idle minutes and the read then fails.
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&TCP_KEEPALIVE);
        let slot = self.conns.alloc();
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            conn_token(slot),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            tracing::warn!(shard = self.id, "cannot register a connection: {e}");
            self.shared.connections.fetch_sub(1, Ordering::SeqCst);
            self.conns.release(slot);
            return;
        }
        self.conns.fill_slot(slot, stream);
        // The client may have written already; edge-triggered epoll will not say so again.
        self.read_conn(slot);
    }

    pub(super) fn close_conn(&mut self, slot: usize) {
        let Some(mut c) = self.conns.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.stream);
        self.shared.connections.fetch_sub(1, Ordering::SeqCst);
        self.conns.release(slot);
        // Long polls of a closed connection would take messages nobody reads.
        self.polls.drop_conn(slot, c.generation);
    }

    pub(super) fn read_conn(&mut self, slot: usize) {
        let max_frame = self.cfg.max_frame as usize;
        let Some(c) = self.conns.get_mut(slot) else {
            return;
        };
        if c.is_closing() {
            return;
        }
        if c.is_paused() {
            // Read later, when it resumes.
            c.note_readable();
        } else if let Err(e) = c.fill(max_frame) {
            tracing::debug!(shard = self.id, "connection read error: {e}");
            self.close_conn(slot);
            return;
        }
        self.take_frames(slot);
    }

    /// Takes whole frames off a connection's buffer until it runs dry or a bound says stop.
    fn take_frames(&mut self, slot: usize) {
        let max_frame = self.cfg.max_frame as usize;
        let max_in_flight = self.cfg.max_in_flight;
        loop {
            let overloaded = self.mail.overloaded();
            let stopping = self.life.is_stopping();
            let Some(c) = self.conns.get_mut(slot) else {
                return;
            };
            if c.is_closing() || stopping {
                return;
            }
            if c.in_flight() >= max_in_flight || c.pending_out() > WRITE_PAUSE || overloaded {
                c.pause();
                if overloaded {
                    self.conns.overload_paused.push(slot);
                }
                return;
            }
            c.resume();
            let generation = c.generation;
            let head = match c.next_frame(max_frame) {
                Ok(None) => {
                    if c.may_have_more() {
                        // The socket may hold more than the buffer did.
                        if let Err(e) = c.fill(max_frame) {
                            tracing::debug!(shard = self.id, "connection read error: {e}");
                            self.close_conn(slot);
                            return;
                        }
                        continue;
                    }
                    if c.is_eof() && c.in_flight() == 0 {
                        c.close_after_write();
                        self.conns.to_write.push(slot);
                    }
                    return;
                }
                Err(e) => {
                    // The byte stream cannot be trusted any more: say why, then close.
                    let _ = Response::error(e.code(), e.to_string())
                        .encode(CONNECTION_ERROR_REQUEST_ID, c.out());
                    c.close_after_write();
                    self.conns.to_write.push(slot);
                    return;
                }
                Ok(Some(head)) => head,
            };
            c.begin_request();
            // The request borrows the read buffer while it is served (see `route`).
            let buf = c.lend_rbuf();
            let fatal = self.serve_frame(slot, generation, head, &buf);
            if let Some(c) = self.conns.get_mut(slot) {
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

    /// Serves one whole frame (`head`, cut by [`Conn::next_frame`]; its payload lies in
    /// `rbuf`, the connection's read buffer). Returns true if the frame was so malformed
    /// that the stream cannot be trusted.
    fn serve_frame(&mut self, slot: usize, generation: u64, head: FrameHead, rbuf: &[u8]) -> bool {
        let Some(frame) = head.frame(rbuf) else {
            debug_assert!(false, "a frame's payload is not where next_frame cut it");
            return self.end_with(
                slot,
                generation,
                ErrorCode::InternalError,
                "a request frame could not be read",
            );
        };
        if frame.request_id == CONNECTION_ERROR_REQUEST_ID {
            // An Error with id 0 means "this connection is ending" (docs/protocol.md); a
            // request that carries it could not be told apart from one, so it is refused
            // and the connection closed, as for any frame the stream cannot be trusted after.
            return self.end_with(
                slot,
                generation,
                ErrorCode::MalformedFrame,
                "request id 0 is reserved for the server's connection-level errors",
            );
        }
        let (id, req) = (frame.request_id, Request::from_frame(&frame));
        if let Ok(r) = &req {
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

    /// Answers the frame being served with a connection-level error (request id 0) and
    /// returns true: the caller closes the connection once the error is written.
    fn end_with(
        &mut self,
        slot: usize,
        generation: u64,
        code: ErrorCode,
        message: &'static str,
    ) -> bool {
        let to = ReplyTo::Conn {
            slot,
            generation,
            id: CONNECTION_ERROR_REQUEST_ID,
        };
        self.deliver(to, Response::error(code, message));
        true
    }

    fn close_after_write(&mut self, slot: usize) {
        if let Some(c) = self.conns.get_mut(slot) {
            c.close_after_write();
            self.conns.to_write.push(slot);
        }
    }

    pub(super) fn resume_conns(&mut self) {
        for slot in std::mem::take(&mut self.conns.to_resume) {
            if self.conns.get(slot).is_some_and(Conn::is_paused) {
                self.take_frames(slot);
            }
        }
    }

    pub(super) fn write_conns(&mut self) {
        let mut slots = std::mem::take(&mut self.conns.to_write);
        slots.sort_unstable();
        slots.dedup();
        for slot in slots {
            let Some(c) = self.conns.get_mut(slot) else {
                continue;
            };
            match c.write_out() {
                Ok(true) => {
                    if c.is_closing() {
                        self.close_conn(slot);
                    } else if c.is_paused() {
                        self.conns.to_resume.push(slot);
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

    /// Writes a reply into its connection's write buffer (dropped if the connection has
    /// closed, or its slot now serves another).
    pub(super) fn deliver_conn(
        &mut self,
        slot: usize,
        generation: u64,
        id: u64,
        resp: &Response<'static>,
    ) {
        let Some(c) = self.conns.get_mut(slot) else {
            return;
        };
        if c.generation != generation {
            return;
        }
        if let Response::Error(e) = resp {
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
        c.end_request();
        if c.pending_out() > WRITE_LIMIT {
            tracing::warn!(
                shard = self.id,
                "closing a connection that does not read its replies"
            );
            self.close_conn(slot);
            return;
        }
        if c.is_paused() {
            self.conns.to_resume.push(slot);
        }
        self.conns.to_write.push(slot);
    }

    /// The handshake, then routing.
    fn on_client_request(&mut self, slot: usize, to: ReplyTo, req: Request<'_>) {
        let hello_done = self.conns.get(slot).is_some_and(|c| c.hello_done);
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
                if let Some(refusal) =
                    self.refuse_hello(min_version, max_version, api_key.as_deref())
                {
                    self.deliver(to, refusal);
                    self.close_after_write(slot);
                    return;
                }
                if let Some(c) = self.conns.get_mut(slot) {
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

    /// Why a Hello is refused (no version in common, a missing or wrong API key), if it is.
    fn refuse_hello(
        &self,
        min_version: u8,
        max_version: u8,
        api_key: Option<&[u8]>,
    ) -> Option<Response<'static>> {
        if min_version > VERSION || max_version < VERSION {
            return Some(Response::error(
                ErrorCode::UnsupportedVersion,
                format!(
                    "no protocol version in common: the client speaks \
                     {min_version}..={max_version}, the server \
                     {MIN_VERSION}..={MAX_VERSION}"
                ),
            ));
        }
        let keys = &self.cfg.api_keys;
        if !keys.is_empty()
            && !api_key.is_some_and(|k| keys.iter().any(|good| constant_time_eq(good, k)))
        {
            return Some(Response::error(
                ErrorCode::Unauthorized,
                "missing or wrong API key",
            ));
        }
        None
    }
}
