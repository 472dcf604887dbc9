//! The first step of the write path: encoding messages (and deletion and state markers) into the
//! partition's write buffer, placing them in the head segment and rolling to a new
//! segment when it is full.
//!
//! Owns [`NewMessage`], [`Staged`] and the staged entries a flush later commits. Promises:
//! a staged record is neither durable nor visible (its slot is `Staged`) until the flush
//! that carries it completes (`commit.rs`); sequence numbers are assigned densely, in log
//! order; a FIFO send whose deduplication id is in the window stages nothing.

use std::borrow::Cow;

use super::Partition;
use crate::aligned::{Sink, ALIGN};
use crate::dedup::DedupHit;
use crate::error::{EngineError, Result};
use crate::index::{Slot, SlotState};
use crate::record::{self, MessageAttribute, MessageId, Origin, Record, RecordRef};
use crate::retained::Span;
use crate::segment::Segment;

/// A message to append, borrowing its body and attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMessage<'a> {
    pub body: &'a [u8],
    pub attributes: &'a [MessageAttribute],
    pub system_attributes: &'a [MessageAttribute],
    /// Absolute time before which it is not visible (0 = at once).
    pub visible_at_ms: u64,
    pub group_id: Option<&'a str>,
    pub dedup_id: Option<Cow<'a, str>>,
    /// Key for the deduplication window (FIFO); None = no deduplication.
    pub dedup_key: Option<Vec<u8>>,
    /// The same id's key under the other DeduplicationScope, remembered as well (not
    /// looked up): a scope change then finds every send of the last five minutes under
    /// the key the new scope looks for.
    pub dedup_other_scope: Option<Vec<u8>>,
    /// For moves (dead-letter, redrive): where the message came from, and the fields it
    /// keeps.
    pub origin: Option<Origin>,
    pub message_id: Option<MessageId>,
    pub sent_at_ms: Option<u64>,
    /// For dead-letter moves: the receive count and first-receive time the copy starts
    /// with (the source's; 0 for a send or a redrive).
    pub receive_count: u32,
    pub first_receive_ms: u64,
}

/// The result of staging one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staged {
    pub message_id: MessageId,
    pub seq: u64,
    /// True if the deduplication window already held this id: nothing was appended and
    /// `seq`/`message_id` are those of the first message.
    pub duplicate: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct StagedEntry {
    pub(super) seq: u64,
    pub(super) len: u32,
    pub(super) visible_at_ms: u64,
    pub(super) sent_at_ms: u64,
    /// Compaction copy: the slot this record replaces.
    pub(super) replaces: Option<u64>,
    /// A deletion marker (`record::FLAG_DELETES`), not a message.
    pub(super) marker: bool,
}

/// The deduplication-window key of a FIFO message.
pub fn dedup_key(per_group: bool, group: Option<&str>, dedup_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(dedup_id.len() + 16);
    if per_group {
        k.extend_from_slice(group.unwrap_or("").as_bytes());
        k.push(0);
    }
    k.extend_from_slice(dedup_id.as_bytes());
    k
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Partition {
    /// Encodes a message into the write buffer. It is neither durable nor visible until
    /// the flush that carries it completes.
    pub(crate) fn stage(&mut self, now_ms: u64, m: &NewMessage<'_>) -> Result<Staged> {
        self.check_ok()?;
        let fingerprint = m.dedup_key.as_ref().map(|k| self.dedup.fingerprint(k));
        if let Some(fp) = fingerprint {
            if let Some(hit) = self.dedup.get_fp(fp, now_ms) {
                return Ok(Staged {
                    message_id: hit.message_id,
                    seq: hit.seq,
                    duplicate: true,
                });
            }
        }
        let seq = self.next_seq;
        let message_id = m.message_id.unwrap_or_else(|| {
            let hi = u128::from(splitmix(&mut self.rng));
            let lo = u128::from(seq ^ (u64::from(self.number) << 48));
            MessageId::from_u128((hi << 64) | lo)
        });
        let rec = RecordRef {
            seq,
            sent_at_ms: m.sent_at_ms.unwrap_or(now_ms),
            visible_at_ms: m.visible_at_ms,
            message_id,
            receive_count: m.receive_count,
            first_receive_ms: m.first_receive_ms,
            group_id: m.group_id,
            dedup_id: m.dedup_id.as_deref(),
            origin: m.origin.as_ref(),
            attributes: m.attributes,
            system_attributes: m.system_attributes,
            body: m.body,
        };
        self.stage_ref(&rec, None)?;
        self.fair_staged(now_ms, seq, m);
        if let Some(fp) = fingerprint {
            let other_fp = m
                .dedup_other_scope
                .as_ref()
                .map_or(fp, |k| self.dedup.fingerprint(k));
            let hit = DedupHit { message_id, seq };
            self.dedup.insert_fp(fp, other_fp, now_ms, hit);
        }
        Ok(Staged {
            message_id,
            seq,
            duplicate: false,
        })
    }

    /// Appends an encoded record (whose `seq` must be `next_seq`) to the write buffer,
    /// rolling to a new segment when the head is full.
    pub(crate) fn stage_record(&mut self, rec: &Record, replaces: Option<u64>) -> Result<u64> {
        self.stage_ref(&rec.as_ref(), replaces)
    }

    pub(super) fn stage_ref(&mut self, rec: &RecordRef<'_>, replaces: Option<u64>) -> Result<u64> {
        debug_assert_eq!(rec.seq, self.next_seq);
        let start = self.buf.len();
        let len = record::encode_ref(&mut self.buf, rec, self.cfg.compression);
        let entry = StagedEntry {
            seq: rec.seq,
            len: len as u32,
            visible_at_ms: rec.visible_at_ms,
            sent_at_ms: rec.sent_at_ms,
            replaces,
            marker: false,
        };
        self.place(start, entry, rec.receive_count, rec.first_receive_ms)
    }

    /// A delete made durable by the next flush's deletion marker (and in the index by
    /// the next `sync_index`).
    pub(super) fn journal_delete(&mut self, pos: usize, seq: u64) {
        // Deleted is final, so a seq is journaled once.
        debug_assert_eq!(
            self.segs[pos]
                .slot((seq - self.segs[pos].base_seq) as u32)
                .state,
            SlotState::Deleted
        );
        self.segs[pos].idx_dirty = true;
        self.pending_deletes.push(seq);
    }

    /// Stages deletion markers for every pending delete.
    pub(super) fn stage_deletes(&mut self) -> Result<()> {
        if self.pending_deletes.is_empty() {
            return Ok(());
        }
        let mut pending = std::mem::take(&mut self.pending_deletes);
        // A marker must fit a segment (tests run tiny ones): a header and 8 bytes each.
        let room = (self.cfg.segment_bytes as usize).saturating_sub(record::HEADER_LEN) / 8;
        let chunk = record::MAX_MARKER_SEQS.min(room).max(1);
        let mut res = Ok(());
        for seqs in pending.chunks(chunk) {
            let seq = self.next_seq;
            let start = self.buf.len();
            let len = record::encode_deletes(&mut self.buf, seq, seqs);
            if let Err(e) = self.place_marker(start, seq, len) {
                res = Err(e);
                break;
            }
        }
        pending.clear();
        self.pending_deletes = pending;
        res
    }

    /// Places the marker (deletion or state) just encoded at `start..` of the write buffer:
    /// it takes a seq and a slot (Deleted at its commit) and is never delivered.
    pub(super) fn place_marker(&mut self, start: usize, seq: u64, len: usize) -> Result<()> {
        let entry = StagedEntry {
            seq,
            len: len as u32,
            visible_at_ms: 0,
            sent_at_ms: 0,
            replaces: None,
            marker: true,
        };
        self.place(start, entry, 0, 0)?;
        if let Some(head) = self.segs.back_mut() {
            head.has_markers = true;
        }
        Ok(())
    }

    /// Places the record just encoded at `start..` of the write buffer in the head
    /// segment (rolling to a new one if it does not fit) and stages its entry.
    fn place(
        &mut self,
        start: usize,
        entry: StagedEntry,
        receive_count: u32,
        first_receive_ms: u64,
    ) -> Result<u64> {
        debug_assert_eq!(
            entry.seq, self.next_seq,
            "seqs are assigned densely, in order"
        );
        let len = entry.len as usize;
        let head_fits = self.segs.back().is_some_and(|s| s.fits(len));
        if !head_fits {
            if let Err(e) = self.roll(len) {
                self.buf.truncate(start);
                return Err(e);
            }
        }
        let head = self.segs.back_mut().expect("roll created a head");
        let file_offset = head.write_pos;
        let slot_i = head.count;
        debug_assert_eq!(head.base_seq + u64::from(slot_i), entry.seq);
        let mut slot = Slot::new(file_offset as u32, len as u32, SlotState::Staged);
        // A copied-forward record keeps its receive history.
        slot.receive_count = receive_count.min(u32::from(u16::MAX)) as u16;
        slot.first_receive_ms = first_receive_ms;
        head.index.set_slot(slot_i, &slot);
        head.count += 1;
        head.write_pos += len as u64;
        let seg_base = head.base_seq;
        let direct = head.direct_fd().is_some();
        match self.spans.last_mut() {
            Some(s) if s.seg_base == seg_base && s.end == start => s.end = start + len,
            last => {
                // A new span. Direct spans (and whatever follows one) start on a page
                // boundary; a direct span begins with the head's last partial page.
                let prev_direct = last.is_some_and(|s| s.direct);
                let span_start = if direct || prev_direct {
                    start.next_multiple_of(ALIGN)
                } else {
                    start
                };
                let prefix: &[u8] = if direct && !file_offset.is_multiple_of(ALIGN as u64) {
                    &self.tail
                } else {
                    &[]
                };
                debug_assert!(!direct || prefix.len() as u64 == file_offset % ALIGN as u64);
                let gap = span_start - start + prefix.len();
                if gap > 0 {
                    self.buf.insert_zeroed(start, gap);
                    self.buf.bytes_mut()[span_start..span_start + prefix.len()]
                        .copy_from_slice(prefix);
                }
                self.spans.push(Span {
                    seg_base,
                    file_offset: file_offset - prefix.len() as u64,
                    start: span_start,
                    end: start + gap + len,
                    direct,
                });
            }
        }
        let seq = entry.seq;
        self.entries.push(entry);
        self.next_seq += 1;
        Ok(seq)
    }

    fn roll(&mut self, len: usize) -> Result<()> {
        let header = record::HEADER_LEN as u64;
        if len as u64 > self.cfg.segment_bytes || (len as u64) < header {
            return Err(EngineError::MessageTooLong {
                size: len,
                max: self.cfg.segment_bytes as usize,
            });
        }
        // Debris of an earlier roll that failed half way holds no committed record (and
        // no segment of ours starts at next_seq: the head would have room).
        debug_assert!(self.segs.iter().all(|s| s.base_seq != self.next_seq));
        for path in [
            crate::segment::log_path(&self.dir, self.next_seq),
            crate::segment::idx_path(&self.dir, self.next_seq),
        ] {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        let seg = Segment::create(
            &self.dir,
            self.next_seq,
            self.cfg.segment_bytes,
            self.cfg.segment_slots,
            self.cfg.direct_io,
            self.cfg.spares.as_deref(),
        )?;
        if let Some(h) = self.segs.back_mut() {
            h.sealed = true;
        }
        self.tail.clear();
        self.segs.push_back(seg);
        Ok(())
    }

    /// Whether anything waits to be flushed: staged records, or deletes or receive states
    /// to journal.
    pub fn needs_flush(&self) -> bool {
        !self.entries.is_empty() || !self.pending_deletes.is_empty() || self.has_pending_states()
    }

    /// Records staged and not yet taken out by a flush.
    pub fn staged_messages(&self) -> usize {
        self.entries.len()
    }
}
