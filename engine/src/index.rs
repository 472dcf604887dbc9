//! The `.idx` file of a segment: a header page, then one fixed-size slot per record, all
//! mmap'd (memmap2) and updated in place.
//!
//! A slot holds the mutable state of one message; the `.log` record holds the immutable
//! part. Layout of a slot (32 bytes, little endian):
//!
//! ```text
//!  0 u32 offset of the record in the .log
//!  4 u32 length of the record
//!  8 u64 visible_at_ms      delay-until (Delayed) or visibility deadline (InFlight)
//! 16 u64 first_receive_ms   0 until first received
//! 24 u16 receive_count      saturating
//! 26 u8  state              SlotState
//! 27 u8  generation_hi      bits 32..40 of the generation (0 in files of older builds)
//! 28 u32 generation         bits 0..32: the receive's generation, sealed into receipt
//!                           handles (see `MAX_GENERATION`)
//! ```
//!
//! Slots are 32-byte aligned, so a slot never straddles a 512-byte sector: a torn write of
//! the index leaves each slot entirely old or entirely new.
//!
//! The header's `durable_count` promises that slots `[0, durable_count)` describe records
//! that were durable in the `.log`, and that every state change made before those records
//! were committed was synced too. It is written only after an index sync wave (see
//! `Engine::sync_index`), so it may lag; recovery rescans the log from there.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use crate::error::{EngineError, Result};

pub const SLOT_LEN: usize = 32;
pub const HEADER_PAGE: usize = 4096;
/// Bytes of the header at the start of the header page: magic to CRC.
const HEADER_LEN: usize = 44;
/// A disk sector: the unit within which a write is never torn.
const SECTOR_BYTES: usize = 512;
const MAGIC: &[u8; 4] = b"SPIX";
/// Generations are 40 bits: the `u32` field and the byte before it (a reserved byte,
/// written 0, in older builds, so their slots read unchanged). A partition draws them
/// from one counter (`Partition::take_generation`), so 40 bits last 2^40 receives of
/// one partition (12 days at a million receives a second, every second).
pub const MAX_GENERATION: u64 = (1 << 40) - 1;
const VERSION: u32 = 1;

// What docs/format.md (and recovery) rely on, checked at compile time.
// The slot's fields fill it exactly: offset, len, visible_at_ms, first_receive_ms,
// receive_count, state, generation_hi, generation.
const _: () = assert!(4 + 4 + 8 + 8 + 2 + 1 + 1 + 4 == SLOT_LEN);
// The header's fields fill its 44 bytes: magic, version, base_seq, capacity,
// durable_count, log_capacity, max_sent_ms, crc.
const _: () = assert!(4 + 4 + 8 + 4 + 4 + 8 + 8 + 4 == HEADER_LEN);
// A slot never straddles a sector (slots start on a sector boundary and divide it), so a
// torn index write leaves each slot wholly old or wholly new.
const _: () =
    assert!(SECTOR_BYTES.is_multiple_of(SLOT_LEN) && HEADER_PAGE.is_multiple_of(SECTOR_BYTES));
// The header lies in the first sector of its page, so its write is never torn.
const _: () = assert!(HEADER_LEN <= SECTOR_BYTES && SECTOR_BYTES <= HEADER_PAGE);

/// Per-message state. Stored as one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SlotState {
    /// Never written.
    Empty = 0,
    /// Encoded into the write buffer, not yet durable; invisible.
    Staged = 1,
    Ready = 2,
    Delayed = 3,
    InFlight = 4,
    Deleted = 5,
    Expired = 6,
    /// Moved elsewhere (dead-letter queue, redrive, compaction copy): gone from here.
    Moved = 7,
    /// Being moved: invisible here until the copy is durable. Recovery turns it back to
    /// Ready unless the copy is found.
    Moving = 8,
}

impl SlotState {
    pub fn from_u8(v: u8) -> Option<SlotState> {
        Some(match v {
            0 => SlotState::Empty,
            1 => SlotState::Staged,
            2 => SlotState::Ready,
            3 => SlotState::Delayed,
            4 => SlotState::InFlight,
            5 => SlotState::Deleted,
            6 => SlotState::Expired,
            7 => SlotState::Moved,
            8 => SlotState::Moving,
            _ => return None,
        })
    }

    /// Whether a running partition may change a slot from `self` to `to`. Recovery, which
    /// rebuilds slots from the log, is exempt. Deleted, Expired and Moved are final: a
    /// message that left never comes back.
    pub fn can_become(self, to: SlotState) -> bool {
        use SlotState::{Delayed, Deleted, Empty, Expired, InFlight, Moved, Moving, Ready, Staged};
        matches!(
            (self, to),
            (Empty, Staged)
                | (Staged, Ready | Delayed | Deleted)
                | (Ready, InFlight | Deleted | Expired | Moving | Moved)
                | (Delayed | InFlight, Ready | Deleted | Expired | Moved)
                | (Moving, Ready | Moved)
        )
    }

    /// A live message still holds its segment's space.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            SlotState::Ready | SlotState::Delayed | SlotState::InFlight | SlotState::Moving
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub offset: u32,
    pub len: u32,
    pub visible_at_ms: u64,
    pub first_receive_ms: u64,
    pub receive_count: u16,
    pub state: SlotState,
    /// The generation of the receive that last put it in flight (40 bits, see
    /// [`MAX_GENERATION`]); 0 = never received.
    pub generation: u64,
}

impl Slot {
    pub fn new(offset: u32, len: u32, state: SlotState) -> Slot {
        Slot {
            offset,
            len,
            visible_at_ms: 0,
            first_receive_ms: 0,
            receive_count: 0,
            state,
            generation: 0,
        }
    }
}

pub struct Index {
    path: PathBuf,
    file: File,
    map: MmapMut,
    capacity: u32,
}

/// What an index header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexHeader {
    pub base_seq: u64,
    pub capacity: u32,
    pub durable_count: u32,
    pub log_capacity: u64,
    /// Newest sent time of every record of the segment committed when the header was
    /// written: this may cover more than `[0, durable_count)`, since headers lag commits
    /// (`Partition::advance_headers` writes the segment's running maximum). Recovery
    /// starts from it and raises it over the records it rescans. Lets recovery skip
    /// segments too old to hold FIFO deduplication ids still inside their window, and
    /// compaction expire a whole segment.
    pub max_sent_ms: u64,
}

fn file_len(capacity: u32) -> u64 {
    HEADER_PAGE as u64 + u64::from(capacity) * SLOT_LEN as u64
}

impl Index {
    /// Creates a new index file with a header and `capacity` zeroed slots, and syncs it.
    pub fn create(path: &Path, base_seq: u64, capacity: u32, log_capacity: u64) -> Result<Index> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        // Allocated, not sparse: a page of the map that had no block on a full disk
        // would SIGBUS the process when first written.
        crate::segment::preallocate(&file, file_len(capacity))?;
        let mut idx = Index::map(path, file, capacity)?;
        idx.write_header(&IndexHeader {
            base_seq,
            capacity,
            durable_count: 0,
            log_capacity,
            max_sent_ms: 0,
        });
        idx.file.sync_all()?;
        Ok(idx)
    }

    /// Opens an existing index. Returns the header if it is valid; a file that is too
    /// short (cut by a crash) is extended with zeroed slots.
    pub fn open(path: &Path, capacity: u32) -> Result<(Index, Option<IndexHeader>)> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let len = file.metadata()?.len();
        let header_ok = len >= HEADER_PAGE as u64;
        let want = file_len(capacity);
        let mut idx = if len < want {
            file.set_len(want)?;
            Index::map(path, file, capacity)?
        } else {
            // A larger file (made with a bigger capacity) keeps its own capacity.
            let cap =
                ((len - HEADER_PAGE as u64) / SLOT_LEN as u64).min(u64::from(u32::MAX)) as u32;
            Index::map(path, file, cap)?
        };
        let header = if header_ok { idx.read_header() } else { None };
        if let Some(h) = header {
            if h.capacity != idx.capacity || h.durable_count > h.capacity {
                return Ok((idx, None));
            }
        } else {
            idx.capacity = capacity.min(idx.capacity);
        }
        Ok((idx, header))
    }

    fn map(path: &Path, file: File, capacity: u32) -> Result<Index> {
        // SAFETY: the file is owned by this shard alone for the life of the map (one
        // process holds the data directory; the engine never truncates a mapped index),
        // so no other writer changes it under us and no access can hit a truncated page.
        let map = unsafe { MmapMut::map_mut(&file)? };
        if map.len() < file_len(capacity) as usize {
            return Err(EngineError::Corrupt {
                path: path.display().to_string(),
                reason: "index shorter than its capacity".into(),
            });
        }
        Ok(Index {
            path: path.to_path_buf(),
            file,
            map,
            capacity,
        })
    }

    fn read_header(&self) -> Option<IndexHeader> {
        let h = &self.map[..HEADER_LEN];
        if &h[0..4] != MAGIC || u32::from_le_bytes(h[4..8].try_into().ok()?) != VERSION {
            return None;
        }
        let crc = u32::from_le_bytes(h[40..44].try_into().ok()?);
        if crc32fast::hash(&h[..40]) != crc {
            return None;
        }
        Some(IndexHeader {
            base_seq: u64::from_le_bytes(h[8..16].try_into().ok()?),
            capacity: u32::from_le_bytes(h[16..20].try_into().ok()?),
            durable_count: u32::from_le_bytes(h[20..24].try_into().ok()?),
            log_capacity: u64::from_le_bytes(h[24..32].try_into().ok()?),
            max_sent_ms: u64::from_le_bytes(h[32..40].try_into().ok()?),
        })
    }

    /// Rewrites the header. Its 44 bytes sit in one sector, so they are written whole.
    pub fn write_header(&mut self, h: &IndexHeader) {
        let b = &mut self.map[..HEADER_LEN];
        b[0..4].copy_from_slice(MAGIC);
        b[4..8].copy_from_slice(&VERSION.to_le_bytes());
        b[8..16].copy_from_slice(&h.base_seq.to_le_bytes());
        b[16..20].copy_from_slice(&h.capacity.to_le_bytes());
        b[20..24].copy_from_slice(&h.durable_count.to_le_bytes());
        b[24..32].copy_from_slice(&h.log_capacity.to_le_bytes());
        b[32..40].copy_from_slice(&h.max_sent_ms.to_le_bytes());
        let crc = crc32fast::hash(&b[..40]);
        b[40..44].copy_from_slice(&crc.to_le_bytes());
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    fn at(i: u32) -> usize {
        HEADER_PAGE + i as usize * SLOT_LEN
    }

    /// Reads slot `i`. An unknown state byte reads as `Ready`: a damaged state can cause
    /// a redelivery, never a loss.
    pub fn slot(&self, i: u32) -> Slot {
        debug_assert!(i < self.capacity);
        let b = &self.map[Index::at(i)..Index::at(i) + SLOT_LEN];
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u64_at = |o: usize| u64::from(u32_at(o)) | (u64::from(u32_at(o + 4)) << 32);
        Slot {
            offset: u32_at(0),
            len: u32_at(4),
            visible_at_ms: u64_at(8),
            first_receive_ms: u64_at(16),
            receive_count: u16::from_le_bytes([b[24], b[25]]),
            state: SlotState::from_u8(b[26]).unwrap_or(SlotState::Ready),
            generation: u64::from(u32_at(28)) | (u64::from(b[27]) << 32),
        }
    }

    pub fn raw_state(&self, i: u32) -> u8 {
        self.map[Index::at(i) + 26]
    }

    pub fn set_slot(&mut self, i: u32, s: &Slot) {
        debug_assert!(i < self.capacity);
        let b = &mut self.map[Index::at(i)..Index::at(i) + SLOT_LEN];
        b[0..4].copy_from_slice(&s.offset.to_le_bytes());
        b[4..8].copy_from_slice(&s.len.to_le_bytes());
        b[8..16].copy_from_slice(&s.visible_at_ms.to_le_bytes());
        b[16..24].copy_from_slice(&s.first_receive_ms.to_le_bytes());
        b[24..26].copy_from_slice(&s.receive_count.to_le_bytes());
        b[26] = s.state as u8;
        debug_assert!(s.generation <= MAX_GENERATION);
        b[27] = (s.generation >> 32) as u8;
        b[28..32].copy_from_slice(&(s.generation as u32).to_le_bytes());
    }

    pub fn set_state(&mut self, i: u32, state: SlotState) {
        debug_assert!(i < self.capacity);
        self.map[Index::at(i) + 26] = state as u8;
    }

    /// Zeroes slots `[from, capacity)`: used when recovery rebuilds the tail.
    pub fn clear_from(&mut self, from: u32) {
        let start = Index::at(from.min(self.capacity));
        let end = Index::at(self.capacity);
        self.map[start..end].fill(0);
    }

    /// fdatasync of the index file (dirty mapped pages included).
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_header_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("0.idx");
        let mut idx = Index::create(&p, 100, 16, 1 << 20).unwrap();
        let s = Slot {
            offset: 7,
            len: 99,
            visible_at_ms: u64::MAX - 1,
            first_receive_ms: 12345,
            receive_count: 3,
            state: SlotState::InFlight,
            generation: 0xab_dead_beef,
        };
        idx.set_slot(15, &s);
        idx.write_header(&IndexHeader {
            base_seq: 100,
            capacity: 16,
            durable_count: 9,
            log_capacity: 1 << 20,
            max_sent_ms: 77,
        });
        idx.sync().unwrap();
        drop(idx);
        let (idx, h) = Index::open(&p, 16).unwrap();
        let h = h.unwrap();
        assert_eq!((h.base_seq, h.durable_count), (100, 9));
        assert_eq!(idx.slot(15), s);
        assert_eq!(idx.slot(0).state, SlotState::Empty);
    }

    #[test]
    fn final_states_stay_final_and_live_states_leave_only_forward() {
        use SlotState::*;
        let all = [
            Empty, Staged, Ready, Delayed, InFlight, Deleted, Expired, Moved, Moving,
        ];
        for to in all {
            for done in [Deleted, Expired, Moved] {
                assert!(!done.can_become(to), "{done:?} -> {to:?}");
            }
            assert!(!to.can_become(Empty), "{to:?} -> Empty");
            assert!(!to.can_become(to), "{to:?} -> itself");
        }
        // What a running partition does: stage, commit, receive, time out, delete, move.
        for (from, to) in [
            (Empty, Staged),
            (Staged, Ready),
            (Staged, Delayed),
            (Delayed, Ready),
            (Ready, InFlight),
            (InFlight, Ready),
            (InFlight, Deleted),
            (Ready, Moving),
            (Moving, Ready),
            (Moving, Moved),
        ] {
            assert!(from.can_become(to), "{from:?} -> {to:?}");
        }
        // An in-flight message is made ready before it can be moved; nothing goes back to
        // the write path.
        assert!(!InFlight.can_become(Moving));
        assert!(!Ready.can_become(Staged));
    }

    #[test]
    fn damaged_header_is_reported_and_short_file_extended() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("0.idx");
        drop(Index::create(&p, 5, 8, 4096).unwrap());
        let f = OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len(10).unwrap();
        drop(f);
        let (idx, h) = Index::open(&p, 8).unwrap();
        assert!(h.is_none());
        assert_eq!(idx.capacity(), 8);
        assert_eq!(idx.slot(7).state, SlotState::Empty);
    }
}
