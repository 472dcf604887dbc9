//! Background work on the loop's own tick: engine timers (visibility, delays), retried
//! accepts, expiring long polls and watches, compaction steps, and reopening partitions
//! that a failed group commit left failed.
//!
//! Owns [`Timers`]: when each kind of background work last ran or runs next. Promises: a
//! wall clock that steps back restarts the timers from now instead of stalling them;
//! compaction and recovery never run while a group commit is out.

use std::sync::atomic::Ordering;

use super::{Shard, TICK_MS};

/// A partition failed by an I/O error is reopened at the next tick; if that fails (the
/// disk is still full), again after this long.
const RECOVER_RETRY_MS: u64 = 250;
/// Compaction is retried this often when it had nothing to do.
const COMPACT_IDLE_MS: u64 = 500;
/// Units of work per compaction step.
const COMPACT_BUDGET: usize = 256;

/// When background work last ran or runs next (engine clock, ms).
// Each name carries its unit, as everywhere in the house.
#[allow(clippy::struct_field_names)]
pub(super) struct Timers {
    pub(super) last_tick_ms: u64,
    next_compact_ms: u64,
    /// When to try reopening partitions that a failed group commit left failed.
    next_recover_ms: u64,
}

impl Timers {
    pub(super) fn new(now_ms: u64) -> Timers {
        Timers {
            last_tick_ms: now_ms,
            next_compact_ms: now_ms,
            next_recover_ms: now_ms,
        }
    }
}

impl Shard {
    pub(super) fn background(&mut self) {
        let now = self.now();
        // The wall clock stepped back: restart the loop's timers from now rather than
        // waiting for the clock to catch up.
        let t = &mut self.timers;
        let c = &mut self.commit;
        if now < t.last_tick_ms || now < c.last_sync_ms || now < c.last_flush_ms {
            t.last_tick_ms = now.min(t.last_tick_ms);
            c.last_sync_ms = now.min(c.last_sync_ms);
            c.last_flush_ms = now.min(c.last_flush_ms);
            t.next_compact_ms = now.min(t.next_compact_ms);
            t.next_recover_ms = now.min(t.next_recover_ms);
        }
        if now >= self.timers.last_tick_ms + TICK_MS {
            self.timers.last_tick_ms = now;
            self.tick(now);
        }
        if !self.commit.busy() && now >= self.timers.next_recover_ms {
            self.recover_step(now);
        }
        if !self.commit.busy() && now >= self.timers.next_compact_ms {
            match self.engine.compact_staged(COMPACT_BUDGET) {
                Ok(0) => self.timers.next_compact_ms = now + COMPACT_IDLE_MS,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(shard = self.id, "compaction step failed: {e}");
                    self.timers.next_compact_ms = now + COMPACT_IDLE_MS;
                }
            }
        }
    }

    /// The loop's tick: retried accepts, run-out watches, engine timers, long polls.
    fn tick(&mut self, now: u64) {
        if std::mem::take(&mut self.http.accept_retry) {
            self.accept_sqs();
        }
        if std::mem::take(&mut self.conns.accept_retry) {
            self.accept();
        }
        // Watches this shard holds elsewhere that have run out.
        self.polls
            .watch_sent
            .retain(|_, until| until.iter().any(|&u| u > now));
        self.engine.tick();
        if let Some(c) = self.shared.metrics.corrupt_records.get(self.id as usize) {
            c.store(self.engine.corrupt_records(), Ordering::Relaxed);
        }
        self.report_dead_letter_queue_missing(now);
        // Timers may have made messages visible for long polls and watches.
        self.polls.wake_all();
        self.expire_parked(now);
    }

    /// Counts, and warns of (rate-limited), messages past maxReceiveCount delivered
    /// because their dead-letter queue does not exist: SQS keeps delivering them, and so
    /// does Spool, but not in silence.
    fn report_dead_letter_queue_missing(&mut self, now: u64) {
        for (queue, n) in self.engine.take_dead_letter_queue_missing() {
            let metrics = &self.shared.metrics;
            if let Some(since) = metrics.dead_letter_queue_missing(&queue, n, now) {
                tracing::warn!(
                    shard = self.id,
                    queue = %queue,
                    receives = since,
                    "messages past maxReceiveCount were delivered again: the queue's \
                     dead-letter queue (RedrivePolicy deadLetterTargetArn) does not exist"
                );
            }
        }
    }

    /// Reopens partitions a failed group commit left failed, from the durable state (see
    /// `Engine::recover_failed`): never a retried fdatasync that would call unknown data
    /// durable.
    fn recover_step(&mut self, now: u64) {
        if !self.engine.has_failed_partitions() {
            return;
        }
        match self.engine.recover_failed() {
            Ok(n) => tracing::warn!(
                shard = self.id,
                "reopened {n} partition(s) after a failed group commit"
            ),
            Err(e) => {
                tracing::warn!(shard = self.id, "reopening failed partitions: {e}");
                self.timers.next_recover_ms = now + RECOVER_RETRY_MS;
            }
        }
    }
}
