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
//! Promises: a data directory is never opened by two daemons at once (an advisory
//! `flock`, released by the kernel even on `kill -9`); a directory created with N shards
//! is only ever opened with N shards (its partitions would otherwise be unreachable).

use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::thread::JoinHandle;

use spool_engine::attrs::READ_ONLY_ATTRIBUTE_NAMES;
use spool_engine::PartitionConfig;
use spool_engine::{Engine, EngineConfig, SystemClock};

use crate::commit::Committer;
use crate::config::{Config, Durability};
use crate::eventfd::EventFd;
use crate::mailbox;
use crate::shard::{Envelope, Shard, ShardParts, Shared};
use crate::sqs::{GatewayConfig, GatewayHandle};

/// Envelopes a mailbox between two shards holds.
const MAILBOX_CAPACITY: usize = 8192;

pub struct Daemon {
    gateway: Option<GatewayHandle>,
    addr: SocketAddr,
    shards: usize,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<Result<(), String>>>,
    _lock: File,
}

impl Daemon {
    pub fn start(cfg: Config) -> Result<Daemon, String> {
        let dir = cfg.data_dir.clone();
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create data directory {}: {e}", dir.display()))?;
        let lock = lock_dir(&dir)?;
        let n = shard_count(&dir, cfg.shards)?;
        tracing::info!(
            data_dir = %dir.display(),
            shards = n,
            "durability: {}",
            cfg.durability
        );

        let mut engines = Vec::with_capacity(n);
        for i in 0..n {
            engines.push(open_engine(&cfg, &shard_dir(&dir, i), i)?);
        }
        reconcile(&mut engines)?;

        let listener = bind(cfg.listen)?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("listener address: {e}"))?;
        let mut listeners: Vec<Option<std::net::TcpListener>> = (0..n).map(|_| None).collect();
        listeners[0] = Some(listener);

        let bells = (0..n)
            .map(|_| EventFd::new().map(Arc::new))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| format!("eventfd: {e}"))?;
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

        // outboxes[i][j]: shard i -> shard j; inboxes[j] holds (i, receiver).
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
            Some(a) => Some(GatewayHandle::bind_sqs(a).map_err(|e| e.to_string())?),
            None => None,
        };
        let sqs_addr = match &sqs_listener {
            Some(l) => Some(l.local_addr().map_err(|e| e.to_string())?),
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
                .map_err(|e| format!("shard {i}: flusher: {e}"))?;
            let flusher = with_fault_injection(flusher);
            let committer =
                Committer::start(i as u16, flusher, shared.bells[i].clone(), metrics.clone())
                    .map_err(|e| format!("shard {i}: commit thread: {e}"))?;
            let parts = ShardParts {
                id: i as u16,
                engine,
                listener,
                inboxes: inbox,
                outboxes: outbox,
                shared: shared.clone(),
                cfg: cfg.clone(),
                committer,
                sqs_listener: if i == 0 { sqs_listener.take() } else { None },
            };
            let t = std::thread::Builder::new()
                .name(format!("spool-shard-{i}"))
                .spawn(move || {
                    let shard = Shard::new(parts).map_err(|e| format!("shard {i}: {e}"))?;
                    shard.run().map_err(|e| e.to_string())
                })
                .map_err(|e| format!("cannot start shard {i}: {e}"))?;
            threads.push(t);
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
                        return Err(e.to_string());
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
    pub fn wait(self) -> Result<(), String> {
        let mut errors = Vec::new();
        for t in self.threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(e),
                Err(_) => errors.push("a shard thread panicked".to_string()),
            }
        }
        if let Some(g) = self.gateway {
            g.wait();
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

fn shard_dir(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("shard-{i}"))
}

fn lock_dir(dir: &Path) -> Result<File, String> {
    let path = dir.join("LOCK");
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    // SAFETY: flock takes an fd we own for the call's duration and no pointers.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(format!(
            "data directory {} is in use by another spoold ({})",
            dir.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(f)
}

/// The shard count: what the directory was created with, else the flag, else the cores.
fn shard_count(dir: &Path, wanted: Option<u16>) -> Result<usize, String> {
    let mut existing = 0;
    while shard_dir(dir, existing).is_dir() {
        existing += 1;
    }
    match (existing, wanted) {
        (0, Some(n)) => Ok(n as usize),
        (0, None) => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
        (m, None) => Ok(m),
        (m, Some(n)) if m == n as usize => Ok(m),
        (m, Some(n)) => Err(format!(
            "data directory {} holds {m} shards; it cannot be opened with {n} \
             (start with --shards {m})",
            dir.display()
        )),
    }
}

fn open_engine(cfg: &Config, dir: &Path, shard: usize) -> Result<Engine, String> {
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
    let (engine, report) = Engine::open(dir, ecfg, Arc::new(SystemClock))
        .map_err(|e| format!("shard {shard}: cannot open {}: {e}", dir.display()))?;
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

/// Settable attributes of a queue (the catalog's part, without counts and timestamps).
fn settable(engine: &mut Engine, name: &str) -> Result<BTreeMap<String, String>, String> {
    let all = engine
        .get_queue_attributes(name)
        .map_err(|e| format!("queue {name}: {e}"))?;
    Ok(all
        .into_iter()
        .filter(|(k, _)| !READ_ONLY_ATTRIBUTE_NAMES.contains(&k.as_str()))
        .collect())
}

/// Makes every shard's catalog match shard 0's. Shard 0 applies a catalog change first
/// and then every other shard, so after a crash in between shard 0 holds the outcome.
fn reconcile(engines: &mut [Engine]) -> Result<(), String> {
    let Some((first, rest)) = engines.split_first_mut() else {
        return Ok(());
    };
    let names = first.list_queues("");
    let mut want = BTreeMap::new();
    for name in &names {
        let tags = first.queue_tags(name).map_err(|e| e.to_string())?;
        want.insert(name.clone(), (settable(first, name)?, tags));
    }
    for (k, e) in rest.iter_mut().enumerate() {
        let shard = k + 1;
        for name in e.list_queues("") {
            if !want.contains_key(&name) {
                tracing::warn!(shard, queue = %name, "finishing an interrupted queue deletion");
                e.delete_queue(&name).map_err(|e| e.to_string())?;
            }
        }
        // Dead-letter queues may be named by others: create in passes until done.
        let mut pending: Vec<&String> = want.keys().filter(|n| !e.queue_exists(n)).collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut last_err = None;
            pending.retain(|name| {
                let (attrs, tags) = &want[*name];
                match e.create_queue(name, attrs, tags) {
                    Ok(_) => {
                        tracing::warn!(shard, queue = %name, "finishing an interrupted queue creation");
                        false
                    }
                    Err(err) => {
                        last_err = Some(err.to_string());
                        true
                    }
                }
            });
            if pending.len() == before {
                return Err(format!(
                    "shard {shard}: cannot recreate queues {pending:?}: {}",
                    last_err.unwrap_or_default()
                ));
            }
        }
        for (name, (attrs, _)) in &want {
            let have = settable(e, name)?;
            let differ: BTreeMap<String, String> = attrs
                .iter()
                .filter(|(k, v)| have.get(*k) != Some(*v) && k.as_str() != "FifoQueue")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !differ.is_empty() {
                tracing::warn!(shard, queue = %name, "finishing an interrupted attribute change");
                e.set_queue_attributes(name, &differ)
                    .map_err(|err| format!("shard {shard}: queue {name}: {err}"))?;
            }
        }
    }
    Ok(())
}

/// The listening socket (with SO_REUSEADDR, so a restart does not wait out TIME_WAIT).
fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, String> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| format!("socket: {e}"))?;
    s.set_reuse_address(true).map_err(|e| e.to_string())?;
    s.set_nonblocking(true).map_err(|e| e.to_string())?;
    s.bind(&addr.into())
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    s.listen(1024)
        .map_err(|e| format!("listen on {addr}: {e}"))?;
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
