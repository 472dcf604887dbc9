//! The `spool` CLI against a real `spoold` (the one `cargo test --workspace` builds next
//! to `spool`): a session of queue, send, receive and stats commands, errors that name
//! the problem and exit non-zero, and `spool redrive` refusing a queue that is no
//! dead-letter queue.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use spool_testkit::Spoold;

/// A spoold of two shards, binary protocol only, data in a temporary directory (the one
/// built next to `spool`: `cargo test --workspace` builds it; the kit says so if it is
/// missing).
fn spoold() -> Spoold {
    Spoold::builder()
        .args(&[
            "--shards",
            "2",
            "--sqs-listen",
            "off",
            "--admin-listen",
            "off",
        ])
        .start()
}

fn spool(addr: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spool"))
        .arg("--addr")
        .arg(addr)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn a_cli_session_against_spoold() {
    let d = spoold();
    let addr = d.addr_string();
    let a = addr.as_str();
    ok(&spool(
        a,
        &["queue", "create", "jobs", "--attr", "VisibilityTimeout=60"],
        "",
    ));
    let ids = ok(&spool(a, &["send", "jobs", "--lines"], "one\ntwo\nthree\n"));
    assert_eq!(ids.lines().count(), 3);
    ok(&spool(a, &["send", "jobs", "four"], ""));
    let stats = ok(&spool(a, &["stats", "jobs"], ""));
    assert!(stats.contains('4'), "{stats}");
    let mut bodies = Vec::new();
    for _ in 0..10 {
        let out = ok(&spool(
            a,
            &[
                "receive", "jobs", "--max", "10", "--wait", "1", "--json", "--delete",
            ],
            "",
        ));
        for line in out.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            bodies.push(v["body"].as_str().unwrap().to_string());
        }
        if bodies.len() == 4 {
            break;
        }
    }
    bodies.sort();
    assert_eq!(bodies, ["four", "one", "three", "two"]);
    let attrs = ok(&spool(
        a,
        &[
            "queue",
            "get",
            "jobs",
            "--attr",
            "ApproximateNumberOfMessages",
        ],
        "",
    ));
    assert!(attrs.contains("ApproximateNumberOfMessages=0"), "{attrs}");
    let list = ok(&spool(a, &["queue", "list"], ""));
    assert_eq!(list.trim(), "jobs");

    // A handle printed by `receive --json` deletes with `spool delete`.
    ok(&spool(a, &["send", "jobs", "five"], ""));
    let out = ok(&spool(
        a,
        &["receive", "jobs", "--max", "1", "--wait", "2", "--json"],
        "",
    ));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["body"], "five");
    let handle = v["receipt_handle"].as_str().unwrap();
    assert!(
        handle
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
        "{handle}"
    );
    ok(&spool(a, &["delete", "jobs", handle], ""));
    let o = spool(a, &["delete", "jobs", "not a handle!"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a receipt handle"),
        "{o:?}"
    );
    let attrs = ok(&spool(
        a,
        &[
            "queue",
            "get",
            "jobs",
            "--attr",
            "ApproximateNumberOfMessagesNotVisible",
        ],
        "",
    ));
    assert!(
        attrs.contains("ApproximateNumberOfMessagesNotVisible=0"),
        "{attrs}"
    );
}

#[test]
fn errors_name_the_problem_and_exit_non_zero() {
    let d = spoold();
    let o = spool(&d.addr_string(), &["queue", "get", "missing"], "");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("QueueDoesNotExist"), "{err}");

    let o = spool(&d.addr_string(), &["delete", "missing", "0.bogus"], "");
    assert_eq!(o.status.code(), Some(1));

    let o = spool("127.0.0.1:1", &["queue", "list"], "");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("127.0.0.1:1"), "{err}");

    let o = spool(&d.addr_string(), &["queue", "frobnicate"], "");
    assert_eq!(o.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn redrive_of_a_queue_that_is_no_dead_letter_queue_fails_and_moves_nothing() {
    let d = spoold();
    let addr = d.addr_string();
    let a = addr.as_str();
    ok(&spool(a, &["queue", "create", "dlq"], ""));
    let policy = r#"RedrivePolicy={"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":3}"#;
    ok(&spool(a, &["queue", "create", "src", "--attr", policy], ""));
    ok(&spool(a, &["queue", "create", "plain"], ""));
    ok(&spool(a, &["send", "src", "live"], ""));
    ok(&spool(a, &["send", "plain", "live"], ""));
    for q in ["src", "plain"] {
        let o = spool(a, &["redrive", q], "");
        assert_eq!(o.status.code(), Some(1), "{q}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("RedriveNotAllowed"), "{q}: {err}");
        assert!(err.contains("Dead Letter Queue"), "{q}: {err}");
        assert!(o.stdout.is_empty(), "{q}: no count printed");
        let stats = ok(&spool(a, &["stats", q], ""));
        assert!(stats.contains('1'), "{q}: its message stays: {stats}");
    }
    let stats = ok(&spool(a, &["stats", "dlq"], ""));
    assert!(!stats.contains('1'), "nothing moved into the DLQ: {stats}");
    assert_eq!(ok(&spool(a, &["redrive", "dlq"], "")).trim(), "0");
}
