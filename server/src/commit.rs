//! A shard's group-commit I/O: one companion thread that performs the shard's
//! [`EngineFlush`]es (writes, then fdatasync, through the engine's io_uring or pwrite
//! flusher) while the shard keeps serving requests, and rings the shard's eventfd when one
//! is done.
//!
//! Promises: at most one flush is out at a time (the engine allows no more); a flush
//! handed in always comes back, with the I/O result of each of its partitions; the thread
//! exits when the shard drops its [`Committer`]. The thread does no engine work: it only
//! moves bytes to disk, so the engine stays single-threaded.
//!
//! Why a thread and not the shard's own io_uring: fdatasync blocks in the kernel for
//! 130–250 µs on these machines; done inline it would stall every connection of the shard
//! for that long per commit. The companion sleeps in the kernel instead, and the shard
//! pipelines the next batch meanwhile.

use std::sync::mpsc;
use std::sync::Arc;

use spool_engine::{EngineFlush, Flusher};

use crate::eventfd::EventFd;
use crate::metrics::Metrics;

/// A finished flush: give both halves to `Engine::finish_flush`.
pub type Done = (EngineFlush, Vec<std::io::Result<()>>);

pub struct Committer {
    tx: Option<mpsc::Sender<EngineFlush>>,
    rx: mpsc::Receiver<Done>,
    thread: Option<std::thread::JoinHandle<()>>,
    busy: bool,
    /// A flush done on the shard's thread because the companion was gone.
    inline: Option<Done>,
}

impl Committer {
    /// Starts the companion thread of shard `shard`, flushing with `flusher` and ringing
    /// `bell` after each flush.
    pub fn start(
        shard: u16,
        mut flusher: Box<dyn Flusher>,
        bell: Arc<EventFd>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Committer> {
        let (tx, jobs) = mpsc::channel::<EngineFlush>();
        let (done, rx) = mpsc::channel::<Done>();
        let thread = std::thread::Builder::new()
            .name(format!("spool-commit-{shard}"))
            .spawn(move || {
                for f in jobs {
                    let start = std::time::Instant::now();
                    let io = f.run(flusher.as_mut());
                    if let Some(t) = metrics.commits.get(shard as usize) {
                        t.record(start.elapsed().as_micros() as u64);
                    }
                    if done.send((f, io)).is_err() {
                        break;
                    }
                    // A failed notify cannot be reported anywhere useful; the shard also
                    // polls `try_done` on its timer, so the flush is not stranded.
                    let _ = bell.notify();
                }
            })?;
        Ok(Committer {
            tx: Some(tx),
            rx,
            thread: Some(thread),
            busy: false,
            inline: None,
        })
    }

    /// Whether a flush is out.
    pub fn busy(&self) -> bool {
        self.busy
    }

    /// Hands a flush to the thread. The caller must not submit while [`busy`](Self::busy).
    pub fn submit(&mut self, f: EngineFlush) {
        debug_assert!(!self.busy, "one flush at a time");
        let tx = self.tx.as_ref().expect("committer running");
        if let Err(mpsc::SendError(f)) = tx.send(f) {
            // The thread died (it only exits when we drop the sender): do the I/O here so
            // the flush is not lost. Unreachable unless the flusher panicked.
            tracing::error!("commit thread is gone; flushing inline");
            let mut fl = spool_engine::PwriteFlusher;
            let io = f.run(&mut fl);
            self.inline = Some((f, io));
        }
        self.busy = true;
    }

    /// The finished flush, if it is back.
    pub fn try_done(&mut self) -> Option<Done> {
        if !self.busy {
            return None;
        }
        let got = self.inline.take().or_else(|| self.rx.try_recv().ok());
        if got.is_some() {
            self.busy = false;
        }
        got
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
