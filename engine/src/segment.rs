//! One segment of a partition: a preallocated `.log` of records, read through mmap, and
//! its `.idx` of slots.
//!
//! Files are named by the sequence number of their first record, zero-padded to 20
//! digits, so a directory listing sorts in log order. The `.log` is preallocated
//! (fallocate) to its full capacity when created; never-written space reads as zeros,
//! which [`crate::record::check`] reports as the end of the log. Appends are done by the
//! flusher at `write_pos`; reads go through a shared read-only mapping of the whole file,
//! which sees the page cache, so a record is readable as soon as its write returned.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{EngineError, Result};
use crate::index::{Index, Slot, SlotState};

pub fn log_path(dir: &Path, base_seq: u64) -> PathBuf {
    dir.join(format!("{base_seq:020}.log"))
}

pub fn idx_path(dir: &Path, base_seq: u64) -> PathBuf {
    dir.join(format!("{base_seq:020}.idx"))
}

/// Parses `<20 digits>.log` into its base sequence number.
pub fn parse_log_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Reserves disk blocks for the whole file so appends never extend it (extending
/// writes make fdatasync twice as expensive on these machines) and so a full disk is
/// reported here, when a segment is created (a clean, per-send `OutOfSpace`), rather than
/// by a later write into a hole (which fails a whole group commit) or, for a mapped
/// index, by SIGBUS.
pub(crate) fn preallocate(file: &File, len: u64) -> Result<()> {
    // SAFETY: fallocate on an fd we own, with plain integer arguments.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len as libc::off_t) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if crate::error::is_enospc(&err) {
            // Not a missing feature: the disk is full. A sparse file would only move the
            // failure to a write (or a page fault) later.
            return Err(err.into());
        }
        // Filesystems without fallocate (tmpfs on old kernels) still get a file of the
        // right length; the blocks are then allocated on first write.
        file.set_len(len)?;
    }
    Ok(())
}

/// Zeroes `[from, to)` of the log: used to erase a torn tail so that bytes of an
/// abandoned write can never be mistaken for records later.
pub fn zero_range(file: &File, from: u64, to: u64) -> Result<()> {
    if to <= from {
        return Ok(());
    }
    // SAFETY: fallocate on an fd we own, with plain integer arguments.
    let rc = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_ZERO_RANGE,
            from as libc::off_t,
            (to - from) as libc::off_t,
        )
    };
    if rc != 0 {
        use std::os::unix::fs::FileExt;
        let zeros = vec![0u8; 1 << 20];
        let mut at = from;
        while at < to {
            let n = ((to - at) as usize).min(zeros.len());
            file.write_all_at(&zeros[..n], at)?;
            at += n as u64;
        }
    }
    Ok(())
}

/// fsync of a directory, so that creating, renaming or unlinking a file in it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Opens a second, O_DIRECT descriptor of the log for writes, if the filesystem allows
/// (tmpfs, for one, does not: the log is then written through the page cache).
pub(crate) fn open_direct(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

pub struct Segment {
    pub base_seq: u64,
    pub log_path: PathBuf,
    log: File,
    /// O_DIRECT descriptor for appends (page-aligned writes, no page-cache copy).
    direct: Option<File>,
    map: Mmap,
    pub index: Index,
    /// Bytes of the log capacity.
    pub capacity: u64,
    /// Where the next record goes (staged or written).
    pub write_pos: u64,
    /// Slots assigned (staged or committed).
    pub count: u32,
    /// Live slots: Ready, Delayed, InFlight, Moving.
    pub live: u32,
    /// Bytes of live records.
    pub live_bytes: u64,
    /// Largest sent time of any record, for whole-segment retention expiry.
    pub max_sent_ms: u64,
    /// Slots in flight or delayed: a segment holding any cannot be copied forward.
    pub pinned: u32,
    /// The durable count last written to the index header.
    pub header_durable: u32,
    /// Holds deletion markers not known to be vouched for by the header (set when one is
    /// staged here, or found past the durable point by recovery): compaction keeps it
    /// until the header covers all of it.
    pub has_markers: bool,
    /// No more appends.
    pub sealed: bool,
    /// The index has state changes not yet synced.
    pub idx_dirty: bool,
}

impl Segment {
    /// Creates both files of a new, empty segment and makes them durable.
    pub fn create(
        dir: &Path,
        base_seq: u64,
        capacity: u64,
        slots: u32,
        direct: bool,
        spares: Option<&crate::spare::SparePool>,
    ) -> Result<Segment> {
        let log_path = log_path(dir, base_seq);
        // A pre-written spare of the right size if one is ready (its blocks are already
        // written, so fdatasyncs into it are cheaper), else a fresh preallocated file.
        let spare = spares
            .filter(|p| p.len() == capacity)
            .and_then(super::spare::SparePool::take)
            .and_then(|path| match std::fs::rename(&path, &log_path) {
                Ok(()) => Some(()),
                Err(_) => {
                    let _ = std::fs::remove_file(&path);
                    None
                }
            });
        let log = match spare {
            Some(()) => OpenOptions::new().read(true).write(true).open(&log_path)?,
            None => OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&log_path)?,
        };
        let made = (if spare.is_some() {
            Ok(())
        } else {
            preallocate(&log, capacity)
        })
        .and_then(|()| Ok(log.sync_all()?))
        .and_then(|()| Index::create(&idx_path(dir, base_seq), base_seq, slots, capacity));
        let index = match made {
            Ok(i) => i,
            Err(e) => {
                // Give back what a half-done preallocation took (a full disk stays no
                // fuller for the attempt); leftovers are removed by the next roll anyway.
                let _ = std::fs::remove_file(&log_path);
                let _ = std::fs::remove_file(idx_path(dir, base_seq));
                return Err(e);
            }
        };
        sync_dir(dir)?;
        let mut seg = Segment::with_files(base_seq, log_path, log, index, capacity)?;
        if direct {
            seg.direct = open_direct(&seg.log_path);
        }
        Ok(seg)
    }

    /// Opens the files of an existing segment. The log is extended back to `capacity` if a
    /// crash (or a test) cut it short. Returns the segment (count 0; recovery fills it in)
    /// and the index header if valid.
    pub fn open(
        dir: &Path,
        base_seq: u64,
        capacity: u64,
        slots: u32,
        direct: bool,
    ) -> Result<(Segment, Option<crate::index::IndexHeader>)> {
        let log_path = log_path(dir, base_seq);
        let log = OpenOptions::new().read(true).write(true).open(&log_path)?;
        let len = log.metadata()?.len();
        let capacity = capacity.max(len);
        if len < capacity {
            preallocate(&log, capacity)?;
        }
        let ip = idx_path(dir, base_seq);
        let (index, header) = if ip.exists() {
            Index::open(&ip, slots)?
        } else {
            (Index::create(&ip, base_seq, slots, capacity)?, None)
        };
        let header = header.filter(|h| h.base_seq == base_seq);
        let mut seg = Segment::with_files(base_seq, log_path, log, index, capacity)?;
        if direct {
            seg.direct = open_direct(&seg.log_path);
        }
        Ok((seg, header))
    }

    fn with_files(
        base_seq: u64,
        log_path: PathBuf,
        log: File,
        index: Index,
        capacity: u64,
    ) -> Result<Segment> {
        // SAFETY: the log file is owned by this partition alone while mapped; it is only
        // ever appended within its preallocated length (never truncated while mapped),
        // so every page of the map stays backed by the file.
        let map = unsafe { Mmap::map(&log)? };
        if (map.len() as u64) < capacity {
            return Err(EngineError::Corrupt {
                path: log_path.display().to_string(),
                reason: "log shorter than its capacity".into(),
            });
        }
        Ok(Segment {
            base_seq,
            log_path,
            log,
            direct: None,
            map,
            index,
            capacity,
            write_pos: 0,
            count: 0,
            live: 0,
            live_bytes: 0,
            max_sent_ms: 0,
            pinned: 0,
            header_durable: 0,
            has_markers: false,
            sealed: false,
            idx_dirty: false,
        })
    }

    pub fn log_fd(&self) -> RawFd {
        self.log.as_raw_fd()
    }

    /// The O_DIRECT descriptor, if appends go around the page cache.
    pub fn direct_fd(&self) -> Option<RawFd> {
        self.direct.as_ref().map(std::os::fd::AsRawFd::as_raw_fd)
    }

    pub fn log_file(&self) -> &File {
        &self.log
    }

    /// The log bytes from `offset` to the end of the file.
    pub fn bytes_from(&self, offset: u64) -> &[u8] {
        self.map.get(offset as usize..).unwrap_or(&[])
    }

    /// The bytes of the record a slot points at.
    pub fn record_bytes(&self, s: &Slot) -> &[u8] {
        let start = s.offset as usize;
        self.map.get(start..start + s.len as usize).unwrap_or(&[])
    }

    pub fn slot(&self, i: u32) -> Slot {
        self.index.slot(i)
    }

    pub fn end_seq(&self) -> u64 {
        self.base_seq + u64::from(self.count)
    }

    pub fn contains(&self, seq: u64) -> bool {
        seq >= self.base_seq && seq < self.end_seq()
    }

    /// Whether a record of `len` bytes still fits.
    pub fn fits(&self, len: usize) -> bool {
        !self.sealed
            && self.count < self.index.capacity()
            && self.write_pos + len as u64 <= self.capacity
    }

    /// Changes a slot's state, keeping the live accounting right.
    pub fn transition(&mut self, slot: u32, from: SlotState, to: SlotState, len: u32) {
        debug_assert!(from.can_become(to), "slot {slot}: {from:?} -> {to:?}");
        match (from.is_live(), to.is_live()) {
            (true, false) => {
                debug_assert!(self.live > 0);
                self.live -= 1;
                self.live_bytes -= u64::from(len);
            }
            (false, true) => {
                self.live += 1;
                self.live_bytes += u64::from(len);
            }
            _ => {}
        }
        let pins = |s: SlotState| matches!(s, SlotState::InFlight | SlotState::Delayed);
        match (pins(from), pins(to)) {
            (true, false) => self.pinned -= 1,
            (false, true) => self.pinned += 1,
            _ => {}
        }
    }

    /// How many of this segment's slots are committed when everything below `committed`
    /// is: the durable count its index header may vouch for.
    pub fn durable_count(&self, committed: u64) -> u32 {
        (committed.clamp(self.base_seq, self.end_seq()) - self.base_seq) as u32
    }

    /// Whether an index sync wave at commit point `committed` must sync this index file:
    /// slots changed since the last sync, or the header is about to advance.
    pub fn needs_index_sync(&self, committed: u64) -> bool {
        self.idx_dirty || self.durable_count(committed) != self.header_durable
    }

    /// Bytes this segment occupies on disk (log capacity plus index).
    pub fn disk_bytes(&self) -> u64 {
        self.capacity
            + crate::index::HEADER_PAGE as u64
            + u64::from(self.index.capacity()) * crate::index::SLOT_LEN as u64
    }

    /// Removes both files. The caller drops the segment right after.
    pub fn unlink(&self) -> Result<()> {
        std::fs::remove_file(&self.log_path)?;
        std::fs::remove_file(self.index.path())?;
        Ok(())
    }
}
