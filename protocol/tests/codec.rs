//! Codec tests: round trips of every request and response (proptest over bounded
//! arbitrary values), every truncation of a valid frame, hostile lengths and counts,
//! unknown opcodes and versions.

use std::borrow::Cow;

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use spool_protocol::*;

// ----- strategies -----------------------------------------------------------------------

fn queue_name() -> impl Strategy<Value = Cow<'static, str>> {
    "[A-Za-z0-9_-]{1,75}(\\.fifo)?".prop_map(Cow::Owned)
}

fn text(max: usize) -> impl Strategy<Value = Cow<'static, str>> {
    proptest::string::string_regex(&format!(".{{0,{}}}", max.min(40)))
        .unwrap()
        .prop_filter("byte limit", move |s| s.len() <= max)
        .prop_map(Cow::Owned)
}

fn bytes(max: usize) -> impl Strategy<Value = Cow<'static, [u8]>> {
    vec(any::<u8>(), 0..=max).prop_map(Cow::Owned)
}

fn map() -> impl Strategy<Value = Map<'static>> {
    btree_map(text(30), text(60), 0..5)
}

fn attribute() -> impl Strategy<Value = MessageAttribute<'static>> {
    (
        text(20),
        prop_oneof![Just("String"), Just("Number"), Just("Binary.x")],
        prop_oneof![
            text(40).prop_map(AttributeValue::String),
            bytes(40).prop_map(AttributeValue::Binary),
        ],
    )
        .prop_map(|(name, t, value)| MessageAttribute {
            name,
            data_type: Cow::Borrowed(t),
            value,
        })
}

fn attributes() -> impl Strategy<Value = Vec<MessageAttribute<'static>>> {
    vec(attribute(), 0..=MAX_MESSAGE_ATTRIBUTES)
}

fn names() -> impl Strategy<Value = Vec<Cow<'static, str>>> {
    vec(text(30), 0..6)
}

fn send_entry() -> impl Strategy<Value = SendEntry<'static>> {
    (
        bytes(200),
        attributes(),
        vec(attribute(), 0..2),
        option::of(any::<u32>()),
        option::of(text(MAX_ID_LEN)),
        option::of(text(MAX_ID_LEN)),
    )
        .prop_map(
            |(body, attributes, system_attributes, delay_s, group_id, dedup_id)| SendEntry {
                body,
                attributes,
                system_attributes,
                delay_s,
                group_id,
                dedup_id,
            },
        )
}

fn wire_error() -> impl Strategy<Value = WireError<'static>> {
    (any::<u16>(), text(100)).prop_map(|(c, m)| WireError {
        code: ErrorCode::from_u16(c),
        message: m,
    })
}

fn message() -> impl Strategy<Value = Message<'static>> {
    (
        (
            any::<[u8; 16]>(),
            bytes(60),
            bytes(200),
            attributes(),
            vec(attribute(), 0..2),
        ),
        (any::<u32>(), any::<u64>(), any::<u64>()),
        (
            option::of(text(MAX_ID_LEN)),
            option::of(text(MAX_ID_LEN)),
            option::of(any::<u128>()),
            option::of(queue_name()),
        ),
    )
        .prop_map(
            |(
                (message_id, receipt_handle, body, attributes, system_attributes),
                (receive_count, sent_ms, first_receive_ms),
                (group_id, dedup_id, sequence_number, dead_letter_source),
            )| Message {
                message_id,
                receipt_handle,
                body,
                attributes,
                system_attributes,
                receive_count,
                sent_ms,
                first_receive_ms,
                group_id,
                dedup_id,
                sequence_number,
                dead_letter_source,
            },
        )
}

fn request() -> impl Strategy<Value = Request<'static>> {
    prop_oneof![
        (any::<u8>(), any::<u8>(), option::of(bytes(MAX_API_KEY_LEN))).prop_map(|(a, b, k)| {
            Request::Hello {
                min_version: a,
                max_version: b,
                api_key: k,
            }
        }),
        Just(Request::Ping),
        (queue_name(), map(), map()).prop_map(|(name, attributes, tags)| Request::CreateQueue {
            name,
            attributes,
            tags
        }),
        queue_name().prop_map(|name| Request::DeleteQueue { name }),
        queue_name().prop_map(|name| Request::GetQueue { name }),
        (
            text(MAX_QUEUE_NAME_LEN),
            any::<u16>(),
            option::of(text(100))
        )
            .prop_map(|(prefix, max_results, next_token)| Request::ListQueues {
                prefix,
                max_results,
                next_token
            }),
        (queue_name(), names()).prop_map(|(name, attribute_names)| {
            Request::GetQueueAttributes {
                name,
                attribute_names,
            }
        }),
        (queue_name(), map())
            .prop_map(|(name, attributes)| Request::SetQueueAttributes { name, attributes }),
        queue_name().prop_map(|name| Request::PurgeQueue { name }),
        (queue_name(), map()).prop_map(|(name, tags)| Request::TagQueue { name, tags }),
        (queue_name(), names()).prop_map(|(name, keys)| Request::UntagQueue { name, keys }),
        queue_name().prop_map(|name| Request::ListQueueTags { name }),
        (queue_name(), any::<u16>(), option::of(text(100))).prop_map(
            |(name, max_results, next_token)| Request::ListDeadLetterSourceQueues {
                name,
                max_results,
                next_token
            }
        ),
        (queue_name(), option::of(queue_name()), any::<u32>()).prop_map(
            |(source, destination, max_messages)| Request::Redrive {
                source,
                destination,
                max_messages
            }
        ),
        (queue_name(), vec(send_entry(), 1..8))
            .prop_map(|(queue, entries)| Request::Send { queue, entries }),
        (
            queue_name(),
            0..=MAX_BATCH as u32,
            option::of(any::<u32>()),
            any::<u32>(),
            names(),
            any::<bool>()
        )
            .prop_map(|(queue, max_messages, vis, wait, attribute_names, sys)| {
                Request::Receive {
                    queue,
                    max_messages,
                    visibility_timeout_s: vis,
                    wait_time_ms: wait,
                    attribute_names,
                    system_attributes: sys,
                }
            }),
        (queue_name(), vec(bytes(100), 1..8)).prop_map(|(queue, receipt_handles)| {
            Request::Delete {
                queue,
                receipt_handles,
            }
        }),
        (queue_name(), vec((bytes(100), any::<u32>()), 1..8)).prop_map(|(queue, es)| {
            Request::ChangeVisibility {
                queue,
                entries: es
                    .into_iter()
                    .map(|(receipt_handle, timeout_s)| VisibilityEntry {
                        receipt_handle,
                        timeout_s,
                    })
                    .collect(),
            }
        }),
    ]
}

fn unit_results() -> impl Strategy<Value = Vec<Result<(), WireError<'static>>>> {
    vec(prop_oneof![Just(Ok(())), wire_error().prop_map(Err)], 0..8)
}

fn response() -> impl Strategy<Value = Response<'static>> {
    prop_oneof![
        (any::<u8>(), any::<u32>(), any::<u32>(), any::<u16>()).prop_map(|(v, f, b, s)| {
            Response::Hello {
                version: v,
                max_frame: f,
                max_batch: b,
                shard_count: s,
            }
        }),
        Just(Response::Pong),
        (any::<u64>(), any::<bool>())
            .prop_map(|(queue_id, created)| Response::QueueCreated { queue_id, created }),
        Just(Response::QueueDeleted),
        any::<u64>().prop_map(|queue_id| Response::Queue { queue_id }),
        (vec(queue_name(), 0..8), option::of(text(100)))
            .prop_map(|(names, next_token)| Response::Queues { names, next_token }),
        map().prop_map(|attributes| Response::QueueAttributes { attributes }),
        Just(Response::QueueAttributesSet),
        Just(Response::Purged),
        Just(Response::QueueTagged),
        Just(Response::QueueUntagged),
        map().prop_map(|tags| Response::QueueTags { tags }),
        (vec(queue_name(), 0..8), option::of(text(100))).prop_map(|(names, next_token)| {
            Response::DeadLetterSourceQueues { names, next_token }
        }),
        any::<u64>().prop_map(|moved| Response::Redriven { moved }),
        vec(
            prop_oneof![
                (any::<[u8; 16]>(), option::of(any::<u128>()), any::<bool>()).prop_map(
                    |(message_id, sequence_number, duplicate)| Ok(SendOk {
                        message_id,
                        sequence_number,
                        duplicate
                    })
                ),
                wire_error().prop_map(Err),
            ],
            0..8
        )
        .prop_map(|results| Response::Sent { results }),
        vec(message(), 0..5).prop_map(|messages| Response::Received { messages }),
        unit_results().prop_map(|results| Response::Deleted { results }),
        unit_results().prop_map(|results| Response::VisibilityChanged { results }),
        wire_error().prop_map(Response::Error),
    ]
}

// ----- helpers --------------------------------------------------------------------------

fn encode_req(r: &Request<'_>, id: u64) -> Vec<u8> {
    let mut out = Vec::new();
    r.encode(id, &mut out).expect("encodes");
    out
}

fn encode_resp(r: &Response<'_>, id: u64) -> Vec<u8> {
    let mut out = Vec::new();
    r.encode(id, &mut out).expect("encodes");
    out
}

/// Every proper prefix: the frame decoder wants more bytes; every truncated payload (with
/// a consistent length field) is refused by the payload decoder.
fn check_truncations(bytes: &[u8], payload_decode: impl Fn(u8, &[u8]) -> bool) {
    for cut in 0..bytes.len() {
        assert_eq!(
            decode_frame(&bytes[..cut], DEFAULT_MAX_FRAME),
            Ok(None),
            "cut {cut}"
        );
    }
    let (f, _) = decode_frame(bytes, DEFAULT_MAX_FRAME).unwrap().unwrap();
    for cut in 0..f.payload.len() {
        assert!(
            !payload_decode(f.opcode, &f.payload[..cut]),
            "payload cut at {cut} of {} decoded",
            f.payload.len()
        );
    }
    // Trailing bytes are refused too.
    let mut longer = f.payload.to_vec();
    longer.push(0);
    assert!(!payload_decode(f.opcode, &longer));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn request_round_trip(req in request(), id in any::<u64>()) {
        let bytes = encode_req(&req, id);
        let (f, n) = decode_frame(&bytes, DEFAULT_MAX_FRAME).unwrap().unwrap();
        prop_assert_eq!(n, bytes.len());
        prop_assert_eq!(f.request_id, id);
        prop_assert_eq!(f.version, VERSION);
        prop_assert_eq!(f.flags, 0);
        prop_assert_eq!(f.opcode, req.opcode() as u8);
        let back = Request::from_frame(&f).unwrap();
        prop_assert_eq!(&back, &req);
        // An owned copy outlives the frame and is equal to it.
        let owned: Request<'static> = back.into_owned();
        prop_assert_eq!(&owned, &req);
        spool_protocol::fuzzing::fuzz_decode(&bytes);
    }

    #[test]
    fn check_limits_accepts_what_encodes(req in request()) {
        prop_assert!(req.check_limits().is_ok());
    }

    #[test]
    fn response_round_trip(resp in response(), id in any::<u64>()) {
        let bytes = encode_resp(&resp, id);
        let (f, n) = decode_frame(&bytes, DEFAULT_MAX_FRAME).unwrap().unwrap();
        prop_assert_eq!(n, bytes.len());
        prop_assert_eq!(f.request_id, id);
        prop_assert_eq!(f.opcode, resp.opcode());
        let back = Response::from_frame(&f).unwrap();
        prop_assert_eq!(&back, &resp);
        let owned: Response<'static> = back.into_owned();
        prop_assert_eq!(&owned, &resp);
        spool_protocol::fuzzing::fuzz_decode(&bytes);
    }

    #[test]
    fn request_truncations(req in request()) {
        let bytes = encode_req(&req, 7);
        check_truncations(&bytes, |op, p| Request::decode(op, p).is_ok());
    }

    #[test]
    fn response_truncations(resp in response()) {
        let bytes = encode_resp(&resp, 7);
        check_truncations(&bytes, |op, p| Response::decode(op, p).is_ok());
    }

    #[test]
    fn pipelined_frames_decode_in_order(reqs in vec(request(), 1..6)) {
        let mut stream = Vec::new();
        for (i, r) in reqs.iter().enumerate() {
            r.encode(i as u64, &mut stream).unwrap();
        }
        let mut rest = &stream[..];
        for (i, r) in reqs.iter().enumerate() {
            let (f, n) = decode_frame(rest, DEFAULT_MAX_FRAME).unwrap().unwrap();
            prop_assert_eq!(f.request_id, i as u64);
            prop_assert_eq!(&Request::from_frame(&f).unwrap(), r);
            rest = &rest[n..];
        }
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..300), op in any::<u8>()) {
        spool_protocol::fuzzing::fuzz_decode(&data);
        let _ = Request::decode(op, &data);
        let _ = Response::decode(op, &data);
    }
}

// ----- hostile and edge inputs ----------------------------------------------------------

fn header(len: u32, version: u8, opcode: u8, id: u64) -> Vec<u8> {
    let mut v = len.to_le_bytes().to_vec();
    v.push(version);
    v.push(opcode);
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(&id.to_le_bytes());
    v
}

#[test]
fn oversized_length_rejected_from_the_prefix_alone() {
    let bytes = u32::MAX.to_le_bytes();
    let e = decode_frame(&bytes, DEFAULT_MAX_FRAME).unwrap_err();
    assert!(matches!(e, ProtocolError::FrameTooLarge { .. }));
    assert_eq!(e.code(), ErrorCode::FrameTooLarge);
    assert!(e.is_fatal());
    // Exactly at the limit is fine (needs more bytes); one over is not.
    let max = 1000;
    let at = ((max - 4) as u32).to_le_bytes();
    assert_eq!(decode_frame(&at, max), Ok(None));
    let over = ((max - 3) as u32).to_le_bytes();
    assert!(decode_frame(&over, max).is_err());
}

#[test]
fn short_length_rejected() {
    for len in 0..12u32 {
        let e = decode_frame(&len.to_le_bytes(), DEFAULT_MAX_FRAME).unwrap_err();
        assert_eq!(e, ProtocolError::FrameTooShort { len });
        assert_eq!(e.code(), ErrorCode::MalformedFrame);
        assert!(e.is_fatal());
    }
}

#[test]
fn unknown_version_rejected() {
    for v in [0u8, 2, 0xff] {
        let bytes = header(12, v, Opcode::Ping as u8, 1);
        let e = decode_frame(&bytes, DEFAULT_MAX_FRAME).unwrap_err();
        assert_eq!(e, ProtocolError::UnsupportedVersion(v));
        assert_eq!(e.code(), ErrorCode::UnsupportedVersion);
        // Also before the rest of the frame has arrived.
        assert!(decode_frame(&bytes[..5], DEFAULT_MAX_FRAME).is_err());
    }
}

#[test]
fn unknown_opcode_rejected_but_framed() {
    let bytes = header(12, VERSION, 0x7e, 9);
    let (f, n) = decode_frame(&bytes, DEFAULT_MAX_FRAME).unwrap().unwrap();
    assert_eq!((n, f.request_id), (16, 9));
    let e = Request::from_frame(&f).unwrap_err();
    assert_eq!(e, ProtocolError::UnknownOpcode(0x7e));
    assert_eq!(e.code(), ErrorCode::UnknownOpcode);
    assert!(!e.is_fatal());
    // Request opcodes are not responses and vice versa.
    assert!(Response::decode(Opcode::Ping as u8, &[]).is_err());
    assert!(Request::decode(Opcode::Ping.response(), &[]).is_err());
    assert_eq!(
        Response::decode(Opcode::Ping.response(), &[]),
        Ok(Response::Pong)
    );
}

#[test]
fn hostile_counts_are_refused_without_allocation() {
    // A Send claiming u32::MAX entries in a tiny frame.
    let mut p = vec![1u8, 0, b'q'];
    p.extend_from_slice(&u32::MAX.to_le_bytes());
    let e = Request::decode(Opcode::Send as u8, &p).unwrap_err();
    assert_eq!(e.code(), ErrorCode::BatchTooLarge);
    // MAX_BATCH entries claimed, none present: truncated, not a huge reservation.
    let mut p = vec![1u8, 0, b'q'];
    p.extend_from_slice(&(MAX_BATCH as u32).to_le_bytes());
    assert!(matches!(
        Request::decode(Opcode::Send as u8, &p),
        Err(ProtocolError::Truncated(_))
    ));
    // Empty batch.
    let mut p = vec![1u8, 0, b'q'];
    p.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(
        Request::decode(Opcode::Delete as u8, &p)
            .unwrap_err()
            .code(),
        ErrorCode::EmptyBatch
    );
    // A body length past the end of the frame.
    let mut p = vec![1u8, 0, b'q'];
    p.extend_from_slice(&1u32.to_le_bytes());
    p.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        Request::decode(Opcode::Send as u8, &p),
        Err(ProtocolError::Truncated(_))
    ));
    // Receive asking for more than MAX_BATCH.
    let mut p = vec![1u8, 0, b'q'];
    p.extend_from_slice(&(MAX_BATCH as u32 + 1).to_le_bytes());
    assert_eq!(
        Request::decode(Opcode::Receive as u8, &p)
            .unwrap_err()
            .code(),
        ErrorCode::BatchTooLarge
    );
}

#[test]
fn check_limits_refuses_what_encode_refuses() {
    let names = |n: usize| -> Vec<Cow<'static, str>> {
        (0..n).map(|i| Cow::Owned(format!("a{i}"))).collect()
    };
    let receive = |attribute_names| Request::Receive {
        queue: "q".into(),
        max_messages: 10,
        visibility_timeout_s: None,
        wait_time_ms: 0,
        attribute_names,
        system_attributes: false,
    };
    let ok = receive(names(MAX_ATTRIBUTE_NAMES));
    assert_eq!(ok.check_limits(), Ok(()));
    let over = receive(names(MAX_ATTRIBUTE_NAMES + 1));
    let e = over.check_limits().unwrap_err();
    assert_eq!(e, over.encode(1, &mut Vec::new()).unwrap_err());
    assert!(matches!(e, ProtocolError::TooMany { .. }), "{e}");
    assert_eq!(e.code(), ErrorCode::InvalidParameter);
    let long_handle = Request::Delete {
        queue: "q".into(),
        receipt_handles: vec![Cow::Owned(vec![b'h'; MAX_RECEIPT_HANDLE_LEN + 1])],
    };
    assert!(matches!(
        long_handle.check_limits(),
        Err(ProtocolError::TooLong { .. })
    ));
    let bad_name = Request::GetQueue {
        name: Cow::Borrowed("a b"),
    };
    assert_eq!(
        bad_name.check_limits().unwrap_err().code(),
        ErrorCode::InvalidParameter
    );
}

#[test]
fn invalid_queue_names_refused() {
    for bad in ["", "a b", "a.b", ".fifo", "é", &"x".repeat(81)] {
        let req = Request::GetQueue {
            name: Cow::Borrowed(bad),
        };
        let mut out = Vec::new();
        let e = req.encode(1, &mut out).unwrap_err();
        assert!(out.is_empty(), "a refused encode leaves nothing behind");
        assert!(
            matches!(
                e,
                ProtocolError::InvalidQueueName(_) | ProtocolError::TooLong { .. }
            ),
            "{bad}: {e}"
        );
        assert_eq!(e.code(), ErrorCode::InvalidParameter);
        let mut p = (bad.len() as u16).to_le_bytes().to_vec();
        p.extend_from_slice(bad.as_bytes());
        assert_eq!(
            Request::decode(Opcode::GetQueue as u8, &p)
                .unwrap_err()
                .code(),
            ErrorCode::InvalidParameter
        );
    }
    for good in ["a", "My_Queue-1", "orders.fifo", &"x".repeat(80)] {
        assert!(is_valid_queue_name(good), "{good}");
    }
}

#[test]
fn bad_tags_and_utf8_refused() {
    // Option tag 2.
    let p = [1u8, 1, 2];
    assert_eq!(
        Request::decode(Opcode::Hello as u8, &p).unwrap_err().code(),
        ErrorCode::MalformedFrame
    );
    // Invalid UTF-8 in a queue name.
    let p = [2u8, 0, 0xff, 0xfe];
    assert!(matches!(
        Request::decode(Opcode::GetQueue as u8, &p),
        Err(ProtocolError::InvalidUtf8(_))
    ));
    // Duplicate keys in a map.
    let mut p = vec![1u8, 0, b'q', 2, 0];
    for _ in 0..2 {
        p.extend_from_slice(&[1, 0, b'k', 1, 0, 0, 0, b'v']);
    }
    p.extend_from_slice(&[0, 0]);
    assert_eq!(
        Request::decode(Opcode::CreateQueue as u8, &p),
        Err(ProtocolError::DuplicateKey("queue attributes"))
    );
}

#[test]
fn encode_refuses_values_over_limits() {
    let q = Cow::Borrowed("q");
    let too_many = Request::Send {
        queue: q.clone(),
        entries: vec![
            SendEntry {
                attributes: vec![
                    MessageAttribute {
                        name: "a".into(),
                        data_type: "String".into(),
                        value: AttributeValue::String("v".into()),
                    };
                    MAX_MESSAGE_ATTRIBUTES + 1
                ],
                ..SendEntry::default()
            };
            1
        ],
    };
    let mut out = vec![42];
    assert!(too_many.encode(1, &mut out).is_err());
    assert_eq!(out, [42]);
    let empty = Request::Delete {
        queue: q.clone(),
        receipt_handles: vec![],
    };
    assert_eq!(
        empty.encode(1, &mut out).unwrap_err().code(),
        ErrorCode::EmptyBatch
    );
    let long_id = Request::Send {
        queue: q,
        entries: vec![SendEntry {
            group_id: Some("g".repeat(MAX_ID_LEN + 1).into()),
            ..SendEntry::default()
        }],
    };
    assert!(long_id.encode(1, &mut out).is_err());
    assert_eq!(out, [42]);
}

#[test]
fn send_decode_borrows_bodies() {
    let body = vec![7u8; 1000];
    let req = Request::Send {
        queue: "q".into(),
        entries: vec![SendEntry {
            body: Cow::Borrowed(&body),
            ..SendEntry::default()
        }],
    };
    let bytes = encode_req(&req, 1);
    let (f, _) = decode_frame(&bytes, DEFAULT_MAX_FRAME).unwrap().unwrap();
    match Request::from_frame(&f).unwrap() {
        Request::Send { entries, .. } => {
            assert!(matches!(entries[0].body, Cow::Borrowed(_)));
            assert_eq!(&*entries[0].body, &body[..]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_codes_are_stable_and_total() {
    let expected: &[(u16, &str)] = &[
        (1, "MalformedFrame"),
        (2, "UnsupportedVersion"),
        (3, "UnknownOpcode"),
        (4, "FrameTooLarge"),
        (5, "BatchTooLarge"),
        (6, "EmptyBatch"),
        (7, "HandshakeRequired"),
        (8, "Unauthorized"),
        (9, "Busy"),
        (10, "ShuttingDown"),
        (100, "InternalError"),
        (101, "QueueDoesNotExist"),
        (102, "QueueNameExists"),
        (103, "InvalidAttributeName"),
        (104, "InvalidAttributeValue"),
        (105, "QueueDeletedRecently"),
        (106, "PurgeQueueInProgress"),
        (107, "ReceiptHandleIsInvalid"),
        (108, "ReceiptHandleExpired"),
        (109, "MessageNotInflight"),
        (110, "OverLimit"),
        (111, "InvalidParameter"),
        (112, "MissingParameter"),
        (113, "MessageTooLong"),
        (114, "InvalidMessageContents"),
        (115, "RedriveNotAllowed"),
        (116, "OutOfSpace"),
        (117, "StorageError"),
    ];
    assert_eq!(ErrorCode::ALL.len(), expected.len());
    for (c, (v, name)) in ErrorCode::ALL.iter().zip(expected) {
        assert_eq!(c.as_u16(), *v);
        assert_eq!(c.name(), *name);
        assert_eq!(ErrorCode::from_u16(*v), *c);
    }
    for v in 0..=u16::MAX {
        assert_eq!(ErrorCode::from_u16(v).as_u16(), v);
    }
    assert_eq!(ErrorCode::from_u16(999), ErrorCode::Unknown(999));
}

#[test]
fn opcodes_are_stable() {
    let expected: &[(Opcode, u8)] = &[
        (Opcode::Hello, 0x01),
        (Opcode::Ping, 0x02),
        (Opcode::CreateQueue, 0x10),
        (Opcode::DeleteQueue, 0x11),
        (Opcode::GetQueue, 0x12),
        (Opcode::ListQueues, 0x13),
        (Opcode::GetQueueAttributes, 0x14),
        (Opcode::SetQueueAttributes, 0x15),
        (Opcode::PurgeQueue, 0x16),
        (Opcode::TagQueue, 0x19),
        (Opcode::UntagQueue, 0x1A),
        (Opcode::ListQueueTags, 0x1B),
        (Opcode::ListDeadLetterSourceQueues, 0x17),
        (Opcode::Redrive, 0x18),
        (Opcode::Send, 0x20),
        (Opcode::Receive, 0x21),
        (Opcode::Delete, 0x22),
        (Opcode::ChangeVisibility, 0x23),
    ];
    assert_eq!(Opcode::ALL.len(), expected.len());
    for (o, v) in expected {
        assert_eq!(*o as u8, *v);
        assert_eq!(Opcode::from_u8(*v), Some(*o));
        assert_eq!(o.response(), v | 0x80);
    }
    assert_eq!(ERROR_OPCODE, 0xff);
}

#[test]
fn wire_error_message_is_cut_to_the_limit() {
    let e = WireError::new(ErrorCode::InternalError, "é".repeat(MAX_ERROR_MESSAGE_LEN));
    assert!(e.message.len() <= MAX_ERROR_MESSAGE_LEN);
    let r = Response::Error(e);
    let bytes = encode_resp(&r, 3);
    let (f, _) = decode_frame(&bytes, DEFAULT_MAX_FRAME).unwrap().unwrap();
    assert_eq!(Response::from_frame(&f).unwrap(), r);
}

#[test]
fn hello_example_bytes() {
    // The worked example of docs/protocol.md.
    let req = Request::Hello {
        min_version: 1,
        max_version: 1,
        api_key: Some(Cow::Borrowed(b"k1")),
    };
    let bytes = encode_req(&req, 1);
    assert_eq!(
        bytes,
        [
            0x13, 0, 0, 0, // length 19
            1, 0x01, 0, 0, // version, opcode Hello, flags
            1, 0, 0, 0, 0, 0, 0, 0, // request id 1
            1, 1, // min, max version
            1, 2, 0, b'k', b'1', // api key present, len 2
        ]
    );
}
