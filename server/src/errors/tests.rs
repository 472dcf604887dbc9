use std::collections::BTreeMap;

use spool_engine::{InvalidHandle, RedriveRefusal};
use spool_model::attrs::QueueAttributes;

use super::*;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn create(name: &str, pairs: &[(&str, &str)]) -> EngineError {
    EngineError::Attr(QueueAttributes::for_create(name, &map(pairs)).unwrap_err())
}

/// The SQS error a client sees for an engine error (through the binary reply).
fn sqs(e: &EngineError) -> SqsError {
    sqs_error(&wire(e))
}

#[test]
fn every_engine_error_has_a_specific_code() {
    let cases = [
        (
            EngineError::QueueDoesNotExist("q".into()),
            ErrorCode::QueueDoesNotExist,
        ),
        (
            EngineError::Attr(AttrError::DifferentAttributes { name: "x" }),
            ErrorCode::QueueNameExists,
        ),
        (
            EngineError::ReceiptHandleExpired,
            ErrorCode::ReceiptHandleExpired,
        ),
        (EngineError::OverLimit { limit: 1 }, ErrorCode::OverLimit),
        (
            EngineError::MessageTooLong { size: 2, max: 1 },
            ErrorCode::MessageTooLong,
        ),
        (EngineError::Failed("x".into()), ErrorCode::StorageError),
        (EngineError::OutOfSpace("x".into()), ErrorCode::OutOfSpace),
        (
            EngineError::Io(std::io::Error::from_raw_os_error(libc::ENOSPC)),
            ErrorCode::OutOfSpace,
        ),
        (
            EngineError::Io(std::io::Error::from_raw_os_error(libc::EIO)),
            ErrorCode::InternalError,
        ),
    ];
    for (e, c) in cases {
        let w = wire(&e);
        assert_eq!(w.code, c);
        assert_eq!(w.message, message(&e));
    }
    // Storage errors have no SQS wording: the engine's own description goes out.
    let e = EngineError::Failed("x".into());
    assert_eq!(wire(&e).message, e.to_string());
}

#[test]
fn storage_errors_are_aws_shaped_server_errors() {
    let full = sqs_error(&WireError::new(
        ErrorCode::OutOfSpace,
        "out of space: disk full",
    ));
    assert_eq!(full.kind, ErrorKind::ServiceUnavailable);
    assert_eq!(full.kind.status(), 503);
    let failed = sqs_error(&WireError::new(ErrorCode::StorageError, "flush failed"));
    assert_eq!(failed.kind, ErrorKind::InternalError);
    assert_eq!(failed.kind.status(), 500);
}

#[test]
fn queue_name_errors_are_invalid_parameter_value_with_aws_text() {
    let e = create("bad name", &[]);
    assert_eq!(code(&e), ErrorCode::InvalidParameter);
    let s = sqs(&e);
    assert_eq!(s.kind, ErrorKind::InvalidParameterValue);
    assert_eq!(
        s.message,
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
    );
    let e = create("q", &[("FifoQueue", "true")]);
    assert_eq!(sqs(&e).kind, ErrorKind::InvalidParameterValue);
    assert_eq!(sqs(&e).message, "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.");
}

#[test]
fn attribute_errors_keep_their_sqs_texts() {
    let e = create("q", &[("FifoQueue", "false")]);
    assert_eq!(sqs(&e).kind, ErrorKind::InvalidAttributeName);
    assert_eq!(sqs(&e).message, "Unknown Attribute FifoQueue.");

    let e = create("q", &[("VisibilityTimeout", "43201")]);
    let s = sqs(&e);
    assert_eq!(s.kind, ErrorKind::InvalidAttributeValue);
    assert_eq!(
        s.message,
        "Invalid value for the parameter VisibilityTimeout. Reason: Value 43201 must be an integer from 0 to 43200."
    );
    // Echoed values are bounded.
    let e = create("q", &[("DelaySeconds", &"x".repeat(10_000))]);
    assert!(message(&e).len() < 300);

    let existing = QueueAttributes::for_create("q", &map(&[("DelaySeconds", "5")])).unwrap();
    let e = EngineError::Attr(
        existing
            .check_same(&map(&[("DelaySeconds", "6")]), "q")
            .unwrap_err(),
    );
    let s = sqs(&e);
    assert_eq!(s.kind, ErrorKind::QueueNameExists);
    assert_eq!(
        s.message,
        "A queue already exists with the same name and a different value for attribute DelaySeconds"
    );

    let e = create(
        "q",
        &[(
            "RedrivePolicy",
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:d.fifo","maxReceiveCount":1}"#,
        )],
    );
    assert_eq!(
        sqs(&e).message,
        "Invalid value for the parameter RedrivePolicy. Reason: Dead-letter target must be a standard queue for a standard source queue."
    );
}

#[test]
fn engine_errors_keep_their_texts() {
    let p = |name, reason| EngineError::InvalidParameter { name, reason };
    let cases: Vec<(EngineError, ErrorKind, &str)> = vec![
        (
            EngineError::QueueDoesNotExist("q".into()),
            ErrorKind::QueueDoesNotExist,
            "The specified queue does not exist.",
        ),
        (
            EngineError::MissingParameter("MessageGroupId"),
            ErrorKind::MissingParameter,
            "The request must contain the parameter MessageGroupId.",
        ),
        (
            p("MessageDeduplicationId", InvalidParameter::NoDedupId),
            ErrorKind::InvalidParameterValue,
            "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
        ),
        (
            p(
                "DelaySeconds",
                InvalidParameter::DelayOnFifoQueue { delay_s: 2 },
            ),
            ErrorKind::InvalidParameterValue,
            "Value 2 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.",
        ),
        (
            p(
                "DelaySeconds",
                InvalidParameter::DelayTooLong {
                    delay_s: 901,
                    max_s: 900,
                },
            ),
            ErrorKind::InvalidParameterValue,
            "Value 901 for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.",
        ),
        (
            p(
                "MessageDeduplicationId",
                InvalidParameter::DedupIdOnStandardQueue {
                    dedup_id: "d".into(),
                },
            ),
            ErrorKind::InvalidParameterValue,
            "Value d for parameter MessageDeduplicationId is invalid. Reason: The request include parameter that is not valid for this queue type.",
        ),
        (
            p(
                "MessageAttributes",
                InvalidParameter::TooManyAttributes { count: 11, max: 10 },
            ),
            ErrorKind::InvalidParameterValue,
            "Number of message attributes [11] exceeds the allowed maximum [10].",
        ),
        (
            p(
                "MessageAttributes",
                InvalidParameter::RepeatedAttribute {
                    attribute: "a".into(),
                },
            ),
            ErrorKind::InvalidParameterValue,
            "Value for parameter MessageAttributes is invalid. Reason: message attribute name 'a' is repeated.",
        ),
        (
            p(
                "MessageAttributeName",
                InvalidParameter::BadAttributeName {
                    attribute: "AWS.x".into(),
                },
            ),
            ErrorKind::InvalidParameterValue,
            "Value for parameter MessageAttributeName is invalid. Reason: message attribute name 'AWS.x' is invalid.",
        ),
        (
            p(
                "MessageAttributeValue",
                InvalidParameter::BadAttributeType {
                    attribute: "n".into(),
                    data_type: "Number".into(),
                },
            ),
            ErrorKind::InvalidParameterValue,
            "Value for parameter MessageAttributeValue is invalid. Reason: message attribute 'n' has an invalid data type or value for type Number.",
        ),
        (
            p(
                "MessageSystemAttributes",
                InvalidParameter::UnsupportedSystemAttribute {
                    attribute: "X".into(),
                },
            ),
            ErrorKind::InvalidParameterValue,
            "Value for parameter MessageSystemAttributes is invalid. Reason: message system attribute 'X' is not supported (only AWSTraceHeader of type String).",
        ),
        (
            p("MessageGroupId", InvalidParameter::BadId { max_chars: 128 }),
            ErrorKind::InvalidParameterValue,
            "MessageGroupId must be 1 to 128 alphanumeric or punctuation characters",
        ),
        (
            p(
                "VisibilityTimeout",
                InvalidParameter::VisibilityTooLong {
                    timeout_s: 43_201,
                    max_s: 43_200,
                },
            ),
            ErrorKind::InvalidParameterValue,
            "Value 43201 for parameter VisibilityTimeout is invalid. Reason: must be between 0 and 43200.",
        ),
        (
            p(
                "Tags",
                InvalidParameter::BadTagKey {
                    key: String::new(),
                    max_chars: 128,
                },
            ),
            ErrorKind::InvalidParameterValue,
            "Tag key \"\" must be 1 to 128 characters long.",
        ),
        (
            p(
                "Tags",
                InvalidParameter::TagValueTooLong {
                    key: "k".into(),
                    max_chars: 256,
                },
            ),
            ErrorKind::InvalidParameterValue,
            "Tag value of \"k\" is over 256 characters long.",
        ),
        (
            p(
                "MaxNumberOfMessages",
                InvalidParameter::CountOutOfRange {
                    count: 0,
                    min: 1,
                    max: 10_000,
                },
            ),
            ErrorKind::InvalidParameterValue,
            "Value for parameter MaxNumberOfMessages is invalid. Reason: 0 is not between 1 and 10000.",
        ),
        (
            p("Tags", InvalidParameter::TooManyTags { max: 50 }),
            ErrorKind::InvalidParameterValue,
            "Too many tags: a queue has at most 50.",
        ),
        (
            EngineError::MessageTooLong {
                size: 2000,
                max: 1024,
            },
            ErrorKind::InvalidParameterValue,
            "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.",
        ),
        (
            EngineError::PurgeQueueInProgress("q".into()),
            ErrorKind::PurgeQueueInProgress,
            "Only one PurgeQueue operation on q is allowed every 60 seconds.",
        ),
        (
            EngineError::QueueDeletedRecently("q".into()),
            ErrorKind::QueueDeletedRecently,
            "queue q was deleted recently; wait 60 seconds after deleting a queue before creating a queue with the same name",
        ),
        (
            EngineError::ReceiptHandleIsInvalid(InvalidHandle::UnknownPartition),
            ErrorKind::ReceiptHandleIsInvalid,
            "the receipt handle is invalid: unknown partition",
        ),
        (
            EngineError::ReceiptHandleExpired,
            ErrorKind::InvalidParameterValue,
            "the receipt handle has expired",
        ),
        (
            EngineError::MessageNotInflight,
            ErrorKind::MessageNotInflight,
            "the message referred to is not in flight",
        ),
        (
            EngineError::OverLimit { limit: 3 },
            ErrorKind::OverLimit,
            "too many messages in flight (limit 3)",
        ),
        (
            EngineError::RedriveNotAllowed(RedriveRefusal::NoSourceQueue),
            ErrorKind::InvalidParameterValue,
            "no dead-letter queue move task is possible: the message has no existing source queue",
        ),
    ];
    for (e, kind, text) in cases {
        let s = sqs(&e);
        assert_eq!((s.kind, s.message.as_str()), (kind, text), "{e:?}");
    }
    // The binary reply names the missing queue.
    assert_eq!(
        wire(&EngineError::QueueDoesNotExist("q".into())).message,
        "the specified queue does not exist: q"
    );
}

#[test]
fn handle_errors_name_the_handle() {
    let bad = wire(&EngineError::ReceiptHandleIsInvalid(
        InvalidHandle::UnknownPartition,
    ));
    let s = sqs_handle_error(&bad, "h1");
    assert_eq!(s.kind, ErrorKind::ReceiptHandleIsInvalid);
    assert_eq!(
        s.message,
        "The input receipt handle \"h1\" is not a valid receipt handle."
    );
    let long = "x".repeat(1000);
    assert!(invalid_handle(&long).message.len() < 400);
    let s = sqs_handle_error(&wire(&EngineError::ReceiptHandleExpired), "h2");
    assert_eq!(s.kind, ErrorKind::InvalidParameterValue);
    assert_eq!(
        s.message,
        "Value h2 for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
    );
    let s = sqs_handle_error(&wire(&EngineError::MessageNotInflight), "h3");
    assert_eq!(s.kind, ErrorKind::MessageNotInflight);
}

#[test]
fn dead_letter_errors_keep_their_texts() {
    use spool_engine::DeadLetterTargetRefusal as R;
    let policy =
        r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:d","maxReceiveCount":3}"#;
    let missing = EngineError::DeadLetterTarget {
        policy: policy.into(),
        reason: R::DoesNotExist,
    };
    assert_eq!(wire(&missing).code, ErrorCode::InvalidParameter);
    let s = sqs(&missing);
    assert_eq!(s.kind, ErrorKind::InvalidParameterValue);
    // AWS's words.
    assert_eq!(
        s.message,
        format!("Value {policy} for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.")
    );
    let denied = EngineError::DeadLetterTarget {
        policy: policy.into(),
        reason: R::NotAllowed {
            source_arn: "arn:aws:sqs:us-east-1:000000000000:s".into(),
            dlq_arn: "arn:aws:sqs:us-east-1:000000000000:d".into(),
        },
    };
    let s = sqs(&denied);
    assert_eq!(s.kind, ErrorKind::InvalidParameterValue);
    assert_eq!(
        s.message,
        format!("Value {policy} for parameter RedrivePolicy is invalid. Reason: Queue arn:aws:sqs:us-east-1:000000000000:s is not allowed to use arn:aws:sqs:us-east-1:000000000000:d as its dead-letter queue: its RedriveAllowPolicy does not permit it.")
    );
    let not_dlq = EngineError::RedriveNotAllowed(RedriveRefusal::NotADeadLetterQueue("q".into()));
    assert_eq!(wire(&not_dlq).code, ErrorCode::RedriveNotAllowed);
    assert_eq!(
        sqs(&not_dlq).message,
        "Source queue must be configured as a Dead Letter Queue: no queue's RedrivePolicy names q."
    );
}
