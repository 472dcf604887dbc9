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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::attrs::{queue_name_from_arn, validate_queue_name, QueueAttributes};
use crate::clock::Clock;
use crate::error::{EngineError, InvalidHandle, InvalidParameter, RedriveRefusal, Result};
use crate::flusher::{open_flusher, Flusher, FlusherKind};
use crate::partition::{
    Counters, DeadLetter, DeleteOutcome, Delivered, NewMessage, Partition, PartitionConfig,
    PreparedFlush, RecoveryReport, Staged,
};
use crate::queue::{Queue, QueueMeta, SendRequest};
use crate::receipt::{ReceiptHandle, ReceiptKey};
use crate::record::{MessageAttribute, MessageId, Origin};
use crate::recovery::write_atomic;
use spool_model::limits::{TAG_KEY_MAX_CHARS, TAG_VALUE_MAX_CHARS, VISIBILITY_TIMEOUT_MAX_S};

/// In flight per queue (SQS allows about 120 000).
pub use spool_model::limits::IN_FLIGHT_MESSAGES_MAX as MAX_IN_FLIGHT_PER_QUEUE;
/// PurgeQueue at most once per this interval (SQS).
pub use spool_model::limits::PURGE_INTERVAL_MS;
/// A deleted queue's name may not be reused for this long (SQS).
pub use spool_model::limits::QUEUE_DELETED_RECENTLY_MS as QUEUE_REUSE_DELAY_MS;
/// Most tags on one queue (SQS: 50).
pub use spool_model::limits::QUEUE_TAGS_MAX as MAX_QUEUE_TAGS;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub partition: PartitionConfig,
    pub flusher: FlusherKind,
    /// Partitions of a new queue.
    pub partitions_per_queue: u16,
    pub region: String,
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
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            spare_segments: 0,
        }
    }
}

/// A message handed to a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: MessageId,
    pub receipt_handle: ReceiptHandle,
    pub body: Vec<u8>,
    pub attributes: Vec<MessageAttribute>,
    pub system_attributes: Vec<MessageAttribute>,
    pub receive_count: u32,
    pub sent_at_ms: u64,
    pub first_receive_ms: u64,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    /// FIFO sequence number.
    pub sequence_number: Option<u128>,
    /// Name of the queue this message was dead-lettered from, if it was.
    pub dead_letter_source: Option<String>,
}

/// What a send returns for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOutcome {
    pub message_id: MessageId,
    pub sequence_number: Option<u128>,
    /// Dropped as a duplicate within the deduplication window.
    pub duplicate: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    pub queues: usize,
    pub partitions: Vec<(String, u16, RecoveryReport)>,
    /// Moves (dead-letter, redrive) that recovery finished.
    pub moves_finished: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Catalog {
    next_queue_id: u64,
    queues: Vec<QueueMeta>,
}

/// A group commit in progress: the prepared flushes of every partition with work. It owns
/// its buffers, so it can be written on another thread (it is `Send`).
pub struct EngineFlush {
    parts: Vec<(u64, u16, PreparedFlush)>,
    /// The flush carries an index sync wave: on success every header advances.
    index_wave: bool,
}

impl EngineFlush {
    /// Performs the I/O with `flusher`: one result per partition, in order.
    pub fn run(&self, flusher: &mut dyn Flusher) -> Vec<std::io::Result<()>> {
        self.parts
            .iter()
            .map(|(_, _, p)| {
                let mut ops = Vec::with_capacity(2);
                let job = p.job(&mut ops);
                flusher.flush(&job)
            })
            .collect()
    }

    pub fn messages(&self) -> usize {
        self.parts.iter().map(|p| p.2.messages()).sum()
    }

    pub fn bytes(&self) -> usize {
        self.parts.iter().map(|p| p.2.bytes()).sum()
    }
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

#[derive(Debug, Clone, Copy)]
struct PendingMove {
    dest_queue: u64,
    dest_partition: u16,
    dest_seq: u64,
    src_queue: u64,
    src_partition: u16,
    src_seq: u64,
}

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
}

fn sequence_number(seq: u64, partition: u16) -> u128 {
    ((seq as u128) << 16) | partition as u128
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

    fn finish_origin(&mut self, o: &Origin) -> bool {
        let Some(name) = self.names.get(&o.queue_id) else {
            return false;
        };
        let Some(q) = self.queues.get_mut(name) else {
            return false;
        };
        let Some(p) = q.partitions.get_mut(o.partition as usize) else {
            return false;
        };
        match p.slot_of(o.seq) {
            Some((_, s)) if s.state.is_live() => {
                p.finish_move(o.seq);
                true
            }
            _ => false,
        }
    }

    fn partition_dir(&self, queue_id: u64, p: u16) -> PathBuf {
        self.dir
            .join("queues")
            .join(queue_id.to_string())
            .join(p.to_string())
    }

    fn partition_cfg(&self, partitions: u16) -> PartitionConfig {
        let mut c = self.cfg.partition.clone();
        c.max_in_flight = (c.max_in_flight / partitions.max(1) as usize).max(1);
        c
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    pub fn flusher_name(&self) -> &'static str {
        self.flusher.name()
    }

    fn save_catalog(&self) -> Result<()> {
        let c = Catalog {
            next_queue_id: self.next_queue_id,
            queues: self.queues.values().map(|q| q.meta.clone()).collect(),
        };
        let body = serde_json::to_vec_pretty(&c).expect("catalog serializes");
        write_atomic(&self.dir, "catalog.json", &body)
    }

    /// Recomputes what each partition needs from its queue's attributes (retention,
    /// whether its dead-letter queue exists).
    fn refresh_params(&mut self) {
        let names: Vec<String> = self.queues.keys().cloned().collect();
        for n in names {
            let dlq_exists = self.dlq_of(&n).is_some();
            let q = self.queues.get_mut(&n).expect("listed");
            let params = q.params(dlq_exists);
            for p in q.partitions.iter_mut() {
                p.set_params(params);
            }
        }
    }

    fn dlq_of(&self, name: &str) -> Option<String> {
        let q = self.queues.get(name)?;
        let arn = &q.meta.attrs.redrive_policy.as_ref()?.dead_letter_target_arn;
        let dlq = queue_name_from_arn(arn)?;
        (dlq != name && self.queues.contains_key(dlq)).then(|| dlq.to_string())
    }

    fn queue(&self, name: &str) -> Result<&Queue> {
        self.queues
            .get(name)
            .ok_or_else(|| EngineError::QueueDoesNotExist(name.to_string()))
    }

    fn queue_mut(&mut self, name: &str) -> Result<&mut Queue> {
        self.queues
            .get_mut(name)
            .ok_or_else(|| EngineError::QueueDoesNotExist(name.to_string()))
    }

    pub fn queue_arn(&self, name: &str) -> String {
        spool_model::arn::queue_arn(&self.cfg.region, &self.cfg.account_id, name)
    }

    // ----- queue management -------------------------------------------------------------

    /// CreateQueue: idempotent with the same attributes, an error with different ones.
    /// Returns true if the queue was created.
    pub fn create_queue(
        &mut self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool> {
        let now = self.now_ms();
        let fifo_name = spool_model::name::is_fifo_name(name);
        validate_queue_name(name, fifo_name)?;
        if let Some(q) = self.queues.get(name) {
            q.meta.attrs.check_same(attributes, name)?;
            return Ok(false);
        }
        if let Some(&at) = self.deleted.get(name) {
            if now < at + QUEUE_REUSE_DELAY_MS {
                return Err(EngineError::QueueDeletedRecently(name.to_string()));
            }
            self.deleted.remove(name);
        }
        let attrs = QueueAttributes::for_create(name, attributes)?;
        let params = crate::queue::params_for(&attrs, false);
        let id = self.next_queue_id;
        self.next_queue_id += 1;
        let n = self.cfg.partitions_per_queue.max(1);
        let meta = QueueMeta {
            id,
            name: name.to_string(),
            attrs,
            tags: tags.clone(),
            created_s: now / 1000,
            modified_s: now / 1000,
            partitions: n,
        };
        let mut parts = Vec::new();
        for p in 0..n {
            let (part, _) = Partition::open(
                id,
                &self.partition_dir(id, p),
                p,
                self.partition_cfg(n),
                params,
                now,
            )?;
            parts.push(part);
        }
        self.names.insert(id, name.to_string());
        self.queues.insert(
            name.to_string(),
            Queue {
                meta,
                partitions: parts,
                rr: 0,
                last_purge_ms: None,
            },
        );
        if let Err(e) = self.save_catalog() {
            self.queues.remove(name);
            return Err(e);
        }
        self.refresh_params();
        Ok(true)
    }

    pub fn delete_queue(&mut self, name: &str) -> Result<()> {
        let now = self.now_ms();
        let q = self
            .queues
            .remove(name)
            .ok_or_else(|| EngineError::QueueDoesNotExist(name.to_string()))?;
        self.save_catalog()?;
        let id = q.meta.id;
        self.names.remove(&id);
        self.corrupt_retired += q
            .partitions
            .iter()
            .map(|p| p.corrupt_records())
            .sum::<u64>();
        // Moves into the deleted queue will never complete: their sources go back.
        let (dead, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.moves)
            .into_iter()
            .partition(|m| m.dest_queue == id || m.src_queue == id);
        self.moves = keep;
        for m in dead.iter().filter(|m| m.src_queue != id) {
            if let Some(p) = self.partition_mut(m.src_queue, m.src_partition) {
                p.abort_move(m.src_seq);
            }
        }
        self.deleted.insert(name.to_string(), now);
        self.refresh_params();
        if q.partitions.iter().any(|p| p.is_flushing()) {
            // A pipelined flush still writes through this queue's file descriptors: keep
            // them open until it is finished.
            self.parked.push(q);
            return Ok(());
        }
        drop(q);
        std::fs::remove_dir_all(self.dir.join("queues").join(id.to_string()))?;
        Ok(())
    }

    pub fn list_queues(&self, prefix: &str) -> Vec<String> {
        self.queues
            .range(prefix.to_string()..)
            .take_while(|(n, _)| n.starts_with(prefix))
            .map(|(n, _)| n.clone())
            .collect()
    }

    pub fn queue_exists(&self, name: &str) -> bool {
        self.queues.contains_key(name)
    }

    pub fn queue_id(&self, name: &str) -> Result<u64> {
        Ok(self.queue(name)?.meta.id)
    }

    pub fn attributes(&self, name: &str) -> Result<&QueueAttributes> {
        Ok(&self.queue(name)?.meta.attrs)
    }

    /// All attributes, as GetQueueAttributes(All) reports them.
    pub fn get_queue_attributes(&mut self, name: &str) -> Result<BTreeMap<String, String>> {
        let c = self.counters(name)?;
        let arn = self.queue_arn(name);
        let q = self.queue(name)?;
        let mut m = q.meta.attrs.to_map();
        m.insert("ApproximateNumberOfMessages".into(), c.ready.to_string());
        m.insert(
            "ApproximateNumberOfMessagesNotVisible".into(),
            c.in_flight.to_string(),
        );
        m.insert(
            "ApproximateNumberOfMessagesDelayed".into(),
            c.delayed.to_string(),
        );
        m.insert("CreatedTimestamp".into(), q.meta.created_s.to_string());
        m.insert(
            "LastModifiedTimestamp".into(),
            q.meta.modified_s.to_string(),
        );
        m.insert("QueueArn".into(), arn);
        Ok(m)
    }

    pub fn set_queue_attributes(
        &mut self,
        name: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<()> {
        let now = self.now_ms();
        let q = self.queue_mut(name)?;
        let new = q.meta.attrs.apply_set(map)?;
        let old = std::mem::replace(&mut q.meta.attrs, new);
        q.meta.modified_s = now / 1000;
        if let Err(e) = self.save_catalog() {
            self.queue_mut(name)?.meta.attrs = old;
            return Err(e);
        }
        self.refresh_params();
        Ok(())
    }

    /// TagQueue: adds or replaces tags. SQS's limits hold: keys of 1–128 and values of
    /// at most 256 characters, at most [`MAX_QUEUE_TAGS`] tags on a queue.
    pub fn tag_queue(&mut self, name: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let q = self.queue_mut(name)?;
        for (k, v) in tags {
            let bad = if k.is_empty() || k.chars().count() > TAG_KEY_MAX_CHARS {
                Some(InvalidParameter::BadTagKey {
                    key: k.clone(),
                    max_chars: TAG_KEY_MAX_CHARS,
                })
            } else if v.chars().count() > TAG_VALUE_MAX_CHARS {
                Some(InvalidParameter::TagValueTooLong {
                    key: k.clone(),
                    max_chars: TAG_VALUE_MAX_CHARS,
                })
            } else {
                None
            };
            if let Some(reason) = bad {
                return Err(EngineError::invalid("Tags", reason));
            }
        }
        let after = q.meta.tags.len()
            + tags
                .keys()
                .filter(|k| !q.meta.tags.contains_key(*k))
                .count();
        if after > MAX_QUEUE_TAGS {
            return Err(EngineError::invalid(
                "Tags",
                InvalidParameter::TooManyTags {
                    max: MAX_QUEUE_TAGS,
                },
            ));
        }
        q.meta
            .tags
            .extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.save_catalog()
    }

    pub fn untag_queue(&mut self, name: &str, keys: &[String]) -> Result<()> {
        let q = self.queue_mut(name)?;
        for k in keys {
            q.meta.tags.remove(k);
        }
        self.save_catalog()
    }

    pub fn queue_tags(&self, name: &str) -> Result<BTreeMap<String, String>> {
        Ok(self.queue(name)?.meta.tags.clone())
    }

    /// PurgeQueue: deletes every message, at most once per 60 s.
    pub fn purge_queue(&mut self, name: &str) -> Result<()> {
        self.purge_queue_checked(name, true)
    }

    /// Replicas of a catalog decided elsewhere (the daemon's shards follow shard 0): the
    /// time-based rules (a purge per 60 s, no reuse of a deleted name for 60 s) were
    /// checked by the deciding engine against its own clock, and applying them again here
    /// could refuse a change the decider accepted. This purges without the 60 s rule.
    pub fn purge_queue_as_replica(&mut self, name: &str) -> Result<()> {
        self.purge_queue_checked(name, false)
    }

    /// Lets a replica recreate a queue deleted less than 60 s ago (see
    /// [`Engine::purge_queue_as_replica`]).
    pub fn forget_recent_deletion(&mut self, name: &str) {
        self.deleted.remove(name);
    }

    fn purge_queue_checked(&mut self, name: &str, check_interval: bool) -> Result<()> {
        let now = self.now_ms();
        let q = self.queue_mut(name)?;
        if check_interval && q.last_purge_ms.is_some_and(|t| now < t + PURGE_INTERVAL_MS) {
            return Err(EngineError::PurgeQueueInProgress(name.to_string()));
        }
        for p in q.partitions.iter_mut() {
            p.purge()?;
        }
        q.last_purge_ms = Some(now);
        Ok(())
    }

    /// Queues whose RedrivePolicy names `name` as their dead-letter queue.
    pub fn dead_letter_source_queues(&self, name: &str) -> Result<Vec<String>> {
        self.queue(name)?;
        Ok(self
            .queues
            .keys()
            .filter(|n| self.dlq_of(n).as_deref() == Some(name))
            .cloned()
            .collect())
    }

    pub fn counters(&mut self, name: &str) -> Result<Counters> {
        let now = self.now_ms();
        let q = self.queue_mut(name)?;
        let mut c = Counters::default();
        for p in q.partitions.iter_mut() {
            p.tick(now);
            let pc = p.counters();
            c.ready += pc.ready;
            c.in_flight += pc.in_flight;
            c.delayed += pc.delayed;
        }
        Ok(c)
    }

    // ----- messages ---------------------------------------------------------------------

    /// Stages a batch of sends. Each entry succeeds or fails on its own, like
    /// SendMessageBatch. Messages become visible, and may be acknowledged, after
    /// [`Engine::flush`].
    pub fn send(&mut self, name: &str, batch: &[SendRequest]) -> Result<Vec<Result<SendOutcome>>> {
        let now = self.now_ms();
        let q = self.queue_mut(name)?;
        let fifo = q.is_fifo();
        let mut out = Vec::with_capacity(batch.len());
        let mut staged = 0usize;
        for r in batch {
            let res = q.prepare(now, r).and_then(|(part, m)| {
                if let Some(key) = &m.dedup_key {
                    // Queue-scoped deduplication spans partitions: the first message with
                    // this id may belong to another group, hence another partition.
                    for (i, other) in q.partitions.iter_mut().enumerate() {
                        if i == part {
                            continue;
                        }
                        if let Some(hit) = other.dedup_mut().get(key, now) {
                            return Ok(SendOutcome {
                                message_id: hit.message_id,
                                sequence_number: fifo.then(|| sequence_number(hit.seq, i as u16)),
                                duplicate: true,
                            });
                        }
                    }
                }
                let p = &mut q.partitions[part];
                let s: Staged = p.stage(now, &m)?;
                staged += r.body.len();
                Ok(SendOutcome {
                    message_id: s.message_id,
                    sequence_number: fifo.then(|| sequence_number(s.seq, part as u16)),
                    duplicate: s.duplicate,
                })
            });
            out.push(res);
        }
        self.staged_bytes = self.staged_bytes.saturating_add(staged);
        Ok(out)
    }

    /// Body bytes sent since the last flush was taken (see the field's doc).
    pub fn staged_bytes(&self) -> usize {
        self.staged_bytes
    }

    /// Writes and syncs everything staged in every queue (group commit), then finishes
    /// dead-letter and redrive moves whose copies are now durable. Returns the number of
    /// messages committed.
    pub fn flush(&mut self) -> Result<usize> {
        let mut n = 0;
        // Twice when moves finished: the released source slots are synced at once, so a
        // moved message is never seen twice after a crash.
        for _ in 0..2 {
            let Some(f) = self.begin_flush() else {
                break;
            };
            let io = f.run(self.flusher.as_mut());
            let had_moves = !self.moves.is_empty();
            n += self.finish_flush(f, io)?;
            if !had_moves {
                break;
            }
        }
        Ok(n)
    }

    /// Takes out everything staged (and every index change awaiting sync) in every
    /// partition, for the caller to write on another thread or its own io_uring ring
    /// while it keeps staging: pipelined group commit. Hand the result to
    /// [`Engine::finish_flush`]. Returns None if nothing waits or a flush is still out.
    pub fn begin_flush(&mut self) -> Option<EngineFlush> {
        self.begin_flush_with_index(false)
    }

    /// [`Engine::begin_flush`] that also carries an index sync wave ([`Engine::sync_index`]
    /// done by the flusher instead of the caller): every index file with changes is synced
    /// with the logs, and when the flush succeeds the headers advance. Returns None if a
    /// flush is out anywhere (a wave must cover every partition).
    pub fn begin_flush_with_index(&mut self, index: bool) -> Option<EngineFlush> {
        if index
            && self
                .queues
                .values()
                .any(|q| q.partitions.iter().any(|p| p.is_flushing()))
        {
            return None;
        }
        let mut parts = Vec::new();
        for q in self.queues.values_mut() {
            for p in q.partitions.iter_mut() {
                if let Some(f) = p.prepare_flush_with_index(index) {
                    parts.push((q.meta.id, p.number(), f));
                }
            }
        }
        if parts.is_empty() {
            return None;
        }
        self.staged_bytes = 0;
        // A failed partition takes no part: then no header may advance.
        let index_wave = index
            && !self
                .queues
                .values()
                .any(|q| q.partitions.iter().any(|p| p.is_failed()));
        Some(EngineFlush { parts, index_wave })
    }

    /// Commits a flush taken with [`Engine::begin_flush`], given the result of
    /// [`EngineFlush::run`], and finishes moves whose copies it made durable. Returns the
    /// number of messages committed (acknowledge their senders now).
    pub fn finish_flush(&mut self, f: EngineFlush, io: Vec<std::io::Result<()>>) -> Result<usize> {
        let now = self.now_ms();
        let mut n = 0;
        let mut first_err = None;
        let index_wave = f.index_wave;
        for ((qid, pn, pf), res) in f.parts.into_iter().zip(io) {
            let Some(p) = self.partition_mut(qid, pn) else {
                continue;
            };
            match p.complete_flush(now, pf, res) {
                Ok(k) => n += k,
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        for q in std::mem::take(&mut self.parked) {
            let id = q.meta.id;
            drop(q);
            std::fs::remove_dir_all(self.dir.join("queues").join(id.to_string()))?;
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        if index_wave {
            // Phase two: every partition's index files were synced by this flush.
            for q in self.queues.values_mut() {
                for p in q.partitions.iter_mut() {
                    p.advance_headers();
                }
            }
        }
        if !self.moves.is_empty() {
            let moves = std::mem::take(&mut self.moves);
            let mut keep = Vec::new();
            for m in moves {
                let committed = self
                    .partition(m.dest_queue, m.dest_partition)
                    .is_some_and(|p| p.committed_seq > m.dest_seq);
                if !committed {
                    keep.push(m);
                    continue;
                }
                if let Some(src) = self.partition_mut(m.src_queue, m.src_partition) {
                    src.finish_move(m.src_seq);
                }
            }
            self.moves = keep;
        }
        Ok(n)
    }

    /// Whether a failed flush left some partition unusable (see
    /// [`Engine::recover_failed`]).
    pub fn has_failed_partitions(&self) -> bool {
        self.queues
            .values()
            .any(|q| q.partitions.iter().any(|p| p.is_failed()))
    }

    /// Reopens every partition that a failed flush left unusable, from its durable state.
    ///
    /// Why reopen and not retry: after a failed fdatasync the kernel may have dropped the
    /// dirty pages or marked them clean (the "fsyncgate" behaviour of Linux), so a second
    /// fdatasync can succeed without the data ever reaching the disk. PostgreSQL (since
    /// 12, `data_sync_retry = off`) PANICs and replays its WAL; Kafka takes the log
    /// directory offline and recovers it on restart. Spool does the same per partition,
    /// without restarting the process: the records of the failed batch, which no sender
    /// was told were stored, are erased (`Partition::discard_uncommitted`), and the
    /// partition is opened again by crash recovery, exactly as after a restart. So:
    /// * nothing acknowledged is lost (acknowledged records were synced before);
    /// * nothing unacknowledged is assumed durable, and no later append follows bytes of
    ///   unknown durability;
    /// * as after a crash, messages that were in flight in that partition become visible
    ///   again and their receipt handles go stale (the epoch is bumped); moves into or out
    ///   of it that had not committed are abandoned (the source message stays).
    ///
    /// A partition whose reopen fails (the disk is still full, the device still broken)
    /// stays failed and answers `Failed`/`OutOfSpace`; call again later. Returns how many
    /// partitions were reopened. Partitions with a flush out are left for the next call.
    pub fn recover_failed(&mut self) -> Result<usize> {
        let now = self.now_ms();
        let mut reopened = 0;
        let mut first_err = None;
        let failed: Vec<(String, usize)> = self
            .queues
            .iter()
            .flat_map(|(name, q)| {
                q.partitions
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.is_failed() && !p.is_flushing())
                    .map(move |(i, _)| (name.clone(), i))
            })
            .collect();
        for (name, i) in failed {
            let (qid, nparts) = {
                let q = &self.queues[&name];
                (q.meta.id, q.meta.partitions)
            };
            let cfg = self.partition_cfg(nparts);
            let q = self.queues.get_mut(&name).expect("listed");
            let dlq_exists = false; // refreshed below
            let params = q.params(dlq_exists);
            let old = &mut q.partitions[i];
            let dir = old.dir().to_path_buf();
            let number = old.number();
            let res = old.discard_uncommitted().and_then(|()| {
                Partition::open(qid, &dir, number, cfg, params, now).map(|(p, _)| p)
            });
            match res {
                Ok(p) => {
                    self.corrupt_retired += q.partitions[i].corrupt_records();
                    q.partitions[i] = p;
                    reopened += 1;
                    let (moves, keep): (Vec<_>, Vec<_>) =
                        std::mem::take(&mut self.moves).into_iter().partition(|m| {
                            (m.dest_queue, m.dest_partition) == (qid, number)
                                || (m.src_queue, m.src_partition) == (qid, number)
                        });
                    self.moves = keep;
                    for m in moves {
                        if (m.src_queue, m.src_partition) != (qid, number) {
                            if let Some(src) = self.partition_mut(m.src_queue, m.src_partition) {
                                src.abort_move(m.src_seq);
                            }
                        }
                    }
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if reopened > 0 {
            self.refresh_params();
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(reopened),
        }
    }

    /// Replaces the flusher that [`Engine::flush`] uses (tests wrap it in a faulty one).
    pub fn set_flusher(&mut self, flusher: Box<dyn Flusher>) {
        self.flusher = flusher;
    }

    fn partition(&self, queue: u64, p: u16) -> Option<&Partition> {
        let name = self.names.get(&queue)?;
        self.queues.get(name)?.partitions.get(p as usize)
    }

    fn partition_mut(&mut self, queue: u64, p: u16) -> Option<&mut Partition> {
        let name = self.names.get(&queue)?;
        self.queues.get_mut(name)?.partitions.get_mut(p as usize)
    }

    /// Syncs every index and advances durable points, in two phases across all
    /// partitions (see [`Partition::sync_index_files`]).
    pub fn sync_index(&mut self) -> Result<()> {
        let mut all_synced = true;
        for q in self.queues.values_mut() {
            for p in q.partitions.iter_mut() {
                all_synced &= p.sync_index_files()?;
            }
        }
        // A partition with a flush out could not sync: then no header may advance, since
        // another partition's header could vouch for a move whose source is unsynced.
        if all_synced {
            for q in self.queues.values_mut() {
                for p in q.partitions.iter_mut() {
                    p.advance_headers();
                }
            }
        }
        Ok(())
    }

    /// Runs timers of every partition (visibility expiry, delays).
    pub fn tick(&mut self) {
        let now = self.now_ms();
        for q in self.queues.values_mut() {
            for p in q.partitions.iter_mut() {
                p.tick(now);
            }
        }
    }

    /// Receives up to `max` messages. `visibility_s` overrides the queue's timeout.
    /// Messages past the queue's maxReceiveCount are moved to its dead-letter queue
    /// instead of being returned (they appear there after the next flush).
    pub fn receive(
        &mut self,
        name: &str,
        max: usize,
        visibility_s: Option<u32>,
    ) -> Result<Vec<ReceivedMessage>> {
        self.receive_within(name, max, visibility_s, usize::MAX)
    }

    /// [`Engine::receive`], stopping after the message that brings the total of
    /// [`Record::payload_len`](crate::record::Record::payload_len) to `max_bytes` or more,
    /// so a reply stays within a frame: at most `max_bytes` plus one message.
    pub fn receive_within(
        &mut self,
        name: &str,
        max: usize,
        visibility_s: Option<u32>,
        max_bytes: usize,
    ) -> Result<Vec<ReceivedMessage>> {
        let mut bytes_left = max_bytes;
        let now = self.now_ms();
        let dlq = self.dlq_of(name);
        let q = self.queue_mut(name)?;
        let vis = visibility_s.unwrap_or(q.meta.attrs.visibility_timeout_s) as u64 * 1000;
        if vis > crate::partition::MAX_VISIBILITY_MS {
            return Err(EngineError::invalid(
                "VisibilityTimeout",
                InvalidParameter::VisibilityTooLong {
                    timeout_s: vis / 1000,
                    max_s: VISIBILITY_TIMEOUT_MAX_S,
                },
            ));
        }
        let n = q.partitions.len();
        let start = q.rr % n;
        q.rr = q.rr.wrapping_add(1);
        // Sized up front: growing it would copy every delivered record again.
        let mut got: Vec<Delivered> = Vec::with_capacity(max.min(4096));
        let mut dead: Vec<(u16, DeadLetter)> = Vec::new();
        let mut over: Option<EngineError> = None;
        for k in 0..n {
            if got.len() >= max || bytes_left == 0 {
                break;
            }
            let p = &mut q.partitions[(start + k) % n];
            let mut d = Vec::new();
            match p.receive(now, max - got.len(), vis, &mut got, &mut d, &mut bytes_left) {
                Ok(()) => {}
                Err(e @ EngineError::OverLimit { .. }) => over = Some(e),
                Err(e) => return Err(e),
            }
            dead.extend(d.into_iter().map(|x| (p.number(), x)));
        }
        let qid = q.meta.id;
        let fifo = q.is_fifo();
        let key = self.key.clone();
        if !dead.is_empty() {
            self.move_dead_letters(name, qid, dlq.as_deref(), dead)?;
        }
        if got.is_empty() {
            if let Some(e) = over {
                return Err(e);
            }
        }
        let mut out = Vec::with_capacity(got.len());
        for d in got {
            let dead_letter_source = d
                .record
                .origin
                .as_ref()
                .filter(|o| self.dlq_of(&o.queue_name).as_deref() == Some(name))
                .map(|o| o.queue_name.clone());
            out.push(ReceivedMessage {
                message_id: d.record.message_id,
                receipt_handle: key.seal(qid, &d.receipt),
                receive_count: d.receive_count,
                sent_at_ms: d.record.sent_at_ms,
                first_receive_ms: d.first_receive_ms,
                sequence_number: fifo.then(|| sequence_number(d.record.seq, d.receipt.partition)),
                group_id: d.record.group_id,
                dedup_id: d.record.dedup_id,
                attributes: d.record.attributes,
                system_attributes: d.record.system_attributes,
                body: d.record.body,
                dead_letter_source,
            });
        }
        Ok(out)
    }

    /// Stages each dead letter into the dead-letter queue; the source slot is released
    /// when the copy is durable (in [`Engine::flush`]).
    fn move_dead_letters(
        &mut self,
        src_name: &str,
        src_id: u64,
        dlq: Option<&str>,
        dead: Vec<(u16, DeadLetter)>,
    ) -> Result<()> {
        let now = self.now_ms();
        for (sp, d) in dead {
            let staged = match dlq {
                Some(dlq) => self.stage_move(now, dlq, src_name, src_id, sp, &d),
                None => Err(EngineError::QueueDoesNotExist("dead-letter queue".into())),
            };
            self.track_move(staged, src_id, sp, d.seq);
        }
        Ok(())
    }

    /// After staging a move's copy: remember it, so the source slot is released once the
    /// copy is durable; or, if staging failed, put the source message back. Returns
    /// whether the move is under way.
    fn track_move(
        &mut self,
        staged: Result<(u64, u16, u64)>,
        src_queue: u64,
        src_partition: u16,
        src_seq: u64,
    ) -> bool {
        match staged {
            Ok((dest_queue, dest_partition, dest_seq)) => {
                self.moves.push(PendingMove {
                    dest_queue,
                    dest_partition,
                    dest_seq,
                    src_queue,
                    src_partition,
                    src_seq,
                });
                true
            }
            Err(_) => {
                if let Some(p) = self.partition_mut(src_queue, src_partition) {
                    p.abort_move(src_seq);
                }
                false
            }
        }
    }

    fn stage_move(
        &mut self,
        now: u64,
        dest: &str,
        src_name: &str,
        src_id: u64,
        src_partition: u16,
        d: &DeadLetter,
    ) -> Result<(u64, u16, u64)> {
        let q = self.queue_mut(dest)?;
        let part = match (&d.record.group_id, q.is_fifo()) {
            (Some(g), true) => q.partition_for_group(g),
            _ => {
                q.rr = q.rr.wrapping_add(1);
                q.rr % q.partitions.len()
            }
        };
        let m = NewMessage {
            body: &d.record.body,
            attributes: &d.record.attributes,
            system_attributes: &d.record.system_attributes,
            visible_at_ms: 0,
            group_id: d.record.group_id.as_deref(),
            dedup_id: d.record.dedup_id.as_deref().map(std::borrow::Cow::Borrowed),
            dedup_key: None,
            origin: Some(Origin {
                queue_id: src_id,
                partition: src_partition,
                seq: d.seq,
                queue_name: src_name.to_string(),
            }),
            message_id: Some(d.record.message_id),
            sent_at_ms: Some(d.record.sent_at_ms),
        };
        let qid = q.meta.id;
        let s = q.partitions[part].stage(now, &m)?;
        Ok((qid, part as u16, s.seq))
    }

    fn open_receipt(&self, q: &Queue, handle: &[u8]) -> Result<crate::receipt::Receipt> {
        let r = self
            .key
            .open(q.meta.id, handle)
            .map_err(|e| EngineError::ReceiptHandleIsInvalid(e.into()))?;
        if r.partition as usize >= q.partitions.len() {
            return Err(EngineError::ReceiptHandleIsInvalid(
                InvalidHandle::UnknownPartition,
            ));
        }
        Ok(r)
    }

    /// DeleteMessage. Durable after the next [`Engine::flush`].
    pub fn delete_message(&mut self, name: &str, handle: &[u8]) -> Result<DeleteOutcome> {
        let now = self.now_ms();
        let r = self.open_receipt(self.queue(name)?, handle)?;
        let q = self.queue_mut(name)?;
        q.partitions[r.partition as usize].delete(now, &r)
    }

    /// DeleteMessage for each handle (raw bytes, as they come off the wire), with one
    /// clock read and one queue lookup for the whole batch: the form the daemon uses.
    /// One result per handle, in order; the queue missing fails the whole call.
    pub fn delete_messages<H: AsRef<[u8]>>(
        &mut self,
        name: &str,
        handles: &[H],
    ) -> Result<Vec<Result<DeleteOutcome>>> {
        let now = self.now_ms();
        let key = &self.key;
        let q = self
            .queues
            .get_mut(name)
            .ok_or_else(|| EngineError::QueueDoesNotExist(name.to_string()))?;
        let qid = q.meta.id;
        Ok(handles
            .iter()
            .map(|h| {
                let r = key
                    .open(qid, h.as_ref())
                    .map_err(|e| EngineError::ReceiptHandleIsInvalid(e.into()))?;
                let p = q.partitions.get_mut(r.partition as usize).ok_or(
                    EngineError::ReceiptHandleIsInvalid(InvalidHandle::UnknownPartition),
                )?;
                p.delete(now, &r)
            })
            .collect())
    }

    /// ChangeMessageVisibility; 0 makes the message visible now.
    pub fn change_visibility(&mut self, name: &str, handle: &[u8], timeout_s: u32) -> Result<()> {
        let now = self.now_ms();
        let r = self.open_receipt(self.queue(name)?, handle)?;
        let q = self.queue_mut(name)?;
        q.partitions[r.partition as usize].change_visibility(now, &r, timeout_s as u64 * 1000)
    }

    /// Moves up to `max` messages from dead-letter queue `dlq` back to `dest`, or, when
    /// `dest` is None, to the queue each message came from. Durable and exactly once,
    /// like dead-letter moves. Returns how many were moved (they are visible at their
    /// destination after the next flush).
    pub fn redrive(&mut self, dlq: &str, dest: Option<&str>, max: usize) -> Result<usize> {
        let now = self.now_ms();
        if let Some(d) = dest {
            self.queue(d)?;
        }
        let q = self.queue_mut(dlq)?;
        let dlq_id = q.meta.id;
        let mut taken = Vec::new();
        for p in q.partitions.iter_mut() {
            if taken.len() >= max {
                break;
            }
            let t = p.take_for_move(now, max - taken.len())?;
            taken.extend(t.into_iter().map(|x| (p.number(), x)));
        }
        let mut moved = 0;
        for (sp, d) in taken {
            let target = match dest {
                Some(d) => Some(d.to_string()),
                None => d.record.origin.as_ref().map(|o| o.queue_name.clone()),
            };
            let staged = match target {
                Some(t) if self.queues.contains_key(&t) => {
                    self.stage_move(now, &t, dlq, dlq_id, sp, &d)
                }
                _ => Err(EngineError::RedriveNotAllowed(
                    RedriveRefusal::NoSourceQueue,
                )),
            };
            if self.track_move(staged, dlq_id, sp, d.seq) {
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// One bounded compaction step on every partition; copies are flushed. Returns the
    /// number of partitions where the step did something (0 = nothing left to do now).
    pub fn compact(&mut self, budget: usize) -> Result<usize> {
        // Emptied segments go only once an index sync vouches for them (compaction.rs).
        self.sync_index()?;
        let worked = self.compact_staged(budget)?;
        self.flush()?;
        Ok(worked)
    }

    /// [`Engine::compact`] without the flush: copies stay staged for the caller's next
    /// (pipelined) group commit. Does nothing while a pipelined flush is out.
    pub fn compact_staged(&mut self, budget: usize) -> Result<usize> {
        let now = self.now_ms();
        let mut worked = 0;
        for q in self.queues.values_mut() {
            for p in q.partitions.iter_mut() {
                if p.compact_step(now, budget)? != crate::compaction::CompactionStep::Idle {
                    worked += 1;
                }
            }
        }
        Ok(worked)
    }

    /// Records found damaged when read back and skipped, over all partitions (see
    /// [`Partition::corrupt_records`]).
    pub fn corrupt_records(&self) -> u64 {
        self.corrupt_retired
            + self
                .queues
                .values()
                .flat_map(|q| q.partitions.iter())
                .map(|p| p.corrupt_records())
                .sum::<u64>()
    }

    /// Bytes of segment files on disk, over all queues.
    pub fn disk_bytes(&self) -> u64 {
        self.queues
            .values()
            .flat_map(|q| q.partitions.iter())
            .map(|p| p.disk_bytes())
            .sum()
    }

    pub fn queue_ref(&self, name: &str) -> Option<&Queue> {
        self.queues.get(name)
    }

    pub fn queue_ref_mut(&mut self, name: &str) -> Option<&mut Queue> {
        self.queues.get_mut(name)
    }

    pub fn receipt_key(&self) -> &ReceiptKey {
        &self.key
    }
}
