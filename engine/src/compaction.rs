//! Reclaiming space: small, bounded steps that a caller interleaves with traffic.
//!
//! Each step looks at the sealed segments (never the head, never one with records still
//! in the write path) and does one of:
//! - **remove** a segment with no live message (both files unlinked; in a FIFO partition
//!   only once its newest record is older than the deduplication window; and only once
//!   an index sync vouches for all of it, since its deletion markers may be all that
//!   makes some other segment's deletes durable);
//! - **expire** a segment whose newest record is past the retention period: every message
//!   in it is expired at once and the segment removed;
//! - **copy forward** the ready messages of a segment whose live bytes fell below
//!   `PartitionConfig::compact_live_ratio` of its written bytes, so one slow message cannot
//!   pin a whole segment. Copies keep message id, sent time, attributes, receive count and
//!   receipt generation (so the handle of a message whose visibility ran out still deletes
//!   or changes the copy: `partition/receipts.rs`);
//!   each carries an origin naming the slot it replaces, which is marked moved only when
//!   the copy is durable (and recovery finishes the job if a crash comes in between). A
//!   segment holding in-flight or delayed messages waits until they resolve. FIFO
//!   partitions never copy forward, since a copy at the head would overtake newer
//!   messages of its group; they reclaim whole segments only.
//!
//! A step does at most `budget` units of work (slots examined or records copied).

use crate::dedup::DEDUP_WINDOW_MS;
use crate::error::Result;
use crate::index::SlotState;
use crate::partition::Partition;
use crate::record::{self, Origin};
use crate::segment;

/// What one compaction step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactionStep {
    /// Nothing to reclaim now.
    Idle,
    /// A segment was unlinked, freeing this many bytes.
    Removed { base_seq: u64, bytes: u64 },
    /// Messages of an expired segment were expired (the segment goes on the next step).
    Expired { base_seq: u64, messages: u64 },
    /// Ready messages were staged for copying forward; flush to make them durable.
    Copied { base_seq: u64, messages: u64 },
}

impl Partition {
    /// Runs one bounded compaction step. Copies are staged: the caller flushes as usual.
    pub(crate) fn compact_step(&mut self, now_ms: u64, budget: usize) -> Result<CompactionStep> {
        // A flush out may write a sealed segment's index: nothing is removed under it.
        // Staged sends only touch the head, so removal and expiry go on under load; copying
        // forward waits for a quiet moment, since copies join the head's staged records.
        if self.is_flushing() || self.segs.len() < 2 {
            return Ok(CompactionStep::Idle);
        }
        let staged = self.has_staged();
        let committed = self.committed_seq;
        let retention = self.params.retention_ms;
        let fifo = self.params.fifo;
        let ratio = self.cfg.compact_live_ratio;
        // Sealed segments only: the last one is the head.
        let sealed = self.segs.len() - 1;
        let mut pick: Option<(usize, u8)> = None;
        for (i, s) in self.segs.iter().take(sealed).enumerate() {
            if s.end_seq() > committed {
                break;
            }
            let below_floor = s.end_seq() <= self.purge_floor;
            if s.live == 0 || below_floor {
                // If it holds deletion markers for other segments' deletes, it stays
                // until an index sync has made those durable where they belong (its
                // header then vouches for all of it; see `Engine::sync_index`).
                if s.has_markers && s.header_durable < s.count && !below_floor {
                    continue;
                }
                // FIFO: the deduplication window is rebuilt on open from the records of
                // the last five minutes, so their files stay until the window has passed.
                if fifo && s.max_sent_ms.saturating_add(DEDUP_WINDOW_MS) > now_ms {
                    continue;
                }
                pick = Some((i, 0));
                break;
            }
            if s.max_sent_ms.saturating_add(retention) <= now_ms {
                pick = Some((i, 1));
                break;
            }
            let sparse = (s.live_bytes as f64) < ratio * (s.write_pos as f64);
            if pick.is_none() && !fifo && !staged && s.pinned == 0 && sparse {
                pick = Some((i, 2));
            }
        }
        let Some((i, what)) = pick else {
            return Ok(CompactionStep::Idle);
        };
        match what {
            0 => self.remove_segment(i),
            1 => Ok(self.expire_segment(i)),
            _ => self.copy_forward(i, budget),
        }
    }

    fn remove_segment(&mut self, i: usize) -> Result<CompactionStep> {
        let seg = self.segs.remove(i).expect("index in range");
        debug_assert!(seg.live == 0 || seg.end_seq() <= self.purge_floor);
        let bytes = seg.disk_bytes();
        seg.unlink()?;
        let base_seq = seg.base_seq;
        drop(seg);
        segment::sync_dir(&self.dir)?;
        if !self.forward.is_empty() {
            self.prune_forward();
        }
        Ok(CompactionStep::Removed { base_seq, bytes })
    }

    fn expire_segment(&mut self, i: usize) -> CompactionStep {
        let base = self.segs[i].base_seq;
        let count = self.segs[i].count;
        let mut n = 0;
        for k in 0..count {
            let seq = base + u64::from(k);
            let Some((pos, slot)) = self.slot_of(seq) else {
                continue;
            };
            if !slot.state.is_live() {
                continue;
            }
            match slot.state {
                SlotState::Ready => self.counters.ready -= 1,
                SlotState::InFlight => {
                    self.timers_mut().remove(seq);
                    self.counters.in_flight -= 1;
                    if self.params.fifo {
                        self.fifo_release(seq);
                    }
                }
                SlotState::Delayed => {
                    self.timers_mut().remove(seq);
                    self.counters.delayed -= 1;
                }
                // Being moved to another queue: leave it to the move.
                _ => continue,
            }
            let seg = &mut self.segs[pos];
            seg.index.set_state(k, SlotState::Expired);
            seg.transition(k, slot.state, SlotState::Expired, slot.len);
            n += 1;
        }
        // Ready messages of FIFO groups pending behind the cursor are skipped lazily.
        self.segs[i].idx_dirty = true;
        CompactionStep::Expired {
            base_seq: base,
            messages: n,
        }
    }

    fn copy_forward(&mut self, i: usize, budget: usize) -> Result<CompactionStep> {
        let base = self.segs[i].base_seq;
        let count = self.segs[i].count;
        let mut copied = 0u64;
        for (examined, k) in (0..count).enumerate() {
            if copied as usize >= budget || examined >= self.cfg.scan_budget {
                break;
            }
            let seg = &self.segs[i];
            let slot = seg.slot(k);
            if slot.state != SlotState::Ready {
                continue;
            }
            let seq = base + u64::from(k);
            if seq < self.purge_floor {
                continue;
            }
            // Read through the mmap: verified, so that a damaged record is never given a
            // fresh, valid CRC by its copy.
            let Ok(mut rec) = record::decode(seg.record_bytes(&slot)) else {
                self.drop_corrupt(i, seq, slot.len);
                continue;
            };
            rec.seq = self.next_seq;
            rec.receive_count = u32::from(slot.receive_count);
            rec.first_receive_ms = slot.first_receive_ms;
            // The ids now name the slot this copy replaces (for crash reconciliation); the
            // queue name still says where a dead letter came from (redrive, receive).
            let queue_name = rec.origin.take().map(|o| o.queue_name).unwrap_or_default();
            rec.origin = Some(Origin {
                queue_id: self.queue_id,
                partition: self.number,
                seq,
                queue_name,
            });
            // Staged before the original is taken out: if staging fails (no room for a
            // new segment: a full disk), the original is left ready, as it was.
            let copy = self.stage_record(&rec, Some(seq))?;
            // A handle of the original (its visibility ran out, nobody received it
            // since) keeps working: the copy carries its generation, journaled.
            self.forward_copy(&slot, copy);
            // The original stays in the ready count until its copy commits and takes its
            // place (`commit_entry`), so the count does not dip while the copy waits for
            // its group commit. Rolling to a new segment only appends to `segs`, so `i`
            // still names the original's.
            let seg = &mut self.segs[i];
            debug_assert_eq!(seg.slot(k).state, SlotState::Ready, "slot of seq {seq}");
            seg.index.set_state(k, SlotState::Moving);
            seg.transition(k, SlotState::Ready, SlotState::Moving, slot.len);
            copied += 1;
        }
        Ok(CompactionStep::Copied {
            base_seq: base,
            messages: copied,
        })
    }
}
