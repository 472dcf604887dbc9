//! Runs the `protocol_decode` and `sqs_request` fuzz targets over their seed corpora in
//! `fuzz/corpus/<target>/`, so CI exercises them on stable Rust without cargo-fuzz.
//! Regenerate the seeds with
//! `cargo test -p spool-protocol --test fuzz_corpus -- --ignored write_seed_corpus` and
//! `... -- --ignored write_sqs_seed_corpus`.

use std::borrow::Cow;

use spool_protocol::*;
use spool_testkit::{fuzz_corpus, fuzz_corpus_dir};

#[test]
fn protocol_decode_corpus() {
    for data in fuzz_corpus("protocol_decode") {
        spool_protocol::fuzzing::fuzz_decode(&data);
    }
}

#[test]
fn sqs_request_corpus() {
    for data in fuzz_corpus("sqs_request") {
        spool_protocol::fuzzing::fuzz_sqs_request(&data);
    }
}

/// The seeds must reach the parser's success path, not only its errors: most of them
/// parse, and each of the main actions parses from both wires.
#[test]
fn sqs_request_seeds_parse() {
    use spool_protocol::sqs::{parse, Action, HttpRequest};
    let mut parsed = std::collections::HashSet::new();
    for (name, data) in sqs_seeds() {
        if name.starts_with("bad-") {
            continue;
        }
        let (flags, pick, rest) = (data[0], data[1] as usize, &data[2..]);
        let action = Action::ALL[pick];
        let target = format!("AmazonSQS.{}", action.name());
        let body = [format!("Action={}&", action.name()).as_bytes(), rest].concat();
        let json = flags & 1 == 1;
        let req = HttpRequest {
            method: "POST",
            path: if flags & 8 != 0 {
                "/000000000000/fuzz-q"
            } else {
                "/"
            },
            query: None,
            target: json.then_some(target.as_str()),
            content_type: None,
            body: if json { rest } else { &body },
        };
        let r = parse(&req).unwrap_or_else(|e| panic!("seed {name}: {e:?}"));
        parsed.insert((json, r.1.action()));
    }
    for a in [
        Action::CreateQueue,
        Action::SendMessage,
        Action::SendMessageBatch,
        Action::ReceiveMessage,
        Action::DeleteMessage,
        Action::DeleteMessageBatch,
        Action::ChangeMessageVisibility,
    ] {
        assert!(parsed.contains(&(true, a)), "no JSON seed for {a}");
        assert!(parsed.contains(&(false, a)), "no query seed for {a}");
    }
}

/// Seeds for `sqs_request`: byte 0 flags (bit 0 JSON), byte 1 the index of the action in
/// `Action::ALL`, then the body as boto3 sends it (the query form without `Action=`,
/// which the target adds).
fn sqs_seeds() -> Vec<(String, Vec<u8>)> {
    use spool_protocol::sqs::Action;
    let idx = |a: Action| Action::ALL.iter().position(|&x| x == a).unwrap() as u8;
    let url = "http://127.0.0.1:9324/000000000000/orders";
    let furl = "http://127.0.0.1:9324/000000000000/orders.fifo";
    let handle = "0.AQAAAAAAAAAAAAABAAAAAQAAAGt_cUMWj8N5ejo-661DJ7s";
    let json_seeds: Vec<(&str, Action, String)> = vec![
        ("create", Action::CreateQueue, r#"{"QueueName":"orders","Attributes":{"VisibilityTimeout":"30","DelaySeconds":"0"},"tags":{"team":"a"}}"#.into()),
        ("create-fifo", Action::CreateQueue, r#"{"QueueName":"orders.fifo","Attributes":{"FifoQueue":"true","ContentBasedDeduplication":"true"}}"#.into()),
        ("get-url", Action::GetQueueUrl, r#"{"QueueName":"orders"}"#.into()),
        ("list", Action::ListQueues, r#"{"QueueNamePrefix":"ord","MaxResults":10}"#.into()),
        ("get-attrs", Action::GetQueueAttributes, format!(r#"{{"QueueUrl":"{url}","AttributeNames":["All"]}}"#)),
        ("set-attrs", Action::SetQueueAttributes, format!(r#"{{"QueueUrl":"{url}","Attributes":{{"RedrivePolicy":"{{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:dlq\",\"maxReceiveCount\":\"3\"}}"}}}}"#)),
        ("purge", Action::PurgeQueue, format!(r#"{{"QueueUrl":"{url}"}}"#)),
        ("send", Action::SendMessage, format!(r#"{{"QueueUrl":"{url}","MessageBody":"hello world","DelaySeconds":5,"MessageAttributes":{{"n":{{"DataType":"Number","StringValue":"42"}},"b":{{"DataType":"Binary","BinaryValue":"AAEC/w=="}},"s":{{"DataType":"String.custom","StringValue":"é😀"}}}},"MessageSystemAttributes":{{"AWSTraceHeader":{{"DataType":"String","StringValue":"Root=1-5759e988-bd862e3fe1be46a994272793"}}}}}}"#)),
        ("send-fifo", Action::SendMessage, format!(r#"{{"QueueUrl":"{furl}","MessageBody":"{{\"k\":1}}","MessageGroupId":"g1","MessageDeduplicationId":"d-1"}}"#)),
        ("send-batch", Action::SendMessageBatch, format!(r#"{{"QueueUrl":"{url}","Entries":[{{"Id":"a","MessageBody":"one"}},{{"Id":"b","MessageBody":"two","DelaySeconds":1,"MessageAttributes":{{"k":{{"DataType":"String","StringValue":"v"}}}}}},{{"Id":"c_3","MessageBody":"\\u0001bad"}}]}}"#)),
        ("receive", Action::ReceiveMessage, format!(r#"{{"QueueUrl":"{url}","MaxNumberOfMessages":10,"VisibilityTimeout":30,"WaitTimeSeconds":20,"MessageSystemAttributeNames":["All"],"AttributeNames":["SentTimestamp"],"MessageAttributeNames":["All","x.*"],"ReceiveRequestAttemptId":"r-1"}}"#)),
        ("delete", Action::DeleteMessage, format!(r#"{{"QueueUrl":"{url}","ReceiptHandle":"{handle}"}}"#)),
        ("delete-batch", Action::DeleteMessageBatch, format!(r#"{{"QueueUrl":"{url}","Entries":[{{"Id":"0","ReceiptHandle":"{handle}"}},{{"Id":"1","ReceiptHandle":"x"}}]}}"#)),
        ("change-vis", Action::ChangeMessageVisibility, format!(r#"{{"QueueUrl":"{url}","ReceiptHandle":"{handle}","VisibilityTimeout":0}}"#)),
        ("change-vis-batch", Action::ChangeMessageVisibilityBatch, format!(r#"{{"QueueUrl":"{url}","Entries":[{{"Id":"0","ReceiptHandle":"{handle}","VisibilityTimeout":60}},{{"Id":"1","ReceiptHandle":"y"}}]}}"#)),
        ("tag", Action::TagQueue, format!(r#"{{"QueueUrl":"{url}","Tags":{{"env":"prod"}}}}"#)),
        ("untag", Action::UntagQueue, format!(r#"{{"QueueUrl":"{url}","TagKeys":["env"]}}"#)),
        ("add-permission", Action::AddPermission, format!(r#"{{"QueueUrl":"{url}","Label":"l1","AWSAccountIds":["111122223333"],"Actions":["SendMessage"]}}"#)),
        ("dlq-sources", Action::ListDeadLetterSourceQueues, format!(r#"{{"QueueUrl":"{url}","MaxResults":5,"NextToken":"t"}}"#)),
        ("start-move", Action::StartMessageMoveTask, r#"{"SourceArn":"arn:aws:sqs:us-east-1:000000000000:dlq","MaxNumberOfMessagesPerSecond":50}"#.into()),
        ("list-moves", Action::ListMessageMoveTasks, r#"{"SourceArn":"arn:aws:sqs:us-east-1:000000000000:dlq","MaxResults":10}"#.into()),
        ("cancel-move", Action::CancelMessageMoveTask, r#"{"TaskHandle":"eyJ0YXNrSWQiOiIxIn0="}"#.into()),
    ];
    let query_seeds: Vec<(&str, Action, String)> = vec![
        ("create", Action::CreateQueue, "QueueName=orders&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=30&Tag.1.Key=team&Tag.1.Value=a&Version=2012-11-05".into()),
        ("send", Action::SendMessage, "QueueUrl=http%3A%2F%2F127.0.0.1%3A9324%2F000000000000%2Forders&MessageBody=hello+world%21&DelaySeconds=5&MessageAttribute.1.Name=n&MessageAttribute.1.Value.DataType=Number&MessageAttribute.1.Value.StringValue=42&MessageAttribute.2.Name=b&MessageAttribute.2.Value.DataType=Binary&MessageAttribute.2.Value.BinaryValue=AAEC%2Fw%3D%3D&Version=2012-11-05".into()),
        ("send-fifo", Action::SendMessage, "QueueUrl=http%3A%2F%2F127.0.0.1%3A9324%2F000000000000%2Forders.fifo&MessageBody=x&MessageGroupId=g1&MessageDeduplicationId=d1&Version=2012-11-05".into()),
        ("send-batch", Action::SendMessageBatch, "QueueUrl=http%3A%2F%2F127.0.0.1%3A9324%2F000000000000%2Forders&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=one&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=two&SendMessageBatchRequestEntry.2.MessageAttribute.1.Name=k&SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.DataType=String&SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.StringValue=v&Version=2012-11-05".into()),
        ("receive", Action::ReceiveMessage, "QueueUrl=http%3A%2F%2F127.0.0.1%3A9324%2F000000000000%2Forders&MaxNumberOfMessages=10&WaitTimeSeconds=1&AttributeName.1=All&MessageAttributeName.1=All&MessageSystemAttributeName.1=SentTimestamp&Version=2012-11-05".into()),
        ("delete", Action::DeleteMessage, format!("QueueUrl=http%3A%2F%2F127.0.0.1%3A9324%2F000000000000%2Forders&ReceiptHandle={handle}&Version=2012-11-05")),
        ("delete-batch", Action::DeleteMessageBatch, format!("QueueUrl=http%3A%2F%2F127.0.0.1%3A9324%2F000000000000%2Forders&DeleteMessageBatchRequestEntry.1.Id=a&DeleteMessageBatchRequestEntry.1.ReceiptHandle={handle}&DeleteMessageBatchRequestEntry.2.Id=b&DeleteMessageBatchRequestEntry.2.ReceiptHandle=&Version=2012-11-05")),
        ("change-vis", Action::ChangeMessageVisibility, format!("QueueUrl=http%3A%2F%2F127.0.0.1%3A9324%2F000000000000%2Forders&ReceiptHandle={handle}&VisibilityTimeout=60&Version=2012-11-05")),
        ("change-vis-batch", Action::ChangeMessageVisibilityBatch, format!("QueueUrl=http%3A%2F%2F127.0.0.1%3A9324%2F000000000000%2Forders&ChangeMessageVisibilityBatchRequestEntry.1.Id=a&ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle={handle}&ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout=0&Version=2012-11-05")),
        ("get-attrs", Action::GetQueueAttributes, "QueueUrl=http%3A%2F%2F127.0.0.1%3A9324%2F000000000000%2Forders&AttributeName.1=All&Version=2012-11-05".into()),
        ("tag", Action::TagQueue, "QueueUrl=http%3A%2F%2F127.0.0.1%3A9324%2F000000000000%2Forders&Tag.1.Key=env&Tag.1.Value=prod&Version=2012-11-05".into()),
        ("add-permission", Action::AddPermission, "QueueUrl=http%3A%2F%2F127.0.0.1%3A9324%2F000000000000%2Forders&Label=l1&AWSAccountId.1=111122223333&ActionName.1=SendMessage&Version=2012-11-05".into()),
    ];
    let mut out = Vec::new();
    for (name, a, body) in json_seeds {
        out.push((
            format!("json-{name}"),
            [&[1, idx(a)], body.as_bytes()].concat(),
        ));
    }
    for (name, a, body) in query_seeds {
        out.push((
            format!("query-{name}"),
            [&[0, idx(a)], body.as_bytes()].concat(),
        ));
    }
    // Older SDKs POST to the queue URL itself, without QueueUrl.
    out.push((
        "query-path-purge".into(),
        [&[8, idx(Action::PurgeQueue)], &b"Version=2012-11-05"[..]].concat(),
    ));
    out.push((
        "bad-json-truncated".into(),
        [
            &[1, idx(Action::SendMessage)],
            &br#"{"QueueUrl":"q","MessageBody":"#[..],
        ]
        .concat(),
    ));
    out.push((
        "bad-json-wrong-type".into(),
        [
            &[1, idx(Action::ReceiveMessage)],
            &br#"{"QueueUrl":"q","MaxNumberOfMessages":"ten"}"#[..],
        ]
        .concat(),
    ));
    out.push((
        "bad-query-get-no-action".into(),
        [&[6, 0], &b"QueueName=a&Attribute.1.Name=x"[..]].concat(),
    ));
    out.push(("bad-unknown-action".into(), vec![1, 255, b'{', b'}']));
    out
}

#[test]
#[ignore = "writes the seed corpus; run by hand"]
fn write_sqs_seed_corpus() {
    let dir = fuzz_corpus_dir("sqs_request");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in sqs_seeds() {
        std::fs::write(dir.join(name), data).unwrap();
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
    let dir = fuzz_corpus_dir("protocol_decode");
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
