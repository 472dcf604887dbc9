//! Opcodes: the one table of request opcodes, the response and error opcodes derived
//! from it, and which opcode each [`Request`] and [`Response`] travels under.
//!
//! Promise: every request opcode is written once, in the `opcodes!` table below; the
//! enum, [`Opcode::ALL`], [`Opcode::name`] and [`Opcode::from_u8`] are generated from it.

use super::{Request, Response};

/// Bit set on a request opcode to form its response opcode.
pub const RESPONSE_BIT: u8 = 0x80;
/// Opcode of the Error response.
pub const ERROR_OPCODE: u8 = 0xFF;

macro_rules! opcodes {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        /// Request opcodes. The response to a request has opcode `request | 0x80`; an
        /// Error response has opcode `0xFF`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Opcode {
            $($(#[$doc])* $name = $value,)*
        }

        impl Opcode {
            /// Every request opcode, in numeric order.
            pub const ALL: &'static [Opcode] = &[$(Opcode::$name,)*];

            /// The opcode's name as the spec spells it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Opcode::$name => stringify!($name),)*
                }
            }

            /// The request opcode with this value, if any.
            pub fn from_u8(v: u8) -> Option<Opcode> {
                match v {
                    $($value => Some(Opcode::$name),)*
                    _ => None,
                }
            }
        }
    };
}

opcodes! {
    /// Handshake: version negotiation and the API key.
    Hello = 0x01,
    /// Liveness check.
    Ping = 0x02,
    /// Create a queue (or confirm it exists with the same attributes).
    CreateQueue = 0x10,
    /// Delete a queue.
    DeleteQueue = 0x11,
    /// Look a queue up by name.
    GetQueue = 0x12,
    /// List queue names by prefix, a page at a time.
    ListQueues = 0x13,
    /// Read a queue's attributes.
    GetQueueAttributes = 0x14,
    /// Change a queue's attributes.
    SetQueueAttributes = 0x15,
    /// Delete every message of a queue.
    PurgeQueue = 0x16,
    /// List the queues whose dead-letter queue this is.
    ListDeadLetterSourceQueues = 0x17,
    /// Move messages out of a dead-letter queue.
    Redrive = 0x18,
    /// Add or replace queue tags.
    TagQueue = 0x19,
    /// Remove queue tags.
    UntagQueue = 0x1A,
    /// Read a queue's tags.
    ListQueueTags = 0x1B,
    /// Send a batch of messages.
    Send = 0x20,
    /// Receive messages (optionally long polling).
    Receive = 0x21,
    /// Delete received messages by receipt handle.
    Delete = 0x22,
    /// Change received messages' visibility timeouts.
    ChangeVisibility = 0x23,
}

impl Opcode {
    /// The opcode of this request's (non-error) response.
    pub fn response(self) -> u8 {
        self as u8 | RESPONSE_BIT
    }
}

impl Request<'_> {
    /// The opcode this request travels under.
    pub fn opcode(&self) -> Opcode {
        match self {
            Request::Hello { .. } => Opcode::Hello,
            Request::Ping => Opcode::Ping,
            Request::CreateQueue { .. } => Opcode::CreateQueue,
            Request::DeleteQueue { .. } => Opcode::DeleteQueue,
            Request::GetQueue { .. } => Opcode::GetQueue,
            Request::ListQueues { .. } => Opcode::ListQueues,
            Request::GetQueueAttributes { .. } => Opcode::GetQueueAttributes,
            Request::SetQueueAttributes { .. } => Opcode::SetQueueAttributes,
            Request::PurgeQueue { .. } => Opcode::PurgeQueue,
            Request::ListDeadLetterSourceQueues { .. } => Opcode::ListDeadLetterSourceQueues,
            Request::Redrive { .. } => Opcode::Redrive,
            Request::TagQueue { .. } => Opcode::TagQueue,
            Request::UntagQueue { .. } => Opcode::UntagQueue,
            Request::ListQueueTags { .. } => Opcode::ListQueueTags,
            Request::Send { .. } => Opcode::Send,
            Request::Receive { .. } => Opcode::Receive,
            Request::Delete { .. } => Opcode::Delete,
            Request::ChangeVisibility { .. } => Opcode::ChangeVisibility,
        }
    }
}

impl Response<'_> {
    /// The wire opcode: the request's opcode | 0x80, or 0xFF for Error.
    pub fn opcode(&self) -> u8 {
        let op = match self {
            Response::Hello { .. } => Opcode::Hello,
            Response::Pong => Opcode::Ping,
            Response::QueueCreated { .. } => Opcode::CreateQueue,
            Response::QueueDeleted => Opcode::DeleteQueue,
            Response::Queue { .. } => Opcode::GetQueue,
            Response::Queues { .. } => Opcode::ListQueues,
            Response::QueueAttributes { .. } => Opcode::GetQueueAttributes,
            Response::QueueAttributesSet => Opcode::SetQueueAttributes,
            Response::Purged => Opcode::PurgeQueue,
            Response::DeadLetterSourceQueues { .. } => Opcode::ListDeadLetterSourceQueues,
            Response::Redriven { .. } => Opcode::Redrive,
            Response::QueueTagged => Opcode::TagQueue,
            Response::QueueUntagged => Opcode::UntagQueue,
            Response::QueueTags { .. } => Opcode::ListQueueTags,
            Response::Sent { .. } => Opcode::Send,
            Response::Received { .. } => Opcode::Receive,
            Response::Deleted { .. } => Opcode::Delete,
            Response::VisibilityChanged { .. } => Opcode::ChangeVisibility,
            Response::Error(_) => return ERROR_OPCODE,
        };
        op.response()
    }
}
