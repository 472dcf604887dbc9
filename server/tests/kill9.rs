//! Crash safety of the daemon: under load (producers sending, a consumer taking messages
//! in flight), `kill -9` the daemon at a random moment, restart it on the same data, and
//! check that every send the client saw acknowledged is receivable and that every
//! message read back is intact (each body carries its own checksum). Repeated for
//! `SPOOL_KILL_ROUNDS` rounds (default 20), each bounded in time.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spool_client::{ClientConfig, Connection, ReceiveOptions};
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
            // A consumer putting messages in flight (not deleting): they must come back.
            let (addr, stop) = (addr.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                let Some(mut c) = connect(&addr) else { return };
                while !stop.load(Ordering::Relaxed) {
                    let opts = ReceiveOptions {
                        max_messages: 20,
                        wait_time_ms: 50,
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
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        let acked = acked.lock().unwrap().clone();

        // Restart and drain everything; each round starts from an empty queue.
        let d = Spoold::start(&data, &args);
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
