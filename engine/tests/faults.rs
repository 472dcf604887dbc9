//! The engine under injected I/O faults (feature `fault-injection`, enabled for this
//! crate's tests through its dev-dependency on itself): a write that fails (ENOSPC, EIO)
//! or an fdatasync that fails never lets the batch be acknowledged, the failed partition
//! refuses work until `Engine::recover_failed` reopens it from its durable state, the
//! failed batch is never delivered afterwards (not even though its bytes reached the page
//! cache), everything acknowledged before survives (also a restart), and sends succeed
//! again once the fault clears.
#![cfg(feature = "fault-injection")]

mod common;

use common::{body, T0};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use spool_engine::fault::{FaultPlan, FaultyFlusher};
use spool_engine::PartitionConfig;
use spool_engine::{Engine, EngineConfig, EngineError, ManualClock, PwriteFlusher};

fn cfg() -> EngineConfig {
    EngineConfig {
        partition: PartitionConfig {
            // Small segments, so batches roll into new ones and faults hit rolls too.
            segment_bytes: 64 << 10,
            segment_slots: 64,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn open(dir: &Path, clock: &ManualClock, plan: &Arc<FaultPlan>) -> Engine {
    let mut e = Engine::open(dir, cfg(), Arc::new(clock.clone())).unwrap().0;
    e.set_flusher(Box::new(FaultyFlusher::new(
        Box::new(PwriteFlusher),
        plan.clone(),
    )));
    e
}

/// The visibility timeout `drain` receives with: a message it received is in flight (across
/// reopens and restarts too) until the clock moves on by this much.
const DRAIN_VISIBILITY_MS: u64 = 3_600_000 + 1;

/// Receives everything visible (with a long visibility timeout), as body strings.
fn drain(e: &mut Engine, q: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    loop {
        let got = e.receive(q, 10, Some(3600)).unwrap();
        if got.is_empty() {
            return out;
        }
        for m in got {
            assert!(
                out.insert(String::from_utf8(m.body).unwrap()),
                "delivered twice"
            );
        }
    }
}

fn send_one(e: &mut Engine, q: &str, b: &str) -> Result<(), EngineError> {
    e.send(q, &[body(b)])?.pop().unwrap()?;
    Ok(())
}

#[test]
fn enospc_on_write_is_not_acknowledged_and_service_resumes() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let plan = FaultPlan::new();
    let mut e = open(d.path(), &clock, &plan);
    e.create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    send_one(&mut e, "q", "a").unwrap();
    assert_eq!(e.flush().unwrap(), 1);

    plan.fail_writes_after(0, libc::ENOSPC);
    send_one(&mut e, "q", "b").unwrap();
    let err = e.flush().unwrap_err();
    assert!(err.is_out_of_space(), "{err}");
    assert!(e.has_failed_partitions());
    // Failed: refuses sends (with the same kind of error) until reopened.
    let err = send_one(&mut e, "q", "c").unwrap_err();
    assert!(err.is_out_of_space(), "{err}");
    // A retry of the flush must not acknowledge "b".
    assert_eq!(e.flush().unwrap(), 0);

    // Reopen (needs no flusher I/O); the fault is still armed.
    assert_eq!(e.recover_failed().unwrap(), 1);
    assert!(!e.has_failed_partitions());
    assert_eq!(drain(&mut e, "q"), BTreeSet::from(["a".to_string()]));

    // Still full: refused again, then the space comes back.
    send_one(&mut e, "q", "d").unwrap();
    assert!(e.flush().unwrap_err().is_out_of_space());
    assert_eq!(e.recover_failed().unwrap(), 1);
    plan.clear();
    send_one(&mut e, "q", "e").unwrap();
    assert_eq!(e.flush().unwrap(), 1);
    // "a" was in flight when the partition was reopened the second time: as after a
    // crash, it stays in flight until its visibility timeout runs out, then is visible.
    assert_eq!(drain(&mut e, "q"), BTreeSet::from(["e".to_string()]));
    clock.advance_ms(DRAIN_VISIBILITY_MS);
    assert_eq!(
        drain(&mut e, "q"),
        BTreeSet::from(["a".to_string(), "e".to_string()])
    );
    assert_eq!(plan.counts().writes, 2);

    // After a restart and the visibility timeout: a and e (a is visible again: its
    // receive was not a delete).
    drop(e);
    let mut e = open(d.path(), &clock, &plan);
    clock.advance_ms(DRAIN_VISIBILITY_MS);
    assert_eq!(
        drain(&mut e, "q"),
        BTreeSet::from(["a".to_string(), "e".to_string()])
    );
}

#[test]
fn fsync_error_is_never_retried_into_an_acknowledgement() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let plan = FaultPlan::new();
    let mut e = open(d.path(), &clock, &plan);
    e.create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    send_one(&mut e, "q", "a").unwrap();
    e.flush().unwrap();

    // The write of "b" reaches the page cache; its fdatasync fails.
    plan.fail_sync(1, libc::EIO);
    send_one(&mut e, "q", "b").unwrap();
    let err = e.flush().unwrap_err();
    assert!(matches!(err, EngineError::Failed(_)), "{err}");
    assert!(!err.is_out_of_space());
    // The next fdatasync would succeed, but the engine does not try again and call the
    // batch durable: nothing is committed, nothing is visible.
    assert_eq!(e.flush().unwrap(), 0);
    assert!(matches!(
        e.receive("q", 10, None),
        Err(EngineError::Failed(_))
    ));

    // Reopened from the durable state: "b" was erased, not adopted from the page cache.
    assert_eq!(e.recover_failed().unwrap(), 1);
    assert_eq!(drain(&mut e, "q"), BTreeSet::from(["a".to_string()]));
    send_one(&mut e, "q", "c").unwrap();
    assert_eq!(e.flush().unwrap(), 1);
    assert_eq!(drain(&mut e, "q"), BTreeSet::from(["c".to_string()]));
    assert_eq!(plan.counts().syncs, 1);

    drop(e);
    let mut e = open(d.path(), &clock, &plan);
    clock.advance_ms(DRAIN_VISIBILITY_MS);
    assert_eq!(
        drain(&mut e, "q"),
        BTreeSet::from(["a".to_string(), "c".to_string()])
    );
}

/// Many batches, each with a fault at a different point (a write failing after some
/// bytes, or one of the syncs failing), across segment rolls: the acknowledged set is
/// exactly what is there afterwards, and after a restart.
#[test]
fn faults_at_every_point_keep_exactly_the_acknowledged_messages() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let plan = FaultPlan::new();
    let mut e = open(d.path(), &clock, &plan);
    e.create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let mut acked = BTreeSet::new();
    let mut faults = 0;
    let mut n = 0u32;
    for round in 0..120u64 {
        match round % 4 {
            0 => plan.fail_writes_after(round * 97 % 9000, libc::ENOSPC),
            1 => plan.fail_sync(1 + round % 3, libc::EIO),
            2 => plan.fail_writes_after(round * 31 % 3000, libc::EIO),
            _ => plan.clear(),
        }
        let mut batch = Vec::new();
        for _ in 0..=(round % 7) {
            let b = format!("m{n:05}-{}", "x".repeat((n as usize * 37) % 2000));
            n += 1;
            if send_one(&mut e, "q", &b).is_ok() {
                batch.push(b);
            }
        }
        match e.flush() {
            Ok(k) => {
                assert_eq!(k, batch.len());
                acked.extend(batch);
            }
            Err(_) => {
                faults += 1;
                plan.clear();
                e.recover_failed().unwrap();
            }
        }
        plan.clear();
    }
    assert!(faults >= 40, "only {faults} faults hit");
    assert!(acked.len() > 100, "only {} acked", acked.len());
    let got = drain(&mut e, "q");
    assert_eq!(got, acked);
    drop(e);
    let mut e = open(d.path(), &clock, &plan);
    clock.advance_ms(DRAIN_VISIBILITY_MS);
    assert_eq!(drain(&mut e, "q"), acked);
}
