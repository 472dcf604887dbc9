//! Graceful shutdown: stop accepting, answer parked long polls (empty), finish what is in
//! flight (bounded by a grace period), wait until every shard is drained, then commit,
//! sync the index and close every connection.
//!
//! Owns [`Lifecycle`]. Promises: once stopping, no new request is taken (binary
//! connections stop taking frames, SQS calls get ShuttingDown); a shard reports itself
//! drained once, and exits only when every shard has (a shard may still be asked to apply
//! or answer on another's behalf until then).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{empty_received, Shard, ShardError};

/// How long shutdown waits for in-flight work before it gives up on it.
const SHUTDOWN_GRACE_MS: u64 = 10_000;

/// Where a shard is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lifecycle {
    Running,
    /// Finishing in-flight work until `deadline_ms` at the latest; `drained` once this
    /// shard has told the others it is done.
    Stopping {
        deadline_ms: u64,
        drained: bool,
    },
}

impl Lifecycle {
    pub(super) fn is_stopping(&self) -> bool {
        matches!(self, Lifecycle::Stopping { .. })
    }
}

impl Shard {
    pub(super) fn begin_stop(&mut self) {
        debug_assert_eq!(self.life, Lifecycle::Running, "shutdown begun twice");
        self.life = Lifecycle::Stopping {
            deadline_ms: self.now() + SHUTDOWN_GRACE_MS,
            drained: false,
        };
        if let Some(mut l) = self.conns.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        if let Some(mut l) = self.http.listener.take() {
            let _ = self.poll.registry().deregister(&mut l);
        }
        for to in self.polls.take_all() {
            self.deliver(to, empty_received());
        }
        tracing::info!(
            shard = self.id,
            "shutting down: finishing in-flight requests"
        );
    }

    /// Whether every shard is done and this one may exit.
    pub(super) fn stop_step(&mut self) -> bool {
        let Lifecycle::Stopping {
            deadline_ms,
            drained,
        } = self.life
        else {
            debug_assert!(false, "stop_step while running");
            return false;
        };
        let quiet = self.ops.is_empty()
            && self.router.remote.is_empty()
            && self.commit.is_idle()
            && self.mail.overflow_len == 0
            && self.http.host.as_ref().is_none_or(|h| !h.waiting())
            && self
                .conns
                .iter()
                .all(|c| c.pending_out() == 0 || c.is_closing());
        if (quiet || self.now() >= deadline_ms) && !drained {
            self.life = Lifecycle::Stopping {
                deadline_ms,
                drained: true,
            };
            self.shared.drained.fetch_add(1, Ordering::SeqCst);
            for b in &self.shared.bells {
                let _ = b.notify();
            }
        }
        let drained = matches!(self.life, Lifecycle::Stopping { drained: true, .. });
        drained && self.shared.drained.load(Ordering::SeqCst) >= self.n as usize
    }

    pub(super) fn finish_stop(mut self) -> Result<(), ShardError> {
        while self.commit.busy() {
            self.complete_flush();
            std::thread::sleep(Duration::from_millis(1));
        }
        let flushed = self.engine.flush();
        let synced = self.engine.sync_index();
        for slot in 0..self.conns.slot_count() {
            self.close_conn(slot);
        }
        if let Some(h) = self.http.host.as_mut() {
            let n = h.close_all(self.poll.registry());
            self.shared.http_connections.fetch_sub(n, Ordering::SeqCst);
        }
        self.close_gateway_calls();
        let shard = self.id;
        flushed.map_err(|source| ShardError::FinalFlush { shard, source })?;
        synced.map_err(|source| ShardError::FinalIndexSync { shard, source })?;
        tracing::info!(shard = self.id, "stopped");
        Ok(())
    }
}
