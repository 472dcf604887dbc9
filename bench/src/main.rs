//! spool-bench: throughput and memory figures of the storage engine and the daemon.
//!
//! `spool-bench engine` measures append+flush and receive+delete through the public
//! engine API next to a raw `pwrite` + `fdatasync` baseline (see [`engine`]).
//!
//! `spool-bench daemon` runs producers and consumers against `spoold` over the binary
//! protocol (see [`daemon`]).
//!
//! `spool-bench compare` runs one workload against Spool and the queues a user would pick
//! instead (see [`compare`]).
//!
//! `spool-bench fair` measures the dwell time of a quiet tenant next to a noisy one on a
//! standard queue, with and without MessageGroupIds (see [`fair`]).
//!
//! `spool-bench backlog` fills one queue with a large backlog and reports the process's
//! anonymous resident memory (see [`backlog`]).
//!
//! This file owns the command line and the small helpers the subcommands share: system
//! figures (CPU time, `/proc/self/status`, the data directory's filesystem), scratch
//! directories, and opening an engine with one queue.

use std::collections::BTreeMap;

// mimalloc, as in spoold: the load generator shares the machine with the server it
// measures, and glibc malloc was ~4 % of all CPU in the full-cycle run (responses are
// decoded into owned messages, many small allocations per batch).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use hdrhistogram::Histogram;
use spool_engine::{Engine, EngineConfig, FlusherKind, SendRequest, SystemClock};

mod backlog;
mod compare;
mod daemon;
mod engine;
mod failures;
mod fair;
mod sqs;

const QUEUE: &str = "bench";
/// The daemon syncs indexes every few hundred ms; the benchmark does the same.
const SYNC_INDEX_EVERY: Duration = Duration::from_millis(250);
/// Pause between runs (see [`settle`]).
const SETTLE: Duration = Duration::from_millis(500);

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

#[derive(Parser)]
#[command(name = "spool-bench", about = "Spool engine benchmarks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Append+flush and receive+delete throughput against a pwrite+fdatasync baseline.
    Engine(engine::EngineArgs),
    /// Anonymous memory (RssAnon) of the engine holding a large backlog.
    Backlog(backlog::BacklogArgs),
    /// The full send -> receive -> delete cycle through spoold over the binary protocol.
    Daemon(daemon::DaemonArgs),
    /// The same cycle over the SQS HTTP API (batches of 10), next to the binary protocol
    /// and moto's server.
    Sqs(sqs::SqsArgs),
    /// Spool next to Redis Streams, RabbitMQ and NATS JetStream: the same workload against
    /// each, in one run (Markdown table, JSON, SVG plots).
    Compare(compare::CompareArgs),
    /// Fair queues: the dwell time of a quiet tenant next to a noisy one's backlog, with
    /// and without MessageGroupIds, on one standard queue.
    Fair(fair::FairArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FlusherArg {
    Pwrite,
    Uring,
    Both,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let done = match cli.cmd {
        Cmd::Engine(a) => engine::run_engine(&a),
        Cmd::Backlog(a) => backlog::run_backlog(&a),
        Cmd::Daemon(a) => daemon::run(&a),
        Cmd::Sqs(a) => sqs::run(&a),
        Cmd::Compare(a) => compare::run(&a),
        Cmd::Fair(a) => fair::run(&a),
    };
    // Printed with Display: the typed errors' messages, not their Debug form (which is
    // what returning the error from main would print).
    match done {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

// ----- small system helpers ----------------------------------------------------------

/// User + system CPU time of the whole process (io_uring workers included); zero if
/// `getrusage` fails, so differences of two readings saturate rather than go negative.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the zeroed struct we pass; no other pointers.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &raw mut ru) != 0 {
            return Duration::ZERO;
        }
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Reserves the blocks of `len` bytes, as the engine does for its segments.
fn preallocate(f: &File, len: u64) -> io::Result<()> {
    // SAFETY: fallocate on an fd we own, with plain integer arguments.
    let rc = unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, len as libc::off_t) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A field of /proc/self/status in KiB (e.g. "RssAnon").
fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Filesystem type and mount point of `path` (longest matching mount in /proc/mounts).
fn filesystem_of(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for l in mounts.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 3 || !path.starts_with(f[1]) {
            continue;
        }
        if best.as_ref().is_none_or(|(n, _)| f[1].len() >= *n) {
            best = Some((f[1].len(), format!("{} on {} ({})", f[2], f[1], f[0])));
        }
    }
    best.map_or_else(|| "unknown".into(), |b| b.1)
}

fn print_machine(dir: &Path) {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!("machine: {cores} cores, kernel {}", kernel.trim());
    let fs = filesystem_of(dir);
    println!("data dir: {} — {fs}", dir.display());
    if fs.starts_with("tmpfs") {
        println!("WARNING: the data dir is on tmpfs; fdatasync costs nothing there");
    }
}

fn scratch_dir(parent: &Path) -> BoxResult<tempfile::TempDir> {
    std::fs::create_dir_all(parent)?;
    Ok(tempfile::Builder::new()
        .prefix("spool-bench-")
        .tempdir_in(parent)?)
}

/// After deleting a run's files: let the filesystem finish with them (freed blocks,
/// discards, writeback) before the next run starts, so a run does not pay for the
/// previous one.
fn settle(dir: &Path) -> BoxResult<()> {
    let d = File::open(dir)?;
    // SAFETY: syncfs on an fd we own; no pointers.
    if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error().into());
    }
    std::thread::sleep(SETTLE);
    Ok(())
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

fn record_us(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record((d.as_micros() as u64).max(1));
}

fn kinds(f: FlusherArg) -> Vec<FlusherKind> {
    match f {
        FlusherArg::Pwrite => vec![FlusherKind::Pwrite],
        FlusherArg::Uring => vec![FlusherKind::Uring],
        FlusherArg::Both => vec![FlusherKind::Pwrite, FlusherKind::Uring],
    }
}

fn kind_name(k: FlusherKind) -> &'static str {
    match k {
        FlusherKind::Pwrite => "pwrite",
        FlusherKind::Uring => "uring",
    }
}

fn open_engine(dir: &Path, kind: FlusherKind) -> BoxResult<Engine> {
    let cfg = EngineConfig {
        flusher: kind,
        ..EngineConfig::default()
    };
    let (mut e, _) = Engine::open(dir, cfg, Arc::new(SystemClock))?;
    e.create_queue(QUEUE, &BTreeMap::new(), &BTreeMap::new())?;
    Ok(e)
}

fn requests(size: usize, batch: usize) -> Vec<SendRequest> {
    (0..batch)
        .map(|i| SendRequest {
            body: (0..size).map(|j| b'a' + ((i + j) % 26) as u8).collect(),
            ..SendRequest::default()
        })
        .collect()
}

// `Partition` has no public path to name its method by.
#[allow(clippy::redundant_closure_for_method_calls)]
fn log_bytes(e: &Engine) -> u64 {
    e.queue_ref(QUEUE)
        .map_or(0, |q| q.partitions().iter().map(|p| p.log_bytes()).sum())
}

fn fmt_size(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

fn fmt_count(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}
