//! CI's run of the crash loop (issue 6): `spool-crashloop` for `SPOOL_CRASHLOOP_ROUNDS`
//! rounds (default 20) of short load against the workspace's own `spoold`, each ending in
//! a SIGKILL (some on a segment removal, some again during recovery), a restart and a full
//! check (see `src/bin/spool-crashloop.rs`). Passes only if the tool exits 0 with no
//! violation; bounded by the tool's own deadlines and a 10-minute cap here.
//!
//! `spoold` is built (or found up to date) with `cargo build --profile test`, the profile
//! `cargo test` itself uses, so under `cargo test --workspace` this is a no-op and under
//! `cargo test -p spool-bench` it builds the daemon of this checkout rather than using a
//! stale one. `SPOOL_CRASHLOOP_SEED` reruns a given seed.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Builds spoold in the test profile and returns the executable's path.
fn spoold() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--profile",
            "test",
            "-p",
            "spool-server",
            "--bin",
            "spoold",
            "--message-format",
            "json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(out.status.success(), "cargo build of spoold failed");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"]["name"] == "spoold")
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported spoold's executable")
}

#[test]
fn crash_loop_loses_nothing_acknowledged() {
    let rounds = std::env::var("SPOOL_CRASHLOOP_ROUNDS").unwrap_or_else(|_| "20".into());
    let spoold = spoold();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spool-crashloop"));
    cmd.arg("--spoold")
        .arg(&spoold)
        .arg("--data-dir")
        .arg(dir.path().join("run"))
        .args(["--rounds", &rounds, "--duration-per-round", "600ms"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Ok(seed) = std::env::var("SPOOL_CRASHLOOP_SEED") {
        cmd.args(["--seed", &seed]);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().expect("start spool-crashloop");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let limit = Duration::from_secs(600);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out_t.join().unwrap(), err_t.join().unwrap());
    eprintln!("{out}{err}");
    eprintln!("crash loop took {:.1} s", started.elapsed().as_secs_f64());
    let status = status.unwrap_or_else(|| panic!("spool-crashloop ran over {limit:?}"));
    assert!(status.success(), "spool-crashloop failed ({status})");
    assert!(
        out.contains(&format!("rounds {rounds},")) && out.contains("violations 0"),
        "spool-crashloop did not report {rounds} clean rounds"
    );
}
