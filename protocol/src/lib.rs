//! spool-protocol: Spool's binary wire protocol (the spec is docs/protocol.md).
//!
//! Sans-IO: pure functions over byte slices, no sockets, no clock, no threads.
//!
//! - [`frame`]: length-prefixed frames and the streaming [`decode_frame`].
//! - [`message`]: [`Request`] and [`Response`], their opcodes and payload codecs.
//! - [`error`]: the stable wire [`ErrorCode`]s and the codec's [`ProtocolError`].
//! - [`limits`]: every limit and name rule the codecs enforce (SQS's and the wire's own).
//! - [`fuzzing`]: the bodies of the `protocol_decode` and `sqs_request` fuzz targets.
//! - [`sqs`]: the Amazon SQS HTTP API codec (AWS JSON 1.0 and query/XML), sans-IO.
//!
//! Promises: decoding malformed or hostile input returns an error and never panics;
//! every length and count is checked against its limit and against the bytes that remain
//! before it is used, so nothing is allocated beyond the bounded size the input declares
//! (a frame larger than the caller's maximum is refused from its first four bytes); what
//! [`Request::encode`] / [`Response::encode`] write, `decode` reads back unchanged. No
//! unsafe code.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod frame;
pub mod fuzzing;
pub mod limits;
pub mod message;
pub mod sqs;
mod wire;

pub use error::{ErrorCode, ProtocolError};
pub use frame::{decode_frame, Frame, CONNECTION_ERROR_REQUEST_ID, HEADER_LEN};
pub use message::{
    AttributeValue, Map, Message, MessageAttribute, Opcode, Request, Response, SendEntry, SendOk,
    VisibilityEntry, WireError, ERROR_OPCODE, RESPONSE_BIT,
};

pub use limits::{
    is_valid_queue_name, DEFAULT_MAX_FRAME, MAX_API_KEY_LEN, MAX_ATTRIBUTE_NAMES,
    MAX_ATTRIBUTE_NAME_LEN, MAX_BATCH, MAX_ERROR_MESSAGE_LEN, MAX_ID_LEN, MAX_MAP_ENTRIES,
    MAX_MAP_VALUE_LEN, MAX_MESSAGE_ATTRIBUTES, MAX_NEXT_TOKEN_LEN, MAX_QUEUE_NAME_LEN,
    MAX_RECEIPT_HANDLE_LEN,
};

/// The protocol version this build speaks best.
pub const VERSION: u8 = 1;
/// The oldest protocol version this build speaks.
pub const MIN_VERSION: u8 = 1;
/// The newest protocol version this build speaks.
pub const MAX_VERSION: u8 = 1;
