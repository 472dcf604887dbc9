//! Runs the `protocol_decode` fuzz target over its seed corpus in
//! `fuzz/corpus/protocol_decode/`, so CI exercises it on stable Rust without cargo-fuzz.
//! Regenerate the seeds with
//! `cargo test -p spool-protocol --test fuzz_corpus -- --ignored write_seed_corpus`.

use std::borrow::Cow;
use std::path::PathBuf;

use spool_protocol::*;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/protocol_decode")
}

#[test]
fn protocol_decode_corpus() {
    let mut v: Vec<_> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "seed corpus of protocol_decode is empty");
    for p in v {
        spool_protocol::fuzzing::fuzz_decode(&std::fs::read(p).unwrap());
    }
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let mut req = |name: &'static str, r: Request<'_>| {
        let mut b = Vec::new();
        r.encode(1, &mut b).unwrap();
        out.push((name, b));
    };
    req(
        "hello",
        Request::Hello {
            min_version: 1,
            max_version: 1,
            api_key: Some(Cow::Borrowed(b"secret")),
        },
    );
    req("ping", Request::Ping);
    req(
        "create-queue",
        Request::CreateQueue {
            name: "orders.fifo".into(),
            attributes: [("FifoQueue".into(), "true".into())].into_iter().collect(),
            tags: [("team".into(), "a".into())].into_iter().collect(),
        },
    );
    req(
        "send",
        Request::Send {
            queue: "q".into(),
            entries: vec![
                SendEntry {
                    body: Cow::Borrowed(b"hello"),
                    attributes: vec![MessageAttribute {
                        name: "n".into(),
                        data_type: "Number".into(),
                        value: AttributeValue::String("42".into()),
                    }],
                    delay_s: Some(5),
                    ..SendEntry::default()
                },
                SendEntry {
                    body: Cow::Borrowed(&[0, 1, 2, 255]),
                    group_id: Some("g".into()),
                    dedup_id: Some("d".into()),
                    ..SendEntry::default()
                },
            ],
        },
    );
    req(
        "receive",
        Request::Receive {
            queue: "q".into(),
            max_messages: 10,
            visibility_timeout_s: Some(30),
            wait_time_ms: 20_000,
            attribute_names: vec!["All".into()],
            system_attributes: true,
        },
    );
    req(
        "delete",
        Request::Delete {
            queue: "q".into(),
            receipt_handles: vec![Cow::Borrowed(b"AAAA"), Cow::Borrowed(b"forged")],
        },
    );
    req(
        "change-visibility",
        Request::ChangeVisibility {
            queue: "q".into(),
            entries: vec![VisibilityEntry {
                receipt_handle: Cow::Borrowed(b"AAAA"),
                timeout_s: 0,
            }],
        },
    );
    req(
        "redrive",
        Request::Redrive {
            source: "dlq".into(),
            destination: None,
            max_messages: 100,
        },
    );
    let mut resp = |name: &'static str, r: Response<'_>| {
        let mut b = Vec::new();
        r.encode(1, &mut b).unwrap();
        out.push((name, b));
    };
    resp(
        "resp-received",
        Response::Received {
            messages: vec![Message {
                message_id: [9; 16],
                receipt_handle: Cow::Borrowed(b"handle"),
                body: Cow::Borrowed(b"body"),
                receive_count: 2,
                sent_ms: 1_800_000_000_000,
                first_receive_ms: 1_800_000_000_500,
                sequence_number: Some(1 << 16),
                dead_letter_source: Some("src".into()),
                ..Message::default()
            }],
        },
    );
    resp(
        "resp-sent",
        Response::Sent {
            results: vec![
                Ok(SendOk {
                    message_id: [1; 16],
                    sequence_number: None,
                    duplicate: false,
                }),
                Err(WireError::new(ErrorCode::MessageTooLong, "too long")),
            ],
        },
    );
    resp(
        "resp-error",
        Response::error(ErrorCode::QueueDoesNotExist, "no such queue"),
    );
    out
}

#[test]
#[ignore = "writes the seed corpus; run by hand"]
fn write_seed_corpus() {
    let dir = corpus();
    std::fs::create_dir_all(&dir).unwrap();
    let seeds = seeds();
    let mut pipelined = Vec::new();
    for (name, b) in &seeds {
        std::fs::write(dir.join(name), b).unwrap();
        pipelined.extend_from_slice(b);
    }
    std::fs::write(dir.join("pipelined"), &pipelined).unwrap();
    std::fs::write(dir.join("truncated"), &pipelined[..pipelined.len() - 5]).unwrap();
    std::fs::write(dir.join("oversized-length"), [0xff, 0xff, 0xff, 0x7f, 1, 2]).unwrap();
    let mut bad_opcode = seeds[1].1.clone();
    bad_opcode[5] = 0x7e;
    std::fs::write(dir.join("unknown-opcode"), &bad_opcode).unwrap();
}
