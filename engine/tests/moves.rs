//! Regression tests for moves between queues (dead-letter, redrive) found in review:
//! an interrupted `Engine::open` must not let a dead-letter copy be vouched for before its
//! source slot is released; compaction must keep a dead letter's source queue; deleting a
//! dead-letter queue with a move under way must give the message back to its source.

mod common;

use common::{body, copy_dir, map, T0};
use spool_engine::{open_flusher, FlusherKind};
use spool_engine::{Counters, Engine, EngineConfig, ManualClock, PartitionConfig};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn cfg(slots: u32) -> EngineConfig {
    EngineConfig {
        partition: PartitionConfig {
            segment_bytes: 64 << 10,
            segment_slots: slots,
            ..Default::default()
        },
        ..Default::default()
    }
}
fn open(dir: &Path, c: &ManualClock, slots: u32) -> spool_engine::Result<Engine> {
    Engine::open(dir, cfg(slots), Arc::new(c.clone())).map(|x| x.0)
}
fn policy(dlq: &str, n: u32) -> String {
    format!(
        r#"{{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:{dlq}","maxReceiveCount":"{n}"}}"#
    )
}

#[test]
fn open_failure_midway_duplicates_dead_letter() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock, 256).unwrap();
    e.create_queue("adlq", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    e.create_queue(
        "bsrc",
        &map(&[("RedrivePolicy", &policy("adlq", 1))]),
        &BTreeMap::new(),
    )
    .unwrap();
    e.send("bsrc", &[body("m")]).unwrap();
    e.flush().unwrap();
    e.sync_index().unwrap();
    assert_eq!(e.receive("bsrc", 1, Some(1)).unwrap().len(), 1);
    clock.advance_ms(1000);
    assert!(e.receive("bsrc", 1, Some(1)).unwrap().is_empty()); // dead-lettered
    let f = e.begin_flush().unwrap();
    let mut fl = open_flusher(FlusherKind::Pwrite).unwrap();
    let io = f.run(fl.as_mut());
    assert!(io.iter().all(std::result::Result::is_ok));
    // crash here: copy durable in adlq, not committed, source not Moved
    let snap = tempfile::tempdir().unwrap();
    copy_dir(d.path(), snap.path());
    let control = tempfile::tempdir().unwrap();
    copy_dir(d.path(), control.path());
    drop(e);
    let src_id = 2; // bsrc
    let meta = snap
        .path()
        .join(format!("queues/{src_id}/0/partition.meta"));
    let orig = std::fs::read(&meta).unwrap();
    std::fs::write(&meta, b"{garbage").unwrap();
    assert!(
        open(snap.path(), &clock, 256).is_err(),
        "open must fail on bsrc"
    );
    std::fs::write(&meta, &orig).unwrap();
    clock.advance_ms(60_000);
    let count = |dir: &Path| {
        let mut e = open(dir, &clock, 256).unwrap();
        let b = e.receive("bsrc", 10, None).unwrap().len();
        e.flush().unwrap();
        let a = e.receive("adlq", 10, None).unwrap();
        let mut ids: Vec<_> = a.iter().map(|m| m.message_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(
            ids.len(),
            a.len(),
            "a message id twice in the dead-letter queue"
        );
        (a.len(), b)
    };
    let c = count(control.path());
    let s = count(snap.path());
    eprintln!("control (adlq, bsrc) = {c:?}; after failed open = {s:?}");
    assert_eq!(c.0 + c.1, 1);
    assert_eq!(s.0 + s.1, 1, "message duplicated");
}

#[test]
fn dlq_compaction_loses_origin_queue_name() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock, 4).unwrap();
    e.create_queue("dlq", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    e.create_queue(
        "src",
        &map(&[("RedrivePolicy", &policy("dlq", 1))]),
        &BTreeMap::new(),
    )
    .unwrap();
    let reqs: Vec<_> = (0..8).map(|i| body(&format!("m{i}"))).collect();
    e.send("src", &reqs).unwrap();
    e.flush().unwrap();
    assert_eq!(e.receive("src", 10, Some(1)).unwrap().len(), 8);
    clock.advance_ms(1000);
    assert!(e.receive("src", 10, Some(1)).unwrap().is_empty());
    e.flush().unwrap();
    let got = e.receive("dlq", 3, None).unwrap();
    assert_eq!(got.len(), 3);
    for m in &got {
        e.delete_message("dlq", &m.receipt_handle).unwrap();
    }
    e.flush().unwrap();
    assert!(
        e.compact(100).unwrap() > 0,
        "the sparse segment is compacted"
    );
    let moved = e.redrive("dlq", None, 100).unwrap();
    e.flush().unwrap();
    assert_eq!(e.counters("dlq").unwrap(), Counters::default());
    assert_eq!(
        moved, 5,
        "all 5 remaining dead letters should redrive to src"
    );
}

#[test]
fn delete_dlq_with_pending_move_hides_source_message() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock, 256).unwrap();
    e.create_queue("dlq", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    e.create_queue(
        "src",
        &map(&[("RedrivePolicy", &policy("dlq", 1))]),
        &BTreeMap::new(),
    )
    .unwrap();
    e.send("src", &[body("m")]).unwrap();
    e.flush().unwrap();
    assert_eq!(e.receive("src", 1, Some(1)).unwrap().len(), 1);
    clock.advance_ms(1000);
    assert!(e.receive("src", 1, Some(1)).unwrap().is_empty());
    e.delete_queue("dlq").unwrap();
    e.flush().unwrap();
    clock.advance_ms(60_000);
    assert_eq!(e.counters("src").unwrap().ready, 1);
    let got = e.receive("src", 10, None).unwrap().len();
    assert_eq!(got, 1, "message should be back in src");
}
