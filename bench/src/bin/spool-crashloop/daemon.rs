//! One `spoold` lifetime: starting it (with I/O settings picked per lifetime), waiting for
//! `listening`, SIGKILL and SIGTERM, and reading what the lifetime logged (errors are
//! violations). Also the look at the data directory's segment files.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::body::Rng;
use crate::ledger::Shared;
use crate::STARTUP_TIMEOUT;

pub(crate) struct DaemonCfg {
    pub(crate) spoold: PathBuf,
    pub(crate) data: PathBuf,
    pub(crate) log: PathBuf,
    pub(crate) shards: u32,
    pub(crate) segment_mib: u32,
}

/// Why a daemon lifetime did not start, or did not stop when asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DaemonError {
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

pub(crate) struct Daemon {
    pub(crate) child: Child,
    pub(crate) lines: mpsc::Receiver<String>,
    pub(crate) spawned: Instant,
    pub(crate) log_from: u64,
    pub(crate) addr: Option<String>,
}

impl Daemon {
    /// Starts spoold; `rng` picks the I/O settings of this lifetime (the flusher, O_DIRECT,
    /// reads from retained batches or from the mmap), so the loop covers each path.
    pub(crate) fn spawn(
        cfg: &DaemonCfg,
        life: u64,
        round: u64,
        rng: &mut Rng,
    ) -> Result<Daemon, DaemonError> {
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
    pub(crate) fn poll_listening(&mut self) -> bool {
        while let Ok(l) = self.lines.try_recv() {
            if let Some(a) = l.strip_prefix("listening ") {
                self.addr = Some(a.trim().to_string());
            }
        }
        self.addr.is_some()
    }

    /// Waits (bounded) for `listening <addr>`.
    pub(crate) fn wait_listening(&mut self) -> Result<String, DaemonError> {
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
    pub(crate) fn exited(&mut self) -> Option<String> {
        self.child.try_wait().ok().flatten().map(|s| s.to_string())
    }

    /// SIGKILL (std's `Child::kill`), then reap it.
    pub(crate) fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait (bounded) for its exit code.
    pub(crate) fn terminate(&mut self) -> Result<Option<i32>, DaemonError> {
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
    pub(crate) fn log_text(&self, cfg: &DaemonCfg) -> String {
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
pub(crate) struct LifeLog {
    pub(crate) repaired: u64,
    pub(crate) moves_finished: u64,
}

pub(crate) fn read_life_log(text: &str, state: &Shared) -> LifeLog {
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

/// Every segment log file under `dir`.
pub(crate) fn segment_files(dir: &Path, out: &mut HashSet<PathBuf>, depth: u32) {
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
