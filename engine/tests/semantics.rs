//! End-to-end behaviour of the engine against the SQS rules it promises: visibility,
//! receipt handles, dead-letter queues and redrive, FIFO order and deduplication, delays,
//! retention, purge, limits and bad input. Time is driven by a ManualClock.

mod common;

use common::{body, map, T0};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use spool_engine::{
    AttributeValue, DeleteOutcome, Engine, EngineConfig, EngineError, FlusherKind, ManualClock,
    MessageAttribute, SendRequest,
};
use spool_engine::{Counters, PartitionConfig};

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

fn fifo_msg(s: &str, group: &str) -> SendRequest {
    SendRequest {
        body: s.as_bytes().to_vec(),
        group_id: Some(group.into()),
        ..Default::default()
    }
}

fn send_all(e: &mut Engine, q: &str, bodies: &[SendRequest]) {
    for r in e.send(q, bodies).unwrap() {
        r.unwrap();
    }
    e.flush().unwrap();
}

fn bodies(ms: &[spool_engine::ReceivedMessage]) -> Vec<String> {
    ms.iter()
        .map(|m| String::from_utf8(m.body.clone()).unwrap())
        .collect()
}

#[test]
fn send_is_visible_only_after_flush_and_redelivered_after_visibility_timeout() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    e.create_queue("q", &map(&[("VisibilityTimeout", "30")]), &BTreeMap::new())
        .unwrap();
    let out = e.send("q", &[body("a")]).unwrap();
    let id = out[0].as_ref().unwrap().message_id;
    assert!(
        e.receive("q", 10, None).unwrap().is_empty(),
        "staged is invisible"
    );
    e.flush().unwrap();
    let got = e.receive("q", 10, None).unwrap();
    assert_eq!(bodies(&got), ["a"]);
    assert_eq!(got[0].message_id, id);
    assert_eq!(got[0].receive_count, 1);
    assert_eq!(got[0].sent_at_ms, T0);
    assert_eq!(got[0].first_receive_ms, T0);
    let c = e.counters("q").unwrap();
    assert_eq!((c.ready, c.in_flight), (0, 1));
    clock.advance_ms(29_999);
    assert!(e.receive("q", 10, None).unwrap().is_empty());
    clock.advance_ms(1);
    let again = e.receive("q", 10, None).unwrap();
    assert_eq!(bodies(&again), ["a"]);
    assert_eq!(again[0].receive_count, 2);
    assert_eq!(again[0].first_receive_ms, T0);
    assert_ne!(again[0].receipt_handle, got[0].receipt_handle);
    // The first handle is stale: succeeds, deletes nothing.
    assert_eq!(
        e.delete_message("q", &got[0].receipt_handle).unwrap(),
        DeleteOutcome::Stale
    );
    assert_eq!(e.counters("q").unwrap().in_flight, 1);
    assert_eq!(
        e.delete_message("q", &again[0].receipt_handle).unwrap(),
        DeleteOutcome::Deleted
    );
    e.flush().unwrap();
    clock.advance_ms(3_600_000);
    assert!(e.receive("q", 10, None).unwrap().is_empty());
    assert_eq!(e.counters("q").unwrap(), Counters::default());
}

#[test]
fn change_visibility_makes_visible_at_once_or_extends_and_refuses_past_12_hours() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    e.create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    send_all(&mut e, "q", &[body("a"), body("b")]);
    let got = e.receive("q", 1, Some(100)).unwrap();
    let h = got[0].receipt_handle;
    e.change_visibility("q", &h, 0).unwrap();
    let got2 = e.receive("q", 2, Some(100)).unwrap();
    assert_eq!(got2.len(), 2, "visibility 0 made it visible at once");
    // Extend one, let the other expire.
    e.change_visibility("q", &got2[0].receipt_handle, 1000)
        .unwrap();
    clock.advance_ms(100_000);
    let got3 = e.receive("q", 10, None).unwrap();
    assert_eq!(bodies(&got3), [bodies(&got2)[1].clone()]);
    assert!(matches!(
        e.change_visibility("q", &got2[0].receipt_handle, 43_201),
        Err(EngineError::InvalidParameter { .. })
    ));
    // An older handle while a newer receive holds the message: applies (as SQS).
    e.change_visibility("q", &h, 10).unwrap();
    clock.advance_ms(10_000);
    let got4 = e.receive("q", 10, Some(100)).unwrap();
    assert_eq!(bodies(&got4), [bodies(&got2)[0].clone()]);
    // A handle of a deleted message: refused.
    e.delete_message("q", &got4[0].receipt_handle).unwrap();
    assert!(matches!(
        e.change_visibility("q", &got4[0].receipt_handle, 10),
        Err(EngineError::MessageNotAvailable)
    ));
}

#[test]
fn change_visibility_with_an_expired_handle_not_received_again_applies() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    e.create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    send_all(&mut e, "q", &[body("a")]);
    let h = e.receive("q", 1, Some(5)).unwrap()[0].receipt_handle;
    clock.advance_ms(6_000);
    // Visible again, nobody received it: the handle puts it back in flight.
    e.change_visibility("q", &h, 60).unwrap();
    assert!(e.receive("q", 1, Some(5)).unwrap().is_empty());
    assert_eq!(e.counters("q").unwrap().in_flight, 1);
    assert_eq!(e.delete_message("q", &h).unwrap(), DeleteOutcome::Deleted);
}

#[test]
fn forged_damaged_and_other_queues_receipt_handles_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    e.create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    e.create_queue("other", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    send_all(&mut e, "q", &[body("a")]);
    let h = e.receive("q", 1, Some(100)).unwrap()[0].receipt_handle;
    // Forged and corrupted handles are rejected without a lookup.
    let mut bad = h.to_vec();
    bad[5] ^= 1;
    for forged in [&bad[..], b"", b"xyz", &[b'A'; 5000]] {
        assert!(matches!(
            e.delete_message("q", forged),
            Err(EngineError::ReceiptHandleIsInvalid(_))
        ));
    }
    // A handle of one queue is not valid on another.
    assert!(matches!(
        e.delete_message("other", &h),
        Err(EngineError::ReceiptHandleIsInvalid(_))
    ));
}

const DLQ_POLICY: &str =
    r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"2"}"#;

fn poison_attributes() -> Vec<MessageAttribute> {
    vec![MessageAttribute {
        name: "k".into(),
        data_type: "String".into(),
        value: AttributeValue::String("v".into()),
    }]
}

/// Queue "src" with dead-letter queue "dlq" (maxReceiveCount 2), and one message, "poison",
/// received twice and then moved to "dlq" by the third receive (flushed). Returns the
/// engine and the message's id.
fn dead_lettered_poison(dir: &Path, clock: &ManualClock) -> (Engine, spool_engine::MessageId) {
    let mut e = open(dir, clock);
    e.create_queue("dlq", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    e.create_queue(
        "src",
        &map(&[("RedrivePolicy", DLQ_POLICY)]),
        &BTreeMap::new(),
    )
    .unwrap();
    let r = SendRequest {
        body: b"poison".to_vec(),
        attributes: poison_attributes(),
        ..Default::default()
    };
    let id = e.send("src", &[r]).unwrap()[0].as_ref().unwrap().message_id;
    e.flush().unwrap();
    for n in 1..=2 {
        let got = e.receive("src", 1, Some(1)).unwrap();
        assert_eq!(got[0].receive_count, n);
        clock.advance_ms(1000);
    }
    // Third receive would pass maxReceiveCount: the message moves instead.
    assert!(e.receive("src", 1, Some(1)).unwrap().is_empty());
    e.flush().unwrap();
    (e, id)
}

#[test]
fn a_message_past_max_receive_count_moves_to_the_dead_letter_queue_exactly_once() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let (mut e, id) = dead_lettered_poison(d.path(), &clock);
    assert_eq!(e.dead_letter_source_queues("dlq").unwrap(), ["src"]);
    let c = e.counters("src").unwrap();
    assert_eq!((c.ready, c.in_flight), (0, 0));
    let dl = e.receive("dlq", 10, None).unwrap();
    assert_eq!(bodies(&dl), ["poison"]);
    assert_eq!(dl[0].message_id, id, "message id kept");
    assert_eq!(dl[0].sent_at_ms, T0, "original sent time kept");
    assert_eq!(dl[0].attributes, poison_attributes());
    assert_eq!(dl[0].dead_letter_source.as_deref(), Some("src"));
    // Exactly once, also across a restart.
    drop(e);
    let mut e = open(d.path(), &clock);
    clock.advance_ms(60_000);
    assert!(e.receive("src", 10, None).unwrap().is_empty());
    let dl = e.receive("dlq", 10, Some(1)).unwrap();
    assert_eq!(dl.len(), 1);
}

#[test]
fn redrive_moves_a_dead_letter_back_to_its_source_queue() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let (e, id) = dead_lettered_poison(d.path(), &clock);
    drop(e);
    let mut e = open(d.path(), &clock);
    clock.advance_ms(60_000);
    let dl = e.receive("dlq", 10, Some(1)).unwrap();
    assert_eq!(dl.len(), 1);
    clock.advance_ms(2_000);
    // Redrive back to the source.
    assert_eq!(e.redrive("dlq", None, 100).unwrap(), 1);
    e.flush().unwrap();
    assert!(e.receive("dlq", 10, None).unwrap().is_empty());
    let back = e.receive("src", 10, None).unwrap();
    assert_eq!(bodies(&back), ["poison"]);
    assert_eq!(back[0].message_id, id);
    assert_eq!(back[0].dead_letter_source, None);
}

#[test]
fn interrupted_dead_letter_move_is_finished_by_recovery() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    e.create_queue("dlq", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let policy =
        r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":1}"#;
    e.create_queue("src", &map(&[("RedrivePolicy", policy)]), &BTreeMap::new())
        .unwrap();
    send_all(&mut e, "src", &[body("x")]);
    e.sync_index().unwrap();
    e.receive("src", 1, Some(1)).unwrap();
    clock.advance_ms(1000);
    assert!(e.receive("src", 1, Some(1)).unwrap().is_empty());
    // Write the dead-letter copy but "crash" before the source slot is released: flush
    // only the dead-letter queue's partition.
    let flushed = spool_engine::testing::flush_partition_only(&mut e, "dlq", 0);
    assert_eq!(flushed.unwrap().unwrap(), 1);
    drop(e);
    let (mut e, report) = Engine::open(d.path(), cfg(), Arc::new(clock.clone())).unwrap();
    assert_eq!(report.moves_finished, 1);
    clock.advance_ms(60_000);
    assert!(e.receive("src", 10, None).unwrap().is_empty());
    assert_eq!(bodies(&e.receive("dlq", 10, None).unwrap()), ["x"]);
}

/// FIFO queue "f.fifo" with content-based deduplication.
fn open_fifo(dir: &Path, clock: &ManualClock) -> Engine {
    let mut e = open(dir, clock);
    e.create_queue(
        "f.fifo",
        &map(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
        &BTreeMap::new(),
    )
    .unwrap();
    e
}

/// Sends a1, b1, a2, b2, a3 (groups a and b) to "f.fifo" and flushes.
fn send_two_groups(e: &mut Engine) {
    let batch: Vec<_> = ["a1", "b1", "a2", "b2", "a3"]
        .iter()
        .map(|s| fifo_msg(s, &s[..1]))
        .collect();
    let out = e.send("f.fifo", &batch).unwrap();
    let seqs: Vec<u128> = out
        .iter()
        .map(|r| r.as_ref().unwrap().sequence_number.unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    e.flush().unwrap();
}

#[test]
fn fifo_groups_are_delivered_in_order_and_locked_while_one_is_in_flight() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open_fifo(d.path(), &clock);
    send_two_groups(&mut e);
    let got = e.receive("f.fifo", 1, Some(30)).unwrap();
    assert_eq!(bodies(&got), ["a1"]);
    // Group a waits while a1 is in flight; one receive takes several messages of a group,
    // in order, as SQS's does.
    let got_b = e.receive("f.fifo", 10, Some(30)).unwrap();
    assert_eq!(bodies(&got_b), ["b1", "b2"]);
    assert!(e.receive("f.fifo", 10, Some(30)).unwrap().is_empty());
    e.delete_message("f.fifo", &got[0].receipt_handle).unwrap();
    let got2 = e.receive("f.fifo", 10, Some(30)).unwrap();
    assert_eq!(bodies(&got2), ["a2", "a3"]);
    // Everything in flight times out: each group comes back in its order.
    clock.advance_ms(30_000);
    let got3 = bodies(&e.receive("f.fifo", 10, Some(30)).unwrap());
    let group =
        |g: &str| -> Vec<String> { got3.iter().filter(|b| b.starts_with(g)).cloned().collect() };
    assert_eq!(group("a"), ["a2", "a3"]);
    assert_eq!(group("b"), ["b1", "b2"]);
    // On FIFO queues an expired handle is an error, not a silent success.
    assert!(matches!(
        e.delete_message("f.fifo", &got_b[0].receipt_handle),
        Err(EngineError::ReceiptHandleExpired)
    ));
}

#[test]
fn fifo_content_based_deduplication_lasts_five_minutes_across_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open_fifo(d.path(), &clock);
    send_two_groups(&mut e);
    // Content-based deduplication: the same body within 5 minutes is dropped, also
    // after a restart.
    let dup = e.send("f.fifo", &[fifo_msg("a1", "a")]).unwrap();
    assert!(dup[0].as_ref().unwrap().duplicate);
    drop(e);
    let mut e = open(d.path(), &clock);
    let dup = e.send("f.fifo", &[fifo_msg("b2", "b")]).unwrap();
    assert!(
        dup[0].as_ref().unwrap().duplicate,
        "dedup window survives restart"
    );
    clock.advance_ms(5 * 60_000);
    let fresh = e.send("f.fifo", &[fifo_msg("b2", "b")]).unwrap();
    assert!(!fresh[0].as_ref().unwrap().duplicate, "window is 5 minutes");
}

#[test]
fn fifo_sends_need_a_group_and_take_no_per_message_delay() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open_fifo(d.path(), &clock);
    assert!(matches!(
        e.send("f.fifo", &[body("nogroup")]).unwrap()[0],
        Err(EngineError::MissingParameter("MessageGroupId"))
    ));
    let mut delayed = fifo_msg("d", "a");
    delayed.delay_s = Some(5);
    assert!(matches!(
        e.send("f.fifo", &[delayed]).unwrap()[0],
        Err(EngineError::InvalidParameter {
            name: "DelaySeconds",
            ..
        })
    ));
}

#[test]
fn fifo_sends_accept_a_zero_per_message_delay() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open_fifo(d.path(), &clock);
    let mut zero = fifo_msg("z", "a");
    zero.delay_s = Some(0);
    let out = e.send("f.fifo", &[zero]).unwrap();
    assert!(!out[0].as_ref().unwrap().duplicate);
    e.flush().unwrap();
    assert_eq!(bodies(&e.receive("f.fifo", 10, Some(30)).unwrap()), ["z"]);
}

#[test]
fn purge_empties_the_fifo_deduplication_window_also_across_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open_fifo(d.path(), &clock);
    send_two_groups(&mut e);
    e.purge_queue("f.fifo").unwrap();
    let again = e.send("f.fifo", &[fifo_msg("a1", "a")]).unwrap();
    assert!(!again[0].as_ref().unwrap().duplicate, "purge forgets ids");
    e.flush().unwrap();
    drop(e);
    let mut e = open(d.path(), &clock);
    // The purged b1 is not remembered after a restart either; a1 (sent after) is.
    let b1 = e.send("f.fifo", &[fifo_msg("b1", "b")]).unwrap();
    assert!(
        !b1[0].as_ref().unwrap().duplicate,
        "purged ids stay forgotten"
    );
    let a1 = e.send("f.fifo", &[fifo_msg("a1", "a")]).unwrap();
    assert!(
        a1[0].as_ref().unwrap().duplicate,
        "later ids are remembered"
    );
    e.flush().unwrap();
    assert_eq!(
        bodies(&e.receive("f.fifo", 10, Some(30)).unwrap()),
        ["a1", "b1"]
    );
}

/// Queue "q" with a 10 s delay and a 60 s retention period.
fn open_delayed(dir: &Path, clock: &ManualClock) -> Engine {
    let mut e = open(dir, clock);
    e.create_queue(
        "q",
        &map(&[("DelaySeconds", "10"), ("MessageRetentionPeriod", "60")]),
        &BTreeMap::new(),
    )
    .unwrap();
    e
}

#[test]
fn the_queue_delay_holds_a_message_back_unless_the_send_sets_its_own() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open_delayed(d.path(), &clock);
    let mut now = body("now");
    now.delay_s = Some(0);
    send_all(&mut e, "q", &[body("queue-delay"), now]);
    assert_eq!(bodies(&e.receive("q", 10, Some(1000)).unwrap()), ["now"]);
    assert_eq!(e.counters("q").unwrap().delayed, 1);
    clock.advance_ms(10_000);
    assert_eq!(
        bodies(&e.receive("q", 10, Some(1)).unwrap()),
        ["queue-delay"]
    );
}

#[test]
fn a_message_past_the_retention_period_is_not_delivered() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open_delayed(d.path(), &clock);
    send_all(&mut e, "q", &[body("queue-delay")]);
    clock.advance_ms(10_000);
    assert_eq!(
        bodies(&e.receive("q", 10, Some(1)).unwrap()),
        ["queue-delay"]
    );
    // Retention: after 60 s from sending, nothing is delivered.
    clock.advance_ms(50_000);
    assert!(e.receive("q", 10, None).unwrap().is_empty());
}

#[test]
fn purge_removes_everything_once_a_minute_and_durably() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open_delayed(d.path(), &clock);
    // Purge removes everything, in flight included, and only once per minute.
    send_all(&mut e, "q", &[body("x"), body("y")]);
    clock.advance_ms(10_000);
    e.receive("q", 1, None).unwrap();
    e.purge_queue("q").unwrap();
    assert!(matches!(
        e.purge_queue("q"),
        Err(EngineError::PurgeQueueInProgress(_))
    ));
    assert_eq!(e.counters("q").unwrap(), Counters::default());
    clock.advance_ms(3_600_000);
    assert!(e.receive("q", 10, None).unwrap().is_empty());
    drop(e);
    let mut e = open(d.path(), &clock);
    assert!(
        e.receive("q", 10, None).unwrap().is_empty(),
        "purge is durable"
    );
    send_all(&mut e, "q", &[body("after")]);
    clock.advance_ms(10_000);
    assert_eq!(bodies(&e.receive("q", 10, None).unwrap()), ["after"]);
}

/// An engine whose queues hold at most 3 messages in flight.
fn open_in_flight_3(dir: &Path, clock: &ManualClock) -> Engine {
    let mut c = cfg();
    c.partition.max_in_flight = 3;
    Engine::open(dir, c, Arc::new(clock.clone())).unwrap().0
}

#[test]
fn in_flight_limit_reports_over_limit_on_standard_queues() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open_in_flight_3(d.path(), &clock);
    e.create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    send_all(&mut e, "q", &[body("1"), body("2"), body("3"), body("4")]);
    assert_eq!(e.receive("q", 10, None).unwrap().len(), 3);
    assert!(matches!(
        e.receive("q", 10, None),
        Err(EngineError::OverLimit { limit: 3 })
    ));
}

#[test]
fn in_flight_limit_returns_nothing_on_fifo_queues() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open_in_flight_3(d.path(), &clock);
    e.create_queue("f.fifo", &map(&[("FifoQueue", "true")]), &BTreeMap::new())
        .unwrap();
    let batch: Vec<_> = (0..4)
        .map(|i| SendRequest {
            body: format!("{i}").into_bytes(),
            group_id: Some(format!("g{i}")),
            dedup_id: Some(format!("d{i}")),
            ..Default::default()
        })
        .collect();
    send_all(&mut e, "f.fifo", &batch);
    assert_eq!(e.receive("f.fifo", 10, None).unwrap().len(), 3);
    assert!(
        e.receive("f.fifo", 10, None).unwrap().is_empty(),
        "FIFO returns nothing"
    );
}

#[test]
fn create_queue_is_idempotent_only_with_the_same_attributes() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    let a = map(&[("VisibilityTimeout", "45")]);
    assert!(e.create_queue("q1", &a, &BTreeMap::new()).unwrap());
    assert!(
        !e.create_queue("q1", &a, &BTreeMap::new()).unwrap(),
        "idempotent"
    );
    assert!(matches!(
        e.create_queue("q1", &map(&[("VisibilityTimeout", "46")]), &BTreeMap::new()),
        Err(EngineError::Attr(_))
    ));
}

#[test]
fn create_queue_refuses_bad_names_and_out_of_range_attributes_and_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    for bad in ["", "has space", &"x".repeat(81), "bad.fifo"] {
        assert!(
            e.create_queue(bad, &BTreeMap::new(), &BTreeMap::new())
                .is_err(),
            "{bad}"
        );
    }
    assert!(e
        .create_queue(
            "q2",
            &map(&[("VisibilityTimeout", "43201")]),
            &BTreeMap::new()
        )
        .is_err());
    assert!(!e.queue_exists("q2"), "failed create changes nothing");
}

#[test]
fn list_queues_by_prefix_and_default_attributes() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    e.create_queue("q1", &map(&[("VisibilityTimeout", "45")]), &BTreeMap::new())
        .unwrap();
    e.create_queue("q2", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    e.create_queue("other", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    assert_eq!(e.list_queues("q"), ["q1", "q2"]);
    let attrs = e.get_queue_attributes("q1").unwrap();
    assert_eq!(attrs["VisibilityTimeout"], "45");
    assert_eq!(attrs["MessageRetentionPeriod"], "345600");
    assert_eq!(attrs["MaximumMessageSize"], "1048576");
    assert_eq!(attrs["QueueArn"], "arn:aws:sqs:us-east-1:000000000000:q1");
}

#[test]
fn sends_are_checked_against_the_queue_s_size_limit_and_the_attribute_count() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    e.create_queue("q1", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    e.set_queue_attributes("q1", &map(&[("MaximumMessageSize", "262144")]))
        .unwrap();
    assert!(e
        .set_queue_attributes("q1", &map(&[("DelaySeconds", "901")]))
        .is_err());
    // Oversized message against the new limit, and too many attributes.
    let big = SendRequest {
        body: vec![b'x'; 262_145],
        ..Default::default()
    };
    assert!(matches!(
        e.send("q1", &[big]).unwrap()[0],
        Err(EngineError::MessageTooLong { .. })
    ));
    let many = SendRequest {
        body: b"x".to_vec(),
        attributes: (0..11)
            .map(|i| MessageAttribute {
                name: format!("a{i}"),
                data_type: "String".into(),
                value: AttributeValue::String("v".into()),
            })
            .collect(),
        ..Default::default()
    };
    assert!(e.send("q1", &[many]).unwrap()[0].is_err());
    assert_eq!(e.counters("q1").unwrap(), Counters::default());
}

#[test]
fn tags_and_attributes_survive_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    e.create_queue("q1", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    e.set_queue_attributes("q1", &map(&[("MaximumMessageSize", "262144")]))
        .unwrap();
    // Tags and persistence of the catalog.
    e.tag_queue("q1", &map(&[("team", "a"), ("env", "dev")]))
        .unwrap();
    e.untag_queue("q1", &["env".to_string()]).unwrap();
    drop(e);
    let mut e = open(d.path(), &clock);
    assert_eq!(e.queue_tags("q1").unwrap(), map(&[("team", "a")]));
    assert_eq!(
        e.get_queue_attributes("q1").unwrap()["MaximumMessageSize"],
        "262144"
    );
}

#[test]
fn a_deleted_queue_is_gone_and_its_name_free_again_after_60_s() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    e.create_queue("q2", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    // Delete, and the 60 s before the name can be reused.
    e.delete_queue("q2").unwrap();
    assert!(matches!(
        e.send("q2", &[body("x")]),
        Err(EngineError::QueueDoesNotExist(_))
    ));
    assert!(matches!(
        e.create_queue("q2", &BTreeMap::new(), &BTreeMap::new()),
        Err(EngineError::QueueDeletedRecently(_))
    ));
    clock.advance_ms(60_000);
    e.create_queue("q2", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
}

#[test]
fn partitions_spread_and_gather_and_io_uring_flusher() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut c = cfg();
    c.partitions_per_queue = 4;
    c.flusher = FlusherKind::Uring;
    c.partition.compression = Some(spool_engine::Compression {
        level: 1,
        min_body: 512,
    });
    let mut e = Engine::open(d.path(), c.clone(), Arc::new(clock.clone()))
        .unwrap()
        .0;
    assert_eq!(e.flusher_name(), "uring");
    e.create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let batch: Vec<_> = (0..400)
        .map(|i| body(&format!("{i:04}-{}", "json-ish ".repeat(i % 200))))
        .collect();
    send_all(&mut e, "q", &batch);
    let q = e.queue_ref("q").unwrap();
    assert!(
        q.partitions().iter().all(|p| p.next_seq() == 100),
        "round robin"
    );
    drop(e);
    let mut e = Engine::open(d.path(), c, Arc::new(clock.clone()))
        .unwrap()
        .0;
    let mut seen = Vec::new();
    loop {
        let got = e.receive("q", 10, None).unwrap();
        if got.is_empty() {
            break;
        }
        for m in &got {
            e.delete_message("q", &m.receipt_handle).unwrap();
        }
        seen.extend(bodies(&got));
    }
    e.flush().unwrap();
    seen.sort();
    let mut want: Vec<String> = batch
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect();
    want.sort();
    assert_eq!(seen, want);
}

#[test]
fn restart_keeps_in_flight_messages_in_flight_and_their_handles_working() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    e.create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let batch: Vec<_> = (0..1000).map(|i| body(&format!("m{i}"))).collect();
    send_all(&mut e, "q", &batch);
    let got = e.receive("q", 10, Some(600)).unwrap();
    for m in &got[..5] {
        e.delete_message("q", &m.receipt_handle).unwrap();
    }
    e.flush().unwrap();
    drop(e);
    let (mut e, report) = Engine::open(d.path(), cfg(), Arc::new(clock.clone())).unwrap();
    let kept: u64 = report.partitions.iter().map(|p| p.2.kept_in_flight).sum();
    let requeued: u64 = report
        .partitions
        .iter()
        .map(|p| p.2.requeued_in_flight)
        .sum();
    assert_eq!((kept, requeued), (5, 0));
    let c = e.counters("q").unwrap();
    assert_eq!((c.ready, c.in_flight), (990, 5));
    // Handles from before the restart still delete.
    assert_eq!(
        e.delete_message("q", &got[7].receipt_handle).unwrap(),
        DeleteOutcome::Deleted
    );
    let drain = |e: &mut Engine| {
        let mut all = Vec::new();
        loop {
            let got = e.receive("q", 10, Some(43_200)).unwrap();
            if got.is_empty() {
                break all;
            }
            all.extend(bodies(&got));
        }
    };
    assert_eq!(drain(&mut e).len(), 990);
    // The 4 still in flight come back at their deadline.
    clock.advance_ms(600_000);
    let back = drain(&mut e);
    assert_eq!(back.len(), 4);
    assert!(!back.contains(&"m0".to_string()));
}

#[test]
fn receive_within_stops_after_the_message_that_crosses_the_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(dir.path(), &clock);
    e.create_queue("q", &map(&[]), &map(&[])).unwrap();
    let hundred = "x".repeat(100);
    let batch: Vec<SendRequest> = (0..10).map(|_| body(&hundred)).collect();
    e.send("q", &batch).unwrap();
    e.flush().unwrap();
    // Each costs 100 + REPLY_OVERHEAD = 356 bytes; 3 * 356 >= 1000: the third is the last.
    let got = e.receive_within("q", 10, None, 1000).unwrap();
    assert_eq!(got.len(), 3);
    // A budget of one byte still delivers one message (a reply is never empty for size).
    assert_eq!(e.receive_within("q", 10, None, 1).unwrap().len(), 1);
    assert_eq!(e.receive("q", 10, None).unwrap().len(), 6);
}
