//! spool-protocol: Spool's binary wire protocol (the spec is docs/protocol.md).
//!
//! Sans-IO: pure functions over byte slices, no sockets, no clock, no threads.
//!
//! - [`frame`]: length-prefixed frames and the streaming [`decode_frame`].
//! - [`message`]: [`Request`] and [`Response`], their opcodes and payload codecs.
//! - [`error`]: the stable wire [`ErrorCode`]s and the codec's [`ProtocolError`].
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

pub mod error;
pub mod frame;
pub mod fuzzing;
pub mod message;
pub mod sqs;
mod wire;

pub use error::{ErrorCode, ProtocolError};
pub use frame::{decode_frame, Frame, HEADER_LEN};
pub use message::{
    is_valid_queue_name, AttributeValue, Map, Message, MessageAttribute, Opcode, Request, Response,
    SendEntry, SendOk, VisibilityEntry, WireError, ERROR_OPCODE, RESPONSE_BIT,
};

/// The protocol version this build speaks best.
pub const VERSION: u8 = 1;
/// The oldest protocol version this build speaks.
pub const MIN_VERSION: u8 = 1;
/// The newest protocol version this build speaks.
pub const MAX_VERSION: u8 = 1;

/// Default maximum size of a frame, length prefix included (16 MiB). Receivers may pass
/// another maximum to [`decode_frame`]; the server announces its own in the Hello reply.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;
/// Most entries in one batch (send, delete, change visibility; messages per receive).
pub const MAX_BATCH: usize = 10_000;
/// Longest queue name, in bytes.
pub const MAX_QUEUE_NAME_LEN: usize = spool_model::limits::QUEUE_NAME_MAX_CHARS;
/// Longest message group id or deduplication id, in bytes.
pub const MAX_ID_LEN: usize = spool_model::limits::MESSAGE_ID_PARAMETER_MAX_CHARS;
/// Longest attribute name, attribute data type, queue attribute name or tag key, in bytes.
pub const MAX_ATTRIBUTE_NAME_LEN: usize = spool_model::limits::MESSAGE_ATTRIBUTE_NAME_MAX_CHARS;
/// Most message attributes (and, separately, message system attributes) per message.
pub const MAX_MESSAGE_ATTRIBUTES: usize = spool_model::limits::MESSAGE_ATTRIBUTES_MAX;
/// Most entries in a queue attribute map or tag map.
pub const MAX_MAP_ENTRIES: usize = 64;
/// Longest queue attribute value or tag value (a Policy may be long), in bytes.
pub const MAX_MAP_VALUE_LEN: usize = 64 << 10;
/// Most names in an attribute-name list (GetQueueAttributes, Receive).
pub const MAX_ATTRIBUTE_NAMES: usize = 64;
/// Longest receipt handle, in bytes.
pub const MAX_RECEIPT_HANDLE_LEN: usize = 1024;
/// Longest error message, in bytes.
pub const MAX_ERROR_MESSAGE_LEN: usize = 4096;
/// Longest API key, in bytes.
pub const MAX_API_KEY_LEN: usize = 256;
/// Longest pagination token, in bytes.
pub const MAX_NEXT_TOKEN_LEN: usize = 1024;
