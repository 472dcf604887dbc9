//! One client connection of a shard: its socket and its two buffers.
//!
//! Bytes in: [`Conn::fill`] reads what the socket has into a buffer that never holds more
//! than one maximum frame plus one read's worth (64 KiB); [`Conn::next_frame`] cuts
//! whole frames off its front and hands back each one's decoded header ([`FrameHead`]), so
//! a frame is decoded once. Bytes out: responses are encoded straight into the write buffer
//! (every response of a loop turn is coalesced into one `write`), and
//! [`Conn::write_out`] drains it.
//!
//! Promises: memory per connection is bounded by the read bound plus the write bound
//! (`WRITE_PAUSE`, at which the shard stops reading requests until the client reads its
//! replies, and `WRITE_LIMIT`, at which it closes the connection); nothing here panics on
//! any input. Where the connection is in its life is one [`State`], changed only here.

use std::io::{self, Read, Write};

use mio::net::TcpStream;
use spool_protocol::{decode_frame, Frame, ProtocolError, HEADER_LEN};

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

/// What the socket may still give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Everything it had was read (edge-triggered epoll says when there is more).
    Drained,
    /// It may hold bytes not read yet: the last `fill` stopped at the buffer bound, or a
    /// readable event came while paused. Epoll will not say so again, so the next
    /// `take_frames` that runs dry must read.
    Pending,
    /// The peer closed its side (EOF): no more requests will come.
    Closed,
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Taking frames.
    Open(Input),
    /// Stopped taking frames (in-flight or write bound, or the mailboxes overflowed);
    /// resumes when below again.
    Paused(Input),
    /// Close once the write buffer is written (after a fatal error, a refused handshake,
    /// or a half-close with everything answered). Final.
    Closing,
}

/// A frame cut off the read buffer: its header, decoded, and where its payload lies.
#[derive(Debug, Clone, Copy)]
pub struct FrameHead {
    pub version: u8,
    pub opcode: u8,
    pub flags: u16,
    pub request_id: u64,
    payload_start: usize,
    payload_len: usize,
}

impl FrameHead {
    /// The frame again, its payload borrowed from `rbuf` (the buffer
    /// [`Conn::lend_rbuf`] handed out after [`Conn::next_frame`] cut it).
    pub fn frame<'b>(&self, rbuf: &'b [u8]) -> Option<Frame<'b>> {
        let payload = rbuf.get(self.payload_start..)?.get(..self.payload_len)?;
        Some(Frame {
            version: self.version,
            opcode: self.opcode,
            flags: self.flags,
            request_id: self.request_id,
            payload,
        })
    }
}

pub struct Conn {
    pub stream: TcpStream,
    /// Bumped when the slot is reused, so a late reply for a closed connection is dropped.
    pub generation: u64,
    rbuf: Vec<u8>,
    /// Unconsumed bytes are `rbuf[rpos..rlen]`.
    rpos: usize,
    rlen: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    /// Requests taken from this connection whose responses are not yet in `wbuf`.
    in_flight: usize,
    /// The Hello exchange succeeded.
    pub hello_done: bool,
    state: State,
}

impl Conn {
    pub fn new(stream: TcpStream, generation: u64) -> Conn {
        Conn {
            stream,
            generation,
            rbuf: Vec::new(),
            rpos: 0,
            rlen: 0,
            wbuf: Vec::new(),
            wpos: 0,
            in_flight: 0,
            hello_done: false,
            state: State::Open(Input::Drained),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn is_closing(&self) -> bool {
        self.state == State::Closing
    }

    pub fn is_paused(&self) -> bool {
        matches!(self.state, State::Paused(_))
    }

    fn input(&self) -> Option<Input> {
        match self.state {
            State::Open(i) | State::Paused(i) => Some(i),
            State::Closing => None,
        }
    }

    /// The peer closed its side.
    pub fn is_eof(&self) -> bool {
        self.input() == Some(Input::Closed)
    }

    /// The socket may hold more than was read, and the peer has not closed it.
    pub fn may_have_more(&self) -> bool {
        self.input() == Some(Input::Pending)
    }

    /// Records what the socket may still give. EOF is final: nothing arrives after it.
    fn set_input(&mut self, input: Input) {
        let keep = |old: Input| if old == Input::Closed { old } else { input };
        self.state = match self.state {
            State::Open(old) => State::Open(keep(old)),
            State::Paused(old) => State::Paused(keep(old)),
            State::Closing => State::Closing,
        };
    }

    /// A readable event came while paused: read when resumed.
    pub fn note_readable(&mut self) {
        debug_assert!(
            self.is_paused(),
            "a readable note for a connection not paused"
        );
        self.set_input(Input::Pending);
    }

    /// Stops taking frames.
    pub fn pause(&mut self) {
        if let State::Open(i) = self.state {
            self.state = State::Paused(i);
        }
        debug_assert!(!matches!(self.state, State::Open(_)));
    }

    /// Takes frames again.
    pub fn resume(&mut self) {
        if let State::Paused(i) = self.state {
            self.state = State::Open(i);
        }
        debug_assert!(!self.is_paused());
    }

    /// Closes once the write buffer is written.
    pub fn close_after_write(&mut self) {
        self.state = State::Closing;
    }

    /// Requests taken whose replies are not written yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// A request was taken off this connection: one more reply is owed.
    pub fn begin_request(&mut self) {
        self.in_flight += 1;
    }

    /// A reply was written into the write buffer; once the peer has half-closed and
    /// everything is answered, the connection closes.
    pub fn end_request(&mut self) {
        debug_assert!(self.in_flight > 0, "a reply for no request in flight");
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.is_eof() && self.in_flight == 0 && !self.has_buffered_input() {
            // Half-closed by the client and everything answered: done.
            self.state = State::Closing;
        }
    }

    /// Reads until the socket would block, EOF, or the buffer holds `max_frame` bytes more
    /// than it has consumed. Returns whether anything was read.
    pub fn fill(&mut self, max_frame: usize) -> io::Result<bool> {
        let mut any = false;
        debug_assert!(!self.is_closing(), "fill of a closing connection");
        self.set_input(Input::Drained);
        if self.rbuf.len() < self.rlen {
            // Lent out (see lend_rbuf): reading now would lose the bytes it holds.
            debug_assert!(false, "fill while the read buffer is lent");
            return Ok(false);
        }
        loop {
            if self.rlen - self.rpos >= max_frame + READ_CHUNK {
                self.set_input(Input::Pending);
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
                    self.set_input(Input::Closed);
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

    /// The next whole frame in the read buffer, if one has arrived, as its decoded header
    /// and where its payload lies, and marks it consumed. The shard then lends the buffer
    /// out ([`Conn::lend_rbuf`]) and serves the request straight from its bytes
    /// ([`FrameHead::frame`]): the frame is not decoded again.
    pub fn next_frame(&mut self, max_frame: usize) -> Result<Option<FrameHead>, ProtocolError> {
        let start = self.rpos;
        let Some(pending) = self.rbuf.get(self.rpos..self.rlen) else {
            // Only while the buffer is lent out, which the shard never lets happen here.
            debug_assert!(false, "next_frame while the read buffer is lent");
            return Ok(None);
        };
        match decode_frame(pending, max_frame)? {
            None => Ok(None),
            Some((f, n)) => {
                let head = FrameHead {
                    version: f.version,
                    opcode: f.opcode,
                    flags: f.flags,
                    request_id: f.request_id,
                    payload_start: start + HEADER_LEN,
                    payload_len: f.payload.len(),
                };
                debug_assert_eq!(n, HEADER_LEN + head.payload_len);
                self.rpos += n;
                Ok(Some(head))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Conn, std::net::TcpStream) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (a, _) = l.accept().unwrap();
        a.set_nonblocking(true).unwrap();
        (Conn::new(TcpStream::from_std(a), 1), peer)
    }

    /// Fills until `done` holds (loopback delivers at once, but not within the same call).
    fn fill_until(c: &mut Conn, done: impl Fn(&Conn) -> bool) {
        for _ in 0..1000 {
            c.fill(1 << 20).unwrap();
            if done(c) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("the socket never gave what the test waits for");
    }

    fn ping_frame(id: u64) -> Vec<u8> {
        let mut out = Vec::new();
        spool_protocol::Request::Ping.encode(id, &mut out).unwrap();
        out
    }

    #[test]
    fn a_frame_is_cut_once_and_served_from_its_head() {
        let (mut c, mut peer) = pair();
        let mut bytes = ping_frame(7);
        bytes.extend(ping_frame(8));
        peer.write_all(&bytes).unwrap();
        fill_until(&mut c, super::Conn::has_buffered_input);
        let first = c.next_frame(1 << 20).unwrap().expect("a whole frame");
        let second = c.next_frame(1 << 20).unwrap().expect("a second frame");
        assert!(c.next_frame(1 << 20).unwrap().is_none());
        assert!(!c.has_buffered_input());
        let buf = c.lend_rbuf();
        for (head, id) in [(first, 7), (second, 8)] {
            let frame = head.frame(&buf).expect("payload in the buffer");
            assert_eq!(frame.request_id, id);
            assert_eq!(frame.opcode, head.opcode);
            let req = spool_protocol::Request::from_frame(&frame).unwrap();
            assert_eq!(req, spool_protocol::Request::Ping);
        }
        c.restore_rbuf(buf);
    }

    #[test]
    fn state_moves_through_pause_eof_and_closing() {
        let (mut c, peer) = pair();
        assert_eq!(c.state(), State::Open(Input::Drained));
        c.pause();
        assert!(c.is_paused());
        c.note_readable();
        assert!(c.may_have_more());
        c.resume();
        assert_eq!(c.state(), State::Open(Input::Pending));
        drop(peer);
        fill_until(&mut c, Conn::is_eof);
        assert!(!c.may_have_more());
        // EOF is final: a readable note while paused does not undo it.
        c.pause();
        c.note_readable();
        assert!(c.is_eof());
        c.resume();
        // Half-closed with one request out: answering it closes.
        c.begin_request();
        assert_eq!(c.in_flight(), 1);
        assert!(!c.is_closing());
        c.end_request();
        assert!(c.is_closing());
        // Closing is final.
        c.pause();
        c.resume();
        assert!(c.is_closing());
    }
}
