//! Group-commit I/O: one batch of positioned writes followed by `fdatasync`.
//!
//! This module owns the syscall layer of a group commit. The caller gathers
//! everything a commit must make durable into a [`FlushJob`]; a [`Flusher`]
//! performs it synchronously, either with a plain `pwrite` loop
//! ([`PwriteFlusher`]) or by batching the whole job into an io_uring
//! submission ([`UringFlusher`]).
//!
//! Promises, for both implementations, when `flush` returns `Ok(())`:
//! * every byte of every write has been written at its offset, and writes
//!   were applied in job order (so overlapping writes resolve to the later
//!   one);
//! * only after all writes completed, every fd in `sync_fds` was
//!   `fdatasync`ed successfully.
//!
//! When `flush` returns `Err`, nothing is promised about which writes landed
//! and no fd should be assumed durable; the caller must treat the commit as
//! failed (after an fsync error the page cache state is unknowable, so the
//! engine should not simply retry and assume success).
//!
//! `flush` never returns while the kernel may still read a job's buffers.

use std::io;
use std::os::fd::RawFd;

use io_uring::{opcode, squeue, types, IoUring};

/// One positioned write: `data` goes to `fd` at byte `offset`.
#[derive(Debug, Clone, Copy)]
pub struct WriteOp<'a> {
    /// File written.
    pub fd: RawFd,
    /// Byte offset in the file.
    pub offset: u64,
    /// Bytes to write (page-aligned in memory and length for an O_DIRECT fd).
    pub data: &'a [u8],
}

/// Everything one group commit must make durable: the writes (in order),
/// then fdatasync of every fd in `sync_fds` (each listed once). `sync_fds`
/// includes the fds written to when durability is wanted; an empty
/// `sync_fds` means write only (durability mode none).
#[derive(Debug, Clone, Copy)]
pub struct FlushJob<'a> {
    /// The writes, in order.
    pub writes: &'a [WriteOp<'a>],
    /// Files to fdatasync after every write completed.
    pub sync_fds: &'a [RawFd],
}

/// Performs a [`FlushJob`] synchronously. See the module docs for the
/// guarantees every implementation gives.
///
/// `Send` so a flusher can be built on one thread and handed to the
/// dedicated commit thread.
pub trait Flusher: Send {
    /// Performs every write of `job`, then syncs its `sync_fds`; an error means nothing
    /// of the job may be taken as durable.
    fn flush(&mut self, job: &FlushJob<'_>) -> io::Result<()>;
    /// Short stable name for logs and metrics ("pwrite" / "uring").
    fn name(&self) -> &'static str;
}

/// Which [`Flusher`] implementation to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlusherKind {
    /// pwrite(2) and fdatasync(2), one call each.
    Pwrite,
    /// io_uring: the writes and syncs of a job as one chain of submissions.
    Uring,
}

/// Build the requested flusher. `Uring` fails (rather than silently falling
/// back) if io_uring is unavailable, so the operator's choice is honoured
/// or reported.
pub fn open_flusher(kind: FlusherKind) -> io::Result<Box<dyn Flusher>> {
    Ok(match kind {
        FlusherKind::Pwrite => Box::new(PwriteFlusher),
        FlusherKind::Uring => Box::new(UringFlusher::new()?),
    })
}

/// Largest single write handed to the kernel at once. Linux caps one
/// write at `MAX_RW_COUNT` (just under 2 GiB) anyway and io_uring lengths
/// are `u32`; 1 GiB chunks stay well inside both.
const MAX_CHUNK: usize = 1 << 30;

/// Reject jobs whose offsets do not fit in `off_t`. Checked up front so a
/// bad job fails before any byte is written, and so `offset as i64` below
/// is lossless. (For io_uring an offset of `u64::MAX` would also silently
/// mean "current file position".)
fn validate(job: &FlushJob<'_>) -> io::Result<()> {
    for w in job.writes {
        let fits = match w.offset.checked_add(w.data.len() as u64) {
            Some(end) => i64::try_from(end).is_ok(),
            None => false,
        };
        if !fits {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "write of {} bytes at offset {} exceeds the maximum file offset",
                    w.data.len(),
                    w.offset
                ),
            ));
        }
    }
    Ok(())
}

/// Write all of `data` at `offset`, retrying on `EINTR` and continuing
/// after short writes. Offsets are pre-validated by [`validate`].
fn pwrite_all(fd: RawFd, mut offset: u64, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let len = data.len().min(MAX_CHUNK);
        // SAFETY: `data` is a live slice and `len <= data.len()`, so the
        // kernel reads only initialised memory we borrow for the whole call.
        let n = unsafe { libc::pwrite(fd, data.as_ptr().cast(), len, offset as libc::off_t) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            // No progress and no error: retrying would spin forever.
            return Err(io::ErrorKind::WriteZero.into());
        }
        let n = n as usize;
        data = &data[n..];
        offset += n as u64;
    }
    Ok(())
}

/// `fdatasync(fd)`, retrying on `EINTR`.
fn fdatasync(fd: RawFd) -> io::Result<()> {
    loop {
        // SAFETY: fdatasync takes no pointers; an invalid fd yields EBADF.
        if unsafe { libc::fdatasync(fd) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Plain syscalls: each write with a `pwrite` loop, then `fdatasync` per
/// sync fd. The portable baseline and the reference for the io_uring flusher.
#[derive(Debug, Default, Clone, Copy)]
pub struct PwriteFlusher;

impl Flusher for PwriteFlusher {
    fn flush(&mut self, job: &FlushJob<'_>) -> io::Result<()> {
        validate(job)?;
        for w in job.writes {
            pwrite_all(w.fd, w.offset, w.data)?;
        }
        for &fd in job.sync_fds {
            fdatasync(fd)?;
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "pwrite"
    }
}

/// Submission queue size. A typical group commit (a few segment writes and
/// one or two syncs) fits in a single round; larger jobs take several.
const RING_ENTRIES: u32 = 64;

/// `IORING_ENTER_GETEVENTS` (not re-exported by the io-uring crate).
const ENTER_GETEVENTS: u32 = 1;

/// io_uring-backed flusher: a whole job is one linked chain of `Write`
/// SQEs followed by `Fsync(DATASYNC)` SQEs, submitted with one
/// `io_uring_enter` per ring-full ("round").
///
/// Ordering: within a round every SQE but the last carries `IO_LINK`, so
/// the kernel starts each only after the previous one completed
/// successfully — writes run in job order and fsyncs start only after the
/// round's writes. Rounds are separated by waiting for every completion, so
/// ordering also holds across rounds. If a link fails (short write or
/// error), the rest of the chain completes with `-ECANCELED`; we finish
/// short/cancelled work with plain `pwrite`/`fdatasync` in job order, and
/// report real errors.
pub struct UringFlusher {
    /// `None` only after an unrecoverable submission error discarded the
    /// ring (see [`UringFlusher::abandon_ring`]); rebuilt lazily.
    ring: Option<IoUring>,
}

impl std::fmt::Debug for UringFlusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringFlusher")
            .field("ring_live", &self.ring.is_some())
            .finish()
    }
}

/// One SQE's worth of work, borrowed from the job.
#[derive(Clone, Copy)]
enum Piece<'a> {
    Write {
        fd: RawFd,
        offset: u64,
        data: &'a [u8],
    },
    Sync {
        fd: RawFd,
    },
}

impl UringFlusher {
    /// Set up the ring. Fails with the kernel's error (e.g. `ENOSYS` on old
    /// kernels, `EPERM` when io_uring is disabled by sysctl or seccomp).
    pub fn new() -> io::Result<Self> {
        Ok(UringFlusher {
            ring: Some(IoUring::new(RING_ENTRIES)?),
        })
    }

    /// Split the job into SQE-sized pieces (writes cut to `chunk` bytes),
    /// in execution order.
    fn pieces<'a>(job: &FlushJob<'a>, chunk: usize) -> Vec<Piece<'a>> {
        let mut out = Vec::with_capacity(job.writes.len() + job.sync_fds.len());
        for w in job.writes {
            // Zero-length writes are no-ops; skipping them keeps the
            // "res < len means short" test below meaningful.
            let mut offset = w.offset;
            for data in w.data.chunks(chunk) {
                out.push(Piece::Write {
                    fd: w.fd,
                    offset,
                    data,
                });
                offset += data.len() as u64;
            }
        }
        out.extend(job.sync_fds.iter().map(|&fd| Piece::Sync { fd }));
        out
    }

    /// Submit one round (at most ring capacity pieces) as a single linked
    /// chain, wait for all of it, then finish or fail it in order.
    fn run_round(&mut self, round: &[Piece<'_>]) -> io::Result<()> {
        let ring = self.ring.as_mut().expect("ring present during flush");
        {
            let mut sq = ring.submission();
            for (i, p) in round.iter().enumerate() {
                let sqe = match *p {
                    Piece::Write { fd, offset, data } => {
                        // `data.len() <= MAX_CHUNK < u32::MAX` by construction.
                        opcode::Write::new(types::Fd(fd), data.as_ptr(), data.len() as u32)
                            .offset(offset)
                            .build()
                    }
                    Piece::Sync { fd } => opcode::Fsync::new(types::Fd(fd))
                        .flags(types::FsyncFlags::DATASYNC)
                        .build(),
                };
                let sqe = sqe.user_data(i as u64);
                let sqe = if i + 1 < round.len() {
                    sqe.flags(squeue::Flags::IO_LINK)
                } else {
                    sqe
                };
                // SAFETY: the SQE points at `data`, which is borrowed from
                // the caller's job for the whole of `flush`; `flush` does not
                // return until every submitted SQE has completed (we wait
                // for all completions below, and `abandon_ring` waits for
                // anything in flight on the error path), so the buffer
                // outlives the kernel's use of it. Fsync SQEs hold no
                // pointers.
                unsafe { sq.push(&sqe) }.map_err(|_| {
                    // Unreachable: rounds are at most the SQ capacity and
                    // the SQ is empty between rounds.
                    io::Error::other("io_uring submission queue unexpectedly full")
                })?;
            }
        }

        let mut results: Vec<Option<i32>> = vec![None; round.len()];
        let mut done = 0;
        while done < round.len() {
            if let Err(e) = ring.submit_and_wait(round.len() - done) {
                match e.raw_os_error() {
                    // Interrupted while waiting, or transient resource
                    // shortage / CQ backlog: drain what is there and retry.
                    // `submit_and_wait` only submits what is still unconsumed
                    // in the SQ, so retrying never double-submits.
                    Some(libc::EINTR | libc::EAGAIN | libc::EBUSY) => {
                        std::thread::yield_now();
                    }
                    _ => {
                        self.abandon_ring(round.len(), done);
                        return Err(e);
                    }
                }
            }
            for cqe in ring.completion() {
                let slot = results
                    .get_mut(cqe.user_data() as usize)
                    .expect("user_data is an index into this round");
                debug_assert!(slot.is_none(), "one completion per SQE");
                *slot = Some(cqe.result());
                done += 1;
            }
        }

        // Resolve in job order: after a short write or error, everything
        // later in the chain was cancelled, so redoing the remainder
        // sequentially preserves the write-then-sync ordering.
        for (p, res) in round.iter().zip(results) {
            let res = res.expect("all completions collected");
            match *p {
                Piece::Write { fd, offset, data } => {
                    if res == -libc::ECANCELED {
                        pwrite_all(fd, offset, data)?;
                    } else if res < 0 {
                        return Err(io::Error::from_raw_os_error(-res));
                    } else if (res as usize) < data.len() {
                        let n = res as usize;
                        pwrite_all(fd, offset + n as u64, &data[n..])?;
                    }
                }
                Piece::Sync { fd } => {
                    if res == -libc::ECANCELED {
                        fdatasync(fd)?;
                    } else if res < 0 {
                        return Err(io::Error::from_raw_os_error(-res));
                    }
                }
            }
        }
        Ok(())
    }

    /// Recover from a hard `io_uring_enter` failure mid-round.
    ///
    /// Two hazards: SQEs the kernel already consumed may still be reading
    /// the caller's buffers, and SQEs it did not consume are still in the
    /// SQ and would be submitted by the *next* flush, long after their
    /// buffers are gone. So: wait (submitting nothing) until everything
    /// consumed has completed, then drop the ring, discarding the
    /// unconsumed SQEs unseen. A fresh ring is built on the next flush.
    fn abandon_ring(&mut self, pushed: usize, completed: usize) {
        let Some(mut ring) = self.ring.take() else {
            return;
        };
        let unconsumed = ring.submission().len();
        let mut in_flight = pushed.saturating_sub(unconsumed).saturating_sub(completed);
        while in_flight > 0 {
            // SAFETY: `to_submit = 0`, so no further SQE is handed to the
            // kernel; we only wait for completions. No argument pointer.
            let r = unsafe {
                ring.submitter()
                    .enter::<libc::sigset_t>(0, in_flight as u32, ENTER_GETEVENTS, None)
            };
            if let Err(e) = r {
                if e.raw_os_error() != Some(libc::EINTR) {
                    // We can neither confirm the kernel is done with the
                    // caller's buffers nor keep them alive: returning could
                    // let the kernel write freed memory into the user's
                    // files. Stopping is the only safe option.
                    std::process::abort();
                }
            }
            in_flight = in_flight.saturating_sub(ring.completion().count());
        }
        drop(ring);
    }
}

impl Flusher for UringFlusher {
    fn flush(&mut self, job: &FlushJob<'_>) -> io::Result<()> {
        validate(job)?;
        if self.ring.is_none() {
            self.ring = Some(IoUring::new(RING_ENTRIES)?);
        }
        let cap = self
            .ring
            .as_mut()
            .expect("ring just ensured")
            .submission()
            .capacity();
        let pieces = Self::pieces(job, MAX_CHUNK);
        for round in pieces.chunks(cap) {
            self.run_round(round)?;
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "uring"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{File, OpenOptions};
    use std::os::fd::AsRawFd;

    /// Deterministic, position-dependent bytes so misplaced data shows up.
    fn pattern(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
            .collect()
    }

    fn open_rw(path: &std::path::Path) -> File {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .unwrap()
    }

    /// Apply `ops` to an in-memory model of the file, in order.
    fn model(ops: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut m = Vec::new();
        for (off, d) in ops {
            let end = *off as usize + d.len();
            if m.len() < end {
                m.resize(end, 0);
            }
            m[*off as usize..end].copy_from_slice(d);
        }
        m
    }

    /// Every flusher available on this machine. io_uring must work here
    /// unless explicitly unavailable, in which case we say so loudly.
    fn flushers() -> Vec<Box<dyn Flusher>> {
        let mut v: Vec<Box<dyn Flusher>> = vec![open_flusher(FlusherKind::Pwrite).unwrap()];
        match open_flusher(FlusherKind::Uring) {
            Ok(f) => v.push(f),
            Err(e) => eprintln!("SKIP uring flusher: io_uring unavailable: {e}"),
        }
        v
    }

    #[test]
    fn writes_land_at_offsets_across_two_files() {
        for mut f in flushers() {
            let dir = tempfile::tempdir().unwrap();
            let a = open_rw(&dir.path().join("a"));
            let b = open_rw(&dir.path().join("b"));
            let a_ops: Vec<(u64, Vec<u8>)> = vec![
                (0, pattern(1, 4096)),
                (4096, pattern(2, 100)),
                (10_000, pattern(3, 8 << 20)), // large, leaves a hole
                (50, pattern(4, 10)),          // overwrites earlier data
                (4100, pattern(5, 1)),
            ];
            let b_ops: Vec<(u64, Vec<u8>)> = vec![(7, pattern(6, 333)), (0, pattern(7, 3))];
            let mut writes = Vec::new();
            // Interleave files to check per-file ordering is kept.
            for i in 0..a_ops.len().max(b_ops.len()) {
                if let Some((o, d)) = a_ops.get(i) {
                    writes.push(WriteOp {
                        fd: a.as_raw_fd(),
                        offset: *o,
                        data: d,
                    });
                }
                if let Some((o, d)) = b_ops.get(i) {
                    writes.push(WriteOp {
                        fd: b.as_raw_fd(),
                        offset: *o,
                        data: d,
                    });
                }
            }
            let sync = [a.as_raw_fd(), b.as_raw_fd()];
            f.flush(&FlushJob {
                writes: &writes,
                sync_fds: &sync,
            })
            .unwrap();
            assert!(
                std::fs::read(dir.path().join("a")).unwrap() == model(&a_ops),
                "{}: file a mismatch",
                f.name()
            );
            assert!(
                std::fs::read(dir.path().join("b")).unwrap() == model(&b_ops),
                "{}: file b mismatch",
                f.name()
            );
        }
    }

    #[test]
    fn more_ops_than_ring_entries() {
        for mut f in flushers() {
            for sync in [true, false] {
                let dir = tempfile::tempdir().unwrap();
                let file = open_rw(&dir.path().join("seg"));
                let fd = file.as_raw_fd();
                // 3.5 rings' worth of small appends plus some overwrites,
                // so rounds split both mid-writes and right before fsync.
                let n = RING_ENTRIES as usize * 3 + RING_ENTRIES as usize / 2;
                let mut ops: Vec<(u64, Vec<u8>)> = (0..n)
                    .map(|i| (i as u64 * 37, pattern(i as u8, 37)))
                    .collect();
                for i in 0..20u64 {
                    ops.push((i * 500 + 3, pattern(200 + i as u8, 11)));
                }
                let writes: Vec<WriteOp<'_>> = ops
                    .iter()
                    .map(|(o, d)| WriteOp {
                        fd,
                        offset: *o,
                        data: d,
                    })
                    .collect();
                let sync_fds: &[RawFd] = if sync { &[fd] } else { &[] };
                f.flush(&FlushJob {
                    writes: &writes,
                    sync_fds,
                })
                .unwrap();
                assert!(
                    std::fs::read(dir.path().join("seg")).unwrap() == model(&ops),
                    "{} sync={sync}: mismatch",
                    f.name()
                );
            }
        }
    }

    #[test]
    fn exactly_ring_sized_jobs() {
        // Boundary: writes + syncs == capacity and == capacity + 1.
        for mut f in flushers() {
            for extra in [0usize, 1] {
                let dir = tempfile::tempdir().unwrap();
                let file = open_rw(&dir.path().join("seg"));
                let fd = file.as_raw_fd();
                let n = RING_ENTRIES as usize - 1 + extra;
                let ops: Vec<(u64, Vec<u8>)> = (0..n)
                    .map(|i| (i as u64 * 8, pattern(i as u8, 8)))
                    .collect();
                let writes: Vec<WriteOp<'_>> = ops
                    .iter()
                    .map(|(o, d)| WriteOp {
                        fd,
                        offset: *o,
                        data: d,
                    })
                    .collect();
                f.flush(&FlushJob {
                    writes: &writes,
                    sync_fds: &[fd],
                })
                .unwrap();
                assert!(std::fs::read(dir.path().join("seg")).unwrap() == model(&ops));
            }
        }
    }

    #[test]
    fn sync_only_and_empty_jobs() {
        for mut f in flushers() {
            let dir = tempfile::tempdir().unwrap();
            let a = open_rw(&dir.path().join("a"));
            let b = open_rw(&dir.path().join("b"));
            f.flush(&FlushJob {
                writes: &[],
                sync_fds: &[a.as_raw_fd(), b.as_raw_fd()],
            })
            .unwrap();
            f.flush(&FlushJob {
                writes: &[],
                sync_fds: &[],
            })
            .unwrap();
            // Zero-length writes are accepted no-ops.
            f.flush(&FlushJob {
                writes: &[WriteOp {
                    fd: a.as_raw_fd(),
                    offset: 5,
                    data: &[],
                }],
                sync_fds: &[a.as_raw_fd()],
            })
            .unwrap();
            assert_eq!(std::fs::metadata(dir.path().join("a")).unwrap().len(), 0);
        }
    }

    #[test]
    fn invalid_fd_is_an_error_and_flusher_stays_usable() {
        for mut f in flushers() {
            let dir = tempfile::tempdir().unwrap();
            let good = open_rw(&dir.path().join("good"));
            let data = pattern(9, 64);
            let bad_write = [WriteOp {
                fd: -1,
                offset: 0,
                data: &data,
            }];
            let e = f
                .flush(&FlushJob {
                    writes: &bad_write,
                    sync_fds: &[],
                })
                .unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{}", f.name());

            // A bad write in the middle of a chain fails the job.
            let mixed = [
                WriteOp {
                    fd: good.as_raw_fd(),
                    offset: 0,
                    data: &data,
                },
                WriteOp {
                    fd: -1,
                    offset: 0,
                    data: &data,
                },
                WriteOp {
                    fd: good.as_raw_fd(),
                    offset: 64,
                    data: &data,
                },
            ];
            let e = f
                .flush(&FlushJob {
                    writes: &mixed,
                    sync_fds: &[good.as_raw_fd()],
                })
                .unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{}", f.name());

            let e = f
                .flush(&FlushJob {
                    writes: &[],
                    sync_fds: &[-1],
                })
                .unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{}", f.name());

            // Read-only fd: EBADF from the write itself.
            let ro = File::open(dir.path().join("good")).unwrap();
            let ro_write = [WriteOp {
                fd: ro.as_raw_fd(),
                offset: 0,
                data: &data,
            }];
            assert!(f
                .flush(&FlushJob {
                    writes: &ro_write,
                    sync_fds: &[],
                })
                .is_err());

            // The flusher still works after errors.
            let ok = [WriteOp {
                fd: good.as_raw_fd(),
                offset: 0,
                data: &data,
            }];
            f.flush(&FlushJob {
                writes: &ok,
                sync_fds: &[good.as_raw_fd()],
            })
            .unwrap();
            assert_eq!(std::fs::read(dir.path().join("good")).unwrap(), data);
        }
    }

    #[test]
    fn out_of_range_offset_is_rejected_before_writing() {
        for mut f in flushers() {
            let dir = tempfile::tempdir().unwrap();
            let file = open_rw(&dir.path().join("x"));
            let ops = [
                WriteOp {
                    fd: file.as_raw_fd(),
                    offset: 0,
                    data: b"first",
                },
                WriteOp {
                    fd: file.as_raw_fd(),
                    offset: u64::MAX,
                    data: b"x",
                },
            ];
            let e = f
                .flush(&FlushJob {
                    writes: &ops,
                    sync_fds: &[],
                })
                .unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            assert_eq!(std::fs::metadata(dir.path().join("x")).unwrap().len(), 0);
        }
    }

    #[test]
    fn kinds_and_names() {
        fn assert_send<T: Send>() {}
        assert_eq!(open_flusher(FlusherKind::Pwrite).unwrap().name(), "pwrite");
        match UringFlusher::new() {
            Ok(u) => assert_eq!(u.name(), "uring"),
            Err(e) => eprintln!("SKIP uring flusher: io_uring unavailable: {e}"),
        }
        assert_send::<UringFlusher>();
        assert_send::<Box<dyn Flusher>>();
    }

    #[test]
    fn chunking_splits_large_writes() {
        let big = [0u8; 21];
        let w = [WriteOp {
            fd: 3,
            offset: 10,
            data: &big,
        }];
        let p = UringFlusher::pieces(
            &FlushJob {
                writes: &w,
                sync_fds: &[3],
            },
            8,
        );
        let shapes: Vec<(u64, usize)> = p
            .iter()
            .filter_map(|p| match *p {
                Piece::Write { offset, data, .. } => Some((offset, data.len())),
                Piece::Sync { .. } => None,
            })
            .collect();
        assert_eq!(shapes, [(10, 8), (18, 8), (26, 5)]);
        assert!(matches!(p.last(), Some(Piece::Sync { fd: 3 })));
    }
}
