//! Recently flushed batches, kept in memory so that a message just written is read from
//! RAM when it is received, not through the log's mmap.
//!
//! Why: appends go to disk with O_DIRECT, so the page cache does not hold what was just
//! written. A consumer that keeps up receives those records moments later; through the
//! mmap each new page is a fault that reads the page back from disk (with readahead of
//! the unwritten space after it), and the next O_DIRECT write over a mapped page
//! invalidates it again (TLB shootdowns). The batch buffer held exactly those bytes a
//! moment ago, so the partition keeps the last few instead of recycling them at once.
//!
//! Promises: a slice handed out is byte-for-byte what the flusher wrote at that file
//! offset of that segment (the log is never rewritten in place while a segment exists:
//! appends only go past the write position, and segment base seqs are never reused);
//! memory is bounded per partition by `limit` bytes of buffer capacity (the newest batch
//! is kept even if larger, so a single large batch does not defeat the cache) and a batch
//! is let go as soon as the read cursor has passed its last record, so an idle queue holds
//! nothing beyond its unread tail.

use std::collections::VecDeque;

use crate::aligned::{AlignedBuf, Sink};

/// Most batches kept per partition (small batches must not make the list long).
const MAX_BATCHES: usize = 256;

/// A run of a batch buffer that goes to one segment: `buf[start..end]` is written at
/// `file_offset` of the segment starting at `seg_base`. A direct span starts on a page
/// boundary of the file and of the buffer: its first bytes repeat the segment's last
/// partial page, and it is written padded with zeros to whole pages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub seg_base: u64,
    pub file_offset: u64,
    pub start: usize,
    pub end: usize,
    pub direct: bool,
}

struct Batch {
    buf: AlignedBuf,
    spans: Vec<Span>,
    /// Seqs of the batch's first and last records.
    first_seq: u64,
    last_seq: u64,
}

#[derive(Default)]
pub(crate) struct Retained {
    batches: VecDeque<Batch>,
    /// Sum of the kept buffers' capacities (what they pin).
    bytes: usize,
}

impl Retained {
    /// Keeps a flushed batch (committed, so its bytes are on disk too). Returns the
    /// buffers let go to stay within `limit`, for the caller's pool.
    pub fn keep(
        &mut self,
        buf: AlignedBuf,
        spans: Vec<Span>,
        seqs: (u64, u64),
        limit: usize,
        out: &mut Vec<AlignedBuf>,
    ) {
        if limit == 0 {
            out.push(buf);
            return;
        }
        let (first_seq, last_seq) = seqs;
        debug_assert!(first_seq <= last_seq);
        debug_assert!(self.batches.back().is_none_or(|b| b.last_seq < first_seq));
        self.bytes += buf.capacity();
        self.batches.push_back(Batch {
            buf,
            spans,
            first_seq,
            last_seq,
        });
        while (self.bytes > limit || self.batches.len() > MAX_BATCHES) && self.batches.len() > 1 {
            self.pop_front(out);
        }
    }

    /// Lets go of every batch whose records all lie below `seq` (the read cursor).
    pub fn release_below(&mut self, seq: u64, out: &mut Vec<AlignedBuf>) {
        while self.batches.front().is_some_and(|b| b.last_seq < seq) {
            self.pop_front(out);
        }
    }

    /// Lets go of everything (purge, failure, close).
    pub fn clear(&mut self, out: &mut Vec<AlignedBuf>) {
        while !self.batches.is_empty() {
            self.pop_front(out);
        }
    }

    fn pop_front(&mut self, out: &mut Vec<AlignedBuf>) {
        if let Some(b) = self.batches.pop_front() {
            self.bytes -= b.buf.capacity();
            out.push(b.buf);
        }
    }

    /// The `len` bytes of record `seq`, written at `offset` of segment `seg_base`, if a
    /// kept batch holds all of them. O(log batches) to find the batch of `seq`.
    pub fn find(&self, seq: u64, seg_base: u64, offset: u64, len: usize) -> Option<&[u8]> {
        let i = self.batches.partition_point(|b| b.last_seq < seq);
        let b = self.batches.get(i).filter(|b| b.first_seq <= seq)?;
        b.spans.iter().find_map(|s| {
            let span_len = (s.end - s.start) as u64;
            (s.seg_base == seg_base
                && offset >= s.file_offset
                && offset + len as u64 <= s.file_offset + span_len)
                .then(|| {
                    let at = s.start + (offset - s.file_offset) as usize;
                    b.buf.bytes().get(at..at + len)
                })
                .flatten()
        })
    }

    /// Batches kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.batches.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(bytes: &[u8]) -> AlignedBuf {
        let mut b = AlignedBuf::new();
        b.extend_from_slice(bytes);
        b
    }

    #[test]
    fn finds_bytes_by_segment_and_offset_and_bounds_memory() {
        let mut r = Retained::default();
        let mut pool = Vec::new();
        // Batch 1: segment 0, file offsets 100..110 at buffer 0..10.
        let span1 = Span {
            seg_base: 0,
            file_offset: 100,
            start: 0,
            end: 10,
            direct: false,
        };
        r.keep(
            batch(b"0123456789"),
            vec![span1],
            (0, 9),
            1 << 20,
            &mut pool,
        );
        // Batch 2: segment 0 at 110..114 then segment 50 at 0..4 (a roll mid-batch).
        let spans = vec![
            Span {
                seg_base: 0,
                file_offset: 110,
                start: 0,
                end: 4,
                direct: false,
            },
            Span {
                seg_base: 50,
                file_offset: 0,
                start: 4,
                end: 8,
                direct: false,
            },
        ];
        r.keep(batch(b"abcdWXYZ"), spans, (10, 60), 1 << 20, &mut pool);
        assert_eq!(r.find(2, 0, 102, 3), Some(&b"234"[..]));
        assert_eq!(r.find(10, 0, 111, 2), Some(&b"bc"[..]));
        assert_eq!(r.find(50, 50, 1, 3), Some(&b"XYZ"[..]));
        // Straddling two batches, outside every span, another segment, or a seq no kept
        // batch holds: not held.
        assert_eq!(r.find(9, 0, 108, 4), None);
        assert_eq!(r.find(1, 0, 90, 4), None);
        assert_eq!(r.find(50, 7, 0, 1), None);
        assert_eq!(r.find(61, 0, 111, 2), None);
        assert!(pool.is_empty());

        // The cursor passed batch 1: it goes back to the pool.
        r.release_below(10, &mut pool);
        assert_eq!(pool.len(), 1);
        assert_eq!(r.find(2, 0, 102, 3), None);
        assert_eq!(r.len(), 1);

        // Over the limit: the oldest goes, the newest always stays.
        r.keep(batch(b"zz"), vec![span1], (61, 61), 4, &mut pool);
        assert_eq!(r.len(), 1);
        assert_eq!(pool.len(), 2);
        r.clear(&mut pool);
        assert_eq!(r.len(), 0);
        assert_eq!(pool.len(), 3);
    }
}
