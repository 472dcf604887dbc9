//! The one place where engine errors become wire errors. Every `EngineError` (and every
//! queue-attribute error) has a stable binary-protocol code (docs/protocol.md) and a text,
//! worded here from the error's structured cause: SQS's exact words where AWS has them,
//! a plain description otherwise. Every binary-protocol code has its SQS error: the SQS
//! API's replies come through the shards as binary-protocol replies (code + text), so the
//! text decided here is the one an SQS client sees.

use spool_engine::{DeadLetterTargetRefusal, EngineError, InvalidParameter, RedriveRefusal};
use spool_model::attrs::AttrError;
use spool_protocol::message::WireError;
use spool_protocol::sqs::{ErrorKind, SqsError};
use spool_protocol::ErrorCode;

/// The binary-protocol code of an engine error.
pub fn code(e: &EngineError) -> ErrorCode {
    match e {
        EngineError::QueueDoesNotExist(_) => ErrorCode::QueueDoesNotExist,
        EngineError::Attr(a) => match a {
            // A bad queue name is the coral InvalidParameterValue in SQS, not an
            // attribute error.
            AttrError::InvalidQueueName(_) => ErrorCode::InvalidParameter,
            AttrError::InvalidAttributeName(_) => ErrorCode::InvalidAttributeName,
            AttrError::InvalidAttributeValue { .. } => ErrorCode::InvalidAttributeValue,
            AttrError::DifferentAttributes { .. } => ErrorCode::QueueNameExists,
        },
        EngineError::QueueDeletedRecently(_) => ErrorCode::QueueDeletedRecently,
        EngineError::PurgeQueueInProgress(_) => ErrorCode::PurgeQueueInProgress,
        EngineError::ReceiptHandleIsInvalid(_) => ErrorCode::ReceiptHandleIsInvalid,
        EngineError::ReceiptHandleExpired => ErrorCode::ReceiptHandleExpired,
        EngineError::MessageNotInflight => ErrorCode::MessageNotInflight,
        EngineError::OverLimit { .. } => ErrorCode::OverLimit,
        // A refused RedrivePolicy is InvalidParameterValue in SQS, as a bad parameter is;
        // so is a visibility change of a message that is gone.
        EngineError::InvalidParameter { .. }
        | EngineError::DeadLetterTarget { .. }
        | EngineError::MessageNotAvailable => ErrorCode::InvalidParameter,
        EngineError::MissingParameter(_) => ErrorCode::MissingParameter,
        EngineError::MessageTooLong { .. } => ErrorCode::MessageTooLong,
        EngineError::InvalidMessageContents(_) => ErrorCode::InvalidMessageContents,
        EngineError::RedriveNotAllowed(_) => ErrorCode::RedriveNotAllowed,
        EngineError::OutOfSpace(_) => ErrorCode::OutOfSpace,
        EngineError::Io(e) if spool_engine::error::is_enospc(e) => ErrorCode::OutOfSpace,
        EngineError::Failed(_) => ErrorCode::StorageError,
        EngineError::Corrupt { .. } | EngineError::Io(_) => ErrorCode::InternalError,
    }
}

/// What SQS says of a bad queue name (recorded from AWS), for a FIFO or standard queue.
fn name_rule(fifo: bool) -> String {
    use spool_model::limits::QUEUE_NAME_MAX_CHARS as MAX;
    use spool_model::name::FIFO_SUFFIX;
    if fifo {
        format!("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with {FIFO_SUFFIX} suffix and be 1 to {MAX} in length.")
    } else {
        format!("Can only include alphanumeric characters, hyphens, or underscores. 1 to {MAX} in length")
    }
}

/// The text of an engine error's reply, binary and SQS alike (the SQS side replaces a few
/// that name what an SQS client cannot use: the queue, a raw handle).
pub fn message(e: &EngineError) -> String {
    match e {
        EngineError::QueueDoesNotExist(name) => {
            format!("the specified queue does not exist: {name}")
        }
        EngineError::Attr(a) => attr_message(a),
        EngineError::QueueDeletedRecently(name) => format!(
            "queue {name} was deleted recently; wait {} seconds after deleting a queue before creating a queue with the same name",
            spool_model::limits::QUEUE_DELETED_RECENTLY_S
        ),
        // AWS's words (recorded).
        EngineError::PurgeQueueInProgress(name) => format!(
            "Only one PurgeQueue operation on {name} is allowed every {} seconds.",
            spool_model::limits::PURGE_INTERVAL_S
        ),
        EngineError::ReceiptHandleIsInvalid(why) => format!("the receipt handle is invalid: {why}"),
        EngineError::ReceiptHandleExpired => "the receipt handle has expired".to_string(),
        EngineError::MessageNotInflight => "the message referred to is not in flight".to_string(),
        // AWS's words (issue 17).
        EngineError::MessageNotAvailable => MESSAGE_NOT_AVAILABLE_TEXT.to_string(),
        EngineError::OverLimit { limit } => format!("too many messages in flight (limit {limit})"),
        EngineError::InvalidParameter { name, reason } => parameter_message(name, reason),
        EngineError::MissingParameter(name) => {
            format!("The request must contain the parameter {name}.")
        }
        // AWS's words (recorded), with the queue's limit.
        EngineError::MessageTooLong { max, .. } => format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {max} bytes."
        ),
        EngineError::InvalidMessageContents(why) => format!("invalid message contents: {why}"),
        // StartMessageMoveTask's words for a source that is no dead-letter queue.
        EngineError::RedriveNotAllowed(RedriveRefusal::NotADeadLetterQueue(name)) => format!(
            "Source queue must be configured as a Dead Letter Queue: no queue's RedrivePolicy names {name}."
        ),
        EngineError::RedriveNotAllowed(why) => {
            format!("no dead-letter queue move task is possible: {why}")
        }
        EngineError::DeadLetterTarget { policy, reason } => {
            dead_letter_target_message(policy, reason)
        }
        // Storage failures have no SQS wording: the engine's description.
        EngineError::Corrupt { .. }
        | EngineError::Failed(_)
        | EngineError::OutOfSpace(_)
        | EngineError::Io(_) => e.to_string(),
    }
}

/// The text of a refused `RedrivePolicy` (the value echoed as the request gave it).
fn dead_letter_target_message(policy: &str, reason: &DeadLetterTargetRefusal) -> String {
    let why = match reason {
        // AWS's words (as AWS users and SDK emulators record them).
        DeadLetterTargetRefusal::DoesNotExist => "Dead letter target does not exist.".to_string(),
        // AWS's text is not recorded: Spool's words, in SQS's frame.
        DeadLetterTargetRefusal::NotAllowed {
            source_arn,
            dlq_arn,
        } => format!(
            "Queue {source_arn} is not allowed to use {dlq_arn} as its dead-letter queue: its RedriveAllowPolicy does not permit it."
        ),
    };
    format!("Value {policy} for parameter RedrivePolicy is invalid. Reason: {why}")
}

/// The text of a queue-name or queue-attribute error.
fn attr_message(a: &AttrError) -> String {
    match a {
        AttrError::InvalidQueueName(e) => name_rule(e.fifo),
        AttrError::InvalidAttributeName(name) => format!("Unknown Attribute {name}."),
        // The reason's words are the model's (`AttrValueError`'s Display).
        AttrError::InvalidAttributeValue { name, reason } => {
            format!("Invalid value for the parameter {name}. Reason: {reason}")
        }
        AttrError::DifferentAttributes { name } => format!(
            "A queue already exists with the same name and a different value for attribute {name}"
        ),
    }
}

/// The text of an invalid request parameter `name`.
fn parameter_message(name: &str, reason: &InvalidParameter) -> String {
    use InvalidParameter as P;
    // SQS's frame for most of them.
    let invalid = |why: String| format!("Value for parameter {name} is invalid. Reason: {why}.");
    match reason {
        P::BadId { max_chars } => {
            format!("{name} must be 1 to {max_chars} alphanumeric or punctuation characters")
        }
        P::BadAttributeName { attribute } => {
            invalid(format!("message attribute name '{attribute}' is invalid"))
        }
        P::BadAttributeType {
            attribute,
            data_type,
        } => invalid(format!(
            "message attribute '{attribute}' has an invalid data type or value for type {data_type}"
        )),
        // AWS's words.
        P::TooManyAttributes { count, max } => {
            format!("Number of message attributes [{count}] exceeds the allowed maximum [{max}].")
        }
        P::RepeatedAttribute { attribute } => {
            invalid(format!("message attribute name '{attribute}' is repeated"))
        }
        P::UnsupportedSystemAttribute { attribute } => invalid(format!(
            "message system attribute '{attribute}' is not supported (only {} of type String)",
            spool_model::message::AWS_TRACE_HEADER
        )),
        P::DelayTooLong { delay_s, max_s } => format!(
            "Value {delay_s} for parameter {name} is invalid. Reason: must be between 0 and {max_s}."
        ),
        // AWS's words (recorded, "include" and all), for both.
        P::DelayOnFifoQueue { delay_s } => format!(
            "Value {delay_s} for parameter {name} is invalid. Reason: {WRONG_QUEUE_TYPE_REASON}"
        ),
        P::DedupIdOnStandardQueue { dedup_id } => format!(
            "Value {dedup_id} for parameter {name} is invalid. Reason: {WRONG_QUEUE_TYPE_REASON}"
        ),
        P::NoDedupId => NO_DEDUP_ID_TEXT.to_string(),
        P::VisibilityTooLong { timeout_s, max_s } => format!(
            "Value {timeout_s} for parameter {name} is invalid. Reason: must be between 0 and {max_s}."
        ),
        P::BadTagKey { key, max_chars } => {
            format!("Tag key {key:?} must be 1 to {max_chars} characters long.")
        }
        P::TagValueTooLong { key, max_chars } => {
            format!("Tag value of {key:?} is over {max_chars} characters long.")
        }
        P::CountOutOfRange { count, min, max } => {
            invalid(format!("{count} is not between {min} and {max}"))
        }
        P::TooManyTags { max } => format!("Too many tags: a queue has at most {max}."),
    }
}

/// AWS's reason (recorded, "include" and all) for a message parameter its queue's type
/// does not take: a per-message delay on a FIFO queue, a deduplication id on a standard
/// queue.
const WRONG_QUEUE_TYPE_REASON: &str =
    "The request include parameter that is not valid for this queue type.";

/// AWS's words (recorded) for a FIFO message without a deduplication id on a queue
/// without ContentBasedDeduplication.
const NO_DEDUP_ID_TEXT: &str = "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly";

/// What SQS answers a SendMessageBatch on a FIFO queue with an entry that lacks a
/// FIFO id: the whole call fails with `InvalidParameterValue` (not the entry, and not
/// SendMessage's `MissingParameter`), in AWS's words. `group` is true for a missing
/// MessageGroupId, false for a missing deduplication id.
pub fn fifo_batch_missing_id(group: bool) -> SqsError {
    let text = if group {
        SqsError::missing(spool_model::message::system_names::MESSAGE_GROUP_ID).message
    } else {
        NO_DEDUP_ID_TEXT.to_string()
    };
    SqsError::new(ErrorKind::InvalidParameterValue, text)
}

/// The SQS error of a binary-protocol error reply, keeping its message (worded by
/// [`message`] for engine errors). Protocol-level codes cannot reach an SQS client from
/// a well-behaved gateway; they are internal errors.
pub fn sqs_error(e: &WireError<'_>) -> SqsError {
    let kind = match e.code {
        ErrorCode::QueueDoesNotExist => {
            return SqsError::new(
                ErrorKind::QueueDoesNotExist,
                "The specified queue does not exist.",
            )
        }
        ErrorCode::QueueNameExists => ErrorKind::QueueNameExists,
        ErrorCode::InvalidAttributeName => ErrorKind::InvalidAttributeName,
        ErrorCode::InvalidAttributeValue => ErrorKind::InvalidAttributeValue,
        ErrorCode::QueueDeletedRecently => ErrorKind::QueueDeletedRecently,
        ErrorCode::PurgeQueueInProgress => ErrorKind::PurgeQueueInProgress,
        ErrorCode::ReceiptHandleIsInvalid => ErrorKind::ReceiptHandleIsInvalid,
        ErrorCode::MessageNotInflight => ErrorKind::MessageNotInflight,
        ErrorCode::OverLimit => ErrorKind::OverLimit,
        // A message over the queue's MaximumMessageSize is InvalidParameterValue in SQS
        // too; its text says so. So is, on FIFO queues, a delete with a handle whose
        // visibility ran out (SQS's wording).
        ErrorCode::InvalidParameter
        | ErrorCode::MessageTooLong
        | ErrorCode::RedriveNotAllowed
        | ErrorCode::BatchTooLarge
        | ErrorCode::EmptyBatch
        | ErrorCode::ReceiptHandleExpired => ErrorKind::InvalidParameterValue,
        ErrorCode::MissingParameter => ErrorKind::MissingParameter,
        ErrorCode::InvalidMessageContents => ErrorKind::InvalidMessageContents,
        // A full disk is the service's, not the request's, problem; SDKs retry 503s.
        ErrorCode::Busy | ErrorCode::ShuttingDown | ErrorCode::OutOfSpace => {
            ErrorKind::ServiceUnavailable
        }
        ErrorCode::InternalError
        | ErrorCode::StorageError
        | ErrorCode::MalformedFrame
        | ErrorCode::UnsupportedVersion
        | ErrorCode::UnknownOpcode
        | ErrorCode::FrameTooLarge
        | ErrorCode::HandshakeRequired
        | ErrorCode::Unauthorized
        | ErrorCode::Unknown(_) => ErrorKind::InternalError,
    };
    SqsError::new(kind, e.message.to_string())
}

/// The SQS error of a failed DeleteMessage / ChangeMessageVisibility entry, worded as
/// SQS words it: naming the handle the client sent (the binary reply knows only the
/// handle's bytes). Other errors are as [`sqs_error`] gives them.
pub fn sqs_handle_error(e: &WireError<'_>, handle: &str) -> SqsError {
    match e.code {
        ErrorCode::ReceiptHandleIsInvalid => invalid_handle(handle),
        ErrorCode::ReceiptHandleExpired => {
            SqsError::invalid_value("ReceiptHandle", handle, "The receipt handle has expired.")
        }
        _ => sqs_error(e),
    }
}

/// `ReceiptHandleIsInvalid` naming the handle (cut to [`HANDLE_ECHO_MAX_CHARS`]).
pub fn invalid_handle(handle: &str) -> SqsError {
    let shown: String = handle.chars().take(HANDLE_ECHO_MAX_CHARS).collect();
    SqsError::new(
        ErrorKind::ReceiptHandleIsInvalid,
        format!("The input receipt handle \"{shown}\" is not a valid receipt handle."),
    )
}

/// ChangeMessageVisibility with a handle of a message that is gone, word for word as AWS.
pub const MESSAGE_NOT_AVAILABLE_TEXT: &str =
    "Message does not exist or is not available for visibility timeout change.";

/// A receipt handle quoted in an error is cut to this many characters.
pub const HANDLE_ECHO_MAX_CHARS: usize = 256;

/// The wire error of an engine error: its code and its text.
pub fn wire(e: &EngineError) -> WireError<'static> {
    WireError::new(code(e), message(e))
}

#[cfg(test)]
mod tests;
