//! spoold under disk faults, over real sockets.
//!
//! * `injected_write_and_fsync_errors`: spoold built with fault injection (this crate's
//!   tests enable the `fault-injection` feature) and `SPOOL_FAULT_FILE` set; the test
//!   arms ENOSPC on writes, a single EIO on fdatasync, and EIO on every fdatasync, in
//!   turn. While a fault is armed no send is acknowledged (each gets `OutOfSpace` or
//!   `StorageError`; over the SQS API a 503/500 AWS-shaped error); when it clears, sends
//!   succeed again; at the end (and after a restart) exactly the acknowledged messages
//!   are there.
//! * `disk_full_on_a_small_tmpfs`: if this process may mount (root, CAP_SYS_ADMIN), spoold
//!   runs with its data on a 16 MiB tmpfs holding a filler file, is filled with sends
//!   until it answers `OutOfSpace`, every acknowledged message is then received, the
//!   filler is removed, and sends succeed again. Without mount permission it says so and
//!   passes (the injected ENOSPC test above still runs).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use spool_client::{ClientConfig, Connection, ReceiveOptions};
use spool_protocol::ErrorCode;
use spool_testkit::{Spoold, Tmpfs};

/// spoold with `SPOOL_FAULT_FILE` set to `fault_file` (in its environment only: a daemon
/// another test starts at the same moment does not inherit this test's fault plan).
fn start_with_faults(data: &Path, fault_file: &Path, args: &[&str]) -> Spoold {
    Spoold::builder()
        .data(data)
        .args(args)
        .env("SPOOL_FAULT_FILE", fault_file)
        .start()
}

fn connect(d: &Spoold) -> Connection {
    Connection::connect(&ClientConfig {
        addr: d.addr_string(),
        io_timeout: Some(Duration::from_secs(20)),
        ..Default::default()
    })
    .unwrap()
}

/// Sends `bodies` as one batch; returns the bodies acknowledged and the error codes of
/// the others.
fn send(c: &mut Connection, q: &str, bodies: &[String]) -> (Vec<String>, Vec<ErrorCode>) {
    let refs: Vec<&[u8]> = bodies.iter().map(std::string::String::as_bytes).collect();
    match c.send_bodies(q, &refs) {
        Ok(results) => {
            let mut ok = Vec::new();
            let mut errs = Vec::new();
            for (b, r) in bodies.iter().zip(results) {
                match r {
                    Ok(_) => ok.push(b.clone()),
                    Err(e) => errs.push(e.code),
                }
            }
            (ok, errs)
        }
        Err(e) => (
            Vec::new(),
            vec![e.code().unwrap_or(ErrorCode::InternalError); bodies.len()],
        ),
    }
}

/// Receives everything visible (long visibility timeout) as bodies; panics on duplicates.
fn drain(c: &mut Connection, q: &str) -> BTreeSet<String> {
    drain_for(c, q, 3600)
}

/// [`drain`], leaving what it received in flight for `visibility_s`.
fn drain_for(c: &mut Connection, q: &str, visibility_s: u32) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "drain did not finish");
        let got = c
            .receive(
                q,
                &ReceiveOptions {
                    max_messages: 100,
                    visibility_timeout_s: Some(visibility_s),
                    ..Default::default()
                },
            )
            .unwrap();
        if got.is_empty() {
            return out;
        }
        for m in got {
            let b = String::from_utf8(m.body.to_vec()).unwrap();
            assert!(out.insert(b), "a message was delivered twice");
        }
    }
}

/// One SQS JSON SendMessage over a raw socket: (status, body).
fn sqs_send(d: &Spoold, q: &str, body: &str) -> (u16, String) {
    let base = d.sqs_url.as_deref().unwrap();
    let hostport = base.trim_start_matches("http://");
    let json = format!(r#"{{"QueueUrl":"{base}/000000000000/{q}","MessageBody":"{body}"}}"#);
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {hostport}\r\nX-Amz-Target: AmazonSQS.SendMessage\r\n\
         Content-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{json}",
        json.len()
    );
    let mut s = TcpStream::connect(hostport).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// Sends batches until one is acknowledged (the failed partition reopens within a tick
/// or two), bounded; returns the acknowledged bodies.
fn send_until_ok(c: &mut Connection, q: &str, tag: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    for i in 0.. {
        let bodies: Vec<String> = (0..5).map(|k| format!("{tag}-{i}-{k}")).collect();
        let (ok, errs) = send(c, q, &bodies);
        if errs.is_empty() {
            return ok;
        }
        assert!(ok.is_empty(), "a batch was half acknowledged: {ok:?}");
        assert!(Instant::now() < deadline, "sends did not resume: {errs:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    unreachable!()
}

#[test]
fn injected_write_and_fsync_errors() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults");
    std::fs::write(&faults, "").unwrap();
    let data = dir.path().join("data");
    // One shard: every send of the test goes through the one partition the faults hit.
    let mut d = start_with_faults(&data, &faults, &["--shards", "1"]);
    assert!(
        d.stderr().contains("fault injection on"),
        "spoold was built without fault injection:\n{}",
        d.stderr()
    );
    let mut c = connect(&d);
    c.create_queue("q", &[]).unwrap();
    let mut acked: BTreeSet<String> = BTreeSet::new();
    acked.extend(send_until_ok(&mut c, "q", "before"));

    let mut refused = 0;
    for (directive, want) in [
        ("write=enospc\n", ErrorCode::OutOfSpace),
        ("sync=eio\n", ErrorCode::StorageError),
    ] {
        std::fs::write(&faults, directive).unwrap();
        for i in 0..20 {
            let bodies: Vec<String> = (0..5).map(|k| format!("{directive}{i}-{k}")).collect();
            let (ok, errs) = send(&mut c, "q", &bodies);
            assert!(ok.is_empty(), "{directive}: acknowledged {ok:?}");
            assert!(errs.iter().all(|e| *e == want), "{directive}: {errs:?}");
            refused += bodies.len();
        }
        if want == ErrorCode::OutOfSpace {
            // The SQS API: an AWS-shaped 503, not a success.
            let (status, body) = sqs_send(&d, "q", "over-http");
            assert_eq!(status, 503, "{body}");
            assert!(body.contains("ServiceUnavailable"), "{body}");
        } else {
            let (status, body) = sqs_send(&d, "q", "over-http");
            assert_eq!(status, 500, "{body}");
            assert!(body.contains("InternalFailure"), "{body}");
        }
        std::fs::write(&faults, "").unwrap();
        acked.extend(send_until_ok(&mut c, "q", &format!("after-{directive}")));
    }

    // One failed fdatasync, once: that batch is refused, the next ones go through.
    std::fs::write(&faults, "sync-once=eio\n").unwrap();
    let bodies: Vec<String> = (0..5).map(|k| format!("once-{k}")).collect();
    let (ok, errs) = send(&mut c, "q", &bodies);
    assert!(
        ok.is_empty(),
        "acknowledged after a failed fdatasync: {ok:?}"
    );
    assert!(
        errs.iter().all(|e| *e == ErrorCode::StorageError),
        "{errs:?}"
    );
    refused += bodies.len();
    acked.extend(send_until_ok(&mut c, "q", "after-once"));
    // Disarmed before the drain, whose receives wait for a commit too (the directive is
    // applied again whenever the file is read changed, and a read can catch it
    // half-written).
    std::fs::write(&faults, "").unwrap();
    acked.extend(send_until_ok(&mut c, "q", "disarmed"));

    // Exactly what was acknowledged: nothing lost, nothing refused came back. (Drained
    // with a short visibility timeout: a restart keeps them in flight until it runs out.)
    assert_eq!(drain_for(&mut c, "q", 2), acked);
    let drained = Instant::now();
    drop(c);
    assert_eq!(d.terminate(), Some(0));
    let d = start_with_faults(&data, &faults, &["--shards", "1"]);
    let mut c = connect(&d);
    let back = drained + Duration::from_millis(2_200);
    std::thread::sleep(back.saturating_duration_since(Instant::now()));
    assert_eq!(drain(&mut c, "q"), acked);
    eprintln!(
        "injected faults: {} acked, {refused} refused (ENOSPC on write, EIO on every \
         fdatasync, EIO on one fdatasync), {:.1} s",
        acked.len(),
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn disk_full_on_a_small_tmpfs() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(&dir.path().join("mnt"), "16m") else {
        eprintln!(
            "disk_full_on_a_small_tmpfs: cannot mount a tmpfs here (not root?); only the \
             injected-ENOSPC path (injected_write_and_fsync_errors) was tested"
        );
        return;
    };
    // Declared after the mount, so spoold is killed before the unmount.
    let filler = mnt.path().join("filler");
    std::fs::write(&filler, vec![7u8; 4 << 20]).unwrap();
    let data = mnt.path().join("data");
    // No SPOOL_FAULT_FILE here: `start_with_faults` sets it in its own daemon's
    // environment only (it used to set it process-wide, and a spoold spawned in that
    // window by this test, running in parallel, inherited the fault plan).
    let mut d = Spoold::start(&data, &["--shards", "1", "--segment-mib", "1"]);
    let mut c = connect(&d);
    c.create_queue("q", &[]).unwrap();

    let body = "x".repeat(4000);
    let mut acked: BTreeSet<String> = BTreeSet::new();
    let mut full_at = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in 0..2000 {
        assert!(Instant::now() < deadline, "never filled up");
        let bodies: Vec<String> = (0..10).map(|k| format!("{i}-{k}-{body}")).collect();
        let (ok, errs) = send(&mut c, "q", &bodies);
        acked.extend(ok);
        if !errs.is_empty() {
            assert!(
                errs.iter().all(|e| *e == ErrorCode::OutOfSpace),
                "not an out-of-space error: {errs:?}"
            );
            full_at = Some(i);
            break;
        }
    }
    let full_at = full_at.expect("the 16 MiB filesystem never filled");
    // Stays refused while full (a message that still fits the head segment's remainder
    // may be stored: then it is acknowledged and must be received), and still serves
    // reads.
    for i in 0..5 {
        let bodies: Vec<String> = (0..10).map(|k| format!("more-{i}-{k}-{body}")).collect();
        let (ok, errs) = send(&mut c, "q", &bodies);
        assert!(ok.is_empty(), "stored {} more while full", ok.len());
        assert!(errs.iter().all(|e| *e == ErrorCode::OutOfSpace), "{errs:?}");
    }
    let got = drain(&mut c, "q");
    assert_eq!(got.len(), acked.len());
    assert!(
        got == acked,
        "the received set differs from the acknowledged set"
    );

    // Free space: sends succeed again, and what they store is received.
    std::fs::remove_file(&filler).unwrap();
    let resumed = send_until_ok(&mut c, "q", "after");
    assert_eq!(drain(&mut c, "q"), resumed.iter().cloned().collect());
    assert!(d.stderr().lines().all(|l| !l.contains("panicked")));
    assert_eq!(d.terminate(), Some(0));
    eprintln!(
        "tmpfs 16 MiB: full after {full_at} batches ({} messages of 4 KiB acked), all \
         received; sends resumed after freeing 4 MiB; {:.1} s",
        acked.len(),
        t0.elapsed().as_secs_f64()
    );
    drop(mnt);
}
