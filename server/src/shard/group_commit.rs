//! Group commit: replies that acknowledge writes wait for the commit that makes them
//! durable, and one commit (on the companion thread, [`crate::commit`]) covers everything
//! staged since the last one started. Commits are pipelined: the next one stages while
//! one is out.
//!
//! Owns [`GroupCommit`]. Promises: in `sync` durability a reply that acknowledges a write
//! (a receive's too: it changes durable receive state) leaves only after its commit
//! finished; a failed commit turns those replies (and those
//! staged meanwhile) into errors, never successes; a reply is in at most one of
//! `after_flush` / `in_flush`, and moves from the first to the second only when a commit
//! starts with nothing out.

use std::collections::HashSet;

use spool_protocol::Response;

use super::{ReplyTo, Shard};
use crate::commit::Committer;
use crate::config::Durability;

/// In `batch` durability, a flush starts before its interval ends once this many body
/// bytes are staged (a bound on the memory staged sends hold between flushes). At 32 MiB,
/// batch buffers grew to 64 MiB of capacity and every partition's pool, retained batch and
/// staging buffer kept that much: 440–610 MiB of heap for one queue fed at ~400 MB/s;
/// at 8 MiB (with the pool's cap, `partition.rs`) 180–280 MiB, at the same throughput
/// within this VM's noise (`docs/benchmarks.md`, the batch-mode memory probe).
const BATCH_FLUSH_BYTES: usize = 8 << 20;
/// Index headers are synced this often.
const SYNC_INDEX_MS: u64 = 1_000;

/// The group commits of one shard.
pub(super) struct GroupCommit {
    committer: Committer,
    /// Replies waiting for the next group commit to start and finish.
    after_flush: Vec<(ReplyTo, Response<'static>)>,
    /// Replies waiting for the group commit that is out.
    in_flush: Vec<(ReplyTo, Response<'static>)>,
    /// Queues with sends staged since the last commit started / in the commit out.
    pub(super) dirty: HashSet<String>,
    flushing_dirty: HashSet<String>,
    pub(super) last_flush_ms: u64,
    pub(super) last_sync_ms: u64,
}

impl GroupCommit {
    pub(super) fn new(committer: Committer, now_ms: u64) -> GroupCommit {
        GroupCommit {
            committer,
            after_flush: Vec::new(),
            in_flush: Vec::new(),
            dirty: HashSet::new(),
            flushing_dirty: HashSet::new(),
            last_flush_ms: now_ms,
            last_sync_ms: now_ms,
        }
    }

    /// A commit is out on the companion thread.
    pub(super) fn busy(&self) -> bool {
        self.committer.busy()
    }

    /// Sends or replies wait for the next commit (in `batch` durability, its timer runs).
    pub(super) fn has_staged(&self) -> bool {
        !self.dirty.is_empty() || !self.after_flush.is_empty()
    }

    /// Nothing waits for a commit and none is out.
    pub(super) fn is_idle(&self) -> bool {
        self.after_flush.is_empty() && self.in_flush.is_empty() && !self.committer.busy()
    }
}

impl Shard {
    /// Replies now, or after the next group commit if the reply acknowledges a write.
    pub(super) fn complete_local(
        &mut self,
        to: ReplyTo,
        resp: Response<'static>,
        needs_flush: bool,
    ) {
        if needs_flush && self.cfg.durability == Durability::Sync {
            self.commit.after_flush.push((to, resp));
        } else {
            self.deliver(to, resp);
        }
    }

    /// Answers a receive run on this shard's engine: one that received something waits,
    /// in `sync` durability, for the commit that journals its receive state (the receipt
    /// handles it carries then outlive a crash), as a delete's reply does.
    pub(super) fn deliver_received(&mut self, to: ReplyTo, resp: Response<'static>) {
        let journaled = super::is_nonempty_receive(&resp);
        self.complete_local(to, resp, journaled);
    }

    /// Starts the next group commit, if none is out and (in `batch` durability) its time
    /// has come, with everything staged meanwhile.
    pub(super) fn maybe_flush(&mut self) {
        if self.commit.busy() {
            return;
        }
        let now = self.now();
        // Index files are synced by the commit thread as part of a group commit, once a
        // second: never inline, where writing back a second of dirty index pages would
        // stall every connection of the shard.
        let index_wave = now >= self.commit.last_sync_ms + SYNC_INDEX_MS;
        if let Durability::Batch(d) = self.cfg.durability {
            // Flush on the timer, or early once enough is staged: producers that outrun
            // the interval must not pile up unbounded staged data in memory.
            if now < self.commit.last_flush_ms + d.as_millis() as u64
                && !self.life.is_stopping()
                && !index_wave
                && self.engine.staged_bytes() < BATCH_FLUSH_BYTES
            {
                return;
            }
        }
        if index_wave {
            self.commit.last_sync_ms = now;
        }
        match self.engine.begin_flush_with_index(index_wave) {
            Some(f) => {
                let c = &mut self.commit;
                // Nothing staged twice: what the last commit covered has been released.
                debug_assert!(c.in_flush.is_empty(), "replies of a finished commit left");
                debug_assert!(
                    c.flushing_dirty.is_empty(),
                    "queues of a finished commit left"
                );
                c.in_flush = std::mem::take(&mut c.after_flush);
                c.flushing_dirty = std::mem::take(&mut c.dirty);
                c.committer.submit(f);
                c.last_flush_ms = self.engine.now_ms();
            }
            None => {
                // Nothing staged: whatever these replies acknowledge is durable already.
                for (to, resp) in std::mem::take(&mut self.commit.after_flush) {
                    self.deliver(to, resp);
                }
                let dirty = std::mem::take(&mut self.commit.dirty);
                self.polls.wake.extend(dirty);
            }
        }
    }

    /// Finishes a group commit that came back: releases its replies, or fails them.
    pub(super) fn complete_flush(&mut self) {
        let Some((f, io)) = self.commit.committer.try_done() else {
            return;
        };
        let replies = std::mem::take(&mut self.commit.in_flush);
        match self.engine.finish_flush(f, io) {
            Ok(_) => {
                for (to, resp) in replies {
                    self.deliver(to, resp);
                }
            }
            Err(e) => {
                tracing::error!(shard = self.id, "group commit failed: {e}");
                let msg = format!("the write could not be made durable: {e}");
                // OutOfSpace or StorageError (errors.rs): never a success.
                let code = crate::errors::code(&e);
                // Writes staged while this commit was out may sit in the partition that
                // just failed, which will never commit them: fail their replies too (a
                // client retry may duplicate a write that does commit elsewhere, which
                // at-least-once allows; acknowledging a lost write it does not).
                let staged = std::mem::take(&mut self.commit.after_flush);
                for (to, resp) in replies.into_iter().chain(staged) {
                    let resp = match resp {
                        // Only replies that acknowledge writes wait for a commit.
                        Response::Error(e) => Response::Error(e),
                        _ => Response::error(code, msg.clone()),
                    };
                    self.deliver(to, resp);
                }
            }
        }
        let flushed = std::mem::take(&mut self.commit.flushing_dirty);
        self.polls.wake.extend(flushed);
    }
}
