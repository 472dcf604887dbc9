//! FIFO queues over real sockets with 1, 2 and 4 shards behave as one ordered queue, as
//! SQS's do: every FIFO queue lives on one home shard, so a receive on any connection
//! (connections are dealt over the shards) sees every group, the group holding the
//! oldest available message first; deduplication covers the whole queue (or each group,
//! in high-throughput mode); and a random run of sends, receives, visibility changes,
//! deletes and mode switches returns exactly what a model of SQS's rules predicts.
//!
//! Visibility timeouts are long (300 s) and messages come back only through
//! ChangeMessageVisibility 0, so nothing depends on wall-clock time.

use spool_client::{ClientConfig, Connection, ReceiveOptions};
use spool_protocol::message::SendEntry;
use spool_testkit::Spoold;

const SHARD_COUNTS: [&str; 3] = ["1", "2", "4"];
const HIGH_THROUGHPUT: [(&str, &str); 2] = [
    ("DeduplicationScope", "messageGroup"),
    ("FifoThroughputLimit", "perMessageGroupId"),
];
const DEFAULT_MODE: [(&str, &str); 2] = [
    ("DeduplicationScope", "queue"),
    ("FifoThroughputLimit", "perQueue"),
];

fn start(dir: &tempfile::TempDir, shards: &str) -> Spoold {
    Spoold::start(&dir.path().join("data"), &["--shards", shards])
}

/// `n` connections: the daemon deals them over its shards round robin.
fn connect(d: &Spoold, n: usize) -> Vec<Connection> {
    (0..n)
        .map(|_| {
            Connection::connect(&ClientConfig {
                addr: d.addr_string(),
                ..Default::default()
            })
            .expect("connect")
        })
        .collect()
}

fn create_fifo(c: &mut Connection, name: &str, extra: &[(&str, &str)]) {
    let mut attrs = vec![("FifoQueue", "true"), ("VisibilityTimeout", "300")];
    attrs.extend_from_slice(extra);
    c.create_queue(name, &attrs).unwrap();
}

/// Sends `(group, dedup id, body)` entries; returns whether each was a duplicate.
fn send(c: &mut Connection, q: &str, entries: &[(&str, &str, &str)]) -> Vec<bool> {
    let es: Vec<SendEntry<'_>> = entries
        .iter()
        .map(|(g, d, b)| SendEntry {
            body: b.as_bytes().into(),
            group_id: Some((*g).into()),
            dedup_id: Some((*d).into()),
            ..Default::default()
        })
        .collect();
    c.send(q, &es)
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap().duplicate)
        .collect()
}

fn receive(c: &mut Connection, q: &str, max: u32) -> Vec<spool_protocol::Message<'static>> {
    let opts = ReceiveOptions {
        max_messages: max,
        ..Default::default()
    };
    c.receive(q, &opts).unwrap()
}

fn bodies(ms: &[spool_protocol::Message<'static>]) -> Vec<String> {
    ms.iter()
        .map(|m| String::from_utf8(m.body.to_vec()).unwrap())
        .collect()
}

/// Queue names whose home shards differ (with 2 and 4 shards).
const NAMES: [&str; 3] = ["jobs.fifo", "payments.fifo", "orders.fifo"];

#[test]
fn every_connection_sees_the_oldest_group_first_on_1_2_and_4_shards() {
    for shards in SHARD_COUNTS {
        let dir = tempfile::tempdir().unwrap();
        let d = start(&dir, shards);
        let mut cs = connect(&d, 4);
        for (k, q) in NAMES.iter().enumerate() {
            create_fifo(&mut cs[0], q, &[]);
            let sender = k % cs.len();
            let dup = send(
                &mut cs[sender],
                q,
                &[
                    ("g1", "1", "g1-m1"),
                    ("g2", "2", "g2-m1"),
                    ("g1", "3", "g1-m2"),
                    ("g1", "4", "g1-m3"),
                ],
            );
            assert_eq!(dup, [false; 4]);
            let receiver = (k + 1) % cs.len();
            let got = receive(&mut cs[receiver], q, 10);
            assert_eq!(
                bodies(&got),
                ["g1-m1", "g1-m2", "g1-m3", "g2-m1"],
                "{q} with {shards} shards"
            );
            // Every group is locked while in flight, whichever connection asks.
            for c in &mut cs {
                assert!(receive(c, q, 10).is_empty(), "{q} with {shards} shards");
            }
            let attrs = cs[2]
                .get_queue_attributes(q, &["ApproximateNumberOfMessagesNotVisible"])
                .unwrap();
            assert_eq!(attrs["ApproximateNumberOfMessagesNotVisible"], "4");
        }
    }
}

#[test]
fn queue_scope_deduplication_covers_every_group_and_message_group_scope_each() {
    for shards in SHARD_COUNTS {
        let dir = tempfile::tempdir().unwrap();
        let d = start(&dir, shards);
        let mut cs = connect(&d, 4);
        create_fifo(&mut cs[0], "dq.fifo", &[]);
        create_fifo(&mut cs[0], "dg.fifo", &HIGH_THROUGHPUT);
        for (i, c) in cs.iter_mut().enumerate() {
            let g = format!("group-{i}");
            let dup = send(c, "dq.fifo", &[(&g, "same-id", "x")]);
            assert_eq!(dup, [i > 0], "queue scope, {shards} shards, sender {i}");
            let dup = send(c, "dg.fifo", &[(&g, "same-id", "x")]);
            assert_eq!(dup, [false], "group scope, {shards} shards, sender {i}");
            let dup = send(c, "dg.fifo", &[(&g, "same-id", "y")]);
            assert_eq!(dup, [true], "group scope, {shards} shards, sender {i}");
        }
        assert_eq!(receive(&mut cs[1], "dq.fifo", 10).len(), 1);
        // One receive fills up from every group.
        assert_eq!(receive(&mut cs[2], "dg.fifo", 10).len(), 4);
    }
}

/// A tiny deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Visible,
    InFlight { call: u64 },
    Deleted,
}

struct Msg {
    group: u8,
    body: String,
    state: State,
    handle: Vec<u8>,
}

/// SQS's FIFO rules over the messages in send order.
#[derive(Default)]
struct Model {
    msgs: Vec<Msg>,
    /// The deduplication keys of every send so far, under both scopes; the run is far
    /// shorter than the 5-minute window.
    dedup: Vec<String>,
    per_group: bool,
    calls: u64,
}

impl Model {
    fn dedup_key(&self, group: u8, id: &str) -> String {
        if self.per_group {
            format!("{group}/{id}")
        } else {
            id.to_string()
        }
    }

    /// Whether a send is a duplicate under the scope in force now, of any send of the
    /// window, whatever the scope was when that one was sent; remembers it if not.
    fn send(&mut self, group: u8, id: &str, body: String) -> bool {
        if self.dedup.contains(&self.dedup_key(group, id)) {
            return true;
        }
        self.dedup.push(id.to_string());
        self.dedup.push(format!("{group}/{id}"));
        self.msgs.push(Msg {
            group,
            body,
            state: State::Visible,
            handle: Vec::new(),
        });
        false
    }

    /// What a receive of `max` returns: the oldest available message's group, as much
    /// of it as is available, then the next, up to `max`.
    fn receive(&mut self, max: usize) -> Vec<usize> {
        self.calls += 1;
        let call = self.calls;
        let mut out = Vec::new();
        while out.len() < max {
            let Some(first) = (0..self.msgs.len()).find(|&i| self.available(i, call)) else {
                break;
            };
            let g = self.msgs[first].group;
            for i in first..self.msgs.len() {
                if out.len() == max || self.msgs[i].group != g {
                    continue;
                }
                match self.msgs[i].state {
                    State::Visible => {
                        self.msgs[i].state = State::InFlight { call };
                        out.push(i);
                    }
                    State::InFlight { call: c } if c != call => break,
                    _ => {}
                }
            }
        }
        out
    }

    fn available(&self, i: usize, call: u64) -> bool {
        let m = &self.msgs[i];
        m.state == State::Visible
            && !self.msgs[..i].iter().any(|o| {
                o.group == m.group && matches!(o.state, State::InFlight { call: c } if c != call)
            })
    }

    fn in_flight(&self) -> usize {
        self.msgs
            .iter()
            .filter(|m| matches!(m.state, State::InFlight { .. }))
            .count()
    }
}

fn run_model(shards: &str, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let d = start(&dir, shards);
    let mut cs = connect(&d, 3);
    let q = "model.fifo";
    create_fifo(&mut cs[0], q, &[]);
    let mut m = Model::default();
    let mut rng = Rng(seed);
    for step in 0..300 {
        let c = rng.below(cs.len() as u64) as usize;
        let ctx = format!("{shards} shards, seed {seed}, step {step}");
        match rng.below(10) {
            0..=3 => {
                let n = 1 + rng.below(4);
                let entries: Vec<(String, String, String)> = (0..n)
                    .map(|k| {
                        let g = rng.below(4);
                        let id = rng.below(200);
                        (format!("g{g}"), format!("d{id}"), format!("{step}.{k}"))
                    })
                    .collect();
                let refs: Vec<(&str, &str, &str)> = entries
                    .iter()
                    .map(|(g, i, b)| (g.as_str(), i.as_str(), b.as_str()))
                    .collect();
                let got = send(&mut cs[c], q, &refs);
                let want: Vec<bool> = entries
                    .iter()
                    .map(|(g, i, b)| m.send(g[1..].parse().unwrap(), i, b.clone()))
                    .collect();
                assert_eq!(got, want, "duplicates: {ctx}");
            }
            4..=6 => {
                let max = 1 + rng.below(10) as usize;
                let got = receive(&mut cs[c], q, max as u32);
                let want = m.receive(max);
                let want_bodies: Vec<&str> =
                    want.iter().map(|&i| m.msgs[i].body.as_str()).collect();
                assert_eq!(bodies(&got), want_bodies, "receive {max}: {ctx}");
                for (&i, r) in want.iter().zip(&got) {
                    m.msgs[i].handle = r.receipt_handle.to_vec();
                }
            }
            7 | 8 => {
                // Delete or make visible again one message in flight.
                let inflight: Vec<usize> = (0..m.msgs.len())
                    .filter(|&i| matches!(m.msgs[i].state, State::InFlight { .. }))
                    .collect();
                if inflight.is_empty() {
                    continue;
                }
                let i = inflight[rng.below(inflight.len() as u64) as usize];
                let h = m.msgs[i].handle.clone();
                if rng.below(2) == 0 {
                    let r = cs[c].delete(q, &[&h]).unwrap();
                    assert!(r[0].is_ok(), "delete: {ctx}: {r:?}");
                    m.msgs[i].state = State::Deleted;
                } else {
                    let r = cs[c].change_visibility(q, &[(&h, 0)]).unwrap();
                    assert!(r[0].is_ok(), "visibility: {ctx}: {r:?}");
                    m.msgs[i].state = State::Visible;
                }
            }
            _ => {
                m.per_group = !m.per_group;
                let mode = if m.per_group {
                    &HIGH_THROUGHPUT
                } else {
                    &DEFAULT_MODE
                };
                cs[c].set_queue_attributes(q, mode).unwrap();
            }
        }
        let attrs = cs[0]
            .get_queue_attributes(q, &["ApproximateNumberOfMessagesNotVisible"])
            .unwrap();
        assert_eq!(
            attrs["ApproximateNumberOfMessagesNotVisible"],
            m.in_flight().to_string(),
            "in flight: {ctx}"
        );
    }
}

#[test]
fn a_random_fifo_run_with_mode_switches_matches_sqs_rules_on_1_2_and_4_shards() {
    for (k, shards) in SHARD_COUNTS.iter().enumerate() {
        run_model(shards, 0x5eed_0017 + k as u64);
    }
}
