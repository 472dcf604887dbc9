//! Fault injection for tests (cargo feature `fault-injection`): a [`Flusher`] that fails
//! writes and fdatasyncs on command, so the engine's and the daemon's handling of a full
//! disk and of I/O errors can be tested without a broken disk.
//!
//! A [`FaultPlan`] is shared (`Arc`) between the test and any number of
//! [`FaultyFlusher`]s, each wrapping a real flusher. The plan says:
//! * `fail_writes_after(bytes, errno)`: writes go through until `bytes` more bytes have
//!   been written, then the write that crosses the budget lands partly (up to the budget,
//!   as a real short write on a filling disk would) and fails with `errno`, and so does
//!   every later write until [`FaultPlan::clear`];
//! * `fail_sync(k, errno)`: the `k`th fdatasync from now (1 = the next) fails with
//!   `errno` without syncing, once — the fsyncgate case: the kernel reports the error once
//!   and may already have dropped the dirty pages;
//! * `fail_all_syncs(errno)`: every fdatasync fails until cleared.
//!
//! The daemon can be built with this module (spool-server feature `fault-injection`) and
//! then reads a plan from a control file named by `SPOOL_FAULT_FILE` before each flush
//! ([`FaultPlan::load_control_file`]): one directive per line, `write=enospc`,
//! `write=eio`, `sync=eio`, `sync-once=eio`; an empty or missing file means no faults.
//!
//! Promises: a faulty flusher never reports success for a job in which it injected a
//! fault; with no fault armed it behaves exactly as the flusher it wraps. Counters of the
//! faults injected are kept for tests to report.

use std::io;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::flusher::{FlushJob, Flusher, WriteOp};

#[derive(Debug, Default, Clone)]
struct State {
    /// Bytes still allowed before writes fail; None: no write fault armed.
    write_budget: Option<u64>,
    write_errno: i32,
    /// Syncs to let through before the one that fails (0: the next fails).
    sync_countdown: Option<u64>,
    sync_once_errno: i32,
    /// Every sync fails with this errno while set.
    all_syncs_errno: Option<i32>,
    injected_writes: u64,
    injected_syncs: u64,
    /// Last control-file contents applied (so a file is applied once per change).
    control: Option<String>,
}

/// What to fail, shared between a test and its [`FaultyFlusher`]s.
#[derive(Debug, Default)]
pub struct FaultPlan {
    state: Mutex<State>,
    control_file: Option<PathBuf>,
}

/// How many faults a plan has injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Writes failed.
    pub writes: u64,
    /// fdatasyncs failed.
    pub syncs: u64,
}

impl FaultPlan {
    /// A plan with nothing armed.
    pub fn new() -> Arc<FaultPlan> {
        Arc::new(FaultPlan::default())
    }

    /// A plan driven by a control file (see the module docs), re-read before each flush.
    pub fn from_control_file(path: &Path) -> Arc<FaultPlan> {
        Arc::new(FaultPlan {
            state: Mutex::default(),
            control_file: Some(path.to_path_buf()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock left a consistent State (every
        // update is a plain field store), so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes fail with `errno` once `bytes` more bytes have been written.
    pub fn fail_writes_after(&self, bytes: u64, errno: i32) {
        let mut s = self.lock();
        s.write_budget = Some(bytes);
        s.write_errno = errno;
    }

    /// The `k`th fdatasync from now (1 = the next one) fails with `errno`, once.
    pub fn fail_sync(&self, k: u64, errno: i32) {
        let mut s = self.lock();
        s.sync_countdown = Some(k.saturating_sub(1));
        s.sync_once_errno = errno;
    }

    /// Every fdatasync fails with `errno` until [`FaultPlan::clear`].
    pub fn fail_all_syncs(&self, errno: i32) {
        self.lock().all_syncs_errno = Some(errno);
    }

    /// Disarms every fault (the counters stay).
    pub fn clear(&self) {
        let mut s = self.lock();
        s.write_budget = None;
        s.sync_countdown = None;
        s.all_syncs_errno = None;
    }

    /// Faults injected so far.
    pub fn counts(&self) -> FaultCounts {
        let s = self.lock();
        FaultCounts {
            writes: s.injected_writes,
            syncs: s.injected_syncs,
        }
    }

    /// Applies the control file, if this plan has one and it changed since last time.
    /// Directives: `write=enospc|eio` (every write fails), `sync=eio|enospc` (every sync
    /// fails), `sync-once=eio` (the next sync fails, once per write of the file).
    /// Unknown lines are ignored (and logged to stderr once).
    pub fn load_control_file(&self) {
        let Some(path) = &self.control_file else {
            return;
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut s = self.lock();
        if s.control.as_deref() == Some(text.as_str()) {
            return;
        }
        s.write_budget = None;
        s.all_syncs_errno = None;
        s.sync_countdown = None;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (what, errno) = match line.split_once('=') {
                Some((w, "enospc")) => (w, libc::ENOSPC),
                Some((w, "eio")) => (w, libc::EIO),
                _ => {
                    eprintln!("fault injection: ignoring control line {line:?}");
                    continue;
                }
            };
            match what {
                "write" => {
                    s.write_budget = Some(0);
                    s.write_errno = errno;
                }
                "sync" => s.all_syncs_errno = Some(errno),
                "sync-once" => {
                    s.sync_countdown = Some(0);
                    s.sync_once_errno = errno;
                }
                _ => eprintln!("fault injection: ignoring control line {line:?}"),
            }
        }
        s.control = Some(text);
    }

    /// How many of `len` bytes may be written now; Err once the budget is spent.
    fn admit_write(&self, len: usize) -> (usize, Option<io::Error>) {
        let mut s = self.lock();
        let Some(budget) = s.write_budget else {
            return (len, None);
        };
        if (len as u64) <= budget {
            s.write_budget = Some(budget - len as u64);
            return (len, None);
        }
        s.write_budget = Some(0);
        s.injected_writes += 1;
        (
            budget as usize,
            Some(io::Error::from_raw_os_error(s.write_errno)),
        )
    }

    fn admit_sync(&self) -> Option<io::Error> {
        let mut s = self.lock();
        if let Some(errno) = s.all_syncs_errno {
            s.injected_syncs += 1;
            return Some(io::Error::from_raw_os_error(errno));
        }
        match s.sync_countdown {
            Some(0) => {
                s.sync_countdown = None;
                s.injected_syncs += 1;
                Some(io::Error::from_raw_os_error(s.sync_once_errno))
            }
            Some(k) => {
                s.sync_countdown = Some(k - 1);
                None
            }
            None => None,
        }
    }
}

/// A [`Flusher`] that performs a job through `inner` unless its [`FaultPlan`] says a
/// write or sync fails. Writes are done one at a time through `inner` (so a failure can
/// land between them), then the syncs one at a time.
pub struct FaultyFlusher {
    inner: Box<dyn Flusher>,
    plan: Arc<FaultPlan>,
}

impl FaultyFlusher {
    /// Wraps `inner`, failing what `plan` says.
    pub fn new(inner: Box<dyn Flusher>, plan: Arc<FaultPlan>) -> FaultyFlusher {
        FaultyFlusher { inner, plan }
    }
}

impl Flusher for FaultyFlusher {
    fn flush(&mut self, job: &FlushJob<'_>) -> io::Result<()> {
        self.plan.load_control_file();
        for w in job.writes {
            let (n, err) = self.plan.admit_write(w.data.len());
            if n > 0 {
                let part = [WriteOp {
                    fd: w.fd,
                    offset: w.offset,
                    data: &w.data[..n],
                }];
                self.inner.flush(&FlushJob {
                    writes: &part,
                    sync_fds: &[],
                })?;
            }
            if let Some(e) = err {
                return Err(e);
            }
        }
        for &fd in job.sync_fds {
            if let Some(e) = self.plan.admit_sync() {
                return Err(e);
            }
            let one: [RawFd; 1] = [fd];
            self.inner.flush(&FlushJob {
                writes: &[],
                sync_fds: &one,
            })?;
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "faulty"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flusher::PwriteFlusher;
    use std::os::fd::AsRawFd;

    #[test]
    fn write_budget_short_write_then_errors_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(true)
            .open(dir.path().join("x"))
            .unwrap();
        let plan = FaultPlan::new();
        let mut fl = FaultyFlusher::new(Box::new(PwriteFlusher), plan.clone());
        plan.fail_writes_after(10, libc::ENOSPC);
        let data = [7u8; 16];
        let w = [WriteOp {
            fd: f.as_raw_fd(),
            offset: 0,
            data: &data,
        }];
        let job = FlushJob {
            writes: &w,
            sync_fds: &[f.as_raw_fd()],
        };
        let e = fl.flush(&job).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(std::fs::metadata(dir.path().join("x")).unwrap().len(), 10);
        assert!(fl.flush(&job).is_err());
        assert_eq!(plan.counts().writes, 2);
        plan.clear();
        fl.flush(&job).unwrap();
        assert_eq!(std::fs::read(dir.path().join("x")).unwrap(), data);
    }

    #[test]
    fn kth_sync_fails_once() {
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(dir.path().join("x")).unwrap();
        let plan = FaultPlan::new();
        let mut fl = FaultyFlusher::new(Box::new(PwriteFlusher), plan.clone());
        plan.fail_sync(2, libc::EIO);
        let job = FlushJob {
            writes: &[],
            sync_fds: &[f.as_raw_fd()],
        };
        fl.flush(&job).unwrap();
        assert_eq!(fl.flush(&job).unwrap_err().raw_os_error(), Some(libc::EIO));
        fl.flush(&job).unwrap();
        assert_eq!(
            plan.counts(),
            FaultCounts {
                writes: 0,
                syncs: 1
            }
        );
    }

    #[test]
    fn control_file_directives() {
        let dir = tempfile::tempdir().unwrap();
        let ctl = dir.path().join("faults");
        let f = std::fs::File::create(dir.path().join("x")).unwrap();
        let plan = FaultPlan::from_control_file(&ctl);
        let mut fl = FaultyFlusher::new(Box::new(PwriteFlusher), plan.clone());
        let data = [1u8; 4];
        let w = [WriteOp {
            fd: f.as_raw_fd(),
            offset: 0,
            data: &data,
        }];
        let job = FlushJob {
            writes: &w,
            sync_fds: &[f.as_raw_fd()],
        };
        fl.flush(&job).unwrap();
        std::fs::write(&ctl, "write=enospc\n").unwrap();
        let e = fl.flush(&job).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        std::fs::write(&ctl, "sync-once=eio\n").unwrap();
        assert_eq!(fl.flush(&job).unwrap_err().raw_os_error(), Some(libc::EIO));
        fl.flush(&job).unwrap(); // once only, while the file is unchanged
        std::fs::write(&ctl, "").unwrap();
        fl.flush(&job).unwrap();
    }
}
