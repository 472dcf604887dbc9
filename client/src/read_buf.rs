//! [`ReadBuf`]: the connection's reusable, bounded input buffer.
//!
//! Unconsumed bytes are `buf[start..end]`. The buffer is compacted (unconsumed bytes moved
//! to the front) instead of reallocated, grows only when a frame needs the room, and never
//! grows past the larger of one read chunk and the max frame: frames are decoded as soon
//! as they are complete, so at most one partial frame is ever waiting for bytes, and the
//! frame decoder refuses any declared length above the max frame before we read for it.

use std::io::{self, Read};

/// Bytes asked of the socket per read when nothing says a frame needs more.
const READ_CHUNK: usize = 64 << 10;

#[derive(Debug, Default)]
pub(crate) struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    /// The bytes read but not consumed yet.
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks the first `n` unconsumed bytes as used.
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n.min(self.end - self.start);
        if self.start == self.end {
            // Empty: restart at the front so the next read needs no compaction.
            self.start = 0;
            self.end = 0;
        }
    }

    /// Bytes allocated (for tests: the buffer stays bounded).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Reads once from `r` (retrying on `Interrupted`) and returns how many bytes arrived;
    /// 0 means end of stream. `frame_len` is the length of the frame being assembled (its
    /// whole wire size, if its length prefix has arrived, else 0) and `max_frame` the
    /// bound the decoder enforces; together they size the buffer.
    pub(crate) fn fill(
        &mut self,
        r: &mut impl Read,
        frame_len: usize,
        max_frame: usize,
    ) -> io::Result<usize> {
        let limit = max_frame.max(READ_CHUNK);
        let pending = self.end - self.start;
        let frame_len = frame_len.min(limit);
        // Compact when the tail is too short for a useful read or the frame would not fit.
        if self.start > 0
            && (self.buf.len() - self.end < READ_CHUNK || self.start + frame_len > self.buf.len())
        {
            self.buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = pending;
        }
        // Grow for the frame being assembled, plus a chunk of headroom, within the bound.
        let want = (self.end + READ_CHUNK).max(frame_len).min(limit);
        if want > self.buf.len() {
            self.buf.resize(want, 0);
        }
        if self.end == self.buf.len() {
            // Cannot happen while the decoder keeps frames within max_frame: a full buffer
            // of `limit` bytes would already hold a complete frame.
            return Err(io::Error::other("read buffer full"));
        }
        loop {
            match r.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {} // a signal came first: retry
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacts_and_stays_bounded() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
        let mut src = &data[..];
        let mut rb = ReadBuf::default();
        let mut seen = Vec::new();
        for _ in 0..10_000 {
            let n = rb.fill(&mut src, 0, 100_000).unwrap();
            if n == 0 {
                break;
            }
            // Consume all but a few bytes each time, so compaction has work to do.
            let take = rb.data().len().saturating_sub(3);
            seen.extend_from_slice(&rb.data()[..take]);
            rb.consume(take);
            assert!(rb.capacity() <= 100_000);
        }
        seen.extend_from_slice(rb.data());
        assert_eq!(seen, data);
    }

    #[test]
    fn grows_for_a_large_frame_up_to_the_limit() {
        let data = vec![7u8; 300_000];
        let mut src = &data[..];
        let mut rb = ReadBuf::default();
        for _ in 0..1000 {
            if rb.data().len() == data.len() {
                break;
            }
            assert!(rb.fill(&mut src, 300_000, 1 << 20).unwrap() > 0);
        }
        assert_eq!(rb.data().len(), data.len());
        assert!(rb.capacity() <= 1 << 20);
    }
}
