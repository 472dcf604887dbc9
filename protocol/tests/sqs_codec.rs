//! SQS HTTP codec tests: every action from JSON and from query form, batch structure
//! errors, message contents and attribute validation, error rendering (JSON `__type` and
//! `x-amzn-query-error`, XML), XML well-formedness parsed back with quick-xml, MD5
//! vectors, and a proptest that `parse` never panics.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use proptest::prelude::*;
use spool_protocol::sqs::md5::{md5_of_body, md5_of_message_attributes};
use spool_protocol::sqs::request::{MAX_HTTP_BODY, MAX_MESSAGE_SIZE};
use spool_protocol::sqs::*;
use spool_protocol::{AttributeValue, MessageAttribute};

// ----- helpers ----------------------------------------------------------------------------

fn json_http<'a>(action: &'a str, body: &'a [u8]) -> HttpRequest<'a> {
    HttpRequest {
        method: "POST",
        path: "/",
        query: None,
        target: Some(action),
        content_type: Some("application/x-amz-json-1.0"),
        body,
    }
}

fn form_http(body: &[u8]) -> HttpRequest<'_> {
    HttpRequest {
        method: "POST",
        path: "/",
        query: None,
        target: None,
        content_type: Some("application/x-www-form-urlencoded; charset=utf-8"),
        body,
    }
}

fn json(action: &str, body: &str) -> Result<SqsRequest, SqsError> {
    let target = format!("AmazonSQS.{action}");
    let req = json_http(&target, body.as_bytes());
    assert_eq!(detect_wire(&req), Wire::Json);
    parse(&req).map(|(w, r)| {
        assert_eq!(w, Wire::Json);
        r
    })
}

fn form(body: &str) -> Result<SqsRequest, SqsError> {
    let req = form_http(body.as_bytes());
    assert_eq!(detect_wire(&req), Wire::Query);
    parse(&req).map(|(w, r)| {
        assert_eq!(w, Wire::Query);
        r
    })
}

/// Form-encodes pairs (the way SDKs do).
fn enc(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn map(pairs: &[(&str, &str)]) -> AttrMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(std::string::ToString::to_string).collect()
}

fn sattr(name: &str, ty: &str, v: &str) -> MessageAttribute<'static> {
    MessageAttribute {
        name: Cow::Owned(name.into()),
        data_type: Cow::Owned(ty.into()),
        value: AttributeValue::String(Cow::Owned(v.into())),
    }
}

fn battr(name: &str, ty: &str, v: &[u8]) -> MessageAttribute<'static> {
    MessageAttribute {
        name: Cow::Owned(name.into()),
        data_type: Cow::Owned(ty.into()),
        value: AttributeValue::Binary(Cow::Owned(v.to_vec())),
    }
}

const Q: &str = "http://localhost:9324/000000000000/q1";

fn kind_json(action: &str, body: &str) -> ErrorKind {
    json(action, body).expect_err("should fail").kind
}

fn kind_form(body: &str) -> ErrorKind {
    form(body).expect_err("should fail").kind
}

// ----- every action from both wires -------------------------------------------------------

/// (action, JSON body, query pairs, expected request)
type Case = (
    &'static str,
    String,
    Vec<(&'static str, &'static str)>,
    SqsRequest,
);

#[test]
fn every_action_parses_from_json_and_query() {
    let send_entry = SendMessageEntry {
        body: "hello".into(),
        delay_seconds: Some(5),
        // Sorted by name: both wires carry attributes as a map.
        message_attributes: vec![
            battr("b", "Binary", b"\x00\xff"),
            sattr("n", "Number", "42"),
        ],
        message_system_attributes: vec![sattr("AWSTraceHeader", "String", "Root=1-abc")],
        message_deduplication_id: Some("d-1".into()),
        message_group_id: Some("g!1".into()),
    };
    // (action, JSON body, query pairs, expected)
    let cases: Vec<Case> = vec![
        (
            "CreateQueue",
            r#"{"QueueName":"q1.fifo","Attributes":{"FifoQueue":"true","VisibilityTimeout":"60"},"tags":{"team":"a"}}"#.into(),
            vec![
                ("QueueName", "q1.fifo"),
                ("Attribute.1.Name", "FifoQueue"),
                ("Attribute.1.Value", "true"),
                ("Attribute.2.Name", "VisibilityTimeout"),
                ("Attribute.2.Value", "60"),
                ("Tag.1.Key", "team"),
                ("Tag.1.Value", "a"),
            ],
            SqsRequest::CreateQueue {
                queue_name: "q1.fifo".into(),
                attributes: map(&[("FifoQueue", "true"), ("VisibilityTimeout", "60")]),
                tags: map(&[("team", "a")]),
            },
        ),
        (
            "DeleteQueue",
            format!(r#"{{"QueueUrl":"{Q}"}}"#),
            vec![("QueueUrl", Q)],
            SqsRequest::DeleteQueue { queue_url: Q.into() },
        ),
        (
            "GetQueueUrl",
            r#"{"QueueName":"q1","QueueOwnerAWSAccountId":"123"}"#.into(),
            vec![("QueueName", "q1"), ("QueueOwnerAWSAccountId", "123")],
            SqsRequest::GetQueueUrl {
                queue_name: "q1".into(),
                queue_owner_aws_account_id: Some("123".into()),
            },
        ),
        (
            "ListQueues",
            r#"{"QueueNamePrefix":"q","MaxResults":1000,"NextToken":"t"}"#.into(),
            vec![("QueueNamePrefix", "q"), ("MaxResults", "1000"), ("NextToken", "t")],
            SqsRequest::ListQueues {
                queue_name_prefix: Some("q".into()),
                max_results: Some(1000),
                next_token: Some("t".into()),
            },
        ),
        (
            "GetQueueAttributes",
            format!(r#"{{"QueueUrl":"{Q}","AttributeNames":["All","QueueArn"]}}"#),
            vec![("QueueUrl", Q), ("AttributeName.1", "All"), ("AttributeName.2", "QueueArn")],
            SqsRequest::GetQueueAttributes {
                queue_url: Q.into(),
                attribute_names: strs(&["All", "QueueArn"]),
            },
        ),
        (
            "SetQueueAttributes",
            format!(r#"{{"QueueUrl":"{Q}","Attributes":{{"DelaySeconds":"3"}}}}"#),
            vec![("QueueUrl", Q), ("Attribute.1.Name", "DelaySeconds"), ("Attribute.1.Value", "3")],
            SqsRequest::SetQueueAttributes {
                queue_url: Q.into(),
                attributes: map(&[("DelaySeconds", "3")]),
            },
        ),
        (
            "PurgeQueue",
            format!(r#"{{"QueueUrl":"{Q}"}}"#),
            vec![("QueueUrl", Q)],
            SqsRequest::PurgeQueue { queue_url: Q.into() },
        ),
        (
            "SendMessage",
            format!(
                r#"{{"QueueUrl":"{Q}","MessageBody":"hello","DelaySeconds":5,
                "MessageAttributes":{{"n":{{"DataType":"Number","StringValue":"42"}},"b":{{"DataType":"Binary","BinaryValue":"AP8="}}}},
                "MessageSystemAttributes":{{"AWSTraceHeader":{{"DataType":"String","StringValue":"Root=1-abc"}}}},
                "MessageDeduplicationId":"d-1","MessageGroupId":"g!1"}}"#
            ),
            vec![
                ("QueueUrl", Q),
                ("MessageBody", "hello"),
                ("DelaySeconds", "5"),
                ("MessageAttribute.1.Name", "n"),
                ("MessageAttribute.1.Value.DataType", "Number"),
                ("MessageAttribute.1.Value.StringValue", "42"),
                ("MessageAttribute.2.Name", "b"),
                ("MessageAttribute.2.Value.DataType", "Binary"),
                ("MessageAttribute.2.Value.BinaryValue", "AP8="),
                ("MessageSystemAttribute.1.Name", "AWSTraceHeader"),
                ("MessageSystemAttribute.1.Value.DataType", "String"),
                ("MessageSystemAttribute.1.Value.StringValue", "Root=1-abc"),
                ("MessageDeduplicationId", "d-1"),
                ("MessageGroupId", "g!1"),
            ],
            SqsRequest::SendMessage { queue_url: Q.into(), message: send_entry.clone() },
        ),
        (
            "SendMessageBatch",
            format!(
                r#"{{"QueueUrl":"{Q}","Entries":[{{"Id":"a","MessageBody":"one"}},{{"Id":"b-2","MessageBody":"two","DelaySeconds":0,"MessageAttributes":{{"k":{{"DataType":"String.x","StringValue":"v"}}}}}}]}}"#
            ),
            vec![
                ("QueueUrl", Q),
                ("SendMessageBatchRequestEntry.1.Id", "a"),
                ("SendMessageBatchRequestEntry.1.MessageBody", "one"),
                ("SendMessageBatchRequestEntry.2.Id", "b-2"),
                ("SendMessageBatchRequestEntry.2.MessageBody", "two"),
                ("SendMessageBatchRequestEntry.2.DelaySeconds", "0"),
                ("SendMessageBatchRequestEntry.2.MessageAttribute.1.Name", "k"),
                ("SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.DataType", "String.x"),
                ("SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.StringValue", "v"),
            ],
            SqsRequest::SendMessageBatch {
                queue_url: Q.into(),
                entries: vec![
                    BatchEntry {
                        id: "a".into(),
                        result: Ok(SendMessageEntry { body: "one".into(), ..Default::default() }),
                    },
                    BatchEntry {
                        id: "b-2".into(),
                        result: Ok(SendMessageEntry {
                            body: "two".into(),
                            delay_seconds: Some(0),
                            message_attributes: vec![sattr("k", "String.x", "v")],
                            ..Default::default()
                        }),
                    },
                ],
                fifo_ids: vec![FifoIdsGiven::default(); 2],
            },
        ),
        (
            "ReceiveMessage",
            format!(
                r#"{{"QueueUrl":"{Q}","MaxNumberOfMessages":10,"VisibilityTimeout":0,"WaitTimeSeconds":20,
                "MessageSystemAttributeNames":["SentTimestamp"],"AttributeNames":["All","SentTimestamp"],
                "MessageAttributeNames":["All","foo.*"],"ReceiveRequestAttemptId":"att-1"}}"#
            ),
            vec![
                ("QueueUrl", Q),
                ("MaxNumberOfMessages", "10"),
                ("VisibilityTimeout", "0"),
                ("WaitTimeSeconds", "20"),
                ("MessageSystemAttributeName.1", "SentTimestamp"),
                ("AttributeName.1", "All"),
                ("AttributeName.2", "SentTimestamp"),
                ("MessageAttributeName.1", "All"),
                ("MessageAttributeName.2", "foo.*"),
                ("ReceiveRequestAttemptId", "att-1"),
            ],
            SqsRequest::ReceiveMessage(ReceiveMessageRequest {
                queue_url: Q.into(),
                max_number_of_messages: Some(10),
                visibility_timeout: Some(0),
                wait_time_seconds: Some(20),
                system_attribute_names: strs(&["SentTimestamp", "All"]),
                message_attribute_names: strs(&["All", "foo.*"]),
                receive_request_attempt_id: Some("att-1".into()),
            }),
        ),
        (
            "DeleteMessage",
            format!(r#"{{"QueueUrl":"{Q}","ReceiptHandle":"rh+/="}}"#),
            vec![("QueueUrl", Q), ("ReceiptHandle", "rh+/=")],
            SqsRequest::DeleteMessage { queue_url: Q.into(), receipt_handle: "rh+/=".into() },
        ),
        (
            "DeleteMessageBatch",
            format!(
                r#"{{"QueueUrl":"{Q}","Entries":[{{"Id":"1","ReceiptHandle":"h1"}},{{"Id":"2","ReceiptHandle":""}}]}}"#
            ),
            vec![
                ("QueueUrl", Q),
                ("DeleteMessageBatchRequestEntry.1.Id", "1"),
                ("DeleteMessageBatchRequestEntry.1.ReceiptHandle", "h1"),
                ("DeleteMessageBatchRequestEntry.2.Id", "2"),
                ("DeleteMessageBatchRequestEntry.2.ReceiptHandle", ""),
            ],
            SqsRequest::DeleteMessageBatch {
                queue_url: Q.into(),
                entries: vec![
                    BatchEntry { id: "1".into(), result: Ok("h1".into()) },
                    BatchEntry {
                        id: "2".into(),
                        result: Err(SqsError::new(
                            ErrorKind::ReceiptHandleIsInvalid,
                            "The input receipt handle \"\" is not a valid receipt handle.",
                        )),
                    },
                ],
            },
        ),
        (
            "ChangeMessageVisibility",
            format!(r#"{{"QueueUrl":"{Q}","ReceiptHandle":"h","VisibilityTimeout":43200}}"#),
            vec![("QueueUrl", Q), ("ReceiptHandle", "h"), ("VisibilityTimeout", "43200")],
            SqsRequest::ChangeMessageVisibility {
                queue_url: Q.into(),
                receipt_handle: "h".into(),
                visibility_timeout: 43200,
            },
        ),
        (
            "ChangeMessageVisibilityBatch",
            format!(
                r#"{{"QueueUrl":"{Q}","Entries":[{{"Id":"x","ReceiptHandle":"h","VisibilityTimeout":7}}]}}"#
            ),
            vec![
                ("QueueUrl", Q),
                ("ChangeMessageVisibilityBatchRequestEntry.1.Id", "x"),
                ("ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle", "h"),
                ("ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout", "7"),
            ],
            SqsRequest::ChangeMessageVisibilityBatch {
                queue_url: Q.into(),
                entries: vec![BatchEntry {
                    id: "x".into(),
                    result: Ok(VisibilityChange {
                        receipt_handle: "h".into(),
                        visibility_timeout: Some(7),
                    }),
                }],
            },
        ),
        (
            "TagQueue",
            format!(r#"{{"QueueUrl":"{Q}","Tags":{{"a":"1","b":""}}}}"#),
            vec![
                ("QueueUrl", Q),
                ("Tag.1.Key", "a"),
                ("Tag.1.Value", "1"),
                ("Tag.2.Key", "b"),
                ("Tag.2.Value", ""),
            ],
            SqsRequest::TagQueue { queue_url: Q.into(), tags: map(&[("a", "1"), ("b", "")]) },
        ),
        (
            "UntagQueue",
            format!(r#"{{"QueueUrl":"{Q}","TagKeys":["a","b"]}}"#),
            vec![("QueueUrl", Q), ("TagKey.1", "a"), ("TagKey.2", "b")],
            SqsRequest::UntagQueue { queue_url: Q.into(), tag_keys: strs(&["a", "b"]) },
        ),
        (
            "ListQueueTags",
            format!(r#"{{"QueueUrl":"{Q}"}}"#),
            vec![("QueueUrl", Q)],
            SqsRequest::ListQueueTags { queue_url: Q.into() },
        ),
        (
            "AddPermission",
            format!(
                r#"{{"QueueUrl":"{Q}","Label":"perm-1","AWSAccountIds":["111","222"],"Actions":["SendMessage","*"]}}"#
            ),
            vec![
                ("QueueUrl", Q),
                ("Label", "perm-1"),
                ("AWSAccountId.1", "111"),
                ("AWSAccountId.2", "222"),
                ("ActionName.1", "SendMessage"),
                ("ActionName.2", "*"),
            ],
            SqsRequest::AddPermission {
                queue_url: Q.into(),
                label: "perm-1".into(),
                aws_account_ids: strs(&["111", "222"]),
                actions: strs(&["SendMessage", "*"]),
            },
        ),
        (
            "RemovePermission",
            format!(r#"{{"QueueUrl":"{Q}","Label":"perm-1"}}"#),
            vec![("QueueUrl", Q), ("Label", "perm-1")],
            SqsRequest::RemovePermission { queue_url: Q.into(), label: "perm-1".into() },
        ),
        (
            "ListDeadLetterSourceQueues",
            format!(r#"{{"QueueUrl":"{Q}","MaxResults":1,"NextToken":"n"}}"#),
            vec![("QueueUrl", Q), ("MaxResults", "1"), ("NextToken", "n")],
            SqsRequest::ListDeadLetterSourceQueues {
                queue_url: Q.into(),
                max_results: Some(1),
                next_token: Some("n".into()),
            },
        ),
        (
            "StartMessageMoveTask",
            r#"{"SourceArn":"arn:aws:sqs:us-east-1:0:dlq","DestinationArn":"arn:aws:sqs:us-east-1:0:q","MaxNumberOfMessagesPerSecond":500}"#.into(),
            vec![
                ("SourceArn", "arn:aws:sqs:us-east-1:0:dlq"),
                ("DestinationArn", "arn:aws:sqs:us-east-1:0:q"),
                ("MaxNumberOfMessagesPerSecond", "500"),
            ],
            SqsRequest::StartMessageMoveTask {
                source_arn: "arn:aws:sqs:us-east-1:0:dlq".into(),
                destination_arn: Some("arn:aws:sqs:us-east-1:0:q".into()),
                max_number_of_messages_per_second: Some(500),
            },
        ),
        (
            "ListMessageMoveTasks",
            r#"{"SourceArn":"arn:aws:sqs:us-east-1:0:dlq","MaxResults":10}"#.into(),
            vec![("SourceArn", "arn:aws:sqs:us-east-1:0:dlq"), ("MaxResults", "10")],
            SqsRequest::ListMessageMoveTasks {
                source_arn: "arn:aws:sqs:us-east-1:0:dlq".into(),
                max_results: Some(10),
            },
        ),
        (
            "CancelMessageMoveTask",
            r#"{"TaskHandle":"th=="}"#.into(),
            vec![("TaskHandle", "th==")],
            SqsRequest::CancelMessageMoveTask { task_handle: "th==".into() },
        ),
    ];
    let mut seen = Vec::new();
    for (action, body, pairs, expected) in cases {
        let from_json = json(action, &body).unwrap_or_else(|e| panic!("{action} JSON: {e}"));
        assert_eq!(from_json, expected, "{action} JSON");
        assert_eq!(from_json.action().name(), action);
        let mut q = vec![("Action", action), ("Version", "2012-11-05")];
        q.extend(pairs);
        let from_form = form(&enc(&q)).unwrap_or_else(|e| panic!("{action} query: {e}"));
        assert_eq!(from_form, expected, "{action} query");
        // The same parameters in a GET query string.
        let qs = enc(&q);
        let get = HttpRequest {
            method: "GET",
            path: "/",
            query: Some(&qs),
            target: None,
            content_type: None,
            body: b"",
        };
        assert_eq!(
            parse(&get).map(|(_, r)| r),
            Ok(expected.clone()),
            "{action} GET"
        );
        seen.push(from_json.action());
    }
    for a in Action::ALL {
        assert!(seen.contains(a), "no case for {a}");
    }
}

#[test]
fn minimal_requests_and_defaults() {
    let r = json("ListQueues", "").unwrap();
    assert_eq!(
        r,
        SqsRequest::ListQueues {
            queue_name_prefix: None,
            max_results: None,
            next_token: None
        }
    );
    let r = json(
        "ReceiveMessage",
        &format!(r#"{{"QueueUrl":"{Q}","MaxNumberOfMessages":null}}"#),
    )
    .unwrap();
    assert_eq!(
        r,
        SqsRequest::ReceiveMessage(ReceiveMessageRequest {
            queue_url: Q.into(),
            ..Default::default()
        })
    );
    let r = form("Action=CreateQueue&QueueName=plain").unwrap();
    assert_eq!(
        r,
        SqsRequest::CreateQueue {
            queue_name: "plain".into(),
            attributes: AttrMap::new(),
            tags: AttrMap::new()
        }
    );
}

#[test]
fn queue_from_path_when_queue_url_is_absent() {
    let req = HttpRequest {
        method: "POST",
        path: "/000000000000/orders",
        query: None,
        target: None,
        content_type: Some("application/x-www-form-urlencoded"),
        body: b"Action=SendMessage&MessageBody=hi",
    };
    let (_, r) = parse(&req).unwrap();
    assert_eq!(r.queue_url(), Some("/000000000000/orders"));
    assert_eq!(r.queue_name(), Some("orders"));
    // LocalStack-style path, GET with the query string.
    let req = HttpRequest {
        method: "GET",
        path: "/queue/us-east-1/000000000000/orders",
        query: Some("Action=GetQueueAttributes&AttributeName.1=All"),
        target: None,
        content_type: None,
        body: b"ignored=1",
    };
    let (_, r) = parse(&req).unwrap();
    assert_eq!(r.queue_name(), Some("orders"));
    // No queue anywhere.
    let e = form("Action=SendMessage&MessageBody=hi").unwrap_err();
    assert_eq!(e.kind, ErrorKind::MissingParameter);
    assert_eq!(
        e.message,
        "The request must contain the parameter QueueUrl."
    );
}

fn at_queue_url<'a>(method: &'a str, query: Option<&'a str>, body: &'a [u8]) -> HttpRequest<'a> {
    HttpRequest {
        method,
        path: "/000000000000/orders",
        query,
        target: None,
        content_type: Some("application/x-www-form-urlencoded"),
        body,
    }
}

#[test]
fn a_query_request_to_a_queue_url_without_action_is_an_unknown_operation() {
    let e = parse(&at_queue_url("GET", None, b"")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownOperation);
    let r = render_error(Wire::Query, &e, "rid");
    assert_eq!(r.status, 404);
    assert_eq!(r.body, b"<UnknownOperationException/>\n");
    assert_eq!(r.content_type, "");
    // At the root it is still MissingAction.
    assert_eq!(kind_form(""), ErrorKind::MissingAction);
}

#[test]
fn queue_list_and_create_are_not_actions_of_a_queue_url() {
    for action in ["CreateQueue", "ListQueues", "ListMessageMoveTasks"] {
        let q = format!("Action={action}&QueueName=x");
        let e = parse(&at_queue_url("GET", Some(&q), b"")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidAction, "{action}");
        assert_eq!(e.kind.status(), 400);
        assert_eq!(
            e.message,
            format!("The action {action} is not valid for this endpoint.")
        );
    }
    // GetQueueUrl is served at a queue URL (for any queue), as on AWS.
    let (_, r) = parse(&at_queue_url(
        "POST",
        None,
        b"Action=GetQueueUrl&QueueName=other",
    ))
    .unwrap();
    assert_eq!(r.action(), Action::GetQueueUrl);
}

#[test]
fn a_fifo_batch_records_which_ids_each_entry_carried() {
    let body = enc(&[
        ("Action", "SendMessageBatch"),
        ("QueueUrl", Q),
        ("SendMessageBatchRequestEntry.1.Id", "a"),
        ("SendMessageBatchRequestEntry.1.MessageBody", "one"),
        ("SendMessageBatchRequestEntry.1.MessageGroupId", "g"),
        ("SendMessageBatchRequestEntry.2.Id", "b"),
        ("SendMessageBatchRequestEntry.2.MessageBody", "two"),
        ("SendMessageBatchRequestEntry.2.MessageDeduplicationId", "d"),
        // An invalid entry still reports its ids.
        ("SendMessageBatchRequestEntry.2.DelaySeconds", "9999"),
    ]);
    let SqsRequest::SendMessageBatch {
        entries, fifo_ids, ..
    } = form(&body).unwrap()
    else {
        panic!("not a batch")
    };
    assert!(entries[1].result.is_err());
    assert_eq!(
        fifo_ids,
        vec![
            FifoIdsGiven {
                group_id: true,
                dedup_id: false
            },
            FifoIdsGiven {
                group_id: false,
                dedup_id: true
            },
        ]
    );
}

#[test]
fn an_empty_string_attribute_value_is_refused_in_aws_words() {
    let body = enc(&[
        ("Action", "SendMessage"),
        ("QueueUrl", Q),
        ("MessageBody", "b"),
        ("MessageAttribute.1.Name", "ErrorDetails"),
        ("MessageAttribute.1.Value.DataType", "String"),
        ("MessageAttribute.1.Value.StringValue", ""),
    ]);
    let e = form(&body).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
    assert_eq!(
        e.message,
        "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'."
    );
}

#[test]
fn an_empty_result_is_one_empty_element() {
    let r = render(
        Wire::Query,
        Action::ReceiveMessage,
        &SqsResponse::ReceiveMessage { messages: vec![] },
        "rid",
    );
    let s = String::from_utf8(r.body).unwrap();
    assert!(s.contains("<ReceiveMessageResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><ReceiveMessageResult/><ResponseMetadata>"), "{s}");
}

// ----- structural errors -------------------------------------------------------------------

#[test]
fn unknown_and_missing_actions() {
    let target_req = json_http("AmazonSQS.Frobnicate", b"{}");
    let e = parse(&target_req).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidAction);
    assert_eq!(e.kind.status(), 400);
    assert_eq!(
        e.message,
        "The action Frobnicate is not valid for this endpoint."
    );
    // JSON content type without a target.
    let req = HttpRequest {
        target: None,
        ..json_http("", b"{}")
    };
    assert_eq!(detect_wire(&req), Wire::Json);
    assert_eq!(parse(&req).unwrap_err().kind, ErrorKind::InvalidAction);
    assert_eq!(kind_form("Action=Frobnicate"), ErrorKind::InvalidAction);
    assert_eq!(kind_form("Action=sendmessage"), ErrorKind::InvalidAction);
    assert_eq!(kind_form("QueueUrl=x"), ErrorKind::MissingAction);
    assert_eq!(kind_form(""), ErrorKind::MissingAction);
}

#[test]
fn malformed_bodies() {
    assert_eq!(
        kind_json("ListQueues", "{"),
        ErrorKind::SerializationException
    );
    assert_eq!(
        kind_json("ListQueues", "\"x\""),
        ErrorKind::SerializationException
    );
    assert_eq!(
        kind_json("ListQueues", "{}garbage"),
        ErrorKind::SerializationException
    );
    assert_eq!(
        kind_json("ListQueues", "\u{FEFF}{}"),
        ErrorKind::SerializationException
    );
    // Type mismatches.
    let e = json("ListQueues", r#"{"MaxResults":"10"}"#).unwrap_err();
    assert_eq!(e.kind, ErrorKind::SerializationException);
    assert_eq!(e.message, "STRING_VALUE can not be converted to an Integer");
    assert_eq!(
        kind_json(
            "GetQueueAttributes",
            &format!(r#"{{"QueueUrl":"{Q}","AttributeNames":"All"}}"#)
        ),
        ErrorKind::SerializationException
    );
    assert_eq!(
        kind_json(
            "TagQueue",
            &format!(r#"{{"QueueUrl":"{Q}","Tags":{{"a":1}}}}"#)
        ),
        ErrorKind::SerializationException
    );
    assert_eq!(
        kind_json(
            "SendMessage",
            &format!(r#"{{"QueueUrl":"{Q}","MessageBody":{{}}}}"#)
        ),
        ErrorKind::SerializationException
    );
    assert_eq!(
        kind_json(
            "SendMessage",
            &format!(
                r#"{{"QueueUrl":"{Q}","MessageBody":"x","MessageAttributes":{{"b":{{"DataType":"Binary","BinaryValue":"!!"}}}}}}"#
            )
        ),
        ErrorKind::SerializationException
    );
    // In the query wire the same mistakes are InvalidParameterValue.
    assert_eq!(
        kind_form("Action=ListQueues&MaxResults=ten"),
        ErrorKind::InvalidParameterValue
    );
    assert_eq!(
        kind_form(&enc(&[
            ("Action", "SendMessage"),
            ("QueueUrl", Q),
            ("MessageBody", "x"),
            ("MessageAttribute.1.Name", "b"),
            ("MessageAttribute.1.Value.DataType", "Binary"),
            ("MessageAttribute.1.Value.BinaryValue", "!!"),
        ])),
        ErrorKind::InvalidParameterValue
    );
    // Query map entries need both halves.
    assert_eq!(
        kind_form(&format!("Action=TagQueue&QueueUrl={Q}&Tag.1.Key=a")),
        ErrorKind::MissingParameter
    );
}

#[test]
fn oversized_requests_are_refused_before_parsing() {
    let big = vec![b'a'; MAX_HTTP_BODY + 1];
    let e = parse(&json_http("AmazonSQS.SendMessage", &big)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
    let e = parse(&form_http(&big)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
    // Too many JSON values or form parameters.
    let many = format!("[{}]", "0,".repeat(20_000) + "0");
    assert_eq!(
        kind_json("ListQueues", &many),
        ErrorKind::InvalidParameterValue
    );
    let many = "a=1&".repeat(20_000) + "Action=ListQueues";
    assert_eq!(kind_form(&many), ErrorKind::InvalidParameterValue);
}

#[test]
fn missing_parameters() {
    for (action, body) in [
        ("CreateQueue", "{}"),
        ("GetQueueUrl", "{}"),
        ("DeleteQueue", "{}"),
        ("SendMessage", r#"{"QueueUrl":"/0/q"}"#),
        ("SendMessage", r#"{"QueueUrl":"/0/q","MessageBody":""}"#),
        ("DeleteMessage", r#"{"QueueUrl":"/0/q"}"#),
        (
            "ChangeMessageVisibility",
            r#"{"QueueUrl":"/0/q","ReceiptHandle":"h"}"#,
        ),
        ("SetQueueAttributes", r#"{"QueueUrl":"/0/q"}"#),
        ("TagQueue", r#"{"QueueUrl":"/0/q"}"#),
        ("UntagQueue", r#"{"QueueUrl":"/0/q"}"#),
        (
            "AddPermission",
            r#"{"QueueUrl":"/0/q","Label":"l","Actions":["*"]}"#,
        ),
        ("RemovePermission", r#"{"QueueUrl":"/0/q"}"#),
        ("StartMessageMoveTask", "{}"),
        ("ListMessageMoveTasks", "{}"),
        ("CancelMessageMoveTask", "{}"),
        ("SendMessageBatch", r#"{"QueueUrl":"/0/q"}"#),
        (
            "SendMessageBatch",
            r#"{"QueueUrl":"/0/q","Entries":[{"MessageBody":"x"}]}"#,
        ),
        (
            "SendMessageBatch",
            r#"{"QueueUrl":"/0/q","Entries":[{"Id":"a"}]}"#,
        ),
        (
            "DeleteMessageBatch",
            r#"{"QueueUrl":"/0/q","Entries":[{"Id":"a"}]}"#,
        ),
    ] {
        assert_eq!(
            kind_json(action, body),
            ErrorKind::MissingParameter,
            "{action} {body}"
        );
    }
    let e = json("SendMessage", r#"{"QueueUrl":"/0/q"}"#).unwrap_err();
    assert_eq!(
        e.message,
        "The request must contain the parameter MessageBody."
    );
}

#[test]
fn ranges() {
    let r = |field: &str, v: i64| {
        json(
            "ReceiveMessage",
            &format!(r#"{{"QueueUrl":"{Q}","{field}":{v}}}"#),
        )
    };
    let e = r("MaxNumberOfMessages", 11).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
    assert_eq!(
        e.message,
        "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
    );
    let e = r("WaitTimeSeconds", 21).unwrap_err();
    assert_eq!(
        e.message,
        "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
    );
    assert!(r("MaxNumberOfMessages", 0).is_err());
    assert!(r("MaxNumberOfMessages", 1).is_ok());
    assert!(r("VisibilityTimeout", 43_201).is_err());
    assert!(r("VisibilityTimeout", -1).is_err());
    assert!(r("WaitTimeSeconds", i64::MIN).is_err());
    let send = |d: i64| {
        json(
            "SendMessage",
            &format!(r#"{{"QueueUrl":"{Q}","MessageBody":"x","DelaySeconds":{d}}}"#),
        )
    };
    assert!(send(900).is_ok());
    assert_eq!(
        send(901).unwrap_err().kind,
        ErrorKind::InvalidParameterValue
    );
    assert_eq!(send(-1).unwrap_err().kind, ErrorKind::InvalidParameterValue);
    for (action, field, bad, good) in [
        ("ListQueues", "MaxResults", 1001, 1),
        ("ListMessageMoveTasks", "MaxResults", 11, 1),
        (
            "StartMessageMoveTask",
            "MaxNumberOfMessagesPerSecond",
            501,
            1,
        ),
        ("ChangeMessageVisibility", "VisibilityTimeout", 43_201, 0),
    ] {
        let body = |v: i64| {
            format!(
                r#"{{"QueueUrl":"{Q}","SourceArn":"arn:aws:sqs:r:0:q","ReceiptHandle":"h","{field}":{v}}}"#
            )
        };
        assert_eq!(
            kind_json(action, &body(bad)),
            ErrorKind::InvalidParameterValue,
            "{action}"
        );
        assert!(json(action, &body(good)).is_ok(), "{action}");
    }
    assert_eq!(
        kind_json("CreateQueue", r#"{"QueueName":"bad name"}"#),
        ErrorKind::InvalidParameterValue
    );
    assert_eq!(
        kind_json(
            "CreateQueue",
            &format!(r#"{{"QueueName":"{}"}}"#, "a".repeat(81))
        ),
        ErrorKind::InvalidParameterValue
    );
    assert_eq!(
        kind_json("RemovePermission", r#"{"QueueUrl":"/0/q","Label":"a b"}"#),
        ErrorKind::InvalidParameterValue
    );
    let group = |g: &str| {
        json(
            "SendMessage",
            &format!(r#"{{"QueueUrl":"{Q}","MessageBody":"x","MessageGroupId":"{g}"}}"#),
        )
    };
    assert!(group(&"g".repeat(128)).is_ok());
    assert!(group(&"g".repeat(129)).is_err());
    assert!(group("a b").is_err());
    assert!(group("").is_err());
}

// ----- batches -----------------------------------------------------------------------------

fn send_batch_json(entries: &[String]) -> String {
    format!(r#"{{"QueueUrl":"{Q}","Entries":[{}]}}"#, entries.join(","))
}

fn entry(id: &str, body: &str) -> String {
    serde_json::json!({"Id": id, "MessageBody": body}).to_string()
}

#[test]
fn structural_batch_errors_fail_the_whole_call() {
    // Empty.
    let e = json("SendMessageBatch", &send_batch_json(&[])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::EmptyBatchRequest);
    assert_eq!(
        kind_form(&format!("Action=DeleteMessageBatch&QueueUrl={Q}")),
        ErrorKind::EmptyBatchRequest
    );
    assert_eq!(
        kind_json(
            "ChangeMessageVisibilityBatch",
            &format!(r#"{{"QueueUrl":"{Q}","Entries":[]}}"#)
        ),
        ErrorKind::EmptyBatchRequest
    );
    // Too many.
    let eleven: Vec<String> = (0..11).map(|i| entry(&format!("e{i}"), "x")).collect();
    let e = json("SendMessageBatch", &send_batch_json(&eleven)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooManyEntriesInBatchRequest);
    assert_eq!(
        e.message,
        "Maximum number of entries per request are 10. You have sent 11."
    );
    let ten: Vec<String> = (0..10).map(|i| entry(&format!("e{i}"), "x")).collect();
    assert!(json("SendMessageBatch", &send_batch_json(&ten)).is_ok());
    let mut q = format!("Action=DeleteMessageBatch&QueueUrl={Q}");
    for i in 1..=11 {
        write!(q, "&DeleteMessageBatchRequestEntry.{i}.Id=i{i}&DeleteMessageBatchRequestEntry.{i}.ReceiptHandle=h").unwrap();
    }
    assert_eq!(kind_form(&q), ErrorKind::TooManyEntriesInBatchRequest);
    // Ids not distinct.
    let e = json(
        "SendMessageBatch",
        &send_batch_json(&[entry("a", "x"), entry("a", "y")]),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::BatchEntryIdsNotDistinct);
    let q = format!(
        "Action=ChangeMessageVisibilityBatch&QueueUrl={Q}\
         &ChangeMessageVisibilityBatchRequestEntry.1.Id=a&ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle=h&ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout=1\
         &ChangeMessageVisibilityBatchRequestEntry.2.Id=a&ChangeMessageVisibilityBatchRequestEntry.2.ReceiptHandle=h&ChangeMessageVisibilityBatchRequestEntry.2.VisibilityTimeout=1"
    );
    assert_eq!(kind_form(&q), ErrorKind::BatchEntryIdsNotDistinct);
    // Invalid ids.
    for bad in ["", "a b", "a.b", "é", &"a".repeat(81)] {
        let e = json("SendMessageBatch", &send_batch_json(&[entry(bad, "x")])).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidBatchEntryId, "{bad:?}");
    }
    assert!(json(
        "SendMessageBatch",
        &send_batch_json(&[entry(&"a".repeat(80), "x")])
    )
    .is_ok());
    // Too long: bodies plus attributes over 1 MiB in all.
    let half = "x".repeat(MAX_MESSAGE_SIZE / 2);
    let ok = send_batch_json(&[entry("a", &half), entry("b", &half)]);
    assert!(json("SendMessageBatch", &ok).is_ok());
    let long = send_batch_json(&[entry("a", &half), entry("b", &format!("{half}y"))]);
    let e = json("SendMessageBatch", &long).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BatchRequestTooLong);
    assert_eq!(
        e.message,
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes."
    );
    let with_attr = format!(
        r#"{{"QueueUrl":"{Q}","Entries":[{},{{"Id":"b","MessageBody":"{half}","MessageAttributes":{{"k":{{"DataType":"String","StringValue":"v"}}}}}}]}}"#,
        entry("a", &half)
    );
    assert_eq!(
        kind_json("SendMessageBatch", &with_attr),
        ErrorKind::BatchRequestTooLong
    );
}

#[test]
fn per_entry_problems_are_entry_results() {
    let body = format!(
        r#"{{"QueueUrl":"{Q}","Entries":[
            {{"Id":"ok","MessageBody":"fine"}},
            {{"Id":"chars","MessageBody":"bad\u0001"}},
            {{"Id":"delay","MessageBody":"x","DelaySeconds":901}},
            {{"Id":"attr","MessageBody":"x","MessageAttributes":{{"AWS.x":{{"DataType":"String","StringValue":"v"}}}}}},
            {{"Id":"empty","MessageBody":""}}
        ]}}"#
    );
    let SqsRequest::SendMessageBatch { entries, .. } = json("SendMessageBatch", &body).unwrap()
    else {
        panic!("wrong variant")
    };
    let kinds: Vec<(&str, Option<ErrorKind>)> = entries
        .iter()
        .map(|e| (e.id.as_str(), e.result.as_ref().err().map(|e| e.kind)))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("ok", None),
            ("chars", Some(ErrorKind::InvalidMessageContents)),
            ("delay", Some(ErrorKind::InvalidParameterValue)),
            ("attr", Some(ErrorKind::InvalidParameterValue)),
            ("empty", Some(ErrorKind::MissingParameter)),
        ]
    );
    // Failed entries render as AWS reports them.
    let failures: Vec<BatchFailure> = entries
        .iter()
        .filter_map(|e| {
            e.result
                .as_ref()
                .err()
                .map(|err| BatchFailure::from_error(&e.id, err))
        })
        .collect();
    assert_eq!(failures[0].code, "InvalidMessageContents");
    assert!(failures[0].sender_fault);
    // Visibility range per entry.
    let body = format!(
        r#"{{"QueueUrl":"{Q}","Entries":[{{"Id":"a","ReceiptHandle":"h","VisibilityTimeout":43201}},{{"Id":"b","ReceiptHandle":"h","VisibilityTimeout":1}}]}}"#
    );
    let SqsRequest::ChangeMessageVisibilityBatch { entries, .. } =
        json("ChangeMessageVisibilityBatch", &body).unwrap()
    else {
        panic!("wrong variant")
    };
    assert_eq!(
        entries[0].result.as_ref().unwrap_err().kind,
        ErrorKind::InvalidParameterValue
    );
    assert!(entries[1].result.is_ok());
    // VisibilityTimeout is optional in a batch entry.
    let body = format!(r#"{{"QueueUrl":"{Q}","Entries":[{{"Id":"a","ReceiptHandle":"h"}}]}}"#);
    let SqsRequest::ChangeMessageVisibilityBatch { entries, .. } =
        json("ChangeMessageVisibilityBatch", &body).unwrap()
    else {
        panic!("wrong variant")
    };
    assert_eq!(
        entries[0].result,
        Ok(VisibilityChange {
            receipt_handle: "h".into(),
            visibility_timeout: None
        })
    );
}

// ----- message contents and attributes ---------------------------------------------------

#[test]
fn invalid_characters() {
    for bad in [
        "\u{0}", "a\u{8}b", "\u{B}", "\u{C}", "\u{1F}", "\u{FFFE}", "\u{FFFF}",
    ] {
        let body = serde_json::json!({"QueueUrl": Q, "MessageBody": bad}).to_string();
        let e = json("SendMessage", &body).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidMessageContents, "{bad:?}");
        let q = enc(&[
            ("Action", "SendMessage"),
            ("QueueUrl", Q),
            ("MessageBody", bad),
        ]);
        assert_eq!(kind_form(&q), ErrorKind::InvalidMessageContents, "{bad:?}");
    }
    let good = "tab\t nl\n cr\r € \u{D7FF} \u{E000} \u{FFFD} 😀 \u{10FFFF} <&>\"'";
    let body = serde_json::json!({"QueueUrl": Q, "MessageBody": good}).to_string();
    let SqsRequest::SendMessage { message, .. } = json("SendMessage", &body).unwrap() else {
        panic!()
    };
    assert_eq!(message.body, good);
    let q = enc(&[
        ("Action", "SendMessage"),
        ("QueueUrl", Q),
        ("MessageBody", good),
    ]);
    let SqsRequest::SendMessage { message, .. } = form(&q).unwrap() else {
        panic!()
    };
    assert_eq!(message.body, good);
    // A lone surrogate cannot be a Rust string: JSON refuses it.
    assert!(json(
        "SendMessage",
        &format!(r#"{{"QueueUrl":"{Q}","MessageBody":"\ud800"}}"#)
    )
    .is_err());
}

#[test]
fn message_size_limit() {
    let body = "x".repeat(MAX_MESSAGE_SIZE);
    let ok = serde_json::json!({"QueueUrl": Q, "MessageBody": body}).to_string();
    assert!(json("SendMessage", &ok).is_ok());
    let over = serde_json::json!({"QueueUrl": Q, "MessageBody": body,
        "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}})
    .to_string();
    let e = json("SendMessage", &over).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
    assert_eq!(
        e.message,
        "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."
    );
}

fn send_with_attrs(attrs: &serde_json::Value) -> Result<SendMessageEntry, SqsError> {
    let body = serde_json::json!({"QueueUrl": Q, "MessageBody": "x", "MessageAttributes": attrs});
    match json("SendMessage", &body.to_string())? {
        SqsRequest::SendMessage { message, .. } => Ok(message),
        other => panic!("{other:?}"),
    }
}

#[test]
fn message_attribute_validation() {
    use serde_json::json as j;
    let ok = send_with_attrs(&j!({
        "s": {"DataType": "String", "StringValue": "v"},
        "n.x": {"DataType": "Number.float", "StringValue": "-1.5e3"},
        "bin": {"DataType": "Binary", "BinaryValue": "aGk="},
        "both": {"DataType": "String", "StringValue": "v", "BinaryValue": "aGk="},
        "A_b-c.9": {"DataType": "Binary.gif", "BinaryValue": "AA=="}
    }))
    .unwrap();
    let by_name: BTreeMap<String, MessageAttribute<'static>> = ok
        .message_attributes
        .into_iter()
        .map(|a| (a.name.to_string(), a))
        .collect();
    assert_eq!(by_name["bin"], battr("bin", "Binary", b"hi"));
    assert_eq!(by_name["n.x"], sattr("n.x", "Number.float", "-1.5e3"));
    assert_eq!(by_name["both"], sattr("both", "String", "v"));
    assert_eq!(by_name["A_b-c.9"], battr("A_b-c.9", "Binary.gif", &[0]));

    let eleven: serde_json::Map<String, serde_json::Value> = (0..11)
        .map(|i| {
            (
                format!("a{i}"),
                j!({"DataType": "String", "StringValue": "v"}),
            )
        })
        .collect();
    let ten: serde_json::Map<String, serde_json::Value> =
        eleven.clone().into_iter().take(10).collect();
    assert!(send_with_attrs(&serde_json::Value::Object(ten)).is_ok());
    let bad_cases = vec![
        serde_json::Value::Object(eleven),
        j!({"AWS.trace": {"DataType": "String", "StringValue": "v"}}),
        j!({"amazon.x": {"DataType": "String", "StringValue": "v"}}),
        j!({".a": {"DataType": "String", "StringValue": "v"}}),
        j!({"a.": {"DataType": "String", "StringValue": "v"}}),
        j!({"a..b": {"DataType": "String", "StringValue": "v"}}),
        j!({"a b": {"DataType": "String", "StringValue": "v"}}),
        j!({"": {"DataType": "String", "StringValue": "v"}}),
        j!({"a".repeat(257): {"DataType": "String", "StringValue": "v"}}),
        j!({"a": {"StringValue": "v"}}),
        j!({"a": {"DataType": "", "StringValue": "v"}}),
        j!({"a": {"DataType": "Text", "StringValue": "v"}}),
        j!({"a": {"DataType": "string", "StringValue": "v"}}),
        j!({"a": {"DataType": "String.", "StringValue": "v"}}),
        j!({"a": {"DataType": "Stringy", "StringValue": "v"}}),
        j!({"a": {"DataType": "String"}}),
        j!({"a": {"DataType": "String", "StringValue": ""}}),
        j!({"a": {"DataType": "String", "BinaryValue": "aGk="}}),
        j!({"a": {"DataType": "Binary", "StringValue": "v"}}),
        j!({"a": {"DataType": "Binary", "BinaryValue": ""}}),
        j!({"a": {"DataType": "Number", "StringValue": "12abc"}}),
        j!({"a": {"DataType": "Number", "StringValue": "1e200"}}),
        j!({"a": {"DataType": "String", "StringValue": "\u{1}"}}),
        j!({"a": {"DataType": "String", "StringValue": "v", "StringListValues": ["x"]}}),
    ];
    for attrs in bad_cases {
        let e = send_with_attrs(&attrs).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameterValue, "{attrs}");
    }
    // Query form list values are refused the same way.
    let q = enc(&[
        ("Action", "SendMessage"),
        ("QueueUrl", Q),
        ("MessageBody", "x"),
        ("MessageAttribute.1.Name", "a"),
        ("MessageAttribute.1.Value.DataType", "String"),
        ("MessageAttribute.1.Value.StringListValue.1", "x"),
    ]);
    assert_eq!(kind_form(&q), ErrorKind::InvalidParameterValue);
    let q = enc(&[
        ("Action", "SendMessage"),
        ("QueueUrl", Q),
        ("MessageBody", "x"),
        ("MessageAttribute.1.Value.DataType", "String"),
    ]);
    assert_eq!(kind_form(&q), ErrorKind::MissingParameter);
}

#[test]
fn system_attributes() {
    let send = |sys: serde_json::Value| {
        let body =
            serde_json::json!({"QueueUrl": Q, "MessageBody": "x", "MessageSystemAttributes": sys});
        json("SendMessage", &body.to_string())
    };
    assert!(send(
        serde_json::json!({"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1"}})
    )
    .is_ok());
    for bad in [
        serde_json::json!({"Other": {"DataType": "String", "StringValue": "v"}}),
        serde_json::json!({"AWSTraceHeader": {"DataType": "Number", "StringValue": "1"}}),
        serde_json::json!({"AWSTraceHeader": {"DataType": "Binary", "BinaryValue": "aGk="}}),
        serde_json::json!({"AWSTraceHeader": {"DataType": "String", "StringValue": ""}}),
    ] {
        assert_eq!(
            send(bad.clone()).unwrap_err().kind,
            ErrorKind::InvalidParameterValue,
            "{bad}"
        );
    }
}

// ----- MD5 ---------------------------------------------------------------------------------

#[test]
fn md5_vectors() {
    // moto's SQS test suite pins this digest as AWS's.
    let body = serde_json::json!({"QueueUrl": Q, "MessageBody": "this is a test message",
        "MessageAttributes": {"timestamp": {"DataType": "Number", "StringValue": "1493147359900"}}});
    let SqsRequest::SendMessage { message, .. } = json("SendMessage", &body.to_string()).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        md5_of_message_attributes(&message.message_attributes),
        "235c5c510d26fb653d073faed50ae77c"
    );
    // Python: hashlib.md5(b'this is a test message').hexdigest()
    assert_eq!(
        md5_of_body(message.body.as_bytes()),
        "905ed04ee04ac9a8b461f9f3b10eec6d"
    );
    // Python over the documented layout (sorted names, u32be lengths, transport 1 / 2).
    let attrs = vec![
        sattr("b", "String", "x"),
        sattr("a", "Number", "1"),
        battr("bin", "Binary.png", &[0, 1, 2, 255]),
        sattr("Z", "String.utf8", "héllo 😀"),
    ];
    assert_eq!(
        md5_of_message_attributes(&attrs),
        "0ae9102473acf265c23072d88d781f6d"
    );
}

// ----- error rendering ---------------------------------------------------------------------

fn header<'a>(r: &'a HttpReply, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(h, _)| h.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn json_error_rendering() {
    let req = json_http(
        "AmazonSQS.SendMessageBatch",
        br#"{"QueueUrl":"/0/q","Entries":[]}"#,
    );
    let err = parse(&req).unwrap_err();
    let r = render_error(detect_wire(&req), &err, "req-1");
    assert_eq!(r.status, 400);
    assert_eq!(r.content_type, "application/x-amz-json-1.0");
    assert_eq!(header(&r, "x-amzn-RequestId"), Some("req-1"));
    assert_eq!(
        header(&r, "x-amzn-query-error"),
        Some("AWS.SimpleQueueService.EmptyBatchRequest;Sender")
    );
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["__type"], "com.amazonaws.sqs#EmptyBatchRequest");
    assert_eq!(v["message"], err.message.as_str());

    for (kind, ty, code, status) in [
        (
            ErrorKind::QueueDoesNotExist,
            "com.amazonaws.sqs#QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue;Sender",
            400,
        ),
        (
            ErrorKind::QueueNameExists,
            "com.amazonaws.sqs#QueueNameExists",
            "QueueAlreadyExists;Sender",
            400,
        ),
        (
            ErrorKind::PurgeQueueInProgress,
            "com.amazonaws.sqs#PurgeQueueInProgress",
            "AWS.SimpleQueueService.PurgeQueueInProgress;Sender",
            403,
        ),
        (
            ErrorKind::InvalidParameterValue,
            "com.amazon.coral.service#InvalidParameterValueException",
            "InvalidParameterValue;Sender",
            400,
        ),
        (
            ErrorKind::MissingParameter,
            "com.amazon.coral.service#MissingRequiredParameterException",
            "MissingParameter;Sender",
            400,
        ),
        (
            ErrorKind::ResourceNotFoundException,
            "com.amazonaws.sqs#ResourceNotFoundException",
            "ResourceNotFoundException;Sender",
            404,
        ),
        (
            ErrorKind::InternalError,
            "com.amazon.coral.service#InternalFailure",
            "InternalError;Receiver",
            500,
        ),
    ] {
        let r = render_error(Wire::Json, &SqsError::of(kind), "r");
        assert_eq!(r.status, status, "{kind}");
        assert_eq!(header(&r, "x-amzn-query-error"), Some(code), "{kind}");
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["__type"], ty);
    }
    // SerializationException carries no query error header.
    let err = json("ListQueues", "{").unwrap_err();
    let r = render_error(Wire::Json, &err, "r");
    assert_eq!(header(&r, "x-amzn-query-error"), None);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        v["__type"],
        "com.amazon.coral.service#SerializationException"
    );
}

// ----- XML: parse the output back ----------------------------------------------------------

/// Every element's path (`A/B/C`) and its unescaped text, in document order; panics if
/// the XML is not well-formed.
fn xml_texts(xml: &[u8]) -> Vec<(String, String)> {
    use quick_xml::events::Event;
    let text = std::str::from_utf8(xml).expect("utf-8");
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<String> = Vec::new();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut current = String::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                stack.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
                current.clear();
            }
            Event::Text(t) => current.push_str(&t.unescape().expect("valid escapes")),
            Event::End(e) => {
                let name = stack.pop().expect("balanced");
                assert_eq!(e.name().as_ref(), name.as_bytes());
                let mut path = stack.join("/");
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(&name);
                out.push((path, std::mem::take(&mut current)));
            }
            Event::Empty(e) => {
                let mut path = stack.join("/");
                path.push('/');
                path.push_str(std::str::from_utf8(e.name().as_ref()).unwrap());
                out.push((path, String::new()));
            }
            Event::Eof => break,
            Event::Decl(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(stack.is_empty(), "unclosed elements");
    out
}

fn texts_at<'a>(t: &'a [(String, String)], path: &str) -> Vec<&'a str> {
    t.iter()
        .filter(|(p, _)| p == path)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn xml_receive_message_round_trips_awkward_text() {
    let body = "a < b && c > d \"q\" 'a'\r\nline2\rnon-ASCII: é 中文 😀";
    let msg = ReceivedSqsMessage {
        message_id: "id-1".into(),
        receipt_handle: "rh+/=&<".into(),
        md5_of_body: md5_of_body(body.as_bytes()),
        body: body.into(),
        attributes: map(&[
            ("SentTimestamp", "1700000000000"),
            ("ApproximateReceiveCount", "1"),
        ]),
        message_attributes: vec![
            sattr("s", "String", "x\ry<"),
            battr("b", "Binary", &[0, 255]),
        ],
        md5_of_message_attributes: Some("abc".into()),
    };
    let resp = SqsResponse::ReceiveMessage {
        messages: vec![msg.clone(), msg],
    };
    let r = render(Wire::Query, Action::ReceiveMessage, &resp, "rid-9");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "text/xml");
    let raw = String::from_utf8(r.body.clone()).unwrap();
    assert!(raw.contains("&#xD;"), "CR escaped");
    assert!(!raw.contains('\r'));
    assert!(raw.contains(
        r#"<ReceiveMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">"#
    ));
    let t = xml_texts(&r.body);
    let m = "ReceiveMessageResponse/ReceiveMessageResult/Message";
    assert_eq!(texts_at(&t, &format!("{m}/Body")), vec![body, body]);
    assert_eq!(texts_at(&t, &format!("{m}/ReceiptHandle"))[0], "rh+/=&<");
    assert_eq!(
        texts_at(&t, &format!("{m}/MD5OfBody"))[0],
        md5_of_body(body.as_bytes())
    );
    assert_eq!(
        texts_at(&t, &format!("{m}/Attribute/Name"))[..2],
        ["ApproximateReceiveCount", "SentTimestamp"]
    );
    assert_eq!(
        texts_at(&t, &format!("{m}/Attribute/Value"))[..2],
        ["1", "1700000000000"]
    );
    assert_eq!(
        texts_at(&t, &format!("{m}/MessageAttribute/Name"))[..2],
        ["s", "b"]
    );
    assert_eq!(
        texts_at(&t, &format!("{m}/MessageAttribute/Value/StringValue"))[0],
        "x\ry<"
    );
    assert_eq!(
        texts_at(&t, &format!("{m}/MessageAttribute/Value/BinaryValue"))[0],
        "AP8="
    );
    assert_eq!(
        texts_at(&t, &format!("{m}/MessageAttribute/Value/DataType"))[..2],
        ["String", "Binary"]
    );
    assert_eq!(
        texts_at(&t, "ReceiveMessageResponse/ResponseMetadata/RequestId"),
        vec!["rid-9"]
    );

    // The JSON rendering of the same response.
    let r = render(Wire::Json, Action::ReceiveMessage, &resp, "rid-9");
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let m0 = &v["Messages"][0];
    assert_eq!(m0["Body"], body);
    assert_eq!(m0["MD5OfBody"], md5_of_body(body.as_bytes()));
    assert_eq!(m0["Attributes"]["SentTimestamp"], "1700000000000");
    assert_eq!(
        m0["MessageAttributes"]["b"],
        serde_json::json!({"BinaryValue": "AP8=", "DataType": "Binary"})
    );
    assert_eq!(
        m0["MessageAttributes"]["s"],
        serde_json::json!({"StringValue": "x\ry<", "DataType": "String"})
    );
    assert_eq!(m0["MD5OfMessageAttributes"], "abc");
}

#[test]
fn xml_error_rendering() {
    let err = SqsError::new(ErrorKind::InvalidParameterValue, "No <queue> & \"such\"\r");
    let r = render_error(Wire::Query, &err, "rid");
    assert_eq!(r.status, 400);
    assert_eq!(r.content_type, "text/xml");
    assert_eq!(header(&r, "x-amzn-query-error"), None);
    let t = xml_texts(&r.body);
    assert_eq!(texts_at(&t, "ErrorResponse/Error/Type"), vec!["Sender"]);
    assert_eq!(
        texts_at(&t, "ErrorResponse/Error/Code"),
        vec!["InvalidParameterValue"]
    );
    assert_eq!(
        texts_at(&t, "ErrorResponse/Error/Message"),
        vec!["No <queue> & \"such\"\r"]
    );
    assert_eq!(texts_at(&t, "ErrorResponse/Error/Detail"), vec![""]);
    assert_eq!(texts_at(&t, "ErrorResponse/RequestId"), vec!["rid"]);
}

fn sample_responses() -> Vec<(Action, SqsResponse)> {
    let fail = BatchFailure {
        id: "f".into(),
        code: "InvalidMessageContents".into(),
        message: "bad <chars>".into(),
        sender_fault: true,
    };
    let sent = SendMessageResult {
        message_id: "m1".into(),
        md5_of_message_body: "b".into(),
        md5_of_message_attributes: Some("a".into()),
        md5_of_message_system_attributes: Some("s".into()),
        sequence_number: Some("18849496460467696128".into()),
    };
    vec![
        (
            Action::CreateQueue,
            SqsResponse::CreateQueue {
                queue_url: Q.into(),
            },
        ),
        (
            Action::GetQueueUrl,
            SqsResponse::GetQueueUrl {
                queue_url: Q.into(),
            },
        ),
        (
            Action::ListQueues,
            SqsResponse::ListQueues {
                queue_urls: vec![Q.into(), "u2".into()],
                next_token: Some("t".into()),
            },
        ),
        (
            Action::GetQueueAttributes,
            SqsResponse::GetQueueAttributes {
                attributes: map(&[("VisibilityTimeout", "30"), ("Policy", "{\"a\":1}")]),
            },
        ),
        (Action::SendMessage, SqsResponse::SendMessage(sent.clone())),
        (
            Action::SendMessageBatch,
            SqsResponse::SendMessageBatch {
                successful: vec![SendMessageBatchResultEntry {
                    id: "s".into(),
                    result: sent,
                }],
                failed: vec![fail.clone()],
            },
        ),
        (
            Action::DeleteMessageBatch,
            SqsResponse::DeleteMessageBatch {
                successful: vec!["a".into()],
                failed: vec![fail.clone()],
            },
        ),
        (
            Action::ChangeMessageVisibilityBatch,
            SqsResponse::ChangeMessageVisibilityBatch {
                successful: vec!["a".into()],
                failed: vec![fail],
            },
        ),
        (
            Action::ListQueueTags,
            SqsResponse::ListQueueTags {
                tags: map(&[("k", "v&")]),
            },
        ),
        (
            Action::ListDeadLetterSourceQueues,
            SqsResponse::ListDeadLetterSourceQueues {
                queue_urls: vec![Q.into()],
                next_token: None,
            },
        ),
        (
            Action::StartMessageMoveTask,
            SqsResponse::StartMessageMoveTask {
                task_handle: "th".into(),
            },
        ),
        (
            Action::ListMessageMoveTasks,
            SqsResponse::ListMessageMoveTasks {
                results: vec![MoveTask {
                    task_handle: Some("th".into()),
                    status: "RUNNING".into(),
                    source_arn: "arn:aws:sqs:r:0:dlq".into(),
                    destination_arn: None,
                    max_number_of_messages_per_second: Some(50),
                    approximate_number_of_messages_moved: 3,
                    approximate_number_of_messages_to_move: Some(10),
                    failure_reason: None,
                    started_timestamp: 1_700_000_000_000,
                }],
            },
        ),
        (
            Action::CancelMessageMoveTask,
            SqsResponse::CancelMessageMoveTask {
                approximate_number_of_messages_moved: 7,
            },
        ),
        (Action::PurgeQueue, SqsResponse::Empty),
    ]
}

#[test]
fn every_response_renders_well_formed_xml_and_model_json() {
    for (action, resp) in sample_responses() {
        let r = render(Wire::Query, action, &resp, "rid");
        let t = xml_texts(&r.body);
        let root = format!("{action}Response");
        assert_eq!(
            texts_at(&t, &format!("{root}/ResponseMetadata/RequestId")),
            vec!["rid"],
            "{action}"
        );
        let j = render(Wire::Json, action, &resp, "rid");
        assert_eq!(j.status, 200);
        let v: serde_json::Value = serde_json::from_slice(&j.body).unwrap();
        assert!(v.is_object(), "{action}");
        let res = format!("{root}/{action}Result");
        match action {
            Action::ListQueues => {
                assert_eq!(texts_at(&t, &format!("{res}/QueueUrl")), vec![Q, "u2"]);
                assert_eq!(texts_at(&t, &format!("{res}/NextToken")), vec!["t"]);
                assert_eq!(
                    v,
                    serde_json::json!({"QueueUrls": [Q, "u2"], "NextToken": "t"})
                );
            }
            Action::GetQueueAttributes => {
                assert_eq!(
                    texts_at(&t, &format!("{res}/Attribute/Name")),
                    vec!["Policy", "VisibilityTimeout"]
                );
                assert_eq!(
                    texts_at(&t, &format!("{res}/Attribute/Value")),
                    vec!["{\"a\":1}", "30"]
                );
                assert_eq!(v["Attributes"]["VisibilityTimeout"], "30");
            }
            Action::SendMessage => {
                assert_eq!(
                    texts_at(&t, &format!("{res}/SequenceNumber")),
                    vec!["18849496460467696128"]
                );
                assert_eq!(v["MD5OfMessageSystemAttributes"], "s");
                assert_eq!(v["SequenceNumber"], "18849496460467696128");
            }
            Action::SendMessageBatch => {
                assert_eq!(
                    texts_at(&t, &format!("{res}/SendMessageBatchResultEntry/Id")),
                    vec!["s"]
                );
                assert_eq!(
                    texts_at(&t, &format!("{res}/SendMessageBatchResultEntry/MessageId")),
                    vec!["m1"]
                );
                assert_eq!(
                    texts_at(&t, &format!("{res}/BatchResultErrorEntry/Code")),
                    vec!["InvalidMessageContents"]
                );
                assert_eq!(
                    texts_at(&t, &format!("{res}/BatchResultErrorEntry/SenderFault")),
                    vec!["true"]
                );
                assert_eq!(
                    texts_at(&t, &format!("{res}/BatchResultErrorEntry/Message")),
                    vec!["bad <chars>"]
                );
                assert_eq!(v["Successful"][0]["Id"], "s");
                assert_eq!(v["Successful"][0]["MD5OfMessageAttributes"], "a");
                assert_eq!(
                    v["Failed"][0],
                    serde_json::json!({"Id": "f", "SenderFault": true, "Code": "InvalidMessageContents", "Message": "bad <chars>"})
                );
            }
            Action::DeleteMessageBatch | Action::ChangeMessageVisibilityBatch => {
                assert_eq!(
                    texts_at(&t, &format!("{res}/{action}ResultEntry/Id")),
                    vec!["a"]
                );
                assert_eq!(
                    texts_at(&t, &format!("{res}/BatchResultErrorEntry/Id")),
                    vec!["f"]
                );
                assert_eq!(v["Successful"], serde_json::json!([{"Id": "a"}]));
            }
            Action::ListQueueTags => {
                assert_eq!(texts_at(&t, &format!("{res}/Tag/Key")), vec!["k"]);
                assert_eq!(texts_at(&t, &format!("{res}/Tag/Value")), vec!["v&"]);
                assert_eq!(v, serde_json::json!({"Tags": {"k": "v&"}}));
            }
            Action::ListDeadLetterSourceQueues => {
                assert_eq!(texts_at(&t, &format!("{res}/QueueUrl")), vec![Q]);
                assert_eq!(v, serde_json::json!({"queueUrls": [Q]}));
            }
            Action::ListMessageMoveTasks => {
                let e = format!("{res}/ListMessageMoveTasksResultEntry");
                assert_eq!(texts_at(&t, &format!("{e}/Status")), vec!["RUNNING"]);
                assert_eq!(
                    texts_at(&t, &format!("{e}/ApproximateNumberOfMessagesMoved")),
                    vec!["3"]
                );
                assert_eq!(
                    v["Results"][0],
                    serde_json::json!({"TaskHandle": "th", "Status": "RUNNING", "SourceArn": "arn:aws:sqs:r:0:dlq",
                        "MaxNumberOfMessagesPerSecond": 50, "ApproximateNumberOfMessagesMoved": 3,
                        "ApproximateNumberOfMessagesToMove": 10, "StartedTimestamp": 1_700_000_000_000u64})
                );
            }
            Action::CancelMessageMoveTask => {
                assert_eq!(
                    texts_at(&t, &format!("{res}/ApproximateNumberOfMessagesMoved")),
                    vec!["7"]
                );
                assert_eq!(
                    v,
                    serde_json::json!({"ApproximateNumberOfMessagesMoved": 7})
                );
            }
            Action::StartMessageMoveTask => {
                assert_eq!(v, serde_json::json!({"TaskHandle": "th"}));
            }
            Action::CreateQueue | Action::GetQueueUrl => {
                assert_eq!(texts_at(&t, &format!("{res}/QueueUrl")), vec![Q]);
                assert_eq!(v, serde_json::json!({"QueueUrl": Q}));
            }
            Action::PurgeQueue => {
                assert!(texts_at(&t, &res).is_empty(), "no Result element");
                assert_eq!(v, serde_json::json!({}));
            }
            _ => unreachable!(),
        }
    }
}

// ----- never panics ------------------------------------------------------------------------

fn any_str(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(|v| v.into_iter().collect())
}

/// Query keys built from the real parameter vocabulary, with odd indices.
fn query_key() -> impl Strategy<Value = String> {
    let heads = prop_oneof![
        Just("Attribute"),
        Just("Tag"),
        Just("AttributeName"),
        Just("MessageAttribute"),
        Just("MessageSystemAttribute"),
        Just("SendMessageBatchRequestEntry"),
        Just("DeleteMessageBatchRequestEntry"),
        Just("ChangeMessageVisibilityBatchRequestEntry"),
        Just("QueueUrl"),
        Just("MessageBody"),
    ];
    let tails = prop_oneof![
        Just(""),
        Just(".Name"),
        Just(".Value"),
        Just(".Key"),
        Just(".Id"),
        Just(".MessageBody"),
        Just(".ReceiptHandle"),
        Just(".VisibilityTimeout"),
        Just(".DelaySeconds"),
        Just(".Value.DataType"),
        Just(".Value.StringValue"),
        Just(".Value.BinaryValue"),
        Just(".MessageAttribute.1.Name"),
        Just(".MessageAttribute.1.Value.DataType"),
    ];
    (
        heads,
        prop_oneof![
            Just("1".to_string()),
            Just("0".to_string()),
            any::<u32>().prop_map(|i| i.to_string()),
            Just("x".to_string())
        ],
        tails,
    )
        .prop_map(|(h, i, t)| format!("{h}.{i}{t}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_arbitrary_input(
        method in prop_oneof![Just("GET".to_string()), Just("POST".to_string()), any_str(8)],
        path in prop_oneof![Just("/".to_string()), Just("/000000000000/q".to_string()), any_str(40)],
        query in proptest::option::of(any_str(80)),
        target in proptest::option::of(prop_oneof![
            proptest::sample::select(Action::ALL).prop_map(|a| format!("AmazonSQS.{a}")),
            any_str(30),
        ]),
        content_type in proptest::option::of(prop_oneof![
            Just("application/x-amz-json-1.0".to_string()),
            Just("application/x-www-form-urlencoded".to_string()),
            any_str(30),
        ]),
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let req = HttpRequest {
            method: &method,
            path: &path,
            query: query.as_deref(),
            target: target.as_deref(),
            content_type: content_type.as_deref(),
            body: &body,
        };
        let wire = detect_wire(&req);
        match parse(&req) {
            Ok((w, r)) => {
                prop_assert_eq!(w, wire);
                let _ = r.action();
            }
            Err(e) => {
                let reply = render_error(wire, &e, "rid");
                prop_assert!(reply.status >= 400);
            }
        }
    }

    #[test]
    fn parse_never_panics_on_plausible_queries(
        action in proptest::sample::select(Action::ALL),
        params in proptest::collection::vec((query_key(), any_str(20)), 0..30),
    ) {
        let mut pairs = vec![("Action".to_string(), action.name().to_string())];
        pairs.extend(params);
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            s.append_pair(k, v);
        }
        let body = s.finish();
        if let Err(e) = parse(&form_http(body.as_bytes())) {
            let reply = render_error(Wire::Query, &e, "rid");
            xml_texts(&reply.body);
        }
    }

    #[test]
    fn parse_never_panics_on_plausible_json(
        action in proptest::sample::select(Action::ALL),
        fields in proptest::collection::btree_map(
            prop_oneof![
                Just("QueueUrl"), Just("QueueName"), Just("MessageBody"), Just("Entries"),
                Just("MessageAttributes"), Just("Attributes"), Just("MaxNumberOfMessages"),
                Just("VisibilityTimeout"), Just("Tags"), Just("tags"), Just("TagKeys"),
                Just("ReceiptHandle"), Just("SourceArn"), Just("Label"), Just("AttributeNames"),
            ],
            prop_oneof![
                any::<i64>().prop_map(serde_json::Value::from),
                any_str(10).prop_map(serde_json::Value::from),
                Just(serde_json::json!([{"Id": "a", "MessageBody": "x", "ReceiptHandle": "h", "VisibilityTimeout": 1}])),
                Just(serde_json::json!({"a": {"DataType": "Number", "StringValue": "1"}})),
                Just(serde_json::json!({"a": "b"})),
                Just(serde_json::json!(["a", 1, null])),
                Just(serde_json::Value::Null),
                Just(serde_json::json!(1.5)),
            ],
            0..8,
        ),
    ) {
        let body = serde_json::to_vec(&fields).unwrap();
        let target = format!("AmazonSQS.{action}");
        match parse(&json_http(&target, &body)) {
            Ok((_, r)) => prop_assert_eq!(r.action(), action),
            Err(e) => {
                let reply = render_error(Wire::Json, &e, "rid");
                let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
                prop_assert!(v["__type"].as_str().unwrap().contains('#'));
            }
        }
    }

    #[test]
    fn rendered_xml_is_well_formed_for_any_text(body in any_str(200), attr in any_str(50)) {
        let msg = ReceivedSqsMessage {
            message_id: attr.clone(),
            body: body.clone(),
            message_attributes: vec![sattr("a", "String", &attr)],
            ..Default::default()
        };
        let resp = SqsResponse::ReceiveMessage { messages: vec![msg] };
        let r = render(Wire::Query, Action::ReceiveMessage, &resp, &attr);
        let t = xml_texts(&r.body);
        let got = texts_at(&t, "ReceiveMessageResponse/ReceiveMessageResult/Message/Body")[0].to_string();
        // Text XML can carry comes back unchanged; the rest became U+FFFD.
        let expected: String = body
            .chars()
            .map(|c| if spool_protocol::sqs::request::is_xml_char(c) { c } else { '\u{FFFD}' })
            .collect();
        prop_assert_eq!(got, expected);
    }
}
