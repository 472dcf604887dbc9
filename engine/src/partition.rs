//! One partition of a queue: its segments, its read cursor, its in-flight and delayed
//! timers, its FIFO group state and deduplication window, and the group-commit write path.
//!
//! Promises:
//! - A message is visible only after the flush that made it durable completed
//!   (stage → flush → commit); a sender is acknowledged at the same point.
//! - Memory is O(in flight + delayed + redelivery + FIFO messages skipped behind a busy
//!   group), never O(backlog): the backlog is walked in log order by `cursor` through the
//!   mmap'd index.
//! - A deleted, purged, moved or expired message is never delivered.
//! - FIFO: messages of one group are delivered in sequence order and never while another
//!   message of the group is in flight.
//! - Work per call is bounded (`PartitionConfig::scan_budget`), so a caller can interleave
//!   calls with other traffic.
//!
//! The partition never reads the clock: every call takes `now_ms`.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use crate::aligned::{AlignedBuf, Sink, ALIGN};
use crate::dedup::{DedupHit, DedupWindow};
use crate::error::{EngineError, Result};
use crate::flusher::{FlushJob, Flusher, WriteOp};
use crate::index::{Slot, SlotState};
use crate::receipt::Receipt;
use crate::record::{self, Compression, MessageAttribute, MessageId, Origin, Record, RecordRef};
use crate::retained::{Retained, Span};
use crate::segment::Segment;
use crate::timer_wheel::TimerWheel;

/// Longest visibility timeout SQS allows: 12 hours.
pub use spool_model::limits::VISIBILITY_TIMEOUT_MAX_MS as MAX_VISIBILITY_MS;
/// Largest batch buffer kept in a partition's pool: a buffer that grew past this for one
/// large flush is let go after it, so the pool does not pin its high-water mark.
const MAX_POOLED_BUF: usize = 16 << 20;

/// Sizing and behaviour of a partition's storage.
#[derive(Debug, Clone)]
pub struct PartitionConfig {
    /// Capacity of one segment's `.log`.
    pub segment_bytes: u64,
    /// Slots in one segment's `.idx`.
    pub segment_slots: u32,
    /// In-flight bound (SQS allows about 120 000 per queue).
    pub max_in_flight: usize,
    /// FIFO: most messages the cursor may step over because their group is busy.
    pub max_fifo_skipped: usize,
    /// Bound on deduplication ids remembered.
    pub max_dedup_entries: usize,
    /// Optional zstd compression of bodies.
    pub compression: Option<Compression>,
    /// fdatasync on flush (durability `sync`); false writes only.
    pub sync: bool,
    /// Most index slots one call may examine.
    pub scan_budget: usize,
    /// A sealed segment whose live bytes fall below this fraction is copied forward.
    pub compact_live_ratio: f64,
    /// Append to the log with O_DIRECT (page-aligned writes that skip the copy into the
    /// page cache) where the filesystem supports it.
    pub direct_io: bool,
    /// Bytes of recently flushed batches kept in memory, so records just written are
    /// received from RAM rather than read back through the mmap (see `retained`).
    pub retain_bytes: usize,
    /// Pre-written segment files to roll into (see `spare.rs`); None creates each
    /// segment with `fallocate`.
    pub spares: Option<std::sync::Arc<crate::spare::SparePool>>,
}

impl Default for PartitionConfig {
    fn default() -> Self {
        PartitionConfig {
            segment_bytes: 64 << 20,
            segment_slots: 1 << 18,
            max_in_flight: 120_000,
            max_fifo_skipped: 120_000,
            max_dedup_entries: 1 << 20,
            compression: None,
            sync: true,
            scan_budget: 1 << 16,
            compact_live_ratio: 0.5,
            direct_io: true,
            retain_bytes: 4 << 20,
            spares: None,
        }
    }
}

/// The queue attributes a partition needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueParams {
    pub fifo: bool,
    /// FIFO deduplication scope is the message group (else the queue).
    pub dedup_per_group: bool,
    pub retention_ms: u64,
    /// Set only when the dead-letter queue exists: past this many receives a message is
    /// handed out as a dead letter instead of being delivered.
    pub max_receive_count: Option<u32>,
}

impl Default for QueueParams {
    fn default() -> Self {
        QueueParams {
            fifo: false,
            dedup_per_group: false,
            retention_ms: spool_model::limits::MESSAGE_RETENTION_DEFAULT_S as u64 * 1000,
            max_receive_count: None,
        }
    }
}

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
    /// For moves (dead-letter, redrive): where the message came from, and the fields it
    /// keeps.
    pub origin: Option<Origin>,
    pub message_id: Option<MessageId>,
    pub sent_at_ms: Option<u64>,
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

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub seq: u64,
    pub receipt: Receipt,
    pub receive_count: u32,
    pub first_receive_ms: u64,
    pub record: Record,
}

/// A message that exceeded maxReceiveCount: the caller moves it to the dead-letter queue
/// and then calls [`Partition::finish_move`] (or [`Partition::abort_move`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub seq: u64,
    pub record: Record,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// The handle is not the latest one (or the message is gone): nothing deleted.
    Stale,
}

/// Message counts, as the Approximate* queue attributes report them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub ready: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

#[derive(Debug, Clone, Copy)]
struct StagedEntry {
    seq: u64,
    len: u32,
    visible_at_ms: u64,
    sent_at_ms: u64,
    /// Compaction copy: the slot this record replaces.
    replaces: Option<u64>,
    /// A deletion marker (`record::FLAG_DELETES`), not a message.
    marker: bool,
}

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

#[derive(Default)]
struct Group {
    in_flight: u32,
    /// Ready messages of this group behind the cursor, in sequence order.
    pending: VecDeque<u64>,
    /// The receive call ([`Fifo::call`]) that last put messages of this group in
    /// flight. That call may go on delivering the group's next messages, in order (as
    /// SQS returns several messages of one group in one receive); any later call waits
    /// until all of them have left flight.
    call: u64,
}

/// FIFO scheduling state: only groups with something in flight or pending are held.
///
/// Groups are known by a keyed 64-bit hash of their id (the key is random per `Fifo`, so
/// a client cannot aim two ids at one hash). Two ids with the same hash would share one
/// `Group`: their messages would then be delivered in one combined order, which still
/// keeps each group's own order (it only serializes more than needed), so no collision
/// check is needed.
#[derive(Default)]
struct Fifo {
    groups: HashMap<u64, Group, MixState>,
    /// Groups with nothing in flight and a pending message, served round robin.
    ready: VecDeque<u64>,
    /// The group of every message this state tracks (in flight, or pending in a group),
    /// so that releasing or requeuing one never reads its record back from the log:
    /// the log is written with O_DIRECT, so such a read faults the page in from disk.
    /// Bounded by the in-flight limit plus `max_fifo_skipped`.
    group_of_seq: HashMap<u64, u64, MixState>,
    hasher: std::collections::hash_map::RandomState,
    skipped: usize,
    /// Counts receive calls; see [`Group::call`].
    call: u64,
    /// The current call may deliver several messages of a group: only with a visibility
    /// timeout above zero (with zero, the first message is visible again at once, and
    /// handing out the next would break the group's order).
    multi: bool,
}

impl Fifo {
    /// The key of group id `id`.
    fn key(&self, id: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(id)
    }
}

/// Hashes the u64 keys of the FIFO maps (sequence numbers, or group keys that are already
/// keyed hashes) with one multiply, spreading sequential numbers over the high bits that
/// hashbrown's probing looks at. SipHash would cost more than the rest of a lookup.
#[derive(Default, Clone, Copy)]
struct MixState;

struct MixHasher(u64);

impl std::hash::BuildHasher for MixState {
    type Hasher = MixHasher;
    fn build_hasher(&self) -> MixHasher {
        MixHasher(0)
    }
}

impl std::hash::Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, x: u64) {
        let x = (self.0 ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 29);
    }
}

/// What recovery found and repaired when a partition was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub segments: usize,
    pub records: u64,
    /// Records re-verified from the log past the index's durable point.
    pub rescanned: u64,
    /// Bytes of a torn or corrupt tail that were erased.
    pub truncated_bytes: u64,
    /// Segments whose tail was torn.
    pub torn_segments: usize,
    /// Messages that were in flight and are visible again.
    pub requeued_in_flight: u64,
    /// Index slots rebuilt from the log.
    pub rebuilt_slots: u64,
    /// Origins of moved records found past the durable point, to be reconciled.
    pub origins: Vec<(u64, Origin)>,
    /// Acknowledged deletes whose index slot had not been synced, re-applied from the
    /// log's deletion markers.
    pub journaled_deletes: u64,
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

pub struct Partition {
    pub(crate) queue_id: u64,
    pub(crate) dir: PathBuf,
    pub(crate) number: u16,
    pub(crate) cfg: PartitionConfig,
    pub(crate) params: QueueParams,
    pub(crate) epoch: u32,
    pub(crate) segs: VecDeque<Segment>,
    pub(crate) next_seq: u64,
    /// Every seq below this is committed (durable and out of the write path).
    pub(crate) committed_seq: u64,
    /// Every seq below this was purged.
    pub(crate) purge_floor: u64,
    buf: AlignedBuf,
    spare: Vec<AlignedBuf>,
    /// The last flushed batches, read from memory by `deliver`.
    retained: Retained,
    /// The head segment's bytes from its last page boundary to its write position: the
    /// prefix of the next direct span.
    tail: Vec<u8>,
    spans: Vec<Span>,
    entries: Vec<StagedEntry>,
    /// Deletes since the last flush was taken out, journaled by a deletion marker in the
    /// next one (see `record::FLAG_DELETES`): their acknowledgement waits for that flush.
    pending_deletes: Vec<u64>,
    /// See [`Partition::corrupt_records`].
    corrupt_records: u64,
    flushing: bool,
    pub(crate) cursor: u64,
    redelivery: VecDeque<u64>,
    timers: TimerWheel,
    fifo: Fifo,
    dedup: DedupWindow,
    pub(crate) counters: Counters,
    /// Set by a failed flush: the message, and whether the disk was full.
    failed: Option<(String, bool)>,
    rng: u64,
    timer_out: Vec<(u64, u64)>,
    header_target: u64,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Partition {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_empty(
        queue_id: u64,
        dir: &Path,
        number: u16,
        cfg: PartitionConfig,
        params: QueueParams,
        epoch: u32,
        seed: u64,
        now_ms: u64,
    ) -> Partition {
        Partition {
            queue_id,
            dir: dir.to_path_buf(),
            number,
            dedup: DedupWindow::new(cfg.max_dedup_entries),
            cfg,
            params,
            epoch,
            segs: VecDeque::new(),
            next_seq: 0,
            committed_seq: 0,
            purge_floor: 0,
            buf: AlignedBuf::new(),
            spare: Vec::new(),
            retained: Retained::default(),
            tail: Vec::new(),
            spans: Vec::new(),
            entries: Vec::new(),
            pending_deletes: Vec::new(),
            corrupt_records: 0,
            flushing: false,
            cursor: 0,
            redelivery: VecDeque::new(),
            timers: TimerWheel::new(now_ms),
            fifo: Fifo::default(),
            counters: Counters::default(),
            failed: None,
            rng: seed,
            timer_out: Vec::new(),
            header_target: 0,
        }
    }

    pub fn number(&self) -> u16 {
        self.number
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn params(&self) -> QueueParams {
        self.params
    }

    pub fn set_params(&mut self, p: QueueParams) {
        self.params = p;
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Bytes of segment files on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.segs.iter().map(|s| s.disk_bytes()).sum()
    }

    /// Bytes of records written (sum of segment write positions).
    pub fn log_bytes(&self) -> u64 {
        self.segs.iter().map(|s| s.write_pos).sum()
    }

    /// Bytes of live records.
    pub fn live_bytes(&self) -> u64 {
        self.segs.iter().map(|s| s.live_bytes).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segs.len()
    }

    /// Earliest timer deadline, so a daemon knows when to call [`Partition::tick`].
    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.next_deadline()
    }

    fn check_ok(&self) -> Result<()> {
        match &self.failed {
            Some((e, true)) => Err(EngineError::OutOfSpace(e.clone())),
            Some((e, false)) => Err(EngineError::Failed(e.clone())),
            None => Ok(()),
        }
    }

    /// Whether a failed flush left this partition unusable until it is reopened
    /// ([`Engine::recover_failed`](crate::Engine::recover_failed)).
    pub fn is_failed(&self) -> bool {
        self.failed.is_some()
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
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
        for seg in self.segs.iter() {
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
                s.offset as u64 + s.len as u64
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

    // ----- locating slots -------------------------------------------------------------

    pub(crate) fn seg_pos(&self, seq: u64) -> Option<usize> {
        let i = self.segs.partition_point(|s| s.base_seq <= seq);
        if i == 0 {
            return None;
        }
        self.segs[i - 1].contains(seq).then_some(i - 1)
    }

    /// The slot of `seq` and its segment position, or None if the message no longer
    /// exists (purged, or its segment was reclaimed).
    pub(crate) fn slot_of(&self, seq: u64) -> Option<(usize, Slot)> {
        if seq < self.purge_floor {
            return None;
        }
        let p = self.seg_pos(seq)?;
        let seg = &self.segs[p];
        Some((p, seg.slot((seq - seg.base_seq) as u32)))
    }

    /// Recovery: a journaled delete of a live message (counters already adjusted).
    pub(crate) fn mark_deleted_on_recovery(&mut self, pos: usize, seq: u64, slot: Slot) {
        self.set_state(pos, seq, slot.state, SlotState::Deleted, slot.len);
        self.segs[pos].idx_dirty = true;
    }

    fn set_state(&mut self, pos: usize, seq: u64, from: SlotState, to: SlotState, len: u32) {
        let seg = &mut self.segs[pos];
        let i = (seq - seg.base_seq) as u32;
        seg.index.set_state(i, to);
        seg.transition(i, from, to, len);
    }

    fn write_slot(&mut self, pos: usize, seq: u64, from: SlotState, slot: &Slot) {
        let seg = &mut self.segs[pos];
        let i = (seq - seg.base_seq) as u32;
        seg.index.set_slot(i, slot);
        if from != slot.state {
            seg.transition(i, from, slot.state, slot.len);
        }
    }

    // ----- the write path: stage, flush, commit ----------------------------------------

    /// Encodes a message into the write buffer. It is neither durable nor visible until
    /// the flush that carries it completes.
    pub fn stage(&mut self, now_ms: u64, m: &NewMessage<'_>) -> Result<Staged> {
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
            let hi = splitmix(&mut self.rng) as u128;
            let lo = (seq ^ ((self.number as u64) << 48)) as u128;
            MessageId::from_u128((hi << 64) | lo)
        });
        let rec = RecordRef {
            seq,
            sent_at_ms: m.sent_at_ms.unwrap_or(now_ms),
            visible_at_ms: m.visible_at_ms,
            message_id,
            receive_count: 0,
            first_receive_ms: 0,
            group_id: m.group_id,
            dedup_id: m.dedup_id.as_deref(),
            origin: m.origin.as_ref(),
            attributes: m.attributes,
            system_attributes: m.system_attributes,
            body: m.body,
        };
        self.stage_ref(&rec, None)?;
        if let Some(fp) = fingerprint {
            self.dedup
                .insert_fp(fp, now_ms, DedupHit { message_id, seq });
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

    fn stage_ref(&mut self, rec: &RecordRef<'_>, replaces: Option<u64>) -> Result<u64> {
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
    fn journal_delete(&mut self, pos: usize, seq: u64) {
        self.segs[pos].idx_dirty = true;
        self.pending_deletes.push(seq);
    }

    /// Stages deletion markers for every pending delete.
    fn stage_deletes(&mut self) -> Result<()> {
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
            let entry = StagedEntry {
                seq,
                len: len as u32,
                visible_at_ms: 0,
                sent_at_ms: 0,
                replaces: None,
                marker: true,
            };
            if let Err(e) = self.place(start, entry, 0, 0) {
                res = Err(e);
                break;
            }
            if let Some(head) = self.segs.back_mut() {
                head.has_markers = true;
            }
        }
        pending.clear();
        self.pending_deletes = pending;
        res
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
        debug_assert_eq!(head.base_seq + slot_i as u64, entry.seq);
        let mut slot = Slot::new(file_offset as u32, len as u32, SlotState::Staged);
        // A copied-forward record keeps its receive history.
        slot.receive_count = receive_count.min(u16::MAX as u32) as u16;
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

    /// Whether anything waits to be flushed: staged records, or deletes to journal.
    pub fn needs_flush(&self) -> bool {
        !self.entries.is_empty() || !self.pending_deletes.is_empty()
    }

    pub fn staged_messages(&self) -> usize {
        self.entries.len()
    }

    /// Takes the staged batch out for writing. Returns None if there is nothing to do or a
    /// flush is already out (one at a time keeps commit order equal to log order).
    pub fn prepare_flush(&mut self) -> Option<PreparedFlush> {
        self.prepare_flush_with_index(false)
    }

    /// [`Partition::prepare_flush`], and if `index` is set, also phase one of an index
    /// sync wave ([`Partition::sync_index_files`]) done by the flusher, off the caller's
    /// thread: the flush then also syncs every index file with changes (and is taken
    /// even with nothing staged). Once every partition's flush of the wave succeeded,
    /// call [`Partition::advance_headers`] on each.
    pub fn prepare_flush_with_index(&mut self, index: bool) -> Option<PreparedFlush> {
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
        let journaled = self.stage_deletes().is_ok();
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
            for s in self.segs.iter_mut() {
                if s.needs_index_sync(committed) {
                    sync_fds.push(s.index.fd());
                    s.idx_dirty = false;
                    idx_synced.push(s.base_seq);
                }
            }
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
    pub fn complete_flush(
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
        let n = p.messages();
        for e in &p.entries {
            self.commit_entry(now_ms, e);
        }
        if let Some(last) = p.entries.last() {
            self.committed_seq = last.seq + 1;
        }
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
    fn recycle(&mut self, bufs: Vec<AlignedBuf>) {
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
    pub fn flush(&mut self, now_ms: u64, flusher: &mut dyn Flusher) -> Result<usize> {
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

    /// Syncs every index file with unsynced changes, then advances each segment's
    /// durable point to what is committed. Call it periodically (the daemon carries a wave
    /// on a group commit once a second instead: `Engine::begin_flush_with_index`) and
    /// before a clean close; it bounds how much of the log recovery must rescan.
    pub fn sync_index(&mut self) -> Result<()> {
        if self.sync_index_files()? {
            self.advance_headers();
        }
        Ok(())
    }

    /// Phase one of [`Partition::sync_index`]: sync every index file whose slots changed
    /// or whose header is about to advance. Returns false if a flush is out (try later).
    /// An engine runs phase one on every partition before phase two on any, so that a
    /// header never vouches for a moved record whose source slot is not yet durable.
    pub fn sync_index_files(&mut self) -> Result<bool> {
        self.check_ok()?;
        if self.flushing {
            return Ok(false);
        }
        let committed = self.committed_seq;
        for s in self.segs.iter_mut() {
            if s.needs_index_sync(committed) {
                // Slots (offsets, states) reach disk before a header that vouches for them.
                s.index.sync()?;
                s.idx_dirty = false;
            }
        }
        self.header_target = committed;
        Ok(true)
    }

    /// Phase two: write each segment's durable point as of phase one.
    pub fn advance_headers(&mut self) {
        let committed = self.header_target;
        for s in self.segs.iter_mut() {
            let durable = s.durable_count(committed);
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

    // ----- timers ----------------------------------------------------------------------

    /// Moves expired visibility timeouts and elapsed delays to ready. Bounded work.
    pub fn tick(&mut self, now_ms: u64) {
        let mut out = std::mem::take(&mut self.timer_out);
        out.clear();
        self.timers
            .poll_expired(now_ms, self.cfg.scan_budget, &mut out);
        for &(seq, _) in &out {
            let Some((pos, mut slot)) = self.slot_of(seq) else {
                continue;
            };
            let mut group = None;
            match slot.state {
                SlotState::InFlight => {
                    self.counters.in_flight -= 1;
                    if self.params.fifo {
                        group = self.fifo_release(seq);
                    }
                }
                SlotState::Delayed => self.counters.delayed -= 1,
                _ => continue,
            }
            let from = slot.state;
            slot.state = SlotState::Ready;
            self.write_slot(pos, seq, from, &slot);
            self.counters.ready += 1;
            if seq < self.cursor {
                self.requeue(seq, group);
            }
        }
        self.timer_out = out;
    }

    /// A ready message behind the cursor goes back in line. `group` is its FIFO group
    /// key when the caller knows it (from [`Partition::fifo_release`]).
    fn requeue(&mut self, seq: u64, group: Option<u64>) {
        if !self.params.fifo {
            self.redelivery.push_back(seq);
            return;
        }
        let Some(g) = group.or_else(|| self.read_group_key(seq)) else {
            return;
        };
        let group = self.fifo.groups.entry(g).or_default();
        let at = group.pending.partition_point(|&s| s < seq);
        if group.pending.get(at) != Some(&seq) {
            group.pending.insert(at, seq);
            self.fifo.skipped += 1;
            self.fifo.group_of_seq.insert(seq, g);
        }
        if group.in_flight == 0 && group.pending.len() == 1 {
            self.fifo.ready.push_back(g);
        }
    }

    /// The FIFO group key of a message, read from its record: from a batch still kept
    /// in memory if it is there, else through the log's mmap. None if the message or its
    /// record is gone, or the record names no group.
    fn read_group_key(&self, seq: u64) -> Option<u64> {
        let (pos, slot) = self.slot_of(seq)?;
        let seg = &self.segs[pos];
        let bytes = self
            .retained
            .find(seq, seg.base_seq, slot.offset as u64, slot.len as usize)
            .unwrap_or_else(|| seg.record_bytes(&slot));
        record::peek_group(bytes).map(|g| self.fifo.key(g))
    }

    /// A FIFO message left flight (deleted, expired, moved, visible again): its group may
    /// move on. Returns the message's group key, for a requeue.
    pub(crate) fn fifo_release(&mut self, seq: u64) -> Option<u64> {
        let g = match self.fifo.group_of_seq.remove(&seq) {
            Some(g) => g,
            None => self.read_group_key(seq)?,
        };
        let Some(group) = self.fifo.groups.get_mut(&g) else {
            return Some(g);
        };
        group.in_flight = group.in_flight.saturating_sub(1);
        if group.in_flight == 0 {
            if group.pending.is_empty() {
                self.fifo.groups.remove(&g);
            } else {
                self.fifo.ready.push_back(g);
            }
        }
        Some(g)
    }

    // ----- receive ----------------------------------------------------------------------

    /// Receives up to `max` messages, making each invisible for `visibility_ms`.
    /// Messages past maxReceiveCount are appended to `dead` instead (see [`DeadLetter`]).
    pub fn receive(
        &mut self,
        now_ms: u64,
        max: usize,
        visibility_ms: u64,
        out: &mut Vec<Delivered>,
        dead: &mut Vec<DeadLetter>,
        bytes_left: &mut usize,
    ) -> Result<()> {
        self.check_ok()?;
        self.tick(now_ms);
        let visibility_ms = visibility_ms.min(MAX_VISIBILITY_MS);
        self.fifo.call += 1;
        self.fifo.multi = visibility_ms > 0;
        let want = out.len() + max;
        let mut budget = self.cfg.scan_budget;
        // The byte budget bounds a reply: the message that crosses it is the last one.
        while out.len() < want && budget > 0 && *bytes_left > 0 {
            budget -= 1;
            if self.counters.in_flight as usize >= self.cfg.max_in_flight {
                if !self.params.fifo && out.is_empty() {
                    return Err(EngineError::OverLimit {
                        limit: self.cfg.max_in_flight,
                    });
                }
                break;
            }
            let Some(seq) = self.next_candidate(now_ms) else {
                break;
            };
            let before = out.len();
            if let Err(e) = self.deliver(now_ms, seq, visibility_ms, out, dead) {
                // A record damaged since it was written is never delivered: it is taken
                // out of the queue, counted, and the receive goes on with the next one
                // (failing the call would strand what it already put in flight).
                debug_assert!(matches!(e, EngineError::Corrupt { .. }), "{e}");
                continue;
            }
            for d in &out[before..] {
                *bytes_left = bytes_left.saturating_sub(d.record.payload_len());
            }
        }
        // Batches the cursor has passed are only read again on redelivery (rare): let go.
        let mut freed = Vec::new();
        self.retained.release_below(self.cursor, &mut freed);
        self.recycle(freed);
        Ok(())
    }

    /// The next message to deliver, in the order the queue type promises. Returns only
    /// seqs whose slot is Ready.
    fn next_candidate(&mut self, now_ms: u64) -> Option<u64> {
        if self.params.fifo {
            return self.next_fifo(now_ms);
        }
        for _ in 0..self.cfg.scan_budget {
            let Some(seq) = self.redelivery.pop_front() else {
                return self.advance_cursor(now_ms);
            };
            if matches!(self.slot_of(seq), Some((_, s)) if s.state == SlotState::Ready) {
                return Some(seq);
            }
        }
        None
    }

    /// Walks the cursor to the next Ready slot. Bounded by the scan budget.
    fn advance_cursor(&mut self, _now_ms: u64) -> Option<u64> {
        let mut budget = self.cfg.scan_budget;
        self.cursor = self.cursor.max(self.purge_floor);
        while self.cursor < self.committed_seq && budget > 0 {
            budget -= 1;
            let seq = self.cursor;
            let pos = match self.seg_pos(seq) {
                Some(p) => p,
                None => {
                    // A reclaimed segment: jump to the next one that exists.
                    let next = self.segs.iter().map(|s| s.base_seq).find(|&b| b > seq);
                    self.cursor = next.unwrap_or(self.committed_seq);
                    continue;
                }
            };
            self.cursor += 1;
            let seg = &self.segs[pos];
            if seg.live == 0 {
                // Nothing live here: skip the rest of the segment at once, but not past
                // what is committed (staged records do not count as live yet).
                self.cursor = self.cursor.max(seg.end_seq().min(self.committed_seq));
                continue;
            }
            if seg.slot((seq - seg.base_seq) as u32).state == SlotState::Ready {
                return Some(seq);
            }
        }
        None
    }

    fn next_fifo(&mut self, now_ms: u64) -> Option<u64> {
        // Only groups put in flight by this call (and only if it may deliver several of
        // a group) match `call`.
        let call = if self.fifo.multi { self.fifo.call } else { 0 };
        // Groups whose earlier messages came back are served first, oldest group first.
        while let Some(g) = self.fifo.ready.pop_front() {
            while let Some(group) = self.fifo.groups.get_mut(&g) {
                // In flight from an earlier call: the group waits (it is queued again
                // when its last message leaves flight).
                if group.in_flight > 0 && group.call != call {
                    break;
                }
                let Some(seq) = group.pending.pop_front() else {
                    if group.in_flight == 0 {
                        self.fifo.groups.remove(&g);
                    }
                    break;
                };
                self.fifo.skipped -= 1;
                let ready =
                    matches!(self.slot_of(seq), Some((_, s)) if s.state == SlotState::Ready);
                if !ready {
                    self.fifo.group_of_seq.remove(&seq);
                }
                if ready {
                    let group = self.fifo.groups.get_mut(&g).expect("group present");
                    group.in_flight += 1;
                    group.call = self.fifo.call;
                    if self.fifo.multi && !group.pending.is_empty() {
                        // This call goes on with the group's next message.
                        self.fifo.ready.push_front(g);
                    }
                    return Some(seq);
                }
                // Deleted, expired or moved since it was skipped: drop it and look on.
            }
        }
        for _ in 0..self.cfg.scan_budget {
            if self.fifo.skipped >= self.cfg.max_fifo_skipped {
                // SQS, too, looks only so far past busy groups.
                return None;
            }
            let seq = self.advance_cursor(now_ms)?;
            let g = self
                .read_group_key(seq)
                .unwrap_or_else(|| self.fifo.key(b""));
            self.fifo.group_of_seq.insert(seq, g);
            match self.fifo.groups.get_mut(&g) {
                Some(group)
                    if (group.in_flight > 0 && group.call != call) || !group.pending.is_empty() =>
                {
                    group.pending.push_back(seq);
                    self.fifo.skipped += 1;
                }
                Some(group) => {
                    // Idle, or in flight from this very call with nothing set aside:
                    // `seq` is the group's next message.
                    group.in_flight += 1;
                    group.call = self.fifo.call;
                    return Some(seq);
                }
                None => {
                    self.fifo.groups.insert(
                        g,
                        Group {
                            in_flight: 1,
                            pending: VecDeque::new(),
                            call: self.fifo.call,
                        },
                    );
                    return Some(seq);
                }
            }
        }
        // Budget spent setting messages of busy groups aside; the next call goes on.
        None
    }

    /// Takes a ready message whose record is damaged out of the queue (as expired), and
    /// counts it.
    pub(crate) fn drop_corrupt(&mut self, pos: usize, seq: u64, len: u32) {
        self.corrupt_records += 1;
        self.set_state(pos, seq, SlotState::Ready, SlotState::Expired, len);
        self.counters.ready -= 1;
        if self.params.fifo {
            self.fifo_release(seq);
        }
    }

    /// Records found damaged when read (CRC mismatch) and skipped, since open.
    pub fn corrupt_records(&self) -> u64 {
        self.corrupt_records
    }

    fn deliver(
        &mut self,
        now_ms: u64,
        seq: u64,
        visibility_ms: u64,
        out: &mut Vec<Delivered>,
        dead: &mut Vec<DeadLetter>,
    ) -> Result<()> {
        let (pos, mut slot) = self.slot_of(seq).expect("candidate exists");
        debug_assert_eq!(slot.state, SlotState::Ready);
        let seg = &self.segs[pos];
        let kept = self
            .retained
            .find(seq, seg.base_seq, slot.offset as u64, slot.len as usize);
        // Bytes from a kept batch never left memory: no CRC check needed.
        let in_memory = kept.is_some();
        let bytes = kept.unwrap_or_else(|| seg.record_bytes(&slot));
        let Some(header) = record::peek_header(bytes) else {
            let err = record::corrupt_at(&seg.log_path, slot.offset as u64);
            self.drop_corrupt(pos, seq, slot.len);
            return Err(err);
        };
        if header.sent_at_ms.saturating_add(self.params.retention_ms) <= now_ms {
            self.set_state(pos, seq, SlotState::Ready, SlotState::Expired, slot.len);
            self.counters.ready -= 1;
            if self.params.fifo {
                self.fifo_release(seq);
            }
            return Ok(());
        }
        // `decode` verifies the CRC; `decode_checked` trusts that it was verified.
        let decoded = if in_memory {
            record::decode_checked(bytes)
        } else {
            record::decode(bytes)
        };
        let rec = match decoded {
            Ok(r) => r,
            Err(_) => {
                // Damaged on disk since it was verified: never deliver it, keep the counts
                // and the group's state right, and report it.
                let err = record::corrupt_at(&seg.log_path, slot.offset as u64);
                self.drop_corrupt(pos, seq, slot.len);
                return Err(err);
            }
        };
        if let Some(max) = self.params.max_receive_count {
            if slot.receive_count as u32 >= max {
                self.set_state(pos, seq, SlotState::Ready, SlotState::Moving, slot.len);
                self.counters.ready -= 1;
                if self.params.fifo {
                    self.fifo_release(seq);
                }
                dead.push(DeadLetter { seq, record: rec });
                return Ok(());
            }
        }
        slot.receive_count = slot.receive_count.saturating_add(1);
        slot.generation = slot.generation.wrapping_add(1);
        if slot.first_receive_ms == 0 {
            slot.first_receive_ms = now_ms;
        }
        slot.visible_at_ms = now_ms + visibility_ms;
        slot.state = SlotState::InFlight;
        // Receiving is not an acknowledged state change: after a crash every in-flight
        // message is visible again anyway, so this slot is not marked for sync.
        self.write_slot(pos, seq, SlotState::Ready, &slot);
        self.timers.insert(seq, slot.visible_at_ms);
        self.counters.ready -= 1;
        self.counters.in_flight += 1;
        out.push(Delivered {
            seq,
            receipt: Receipt {
                partition: self.number,
                seq,
                generation: slot.generation,
                epoch: self.epoch,
            },
            receive_count: slot.receive_count as u32,
            first_receive_ms: slot.first_receive_ms,
            record: rec,
        });
        Ok(())
    }

    // ----- delete / change visibility --------------------------------------------------

    /// The slot a receipt refers to, if the receipt is still the latest for it.
    fn current(&self, r: &Receipt) -> Option<(usize, Slot)> {
        if r.epoch != self.epoch || r.partition != self.number {
            return None;
        }
        let (pos, slot) = self.slot_of(r.seq)?;
        (slot.generation == r.generation && slot.receive_count > 0).then_some((pos, slot))
    }

    /// Deletes the message a receipt refers to. A handle from an earlier receive, or of a
    /// message already gone, deletes nothing and succeeds (standard queues) or reports an
    /// expired handle (FIFO queues, as SQS does). The deletion is durable after the next
    /// flush.
    pub fn delete(&mut self, now_ms: u64, r: &Receipt) -> Result<DeleteOutcome> {
        self.check_ok()?;
        self.tick(now_ms);
        let found = self.current(r);
        match found {
            Some((pos, slot)) if slot.state == SlotState::InFlight => {
                self.timers.remove(r.seq);
                self.set_state(
                    pos,
                    r.seq,
                    SlotState::InFlight,
                    SlotState::Deleted,
                    slot.len,
                );
                self.journal_delete(pos, r.seq);
                self.counters.in_flight -= 1;
                if self.params.fifo {
                    self.fifo_release(r.seq);
                }
                Ok(DeleteOutcome::Deleted)
            }
            Some((pos, slot)) if slot.state == SlotState::Ready && !self.params.fifo => {
                // Visibility ran out but nobody received it since: the handle is still the
                // latest, so SQS deletes. It may sit in the redelivery line; that entry is
                // skipped when reached.
                self.set_state(pos, r.seq, SlotState::Ready, SlotState::Deleted, slot.len);
                self.journal_delete(pos, r.seq);
                self.counters.ready -= 1;
                Ok(DeleteOutcome::Deleted)
            }
            Some((_, slot)) if slot.state == SlotState::Deleted => Ok(DeleteOutcome::Stale),
            _ if self.params.fifo => Err(EngineError::ReceiptHandleExpired),
            _ => Ok(DeleteOutcome::Stale),
        }
    }

    /// Changes the visibility timeout of an in-flight message; 0 makes it visible now.
    pub fn change_visibility(&mut self, now_ms: u64, r: &Receipt, timeout_ms: u64) -> Result<()> {
        self.check_ok()?;
        self.tick(now_ms);
        if timeout_ms > MAX_VISIBILITY_MS {
            return Err(EngineError::InvalidParameter {
                name: "VisibilityTimeout",
                reason: crate::error::InvalidParameter::VisibilityTooLong {
                    timeout_s: timeout_ms / 1000,
                    max_s: spool_model::limits::VISIBILITY_TIMEOUT_MAX_S,
                },
            });
        }
        let Some((pos, mut slot)) = self.current(r) else {
            return Err(EngineError::MessageNotInflight);
        };
        if slot.state != SlotState::InFlight {
            return Err(EngineError::MessageNotInflight);
        }
        if timeout_ms == 0 {
            self.timers.remove(r.seq);
            slot.state = SlotState::Ready;
            self.write_slot(pos, r.seq, SlotState::InFlight, &slot);
            self.counters.in_flight -= 1;
            self.counters.ready += 1;
            let group = if self.params.fifo {
                self.fifo_release(r.seq)
            } else {
                None
            };
            self.requeue(r.seq, group);
        } else {
            slot.visible_at_ms = now_ms + timeout_ms;
            self.write_slot(pos, r.seq, SlotState::InFlight, &slot);
            self.timers.insert(r.seq, slot.visible_at_ms);
        }
        Ok(())
    }

    // ----- moves (dead-letter, redrive) ------------------------------------------------

    /// The move of `seq` to another queue is durable there: it is gone from here.
    pub fn finish_move(&mut self, seq: u64) {
        if let Some((pos, slot)) = self.slot_of(seq) {
            if slot.state.is_live() {
                match slot.state {
                    SlotState::Ready => self.counters.ready -= 1,
                    SlotState::InFlight => {
                        self.timers.remove(seq);
                        self.counters.in_flight -= 1;
                    }
                    SlotState::Delayed => {
                        self.timers.remove(seq);
                        self.counters.delayed -= 1;
                    }
                    _ => {}
                }
                self.set_state(pos, seq, slot.state, SlotState::Moved, slot.len);
                self.segs[pos].idx_dirty = true;
            }
        }
    }

    /// The move of `seq` failed: it becomes ready again.
    pub fn abort_move(&mut self, seq: u64) {
        if let Some((pos, slot)) = self.slot_of(seq) {
            if slot.state == SlotState::Moving {
                self.set_state(pos, seq, SlotState::Moving, SlotState::Ready, slot.len);
                self.counters.ready += 1;
                // take_for_move released it from its group: read the group back.
                self.requeue(seq, None);
            }
        }
    }

    /// Takes up to `max` ready messages out for a move (redrive): they are marked Moving
    /// and returned; finish or abort each.
    pub fn take_for_move(&mut self, now_ms: u64, max: usize) -> Result<Vec<DeadLetter>> {
        self.check_ok()?;
        self.tick(now_ms);
        let mut taken = Vec::new();
        let mut budget = self.cfg.scan_budget;
        while taken.len() < max && budget > 0 {
            budget -= 1;
            let Some(seq) = self.next_candidate(now_ms) else {
                break;
            };
            let (pos, slot) = self.slot_of(seq).expect("candidate exists");
            let seg = &self.segs[pos];
            // Verified (read through the mmap): a damaged record is skipped and counted,
            // never moved with a fresh CRC, and never fails the messages already taken.
            let Ok(rec) = record::decode(seg.record_bytes(&slot)) else {
                self.drop_corrupt(pos, seq, slot.len);
                continue;
            };
            self.set_state(pos, seq, SlotState::Ready, SlotState::Moving, slot.len);
            self.counters.ready -= 1;
            if self.params.fifo {
                // next_fifo counted it as in flight for its group.
                self.fifo_release(seq);
            }
            taken.push(DeadLetter { seq, record: rec });
        }
        Ok(taken)
    }

    // ----- purge -----------------------------------------------------------------------

    /// Deletes every message sent before now, in flight or not, in O(segments): the
    /// purge floor is persisted and everything below it reads as deleted.
    pub fn purge(&mut self) -> Result<()> {
        self.check_ok()?;
        self.purge_floor = self.next_seq;
        crate::recovery::write_meta(&self.dir, self.epoch, self.purge_floor)?;
        self.timers.clear();
        self.redelivery.clear();
        self.fifo = Fifo::default();
        self.counters = Counters::default();
        self.cursor = self.purge_floor;
        let mut freed = Vec::new();
        self.retained.clear(&mut freed);
        self.recycle(freed);
        for s in self.segs.iter_mut() {
            s.live = 0;
            s.live_bytes = 0;
            s.pinned = 0;
        }
        Ok(())
    }

    // ----- for recovery and compaction -------------------------------------------------

    /// After recovery: remember the head's last partial page for direct appends.
    pub(crate) fn load_tail(&mut self) {
        self.tail.clear();
        if let Some(h) = self.segs.back() {
            let page_start = h.write_pos - h.write_pos % ALIGN as u64;
            let n = (h.write_pos - page_start) as usize;
            let bytes = h.bytes_from(page_start);
            self.tail.extend_from_slice(&bytes[..n.min(bytes.len())]);
        }
    }

    pub(crate) fn timers_mut(&mut self) -> &mut TimerWheel {
        &mut self.timers
    }

    pub(crate) fn dedup_mut(&mut self) -> &mut DedupWindow {
        &mut self.dedup
    }

    pub(crate) fn is_flushing(&self) -> bool {
        self.flushing
    }

    pub(crate) fn has_staged(&self) -> bool {
        !self.entries.is_empty()
    }

    pub(crate) fn segs_mut(&mut self) -> &mut VecDeque<Segment> {
        &mut self.segs
    }
}
