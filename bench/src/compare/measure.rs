//! One measured run of one cell (target × durability × kind × size × rate): set up a fresh
//! queue and the producer and consumer threads, warm up, measure a window, stop the load
//! and collect the figures into a [`RunResult`].
//!
//! Owns the timestamp every body starts with (so end-to-end latency is measured per
//! message) and the counters the threads share while they run.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use spool_protocol::limits::FIFO_SUFFIX;

use super::{
    proc_stats, CompareError, Consumer, Durability, Kind, Percentiles, Producer, QueueSpec, Res,
    RunResult, SizeSpec, Target, Workload,
};
use crate::daemon::hist;
use crate::failures::Failures;

/// Names of the queues of one server's life: unique per run.
static QUEUE_SEQ: AtomicU64 = AtomicU64::new(0);

/// Bodies of `size` bytes starting with the 16 hex digits of `t` (ns since the run
/// began); the rest is `x`. Valid in every protocol (SQS allows it in XML).
fn stamp(body: &mut [u8], t: u64) {
    let hex = format!("{t:016x}");
    body[..16].copy_from_slice(hex.as_bytes());
}

fn sent_at(body: &[u8]) -> Option<u64> {
    let t = std::str::from_utf8(body.get(..16)?).ok()?;
    u64::from_str_radix(t, 16).ok()
}

/// Runs one cell; a failure is recorded in the result's `error`.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_one(
    server: &dyn Target,
    target: &str,
    w: &Workload,
    d: Durability,
    kind: Kind,
    size: &SizeSpec,
    rate: u64,
    bar: &ProgressBar,
) -> RunResult {
    let mut r = RunResult::unmeasured(target, w, d, kind, size, rate);
    if let Err(e) = measure(server, w, kind, size, rate, bar, &mut r) {
        r.error = Some(e.to_string());
    }
    r
}

/// What the load threads share with the measuring thread.
struct Shared {
    start: Instant,
    stop: AtomicBool,
    measuring: AtomicBool,
    completed: AtomicU64,
    bytes: AtomicU64,
    send_ack: Mutex<Histogram<u64>>,
    e2e: Mutex<Histogram<u64>>,
}

/// What the server used during the measured window.
struct Window {
    elapsed: f64,
    cpu_s: f64,
    write_bytes: u64,
    rss: u64,
}

/// Setup (queue and threads), load (warm-up, then the measured window), collect.
fn measure(
    server: &dyn Target,
    w: &Workload,
    kind: Kind,
    size: &SizeSpec,
    rate: u64,
    bar: &ProgressBar,
    r: &mut RunResult,
) -> Res<()> {
    let n = QUEUE_SEQ.fetch_add(1, Ordering::Relaxed);
    let q = QueueSpec {
        name: match kind {
            Kind::Standard => format!("bench-{n}"),
            Kind::Fifo | Kind::FifoHighThroughput => format!("bench-{n}{FIFO_SUFFIX}"),
        },
        kind,
        groups: w.fifo_groups.max(1),
        consumers: w.consumers,
        batch: w.batch,
    };
    server.prepare(&q)?;
    let sh = Arc::new(Shared {
        start: Instant::now(),
        stop: AtomicBool::new(false),
        measuring: AtomicBool::new(false),
        completed: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        send_ack: Mutex::new(hist()),
        e2e: Mutex::new(hist()),
    });
    let mut threads = Vec::new();
    let per_producer = if rate == 0 {
        0.0
    } else {
        rate as f64 / w.producers as f64
    };
    for p in 0..w.producers {
        let prod = server.producer(&q, p)?;
        let sh = sh.clone();
        let (batch, groups, size, producers) = (w.batch, q.groups, size.clone(), w.producers);
        threads.push(std::thread::spawn(move || -> Res<()> {
            produce(prod, &sh, p, batch, groups, producers, &size, per_producer)
        }));
    }
    for c in 0..w.consumers {
        let cons = server.consumer(&q, c)?;
        let sh = sh.clone();
        threads.push(std::thread::spawn(move || -> Res<()> {
            consume(cons, &sh, c)
        }));
    }
    let window = measure_window(server.pid(), w, &sh, &threads, bar);
    collect(&sh, threads, &window, r)
}

/// A producer thread: sends batches until told to stop (closed loop, or open loop at
/// `per_producer` msgs/s), recording send → acknowledgement latency while measuring.
#[allow(clippy::too_many_arguments)]
fn produce(
    mut prod: Box<dyn Producer>,
    sh: &Shared,
    p: usize,
    batch: usize,
    groups: usize,
    producers: usize,
    size: &SizeSpec,
    per_producer: f64,
) -> Res<()> {
    let mut h = hist();
    let mut rng = (p as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut bodies: Vec<Vec<u8>> = (0..batch)
        .map(|_| vec![b'x'; size.pick(&mut rng)])
        .collect();
    let mut sent: u64 = 0;
    let mut b: u64 = 0;
    let began = Instant::now();
    while !sh.stop.load(Ordering::Relaxed) {
        // Open loop: the batch's scheduled time; closed loop: now.
        let due = if per_producer > 0.0 {
            let due = began + Duration::from_secs_f64(sent as f64 / per_producer);
            let now = Instant::now();
            if due > now {
                std::thread::sleep((due - now).min(Duration::from_millis(50)));
                continue;
            }
            due
        } else {
            Instant::now()
        };
        let t = due.saturating_duration_since(sh.start).as_nanos() as u64;
        for body in &mut bodies {
            if size.varies() {
                body.resize(size.pick(&mut rng), b'x');
            }
            stamp(body, t);
        }
        // Producer p's batches cycle through the groups (FIFO) without two
        // producers writing the same group at once.
        let group = ((p as u64 + b * producers as u64) % groups as u64) as usize;
        prod.send(&bodies, group)
            .map_err(|e| CompareError::Thread {
                role: "producer",
                index: p,
                source: Box::new(e),
            })?;
        b += 1;
        sent += batch as u64;
        if sh.measuring.load(Ordering::Relaxed) {
            h.saturating_record((due.elapsed().as_micros() as u64).max(1));
        }
    }
    let _ = sh.send_ack.lock().expect("not poisoned").add(&h);
    Ok(())
}

/// A consumer thread: receives and acknowledges until told to stop, counting what was
/// acknowledged and recording end-to-end latency while measuring.
fn consume(mut cons: Box<dyn Consumer>, sh: &Shared, c: usize) -> Res<()> {
    let mut h = hist();
    let mut got = Vec::new();
    while !sh.stop.load(Ordering::Relaxed) {
        got.clear();
        let acked = cons.receive(&mut got).map_err(|e| CompareError::Thread {
            role: "consumer",
            index: c,
            source: Box::new(e),
        })?;
        if !sh.measuring.load(Ordering::Relaxed) {
            continue;
        }
        let now = sh.start.elapsed().as_nanos() as u64;
        for body in &got {
            let sent = sent_at(body).unwrap_or(now);
            h.saturating_record((now.saturating_sub(sent) / 1000).max(1));
        }
        sh.completed.fetch_add(acked.msgs, Ordering::Relaxed);
        sh.bytes.fetch_add(acked.bytes, Ordering::Relaxed);
    }
    let _ = sh.e2e.lock().expect("not poisoned").add(&h);
    Ok(())
}

/// Warms up, then measures until the duration or message count is reached or a thread
/// ended; reads the server's CPU time and bytes written around the window and samples its
/// memory during it (the warm-up's samples are not kept).
fn measure_window(
    pid: u32,
    w: &Workload,
    sh: &Shared,
    threads: &[JoinHandle<Res<()>>],
    bar: &ProgressBar,
) -> Window {
    let wait = |secs: f64, rss: &mut u64| {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < end && !threads.iter().any(JoinHandle::is_finished) {
            std::thread::sleep(Duration::from_millis(100));
            *rss = (*rss).max(proc_stats::tree_rss_bytes(pid));
            bar.tick();
        }
    };
    let mut rss = 0u64;
    wait(w.warmup, &mut rss);
    let (cpu0, io0) = (
        proc_stats::tree_cpu_s(pid),
        proc_stats::tree_write_bytes(pid),
    );
    sh.measuring.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    let mut rss = 0u64;
    loop {
        wait(0.1, &mut rss);
        let done = w.messages > 0 && sh.completed.load(Ordering::Relaxed) >= w.messages;
        if done
            || t0.elapsed().as_secs_f64() >= w.duration
            || threads.iter().any(JoinHandle::is_finished)
        {
            break;
        }
    }
    sh.measuring.store(false, Ordering::SeqCst);
    let elapsed = t0.elapsed().as_secs_f64();
    let (cpu1, io1) = (
        proc_stats::tree_cpu_s(pid),
        proc_stats::tree_write_bytes(pid),
    );
    Window {
        elapsed,
        cpu_s: cpu1 - cpu0,
        write_bytes: io1.saturating_sub(io0),
        rss,
    }
}

/// Stops the load, joins every thread (the first three failures fail the run) and fills
/// in `r`'s figures.
fn collect(
    sh: &Shared,
    threads: Vec<JoinHandle<Res<()>>>,
    window: &Window,
    r: &mut RunResult,
) -> Res<()> {
    sh.stop.store(true, Ordering::SeqCst);
    let mut errors = Vec::new();
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push(CompareError::Panicked),
        }
    }
    if !errors.is_empty() {
        errors.truncate(3);
        return Err(CompareError::Load(Failures(errors)));
    }
    let elapsed = window.elapsed;
    let done = sh.completed.load(Ordering::SeqCst);
    r.seconds = elapsed;
    r.msgs_per_s = done as f64 / elapsed;
    r.mb_per_s = sh.bytes.load(Ordering::SeqCst) as f64 / elapsed / 1e6;
    r.send_ack_us = Percentiles::of(&sh.send_ack.lock().expect("not poisoned"));
    r.end_to_end_us = Percentiles::of(&sh.e2e.lock().expect("not poisoned"));
    r.server_cpu = window.cpu_s / elapsed;
    r.server_rss_bytes = window.rss;
    r.disk_bytes_per_msg = if done > 0 {
        window.write_bytes as f64 / done as f64
    } else {
        0.0
    };
    Ok(())
}
