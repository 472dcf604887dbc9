//! Unit tests of request parsing and validation.

use super::wire::json_token_count;
use super::*;
use crate::sqs::error::ErrorKind;

fn json(target: &str, body: &str) -> Result<SqsRequest, SqsError> {
    parse(&HttpRequest {
        method: "POST",
        path: "/",
        query: None,
        target: Some(target),
        content_type: Some("application/x-amz-json-1.0"),
        body: body.as_bytes(),
    })
    .map(|(w, r)| {
        assert_eq!(w, Wire::Json);
        r
    })
}

fn form(path: &str, body: &str) -> Result<SqsRequest, SqsError> {
    parse(&HttpRequest {
        method: "POST",
        path,
        query: None,
        target: None,
        content_type: Some("application/x-www-form-urlencoded; charset=utf-8"),
        body: body.as_bytes(),
    })
    .map(|(w, r)| {
        assert_eq!(w, Wire::Query);
        r
    })
}

#[test]
fn numbers() {
    for ok in [
        "0", "1", "-1", "+1.5", "1e10", "1.5E-3", "00012", ".5", "5.", "1e126", "1e-128",
    ] {
        assert!(is_valid_number(ok), "{ok}");
    }
    for bad in [
        "", "-", ".", "e5", "1e", "1.2.3", "abc", "1 ", "0x10", "NaN", "inf", "1e127", "1e-129",
    ] {
        assert!(!is_valid_number(bad), "{bad}");
    }
    assert!(is_valid_number(&"9".repeat(38)));
    assert!(!is_valid_number(&"9".repeat(39)));
    assert!(is_valid_number(&format!("{}000", "9".repeat(38))));
}

#[test]
fn xml_chars() {
    assert!(validate_body("hello\t\r\n€😀\u{FFFD}").is_ok());
    for bad in ["\u{0}", "a\u{1F}", "\u{FFFE}", "\u{FFFF}", "\u{8}"] {
        assert_eq!(
            validate_body(bad).unwrap_err().kind,
            ErrorKind::InvalidMessageContents
        );
    }
    assert_eq!(
        validate_body("").unwrap_err().kind,
        ErrorKind::MissingParameter
    );
}

#[test]
fn attribute_names() {
    assert!(validate_attribute_name("a.b-c_D9").is_ok());
    // Letters of any script, as AWS accepts them.
    assert!(validate_attribute_name("attr.1øßä").is_ok());
    assert!(validate_attribute_name("é").is_ok());
    for bad in [
        "", "a b", "AWS.x", "aws.x", "amazon.X", ".a", "a.", "a..b", "a§", "a!",
    ] {
        assert!(validate_attribute_name(bad).is_err(), "{bad}");
    }
    assert!(validate_attribute_name("awsx").is_ok());
    assert!(validate_attribute_name(&"a".repeat(256)).is_ok());
    assert!(validate_attribute_name(&"a".repeat(257)).is_err());
}

#[test]
fn json_token_counting_ignores_strings() {
    assert_eq!(json_token_count(br#"{"a":"x,y:[{\"","b":[1,2]}"#), 6);
}

#[test]
fn path_gives_the_queue() {
    let r = form("/000000000000/q1", "Action=PurgeQueue").unwrap();
    assert_eq!(
        r,
        SqsRequest::PurgeQueue {
            queue_url: "/000000000000/q1".into()
        }
    );
    assert_eq!(r.queue_name(), Some("q1"));
    let r = form(
        "/0/q1",
        "Action=PurgeQueue&QueueUrl=http%3A%2F%2Fh%2F0%2Fq2",
    )
    .unwrap();
    assert_eq!(r.queue_name(), Some("q2"));
    assert_eq!(
        form("/", "Action=PurgeQueue").unwrap_err().kind,
        ErrorKind::MissingParameter
    );
}

#[test]
fn wrong_json_types() {
    let e = json(
        "AmazonSQS.ReceiveMessage",
        r#"{"QueueUrl":"/0/q","MaxNumberOfMessages":"5"}"#,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::SerializationException);
    assert_eq!(e.message, "STRING_VALUE can not be converted to an Integer");
    let e = json("AmazonSQS.DeleteQueue", r#"{"QueueUrl":5}"#).unwrap_err();
    assert_eq!(e.kind, ErrorKind::SerializationException);
    let e = json("AmazonSQS.DeleteQueue", r"[1]").unwrap_err();
    assert_eq!(e.kind, ErrorKind::SerializationException);
    let e = json("AmazonSQS.DeleteQueue", r#"{"QueueUrl":"#).unwrap_err();
    assert_eq!(e.kind, ErrorKind::SerializationException);
    let e = json(
        "AmazonSQS.ReceiveMessage",
        r#"{"QueueUrl":"/0/q","WaitTimeSeconds":1.5}"#,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::SerializationException);
}

#[test]
fn receive_filters() {
    let r = ReceiveMessageRequest {
        message_attribute_names: vec!["foo.*".into(), "bar".into()],
        system_attribute_names: vec!["SentTimestamp".into()],
        ..Default::default()
    };
    assert!(r.wants_message_attribute("foo.x"));
    // The prefix is everything before `.*` (issue 17: `Hel.*` returns `Hello`).
    assert!(r.wants_message_attribute("foox"));
    assert!(!r.wants_message_attribute("fo"));
    assert!(r.wants_message_attribute("bar"));
    assert!(!r.wants_message_attribute("bar.x"));
    assert!(r.wants_system_attribute("SentTimestamp"));
    assert!(!r.wants_system_attribute("SenderId"));
    let all = ReceiveMessageRequest {
        message_attribute_names: vec![".*".into()],
        system_attribute_names: vec!["All".into()],
        ..Default::default()
    };
    assert!(all.wants_message_attribute("anything"));
    assert!(all.wants_system_attribute("SenderId"));
}

/// Every text built from the model's limits reads exactly as it did when the numbers were
/// written into it (AWS's words, recorded).
#[test]
fn texts_built_from_the_model_limits() {
    const Q: &str = "/000000000000/q";
    let err = |action: &str, body: String| {
        json(&format!("AmazonSQS.{action}"), &body)
            .unwrap_err()
            .message
    };
    let reason = |name: &str, v: &str, why: &str| {
        format!("Value {v} for parameter {name} is invalid. Reason: {why}")
    };
    assert_eq!(
        err(
            "ReceiveMessage",
            format!(r#"{{"QueueUrl":"{Q}","VisibilityTimeout":43201}}"#)
        ),
        reason(
            "VisibilityTimeout",
            "43201",
            "Must be >= 0 and <= 43200, if provided."
        )
    );
    assert_eq!(
        err(
            "ChangeMessageVisibility",
            format!(r#"{{"QueueUrl":"{Q}","ReceiptHandle":"h","VisibilityTimeout":-1}}"#)
        ),
        reason(
            "VisibilityTimeout",
            "-1",
            "Must be between 0 and 43200, if provided."
        )
    );
    assert_eq!(
        err(
            "SendMessage",
            format!(r#"{{"QueueUrl":"{Q}","MessageBody":"b","DelaySeconds":901}}"#)
        ),
        reason(
            "DelaySeconds",
            "901",
            "Must be >= 0 and <= 900, if provided."
        )
    );
    assert_eq!(
        err("ListQueues", r#"{"MaxResults":1001}"#.to_string()),
        reason(
            "MaxResults",
            "1001",
            "MaxResults must be an integer between 1 and 1000."
        )
    );
    assert_eq!(
        err(
            "ListMessageMoveTasks",
            r#"{"SourceArn":"arn:aws:sqs:us-east-1:000000000000:q","MaxResults":0}"#.to_string()
        ),
        reason(
            "MaxResults",
            "0",
            "MaxResults must be an integer between 1 and 10."
        )
    );
    assert_eq!(
        err(
            "StartMessageMoveTask",
            r#"{"SourceArn":"a","MaxNumberOfMessagesPerSecond":501}"#.to_string()
        ),
        reason(
            "MaxNumberOfMessagesPerSecond",
            "501",
            "Must be between 1 and 500."
        )
    );
    assert_eq!(
        err("CreateQueue", r#"{"QueueName":"a b"}"#.to_string()),
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
    );
    assert_eq!(
        err(
            "AddPermission",
            format!(r#"{{"QueueUrl":"{Q}","Label":"a.b","AWSAccountIds":[],"Actions":[]}}"#)
        ),
        reason(
            "Label",
            "a.b",
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length."
        )
    );
    assert_eq!(
        err(
            "DeleteMessageBatch",
            format!(r#"{{"QueueUrl":"{Q}","Entries":[{{"Id":"a.b","ReceiptHandle":"h"}}]}}"#)
        ),
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long."
    );
    assert_eq!(
        err(
            "SendMessage",
            format!(r#"{{"QueueUrl":"{Q}","MessageBody":"b","MessageGroupId":"a b"}}"#)
        ),
        reason(
            "MessageGroupId",
            "a b",
            "MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length."
        )
    );
    let send_attrs = |field: &str, attrs: &str| {
        err(
            "SendMessage",
            format!(r#"{{"QueueUrl":"{Q}","MessageBody":"b","{field}":{attrs}}}"#),
        )
    };
    assert_eq!(
        send_attrs(
            "MessageSystemAttributes",
            r#"{"AWSTraceHeader":{"DataType":"Number","StringValue":"1"}}"#
        ),
        "The message system attribute 'AWSTraceHeader' must have the data type String."
    );
    assert_eq!(
        send_attrs(
            "MessageSystemAttributes",
            r#"{"AWSTraceHeader":{"DataType":"String","StringValue":""}}"#
        ),
        "The message system attribute 'AWSTraceHeader' must contain a non-empty string value."
    );
    let long_type = format!("String.{}", "x".repeat(250));
    assert_eq!(
        send_attrs(
            "MessageAttributes",
            &format!(r#"{{"a":{{"DataType":"{long_type}","StringValue":"v"}}}}"#)
        ),
        "The message attribute 'a' has a data type longer than 256 bytes."
    );
    let name_error = |name: &str| validate_attribute_name(name).unwrap_err().message;
    assert_eq!(
        name_error(""),
        "The request must contain non-empty message attribute name."
    );
    assert_eq!(
        name_error(&"a".repeat(257)),
        // The name is clipped (with its own "...") before the text's "...": as before.
        format!(
            "Message (user) attribute name {}...... must be shorter than 256 bytes.",
            "a".repeat(256)
        )
    );
    assert_eq!(
        name_error("a b"),
        "Message (user) attribute name 'a b' is invalid. Can only include alphanumeric characters, hyphens, underscores, or dots."
    );
    assert_eq!(
        name_error("Amazon.x"),
        "Message (user) attribute name 'Amazon.x' is invalid. Names starting with 'AWS.' or 'Amazon.' are reserved."
    );
    assert_eq!(
        name_error("a..b"),
        "Message (user) attribute name 'a..b' is invalid. It can't start or end with a period, or have consecutive periods."
    );
}

#[test]
fn a_bare_queue_name_is_the_queue() {
    let r = form("/", "Action=PurgeQueue&QueueUrl=q1").unwrap();
    assert_eq!(r.queue_name(), Some("q1"));
    let r = json("AmazonSQS.PurgeQueue", r#"{"QueueUrl":"q2.fifo"}"#).unwrap();
    assert_eq!(r.queue_name(), Some("q2.fifo"));
    let r = form("/", "Action=PurgeQueue&QueueUrl=bad%20name").unwrap();
    assert_eq!(r.queue_name(), None);
}

#[test]
fn query_empty_lists_are_empty_lists() {
    for action in [
        "SendMessageBatch",
        "DeleteMessageBatch",
        "ChangeMessageVisibilityBatch",
    ] {
        let e = form("/", &format!("Action={action}&QueueUrl=/0/q&Entries=")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::EmptyBatchRequest, "{action}");
    }
    let r = form(
        "/",
        "Action=ReceiveMessage&QueueUrl=/0/q&MessageAttributeNames=&AttributeNames=",
    )
    .unwrap();
    let SqsRequest::ReceiveMessage(r) = r else {
        panic!("{r:?}")
    };
    assert!(r.message_attribute_names.is_empty());
    assert!(r.system_attribute_names.is_empty());
    // Items next to an empty list: the items win.
    let r = form(
        "/",
        "Action=ReceiveMessage&QueueUrl=/0/q&MessageAttributeNames=&MessageAttributeName.1=a",
    )
    .unwrap();
    let SqsRequest::ReceiveMessage(r) = r else {
        panic!("{r:?}")
    };
    assert_eq!(r.message_attribute_names, vec!["a".to_string()]);
    // A scalar member sent empty stays a (wrong) empty text.
    assert!(form(
        "/",
        "Action=ReceiveMessage&QueueUrl=/0/q&MaxNumberOfMessages="
    )
    .is_err());
}
