//! `spool-bench fair`: the dwell time of a quiet tenant next to a noisy one on a standard
//! queue (fair queues, AWS 2025; `engine/src/partition/fair.rs`).
//!
//! One spoold, one standard queue, two arms in the same run, each on a fresh spoold:
//! - `fair`: every message carries a MessageGroupId (`noisy` or `quiet`);
//! - `plain`: no message carries one (a plain standard queue: the baseline).
//!
//! In each arm a noisy producer sends `--noisy` messages as fast as the daemon takes them
//! (batches of 100, 8 in flight, one connection per shard so that every shard holds a
//! share of the backlog), so a backlog builds; a quiet producer sends one message
//! every `--quiet-every-ms` for `--quiet-s` seconds; `--consumers` consumers receive (up to
//! 10 per call, as SQS clients do) and delete at `--rate` messages a second in all, slower
//! than the noisy producer, so the backlog lasts. Dwell time is receive time − send time,
//! both read from this process's clock (the send time travels in the body). An arm ends
//! when every message was received, or after `--max-s` seconds (then it says how many
//! were left). Bounded in messages and time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use spool_client::{ClientConfig, Connection, ReceiveOptions};
use spool_protocol::message::SendEntry;
use spool_protocol::{Request, Response};

use crate::daemon::{hist, median, spawn, DaemonArgs};
use crate::BoxResult;

const QUEUE: &str = "bench-fair";

/// What a load thread returns (its error crosses the thread boundary).
type LoadResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
/// Body byte 8 names the tenant (bytes 0..8 carry the send time).
const NOISY: u8 = b'n';
const QUIET: u8 = b'q';
/// Messages per noisy send, and sends in flight: enough to outrun the consumers.
const NOISY_BATCH: usize = 100;
const NOISY_PIPELINE: usize = 8;
/// Messages per receive: SQS's maximum, what SQS clients ask for.
const RECEIVE_MAX: u32 = 10;

#[derive(Args, Clone)]
pub struct FairArgs {
    /// Messages the noisy tenant sends (its backlog).
    #[arg(long, default_value_t = 200_000)]
    noisy: u64,
    /// The quiet tenant sends one message every this many milliseconds.
    #[arg(long, default_value_t = 5)]
    quiet_every_ms: u64,
    /// Seconds the quiet tenant sends for.
    #[arg(long, default_value_t = 5.0)]
    quiet_s: f64,
    /// Consumer connections (at least one per shard).
    #[arg(long, default_value_t = 2)]
    consumers: usize,
    /// Messages received (and deleted) per second over all consumers.
    #[arg(long, default_value_t = 20_000)]
    rate: u64,
    /// Message body size in bytes (at least 9).
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Longest an arm may run, in seconds.
    #[arg(long, default_value_t = 60.0)]
    max_s: f64,
    /// Runs (each runs both arms); medians are reported.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Shards of the spoold this tool starts.
    #[arg(long, default_value_t = 1)]
    shards: u16,
    /// Durability of the spoold this tool starts: sync, batch=<ms> or none.
    #[arg(long, default_value = "sync")]
    durability: String,
    /// Parent of the data directories of the spoolds this tool starts.
    #[arg(long, default_value = "target/bench-data")]
    dir: std::path::PathBuf,
}

/// What one arm measured.
struct Arm {
    quiet: Histogram<u64>,
    noisy: Histogram<u64>,
    quiet_sent: u64,
    /// Messages not received when the arm ended (0 unless it hit `--max-s`).
    left: u64,
    seconds: f64,
}

struct Shared {
    start: Instant,
    /// The quiet producer is done; its count of messages sent.
    quiet_done: AtomicBool,
    quiet_sent: AtomicU64,
    received: AtomicU64,
    quiet: Mutex<Histogram<u64>>,
    noisy: Mutex<Histogram<u64>>,
}

fn connect(addr: &str) -> BoxResult<Connection> {
    Ok(Connection::connect(&ClientConfig {
        addr: addr.to_string(),
        ..Default::default()
    })?)
}

/// Consumers: as asked, and at least one per shard.
fn consumers(a: &FairArgs) -> usize {
    a.consumers.max(usize::from(a.shards)).max(1)
}

fn connect_load(addr: &str) -> Result<Connection, spool_client::ClientError> {
    Connection::connect(&ClientConfig {
        addr: addr.to_string(),
        ..Default::default()
    })
}

fn body(size: usize, tenant: u8, sh: &Shared) -> Vec<u8> {
    let mut b = vec![b'x'; size];
    let t = sh.start.elapsed().as_nanos() as u64;
    b[..8].copy_from_slice(&t.to_le_bytes());
    b[8] = tenant;
    b
}

pub fn run(a: &FairArgs) -> BoxResult<()> {
    if a.size < 9 {
        return Err("--size must be at least 9 (send time and tenant)".into());
    }
    std::fs::create_dir_all(&a.dir)?;
    crate::print_machine(&a.dir);
    println!(
        "fair: noisy {} msgs (batches of {NOISY_BATCH}), quiet 1 msg / {} ms for {} s, \
         {} consumers at {} msgs/s, {} B, {} shard(s), durability {}",
        a.noisy, a.quiet_every_ms, a.quiet_s, a.consumers, a.rate, a.size, a.shards, a.durability
    );
    let mut rows: Vec<(&str, Vec<Arm>)> = vec![("fair", Vec::new()), ("plain", Vec::new())];
    for run in 0..a.repeat.max(1) {
        for (name, arms) in &mut rows {
            let arm = run_arm(a, *name == "fair")?;
            print_arm(&format!("run {} {name}", run + 1), &arm);
            arms.push(arm);
        }
    }
    println!();
    println!("medians of {} run(s), dwell times in ms:", a.repeat.max(1));
    println!("| arm | quiet p50 | quiet p99 | quiet max | noisy p50 | noisy p99 | seconds |");
    println!("|---|---|---|---|---|---|---|");
    let mut quiet_p50 = Vec::new();
    for (name, arms) in &rows {
        let m = |f: &dyn Fn(&Arm) -> f64| median(arms.iter().map(f).collect());
        let q50 = m(&|x| ms(&x.quiet, 50.0));
        quiet_p50.push(q50);
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {:.1} |",
            q50,
            m(&|x| ms(&x.quiet, 99.0)),
            m(&|x| x.quiet.max() as f64 / 1000.0),
            m(&|x| ms(&x.noisy, 50.0)),
            m(&|x| ms(&x.noisy, 99.0)),
            m(&|x| x.seconds),
        );
    }
    if let [fair, plain] = quiet_p50[..] {
        println!("quiet p50: plain / fair = {:.0}x", plain / fair.max(0.001));
    }
    Ok(())
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q / 100.0) as f64 / 1000.0
}

fn print_arm(label: &str, x: &Arm) {
    println!(
        "{label}: quiet sent {} received {} p50 {:.1} ms p99 {:.1} ms max {:.1} ms; noisy p50 {:.0} ms \
         p99 {:.0} ms; {:.1} s{}",
        x.quiet_sent,
        x.quiet.len(),
        ms(&x.quiet, 50.0),
        ms(&x.quiet, 99.0),
        x.quiet.max() as f64 / 1000.0,
        ms(&x.noisy, 50.0),
        ms(&x.noisy, 99.0),
        x.seconds,
        if x.left > 0 {
            format!(" — {} messages left at --max-s", x.left)
        } else {
            String::new()
        }
    );
}

/// One arm on a fresh spoold: `fair` sets the group ids.
fn run_arm(a: &FairArgs, fair: bool) -> BoxResult<Arm> {
    // Only what `spawn` reads matters; the load fields are the daemon benchmark's.
    let d = DaemonArgs {
        addr: None,
        producers: 1,
        consumers: a.consumers,
        size: a.size,
        batch: NOISY_BATCH,
        pipeline: NOISY_PIPELINE,
        durability: a.durability.clone(),
        shards: Some(a.shards),
        server_args: String::new(),
        duration: a.max_s,
        warmup: 0.0,
        repeat: 1,
        rate: 0,
        dir: a.dir.clone(),
    };
    let spawned = spawn(&d, false)?;
    let addr = spawned.addr.clone();
    connect(&addr)?.create_queue(QUEUE, &[])?;
    let sh = Arc::new(Shared {
        start: Instant::now(),
        quiet_done: AtomicBool::new(false),
        quiet_sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        quiet: Mutex::new(hist()),
        noisy: Mutex::new(hist()),
    });
    let deadline = sh.start + Duration::from_secs_f64(a.max_s);
    let mut threads = Vec::new();
    // Connections are made here, one after the other, because the daemon deals them over
    // its shards round robin and keeps a standard send on the connection's shard: one
    // noisy connection per shard, so every shard holds a share of the backlog, and at
    // least one consumer per shard, so every shard is drained (a receive serves its own
    // shard first).
    let shards = usize::from(a.shards.max(1));
    for i in 0..shards {
        let n = a.noisy / shards as u64 + u64::from((i as u64) < a.noisy % shards as u64);
        let (sh, c, a) = (sh.clone(), connect_load(&addr)?, a.clone());
        threads.push(std::thread::spawn(move || {
            produce_noisy(&a, &sh, c, fair, n)
        }));
    }
    {
        let (sh, c, a) = (sh.clone(), connect_load(&addr)?, a.clone());
        threads.push(std::thread::spawn(move || produce_quiet(&a, &sh, c, fair)));
    }
    for _ in 0..consumers(a) {
        let (sh, c, a) = (sh.clone(), connect_load(&addr)?, a.clone());
        threads.push(std::thread::spawn(move || consume(&a, &sh, c, deadline)));
    }
    for t in threads {
        t.join()
            .map_err(|_| "a load thread panicked")?
            .map_err(|e| e.to_string())?;
    }
    let quiet_sent = sh.quiet_sent.load(Ordering::Relaxed);
    let received = sh.received.load(Ordering::Relaxed);
    let quiet = sh.quiet.lock().expect("not poisoned").clone();
    let noisy = sh.noisy.lock().expect("not poisoned").clone();
    Ok(Arm {
        quiet,
        noisy,
        quiet_sent,
        left: (a.noisy + quiet_sent).saturating_sub(received),
        seconds: sh.start.elapsed().as_secs_f64(),
    })
}

fn group(fair: bool, tenant: &'static str) -> Option<std::borrow::Cow<'static, str>> {
    fair.then_some(std::borrow::Cow::Borrowed(tenant))
}

/// Sends `total` of the noisy tenant's messages, `NOISY_PIPELINE` batches in flight.
fn produce_noisy(
    a: &FairArgs,
    sh: &Shared,
    mut c: Connection,
    fair: bool,
    total: u64,
) -> LoadResult {
    let mut sent = 0u64;
    let mut out = 0usize;
    while sent < total || out > 0 {
        while sent < total && out < NOISY_PIPELINE {
            let n = (total - sent).min(NOISY_BATCH as u64) as usize;
            let bodies: Vec<Vec<u8>> = (0..n).map(|_| body(a.size, NOISY, sh)).collect();
            let entries = bodies
                .iter()
                .map(|b| SendEntry {
                    body: b.as_slice().into(),
                    group_id: group(fair, "noisy"),
                    ..Default::default()
                })
                .collect();
            c.submit(&Request::Send {
                queue: QUEUE.into(),
                entries,
            })?;
            sent += n as u64;
            out += 1;
        }
        let (_, resp) = c.next_response_ref()?;
        out -= 1;
        match resp {
            Response::Sent { results } if results.iter().all(Result::is_ok) => {}
            other => return Err(format!("noisy send failed: {other:?}").into()),
        }
    }
    Ok(())
}

/// Sends one quiet message every `quiet_every_ms` (on a schedule, so a slow ack does not
/// thin the stream) for `quiet_s` seconds.
fn produce_quiet(a: &FairArgs, sh: &Shared, mut c: Connection, fair: bool) -> LoadResult {
    let every = Duration::from_millis(a.quiet_every_ms.max(1));
    let total = (a.quiet_s * 1000.0 / every.as_millis() as f64) as u64;
    let began = Instant::now();
    for i in 0..total {
        let due = began + every * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let b = body(a.size, QUIET, sh);
        let entry = SendEntry {
            body: b.as_slice().into(),
            group_id: group(fair, "quiet"),
            ..Default::default()
        };
        match c.send(QUEUE, &[entry])?.pop() {
            Some(Ok(_)) => {}
            other => return Err(format!("quiet send failed: {other:?}").into()),
        }
        sh.quiet_sent.fetch_add(1, Ordering::Relaxed);
    }
    sh.quiet_done.store(true, Ordering::Relaxed);
    Ok(())
}

/// Receives (up to 10 a call) and deletes at this consumer's share of `--rate`,
/// recording each message's dwell time by tenant, until everything was received or the
/// deadline passed.
fn consume(a: &FairArgs, sh: &Shared, mut c: Connection, deadline: Instant) -> LoadResult {
    let per_s = (a.rate as f64 / consumers(a) as f64).max(1.0);
    let began = Instant::now();
    let mut mine = 0u64;
    let mut quiet = hist();
    let mut noisy = hist();
    let opts = ReceiveOptions {
        max_messages: RECEIVE_MAX,
        visibility_timeout_s: Some(60),
        wait_time_ms: 20,
        ..Default::default()
    };
    loop {
        let done = sh.quiet_done.load(Ordering::Relaxed)
            && sh.received.load(Ordering::Relaxed)
                >= a.noisy + sh.quiet_sent.load(Ordering::Relaxed);
        if done || Instant::now() >= deadline {
            break;
        }
        let due = began + Duration::from_secs_f64(mine as f64 / per_s);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let msgs = c.receive(QUEUE, &opts)?;
        if msgs.is_empty() {
            continue;
        }
        let now = sh.start.elapsed().as_nanos() as u64;
        for m in &msgs {
            let mut t = [0u8; 8];
            t.copy_from_slice(&m.body[..8]);
            let dwell_us = (now.saturating_sub(u64::from_le_bytes(t)) / 1000).max(1);
            let h = if m.body[8] == QUIET {
                &mut quiet
            } else {
                &mut noisy
            };
            h.saturating_record(dwell_us);
        }
        let handles: Vec<&[u8]> = msgs.iter().map(|m| m.receipt_handle.as_ref()).collect();
        let results = c.delete(QUEUE, &handles)?;
        if results.iter().any(Result::is_err) {
            return Err("a delete failed".into());
        }
        mine += msgs.len() as u64;
        sh.received.fetch_add(msgs.len() as u64, Ordering::Relaxed);
    }
    sh.quiet.lock().expect("not poisoned").add(&quiet)?;
    sh.noisy.lock().expect("not poisoned").add(&noisy)?;
    Ok(())
}
