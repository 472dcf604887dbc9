//! The Amazon SQS HTTP API of `spoold`, and its admin endpoint (metrics, health).
//!
//! A small tokio runtime on its own thread, beside the shards: hyper reads HTTP requests
//! ([`http`]), the sans-IO codec in `spool_protocol::sqs` turns them into typed SQS
//! requests, [`actions`] turns each into binary-protocol requests, and [`upstream`] sends
//! those into the shards over the daemon's internal socket pairs, the same path a binary
//! client's requests take. Replies come back the same way and are rendered as AWS JSON 1.0
//! or query/XML, whichever the client spoke. Message move tasks (DLQ redrive at a rate)
//! run here too ([`move_tasks`]).
//!
//! Promises: an SQS client (boto3, the aws CLI, the AWS SDKs) works against
//! `http://<host>:<port>` unchanged; every request gets an AWS-shaped reply or error; the
//! gateway holds no message state of its own (a restart of the daemon loses only running
//! move tasks, which report as failed to nobody: ListMessageMoveTasks forgets them).

pub mod actions;
pub mod admin;
pub mod http;
pub mod move_tasks;
pub mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::metrics::{Metrics, Outcome};
use crate::shard::Shared;

/// What the gateway is configured with.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub sqs_listen: SocketAddr,
    /// None: no admin endpoint.
    pub admin_listen: Option<SocketAddr>,
    pub region: String,
    pub account_id: String,
    pub max_connections: usize,
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
    /// The address the SQS API listens on (for queue URLs when a request has no Host).
    pub sqs_addr: SocketAddr,
}

impl Gateway {
    /// Resolves once the daemon is shutting down.
    pub async fn stopping(&self) {
        while !self.shared.shutdown.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn record(&self, reply: &actions::Reply, took: Duration) {
        let outcome = match reply.status {
            500.. => Outcome::ServerError,
            400.. => Outcome::ClientError,
            _ => Outcome::Ok,
        };
        self.metrics
            .sqs
            .record(reply.action, outcome, took.as_micros() as u64);
    }

    /// `arn:aws:sqs:<region>:<account>:<name>`.
    pub fn queue_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:sqs:{}:{}:{}",
            self.cfg.region, self.cfg.account_id, name
        )
    }
}

/// The running gateway: its thread and the addresses it listens on.
pub struct GatewayHandle {
    pub sqs_addr: SocketAddr,
    pub admin_addr: Option<SocketAddr>,
    thread: std::thread::JoinHandle<()>,
}

impl GatewayHandle {
    /// Binds the listeners (so a taken port is a startup error) and starts the runtime
    /// thread. `streams` are the client ends of the shards' internal connections.
    pub fn start(
        cfg: GatewayConfig,
        streams: Vec<std::os::unix::net::UnixStream>,
        metrics: Arc<Metrics>,
        shared: Arc<Shared>,
    ) -> Result<GatewayHandle, String> {
        let sqs = std::net::TcpListener::bind(cfg.sqs_listen)
            .map_err(|e| format!("cannot listen for the SQS API on {}: {e}", cfg.sqs_listen))?;
        let sqs_addr = sqs.local_addr().map_err(|e| e.to_string())?;
        let admin = match cfg.admin_listen {
            Some(a) => Some(
                std::net::TcpListener::bind(a)
                    .map_err(|e| format!("cannot listen for the admin endpoint on {a}: {e}"))?,
            ),
            None => None,
        };
        let admin_addr = match &admin {
            Some(l) => Some(l.local_addr().map_err(|e| e.to_string())?),
            None => None,
        };
        for l in std::iter::once(&sqs).chain(admin.as_ref()) {
            l.set_nonblocking(true).map_err(|e| e.to_string())?;
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
        .map_err(|e| format!("cannot start the SQS API runtime: {e}"))?;
        let max_connections = cfg.max_connections;
        let thread = std::thread::Builder::new()
            .name("spool-sqs".into())
            .spawn(move || {
                rt.block_on(async move {
                    let upstream = match upstream::Upstream::connect(streams).await {
                        Ok(u) => u,
                        Err(e) => {
                            tracing::error!("SQS API cannot reach the shards: {e}");
                            return;
                        }
                    };
                    let gw = Arc::new(Gateway {
                        cfg,
                        upstream,
                        metrics,
                        shared,
                        moves: move_tasks::MoveTasks::default(),
                        sqs_addr,
                    });
                    let Ok(sqs) = tokio::net::TcpListener::from_std(sqs) else {
                        tracing::error!("SQS API listener cannot join the runtime");
                        return;
                    };
                    let admin = admin.and_then(|l| tokio::net::TcpListener::from_std(l).ok());
                    let a = admin.map(|l| tokio::spawn(http::serve_admin(l, gw.clone())));
                    http::serve_sqs(sqs, gw.clone(), max_connections).await;
                    if let Some(a) = a {
                        let _ = a.await;
                    }
                });
            })
            .map_err(|e| format!("cannot start the SQS API thread: {e}"))?;
        tracing::info!(%sqs_addr, "listening (SQS HTTP API)");
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
