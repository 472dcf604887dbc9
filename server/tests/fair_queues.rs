//! Fair queues over real sockets with 1 and 2 shards: on a standard queue, a quiet
//! tenant's message (MessageGroupId `quiet`) sent behind a noisy tenant's backlog of
//! thousands is in the first receive on every shard; without group ids the same message
//! waits behind the backlog (the plain standard order), which shows the first result is
//! the fair queue's doing. Everything sent is received exactly once.
//!
//! Connections are dealt over the shards round robin and standard sends stay on the
//! connection's shard, so one connection per shard gives each shard its own backlog.

use std::collections::HashSet;

use spool_client::{ClientConfig, Connection, ReceiveOptions};
use spool_protocol::message::SendEntry;
use spool_testkit::Spoold;

const SHARD_COUNTS: [usize; 2] = [1, 2];
/// The noisy tenant's backlog on each shard.
const NOISY_PER_SHARD: usize = 3000;
const Q: &str = "tenants";

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

fn send(c: &mut Connection, group: Option<&str>, bodies: &[String]) {
    for chunk in bodies.chunks(100) {
        let es: Vec<SendEntry<'_>> = chunk
            .iter()
            .map(|b| SendEntry {
                body: b.as_bytes().into(),
                group_id: group.map(Into::into),
                ..Default::default()
            })
            .collect();
        for r in c.send(Q, &es).unwrap() {
            r.unwrap();
        }
    }
}

fn receive(c: &mut Connection, max: u32) -> Vec<String> {
    let opts = ReceiveOptions {
        max_messages: max,
        ..Default::default()
    };
    c.receive(Q, &opts)
        .unwrap()
        .iter()
        .map(|m| String::from_utf8(m.body.to_vec()).unwrap())
        .collect()
}

/// Builds a noisy backlog and then one quiet message on every shard (group ids only
/// when `fair`); returns the connections, the quiet bodies and every body sent.
fn noisy_then_quiet(
    d: &Spoold,
    shards: usize,
    fair: bool,
) -> (Vec<Connection>, Vec<String>, usize) {
    let mut cs = connect(d, shards);
    cs[0]
        .create_queue(Q, &[("VisibilityTimeout", "300")])
        .unwrap();
    let mut quiet = Vec::new();
    for (i, c) in cs.iter_mut().enumerate() {
        let noisy: Vec<String> = (0..NOISY_PER_SHARD)
            .map(|n| format!("noisy-{i}-{n}"))
            .collect();
        send(c, fair.then_some("noisy"), &noisy);
    }
    for (i, c) in cs.iter_mut().enumerate() {
        let q = format!("quiet-{i}");
        send(c, fair.then_some("quiet"), std::slice::from_ref(&q));
        quiet.push(q);
    }
    (cs, quiet, shards * (NOISY_PER_SHARD + 1))
}

fn drain_all(cs: &mut [Connection], mut seen: Vec<String>, total: usize) {
    loop {
        let mut got = 0;
        for c in cs.iter_mut() {
            let b = receive(c, 10);
            got += b.len();
            seen.extend(b);
        }
        if got == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), total, "every message received");
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        total,
        "none twice"
    );
}

#[test]
fn quiet_tenant_behind_a_noisy_backlog_is_in_the_first_receive_on_every_shard() {
    for shards in SHARD_COUNTS {
        let dir = tempfile::tempdir().unwrap();
        let d = Spoold::start(&dir.path().join("data"), &["--shards", &shards.to_string()]);
        let (mut cs, quiet, total) = noisy_then_quiet(&d, shards, true);
        let mut first = Vec::new();
        for c in &mut cs {
            first.extend(receive(c, 10));
        }
        for q in &quiet {
            assert!(first.contains(q), "{shards} shard(s): {q} not in {first:?}");
        }
        drain_all(&mut cs, first, total);
    }
}

#[test]
fn without_group_ids_the_quiet_message_waits_behind_the_backlog() {
    for shards in SHARD_COUNTS {
        let dir = tempfile::tempdir().unwrap();
        let d = Spoold::start(&dir.path().join("data"), &["--shards", &shards.to_string()]);
        let (mut cs, quiet, total) = noisy_then_quiet(&d, shards, false);
        let mut first = Vec::new();
        for c in &mut cs {
            first.extend(receive(c, 10));
        }
        for q in &quiet {
            assert!(!first.contains(q), "{shards} shard(s): {q} in {first:?}");
        }
        drain_all(&mut cs, first, total);
    }
}
