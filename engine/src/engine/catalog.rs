//! The engine's catalog: which queues exist, their attributes and tags, and the SQS rules
//! of queue management (creation, deletion and name reuse, attributes, tags, purge).
//!
//! Promises: `catalog.json` is rewritten atomically after every change and an in-memory
//! change that could not be saved is undone; every partition's [`QueueParams`] follow its
//! queue's attributes (and whether its dead-letter queue exists).
//!
//! [`QueueParams`]: crate::partition::QueueParams

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Engine;
use crate::attrs::{queue_name_from_arn, validate_queue_name, QueueAttributes};
use crate::error::{DeadLetterTargetRefusal, EngineError, InvalidParameter, Result};
use crate::partition::{Counters, Partition};
use crate::queue::{Queue, QueueMeta};
use crate::recovery::write_atomic;

/// A deleted queue's name may not be reused for this long (SQS).
pub(crate) use spool_model::limits::QUEUE_DELETED_RECENTLY_MS as QUEUE_REUSE_DELAY_MS;

/// PurgeQueue at most once per this interval (SQS).
pub(crate) use spool_model::limits::PURGE_INTERVAL_MS;

use spool_model::attrs::names::REDRIVE_POLICY;
use spool_model::attrs::RedrivePolicy;
/// Most tags on one queue (SQS: 50).
pub(crate) use spool_model::limits::QUEUE_TAGS_MAX as MAX_QUEUE_TAGS;
use spool_model::limits::{TAG_KEY_MAX_CHARS, TAG_VALUE_MAX_CHARS};

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Catalog {
    pub(super) next_queue_id: u64,
    pub(super) queues: Vec<QueueMeta>,
}

impl Engine {
    pub(super) fn save_catalog(&self) -> Result<()> {
        let c = Catalog {
            next_queue_id: self.next_queue_id,
            queues: self.queues.values().map(|q| q.meta.clone()).collect(),
        };
        let body = serde_json::to_vec_pretty(&c).expect("catalog serializes");
        write_atomic(&self.dir, "catalog.json", &body)
    }

    /// Recomputes what each partition needs from its queue's attributes (retention,
    /// whether its dead-letter queue exists).
    pub(super) fn refresh_params(&mut self) {
        let names: Vec<String> = self.queues.keys().cloned().collect();
        for n in names {
            let dlq_exists = self.dlq_of(&n).is_some();
            let q = self.queues.get_mut(&n).expect("listed");
            let params = q.params(dlq_exists);
            for p in &mut q.partitions {
                p.set_params(params);
            }
        }
    }

    pub(super) fn dlq_of(&self, name: &str) -> Option<String> {
        let q = self.queues.get(name)?;
        let arn = &q.meta.attrs.redrive_policy.as_ref()?.dead_letter_target_arn;
        let dlq = queue_name_from_arn(arn)?;
        (dlq != name && self.queues.contains_key(dlq)).then(|| dlq.to_string())
    }

    /// The ARN of queue `name` in this engine's region and account.
    pub fn queue_arn(&self, name: &str) -> String {
        spool_model::arn::queue_arn(&self.cfg.region, &self.cfg.account_id, name)
    }

    /// CreateQueue: idempotent with the same attributes, an error with different ones.
    /// Returns true if the queue was created. A `RedrivePolicy` must name an existing
    /// dead-letter queue whose `RedriveAllowPolicy` allows this queue
    /// ([`EngineError::DeadLetterTarget`]).
    pub fn create_queue(
        &mut self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool> {
        self.create_queue_checked(name, attributes, tags, true)
    }

    /// [`Engine::create_queue`] of a queue decided elsewhere (a daemon's shards follow
    /// shard 0's catalog, see [`Engine::purge_queue_as_replica`]): its `RedrivePolicy` is
    /// not checked against this catalog, where its dead-letter queue may be gone or may
    /// refuse it since (a policy is checked only when it is set).
    pub fn create_queue_as_replica(
        &mut self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool> {
        self.create_queue_checked(name, attributes, tags, false)
    }

    fn create_queue_checked(
        &mut self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
        check_redrive: bool,
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
        if check_redrive {
            self.check_dead_letter_target(name, attributes, attrs.redrive_policy.as_ref())?;
        }
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

    /// DeleteQueue: its messages and files go at once (or when a flush still writing to
    /// them finishes); moves into or out of it are abandoned, their sources kept. The name
    /// may not be reused for 60 s (`QUEUE_REUSE_DELAY_MS`).
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
            .map(super::super::partition::Partition::corrupt_records)
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
        if q.partitions
            .iter()
            .any(super::super::partition::Partition::is_flushing)
        {
            // A pipelined flush still writes through this queue's file descriptors: keep
            // them open until it is finished.
            self.parked.push(q);
            return Ok(());
        }
        drop(q);
        std::fs::remove_dir_all(self.dir.join("queues").join(id.to_string()))?;
        Ok(())
    }

    /// Names of the queues that start with `prefix`, in order.
    pub fn list_queues(&self, prefix: &str) -> Vec<String> {
        self.queues
            .range(prefix.to_string()..)
            .take_while(|(n, _)| n.starts_with(prefix))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Whether queue `name` exists.
    pub fn queue_exists(&self, name: &str) -> bool {
        self.queues.contains_key(name)
    }

    /// The internal id of queue `name` (stable for its life, never reused).
    pub fn queue_id(&self, name: &str) -> Result<u64> {
        Ok(self.queue(name)?.meta.id)
    }

    /// The settable attributes of queue `name`.
    pub fn attributes(&self, name: &str) -> Result<&QueueAttributes> {
        Ok(&self.queue(name)?.meta.attrs)
    }

    /// All attributes, as GetQueueAttributes(All) reports them.
    pub fn get_queue_attributes(&mut self, name: &str) -> Result<BTreeMap<String, String>> {
        use spool_model::attrs::names;
        let c = self.counters(name)?;
        let arn = self.queue_arn(name);
        let q = self.queue(name)?;
        let mut m = q.meta.attrs.to_map();
        m.insert(
            names::APPROXIMATE_NUMBER_OF_MESSAGES.into(),
            c.ready.to_string(),
        );
        m.insert(
            names::APPROXIMATE_NUMBER_OF_MESSAGES_NOT_VISIBLE.into(),
            c.in_flight.to_string(),
        );
        m.insert(
            names::APPROXIMATE_NUMBER_OF_MESSAGES_DELAYED.into(),
            c.delayed.to_string(),
        );
        m.insert(
            names::CREATED_TIMESTAMP.into(),
            q.meta.created_s.to_string(),
        );
        m.insert(
            names::LAST_MODIFIED_TIMESTAMP.into(),
            q.meta.modified_s.to_string(),
        );
        m.insert(names::QUEUE_ARN.into(), arn);
        Ok(m)
    }

    /// SetQueueAttributes: all or nothing, persisted before it returns. A `RedrivePolicy`
    /// set here is checked as [`Engine::create_queue`] checks it.
    pub fn set_queue_attributes(
        &mut self,
        name: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.set_queue_attributes_checked(name, map, true)
    }

    /// [`Engine::set_queue_attributes`] decided elsewhere: the `RedrivePolicy` is not
    /// checked (see [`Engine::create_queue_as_replica`]).
    pub fn set_queue_attributes_as_replica(
        &mut self,
        name: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.set_queue_attributes_checked(name, map, false)
    }

    fn set_queue_attributes_checked(
        &mut self,
        name: &str,
        map: &BTreeMap<String, String>,
        check_redrive: bool,
    ) -> Result<()> {
        let now = self.now_ms();
        let new = self.queue(name)?.meta.attrs.apply_set(map)?;
        if check_redrive {
            self.check_dead_letter_target(name, map, new.redrive_policy.as_ref())?;
        }
        let q = self.queue_mut(name)?;
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
    /// at most 256 characters, at most 50 tags on a queue (`MAX_QUEUE_TAGS`).
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

    /// UntagQueue: removes the tags with these keys (absent keys are ignored).
    pub fn untag_queue(&mut self, name: &str, keys: &[String]) -> Result<()> {
        let q = self.queue_mut(name)?;
        for k in keys {
            q.meta.tags.remove(k);
        }
        self.save_catalog()
    }

    /// ListQueueTags.
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

    pub(super) fn purge_queue_checked(&mut self, name: &str, check_interval: bool) -> Result<()> {
        let now = self.now_ms();
        let q = self.queue_mut(name)?;
        if check_interval && q.last_purge_ms.is_some_and(|t| now < t + PURGE_INTERVAL_MS) {
            return Err(EngineError::PurgeQueueInProgress(name.to_string()));
        }
        for p in &mut q.partitions {
            p.purge()?;
        }
        q.last_purge_ms = Some(now);
        Ok(())
    }

    /// The rules of a `RedrivePolicy` that need the catalog, checked when a request
    /// (`request`, with the parsed `policy`) sets one on queue `source`: its dead-letter
    /// queue exists (same region and account) and its `RedriveAllowPolicy` allows
    /// `source`. A policy set earlier is not checked again when its dead-letter queue is
    /// deleted or changes its `RedriveAllowPolicy` later, as on SQS.
    fn check_dead_letter_target(
        &self,
        source: &str,
        request: &BTreeMap<String, String>,
        policy: Option<&RedrivePolicy>,
    ) -> Result<()> {
        let (Some(raw), Some(policy)) = (request.get(REDRIVE_POLICY), policy) else {
            return Ok(());
        };
        let refuse = |reason| EngineError::DeadLetterTarget {
            policy: raw.clone(),
            reason,
        };
        let arn = &policy.dead_letter_target_arn;
        let dlq = queue_name_from_arn(arn)
            .filter(|n| self.queue_arn(n) == *arn)
            .and_then(|n| self.queues.get(n))
            .ok_or_else(|| refuse(DeadLetterTargetRefusal::DoesNotExist))?;
        let source_arn = self.queue_arn(source);
        match &dlq.meta.attrs.redrive_allow_policy {
            Some(allow) if !allow.allows(&source_arn) => {
                Err(refuse(DeadLetterTargetRefusal::NotAllowed {
                    source_arn,
                    dlq_arn: arn.clone(),
                }))
            }
            _ => Ok(()),
        }
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

    /// Message counts of queue `name`, summed over its partitions, after running their
    /// timers.
    pub fn counters(&mut self, name: &str) -> Result<Counters> {
        let now = self.now_ms();
        let q = self.queue_mut(name)?;
        let mut c = Counters::default();
        for p in &mut q.partitions {
            p.tick(now);
            let pc = p.counters();
            c.ready += pc.ready;
            c.in_flight += pc.in_flight;
            c.delayed += pc.delayed;
        }
        Ok(c)
    }
}
