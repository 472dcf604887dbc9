//! The one place where engine errors become wire errors: every `EngineError` (and every
//! queue-attribute error) has a stable binary-protocol code (docs/protocol.md), and every
//! binary-protocol code has its SQS error (the SQS API's replies come through the shards
//! as binary-protocol replies).

use spool_engine::attrs::AttrError;
use spool_engine::EngineError;
use spool_protocol::message::WireError;
use spool_protocol::sqs::{ErrorKind, SqsError};
use spool_protocol::ErrorCode;

/// The binary-protocol code of an engine error.
pub fn code(e: &EngineError) -> ErrorCode {
    match e {
        EngineError::QueueDoesNotExist(_) => ErrorCode::QueueDoesNotExist,
        EngineError::Attr(a) => match a {
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
        EngineError::InvalidParameter { .. } => ErrorCode::InvalidParameter,
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

/// The SQS error of a binary-protocol error reply, keeping its message (the engine
/// words its messages as SQS does). Protocol-level codes cannot reach an SQS client from
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
        // FIFO: a delete with a handle whose visibility ran out (SQS's wording).
        ErrorCode::ReceiptHandleExpired => ErrorKind::InvalidParameterValue,
        ErrorCode::MessageNotInflight => ErrorKind::MessageNotInflight,
        ErrorCode::OverLimit => ErrorKind::OverLimit,
        ErrorCode::InvalidParameter
        | ErrorCode::MessageTooLong
        | ErrorCode::RedriveNotAllowed
        | ErrorCode::BatchTooLarge
        | ErrorCode::EmptyBatch => ErrorKind::InvalidParameterValue,
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

/// The wire error of an engine error, with its message.
pub fn wire(e: &EngineError) -> WireError<'static> {
    WireError::new(code(e), e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_error_has_a_specific_code() {
        let cases = [
            (
                EngineError::QueueDoesNotExist("q".into()),
                ErrorCode::QueueDoesNotExist,
            ),
            (
                EngineError::Attr(AttrError::DifferentAttributes { name: "x".into() }),
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
            assert_eq!(w.message, e.to_string());
        }
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
}
