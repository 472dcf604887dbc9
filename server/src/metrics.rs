//! The daemon's counters and latency histograms, rendered in the Prometheus text format by
//! the admin endpoint (`GET /metrics`).
//!
//! What is counted: calls per action and protocol (`sqs` for the HTTP API, `binary` for
//! the binary protocol), their latency (hdrhistogram, microseconds; p50/p90/p99/p999 and
//! count per action), client (4xx) and server (5xx) errors, and the duration of every
//! group commit's write+fdatasync per shard, and receives of messages past
//! maxReceiveCount whose dead-letter queue is missing, per queue (with when to warn of
//! them: [`Metrics::dead_letter_queue_missing`]). Per-queue gauges and bytes on disk are
//! read at scrape time by the admin endpoint, not kept here.
//!
//! Promises: recording is a short critical section on one lock per recorder (a shard's own
//! recorder is only contended by a scrape); memory is bounded by the number of distinct
//! (protocol, action) pairs, which is fixed by the code (action names are `&'static str`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;

/// Highest latency tracked (1 hour in µs); larger values are clamped.
const MAX_US: u64 = 3_600_000_000;

/// A queue whose dead-letter queue is missing is warned of at most this often: a poison
/// message received in a tight loop must not flood the log.
pub const DLQ_MISSING_WARN_INTERVAL_MS: u64 = 60_000;

/// How a call ended, for the 4xx/5xx counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    ClientError,
    ServerError,
}

struct Action {
    calls: u64,
    client_errors: u64,
    server_errors: u64,
    latency_us: Histogram<u64>,
}

impl Action {
    fn new() -> Action {
        Action {
            calls: 0,
            client_errors: 0,
            server_errors: 0,
            latency_us: Histogram::new_with_max(MAX_US, 2).expect("valid histogram bounds"),
        }
    }
}

/// Calls of one protocol, by action.
#[derive(Default)]
pub struct Recorder {
    actions: Mutex<BTreeMap<&'static str, Action>>,
}

impl Recorder {
    pub fn record(&self, action: &'static str, outcome: Outcome, latency_us: u64) {
        let mut m = lock(&self.actions);
        let a = m.entry(action).or_insert_with(Action::new);
        a.calls += 1;
        match outcome {
            Outcome::Ok => {}
            Outcome::ClientError => a.client_errors += 1,
            Outcome::ServerError => a.server_errors += 1,
        }
        let _ = a.latency_us.record(latency_us.clamp(1, MAX_US));
    }

    /// Counts a call whose latency is not measured.
    pub fn count(&self, action: &'static str) {
        lock(&self.actions)
            .entry(action)
            .or_insert_with(Action::new)
            .calls += 1;
    }

    /// Calls recorded for `action` so far.
    pub fn calls(&self, action: &str) -> u64 {
        lock(&self.actions).get(action).map_or(0, |a| a.calls)
    }
}

/// Group-commit durations of one shard.
pub struct CommitTimes {
    hist: Mutex<Histogram<u64>>,
}

impl Default for CommitTimes {
    fn default() -> Self {
        CommitTimes {
            hist: Mutex::new(Histogram::new_with_max(MAX_US, 2).expect("valid histogram bounds")),
        }
    }
}

impl CommitTimes {
    pub fn record(&self, us: u64) {
        let _ = lock(&self.hist).record(us.clamp(1, MAX_US));
    }
}

/// The shards' recorders merged by action.
fn merged(recorders: &[Recorder]) -> BTreeMap<&'static str, Action> {
    let mut out: BTreeMap<&'static str, Action> = BTreeMap::new();
    for r in recorders {
        for (name, a) in lock(&r.actions).iter() {
            let m = out.entry(name).or_insert_with(Action::new);
            m.calls += a.calls;
            m.client_errors += a.client_errors;
            m.server_errors += a.server_errors;
            let _ = m.latency_us.add(&a.latency_us);
        }
    }
    out
}

/// Everything the admin endpoint renders.
pub struct Metrics {
    /// One recorder per shard (each shard records the SQS calls it serves).
    pub sqs: Vec<Recorder>,
    /// One recorder per shard (each shard records its own binary-protocol calls).
    pub binary: Vec<Recorder>,
    /// One per shard: binary-protocol error replies by error code.
    pub binary_errors: Vec<Mutex<BTreeMap<&'static str, (Outcome, u64)>>>,
    /// One per shard.
    pub commits: Vec<CommitTimes>,
    /// One per shard: records found damaged when read back, and skipped (the shard
    /// stores its engine's total on its timer tick).
    pub corrupt_records: Vec<AtomicU64>,
    /// Receives of messages past maxReceiveCount delivered because their dead-letter
    /// queue does not exist, by source queue (all shards), and the warnings' state.
    dlq_missing: Mutex<BTreeMap<String, DlqMissing>>,
}

/// One queue's count of receives past maxReceiveCount without a dead-letter queue.
#[derive(Default)]
struct DlqMissing {
    total: u64,
    /// When the last warning was due (engine clock, ms); None before the first.
    warned_ms: Option<u64>,
    /// Counted since that warning.
    since_warned: u64,
}

impl Metrics {
    pub fn new(shards: usize) -> Arc<Metrics> {
        Arc::new(Metrics {
            sqs: (0..shards).map(|_| Recorder::default()).collect(),
            binary: (0..shards).map(|_| Recorder::default()).collect(),
            binary_errors: (0..shards).map(|_| Mutex::new(BTreeMap::new())).collect(),
            commits: (0..shards).map(|_| CommitTimes::default()).collect(),
            corrupt_records: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            dlq_missing: Mutex::new(BTreeMap::new()),
        })
    }

    /// Counts `n` receives of messages of `queue` past maxReceiveCount whose dead-letter
    /// queue is missing. Returns how many to warn of now (those since the last warning),
    /// or None while the last warning of this queue is under
    /// [`DLQ_MISSING_WARN_INTERVAL_MS`] old.
    pub fn dead_letter_queue_missing(&self, queue: &str, n: u64, now_ms: u64) -> Option<u64> {
        let mut m = lock(&self.dlq_missing);
        let q = m.entry(queue.to_string()).or_default();
        q.total += n;
        q.since_warned += n;
        let due = q
            .warned_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= DLQ_MISSING_WARN_INTERVAL_MS);
        if !due {
            return None;
        }
        q.warned_ms = Some(now_ms);
        Some(std::mem::take(&mut q.since_warned))
    }

    /// Counts a binary-protocol error reply of shard `shard`.
    pub fn binary_error(&self, shard: usize, code: &'static str, outcome: Outcome) {
        if let Some(m) = self.binary_errors.get(shard) {
            lock(m).entry(code).or_insert((outcome, 0)).1 += 1;
        }
    }

    /// The counters and histograms in the Prometheus text exposition format (0.0.4).
    pub fn render(&self, out: &mut String) {
        let binary = merged(&self.binary);
        let sqs = merged(&self.sqs);
        let protocols: [(&str, &BTreeMap<&'static str, Action>); 2] =
            [("sqs", &sqs), ("binary", &binary)];

        out.push_str("# HELP spool_calls_total Calls by protocol and action.\n");
        out.push_str("# TYPE spool_calls_total counter\n");
        for (p, m) in protocols {
            for (a, s) in m {
                let _ = writeln!(
                    out,
                    "spool_calls_total{{protocol=\"{p}\",action=\"{a}\"}} {}",
                    s.calls
                );
            }
        }
        out.push_str("# HELP spool_errors_total Failed calls by protocol, action and class (4xx: the client's fault, 5xx: the server's).\n");
        out.push_str("# TYPE spool_errors_total counter\n");
        for (p, m) in protocols {
            for (a, s) in m {
                let _ = writeln!(
                    out,
                    "spool_errors_total{{protocol=\"{p}\",action=\"{a}\",class=\"4xx\"}} {}",
                    s.client_errors
                );
                let _ = writeln!(
                    out,
                    "spool_errors_total{{protocol=\"{p}\",action=\"{a}\",class=\"5xx\"}} {}",
                    s.server_errors
                );
            }
        }
        let mut by_code: BTreeMap<&'static str, (Outcome, u64)> = BTreeMap::new();
        for m in &self.binary_errors {
            for (code, (o, n)) in lock(m).iter() {
                by_code.entry(code).or_insert((*o, 0)).1 += n;
            }
        }
        out.push_str("# HELP spool_binary_errors_total Binary-protocol error replies by error code and class.\n");
        out.push_str("# TYPE spool_binary_errors_total counter\n");
        for (code, (o, n)) in by_code {
            let class = if o == Outcome::ServerError {
                "5xx"
            } else {
                "4xx"
            };
            let _ = writeln!(
                out,
                "spool_binary_errors_total{{code=\"{code}\",class=\"{class}\"}} {n}"
            );
        }
        out.push_str("# HELP spool_latency_seconds Call latency by protocol and action (from hdrhistogram; SQS API only).\n");
        out.push_str("# TYPE spool_latency_seconds summary\n");
        for (p, m) in [("sqs", &sqs)] {
            for (a, s) in m {
                summary(
                    out,
                    "spool_latency_seconds",
                    &format!("protocol=\"{p}\",action=\"{a}\""),
                    &s.latency_us,
                );
            }
        }
        let corrupt: u64 = self
            .corrupt_records
            .iter()
            .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
            .sum();
        let _ = writeln!(
            out,
            "# HELP spool_corrupt_records_total Records found damaged (CRC mismatch) when read \
             back and never delivered.\n# TYPE spool_corrupt_records_total counter\n\
             spool_corrupt_records_total {corrupt}"
        );
        out.push_str(
            "# HELP spool_dead_letter_queue_missing_total Receives of messages past \
             maxReceiveCount delivered because the queue's dead-letter queue does not exist, \
             by queue.\n# TYPE spool_dead_letter_queue_missing_total counter\n",
        );
        for (q, c) in lock(&self.dlq_missing).iter() {
            // Queue names are [A-Za-z0-9_-] (and the FIFO suffix): nothing to escape in a label.
            let _ = writeln!(
                out,
                "spool_dead_letter_queue_missing_total{{queue=\"{q}\"}} {}",
                c.total
            );
        }
        out.push_str(
            "# HELP spool_commit_seconds Group-commit duration (write + fdatasync) by shard.\n",
        );
        out.push_str("# TYPE spool_commit_seconds summary\n");
        for (i, c) in self.commits.iter().enumerate() {
            summary(
                out,
                "spool_commit_seconds",
                &format!("shard=\"{i}\""),
                &lock(&c.hist),
            );
        }
    }
}

fn summary(out: &mut String, name: &str, labels: &str, h: &Histogram<u64>) {
    for q in [0.5, 0.9, 0.99, 0.999] {
        let v = if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q) as f64 / 1e6
        };
        let _ = writeln!(out, "{name}{{{labels},quantile=\"{q}\"}} {v}");
    }
    let sum: f64 = if h.is_empty() {
        0.0
    } else {
        h.iter_recorded()
            .map(|v| v.value_iterated_to() as f64 * v.count_at_value() as f64)
            .sum::<f64>()
            / 1e6
    };
    let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.len());
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Counters stay meaningful after a panic elsewhere; never propagate the poison.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_calls_errors_and_quantiles() {
        let m = Metrics::new(2);
        m.sqs[0].record("SendMessage", Outcome::Ok, 100);
        m.sqs[0].record("SendMessage", Outcome::ClientError, 300);
        m.binary[0].count("Send");
        m.binary[1].count("Send");
        m.binary_error(0, "QueueDoesNotExist", Outcome::ClientError);
        m.binary_error(1, "QueueDoesNotExist", Outcome::ClientError);
        m.binary_error(1, "InternalError", Outcome::ServerError);
        m.commits[1].record(250);
        m.corrupt_records[0].store(2, std::sync::atomic::Ordering::Relaxed);
        m.corrupt_records[1].store(1, std::sync::atomic::Ordering::Relaxed);
        let mut s = String::new();
        m.render(&mut s);
        assert!(s.contains("spool_calls_total{protocol=\"sqs\",action=\"SendMessage\"} 2\n"));
        assert!(s.contains("spool_calls_total{protocol=\"binary\",action=\"Send\"} 2\n"));
        assert!(s.contains(
            "spool_errors_total{protocol=\"sqs\",action=\"SendMessage\",class=\"4xx\"} 1\n"
        ));
        assert!(
            s.contains("spool_binary_errors_total{code=\"QueueDoesNotExist\",class=\"4xx\"} 2\n")
        );
        assert!(s.contains("spool_binary_errors_total{code=\"InternalError\",class=\"5xx\"} 1\n"));
        assert!(
            s.contains("spool_latency_seconds_count{protocol=\"sqs\",action=\"SendMessage\"} 2\n")
        );
        // p99 of {100, 300} µs is 300 µs (within the histogram's 2 significant digits).
        let line = s
            .lines()
            .find(|l| l.starts_with("spool_latency_seconds{protocol=\"sqs\",action=\"SendMessage\",quantile=\"0.99\"}"))
            .unwrap();
        let v: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((v - 0.0003).abs() < 0.00001, "{line}");
        assert!(s.contains("spool_commit_seconds_count{shard=\"1\"} 1\n"));
        assert!(s.contains("spool_commit_seconds_count{shard=\"0\"} 0\n"));
        assert!(
            s.contains("\nspool_corrupt_records_total 3\n"),
            "summed over shards"
        );
    }

    #[test]
    fn dead_letter_queue_missing_is_counted_and_warned_of_at_most_once_a_minute() {
        let m = Metrics::new(2);
        assert_eq!(
            m.dead_letter_queue_missing("src", 2, 1_000),
            Some(2),
            "first"
        );
        assert_eq!(
            m.dead_letter_queue_missing("src", 3, 2_000),
            None,
            "held back"
        );
        assert_eq!(
            m.dead_letter_queue_missing("other", 1, 2_000),
            Some(1),
            "per queue"
        );
        let later = 1_000 + DLQ_MISSING_WARN_INTERVAL_MS;
        assert_eq!(
            m.dead_letter_queue_missing("src", 1, later),
            Some(4),
            "since the last"
        );
        let mut s = String::new();
        m.render(&mut s);
        assert!(s.contains("spool_dead_letter_queue_missing_total{queue=\"src\"} 6\n"));
        assert!(s.contains("spool_dead_letter_queue_missing_total{queue=\"other\"} 1\n"));
    }
}
