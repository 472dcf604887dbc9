//! `spool-crashloop`: the crash loop of the reliability harness (issue 6).
//!
//! Owns: starting `spoold` (a `sync`-durability daemon with small segments, so that
//! segments roll and compaction removes and copies them all the time) on a fresh data
//! directory, loading it, SIGKILLing it, restarting it and checking what came back.
//!
//! One round: producers send to a standard queue and to a FIFO queue (several message
//! groups, one sequence per group), consumers receive and delete (some messages are
//! released with ChangeMessageVisibility 0, some left in flight); the daemon is SIGKILLed at
//! a seeded random moment — in some rounds right after a segment file disappears (a
//! compaction step in progress), in some rounds again during the restart's recovery, before
//! it prints `listening`. Then the daemon is restarted and both queues are drained, which
//! checks:
//! - every send the daemon acknowledged, and whose delete was never attempted, is received;
//! - no message whose delete was acknowledged is ever received again (the daemon runs with
//!   `sync` durability, so an acknowledged delete is on disk);
//! - per FIFO group, first deliveries come in send order (redeliveries are allowed);
//! - every body is intact (each carries its identity and a CRC-32 of itself), and no
//!   message appears that was never sent;
//! - the daemon never dies on its own and logs no error or panic;
//! - after the drain, the queues' message counts settle (within 3 s) on the exact numbers.
//!
//! The standard queue's drain deletes a random 70 % of what it received and releases the
//! rest, so a backlog of sparse segments stays for compaction to copy forward.
//!
//! Promises: prints the seed first (rerun with `--seed`), one line per round, totals at the
//! end; exits 0 only if every round passed, 1 with the violations otherwise (the data
//! directory and the daemon's log are kept then), 2 on a usage or setup error. Every wait is
//! bounded: load by `--duration-per-round`, start-up and drains by fixed deadlines.

mod args;
mod body;
mod daemon;
mod ledger;
mod load;
mod verify;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use spool_client::ClientError;

use crate::args::Args;
use crate::body::Rng;
use crate::daemon::{read_life_log, segment_files, Daemon, DaemonCfg, DaemonError};
use crate::ledger::{Counts, Shared, State, Stream};
use crate::load::{connect, consumer, fifo_producer, std_producer};
use crate::verify::drain_and_verify;

pub(crate) const STD_QUEUE: &str = "crashloop-std";
/// The FIFO queue: a FIFO name ends in the model's suffix.
pub(crate) static FIFO_QUEUE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("crashloop-fifo{}", spool_protocol::limits::FIFO_SUFFIX));
/// Longer than any daemon lifetime here: a handle stays the latest one until it is used or
/// released, so an acknowledged delete really deleted.
pub(crate) const VISIBILITY_S: &str = "3600";
pub(crate) const STD_PRODUCERS: usize = 2;
pub(crate) const FIFO_GROUPS: usize = 6;
pub(crate) const STARTUP_TIMEOUT: Duration = Duration::from_mins(1);
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_mins(2);
/// A kill this soon after a segment file disappeared counts as "during compaction".
pub(crate) const COMPACTION_WINDOW: Duration = Duration::from_millis(100);

#[derive(Default)]
struct Totals {
    counts: Counts,
    load_kills: u64,
    compaction_triggered: u64,
    near_compaction: u64,
    startup_kills: u64,
    startup_kills_before_listening: u64,
    segments_removed_seen: u64,
    repaired: u64,
    moves_finished: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("spool-crashloop: {e}");
            ExitCode::from(2)
        }
    }
}

/// A usage or setup error (exit code 2).
#[derive(Debug, thiserror::Error)]
enum SetupError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(
        "no spoold at {} (build it: cargo build --release -p spool-server --bin spoold, or pass --spoold)",
        .0.display()
    )]
    NoSpoold(PathBuf),
    #[error("{} exists and is not empty", .0.display())]
    NotEmpty(PathBuf),
    #[error("{}: {source}", .path.display())]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    #[error("cannot connect to spoold")]
    Connect,
    #[error("create {queue}: {source}")]
    CreateQueue {
        queue: &'static str,
        source: ClientError,
    },
}

fn run(args: &Args) -> Result<bool, SetupError> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    println!("spool-crashloop: seed {seed} (rerun with --seed {seed})");
    let mut rng = Rng::new(seed);
    let spoold = match &args.spoold {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("spoold"),
    };
    if !spoold.is_file() {
        return Err(SetupError::NoSpoold(spoold));
    }
    let root = match &args.data_dir {
        Some(d) => {
            if d.exists()
                && std::fs::read_dir(d)
                    .map_err(|source| SetupError::Dir {
                        path: d.clone(),
                        source,
                    })?
                    .next()
                    .is_some()
            {
                return Err(SetupError::NotEmpty(d.clone()));
            }
            d.clone()
        }
        None => std::env::temp_dir().join(format!("spool-crashloop-{}-{seed}", std::process::id())),
    };
    std::fs::create_dir_all(&root).map_err(|source| SetupError::Dir {
        path: root.clone(),
        source,
    })?;
    let cfg = DaemonCfg {
        spoold,
        data: root.join("data"),
        log: root.join("spoold.log"),
        shards: args.shards,
        segment_mib: args.segment_mib,
    };
    println!(
        "spool-crashloop: {} rounds of up to {:?} load; spoold {}; data {}; log {}",
        args.rounds,
        args.duration_per_round,
        cfg.spoold.display(),
        cfg.data.display(),
        cfg.log.display()
    );
    let state: Shared = Arc::new(Mutex::new(State {
        std: (0..STD_PRODUCERS).map(|_| Stream::default()).collect(),
        fifo: (0..FIFO_GROUPS).map(|_| Stream::default()).collect(),
        ..Default::default()
    }));
    let started = Instant::now();
    let mut totals = Totals::default();
    let mut life = 0u64;
    let mut startup_time = Duration::from_millis(20);

    let mut d = Daemon::spawn(&cfg, life, 0, &mut rng)?;
    let addr = d.wait_listening()?;
    {
        let mut c = connect(&addr).ok_or(SetupError::Connect)?;
        c.create_queue(STD_QUEUE, &[("VisibilityTimeout", VISIBILITY_S)])
            .map_err(|source| SetupError::CreateQueue {
                queue: STD_QUEUE,
                source,
            })?;
        c.create_queue(
            &FIFO_QUEUE,
            &[("FifoQueue", "true"), ("VisibilityTimeout", VISIBILITY_S)],
        )
        .map_err(|source| SetupError::CreateQueue {
            queue: FIFO_QUEUE.as_str(),
            source,
        })?;
    }

    let mut ok = true;
    let mut rounds_run = 0;
    for round in 1..=args.rounds {
        if args.max_seconds > 0 && started.elapsed() >= Duration::from_secs(args.max_seconds) {
            println!(
                "spool-crashloop: --max-seconds {} reached",
                args.max_seconds
            );
            break;
        }
        rounds_run = round;
        let before = {
            let mut s = state.lock().unwrap();
            s.round = round;
            std::mem::take(&mut s.counts)
        };
        totals.counts.add(&before);
        let addr = d.addr.clone().expect("listening");
        // A quiet moment first (no load: compaction copies forward only then), then load.
        // The kill: at a random moment, or (a third of the rounds) as soon as a segment file
        // disappears, i.e. while compaction is removing segments.
        let quiet = Duration::from_millis(rng.below(400));
        let wait_for_compaction = rng.chance(33);
        // Half of those may kill in the quiet moment (removals right after the drain).
        let arm_in_quiet = rng.chance(50);
        let limit = args.duration_per_round;
        let kill_at = quiet
            + if wait_for_compaction {
                limit
            } else {
                Duration::from_millis(
                    limit.as_millis() as u64 / 10 + rng.below(limit.as_millis() as u64 * 9 / 10),
                )
            };
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut thread_rngs: Vec<Rng> = (0..STD_PRODUCERS + 4).map(|_| rng.fork()).collect();
        let (load_state, load_stop) = (state.clone(), stop.clone());
        let mut start_load = Some(move || {
            for p in 0..STD_PRODUCERS {
                let (a, s, st, r) = (
                    addr.clone(),
                    load_state.clone(),
                    load_stop.clone(),
                    thread_rngs.pop().expect("rng"),
                );
                threads.push(std::thread::spawn(move || std_producer(a, s, st, p, r)));
            }
            {
                let (a, s, st, r) = (
                    addr.clone(),
                    load_state.clone(),
                    load_stop.clone(),
                    thread_rngs.pop().expect("rng"),
                );
                threads.push(std::thread::spawn(move || fifo_producer(a, s, st, r)));
            }
            for fifo in [false, false, true] {
                let (a, s, st, r) = (
                    addr.clone(),
                    load_state.clone(),
                    load_stop.clone(),
                    thread_rngs.pop().expect("rng"),
                );
                threads.push(std::thread::spawn(move || consumer(a, s, st, fifo, r)));
            }
            threads
        });
        let mut load: Option<Vec<std::thread::JoinHandle<()>>> = None;
        let t0 = Instant::now();
        let mut files = HashSet::new();
        segment_files(&cfg.data, &mut files, 6);
        let mut last_removal: Option<Instant> = None;
        let mut triggered = false;
        let mut died = None;
        while t0.elapsed() < kill_at {
            if t0.elapsed() >= quiet {
                if let Some(start) = start_load.take() {
                    load = Some(start());
                }
            }
            std::thread::sleep(Duration::from_millis(2));
            let mut now_files = HashSet::new();
            segment_files(&cfg.data, &mut now_files, 6);
            let removed = files.difference(&now_files).count() as u64;
            if removed > 0 {
                totals.segments_removed_seen += removed;
                last_removal = Some(Instant::now());
            }
            files = now_files;
            if let Some(st) = d.exited() {
                died = Some(st);
                break;
            }
            if wait_for_compaction && removed > 0 && (load.is_some() || arm_in_quiet) {
                triggered = true;
                break;
            }
        }
        if let Some(st) = died {
            state
                .lock()
                .unwrap()
                .violation(&format!("spoold exited on its own under load ({st})"));
        }
        let killed_after = t0.elapsed();
        let near = last_removal.is_some_and(|t| t.elapsed() <= COMPACTION_WINDOW);
        d.kill9();
        stop.store(true, Ordering::Relaxed);
        let loaded = load.is_some();
        for t in load.into_iter().flatten() {
            let _ = t.join();
        }
        totals.load_kills += 1;
        totals.compaction_triggered += u64::from(triggered);
        totals.near_compaction += u64::from(near);
        let mut life_logs = vec![read_life_log(&d.log_text(&cfg), &state)];
        drop(d);

        // Kill again during start-up (recovery) in a third of the rounds, once or twice.
        let mut startup_kills = 0;
        let mut before_listening = 0;
        if rng.chance(33) {
            for _ in 0..=rng.below(2) {
                life += 1;
                let mut r = Daemon::spawn(&cfg, life, round, &mut rng)?;
                let us = rng.below(startup_time.as_micros() as u64);
                std::thread::sleep(Duration::from_micros(us));
                let listening = r.poll_listening();
                r.kill9();
                startup_kills += 1;
                before_listening += u64::from(!listening);
                life_logs.push(read_life_log(&r.log_text(&cfg), &state));
            }
        }
        totals.startup_kills += startup_kills;
        totals.startup_kills_before_listening += before_listening;

        // Restart and verify.
        life += 1;
        d = Daemon::spawn(&cfg, life, round, &mut rng)?;
        let addr = match d.wait_listening() {
            Ok(a) => a,
            Err(e) => {
                let mut s = state.lock().unwrap();
                s.violation(&format!("restart failed: {e}"));
                report_failure(&s, &cfg, &root, seed);
                return Ok(false);
            }
        };
        startup_time = d.spawned.elapsed();
        if let Err(e) = drain_and_verify(&addr, &state, &mut rng) {
            state.lock().unwrap().violation(&e.to_string());
        }
        life_logs.push(read_life_log(&d.log_text(&cfg), &state));
        let repaired: u64 = life_logs.iter().map(|l| l.repaired).sum();
        let moves: u64 = life_logs.iter().map(|l| l.moves_finished).sum();
        totals.repaired += repaired;
        totals.moves_finished += moves;

        let s = state.lock().unwrap();
        let c = s.counts;
        println!(
            "round {round}/{}: killed after {} ms ({}{}{}), start-up kills {startup_kills} ({before_listening} before listening), sends {} acked {}, deletes acked {}, released {}, checked {}, drained {}, torn tails repaired {repaired}, copies finished by recovery {moves}, restart {} ms, violations {}",
            args.rounds,
            killed_after.as_millis(),
            if triggered { "on a segment removal" } else { "random" },
            if near && !triggered { ", within 100 ms of a segment removal" } else { "" },
            if loaded { "" } else { ", before the load began" },
            c.sends_tried,
            c.sends_acked,
            c.deletes_acked,
            c.released,
            c.deliveries_checked,
            c.drained,
            startup_time.as_millis(),
            s.violations.len()
        );
        if !s.violations.is_empty() {
            report_failure(&s, &cfg, &root, seed);
            ok = false;
            break;
        }
    }
    let last = std::mem::take(&mut state.lock().unwrap().counts);
    totals.counts.add(&last);

    // A clean stop after all that: SIGTERM must flush and exit 0.
    if ok {
        match d.terminate() {
            Ok(Some(0)) => {}
            Ok(code) => {
                let mut s = state.lock().unwrap();
                s.violation(&format!("spoold exited with {code:?} on SIGTERM"));
                report_failure(&s, &cfg, &root, seed);
                ok = false;
            }
            Err(e) => {
                let mut s = state.lock().unwrap();
                s.violation(&e.to_string());
                report_failure(&s, &cfg, &root, seed);
                ok = false;
            }
        }
    }
    let t = &totals;
    let c = &t.counts;
    println!(
        "spool-crashloop totals: seed {seed}, rounds {}, elapsed {:.1} s\n  sends tried {} acked {} (entry errors {}), deletes acked {} (entry errors {}), released {}\n  deliveries checked {}, drained in verification {} (duplicates {}), unacknowledged sends seen {}, counts that lagged after a drain {}\n  kills under load {} (on a segment removal {}, within 100 ms of one {}), kills during start-up {} (before `listening` {})\n  segment files seen removed {}, torn tails repaired {}, compaction copies finished by recovery {}\n  violations {}",
        rounds_run,
        started.elapsed().as_secs_f64(),
        c.sends_tried,
        c.sends_acked,
        c.send_entry_errors,
        c.deletes_acked,
        c.delete_entry_errors,
        c.released,
        c.deliveries_checked,
        c.drained,
        c.drain_duplicates,
        c.unacked_seen,
        c.count_lags,
        t.load_kills,
        t.compaction_triggered,
        t.near_compaction,
        t.startup_kills,
        t.startup_kills_before_listening,
        t.segments_removed_seen,
        t.repaired,
        t.moves_finished,
        state.lock().unwrap().violations.len()
    );
    if ok {
        if c.sends_acked == 0 || c.deletes_acked == 0 {
            eprintln!("spool-crashloop: the load acknowledged nothing; nothing was checked");
            return Ok(false);
        }
        if !args.keep_data {
            let _ = std::fs::remove_dir_all(&root);
        }
    }
    Ok(ok)
}

fn report_failure(s: &State, cfg: &DaemonCfg, root: &Path, seed: u64) {
    eprintln!(
        "spool-crashloop: FAILED (seed {seed}): {} violations",
        s.violations.len()
    );
    for v in s.violations.iter().take(30) {
        eprintln!("  {v}");
    }
    eprintln!(
        "data kept in {} ; daemon log {}",
        root.display(),
        cfg.log.display()
    );
}
