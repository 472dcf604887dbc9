//! One partition of a queue: its segments, its read cursor, its in-flight and delayed
//! timers, its FIFO group state and deduplication window, and the group-commit write path.
//!
//! Promises:
//! - A message is visible only after the flush that made it durable completed
//!   (stage → flush → commit); a sender is acknowledged at the same point.
//! - Memory is O(in flight + delayed + redelivery + FIFO messages skipped behind a busy
//!   group + the bounded fair-queue state of `fair.rs`), never O(backlog): the backlog is
//!   walked in log order by `cursor` through the mmap'd index.
//! - A deleted, purged, moved or expired message is never delivered.
//! - FIFO: messages of one group are delivered in sequence order and never while another
//!   message of the group is in flight.
//! - Work per call is bounded (`PartitionConfig::scan_budget`), so a caller can interleave
//!   calls with other traffic.
//!
//! The partition never reads the clock: every call takes `now_ms`.
//!
//! This file owns the [`Partition`] struct, its configuration, and the one place where a
//! slot changes state ([`Partition::set_state`], [`Partition::write_slot`], which check
//! that the change is legal). Each concern has its own file:
//! - `stage.rs`: encoding sends and deletion markers into the write buffer;
//! - `commit.rs`: taking a batch out, committing it after its I/O, index sync waves;
//! - `receive.rs`: choosing and delivering the next message;
//! - `fifo.rs`: FIFO group scheduling;
//! - `fair.rs`: fair queues (tenants by MessageGroupId on a standard partition);
//! - `visibility.rs`: timers, requeueing, ChangeMessageVisibility;
//! - `delete.rs`: DeleteMessage and PurgeQueue;
//! - `moves.rs`: the source side of dead-letter moves, redrive and compaction copies;
//! - `receipts.rs`: receipt generations (leased), journaling receive state, and finding
//!   the message a handle names (across compaction copies).
//!
//! Opening (recovery) and compaction are in `crate::recovery` and `crate::compaction`.

mod commit;
mod delete;
mod fair;
mod fifo;
mod moves;
mod receipts;
mod receive;
mod stage;
mod visibility;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

pub use self::commit::PreparedFlush;
pub use self::delete::DeleteOutcome;
use self::fair::Fair;
pub use self::fair::{FAST_LANE_MAX_MSGS, NOISY_MIN_BACKLOG_MSGS, NOISY_SILENT_AFTER_MS};
use self::fifo::Fifo;
pub use self::receive::{DeadLetter, Delivered};
use self::stage::StagedEntry;
pub use self::stage::{dedup_key, NewMessage, Staged};
pub use self::visibility::MAX_VISIBILITY_MS;
use crate::aligned::{AlignedBuf, ALIGN};
use crate::dedup::DedupWindow;
use crate::error::{EngineError, Result};
use crate::index::{Slot, SlotState};
use crate::record::Compression;
use crate::retained::{Retained, Span};
use crate::segment::Segment;
use crate::timer_wheel::TimerWheel;

/// In flight per queue (SQS allows about 120 000): the default of
/// [`PartitionConfig::max_in_flight`], which the engine divides among a queue's partitions.
pub(crate) use spool_model::limits::IN_FLIGHT_MESSAGES_MAX as MAX_IN_FLIGHT_PER_QUEUE;

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
            max_in_flight: MAX_IN_FLIGHT_PER_QUEUE,
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
    /// A FIFO queue: group order and deduplication.
    pub fifo: bool,
    /// FIFO deduplication scope is the message group (else the queue).
    pub dedup_per_group: bool,
    /// A message older than this is expired instead of delivered.
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
            retention_ms: u64::from(spool_model::limits::MESSAGE_RETENTION_DEFAULT_S) * 1000,
            max_receive_count: None,
        }
    }
}

/// Message counts, as the Approximate* queue attributes report them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Visible messages (ApproximateNumberOfMessages).
    pub ready: u64,
    /// Received and not yet visible again (ApproximateNumberOfMessagesNotVisible).
    pub in_flight: u64,
    /// Delayed, not yet visible (ApproximateNumberOfMessagesDelayed).
    pub delayed: u64,
}

/// One partition of a queue (see the module doc).
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
    /// Messages whose receive state changed since the last flush was taken out, journaled
    /// by a state marker in the next one (see `record::FLAG_STATES`).
    pending_states: Vec<u64>,
    /// Receipt generations: the next one to issue, and the lease persisted in
    /// `partition.meta` below which issuing is safe (see `Partition::take_generation`).
    pub(crate) next_generation: u64,
    pub(crate) generation_lease: u64,
    /// Compaction forwarding: generation of a receive → the seq its message was copied
    /// forward to (see `Partition::current`).
    pub(crate) forward: crate::hash::SeqMap<u64>,
    /// See [`Partition::corrupt_records`].
    corrupt_records: u64,
    flushing: bool,
    pub(crate) cursor: u64,
    redelivery: VecDeque<u64>,
    timers: TimerWheel,
    fifo: Fifo,
    /// Fair-queue tenants and fast lane (standard partitions; `fair.rs`).
    fair: Fair,
    dedup: DedupWindow,
    pub(crate) counters: Counters,
    /// Set by a failed flush: the message, and whether the disk was full.
    failed: Option<(String, bool)>,
    rng: u64,
    timer_out: Vec<(u64, u64)>,
    header_target: u64,
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
            pending_states: Vec::new(),
            next_generation: 0,
            generation_lease: 0,
            forward: crate::hash::SeqMap::default(),
            corrupt_records: 0,
            flushing: false,
            cursor: 0,
            redelivery: VecDeque::new(),
            timers: TimerWheel::new(now_ms),
            fifo: Fifo::default(),
            fair: Fair::default(),
            counters: Counters::default(),
            failed: None,
            rng: seed,
            timer_out: Vec::new(),
            header_target: 0,
        }
    }

    /// Its number within its queue.
    pub fn number(&self) -> u16 {
        self.number
    }

    /// Bumped on every open (seeds message ids; handles no longer carry it).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Its message counts.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The queue attributes it follows.
    pub fn params(&self) -> QueueParams {
        self.params
    }

    /// Follows changed queue attributes.
    pub(crate) fn set_params(&mut self, p: QueueParams) {
        if p.dedup_per_group != self.params.dedup_per_group {
            // DeduplicationScope changed: the window's ids under the new scope's keys.
            self.dedup.swap_scopes();
        }
        self.params = p;
    }

    /// The sequence number the next staged record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Bytes of segment files on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.segs
            .iter()
            .map(super::segment::Segment::disk_bytes)
            .sum()
    }

    /// Bytes of records written (sum of segment write positions).
    pub fn log_bytes(&self) -> u64 {
        self.segs.iter().map(|s| s.write_pos).sum()
    }

    /// Bytes of live records.
    pub fn live_bytes(&self) -> u64 {
        self.segs.iter().map(|s| s.live_bytes).sum()
    }

    /// Segments it holds.
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

    /// Recovery: a journaled receive state (counters and timers already adjusted).
    pub(crate) fn restore_slot(&mut self, pos: usize, seq: u64, from: SlotState, slot: &Slot) {
        self.write_slot(pos, seq, from, slot);
        self.segs[pos].idx_dirty = true;
    }

    /// Changes the state of `seq`'s slot (in segment `pos`) from `from` to `to`, keeping
    /// the segment's live and pinned counts right. Debug builds check that the slot is in
    /// `from` and that the change is one a running partition may make
    /// ([`SlotState::can_become`]).
    fn set_state(&mut self, pos: usize, seq: u64, from: SlotState, to: SlotState, len: u32) {
        let seg = &mut self.segs[pos];
        let i = (seq - seg.base_seq) as u32;
        debug_assert_eq!(seg.index.slot(i).state, from, "slot of seq {seq}");
        seg.index.set_state(i, to);
        seg.transition(i, from, to, len);
    }

    /// Rewrites `seq`'s whole slot, whose state was `from` (checked as in
    /// [`Partition::set_state`]).
    fn write_slot(&mut self, pos: usize, seq: u64, from: SlotState, slot: &Slot) {
        let seg = &mut self.segs[pos];
        let i = (seq - seg.base_seq) as u32;
        debug_assert_eq!(seg.index.slot(i).state, from, "slot of seq {seq}");
        seg.index.set_slot(i, slot);
        if from != slot.state {
            seg.transition(i, from, slot.state, slot.len);
        }
    }

    /// Checks what recovery promises of a partition it opened (debug builds): nothing in
    /// the write path, every live message counted ready, delayed or in flight, and every
    /// delayed or in-flight one on the timer wheel and pinning its segment.
    pub(crate) fn debug_check_recovered(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        let live: u64 = self.segs.iter().map(|s| u64::from(s.live)).sum();
        let pinned: u64 = self.segs.iter().map(|s| u64::from(s.pinned)).sum();
        let c = self.counters;
        let waiting = c.delayed + c.in_flight;
        debug_assert_eq!(live, c.ready + waiting, "live slots vs counters");
        debug_assert_eq!(pinned, waiting, "pinned slots vs delayed and in flight");
        debug_assert_eq!(
            self.timers.len() as u64,
            waiting,
            "timers vs delayed and in flight"
        );
        debug_assert_eq!(self.next_seq, self.committed_seq);
        debug_assert!(!self.needs_flush());
        debug_assert!(self.cursor >= self.purge_floor);
    }

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
