//! Regression tests for moves between queues (dead-letter, redrive) found in review:
//! an interrupted `Engine::open` must not let a dead-letter copy be vouched for before its
//! source slot is released; compaction must keep a dead letter's source queue; deleting a
//! dead-letter queue with a move under way must give the message back to its source.
//! Also the dead-letter rules of issue 17: a RedrivePolicy needs an existing dead-letter
//! queue that allows the source, a dead letter keeps its receive count, redrive needs a
//! dead-letter queue, and a missing dead-letter queue is noted.

mod common;

use common::{body, copy_dir, map, T0};
use spool_engine::{open_flusher, FlusherKind};
use spool_engine::{Counters, Engine, EngineConfig, ManualClock, PartitionConfig};
use spool_engine::{DeadLetterTargetRefusal, EngineError, RedriveRefusal};
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

fn arn(name: &str) -> String {
    format!("arn:aws:sqs:us-east-1:000000000000:{name}")
}

fn none() -> BTreeMap<String, String> {
    BTreeMap::new()
}

/// An engine with queue "dlq" (RedriveAllowPolicy `allow`, if any) and plain queue "src".
fn with_dlq(dir: &Path, clock: &ManualClock, allow: Option<&str>) -> Engine {
    let mut e = open(dir, clock, 256).unwrap();
    let attrs = allow.map_or_else(none, |a| map(&[("RedriveAllowPolicy", a)]));
    e.create_queue("dlq", &attrs, &none()).unwrap();
    e.create_queue("src", &none(), &none()).unwrap();
    e
}

fn refusal(r: spool_engine::Result<impl std::fmt::Debug>) -> DeadLetterTargetRefusal {
    match r {
        Err(EngineError::DeadLetterTarget { reason, .. }) => reason,
        other => panic!("expected a DeadLetterTarget refusal, got {other:?}"),
    }
}

#[test]
fn redrive_policy_naming_a_missing_queue_is_refused_on_create_and_set() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = with_dlq(d.path(), &clock, None);
    let p = policy("nope", 3);
    let r = e.create_queue("src2", &map(&[("RedrivePolicy", &p)]), &none());
    assert_eq!(refusal(r), DeadLetterTargetRefusal::DoesNotExist);
    assert!(!e.queue_exists("src2"), "nothing created");
    let r = e.set_queue_attributes("src", &map(&[("RedrivePolicy", &p)]));
    assert_eq!(refusal(r), DeadLetterTargetRefusal::DoesNotExist);
    assert!(
        e.attributes("src").unwrap().redrive_policy.is_none(),
        "nothing set"
    );
    // Another account's queue of the same name does not exist here either.
    let other =
        r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq","maxReceiveCount":3}"#;
    let r = e.set_queue_attributes("src", &map(&[("RedrivePolicy", other)]));
    assert_eq!(refusal(r), DeadLetterTargetRefusal::DoesNotExist);
    // The existing queue is accepted.
    e.set_queue_attributes("src", &map(&[("RedrivePolicy", &policy("dlq", 3))]))
        .unwrap();
}

#[test]
fn a_replica_applies_a_redrive_policy_without_checking_it() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = with_dlq(d.path(), &clock, Some(r#"{"redrivePermission":"denyAll"}"#));
    let p = map(&[("RedrivePolicy", &policy("gone", 3))]);
    assert!(e.create_queue_as_replica("src2", &p, &none()).unwrap());
    let p = map(&[("RedrivePolicy", &policy("dlq", 3))]);
    e.set_queue_attributes_as_replica("src", &p).unwrap();
}

#[test]
fn redrive_allow_policy_deny_all_refuses_every_source() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = with_dlq(d.path(), &clock, Some(r#"{"redrivePermission":"denyAll"}"#));
    let p = map(&[("RedrivePolicy", &policy("dlq", 3))]);
    let r = e.set_queue_attributes("src", &p);
    assert_eq!(
        refusal(r),
        DeadLetterTargetRefusal::NotAllowed {
            source_arn: arn("src"),
            dlq_arn: arn("dlq"),
        }
    );
    assert!(refusal(e.create_queue("src2", &p, &none())) != DeadLetterTargetRefusal::DoesNotExist);
}

#[test]
fn redrive_allow_policy_by_queue_admits_only_the_listed_sources() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let allow = format!(
        r#"{{"redrivePermission":"byQueue","sourceQueueArns":["{}"]}}"#,
        arn("src")
    );
    let mut e = with_dlq(d.path(), &clock, Some(&allow));
    let p = map(&[("RedrivePolicy", &policy("dlq", 3))]);
    e.set_queue_attributes("src", &p).unwrap();
    let r = e.create_queue("other", &p, &none());
    assert!(matches!(
        refusal(r),
        DeadLetterTargetRefusal::NotAllowed { source_arn, .. } if source_arn == arn("other")
    ));
}

#[test]
fn redrive_allow_policy_allow_all_admits_any_source() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = with_dlq(
        d.path(),
        &clock,
        Some(r#"{"redrivePermission":"allowAll"}"#),
    );
    let p = map(&[("RedrivePolicy", &policy("dlq", 3))]);
    e.set_queue_attributes("src", &p).unwrap();
    assert!(e.create_queue("other", &p, &none()).unwrap());
}

/// "src" (maxReceiveCount 1 into "dlq") with message "m" received once and then moved to
/// "dlq" by the next receive (flushed).
fn dead_lettered(dir: &Path, clock: &ManualClock) -> Engine {
    let mut e = with_dlq(dir, clock, None);
    e.set_queue_attributes("src", &map(&[("RedrivePolicy", &policy("dlq", 1))]))
        .unwrap();
    e.send("src", &[body("m")]).unwrap();
    e.flush().unwrap();
    assert_eq!(e.receive("src", 1, Some(1)).unwrap()[0].receive_count, 1);
    clock.advance_ms(1000);
    assert!(e.receive("src", 1, Some(1)).unwrap().is_empty(), "moved");
    e.flush().unwrap();
    e
}

#[test]
fn a_dead_letter_keeps_its_receive_count_and_first_receive_time() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = dead_lettered(d.path(), &clock);
    clock.advance_ms(5_000);
    let got = e.receive("dlq", 10, Some(1)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].receive_count, 2, "one receive in src, one in dlq");
    assert_eq!(got[0].first_receive_ms, T0, "the first receive was in src");
}

#[test]
fn a_dead_letter_keeps_its_receive_count_across_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let e = dead_lettered(d.path(), &clock);
    drop(e);
    let mut e = open(d.path(), &clock, 256).unwrap();
    clock.advance_ms(5_000);
    let got = e.receive("dlq", 10, Some(1)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].receive_count, 2);
    assert_eq!(got[0].first_receive_ms, T0);
}

#[test]
fn a_redriven_message_starts_with_a_fresh_receive_count() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = dead_lettered(d.path(), &clock);
    assert_eq!(e.redrive("dlq", None, 10).unwrap(), 1);
    e.flush().unwrap();
    let back = e.receive("src", 10, Some(1)).unwrap();
    assert_eq!(bodies(&back), ["m"]);
    assert_eq!(back[0].receive_count, 1, "not dead-lettered again at once");
}

fn bodies(got: &[spool_engine::ReceivedMessage]) -> Vec<String> {
    got.iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect()
}

#[test]
fn redrive_from_a_queue_that_is_no_dead_letter_queue_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = with_dlq(d.path(), &clock, None);
    e.set_queue_attributes("src", &map(&[("RedrivePolicy", &policy("dlq", 3))]))
        .unwrap();
    e.create_queue("plain", &none(), &none()).unwrap();
    e.send("src", &[body("live")]).unwrap();
    e.send("plain", &[body("live")]).unwrap();
    e.flush().unwrap();
    for q in ["src", "plain"] {
        let r = e.redrive(q, None, 10);
        assert!(
            matches!(
                &r,
                Err(EngineError::RedriveNotAllowed(RedriveRefusal::NotADeadLetterQueue(n))) if n == q
            ),
            "{q}: {r:?}"
        );
        assert_eq!(e.counters(q).unwrap().ready, 1, "{q}: nothing moved");
    }
    assert_eq!(e.counters("dlq").unwrap().ready, 0);
    assert_eq!(
        e.redrive("dlq", None, 10).unwrap(),
        0,
        "a dead-letter queue may redrive"
    );
}

#[test]
fn a_message_past_max_receive_count_without_its_dlq_is_delivered_and_noted() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = with_dlq(d.path(), &clock, None);
    e.set_queue_attributes("src", &map(&[("RedrivePolicy", &policy("dlq", 1))]))
        .unwrap();
    e.delete_queue("dlq").unwrap();
    e.send("src", &[body("poison")]).unwrap();
    e.flush().unwrap();
    assert_eq!(e.receive("src", 1, Some(1)).unwrap().len(), 1);
    assert!(
        e.take_dead_letter_queue_missing().is_empty(),
        "within maxReceiveCount"
    );
    for n in 2..=3 {
        clock.advance_ms(1000);
        let got = e.receive("src", 1, Some(1)).unwrap();
        assert_eq!(got.len(), 1, "kept in its queue and delivered, as SQS does");
        assert_eq!(got[0].receive_count, n);
    }
    let noted = e.take_dead_letter_queue_missing();
    assert_eq!(
        noted.into_iter().collect::<Vec<_>>(),
        [("src".to_string(), 2)]
    );
    assert!(e.take_dead_letter_queue_missing().is_empty(), "taken once");
}
