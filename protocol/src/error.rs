//! Errors of the binary protocol.
//!
//! [`ErrorCode`] is the stable `u16` carried on the wire (in an Error response and in
//! every failed batch entry); its values never change meaning once assigned, and codes
//! this build does not know decode to [`ErrorCode::Unknown`] rather than failing, so an
//! older client can read a newer server's errors. [`ProtocolError`] is what the codec
//! returns for input it refuses; [`ProtocolError::code`] names the code a server answers
//! it with and [`ProtocolError::is_fatal`] says whether the byte stream can still be
//! trusted (if not, the connection must be closed).
//!
//! This crate does not depend on spool-engine: the daemon maps `EngineError` to these
//! codes in one place.

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        /// A stable wire error code (see the table in docs/protocol.md).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)*
            /// A code this build does not know (never one of the assigned values).
            Unknown(u16),
        }

        impl ErrorCode {
            /// Every assigned code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)*];

            /// The code's value on the wire.
            pub fn as_u16(self) -> u16 {
                match self {
                    $(ErrorCode::$name => $value,)*
                    ErrorCode::Unknown(v) => v,
                }
            }

            /// Total: an unassigned value becomes [`ErrorCode::Unknown`].
            pub fn from_u16(v: u16) -> ErrorCode {
                match v {
                    $($value => ErrorCode::$name,)*
                    other => ErrorCode::Unknown(other),
                }
            }

            /// The code's name as the spec spells it (`"Unknown"` for unknown codes).
            pub fn name(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => stringify!($name),)*
                    ErrorCode::Unknown(_) => "Unknown",
                }
            }
        }
    };
}

error_codes! {
    // ----- protocol level (1..=99) -----
    /// The frame or its payload does not parse (bad tag, bad UTF-8, truncated, trailing
    /// bytes, declared length below the header size).
    MalformedFrame = 1,
    /// No protocol version in common, or a frame with a version this server does not speak.
    UnsupportedVersion = 2,
    /// The opcode is not a known request.
    UnknownOpcode = 3,
    /// The declared frame length exceeds the receiver's maximum.
    FrameTooLarge = 4,
    /// A batch has more entries than the limit.
    BatchTooLarge = 5,
    /// A batch has no entries (SQS `EmptyBatchRequest`).
    EmptyBatch = 6,
    /// A request other than Hello arrived before the handshake.
    HandshakeRequired = 7,
    /// The API key is missing or wrong.
    Unauthorized = 8,
    /// The server is overloaded (too many requests in flight); retry later.
    Busy = 9,
    /// The server is shutting down; reconnect elsewhere or later.
    ShuttingDown = 10,
    // ----- engine level (100..=199) -----
    /// An unexpected server-side failure (I/O error, corrupt data, failed partition).
    InternalError = 100,
    /// No queue has this name.
    QueueDoesNotExist = 101,
    /// A queue with this name exists with different attributes.
    QueueNameExists = 102,
    /// A queue attribute name is not one the server knows.
    InvalidAttributeName = 103,
    /// A queue attribute value is out of range or malformed.
    InvalidAttributeValue = 104,
    /// A queue of this name was deleted too recently to be created again.
    QueueDeletedRecently = 105,
    /// The queue was purged too recently to be purged again.
    PurgeQueueInProgress = 106,
    /// The receipt handle is not one this queue issued.
    ReceiptHandleIsInvalid = 107,
    /// The receipt handle is no longer current (FIFO: the message was received again or
    /// is gone).
    ReceiptHandleExpired = 108,
    /// The message is not in flight (its visibility cannot be changed).
    MessageNotInflight = 109,
    /// Too many messages in flight on the queue.
    OverLimit = 110,
    /// A parameter value is invalid (also: an invalid queue name, a value over a limit).
    InvalidParameter = 111,
    /// A required parameter is absent (or empty, such as a message body).
    MissingParameter = 112,
    /// A message is larger than the queue's MaximumMessageSize.
    MessageTooLong = 113,
    /// A message body or attribute holds characters SQS does not allow.
    InvalidMessageContents = 114,
    /// The dead-letter move asked for is not possible.
    RedriveNotAllowed = 115,
    /// The server's disk is full: the write was not stored (and not acknowledged).
    /// Retry later; reads and deletes of stored messages keep working.
    OutOfSpace = 116,
    /// A write or fdatasync failed: the write was not stored (and not acknowledged). The
    /// partition reopens from its durable state; retry later.
    StorageError = 117,
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorCode::Unknown(v) => write!(f, "Unknown({v})"),
            c => f.write_str(c.name()),
        }
    }
}

/// Why the codec refused some bytes (or, when encoding, a value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A frame header declares a length below the header size (fatal).
    #[error("declared frame length {len} is below the header size")]
    FrameTooShort {
        /// The declared length.
        len: u32,
    },
    /// A frame header declares a length above the receiver's maximum (fatal).
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The frame's size, length prefix included.
        len: u64,
        /// The receiver's maximum.
        max: usize,
    },
    /// A frame carries a protocol version this build does not speak (fatal).
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u8),
    /// The opcode is not a known request (or response).
    #[error("unknown opcode {0:#04x}")]
    UnknownOpcode(u8),
    /// The payload ends inside the named field.
    #[error("truncated payload: {0} runs past the end of the frame")]
    Truncated(&'static str),
    /// This many bytes remain after the payload's last field.
    #[error("{0} bytes left over after the payload")]
    TrailingBytes(usize),
    /// A string or byte string is longer than its limit.
    #[error("{what} is {len} bytes, over the limit of {max}")]
    TooLong {
        /// The field.
        what: &'static str,
        /// Its length, in bytes.
        len: usize,
        /// Its limit, in bytes.
        max: usize,
    },
    /// A list or map has more entries than its limit.
    #[error("{what} has {count} entries, over the limit of {max}")]
    TooMany {
        /// The field.
        what: &'static str,
        /// Its number of entries.
        count: usize,
        /// Its limit.
        max: usize,
    },
    /// A batch (or a Receive's message count) exceeds [`crate::MAX_BATCH`].
    #[error("batch of {count} entries exceeds the maximum of {max}")]
    BatchTooLarge {
        /// The entries sent (or messages asked for).
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The named batch has no entries.
    #[error("{0} must have at least one entry")]
    EmptyBatch(&'static str),
    /// The named string field is not valid UTF-8.
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// A tag, flag or enumerated byte has a value the protocol does not define.
    #[error("invalid {what}: {value}")]
    InvalidValue {
        /// The field.
        what: &'static str,
        /// The value found.
        value: u64,
    },
    /// The named map repeats a key.
    #[error("duplicate key in {0}")]
    DuplicateKey(&'static str),
    /// The named field holds a name that breaks the queue-name rule.
    #[error("invalid queue name in {0}: 1 to {max} characters, alphanumeric, '-' or '_', and '{suffix}' only as the suffix of a FIFO queue",
        max = spool_model::limits::QUEUE_NAME_MAX_CHARS, suffix = spool_model::name::FIFO_SUFFIX)]
    InvalidQueueName(&'static str),
}

impl ProtocolError {
    /// The wire code a server answers this error with.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtocolError::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
            ProtocolError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            ProtocolError::UnknownOpcode(_) => ErrorCode::UnknownOpcode,
            ProtocolError::BatchTooLarge { .. } => ErrorCode::BatchTooLarge,
            ProtocolError::EmptyBatch(_) => ErrorCode::EmptyBatch,
            ProtocolError::TooLong { .. }
            | ProtocolError::TooMany { .. }
            | ProtocolError::DuplicateKey(_)
            | ProtocolError::InvalidQueueName(_) => ErrorCode::InvalidParameter,
            ProtocolError::FrameTooShort { .. }
            | ProtocolError::Truncated(_)
            | ProtocolError::TrailingBytes(_)
            | ProtocolError::InvalidUtf8(_)
            | ProtocolError::InvalidValue { .. } => ErrorCode::MalformedFrame,
        }
    }

    /// True when frame boundaries can no longer be trusted (a bad length or version in a
    /// frame header): the receiver answers with an Error frame (request id 0) and closes
    /// the connection. Every other error concerns one frame's payload, whose length was
    /// sound, so the connection stays usable.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ProtocolError::FrameTooShort { .. }
                | ProtocolError::FrameTooLarge { .. }
                | ProtocolError::UnsupportedVersion(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_name_error_states_the_rule() {
        assert_eq!(
            ProtocolError::InvalidQueueName("queue").to_string(),
            "invalid queue name in queue: 1 to 80 characters, alphanumeric, '-' or '_', and '.fifo' only as the suffix of a FIFO queue"
        );
    }
}
