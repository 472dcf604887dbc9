//! The way into the shards for the gateway's own tasks (the admin endpoint, message move
//! tasks), which run on the gateway's runtime thread: each call is queued for its shard
//! ([`crate::shared::GatewayCalls`]), the shard's doorbell rings, and the shard takes it on
//! its next loop turn and routes it exactly as it routes an SQS connection's call (shard
//! routing → engine → reply), the reply coming back over a oneshot channel. No socket and
//! no encoding on the way.
//!
//! Calls are spread round-robin over the shards (a standard queue's sends land on every
//! shard's partition; receives, deletes and FIFO sends are routed by the shard that takes
//! them, as for any client).
//!
//! Promises: every call ends, with the shard's reply or with [`UpstreamError`] (the shard
//! has stopped, e.g. at shutdown); at most [`MAX_IN_FLIGHT`] calls are out per shard (more
//! wait their turn), which bounds what the queues and the shards hold for the gateway.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use spool_protocol::{Request, Response};
use tokio::sync::{oneshot, Semaphore};

use crate::shared::{GatewayCall, Shared};

/// Calls out at once per shard.
pub const MAX_IN_FLIGHT: usize = 4096;

/// Why a call into the shards got no reply.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The shard went away before it answered: it dropped the call (for an SQS request on
    /// a shard's thread, or a gateway call queued for it). That happens only when the
    /// daemon shuts down.
    #[error("the shard stopped before it answered (the daemon is shutting down)")]
    Closed,
}

/// The gateway's calls into every shard.
pub struct Upstream {
    shared: Arc<Shared>,
    /// Per shard: calls that may still go out.
    permits: Vec<Semaphore>,
    rr: AtomicUsize,
}

impl Upstream {
    /// Calls into the shards of `shared` (one call queue per shard).
    pub fn new(shared: Arc<Shared>) -> Upstream {
        let permits = (0..shared.calls.len())
            .map(|_| Semaphore::new(MAX_IN_FLIGHT))
            .collect();
        Upstream {
            shared,
            permits,
            rr: AtomicUsize::new(0),
        }
    }

    /// Shards reachable.
    pub fn shards(&self) -> usize {
        self.shared.calls.len()
    }

    /// Sends `req` through the next shard in turn and waits for its reply.
    pub async fn call(&self, req: &Request<'_>) -> Result<Response<'static>, UpstreamError> {
        let i = self.rr.fetch_add(1, Ordering::Relaxed) % self.shards();
        self.call_on(i, req).await
    }

    /// Sends `req` to shard `i`.
    pub async fn call_on(
        &self,
        i: usize,
        req: &Request<'_>,
    ) -> Result<Response<'static>, UpstreamError> {
        let (Some(permits), Some(calls)) = (self.permits.get(i), self.shared.calls.get(i)) else {
            return Err(UpstreamError::Closed);
        };
        let _permit = permits.acquire().await.map_err(|_| UpstreamError::Closed)?;
        let (reply, wait) = oneshot::channel();
        let call = GatewayCall {
            req: req.clone().into_owned(),
            reply,
        };
        if calls.push(call).is_err() {
            return Err(UpstreamError::Closed);
        }
        if let Some(bell) = self.shared.bells.get(i) {
            let _ = bell.notify();
        }
        wait.await.map_err(|_| UpstreamError::Closed)
    }
}
