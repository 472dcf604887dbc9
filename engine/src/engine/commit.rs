//! Group commit over every partition of every queue: staged records go out in one
//! [`EngineFlush`] (written by the caller's thread or another), and are committed after;
//! index sync waves, compaction, and the recovery of partitions a failed flush left
//! unusable.
//!
//! Promises: a partition takes part in at most one flush at a time; a move is finished
//! only once its copy is committed; headers advance only when every partition's index was
//! synced by the same wave; a failed partition is reopened from its durable state, never
//! retried (see [`Engine::recover_failed`]).

use super::Engine;
use crate::error::Result;
use crate::flusher::Flusher;
use crate::partition::{Partition, PreparedFlush};

/// A group commit in progress: the prepared flushes of every partition with work. It owns
/// its buffers, so it can be written on another thread (it is `Send`).
pub struct EngineFlush {
    parts: Vec<(u64, u16, PreparedFlush)>,
    /// The flush carries an index sync wave: on success every header advances.
    index_wave: bool,
}

impl EngineFlush {
    /// Performs the I/O with `flusher`: one result per partition, in order.
    pub fn run(&self, flusher: &mut dyn Flusher) -> Vec<std::io::Result<()>> {
        self.parts
            .iter()
            .map(|(_, _, p)| {
                let mut ops = Vec::with_capacity(2);
                let job = p.job(&mut ops);
                flusher.flush(&job)
            })
            .collect()
    }

    /// Messages this flush carries (deletion markers not counted).
    pub fn messages(&self) -> usize {
        self.parts.iter().map(|p| p.2.messages()).sum()
    }

    /// Bytes of the batch buffers this flush writes.
    pub fn bytes(&self) -> usize {
        self.parts.iter().map(|p| p.2.bytes()).sum()
    }
}

impl Engine {
    /// Writes and syncs everything staged in every queue (group commit), then finishes
    /// dead-letter and redrive moves whose copies are now durable. Returns the number of
    /// messages committed.
    pub fn flush(&mut self) -> Result<usize> {
        let mut n = 0;
        // Twice when moves finished: the released source slots are synced at once, so a
        // moved message is never seen twice after a crash.
        for _ in 0..2 {
            let Some(f) = self.begin_flush() else {
                break;
            };
            let io = f.run(self.flusher.as_mut());
            let had_moves = !self.moves.is_empty();
            n += self.finish_flush(f, io)?;
            if !had_moves {
                break;
            }
        }
        Ok(n)
    }

    /// Takes out everything staged (and every index change awaiting sync) in every
    /// partition, for the caller to write on another thread or its own io_uring ring
    /// while it keeps staging: pipelined group commit. Hand the result to
    /// [`Engine::finish_flush`]. Returns None if nothing waits or a flush is still out.
    pub fn begin_flush(&mut self) -> Option<EngineFlush> {
        self.begin_flush_with_index(false)
    }

    /// [`Engine::begin_flush`] that also carries an index sync wave ([`Engine::sync_index`]
    /// done by the flusher instead of the caller): every index file with changes is synced
    /// with the logs, and when the flush succeeds the headers advance. Returns None if a
    /// flush is out anywhere (a wave must cover every partition).
    pub fn begin_flush_with_index(&mut self, index: bool) -> Option<EngineFlush> {
        if index
            && self.queues.values().any(|q| {
                q.partitions
                    .iter()
                    .any(super::super::partition::Partition::is_flushing)
            })
        {
            return None;
        }
        let mut parts = Vec::new();
        for q in self.queues.values_mut() {
            for p in &mut q.partitions {
                if let Some(f) = p.prepare_flush_with_index(index) {
                    parts.push((q.meta.id, p.number(), f));
                }
            }
        }
        if parts.is_empty() {
            return None;
        }
        self.staged_bytes = 0;
        // A failed partition takes no part: then no header may advance.
        let index_wave = index
            && !self.queues.values().any(|q| {
                q.partitions
                    .iter()
                    .any(super::super::partition::Partition::is_failed)
            });
        Some(EngineFlush { parts, index_wave })
    }

    /// Commits a flush taken with [`Engine::begin_flush`], given the result of
    /// [`EngineFlush::run`], and finishes moves whose copies it made durable. Returns the
    /// number of messages committed (acknowledge their senders now).
    pub fn finish_flush(&mut self, f: EngineFlush, io: Vec<std::io::Result<()>>) -> Result<usize> {
        let now = self.now_ms();
        let mut n = 0;
        let mut first_err = None;
        let index_wave = f.index_wave;
        for ((qid, pn, pf), res) in f.parts.into_iter().zip(io) {
            let Some(p) = self.partition_mut(qid, pn) else {
                continue;
            };
            match p.complete_flush(now, pf, res) {
                Ok(k) => n += k,
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        for q in std::mem::take(&mut self.parked) {
            let id = q.meta.id;
            drop(q);
            std::fs::remove_dir_all(self.dir.join("queues").join(id.to_string()))?;
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        if index_wave {
            // Phase two: every partition's index files were synced by this flush.
            for q in self.queues.values_mut() {
                for p in &mut q.partitions {
                    p.advance_headers();
                }
            }
        }
        if !self.moves.is_empty() {
            let moves = std::mem::take(&mut self.moves);
            let mut keep = Vec::new();
            for m in moves {
                let committed = self
                    .partition(m.dest_queue, m.dest_partition)
                    .is_some_and(|p| p.committed_seq > m.dest_seq);
                if !committed {
                    keep.push(m);
                    continue;
                }
                if let Some(src) = self.partition_mut(m.src_queue, m.src_partition) {
                    src.finish_move(m.src_seq);
                }
            }
            self.moves = keep;
        }
        Ok(n)
    }

    /// Whether a failed flush left some partition unusable (see
    /// [`Engine::recover_failed`]).
    pub fn has_failed_partitions(&self) -> bool {
        self.queues.values().any(|q| {
            q.partitions
                .iter()
                .any(super::super::partition::Partition::is_failed)
        })
    }

    /// Reopens every partition that a failed flush left unusable, from its durable state.
    ///
    /// Why reopen and not retry: after a failed fdatasync the kernel may have dropped the
    /// dirty pages or marked them clean (the "fsyncgate" behaviour of Linux), so a second
    /// fdatasync can succeed without the data ever reaching the disk. PostgreSQL (since
    /// 12, `data_sync_retry = off`) PANICs and replays its WAL; Kafka takes the log
    /// directory offline and recovers it on restart. Spool does the same per partition,
    /// without restarting the process: the records of the failed batch, which no sender
    /// was told were stored, are erased (`Partition::discard_uncommitted`), and the
    /// partition is opened again by crash recovery, exactly as after a restart. So:
    /// * nothing acknowledged is lost (acknowledged records were synced before);
    /// * nothing unacknowledged is assumed durable, and no later append follows bytes of
    ///   unknown durability;
    /// * as after a crash, messages whose receive was journaled stay in flight and their
    ///   receipt handles keep working (see `recovery.rs`); moves into or out
    ///   of it that had not committed are abandoned (the source message stays).
    ///
    /// A partition whose reopen fails (the disk is still full, the device still broken)
    /// stays failed and answers `Failed`/`OutOfSpace`; call again later. Returns how many
    /// partitions were reopened. Partitions with a flush out are left for the next call.
    pub fn recover_failed(&mut self) -> Result<usize> {
        let now = self.now_ms();
        let mut reopened = 0;
        let mut first_err = None;
        let failed: Vec<(String, usize)> = self
            .queues
            .iter()
            .flat_map(|(name, q)| {
                q.partitions
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.is_failed() && !p.is_flushing())
                    .map(move |(i, _)| (name.clone(), i))
            })
            .collect();
        for (name, i) in failed {
            let (qid, nparts) = {
                let q = &self.queues[&name];
                (q.meta.id, q.meta.partitions)
            };
            let cfg = self.partition_cfg(nparts);
            let q = self.queues.get_mut(&name).expect("listed");
            let dlq_exists = false; // refreshed below
            let params = q.params(dlq_exists);
            let old = &mut q.partitions[i];
            let dir = old.dir().to_path_buf();
            let number = old.number();
            let res = old.discard_uncommitted().and_then(|()| {
                Partition::open(qid, &dir, number, cfg, params, now).map(|(p, _)| p)
            });
            match res {
                Ok(p) => {
                    self.corrupt_retired += q.partitions[i].corrupt_records();
                    q.partitions[i] = p;
                    reopened += 1;
                    let (moves, keep): (Vec<_>, Vec<_>) =
                        std::mem::take(&mut self.moves).into_iter().partition(|m| {
                            (m.dest_queue, m.dest_partition) == (qid, number)
                                || (m.src_queue, m.src_partition) == (qid, number)
                        });
                    self.moves = keep;
                    for m in moves {
                        if (m.src_queue, m.src_partition) != (qid, number) {
                            if let Some(src) = self.partition_mut(m.src_queue, m.src_partition) {
                                src.abort_move(m.src_seq);
                            }
                        }
                    }
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if reopened > 0 {
            self.refresh_params();
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(reopened),
        }
    }

    /// Syncs every index and advances durable points, in two phases across all
    /// partitions (see `Partition::sync_index_files`).
    pub fn sync_index(&mut self) -> Result<()> {
        let mut all_synced = true;
        for q in self.queues.values_mut() {
            for p in &mut q.partitions {
                all_synced &= p.sync_index_files()?;
            }
        }
        // A partition with a flush out could not sync: then no header may advance, since
        // another partition's header could vouch for a move whose source is unsynced.
        if all_synced {
            for q in self.queues.values_mut() {
                for p in &mut q.partitions {
                    p.advance_headers();
                }
            }
        }
        Ok(())
    }

    /// One bounded compaction step on every partition; copies are flushed. Returns the
    /// number of partitions where the step did something (0 = nothing left to do now).
    pub fn compact(&mut self, budget: usize) -> Result<usize> {
        // Emptied segments go only once an index sync vouches for them (compaction.rs).
        self.sync_index()?;
        let worked = self.compact_staged(budget)?;
        self.flush()?;
        Ok(worked)
    }

    /// [`Engine::compact`] without the flush: copies stay staged for the caller's next
    /// (pipelined) group commit. Does nothing while a pipelined flush is out.
    pub fn compact_staged(&mut self, budget: usize) -> Result<usize> {
        let now = self.now_ms();
        let mut worked = 0;
        for q in self.queues.values_mut() {
            for p in &mut q.partitions {
                if p.compact_step(now, budget)? != crate::compaction::CompactionStep::Idle {
                    worked += 1;
                }
            }
        }
        Ok(worked)
    }
}
