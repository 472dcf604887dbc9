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

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use spool_client::{ClientConfig, ClientError, Connection, Message, ReceiveOptions, SendEntry};

const STD_QUEUE: &str = "crashloop-std";
/// The FIFO queue: a FIFO name ends in the model's suffix.
static FIFO_QUEUE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("crashloop-fifo{}", spool_protocol::limits::FIFO_SUFFIX));
/// Longer than any daemon lifetime here: a handle stays the latest one until it is used or
/// released, so an acknowledged delete really deleted.
const VISIBILITY_S: &str = "3600";
const STD_PRODUCERS: usize = 2;
const FIFO_GROUPS: usize = 6;
const STARTUP_TIMEOUT: Duration = Duration::from_mins(1);
const DRAIN_TIMEOUT: Duration = Duration::from_mins(2);
/// A kill this soon after a segment file disappeared counts as "during compaction".
const COMPACTION_WINDOW: Duration = Duration::from_millis(100);

#[derive(Parser, Debug)]
#[command(
    name = "spool-crashloop",
    about = "SIGKILL spoold under load again and again; check that nothing acknowledged is lost"
)]
struct Args {
    /// Rounds (load, kill, restart, verify).
    #[arg(long, default_value_t = 20)]
    rounds: u64,
    /// Seed of every random choice (default: from the clock; printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Longest load phase of a round (the kill comes within it), e.g. 1500ms, 2s.
    #[arg(long, default_value = "1500ms", value_parser = parse_duration)]
    duration_per_round: Duration,
    /// Data directory (must not exist or be empty; default: a new one under the temp dir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The spoold binary (default: `spoold` next to this binary).
    #[arg(long)]
    spoold: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    shards: u32,
    /// Segment size of the daemon: small, so that segments roll and compaction runs often.
    #[arg(long, default_value_t = 1)]
    segment_mib: u32,
    /// Start no round after this many seconds (0: no limit); totals cover the rounds run.
    #[arg(long, default_value_t = 0)]
    max_seconds: u64,
    /// Keep the data directory even when every round passed.
    #[arg(long)]
    keep_data: bool,
}

/// A `--duration-per-round` refused.
#[derive(Debug, thiserror::Error)]
enum DurationError {
    #[error("not a duration: {0:?} (e.g. 1500ms, 2s)")]
    NotADuration(String),
    #[error("a round's load lasts between 10 ms and an hour")]
    OutOfRange,
}

fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let s = s.trim();
    let (num, scale) = if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| DurationError::NotADuration(s.to_string()))?;
    if !(v * scale >= 10.0 && v * scale <= 3_600_000.0) {
        return Err(DurationError::OutOfRange);
    }
    Ok(Duration::from_millis((v * scale) as u64))
}

// ----- randomness and checksums (no dependency, so the check shares no code) -------------

/// splitmix64: seeded, reproducible choices.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn fork(&mut self) -> Rng {
        Rng(self.next())
    }
}

fn crc32(parts: &[&[u8]]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    let mut crc = !0u32;
    for p in parts {
        for &b in *p {
            crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
        }
    }
    !crc
}

// ----- message identity and bodies ---------------------------------------------------------

/// A message: its queue, its stream (a standard producer or a FIFO group) and its sequence
/// number in that stream (increasing across rounds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Id {
    fifo: bool,
    stream: usize,
    seq: u64,
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.fifo {
            "fifo group"
        } else {
            "std producer"
        };
        write!(f, "{kind} {} seq {}", self.stream, self.seq)
    }
}

const MAGIC: &str = "crashloop1";

/// `crashloop1 <s|f> <stream> <seq> <round> <len> <crc32 hex>\n<len payload bytes>`; the
/// CRC covers the header before it and the payload.
fn make_body(id: Id, round: u64, len: usize) -> Vec<u8> {
    let kind = if id.fifo { 'f' } else { 's' };
    let head = format!("{MAGIC} {kind} {} {} {round} {len} ", id.stream, id.seq);
    let mut r = Rng(id.seq ^ ((id.stream as u64) << 48) ^ u64::from(id.fifo) << 63);
    let payload: Vec<u8> = (0..len).map(|_| r.next() as u8).collect();
    let crc = crc32(&[head.as_bytes(), &payload]);
    let mut b = head.into_bytes();
    b.extend_from_slice(format!("{crc:08x}\n").as_bytes());
    b.extend_from_slice(&payload);
    b
}

/// What is wrong with a received body (a violation).
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("no header line")]
    NoHeader,
    #[error("header is not UTF-8")]
    HeaderNotUtf8,
    #[error("malformed header {0:?}")]
    Malformed(String),
    #[error("bad number in {0:?}")]
    BadNumber(String),
    #[error("bad kind in {0:?}")]
    BadKind(String),
    #[error("{id}: payload of {got} bytes, header says {said}")]
    Length { id: Id, got: usize, said: usize },
    #[error("{id}: CRC {crc:08x}, header says {said}")]
    Crc { id: Id, crc: u32, said: String },
}

/// The identity and round of an intact body, or what is wrong with it.
fn parse_body(b: &[u8]) -> Result<(Id, u64), BodyError> {
    let nl = b
        .iter()
        .position(|&c| c == b'\n')
        .ok_or(BodyError::NoHeader)?;
    let head = std::str::from_utf8(&b[..nl]).map_err(|_| BodyError::HeaderNotUtf8)?;
    let payload = &b[nl + 1..];
    let f: Vec<&str> = head.split(' ').collect();
    if f.len() != 7 || f[0] != MAGIC {
        return Err(BodyError::Malformed(head.to_string()));
    }
    let num = |s: &str| {
        s.parse::<u64>()
            .map_err(|_| BodyError::BadNumber(head.to_string()))
    };
    let id = Id {
        fifo: match f[1] {
            "f" => true,
            "s" => false,
            _ => return Err(BodyError::BadKind(head.to_string())),
        },
        stream: num(f[2])? as usize,
        seq: num(f[3])?,
    };
    let round = num(f[4])?;
    let len = num(f[5])? as usize;
    if payload.len() != len {
        return Err(BodyError::Length {
            id,
            got: payload.len(),
            said: len,
        });
    }
    let prefix_len = head.len() - f[6].len();
    let crc = crc32(&[&b[..prefix_len], payload]);
    if format!("{crc:08x}") != f[6] {
        return Err(BodyError::Crc {
            id,
            crc,
            said: f[6].to_string(),
        });
    }
    Ok((id, round))
}

// ----- what the client saw ------------------------------------------------------------------

const TRIED: u8 = 1; // a send was attempted
const ACKED: u8 = 2; // the daemon acknowledged the send
const SEEN: u8 = 4; // received at least once
const DEL_TRIED: u8 = 8; // a delete was attempted (the message may be gone)
const DEL_ACKED: u8 = 16; // the daemon acknowledged the delete (it must stay gone)
const DRAINED: u8 = 32; // received in the current verification drain

#[derive(Default)]
struct Stream {
    flags: Vec<u8>,
    /// FIFO: the highest sequence number among first deliveries.
    last_first: Option<u64>,
}

#[derive(Default, Clone, Copy)]
struct Counts {
    sends_tried: u64,
    sends_acked: u64,
    send_entry_errors: u64,
    deletes_acked: u64,
    delete_entry_errors: u64,
    released: u64,
    deliveries_checked: u64,
    drained: u64,
    drain_duplicates: u64,
    unacked_seen: u64,
    /// Drains after which the queue counts were off at first and then settled.
    count_lags: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.sends_tried += o.sends_tried;
        self.sends_acked += o.sends_acked;
        self.send_entry_errors += o.send_entry_errors;
        self.deletes_acked += o.deletes_acked;
        self.delete_entry_errors += o.delete_entry_errors;
        self.released += o.released;
        self.deliveries_checked += o.deliveries_checked;
        self.drained += o.drained;
        self.drain_duplicates += o.drain_duplicates;
        self.unacked_seen += o.unacked_seen;
        self.count_lags += o.count_lags;
    }
}

#[derive(Default)]
struct State {
    std: Vec<Stream>,
    fifo: Vec<Stream>,
    violations: Vec<String>,
    counts: Counts,
    round: u64,
}

impl State {
    fn stream(&mut self, fifo: bool, i: usize) -> Option<&mut Stream> {
        if fifo {
            self.fifo.get_mut(i)
        } else {
            self.std.get_mut(i)
        }
    }

    fn violation(&mut self, what: &str) {
        let round = self.round;
        if self.violations.len() < 1000 {
            self.violations.push(format!("round {round}: {what}"));
        }
    }

    /// Reserves `n` sequence numbers of a stream (marked tried).
    fn reserve(&mut self, fifo: bool, i: usize, n: usize) -> u64 {
        let s = self.stream(fifo, i).expect("stream exists");
        let base = s.flags.len() as u64;
        s.flags.extend(std::iter::repeat_n(TRIED, n));
        self.counts.sends_tried += n as u64;
        base
    }

    fn set(&mut self, id: Id, bit: u8) {
        if let Some(f) = self
            .stream(id.fifo, id.stream)
            .and_then(|s| s.flags.get_mut(id.seq as usize))
        {
            *f |= bit;
        }
    }

    fn clear(&mut self, id: Id, bit: u8) {
        if let Some(f) = self
            .stream(id.fifo, id.stream)
            .and_then(|s| s.flags.get_mut(id.seq as usize))
        {
            *f &= !bit;
        }
    }

    fn flags(&mut self, id: Id) -> u8 {
        self.stream(id.fifo, id.stream)
            .and_then(|s| s.flags.get(id.seq as usize).copied())
            .unwrap_or(0)
    }

    /// Checks one delivery from `queue`; returns its identity if it is ours and intact.
    fn check_delivery(&mut self, fifo: bool, m: &Message<'_>, drain: bool) -> Option<Id> {
        self.counts.deliveries_checked += 1;
        let queue = if fifo { FIFO_QUEUE.as_str() } else { STD_QUEUE };
        let (id, _round) = match parse_body(&m.body) {
            Ok(v) => v,
            Err(e) => {
                let shown = String::from_utf8_lossy(&m.body[..m.body.len().min(80)]).to_string();
                self.violation(&format!(
                    "corrupt body from {queue}: {e} (starts {shown:?})"
                ));
                return None;
            }
        };
        if id.fifo != fifo {
            self.violation(&format!("{id} received from the wrong queue {queue}"));
            return None;
        }
        if fifo && m.group_id.as_deref() != Some(group_name(id.stream).as_str()) {
            self.violation(&format!(
                "{id} received with group id {:?}",
                m.group_id.as_deref()
            ));
        }
        let f = self.flags(id);
        if f & TRIED == 0 {
            self.violation(&format!("{id} received but never sent"));
            return None;
        }
        if f & DEL_ACKED != 0 {
            self.violation(&format!(
                "{id}: its delete was acknowledged, yet it was received again (receive count {})",
                m.receive_count
            ));
        }
        if f & ACKED == 0 && f & SEEN == 0 {
            self.counts.unacked_seen += 1;
        }
        if fifo && f & SEEN == 0 {
            let s = self.stream(true, id.stream).expect("checked above");
            let last = s.last_first;
            s.last_first = Some(id.seq.max(last.unwrap_or(0)));
            if let Some(last) = last {
                if id.seq <= last {
                    self.violation(&format!(
                        "FIFO order: group {} delivered seq {} for the first time after seq {last}",
                        id.stream, id.seq
                    ));
                }
            }
        }
        if drain {
            if f & DRAINED != 0 {
                self.counts.drain_duplicates += 1;
            } else {
                self.counts.drained += 1;
            }
            self.set(id, DRAINED);
        }
        self.set(id, SEEN);
        Some(id)
    }
}

fn group_name(g: usize) -> String {
    format!("g{g}")
}

type Shared = Arc<Mutex<State>>;

// ----- the daemon ---------------------------------------------------------------------------

struct DaemonCfg {
    spoold: PathBuf,
    data: PathBuf,
    log: PathBuf,
    shards: u32,
    segment_mib: u32,
}

/// Why a daemon lifetime did not start, or did not stop when asked.
#[derive(Debug, thiserror::Error)]
enum DaemonError {
    #[error("open {}: {source}", .path.display())]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start {}: {source}", .path.display())]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("spoold did not print `listening` within {STARTUP_TIMEOUT:?}")]
    NotListening,
    #[error(
        "spoold exited during start-up ({})",
        .0.map(|s| s.to_string()).unwrap_or_default()
    )]
    ExitedDuringStartup(Option<std::process::ExitStatus>),
    #[error(transparent)]
    Wait(std::io::Error),
    #[error("spoold did not exit within 30 s of SIGTERM")]
    NoExitOnSigterm,
}

struct Daemon {
    child: Child,
    lines: mpsc::Receiver<String>,
    spawned: Instant,
    log_from: u64,
    addr: Option<String>,
}

impl Daemon {
    /// Starts spoold; `rng` picks the I/O settings of this lifetime (the flusher, O_DIRECT,
    /// reads from retained batches or from the mmap), so the loop covers each path.
    fn spawn(cfg: &DaemonCfg, life: u64, round: u64, rng: &mut Rng) -> Result<Daemon, DaemonError> {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cfg.log)
            .map_err(|source| DaemonError::Log {
                path: cfg.log.clone(),
                source,
            })?;
        let flusher = if rng.chance(50) { "uring" } else { "pwrite" };
        let direct = if rng.chance(50) { "true" } else { "false" };
        let retain = if rng.chance(50) { "0" } else { "4096" };
        let log_from = log.seek(SeekFrom::End(0)).unwrap_or(0);
        let _ = writeln!(
            log,
            "===== spool-crashloop: life {life} (round {round}): --flusher {flusher} --direct-io {direct} --retain-kib {retain}"
        );
        let mut child = Command::new(&cfg.spoold)
            .arg("--data-dir")
            .arg(&cfg.data)
            .args(["--listen", "127.0.0.1:0", "--sqs-listen", "off"])
            .args(["--admin-listen", "off", "--durability", "sync"])
            .args(["--shards", &cfg.shards.to_string()])
            .args(["--segment-mib", &cfg.segment_mib.to_string()])
            .args(["--flusher", flusher, "--direct-io", direct])
            .args(["--retain-kib", retain, "--log", "info"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|source| DaemonError::Spawn {
                path: cfg.spoold.clone(),
                source,
            })?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line.trim_end().to_string()).is_err() {
                            // Nobody listens: keep draining so the daemon never blocks.
                            let _ = r.read_to_end(&mut Vec::new());
                            break;
                        }
                    }
                }
            }
        });
        Ok(Daemon {
            child,
            lines: rx,
            spawned: Instant::now(),
            log_from,
            addr: None,
        })
    }

    /// Takes the stdout lines printed so far; true once `listening` was among them.
    fn poll_listening(&mut self) -> bool {
        while let Ok(l) = self.lines.try_recv() {
            if let Some(a) = l.strip_prefix("listening ") {
                self.addr = Some(a.trim().to_string());
            }
        }
        self.addr.is_some()
    }

    /// Waits (bounded) for `listening <addr>`.
    fn wait_listening(&mut self) -> Result<String, DaemonError> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while self.addr.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    if let Some(a) = l.strip_prefix("listening ") {
                        self.addr = Some(a.trim().to_string());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => return Err(DaemonError::NotListening),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(DaemonError::ExitedDuringStartup(self.child.wait().ok()));
                }
            }
        }
        Ok(self.addr.clone().expect("set"))
    }

    /// None while it runs; its exit status once it exited on its own.
    fn exited(&mut self) -> Option<String> {
        self.child.try_wait().ok().flatten().map(|s| s.to_string())
    }

    /// SIGKILL (std's `Child::kill`), then reap it.
    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait (bounded) for its exit code.
    fn terminate(&mut self) -> Result<Option<i32>, DaemonError> {
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet (so
        // the pid cannot have been reused); no memory is involved.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().map_err(DaemonError::Wait)? {
                return Ok(st.code());
            }
            if Instant::now() > deadline {
                self.kill9();
                return Err(DaemonError::NoExitOnSigterm);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What this lifetime wrote to the log.
    fn log_text(&self, cfg: &DaemonCfg) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(&cfg.log) {
            let _ = f.seek(SeekFrom::Start(self.log_from));
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// What start-up logged: errors, torn tails repaired, moves (here: compaction copies)
/// finished by recovery.
#[derive(Default, Clone, Copy)]
struct LifeLog {
    repaired: u64,
    moves_finished: u64,
}

fn read_life_log(text: &str, state: &Shared) -> LifeLog {
    let mut out = LifeLog::default();
    for l in text.lines() {
        if l.contains("recovery repaired") {
            out.repaired += 1;
        }
        if l.contains("recovered") {
            if let Some(v) = l.split("moves_finished=").nth(1) {
                let n: String = v.chars().take_while(char::is_ascii_digit).collect();
                out.moves_finished += n.parse::<u64>().unwrap_or(0);
            }
        }
        if l.contains(" ERROR ") || l.contains("panicked") {
            state
                .lock()
                .unwrap()
                .violation(&format!("spoold logged: {l}"));
        }
    }
    out
}

// ----- load ---------------------------------------------------------------------------------

fn connect(addr: &str) -> Option<Connection> {
    Connection::connect(&ClientConfig {
        addr: addr.to_string(),
        connect_timeout: Duration::from_secs(5),
        io_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    })
    .ok()
}

// A thread body: it owns what its thread uses.
#[allow(clippy::needless_pass_by_value)]
fn std_producer(addr: String, state: Shared, stop: Arc<AtomicBool>, p: usize, mut rng: Rng) {
    let Some(mut c) = connect(&addr) else { return };
    while !stop.load(Ordering::Relaxed) {
        let n = 5 + rng.below(26) as usize;
        let (base, round) = {
            let mut s = state.lock().unwrap();
            (s.reserve(false, p, n), s.round)
        };
        let ids: Vec<Id> = (0..n as u64)
            .map(|k| Id {
                fifo: false,
                stream: p,
                seq: base + k,
            })
            .collect();
        let bodies: Vec<Vec<u8>> = ids
            .iter()
            .map(|&id| make_body(id, round, 16 + rng.below(3000) as usize))
            .collect();
        let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
        let Ok(res) = c.send_bodies(STD_QUEUE, &refs) else {
            return;
        };
        let mut s = state.lock().unwrap();
        for (id, r) in ids.into_iter().zip(res) {
            if r.is_ok() {
                s.set(id, ACKED);
                s.counts.sends_acked += 1;
            } else {
                s.counts.send_entry_errors += 1;
            }
        }
    }
}

// A thread body: it owns what its thread uses.
#[allow(clippy::needless_pass_by_value)]
fn fifo_producer(addr: String, state: Shared, stop: Arc<AtomicBool>, mut rng: Rng) {
    let Some(mut c) = connect(&addr) else { return };
    while !stop.load(Ordering::Relaxed) {
        let n = 1 + rng.below(10) as usize;
        let mut ids = Vec::with_capacity(n);
        let round = {
            let mut s = state.lock().unwrap();
            for _ in 0..n {
                let g = rng.below(FIFO_GROUPS as u64) as usize;
                ids.push(Id {
                    fifo: true,
                    stream: g,
                    seq: s.reserve(true, g, 1),
                });
            }
            s.round
        };
        let bodies: Vec<Vec<u8>> = ids
            .iter()
            .map(|&id| make_body(id, round, 16 + rng.below(2000) as usize))
            .collect();
        let entries: Vec<SendEntry<'_>> = ids
            .iter()
            .zip(&bodies)
            .map(|(id, b)| SendEntry {
                body: b.as_slice().into(),
                group_id: Some(group_name(id.stream).into()),
                dedup_id: Some(format!("{}-{}", id.stream, id.seq).into()),
                ..Default::default()
            })
            .collect();
        let Ok(res) = c.send(&FIFO_QUEUE, &entries) else {
            return;
        };
        let mut s = state.lock().unwrap();
        for (id, r) in ids.into_iter().zip(res) {
            if r.is_ok() {
                s.set(id, ACKED);
                s.counts.sends_acked += 1;
            } else {
                s.counts.send_entry_errors += 1;
            }
        }
    }
}

/// Deletes `items` (marked tried first, acknowledged after); false if the connection failed.
fn delete_all(c: &mut Connection, state: &Shared, fifo: bool, items: &[(Id, Vec<u8>)]) -> bool {
    if items.is_empty() {
        return true;
    }
    let queue = if fifo { FIFO_QUEUE.as_str() } else { STD_QUEUE };
    {
        let mut s = state.lock().unwrap();
        for (id, _) in items {
            s.set(*id, DEL_TRIED);
        }
    }
    let handles: Vec<&[u8]> = items.iter().map(|(_, h)| h.as_slice()).collect();
    let Ok(res) = c.delete(queue, &handles) else {
        return false;
    };
    let mut s = state.lock().unwrap();
    for ((id, _), r) in items.iter().zip(res) {
        match r {
            Ok(()) => {
                s.set(*id, DEL_ACKED);
                s.counts.deletes_acked += 1;
            }
            Err(_) => {
                // Refused: nothing was deleted.
                s.clear(*id, DEL_TRIED);
                s.counts.delete_entry_errors += 1;
            }
        }
    }
    true
}

/// Makes `items` visible again at once (ChangeMessageVisibility 0).
fn release_all(c: &mut Connection, state: &Shared, fifo: bool, items: &[(Id, Vec<u8>)]) -> bool {
    if items.is_empty() {
        return true;
    }
    let queue = if fifo { FIFO_QUEUE.as_str() } else { STD_QUEUE };
    let entries: Vec<(&[u8], u32)> = items.iter().map(|(_, h)| (h.as_slice(), 0)).collect();
    let ok = c.change_visibility(queue, &entries).is_ok();
    if ok {
        state.lock().unwrap().counts.released += items.len() as u64;
    }
    ok
}

/// Receives and checks; deletes most, releases some, leaves some in flight (standard).
// A thread body: it owns what its thread uses.
#[allow(clippy::needless_pass_by_value)]
fn consumer(addr: String, state: Shared, stop: Arc<AtomicBool>, fifo: bool, mut rng: Rng) {
    let Some(mut c) = connect(&addr) else { return };
    let queue = if fifo { FIFO_QUEUE.as_str() } else { STD_QUEUE };
    while !stop.load(Ordering::Relaxed) {
        let opts = ReceiveOptions {
            max_messages: if fifo { 10 } else { 1 + rng.below(50) as u32 },
            wait_time_ms: 100,
            ..Default::default()
        };
        let Ok(ms) = c.receive(queue, &opts) else {
            return;
        };
        let (mut del, mut rel) = (Vec::new(), Vec::new());
        {
            let mut s = state.lock().unwrap();
            for m in &ms {
                let Some(id) = s.check_delivery(fifo, m, false) else {
                    continue;
                };
                let h = m.receipt_handle.to_vec();
                match rng.below(10) {
                    0 => rel.push((id, h)),
                    1 if !fifo => {} // left in flight: the restart must bring it back
                    _ => del.push((id, h)),
                }
            }
        }
        if !delete_all(&mut c, &state, fifo, &del) || !release_all(&mut c, &state, fifo, &rel) {
            return;
        }
    }
}

// ----- verification -------------------------------------------------------------------------

/// Why a drain stopped before it finished (what it found wrong are violations).
#[derive(Debug, thiserror::Error)]
enum DrainError {
    #[error("cannot connect to the restarted daemon")]
    Connect,
    #[error("draining {queue} took over {DRAIN_TIMEOUT:?}")]
    Timeout { queue: &'static str },
    #[error("drain receive: {0}")]
    Receive(ClientError),
    /// `what` is `delete` or `release`.
    #[error("drain {what} failed")]
    Ack { what: &'static str },
    #[error("get attributes of {queue}: {source}")]
    Attributes {
        queue: &'static str,
        source: ClientError,
    },
}

/// Drains both queues on a freshly started daemon and checks that every acknowledged,
/// never-deleted send came back. The standard queue keeps a random 30 % (released again).
fn drain_and_verify(addr: &str, state: &Shared, rng: &mut Rng) -> Result<(), DrainError> {
    let mut c = connect(addr).ok_or(DrainError::Connect)?;
    {
        let mut guard = state.lock().unwrap();
        let s = &mut *guard;
        for st in s.std.iter_mut().chain(s.fifo.iter_mut()) {
            for f in &mut st.flags {
                *f &= !DRAINED;
            }
        }
    }
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    // Standard: receive everything (it stays in flight for an hour), then check.
    let mut held: Vec<(Id, Vec<u8>)> = Vec::new();
    let mut empties = 0;
    while empties < 2 {
        if Instant::now() > deadline {
            return Err(DrainError::Timeout { queue: STD_QUEUE });
        }
        let opts = ReceiveOptions {
            max_messages: 1000,
            wait_time_ms: 200,
            ..Default::default()
        };
        let ms = c.receive(STD_QUEUE, &opts).map_err(DrainError::Receive)?;
        if ms.is_empty() {
            empties += 1;
            continue;
        }
        empties = 0;
        let mut s = state.lock().unwrap();
        for m in &ms {
            if let Some(id) = s.check_delivery(false, m, true) {
                held.push((id, m.receipt_handle.to_vec()));
            }
        }
    }
    // FIFO: receive in group order, deleting as we go.
    empties = 0;
    while empties < 2 {
        if Instant::now() > deadline {
            return Err(DrainError::Timeout {
                queue: FIFO_QUEUE.as_str(),
            });
        }
        let opts = ReceiveOptions {
            max_messages: 10,
            wait_time_ms: 200,
            ..Default::default()
        };
        let ms = c.receive(&FIFO_QUEUE, &opts).map_err(DrainError::Receive)?;
        if ms.is_empty() {
            empties += 1;
            continue;
        }
        empties = 0;
        let mut del = Vec::new();
        {
            let mut s = state.lock().unwrap();
            for m in &ms {
                if let Some(id) = s.check_delivery(true, m, true) {
                    del.push((id, m.receipt_handle.to_vec()));
                }
            }
        }
        if !delete_all(&mut c, state, true, &del) {
            return Err(DrainError::Ack { what: "delete" });
        }
    }
    // Every acknowledged send whose delete was never attempted must have come back.
    {
        let mut s = state.lock().unwrap();
        let mut missing = Vec::new();
        for (fifo, streams) in [(false, &s.std), (true, &s.fifo)] {
            for (i, st) in streams.iter().enumerate() {
                for (seq, &f) in st.flags.iter().enumerate() {
                    if f & ACKED != 0 && f & (DEL_TRIED | DEL_ACKED | DRAINED) == 0 {
                        missing.push(Id {
                            fifo,
                            stream: i,
                            seq: seq as u64,
                        });
                    }
                }
            }
        }
        if !missing.is_empty() {
            let shown: Vec<String> = missing.iter().take(10).map(Id::to_string).collect();
            s.violation(&format!(
                "{} acknowledged messages lost, e.g. {}",
                missing.len(),
                shown.join(", ")
            ));
        }
    }
    // Keep a random 30 % of the standard queue as a backlog: sparse segments to copy.
    let (mut del, mut rel) = (Vec::new(), Vec::new());
    for item in held {
        if rng.chance(70) {
            del.push(item);
        } else {
            rel.push(item);
        }
    }
    for chunk in del.chunks(1000) {
        if !delete_all(&mut c, state, false, chunk) {
            return Err(DrainError::Ack { what: "delete" });
        }
    }
    for chunk in rel.chunks(1000) {
        if !release_all(&mut c, state, false, chunk) {
            return Err(DrainError::Ack { what: "release" });
        }
    }
    // Nothing else runs now: the queues' counts must settle on the exact numbers. (They
    // may lag for a moment: a message being copied forward by compaction leaves the
    // visible count when its copy is staged and comes back when the copy is committed.)
    for (queue, visible) in [(STD_QUEUE, rel.len()), (FIFO_QUEUE.as_str(), 0)] {
        let names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ];
        let want = [visible.to_string(), "0".into(), "0".into()];
        let mut first: Option<Vec<String>> = None;
        let settle = Instant::now() + Duration::from_secs(3);
        loop {
            let a = c
                .get_queue_attributes(queue, &names)
                .map_err(|source| DrainError::Attributes { queue, source })?;
            let got: Vec<String> = names
                .iter()
                .map(|n| a.get(*n).cloned().unwrap_or_else(|| "?".into()))
                .collect();
            if got == want {
                if first.is_some() {
                    state.lock().unwrap().counts.count_lags += 1;
                }
                break;
            }
            let first = first.get_or_insert(got.clone());
            if Instant::now() > settle {
                state.lock().unwrap().violation(&format!(
                    "{queue} after the drain: visible/in flight/delayed {got:?} (first {first:?}), expected {want:?}"
                ));
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

// ----- the data directory -------------------------------------------------------------------

/// Every segment log file under `dir`.
fn segment_files(dir: &Path, out: &mut HashSet<PathBuf>, depth: u32) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() && depth > 0 => segment_files(&p, out, depth - 1),
            Ok(t) if t.is_file() && p.extension().is_some_and(|x| x == "log") => {
                out.insert(p);
            }
            _ => {}
        }
    }
}

// ----- the loop -----------------------------------------------------------------------------

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
    let mut rng = Rng(seed);
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
