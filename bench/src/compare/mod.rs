//! `spool-bench compare`: Spool next to the queues a user would pick instead (Redis
//! Streams, RabbitMQ, NATS JetStream), the same workload against each, in one run.
//!
//! A workload (flags, or a TOML file with the same names) is a matrix: message sizes
//! (fixed, or uniform between two sizes) × durabilities (`sync`, `batch`) × queue kinds
//! (`standard`, `fifo` with N groups), run against every target. For each target and
//! durability the harness starts a fresh server on 127.0.0.1 with a temporary data
//! directory, runs every size and kind on fresh queues, stops the server and removes its
//! data. Targets whose server binary is not installed are skipped with a note
//! (`bench/install-peers.sh` installs them); the harness never installs anything.
//!
//! Every producer and consumer is a thread with its own connection and one batch in
//! flight. Producers send batches (closed loop, or open loop at `--rate` msgs/s in total,
//! where latency is measured from each batch's scheduled time so a stalled server is not
//! hidden); consumers receive up to a batch and acknowledge (delete) what they got.
//! Every body starts with its scheduled send time, so end-to-end latency (send →
//! receive) is measured per message. Throughput counts messages received and
//! acknowledged inside the measured window. Server CPU time, resident memory (peak of
//! samples) and bytes written to storage come from `/proc` over the server's process tree.
//!
//! Output: a progress bar on a terminal, a Markdown table per durability and kind with
//! each target's ratio to the best peer, `results.json` with every figure, and SVG plots
//! (throughput by message size; latency percentiles by target) in `--out`.

mod error;
mod measure;
mod nats;
mod proc_stats;
mod rabbitmq;
mod redis;
mod report;
mod server_process;
mod spool;
mod workload;

use clap::Args;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::BoxResult;
pub(crate) use error::{peer, CompareError};
use measure::run_one;
pub(crate) use workload::{Durability, Kind, SizeSpec, Workload};

/// What targets, producers and consumers return (their errors cross threads).
pub(crate) type Res<T> = Result<T, CompareError>;

/// A server under test, started for one durability and stopped on drop.
pub(crate) trait Target {
    /// The server's main process (CPU, memory and I/O are summed over its process tree).
    fn pid(&self) -> u32;
    /// Creates the queue (and, for FIFO, its groups) described by `q`.
    fn prepare(&self, q: &QueueSpec) -> Res<()>;
    /// A producer with its own connection.
    fn producer(&self, q: &QueueSpec, index: usize) -> Res<Box<dyn Producer>>;
    /// A consumer with its own connection. On FIFO queues consumer `index` of `n` reads
    /// groups `g` with `g % n == index` where the target has no group semantics of its own.
    fn consumer(&self, q: &QueueSpec, index: usize) -> Res<Box<dyn Consumer>>;
    /// What the reader of the results should know about how this target was run.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Sends batches.
pub(crate) trait Producer: Send {
    /// Sends `bodies` (on FIFO queues, all to message group `group`) and returns once
    /// the server has acknowledged every one.
    fn send(&mut self, bodies: &[Vec<u8>], group: usize) -> Res<()>;
}

/// Messages whose acknowledgement the server confirmed (or, for a target whose
/// acknowledgements have no answer, that were acknowledged).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Acked {
    pub msgs: u64,
    pub bytes: u64,
}

impl Acked {
    pub(crate) fn of(bodies: &[Vec<u8>]) -> Acked {
        Acked {
            msgs: bodies.len() as u64,
            bytes: bodies.iter().map(|b| b.len() as u64).sum(),
        }
    }
}

/// Receives and acknowledges.
pub(crate) trait Consumer: Send {
    /// Receives up to one batch, waiting briefly (≤ 100 ms) when nothing is there,
    /// appends their bodies to `out`, and acknowledges (deletes) every message received.
    ///
    /// A consumer keeps at most one batch of acknowledgements unanswered, as a user
    /// consuming at speed would: RabbitMQ's and NATS's acks are one-way messages with no
    /// answer at all, and Spool's deletes and Redis's XACKs are answered only after their
    /// group commit or fsync, so those two send the acknowledgement of one batch and
    /// receive the next before they wait for its answer. Returns what was acknowledged
    /// (answered) during this call: the throughput counts those.
    fn receive(&mut self, out: &mut Vec<Vec<u8>>) -> Res<Acked>;
}

/// One queue of one run.
#[derive(Clone, Debug)]
pub(crate) struct QueueSpec {
    /// Unique within the server's life; FIFO names end in
    /// [`FIFO_SUFFIX`](spool_protocol::limits::FIFO_SUFFIX).
    pub name: String,
    pub kind: Kind,
    pub groups: usize,
    pub consumers: usize,
    pub batch: usize,
}

/// Percentiles of one latency histogram, in microseconds.
#[derive(Serialize, Clone, Debug, Default)]
pub(crate) struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub count: u64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Percentiles {
        Percentiles {
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            count: h.len(),
        }
    }
}

/// Every figure of one run.
#[derive(Serialize, Clone, Debug)]
pub(crate) struct RunResult {
    pub target: String,
    pub durability: Durability,
    pub kind: Kind,
    pub size: String,
    pub mean_size: f64,
    pub batch: usize,
    pub producers: usize,
    pub consumers: usize,
    pub groups: usize,
    /// Offered load in msgs/s (open loop), 0 = as fast as acknowledged (closed loop).
    pub rate: u64,
    pub seconds: f64,
    pub msgs_per_s: f64,
    pub mb_per_s: f64,
    pub send_ack_us: Percentiles,
    pub end_to_end_us: Percentiles,
    /// Server CPU seconds per second of measurement (1.0 = one core busy).
    pub server_cpu: f64,
    /// Largest anonymous resident memory (RssAnon) of the server's process tree seen
    /// during the run (sampled every 100 ms).
    pub server_rss_bytes: u64,
    /// Bytes the server's process tree caused to be written to storage, per message.
    pub disk_bytes_per_msg: f64,
    /// Why a run failed, if it did (the other figures are then zero).
    pub error: Option<String>,
    /// With `--repeat`: msgs/s of every round's run of this cell, in round order (this
    /// result is the median one's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rounds_msgs_per_s: Vec<f64>,
}

#[derive(Args, Clone, Debug)]
pub struct CompareArgs {
    /// The smoke profile: 100 B, sync, standard and FIFO, 2 s per run (< 2 min in all).
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// The profile of docs/benchmarks.md: 100 B, 1 KiB, 16 KiB, 64 KiB × sync, batch ×
    /// standard, FIFO, plus the latency comparison at half of Spool's peak.
    #[arg(long)]
    full: bool,
    /// A TOML workload file; keys are the long flag names with `_` (e.g. `fifo_groups`).
    /// Flags given on the command line win over the file.
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    #[command(flatten)]
    overrides: workload::WorkloadFlags,
    /// Where results.json, results.md and the plots go.
    #[arg(long, default_value = "target/compare")]
    out: std::path::PathBuf,
    /// Parent of the servers' temporary data directories.
    #[arg(long, default_value = "target/bench-data")]
    dir: std::path::PathBuf,
    /// More flags for the spoold this tool starts, space separated.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    spool_args: String,
}

pub fn run(a: &CompareArgs) -> BoxResult<()> {
    let mut w = if a.quick {
        Workload::quick()
    } else if a.full {
        Workload::full()
    } else {
        Workload::default()
    };
    if let Some(path) = &a.config {
        w.apply_file(path)?;
    }
    w.apply_flags(&a.overrides)?;
    w.validate()?;
    std::fs::create_dir_all(&a.out)?;
    std::fs::create_dir_all(&a.dir)?;
    println!("{}", w.describe());

    let runs_per_server = w.sizes.len() * w.kinds.len();
    let total = (w.repeat * w.targets.len() * w.durabilities.len() * runs_per_server) as u64;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    // Every round runs every target, so that a slow spell of this shared machine falls on
    // all of them rather than on whichever target ran then.
    let mut rounds: Vec<Vec<RunResult>> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for round in 0..w.repeat {
        let mut results = Vec::new();
        for target in &w.targets {
            for &d in &w.durabilities {
                let server = match start_target(target, d, &a.dir, &a.spool_args) {
                    Ok(s) => s,
                    Err(e) => {
                        let note = format!("{target}: not run ({e})");
                        say(&bar, note.clone());
                        if !notes.contains(&note) {
                            notes.push(note);
                        }
                        bar.inc(runs_per_server as u64);
                        continue;
                    }
                };
                for n in server.notes() {
                    if !notes.contains(&n) {
                        notes.push(n);
                    }
                }
                for size in &w.sizes {
                    for &kind in &w.kinds {
                        bar.set_message(format!(
                            "round {}/{}: {target} {d} {kind} {}",
                            round + 1,
                            w.repeat,
                            size.label()
                        ));
                        let r = run_one(&*server, target, &w, d, kind, size, w.rate, &bar);
                        say(&bar, r.line());
                        results.push(r);
                        bar.inc(1);
                    }
                }
            }
        }
        rounds.push(results);
    }
    bar.finish_and_clear();
    let mut results = medians(rounds);

    if w.half_peak {
        half_peak_latency(&w, &a.dir, &a.spool_args, &mut results, &mut notes);
    }

    let md = report::markdown(&w, &results, &notes);
    println!("\n{md}");
    std::fs::write(a.out.join("results.md"), &md)?;
    let json = serde_json::json!({
        "workload": w.describe(),
        "notes": notes,
        "results": results,
    });
    std::fs::write(
        a.out.join("results.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    let plots = report::plots(&w, &results, &a.out)?;
    println!(
        "wrote results.md, results.json and {} plot(s) to {}",
        plots.len(),
        a.out.display()
    );
    if results.iter().all(|r| r.error.is_some()) {
        return Err("every run failed".into());
    }
    Ok(())
}

/// One result per cell: with one round, the run itself; with more, the run with the
/// median msgs/s of the rounds that ran it (the lower middle one of an even count; failed
/// runs count as 0), carrying those rounds' msgs/s in round order. Cells appear in the
/// order they first ran (a target that could not start in a round is missing from it).
fn medians(rounds: Vec<Vec<RunResult>>) -> Vec<RunResult> {
    if rounds.len() == 1 {
        return rounds.into_iter().next().unwrap_or_default();
    }
    let mut cells: Vec<Vec<RunResult>> = Vec::new();
    for r in rounds.into_iter().flatten() {
        match cells.iter_mut().find(|c| c[0].same_cell(&r)) {
            Some(c) => c.push(r),
            None => cells.push(vec![r]),
        }
    }
    cells
        .into_iter()
        .map(|mut runs| {
            let all: Vec<f64> = runs.iter().map(|r| r.msgs_per_s).collect();
            runs.sort_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s));
            let mut m = runs.swap_remove((runs.len() - 1) / 2);
            m.rounds_msgs_per_s = all;
            m
        })
        .collect()
}

/// The latency half of issue 5's target: Spool (binary protocol) at half of its own peak
/// msgs/s (100 B, sync, standard, as measured above), and every peer at that same
/// absolute rate, open loop.
fn half_peak_latency(
    w: &Workload,
    dir: &std::path::Path,
    spool_args: &str,
    results: &mut Vec<RunResult>,
    notes: &mut Vec<String>,
) {
    let size = w.sizes[0].clone();
    let peak = results
        .iter()
        .filter(|r| {
            r.target == "spool-binary"
                && r.durability == Durability::Sync
                && r.kind == Kind::Standard
                && r.size == size.label()
                && r.rate == 0
        })
        .map(|r| r.msgs_per_s)
        .fold(0.0, f64::max);
    if peak <= 0.0 {
        notes.push("latency at half peak: skipped (no spool-binary sync standard run)".into());
        return;
    }
    let rate = (peak / 2.0) as u64;
    println!("\nlatency at half of spool-binary's peak: {rate} msgs/s offered to every target");
    let bar = ProgressBar::hidden();
    for target in &w.targets {
        let Ok(server) = start_target(target, Durability::Sync, dir, spool_args) else {
            continue;
        };
        let r = run_one(
            &*server,
            target,
            w,
            Durability::Sync,
            Kind::Standard,
            &size,
            rate,
            &bar,
        );
        println!("{}", r.line());
        results.push(r);
    }
}

/// A line of the log: above the progress bar on a terminal, plain otherwise.
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
}

fn start_target(
    name: &str,
    d: Durability,
    dir: &std::path::Path,
    spool_args: &str,
) -> Res<Box<dyn Target>> {
    match name {
        "spool-binary" => Ok(Box::new(spool::SpoolTarget::start(
            d, dir, false, spool_args,
        )?)),
        "spool-sqs" => Ok(Box::new(spool::SpoolTarget::start(
            d, dir, true, spool_args,
        )?)),
        "redis" => Ok(Box::new(redis::RedisTarget::start(d, dir)?)),
        "rabbitmq" => Ok(Box::new(rabbitmq::RabbitTarget::start(d, dir)?)),
        "nats" => Ok(Box::new(nats::NatsTarget::start(d, dir)?)),
        other => Err(CompareError::UnknownTarget(other.to_string())),
    }
}

impl RunResult {
    /// The result of a run of this cell before anything was measured (figures zero).
    fn unmeasured(
        target: &str,
        w: &Workload,
        d: Durability,
        kind: Kind,
        size: &SizeSpec,
        rate: u64,
    ) -> RunResult {
        RunResult {
            target: target.to_string(),
            durability: d,
            kind,
            size: size.label(),
            mean_size: size.mean(),
            batch: w.batch,
            producers: w.producers,
            consumers: w.consumers,
            groups: if kind.is_fifo() { w.fifo_groups } else { 0 },
            rate,
            seconds: 0.0,
            msgs_per_s: 0.0,
            mb_per_s: 0.0,
            send_ack_us: Percentiles::default(),
            end_to_end_us: Percentiles::default(),
            server_cpu: 0.0,
            server_rss_bytes: 0,
            disk_bytes_per_msg: 0.0,
            error: None,
            rounds_msgs_per_s: Vec::new(),
        }
    }

    /// Whether two results are runs of the same cell (target, durability, kind, size, rate).
    fn same_cell(&self, o: &RunResult) -> bool {
        self.target == o.target
            && self.durability == o.durability
            && self.kind == o.kind
            && self.size == o.size
            && self.rate == o.rate
    }

    /// One line for the log while the matrix runs.
    fn line(&self) -> String {
        if let Some(e) = &self.error {
            return format!(
                "{} {} {} {}: FAILED: {e}",
                self.target, self.durability, self.kind, self.size
            );
        }
        format!(
            "{} {} {} {}{}: {:.0} msgs/s, {:.1} MB/s, send-ack p50/p99 {}/{} us, e2e p50/p99 \
             {}/{} us, server CPU {:.2}, RSS {} MiB, {:.0} B written per msg",
            self.target,
            self.durability,
            self.kind,
            self.size,
            if self.rate > 0 {
                format!(" at {} msgs/s offered", self.rate)
            } else {
                String::new()
            },
            self.msgs_per_s,
            self.mb_per_s,
            self.send_ack_us.p50,
            self.send_ack_us.p99,
            self.end_to_end_us.p50,
            self.end_to_end_us.p99,
            self.server_cpu,
            self.server_rss_bytes >> 20,
            self.disk_bytes_per_msg,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(target: &str, size: &str, msgs: f64) -> RunResult {
        let bytes = if size == "1 KiB" { 1024 } else { 100 };
        let spec = SizeSpec::Fixed(bytes);
        let w = Workload::default();
        let mut r = RunResult::unmeasured(target, &w, Durability::Sync, Kind::Standard, &spec, 0);
        assert_eq!(r.size, size);
        r.msgs_per_s = msgs;
        r
    }

    // A median is one of the runs, copied, not computed: exact comparison is right.
    #[allow(clippy::float_cmp)]
    #[test]
    fn one_round_is_reported_as_it_is() {
        let r = medians(vec![vec![run("redis", "100 B", 5.0)]]);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].msgs_per_s, 5.0);
        assert!(r[0].rounds_msgs_per_s.is_empty());
    }

    // As above: medians are copied runs.
    #[allow(clippy::float_cmp)]
    #[test]
    fn each_cell_reports_its_median_run_and_every_round() {
        let rounds = vec![
            vec![
                run("spool-binary", "100 B", 30.0),
                run("redis", "100 B", 9.0),
            ],
            vec![
                run("spool-binary", "100 B", 10.0),
                run("redis", "100 B", 7.0),
            ],
            vec![
                run("redis", "100 B", 8.0),
                run("spool-binary", "100 B", 20.0),
            ],
        ];
        let r = medians(rounds);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].target.as_str(), r[0].msgs_per_s),
            ("spool-binary", 20.0)
        );
        assert_eq!(r[0].rounds_msgs_per_s, vec![30.0, 10.0, 20.0]);
        assert_eq!((r[1].target.as_str(), r[1].msgs_per_s), ("redis", 8.0));
        // An even count takes the lower middle.
        let r = medians(vec![
            vec![run("nats", "1 KiB", 4.0)],
            vec![run("nats", "1 KiB", 1.0)],
        ]);
        assert_eq!(r[0].msgs_per_s, 1.0);
        // A cell missing from the first round (its server did not start) still counts.
        let r = medians(vec![
            vec![run("redis", "100 B", 9.0)],
            vec![run("redis", "100 B", 7.0), run("nats", "100 B", 3.0)],
        ]);
        assert_eq!(r.len(), 2);
        assert_eq!((r[1].target.as_str(), r[1].msgs_per_s), ("nats", 3.0));
        assert_eq!(r[1].rounds_msgs_per_s, vec![3.0]);
    }
}
