//! Crash safety of the daemon: under load (producers sending, a consumer taking messages
//! in flight), `kill -9` the daemon at a random moment, restart it on the same data, and
//! check that every send the client saw acknowledged is receivable and that every
//! message read back is intact (each body carries its own checksum). Repeated for
//! `SPOOL_KILL_ROUNDS` rounds (default 20), each bounded in time.
//!
//! And a restart is invisible to consumers (issue 17): a message received before a
//! `kill -9` or a clean stop stays in flight until its visibility deadline, keeps its
//! receive count, and the handle of that receive still deletes it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spool_client::{ClientConfig, Connection, ReceiveOptions};
use spool_protocol::message::Message;
use spool_testkit::Spoold;

/// `<tag>:<crc32 of tag, hex>:<padding>` — a garbled or torn body fails the check.
fn body(tag: &str, pad: usize) -> Vec<u8> {
    let crc = crc32(tag.as_bytes());
    let mut b = format!("{tag}:{crc:08x}:").into_bytes();
    b.extend(std::iter::repeat_n(b'.', pad));
    b
}

fn check(b: &[u8]) -> String {
    let s = std::str::from_utf8(b).expect("a body is UTF-8");
    let mut it = s.splitn(3, ':');
    let tag = it.next().unwrap();
    let crc = it.next().expect("a body has a checksum");
    let pad = it.next().expect("a body has padding");
    assert_eq!(
        format!("{:08x}", crc32(tag.as_bytes())),
        crc,
        "corrupt body {s:?}"
    );
    assert!(pad.bytes().all(|c| c == b'.'), "corrupt padding in {tag}");
    tag.to_string()
}

fn crc32(data: &[u8]) -> u32 {
    // Bitwise CRC-32 (IEEE); the test must not share code with what it checks.
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn connect(addr: &str) -> Option<Connection> {
    Connection::connect(&ClientConfig {
        addr: addr.to_string(),
        io_timeout: Some(Duration::from_secs(20)),
        ..Default::default()
    })
    .ok()
}

/// The load test's consumer receives with this visibility timeout.
const CONSUMER_VISIBILITY_S: u32 = 1;

/// A small xorshift generator: random kill moments and sizes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_message() {
    let rounds: usize = std::env::var("SPOOL_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill9 seed {seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Small segments so rounds cross segment rolls.
    let args = ["--shards", "2", "--segment-mib", "1"];
    {
        let d = Spoold::start(&data, &args);
        let mut c = connect(&d.addr_string()).unwrap();
        c.create_queue("crash", &[("VisibilityTimeout", "600")])
            .unwrap();
        c.create_queue("crash.fifo", &[("FifoQueue", "true")])
            .unwrap();
    }
    let mut total_checked = 0usize;
    for round in 0..rounds {
        let mut d = Spoold::start(&data, &args);
        let addr = d.addr_string();
        let acked: Arc<Mutex<HashSet<String>>> = Arc::new(Mutex::new(HashSet::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for p in 0..3 {
            let (addr, acked, stop) = (addr.clone(), acked.clone(), stop.clone());
            let pad = (rng.next() % 2000) as usize;
            threads.push(std::thread::spawn(move || {
                let Some(mut c) = connect(&addr) else { return };
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let tags: Vec<String> =
                        (0..50).map(|k| format!("r{round}p{p}n{}", i + k)).collect();
                    let bodies: Vec<Vec<u8>> = tags.iter().map(|t| body(t, pad)).collect();
                    let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
                    let Ok(res) = c.send_bodies("crash", &refs) else {
                        return;
                    };
                    let mut a = acked.lock().unwrap();
                    for (t, r) in tags.into_iter().zip(res) {
                        if r.is_ok() {
                            a.insert(t);
                        }
                    }
                    i += 50;
                }
            }));
        }
        {
            // A FIFO producer: per-group order must survive too.
            let (addr, acked, stop) = (addr.clone(), acked.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                let Some(mut c) = connect(&addr) else { return };
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let tags: Vec<String> =
                        (0..10).map(|k| format!("r{round}f{}", i + k)).collect();
                    let bodies: Vec<Vec<u8>> = tags.iter().map(|t| body(t, 10)).collect();
                    let entries: Vec<spool_protocol::message::SendEntry<'_>> = bodies
                        .iter()
                        .zip(&tags)
                        .map(|(b, t)| spool_protocol::message::SendEntry {
                            body: b.as_slice().into(),
                            group_id: Some(format!("g{}", (i / 10) % 4).into()),
                            dedup_id: Some(t.clone().into()),
                            ..Default::default()
                        })
                        .collect();
                    let Ok(res) = c.send("crash.fifo", &entries) else {
                        return;
                    };
                    let mut a = acked.lock().unwrap();
                    for (t, r) in tags.into_iter().zip(res) {
                        if r.is_ok() {
                            a.insert(t);
                        }
                    }
                    i += 10;
                }
            }));
        }
        {
            // A consumer putting messages in flight (not deleting): they must come back, at
            // their visibility deadline (which a restart keeps).
            let (addr, stop) = (addr.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                let Some(mut c) = connect(&addr) else { return };
                while !stop.load(Ordering::Relaxed) {
                    let opts = ReceiveOptions {
                        max_messages: 20,
                        wait_time_ms: 50,
                        visibility_timeout_s: Some(CONSUMER_VISIBILITY_S),
                        ..Default::default()
                    };
                    if c.receive("crash", &opts).is_err() {
                        return;
                    }
                }
            }));
        }
        let delay = 50 + rng.next() % 400;
        std::thread::sleep(Duration::from_millis(delay));
        d.kill9();
        let killed = Instant::now();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        let acked = acked.lock().unwrap().clone();

        // Restart and drain everything; each round starts from an empty queue. What the
        // consumer had in flight comes back at its deadline: wait it out.
        let d = Spoold::start(&data, &args);
        let back = killed + Duration::from_millis(u64::from(CONSUMER_VISIBILITY_S) * 1000 + 200);
        std::thread::sleep(back.saturating_duration_since(Instant::now()));
        let mut c = connect(&d.addr_string()).unwrap();
        let mut got: HashSet<String> = HashSet::new();
        let deadline = Instant::now() + Duration::from_mins(2);
        for queue in ["crash", "crash.fifo"] {
            let mut last_in_group: HashMap<String, usize> = HashMap::new();
            loop {
                assert!(
                    Instant::now() < deadline,
                    "round {round}: drain took too long"
                );
                let opts = ReceiveOptions {
                    max_messages: if queue == "crash" { 1000 } else { 10 },
                    wait_time_ms: 300,
                    ..Default::default()
                };
                let ms = c.receive(queue, &opts).unwrap();
                if ms.is_empty() {
                    break;
                }
                for m in &ms {
                    let tag = check(&m.body);
                    if queue == "crash.fifo" {
                        let g = m.group_id.as_deref().unwrap().to_string();
                        let n: usize = tag.rsplit('f').next().unwrap().parse().unwrap();
                        if let Some(&prev) = last_in_group.get(&g) {
                            assert!(
                                n > prev,
                                "round {round}: group {g} out of order: {prev} then {n}"
                            );
                        }
                        last_in_group.insert(g, n);
                    }
                    got.insert(tag);
                }
                let handles: Vec<&[u8]> = ms.iter().map(|m| &m.receipt_handle[..]).collect();
                let res = c.delete(queue, &handles).unwrap();
                assert!(res.iter().all(Result::is_ok));
            }
        }
        let missing: Vec<&String> = acked.iter().filter(|t| !got.contains(*t)).take(5).collect();
        assert!(
            missing.is_empty(),
            "round {round} (killed after {delay} ms): {} acknowledged messages lost, e.g. {missing:?}\n{}",
            acked.iter().filter(|t| !got.contains(*t)).count(),
            d.stderr()
        );
        // Start-up ran recovery and said so.
        let log = d.stderr();
        assert!(
            log.contains("recovered"),
            "round {round}: no recovery report:\n{log}"
        );
        total_checked += acked.len();
        eprintln!(
            "round {round}: killed after {delay} ms, {} acknowledged, {} read back",
            acked.len(),
            got.len()
        );
    }
    assert!(total_checked > 0, "the load acknowledged nothing");
}

fn receive_now(c: &mut Connection, queue: &str, max: u32, vis_s: u32) -> Vec<Message<'static>> {
    let opts = ReceiveOptions {
        max_messages: max,
        visibility_timeout_s: Some(vis_s),
        ..Default::default()
    };
    c.receive(queue, &opts).unwrap()
}

/// Receives until `want` messages came (polling, bounded).
fn receive_until(
    c: &mut Connection,
    queue: &str,
    want: usize,
    within: Duration,
) -> Vec<Message<'static>> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        let opts = ReceiveOptions {
            max_messages: 10,
            visibility_timeout_s: Some(60),
            wait_time_ms: 200,
            ..Default::default()
        };
        got.extend(c.receive(queue, &opts).unwrap());
    }
    got
}

/// One scenario, stopped by `stop`: two of three messages are received (3 s visibility),
/// the daemon stops and restarts; the third is visible at once, the two stay in flight
/// until their deadline, one is deleted by its pre-restart handle, the other comes back
/// at its deadline with receive count 2.
fn restart_keeps_receipts(stop: impl FnOnce(&mut Spoold)) {
    const VIS_S: u32 = 3;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--shards", "2"];
    let mut d = Spoold::start(&data, &args);
    let mut c = connect(&d.addr_string()).unwrap();
    c.create_queue("r", &[]).unwrap();
    let bodies: Vec<Vec<u8>> = (0..3).map(|i| body(&format!("m{i}"), 10)).collect();
    let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    assert!(c.send_bodies("r", &refs).unwrap().iter().all(Result::is_ok));
    // Exactly two received (one at a time: the shards may each hold some of the three).
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while received.len() < 2 && Instant::now() < deadline {
        let opts = ReceiveOptions {
            max_messages: 1,
            visibility_timeout_s: Some(VIS_S),
            wait_time_ms: 200,
            ..Default::default()
        };
        received.extend(c.receive("r", &opts).unwrap());
    }
    assert_eq!(received.len(), 2);
    let at = Instant::now();
    stop(&mut d);
    drop(c);

    let d = Spoold::start(&data, &args);
    let mut c = connect(&d.addr_string()).unwrap();
    let visible = receive_until(&mut c, "r", 1, Duration::from_secs(2));
    let tags: Vec<String> = visible.iter().map(|m| check(&m.body)).collect();
    assert_eq!(
        tags.len(),
        1,
        "only the message never received is visible: {tags:?}"
    );
    assert!(received.iter().all(|m| check(&m.body) != tags[0]));
    let h0: &[u8] = &received[0].receipt_handle;
    let res = c.delete("r", &[h0]).unwrap();
    assert!(res[0].is_ok(), "the pre-restart handle deletes: {res:?}");
    assert!(
        at.elapsed() < Duration::from_secs(u64::from(VIS_S)),
        "the restart took longer than the visibility timeout; the test proves nothing"
    );
    assert!(
        receive_now(&mut c, "r", 10, 60).is_empty(),
        "the other received message is still in flight"
    );
    let back = receive_until(&mut c, "r", 1, Duration::from_secs(u64::from(VIS_S) + 2));
    assert_eq!(back.len(), 1, "back at its deadline");
    assert_eq!(check(&back[0].body), check(&received[1].body));
    assert_eq!(back[0].receive_count, 2, "its receive count was kept");
    assert!(
        at.elapsed() + Duration::from_millis(300) >= Duration::from_secs(u64::from(VIS_S)),
        "not before its deadline"
    );
}

#[test]
fn after_kill_9_received_messages_stay_in_flight_and_their_handles_delete() {
    restart_keeps_receipts(Spoold::kill9);
}

#[test]
fn after_a_clean_stop_received_messages_stay_in_flight_and_their_handles_delete() {
    restart_keeps_receipts(|d| {
        d.terminate();
    });
}
