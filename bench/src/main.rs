//! spool-bench: throughput and memory figures of the storage engine.
//!
//! `spool-bench engine` measures append+flush and receive+delete through the public
//! engine API ([`Engine::send`] + [`Engine::flush`], [`Engine::receive`] +
//! [`Engine::delete_message`] + [`Engine::flush`]) with both flushers, next to a raw
//! baseline that writes the same bytes in the same batches with `pwrite` + `fdatasync`
//! to a plain preallocated file, in the same run.
//!
//! `spool-bench daemon` runs producers and consumers against `spoold` over the binary
//! protocol (see [`daemon`]).
//!
//! `spool-bench compare` runs one workload against Spool and the queues a user would pick
//! instead (see [`compare`]).
//!
//! `spool-bench backlog` fills one queue with a large backlog and reports the process's
//! anonymous resident memory (`RssAnon`; mapped file pages are the kernel's cache).

use std::collections::BTreeMap;

// mimalloc, as in spoold: the load generator shares the machine with the server it
// measures, and glibc malloc was ~4 % of all CPU in the full-cycle run (responses are
// decoded into owned messages, many small allocations per batch).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use hdrhistogram::Histogram;
use spool_engine::{
    open_flusher, DeleteOutcome, Engine, EngineConfig, EngineFlush, FlusherKind, SendRequest,
    SystemClock,
};

mod compare;
mod daemon;
mod failures;
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
    Engine(EngineArgs),
    /// Anonymous memory (RssAnon) of the engine holding a large backlog.
    Backlog(BacklogArgs),
    /// The full send -> receive -> delete cycle through spoold over the binary protocol.
    Daemon(daemon::DaemonArgs),
    /// The same cycle over the SQS HTTP API (batches of 10), next to the binary protocol
    /// and moto's server.
    Sqs(sqs::SqsArgs),
    /// Spool next to Redis Streams, RabbitMQ and NATS JetStream: the same workload against
    /// each, in one run (Markdown table, JSON, SVG plots).
    Compare(compare::CompareArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FlusherArg {
    Pwrite,
    Uring,
    Both,
}

#[derive(Args)]
struct EngineArgs {
    /// Message body sizes in bytes, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = [100usize, 1024, 65536])]
    size: Vec<usize>,
    /// Messages per batch (one flush per batch). Default: 1000 for bodies up to 1 KiB,
    /// 100 for larger bodies.
    #[arg(long)]
    batch: Option<usize>,
    /// Messages per run (rounded up to whole batches). Default: 2 000 000 for bodies up
    /// to 100 B, else 512 MiB of bodies.
    #[arg(long)]
    messages: Option<usize>,
    #[arg(long, value_enum, default_value_t = FlusherArg::Both)]
    flusher: FlusherArg,
    /// Repeats of every configuration; medians are reported.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Parent of the scratch data directory (created and deleted by the run). Must be on
    /// the disk being measured, not tmpfs.
    #[arg(long, default_value = "target/bench-data")]
    dir: PathBuf,
    /// Skip receive+delete (to profile the append path alone).
    #[arg(long)]
    append_only: bool,
    /// Pipelined group commit for append: a flusher thread writes and syncs one group
    /// while the main thread keeps staging the next batches (what the daemon does with
    /// its io_uring ring). Without it, every batch waits for its own fdatasync.
    #[arg(long)]
    pipeline: bool,
}

#[derive(Args)]
struct BacklogArgs {
    #[arg(long, default_value_t = 10_000_000)]
    messages: usize,
    #[arg(long, default_value_t = 100)]
    size: usize,
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    #[arg(long, value_enum, default_value_t = FlusherArg::Pwrite)]
    flusher: FlusherArg,
    /// Parent of the scratch data directory (created and deleted by the run).
    #[arg(long, default_value = "target/bench-data")]
    dir: PathBuf,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let done = match cli.cmd {
        Cmd::Engine(a) => run_engine(&a),
        Cmd::Backlog(a) => run_backlog(&a),
        Cmd::Daemon(a) => daemon::run(&a),
        Cmd::Sqs(a) => sqs::run(&a),
        Cmd::Compare(a) => compare::run(&a),
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

// ----- one run of each kind ----------------------------------------------------------

/// What one timed run did.
struct Run {
    msgs: u64,
    /// Bytes written to (or, for receive, read from) the log: whole records.
    bytes: u64,
    wall: Duration,
    cpu: Duration,
    /// Wall time outside `Engine::flush` (send, or receive + delete): the engine's own
    /// work, without waiting for the disk.
    work: Duration,
}

impl Run {
    fn msgs_per_s(&self) -> f64 {
        self.msgs as f64 / self.wall.as_secs_f64()
    }
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.wall.as_secs_f64()
    }
    fn msgs_per_cpu_s(&self) -> f64 {
        self.msgs as f64 / self.cpu.as_secs_f64().max(1e-9)
    }
    fn msgs_per_work_s(&self) -> f64 {
        self.msgs as f64 / self.work.as_secs_f64().max(1e-9)
    }
}

/// Sends `batches` batches, flushing after each. Returns the engine (holding the
/// messages) and the run.
fn engine_append(
    e: &mut Engine,
    reqs: &[SendRequest],
    batches: usize,
    hist: &mut Histogram<u64>,
) -> BoxResult<Run> {
    let bytes0 = log_bytes(e);
    let cpu0 = cpu_time();
    let start = Instant::now();
    let mut last_sync = start;
    let mut work = Duration::ZERO;
    for _ in 0..batches {
        let t = Instant::now();
        for r in e.send(QUEUE, reqs)? {
            r?;
        }
        work += t.elapsed();
        let t = Instant::now();
        let n = e.flush()?;
        record_us(hist, t.elapsed());
        if n != reqs.len() {
            return Err(format!("flush committed {n} of {}", reqs.len()).into());
        }
        if last_sync.elapsed() >= SYNC_INDEX_EVERY {
            e.sync_index()?;
            last_sync = Instant::now();
        }
    }
    let wall = start.elapsed();
    Ok(Run {
        msgs: (batches * reqs.len()) as u64,
        bytes: log_bytes(e) - bytes0,
        wall,
        cpu: cpu_time().saturating_sub(cpu0),
        work,
    })
}

/// Most bytes staged ahead of the flush in progress before the producer waits for it
/// (backpressure, as a daemon bounds its staging buffer).
const PIPELINE_MAX_STAGED: usize = 64 << 20;

/// Sends `batches` batches without waiting for each to be durable: whenever the flusher
/// thread is idle, everything staged so far goes out as one group commit. Returns when
/// every message is committed. Flush latency here is per group.
fn engine_append_pipelined(
    e: &mut Engine,
    reqs: &[SendRequest],
    batches: usize,
    hist: &mut Histogram<u64>,
    kind: FlusherKind,
) -> BoxResult<Run> {
    type Done = (EngineFlush, Vec<io::Result<()>>, Duration);
    let (tx_job, rx_job) = mpsc::sync_channel::<EngineFlush>(1);
    let (tx_done, rx_done) = mpsc::sync_channel::<Done>(1);
    let flusher = thread::spawn(move || -> io::Result<()> {
        let mut fl = open_flusher(kind)?;
        for job in rx_job {
            let t = Instant::now();
            let res = job.run(fl.as_mut());
            if tx_done.send((job, res, t.elapsed())).is_err() {
                break;
            }
        }
        Ok(())
    });
    let total = batches * reqs.len();
    let batch_bytes: usize = reqs.iter().map(|r| r.body.len()).sum();
    let bytes0 = log_bytes(e);
    let cpu0 = cpu_time();
    let start = Instant::now();
    let mut last_sync = start;
    let mut work = Duration::ZERO;
    let mut committed = 0usize;
    let mut in_flight = false;
    let mut staged_bytes = 0usize;
    let mut sent = 0usize;
    let finish = |e: &mut Engine, d: Done, hist: &mut Histogram<u64>| -> BoxResult<usize> {
        record_us(hist, d.2);
        Ok(e.finish_flush(d.0, d.1)?)
    };
    while committed < total {
        if sent < batches && staged_bytes < PIPELINE_MAX_STAGED {
            let t = Instant::now();
            for r in e.send(QUEUE, reqs)? {
                r?;
            }
            work += t.elapsed();
            sent += 1;
            staged_bytes += batch_bytes;
        }
        if in_flight {
            // Block only when there is nothing left to stage (or too much staged).
            let done = if sent < batches && staged_bytes < PIPELINE_MAX_STAGED {
                rx_done.try_recv().ok()
            } else {
                Some(rx_done.recv()?)
            };
            if let Some(d) = done {
                committed += finish(e, d, hist)?;
                in_flight = false;
            }
        }
        if !in_flight {
            if let Some(f) = e.begin_flush() {
                staged_bytes = 0;
                tx_job.send(f)?;
                in_flight = true;
            }
        }
        if !in_flight && last_sync.elapsed() >= SYNC_INDEX_EVERY {
            e.sync_index()?;
            last_sync = Instant::now();
        }
    }
    drop(tx_job);
    flusher.join().map_err(|_| "flusher thread panicked")??;
    let wall = start.elapsed();
    Ok(Run {
        msgs: total as u64,
        bytes: log_bytes(e) - bytes0,
        wall,
        cpu: cpu_time().saturating_sub(cpu0),
        work,
    })
}

/// Receives `total` messages in batches of `batch`, deletes each, flushes after each batch
/// (the deletes are durable then).
fn engine_receive_delete(
    e: &mut Engine,
    total: usize,
    batch: usize,
    size: usize,
    record_len: u64,
    hist: &mut Histogram<u64>,
) -> BoxResult<Run> {
    let cpu0 = cpu_time();
    let start = Instant::now();
    let mut last_sync = start;
    let mut got = 0;
    let mut work = Duration::ZERO;
    while got < total {
        let t = Instant::now();
        let msgs = e.receive(QUEUE, batch.min(total - got), None)?;
        if msgs.is_empty() {
            return Err(format!("queue ran dry after {got} of {total}").into());
        }
        for m in &msgs {
            if m.body.len() != size {
                return Err("wrong body size".into());
            }
            if e.delete_message(QUEUE, &m.receipt_handle)? != DeleteOutcome::Deleted {
                return Err("delete was stale".into());
            }
        }
        work += t.elapsed();
        let t = Instant::now();
        e.flush()?;
        record_us(hist, t.elapsed());
        got += msgs.len();
        if last_sync.elapsed() >= SYNC_INDEX_EVERY {
            e.sync_index()?;
            last_sync = Instant::now();
        }
    }
    let wall = start.elapsed();
    let c = e.counters(QUEUE)?;
    if c.ready + c.in_flight + c.delayed != 0 {
        return Err(format!("queue not empty after receive+delete: {c:?}").into());
    }
    Ok(Run {
        msgs: total as u64,
        bytes: total as u64 * record_len,
        wall,
        cpu: cpu_time().saturating_sub(cpu0),
        work,
    })
}

/// The raw baseline: `batches` writes of `batch_bytes` each with pwrite, each followed by
/// fdatasync, to a plain file preallocated (fallocate) like the engine's segments.
fn baseline(
    dir: &Path,
    batch_bytes: usize,
    batches: usize,
    msgs_per_batch: usize,
    hist: &mut Histogram<u64>,
) -> BoxResult<Run> {
    let path = dir.join("baseline.dat");
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    let total = (batch_bytes * batches) as u64;
    preallocate(&f, total)?;
    f.sync_all()?;
    File::open(dir)?.sync_all()?;
    let buf: Vec<u8> = (0..batch_bytes).map(|i| (i % 251) as u8).collect();
    let cpu0 = cpu_time();
    let start = Instant::now();
    let mut off = 0u64;
    for _ in 0..batches {
        let t = Instant::now();
        f.write_all_at(&buf, off)?;
        f.sync_data()?;
        record_us(hist, t.elapsed());
        off += batch_bytes as u64;
    }
    let wall = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(Run {
        msgs: (batches * msgs_per_batch) as u64,
        bytes: total,
        wall,
        cpu,
        work: Duration::ZERO,
    })
}

// ----- the engine benchmark ----------------------------------------------------------

// f64::midpoint is newer (Rust 1.85) than the workspace's rust-version (1.82).
#[allow(clippy::manual_midpoint)]
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Results of one configuration (size, operation, flusher) over all repeats.
struct Series {
    size: usize,
    batch: usize,
    op: &'static str,
    config: String,
    runs: Vec<Run>,
    /// Per repeat: this run's MB/s over the baseline's MB/s of the same repeat.
    ratios: Vec<f64>,
    hist: Histogram<u64>,
}

impl Series {
    fn new(size: usize, batch: usize, op: &'static str, config: String) -> Series {
        Series {
            size,
            batch,
            op,
            config,
            runs: Vec::new(),
            ratios: Vec::new(),
            hist: new_hist(),
        }
    }
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

fn run_engine(a: &EngineArgs) -> BoxResult<()> {
    print_machine(&a.dir);
    let repeat = a.repeat.max(1);
    let kinds = kinds(a.flusher);
    let mut all: Vec<Series> = Vec::new();
    for &size in &a.size {
        let batch = a
            .batch
            .unwrap_or(if size <= 1024 { 1000 } else { 100 })
            .max(1);
        let want = a.messages.unwrap_or(if size <= 100 {
            2_000_000
        } else {
            (512 << 20) / size
        });
        let batches = want.div_ceil(batch).max(1);
        let n = batches * batch;
        println!(
            "\n== {} bodies: {n} messages in {batches} batches of {batch}, {repeat} repeats",
            fmt_size(size)
        );
        let reqs = requests(size, batch);
        let mut base = Series::new(size, batch, "append+flush", "raw pwrite+fdatasync".into());
        let mut app: Vec<Series> = kinds
            .iter()
            .map(|&k| {
                Series::new(
                    size,
                    batch,
                    "append+flush",
                    format!("engine {}", kind_name(k)),
                )
            })
            .collect();
        let mut rcv: Vec<Series> = kinds
            .iter()
            .map(|&k| {
                Series::new(
                    size,
                    batch,
                    "receive+delete",
                    format!("engine {}", kind_name(k)),
                )
            })
            .collect();
        // The engine's record size for this body (measured with a one-batch probe).
        let record_len = {
            let scratch = scratch_dir(&a.dir)?;
            let mut e = open_engine(scratch.path(), FlusherKind::Pwrite)?;
            let probe = requests(size, 1);
            engine_append(&mut e, &probe, 1, &mut new_hist())?.bytes
        };
        for rep in 0..repeat {
            // Rotate the order of baseline and flushers so no configuration always runs
            // first (or last) on a noisy machine.
            let slots = kinds.len() + 1;
            let mut base_run = None;
            let mut eng_runs: Vec<Option<(Run, Option<Run>)>> =
                (0..kinds.len()).map(|_| None).collect();
            for j in 0..slots {
                let which = (j + rep) % slots;
                let scratch = scratch_dir(&a.dir)?;
                if which == kinds.len() {
                    let batch_bytes = (record_len as usize) * batch;
                    base_run = Some(baseline(
                        scratch.path(),
                        batch_bytes,
                        batches,
                        batch,
                        &mut base.hist,
                    )?);
                } else {
                    let k = kinds[which];
                    let mut e = open_engine(scratch.path(), k)?;
                    let ra = if a.pipeline {
                        engine_append_pipelined(&mut e, &reqs, batches, &mut app[which].hist, k)?
                    } else {
                        engine_append(&mut e, &reqs, batches, &mut app[which].hist)?
                    };
                    let rr = if a.append_only {
                        None
                    } else {
                        Some(engine_receive_delete(
                            &mut e,
                            n,
                            batch,
                            size,
                            record_len,
                            &mut rcv[which].hist,
                        )?)
                    };
                    drop(e);
                    eng_runs[which] = Some((ra, rr));
                }
                scratch.close()?;
                settle(&a.dir)?;
            }
            let b = base_run.expect("baseline ran");
            print!(
                "  repeat {}: raw {:.0} MB/s ({} msgs/s)",
                rep + 1,
                b.mb_per_s(),
                fmt_count(b.msgs_per_s())
            );
            for (i, r) in eng_runs.into_iter().enumerate() {
                let (ra, rr) = r.expect("engine ran");
                print!(
                    "; {} append {:.0} MB/s ({} msgs/s)",
                    kind_name(kinds[i]),
                    ra.mb_per_s(),
                    fmt_count(ra.msgs_per_s()),
                );
                app[i].ratios.push(ra.mb_per_s() / b.mb_per_s());
                app[i].runs.push(ra);
                if let Some(rr) = rr {
                    print!(", receive+delete {} msgs/s", fmt_count(rr.msgs_per_s()));
                    rcv[i].ratios.push(rr.mb_per_s() / b.mb_per_s());
                    rcv[i].runs.push(rr);
                }
            }
            println!();
            base.ratios.push(1.0);
            base.runs.push(b);
        }
        all.push(base);
        all.extend(app);
        all.extend(rcv.into_iter().filter(|s| !s.runs.is_empty()));
    }
    print_table(&all);
    Ok(())
}

fn print_table(all: &[Series]) {
    println!("\nMedians over repeats. MB/s counts whole records (header + body) written or read,");
    println!(
        "10^6 bytes. \"vs raw\" is the median of per-repeat ratios to the raw baseline's MB/s"
    );
    println!("(same bytes, same batches). CPU msgs/s = messages per second of process CPU time");
    println!("(user + system, kernel write and sync work included). Engine msgs/s = messages per");
    println!(
        "second of time spent outside flush (send, or receive + delete): the engine's own work."
    );
    println!("Flush latency: per batch, µs (raw: pwrite + fdatasync; engine: Engine::flush).\n");
    println!(
        "| size | batch | operation | configuration | msgs/s | MB/s | vs raw | CPU msgs/s | engine msgs/s | flush p50 | p99 | p99.9 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for s in all {
        let msgs = median(s.runs.iter().map(Run::msgs_per_s).collect());
        let mbs = median(s.runs.iter().map(Run::mb_per_s).collect());
        let cpu = median(s.runs.iter().map(Run::msgs_per_cpu_s).collect());
        let work = if s.runs.iter().any(|r| r.work.is_zero()) {
            "–".to_string()
        } else {
            fmt_count(median(s.runs.iter().map(Run::msgs_per_work_s).collect()))
        };
        let ratio = median(s.ratios.clone());
        println!(
            "| {} | {} | {} | {} | {} | {:.0} | {:.0} % | {} | {} | {} | {} | {} |",
            fmt_size(s.size),
            s.batch,
            s.op,
            s.config,
            fmt_count(msgs),
            mbs,
            ratio * 100.0,
            fmt_count(cpu),
            work,
            s.hist.value_at_quantile(0.5),
            s.hist.value_at_quantile(0.99),
            s.hist.value_at_quantile(0.999),
        );
    }
}

// ----- the backlog memory figure -----------------------------------------------------

fn rss_line(what: &str) -> u64 {
    let anon = status_kib("RssAnon");
    println!(
        "  {what:<48} RssAnon {:>8.1} MiB   RssFile {:>8.1} MiB",
        mib(anon),
        mib(status_kib("RssFile"))
    );
    anon
}

fn receive_delete_batch(e: &mut Engine, batch: usize) -> BoxResult<usize> {
    let msgs = e.receive(QUEUE, batch, None)?;
    for m in &msgs {
        e.delete_message(QUEUE, &m.receipt_handle)?;
    }
    e.flush()?;
    Ok(msgs.len())
}

fn run_backlog(a: &BacklogArgs) -> BoxResult<()> {
    print_machine(&a.dir);
    let kind = kinds(a.flusher)[0];
    let batch = a.batch.max(1);
    let batches = a.messages.div_ceil(batch);
    let n = batches * batch;
    println!(
        "backlog: {n} messages of {} in batches of {batch}, flusher {}",
        fmt_size(a.size),
        kind_name(kind)
    );
    let scratch = scratch_dir(&a.dir)?;
    let mut peak = rss_line("start");
    let mut e = open_engine(scratch.path(), kind)?;
    peak = peak.max(rss_line("engine open, queue created"));
    let reqs = requests(a.size, batch);
    let start = Instant::now();
    let mut last_sync = start;
    let report_every = (batches / 10).max(1);
    for b in 0..batches {
        for r in e.send(QUEUE, &reqs)? {
            r?;
        }
        e.flush()?;
        if last_sync.elapsed() >= SYNC_INDEX_EVERY {
            e.sync_index()?;
            last_sync = Instant::now();
        }
        if (b + 1) % report_every == 0 {
            let anon = status_kib("RssAnon");
            peak = peak.max(anon);
            println!(
                "  {:>10} sent, {:>6.1} s, {} msgs/s, RssAnon {:.1} MiB",
                (b + 1) * batch,
                start.elapsed().as_secs_f64(),
                fmt_count(((b + 1) * batch) as f64 / start.elapsed().as_secs_f64()),
                mib(anon)
            );
        }
    }
    e.sync_index()?;
    let fill = start.elapsed();
    let c = e.counters(QUEUE)?;
    println!(
        "filled in {:.1} s; ready {}, disk {:.0} MiB",
        fill.as_secs_f64(),
        c.ready,
        e.disk_bytes() as f64 / f64::from(1 << 20)
    );
    peak = peak.max(rss_line("after fill (backlog held)"));
    let got = receive_delete_batch(&mut e, batch)?;
    peak = peak.max(rss_line(&format!("after receiving+deleting {got}")));
    drop(e);
    rss_line("engine closed");
    let t = Instant::now();
    let cfg = EngineConfig {
        flusher: kind,
        ..EngineConfig::default()
    };
    let (mut e, _) = Engine::open(scratch.path(), cfg, Arc::new(SystemClock))?;
    let reopen = t.elapsed();
    peak = peak.max(rss_line(&format!(
        "reopened (recovery {:.2} s)",
        reopen.as_secs_f64()
    )));
    let got = receive_delete_batch(&mut e, batch)?;
    peak = peak.max(rss_line(&format!("after receiving+deleting {got}")));
    let c = e.counters(QUEUE)?;
    println!("ready after reopen: {}", c.ready);
    println!(
        "peak RssAnon sampled: {:.1} MiB (VmHWM, anon+file: {:.1} MiB)",
        mib(peak),
        mib(status_kib("VmHWM"))
    );
    drop(e);
    scratch.close()?;
    Ok(())
}
