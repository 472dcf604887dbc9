//! [`ClientError`]: every way a client call can fail, split by cause so callers can tell a
//! refused request (`Server`, the connection is still good) from a broken connection (`Io`,
//! `Protocol`, `Closed`, `Unexpected`: the connection is poisoned and should be dropped).

use spool_protocol::{ErrorCode, ProtocolError, WireError};

/// Why a client call failed.
#[derive(thiserror::Error, Debug)]
pub enum ClientError {
    /// The socket failed (connect, read, write, timeout).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The server sent bytes that do not decode (or a request could not be encoded).
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The server answered the whole request with an Error response.
    #[error("{code}: {message}")]
    Server {
        /// The error's code (docs/protocol.md, "Error codes").
        code: ErrorCode,
        /// The server's words for it.
        message: String,
    },
    /// The server sent a well-formed response that makes no sense here (wrong response
    /// type, unknown request id, wrong number of batch results, …).
    #[error("unexpected response: {0}")]
    Unexpected(String),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
}

/// Result of a client call.
pub type Result<T> = std::result::Result<T, ClientError>;

impl ClientError {
    /// The wire error code, for a [`ClientError::Server`].
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// True when the connection that produced this error can no longer be used (every
    /// kind except a refused request).
    pub fn is_fatal(&self) -> bool {
        !matches!(self, ClientError::Server { .. })
    }
}

impl From<WireError<'_>> for ClientError {
    fn from(e: WireError<'_>) -> Self {
        ClientError::Server {
            code: e.code,
            message: e.message.into_owned(),
        }
    }
}
