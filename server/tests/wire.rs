//! The daemon over a raw socket: the handshake, a full send/receive/delete round trip, and
//! bad input of every kind (garbage, oversized and short lengths, unknown opcodes,
//! requests before Hello, invalid names, forged handles, truncated frames), one kind per
//! test. Each bad connection gets an error frame or is closed, and a well-behaved
//! connection opened first keeps working throughout (`others_carry_on`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use spool_protocol::message::SendEntry;
use spool_protocol::{decode_frame, ErrorCode, Request, Response, DEFAULT_MAX_FRAME};
use spool_testkit::Spoold;

struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
    next_id: u64,
}

impl Raw {
    fn connect(d: &Spoold) -> Raw {
        let s = TcpStream::connect(d.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Raw {
            s,
            buf: Vec::new(),
            next_id: 1,
        }
    }

    fn hello(d: &Spoold) -> Raw {
        let mut r = Raw::connect(d);
        let resp = r.call(&Request::Hello {
            min_version: 1,
            max_version: 1,
            api_key: None,
        });
        assert!(
            matches!(resp, Response::Hello { version: 1, .. }),
            "{resp:?}"
        );
        r
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    fn submit(&mut self, req: &Request<'_>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut out = Vec::new();
        req.encode(id, &mut out).unwrap();
        self.send_raw(&out);
        id
    }

    /// The next frame: (request id, response), or None at EOF.
    fn read(&mut self) -> Option<(u64, Response<'static>)> {
        loop {
            if let Some((f, n)) = decode_frame(&self.buf, DEFAULT_MAX_FRAME).unwrap() {
                let id = f.request_id;
                let r = Response::from_frame(&f).unwrap().into_owned();
                self.buf.drain(..n);
                return Some((id, r));
            }
            let mut chunk = vec![0u8; 65536];
            match self.s.read(&mut chunk) {
                Ok(0) => return None,
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    fn call(&mut self, req: &Request<'_>) -> Response<'static> {
        let id = self.submit(req);
        let (got, r) = self.read().expect("a response");
        assert_eq!(got, id);
        r
    }

    /// Reads to EOF; returns the frames seen on the way.
    fn read_until_closed(&mut self) -> Vec<(u64, Response<'static>)> {
        let mut out = Vec::new();
        while let Some(f) = self.read() {
            out.push(f);
        }
        out
    }
}

fn code(r: &Response<'_>) -> Option<ErrorCode> {
    match r {
        Response::Error(e) => Some(e.code),
        _ => None,
    }
}

fn start() -> (tempfile::TempDir, Spoold) {
    let dir = tempfile::tempdir().unwrap();
    let d = Spoold::start(&dir.path().join("data"), &["--shards", "2"]);
    (dir, d)
}

fn create(r: &mut Raw, name: &str) {
    let resp = r.call(&Request::CreateQueue {
        name: name.into(),
        attributes: BTreeMap::default(),
        tags: BTreeMap::default(),
    });
    assert!(matches!(resp, Response::QueueCreated { .. }), "{resp:?}");
}

#[test]
fn round_trip_over_a_raw_socket() {
    let (_dir, d) = start();
    let mut r = Raw::hello(&d);
    assert_eq!(r.call(&Request::Ping), Response::Pong);
    create(&mut r, "raw");
    let resp = r.call(&Request::Send {
        queue: "raw".into(),
        entries: vec![SendEntry {
            body: b"hello"[..].into(),
            ..Default::default()
        }],
    });
    let Response::Sent { results } = resp else {
        panic!("{resp:?}")
    };
    assert!(results[0].is_ok());
    // The message may sit on the other shard: a receive asks both.
    let resp = r.call(&Request::Receive {
        queue: "raw".into(),
        max_messages: 10,
        visibility_timeout_s: None,
        wait_time_ms: 1000,
        attribute_names: vec![],
        system_attributes: false,
    });
    let Response::Received { messages } = resp else {
        panic!("{resp:?}")
    };
    assert_eq!(messages.len(), 1);
    assert_eq!(&messages[0].body[..], b"hello");
    let resp = r.call(&Request::Delete {
        queue: "raw".into(),
        receipt_handles: vec![messages[0].receipt_handle.clone()],
    });
    assert_eq!(
        resp,
        Response::Deleted {
            results: vec![Ok(())]
        }
    );
}

/// Starts a daemon, opens a well-behaved connection (and its queue `ok`) first, runs
/// `bad` (which opens connections of its own), then checks that the first connection
/// never noticed. The bad-input tests below each run one kind this way; each on its own
/// daemon (a start takes some 20 ms), so none can see another's effects.
fn others_carry_on(bad: impl FnOnce(&Spoold)) {
    let (_dir, d) = start();
    let mut good = Raw::hello(&d);
    create(&mut good, "ok");
    bad(&d);
    // The first connection never noticed.
    assert_eq!(good.call(&Request::Ping), Response::Pong);
    let resp = good.call(&Request::GetQueue { name: "ok".into() });
    assert!(matches!(resp, Response::Queue { .. }), "{resp:?}");
}

/// Garbage: a length below the header size gets MalformedFrame (request id 0), then a
/// close.
#[test]
fn a_length_below_the_header_size_is_a_malformed_frame_then_closed() {
    others_carry_on(|d| {
        let mut r = Raw::connect(d);
        r.send_raw(&[3, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
        let frames = r.read_until_closed();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0, 0);
        assert_eq!(code(&frames[0].1), Some(ErrorCode::MalformedFrame));
    });
}

/// A declared length over the maximum: refused from the prefix alone, then closed.
#[test]
fn a_length_over_the_maximum_is_refused_from_the_prefix_alone() {
    others_carry_on(|d| {
        let mut r = Raw::connect(d);
        r.send_raw(&(u32::MAX).to_le_bytes());
        let frames = r.read_until_closed();
        assert_eq!(code(&frames[0].1), Some(ErrorCode::FrameTooLarge));
    });
}

/// Random bytes: the daemon closes the connection.
#[test]
fn random_bytes_end_in_a_close() {
    others_carry_on(|d| {
        let mut r = Raw::connect(d);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let junk: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        r.send_raw(&junk);
        let _ = r.s.shutdown(Shutdown::Write);
        r.read_until_closed();
    });
}

/// A request before Hello: HandshakeRequired, then closed.
#[test]
fn a_request_before_hello_is_handshake_required_then_closed() {
    others_carry_on(|d| {
        let mut r = Raw::connect(d);
        r.submit(&Request::Ping);
        let frames = r.read_until_closed();
        assert_eq!(code(&frames[0].1), Some(ErrorCode::HandshakeRequired));
    });
}

/// A Hello with no version in common: UnsupportedVersion.
#[test]
fn a_hello_with_no_version_in_common_is_unsupported_version() {
    others_carry_on(|d| {
        let mut r = Raw::connect(d);
        r.submit(&Request::Hello {
            min_version: 7,
            max_version: 9,
            api_key: None,
        });
        let frames = r.read_until_closed();
        assert_eq!(code(&frames[0].1), Some(ErrorCode::UnsupportedVersion));
    });
}

/// An unknown opcode is answered by id and the connection stays usable.
#[test]
fn an_unknown_opcode_is_answered_by_id_and_the_connection_stays_usable() {
    others_carry_on(|d| {
        let mut r = Raw::hello(d);
        let mut frame = Vec::new();
        frame.extend_from_slice(&12u32.to_le_bytes());
        frame.extend_from_slice(&[1, 0x7e, 0, 0]);
        frame.extend_from_slice(&42u64.to_le_bytes());
        r.send_raw(&frame);
        let (id, resp) = r.read().unwrap();
        assert_eq!(id, 42);
        assert_eq!(code(&resp), Some(ErrorCode::UnknownOpcode));
        assert_eq!(r.call(&Request::Ping), Response::Pong);
    });
}

/// Request id 0 is the server's (connection-level errors): a Hello that carries it is
/// refused with MalformedFrame under id 0, then the connection is closed.
#[test]
fn a_hello_with_request_id_zero_is_malformed_then_closed() {
    others_carry_on(|d| {
        let mut r = Raw::connect(d);
        r.next_id = 0;
        r.submit(&Request::Hello {
            min_version: 1,
            max_version: 1,
            api_key: None,
        });
        let frames = r.read_until_closed();
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(frames[0].0, 0);
        assert_eq!(code(&frames[0].1), Some(ErrorCode::MalformedFrame));
    });
}

/// After a good Hello, a request with id 0 is refused the same way and ends the connection.
#[test]
fn a_request_with_id_zero_after_hello_is_malformed_then_closed() {
    others_carry_on(|d| {
        let mut r = Raw::hello(d);
        r.next_id = 0;
        r.submit(&Request::Ping);
        let frames = r.read_until_closed();
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(frames[0].0, 0);
        assert_eq!(code(&frames[0].1), Some(ErrorCode::MalformedFrame));
    });
}

/// A second Hello is refused; the connection stays usable.
#[test]
fn a_second_hello_is_refused_and_the_connection_stays_usable() {
    others_carry_on(|d| {
        let mut r = Raw::hello(d);
        let resp = r.call(&Request::Hello {
            min_version: 1,
            max_version: 1,
            api_key: None,
        });
        assert_eq!(code(&resp), Some(ErrorCode::InvalidParameter));
        assert_eq!(r.call(&Request::Ping), Response::Pong);
    });
}

/// An invalid queue name is answered with an error, by id, and a missing queue is
/// QueueDoesNotExist.
#[test]
fn an_invalid_or_missing_queue_name_is_an_error() {
    others_carry_on(|d| {
        let mut r = Raw::hello(d);
        // (The codec will not encode an invalid name, so patch one into a valid frame.)
        let mut out = Vec::new();
        Request::GetQueue { name: "abc".into() }
            .encode(77, &mut out)
            .unwrap();
        let at = out.windows(3).position(|w| w == b"abc").unwrap();
        out[at + 1] = b'!';
        r.send_raw(&out);
        let (id, resp) = r.read().unwrap();
        assert_eq!(id, 77);
        assert!(code(&resp).is_some(), "{resp:?}");
        let resp = r.call(&Request::GetQueue {
            name: "missing".into(),
        });
        assert_eq!(code(&resp), Some(ErrorCode::QueueDoesNotExist));
    });
}

/// Forged receipt handles (of either shard, out of range, or not a handle at all): each
/// entry is ReceiptHandleIsInvalid.
#[test]
fn forged_receipt_handles_are_each_invalid() {
    others_carry_on(|d| {
        let mut r = Raw::hello(d);
        let resp = r.call(&Request::Delete {
            queue: "ok".into(),
            receipt_handles: vec![
                b"0.AAAAforged"[..].into(),
                b"1.AAAAforged"[..].into(),
                b"9.AAAAforged"[..].into(),
                b"nonsense"[..].into(),
            ],
        });
        let Response::Deleted { results } = resp else {
            panic!("{resp:?}")
        };
        assert_eq!(results.len(), 4);
        for res in &results {
            assert_eq!(
                res.as_ref().unwrap_err().code,
                ErrorCode::ReceiptHandleIsInvalid
            );
        }
    });
}

/// A receive over the limits (a 60 s wait): InvalidParameter.
#[test]
fn a_receive_over_the_wait_limit_is_invalid_parameter() {
    others_carry_on(|d| {
        let mut r = Raw::hello(d);
        let resp = r.call(&Request::Receive {
            queue: "ok".into(),
            max_messages: 10,
            visibility_timeout_s: None,
            wait_time_ms: 60_000,
            attribute_names: vec![],
            system_attributes: false,
        });
        assert_eq!(code(&resp), Some(ErrorCode::InvalidParameter));
    });
}

/// A whole frame followed by a truncated one, then a hang-up mid-frame: the whole one
/// is answered.
#[test]
fn a_frame_before_a_truncated_one_is_answered() {
    others_carry_on(|d| {
        let mut r = Raw::hello(d);
        let mut out = Vec::new();
        Request::Ping.encode(9, &mut out).unwrap();
        out.extend_from_slice(&[100, 0, 0, 0, 1, 0x02]);
        r.send_raw(&out);
        let (id, resp) = r.read().unwrap();
        assert_eq!((id, resp), (9, Response::Pong));
        drop(r);
    });
}

#[test]
fn a_connection_paused_at_its_in_flight_bound_resumes_and_reads_everything() {
    // Regression (review): a connection paused at its bound was not read again when it
    // resumed, and requests sent meanwhile were never answered.
    let dir = tempfile::tempdir().unwrap();
    let d = Spoold::start(
        &dir.path().join("data"),
        &["--shards", "1", "--max-in-flight", "4"],
    );
    let mut r = Raw::hello(&d);
    create(&mut r, "slow");
    let mut burst = Vec::new();
    for id in 100..104 {
        Request::Receive {
            queue: "slow".into(),
            max_messages: 1,
            visibility_timeout_s: None,
            wait_time_ms: 1500,
            attribute_names: vec![],
            system_attributes: false,
        }
        .encode(id, &mut burst)
        .unwrap();
    }
    for id in 104..106 {
        Request::Ping.encode(id, &mut burst).unwrap();
    }
    r.send_raw(&burst);
    // While the four long polls hold the connection at its bound, more arrives.
    std::thread::sleep(Duration::from_millis(300));
    let mut more = Vec::new();
    for id in 106..116 {
        Request::Ping.encode(id, &mut more).unwrap();
    }
    r.send_raw(&more);
    let mut ids: Vec<u64> = (0..16).map(|_| r.read().expect("a reply").0).collect();
    ids.sort_unstable();
    assert_eq!(ids, (100..116).collect::<Vec<u64>>());
}

#[test]
fn a_half_closed_connection_is_answered_then_closed() {
    let (_dir, d) = start();
    let mut r = Raw::hello(&d);
    let id = r.submit(&Request::Ping);
    r.s.shutdown(Shutdown::Write).unwrap();
    let frames = r.read_until_closed();
    assert_eq!(frames, vec![(id, Response::Pong)]);
}

#[test]
fn api_keys_gate_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let d = Spoold::start(&dir.path().join("data"), &["--api-key", "s3cret"]);
    for key in [None, Some(&b"wrong"[..])] {
        let mut r = Raw::connect(&d);
        r.submit(&Request::Hello {
            min_version: 1,
            max_version: 1,
            api_key: key.map(Into::into),
        });
        let frames = r.read_until_closed();
        assert_eq!(code(&frames[0].1), Some(ErrorCode::Unauthorized));
    }
    let mut r = Raw::connect(&d);
    let resp = r.call(&Request::Hello {
        min_version: 1,
        max_version: 1,
        api_key: Some(b"s3cret"[..].into()),
    });
    assert!(matches!(resp, Response::Hello { .. }), "{resp:?}");
    assert_eq!(r.call(&Request::Ping), Response::Pong);
}

#[test]
fn the_startup_log_names_the_durability_mode_and_batch_mode_serves() {
    for (mode, words) in [
        ("none", "durability: none"),
        ("batch=5", "durability: batch=5ms"),
        ("sync", "durability: sync"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Spoold::start(&dir.path().join("data"), &["--durability", mode]);
        let mut r = Raw::hello(&d);
        create(&mut r, "m");
        let resp = r.call(&Request::Send {
            queue: "m".into(),
            entries: vec![SendEntry {
                body: b"x"[..].into(),
                ..Default::default()
            }],
        });
        assert!(matches!(&resp, Response::Sent { results } if results[0].is_ok()));
        let resp = r.call(&Request::Receive {
            queue: "m".into(),
            max_messages: 1,
            visibility_timeout_s: None,
            wait_time_ms: 5000,
            attribute_names: vec![],
            system_attributes: false,
        });
        assert!(matches!(&resp, Response::Received { messages } if messages.len() == 1));
        drop(r);
        assert_eq!(d.terminate(), Some(0));
        assert!(d.stderr().contains(words), "{mode}: {}", d.stderr());
    }
}

#[test]
fn tags_are_set_listed_removed_and_the_same_on_every_shard() {
    let (_dir, d) = start();
    let mut r = Raw::hello(&d);
    create(&mut r, "tagged");
    let tags = |pairs: &[(&str, &str)]| -> spool_protocol::Map<'static> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string().into(), v.to_string().into()))
            .collect()
    };
    let resp = r.call(&Request::TagQueue {
        name: "tagged".into(),
        tags: tags(&[("team", "a"), ("env", "dev")]),
    });
    assert_eq!(resp, Response::QueueTagged);
    let resp = r.call(&Request::UntagQueue {
        name: "tagged".into(),
        keys: vec!["env".into(), "absent".into()],
    });
    assert_eq!(resp, Response::QueueUntagged);
    // Tag changes go through shard 0 to every shard: a connection on either shard sees
    // the same tags (two connections are dealt to the two shards).
    for _ in 0..2 {
        let mut c = Raw::hello(&d);
        let resp = c.call(&Request::ListQueueTags {
            name: "tagged".into(),
        });
        assert_eq!(
            resp,
            Response::QueueTags {
                tags: tags(&[("team", "a")])
            }
        );
    }
    // SQS's limits: 50 tags at most, keys of 1 to 128 characters.
    let many: Vec<(String, String)> = (0..50).map(|i| (format!("k{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let resp = r.call(&Request::TagQueue {
        name: "tagged".into(),
        tags: tags(&many),
    });
    assert_eq!(code(&resp), Some(ErrorCode::InvalidParameter), "{resp:?}");
    let long = "k".repeat(129);
    let resp = r.call(&Request::TagQueue {
        name: "tagged".into(),
        tags: tags(&[(long.as_str(), "v")]),
    });
    assert_eq!(code(&resp), Some(ErrorCode::InvalidParameter), "{resp:?}");
    let resp = r.call(&Request::ListQueueTags {
        name: "missing".into(),
    });
    assert_eq!(code(&resp), Some(ErrorCode::QueueDoesNotExist));
}
