//! `spool-bench sqs`: the full send → receive → delete cycle over the SQS HTTP API (AWS
//! JSON 1.0, keep-alive, batches of 10), next to the binary protocol with the same shape
//! in the same run, and next to moto's server when one is given.
//!
//! Every producer and consumer is a task with its own keep-alive HTTP connection and one
//! request in flight (how SDK clients behave; the tasks share `--client-threads` threads): producers call SendMessageBatch with 10
//! messages; consumers call ReceiveMessage (10 at most, `--wait-seconds` long poll, 1 by
//! default) and then
//! DeleteMessageBatch with what they got. Bodies start with the send time (hex), so the
//! consumer measures end-to-end latency; send-ack latency is per SendMessageBatch call.
//! Throughput counts messages received and deleted inside the measured window.
//!
//! Targets run one after another, in the order given, each against a fresh server:
//! `spool-sqs` (spoold's SQS API), `spool-binary` (spoold's binary protocol, batches of 10,
//! one request in flight per connection), `moto` (`--moto-server`, started on a free
//! port) and `http-floor` (see [`Floor`]: canned replies, the ceiling HTTP sets on this
//! machine). The tool prints a line per run and a Markdown table of medians, with each
//! target's ratio to moto, spool-binary and http-floor (those that ran).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::daemon::{self, hist, median, process_cpu_s, DaemonArgs, Figures};
use crate::failures::Failures;
use crate::BoxResult;

mod client;
pub(crate) use client::{Client, HttpError};

const QUEUE: &str = "bench-sqs";

#[derive(Args, Clone)]
pub struct SqsArgs {
    /// Targets, comma separated: spool-sqs, spool-binary, moto, http-floor (a hyper server
    /// that answers with canned replies: the most HTTP allows on this machine).
    #[arg(long, default_value = "spool-sqs,spool-binary", value_delimiter = ',')]
    targets: Vec<String>,
    /// moto's server executable (`moto_server`, from `pip install "moto[server]"`);
    /// needed for the moto target.
    #[arg(long)]
    moto_server: Option<PathBuf>,
    /// Producers (one connection each).
    #[arg(long, default_value_t = 4)]
    producers: usize,
    /// Consumers (one connection each).
    #[arg(long, default_value_t = 4)]
    consumers: usize,
    /// Threads of the load generator's runtime (producers and consumers are tasks on it).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
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
    /// Extra arguments for the spoold this tool starts (e.g. "--sqs-threads 2").
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    server_args: String,
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
        server_args: a.server_args.clone(),
        duration: a.duration,
        warmup: a.warmup,
        repeat: 1,
        rate: 0,
        dir: a.dir.clone(),
    }
}

pub fn run(a: &SqsArgs) -> BoxResult<()> {
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
                    let s = daemon::spawn(&daemon_args(a), true)?;
                    let url = s.sqs_url.clone().ok_or("spoold printed no SQS address")?;
                    run_once(a, &url, Some(s.child.id()))?
                }
                "spool-binary" => {
                    let d = daemon_args(a);
                    let s = daemon::spawn(&d, false)?;
                    daemon::run_once(&d, &s.addr, Some(s.child.id()))?
                }
                "http-floor" => {
                    let f = Floor::start()?;
                    run_once(a, &f.url, None)?
                }
                "moto" => {
                    let path = a
                        .moto_server
                        .as_ref()
                        .ok_or("the moto target needs --moto-server <path to moto_server>")?;
                    let m = Moto::start(path)?;
                    run_once(a, &m.url, Some(m.child.id()))?
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
    let (moto, binary, floor) = (of("moto"), of("spool-binary"), of("http-floor"));
    println!();
    println!(
        "| target | msgs/s (median) | vs moto | vs spool-binary | vs http-floor | send-ack p50 / \
         p99 (us) | end-to-end p50 / p99 (us) | server CPU s per s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
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
            "| {name} | {m:.0} | {} | {} | {} | {} / {} | {} / {} | {cpu:.2} |",
            ratio(moto),
            ratio(binary),
            ratio(floor),
            sa.value_at_quantile(0.5),
            sa.value_at_quantile(0.99),
            e2e.value_at_quantile(0.5),
            e2e.value_at_quantile(0.99),
        );
    }
}

/// The floor under any SQS server on this machine: a hyper server, on one thread of its
/// own like spoold's gateway, that parses nothing and stores nothing and answers every
/// action with a canned reply of the right shape (10 successes, 10 messages). What the
/// load generator reaches against it is the most that HTTP over loopback TCP with this
/// client allows here. Its end-to-end latency means nothing (the bodies are canned).
struct Floor {
    url: String,
    _rt: tokio::runtime::Runtime,
}

impl Floor {
    fn start() -> BoxResult<Floor> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("http-floor")
            .enable_all()
            .build()?;
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let url = format!("http://{}", listener.local_addr()?);
        let host = url.trim_start_matches("http://").to_string();
        let replies = Arc::new(FloorReplies::new(&host));
        rt.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let replies = replies.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let replies = replies.clone();
                        async move { replies.answer(req).await }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await;
                });
            }
        });
        Ok(Floor { url, _rt: rt })
    }
}

/// The canned replies of [`Floor`].
struct FloorReplies {
    create: Bytes,
    batch: Bytes,
    receive: Bytes,
}

impl FloorReplies {
    fn new(host: &str) -> FloorReplies {
        let entries: Vec<Value> = (0..BATCH)
            .map(|i| {
                json!({"Id": i.to_string(), "MessageId": format!("{i:036}"),
                       "MD5OfMessageBody": "0".repeat(32)})
            })
            .collect();
        let messages: Vec<Value> = (0..BATCH)
            .map(|i| {
                json!({"MessageId": format!("{i:036}"), "ReceiptHandle": "h".repeat(120),
                       "MD5OfBody": "0".repeat(32), "Body": "f".repeat(100)})
            })
            .collect();
        let text = |v: Value| Bytes::from(v.to_string());
        FloorReplies {
            create: text(json!({"QueueUrl": format!("http://{host}/000000000000/{QUEUE}")})),
            batch: text(json!({"Successful": entries, "Failed": []})),
            receive: text(json!({"Messages": messages})),
        }
    }

    async fn answer(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<Full<Bytes>>, hyper::Error> {
        let target = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        // Read the whole request, as any server must.
        req.into_body().collect().await?;
        let body = match target.as_str() {
            "AmazonSQS.CreateQueue" => self.create.clone(),
            "AmazonSQS.ReceiveMessage" => self.receive.clone(),
            _ => self.batch.clone(),
        };
        let mut resp = hyper::Response::new(Full::new(body));
        resp.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        Ok(resp)
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

/// Why a producer or consumer task of `spool-bench sqs` stopped.
#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("{role}: {source}")]
    Call {
        role: &'static str,
        source: HttpError,
    },
    #[error("{role}: unreadable reply: {source}")]
    Reply {
        role: &'static str,
        source: serde_json::Error,
    },
    /// A batch call answered 200 with some entries failed.
    #[error("{role}: {what} partly failed: {text}")]
    Partial {
        role: &'static str,
        what: &'static str,
        text: String,
    },
    #[error("a load task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

#[derive(Deserialize)]
pub(crate) struct BatchResult {
    #[serde(rename = "Successful", default)]
    pub(crate) successful: Vec<IgnoredAny>,
}

#[derive(Deserialize)]
pub(crate) struct Received<'a> {
    #[serde(rename = "Messages", default, borrow)]
    pub(crate) messages: Vec<ReceivedMessage<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct ReceivedMessage<'a> {
    #[serde(rename = "Body", borrow)]
    pub(crate) body: Cow<'a, str>,
    #[serde(rename = "ReceiptHandle", borrow)]
    pub(crate) receipt_handle: Cow<'a, str>,
}

/// The DeleteMessageBatch request for `messages`, entries numbered from 0. Built directly
/// (the load generator should cost little): queue URLs and receipt handles need no JSON
/// escaping.
pub(crate) fn delete_batch_body(queue_url: &str, messages: &[ReceivedMessage<'_>]) -> String {
    let mut body = String::with_capacity(64 + queue_url.len() + messages.len() * 160);
    body.push_str("{\"QueueUrl\":\"");
    body.push_str(queue_url);
    body.push_str("\",\"Entries\":[");
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        let _ = write!(body, "{{\"Id\":\"{i}\",\"ReceiptHandle\":\"");
        body.push_str(&m.receipt_handle);
        body.push_str("\"}");
    }
    body.push_str("]}");
    body
}

/// State shared by the load tasks of one run.
struct Shared {
    start: Instant,
    stop: AtomicBool,
    measuring: AtomicBool,
    completed: AtomicU64,
    send_ack: Mutex<Histogram<u64>>,
    e2e: Mutex<Histogram<u64>>,
}

/// A producer: SendMessageBatch of 10 in a loop. Bodies start with the send time.
async fn produce(
    sh: Arc<Shared>,
    mut c: Client,
    queue_url: String,
    size: usize,
) -> Result<(), LoadError> {
    let mut h = hist();
    let pad = "x".repeat(size - 16);
    while !sh.stop.load(Ordering::Relaxed) {
        let t = sh.start.elapsed().as_nanos() as u64;
        // The request text is built directly (the load generator should cost little): the
        // queue URL and bodies need no JSON escaping.
        let mut req = String::with_capacity(BATCH * (size + 40) + queue_url.len() + 64);
        req.push_str("{\"QueueUrl\":\"");
        req.push_str(&queue_url);
        req.push_str("\",\"Entries\":[");
        for i in 0..BATCH {
            if i > 0 {
                req.push(',');
            }
            let _ = write!(req, "{{\"Id\":\"{i}\",\"MessageBody\":\"{t:016x}{pad}\"}}");
        }
        req.push_str("]}");
        let at = Instant::now();
        let bytes = c
            .call("SendMessageBatch", req)
            .await
            .map_err(|source| LoadError::Call {
                role: "producer",
                source,
            })?;
        let r: BatchResult = serde_json::from_slice(&bytes).map_err(|source| LoadError::Reply {
            role: "producer",
            source,
        })?;
        if r.successful.len() != BATCH {
            return Err(LoadError::Partial {
                role: "producer",
                what: "batch",
                text: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        if sh.measuring.load(Ordering::Relaxed) {
            h.saturating_record((at.elapsed().as_micros() as u64).max(1));
        }
    }
    merge(&sh.send_ack, &h);
    Ok(())
}

/// A consumer: ReceiveMessage (up to 10, long poll), then DeleteMessageBatch of what came.
async fn consume(
    sh: Arc<Shared>,
    mut c: Client,
    queue_url: String,
    wait: u32,
) -> Result<(), LoadError> {
    let mut h = hist();
    let receive = format!(
        "{{\"QueueUrl\":\"{queue_url}\",\"MaxNumberOfMessages\":{BATCH},\"WaitTimeSeconds\":{wait}}}"
    );
    while !sh.stop.load(Ordering::Relaxed) {
        let bytes = c
            .call("ReceiveMessage", receive.clone())
            .await
            .map_err(|source| LoadError::Call {
                role: "consumer",
                source,
            })?;
        let r: Received = serde_json::from_slice(&bytes).map_err(|source| LoadError::Reply {
            role: "consumer",
            source,
        })?;
        if r.messages.is_empty() {
            continue;
        }
        let now = sh.start.elapsed().as_nanos() as u64;
        for m in &r.messages {
            let sent = m
                .body
                .get(..16)
                .and_then(|t| u64::from_str_radix(t, 16).ok())
                .unwrap_or(now);
            if sh.measuring.load(Ordering::Relaxed) {
                h.saturating_record((now.saturating_sub(sent) / 1000).max(1));
            }
        }
        let body = delete_batch_body(&queue_url, &r.messages);
        let n = r.messages.len();
        let bytes = c
            .call("DeleteMessageBatch", body)
            .await
            .map_err(|source| LoadError::Call {
                role: "consumer",
                source,
            })?;
        let d: BatchResult = serde_json::from_slice(&bytes).map_err(|source| LoadError::Reply {
            role: "consumer",
            source,
        })?;
        if d.successful.len() != n {
            return Err(LoadError::Partial {
                role: "consumer",
                what: "deletes",
                text: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        if sh.measuring.load(Ordering::Relaxed) {
            sh.completed.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
    merge(&sh.e2e, &h);
    Ok(())
}

fn run_once(a: &SqsArgs, url: &str, server_pid: Option<u32>) -> BoxResult<Figures> {
    let rt = if a.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(a.client_threads)
            .enable_all()
            .build()?
    };
    rt.block_on(run_load(a, url, server_pid))
}

async fn run_load(a: &SqsArgs, url: &str, server_pid: Option<u32>) -> BoxResult<Figures> {
    let mut admin = Client::connect(url).await?;
    let body = json!({"QueueName": QUEUE, "Attributes": {"VisibilityTimeout": "300"}});
    let q: Value = serde_json::from_slice(&admin.call("CreateQueue", body.to_string()).await?)?;
    let queue_url = q["QueueUrl"]
        .as_str()
        .ok_or("CreateQueue returned no QueueUrl")?
        .to_string();

    let sh = Arc::new(Shared {
        start: Instant::now(),
        stop: AtomicBool::new(false),
        measuring: AtomicBool::new(false),
        completed: AtomicU64::new(0),
        send_ack: Mutex::new(hist()),
        e2e: Mutex::new(hist()),
    });
    let mut tasks = Vec::new();
    for _ in 0..a.producers {
        let c = Client::connect(url).await?;
        tasks.push(tokio::spawn(produce(
            sh.clone(),
            c,
            queue_url.clone(),
            a.size,
        )));
    }
    for _ in 0..a.consumers {
        let c = Client::connect(url).await?;
        let wait = a.wait_seconds;
        tasks.push(tokio::spawn(consume(
            sh.clone(),
            c,
            queue_url.clone(),
            wait,
        )));
    }

    tokio::time::sleep(Duration::from_secs_f64(a.warmup)).await;
    let cpu0 = server_pid.map_or(0.0, process_cpu_s);
    sh.measuring.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(a.duration)).await;
    sh.measuring.store(false, Ordering::SeqCst);
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu1 = server_pid.map_or(0.0, process_cpu_s);
    let done = sh.completed.load(Ordering::SeqCst);
    sh.stop.store(true, Ordering::SeqCst);
    let mut errors = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(LoadError::Task(e)),
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

fn merge(into: &Mutex<Histogram<u64>>, h: &Histogram<u64>) {
    let _ = into.lock().expect("not poisoned").add(h);
}
