//! What every shard, the SQS gateway and the daemon's control thread share: the shards'
//! doorbells, the metrics, the shutdown flag and drain count, the connection counters, and
//! the gateway once it is up.
//!
//! A neutral home so that neither the shard nor the gateway imports the other to reach it.
//! Promises: every field is safe to read from any thread; [`Shared::request_shutdown`]
//! wakes every shard.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::eventfd::EventFd;

/// State shared by every shard (and the daemon's control thread).
pub struct Shared {
    pub bells: Vec<Arc<EventFd>>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub shutdown: AtomicBool,
    pub drained: AtomicUsize,
    pub connections: AtomicUsize,
    /// SQS HTTP connections open, on every shard.
    pub http_connections: AtomicUsize,
    /// The gateway's shared state, once its thread is up (None when neither the SQS API
    /// nor the admin endpoint is on, and again after it stopped).
    pub gateway: std::sync::Mutex<Option<Arc<crate::sqs::Gateway>>>,
}

impl Shared {
    /// Asks every shard to shut down gracefully.
    pub fn request_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for b in &self.bells {
            let _ = b.notify();
        }
    }

    /// The gateway's shared state, if it is up.
    pub fn gateway(&self) -> Option<Arc<crate::sqs::Gateway>> {
        self.gateway
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
