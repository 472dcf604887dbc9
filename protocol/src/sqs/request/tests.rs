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
    for bad in [
        "", "a b", "AWS.x", "aws.x", "amazon.X", ".a", "a.", "a..b", "é",
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
    let e = json("AmazonSQS.DeleteQueue", r#"[1]"#).unwrap_err();
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
    assert!(!r.wants_message_attribute("foox"));
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
