//! End to end over real sockets, through the Rust client, against a `spoold` started by
//! the test (2 shards, so cross-shard routing is always exercised):
//! - 4 producers and 4 consumers move 200 000 messages through a standard queue;
//! - a message received and not deleted comes back after its visibility timeout with
//!   receive count 2, and after maxReceiveCount lands in the dead-letter queue (and
//!   redrive brings it back);
//! - a FIFO queue with 100 groups and 4 consumers delivers every group in order, once;
//! - a short poll gathers its batch from every shard (2 and 4 shards);
//! - a long poll is answered by a send, before its wait ends;
//! - a delete submitted ahead of the next receive (pipelined) is answered after it, and
//!   what it deleted never comes back;
//! - a restart keeps every acknowledged message;
//! - the admin endpoint works with the SQS API off;
//! - SQS long polls whose HTTP connection closed take no messages;
//! - an SQS request over a limit of the binary codec is refused with a 400.
//!
//! Waiting for a visibility timeout is done by long polling, never by sleeping.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spool_client::{ClientConfig, Connection, ReceiveOptions};
use spool_protocol::message::SendEntry;
use spool_testkit::Spoold;

fn start(dir: &tempfile::TempDir) -> Spoold {
    Spoold::start(&dir.path().join("data"), &["--shards", "2"])
}

fn connect(d: &Spoold) -> Connection {
    Connection::connect(&ClientConfig {
        addr: d.addr_string(),
        ..Default::default()
    })
    .expect("connect")
}

fn receive(
    c: &mut Connection,
    queue: &str,
    max: u32,
    wait_ms: u32,
) -> Vec<spool_protocol::Message<'static>> {
    c.receive(
        queue,
        &ReceiveOptions {
            max_messages: max,
            wait_time_ms: wait_ms,
            ..Default::default()
        },
    )
    .expect("receive")
}

#[test]
fn four_producers_and_four_consumers_move_200k_messages() {
    const PRODUCERS: usize = 4;
    const PER_PRODUCER: usize = 50_000;
    const BATCH: usize = 100;
    const TOTAL: usize = PRODUCERS * PER_PRODUCER;
    let dir = tempfile::tempdir().unwrap();
    let d = start(&dir);
    connect(&d)
        .create_queue("load", &[("VisibilityTimeout", "120")])
        .unwrap();

    let seen = Arc::new(Mutex::new(HashSet::with_capacity(TOTAL)));
    let dups = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_mins(5);
    let mut threads = Vec::new();
    for p in 0..PRODUCERS {
        let mut c = connect(&d);
        threads.push(std::thread::spawn(move || {
            for start in (0..PER_PRODUCER).step_by(BATCH) {
                let bodies: Vec<Vec<u8>> = (start..start + BATCH)
                    .map(|i| format!("p{p}-{i}").into_bytes())
                    .collect();
                let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
                let res = c.send_bodies("load", &refs).unwrap();
                assert!(res.iter().all(Result::is_ok), "{res:?}");
            }
        }));
    }
    for _ in 0..4 {
        let mut c = connect(&d);
        let seen = seen.clone();
        let dups = dups.clone();
        threads.push(std::thread::spawn(move || loop {
            if seen.lock().unwrap().len() >= TOTAL || Instant::now() > deadline {
                return;
            }
            let got = receive(&mut c, "load", 100, 200);
            if got.is_empty() {
                continue;
            }
            {
                let mut s = seen.lock().unwrap();
                for m in &got {
                    if !s.insert(m.body.to_vec()) {
                        dups.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            let handles: Vec<&[u8]> = got.iter().map(|m| &m.receipt_handle[..]).collect();
            let res = c.delete("load", &handles).unwrap();
            assert!(res.iter().all(Result::is_ok), "{res:?}");
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), TOTAL, "every message received");
    for p in 0..PRODUCERS {
        for i in (0..PER_PRODUCER).step_by(997) {
            assert!(seen.contains(format!("p{p}-{i}").as_bytes()));
        }
    }
    // Deleted within the visibility timeout: nothing comes twice, nothing is left.
    assert_eq!(dups.load(Ordering::Relaxed), 0);
    let attrs = connect(&d).get_queue_attributes("load", &["All"]).unwrap();
    assert_eq!(attrs["ApproximateNumberOfMessages"], "0", "{attrs:?}");
    assert_eq!(
        attrs["ApproximateNumberOfMessagesNotVisible"], "0",
        "{attrs:?}"
    );
}

#[test]
fn redelivery_after_visibility_timeout_then_dead_letter_then_redrive() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(&dir);
    let mut c = connect(&d);
    c.create_queue("dead", &[]).unwrap();
    let arn = c.get_queue_attributes("dead", &["QueueArn"]).unwrap()["QueueArn"].clone();
    let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"2"}}"#);
    c.create_queue(
        "work",
        &[("VisibilityTimeout", "1"), ("RedrivePolicy", &policy)],
    )
    .unwrap();
    assert_eq!(
        c.list_dead_letter_source_queues("dead").unwrap(),
        vec!["work"]
    );
    let res = c.send_bodies("work", &[b"poison"]).unwrap();
    assert!(res[0].is_ok());

    let first = receive(&mut c, "work", 1, 5_000);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    // Not deleted: the long poll ends when the 1 s visibility timeout does.
    let second = receive(&mut c, "work", 1, 10_000);
    assert_eq!(second.len(), 1, "redelivered after the visibility timeout");
    assert_eq!(second[0].receive_count, 2);
    assert_eq!(second[0].message_id, first[0].message_id);
    // The stale handle from the first receive deletes nothing (SQS: success).
    let res = c.delete("work", &[&first[0].receipt_handle[..]]).unwrap();
    assert!(res[0].is_ok());

    // maxReceiveCount is 2: the next receive moves it to the dead-letter queue instead.
    let third = receive(&mut c, "work", 1, 3_000);
    assert!(third.is_empty(), "{third:?}");
    let dead = receive(&mut c, "dead", 1, 10_000);
    assert_eq!(dead.len(), 1, "the message is in the dead-letter queue");
    assert_eq!(&dead[0].body[..], b"poison");
    assert_eq!(dead[0].message_id, first[0].message_id);
    assert_eq!(dead[0].dead_letter_source.as_deref(), Some("work"));
    assert_eq!(
        dead[0].receive_count, 3,
        "two receives in work, one in dead"
    );

    // Redrive needs a dead-letter queue: "work" is none (and keeps what it has).
    let err = c.redrive("work", None, 100).unwrap_err().to_string();
    assert!(err.contains("RedriveNotAllowed"), "{err}");

    // Redrive: back to where it came from.
    c.change_visibility("dead", &[(&dead[0].receipt_handle[..], 0)])
        .unwrap();
    assert_eq!(c.redrive("dead", None, 100).unwrap(), 1);
    let back = receive(&mut c, "work", 1, 10_000);
    assert_eq!(back.len(), 1);
    assert_eq!(&back[0].body[..], b"poison");
    assert_eq!(back[0].receive_count, 1, "a redriven message starts afresh");
}

/// Sends one message through each of `2 * shards` connections (connections are dealt
/// round robin over the shards, and a standard send stays on its connection's shard, so
/// every shard holds some), then one short poll for 10 gets them all.
fn a_short_poll_fills_its_batch_from_every_shard(shards: usize) {
    let dir = tempfile::tempdir().unwrap();
    let n = shards.to_string();
    let d = Spoold::start(&dir.path().join("data"), &["--shards", &n]);
    let mut c = connect(&d);
    c.create_queue("spread", &[]).unwrap();
    let mut conns: Vec<Connection> = (0..2 * shards).map(|_| connect(&d)).collect();
    for (i, s) in conns.iter_mut().enumerate() {
        let body = format!("m{i}");
        assert!(s.send_bodies("spread", &[body.as_bytes()]).unwrap()[0].is_ok());
    }
    let got = receive(&mut c, "spread", 10, 0);
    let mut bodies: Vec<String> = got
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    bodies.sort();
    let mut want: Vec<String> = (0..2 * shards).map(|i| format!("m{i}")).collect();
    want.sort();
    assert_eq!(
        bodies, want,
        "{shards} shards: one short poll returns every message"
    );
    // A batch full on the way stops there: 2 of them, the rest stays.
    for m in &got {
        c.change_visibility("spread", &[(&m.receipt_handle[..], 0)])
            .unwrap();
    }
    assert_eq!(receive(&mut c, "spread", 2, 0).len(), 2);
}

#[test]
fn a_short_poll_fills_its_batch_from_every_shard_of_two() {
    a_short_poll_fills_its_batch_from_every_shard(2);
}

#[test]
fn a_short_poll_fills_its_batch_from_every_shard_of_four() {
    a_short_poll_fills_its_batch_from_every_shard(4);
}

#[test]
fn fifo_with_100_groups_and_4_consumers_is_in_order_without_duplicates() {
    const GROUPS: usize = 100;
    const PER_GROUP: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let d = start(&dir);
    let mut c = connect(&d);
    c.create_queue(
        "orders.fifo",
        &[("FifoQueue", "true"), ("VisibilityTimeout", "60")],
    )
    .unwrap();
    let send_all = |c: &mut Connection| {
        for seq in 0..PER_GROUP {
            let bodies: Vec<String> = (0..GROUPS).map(|g| format!("{g}:{seq}")).collect();
            for chunk in (0..GROUPS).collect::<Vec<_>>().chunks(50) {
                let entries: Vec<SendEntry<'_>> = chunk
                    .iter()
                    .map(|&g| SendEntry {
                        body: bodies[g].as_bytes().into(),
                        group_id: Some(format!("g{g}").into()),
                        dedup_id: Some(format!("d{g}-{seq}").into()),
                        ..Default::default()
                    })
                    .collect();
                let res = c.send("orders.fifo", &entries).unwrap();
                assert!(res.iter().all(Result::is_ok), "{res:?}");
            }
        }
    };
    send_all(&mut c);
    // A producer retrying everything within the deduplication window adds nothing.
    send_all(&mut c);

    let clock = Arc::new(AtomicU64::new(0));
    let log: Arc<Mutex<Vec<(u64, usize, usize)>>> = Arc::new(Mutex::new(Vec::new()));
    let total = GROUPS * PER_GROUP;
    let deadline = Instant::now() + Duration::from_mins(2);
    let mut threads = Vec::new();
    for _ in 0..4 {
        let mut c = connect(&d);
        let (clock, log) = (clock.clone(), log.clone());
        threads.push(std::thread::spawn(move || loop {
            if log.lock().unwrap().len() >= total || Instant::now() > deadline {
                return;
            }
            let got = receive(&mut c, "orders.fifo", 10, 200);
            // Stamped after the receive and before the delete: the next message of a
            // group can only be received after this one is deleted, so stamps order
            // each group's deliveries.
            let stamps: Vec<u64> = got
                .iter()
                .map(|_| clock.fetch_add(1, Ordering::SeqCst))
                .collect();
            {
                let mut l = log.lock().unwrap();
                for (m, st) in got.iter().zip(stamps) {
                    let s = std::str::from_utf8(&m.body).unwrap();
                    let (g, q) = s.split_once(':').unwrap();
                    l.push((st, g.parse().unwrap(), q.parse().unwrap()));
                }
            }
            if !got.is_empty() {
                let handles: Vec<&[u8]> = got.iter().map(|m| &m.receipt_handle[..]).collect();
                let res = c.delete("orders.fifo", &handles).unwrap();
                assert!(res.iter().all(Result::is_ok), "{res:?}");
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let mut log = log.lock().unwrap().clone();
    assert_eq!(log.len(), total, "every message exactly once");
    log.sort_unstable();
    let mut per_group: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (_, g, q) in log {
        per_group.entry(g).or_default().push(q);
    }
    assert_eq!(per_group.len(), GROUPS);
    let want: Vec<usize> = (0..PER_GROUP).collect();
    for (g, seqs) in per_group {
        assert_eq!(seqs, want, "group {g} out of order or duplicated");
    }
}

#[test]
fn a_pipelined_delete_is_answered_after_the_receive_behind_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(&dir);
    let mut c = connect(&d);
    c.create_queue("pipe", &[]).unwrap();
    let bodies: Vec<Vec<u8>> = (0..20).map(|i| format!("m{i}").into_bytes()).collect();
    let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    assert!(c
        .send_bodies("pipe", &refs)
        .unwrap()
        .iter()
        .all(Result::is_ok));

    let mut first = Vec::new();
    while first.len() < 10 {
        first.extend(receive(&mut c, "pipe", 10 - first.len() as u32, 5_000));
    }
    let handles: Vec<&[u8]> = first.iter().map(|m| &m.receipt_handle[..]).collect();
    let id = c.submit_delete("pipe", &handles).unwrap();
    assert_eq!(c.in_flight(), 1, "the delete is out, unanswered");
    // The receive's answer comes first (the delete waits for its group commit); the
    // delete's answer, if it arrives first, is kept for delete_results.
    let mut second = Vec::new();
    while second.len() < 10 {
        second.extend(receive(&mut c, "pipe", 10 - second.len() as u32, 5_000));
    }
    let results = c.delete_results(id, handles.len()).unwrap();
    assert_eq!(results.len(), 10);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(c.in_flight(), 0);
    // Answering the same request twice is refused.
    assert!(c.delete_results(id, handles.len()).is_err());

    // Make the second batch visible again: exactly it comes back, never the first.
    let entries: Vec<(&[u8], u32)> = second.iter().map(|m| (&m.receipt_handle[..], 0)).collect();
    assert!(c
        .change_visibility("pipe", &entries)
        .unwrap()
        .iter()
        .all(Result::is_ok));
    let mut again = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while again.len() < 10 && Instant::now() < deadline {
        again.extend(receive(&mut c, "pipe", 10, 1_000));
    }
    let ids = |ms: &[spool_protocol::Message<'static>]| -> HashSet<[u8; 16]> {
        ms.iter().map(|m| m.message_id).collect()
    };
    assert_eq!(ids(&again), ids(&second));
    assert!(ids(&again).is_disjoint(&ids(&first)));
    assert!(receive(&mut c, "pipe", 10, 200).is_empty());
}

#[test]
fn a_long_poll_is_answered_by_a_send_before_its_wait_ends() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(&dir);
    connect(&d).create_queue("poll", &[]).unwrap();
    // Several rounds with fresh connections, so the poller and the sender land on the
    // same shard in some rounds and on different shards in others.
    for round in 0..6 {
        let mut consumer = connect(&d);
        let waiter = std::thread::spawn(move || {
            let t = Instant::now();
            let got = receive(&mut consumer, "poll", 1, 20_000);
            (got, t.elapsed())
        });
        // Let the receive park first (if it has not, it finds the message at once: the
        // assertions hold either way).
        std::thread::sleep(Duration::from_millis(100));
        let mut producer = connect(&d);
        let body = format!("wake-{round}");
        producer.send_bodies("poll", &[body.as_bytes()]).unwrap();
        let (got, waited) = waiter.join().unwrap();
        assert_eq!(
            got.len(),
            1,
            "round {round}: the send answered the long poll"
        );
        assert_eq!(got[0].body, body.as_bytes());
        assert!(
            waited < Duration::from_secs(20),
            "round {round}: answered only when the wait ended ({waited:?})"
        );
        let mut c = connect(&d);
        c.delete("poll", &[&got[0].receipt_handle[..]]).unwrap();
    }
}

#[test]
fn a_long_poll_with_nothing_sent_ends_empty() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(&dir);
    let mut c = connect(&d);
    c.create_queue("poll", &[]).unwrap();
    assert!(receive(&mut c, "poll", 1, 300).is_empty());
}

#[test]
fn a_restart_keeps_every_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = start(&dir);
    let mut c = connect(&d);
    // A short visibility timeout: what is in flight at the restart stays in flight until
    // its deadline, then comes back.
    c.create_queue("keep", &[("VisibilityTimeout", "2")])
        .unwrap();
    c.create_queue(
        "keep.fifo",
        &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
    )
    .unwrap();
    let mut want = HashSet::new();
    for b in 0..10 {
        let bodies: Vec<String> = (0..100).map(|i| format!("m{b}-{i}")).collect();
        let refs: Vec<&[u8]> = bodies.iter().map(std::string::String::as_bytes).collect();
        assert!(c
            .send_bodies("keep", &refs)
            .unwrap()
            .iter()
            .all(Result::is_ok));
        want.extend(bodies);
    }
    // Half in flight at the restart: they come back visible at their deadline.
    let inflight = receive(&mut c, "keep", 500, 1000);
    let received_at = std::time::Instant::now();
    assert!(!inflight.is_empty());
    let entries: Vec<SendEntry<'_>> = (0..20)
        .map(|i| SendEntry {
            body: format!("f{i}").into_bytes().into(),
            group_id: Some("g".into()),
            ..Default::default()
        })
        .collect();
    assert!(c
        .send("keep.fifo", &entries)
        .unwrap()
        .iter()
        .all(Result::is_ok));
    drop(c);
    assert_eq!(
        d.terminate(),
        Some(0),
        "clean exit on SIGTERM:\n{}",
        d.stderr()
    );

    let d = start(&dir);
    let mut c = connect(&d);
    let back = received_at + std::time::Duration::from_millis(2_200);
    std::thread::sleep(back.saturating_duration_since(std::time::Instant::now()));
    let mut got = HashSet::new();
    loop {
        let ms = receive(&mut c, "keep", 1000, 500);
        if ms.is_empty() {
            break;
        }
        for m in ms {
            got.insert(String::from_utf8(m.body.to_vec()).unwrap());
        }
    }
    assert_eq!(got, want);
    let mut fifo = Vec::new();
    loop {
        let ms = receive(&mut c, "keep.fifo", 10, 500);
        if ms.is_empty() {
            break;
        }
        let handles: Vec<&[u8]> = ms.iter().map(|m| &m.receipt_handle[..]).collect();
        c.delete("keep.fifo", &handles).unwrap();
        fifo.extend(
            ms.into_iter()
                .map(|m| String::from_utf8(m.body.to_vec()).unwrap()),
        );
    }
    let want_fifo: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
    assert_eq!(fifo, want_fifo);
}

/// `spool_commit_seconds_count` of shard 0 from the admin endpoint.
fn http_get(admin_url: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let host = admin_url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

fn commits(admin_url: &str) -> u64 {
    http_get(admin_url, "/metrics")
        .lines()
        .find_map(|l| l.strip_prefix("spool_commit_seconds_count{shard=\"0\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn sqs_long_polls_whose_connection_closed_take_no_messages() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let d = start(&dir);
    let sqs = d.sqs_url.clone().expect("SQS API on");
    let hostport = sqs.trim_start_matches("http://").to_string();
    let mut c = connect(&d);
    // The default visibility timeout, 30 s: a message a dead poll took would stay
    // invisible far longer than this test waits.
    c.create_queue("gone", &[]).unwrap();
    let body = format!(
        r#"{{"QueueUrl":"{sqs}/000000000000/gone","WaitTimeSeconds":20,"MaxNumberOfMessages":10}}"#
    );
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {hostport}\r\nX-Amz-Target: AmazonSQS.ReceiveMessage\r\n\
         Content-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // Four long polls (connections are dealt over both shards), parked: no answer yet.
    let mut polls = Vec::new();
    for _ in 0..4 {
        let mut s = std::net::TcpStream::connect(&hostport).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        polls.push(s);
    }
    for s in &mut polls {
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut b = [0u8; 64];
        assert!(s.read(&mut b).is_err(), "the long poll answered at once");
    }
    // The callers go away: wait until the daemon has seen every SQS connection close
    // (their polls are dropped then, at the latest when a send wakes them).
    drop(polls);
    let admin = d.admin_url.clone().expect("admin endpoint on");
    let open = || {
        http_get(&admin, "/metrics")
            .lines()
            .find_map(|l| l.strip_prefix("spool_connections{protocol=\"sqs\"} "))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while open() != Some(0) {
        assert!(
            Instant::now() < deadline,
            "SQS connections still open: {:?}",
            open()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(c
        .send_bodies("gone", &[b"a", b"b", b"c"])
        .unwrap()
        .iter()
        .all(Result::is_ok));
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while got < 3 && Instant::now() < deadline {
        got += receive(&mut c, "gone", 10, 1_000).len();
    }
    assert_eq!(
        got, 3,
        "messages went to long polls whose connection had closed"
    );
}

#[test]
fn an_sqs_request_over_a_codec_limit_is_refused() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let d = start(&dir);
    let sqs = d.sqs_url.clone().expect("SQS API on");
    let hostport = sqs.trim_start_matches("http://").to_string();
    connect(&d).create_queue("limits", &[]).unwrap();
    let call = |names: usize| -> String {
        let list: Vec<String> = (0..names).map(|i| format!("\"a{i}\"")).collect();
        let body = format!(
            r#"{{"QueueUrl":"{sqs}/000000000000/limits","MessageAttributeNames":[{}]}}"#,
            list.join(",")
        );
        let req = format!(
            "POST / HTTP/1.1\r\nHost: {hostport}\r\nX-Amz-Target: AmazonSQS.ReceiveMessage\r\n\
             Content-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        let mut s = std::net::TcpStream::connect(&hostport).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        resp
    };
    let ok = call(spool_protocol::MAX_ATTRIBUTE_NAMES);
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let over = call(spool_protocol::MAX_ATTRIBUTE_NAMES + 1);
    assert!(over.starts_with("HTTP/1.1 400"), "{over}");
    assert!(over.contains("__type"), "an AWS-shaped error: {over}");
}

#[test]
fn the_admin_endpoint_works_with_the_sqs_api_off() {
    let dir = tempfile::tempdir().unwrap();
    let d = Spoold::start(
        &dir.path().join("data"),
        &["--shards", "2", "--sqs-listen", "off"],
    );
    assert_eq!(d.sqs_url, None, "the SQS API is off");
    let admin = d.admin_url.clone().expect("the admin endpoint is on");
    assert!(http_get(&admin, "/health").starts_with("HTTP/1.1 200"));
    let mut c = connect(&d);
    c.create_queue("metered", &[]).unwrap();
    let total = || commits_on(&admin, 0) + commits_on(&admin, 1);
    let before = total();
    assert!(c.send_bodies("metered", &[b"x"]).unwrap()[0].is_ok());
    assert!(total() > before, "the send's commit is counted");
    assert!(http_get(&admin, "/metrics").contains("queue=\"metered\""));
}

fn commits_on(admin_url: &str, shard: usize) -> u64 {
    let prefix = format!("spool_commit_seconds_count{{shard=\"{shard}\"}} ");
    http_get(admin_url, "/metrics")
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// In `batch` durability sends are acknowledged before their flush, which waits for the
/// interval; a producer that outruns it must not pile up staged data without bound: once
/// enough is staged (`BATCH_FLUSH_BYTES`, 8 MiB), the shard flushes early. With a 60 s
/// interval, commits come from those early flushes (and from the index sync wave a group
/// commit carries once a second), long before the interval; what they committed survives
/// kill -9.
///
/// The first commit counted may hold only the first few MiB, and the flushes after it may
/// still be out: the daemon is killed only once it has committed the first 32 MiB (a
/// message is counted in ApproximateNumberOfMessages when its commit is done, and in
/// `batch` durability a commit is fdatasynced), so the check after the restart does not
/// depend on how fast the daemon ran (it once saw 384 of 512 on a loaded machine).
#[test]
fn batch_durability_flushes_early_when_much_is_staged() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Spoold::start(
        &dir.path().join("data"),
        &["--shards", "1", "--durability", "batch=60000"],
    );
    let admin = d.admin_url.clone().expect("admin endpoint");
    let mut c = connect(&d);
    c.create_queue("staged", &[]).unwrap();
    let before = commits(&admin);
    let body = vec![b'x'; 64 << 10];
    // 40 MiB in batches of 1 MiB.
    for _ in 0..40 {
        let refs: Vec<&[u8]> = (0..16).map(|_| body.as_slice()).collect();
        assert!(c
            .send_bodies("staged", &refs)
            .unwrap()
            .iter()
            .all(Result::is_ok));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while commits(&admin) == before {
        assert!(
            Instant::now() < deadline,
            "no commit within 20 s of staging 40 MiB with a 60 s batch interval"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let committed = |c: &mut Connection| -> usize {
        c.get_queue_attributes("staged", &["ApproximateNumberOfMessages"])
            .unwrap()["ApproximateNumberOfMessages"]
            .parse()
            .unwrap()
    };
    while committed(&mut c) < 32 * 16 {
        assert!(
            Instant::now() < deadline,
            "the first 32 MiB not committed within 20 s with a 60 s batch interval"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(c);
    d.kill9();
    let d = Spoold::start(&dir.path().join("data"), &["--shards", "1"]);
    let mut c = connect(&d);
    let attrs = c
        .get_queue_attributes("staged", &["ApproximateNumberOfMessages"])
        .unwrap();
    let n: usize = attrs["ApproximateNumberOfMessages"].parse().unwrap();
    assert!(
        n >= 32 * 16,
        "at least the first 32 MiB were flushed and survive kill -9: {n} messages"
    );
}
