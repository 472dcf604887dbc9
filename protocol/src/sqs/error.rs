//! SQS errors: every error kind SQS (and the AWS front end before it) answers with, and
//! their rendering in both wires.
//!
//! Each [`ErrorKind`] knows its JSON `__type` (the Smithy shape id, or a
//! `com.amazon.coral.service#…` id for the common errors), its legacy query code (what
//! the query protocol puts in `<Code>` and the JSON protocol in the `x-amzn-query-error`
//! header), whether it is the sender's or the receiver's fault, and its HTTP status.
//! The mapping follows the query-era model and recorded AWS responses (the table in
//! shared/reference/sqs-sns-facts.md §1.5). Where AWS's choice is not recorded the
//! choice made here is documented on the kind.
//!
//! Promise: [`render_error`] never panics and always produces a well-formed body.

use std::borrow::Cow;
use std::fmt;

use super::request::Wire;
use super::XML_NAMESPACE;
use super::{xml_close, xml_elem, xml_open, HttpReply, JSON_CONTENT_TYPE, XML_CONTENT_TYPE};

pub use crate::limits::MAX_ERROR_MESSAGE_LEN;

macro_rules! error_kinds {
    ($($(#[$doc:meta])* $name:ident => ($json:literal, $query:literal, $status:literal, $sender:literal),)*) => {
        /// Every SQS error. See the module doc for what each kind knows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorKind {
            $(
                #[doc = concat!("The `", stringify!($name), "` error.")]
                $(#[$doc])*
                $name,
            )*
        }

        impl ErrorKind {
            /// Every kind.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$name,)*];

            /// The JSON `__type`, e.g. `com.amazonaws.sqs#QueueDoesNotExist`.
            pub fn json_type(self) -> &'static str {
                match self { $(ErrorKind::$name => $json,)* }
            }

            /// The legacy query code, e.g. `AWS.SimpleQueueService.NonExistentQueue`.
            pub fn query_code(self) -> &'static str {
                match self { $(ErrorKind::$name => $query,)* }
            }

            /// The HTTP status.
            pub fn status(self) -> u16 {
                match self { $(ErrorKind::$name => $status,)* }
            }

            /// True for client errors (`Sender`), false for server errors (`Receiver`).
            pub fn sender_fault(self) -> bool {
                match self { $(ErrorKind::$name => $sender,)* }
            }

            /// The kind's name as spelled here (`QueueDoesNotExist`).
            pub fn name(self) -> &'static str {
                match self { $(ErrorKind::$name => stringify!($name),)* }
            }
        }
    };
}

error_kinds! {
    // ----- SQS shapes -----
    QueueDoesNotExist => ("com.amazonaws.sqs#QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", 400, true),
    QueueDeletedRecently => ("com.amazonaws.sqs#QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently", 400, true),
    /// A queue of that name exists with different attributes (query code `QueueAlreadyExists`).
    QueueNameExists => ("com.amazonaws.sqs#QueueNameExists", "QueueAlreadyExists", 400, true),
    PurgeQueueInProgress => ("com.amazonaws.sqs#PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", 403, true),
    OverLimit => ("com.amazonaws.sqs#OverLimit", "OverLimit", 403, true),
    MessageNotInflight => ("com.amazonaws.sqs#MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", 400, true),
    ReceiptHandleIsInvalid => ("com.amazonaws.sqs#ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 400, true),
    InvalidIdFormat => ("com.amazonaws.sqs#InvalidIdFormat", "InvalidIdFormat", 400, true),
    InvalidAttributeName => ("com.amazonaws.sqs#InvalidAttributeName", "InvalidAttributeName", 400, true),
    InvalidAttributeValue => ("com.amazonaws.sqs#InvalidAttributeValue", "InvalidAttributeValue", 400, true),
    InvalidMessageContents => ("com.amazonaws.sqs#InvalidMessageContents", "InvalidMessageContents", 400, true),
    InvalidBatchEntryId => ("com.amazonaws.sqs#InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", 400, true),
    TooManyEntriesInBatchRequest => ("com.amazonaws.sqs#TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, true),
    EmptyBatchRequest => ("com.amazonaws.sqs#EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", 400, true),
    BatchEntryIdsNotDistinct => ("com.amazonaws.sqs#BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, true),
    BatchRequestTooLong => ("com.amazonaws.sqs#BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", 400, true),
    UnsupportedOperation => ("com.amazonaws.sqs#UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", 400, true),
    ResourceNotFoundException => ("com.amazonaws.sqs#ResourceNotFoundException", "ResourceNotFoundException", 404, true),
    RequestThrottled => ("com.amazonaws.sqs#RequestThrottled", "RequestThrottled", 400, true),
    /// The queue URL is not a valid URL (model: `awsQueryError` code InvalidAddress, 404).
    InvalidAddress => ("com.amazonaws.sqs#InvalidAddress", "InvalidAddress", 404, true),
    /// The request was not made over HTTPS or did not use SigV4.
    InvalidSecurity => ("com.amazonaws.sqs#InvalidSecurity", "InvalidSecurity", 403, true),
    KmsAccessDenied => ("com.amazonaws.sqs#KmsAccessDenied", "KMS.AccessDeniedException", 400, true),
    KmsDisabled => ("com.amazonaws.sqs#KmsDisabled", "KMS.DisabledException", 400, true),
    KmsInvalidKeyUsage => ("com.amazonaws.sqs#KmsInvalidKeyUsage", "KMS.InvalidKeyUsageException", 400, true),
    KmsInvalidState => ("com.amazonaws.sqs#KmsInvalidState", "KMS.InvalidStateException", 400, true),
    KmsNotFound => ("com.amazonaws.sqs#KmsNotFound", "KMS.NotFoundException", 400, true),
    KmsOptInRequired => ("com.amazonaws.sqs#KmsOptInRequired", "KMS.OptInRequired", 403, true),
    KmsThrottled => ("com.amazonaws.sqs#KmsThrottled", "KMS.ThrottlingException", 400, true),
    // ----- common (AWS front end) errors -----
    /// A parameter has a value that is not valid (range, format, reserved names, …).
    InvalidParameterValue => ("com.amazon.coral.service#InvalidParameterValueException", "InvalidParameterValue", 400, true),
    /// A required parameter is absent (or, for `MessageBody`, empty).
    MissingParameter => ("com.amazon.coral.service#MissingRequiredParameterException", "MissingParameter", 400, true),
    /// Unknown action or `X-Amz-Target`. AWS JSON services answer an unknown target with
    /// `UnknownOperationException`; the query code is `InvalidAction`.
    InvalidAction => ("com.amazon.coral.service#UnknownOperationException", "InvalidAction", 400, true),
    /// A query request to a queue URL without `Action`: AWS's front end finds no
    /// operation and answers 404 with the bare body `<UnknownOperationException/>`, in
    /// either form (recorded).
    UnknownOperation => ("com.amazon.coral.service#UnknownOperationException", "UnknownOperationException", 404, true),
    /// A query request without `Action`.
    MissingAction => ("com.amazon.coral.service#MissingActionException", "MissingAction", 400, true),
    /// The JSON body does not parse, is not an object, or a member has the wrong JSON
    /// type. Recorded from AWS SQS JSON: `SerializationException` / "STRING_VALUE can not
    /// be converted to an Integer", with no `x-amzn-query-error` header.
    SerializationException => ("com.amazon.coral.service#SerializationException", "SerializationException", 400, true),
    AccessDenied => ("com.amazon.coral.service#AccessDeniedException", "AccessDenied", 403, true),
    InvalidClientTokenId => ("com.amazon.coral.service#UnrecognizedClientException", "InvalidClientTokenId", 403, true),
    SignatureDoesNotMatch => ("com.amazon.coral.service#InvalidSignatureException", "SignatureDoesNotMatch", 403, true),
    RequestExpired => ("com.amazon.coral.service#RequestExpired", "RequestExpired", 400, true),
    ThrottlingException => ("com.amazon.coral.service#ThrottlingException", "ThrottlingException", 400, true),
    InternalError => ("com.amazon.coral.service#InternalFailure", "InternalError", 500, false),
    ServiceUnavailable => ("com.amazon.coral.service#ServiceUnavailableException", "ServiceUnavailable", 503, false),
}

impl ErrorKind {
    /// Whether a JSON reply carries `x-amzn-query-error` (every kind but
    /// [`ErrorKind::SerializationException`], which AWS answers without it).
    pub fn has_query_error_header(self) -> bool {
        self != ErrorKind::SerializationException
    }

    /// `Sender` or `Receiver`.
    pub fn fault(self) -> &'static str {
        if self.sender_fault() {
            "Sender"
        } else {
            "Receiver"
        }
    }

    /// A message for errors raised without one (AWS's wording where recorded).
    pub fn default_message(self) -> &'static str {
        match self {
            ErrorKind::QueueDoesNotExist => "The specified queue does not exist.",
            ErrorKind::ReceiptHandleIsInvalid => "The input receipt handle is invalid.",
            ErrorKind::MessageNotInflight => "The message referred to isn't in flight.",
            ErrorKind::EmptyBatchRequest => "The batch request doesn't contain any entries.",
            ErrorKind::UnsupportedOperation => "Error code 400. This operation is not supported.",
            ErrorKind::ResourceNotFoundException => "The specified resource does not exist.",
            ErrorKind::InternalError => "We encountered an internal error. Please try again.",
            ErrorKind::ServiceUnavailable => {
                "The request has failed due to a temporary failure of the server."
            }
            ErrorKind::AccessDenied => "Access to the resource is denied.",
            ErrorKind::RequestThrottled | ErrorKind::ThrottlingException => "Rate exceeded",
            _ => "The request is invalid.",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An SQS error: a kind and a human-readable message (at most
/// [`MAX_ERROR_MESSAGE_LEN`] bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsError {
    /// Which error (its code, HTTP status and fault follow from it).
    pub kind: ErrorKind,
    /// Human-readable, at most [`MAX_ERROR_MESSAGE_LEN`] bytes.
    pub message: String,
}

impl SqsError {
    /// An error with this message (cut on a char boundary to [`MAX_ERROR_MESSAGE_LEN`]).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> SqsError {
        let mut message = message.into();
        if message.len() > MAX_ERROR_MESSAGE_LEN {
            let mut end = MAX_ERROR_MESSAGE_LEN;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        SqsError { kind, message }
    }

    /// An error with the kind's [`ErrorKind::default_message`].
    pub fn of(kind: ErrorKind) -> SqsError {
        SqsError {
            kind,
            message: kind.default_message().to_string(),
        }
    }

    /// `MissingParameter`: "The request must contain the parameter {name}."
    pub fn missing(name: &str) -> SqsError {
        SqsError::new(
            ErrorKind::MissingParameter,
            format!("The request must contain the parameter {name}."),
        )
    }

    /// `InvalidParameterValue`: "Value {value} for parameter {name} is invalid. Reason: {reason}"
    pub fn invalid_value(name: &str, value: &str, reason: &str) -> SqsError {
        SqsError::new(
            ErrorKind::InvalidParameterValue,
            format!(
                "Value {} for parameter {name} is invalid. Reason: {reason}",
                clip(value)
            ),
        )
    }

    /// `QueueDoesNotExist` with AWS's message.
    pub fn queue_does_not_exist() -> SqsError {
        SqsError::of(ErrorKind::QueueDoesNotExist)
    }

    /// The message as the query form words it: AWS words a missing queue differently
    /// there ([`QUEUE_DOES_NOT_EXIST_QUERY_TEXT`], recorded).
    pub fn query_message(&self) -> &str {
        match self.kind {
            ErrorKind::QueueDoesNotExist => QUEUE_DOES_NOT_EXIST_QUERY_TEXT,
            _ => &self.message,
        }
    }
}

/// Long user values are shortened in messages so one error stays small.
pub(crate) fn clip(s: &str) -> Cow<'_, str> {
    const MAX: usize = 256;
    if s.len() <= MAX {
        return Cow::Borrowed(s);
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}...", &s[..end]))
}

impl fmt::Display for SqsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for SqsError {}

/// What the query form says of a missing queue (AWS's words, recorded); the JSON form
/// says [`ErrorKind::default_message`]'s "The specified queue does not exist.".
pub const QUEUE_DOES_NOT_EXIST_QUERY_TEXT: &str =
    "The specified queue does not exist for this wsdl version.";

/// The whole body of an [`ErrorKind::UnknownOperation`] reply (AWS's, recorded).
pub const UNKNOWN_OPERATION_BODY: &[u8] = b"<UnknownOperationException/>\n";

/// Renders an error reply.
///
/// JSON: status per kind, body `{"__type":"<json type>","message":"…"}`, headers
/// `x-amzn-RequestId` and (unless the kind has none) `x-amzn-query-error:
/// <query code>;Sender|Receiver`. Query: the same status, body
/// `<ErrorResponse xmlns=…><Error><Type>Sender</Type><Code>…</Code><Message>…</Message><Detail/></Error><RequestId>…</RequestId></ErrorResponse>`
/// (a missing queue's message is [`QUEUE_DOES_NOT_EXIST_QUERY_TEXT`] there).
pub fn render_error(wire: Wire, err: &SqsError, request_id: &str) -> HttpReply {
    let kind = err.kind;
    let mut headers = vec![("x-amzn-RequestId", request_id.to_string())];
    if kind == ErrorKind::UnknownOperation {
        // No content type: AWS's front end sends none with this body.
        return HttpReply {
            status: kind.status(),
            content_type: "",
            headers,
            body: UNKNOWN_OPERATION_BODY.to_vec(),
        };
    }
    match wire {
        Wire::Json => {
            if kind.has_query_error_header() {
                headers.push((
                    "x-amzn-query-error",
                    format!("{};{}", kind.query_code(), kind.fault()),
                ));
            }
            let body = serde_json::json!({
                "__type": kind.json_type(),
                "message": err.message,
            });
            HttpReply {
                status: kind.status(),
                content_type: JSON_CONTENT_TYPE,
                headers,
                body: body.to_string().into_bytes(),
            }
        }
        Wire::Query => {
            let message = err.query_message();
            let mut out = Vec::with_capacity(256 + message.len());
            out.extend_from_slice(b"<?xml version=\"1.0\"?><ErrorResponse xmlns=\"");
            out.extend_from_slice(XML_NAMESPACE.as_bytes());
            out.extend_from_slice(b"\">");
            xml_open(&mut out, "Error");
            xml_elem(&mut out, "Type", kind.fault());
            xml_elem(&mut out, "Code", kind.query_code());
            xml_elem(&mut out, "Message", message);
            out.extend_from_slice(b"<Detail/>");
            xml_close(&mut out, "Error");
            xml_elem(&mut out, "RequestId", request_id);
            xml_close(&mut out, "ErrorResponse");
            HttpReply {
                status: kind.status(),
                content_type: XML_CONTENT_TYPE,
                headers,
                body: out,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_matches_the_facts_table() {
        let k = ErrorKind::QueueDoesNotExist;
        assert_eq!(k.json_type(), "com.amazonaws.sqs#QueueDoesNotExist");
        assert_eq!(k.query_code(), "AWS.SimpleQueueService.NonExistentQueue");
        assert_eq!(k.status(), 400);
        assert_eq!(
            ErrorKind::QueueNameExists.query_code(),
            "QueueAlreadyExists"
        );
        assert_eq!(ErrorKind::PurgeQueueInProgress.status(), 403);
        assert_eq!(ErrorKind::OverLimit.status(), 403);
        assert_eq!(ErrorKind::ResourceNotFoundException.status(), 404);
        assert_eq!(
            ErrorKind::InvalidParameterValue.json_type(),
            "com.amazon.coral.service#InvalidParameterValueException"
        );
        assert_eq!(ErrorKind::MissingParameter.query_code(), "MissingParameter");
        assert_eq!(
            ErrorKind::TooManyEntriesInBatchRequest.query_code(),
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
        );
        assert!(!ErrorKind::InternalError.sender_fault());
        assert_eq!(ErrorKind::InternalError.status(), 500);
        for k in ErrorKind::ALL {
            assert!(k.json_type().contains('#'), "{k}");
            assert!((400..600).contains(&k.status()), "{k}");
            if *k != ErrorKind::InternalError && *k != ErrorKind::ServiceUnavailable {
                assert!(k.sender_fault(), "{k}");
            }
        }
    }

    #[test]
    fn messages_are_bounded() {
        let e = SqsError::new(ErrorKind::InternalError, "é".repeat(5000));
        assert!(e.message.len() <= MAX_ERROR_MESSAGE_LEN);
        let e = SqsError::invalid_value("X", &"a".repeat(10_000), "r");
        assert!(e.message.len() < 400);
    }

    #[test]
    fn json_error_shape() {
        let r = render_error(Wire::Json, &SqsError::queue_does_not_exist(), "rid");
        assert_eq!(r.status, 400);
        assert_eq!(r.content_type, "application/x-amz-json-1.0");
        assert!(r.headers.contains(&(
            "x-amzn-query-error",
            "AWS.SimpleQueueService.NonExistentQueue;Sender".to_string()
        )));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
        assert_eq!(v["message"], "The specified queue does not exist.");
        let r = render_error(
            Wire::Json,
            &SqsError::new(ErrorKind::SerializationException, "x"),
            "rid",
        );
        assert!(r.headers.iter().all(|(h, _)| *h != "x-amzn-query-error"));
    }

    #[test]
    fn a_missing_queue_is_worded_per_wire() {
        let e = SqsError::queue_does_not_exist();
        let r = render_error(Wire::Query, &e, "r");
        let s = String::from_utf8(r.body).unwrap();
        assert!(s.contains("<Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>The specified queue does not exist for this wsdl version.</Message>"), "{s}");
        let r = render_error(Wire::Json, &e, "r");
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["message"], "The specified queue does not exist.");
    }

    #[test]
    fn xml_error_shape() {
        let r = render_error(
            Wire::Query,
            &SqsError::new(ErrorKind::OverLimit, "a<b"),
            "r1",
        );
        assert_eq!(r.status, 403);
        let s = String::from_utf8(r.body).unwrap();
        assert!(s.contains("<Error><Type>Sender</Type><Code>OverLimit</Code><Message>a&lt;b</Message><Detail/></Error><RequestId>r1</RequestId></ErrorResponse>"), "{s}");
    }
}
