//! The engine: every queue of a data directory, its catalog, and the operations that span
//! queues (dead-letter moves, redrive, reconciliation after a crash).
//!
//! Layout of a data directory:
//!
//! ```text
//! <data>/catalog.json            queues, attributes, tags (written atomically)
//! <data>/receipt.key             secret that seals receipt handles
//! <data>/queues/<id>/<partition>/ segments of one partition
//! ```
//!
//! The engine is single-threaded and deterministic given its clock. Sends are staged and
//! become visible (and may be acknowledged) after [`Engine::flush`]; deletes are durable
//! after the next flush. Dead-letter moves are exactly once: the moved record names its
//! origin, the source slot is marked moved once the copy is durable, index headers advance
//! only after every partition's index is synced, and recovery finishes any move that a
//! crash interrupted.
//!
//! I/O errors. A send is acknowledged only after the flush that wrote it returned
//! success, writes and fdatasync both. A failed flush fails its batch (`OutOfSpace` for
//! ENOSPC/EDQUOT, `Failed` otherwise) and leaves its partition failed; the engine never
//! retries the fdatasync (after a failed fdatasync Linux may have dropped the dirty pages
//! or marked them clean, so a retry can succeed without the data on disk: "fsyncgate").
//! As PostgreSQL (PANIC, then WAL replay) and Kafka (log directory offline, recovery on
//! restart) do, the partition is recovered from its durable state instead:
//! [`Engine::recover_failed`] erases everything past the last committed record and
//! reopens the partition by crash recovery, without restarting the process. A full disk
//! is normally met earlier and more gently: segment and index files are preallocated, so
//! ENOSPC comes from creating the next segment, failing just the sends that needed it.
//!
//! This file owns the [`Engine`] struct, its configuration and opening; each concern has
//! its own file:
//! - `catalog.rs`: the queues, their attributes and tags, persisted in `catalog.json`;
//! - `messages.rs`: send, receive, delete and change visibility by queue name;
//! - `moves.rs`: dead-letter moves and redrive, exactly once across queues;
//! - `commit.rs`: group commit over every partition, index sync waves, compaction, and
//!   recovery of partitions a failed flush left unusable.

mod catalog;
mod commit;
mod messages;
mod moves;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use self::catalog::Catalog;
pub use self::commit::EngineFlush;
pub use self::messages::{ReceivedMessage, SendOutcome};
use self::moves::PendingMove;
use crate::clock::Clock;
use crate::error::{EngineError, Result};
use crate::flusher::{open_flusher, Flusher, FlusherKind};
use crate::partition::{Partition, PartitionConfig};
use crate::queue::Queue;
use crate::receipt::ReceiptKey;
use crate::recovery::RecoveryReport;

/// How an [`Engine`] stores its queues.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Storage of each partition (the in-flight bound is per queue, divided among its
    /// partitions).
    pub partition: PartitionConfig,
    /// The flusher [`Engine::flush`] uses.
    pub flusher: FlusherKind,
    /// Partitions of a new queue.
    pub partitions_per_queue: u16,
    /// Region named in queue ARNs.
    pub region: String,
    /// Account id named in queue ARNs.
    pub account_id: String,
    /// Pre-written segment files kept ready in `<dir>/spare` by a background thread
    /// (`spare.rs`); 0 = none (every segment is created with fallocate).
    pub spare_segments: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            partition: PartitionConfig::default(),
            flusher: FlusherKind::Pwrite,
            partitions_per_queue: 1,
            region: spool_model::account::DEFAULT_REGION.into(),
            account_id: spool_model::account::DEFAULT_ACCOUNT_ID.into(),
            spare_segments: 0,
        }
    }
}

/// What [`Engine::open`] found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Queues opened.
    pub queues: usize,
    /// Each partition's recovery: queue name, partition number, report.
    pub partitions: Vec<(String, u16, RecoveryReport)>,
    /// Moves (dead-letter, redrive) that recovery finished.
    pub moves_finished: u64,
}

/// Every queue of one data directory (see the module doc). Single-threaded: one owner
/// calls it; a pipelined flush may be written on another thread ([`EngineFlush`]).
pub struct Engine {
    dir: PathBuf,
    cfg: EngineConfig,
    clock: Arc<dyn Clock>,
    key: ReceiptKey,
    flusher: Box<dyn Flusher>,
    queues: BTreeMap<String, Queue>,
    names: HashMap<u64, String>,
    deleted: HashMap<String, u64>,
    next_queue_id: u64,
    moves: Vec<PendingMove>,
    /// Deleted queues whose files a flush in progress still writes to.
    parked: Vec<Queue>,
    /// Body bytes staged by [`Engine::send`] since the last [`Engine::begin_flush`] that
    /// took something: lets a caller that flushes on a timer flush early instead of
    /// letting staged data pile up in memory.
    staged_bytes: usize,
    /// Damaged records counted by partitions that are gone (reopened or deleted), so
    /// that [`Engine::corrupt_records`] never goes down.
    corrupt_retired: u64,
    /// Receives of messages past maxReceiveCount whose dead-letter queue does not exist,
    /// by source queue, since the owner last took them (`moves.rs`).
    dlq_missing: BTreeMap<String, u64>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        // The spare pool's filler thread would otherwise finish the file it is writing
        // and then notice within a second; tell it now.
        if let Some(p) = &self.cfg.partition.spares {
            p.stop();
        }
    }
}

impl Engine {
    /// Opens (or creates) the data directory and recovers every queue.
    pub fn open(
        dir: &Path,
        cfg: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<(Engine, OpenReport)> {
        std::fs::create_dir_all(dir.join("queues"))?;
        let mut cfg = cfg;
        if cfg.spare_segments > 0 {
            cfg.partition.spares = Some(crate::spare::SparePool::start(
                &dir.join("spare"),
                cfg.partition.segment_bytes,
                cfg.spare_segments,
            )?);
        }
        let key = ReceiptKey::load_or_create(dir)?;
        let flusher = open_flusher(cfg.flusher)?;
        let catalog: Catalog = match std::fs::read(dir.join("catalog.json")) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| EngineError::Corrupt {
                path: dir.join("catalog.json").display().to_string(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Catalog {
                next_queue_id: 1,
                queues: Vec::new(),
            },
            Err(e) => return Err(e.into()),
        };
        let mut e = Engine {
            dir: dir.to_path_buf(),
            cfg,
            clock,
            key,
            flusher,
            queues: BTreeMap::new(),
            names: HashMap::new(),
            deleted: HashMap::new(),
            next_queue_id: catalog.next_queue_id.max(1),
            moves: Vec::new(),
            parked: Vec::new(),
            staged_bytes: 0,
            corrupt_retired: 0,
            dlq_missing: BTreeMap::new(),
        };
        let now = e.clock.now_ms();
        let mut report = OpenReport::default();
        for meta in catalog.queues {
            let mut parts = Vec::new();
            for p in 0..meta.partitions {
                let (part, rep) = Partition::open(
                    meta.id,
                    &e.partition_dir(meta.id, p),
                    p,
                    e.partition_cfg(meta.partitions),
                    crate::queue::params_for(&meta.attrs, false),
                    now,
                )?;
                report.partitions.push((meta.name.clone(), p, rep));
                parts.push(part);
            }
            e.names.insert(meta.id, meta.name.clone());
            e.queues.insert(
                meta.name.clone(),
                Queue {
                    meta,
                    partitions: parts,
                    rr: 0,
                    last_purge_ms: None,
                },
            );
        }
        report.queues = e.queues.len();
        e.refresh_params();
        // Finish moves that a crash interrupted: a moved record past its partition's
        // durable point whose source is still live.
        for (_, _, rep) in &report.partitions {
            for (_, o) in &rep.origins {
                if e.finish_origin(o) {
                    report.moves_finished += 1;
                }
            }
        }
        e.sync_index()?;
        Ok((e, report))
    }

    pub(super) fn partition_dir(&self, queue_id: u64, p: u16) -> PathBuf {
        self.dir
            .join("queues")
            .join(queue_id.to_string())
            .join(p.to_string())
    }

    pub(super) fn partition_cfg(&self, partitions: u16) -> PartitionConfig {
        let mut c = self.cfg.partition.clone();
        c.max_in_flight = (c.max_in_flight / partitions.max(1) as usize).max(1);
        c
    }

    /// The engine's clock, in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Name of the flusher [`Engine::flush`] uses ("pwrite" / "uring").
    pub fn flusher_name(&self) -> &'static str {
        self.flusher.name()
    }

    pub(super) fn partition(&self, queue: u64, p: u16) -> Option<&Partition> {
        let name = self.names.get(&queue)?;
        self.queues.get(name)?.partitions.get(p as usize)
    }

    pub(super) fn partition_mut(&mut self, queue: u64, p: u16) -> Option<&mut Partition> {
        let name = self.names.get(&queue)?;
        self.queues.get_mut(name)?.partitions.get_mut(p as usize)
    }

    pub(super) fn queue(&self, name: &str) -> Result<&Queue> {
        self.queues
            .get(name)
            .ok_or_else(|| EngineError::QueueDoesNotExist(name.to_string()))
    }

    pub(super) fn queue_mut(&mut self, name: &str) -> Result<&mut Queue> {
        self.queues
            .get_mut(name)
            .ok_or_else(|| EngineError::QueueDoesNotExist(name.to_string()))
    }

    /// Queue `name`, if it exists, to read (its name, attributes, partitions' sizes).
    pub fn queue_ref(&self, name: &str) -> Option<&Queue> {
        self.queues.get(name)
    }

    /// Queue `name`, mutably. Crate-private: its partitions' methods skip the engine's
    /// bookkeeping (moves, staged bytes, catalog); tests reach it through
    /// [`crate::testing::flush_partition_only`].
    pub(crate) fn queue_ref_mut(&mut self, name: &str) -> Option<&mut Queue> {
        self.queues.get_mut(name)
    }

    /// Runs timers of every partition (visibility expiry, delays).
    pub fn tick(&mut self) {
        let now = self.now_ms();
        for q in self.queues.values_mut() {
            for p in &mut q.partitions {
                p.tick(now);
            }
        }
    }

    /// Records found damaged when read back and skipped, over all partitions (see
    /// `Partition::corrupt_records`).
    pub fn corrupt_records(&self) -> u64 {
        self.corrupt_retired
            + self
                .queues
                .values()
                .flat_map(|q| q.partitions.iter())
                .map(super::partition::Partition::corrupt_records)
                .sum::<u64>()
    }

    /// Bytes of segment files on disk, over all queues.
    pub fn disk_bytes(&self) -> u64 {
        self.queues
            .values()
            .flat_map(|q| q.partitions.iter())
            .map(super::partition::Partition::disk_bytes)
            .sum()
    }

    /// Replaces the flusher that [`Engine::flush`] uses (tests wrap it in a faulty one).
    pub fn set_flusher(&mut self, flusher: Box<dyn Flusher>) {
        self.flusher = flusher;
    }
}
