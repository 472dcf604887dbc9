//! Connection behaviour against a scripted fake server: handshake, pipelining with
//! responses out of order, typed helpers, and every way a hostile or broken server can
//! misbehave (garbage, oversized lengths, wrong ids and types, EOF, timeouts).

mod fake;

use std::borrow::Cow;
use std::sync::mpsc;
use std::time::Duration;

use fake::{serve, Peer};
use spool_client::protocol::{
    Map, Message, ProtocolError, Request, Response, SendEntry, SendOk, WireError,
};
use spool_client::{ClientError, Connection, ErrorCode, ReceiveOptions};

fn queue_id_of(resp: &Response<'_>) -> u64 {
    match resp {
        Response::Queue { queue_id } => *queue_id,
        other => panic!("not a Queue response: {other:?}"),
    }
}

fn get_queue(name: &str) -> Request<'_> {
    Request::GetQueue { name: name.into() }
}

#[test]
fn handshake_sends_the_key_and_records_the_limits() {
    let (mut cfg, server) = serve(|mut p| {
        let (id, key) = p.hello_with(1 << 20);
        assert_eq!(id, 1, "request ids start at 1");
        assert_eq!(key.as_deref(), Some(&b"secret"[..]));
        p.drain_until_eof();
    });
    cfg.api_key = Some(b"secret".to_vec());
    let conn = Connection::connect(&cfg).unwrap();
    assert_eq!(conn.hello().max_frame, 1 << 20);
    assert_eq!(conn.hello().max_batch, 10_000);
    assert_eq!(conn.hello().shard_count, 4);
    assert_eq!(conn.hello().version, 1);
    drop(conn);
    server.join().unwrap();
}

#[test]
fn refused_hello_is_a_server_error() {
    let (cfg, server) = serve(|mut p| {
        let (id, _) = p.read_request().unwrap();
        p.respond(id, &Response::error(ErrorCode::Unauthorized, "bad key"));
    });
    match Connection::connect(&cfg) {
        Err(ClientError::Server { code, message }) => {
            assert_eq!(code, ErrorCode::Unauthorized);
            assert_eq!(message, "bad key");
        }
        other => panic!("{other:?}"),
    }
    server.join().unwrap();
}

#[test]
fn out_of_order_responses_are_matched_by_id() {
    let (cfg, server) = serve(|mut p| {
        p.hello();
        let reqs = p.read_requests(6);
        // Answer in reverse order; each answer encodes its request's id.
        for (id, req) in reqs.iter().rev() {
            assert!(matches!(req, Request::GetQueue { .. }));
            p.respond(*id, &Response::Queue { queue_id: id * 10 });
        }
        p.drain_until_eof();
    });
    let mut c = Connection::connect(&cfg).unwrap();
    let ids: Vec<u64> = (0..6).map(|_| c.submit(&get_queue("q")).unwrap()).collect();
    assert_eq!(
        ids,
        vec![2, 3, 4, 5, 6, 7],
        "a counter after the Hello's id 1"
    );
    assert_eq!(c.in_flight(), 6);

    // Waiting for the third stashes the three that arrive before it (7, 6, 5).
    assert_eq!(queue_id_of(&c.wait_for(4).unwrap()), 40);
    assert_eq!(c.in_flight(), 5);
    // Stashed responses come back in arrival order, then the rest from the socket.
    let mut order = Vec::new();
    for _ in 0..3 {
        let (id, resp) = c.next_response().unwrap();
        assert_eq!(queue_id_of(&resp), id * 10);
        order.push(id);
    }
    assert_eq!(order, vec![7, 6, 5]);
    assert_eq!(queue_id_of(&c.wait_for(2).unwrap()), 20);
    let (id, resp) = c.next_response().unwrap();
    assert_eq!((id, queue_id_of(&resp)), (3, 30));
    assert_eq!(c.in_flight(), 0);
    // Nothing left: asking again is a caller error, not a hang, and not fatal.
    assert!(matches!(c.next_response(), Err(ClientError::Unexpected(_))));
    assert!(matches!(c.wait_for(3), Err(ClientError::Unexpected(_))));
    assert!(!c.is_poisoned());
    drop(c);
    server.join().unwrap();
}

#[test]
fn wait_for_in_submission_order_with_shuffled_answers() {
    const N: u64 = 200;
    let (cfg, server) = serve(|mut p| {
        p.hello();
        let reqs = p.read_requests(N as usize);
        // A fixed shuffle: odd ids first, descending, then even ids ascending.
        let mut ids: Vec<u64> = reqs.iter().map(|(id, _)| *id).collect();
        ids.sort_by_key(|id| {
            if id % 2 == 1 {
                (0, u64::MAX - id)
            } else {
                (1, *id)
            }
        });
        for id in ids {
            p.respond(id, &Response::Queue { queue_id: id * 10 });
        }
        p.drain_until_eof();
    });
    let mut c = Connection::connect(&cfg).unwrap();
    let ids: Vec<u64> = (0..N).map(|_| c.submit(&get_queue("q")).unwrap()).collect();
    c.flush().unwrap();
    for id in ids {
        assert_eq!(queue_id_of(&c.wait_for(id).unwrap()), id * 10);
    }
    assert_eq!(c.in_flight(), 0);
    drop(c);
    server.join().unwrap();
}

#[test]
fn error_responses_stay_responses_when_pipelined_and_become_errors_in_call() {
    let (cfg, server) = serve(|mut p| {
        p.hello();
        for _ in 0..2 {
            let (id, _) = p.read_request().unwrap();
            p.respond(
                id,
                &Response::error(ErrorCode::QueueDoesNotExist, "no such queue"),
            );
        }
        p.drain_until_eof();
    });
    let mut c = Connection::connect(&cfg).unwrap();
    let id = c.submit(&get_queue("missing")).unwrap();
    match c.wait_for(id).unwrap() {
        Response::Error(e) => assert_eq!(e.code, ErrorCode::QueueDoesNotExist),
        other => panic!("{other:?}"),
    }
    let err = c.get_queue("missing").unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::QueueDoesNotExist));
    assert_eq!(err.to_string(), "QueueDoesNotExist: no such queue");
    assert!(
        !c.is_poisoned(),
        "a refused request leaves the connection usable"
    );
    drop(c);
    server.join().unwrap();
}

/// A typed helper's round trip: `call` runs on a fresh connection to a fake server whose
/// `answer` checks each request the helper sends (in order, `n` of them) and returns the
/// reply. The typed-helper tests below each cover one helper this way.
fn round_trip(
    n: usize,
    mut answer: impl FnMut(Request<'static>) -> Response<'static> + Send + 'static,
    call: impl FnOnce(&mut Connection),
) {
    let (cfg, server) = serve(move |mut p| {
        p.hello();
        for _ in 0..n {
            let (id, req) = p.read_request().unwrap();
            p.respond(id, &answer(req));
        }
        p.drain_until_eof();
    });
    let mut c = Connection::connect(&cfg).unwrap();
    call(&mut c);
    assert_eq!(c.in_flight(), 0);
    drop(c);
    server.join().unwrap();
}

#[test]
fn ping_round_trips() {
    round_trip(
        1,
        |req| {
            assert_eq!(req, Request::Ping);
            Response::Pong
        },
        |c| c.ping().unwrap(),
    );
}

#[test]
fn create_queue_with_tags_sends_attributes_and_tags() {
    round_trip(
        1,
        |req| {
            let Request::CreateQueue {
                name,
                attributes,
                tags,
            } = req
            else {
                panic!()
            };
            assert_eq!(name, "jobs.fifo");
            assert_eq!(attributes.get("FifoQueue").map(|v| &**v), Some("true"));
            assert_eq!(tags.get("team").map(|v| &**v), Some("core"));
            Response::QueueCreated {
                queue_id: 77,
                created: true,
            }
        },
        |c| {
            assert_eq!(
                c.create_queue_with_tags(
                    "jobs.fifo",
                    &[("FifoQueue", "true")],
                    &[("team", "core")]
                )
                .unwrap(),
                77
            );
        },
    );
}

#[test]
fn list_queues_follows_the_next_token_across_pages() {
    let mut page = 0;
    round_trip(
        2,
        move |req| {
            page += 1;
            let Request::ListQueues {
                prefix, next_token, ..
            } = req
            else {
                panic!()
            };
            if page == 1 {
                assert_eq!((&*prefix, next_token), ("j", None));
                Response::Queues {
                    names: vec!["j1".into(), "j2".into()],
                    next_token: Some("t1".into()),
                }
            } else {
                assert_eq!(next_token.as_deref(), Some("t1"));
                Response::Queues {
                    names: vec!["j3".into()],
                    next_token: None,
                }
            }
        },
        |c| assert_eq!(c.list_queues("j").unwrap(), vec!["j1", "j2", "j3"]),
    );
}

#[test]
fn get_queue_attributes_asks_for_the_names_given() {
    round_trip(
        1,
        |req| {
            let Request::GetQueueAttributes {
                attribute_names, ..
            } = req
            else {
                panic!()
            };
            assert_eq!(attribute_names, vec![Cow::Borrowed("VisibilityTimeout")]);
            let mut attributes = Map::new();
            attributes.insert("VisibilityTimeout".into(), "30".into());
            Response::QueueAttributes { attributes }
        },
        |c| {
            let attrs = c
                .get_queue_attributes("jobs", &["VisibilityTimeout"])
                .unwrap();
            assert_eq!(
                attrs.get("VisibilityTimeout").map(String::as_str),
                Some("30")
            );
        },
    );
}

#[test]
fn send_bodies_answers_each_entry() {
    round_trip(
        1,
        |req| {
            let Request::Send { entries, .. } = req else {
                panic!()
            };
            assert_eq!(entries.len(), 2);
            assert_eq!(&*entries[1].body, b"two");
            Response::Sent {
                results: vec![
                    Ok(SendOk {
                        message_id: [9; 16],
                        sequence_number: Some(5),
                        duplicate: false,
                    }),
                    Err(WireError::new(ErrorCode::MessageTooLong, "too long")),
                ],
            }
        },
        |c| {
            let sent = c.send_bodies("jobs", &[b"one", b"two"]).unwrap();
            assert_eq!(sent[0].as_ref().unwrap().sequence_number, Some(5));
            assert_eq!(
                sent[1].as_ref().unwrap_err().code,
                ErrorCode::MessageTooLong
            );
        },
    );
}

#[test]
fn receive_sends_its_options_and_delete_the_handles_received() {
    round_trip(
        2,
        |req| match req {
            Request::Receive {
                max_messages,
                wait_time_ms,
                visibility_timeout_s,
                ..
            } => {
                assert_eq!(
                    (max_messages, wait_time_ms, visibility_timeout_s),
                    (10, 500, Some(7))
                );
                let m = Message {
                    message_id: [1; 16],
                    receipt_handle: Cow::Borrowed(b"rh-1"),
                    body: Cow::Borrowed(b"hello"),
                    receive_count: 1,
                    ..Default::default()
                };
                Response::Received { messages: vec![m] }
            }
            Request::Delete {
                receipt_handles, ..
            } => {
                assert_eq!(receipt_handles, vec![Cow::Borrowed(&b"rh-1"[..])]);
                Response::Deleted {
                    results: vec![Ok(())],
                }
            }
            other => panic!("{other:?}"),
        },
        |c| {
            let opts = ReceiveOptions {
                max_messages: 10,
                wait_time_ms: 500,
                visibility_timeout_s: Some(7),
                ..Default::default()
            };
            let msgs = c.receive("jobs", &opts).unwrap();
            assert_eq!(&*msgs[0].body, b"hello");
            let handles: Vec<&[u8]> = msgs.iter().map(|m| &*m.receipt_handle).collect();
            assert_eq!(c.delete("jobs", &handles).unwrap(), vec![Ok(())]);
        },
    );
}

#[test]
fn change_visibility_answers_each_entry() {
    round_trip(
        1,
        |req| {
            let Request::ChangeVisibility { entries, .. } = req else {
                panic!()
            };
            assert_eq!(entries[0].timeout_s, 60);
            Response::VisibilityChanged {
                results: vec![Err(WireError::new(
                    ErrorCode::ReceiptHandleIsInvalid,
                    "bad",
                ))],
            }
        },
        |c| {
            let changed = c.change_visibility("jobs", &[(b"rh-1", 60)]).unwrap();
            assert_eq!(
                changed[0].as_ref().unwrap_err().code,
                ErrorCode::ReceiptHandleIsInvalid
            );
        },
    );
}

#[test]
fn redrive_sends_its_destination_and_limit() {
    round_trip(
        1,
        |req| {
            let Request::Redrive {
                destination,
                max_messages,
                ..
            } = req
            else {
                panic!()
            };
            assert_eq!((destination.as_deref(), max_messages), (Some("main"), 100));
            Response::Redriven { moved: 12 }
        },
        |c| assert_eq!(c.redrive("dlq", Some("main"), 100).unwrap(), 12),
    );
}

#[test]
fn list_dead_letter_source_queues_returns_the_names() {
    round_trip(
        1,
        |_| Response::DeadLetterSourceQueues {
            names: vec!["src".into()],
            next_token: None,
        },
        |c| {
            assert_eq!(
                c.list_dead_letter_source_queues("dlq").unwrap(),
                vec!["src"]
            );
        },
    );
}

#[test]
fn delete_and_purge_queue_round_trip() {
    round_trip(
        2,
        |req| match req {
            Request::DeleteQueue { .. } => Response::QueueDeleted,
            Request::PurgeQueue { .. } => Response::Purged,
            other => panic!("{other:?}"),
        },
        |c| {
            c.delete_queue("jobs").unwrap();
            c.purge_queue("jobs").unwrap();
        },
    );
}

#[test]
fn set_queue_attributes_sends_them() {
    round_trip(
        1,
        |req| {
            let Request::SetQueueAttributes { attributes, .. } = req else {
                panic!()
            };
            assert_eq!(attributes.len(), 1);
            Response::QueueAttributesSet
        },
        |c| {
            c.set_queue_attributes("jobs", &[("DelaySeconds", "1")])
                .unwrap();
        },
    );
}

#[test]
fn get_queue_returns_the_queue_id() {
    round_trip(
        1,
        |_| Response::Queue { queue_id: 5 },
        |c| assert_eq!(c.get_queue("jobs").unwrap(), 5),
    );
}

#[test]
fn send_with_full_entries_borrows_and_answers_positionally() {
    let (cfg, server) = serve(|mut p| {
        p.hello();
        let (id, req) = p.read_request().unwrap();
        let Request::Send { entries, .. } = req else {
            panic!()
        };
        assert_eq!(entries[0].group_id.as_deref(), Some("g"));
        assert_eq!(entries[0].dedup_id.as_deref(), Some("d"));
        assert_eq!(entries[0].delay_s, Some(3));
        // One result for two entries: a server bug the client must catch.
        p.respond(
            id,
            &Response::Sent {
                results: vec![Err(WireError::new(ErrorCode::InternalError, "x"))],
            },
        );
        p.drain_until_eof();
    });
    let mut c = Connection::connect(&cfg).unwrap();
    let entry = SendEntry {
        body: Cow::Owned(b"body".to_vec()),
        delay_s: Some(3),
        group_id: Some("g".into()),
        dedup_id: Some("d".into()),
        ..Default::default()
    };
    let err = c.send("q.fifo", &[entry.clone(), entry]).unwrap_err();
    assert!(matches!(err, ClientError::Unexpected(_)), "{err:?}");
    drop(c);
    server.join().unwrap();
}

#[test]
fn wrong_response_type_is_unexpected_and_poisons() {
    let (cfg, server) = serve(|mut p| {
        p.hello();
        let (id, _) = p.read_request().unwrap();
        p.respond(id, &Response::QueueDeleted);
        p.drain_until_eof();
    });
    let mut c = Connection::connect(&cfg).unwrap();
    assert!(matches!(c.ping(), Err(ClientError::Unexpected(_))));
    assert!(c.is_poisoned());
    // Later calls fail at once instead of reading a stream that cannot be trusted.
    assert!(matches!(c.ping(), Err(ClientError::Io(_))));
    drop(c);
    server.join().unwrap();
}

#[test]
fn response_to_an_unknown_id_is_unexpected() {
    let (cfg, server) = serve(|mut p| {
        p.hello();
        let (id, _) = p.read_request().unwrap();
        p.respond(id + 1000, &Response::Pong);
        p.drain_until_eof();
    });
    let mut c = Connection::connect(&cfg).unwrap();
    assert!(matches!(c.ping(), Err(ClientError::Unexpected(_))));
    assert!(c.is_poisoned());
    drop(c);
    server.join().unwrap();
}

#[test]
fn error_for_request_id_zero_is_the_servers_verdict_on_the_stream() {
    let (cfg, server) = serve(|mut p| {
        p.hello();
        let _ = p.read_request().unwrap();
        p.respond(0, &Response::error(ErrorCode::ShuttingDown, "bye"));
    });
    let mut c = Connection::connect(&cfg).unwrap();
    let err = c.ping().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::ShuttingDown));
    assert!(c.is_poisoned());
    server.join().unwrap();
}

/// The error a ping gets from a server that answers it with `bytes` (after a Hello
/// announcing `max_frame`); checks the connection is poisoned by it.
fn answer_raw(max_frame: u32, bytes: Vec<u8>) -> ClientError {
    let (cfg, server) = serve(move |mut p| {
        p.hello_with(max_frame);
        let _ = p.read_request().unwrap();
        p.write_raw(&bytes);
        p.drain_until_eof();
    });
    let mut c = Connection::connect(&cfg).unwrap();
    let err = c.ping().unwrap_err();
    assert!(c.is_poisoned());
    drop(c);
    server.join().unwrap();
    err
}

#[test]
fn garbage_is_a_protocol_error() {
    // Declared length 3: below the header size.
    let err = answer_raw(1 << 20, vec![3, 0, 0, 0, 0xde, 0xad, 0xbe]);
    assert!(
        matches!(
            err,
            ClientError::Protocol(ProtocolError::FrameTooShort { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn oversized_length_is_refused_from_the_prefix() {
    // Declares a 100 MB frame and sends only the prefix: the client must refuse at once
    // rather than wait or allocate.
    let err = answer_raw(1 << 20, (100_000_000u32).to_le_bytes().to_vec());
    assert!(
        matches!(
            err,
            ClientError::Protocol(ProtocolError::FrameTooLarge { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn unknown_version_is_a_protocol_error() {
    let mut frame = Vec::new();
    Response::Pong.encode(2, &mut frame).unwrap();
    frame[4] = 9;
    let err = answer_raw(1 << 20, frame);
    assert!(
        matches!(
            err,
            ClientError::Protocol(ProtocolError::UnsupportedVersion(9))
        ),
        "{err:?}"
    );
}

#[test]
fn malformed_payload_is_a_protocol_error() {
    let mut frame = Vec::new();
    Response::Queue { queue_id: 1 }
        .encode(2, &mut frame)
        .unwrap();
    // Ping's response opcode with a Queue payload: trailing bytes.
    frame[5] = 0x82;
    let err = answer_raw(1 << 20, frame);
    assert!(matches!(err, ClientError::Protocol(_)), "{err:?}");
}

#[test]
fn garbage_before_hello_fails_connect() {
    let (cfg, server) = serve(|mut p| {
        let _ = p.read_request();
        p.write_raw(&[0xff; 64]);
    });
    let err = Connection::connect(&cfg).unwrap_err();
    assert!(matches!(err, ClientError::Protocol(_)), "{err:?}");
    server.join().unwrap();
}

#[test]
fn eof_is_closed() {
    let (cfg, server) = serve(|mut p| {
        p.hello();
        let _ = p.read_request();
        // Dropping the peer closes the socket without answering.
    });
    let mut c = Connection::connect(&cfg).unwrap();
    assert!(matches!(c.ping(), Err(ClientError::Closed)));
    assert!(c.is_poisoned());
    server.join().unwrap();
}

#[test]
fn eof_in_the_middle_of_a_frame_is_closed() {
    let mut frame = Vec::new();
    Response::Pong.encode(2, &mut frame).unwrap();
    frame.truncate(10);
    let (cfg, server) = serve(move |mut p| {
        p.hello();
        let _ = p.read_request();
        p.write_raw(&frame);
    });
    let mut c = Connection::connect(&cfg).unwrap();
    assert!(matches!(c.ping(), Err(ClientError::Closed)));
    server.join().unwrap();
}

#[test]
fn request_over_the_servers_max_frame_is_refused_locally() {
    let (cfg, server) = serve(|mut p| {
        p.hello_with(4096);
        let (id, req) = p.read_request().unwrap();
        assert_eq!(
            req,
            Request::Ping,
            "the oversized send never reached the server"
        );
        p.respond(id, &Response::Pong);
        p.drain_until_eof();
    });
    let mut c = Connection::connect(&cfg).unwrap();
    let big = vec![b'x'; 10_000];
    let err = c.send_bodies("q", &[&big]).unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Protocol(ProtocolError::FrameTooLarge { .. })
        ),
        "{err:?}"
    );
    assert!(!c.is_poisoned());
    assert_eq!(c.in_flight(), 0);
    c.ping().unwrap();
    drop(c);
    server.join().unwrap();
}

#[test]
fn large_responses_and_byte_by_byte_responses_decode() {
    let (cfg, server) = serve(|mut p| {
        p.hello();
        // A 3 MB message: the read buffer has to grow past its first size.
        let (id, _) = p.read_request().unwrap();
        let body = vec![7u8; 3 << 20];
        let m = Message {
            receipt_handle: Cow::Borrowed(b"h"),
            body: Cow::Borrowed(&body),
            ..Default::default()
        };
        p.respond(id, &Response::Received { messages: vec![m] });
        // Then three responses dribbled out one byte at a time.
        let reqs = p.read_requests(3);
        let mut bytes = Vec::new();
        for (id, _) in &reqs {
            Response::Queue { queue_id: *id }
                .encode(*id, &mut bytes)
                .unwrap();
        }
        for b in bytes {
            p.write_raw(&[b]);
        }
        p.drain_until_eof();
    });
    let mut c = Connection::connect(&cfg).unwrap();
    let msgs = c.receive("q", &ReceiveOptions::default()).unwrap();
    assert_eq!(msgs[0].body.len(), 3 << 20);
    let ids: Vec<u64> = (0..3).map(|_| c.submit(&get_queue("q")).unwrap()).collect();
    for id in ids {
        assert_eq!(queue_id_of(&c.wait_for(id).unwrap()), id);
    }
    drop(c);
    server.join().unwrap();
}

#[test]
fn read_timeout_is_an_io_error_that_leaves_the_connection_usable() {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (mut cfg, server) = serve(move |mut p: Peer| {
        p.hello();
        let (id, _) = p.read_request().unwrap();
        // Answer only once the client has seen its timeout.
        go_rx.recv().unwrap();
        p.respond(id, &Response::Pong);
        p.drain_until_eof();
    });
    cfg.io_timeout = Some(Duration::from_millis(100));
    let mut c = Connection::connect(&cfg).unwrap();
    let id = c.submit(&Request::Ping).unwrap();
    match c.wait_for(id) {
        Err(ClientError::Io(e)) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(!c.is_poisoned());
    go_tx.send(()).unwrap();
    // The answer may still take a moment: allow a few timeouts, bounded.
    let mut got = None;
    for _ in 0..100 {
        match c.wait_for(id) {
            Ok(r) => {
                got = Some(r);
                break;
            }
            Err(ClientError::Io(_)) => {} // a read timeout: wait again
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(got, Some(Response::Pong));
    drop(c);
    server.join().unwrap();
}

#[test]
fn connection_refused_names_the_address() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let cfg = spool_client::ClientConfig {
        addr: addr.clone(),
        ..Default::default()
    };
    let err = Connection::connect(&cfg).unwrap_err();
    assert!(matches!(err, ClientError::Io(_)), "{err:?}");
    assert!(err.to_string().contains(&addr), "{err}");
}

#[test]
fn borrowed_responses_interleave_with_owned_ones_and_with_the_stash() {
    let receive = || Request::Receive {
        queue: "q".into(),
        max_messages: 1,
        visibility_timeout_s: None,
        wait_time_ms: 0,
        attribute_names: vec![],
        system_attributes: false,
    };
    let (cfg, server) = serve(|mut p| {
        p.hello();
        let reqs = p.read_requests(5);
        assert_eq!(
            reqs.iter().map(|r| r.0).collect::<Vec<_>>(),
            [2, 3, 4, 5, 6]
        );
        // 3 before 2 (waiting for 2 stashes 3), then the two receives, then 6, all
        // dribbled in 7-byte pieces so frames straddle reads.
        let mut bytes = Vec::new();
        for (id, q) in [(3u64, 30u64), (2, 20)] {
            Response::Queue { queue_id: q }
                .encode(id, &mut bytes)
                .unwrap();
        }
        for (id, body) in [(4u64, &b"four"[..]), (5, &b"five"[..])] {
            let m = Message {
                receipt_handle: Cow::Borrowed(b"0.h"),
                body: Cow::Borrowed(body),
                ..Default::default()
            };
            Response::Received { messages: vec![m] }
                .encode(id, &mut bytes)
                .unwrap();
        }
        Response::Queue { queue_id: 60 }
            .encode(6, &mut bytes)
            .unwrap();
        for chunk in bytes.chunks(7) {
            p.write_raw(chunk);
        }
        p.drain_until_eof();
    });
    let mut c = Connection::connect(&cfg).unwrap();
    c.submit(&get_queue("q")).unwrap();
    c.submit(&get_queue("q")).unwrap();
    c.submit(&receive()).unwrap();
    c.submit(&receive()).unwrap();
    c.submit(&get_queue("q")).unwrap();
    assert_eq!(queue_id_of(&c.wait_for(2).unwrap()), 20);
    // The stashed response comes first, owned or not.
    let (id, resp) = c.next_response_ref().unwrap();
    assert_eq!((id, queue_id_of(&resp)), (3, 30));
    // A borrowed receive...
    let (id, resp) = c.next_response_ref().unwrap();
    match resp {
        Response::Received { messages } => {
            assert_eq!(id, 4);
            assert_eq!(&messages[0].body[..], b"four");
            assert!(matches!(messages[0].body, Cow::Borrowed(_)), "not copied");
        }
        other => panic!("{other:?}"),
    }
    // ...is consumed by the next call, whichever kind it is.
    let (id, resp) = c.next_response().unwrap();
    match resp {
        Response::Received { messages } => {
            assert_eq!(id, 5);
            assert_eq!(&messages[0].body[..], b"five");
        }
        other => panic!("{other:?}"),
    }
    let (id, resp) = c.next_response_ref().unwrap();
    assert_eq!((id, queue_id_of(&resp)), (6, 60));
    assert_eq!(c.in_flight(), 0);
    assert!(matches!(
        c.next_response_ref(),
        Err(ClientError::Unexpected(_))
    ));
    assert!(!c.is_poisoned());
    drop(c);
    server.join().unwrap();
}

#[test]
fn a_malformed_borrowed_response_poisons() {
    let (cfg, server) = serve(|mut p| {
        p.hello();
        let (id, _) = p.read_request().unwrap();
        let mut frame = Vec::new();
        Response::Queue { queue_id: 1 }
            .encode(id, &mut frame)
            .unwrap();
        // A GetQueue answer with one byte too many in its payload.
        frame.push(0);
        let len = (frame.len() - 4) as u32;
        frame[..4].copy_from_slice(&len.to_le_bytes());
        p.write_raw(&frame);
        p.drain_until_eof();
    });
    let mut c = Connection::connect(&cfg).unwrap();
    c.submit(&get_queue("q")).unwrap();
    let err = c.next_response_ref().unwrap_err();
    assert!(matches!(err, ClientError::Protocol(_)), "{err:?}");
    assert!(c.is_poisoned());
    assert!(c.submit(&get_queue("q")).is_err());
    drop(c);
    server.join().unwrap();
}
