//! [`Connection`]: one TCP connection to a Spool server, with blocking I/O and pipelining.
//!
//! Promises:
//! - [`Connection::connect`] returns only after a successful Hello; the negotiated limits
//!   are in [`Connection::hello`].
//! - Request ids are a per-connection counter starting at 1 (the Hello takes 1), so they are
//!   unique for the connection's life; id 0 is never used and is how the server labels
//!   errors that concern the whole stream.
//! - Every response is matched to the request it claims to answer: a response to an id not
//!   in flight, or of a type that does not answer that request, is
//!   [`ClientError::Unexpected`]. Responses that arrive for other ids while waiting are
//!   stashed and handed out later, so any arrival order works.
//! - Input is bounded: frames are decoded with the server's max frame (the default before
//!   the Hello), the read buffer never outgrows it, and nothing the server sends can make
//!   a call loop forever.
//! - After an I/O error (other than a read timeout), a malformed or unexpected response, or
//!   the server closing, the connection is *poisoned*: later calls fail at once (responses
//!   already received can still be collected). A refused request
//!   ([`ClientError::Server`]) does not poison.
//!
//! Pipelining caveat: [`Connection::flush`] writes with blocking I/O and does not read
//! meanwhile. The server stops reading a connection whose unread responses pile up (tens
//! of MiB), so a caller that submits a great deal before reading can stall until
//! `io_timeout`; keep a bounded window of requests in flight.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};

use spool_protocol::{
    decode_frame, Opcode, ProtocolError, Request, Response, DEFAULT_MAX_FRAME, ERROR_OPCODE,
    HEADER_LEN, MAX_VERSION, MIN_VERSION,
};

use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use crate::read_buf::ReadBuf;

/// Once this many encoded bytes are waiting, [`Connection::submit`] writes them out, so a
/// long pipeline does not buffer without bound.
const AUTO_FLUSH: usize = 1 << 20;

/// What the server announced in its Hello response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerHello {
    /// The protocol version in use on this connection.
    pub version: u8,
    /// Largest frame the server accepts (bytes, length prefix included); also the bound the
    /// client puts on the server's frames.
    pub max_frame: u32,
    /// Most entries per batch request.
    pub max_batch: u32,
    /// How many shards the server runs (a receipt handle names the shard that issued it).
    pub shard_count: u16,
}

/// One TCP connection (TCP_NODELAY), blocking I/O, pipelined. See the module docs.
pub struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    hello: ServerHello,
    /// Bound for frames in both directions.
    max_frame: usize,
    next_id: u64,
    /// Encoded requests not yet written.
    wbuf: Vec<u8>,
    rbuf: ReadBuf,
    /// Bytes at the front of `rbuf` that hold the frame last lent out by
    /// [`Connection::next_response_ref`]; consumed by the next call that reads.
    lent: usize,
    /// Requests written or buffered whose responses have not arrived, by id.
    pending: HashMap<u64, Opcode>,
    /// Responses that arrived while the caller waited for another id.
    stash: HashMap<u64, Response<'static>>,
    /// Arrival order of `stash` (may hold ids already taken out by `wait_for`; those are
    /// skipped).
    stash_order: VecDeque<u64>,
    /// Why the connection is unusable, if it is.
    poisoned: Option<String>,
}

impl std::fmt::Debug for Connection {
    // By hand: the buffers may hold megabytes that a debug print should not dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .field("hello", &self.hello)
            .field("next_id", &self.next_id)
            .field("in_flight", &self.in_flight())
            .field("unwritten_bytes", &self.wbuf.len())
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `cfg.addr` (trying every address it resolves to) and performs the Hello
    /// handshake.
    pub fn connect(cfg: &ClientConfig) -> Result<Connection> {
        let stream = open_stream(cfg)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(cfg.io_timeout)?;
        stream.set_write_timeout(cfg.io_timeout)?;
        let peer = stream.peer_addr()?;
        let mut conn = Connection {
            stream,
            peer,
            hello: ServerHello {
                version: MIN_VERSION,
                max_frame: DEFAULT_MAX_FRAME as u32,
                max_batch: 0,
                shard_count: 0,
            },
            max_frame: DEFAULT_MAX_FRAME,
            next_id: 1,
            wbuf: Vec::new(),
            rbuf: ReadBuf::default(),
            lent: 0,
            pending: HashMap::new(),
            stash: HashMap::new(),
            stash_order: VecDeque::new(),
            poisoned: None,
        };
        conn.handshake(cfg.api_key.as_deref())?;
        Ok(conn)
    }

    fn handshake(&mut self, api_key: Option<&[u8]>) -> Result<()> {
        let hello = Request::Hello {
            min_version: MIN_VERSION,
            max_version: MAX_VERSION,
            api_key: api_key.map(Into::into),
        };
        match self.call(&hello)? {
            Response::Hello {
                version,
                max_frame,
                max_batch,
                shard_count,
            } => {
                if !(MIN_VERSION..=MAX_VERSION).contains(&version) {
                    return Err(self.poison(ClientError::Protocol(
                        ProtocolError::UnsupportedVersion(version),
                    )));
                }
                // A max frame that cannot hold a header would make every request fail;
                // the server is not speaking the protocol.
                if (max_frame as usize) < HEADER_LEN {
                    return Err(self.poison(ClientError::Unexpected(format!(
                        "server announced a max frame of {max_frame} bytes"
                    ))));
                }
                self.hello = ServerHello {
                    version,
                    max_frame,
                    max_batch,
                    shard_count,
                };
                self.max_frame = max_frame as usize;
                Ok(())
            }
            other => Err(self.poison(unexpected("Hello", &other))),
        }
    }

    /// What the server announced in the handshake.
    pub fn hello(&self) -> &ServerHello {
        &self.hello
    }

    /// The server's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Requests submitted whose responses have not been returned to the caller yet
    /// (including responses received and stashed).
    pub fn in_flight(&self) -> usize {
        self.pending.len() + self.stash.len()
    }

    /// True once an error has made the connection unusable (see the module docs).
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }

    /// Encodes `req` into the write buffer and returns the request id chosen for it. The
    /// bytes are written by [`Connection::flush`], by any call that waits for a response,
    /// or here once enough are buffered. A request the codec refuses (a value over a
    /// limit, or a frame above the server's max frame) is refused here, leaving the
    /// connection as it was.
    pub fn submit(&mut self, req: &Request<'_>) -> Result<u64> {
        self.check_usable()?;
        let id = self.next_id;
        let start = self.wbuf.len();
        req.encode(id, &mut self.wbuf)?;
        let len = self.wbuf.len() - start;
        if len > self.max_frame {
            // The server would close the connection over it; refuse it here instead.
            self.wbuf.truncate(start);
            return Err(ClientError::Protocol(ProtocolError::FrameTooLarge {
                len: len as u64,
                max: self.max_frame,
            }));
        }
        self.next_id += 1;
        self.pending.insert(id, req.opcode());
        if self.wbuf.len() >= AUTO_FLUSH {
            self.flush()?;
        }
        Ok(id)
    }

    /// Writes every buffered request.
    pub fn flush(&mut self) -> Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        self.check_usable()?;
        // A failed write may have sent part of a frame: the stream is out of sync for good.
        if let Err(e) = self.stream.write_all(&self.wbuf) {
            return Err(self.poison(ClientError::Io(e)));
        }
        self.wbuf.clear();
        Ok(())
    }

    /// Flushes, then returns the next response: a stashed one (oldest first) or else the
    /// next to arrive, whatever its id. An Error response is returned as
    /// `Ok((id, Response::Error(..)))`.
    pub fn next_response(&mut self) -> Result<(u64, Response<'static>)> {
        while let Some(id) = self.stash_order.pop_front() {
            if let Some(resp) = self.stash.remove(&id) {
                return Ok((id, resp));
            }
        }
        self.check_usable()?;
        if self.pending.is_empty() {
            // Reading now would block until the timeout for a response that cannot come.
            return Err(ClientError::Unexpected(
                "next_response called with no request in flight".into(),
            ));
        }
        self.flush()?;
        self.read_response()
    }

    /// [`Connection::next_response`] without copying: the response borrows the connection's
    /// read buffer (bodies, receipt handles and attributes are slices of the frame as it
    /// arrived), which is why it must be dropped before the connection is used again. For
    /// consumers that look at each message once (a receive loop handing bodies to a
    /// handler, a load generator), this saves an allocation and a copy per field.
    pub fn next_response_ref(&mut self) -> Result<(u64, Response<'_>)> {
        if !self.stash_order.is_empty() {
            return self.next_response();
        }
        self.check_usable()?;
        if self.pending.is_empty() {
            return Err(ClientError::Unexpected(
                "next_response_ref called with no request in flight".into(),
            ));
        }
        self.flush()?;
        let (id, opcode, used) = self.next_frame_header().map_err(|e| self.read_failed(e))?;
        if id == 0 {
            // A verdict on the whole stream: the owned path reports it (and poisons).
            return self.read_response();
        }
        if let Err(e) = self.check_answers(id, opcode) {
            return Err(self.poison(e));
        }
        self.lent = used;
        // Disjoint borrows: the response borrows `rbuf` on the way out, and a decode error
        // still has to poison.
        let (rbuf, poisoned) = (&self.rbuf, &mut self.poisoned);
        let decoded = match decode_frame(rbuf.data(), self.max_frame) {
            Ok(Some((frame, _))) => Response::from_frame(&frame).map_err(ClientError::from),
            Ok(None) => Err(ClientError::Unexpected(
                "a complete frame went missing".into(),
            )),
            Err(e) => Err(e.into()),
        };
        match decoded {
            Ok(resp) => Ok((id, resp)),
            Err(e) => {
                if poisoned.is_none() {
                    *poisoned = Some(e.to_string());
                }
                Err(e)
            }
        }
    }

    /// Reads until a whole frame is buffered and returns its request id, opcode and wire
    /// length, leaving it in the buffer.
    fn next_frame_header(&mut self) -> Result<(u64, u8, usize)> {
        self.release_lent();
        loop {
            let data = self.rbuf.data();
            if let Some((frame, used)) = decode_frame(data, self.max_frame)? {
                return Ok((frame.request_id, frame.opcode, used));
            }
            // Incomplete: if the length prefix is here, it says how big the frame is
            // (decode_frame has already checked it against max_frame).
            let frame_len = match data.get(..4) {
                Some(b) => 4 + u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
                None => 0,
            };
            if self
                .rbuf
                .fill(&mut self.stream, frame_len, self.max_frame)?
                == 0
            {
                return Err(ClientError::Closed);
            }
        }
    }

    /// Consumes the frame [`Connection::next_response_ref`] lent out, if any.
    fn release_lent(&mut self) {
        let n = std::mem::take(&mut self.lent);
        self.rbuf.consume(n);
    }

    /// Flushes, then returns the response to request `id`. Responses to other requests
    /// that arrive first are stashed for later [`Connection::next_response`] /
    /// [`Connection::wait_for`] calls. An Error response is returned as
    /// `Ok(Response::Error(..))`.
    pub fn wait_for(&mut self, id: u64) -> Result<Response<'static>> {
        if let Some(resp) = self.take_stashed(id) {
            return Ok(resp);
        }
        self.check_usable()?;
        if !self.pending.contains_key(&id) {
            return Err(ClientError::Unexpected(format!(
                "request {id} is not in flight on this connection"
            )));
        }
        self.flush()?;
        // Each turn retires one pending request (read_response refuses ids not pending),
        // so this ends after at most `pending.len()` turns.
        loop {
            let (rid, resp) = self.read_response()?;
            if rid == id {
                return Ok(resp);
            }
            self.stash.insert(rid, resp);
            self.stash_order.push_back(rid);
        }
    }

    /// [`Connection::submit`] + [`Connection::wait_for`]; an Error response becomes
    /// [`ClientError::Server`].
    pub fn call(&mut self, req: &Request<'_>) -> Result<Response<'static>> {
        let id = self.submit(req)?;
        match self.wait_for(id)? {
            Response::Error(e) => Err(e.into()),
            resp => Ok(resp),
        }
    }

    /// For the pool: true if the idle connection is usable, i.e. not poisoned, nothing in
    /// flight, and the server has neither closed it nor sent anything unasked.
    pub(crate) fn is_reusable(&self) -> bool {
        if self.poisoned.is_some() || self.in_flight() != 0 || !self.wbuf.is_empty() {
            return false;
        }
        if self.rbuf.data().len() != self.lent {
            return false;
        }
        if self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let mut probe = [0u8; 1];
        let alive = match self.stream.peek(&mut probe) {
            Ok(_) => false, // EOF (0) or bytes nobody asked for: either way not reusable.
            Err(e) => e.kind() == io::ErrorKind::WouldBlock,
        };
        self.stream.set_nonblocking(false).is_ok() && alive
    }

    fn take_stashed(&mut self, id: u64) -> Option<Response<'static>> {
        let resp = self.stash.remove(&id)?;
        if self.stash.is_empty() {
            self.stash_order.clear();
        } else {
            while let Some(front) = self.stash_order.front() {
                if self.stash.contains_key(front) {
                    break;
                }
                self.stash_order.pop_front();
            }
        }
        Some(resp)
    }

    fn check_usable(&self) -> Result<()> {
        match &self.poisoned {
            None => Ok(()),
            Some(why) => Err(ClientError::Io(io::Error::new(
                io::ErrorKind::NotConnected,
                format!("connection unusable after an earlier error: {why}"),
            ))),
        }
    }

    fn poison(&mut self, e: ClientError) -> ClientError {
        if self.poisoned.is_none() {
            self.poisoned = Some(e.to_string());
        }
        e
    }

    /// Reads the next response off the socket and checks it answers a pending request.
    fn read_response(&mut self) -> Result<(u64, Response<'static>)> {
        self.read_response_inner().map_err(|e| self.read_failed(e))
    }

    /// A failed read poisons the connection, except a read timeout: that leaves the stream
    /// intact (partial bytes stay buffered), and the caller may wait again.
    fn read_failed(&mut self, e: ClientError) -> ClientError {
        match e {
            ClientError::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                ClientError::Io(e)
            }
            e => self.poison(e),
        }
    }

    fn read_response_inner(&mut self) -> Result<(u64, Response<'static>)> {
        let (id, opcode, used) = self.next_frame_header()?;
        let resp = match decode_frame(self.rbuf.data(), self.max_frame)? {
            Some((frame, _)) => Response::from_frame(&frame).map(Response::into_owned),
            None => {
                return Err(ClientError::Unexpected(
                    "a complete frame went missing".into(),
                ))
            }
        };
        self.rbuf.consume(used);
        self.match_request(id, opcode, resp?)
    }

    fn match_request(
        &mut self,
        id: u64,
        opcode: u8,
        resp: Response<'static>,
    ) -> Result<(u64, Response<'static>)> {
        if id == 0 {
            // The server's verdict on the stream as a whole; it closes after it.
            return Err(match resp {
                Response::Error(e) => e.into(),
                other => unexpected("an Error for request id 0", &other),
            });
        }
        self.check_answers(id, opcode)?;
        Ok((id, resp))
    }

    /// Retires pending request `id`, checking that a response with `opcode` answers it.
    fn check_answers(&mut self, id: u64, opcode: u8) -> Result<()> {
        let Some(req) = self.pending.remove(&id) else {
            return Err(ClientError::Unexpected(format!(
                "response (opcode {opcode:#04x}) to request id {id}, which is not in flight"
            )));
        };
        if opcode != ERROR_OPCODE && opcode != req.response() {
            return Err(ClientError::Unexpected(format!(
                "response opcode {opcode:#04x} to a {req:?} request (id {id})"
            )));
        }
        Ok(())
    }
}

/// The error for a response of the wrong type.
pub(crate) fn unexpected(wanted: &str, got: &Response<'_>) -> ClientError {
    ClientError::Unexpected(format!(
        "expected {wanted}, got a response with opcode {:#04x}",
        got.opcode()
    ))
}

fn open_stream(cfg: &ClientConfig) -> Result<TcpStream> {
    let addrs = cfg
        .addr
        .to_socket_addrs()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {}: {e}", cfg.addr)))?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, cfg.connect_timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"));
    Err(io::Error::new(e.kind(), format!("cannot connect to {}: {e}", cfg.addr)).into())
}
