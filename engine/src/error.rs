//! The engine's error type. Every failure the engine can report is one variant here; the
//! daemon maps these to wire codes (SQS error codes, binary-protocol codes) in one place.

use crate::attrs::AttrError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the specified queue does not exist: {0}")]
    QueueDoesNotExist(String),
    #[error(transparent)]
    Attr(#[from] AttrError),
    #[error("queue {0} was deleted recently; wait 60 seconds after deleting a queue before creating a queue with the same name")]
    QueueDeletedRecently(String),
    #[error("only one PurgeQueue operation on {0} is allowed every 60 seconds")]
    PurgeQueueInProgress(String),
    #[error("the receipt handle is invalid: {0}")]
    ReceiptHandleIsInvalid(String),
    #[error("the receipt handle has expired")]
    ReceiptHandleExpired,
    #[error("the message referred to is not in flight")]
    MessageNotInflight,
    #[error("too many messages in flight (limit {limit})")]
    OverLimit { limit: usize },
    /// `reason` is either a whole sentence in SQS's wording (shown as it is) or a fragment
    /// starting in lower case or a digit (shown inside SQS's "Value for parameter ... is
    /// invalid" frame).
    #[error("{}", invalid_parameter_message(name, reason))]
    InvalidParameter { name: &'static str, reason: String },
    #[error("The request must contain the parameter {0}.")]
    MissingParameter(&'static str),
    #[error("message is {size} bytes, longer than the queue's maximum of {max} bytes")]
    MessageTooLong { size: usize, max: usize },
    #[error("invalid message contents: {0}")]
    InvalidMessageContents(String),
    #[error("no dead-letter queue move task is possible: {0}")]
    RedriveNotAllowed(String),
    #[error("corrupt data in {path}: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("partition is failed after an I/O error and must be reopened: {0}")]
    Failed(String),
    /// The disk is full (ENOSPC or EDQUOT from a write, a sync or creating a file).
    /// Nothing of the failed operation was acknowledged; sends succeed again once space
    /// is freed.
    #[error("out of space: {0}")]
    OutOfSpace(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl EngineError {
    /// Whether this error (or the I/O error inside it) means the disk is full.
    pub fn is_out_of_space(&self) -> bool {
        match self {
            EngineError::OutOfSpace(_) => true,
            EngineError::Io(e) => is_enospc(e),
            _ => false,
        }
    }
}

/// ENOSPC or EDQUOT.
pub fn is_enospc(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

fn invalid_parameter_message(name: &str, reason: &str) -> String {
    if reason.starts_with(|c: char| c.is_ascii_uppercase()) {
        reason.to_string()
    } else {
        format!("Value for parameter {name} is invalid. Reason: {reason}.")
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
