//! The gateway runtime's way into the shards, for the admin endpoint ([`super::admin`])
//! and message move tasks ([`super::move_tasks`]): one binary-protocol connection per
//! shard, over a Unix socket pair the daemon made at startup, so their requests take the
//! path a binary client's take (frame → request → shard routing → engine → reply).
//! SQS requests do not come this way: they are served on the shards' own threads and
//! reach the queues through [`super::host::LocalCalls`], which fails with the same
//! [`UpstreamError`].
//!
//! Each connection is pipelined: any number of requests are out at once, matched to their
//! replies by request id. Calls are spread round-robin over the shards (a standard queue's
//! sends land on every shard's partition; receives, deletes and FIFO sends are routed by
//! the shard that reads them, as for any client).
//!
//! Promises: every call ends, with the shard's reply or with [`UpstreamError`] (the shard
//! stopped, i.e. the daemon is shutting down); at most [`MAX_IN_FLIGHT`] calls are out per
//! connection (more wait their turn), which keeps within the shard's bound for internal
//! connections (`conn::INTERNAL_MAX_IN_FLIGHT`); nothing here panics on a malformed reply
//! (the connection is dropped and its calls fail).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use spool_protocol::{decode_frame, ProtocolError, Request, Response, MAX_VERSION, MIN_VERSION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Calls out at once per connection; the shard allows internal connections
/// `conn::INTERNAL_MAX_IN_FLIGHT` (8192).
pub const MAX_IN_FLIGHT: usize = 4096;
/// Largest reply frame accepted from a shard (the daemon's max frame is at most this).
const MAX_REPLY_FRAME: usize = 1 << 30;

/// Why a call into the shards got no reply.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The shard went away before it answered: its internal connection closed, or (for an
    /// SQS request on a shard's thread) the shard dropped the call. Both happen only when
    /// the daemon shuts down.
    #[error("the shard stopped before it answered (the daemon is shutting down)")]
    Closed,
    /// The request is over a limit of the binary protocol (a bug of the caller: the SQS
    /// codec and the engine bound what they build).
    #[error("request could not be encoded: {0}")]
    Encode(#[from] ProtocolError),
}

/// Why the gateway could not reach the shards at startup.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("shard {shard}: internal connection: {source}")]
    Io {
        shard: usize,
        source: std::io::Error,
    },
    #[error("shard {shard} refused the gateway's Hello: {reply}")]
    Refused { shard: usize, reply: String },
    #[error("shard {shard}: Hello: {source}")]
    Hello { shard: usize, source: UpstreamError },
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Response<'static>>>>>;

struct Conn {
    tx: mpsc::UnboundedSender<(u64, Vec<u8>)>,
    pending: Pending,
    permits: Arc<Semaphore>,
    next_id: AtomicUsize,
}

/// Connections to every shard.
pub struct Upstream {
    conns: Vec<Conn>,
    rr: AtomicUsize,
}

impl Upstream {
    /// Takes the client ends of the daemon's socket pairs (one per shard, in shard order)
    /// and performs the Hello on each. Must run inside the gateway's tokio runtime.
    pub async fn connect(
        streams: Vec<std::os::unix::net::UnixStream>,
    ) -> Result<Upstream, ConnectError> {
        let mut conns = Vec::with_capacity(streams.len());
        for (shard, s) in streams.into_iter().enumerate() {
            let io = |source| ConnectError::Io { shard, source };
            s.set_nonblocking(true).map_err(io)?;
            let stream = UnixStream::from_std(s).map_err(io)?;
            let (rd, wr) = stream.into_split();
            let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(write_loop(wr, rx));
            tokio::spawn(read_loop(rd, pending.clone()));
            conns.push(Conn {
                tx,
                pending,
                permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
                next_id: AtomicUsize::new(1),
            });
        }
        let up = Upstream {
            conns,
            rr: AtomicUsize::new(0),
        };
        for shard in 0..up.conns.len() {
            let hello = Request::Hello {
                min_version: MIN_VERSION,
                max_version: MAX_VERSION,
                api_key: None,
            };
            match up.call_on(shard, &hello).await {
                Ok(Response::Hello { .. }) => {}
                Ok(other) => {
                    return Err(ConnectError::Refused {
                        shard,
                        reply: format!("{other:?}"),
                    })
                }
                Err(source) => return Err(ConnectError::Hello { shard, source }),
            }
        }
        Ok(up)
    }

    /// Shards connected to.
    pub fn shards(&self) -> usize {
        self.conns.len()
    }

    /// Sends `req` through the next shard in turn and waits for its reply.
    pub async fn call(&self, req: &Request<'_>) -> Result<Response<'static>, UpstreamError> {
        let i = self.rr.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        self.call_on(i, req).await
    }

    /// Sends `req` through shard `i`'s connection.
    pub async fn call_on(
        &self,
        i: usize,
        req: &Request<'_>,
    ) -> Result<Response<'static>, UpstreamError> {
        let c = &self.conns[i];
        let _permit = c
            .permits
            .acquire()
            .await
            .map_err(|_| UpstreamError::Closed)?;
        let id = c.next_id.fetch_add(1, Ordering::Relaxed) as u64;
        let mut frame = Vec::new();
        req.encode(id, &mut frame)?;
        let (done, wait) = oneshot::channel();
        lock(&c.pending).insert(id, done);
        if c.tx.send((id, frame)).is_err() {
            lock(&c.pending).remove(&id);
            return Err(UpstreamError::Closed);
        }
        wait.await.map_err(|_| UpstreamError::Closed)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock leaves only a map of reply slots behind: still valid.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes queued frames, coalescing whatever is queued into one write.
async fn write_loop(
    mut wr: tokio::net::unix::OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<(u64, Vec<u8>)>,
) {
    let mut buf = Vec::with_capacity(64 << 10);
    while let Some((_, frame)) = rx.recv().await {
        buf.clear();
        buf.extend_from_slice(&frame);
        while buf.len() < (1 << 20) {
            match rx.try_recv() {
                Ok((_, f)) => buf.extend_from_slice(&f),
                Err(_) => break,
            }
        }
        if wr.write_all(&buf).await.is_err() {
            return;
        }
    }
}

/// Reads reply frames and hands each to the call waiting for its id. On EOF or a bad
/// frame, every waiting call fails (its sender is dropped).
async fn read_loop(mut rd: tokio::net::unix::OwnedReadHalf, pending: Pending) {
    let mut buf: Vec<u8> = Vec::with_capacity(256 << 10);
    let mut start = 0usize;
    loop {
        // Cut every whole frame off the front.
        loop {
            match decode_frame(&buf[start..], MAX_REPLY_FRAME) {
                Ok(Some((frame, n))) => {
                    let id = frame.request_id;
                    let resp = Response::from_frame(&frame).map(Response::into_owned);
                    start += n;
                    match resp {
                        Ok(r) => {
                            if let Some(tx) = lock(&pending).remove(&id) {
                                let _ = tx.send(r);
                            }
                        }
                        Err(e) => {
                            tracing::error!("malformed reply from a shard: {e}");
                            lock(&pending).clear();
                            return;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::error!("malformed reply frame from a shard: {e}");
                    lock(&pending).clear();
                    return;
                }
            }
        }
        if start > 0 {
            buf.drain(..start);
            start = 0;
        }
        if buf.capacity() - buf.len() < 64 << 10 {
            buf.reserve(64 << 10);
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => {
                lock(&pending).clear();
                return;
            }
            Ok(_) => {}
        }
    }
}
