//! `spool-bench daemon`: the full send → receive → delete cycle through a running `spoold`
//! over the binary protocol.
//!
//! Producers and consumers each own one connection and keep `--pipeline` requests in
//! flight on it. Every body starts with the nanoseconds since the run began at the moment
//! its batch was submitted, so a consumer can measure end-to-end latency (send → receive)
//! without clocks shared across processes (producers and consumers run in this process).
//! Send-ack latency is measured per batch, from submit to its response.
//!
//! Throughput counts messages that completed the whole cycle (received and deleted)
//! inside the measured window, after a warm-up. Without `--addr`, the tool starts its own
//! `spoold` (the binary next to this one) on a fresh data directory with the durability
//! asked for, and stops it at the end.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use spool_client::{ClientConfig, Connection};
use spool_protocol::{Request, Response};

use crate::failures::Failures;
use crate::BoxResult;

const QUEUE: &str = "bench-daemon";

#[derive(Args, Clone)]
pub struct DaemonArgs {
    /// Address of a running spoold. Without it, a spoold is started for the run.
    #[arg(long)]
    pub(crate) addr: Option<String>,
    /// Producer connections.
    #[arg(long, default_value_t = 2)]
    pub(crate) producers: usize,
    /// Consumer connections.
    #[arg(long, default_value_t = 2)]
    pub(crate) consumers: usize,
    /// Message body size in bytes (at least 8: the send time is carried in the body).
    #[arg(long, default_value_t = 100)]
    pub(crate) size: usize,
    /// Messages per send batch, and most messages per receive.
    #[arg(long, default_value_t = 100)]
    pub(crate) batch: usize,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 8)]
    pub(crate) pipeline: usize,
    /// Durability of the spoold this tool starts: sync, batch=<ms> or none.
    #[arg(long, default_value = "sync")]
    pub(crate) durability: String,
    /// Shards of the spoold this tool starts (default: its default, the core count).
    #[arg(long)]
    pub(crate) shards: Option<u16>,
    /// More flags for the spoold this tool starts, space separated (e.g.
    /// "--flusher pwrite --direct-io false").
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub(crate) server_args: String,
    /// Seconds measured (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    pub(crate) duration: f64,
    /// Seconds of warm-up, not measured.
    #[arg(long, default_value_t = 2.0)]
    pub(crate) warmup: f64,
    /// Runs; the medians are reported.
    #[arg(long, default_value_t = 1)]
    pub(crate) repeat: usize,
    /// Producer rate limit in messages per second over all producers (0 = as fast as the
    /// server takes them).
    #[arg(long, default_value_t = 0)]
    pub(crate) rate: u64,
    /// Parent of the data directory of the spoold this tool starts (must be the disk
    /// being measured, not tmpfs).
    #[arg(long, default_value = "target/bench-data")]
    pub(crate) dir: PathBuf,
}

pub(crate) struct Figures {
    pub(crate) msgs_per_s: f64,
    pub(crate) mb_per_s: f64,
    pub(crate) send_ack: Histogram<u64>,
    pub(crate) e2e: Histogram<u64>,
    pub(crate) server_cpu_s: f64,
}

pub(crate) fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds")
}

/// A spoold started for the run, stopped (SIGTERM) on drop.
pub(crate) struct Spawned {
    pub(crate) child: Child,
    _dir: tempfile::TempDir,
    pub(crate) addr: String,
    /// `http://127.0.0.1:<port>` of the SQS API, when it was asked for.
    pub(crate) sqs_url: Option<String>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // SAFETY: kill(2) takes a pid and a signal number, no pointers.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// Why a producer or consumer thread of one run stopped: which one, and the cause.
#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("{role} {index}: {cause}")]
    Thread {
        role: &'static str,
        index: usize,
        cause: LoadCause,
    },
    #[error("a load thread panicked")]
    Panicked,
}

#[derive(Debug, thiserror::Error)]
enum LoadCause {
    #[error(transparent)]
    Client(#[from] spool_client::ClientError),
    #[error("unexpected response id {0}")]
    UnexpectedId(u64),
    /// A send, receive or delete was answered with something else than success.
    #[error("{what} failed: {response}")]
    Refused {
        what: &'static str,
        response: String,
    },
    #[error("{failed} of {of} deletes failed")]
    DeletesFailed { failed: usize, of: usize },
}

impl LoadCause {
    fn of(self, role: &'static str, index: usize) -> LoadError {
        LoadError::Thread {
            role,
            index,
            cause: self,
        }
    }
}

/// Why the spoold of a run did not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpawnError {
    #[error(
        "{} not found: build it (cargo build --release -p spool-server) or pass --addr",
        .0.display()
    )]
    NotBuilt(PathBuf),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Its stdout ended before the `listening` line.
    #[error("spoold did not start (see its stderr above)")]
    NoListeningLine,
}

fn spoold_path() -> Result<PathBuf, SpawnError> {
    let me = std::env::current_exe()?;
    let p = me.with_file_name("spoold");
    if !p.exists() {
        return Err(SpawnError::NotBuilt(p));
    }
    Ok(p)
}

/// Starts a spoold for the run; with `sqs`, its SQS API listens on a free port too.
pub(crate) fn spawn(a: &DaemonArgs, sqs: bool) -> Result<Spawned, SpawnError> {
    std::fs::create_dir_all(&a.dir)?;
    let dir = tempfile::Builder::new()
        .prefix("spoold-")
        .tempdir_in(&a.dir)?;
    let mut cmd = Command::new(spoold_path()?);
    cmd.arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--sqs-listen")
        .arg(if sqs { "127.0.0.1:0" } else { "off" })
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--durability")
        .arg(&a.durability)
        .env("SPOOL_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(n) = a.shards {
        cmd.arg("--shards").arg(n.to_string());
    }
    // The admin endpoint is off unless the extra flags ask for it (to read /metrics
    // during a run).
    if !a.server_args.contains("--admin-listen") {
        cmd.args(["--admin-listen", "off"]);
    }
    cmd.args(a.server_args.split_whitespace());
    let mut child = cmd.spawn()?;
    // `sqs http://...` (if on) comes before the last line, `listening <addr>`.
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut sqs_url = None;
    let addr = loop {
        let mut line = String::new();
        if out.read_line(&mut line)? == 0 {
            return Err(SpawnError::NoListeningLine);
        }
        if let Some(u) = line.trim().strip_prefix("sqs ") {
            sqs_url = Some(u.to_string());
        }
        if let Some(a) = line.trim().strip_prefix("listening ") {
            break a.to_string();
        }
    };
    Ok(Spawned {
        child,
        _dir: dir,
        addr,
        sqs_url,
    })
}

/// User + system CPU seconds of a process, from /proc.
pub(crate) fn process_cpu_s(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    // SAFETY: sysconf takes a constant and returns a number.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz.max(1.0)
}

fn connect(addr: &str) -> BoxResult<Connection> {
    Ok(Connection::connect(&ClientConfig {
        addr: addr.to_string(),
        ..Default::default()
    })?)
}

pub fn run(a: &DaemonArgs) -> BoxResult<()> {
    if a.size < 8 {
        return Err("--size must be at least 8".into());
    }
    println!(
        "daemon workload: {} producers, {} consumers, {} B bodies, batches of {}, {} in flight \
         per connection, durability {}, {} s measured after {} s warm-up, {} run(s)",
        a.producers,
        a.consumers,
        a.size,
        a.batch,
        a.pipeline,
        if a.addr.is_some() {
            "(server's own)"
        } else {
            a.durability.as_str()
        },
        a.duration,
        a.warmup,
        a.repeat
    );
    let mut runs = Vec::new();
    for r in 0..a.repeat {
        let spawned = match &a.addr {
            Some(_) => None,
            None => Some(spawn(a, false)?),
        };
        let addr = a
            .addr
            .clone()
            .or_else(|| spawned.as_ref().map(|s| s.addr.clone()))
            .expect("an address");
        let pid = spawned.as_ref().map(|s| s.child.id());
        let f = run_once(a, &addr, pid)?;
        println!(
            "run {}: {:.0} msgs/s, {:.1} MB/s, send-ack p50 {} us p99 {} us, e2e p50 {} us p99 {} us, server CPU {:.2} s",
            r + 1,
            f.msgs_per_s,
            f.mb_per_s,
            f.send_ack.value_at_quantile(0.5),
            f.send_ack.value_at_quantile(0.99),
            f.e2e.value_at_quantile(0.5),
            f.e2e.value_at_quantile(0.99),
            f.server_cpu_s
        );
        runs.push(f);
    }
    report(&runs);
    Ok(())
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(runs: &[Figures]) {
    let mut send_ack = hist();
    let mut e2e = hist();
    for f in runs {
        send_ack.add(&f.send_ack).expect("same bounds");
        e2e.add(&f.e2e).expect("same bounds");
    }
    println!();
    println!(
        "median of {} run(s): {:.0} msgs/s full cycle, {:.1} MB/s of bodies",
        runs.len(),
        median(runs.iter().map(|f| f.msgs_per_s).collect()),
        median(runs.iter().map(|f| f.mb_per_s).collect())
    );
    println!("| latency (us, all runs) | p50 | p90 | p99 | p99.9 | max |");
    println!("|---|---|---|---|---|---|");
    for (name, h) in [
        ("send-ack (per batch)", &send_ack),
        ("end-to-end (per message)", &e2e),
    ] {
        println!(
            "| {name} | {} | {} | {} | {} | {} |",
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.9),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    }
}

/// What the load threads of one run share with the thread measuring it.
struct Shared {
    /// Bodies carry the nanoseconds since this instant.
    start: Instant,
    stop: AtomicBool,
    measuring: AtomicBool,
    /// Full cycles (received and deleted) inside the measured window.
    completed: AtomicU64,
    send_ack: Mutex<Histogram<u64>>,
    e2e: Mutex<Histogram<u64>>,
}

/// One measured run against `addr`: a fresh queue, the producers and consumers, a warm-up,
/// the measured window, then the figures (and the server's CPU time, given its pid).
pub(crate) fn run_once(a: &DaemonArgs, addr: &str, server_pid: Option<u32>) -> BoxResult<Figures> {
    let mut admin = connect(addr)?;
    match admin.delete_queue(QUEUE) {
        Ok(()) | Err(spool_client::ClientError::Server { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    admin.create_queue(QUEUE, &[("VisibilityTimeout", "300")])?;

    let sh = Arc::new(Shared {
        start: Instant::now(),
        stop: AtomicBool::new(false),
        measuring: AtomicBool::new(false),
        completed: AtomicU64::new(0),
        send_ack: Mutex::new(hist()),
        e2e: Mutex::new(hist()),
    });
    let mut threads = Vec::new();

    for p in 0..a.producers {
        let c = connect(addr)?;
        let sh = sh.clone();
        let (size, batch, pipeline) = (a.size, a.batch, a.pipeline.max(1));
        let per_producer_rate = if a.rate == 0 {
            0.0
        } else {
            a.rate as f64 / a.producers as f64
        };
        threads.push(std::thread::spawn(move || -> Result<(), LoadError> {
            produce(c, &sh, p, size, batch, pipeline, per_producer_rate)
        }));
    }

    for k in 0..a.consumers {
        let c = connect(addr)?;
        let sh = sh.clone();
        let (batch, pipeline) = (a.batch as u32, a.pipeline.max(1));
        threads.push(std::thread::spawn(move || -> Result<(), LoadError> {
            consume(c, &sh, k, batch, pipeline)
        }));
    }

    std::thread::sleep(Duration::from_secs_f64(a.warmup));
    let cpu0 = server_pid.map_or(0.0, process_cpu_s);
    sh.measuring.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(a.duration));
    sh.measuring.store(false, Ordering::SeqCst);
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu1 = server_pid.map_or(0.0, process_cpu_s);
    let done = sh.completed.load(Ordering::SeqCst);
    sh.stop.store(true, Ordering::SeqCst);
    let mut errors = Vec::new();
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push(LoadError::Panicked),
        }
    }
    if !errors.is_empty() {
        return Err(Failures(errors).into());
    }
    let msgs_per_s = done as f64 / elapsed;
    let send_ack = sh.send_ack.lock().expect("not poisoned").clone();
    let e2e = sh.e2e.lock().expect("not poisoned").clone();
    Ok(Figures {
        msgs_per_s,
        mb_per_s: msgs_per_s * a.size as f64 / 1e6,
        send_ack,
        e2e,
        server_cpu_s: cpu1 - cpu0,
    })
}

/// Producer `p`: keeps `pipeline` sends of `batch` bodies of `size` bytes in flight (open
/// loop at `per_producer_rate` msgs/s when it is set) until told to stop, recording
/// send-ack latency per batch while measuring; then waits for the sends still in flight.
fn produce(
    mut c: Connection,
    sh: &Shared,
    p: usize,
    size: usize,
    batch: usize,
    pipeline: usize,
    per_producer_rate: f64,
) -> Result<(), LoadError> {
    let fail = move |cause: LoadCause| cause.of("producer", p);
    let mut h = hist();
    let mut out: VecDeque<(u64, Instant)> = VecDeque::new();
    let mut bodies: Vec<Vec<u8>> = (0..batch).map(|_| vec![b'x'; size]).collect();
    let mut sent: u64 = 0;
    let began = Instant::now();
    while !sh.stop.load(Ordering::Relaxed) {
        while out.len() < pipeline {
            if per_producer_rate > 0.0 {
                let due = began + Duration::from_secs_f64(sent as f64 / per_producer_rate);
                let now = Instant::now();
                if due > now {
                    if out.is_empty() {
                        std::thread::sleep(due - now);
                    } else {
                        break;
                    }
                }
            }
            let t = sh.start.elapsed().as_nanos() as u64;
            for b in &mut bodies {
                b[..8].copy_from_slice(&t.to_le_bytes());
            }
            let entries: Vec<spool_protocol::message::SendEntry<'_>> = bodies
                .iter()
                .map(|b| spool_protocol::message::SendEntry {
                    body: b.as_slice().into(),
                    ..Default::default()
                })
                .collect();
            let req = Request::Send {
                queue: QUEUE.into(),
                entries,
            };
            let id = c.submit(&req).map_err(|e| fail(e.into()))?;
            out.push_back((id, Instant::now()));
            sent += batch as u64;
        }
        let (id, resp) = c.next_response_ref().map_err(|e| fail(e.into()))?;
        let Some(pos) = out.iter().position(|(i, _)| *i == id) else {
            return Err(fail(LoadCause::UnexpectedId(id)));
        };
        let (_, at) = out.remove(pos).expect("position is valid");
        match resp {
            Response::Sent { results } if results.iter().all(Result::is_ok) => {}
            other => {
                return Err(fail(LoadCause::Refused {
                    what: "send",
                    response: format!("{other:?}"),
                }))
            }
        }
        if sh.measuring.load(Ordering::Relaxed) {
            h.saturating_record((at.elapsed().as_micros() as u64).max(1));
        }
    }
    while !out.is_empty() {
        let (id, _) = c.next_response().map_err(|e| fail(e.into()))?;
        out.retain(|(i, _)| *i != id);
    }
    sh.send_ack
        .lock()
        .expect("not poisoned")
        .add(&h)
        .expect("same bounds");
    Ok(())
}

/// Consumer `k`: keeps `pipeline` receives of up to `batch` in flight until told to stop,
/// deletes what each brings (one delete per receive, answered before it counts), records
/// end-to-end latency per message and counts full cycles while measuring; then waits for
/// the requests still in flight.
fn consume(
    mut c: Connection,
    sh: &Shared,
    k: usize,
    batch: u32,
    pipeline: usize,
) -> Result<(), LoadError> {
    let fail = move |cause: LoadCause| cause.of("consumer", k);
    let mut h = hist();
    let mut receives = 0usize;
    let mut deletes: VecDeque<(u64, usize)> = VecDeque::new();
    let mut receive_ids: Vec<u64> = Vec::new();
    // Receipt handles of the last receive, back to back (`ends[i]` ends handle i):
    // copied out of the borrowed response so the delete can be submitted.
    let mut arena: Vec<u8> = Vec::new();
    let mut ends: Vec<usize> = Vec::new();
    loop {
        let stopping = sh.stop.load(Ordering::Relaxed);
        while !stopping && receives < pipeline {
            let id = c
                .submit(&Request::Receive {
                    queue: QUEUE.into(),
                    max_messages: batch,
                    visibility_timeout_s: None,
                    wait_time_ms: 100,
                    attribute_names: vec![],
                    system_attributes: false,
                })
                .map_err(|e| fail(e.into()))?;
            receive_ids.push(id);
            receives += 1;
        }
        if receives == 0 && deletes.is_empty() {
            break;
        }
        let (id, resp) = c.next_response_ref().map_err(|e| fail(e.into()))?;
        if let Some(pos) = receive_ids.iter().position(|i| *i == id) {
            receive_ids.swap_remove(pos);
            receives -= 1;
            let Response::Received { messages } = resp else {
                return Err(fail(LoadCause::Refused {
                    what: "receive",
                    response: format!("{resp:?}"),
                }));
            };
            if messages.is_empty() {
                continue;
            }
            let now = sh.start.elapsed().as_nanos() as u64;
            if sh.measuring.load(Ordering::Relaxed) {
                for m in &messages {
                    let mut t = [0u8; 8];
                    t.copy_from_slice(&m.body[..8]);
                    let sent = u64::from_le_bytes(t);
                    h.saturating_record((now.saturating_sub(sent) / 1000).max(1));
                }
            }
            arena.clear();
            ends.clear();
            for m in &messages {
                arena.extend_from_slice(&m.receipt_handle);
                ends.push(arena.len());
            }
            let n = messages.len();
            drop(messages);
            let mut from = 0;
            let handles = ends
                .iter()
                .map(|&to| {
                    let h = std::borrow::Cow::Borrowed(&arena[from..to]);
                    from = to;
                    h
                })
                .collect();
            let id = c
                .submit(&Request::Delete {
                    queue: QUEUE.into(),
                    receipt_handles: handles,
                })
                .map_err(|e| fail(e.into()))?;
            deletes.push_back((id, n));
        } else if let Some(pos) = deletes.iter().position(|(i, _)| *i == id) {
            let (_, n) = deletes.remove(pos).expect("position is valid");
            let Response::Deleted { results } = resp else {
                return Err(fail(LoadCause::Refused {
                    what: "delete",
                    response: format!("{resp:?}"),
                }));
            };
            let ok = results.iter().filter(|r| r.is_ok()).count();
            if ok != n {
                return Err(fail(LoadCause::DeletesFailed {
                    failed: n - ok,
                    of: n,
                }));
            }
            if sh.measuring.load(Ordering::Relaxed) {
                sh.completed.fetch_add(n as u64, Ordering::Relaxed);
            }
        } else {
            return Err(fail(LoadCause::UnexpectedId(id)));
        }
    }
    sh.e2e
        .lock()
        .expect("not poisoned")
        .add(&h)
        .expect("same bounds");
    Ok(())
}
