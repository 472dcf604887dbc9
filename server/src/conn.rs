//! One client connection of a shard: its socket and its two buffers.
//!
//! Bytes in: [`Conn::fill`] reads what the socket has into a buffer that never holds more
//! than one maximum frame plus one read's worth (64 KiB); [`Conn::next_frame_span`] cuts
//! whole frames off its front. Bytes out: responses are encoded straight into the write buffer
//! (every response of a loop turn is coalesced into one `write`), and
//! [`Conn::write_out`] drains it.
//!
//! Promises: memory per connection is bounded by the read bound plus the write bound
//! (`WRITE_PAUSE`, at which the shard stops reading requests until the client reads its
//! replies, and `WRITE_LIMIT`, at which it closes the connection); nothing here panics on
//! any input.

use std::io::{self, Read, Write};

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};
use spool_protocol::{decode_frame, ProtocolError};

/// Bytes read per `read` call (and the read buffer's headroom).
const READ_CHUNK: usize = 64 << 10;
/// The first read's buffer; doubled up to `READ_CHUNK` as reads fill it.
const FIRST_CHUNK: usize = 4 << 10;
/// Stop reading requests from a client whose unread replies exceed this.
pub const WRITE_PAUSE: usize = 32 << 20;
/// Close a connection whose unread replies exceed this: replies to requests taken before
/// the pause (long polls, routed receives) can still arrive, and a client that does not
/// read must not make the server hold them without bound. Messages in dropped Receive
/// replies are redelivered after their visibility timeout.
pub const WRITE_LIMIT: usize = 256 << 20;

/// Requests one internal connection (the SQS API gateway's) may have in flight: the
/// gateway bounds its own concurrency (HTTP connections, each one request at a time), and
/// its long polls must not starve behind the per-client bound.
pub const INTERNAL_MAX_IN_FLIGHT: usize = 8192;

/// A client's socket: TCP from the outside, or one end of a Unix socket pair from a
/// component of the daemon itself (the SQS API gateway).
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
        }
    }
}

pub struct Conn {
    pub stream: Stream,
    /// A connection of the daemon's own SQS gateway: no API key, a larger in-flight bound.
    pub internal: bool,
    /// Bumped when the slot is reused, so a late reply for a closed connection is dropped.
    pub generation: u64,
    rbuf: Vec<u8>,
    /// Unconsumed bytes are `rbuf[rpos..rlen]`.
    rpos: usize,
    rlen: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    /// Requests taken from this connection whose responses are not yet in `wbuf`.
    pub in_flight: usize,
    /// The Hello exchange succeeded.
    pub hello_done: bool,
    /// Close once `wbuf` is written (after a fatal error or at shutdown).
    pub closing: bool,
    /// The peer closed its side (EOF): no more requests will come.
    pub eof: bool,
    /// Stopped taking frames (in-flight or write bound); resume when below again.
    pub paused: bool,
    /// The socket may hold bytes not read yet: the last `fill` stopped at the buffer
    /// bound, or a readable event came while paused. Edge-triggered epoll will not say so
    /// again, so the next `take_frames` that runs dry must read.
    pub may_have_more: bool,
}

impl Conn {
    pub fn new(stream: Stream, generation: u64, internal: bool) -> Conn {
        Conn {
            stream,
            internal,
            generation,
            rbuf: Vec::new(),
            rpos: 0,
            rlen: 0,
            wbuf: Vec::new(),
            wpos: 0,
            in_flight: 0,
            hello_done: false,
            closing: false,
            eof: false,
            paused: false,
            may_have_more: false,
        }
    }

    /// Reads until the socket would block, EOF, or the buffer holds `max_frame` bytes more
    /// than it has consumed. Returns whether anything was read.
    pub fn fill(&mut self, max_frame: usize) -> io::Result<bool> {
        let mut any = false;
        self.may_have_more = false;
        if self.rbuf.len() < self.rlen {
            // Lent out (see lend_rbuf): reading now would lose the bytes it holds.
            debug_assert!(false, "fill while the read buffer is lent");
            return Ok(false);
        }
        loop {
            if self.rlen - self.rpos >= max_frame + READ_CHUNK {
                self.may_have_more = true;
                return Ok(any);
            }
            // Headroom grows with the buffer, from FIRST_CHUNK to READ_CHUNK: a connection
            // that sends little (an idle one, a Hello) costs a few KiB, a busy one reaches
            // full-size reads after a few of them. (With READ_CHUNK from the start, every
            // idle connection held 64 KiB of zeroed memory: 2 000 idle connections cost
            // 148 MiB.)
            let headroom = self.rbuf.len().clamp(FIRST_CHUNK, READ_CHUNK);
            if self.rpos > 0 && (self.rpos == self.rlen || self.rbuf.len() - self.rlen < headroom) {
                self.rbuf.copy_within(self.rpos..self.rlen, 0);
                self.rlen -= self.rpos;
                self.rpos = 0;
            }
            if self.rbuf.len() - self.rlen < headroom {
                let want = (self.rlen + headroom).min(max_frame + 2 * READ_CHUNK);
                self.rbuf.resize(want.max(self.rbuf.len()), 0);
            }
            match self.stream.read(&mut self.rbuf[self.rlen..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(any);
                }
                Ok(n) => {
                    self.rlen += n;
                    any = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Nothing buffered and nothing read yet: hold no memory while idle.
                    if self.rlen == 0 && self.rbuf.len() <= FIRST_CHUNK {
                        self.rbuf = Vec::new();
                    }
                    return Ok(any);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next whole frame in the read buffer, if one has arrived, as where it lies
    /// (offset, length), and marks it consumed. The shard then lends the buffer out
    /// ([`Conn::lend_rbuf`]) and serves the request straight from its bytes.
    pub fn next_frame_span(
        &mut self,
        max_frame: usize,
    ) -> Result<Option<(usize, usize)>, ProtocolError> {
        let start = self.rpos;
        let Some(pending) = self.rbuf.get(self.rpos..self.rlen) else {
            // Only while the buffer is lent out, which the shard never lets happen here.
            debug_assert!(false, "next_frame_span while the read buffer is lent");
            return Ok(None);
        };
        match decode_frame(pending, max_frame)? {
            None => Ok(None),
            Some((_, n)) => {
                self.rpos += n;
                Ok(Some((start, n)))
            }
        }
    }

    /// Takes the read buffer out while a request that borrows it is served; the shard
    /// gives it back with [`Conn::restore_rbuf`] before it reads the socket again (nothing
    /// between the two calls reads into this connection: reads happen only from the
    /// shard's event loop).
    pub fn lend_rbuf(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.rbuf)
    }

    /// Returns the buffer [`Conn::lend_rbuf`] took.
    pub fn restore_rbuf(&mut self, buf: Vec<u8>) {
        debug_assert!(
            self.rbuf.is_empty(),
            "the read buffer was refilled while lent"
        );
        self.rbuf = buf;
    }

    /// Whether unconsumed request bytes remain buffered.
    pub fn has_buffered_input(&self) -> bool {
        self.rpos < self.rlen
    }

    /// The write buffer, to encode responses into.
    pub fn out(&mut self) -> &mut Vec<u8> {
        &mut self.wbuf
    }

    /// Bytes waiting to be written.
    pub fn pending_out(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// Writes as much as the socket takes. Returns Ok(true) when everything is written.
    pub fn write_out(&mut self) -> io::Result<bool> {
        while self.wpos < self.wbuf.len() {
            match self.stream.write(&self.wbuf[self.wpos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.wbuf.clear();
        self.wpos = 0;
        // A burst (a big Receive reply) should not pin its memory for the connection's life.
        if self.wbuf.capacity() > 4 << 20 {
            self.wbuf.shrink_to(64 << 10);
        }
        if self.rpos == self.rlen && self.rbuf.len() > 4 << 20 {
            self.rbuf = Vec::new();
            self.rpos = 0;
            self.rlen = 0;
        }
        Ok(true)
    }
}
