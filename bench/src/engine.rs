//! `spool-bench engine`: append+flush and receive+delete through the public engine API
//! ([`Engine::send`] + [`Engine::flush`], [`Engine::receive`] +
//! [`Engine::delete_message`] + [`Engine::flush`]) with both flushers, next to a raw
//! baseline that writes the same bytes in the same batches with `pwrite` + `fdatasync` to
//! a plain preallocated file, in the same run.
//!
//! Owns its flags, one timed run of each kind, the repeats of each body size (in rotating
//! order) and the Markdown table of medians.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use spool_engine::{open_flusher, DeleteOutcome, Engine, EngineFlush, FlusherKind, SendRequest};

use crate::{
    cpu_time, fmt_count, fmt_size, kind_name, kinds, log_bytes, new_hist, open_engine, preallocate,
    print_machine, record_us, requests, scratch_dir, settle, BoxResult, FlusherArg, QUEUE,
    SYNC_INDEX_EVERY,
};

#[derive(Args)]
pub(crate) struct EngineArgs {
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

/// Runs every size: for each, `--repeat` rounds of the baseline and each flusher.
pub(crate) fn run_engine(a: &EngineArgs) -> BoxResult<()> {
    print_machine(&a.dir);
    let repeat = a.repeat.max(1);
    let kinds = kinds(a.flusher);
    let mut all: Vec<Series> = Vec::new();
    for &size in &a.size {
        let mut s = SizeRuns::new(a, size, &kinds, repeat)?;
        for rep in 0..repeat {
            s.repeat(a, &kinds, rep)?;
        }
        all.push(s.base);
        all.extend(s.app);
        all.extend(s.rcv.into_iter().filter(|s| !s.runs.is_empty()));
    }
    print_table(&all);
    Ok(())
}

/// One body size's configuration and the series its repeats fill.
struct SizeRuns {
    size: usize,
    batch: usize,
    batches: usize,
    /// Messages per run: `batches` × `batch`.
    n: usize,
    reqs: Vec<SendRequest>,
    /// The engine's record size for this body (measured with a one-batch probe).
    record_len: u64,
    base: Series,
    /// Append, per flusher.
    app: Vec<Series>,
    /// Receive+delete, per flusher.
    rcv: Vec<Series>,
}

impl SizeRuns {
    /// Works out batch and message counts for `size`, prints them, and measures the
    /// record size.
    fn new(
        a: &EngineArgs,
        size: usize,
        kinds: &[FlusherKind],
        repeat: usize,
    ) -> BoxResult<SizeRuns> {
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
        let base = Series::new(size, batch, "append+flush", "raw pwrite+fdatasync".into());
        let app: Vec<Series> = kinds
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
        let rcv: Vec<Series> = kinds
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
        Ok(SizeRuns {
            size,
            batch,
            batches,
            n,
            reqs,
            record_len,
            base,
            app,
            rcv,
        })
    }

    /// Repeat `rep`: the baseline and each flusher once, each on a fresh scratch
    /// directory; prints the repeat's line and adds the runs to the series.
    fn repeat(&mut self, a: &EngineArgs, kinds: &[FlusherKind], rep: usize) -> BoxResult<()> {
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
                let batch_bytes = (self.record_len as usize) * self.batch;
                base_run = Some(baseline(
                    scratch.path(),
                    batch_bytes,
                    self.batches,
                    self.batch,
                    &mut self.base.hist,
                )?);
            } else {
                let k = kinds[which];
                eng_runs[which] = Some(self.engine_runs(a, scratch.path(), k, which)?);
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
            self.app[i].ratios.push(ra.mb_per_s() / b.mb_per_s());
            self.app[i].runs.push(ra);
            if let Some(rr) = rr {
                print!(", receive+delete {} msgs/s", fmt_count(rr.msgs_per_s()));
                self.rcv[i].ratios.push(rr.mb_per_s() / b.mb_per_s());
                self.rcv[i].runs.push(rr);
            }
        }
        println!();
        self.base.ratios.push(1.0);
        self.base.runs.push(b);
        Ok(())
    }

    /// The engine with flusher `k` (series `which`) on `dir`: append, then (unless
    /// `--append-only`) receive+delete of everything appended.
    fn engine_runs(
        &mut self,
        a: &EngineArgs,
        dir: &Path,
        k: FlusherKind,
        which: usize,
    ) -> BoxResult<(Run, Option<Run>)> {
        let mut e = open_engine(dir, k)?;
        let ra = if a.pipeline {
            engine_append_pipelined(
                &mut e,
                &self.reqs,
                self.batches,
                &mut self.app[which].hist,
                k,
            )?
        } else {
            engine_append(&mut e, &self.reqs, self.batches, &mut self.app[which].hist)?
        };
        let rr = if a.append_only {
            None
        } else {
            Some(engine_receive_delete(
                &mut e,
                self.n,
                self.batch,
                self.size,
                self.record_len,
                &mut self.rcv[which].hist,
            )?)
        };
        drop(e);
        Ok((ra, rr))
    }
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
