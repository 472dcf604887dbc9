//! Unit tests of the success renderers.

use super::*;
use serde_json::{json, Value};

fn body(r: &HttpReply) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

#[test]
fn empty_results() {
    let r = render(Wire::Json, Action::DeleteQueue, &SqsResponse::Empty, "x");
    assert_eq!((r.status, body(&r).as_str()), (200, "{}"));
    let r = render(
        Wire::Json,
        Action::ReceiveMessage,
        &SqsResponse::ReceiveMessage { messages: vec![] },
        "x",
    );
    assert_eq!(body(&r), "{}");
    let r = render(Wire::Query, Action::DeleteQueue, &SqsResponse::Empty, "rid");
    assert_eq!(
        body(&r),
        "<?xml version=\"1.0\"?><DeleteQueueResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DeleteQueueResponse>"
    );
    assert_eq!(r.content_type, "text/xml");
}

#[test]
fn send_message_json_omits_absent() {
    let resp = SqsResponse::SendMessage(SendMessageResult {
        message_id: "m".into(),
        md5_of_message_body: "d".into(),
        ..Default::default()
    });
    let r = render(Wire::Json, Action::SendMessage, &resp, "x");
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v, json!({"MessageId": "m", "MD5OfMessageBody": "d"}));
}

#[test]
fn dead_letter_sources_use_model_name() {
    let resp = SqsResponse::ListDeadLetterSourceQueues {
        queue_urls: vec![],
        next_token: None,
    };
    let r = render(Wire::Json, Action::ListDeadLetterSourceQueues, &resp, "x");
    assert_eq!(body(&r), r#"{"queueUrls":[]}"#);
}

#[test]
fn strings_are_escaped_exactly_as_serde_json_escapes_them() {
    let mut cases: Vec<String> = vec![
        String::new(),
        "plain ascii text of more than sixteen bytes".into(),
        "quote\" in the middle of a long string".into(),
        "back\\slash".into(),
        "ctl\u{1f}".into(),
        "tab\tand\nnewline".into(),
        "del\u{7f} and é and 𐍈".into(),
    ];
    for b in 0u8..=0x7f {
        cases.push(format!("0123456789abcdef{}x", b as char));
        cases.push(format!("{}", b as char));
    }
    for c in &cases {
        let mut out = Vec::new();
        json_str(&mut out, c);
        assert_eq!(out, serde_json::to_vec(c).unwrap(), "{c:?}");
    }
}

/// Every JSON body is well-formed and in the order `serde_json`'s sorted maps print:
/// reading it back and printing it again gives the same bytes.
#[test]
fn json_bodies_are_canonical() {
    let attr =
        |name: &'static str, dt: &'static str, v: AttributeValue<'static>| MessageAttribute {
            name: name.into(),
            data_type: dt.into(),
            value: v,
        };
    let full = SendMessageResult {
        message_id: "id-1".into(),
        md5_of_message_body: "b".into(),
        md5_of_message_attributes: Some("a".into()),
        md5_of_message_system_attributes: Some("s".into()),
        sequence_number: Some("100".into()),
    };
    let failure = BatchFailure {
        id: "e\"1".into(),
        code: "InvalidMessageContents".into(),
        message: "bad \u{1} <text>".into(),
        sender_fault: true,
    };
    let message = ReceivedSqsMessage {
        message_id: "m".into(),
        receipt_handle: "h/+=".into(),
        md5_of_body: "d".into(),
        body: "héllo \"quoted\" \\ \n \u{10348}".into(),
        attributes: [("SentTimestamp", "1"), ("ApproximateReceiveCount", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        message_attributes: vec![
            attr("zeta", "String", AttributeValue::String("z".into())),
            attr(
                "alpha",
                "Binary",
                AttributeValue::Binary(vec![0, 255].into()),
            ),
            attr("alpha", "Number", AttributeValue::String("1".into())),
        ],
        md5_of_message_attributes: Some("ma".into()),
    };
    let task = MoveTask {
        task_handle: Some("t".into()),
        status: "RUNNING".into(),
        source_arn: "arn:s".into(),
        destination_arn: Some("arn:d".into()),
        max_number_of_messages_per_second: Some(5),
        approximate_number_of_messages_moved: 3,
        approximate_number_of_messages_to_move: Some(9),
        failure_reason: None,
        started_timestamp: 1_700_000_000_000,
    };
    let responses = vec![
        SqsResponse::SendMessage(full.clone()),
        SqsResponse::SendMessageBatch {
            successful: vec![SendMessageBatchResultEntry {
                id: "0".into(),
                result: full,
            }],
            failed: vec![failure.clone()],
        },
        SqsResponse::ReceiveMessage {
            messages: vec![message.clone(), ReceivedSqsMessage::default()],
        },
        SqsResponse::DeleteMessageBatch {
            successful: vec!["a".into(), "b".into()],
            failed: vec![failure],
        },
        SqsResponse::ListQueues {
            queue_urls: vec!["http://h/1/q".into()],
            next_token: Some("n".into()),
        },
        SqsResponse::ListDeadLetterSourceQueues {
            queue_urls: vec!["u".into()],
            next_token: Some("n".into()),
        },
        SqsResponse::ListMessageMoveTasks {
            results: vec![task, MoveTask::default()],
        },
        SqsResponse::CancelMessageMoveTask {
            approximate_number_of_messages_moved: 7,
        },
    ];
    for resp in &responses {
        let text = String::from_utf8(to_json(resp)).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.to_string(), text, "{resp:?}");
    }
    // The repeated attribute name keeps its last value, as a map insert would.
    let v: Value = serde_json::from_slice(&to_json(&responses[2])).unwrap();
    assert_eq!(
        v["Messages"][0]["MessageAttributes"]["alpha"],
        json!({"DataType": "Number", "StringValue": "1"})
    );
    assert_eq!(v["Messages"][0]["Body"], json!(message.body));
    assert_eq!(v["Messages"][1].get("Attributes"), None);
}

#[test]
fn json_batches_omit_an_empty_failed() {
    let resp = SqsResponse::DeleteMessageBatch {
        successful: vec!["a".into()],
        failed: vec![],
    };
    let r = render(Wire::Json, Action::DeleteMessageBatch, &resp, "x");
    assert_eq!(body(&r), r#"{"Successful":[{"Id":"a"}]}"#);
    let resp = SqsResponse::ChangeMessageVisibilityBatch {
        successful: vec![],
        failed: vec![BatchFailure {
            id: "b".into(),
            code: "ReceiptHandleIsInvalid".into(),
            message: "m".into(),
            sender_fault: true,
        }],
    };
    let r = render(Wire::Json, Action::ChangeMessageVisibilityBatch, &resp, "x");
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        v,
        json!({"Failed": [{"Code": "ReceiptHandleIsInvalid", "Id": "b", "Message": "m", "SenderFault": true}], "Successful": []})
    );
}
