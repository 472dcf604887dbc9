//! A real `spoold` for a test: its own data directory and free ports, stdout read until
//! the `listening` line (the addresses printed before it kept), stderr kept in a file for
//! failure messages, killed on drop.
//!
//! The binary is the `spoold` cargo built next to the test binary (`target/<profile>/`):
//! spool-server's own tests always have it; other crates' tests (the client's CLI test)
//! need it built first, and fail saying so if it is missing.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long `spoold` may take to print `listening` before the start counts as failed.
pub const STARTUP_TIMEOUT: Duration = Duration::from_mins(1);

/// How long [`Spoold::terminate`] waits for a clean exit after SIGTERM.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `spoold`, killed (SIGKILL) on drop.
#[derive(Debug)]
pub struct Spoold {
    child: Option<Child>,
    /// The binary protocol's address.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>` of the SQS API (`None` if it is off).
    pub sqs_url: Option<String>,
    /// `http://127.0.0.1:<port>` of the admin endpoint (`None` if it is off).
    pub admin_url: Option<String>,
    /// The data directory.
    pub data: PathBuf,
    stderr_log: PathBuf,
    /// The temporary directory holding `data`, when the kit made it.
    _dir: Option<tempfile::TempDir>,
}

/// How to start a [`Spoold`]: [`Spoold::builder`], then [`SpooldBuilder::start`].
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until `start`"]
pub struct SpooldBuilder {
    exe: Option<PathBuf>,
    data: Option<PathBuf>,
    args: Vec<String>,
    env: Vec<(OsString, OsString)>,
}

impl SpooldBuilder {
    /// Data in `data` (its stderr goes to `data` with the extension `stderr.log`, beside
    /// it). Without this, the data lives in a temporary directory removed on drop.
    pub fn data(mut self, data: &Path) -> Self {
        self.data = Some(data.to_path_buf());
        self
    }

    /// More command-line flags (they may set `--sqs-listen` or `--admin-listen`, e.g. to
    /// `off`; `--listen` and `--data-dir` are the kit's).
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args
            .extend(args.iter().map(std::string::ToString::to_string));
        self
    }

    /// An environment variable for the daemon only (unlike `std::env::set_var`, this
    /// cannot leak into a daemon another test starts at the same moment).
    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Another `spoold` binary than the one next to the test binary.
    pub fn exe(mut self, exe: &Path) -> Self {
        self.exe = Some(exe.to_path_buf());
        self
    }

    /// Starts it on 127.0.0.1:0 (binary protocol, SQS API and admin endpoint, each on a
    /// free port unless the flags set it), logging at `info`, and waits until it prints
    /// `listening`. Panics, with its stdout and stderr, if it does not within
    /// [`STARTUP_TIMEOUT`].
    pub fn start(self) -> Spoold {
        let exe = self.exe.unwrap_or_else(spoold_next_to_this_test);
        let (dir, data) = match self.data {
            Some(d) => (None, d),
            None => {
                let dir = tempfile::tempdir().unwrap();
                let data = dir.path().join("data");
                (Some(dir), data)
            }
        };
        let stderr_log = data.with_extension("stderr.log");
        let err = std::fs::File::create(&stderr_log).unwrap();
        let mut cmd = Command::new(&exe);
        cmd.arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data);
        for flag in ["--sqs-listen", "--admin-listen"] {
            if !self.args.iter().any(|a| a == flag) {
                cmd.args([flag, "127.0.0.1:0"]);
            }
        }
        let mut child = cmd
            .args(&self.args)
            .env("SPOOL_LOG", "info")
            .envs(self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", exe.display()));
        let out = startup_lines(&mut child);
        let field = |prefix: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .map(str::to_string)
        };
        let Some(addr) = field("listening ") else {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&stderr_log).unwrap_or_default();
            panic!("spoold did not start: stdout {out:?}\nstderr:\n{log}");
        };
        Spoold {
            addr: addr.parse().unwrap(),
            sqs_url: field("sqs "),
            admin_url: field("admin "),
            child: Some(child),
            data,
            stderr_log,
            _dir: dir,
        }
    }
}

/// The lines `child` prints up to and including `listening` (all of them if it exits
/// before; whatever came if [`STARTUP_TIMEOUT`] passes). Its stdout is drained for the
/// rest of its life, so it never blocks on a full pipe.
fn startup_lines(child: &mut Child) -> String {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut lines = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            lines.push_str(&line);
            if line.starts_with("listening ") {
                break;
            }
        }
        let _ = tx.send(lines);
        let mut sink = Vec::new();
        let _ = r.read_to_end(&mut sink);
    });
    rx.recv_timeout(STARTUP_TIMEOUT).unwrap_or_default()
}

/// `target/<profile>/spoold`: the test binary runs from `target/<profile>/deps/`.
fn spoold_next_to_this_test() -> PathBuf {
    let me = std::env::current_exe().unwrap();
    let mut dir = me.parent().unwrap();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().unwrap();
    }
    let exe = dir.join("spoold");
    assert!(
        exe.exists(),
        "{} is missing: build it first (cargo build -p spool-server)",
        exe.display()
    );
    exe
}

impl Spoold {
    /// How to start one: data directory, flags, environment.
    pub fn builder() -> SpooldBuilder {
        SpooldBuilder::default()
    }

    /// Starts one with data in `data` and the extra flags `args` (see
    /// [`SpooldBuilder::start`]).
    pub fn start(data: &Path, args: &[&str]) -> Spoold {
        Spoold::builder().data(data).args(args).start()
    }

    /// The binary protocol's address, as `host:port`.
    pub fn addr_string(&self) -> String {
        self.addr.to_string()
    }

    /// Its process id. Panics once it was killed or terminated.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("spoold is running").id()
    }

    /// Everything it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then wait (bounded) for a clean exit; returns the exit status code
    /// (`None` if it was already stopped, or died of a signal). Panics, with its stderr,
    /// if it does not exit within 30 s.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        sigterm(c.id());
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st.code();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "spoold did not exit within {EXIT_TIMEOUT:?} of SIGTERM:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// std can only SIGKILL a child; the `kill` command sends SIGTERM.
fn sigterm(pid: u32) {
    let st = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(st.success());
}

impl Drop for Spoold {
    fn drop(&mut self) {
        self.kill9();
    }
}
