//! The SQS HTTP API served on a shard's own thread: hyper's HTTP/1.1 server connections,
//! driven by the shard's event loop instead of a runtime of their own.
//!
//! Each shard holds an [`HttpHost`] for the SQS connections dealt to it (shard 0 accepts
//! them and deals them round-robin, as it does binary-protocol connections). A connection
//! is one task: hyper's `serve_connection` future over an [`SqsIo`] (a non-blocking mio
//! socket registered in the shard's poll). The shard polls a task when its socket reports
//! readiness, when a reply it waits for arrives, or when one of its timers fires. What a
//! request asks of the queues goes through [`LocalCalls`]: the shard takes those requests
//! off at the end of each pass and routes them exactly as it routes a binary client's
//! ([`crate::shard`]), and the reply comes back to the waiting task. So an SQS request
//! costs no thread hop, no socket between gateway and shards and no wake-up beyond its
//! own socket's.
//!
//! Promises: a task is polled only on the shard's thread; a woken task is polled at the
//! next pass (never lost, at most once per pass, so a task that wakes itself cannot starve
//! the shard); every call a task makes is handed to the shard exactly once and its reply
//! (if the task still waits) wakes it; timers fire no earlier than their deadline; dropping
//! the host closes every connection. Nothing here panics on any input: hyper parses, and
//! [`super::actions`] answers every request with an SQS reply or error.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use spool_protocol::{Request, Response};

use super::http::{body_over_limit, head_timeout, MAX_BODY, MAX_HEAD};
use super::upstream::UpstreamError;
use super::Gateway;

/// Requests the tasks of one shard have made and not yet handed over, and the tasks
/// waiting for their replies (by token).
#[derive(Default)]
pub struct LocalCalls {
    out: RefCell<Vec<Call>>,
    waiting: RefCell<HashMap<u64, tokio::sync::oneshot::Sender<Response<'static>>>>,
    next: Cell<u64>,
}

/// One request for the shard to route as a client's, and the token its reply comes back by.
pub struct Call {
    pub token: u64,
    pub req: Request<'static>,
}

impl LocalCalls {
    /// Routes `req` as the shard routes a client's request and waits for the reply.
    pub async fn call(&self, req: Request<'_>) -> Result<Response<'static>, UpstreamError> {
        let token = self.next.get();
        self.next.set(token + 1);
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.waiting.borrow_mut().insert(token, tx);
        self.out.borrow_mut().push(Call {
            token,
            req: req.into_owned(),
        });
        // A task dropped before its reply (its connection closed) leaves its sender here
        // until the reply comes; `complete` then finds the receiver gone.
        rx.await.map_err(|_| UpstreamError::Closed)
    }

    /// Whether nobody waits for call `token` any more: its task was dropped because its
    /// connection closed (or it was answered already).
    pub fn abandoned(&self, token: u64) -> bool {
        self.waiting
            .borrow()
            .get(&token)
            .is_none_or(tokio::sync::oneshot::Sender::is_closed)
    }

    /// The reply to call `token`: wakes the task waiting for it, if it still waits.
    pub fn complete(&self, token: u64, resp: Response<'static>) {
        let tx = self.waiting.borrow_mut().remove(&token);
        if let Some(tx) = tx {
            let _ = tx.send(resp);
        }
    }
}

/// Task ids woken since the last pass. Wakers must be `Send + Sync`, hence the mutex; every
/// wake happens on the shard's thread, so it is never contended.
#[derive(Default)]
struct ReadyQueue(Mutex<Vec<usize>>);

impl ReadyQueue {
    fn push(&self, id: usize) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(id);
    }
    fn take(&self, into: &mut Vec<usize>) {
        let mut q = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::swap(&mut *q, into);
    }
    fn is_empty(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_empty()
    }
}

struct TaskWaker {
    id: usize,
    /// Already in the ready queue (cleared just before the task is polled).
    queued: AtomicBool,
    ready: Arc<ReadyQueue>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.ready.push(self.id);
        }
    }
}

struct Task {
    fut: Pin<Box<dyn Future<Output = ()>>>,
    waker: Arc<TaskWaker>,
    socket: Rc<RefCell<TcpStream>>,
    ready: Rc<Cell<u8>>,
}

/// [`SqsIo`] readiness bits: the socket may be readable / writable. Cleared when a call
/// would block, set again by the socket's next event. hyper tries a read whenever it is
/// polled (to notice a client that went away mid-request), so without these every poll
/// of a connection cost a failing recv(2).
const READABLE: u8 = 1;
const WRITABLE: u8 = 2;

/// The SQS connections of one shard.
pub struct HttpHost {
    /// In an `Rc` so that a request's clone is not an atomic on a line every shard shares.
    #[allow(clippy::redundant_allocation)]
    gw: Rc<Arc<Gateway>>,
    calls: Rc<LocalCalls>,
    tasks: Vec<Option<Task>>,
    free: Vec<usize>,
    ready: Arc<ReadyQueue>,
    batch: Vec<usize>,
    timer: LoopTimer,
    /// Read scratch shared by this shard's connections (hyper copies out of it).
    scratch: Rc<RefCell<Vec<u8>>>,
    /// Token of task 0; task i is `first_token + i`.
    first_token: usize,
    /// This shard (its SQS metrics).
    shard: usize,
}

/// Scratch read size: a request head and a typical body in one read.
const SCRATCH: usize = 64 << 10;

impl HttpHost {
    pub fn new(gw: Arc<Gateway>, shard: usize, first_token: usize) -> HttpHost {
        HttpHost {
            gw: Rc::new(gw),
            calls: Rc::new(LocalCalls::default()),
            tasks: Vec::new(),
            free: Vec::new(),
            ready: Arc::new(ReadyQueue::default()),
            batch: Vec::new(),
            timer: LoopTimer::default(),
            scratch: Rc::new(RefCell::new(vec![0; SCRATCH])),
            first_token,
            shard,
        }
    }

    /// Starts serving `stream`; false if it could not be registered (it is dropped).
    pub fn add(&mut self, registry: &Registry, stream: std::net::TcpStream) -> bool {
        let peer = stream
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        if stream.set_nonblocking(true).is_err() {
            return false;
        }
        let _ = stream.set_nodelay(true);
        let mut stream = TcpStream::from_std(stream);
        let id = match self.free.pop() {
            Some(i) => i,
            None => {
                self.tasks.push(None);
                self.tasks.len() - 1
            }
        };
        if let Err(e) = registry.register(
            &mut stream,
            Token(self.first_token + id),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            tracing::warn!("cannot register an SQS connection: {e}");
            self.free.push(id);
            return false;
        }
        let socket = Rc::new(RefCell::new(stream));
        let ready = Rc::new(Cell::new(READABLE | WRITABLE));
        let io = SqsIo {
            socket: socket.clone(),
            scratch: self.scratch.clone(),
            ready: ready.clone(),
        };
        let (gw, calls, shard) = (self.gw.clone(), self.calls.clone(), self.shard);
        let svc = service_fn(move |req| {
            let (gw, calls) = (gw.clone(), calls.clone());
            async move { Ok::<_, Infallible>(serve(&gw, &calls, shard, peer, req).await) }
        });
        let conn = http1::Builder::new()
            .timer(self.timer.clone())
            .header_read_timeout(head_timeout())
            .max_buf_size(MAX_HEAD)
            .keep_alive(true)
            .serve_connection(io, svc);
        let fut = async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, "sqs connection ended: {e}");
            }
        };
        let waker = Arc::new(TaskWaker {
            id,
            queued: AtomicBool::new(true),
            ready: self.ready.clone(),
        });
        self.tasks[id] = Some(Task {
            fut: Box::pin(fut),
            waker,
            socket,
            ready,
        });
        // The client may have written already: poll it at the next pass.
        self.ready.push(id);
        true
    }

    /// The socket of task `token` reported readiness (`readable` also for hang-ups and
    /// errors: a read then says what happened).
    pub fn on_event(&self, token: usize, readable: bool, writable: bool) {
        if let Some(Some(t)) = token
            .checked_sub(self.first_token)
            .and_then(|i| self.tasks.get(i))
        {
            let bits = (u8::from(readable) * READABLE) | (u8::from(writable) * WRITABLE);
            t.ready.set(t.ready.get() | bits);
            t.waker.wake_by_ref();
        }
    }

    /// Whether a pass has work (woken tasks).
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The earliest timer deadline, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timer.next_deadline()
    }

    /// One pass: fires due timers and polls every task woken so far, once each. Returns
    /// the number of connections that ended.
    pub fn run(&mut self, registry: &Registry) -> usize {
        self.timer.fire(Instant::now());
        self.ready.take(&mut self.batch);
        let mut ended = 0;
        let batch = std::mem::take(&mut self.batch);
        for &id in &batch {
            let Some(Some(task)) = self.tasks.get_mut(id) else {
                continue;
            };
            task.waker.queued.store(false, Ordering::Release);
            let waker = Waker::from(task.waker.clone());
            let mut cx = Context::from_waker(&waker);
            if task.fut.as_mut().poll(&mut cx).is_ready() {
                if let Some(t) = self.tasks[id].take() {
                    let _ = registry.deregister(&mut *t.socket.borrow_mut());
                }
                self.free.push(id);
                ended += 1;
            }
        }
        self.batch = batch;
        self.batch.clear();
        ended
    }

    /// Whether any task waits for a reply (shutdown waits for these).
    pub fn waiting(&self) -> bool {
        !self.calls.waiting.borrow().is_empty()
    }

    /// Requests made by tasks since the last call, for the shard to route.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.out.borrow_mut())
    }

    /// The reply to call `token`.
    pub fn complete(&self, token: u64, resp: Response<'static>) {
        self.calls.complete(token, resp);
    }

    /// Whether call `token`'s connection has gone, so its reply would be thrown away.
    pub fn call_abandoned(&self, token: u64) -> bool {
        self.calls.abandoned(token)
    }

    /// Closes every connection (shutdown); returns how many there were.
    pub fn close_all(&mut self, registry: &Registry) -> usize {
        let mut n = 0;
        for t in self.tasks.iter_mut().filter_map(Option::take) {
            let _ = registry.deregister(&mut *t.socket.borrow_mut());
            n += 1;
        }
        self.free = (0..self.tasks.len()).collect();
        n
    }
}

/// One SQS request: bounded body, parse, run, render, metrics.
async fn serve(
    gw: &Arc<Gateway>,
    calls: &LocalCalls,
    shard: usize,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let start = Instant::now();
    let (parts, body) = req.into_parts();
    let body = if body_over_limit(&parts.headers) {
        None
    } else {
        match Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => Some(b.to_bytes()),
            Err(_) => None,
        }
    };
    let reply = match body {
        Some(body) => super::actions::handle(gw, calls, &parts, &body).await,
        None => super::actions::too_large(gw, &parts),
    };
    gw.record(shard, &reply, start.elapsed());
    tracing::trace!(%peer, action = reply.action, status = reply.status, "sqs call");
    reply.into_response()
}

/// A connection's socket as hyper's I/O. Reads and writes go straight to the non-blocking
/// socket; `WouldBlock` is `Pending`, and the shard polls the task again when the socket
/// reports readiness (edge-triggered: an event always follows a `WouldBlock`).
struct SqsIo {
    socket: Rc<RefCell<TcpStream>>,
    scratch: Rc<RefCell<Vec<u8>>>,
    ready: Rc<Cell<u8>>,
}

impl SqsIo {
    fn clear(&self, bit: u8) {
        self.ready.set(self.ready.get() & !bit);
    }

    /// A short write filled the socket's buffer: the next write would block.
    fn short_write(
        &self,
        r: Poll<std::io::Result<usize>>,
        len: usize,
    ) -> Poll<std::io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = &r {
            if *n < len {
                self.clear(WRITABLE);
            }
        }
        r
    }

    /// Runs `op` unless the socket is known not to be ready for it (`bit` clear); a
    /// `WouldBlock` clears the bit until the next event sets it.
    fn attempt<T>(
        &self,
        bit: u8,
        mut op: impl FnMut() -> std::io::Result<T>,
    ) -> Poll<std::io::Result<T>> {
        if self.ready.get() & bit == 0 {
            return Poll::Pending;
        }
        loop {
            match op() {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {} // a signal came first: retry
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.clear(bit);
                    return Poll::Pending;
                }
                other => return Poll::Ready(other),
            }
        }
    }
}

impl hyper::rt::Read for SqsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        // Read into initialised scratch and copy: hyper's cursor is uninitialised memory,
        // which safe code cannot hand to read(2).
        let mut scratch = self.scratch.borrow_mut();
        let want = buf.remaining().min(scratch.len());
        let r = self.attempt(READABLE, || {
            self.socket.borrow_mut().read(&mut scratch[..want])
        });
        r.map_ok(|n| {
            // A short read drained the socket (as tokio reasons too): the next read would
            // block, and data arriving after this one raises a new edge-triggered event.
            if n > 0 && n < want {
                self.clear(READABLE);
            }
            buf.put_slice(&scratch[..n]);
        })
    }
}

impl hyper::rt::Write for SqsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = self.attempt(WRITABLE, || self.socket.borrow_mut().write(buf));
        self.short_write(r, buf.len())
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = self.attempt(WRITABLE, || self.socket.borrow_mut().write_vectored(bufs));
        self.short_write(r, bufs.iter().map(|b| b.len()).sum())
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = self.socket.borrow().shutdown(std::net::Shutdown::Write);
        Poll::Ready(match r {
            Err(e) if e.kind() == std::io::ErrorKind::NotConnected => Ok(()),
            other => other,
        })
    }
}

/// hyper's timer (head read timeouts) on the shard's loop: sleeps register their deadline
/// and waker here; the shard fires the due ones each pass and sleeps in epoll no longer
/// than the earliest.
#[derive(Clone, Default)]
struct LoopTimer(Arc<Mutex<TimerState>>);

#[derive(Default)]
struct TimerState {
    /// (deadline, sleep id) → waker of the task polling that sleep.
    due: BTreeMap<(Instant, u64), Waker>,
    next_id: u64,
}

impl LoopTimer {
    fn state(&self) -> std::sync::MutexGuard<'_, TimerState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fire(&self, now: Instant) {
        let mut s = self.state();
        while let Some(entry) = s.due.first_entry() {
            if entry.key().0 > now {
                break;
            }
            entry.remove().wake();
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.state().due.keys().next().map(|k| k.0)
    }
}

impl hyper::rt::Timer for LoopTimer {
    fn sleep(&self, duration: std::time::Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let id = {
            let mut s = self.state();
            s.next_id += 1;
            s.next_id
        };
        Box::pin(LoopSleep {
            timer: self.clone(),
            deadline,
            id,
        })
    }
}

struct LoopSleep {
    timer: LoopTimer,
    deadline: Instant,
    id: u64,
}

impl Future for LoopSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            self.timer.state().due.remove(&(self.deadline, self.id));
            return Poll::Ready(());
        }
        self.timer
            .state()
            .due
            .insert((self.deadline, self.id), cx.waker().clone());
        Poll::Pending
    }
}

impl hyper::rt::Sleep for LoopSleep {}

impl Drop for LoopSleep {
    fn drop(&mut self) {
        self.timer.state().due.remove(&(self.deadline, self.id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_fires_due_sleeps_in_order_and_forgets_dropped_ones() {
        use hyper::rt::Timer as _;
        let t = LoopTimer::default();
        let now = Instant::now();
        let woken = Arc::new(ReadyQueue::default());
        let waker = |id| {
            Waker::from(Arc::new(TaskWaker {
                id,
                queued: AtomicBool::new(false),
                ready: woken.clone(),
            }))
        };
        let mut a = t.sleep_until(now + std::time::Duration::from_mins(1));
        let mut b = t.sleep_until(now + std::time::Duration::from_secs(30));
        let c = t.sleep_until(now + std::time::Duration::from_secs(10));
        for (s, id) in [(&mut a, 1), (&mut b, 2)] {
            let w = waker(id);
            assert!(s.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
        }
        drop(c);
        assert_eq!(
            t.next_deadline(),
            Some(now + std::time::Duration::from_secs(30))
        );
        t.fire(now + std::time::Duration::from_secs(31));
        let mut got = Vec::new();
        woken.take(&mut got);
        assert_eq!(got, vec![2]);
        assert_eq!(
            t.next_deadline(),
            Some(now + std::time::Duration::from_mins(1))
        );
        drop(a);
        assert_eq!(t.next_deadline(), None);
    }
}
