//! Making the shards' catalogs agree at startup. Shard 0 applies a catalog change (create,
//! delete, set attributes) first and then every other shard, so a crash in between leaves
//! shard 0 with the outcome and some shards without it; [`reconcile`] finishes the change
//! on those before any request is served.
//!
//! Promises: after `Ok`, every shard holds exactly shard 0's queues with shard 0's
//! settable attributes (a queue's `FifoQueue`, fixed at creation, is never changed; a
//! queue created here gets shard 0's tags too); an `Err` names the shard and the queue or
//! queues that could not be brought in line.

use std::collections::BTreeMap;

use spool_engine::attrs::READ_ONLY_ATTRIBUTE_NAMES;
use spool_engine::{Engine, EngineError};

use spool_model::attrs::names as queue_attr;

/// Why the shards' catalogs could not be made to agree at startup.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("shard {shard}: queue {queue}: {source}")]
    Queue {
        shard: usize,
        queue: String,
        source: EngineError,
    },
    #[error("shard {shard}: cannot recreate queues {queues:?}: {source}")]
    Recreate {
        shard: usize,
        queues: Vec<String>,
        /// Why the last of them could not be created.
        source: EngineError,
    },
}

/// The settable attributes and the tags of every queue, as a catalog holds them.
type Catalog = BTreeMap<String, (BTreeMap<String, String>, BTreeMap<String, String>)>;

/// Settable attributes of a queue (the catalog's part, without counts and timestamps).
fn settable(
    engine: &mut Engine,
    shard: usize,
    name: &str,
) -> Result<BTreeMap<String, String>, ReconcileError> {
    let all = engine
        .get_queue_attributes(name)
        .map_err(|source| queue_error(shard, name, source))?;
    Ok(all
        .into_iter()
        .filter(|(k, _)| !READ_ONLY_ATTRIBUTE_NAMES.contains(&k.as_str()))
        .collect())
}

fn queue_error(shard: usize, queue: &str, source: EngineError) -> ReconcileError {
    ReconcileError::Queue {
        shard,
        queue: queue.to_string(),
        source,
    }
}

/// Makes every shard's catalog match shard 0's. Shard 0 applies a catalog change first
/// and then every other shard, so after a crash in between shard 0 holds the outcome.
pub(super) fn reconcile(engines: &mut [Engine]) -> Result<(), ReconcileError> {
    let Some((first, rest)) = engines.split_first_mut() else {
        return Ok(());
    };
    let mut want = Catalog::new();
    for name in first.list_queues("") {
        let tags = first
            .queue_tags(&name)
            .map_err(|source| queue_error(0, &name, source))?;
        let attrs = settable(first, 0, &name)?;
        want.insert(name, (attrs, tags));
    }
    for (k, e) in rest.iter_mut().enumerate() {
        reconcile_shard(e, k + 1, &want)?;
    }
    Ok(())
}

/// Makes shard `shard`'s catalog `want`: deletes the queues it has too many, creates
/// those it lacks, and sets the attributes that differ.
fn reconcile_shard(e: &mut Engine, shard: usize, want: &Catalog) -> Result<(), ReconcileError> {
    for name in e.list_queues("") {
        if !want.contains_key(&name) {
            tracing::warn!(shard, queue = %name, "finishing an interrupted queue deletion");
            e.delete_queue(&name)
                .map_err(|source| queue_error(shard, &name, source))?;
        }
    }
    // Dead-letter queues may be named by others: create in passes until done.
    let mut pending: Vec<&String> = want.keys().filter(|n| !e.queue_exists(n)).collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut last_err = None;
        pending.retain(|name| {
            let (attrs, tags) = &want[*name];
            match e.create_queue_as_replica(name, attrs, tags) {
                Ok(_) => {
                    tracing::warn!(shard, queue = %name, "finishing an interrupted queue creation");
                    false
                }
                Err(err) => {
                    last_err = Some(err);
                    true
                }
            }
        });
        if pending.len() == before {
            // No progress: every create of this pass failed, so there is a last error.
            debug_assert!(last_err.is_some(), "a pass without progress had no error");
            let Some(source) = last_err else { break };
            return Err(ReconcileError::Recreate {
                shard,
                queues: pending.into_iter().cloned().collect(),
                source,
            });
        }
    }
    for (name, (attrs, _)) in want {
        let have = settable(e, shard, name)?;
        let differ: BTreeMap<String, String> = attrs
            .iter()
            .filter(|(k, v)| have.get(*k) != Some(*v) && k.as_str() != queue_attr::FIFO_QUEUE)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !differ.is_empty() {
            tracing::warn!(shard, queue = %name, "finishing an interrupted attribute change");
            e.set_queue_attributes_as_replica(name, &differ)
                .map_err(|source| queue_error(shard, name, source))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use spool_engine::PartitionConfig;
    use spool_engine::{EngineConfig, SystemClock};

    use super::*;

    fn open(dir: &std::path::Path) -> Engine {
        let cfg = EngineConfig {
            partition: PartitionConfig {
                segment_bytes: 1 << 20,
                segment_slots: 1024,
                sync: false,
                direct_io: false,
                ..PartitionConfig::default()
            },
            ..EngineConfig::default()
        };
        Engine::open(dir, cfg, Arc::new(SystemClock)).unwrap().0
    }

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn shards_are_brought_to_shard_0s_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let mut engines: Vec<Engine> = (0..2)
            .map(|i| open(&dir.path().join(format!("shard-{i}"))))
            .collect();
        let none = BTreeMap::new();
        // Shard 0 finished a create (of a queue naming a dead-letter queue created after
        // it), an attribute change and a delete that shard 1 did not.
        let dlq = attrs(&[("VisibilityTimeout", "40")]);
        engines[0].create_queue("zdlq", &dlq, &none).unwrap();
        let redrive = attrs(&[(
            "RedrivePolicy",
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:zdlq","maxReceiveCount":"3"}"#,
        )]);
        let tags = attrs(&[("team", "a")]);
        engines[0].create_queue("src", &redrive, &tags).unwrap();
        engines[0]
            .create_queue("kept", &attrs(&[("DelaySeconds", "5")]), &none)
            .unwrap();
        engines[1].create_queue("kept", &none, &none).unwrap();
        engines[1].create_queue("gone", &none, &none).unwrap();

        reconcile(&mut engines).unwrap();
        let (first, rest) = engines.split_first_mut().unwrap();
        let second = &mut rest[0];
        assert_eq!(second.list_queues(""), first.list_queues(""));
        for name in ["zdlq", "src", "kept"] {
            assert_eq!(
                settable(second, 1, name).unwrap(),
                settable(first, 0, name).unwrap(),
                "{name}"
            );
        }
        assert_eq!(second.queue_tags("src").unwrap(), tags);
    }
}
