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
//! - after the drain, the queues' message counts settle (within 3 s) on the exact numbers;
//! - a restart is invisible to consumers (issue 17): of the messages the consumers held
//!   when the daemon was killed (received with a 2 s visibility timeout, neither deleted
//!   nor released), half are deleted after the restart by their pre-kill handle (accepted,
//!   and never received again), the other half are not received again before their
//!   visibility deadline.
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
mod round;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use spool_client::ClientError;

use crate::args::Args;
use crate::body::Rng;
use crate::daemon::{Daemon, DaemonCfg, DaemonError};
use crate::ledger::{Shared, State, Stream};
use crate::load::connect;
use crate::round::{Outcome, Rounds, Totals};

pub(crate) const STD_QUEUE: &str = "crashloop-std";
/// The FIFO queue: a FIFO name ends in the model's suffix.
pub(crate) static FIFO_QUEUE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("crashloop-fifo{}", spool_protocol::limits::FIFO_SUFFIX));
/// Longer than any daemon lifetime here: a handle the drain holds stays the latest one until
/// it is used or released, so an acknowledged delete really deleted. (The load's consumers
/// receive with a short timeout instead: `ledger::CONSUMER_VISIBILITY_S`.)
pub(crate) const VISIBILITY_S: &str = "3600";
pub(crate) const STD_PRODUCERS: usize = 2;
pub(crate) const FIFO_GROUPS: usize = 6;
pub(crate) const STARTUP_TIMEOUT: Duration = Duration::from_mins(1);
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_mins(2);
/// A kill this soon after a segment file disappeared counts as "during compaction".
pub(crate) const COMPACTION_WINDOW: Duration = Duration::from_millis(100);

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
pub(crate) enum SetupError {
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
    let root = data_root(args, seed)?;
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
    let mut d = Daemon::spawn(&cfg, 0, 0, &mut rng)?;
    let addr = d.wait_listening()?;
    create_queues(&addr)?;
    let mut rounds = Rounds {
        args,
        cfg,
        root,
        seed,
        state,
        rng,
        life: 0,
        startup_time: Duration::from_millis(20),
        totals: Totals::default(),
    };

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
        match rounds.round(round, d)? {
            Outcome::Passed(next) => d = next,
            Outcome::Failed(next) => {
                d = next;
                ok = false;
                break;
            }
            Outcome::RestartFailed => return Ok(false),
        }
    }
    Ok(finish(&mut rounds, d, ok, rounds_run, started))
}

/// The data directory: `--data-dir` (which must not exist or be empty) or a new one under
/// the temp dir; created.
fn data_root(args: &Args, seed: u64) -> Result<PathBuf, SetupError> {
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
    Ok(root)
}

/// Creates the two queues on the first daemon.
fn create_queues(addr: &str) -> Result<(), SetupError> {
    let mut c = connect(addr).ok_or(SetupError::Connect)?;
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
    Ok(())
}

/// After the last round: a clean stop (if every round passed), the totals, the final
/// check that the load acknowledged something, and the data directory removed unless
/// kept. True if the run passed.
fn finish(
    r: &mut Rounds<'_>,
    mut d: Daemon,
    mut ok: bool,
    rounds_run: u64,
    started: Instant,
) -> bool {
    let last = std::mem::take(&mut r.state.lock().unwrap().counts);
    r.totals.counts.add(&last);

    // A clean stop after all that: SIGTERM must flush and exit 0.
    if ok {
        match d.terminate() {
            Ok(Some(0)) => {}
            Ok(code) => {
                let mut s = r.state.lock().unwrap();
                s.violation(&format!("spoold exited with {code:?} on SIGTERM"));
                r.report_failure(&s);
                ok = false;
            }
            Err(e) => {
                let mut s = r.state.lock().unwrap();
                s.violation(&e.to_string());
                r.report_failure(&s);
                ok = false;
            }
        }
    }
    let t = &r.totals;
    let seed = r.seed;
    let c = &t.counts;
    println!(
        "spool-crashloop totals: seed {seed}, rounds {}, elapsed {:.1} s\n  sends tried {} acked {} (entry errors {}), deletes acked {} (entry errors {}), released {}\n  deliveries checked {}, drained in verification {} (duplicates {}), unacknowledged sends seen {}, counts that lagged after a drain {}\n  received before a kill: deleted by the pre-kill handle {}, checked hidden until the deadline {}\n  kills under load {} (on a segment removal {}, within 100 ms of one {}), kills during start-up {} (before `listening` {})\n  segment files seen removed {}, torn tails repaired {}, compaction copies finished by recovery {}\n  violations {}",
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
        c.prekill_deletes,
        c.prekill_hidden,
        t.load_kills,
        t.compaction_triggered,
        t.near_compaction,
        t.startup_kills,
        t.startup_kills_before_listening,
        t.segments_removed_seen,
        t.repaired,
        t.moves_finished,
        r.state.lock().unwrap().violations.len()
    );
    if ok {
        if c.sends_acked == 0 || c.deletes_acked == 0 {
            eprintln!("spool-crashloop: the load acknowledged nothing; nothing was checked");
            return false;
        }
        if !r.args.keep_data {
            let _ = std::fs::remove_dir_all(&r.root);
        }
    }
    ok
}
