//! Starting a real `spoold` for a test: its own data directory and a free port, stdout
//! read until the `listening` line, stderr kept for failure messages, killed on drop.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Spoold {
    pub child: Option<Child>,
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>` of the SQS API.
    pub sqs_url: Option<String>,
    /// `http://127.0.0.1:<port>` of the admin endpoint.
    pub admin_url: Option<String>,
    pub data: PathBuf,
    stderr_log: PathBuf,
}

impl Spoold {
    /// Starts spoold on 127.0.0.1:0 (binary protocol, SQS API and admin endpoint, each on
    /// a free port unless `args` set it) with data in `data` and the extra `args`.
    pub fn start(data: &Path, args: &[&str]) -> Spoold {
        let stderr_log = data.with_extension("stderr.log");
        let err = std::fs::File::create(&stderr_log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spoold"));
        cmd.arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data);
        for flag in ["--sqs-listen", "--admin-listen"] {
            if !args.contains(&flag) {
                cmd.args([flag, "127.0.0.1:0"]);
            }
        }
        let mut child = cmd
            .args(args)
            .env("SPOOL_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err))
            .spawn()
            .expect("start spoold");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Every line up to and including `listening`.
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
            // Keep draining so the daemon never blocks on a full pipe.
            let mut sink = Vec::new();
            let _ = r.read_to_end(&mut sink);
        });
        let out = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        let field = |prefix: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .map(str::to_string)
        };
        let line = out.clone();
        let Some(addr) = field("listening ") else {
            let _ = child.kill();
            let log = std::fs::read_to_string(&stderr_log).unwrap_or_default();
            panic!("spoold did not start: stdout {line:?}\nstderr:\n{log}");
        };
        Spoold {
            addr: addr.parse().unwrap(),
            sqs_url: field("sqs "),
            admin_url: field("admin "),
            child: Some(child),
            data: data.to_path_buf(),
            stderr_log,
        }
    }

    pub fn addr_string(&self) -> String {
        self.addr.to_string()
    }

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

    /// SIGTERM, then wait (bounded) for a clean exit; returns the exit status code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        sigterm(c.id());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st.code();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "spoold did not exit within 30 s of SIGTERM:\n{}",
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
