//! Opening a partition from its files: the recovery that runs on every start.
//!
//! For each segment, in log order:
//! 1. trust the index slots up to the header's `durable_count` once their offsets are
//!    contiguous (a cheap check of the mapped index, no log reads);
//! 2. from there, verify log records one by one (length bounds, CRC-32, expected sequence
//!    number) and rebuild their slots;
//! 3. at the first record that fails, the tail is torn: erase it (so bytes of an abandoned
//!    write can never pass for records later) and report how many bytes went.
//!
//! Deletion markers (`record::FLAG_DELETES`) found past a durable point are re-applied once
//! every segment is open: a delete is acknowledged when its marker is durable, and its
//! index slot may not have been synced. (Markers before a durable point need no replay:
//! a header advances only after an index sync that followed their commit.)
//!
//! State markers (`record::FLAG_STATES`) past a durable point are re-applied the same way
//! (before the deletes): a receive, ChangeMessageVisibility or compaction copy is journaled
//! in the log, so a message in flight stays in flight until its deadline (back on the
//! timer wheel) with its receive count, first-receive time and receipt generation, and its
//! handle keeps working. A slot whose journaled state is older than what the index holds
//! keeps the index's (the generation orders them: see `Partition::take_generation`).
//!
//! Then every message whose visibility deadline passed (or that was moving or staged)
//! becomes visible again, delayed messages go back on the timer wheel, counters are
//! recounted, the FIFO deduplication window is rebuilt
//! from the records of the last five minutes, and interrupted compaction copies are
//! finished. A record that passed its CRC is never dropped silently: it is either kept or
//! counted in the report.
//!
//! The partition's `partition.meta` holds its epoch (bumped on every open; seeds message
//! ids), its purge floor and its receipt-generation lease: generations are drawn from one
//! counter per partition, and the lease is written ahead of use, so a generation issued
//! before a crash (even one whose receive the crash lost) is never issued again.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dedup::DEDUP_WINDOW_MS;
use crate::error::{EngineError, Result};
use crate::index::{IndexHeader, Slot, SlotState, MAX_GENERATION};
use crate::partition::{dedup_key, Partition, PartitionConfig, QueueParams};
use crate::record::{self, Invalid, Origin, StateEntry};
use crate::segment::{self, Segment};

/// What recovery found and repaired when a partition was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segments opened.
    pub segments: usize,
    /// Records found (deletion markers included).
    pub records: u64,
    /// Records re-verified from the log past the index's durable point.
    pub rescanned: u64,
    /// Bytes of a torn or corrupt tail that were erased.
    pub truncated_bytes: u64,
    /// Segments whose tail was torn.
    pub torn_segments: usize,
    /// Messages that were in flight and are visible again (their deadline had passed).
    pub requeued_in_flight: u64,
    /// Messages still in flight after the restart (until their visibility deadline).
    pub kept_in_flight: u64,
    /// Journaled receive states re-applied from the log's state markers.
    pub journaled_states: u64,
    /// Index slots rebuilt from the log.
    pub rebuilt_slots: u64,
    /// Origins of moved records found past the durable point, to be reconciled.
    pub origins: Vec<(u64, Origin)>,
    /// Acknowledged deletes whose index slot had not been synced, re-applied from the
    /// log's deletion markers.
    pub journaled_deletes: u64,
}

const META_FILE: &str = "partition.meta";

/// What the markers past the durable points journaled, in log order.
#[derive(Default)]
struct Journal {
    deletes: Vec<u64>,
    states: Vec<StateEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    epoch: u32,
    purge_floor: u64,
    /// Receipt generations below this may have been issued; the next open continues at
    /// it. Absent in files of older builds (read as 0: see [`GENERATION_FLOOR`]).
    #[serde(default)]
    generation_lease: u64,
}

/// Generations start here: above every per-slot generation (a `u32`) of older builds, so
/// a slot they left is never taken for a receive of this build.
pub(crate) const GENERATION_FLOOR: u64 = 1 << 32;
/// How many generations one write of `partition.meta` leases: a receive writes the file
/// (an fsync'd atomic replace, a few ms) once per this many receives of the partition,
/// and a restart skips at most this many.
pub(crate) const GENERATION_LEASE: u64 = 1 << 22;

/// Writes the partition's meta file atomically: temp file, fsync, rename, fsync dir.
pub(crate) fn write_meta(
    dir: &Path,
    epoch: u32,
    purge_floor: u64,
    generation_lease: u64,
) -> Result<()> {
    let meta = Meta {
        epoch,
        purge_floor,
        generation_lease,
    };
    let body = serde_json::to_vec(&meta).expect("meta serializes");
    write_atomic(dir, META_FILE, &body)
}

/// Replaces `dir/name` with `data` so that a crash leaves either the old or the new file.
pub fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(name))?;
    segment::sync_dir(dir)
}

fn read_meta(dir: &Path) -> Result<Option<Meta>> {
    match std::fs::read(dir.join(META_FILE)) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| EngineError::Corrupt {
                path: dir.join(META_FILE).display().to_string(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl Partition {
    /// Opens (or creates) the partition stored in `dir`, recovering it.
    pub(crate) fn open(
        queue_id: u64,
        dir: &Path,
        number: u16,
        cfg: PartitionConfig,
        params: QueueParams,
        now_ms: u64,
    ) -> Result<(Partition, RecoveryReport)> {
        std::fs::create_dir_all(dir)?;
        let meta = read_meta(dir)?;
        let (epoch, purge_floor, lease) = match &meta {
            Some(m) => (m.epoch.wrapping_add(1), m.purge_floor, m.generation_lease),
            None => (1, 0, 0),
        };
        // Every generation below the old lease may have been issued: continue above it,
        // and lease the next block before anything is issued.
        let next_generation = lease.max(GENERATION_FLOOR);
        write_meta(dir, epoch, purge_floor, next_generation + GENERATION_LEASE)?;
        let seed = now_ms
            ^ (u64::from(epoch) << 32)
            ^ queue_id.rotate_left(17)
            ^ (u64::from(number) << 48);
        let mut p = Partition::new_empty(queue_id, dir, number, cfg, params, epoch, seed, now_ms);
        p.purge_floor = purge_floor;
        p.next_generation = next_generation;
        p.generation_lease = next_generation + GENERATION_LEASE;
        let mut report = RecoveryReport::default();

        let mut bases: Vec<u64> = std::fs::read_dir(dir)?
            .filter_map(std::result::Result::ok)
            .filter_map(|e| segment::parse_log_name(&e.file_name().to_string_lossy()))
            .collect();
        bases.sort_unstable();
        let n = bases.len();
        let mut journal = Journal::default();
        for (k, &base) in bases.iter().enumerate() {
            let last = k + 1 == n;
            let seg = p.recover_segment(base, last, now_ms, &mut report, &mut journal)?;
            p.segs_mut().push_back(seg);
        }
        report.segments = p.segs.len();
        // States first: a delete journaled after a receive is final whatever came before.
        report.journaled_states = p.apply_journaled_states(&journal.states, now_ms);
        report.journaled_deletes = p.apply_journaled_deletes(&journal.deletes);
        p.restore_receipts(&mut report);

        // Sequence numbers continue after the last record (or the purge floor).
        let end = p.segs.back().map_or(0, super::segment::Segment::end_seq);
        p.next_seq = end.max(purge_floor);
        p.committed_seq = p.next_seq;
        let next_seq = p.next_seq;
        if let Some(last) = p.segs.back_mut() {
            // Also sealed when the purge floor is past its end (it was purged together
            // with records that never reached it): the next record's seq must be its slot.
            last.sealed = last.base_seq + u64::from(last.index.capacity()) <= last.end_seq()
                || last.end_seq() < next_seq;
        }
        p.load_tail();
        let first_live = p.first_live_seq();
        p.cursor = first_live.unwrap_or(p.committed_seq).max(purge_floor);

        p.reconcile_local_copies(&mut report);
        if params.fifo {
            p.rebuild_dedup(now_ms)?;
        }
        // Phase one only: the headers advance when the engine syncs every partition
        // (after it has finished interrupted moves across queues), never earlier.
        p.sync_index_files()?;
        p.debug_check_recovered();
        p.debug_check_fifo();
        Ok((p, report))
    }

    fn first_live_seq(&self) -> Option<u64> {
        for s in self.segs.iter().filter(|s| s.live > 0) {
            for i in 0..s.count {
                let seq = s.base_seq + u64::from(i);
                if seq >= self.purge_floor && s.slot(i).state.is_live() {
                    return Some(seq);
                }
            }
        }
        None
    }

    /// Opens one segment and brings its index in line with its log.
    fn recover_segment(
        &mut self,
        base: u64,
        last: bool,
        now_ms: u64,
        report: &mut RecoveryReport,
        journal: &mut Journal,
    ) -> Result<Segment> {
        let (mut seg, header) = Segment::open(
            &self.dir,
            base,
            self.cfg.segment_bytes,
            self.cfg.segment_slots,
            self.cfg.direct_io,
        )?;
        // 1. The trusted prefix: slots the header vouches for, if they are contiguous.
        let (trusted, pos) = trusted_prefix(&seg, header.as_ref());
        if let Some(h) = header {
            seg.max_sent_ms = h.max_sent_ms;
        }
        // 2. Verify and rebuild everything after it.
        let (count, pos, torn) = rescan(&mut seg, trusted, pos, now_ms, report, journal);
        // 3. Erase a torn tail; on the last segment erase whatever follows the valid
        // records anyway (a sector of a torn write may have landed past a zero gap).
        erase_tail(&seg, pos, torn, last, report)?;
        seg.index.clear_from(count);
        seg.count = count;
        seg.write_pos = pos;
        seg.sealed = true;
        report.records += u64::from(count);
        // 4. Recount and restore the in-memory state of every slot.
        self.restore_slots(&mut seg, now_ms, report);
        seg.idx_dirty = true;
        Ok(seg)
    }

    /// Step 4 of [`Partition::recover_segment`]: what was in flight, moving or staged is
    /// ready (or delayed, by its record) again; counters, pins and timers are rebuilt.
    fn restore_slots(&mut self, seg: &mut Segment, now_ms: u64, report: &mut RecoveryReport) {
        let base = seg.base_seq;
        for i in 0..seg.count {
            let seq = base + u64::from(i);
            if seq < self.purge_floor {
                continue;
            }
            let mut s = seg.slot(i);
            // Never issue a generation a slot already holds (the lease should see to it;
            // this keeps it so if `partition.meta` was restored from an older copy).
            if s.generation >= self.next_generation && s.generation <= MAX_GENERATION {
                self.next_generation = s.generation + 1;
                self.generation_lease = self.next_generation;
            }
            match s.state {
                // Received, and its deadline is still ahead: it stays in flight (its
                // receive may have reached the index without its state marker; then it
                // was never acknowledged in `sync` durability, and only waits its
                // deadline out).
                SlotState::InFlight if s.visible_at_ms > now_ms => {}
                SlotState::InFlight | SlotState::Moving | SlotState::Staged | SlotState::Empty => {
                    if s.state == SlotState::InFlight {
                        report.requeued_in_flight += 1;
                    }
                    s.state = SlotState::Ready;
                    // A slot staged but never committed in memory still carries its
                    // record's delay; a deletion marker is never a message.
                    let h = record::peek_header(seg.record_bytes(&s));
                    if h.is_some_and(|h| h.flags & record::FLAG_DELETES != 0) {
                        s.state = SlotState::Deleted;
                        seg.index.set_slot(i, &s);
                        continue;
                    }
                    let delay = h.map_or(0, |h| h.visible_at_ms);
                    if delay > now_ms {
                        s.state = SlotState::Delayed;
                        s.visible_at_ms = delay;
                    }
                    seg.index.set_slot(i, &s);
                }
                SlotState::Delayed if s.visible_at_ms <= now_ms => {
                    s.state = SlotState::Ready;
                    seg.index.set_slot(i, &s);
                }
                _ => {}
            }
            match s.state {
                SlotState::Ready => self.counters.ready += 1,
                SlotState::Delayed | SlotState::InFlight => {
                    if s.state == SlotState::Delayed {
                        self.counters.delayed += 1;
                    } else {
                        self.counters.in_flight += 1;
                        report.kept_in_flight += 1;
                    }
                    seg.pinned += 1;
                    self.timers_mut().insert(seq, s.visible_at_ms);
                }
                _ => continue,
            }
            seg.live += 1;
            seg.live_bytes += u64::from(s.len);
        }
    }

    /// Re-applies journaled deletes (in log order) to messages still live. Returns how
    /// many were undone in the index, i.e. deleted again here.
    fn apply_journaled_deletes(&mut self, seqs: &[u64]) -> u64 {
        let mut n = 0;
        for &seq in seqs {
            let Some((pos, slot)) = self.slot_of(seq) else {
                continue;
            };
            match slot.state {
                SlotState::Ready => self.counters.ready -= 1,
                SlotState::Delayed => {
                    self.timers_mut().remove(seq);
                    self.counters.delayed -= 1;
                }
                SlotState::InFlight => {
                    self.timers_mut().remove(seq);
                    self.counters.in_flight -= 1;
                }
                // Recovery left nothing else live (moving became ready).
                _ => continue,
            }
            self.mark_deleted_on_recovery(pos, seq, slot);
            n += 1;
        }
        n
    }

    /// Re-applies journaled receive states (in log order) to messages still live whose
    /// index slot holds an earlier receive (a lower generation: the index page that had
    /// this receive never reached the disk). A slot that holds the same receive keeps
    /// its own state: after a process crash (kill -9) it is the latest, visibility
    /// changes included; only after a power failure can it be older than a journaled
    /// visibility change of that receive, which is then lost (the message comes back at
    /// the receive's deadline, or stays hidden until it). Returns how many applied.
    fn apply_journaled_states(&mut self, entries: &[StateEntry], now_ms: u64) -> u64 {
        let mut n = 0;
        // Slots this replay wrote: a later entry of the same receive (a visibility change)
        // applies over an earlier one.
        let mut replayed = std::collections::HashSet::new();
        for e in entries {
            let Some((pos, slot)) = self.slot_of(e.seq) else {
                continue;
            };
            let newer = e.generation > slot.generation
                || (e.generation == slot.generation && replayed.contains(&e.seq));
            if !newer || e.generation > MAX_GENERATION {
                continue;
            }
            replayed.insert(e.seq);
            let mut s = slot;
            s.generation = e.generation;
            s.receive_count = e.receive_count.min(u32::from(u16::MAX)) as u16;
            s.first_receive_ms = e.first_receive_ms;
            let in_flight = e.visible_at_ms > now_ms;
            match slot.state {
                SlotState::Ready | SlotState::InFlight => {
                    if slot.state == SlotState::InFlight {
                        self.timers_mut().remove(e.seq);
                        self.counters.in_flight -= 1;
                    } else {
                        self.counters.ready -= 1;
                    }
                    if in_flight {
                        s.state = SlotState::InFlight;
                        s.visible_at_ms = e.visible_at_ms;
                        self.timers_mut().insert(e.seq, e.visible_at_ms);
                        self.counters.in_flight += 1;
                    } else {
                        s.state = SlotState::Ready;
                        self.counters.ready += 1;
                    }
                }
                // A delayed message was never received: only its counts could change.
                SlotState::Delayed => {}
                _ => continue,
            }
            self.restore_slot(pos, e.seq, slot.state, &s);
            n += 1;
        }
        n
    }

    /// After recovery: FIFO groups of messages still in flight are held, and compaction
    /// copies of received messages are found again by their generation (see
    /// `Partition::current`).
    fn restore_receipts(&mut self, report: &mut RecoveryReport) {
        let mut held = Vec::new();
        for seg in &self.segs {
            if seg.live == 0 {
                continue;
            }
            for i in 0..seg.count {
                let seq = seg.base_seq + u64::from(i);
                let s = seg.slot(i);
                let live = matches!(s.state, SlotState::Ready | SlotState::InFlight);
                if seq < self.purge_floor || !live {
                    continue;
                }
                if s.generation >= GENERATION_FLOOR {
                    self.forward.insert(s.generation, seq);
                }
                if s.state == SlotState::InFlight {
                    held.push(seq);
                }
            }
        }
        report.kept_in_flight = held.len() as u64;
        if self.params.fifo {
            for seq in held {
                self.fifo_hold(seq);
            }
        }
    }

    /// Finishes compaction copies that a crash interrupted: a copy found past the durable
    /// point whose original is still live means the original must go.
    fn reconcile_local_copies(&mut self, report: &mut RecoveryReport) {
        let me = (self.queue_id, self.number);
        let local: Vec<u64> = report
            .origins
            .iter()
            .filter(|(_, o)| (o.queue_id, o.partition) == me)
            .map(|(_, o)| o.seq)
            .collect();
        for old in local {
            if let Some((_, s)) = self.slot_of(old) {
                if s.state.is_live() {
                    self.finish_move(old);
                }
            }
        }
        report
            .origins
            .retain(|(_, o)| (o.queue_id, o.partition) != me);
    }

    /// Rebuilds the FIFO deduplication window from records sent in the last five minutes
    /// and not purged (a purge empties the window).
    fn rebuild_dedup(&mut self, now_ms: u64) -> Result<()> {
        let since = now_ms.saturating_sub(DEDUP_WINDOW_MS);
        let per_group = self.params.dedup_per_group;
        let purge_floor = self.purge_floor;
        let mut found = Vec::new();
        for seg in self.segs.iter().filter(|s| s.max_sent_ms >= since) {
            for i in 0..seg.count {
                let slot = seg.slot(i);
                let bytes = seg.record_bytes(&slot);
                let Some(h) = record::peek_header(bytes) else {
                    continue;
                };
                if h.sent_at_ms < since || h.flags & record::FLAG_ORIGIN != 0 {
                    continue;
                }
                let rec = record::decode_checked(bytes)
                    .map_err(|_| record::corrupt_at(&seg.log_path, u64::from(slot.offset)))?;
                if rec.seq < purge_floor {
                    continue;
                }
                if let Some(d) = &rec.dedup_id {
                    // With its key under the other scope too, as a send remembers it
                    // (`NewMessage::dedup_other_scope`).
                    let key = dedup_key(per_group, rec.group_id.as_deref(), d);
                    let other = dedup_key(!per_group, rec.group_id.as_deref(), d);
                    found.push((rec.sent_at_ms, key, other, rec.message_id, rec.seq));
                }
            }
        }
        found.sort_by_key(|f| f.0);
        let dedup = self.dedup_mut();
        for (at, key, other, message_id, seq) in found {
            dedup.insert_rebuilt(&key, &other, at, crate::dedup::DedupHit { message_id, seq });
        }
        Ok(())
    }
}

/// Step 1 of [`Partition::recover_segment`]: how many slots the header vouches for and
/// the log offset where they end. The prefix stops at the first slot that does not
/// follow its predecessor in the log.
fn trusted_prefix(seg: &Segment, header: Option<&IndexHeader>) -> (u32, u64) {
    let cap = seg.index.capacity();
    let mut trusted = header.map_or(0, |h| h.durable_count.min(cap));
    let mut pos = 0u64;
    for i in 0..trusted {
        let s = seg.slot(i);
        let ok = u64::from(s.offset) == pos
            && s.len as usize >= record::HEADER_LEN
            && pos + u64::from(s.len) <= seg.capacity
            && SlotState::from_u8(seg.index.raw_state(i)).is_some_and(|st| st != SlotState::Empty);
        if !ok {
            trusted = i;
            break;
        }
        pos += u64::from(s.len);
    }
    (trusted, pos)
}

/// Step 2 of [`Partition::recover_segment`]: verifies the records from slot `count` at log
/// offset `pos` on, rebuilding each slot that disagrees with its record. Returns the slot
/// count and log offset where valid records end, and whether the tail is torn (a record
/// that fails its checks, as opposed to the zeros of never-written space).
fn rescan(
    seg: &mut Segment,
    mut count: u32,
    mut pos: u64,
    now_ms: u64,
    report: &mut RecoveryReport,
    journal: &mut Journal,
) -> (u32, u64, bool) {
    let cap = seg.index.capacity();
    let base = seg.base_seq;
    let mut torn = false;
    loop {
        if count >= cap {
            break;
        }
        let bytes = seg.bytes_from(pos);
        match record::check(bytes) {
            Ok(h) if h.seq == base + u64::from(count) => {
                let rec_bytes = &bytes[..h.len as usize];
                let rec = record::decode_checked(rec_bytes);
                let Ok(rec) = rec else {
                    torn = true;
                    break;
                };
                seg.max_sent_ms = seg.max_sent_ms.max(rec.sent_at_ms);
                if let Some(o) = rec.origin {
                    report.origins.push((base + u64::from(count), o));
                }
                report.rescanned += 1;
                if h.flags & record::FLAG_STATES != 0 {
                    journal.states.extend(record::marker_states(&rec.body));
                } else if h.flags & record::FLAG_DELETES != 0 {
                    journal.deletes.extend(record::marker_seqs(&rec.body));
                }
                if h.flags & record::FLAG_DELETES != 0 {
                    seg.has_markers = true;
                    // Never a message, whatever its slot said.
                    seg.index
                        .set_slot(count, &Slot::new(pos as u32, h.len, SlotState::Deleted));
                    count += 1;
                    pos += u64::from(h.len);
                    continue;
                }
                // The index slot is kept when it agrees with the record: its state
                // (a synced delete, say) is newer than anything the log can say.
                let existing = seg.slot(count);
                let agrees = u64::from(existing.offset) == pos
                    && existing.len == h.len
                    && SlotState::from_u8(seg.index.raw_state(count))
                        .is_some_and(|s| s != SlotState::Empty);
                if !agrees {
                    let mut slot = Slot::new(pos as u32, h.len, SlotState::Ready);
                    slot.receive_count = rec.receive_count.min(u32::from(u16::MAX)) as u16;
                    slot.first_receive_ms = rec.first_receive_ms;
                    if rec.visible_at_ms > now_ms {
                        slot.state = SlotState::Delayed;
                        slot.visible_at_ms = rec.visible_at_ms;
                    }
                    seg.index.set_slot(count, &slot);
                    report.rebuilt_slots += 1;
                }
                count += 1;
                pos += u64::from(h.len);
            }
            Ok(_) | Err(Invalid::Corrupt) => {
                torn = true;
                break;
            }
            Err(Invalid::End) => break,
        }
    }
    (count, pos, torn)
}

/// Step 3 of [`Partition::recover_segment`]: zeroes the log from `pos` when the tail is
/// torn, or when it is the last segment and anything non-zero follows the valid records.
fn erase_tail(
    seg: &Segment,
    pos: u64,
    torn: bool,
    last: bool,
    report: &mut RecoveryReport,
) -> Result<()> {
    if torn || last {
        let nonzero = seg
            .bytes_from(pos)
            .iter()
            .take(1 << 20)
            .rposition(|&b| b != 0);
        if torn || nonzero.is_some() {
            let extent = match nonzero {
                Some(i) => i as u64 + 1,
                None => 0,
            };
            report.truncated_bytes += extent;
            report.torn_segments += 1;
            segment::zero_range(seg.log_file(), pos, seg.capacity)?;
            seg.log_file().sync_data()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trip() {
        let d = tempfile::tempdir().unwrap();
        write_meta(d.path(), 7, 99, 1 << 33).unwrap();
        let m = read_meta(d.path()).unwrap().unwrap();
        assert_eq!(
            (m.epoch, m.purge_floor, m.generation_lease),
            (7, 99, 1 << 33)
        );
        // A file of an older build has no lease.
        std::fs::write(d.path().join(META_FILE), br#"{"epoch":3,"purge_floor":5}"#).unwrap();
        let m = read_meta(d.path()).unwrap().unwrap();
        assert_eq!((m.epoch, m.purge_floor, m.generation_lease), (3, 5, 0));
        std::fs::write(d.path().join(META_FILE), b"{garbage").unwrap();
        assert!(matches!(
            read_meta(d.path()),
            Err(EngineError::Corrupt { .. })
        ));
    }
}
