//! What every shard, the SQS gateway and the daemon's control thread share: the shards'
//! doorbells, the metrics, the shutdown flag and drain count, the connection counters, the
//! gateway once it is up, and each shard's queue of calls from the gateway's own tasks
//! ([`GatewayCalls`]: the admin endpoint and move tasks).
//!
//! A neutral home so that neither the shard nor the gateway imports the other to reach it.
//! Promises: every field is safe to read from any thread; [`Shared::request_shutdown`]
//! wakes every shard.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use spool_protocol::{Request, Response};
use tokio::sync::oneshot;

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
    /// Per shard: calls from the gateway's own tasks (admin endpoint, move tasks).
    pub calls: Vec<GatewayCalls>,
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
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// One call from a task of the gateway's runtime: the request, and where its reply goes.
pub struct GatewayCall {
    pub req: Request<'static>,
    pub reply: oneshot::Sender<Response<'static>>,
}

/// The calls the gateway's own tasks (admin endpoint, move tasks) hand to one shard, which
/// takes them each loop turn and routes them as it routes an SQS connection's calls.
///
/// Promises: a call is taken by the shard at most once; once the shard has stopped
/// ([`GatewayCalls::close`]) no call is accepted and every call still queued is dropped,
/// so its caller sees the reply channel close instead of waiting forever.
#[derive(Default)]
pub struct GatewayCalls {
    queue: Mutex<CallQueue>,
    /// Set after a push, cleared by the shard's take: the shard locks only when it is set.
    pending: AtomicBool,
}

#[derive(Default)]
struct CallQueue {
    calls: Vec<GatewayCall>,
    closed: bool,
}

impl GatewayCalls {
    /// One queue per shard.
    pub fn per_shard(shards: usize) -> Vec<GatewayCalls> {
        (0..shards).map(|_| GatewayCalls::default()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CallQueue> {
        // A panic while holding this lock leaves a list of calls behind: still valid.
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a call; the caller then rings the shard's doorbell. Gives the call back if
    /// the shard has stopped.
    pub fn push(&self, call: GatewayCall) -> Result<(), GatewayCall> {
        let mut q = self.lock();
        if q.closed {
            return Err(call);
        }
        q.calls.push(call);
        drop(q);
        self.pending.store(true, Ordering::Release);
        Ok(())
    }

    /// Whether calls wait (the shard's loop then does not sleep).
    pub fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Takes the calls queued so far (the shard, once per turn).
    pub fn take(&self) -> Vec<GatewayCall> {
        // A plain load first: the shard asks every turn, the gateway rarely has calls.
        if !self.pending.load(Ordering::Acquire) || !self.pending.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        std::mem::take(&mut self.lock().calls)
    }

    /// Refuses calls from now on and drops those still queued (the shard has stopped).
    pub fn close(&self) {
        let mut q = self.lock();
        q.closed = true;
        q.calls.clear();
    }
}

/// Closes one shard's [`GatewayCalls`] when dropped. The shard's thread holds it for its
/// whole life, so the queue closes however the thread ends (a clean stop, a failed start,
/// a failed loop, a panic) and the gateway's calls to that shard fail at once instead of
/// waiting forever for a shard that is gone.
pub struct CloseCallsOnExit {
    shared: Arc<Shared>,
    shard: usize,
}

impl CloseCallsOnExit {
    /// A guard for shard `shard`'s call queue.
    pub fn new(shared: Arc<Shared>, shard: usize) -> CloseCallsOnExit {
        debug_assert!(
            shard < shared.calls.len(),
            "no call queue for shard {shard}"
        );
        CloseCallsOnExit { shared, shard }
    }
}

impl Drop for CloseCallsOnExit {
    fn drop(&mut self) {
        if let Some(q) = self.shared.calls.get(self.shard) {
            q.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> (GatewayCall, oneshot::Receiver<Response<'static>>) {
        let (reply, wait) = oneshot::channel();
        (
            GatewayCall {
                req: Request::Ping,
                reply,
            },
            wait,
        )
    }

    #[test]
    fn calls_are_taken_once_and_refused_after_close() {
        let q = GatewayCalls::default();
        assert!(!q.has_pending());
        assert!(q.take().is_empty());
        let (a, _wa) = call();
        let (b, _wb) = call();
        assert!(q.push(a).is_ok());
        assert!(q.push(b).is_ok());
        assert!(q.has_pending());
        assert_eq!(q.take().len(), 2);
        assert!(!q.has_pending());
        assert!(q.take().is_empty(), "taken once");
        // Closing drops what is queued, so its caller sees the channel close.
        let (c, mut wc) = call();
        assert!(q.push(c).is_ok());
        q.close();
        assert!(matches!(
            wc.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
        let (d, _wd) = call();
        assert!(q.push(d).is_err(), "refused after close");
    }

    #[test]
    fn a_shard_thread_that_panics_closes_its_call_queue() {
        let shared = Arc::new(Shared {
            bells: Vec::new(),
            metrics: crate::metrics::Metrics::new(1),
            shutdown: AtomicBool::new(false),
            drained: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            http_connections: AtomicUsize::new(0),
            gateway: Mutex::new(None),
            calls: GatewayCalls::per_shard(1),
        });
        let (queued, mut wait) = call();
        assert!(shared.calls[0].push(queued).is_ok());
        let guard = CloseCallsOnExit::new(shared.clone(), 0);
        let thread = std::thread::spawn(move || {
            let _guard = guard;
            panic!("the shard's loop failed");
        });
        assert!(thread.join().is_err());
        // The queued call's caller hears the channel close; a new call is refused.
        assert!(matches!(
            wait.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
        let (late, _late_wait) = call();
        assert!(shared.calls[0].push(late).is_err());
    }
}
