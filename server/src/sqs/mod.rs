//! The Amazon SQS HTTP API of `spoold`, and its admin endpoint (metrics, health).
//!
//! SQS requests are served on the shard threads themselves ([`host`]): shard 0 accepts SQS
//! connections and deals them over the shards; on each, hyper reads HTTP requests, the
//! sans-IO codec in `spool_protocol::sqs` turns them into typed SQS requests, [`actions`]
//! turns each into binary-protocol requests, and the shard routes those exactly as it
//! routes a binary client's. Replies are rendered as AWS JSON 1.0 or query/XML, whichever
//! the client spoke.
//!
//! A small tokio runtime on a thread of its own ("spool-sqs") serves the admin endpoint
//! ([`admin`]) and runs message move tasks (DLQ redrive at a rate, [`move_tasks`]), which
//! reach the shards through [`upstream`]: a call queue per shard, taken by the shard's
//! loop and routed as an SQS connection's calls are. It also holds the state the shards' SQS connections share
//! ([`Gateway`]), published in [`crate::shared::Shared`] once it is up; shard 0 accepts SQS
//! connections only from then on.
//!
//! Promises: an SQS client (boto3, the aws CLI, the AWS SDKs) works against
//! `http://<host>:<port>` unchanged; every request gets an AWS-shaped reply or error; the
//! gateway holds no message state of its own (a restart of the daemon loses only running
//! move tasks, which report as failed to nobody: ListMessageMoveTasks forgets them).

pub mod actions;
pub mod admin;
pub mod attempts;
pub mod host;
pub mod http;
pub mod move_tasks;
pub mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::metrics::{Metrics, Outcome};
use crate::shared::Shared;

/// What the gateway is configured with.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// None: the SQS API is off and the gateway serves only the admin endpoint.
    pub sqs_listen: Option<SocketAddr>,
    /// None: no admin endpoint.
    pub admin_listen: Option<SocketAddr>,
    pub region: String,
    pub account_id: String,
    /// Runtime threads (1: a current-thread runtime on the gateway's own thread).
    pub threads: usize,
    pub data_dir: PathBuf,
}

/// State shared by every HTTP connection.
pub struct Gateway {
    pub cfg: GatewayConfig,
    pub upstream: upstream::Upstream,
    pub metrics: Arc<Metrics>,
    pub shared: Arc<Shared>,
    pub moves: move_tasks::MoveTasks,
    /// Recent ReceiveRequestAttemptIds of FIFO queues.
    pub attempts: attempts::ReceiveAttempts,
    /// The address the SQS API listens on (for queue URLs when a request has no Host);
    /// None when it is off (then no SQS request ever reaches the gateway).
    pub sqs_addr: Option<SocketAddr>,
    /// The gateway's runtime (move tasks run on it, whichever thread starts them).
    pub rt: tokio::runtime::Handle,
}

impl Gateway {
    /// Resolves once the daemon is shutting down.
    pub async fn stopping(&self) {
        while !self.shared.shutdown.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Records an SQS call served by shard `shard`.
    fn record(&self, shard: usize, reply: &actions::Reply, took: Duration) {
        let outcome = match reply.status {
            500.. => Outcome::ServerError,
            400.. => Outcome::ClientError,
            _ => Outcome::Ok,
        };
        if let Some(r) = self.metrics.sqs.get(shard) {
            r.record(reply.action, outcome, took.as_micros() as u64);
        }
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot listen for the SQS API on {addr}: {source}")]
    ListenSqs {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot listen for the admin endpoint on {addr}: {source}")]
    ListenAdmin {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// Setting up a bound listener (non-blocking mode, its address) failed.
    #[error("{0}")]
    Listener(std::io::Error),
    #[error("cannot start the SQS API runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot start the SQS API thread: {0}")]
    Thread(std::io::Error),
    #[error("the SQS API did not start within {} s", START_TIMEOUT.as_secs())]
    StartTimeout,
}

/// How long the daemon waits for the gateway's thread to come up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The running gateway: its thread and the addresses it listens on.
pub struct GatewayHandle {
    pub sqs_addr: Option<SocketAddr>,
    pub admin_addr: Option<SocketAddr>,
    thread: std::thread::JoinHandle<()>,
}

impl GatewayHandle {
    /// Binds the SQS listener (so a taken port is a startup error); the daemon hands it to
    /// shard 0.
    pub fn bind_sqs(addr: SocketAddr) -> Result<std::net::TcpListener, GatewayError> {
        let sqs = std::net::TcpListener::bind(addr)
            .map_err(|source| GatewayError::ListenSqs { addr, source })?;
        sqs.set_nonblocking(true).map_err(GatewayError::Listener)?;
        Ok(sqs)
    }

    /// Binds the admin listener and starts the runtime thread, which publishes the
    /// [`Gateway`] in `shared`. `sqs_addr` is where shard 0 accepts SQS connections.
    pub fn start(
        cfg: GatewayConfig,
        sqs_addr: Option<SocketAddr>,
        metrics: Arc<Metrics>,
        shared: Arc<Shared>,
    ) -> Result<GatewayHandle, GatewayError> {
        let admin = match cfg.admin_listen {
            Some(addr) => Some(
                std::net::TcpListener::bind(addr)
                    .map_err(|source| GatewayError::ListenAdmin { addr, source })?,
            ),
            None => None,
        };
        let admin_addr = match &admin {
            Some(l) => Some(l.local_addr().map_err(GatewayError::Listener)?),
            None => None,
        };
        if let Some(l) = &admin {
            l.set_nonblocking(true).map_err(GatewayError::Listener)?;
        }
        let rt = if cfg.threads <= 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(cfg.threads)
                .thread_name("spool-sqs-worker")
                .enable_all()
                .build()
        }
        .map_err(GatewayError::Runtime)?;
        // The thread says when the gateway is up (or why not): an SQS port whose gateway
        // never came up would hold its clients in the backlog forever.
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), GatewayError>>(1);
        let thread = std::thread::Builder::new()
            .name("spool-sqs".into())
            .spawn(move || {
                rt.block_on(async move {
                    let upstream = upstream::Upstream::new(shared.clone());
                    let gw = Arc::new(Gateway {
                        cfg,
                        upstream,
                        metrics,
                        shared: shared.clone(),
                        moves: move_tasks::MoveTasks::default(),
                        attempts: attempts::ReceiveAttempts::default(),
                        sqs_addr,
                        rt: tokio::runtime::Handle::current(),
                    });
                    *shared
                        .gateway
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(gw.clone());
                    // Shard 0 polls for the gateway on its timer; ring it so it starts
                    // accepting SQS connections now.
                    if let Some(b) = shared.bells.first() {
                        let _ = b.notify();
                    }
                    let _ = ready_tx.send(Ok(()));
                    match admin.and_then(|l| tokio::net::TcpListener::from_std(l).ok()) {
                        Some(l) => http::serve_admin(l, gw.clone()).await,
                        None => gw.stopping().await,
                    }
                    // The shards hold their own references; drop the shared one so the
                    // gateway (which holds `shared`) is not kept alive by a cycle.
                    shared
                        .gateway
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .take();
                });
            })
            .map_err(GatewayError::Thread)?;
        match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => return Err(GatewayError::StartTimeout),
        }
        if let Some(a) = sqs_addr {
            tracing::info!(%a, "listening (SQS HTTP API)");
        }
        if let Some(a) = admin_addr {
            tracing::info!(%a, "listening (admin: /metrics, /health)");
        }
        Ok(GatewayHandle {
            sqs_addr,
            admin_addr,
            thread,
        })
    }

    /// Waits for the runtime thread (it stops when the daemon shuts down).
    pub fn wait(self) {
        let _ = self.thread.join();
    }
}
