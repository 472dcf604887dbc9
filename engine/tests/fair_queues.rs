//! Fair queues (AWS, 2025) on a standard queue, one scenario each: a MessageGroupId names
//! a tenant; a quiet tenant's message sent behind a noisy tenant's backlog is received at
//! once; without group ids the order is the plain standard one; nothing is lost or
//! delivered twice; the fast lane stays within its bound; a noisy tenant silent for five
//! minutes no longer holds others ahead; FIFO queues keep their own scheduler. Time is
//! driven by a ManualClock.

mod common;

use common::{map, T0};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use spool_engine::testing::{FAST_LANE_MAX_MSGS, NOISY_SILENT_AFTER_MS};
use spool_engine::{Engine, EngineConfig, ManualClock, PartitionConfig, SendRequest};

const Q: &str = "tenants";
/// A backlog of thousands, as the scenario asks: far past the noisy minimum.
const NOISY_BACKLOG: usize = 5000;

fn open(dir: &Path, clock: &ManualClock, queue: &str, attrs: &[(&str, &str)]) -> Engine {
    let cfg = EngineConfig {
        partition: PartitionConfig {
            segment_bytes: 1 << 20,
            segment_slots: 4096,
            ..Default::default()
        },
        partitions_per_queue: 1,
        ..Default::default()
    };
    let mut e = Engine::open(dir, cfg, Arc::new(clock.clone())).unwrap().0;
    e.create_queue(queue, &map(attrs), &BTreeMap::new())
        .unwrap();
    e
}

fn msg(group: Option<&str>, body: String) -> SendRequest {
    SendRequest {
        body: body.into_bytes(),
        group_id: group.map(str::to_string),
        ..Default::default()
    }
}

/// Sends `n` messages of `group` (bodies `<prefix>-<i>`) in batches of 10, flushing as a
/// daemon's group commit would.
fn send_many(e: &mut Engine, q: &str, group: Option<&str>, prefix: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let reqs: Vec<SendRequest> = chunk
            .iter()
            .map(|i| msg(group, format!("{prefix}-{i}")))
            .collect();
        for r in e.send(q, &reqs).unwrap() {
            r.unwrap();
        }
        e.flush().unwrap();
    }
}

fn bodies(ms: &[spool_engine::ReceivedMessage]) -> Vec<String> {
    ms.iter()
        .map(|m| String::from_utf8(m.body.clone()).unwrap())
        .collect()
}

/// Receives everything (long visibility, so nothing comes back), in receive order.
fn drain(e: &mut Engine, q: &str) -> Vec<String> {
    let mut all = Vec::new();
    loop {
        let got = e.receive(q, 10, Some(3600)).unwrap();
        if got.is_empty() {
            return all;
        }
        all.extend(bodies(&got));
    }
}

fn lane_len(e: &Engine, q: &str) -> usize {
    e.queue_ref(q)
        .unwrap()
        .partitions()
        .iter()
        .fold(0, |n, p| n + p.fair_lane_len())
}

#[test]
fn quiet_tenant_sent_behind_a_noisy_backlog_is_received_first() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(dir.path(), &clock, Q, &[]);
    send_many(&mut e, Q, Some("noisy"), "noisy", NOISY_BACKLOG);
    send_many(&mut e, Q, Some("quiet"), "quiet", 1);
    let first = bodies(&e.receive(Q, 10, Some(60)).unwrap());
    assert_eq!(
        first.first().map(String::as_str),
        Some("quiet-0"),
        "{first:?}"
    );
    // The rest of the receive is the noisy tenant's, in log order: nothing is held back.
    assert_eq!(
        first[1..],
        (0..9).map(|i| format!("noisy-{i}")).collect::<Vec<_>>()[..]
    );
}

#[test]
fn message_without_group_id_beside_a_noisy_tenant_counts_as_its_own_quiet_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(dir.path(), &clock, Q, &[]);
    send_many(&mut e, Q, Some("noisy"), "noisy", NOISY_BACKLOG);
    send_many(&mut e, Q, None, "plain", 1);
    let first = bodies(&e.receive(Q, 1, Some(60)).unwrap());
    assert_eq!(first, vec!["plain-0".to_string()]);
}

#[test]
fn without_group_ids_the_order_is_the_plain_standard_order() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(dir.path(), &clock, Q, &[]);
    send_many(&mut e, Q, None, "a", NOISY_BACKLOG);
    send_many(&mut e, Q, None, "b", 1);
    assert_eq!(lane_len(&e, Q), 0);
    let got = drain(&mut e, Q);
    let want: Vec<String> = (0..NOISY_BACKLOG)
        .map(|i| format!("a-{i}"))
        .chain(std::iter::once("b-0".to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn tenants_of_equal_size_keep_the_plain_order() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(dir.path(), &clock, Q, &[]);
    // Twenty tenants interleaved, each 5 % of the backlog: nobody is noisy.
    let mut want = Vec::new();
    for round in 0..100 {
        let reqs: Vec<SendRequest> = (0..20)
            .map(|t| msg(Some(&format!("t{t}")), format!("t{t}-{round}")))
            .collect();
        want.extend(
            reqs.iter()
                .map(|r| String::from_utf8(r.body.clone()).unwrap()),
        );
        for r in e.send(Q, &reqs[..10]).unwrap() {
            r.unwrap();
        }
        for r in e.send(Q, &reqs[10..]).unwrap() {
            r.unwrap();
        }
        e.flush().unwrap();
    }
    assert_eq!(drain(&mut e, Q), want);
}

#[test]
fn nothing_is_lost_or_delivered_twice_when_tenants_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(dir.path(), &clock, Q, &[]);
    let mut sent = Vec::new();
    let mut got = Vec::new();
    // A noisy tenant keeps a backlog while quiet tenants and group-less messages trickle
    // in; consumers take a few messages between sends.
    for round in 0..400 {
        let mut reqs: Vec<SendRequest> = (0..10)
            .map(|i| msg(Some("noisy"), format!("noisy-{round}-{i}")))
            .collect();
        reqs.push(msg(
            Some(&format!("q{}", round % 7)),
            format!("quiet-{round}"),
        ));
        if round % 3 == 0 {
            reqs.push(msg(None, format!("plain-{round}")));
        }
        for chunk in reqs.chunks(10) {
            for r in e.send(Q, chunk).unwrap() {
                r.unwrap();
            }
        }
        sent.extend(
            reqs.iter()
                .map(|r| String::from_utf8(r.body.clone()).unwrap()),
        );
        e.flush().unwrap();
        if round % 2 == 0 {
            got.extend(bodies(&e.receive(Q, 10, Some(3600)).unwrap()));
        }
    }
    got.extend(drain(&mut e, Q));
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "a message was delivered twice");
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut sent_sorted = sent.clone();
    sent_sorted.sort();
    assert_eq!(got_sorted, sent_sorted, "lost or foreign messages");
    assert_eq!(lane_len(&e, Q), 0);
}

#[test]
fn fast_lane_stays_within_its_bound_and_its_overflow_still_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(dir.path(), &clock, Q, &[]);
    send_many(&mut e, Q, Some("noisy"), "noisy", NOISY_BACKLOG);
    // More quiet tenants (one message each) than the lane holds.
    let quiet = FAST_LANE_MAX_MSGS + 500;
    for chunk in (0..quiet).collect::<Vec<_>>().chunks(10) {
        let reqs: Vec<SendRequest> = chunk
            .iter()
            .map(|i| msg(Some(&format!("q{i}")), format!("quiet-{i}")))
            .collect();
        for r in e.send(Q, &reqs).unwrap() {
            r.unwrap();
        }
        e.flush().unwrap();
        assert!(lane_len(&e, Q) <= FAST_LANE_MAX_MSGS);
    }
    assert_eq!(lane_len(&e, Q), FAST_LANE_MAX_MSGS);
    let got = drain(&mut e, Q);
    // The lane's messages first, then the log order: the noisy backlog, then the quiet
    // messages that found the lane full.
    let lane: Vec<String> = (0..FAST_LANE_MAX_MSGS)
        .map(|i| format!("quiet-{i}"))
        .collect();
    assert_eq!(got[..FAST_LANE_MAX_MSGS], lane[..]);
    assert_eq!(got.len(), NOISY_BACKLOG + quiet);
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), got.len());
    assert_eq!(
        got.last().map(String::as_str),
        Some(format!("quiet-{}", quiet - 1).as_str())
    );
}

#[test]
fn noisy_tenant_silent_for_five_minutes_no_longer_holds_others_back() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(dir.path(), &clock, Q, &[]);
    send_many(&mut e, Q, Some("noisy"), "noisy", NOISY_BACKLOG);
    clock.advance_ms(NOISY_SILENT_AFTER_MS);
    send_many(&mut e, Q, Some("quiet"), "quiet", 1);
    assert_eq!(lane_len(&e, Q), 0);
    let first = bodies(&e.receive(Q, 1, Some(60)).unwrap());
    assert_eq!(first, vec!["noisy-0".to_string()]);
}

#[test]
fn quiet_tenant_is_prioritised_again_once_the_noisy_tenant_sends_again() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(dir.path(), &clock, Q, &[]);
    send_many(&mut e, Q, Some("noisy"), "noisy", NOISY_BACKLOG);
    clock.advance_ms(NOISY_SILENT_AFTER_MS);
    send_many(&mut e, Q, Some("noisy"), "late", 1);
    send_many(&mut e, Q, Some("quiet"), "quiet", 1);
    let first = bodies(&e.receive(Q, 1, Some(60)).unwrap());
    assert_eq!(first, vec!["quiet-0".to_string()]);
}

#[test]
fn delayed_quiet_message_is_not_put_in_the_lane() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(dir.path(), &clock, Q, &[]);
    send_many(&mut e, Q, Some("noisy"), "noisy", NOISY_BACKLOG);
    let mut m = msg(Some("quiet"), "quiet-delayed".into());
    m.delay_s = Some(5);
    for r in e.send(Q, &[m]).unwrap() {
        r.unwrap();
    }
    e.flush().unwrap();
    assert_eq!(lane_len(&e, Q), 0);
    // Still delivered, exactly once, after its delay.
    clock.advance_ms(5_000);
    let got = drain(&mut e, Q);
    assert_eq!(got.len(), NOISY_BACKLOG + 1);
    assert_eq!(got.iter().filter(|b| *b == "quiet-delayed").count(), 1);
}

#[test]
fn fifo_queue_keeps_its_scheduler_with_a_noisy_group() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let q = "tenants.fifo";
    let mut e = open(
        dir.path(),
        &clock,
        q,
        &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
    );
    send_many(&mut e, q, Some("noisy"), "noisy", 300);
    send_many(&mut e, q, Some("quiet"), "quiet", 1);
    assert_eq!(lane_len(&e, q), 0);
    // SQS's FIFO rule: the group with the oldest message first, as many as possible.
    let first = bodies(&e.receive(q, 10, Some(60)).unwrap());
    assert_eq!(
        first,
        (0..10).map(|i| format!("noisy-{i}")).collect::<Vec<_>>()
    );
}

#[test]
fn after_a_restart_counts_start_fresh_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    {
        let mut e = open(dir.path(), &clock, Q, &[]);
        send_many(&mut e, Q, Some("noisy"), "noisy", NOISY_BACKLOG);
        send_many(&mut e, Q, Some("quiet"), "quiet", 1);
    }
    let cfg = EngineConfig {
        partition: PartitionConfig {
            segment_bytes: 1 << 20,
            segment_slots: 4096,
            ..Default::default()
        },
        partitions_per_queue: 1,
        ..Default::default()
    };
    let mut e = Engine::open(dir.path(), cfg, Arc::new(clock.clone()))
        .unwrap()
        .0;
    // The lane did not survive: the quiet message waits in log order.
    assert_eq!(lane_len(&e, Q), 0);
    // The noisy tenant's new sends make it noisy again: a new quiet message goes first.
    send_many(&mut e, Q, Some("noisy"), "again", 200);
    send_many(&mut e, Q, Some("quiet"), "fresh", 1);
    let first = bodies(&e.receive(Q, 1, Some(3600)).unwrap());
    assert_eq!(first, vec!["fresh-0".to_string()]);
    let rest = drain(&mut e, Q);
    assert_eq!(rest.len(), NOISY_BACKLOG + 1 + 200);
    assert_eq!(rest.iter().collect::<HashSet<_>>().len(), rest.len());
}

fn noisy_tenants(e: &Engine, q: &str) -> u32 {
    e.queue_ref(q)
        .unwrap()
        .partitions()
        .iter()
        .fold(0, |n, p| n + p.fair_noisy_tenants())
}

#[test]
fn once_the_noisy_backlog_is_received_nobody_is_noisy_and_the_order_is_plain() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(dir.path(), &clock, Q, &[]);
    send_many(&mut e, Q, Some("noisy"), "noisy", NOISY_BACKLOG);
    assert_eq!(noisy_tenants(&e, Q), 1);
    assert_eq!(drain(&mut e, Q).len(), NOISY_BACKLOG);
    assert_eq!(noisy_tenants(&e, Q), 0);
    // A small backlog of the same tenant is not noisy: the quiet message keeps its place.
    send_many(&mut e, Q, Some("noisy"), "again", 50);
    send_many(&mut e, Q, Some("quiet"), "quiet", 1);
    assert_eq!(lane_len(&e, Q), 0);
    assert_eq!(
        bodies(&e.receive(Q, 1, Some(3600)).unwrap()),
        vec!["again-0".to_string()]
    );
}

#[test]
fn purge_forgets_the_noisy_tenant_at_the_next_receive() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = open(dir.path(), &clock, Q, &[]);
    send_many(&mut e, Q, Some("noisy"), "noisy", NOISY_BACKLOG);
    assert_eq!(noisy_tenants(&e, Q), 1);
    e.purge_queue(Q).unwrap();
    e.flush().unwrap();
    assert!(e.receive(Q, 10, Some(60)).unwrap().is_empty());
    assert_eq!(noisy_tenants(&e, Q), 0);
}
