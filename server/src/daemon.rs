//! Starting and stopping the daemon: the data directory, the shards and their wiring.
//!
//! [`Daemon::start`] locks the data directory (one daemon per directory), opens one engine
//! per shard (`shard-N/`, running recovery and logging what it repaired), makes the
//! catalogs of all shards agree with shard 0's (a crash may have cut a catalog change
//! short between shards), binds the listener (shard 0 accepts and deals connections to
//! the shards), connects every pair of shards with a bounded mailbox, and starts the shard
//! threads.
//! [`Daemon::shutdown`] asks them to finish in-flight work and flush; [`Daemon::wait`]
//! joins them.
//!
//! Failures are typed: [`StartError`] (with [`ReconcileError`] for the catalogs) says why
//! the daemon did not start, naming the path, address or shard involved; [`StopError`]
//! lists every shard that did not stop cleanly ([`ShardFailure`]).
//!
//! Promises: a data directory is never opened by two daemons at once (an advisory
//! `flock`, released by the kernel even on `kill -9`); a directory created with N shards
//! is only ever opened with N shards (its partitions would otherwise be unreachable).

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::thread::JoinHandle;

use spool_engine::{Engine, EngineConfig, EngineError, PartitionConfig, SystemClock};

use crate::commit::Committer;
use crate::config::{Config, Durability};
use crate::eventfd::EventFd;
use crate::mailbox;
use crate::shard::{Envelope, Shard, ShardError, ShardParts, Shared};
use crate::shared::CloseCallsOnExit;
use crate::sqs::{GatewayConfig, GatewayError, GatewayHandle};

mod reconcile;

use reconcile::reconcile;
pub use reconcile::ReconcileError;

/// Envelopes a mailbox between two shards holds.
const MAILBOX_CAPACITY: usize = 8192;
/// Connections the binary protocol's listener queues before it accepts them.
const LISTEN_BACKLOG: i32 = 1024;

/// Why the daemon did not start. Each names what it was doing: the path, address or
/// shard involved, and the system's or the engine's reason.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data directory {}: {source}", dir.display())]
    CreateDataDir { dir: PathBuf, source: io::Error },
    #[error("cannot open {}: {source}", path.display())]
    OpenLock { path: PathBuf, source: io::Error },
    #[error("data directory {} is in use by another spoold ({source})", dir.display())]
    InUse { dir: PathBuf, source: io::Error },
    #[error(
        "data directory {} holds {found} shards; it cannot be opened with {asked} \
         (start with --shards {found})",
        dir.display()
    )]
    ShardCount {
        dir: PathBuf,
        found: usize,
        asked: u16,
    },
    #[error("shard {shard}: cannot open {}: {source}", dir.display())]
    OpenEngine {
        shard: usize,
        dir: PathBuf,
        source: EngineError,
    },
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    /// `step` is empty for the bind itself (the usual failure: the port is taken).
    #[error("cannot listen on {addr}: {step}{source}")]
    Listen {
        addr: SocketAddr,
        step: &'static str,
        source: io::Error,
    },
    #[error("{what} address: {source}")]
    LocalAddr {
        what: &'static str,
        source: io::Error,
    },
    #[error("eventfd: {0}")]
    EventFd(#[source] io::Error),
    #[error("shard {shard}: flusher: {source}")]
    Flusher { shard: usize, source: io::Error },
    #[error("shard {shard}: commit thread: {source}")]
    CommitThread { shard: usize, source: io::Error },
    #[error("cannot start shard {shard}: {source}")]
    SpawnShard { shard: usize, source: io::Error },
    /// The SQS API or the admin endpoint did not start (the reason names which).
    #[error(transparent)]
    Gateway(#[from] GatewayError),
}

/// Why a shard stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ShardFailure {
    #[error("shard {shard}: {source}")]
    Start { shard: usize, source: io::Error },
    /// The shard's loop failed (its reason names the shard).
    #[error(transparent)]
    Run(#[from] ShardError),
    #[error("shard {shard}: its thread panicked")]
    Panicked { shard: usize },
}

/// The shards that did not stop cleanly, each with its reason.
#[derive(Debug, thiserror::Error)]
#[error("{}", failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct StopError {
    pub failures: Vec<ShardFailure>,
}

pub struct Daemon {
    gateway: Option<GatewayHandle>,
    addr: SocketAddr,
    shards: usize,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<Result<(), ShardFailure>>>,
    _lock: File,
}

/// One mailbox per ordered pair of shards: `outboxes[i][j]` sends from shard i to shard j
/// (None for i == j); `inboxes[j]` holds (i, receiver) for every other shard i.
type Mailboxes = (
    Vec<Vec<Option<mailbox::Sender<Envelope>>>>,
    Vec<Vec<(u16, mailbox::Receiver<Envelope>)>>,
);

impl Daemon {
    pub fn start(cfg: Config) -> Result<Daemon, StartError> {
        let dir = cfg.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|source| StartError::CreateDataDir {
            dir: dir.clone(),
            source,
        })?;
        let lock = lock_dir(&dir)?;
        let engines = open_shards(&cfg, &dir)?;
        let n = engines.len();

        let listener = bind(cfg.listen)?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::LocalAddr {
                what: "listener",
                source,
            })?;
        let mut listeners: Vec<Option<std::net::TcpListener>> = (0..n).map(|_| None).collect();
        listeners[0] = Some(listener);

        let bells = (0..n)
            .map(|_| EventFd::new().map(Arc::new))
            .collect::<io::Result<Vec<_>>>()
            .map_err(StartError::EventFd)?;
        let metrics = crate::metrics::Metrics::new(n);
        let shared = Arc::new(Shared {
            bells,
            metrics: metrics.clone(),
            shutdown: AtomicBool::new(false),
            drained: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            http_connections: AtomicUsize::new(0),
            gateway: std::sync::Mutex::new(None),
            calls: crate::shared::GatewayCalls::per_shard(n),
        });
        let (outboxes, inboxes) = mailboxes(n);

        // The gateway runs when either of its endpoints is on (the admin endpoint reads
        // queue gauges through the shards too).
        let gateway_on = cfg.sqs_listen.is_some() || cfg.admin_listen.is_some();
        let gateway_cfg = gateway_on.then(|| GatewayConfig {
            sqs_listen: cfg.sqs_listen,
            admin_listen: cfg.admin_listen,
            region: cfg.region.clone(),
            account_id: cfg.account_id.clone(),
            threads: cfg.sqs_threads,
            data_dir: cfg.data_dir.clone(),
        });
        let mut sqs_listener = match cfg.sqs_listen {
            Some(a) => Some(GatewayHandle::bind_sqs(a)?),
            None => None,
        };
        let sqs_addr = match &sqs_listener {
            Some(l) => Some(l.local_addr().map_err(|source| StartError::LocalAddr {
                what: "SQS listener",
                source,
            })?),
            None => None,
        };
        let cfg = Arc::new(cfg);
        let mut threads = Vec::with_capacity(n);
        let parts = engines
            .into_iter()
            .zip(listeners)
            .zip(inboxes)
            .zip(outboxes)
            .enumerate();
        for (i, (((engine, listener), inbox), outbox)) in parts {
            let flusher = spool_engine::open_flusher(engine.config().flusher)
                .map_err(|source| StartError::Flusher { shard: i, source })?;
            let flusher = with_fault_injection(flusher);
            let committer =
                Committer::start(i as u16, flusher, shared.bells[i].clone(), metrics.clone())
                    .map_err(|source| StartError::CommitThread { shard: i, source })?;
            threads.push(spawn_shard(ShardParts {
                id: i as u16,
                engine,
                listener,
                inboxes: inbox,
                outboxes: outbox,
                shared: shared.clone(),
                cfg: cfg.clone(),
                committer,
                sqs_listener: if i == 0 { sqs_listener.take() } else { None },
            })?);
        }
        tracing::info!(%addr, "listening (binary protocol)");
        let gateway = match gateway_cfg {
            Some(g) => {
                match GatewayHandle::start(g, sqs_addr, metrics, shared.clone()) {
                    Ok(h) => Some(h),
                    Err(e) => {
                        // Stop the shards cleanly before reporting the startup error.
                        shared.request_shutdown();
                        for t in threads {
                            let _ = t.join();
                        }
                        return Err(e.into());
                    }
                }
            }
            None => None,
        };
        Ok(Daemon {
            gateway,
            addr,
            shards: n,
            shared,
            threads,
            _lock: lock,
        })
    }

    /// The address the binary protocol listens on (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the SQS HTTP API, if it is on.
    pub fn sqs_addr(&self) -> Option<SocketAddr> {
        self.gateway.as_ref().and_then(|g| g.sqs_addr)
    }

    /// The address of the admin endpoint, if it is on.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.gateway.as_ref().and_then(|g| g.admin_addr)
    }

    pub fn shards(&self) -> usize {
        self.shards
    }

    /// A handle that asks the daemon to shut down (from a signal thread).
    pub fn shutdown_handle(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Asks every shard to stop accepting, finish in-flight requests and flush.
    pub fn shutdown(&self) {
        self.shared.request_shutdown();
    }

    /// Waits for every shard to stop. Err names each shard that failed.
    pub fn wait(self) -> Result<(), StopError> {
        let mut failures = Vec::new();
        for (shard, t) in self.threads.into_iter().enumerate() {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(e),
                Err(_) => failures.push(ShardFailure::Panicked { shard }),
            }
        }
        if let Some(g) = self.gateway {
            g.wait();
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(StopError { failures })
        }
    }
}

/// Opens every shard's engine (as many as the directory was created with, else as
/// configured) and makes their catalogs agree.
fn open_shards(cfg: &Config, dir: &Path) -> Result<Vec<Engine>, StartError> {
    let n = shard_count(dir, cfg.shards)?;
    tracing::info!(
        data_dir = %dir.display(),
        shards = n,
        "durability: {}",
        cfg.durability
    );
    let mut engines = Vec::with_capacity(n);
    for i in 0..n {
        engines.push(open_engine(cfg, &shard_dir(dir, i), i)?);
    }
    reconcile(&mut engines)?;
    Ok(engines)
}

fn mailboxes(n: usize) -> Mailboxes {
    let mut outboxes: Vec<Vec<Option<mailbox::Sender<Envelope>>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    let mut inboxes: Vec<Vec<(u16, mailbox::Receiver<Envelope>)>> =
        (0..n).map(|_| Vec::new()).collect();
    for (i, row) in outboxes.iter_mut().enumerate() {
        for (j, slot) in row.iter_mut().enumerate() {
            if i != j {
                let (tx, rx) = mailbox::channel(MAILBOX_CAPACITY);
                *slot = Some(tx);
                inboxes[j].push((i as u16, rx));
            }
        }
    }
    (outboxes, inboxes)
}

/// Starts shard `parts.id`'s thread.
fn spawn_shard(parts: ShardParts) -> Result<JoinHandle<Result<(), ShardFailure>>, StartError> {
    let shard = parts.id as usize;
    let calls_guard = CloseCallsOnExit::new(parts.shared.clone(), shard);
    std::thread::Builder::new()
        .name(format!("spool-shard-{shard}"))
        .spawn(move || {
            // However this thread ends, the gateway's calls to this shard stop waiting.
            let _calls_guard = calls_guard;
            let s = Shard::new(parts).map_err(|source| ShardFailure::Start { shard, source })?;
            Ok(s.run()?)
        })
        .map_err(|source| StartError::SpawnShard { shard, source })
}

fn shard_dir(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("shard-{i}"))
}

fn lock_dir(dir: &Path) -> Result<File, StartError> {
    let path = dir.join("LOCK");
    let f = match File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(source) => return Err(StartError::OpenLock { path, source }),
    };
    // SAFETY: flock takes an fd we own for the call's duration and no pointers.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(StartError::InUse {
            dir: dir.to_path_buf(),
            source: io::Error::last_os_error(),
        });
    }
    Ok(f)
}

/// The shard count: what the directory was created with, else the flag, else the cores.
fn shard_count(dir: &Path, wanted: Option<u16>) -> Result<usize, StartError> {
    let mut existing = 0;
    while shard_dir(dir, existing).is_dir() {
        existing += 1;
    }
    match (existing, wanted) {
        (0, Some(n)) => Ok(n as usize),
        (0, None) => Ok(std::thread::available_parallelism().map_or(1, std::num::NonZero::get)),
        (m, None) => Ok(m),
        (m, Some(n)) if m == n as usize => Ok(m),
        (found, Some(asked)) => Err(StartError::ShardCount {
            dir: dir.to_path_buf(),
            found,
            asked,
        }),
    }
}

fn open_engine(cfg: &Config, dir: &Path, shard: usize) -> Result<Engine, StartError> {
    let flusher = cfg.flusher;
    let ecfg = EngineConfig {
        partition: PartitionConfig {
            segment_bytes: cfg.segment_bytes,
            // Index files are preallocated (a full disk must not SIGBUS the mapped index),
            // so their size follows the segment's: 32 bytes per 256 log bytes, as the
            // default 64 MiB / 2^18 slots, instead of 8 MiB for every small segment.
            segment_slots: (cfg.segment_bytes / 256).clamp(1024, 1 << 18) as u32,
            sync: cfg.durability != Durability::None,
            direct_io: cfg.direct_io,
            retain_bytes: cfg.retain_bytes,
            ..PartitionConfig::default()
        },
        flusher,
        partitions_per_queue: 1,
        region: cfg.region.clone(),
        account_id: cfg.account_id.clone(),
        spare_segments: cfg.spare_segments,
    };
    let (engine, report) = Engine::open(dir, ecfg, Arc::new(SystemClock)).map_err(|source| {
        StartError::OpenEngine {
            shard,
            dir: dir.to_path_buf(),
            source,
        }
    })?;
    let mut repaired = 0u64;
    for (queue, partition, r) in &report.partitions {
        if r.truncated_bytes > 0 || r.torn_segments > 0 || r.rebuilt_slots > 0 {
            repaired += 1;
            tracing::warn!(
                shard,
                queue = %queue,
                partition,
                "recovery repaired a torn tail: {r:?}"
            );
        }
    }
    tracing::info!(
        shard,
        queues = report.queues,
        moves_finished = report.moves_finished,
        partitions_repaired = repaired,
        "recovered"
    );
    Ok(engine)
}

/// The listening socket (with SO_REUSEADDR, so a restart does not wait out TIME_WAIT).
fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, StartError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let err = |step: &'static str| move |source| StartError::Listen { addr, step, source };
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(err("socket: "))?;
    s.set_reuse_address(true).map_err(err("SO_REUSEADDR: "))?;
    s.set_nonblocking(true).map_err(err("O_NONBLOCK: "))?;
    s.bind(&addr.into()).map_err(err(""))?;
    s.listen(LISTEN_BACKLOG).map_err(err("listen: "))?;
    Ok(s.into())
}

/// Test builds only (feature `fault-injection`): with `SPOOL_FAULT_FILE` set, every
/// shard's flusher fails writes or fdatasyncs as that control file says (see
/// `spool_engine::fault`). Release builds do not contain this.
#[cfg(feature = "fault-injection")]
fn with_fault_injection(flusher: Box<dyn spool_engine::Flusher>) -> Box<dyn spool_engine::Flusher> {
    match std::env::var_os("SPOOL_FAULT_FILE") {
        Some(path) => {
            tracing::warn!(
                "fault injection on: control file {}",
                path.to_string_lossy()
            );
            let plan = spool_engine::fault::FaultPlan::from_control_file(path.as_ref());
            Box::new(spool_engine::fault::FaultyFlusher::new(flusher, plan))
        }
        None => flusher,
    }
}

#[cfg(not(feature = "fault-injection"))]
fn with_fault_injection(flusher: Box<dyn spool_engine::Flusher>) -> Box<dyn spool_engine::Flusher> {
    flusher
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_directory_and_a_wrong_shard_count_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let shown = dir.path().display().to_string();
        let _held = lock_dir(dir.path()).unwrap();
        let e = lock_dir(dir.path()).unwrap_err();
        assert!(matches!(e, StartError::InUse { .. }));
        assert!(e.to_string().starts_with(&format!(
            "data directory {shown} is in use by another spoold ("
        )));

        for i in 0..2 {
            std::fs::create_dir(shard_dir(dir.path(), i)).unwrap();
        }
        assert_eq!(shard_count(dir.path(), None).unwrap(), 2);
        assert_eq!(shard_count(dir.path(), Some(2)).unwrap(), 2);
        let e = shard_count(dir.path(), Some(3)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "data directory {shown} holds 2 shards; it cannot be opened with 3 \
                 (start with --shards 2)"
            )
        );
    }

    #[test]
    fn a_taken_port_names_the_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let e = bind(addr).unwrap_err();
        assert!(matches!(e, StartError::Listen { step: "", .. }));
        assert!(e
            .to_string()
            .starts_with(&format!("cannot listen on {addr}: ")));
    }

    #[test]
    fn a_stop_error_names_every_failed_shard() {
        let e = StopError {
            failures: vec![
                ShardFailure::Run(ShardError::FinalFlush {
                    shard: 0,
                    source: EngineError::OutOfSpace("disk full".into()),
                }),
                ShardFailure::Panicked { shard: 2 },
            ],
        };
        assert_eq!(
            e.to_string(),
            "shard 0: final flush failed: out of space: disk full; shard 2: its thread panicked"
        );
    }
}
