//! A restart is invisible (issue 17, acceptance point 3, engine side): a message received
//! before a crash stays in flight until its visibility deadline, keeps its receive count
//! and first-receive time, and the handle of that receive still deletes it; the same for
//! a message compaction copied forward; and a receive a crash lost never hands out a
//! handle equal to the lost one.
//!
//! The crash here is the harshest a power failure can leave: the engine is dropped without
//! a clean close, and every index file is put back to what the last index sync wrote, so
//! only the log's journal (state and deletion markers) carries what happened since.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::copy_dir;
use spool_engine::{DeleteOutcome, Engine, EngineConfig, ManualClock, PartitionConfig};

const T0: u64 = 1_800_000_000_000;
const Q: &str = "restart";
const VIS_S: u32 = 30;

fn cfg() -> EngineConfig {
    EngineConfig {
        partition: PartitionConfig {
            segment_bytes: 64 << 10,
            segment_slots: 256,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn open(dir: &Path, clock: &ManualClock) -> Engine {
    Engine::open(dir, cfg(), Arc::new(clock.clone())).unwrap().0
}

fn fresh(clock: &ManualClock) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let mut e = open(dir.path(), clock);
    e.create_queue(Q, &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    (dir, e)
}

fn send_n(e: &mut Engine, n: usize) {
    let reqs: Vec<_> = (0..n)
        .map(|i| common::body(&format!("m{i:04}-{}", "x".repeat(100))))
        .collect();
    for chunk in reqs.chunks(10) {
        for r in e.send(Q, chunk).unwrap() {
            r.unwrap();
        }
        e.flush().unwrap();
    }
}

fn part_dir(dir: &Path, e: &Engine) -> PathBuf {
    let qid = e.queue_id(Q).unwrap();
    dir.join("queues").join(qid.to_string()).join("0")
}

/// The index files of a partition, as they are on disk now.
fn index_images(part: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(part).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "idx") {
            let bytes = std::fs::read(&p).unwrap();
            out.push((p, bytes));
        }
    }
    out
}

/// A crash: `e` is dropped without a clean close, and the data directory is copied with
/// every index file as it was in `images` (the last index sync). Returns the new copy.
fn crash(dir: &Path, e: Engine, images: &[(PathBuf, Vec<u8>)]) -> tempfile::TempDir {
    drop(e);
    let crashed = tempfile::tempdir().unwrap();
    copy_dir(dir, crashed.path());
    for (p, bytes) in images {
        let rel = p.strip_prefix(dir).unwrap();
        std::fs::write(crashed.path().join(rel), bytes).unwrap();
    }
    crashed
}

#[test]
fn a_received_message_stays_in_flight_until_its_deadline_across_a_crash_and_its_handle_deletes_it()
{
    let clock = ManualClock::new(T0);
    let (dir, mut e) = fresh(&clock);
    send_n(&mut e, 3);
    e.sync_index().unwrap();
    let images = index_images(&part_dir(dir.path(), &e));
    clock.advance_ms(1_000);
    let got = e.receive(Q, 1, Some(VIS_S)).unwrap();
    assert_eq!(got.len(), 1);
    let received = got[0].clone();
    // Acknowledged (in `sync` durability) once this flush journaled the receive.
    e.flush().unwrap();

    let crashed = crash(dir.path(), e, &images);
    clock.advance_ms(20_000);
    let mut e = open(crashed.path(), &clock);
    assert_eq!(e.counters(Q).unwrap().in_flight, 1);
    let others = e.receive(Q, 10, Some(VIS_S)).unwrap();
    assert_eq!(others.len(), 2, "the two never received are visible");
    assert!(others.iter().all(|m| m.body != received.body));
    clock.advance_ms(9_000);
    assert!(
        e.receive(Q, 10, Some(VIS_S)).unwrap().is_empty(),
        "still in flight 1 s before its deadline"
    );
    assert_eq!(
        e.delete_message(Q, &received.receipt_handle).unwrap(),
        DeleteOutcome::Deleted,
        "the handle from before the crash deletes"
    );
    clock.advance_ms(3_600_000);
    let left: Vec<_> = e.receive(Q, 10, Some(VIS_S)).unwrap();
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|m| m.body != received.body), "deleted");
}

#[test]
fn receive_count_and_first_receive_time_survive_a_crash() {
    let clock = ManualClock::new(T0);
    let (dir, mut e) = fresh(&clock);
    send_n(&mut e, 1);
    e.sync_index().unwrap();
    let images = index_images(&part_dir(dir.path(), &e));
    clock.advance_ms(1_000);
    let first = e.receive(Q, 1, Some(VIS_S)).unwrap().remove(0);
    assert_eq!(first.receive_count, 1);
    e.flush().unwrap();

    let crashed = crash(dir.path(), e, &images);
    let mut e = open(crashed.path(), &clock);
    clock.advance_ms(u64::from(VIS_S) * 1000);
    let again = e.receive(Q, 1, Some(VIS_S)).unwrap();
    assert_eq!(again.len(), 1, "visible once its deadline passed");
    assert_eq!(again[0].body, first.body);
    assert_eq!(again[0].receive_count, 2);
    assert_eq!(again[0].first_receive_ms, first.first_receive_ms);
    assert_eq!(first.first_receive_ms, T0 + 1_000);
}

#[test]
fn a_visibility_change_survives_a_crash() {
    let clock = ManualClock::new(T0);
    let (dir, mut e) = fresh(&clock);
    send_n(&mut e, 1);
    e.sync_index().unwrap();
    let images = index_images(&part_dir(dir.path(), &e));
    let m = e.receive(Q, 1, Some(5)).unwrap().remove(0);
    e.flush().unwrap();
    e.change_visibility(Q, &m.receipt_handle, 600).unwrap();
    e.flush().unwrap();

    let crashed = crash(dir.path(), e, &images);
    clock.advance_ms(60_000);
    let mut e = open(crashed.path(), &clock);
    assert!(
        e.receive(Q, 1, Some(VIS_S)).unwrap().is_empty(),
        "hidden for the changed 600 s, not the received 5 s"
    );
    e.change_visibility(Q, &m.receipt_handle, 0).unwrap();
    let back = e.receive(Q, 1, Some(VIS_S)).unwrap();
    assert_eq!(back.len(), 1, "the pre-crash handle changed its visibility");
}

#[test]
fn the_handle_of_a_message_compaction_copied_forward_deletes_it_after_a_restart() {
    let clock = ManualClock::new(T0);
    let (dir, mut e) = fresh(&clock);
    // 300 messages: segment 0 holds the first 256.
    send_n(&mut e, 300);
    let got = {
        let mut all = Vec::new();
        loop {
            let g = e.receive(Q, 10, Some(VIS_S)).unwrap();
            if g.is_empty() {
                break all;
            }
            all.extend(g);
        }
    };
    assert_eq!(got.len(), 300);
    // Everything in segment 0 is deleted but message 7, whose visibility then runs out.
    let keep = &got[7];
    for m in got.iter().take(256).filter(|m| m.body != keep.body) {
        e.delete_message(Q, &m.receipt_handle).unwrap();
    }
    e.flush().unwrap();
    clock.advance_ms(u64::from(VIS_S) * 1000 + 1);
    e.tick();
    // Compaction copies it forward, then removes segment 0.
    for _ in 0..4 {
        e.compact(64).unwrap();
    }
    let part = part_dir(dir.path(), &e);
    assert!(
        !part.join(format!("{:020}.log", 0)).exists(),
        "segment 0 was removed"
    );

    drop(e);
    let mut e = open(dir.path(), &clock);
    e.change_visibility(Q, &keep.receipt_handle, 300).unwrap();
    assert_eq!(
        e.delete_message(Q, &keep.receipt_handle).unwrap(),
        DeleteOutcome::Deleted,
        "the handle issued before the copy deletes the copy"
    );
    let rest = e.receive(Q, 10, Some(VIS_S)).unwrap();
    assert!(rest.iter().all(|m| m.body != keep.body));
}

#[test]
fn the_handle_of_a_copied_message_works_after_a_crash_that_lost_the_index() {
    let clock = ManualClock::new(T0);
    let (dir, mut e) = fresh(&clock);
    send_n(&mut e, 300);
    let mut got = Vec::new();
    loop {
        let g = e.receive(Q, 10, Some(VIS_S)).unwrap();
        if g.is_empty() {
            break;
        }
        got.extend(g);
    }
    let keep = got[7].clone();
    for m in got.iter().take(256).filter(|m| m.body != keep.body) {
        e.delete_message(Q, &m.receipt_handle).unwrap();
    }
    e.flush().unwrap();
    clock.advance_ms(u64::from(VIS_S) * 1000 + 1);
    e.tick();
    e.sync_index().unwrap();
    let part = part_dir(dir.path(), &e);
    let images = index_images(&part);
    let log_bytes = |p: &Path| std::fs::read(p.join(format!("{:020}.log", 256))).unwrap();
    let before = log_bytes(&part);
    // One step: the copy is staged and flushed with its state marker; segment 0 stays.
    e.compact(64).unwrap();
    assert_ne!(log_bytes(&part), before, "the copy was written");

    let crashed = crash(dir.path(), e, &images);
    let mut e = open(crashed.path(), &clock);
    assert_eq!(
        e.delete_message(Q, &keep.receipt_handle).unwrap(),
        DeleteOutcome::Deleted
    );
    clock.advance_ms(3_600_000);
    let mut bodies = Vec::new();
    loop {
        let g = e.receive(Q, 10, Some(VIS_S)).unwrap();
        if g.is_empty() {
            break;
        }
        bodies.extend(g.into_iter().map(|m| m.body));
    }
    assert_eq!(bodies.len(), 300 - 256, "segment 1's messages, once each");
    assert!(!bodies.contains(&keep.body));
}

/// `batch`/`none` durability: a receive can be lost in a crash (its journal never reached
/// the log, its index slot never reached the disk). Its handle must not come back: the
/// next receive of the message gets a new one, and the lost one deletes nothing.
#[test]
fn a_receive_lost_in_a_crash_never_hands_out_its_handle_again() {
    let clock = ManualClock::new(T0);
    let (dir, mut e) = fresh(&clock);
    send_n(&mut e, 1);
    e.sync_index().unwrap();
    let images = index_images(&part_dir(dir.path(), &e));
    let lost = e.receive(Q, 1, Some(VIS_S)).unwrap().remove(0);
    // No flush: the crash loses the receive.

    let crashed = crash(dir.path(), e, &images);
    let mut e = open(crashed.path(), &clock);
    let again = e.receive(Q, 1, Some(VIS_S)).unwrap().remove(0);
    assert_eq!(again.body, lost.body);
    assert_ne!(again.receipt_handle, lost.receipt_handle);
    assert_eq!(
        e.delete_message(Q, &lost.receipt_handle).unwrap(),
        DeleteOutcome::Stale
    );
    assert_eq!(
        e.delete_message(Q, &again.receipt_handle).unwrap(),
        DeleteOutcome::Deleted
    );
}

#[test]
fn a_fifo_group_stays_locked_by_its_message_in_flight_across_a_crash() {
    const QF: &str = "restart.fifo";
    let clock = ManualClock::new(T0);
    let dir = tempfile::tempdir().unwrap();
    let mut e = open(dir.path(), &clock);
    let attrs = BTreeMap::from([("FifoQueue".to_string(), "true".to_string())]);
    e.create_queue(QF, &attrs, &BTreeMap::new()).unwrap();
    let reqs: Vec<_> = ["g1-m1", "g1-m2"]
        .iter()
        .map(|b| spool_engine::SendRequest {
            body: b.as_bytes().to_vec(),
            group_id: Some("g1".into()),
            dedup_id: Some((*b).to_string()),
            ..Default::default()
        })
        .collect();
    for r in e.send(QF, &reqs).unwrap() {
        r.unwrap();
    }
    e.flush().unwrap();
    e.sync_index().unwrap();
    let qid = e.queue_id(QF).unwrap();
    let part = dir.path().join("queues").join(qid.to_string()).join("0");
    let images = index_images(&part);
    let first = e.receive(QF, 1, Some(VIS_S)).unwrap().remove(0);
    assert_eq!(first.body, b"g1-m1");
    e.flush().unwrap();

    let crashed = crash(dir.path(), e, &images);
    let mut e = open(crashed.path(), &clock);
    assert!(
        e.receive(QF, 10, Some(VIS_S)).unwrap().is_empty(),
        "g1-m2 waits while g1-m1 is in flight"
    );
    assert_eq!(
        e.delete_message(QF, &first.receipt_handle).unwrap(),
        DeleteOutcome::Deleted
    );
    let next = e.receive(QF, 10, Some(VIS_S)).unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].body, b"g1-m2");
}
