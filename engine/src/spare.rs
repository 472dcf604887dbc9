//! Pre-written segment files, made ahead of need on a background thread.
//!
//! A fresh segment is preallocated with `fallocate`, which leaves its extents
//! *unwritten*: the first fdatasync after each write into one must also persist the
//! extent conversion, and on these machines that makes a group commit's fdatasync about
//! twice as slow (~250 µs against ~130 µs over already-written blocks; measured in
//! `spool-bench compare`, sync durability, 100 B: send-ack p50 1.27–1.49 ms with fresh
//! segments, 1.00–1.12 ms with pre-written ones). So a [`SparePool`] keeps a few
//! segment-sized files in `<data dir>/spare/` whose every block was written (with zeros)
//! and synced, and a partition that rolls renames one into place instead of creating a
//! file. Writing them costs one extra sequential write of each segment, off the request
//! path; a roll never waits for it (with no spare ready it falls back to `fallocate`).
//!
//! Promises:
//! * a file is offered by [`SparePool::take`] only once it is complete: full length,
//!   all zeros, fdatasynced, and renamed from its temporary name (a crash mid-way leaves
//!   a `.tmp` that the next [`SparePool::start`] deletes);
//! * zeros are what a never-written segment reads as, so a spare is indistinguishable
//!   from a fresh segment to recovery;
//! * the pool holds at most `want` files (the disk space it reserves is bounded), and on
//!   a full disk it gives its partial file back and retries later, never failing a roll.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::error::Result;

/// Zeros written per `pwrite` while filling a spare.
const CHUNK: usize = 1 << 20;
/// Pause after a failed fill (a full disk, say) before trying again.
const RETRY: Duration = Duration::from_secs(1);

struct State {
    ready: Vec<PathBuf>,
    next_id: u64,
    stop: bool,
}

/// A shard's pool of pre-written segment files; see the module docs.
pub struct SparePool {
    dir: PathBuf,
    len: u64,
    want: usize,
    state: Mutex<State>,
    wake: Condvar,
    /// The filler, joined by [`SparePool::stop`] so that no file of this pool is still
    /// being written once the engine that owns it is gone.
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for SparePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SparePool")
            .field("dir", &self.dir)
            .field("len", &self.len)
            .field("want", &self.want)
            .finish_non_exhaustive()
    }
}

impl SparePool {
    /// Opens the pool in `dir` (created if missing) for files of `len` bytes, keeping
    /// `want` ready, and starts the thread that fills it. Complete spares left by an
    /// earlier run are kept; partial ones are deleted.
    pub fn start(dir: &Path, len: u64, want: usize) -> Result<Arc<SparePool>> {
        std::fs::create_dir_all(dir)?;
        let mut ready = Vec::new();
        let mut next_id = 0;
        for ent in std::fs::read_dir(dir)? {
            let ent = ent?;
            if !ent.file_type().is_ok_and(|t| t.is_file()) {
                continue; // not ours
            }
            let path = ent.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let id = name
                .strip_prefix("spare-")
                .and_then(|r| r.split('.').next())
                .and_then(|d| d.parse::<u64>().ok());
            next_id = next_id.max(id.map_or(0, |i| i + 1));
            // Our own file names, spelled exactly so (see `make`): no case folding.
            #[allow(clippy::case_sensitive_file_extension_comparisons)]
            let complete = name.ends_with(".log")
                && id.is_some()
                && std::fs::metadata(&path).is_ok_and(|m| m.len() == len);
            if complete && ready.len() < want {
                ready.push(path);
            } else {
                std::fs::remove_file(&path)?;
            }
        }
        let pool = Arc::new(SparePool {
            dir: dir.to_path_buf(),
            len,
            want,
            state: Mutex::new(State {
                ready,
                next_id,
                stop: false,
            }),
            wake: Condvar::new(),
            thread: Mutex::new(None),
        });
        // The thread holds the pool only weakly between files: when the engine drops the
        // last handle, the thread notices within a second (or at once after `stop`).
        let filler = Arc::downgrade(&pool);
        let t = std::thread::Builder::new()
            .name("spool-spare".into())
            .spawn(move || fill_loop(filler))?;
        *pool
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(t);
        Ok(pool)
    }

    /// A complete spare file, if one is ready (never waits). The caller renames it into
    /// place; the filler is woken to make the next one.
    pub fn take(&self) -> Option<PathBuf> {
        let mut st = self.lock();
        let got = st.ready.pop();
        drop(st);
        self.wake.notify_one();
        got
    }

    /// Files ready now.
    pub fn ready(&self) -> usize {
        self.lock().ready.len()
    }

    /// The size of the files this pool makes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the files this pool makes are empty (never: a segment has a size).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stops the filler thread and waits for it (it finishes the file it is writing, if
    /// any: tens of milliseconds).
    pub fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_one();
        let t = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(t) = t {
            // Never join from the filler itself (it may drop the last handle).
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes one spare: zeros to full length under a temporary name, fdatasync, rename,
    /// fsync of the directory.
    fn make(&self, id: u64) -> Result<PathBuf> {
        let tmp = self.dir.join(format!("spare-{id}.tmp"));
        let done = self.dir.join(format!("spare-{id}.log"));
        // create_new: a name is never shared with another writer (and a file this call
        // did not create is never removed by it).
        let f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let res = (|| -> Result<()> {
            // Reserve first: on a nearly full disk this fails at once, instead of the
            // zeros taking the last free blocks (which rolls and meta writes need) until
            // ENOSPC. The zeros then turn the reserved extents into written ones.
            crate::segment::preallocate(&f, self.len)?;
            // O_DIRECT where the filesystem allows it: the zeros go from one pinned
            // buffer to the disk with no copy into the page cache and no writeback work,
            // so filling costs the shard's cores next to nothing (buffered, it cost ~10 %
            // of the full-cycle benchmark's throughput at ~1 M msgs/s).
            let direct = (self.len.is_multiple_of(crate::aligned::ALIGN as u64))
                .then(|| crate::segment::open_direct(&tmp))
                .flatten();
            match direct {
                Some(d) => {
                    let mut zeros = crate::aligned::AlignedBuf::new();
                    zeros.resize_zeroed(CHUNK);
                    write_zeros(&d, self.len, zeros.aligned(0, CHUNK))?;
                }
                None => write_zeros(&f, self.len, &vec![0u8; CHUNK])?,
            }
            f.sync_data()?;
            drop_cache(&f, self.len);
            std::fs::rename(&tmp, &done)?;
            crate::segment::sync_dir(&self.dir)
        })();
        match res {
            Ok(()) => Ok(done),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }
}

impl Drop for SparePool {
    fn drop(&mut self) {
        self.lock().stop = true;
        self.wake.notify_all();
    }
}

// The thread's own handle, moved in: it lives as long as the thread.
#[allow(clippy::needless_pass_by_value)]
fn fill_loop(pool: std::sync::Weak<SparePool>) {
    loop {
        let Some(p) = pool.upgrade() else {
            return;
        };
        let id = {
            let mut st = p.lock();
            if st.stop {
                return;
            }
            if st.ready.len() >= p.want {
                let _ = p.wake.wait_timeout(st, RETRY);
                continue;
            }
            st.next_id += 1;
            st.next_id - 1
        };
        match p.make(id) {
            Ok(path) => p.lock().ready.push(path),
            Err(_) => {
                // A full disk or a failing device: rolls fall back to fallocate (which
                // reports the problem to the sender); try again later.
                let st = p.lock();
                if !st.stop {
                    let _ = p.wake.wait_timeout(st, RETRY);
                }
            }
        }
    }
}

/// Writes `len` zero bytes from `zeros` (a buffer of CHUNK zeros); with O_DIRECT, `len`
/// is a multiple of the page size, so every write stays aligned.
fn write_zeros(f: &File, len: u64, zeros: &[u8]) -> Result<()> {
    debug_assert_eq!(zeros.len(), CHUNK);
    let mut at = 0u64;
    while at < len {
        let n = ((len - at) as usize).min(CHUNK);
        f.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

/// The zeros are on disk: their cached pages would only crowd out records.
fn drop_cache(f: &File, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: posix_fadvise on an fd we own, with plain integer arguments; advice only.
    unsafe {
        libc::posix_fadvise(
            f.as_raw_fd(),
            0,
            len as libc::off_t,
            libc::POSIX_FADV_DONTNEED,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_ready(p: &SparePool, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while p.ready() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "the pool never filled"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn fills_to_want_hands_out_complete_zeroed_files_and_refills() {
        let d = tempfile::tempdir().unwrap();
        let pool = SparePool::start(d.path(), 256 << 10, 2).unwrap();
        wait_ready(&pool, 2);
        let a = pool.take().unwrap();
        let bytes = std::fs::read(&a).unwrap();
        assert_eq!(bytes.len(), 256 << 10);
        assert!(bytes.iter().all(|&b| b == 0));
        assert!(a.extension().is_some_and(|e| e == "log"));
        // Taken files are the caller's: the pool makes a new one, and keeps at most two.
        std::fs::remove_file(&a).unwrap();
        wait_ready(&pool, 2);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(pool.ready(), 2);
        let files = std::fs::read_dir(d.path()).unwrap().count();
        assert_eq!(files, 2);
    }

    #[test]
    fn a_restart_keeps_complete_spares_and_deletes_partial_ones() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("spare-3.log"), vec![0u8; 4096]).unwrap();
        std::fs::write(d.path().join("spare-4.tmp"), vec![0u8; 100]).unwrap();
        std::fs::write(d.path().join("spare-5.log"), vec![0u8; 100]).unwrap(); // wrong size
        let pool = SparePool::start(d.path(), 4096, 1).unwrap();
        assert_eq!(pool.ready(), 1);
        assert_eq!(pool.take().unwrap(), d.path().join("spare-3.log"));
        wait_ready(&pool, 1);
        let next = pool.take().unwrap();
        // Numbering continues past every name seen, so no file is ever reused by name.
        assert_eq!(next, d.path().join("spare-6.log"));
        assert!(!d.path().join("spare-4.tmp").exists());
        assert!(!d.path().join("spare-5.log").exists());
    }
}
