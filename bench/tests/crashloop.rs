//! CI's run of the crash loop (issue 6): `spool-crashloop` for `SPOOL_CRASHLOOP_ROUNDS`
//! rounds (default 20) of short load against the workspace's own `spoold`, each ending in
//! a SIGKILL (some on a segment removal, some again during recovery), a restart and a full
//! check (see `src/bin/spool-crashloop/`). Passes only if the tool exits 0 with no
//! violation; bounded by the tool's own deadlines and a 10-minute cap here.
//!
//! The daemon is the `spoold` of this checkout in the same profile directory: under `cargo
//! test --workspace` the one cargo just built; built here only if it is missing or stale
//! (see [`spoold`]). `SPOOL_CRASHLOOP_SEED` reruns a given seed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// The newest modification time of a file under `dir`.
fn newest(dir: &Path) -> SystemTime {
    let mut t = SystemTime::UNIX_EPOCH;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            let m = if p.is_dir() {
                newest(&p)
            } else {
                e.metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH)
            };
            t = t.max(m);
        }
    }
    t
}

/// The `spoold` next to `spool-crashloop` in this profile's directory. `cargo test
/// --workspace` has just built it (spool-server's own tests need it), so it is used as it
/// is. Only when it is missing or older than the sources it is built from (e.g. under
/// `cargo test -p spool-bench`) is it built here, with the features spool-server's tests
/// give it, so the result serves those tests as well.
fn spoold() -> PathBuf {
    let me = PathBuf::from(env!("CARGO_BIN_EXE_spool-crashloop"));
    let path = me.with_file_name("spoold");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    let sources = ["engine/src", "server/src", "protocol/src"]
        .iter()
        .map(|d| newest(&root.join(d)))
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    if built.is_some_and(|b| b >= sources) {
        return path;
    }
    let release = me
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|n| n == "release");
    let profile = if release { "release" } else { "test" };
    eprintln!(
        "building {} (missing or older than its sources)",
        path.display()
    );
    let st = Command::new(env!("CARGO"))
        .args(["build", "--profile", profile, "-p", "spool-server"])
        .args(["--features", "fault-injection", "--bin", "spoold"])
        .current_dir(&root)
        .status()
        .expect("run cargo build");
    assert!(st.success(), "cargo build of spoold failed");
    path
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
    let limit = Duration::from_mins(10);
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
