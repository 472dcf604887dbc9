//! `spool-bench sqs`: the full send → receive → delete cycle over the SQS HTTP API (AWS
//! JSON 1.0, keep-alive, batches of 10), next to the binary protocol with the same shape
//! in the same run, and next to moto's server when one is given.
//!
//! Every producer and consumer is a thread with its own keep-alive HTTP connection and one
//! request in flight (how SDK clients behave): producers call SendMessageBatch with 10
//! messages; consumers call ReceiveMessage (10 at most, `--wait-seconds` long poll, 1 by
//! default) and then
//! DeleteMessageBatch with what they got. Bodies start with the send time (hex), so the
//! consumer measures end-to-end latency; send-ack latency is per SendMessageBatch call.
//! Throughput counts messages received and deleted inside the measured window.
//!
//! Targets run one after another, in the order given, each against a fresh server:
//! `spool-sqs` (spoold's SQS API), `spool-binary` (spoold's binary protocol, batches of 10,
//! one request in flight per connection) and `moto` (`--moto-server`, started on a free
//! port). The tool prints a line per run and a Markdown table of medians, with each
//! target's ratio to moto (when moto ran) and to spool-binary.

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::daemon::{self, hist, median, process_cpu_s, DaemonArgs, Figures};
use crate::BoxResult;

const QUEUE: &str = "bench-sqs";

#[derive(Args, Clone)]
pub struct SqsArgs {
    /// Targets, comma separated: spool-sqs, spool-binary, moto.
    #[arg(long, default_value = "spool-sqs,spool-binary", value_delimiter = ',')]
    targets: Vec<String>,
    /// moto's server executable (`moto_server`, from `pip install "moto[server]"`);
    /// needed for the moto target.
    #[arg(long)]
    moto_server: Option<PathBuf>,
    /// Producer threads (one connection each).
    #[arg(long, default_value_t = 4)]
    producers: usize,
    /// Consumer threads (one connection each).
    #[arg(long, default_value_t = 4)]
    consumers: usize,
    /// Message body size in bytes (at least 16: the send time is carried in the body).
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Durability of the spoold this tool starts: sync, batch=<ms> or none.
    #[arg(long, default_value = "sync")]
    durability: String,
    /// Seconds measured per run (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of warm-up per run, not measured.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Runs per target; medians are reported.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// WaitTimeSeconds of every ReceiveMessage (0 = short polling).
    #[arg(long, default_value_t = 1)]
    wait_seconds: u32,
    /// Parent of the data directory of the spoold this tool starts.
    #[arg(long, default_value = "target/bench-data")]
    dir: PathBuf,
}

/// SQS allows at most 10 entries per batch.
const BATCH: usize = 10;

fn daemon_args(a: &SqsArgs) -> DaemonArgs {
    DaemonArgs {
        addr: None,
        producers: a.producers,
        consumers: a.consumers,
        size: a.size,
        batch: BATCH,
        pipeline: 1,
        durability: a.durability.clone(),
        shards: None,
        server_args: String::new(),
        duration: a.duration,
        warmup: a.warmup,
        repeat: 1,
        rate: 0,
        dir: a.dir.clone(),
    }
}

pub fn run(a: SqsArgs) -> BoxResult<()> {
    if a.size < 16 {
        return Err("--size must be at least 16".into());
    }
    println!(
        "SQS workload: {} producers, {} consumers, {} B bodies, batches of {BATCH}, receive wait \
         {} s, one request in flight per connection, durability {} (spoold), {} s measured \
         after {} s warm-up, {} run(s) per target",
        a.producers,
        a.consumers,
        a.size,
        a.wait_seconds,
        a.durability,
        a.duration,
        a.warmup,
        a.repeat
    );
    let mut results: Vec<(String, Vec<Figures>)> = Vec::new();
    for target in &a.targets {
        let mut runs = Vec::new();
        for r in 0..a.repeat {
            let f = match target.as_str() {
                "spool-sqs" => {
                    let s = daemon::spawn(&daemon_args(&a), true)?;
                    let url = s.sqs_url.clone().ok_or("spoold printed no SQS address")?;
                    run_once(&a, &url, Some(s.child.id()))?
                }
                "spool-binary" => {
                    let d = daemon_args(&a);
                    let s = daemon::spawn(&d, false)?;
                    daemon::run_once(&d, &s.addr, Some(s.child.id()))?
                }
                "moto" => {
                    let path = a
                        .moto_server
                        .as_ref()
                        .ok_or("the moto target needs --moto-server <path to moto_server>")?;
                    let m = Moto::start(path)?;
                    run_once(&a, &m.url, Some(m.child.id()))?
                }
                other => return Err(format!("unknown target {other:?}").into()),
            };
            println!(
                "{target} run {}: {:.0} msgs/s, send-ack p50 {} us p99 {} us, e2e p50 {} us \
                 p99 {} us, server CPU {:.2} s",
                r + 1,
                f.msgs_per_s,
                f.send_ack.value_at_quantile(0.5),
                f.send_ack.value_at_quantile(0.99),
                f.e2e.value_at_quantile(0.5),
                f.e2e.value_at_quantile(0.99),
                f.server_cpu_s,
            );
            runs.push(f);
        }
        results.push((target.clone(), runs));
    }
    report(&results, a.duration);
    Ok(())
}

fn report(results: &[(String, Vec<Figures>)], duration: f64) {
    let med = |runs: &[Figures]| median(runs.iter().map(|f| f.msgs_per_s).collect());
    let of = |name: &str| results.iter().find(|(t, _)| t == name).map(|(_, r)| med(r));
    let (moto, binary) = (of("moto"), of("spool-binary"));
    println!();
    println!(
        "| target | msgs/s (median) | vs moto | vs spool-binary | send-ack p50 / p99 (us) | \
         end-to-end p50 / p99 (us) | server CPU s per s |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, runs) in results {
        let m = med(runs);
        let mut sa = hist();
        let mut e2e = hist();
        for f in runs {
            let _ = sa.add(&f.send_ack);
            let _ = e2e.add(&f.e2e);
        }
        let ratio = |base: Option<f64>| match base {
            Some(b) if b > 0.0 => format!("{:.1}×", m / b),
            _ => "–".into(),
        };
        let cpu = median(runs.iter().map(|f| f.server_cpu_s).collect()) / duration;
        println!(
            "| {name} | {m:.0} | {} | {} | {} / {} | {} / {} | {cpu:.2} |",
            ratio(moto),
            ratio(binary),
            sa.value_at_quantile(0.5),
            sa.value_at_quantile(0.99),
            e2e.value_at_quantile(0.5),
            e2e.value_at_quantile(0.99),
        );
    }
}

/// moto's server on a free port, stopped on drop.
struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start(path: &PathBuf) -> BoxResult<Moto> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(path)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("moto did not start listening within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Moto { child, url })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One keep-alive connection speaking AWS JSON 1.0.
struct Client {
    agent: ureq::Agent,
    url: String,
}

impl Client {
    fn new(url: &str) -> Client {
        Client {
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .max_idle_connections_per_host(1)
                .build(),
            url: url.to_string(),
        }
    }

    fn call(&self, action: &str, body: &Value) -> BoxResult<Value> {
        self.call_raw(action, &body.to_string())
    }

    /// `body` is the request's JSON text.
    fn call_raw(&self, action: &str, body: &str) -> BoxResult<Value> {
        let resp = self
            .agent
            .post(&self.url)
            .set("Content-Type", "application/x-amz-json-1.0")
            .set("X-Amz-Target", &format!("AmazonSQS.{action}"))
            // Well-formed SigV4 shape; the signature itself is not checked by these servers.
            .set(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/sqs/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature=00",
            )
            .set("X-Amz-Date", "20260101T000000Z")
            .send_string(body);
        match resp {
            Ok(r) => {
                let mut s = String::new();
                r.into_reader().take(64 << 20).read_to_string(&mut s)?;
                Ok(serde_json::from_str(&s)?)
            }
            Err(ureq::Error::Status(code, r)) => {
                let text = r.into_string().unwrap_or_default();
                Err(format!("{action}: HTTP {code}: {text}").into())
            }
            Err(e) => Err(format!("{action}: {e}").into()),
        }
    }
}

fn run_once(a: &SqsArgs, url: &str, server_pid: Option<u32>) -> BoxResult<Figures> {
    let admin = Client::new(url);
    let q = admin.call(
        "CreateQueue",
        &json!({"QueueName": QUEUE, "Attributes": {"VisibilityTimeout": "300"}}),
    )?;
    let queue_url = q["QueueUrl"]
        .as_str()
        .ok_or("CreateQueue returned no QueueUrl")?
        .to_string();

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(AtomicU64::new(0));
    let send_ack = Arc::new(Mutex::new(hist()));
    let e2e = Arc::new(Mutex::new(hist()));
    let mut threads = Vec::new();

    for p in 0..a.producers {
        let c = Client::new(url);
        let (stop, measuring, send_ack) = (stop.clone(), measuring.clone(), send_ack.clone());
        let (queue_url, size) = (queue_url.clone(), a.size);
        threads.push(std::thread::spawn(move || -> Result<(), String> {
            let mut h = hist();
            let pad = "x".repeat(size - 16);
            // The request text is built directly (the load generator should cost little):
            // the queue URL and bodies need no JSON escaping.
            let mut req = String::with_capacity(BATCH * (size + 40) + queue_url.len() + 64);
            while !stop.load(Ordering::Relaxed) {
                let t = start.elapsed().as_nanos() as u64;
                req.clear();
                req.push_str("{\"QueueUrl\":\"");
                req.push_str(&queue_url);
                req.push_str("\",\"Entries\":[");
                for i in 0..BATCH {
                    if i > 0 {
                        req.push(',');
                    }
                    req.push_str(&format!(
                        "{{\"Id\":\"{i}\",\"MessageBody\":\"{t:016x}{pad}\"}}"
                    ));
                }
                req.push_str("]}");
                let at = Instant::now();
                let r = c
                    .call_raw("SendMessageBatch", &req)
                    .map_err(|e| format!("producer {p}: {e}"))?;
                let ok = r["Successful"].as_array().map_or(0, Vec::len);
                if ok != BATCH {
                    return Err(format!("producer {p}: batch partly failed: {r}"));
                }
                if measuring.load(Ordering::Relaxed) {
                    h.saturating_record((at.elapsed().as_micros() as u64).max(1));
                }
            }
            merge(&send_ack, &h);
            Ok(())
        }));
    }
    for k in 0..a.consumers {
        let c = Client::new(url);
        let (stop, measuring, completed, e2e) = (
            stop.clone(),
            measuring.clone(),
            completed.clone(),
            e2e.clone(),
        );
        let (queue_url, wait) = (queue_url.clone(), a.wait_seconds);
        threads.push(std::thread::spawn(move || -> Result<(), String> {
            let mut h = hist();
            while !stop.load(Ordering::Relaxed) {
                let r = c
                    .call(
                        "ReceiveMessage",
                        &json!({"QueueUrl": queue_url, "MaxNumberOfMessages": BATCH,
                                "WaitTimeSeconds": wait}),
                    )
                    .map_err(|e| format!("consumer {k}: {e}"))?;
                let msgs = r["Messages"].as_array().cloned().unwrap_or_default();
                if msgs.is_empty() {
                    continue;
                }
                let now = start.elapsed().as_nanos() as u64;
                let mut entries = Vec::with_capacity(msgs.len());
                for (i, m) in msgs.iter().enumerate() {
                    let body = m["Body"].as_str().unwrap_or_default();
                    let sent = body
                        .get(..16)
                        .and_then(|t| u64::from_str_radix(t, 16).ok())
                        .unwrap_or(now);
                    if measuring.load(Ordering::Relaxed) {
                        h.saturating_record((now.saturating_sub(sent) / 1000).max(1));
                    }
                    entries.push(json!({"Id": i.to_string(),
                                        "ReceiptHandle": m["ReceiptHandle"]}));
                }
                let d = c
                    .call(
                        "DeleteMessageBatch",
                        &json!({"QueueUrl": queue_url, "Entries": entries}),
                    )
                    .map_err(|e| format!("consumer {k}: {e}"))?;
                let ok = d["Successful"].as_array().map_or(0, Vec::len);
                if ok != msgs.len() {
                    return Err(format!("consumer {k}: deletes partly failed: {d}"));
                }
                if measuring.load(Ordering::Relaxed) {
                    completed.fetch_add(ok as u64, Ordering::Relaxed);
                }
            }
            merge(&e2e, &h);
            Ok(())
        }));
    }

    std::thread::sleep(Duration::from_secs_f64(a.warmup));
    let cpu0 = server_pid.map_or(0.0, process_cpu_s);
    measuring.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(a.duration));
    measuring.store(false, Ordering::SeqCst);
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu1 = server_pid.map_or(0.0, process_cpu_s);
    let done = completed.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    let mut errors = Vec::new();
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("a load thread panicked".into()),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; ").into());
    }
    let msgs_per_s = done as f64 / elapsed;
    let send_ack = send_ack.lock().expect("not poisoned").clone();
    let e2e = e2e.lock().expect("not poisoned").clone();
    Ok(Figures {
        msgs_per_s,
        mb_per_s: msgs_per_s * a.size as f64 / 1e6,
        send_ack,
        e2e,
        server_cpu_s: cpu1 - cpu0,
    })
}

fn merge(into: &Mutex<Histogram<u64>>, h: &Histogram<u64>) {
    let _ = into.lock().expect("not poisoned").add(h);
}
