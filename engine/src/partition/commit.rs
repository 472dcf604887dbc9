//! The rest of the write path: taking the staged batch out as a [`PreparedFlush`],
//! committing it once the flusher wrote and synced it, and the two-phase index sync that
//! advances each segment's durable point.
//!
//! Promises: one flush at a time per partition, so commit order is log order; a batch's
//! messages become visible (or delayed) only in [`Partition::complete_flush`] after the
//! I/O succeeded; a failed flush marks the partition failed, and
//! [`Partition::discard_uncommitted`] erases what it may have left before a reopen; an
//! index header never vouches for slots that were not synced before it.

use std::os::fd::RawFd;

use super::stage::StagedEntry;
use super::Partition;
use crate::aligned::{AlignedBuf, Sink, ALIGN};
use crate::error::{EngineError, Result};
use crate::flusher::{FlushJob, Flusher, WriteOp};
use crate::index::SlotState;
use crate::retained::Span;

/// Largest batch buffer kept in a partition's pool: a buffer that grew past this for one
/// large flush is let go after it, so the pool does not pin its high-water mark.
const MAX_POOLED_BUF: usize = 16 << 20;

/// A batch taken out of the partition to be written and synced. Hand it to a
/// [`Flusher`] (via [`PreparedFlush::job`]) and then back to
/// [`Partition::complete_flush`].
pub struct PreparedFlush {
    buf: AlignedBuf,
    spans: Vec<Span>,
    entries: Vec<StagedEntry>,
    fds: Vec<RawFd>,
    sync_fds: Vec<RawFd>,
    /// Segments whose index files this flush syncs (phase one of an index sync wave
    /// carried by the flush; see [`Partition::prepare_flush_with_index`]).
    idx_synced: Vec<u64>,
}

impl PreparedFlush {
    /// The I/O to perform. `ops` is scratch space owned by the caller.
    pub fn job<'a>(&'a self, ops: &'a mut Vec<WriteOp<'a>>) -> FlushJob<'a> {
        ops.clear();
        for (s, fd) in self.spans.iter().zip(&self.fds) {
            let data = if s.direct {
                self.buf.aligned(s.start, s.end)
            } else {
                &self.buf.bytes()[s.start..s.end]
            };
            ops.push(WriteOp {
                fd: *fd,
                offset: s.file_offset,
                data,
            });
        }
        FlushJob {
            writes: ops,
            sync_fds: &self.sync_fds,
        }
    }

    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn messages(&self) -> usize {
        self.entries.iter().filter(|e| !e.marker).count()
    }
}

impl Partition {
    /// Takes the staged batch out for writing. Returns None if there is nothing to do or a
    /// flush is already out (one at a time keeps commit order equal to log order).
    pub(crate) fn prepare_flush(&mut self) -> Option<PreparedFlush> {
        self.prepare_flush_with_index(false)
    }

    /// [`Partition::prepare_flush`], and if `index` is set, also phase one of an index
    /// sync wave ([`Partition::sync_index_files`]) done by the flusher, off the caller's
    /// thread: the flush then also syncs every index file with changes (and is taken
    /// even with nothing staged). Once every partition's flush of the wave succeeded,
    /// call [`Partition::advance_headers`] on each.
    pub(crate) fn prepare_flush_with_index(&mut self, index: bool) -> Option<PreparedFlush> {
        if self.flushing || self.failed.is_some() {
            return None;
        }
        let committed = self.committed_seq;
        let index_work = index && self.segs.iter().any(|s| s.needs_index_sync(committed));
        if !self.needs_flush() && !index_work {
            return None;
        }
        // Deletes are journaled in the log, so that one fdatasync (the log's) makes them
        // durable; index files are synced only by `sync_index`, in the background. If no
        // marker can be written (the head is full and the disk has no room for another
        // segment), the index files are synced with the log instead: deletes must work on
        // a full disk, since they are how it drains.
        let journaled = self.stage_deletes().is_ok() && self.stage_states().is_ok();
        // The head's new partial page prefixes the next direct span; whole pages go out.
        if let Some(last) = self.spans.last().copied() {
            if last.direct {
                let end_off = last.file_offset + (last.end - last.start) as u64;
                let page = (end_off % ALIGN as u64) as usize;
                self.tail.clear();
                self.tail
                    .extend_from_slice(&self.buf.bytes()[last.end - page..last.end]);
                self.buf.pad_to_align();
            }
        }
        let mut fds = Vec::with_capacity(self.spans.len());
        let mut sync_fds = Vec::new();
        for s in &self.spans {
            let p = self.seg_pos(s.seg_base).expect("staged segment exists");
            let seg = &self.segs[p];
            fds.push(match (s.direct, seg.direct_fd()) {
                (true, Some(fd)) => fd,
                _ => seg.log_fd(),
            });
            if self.cfg.sync && !sync_fds.contains(&self.segs[p].log_fd()) {
                sync_fds.push(self.segs[p].log_fd());
            }
        }
        let mut idx_synced = Vec::new();
        if index_work {
            // Slots (offsets, states) reach disk before a header that vouches for them;
            // the header target is what was committed before this flush.
            for s in &mut self.segs {
                if s.needs_index_sync(committed) {
                    sync_fds.push(s.index.fd());
                    s.idx_dirty = false;
                    idx_synced.push(s.base_seq);
                }
            }
            debug_assert!(
                committed >= self.header_target,
                "durable points only advance"
            );
            self.header_target = committed;
        } else if !journaled && self.cfg.sync {
            for s in self.segs.iter().filter(|s| s.idx_dirty) {
                sync_fds.push(s.index.fd());
            }
        }
        let fresh = self.spare.pop().unwrap_or_default();
        let buf = std::mem::replace(&mut self.buf, fresh);
        self.flushing = true;
        Some(PreparedFlush {
            buf,
            spans: std::mem::take(&mut self.spans),
            entries: std::mem::take(&mut self.entries),
            fds,
            sync_fds,
            idx_synced,
        })
    }

    /// Finishes a flush. On success the batch is committed: its messages become visible
    /// (or delayed) and the caller may acknowledge them. Returns the number committed.
    ///
    /// On failure the partition is marked failed: after a failed fdatasync the state of
    /// the file is unknown, so the only safe path is to reopen and recover.
    pub(crate) fn complete_flush(
        &mut self,
        now_ms: u64,
        p: PreparedFlush,
        io: std::io::Result<()>,
    ) -> Result<usize> {
        debug_assert!(self.flushing);
        self.flushing = false;
        if let Err(e) = io {
            for base in &p.idx_synced {
                if let Some(pos) = self.seg_pos(*base) {
                    self.segs[pos].idx_dirty = true;
                }
            }
            let msg = format!("flush failed: {e}");
            let full = crate::error::is_enospc(&e);
            self.failed = Some((msg.clone(), full));
            return Err(if full {
                EngineError::OutOfSpace(msg)
            } else {
                EngineError::Failed(msg)
            });
        }
        // Commit order is log order: a batch continues exactly where the last one ended,
        // with no seq missing or repeated, so nothing is committed twice.
        debug_assert!(
            p.entries
                .first()
                .is_none_or(|e| e.seq == self.committed_seq),
            "batch starts at {:?}, committed up to {}",
            p.entries.first().map(|e| e.seq),
            self.committed_seq
        );
        debug_assert!(p.entries.windows(2).all(|w| w[1].seq == w[0].seq + 1));
        let n = p.messages();
        for e in &p.entries {
            self.commit_entry(now_ms, e);
        }
        if let Some(last) = p.entries.last() {
            self.committed_seq = last.seq + 1;
        }
        self.fair_committed();
        let mut freed = Vec::new();
        match (p.entries.first(), p.entries.last()) {
            (Some(first), Some(last)) => self.retained.keep(
                p.buf,
                p.spans,
                (first.seq, last.seq),
                self.cfg.retain_bytes,
                &mut freed,
            ),
            _ => freed.push(p.buf),
        }
        self.recycle(freed);
        Ok(n)
    }

    /// Returns batch buffers to the pool (a few are kept: fresh memory is slow to touch).
    pub(super) fn recycle(&mut self, bufs: Vec<AlignedBuf>) {
        for mut buf in bufs {
            if self.spare.len() < 2 && buf.capacity() <= MAX_POOLED_BUF {
                buf.clear();
                self.spare.push(buf);
            }
        }
    }

    fn commit_entry(&mut self, now_ms: u64, e: &StagedEntry) {
        let Some(pos) = self.seg_pos(e.seq) else {
            return;
        };
        let seg = &mut self.segs[pos];
        seg.max_sent_ms = seg.max_sent_ms.max(e.sent_at_ms);
        if e.marker || e.seq < self.purge_floor {
            self.set_state(pos, e.seq, SlotState::Staged, SlotState::Deleted, e.len);
        } else if e.visible_at_ms > now_ms {
            let mut slot = self.segs[pos].slot((e.seq - self.segs[pos].base_seq) as u32);
            slot.state = SlotState::Delayed;
            slot.visible_at_ms = e.visible_at_ms;
            self.write_slot(pos, e.seq, SlotState::Staged, &slot);
            self.timers.insert(e.seq, e.visible_at_ms);
            self.counters.delayed += 1;
        } else {
            self.set_state(pos, e.seq, SlotState::Staged, SlotState::Ready, e.len);
            self.counters.ready += 1;
        }
        if let Some(old) = e.replaces {
            if let Some((p, s)) = self.slot_of(old) {
                if s.state == SlotState::Moving {
                    self.set_state(p, old, SlotState::Moving, SlotState::Moved, s.len);
                    // Must be durable before the copy's index header says the copy is.
                    self.segs[p].idx_dirty = true;
                    // A compaction copy: its original was still counted ready (see
                    // `copy_forward`); now the copy counts instead. (After a purge both
                    // are gone and the purge already reset the counts.)
                    if e.seq >= self.purge_floor {
                        debug_assert!(self.counters.ready > 0, "the original was counted");
                        self.counters.ready = self.counters.ready.saturating_sub(1);
                    }
                }
            }
        }
    }

    /// Stages nothing new; writes and syncs whatever is staged with `flusher`, then
    /// commits. Returns the number of messages committed.
    pub(crate) fn flush(&mut self, now_ms: u64, flusher: &mut dyn Flusher) -> Result<usize> {
        self.check_ok()?;
        let Some(p) = self.prepare_flush() else {
            return Ok(0);
        };
        let io = {
            let mut ops = Vec::new();
            let job = p.job(&mut ops);
            flusher.flush(&job)
        };
        self.complete_flush(now_ms, p, io)
    }

    /// Phase one of an index sync wave ([`Engine::sync_index`](crate::Engine::sync_index),
    /// or one carried by a group commit: `Engine::begin_flush_with_index`): sync every
    /// index file whose slots changed or whose header is about to advance; phase two is
    /// [`Partition::advance_headers`]. Waves bound how much of the log recovery must
    /// rescan. Returns false if a flush is out (try later).
    /// An engine runs phase one on every partition before phase two on any, so that a
    /// header never vouches for a moved record whose source slot is not yet durable.
    pub(crate) fn sync_index_files(&mut self) -> Result<bool> {
        self.check_ok()?;
        if self.flushing {
            return Ok(false);
        }
        let committed = self.committed_seq;
        for s in &mut self.segs {
            if s.needs_index_sync(committed) {
                // Slots (offsets, states) reach disk before a header that vouches for them.
                s.index.sync()?;
                s.idx_dirty = false;
            }
        }
        debug_assert!(
            committed >= self.header_target,
            "durable points only advance"
        );
        self.header_target = committed;
        Ok(true)
    }

    /// Phase two: write each segment's durable point as of phase one.
    pub(crate) fn advance_headers(&mut self) {
        let committed = self.header_target;
        for s in &mut self.segs {
            let durable = s.durable_count(committed);
            debug_assert!(durable >= s.header_durable, "durable points only advance");
            if durable == s.header_durable {
                continue;
            }
            s.header_durable = durable;
            let h = crate::index::IndexHeader {
                base_seq: s.base_seq,
                capacity: s.index.capacity(),
                durable_count: durable,
                log_capacity: s.capacity,
                max_sent_ms: s.max_sent_ms,
            };
            s.index.write_header(&h);
        }
    }

    /// Before a failed partition is reopened: erase every byte past the last committed
    /// record, so that recovery cannot adopt records of the failed batch (they may sit in
    /// the page cache but not on disk: after a failed fdatasync the kernel may have
    /// dropped or marked clean the dirty pages), and so that later appends never follow
    /// bytes whose durability is unknown. Segments that hold no committed record are
    /// removed, except one that starts at the committed end (emptied instead). The erasure is synced; if that fails the partition stays failed.
    pub(crate) fn discard_uncommitted(&mut self) -> Result<()> {
        let committed = self.committed_seq;
        let mut removed = false;
        for seg in &self.segs {
            if seg.base_seq > committed {
                for path in [
                    crate::segment::log_path(&self.dir, seg.base_seq),
                    crate::segment::idx_path(&self.dir, seg.base_seq),
                ] {
                    match std::fs::remove_file(&path) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                        _ => removed = true,
                    }
                }
                continue;
            }
            // Kept (it starts at the committed end, so sequence numbers continue from
            // it) but emptied: the segment that starts where the commits end.
            let end = if seg.base_seq == committed {
                0
            } else if seg.contains(committed - 1) {
                let s = seg.slot((committed - 1 - seg.base_seq) as u32);
                u64::from(s.offset) + u64::from(s.len)
            } else {
                continue;
            };
            crate::segment::zero_range(seg.log_file(), end, seg.capacity)?;
            seg.log_file().sync_data()?;
        }
        if removed {
            crate::segment::sync_dir(&self.dir)?;
        }
        Ok(())
    }
}
