//! The FIFO scheduler against SQS's documented rules, one scenario each: the group with
//! the oldest available message first, its messages back to back; only messages at or
//! after an in-flight message of a group wait; a deleted group's next message is
//! available at once. Time is driven by a ManualClock.

mod common;

use common::{map, T0};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use spool_engine::{Engine, EngineConfig, ManualClock, PartitionConfig, SendRequest};

const Q: &str = "s.fifo";

fn open(dir: &Path, clock: &ManualClock) -> Engine {
    let cfg = EngineConfig {
        partition: PartitionConfig {
            segment_bytes: 64 << 10,
            segment_slots: 256,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut e = Engine::open(dir, cfg, Arc::new(clock.clone())).unwrap().0;
    e.create_queue(
        Q,
        &map(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
        &BTreeMap::new(),
    )
    .unwrap();
    e
}

/// Sends each body to the group named by its text before the `-` ("g1-m1" → "g1").
fn send(e: &mut Engine, bodies: &[&str]) {
    let reqs: Vec<SendRequest> = bodies
        .iter()
        .map(|b| SendRequest {
            body: b.as_bytes().to_vec(),
            group_id: Some(b.split('-').next().unwrap().to_string()),
            ..Default::default()
        })
        .collect();
    for r in e.send(Q, &reqs).unwrap() {
        r.unwrap();
    }
    e.flush().unwrap();
}

fn receive(e: &mut Engine, max: usize, vis_s: u32) -> Vec<spool_engine::ReceivedMessage> {
    e.receive(Q, max, Some(vis_s)).unwrap()
}

fn bodies(ms: &[spool_engine::ReceivedMessage]) -> Vec<String> {
    ms.iter()
        .map(|m| String::from_utf8(m.body.clone()).unwrap())
        .collect()
}

#[test]
fn one_receive_serves_the_oldest_group_first_and_as_much_of_it_as_it_can() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    // The example: AWS returns g1-m1, g1-m2, g1-m3, g2-m1.
    send(&mut e, &["g1-m1", "g2-m1", "g1-m2", "g1-m3"]);
    let got = receive(&mut e, 10, 30);
    assert_eq!(bodies(&got), ["g1-m1", "g1-m2", "g1-m3", "g2-m1"]);
}

#[test]
fn a_small_receive_takes_only_the_oldest_group() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    send(&mut e, &["g1-m1", "g2-m1", "g1-m2", "g1-m3"]);
    assert_eq!(bodies(&receive(&mut e, 2, 30)), ["g1-m1", "g1-m2"]);
    // g1-m3 waits behind g1's messages in flight; g2 is next.
    assert_eq!(bodies(&receive(&mut e, 10, 30)), ["g2-m1"]);
    assert!(receive(&mut e, 10, 30).is_empty());
}

#[test]
fn a_visibility_timeout_of_zero_still_returns_a_group_back_to_back() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    send(&mut e, &["a-1", "b-1", "a-2", "a-3"]);
    assert_eq!(
        bodies(&receive(&mut e, 10, 0)),
        ["a-1", "a-2", "a-3", "b-1"]
    );
    // Visible again at once, in the same order.
    assert_eq!(
        bodies(&receive(&mut e, 10, 0)),
        ["a-1", "a-2", "a-3", "b-1"]
    );
}

#[test]
fn an_earlier_message_visible_again_is_received_while_a_later_one_is_in_flight() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    send(&mut e, &["a-1", "a-2", "a-3"]);
    let got = receive(&mut e, 2, 60);
    assert_eq!(bodies(&got), ["a-1", "a-2"]);
    // a-1 visible again; a-2 stays in flight: a-1 can be received, a-3 waits behind a-2.
    e.change_visibility(Q, &got[0].receipt_handle, 0).unwrap();
    let again = receive(&mut e, 10, 60);
    assert_eq!(bodies(&again), ["a-1"]);
    assert!(receive(&mut e, 10, 60).is_empty());
    // A later message visible again while an earlier one is in flight still waits.
    e.change_visibility(Q, &got[1].receipt_handle, 0).unwrap();
    assert!(receive(&mut e, 10, 60).is_empty());
    e.delete_message(Q, &again[0].receipt_handle).unwrap();
    assert_eq!(bodies(&receive(&mut e, 10, 60)), ["a-2", "a-3"]);
}

#[test]
fn deleting_a_group_s_message_makes_its_next_available_at_once() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    send(&mut e, &["a-1", "a-2", "b-1"]);
    let got = receive(&mut e, 1, 60);
    assert_eq!(bodies(&got), ["a-1"]);
    assert_eq!(bodies(&receive(&mut e, 1, 60)), ["b-1"]);
    assert!(receive(&mut e, 10, 60).is_empty());
    e.delete_message(Q, &got[0].receipt_handle).unwrap();
    assert_eq!(bodies(&receive(&mut e, 10, 60)), ["a-2"]);
}

#[test]
fn groups_come_back_oldest_first_after_their_timeouts_run_out() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    send(&mut e, &["a-1", "b-1", "c-1", "a-2", "b-2"]);
    assert_eq!(bodies(&receive(&mut e, 1, 10)), ["a-1"]);
    assert_eq!(bodies(&receive(&mut e, 10, 30)), ["b-1", "b-2", "c-1"]);
    clock.advance_ms(10_000);
    // a-1 came back and is the oldest: group a first, then nothing else is free.
    assert_eq!(bodies(&receive(&mut e, 10, 30)), ["a-1", "a-2"]);
}

#[test]
fn a_backlog_of_single_message_groups_still_fills_each_receive() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let cfg = EngineConfig {
        partition: PartitionConfig {
            segment_bytes: 4 << 20,
            segment_slots: 1 << 16,
            // Below the backlog, as the default (64 Ki) is below a large one.
            scan_budget: 8192,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut e = Engine::open(d.path(), cfg, Arc::new(clock.clone()))
        .unwrap()
        .0;
    e.create_queue(
        Q,
        &map(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
        &BTreeMap::new(),
    )
    .unwrap();
    // More groups than one look-ahead sets aside.
    let bodies_sent: Vec<String> = (0..20_000).map(|i| format!("g{i}-m")).collect();
    for chunk in bodies_sent.chunks(1000) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        send(&mut e, &refs);
    }
    let mut got = Vec::new();
    for _ in 0..5 {
        let r = receive(&mut e, 10, 60);
        assert_eq!(r.len(), 10, "a receive returned {} of 10", r.len());
        got.extend(bodies(&r));
    }
    // Each group holds one message, so the oldest groups come first, in send order.
    assert_eq!(got, bodies_sent[..50]);
}

#[test]
fn sequence_numbers_increase_within_a_group_and_have_sqs_s_shape() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(d.path(), &clock);
    let reqs: Vec<SendRequest> = ["x", "y", "z"]
        .iter()
        .map(|b| SendRequest {
            body: b.as_bytes().to_vec(),
            group_id: Some("g".into()),
            ..Default::default()
        })
        .collect();
    let seqs: Vec<u128> = e
        .send(Q, &reqs)
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap().sequence_number.unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    for s in &seqs {
        // SQS's are 20-digit decimals (e.g. 18849496460467696128).
        assert_eq!(s.to_string().len(), 20, "{s}");
    }
}
