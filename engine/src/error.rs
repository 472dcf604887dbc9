//! The engine's error type. Every failure the engine can report is one variant here, with
//! what was wrong as data (the values involved, the rule broken), never as prose to be
//! parsed. The daemon words them as SQS does and maps them to wire codes in one place
//! (`server/src/errors.rs`); `Display` here is a description for logs and tests.

use crate::attrs::AttrError;
use crate::receipt::ReceiptError;
use spool_model::limits::{PURGE_INTERVAL_S, QUEUE_DELETED_RECENTLY_S};

/// Every failure the engine reports.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No queue of this name.
    #[error("the specified queue does not exist: {0}")]
    QueueDoesNotExist(String),
    /// A bad queue name or queue attribute (the model's rules).
    #[error(transparent)]
    Attr(#[from] AttrError),
    /// CreateQueue of a name deleted less than `QUEUE_DELETED_RECENTLY_S` ago.
    #[error("queue {0} was deleted recently; wait {wait} seconds after deleting a queue before creating a queue with the same name", wait = QUEUE_DELETED_RECENTLY_S)]
    QueueDeletedRecently(String),
    /// A second PurgeQueue within `PURGE_INTERVAL_S`.
    #[error("only one PurgeQueue operation on {0} is allowed every {every} seconds", every = PURGE_INTERVAL_S)]
    PurgeQueueInProgress(String),
    /// A receipt handle this engine did not issue for this queue.
    #[error("the receipt handle is invalid: {0}")]
    ReceiptHandleIsInvalid(InvalidHandle),
    /// FIFO: a delete with a handle whose message became visible again since.
    #[error("the receipt handle has expired")]
    ReceiptHandleExpired,
    /// ChangeMessageVisibility of a message that is not in flight.
    #[error("the message referred to is not in flight")]
    MessageNotInflight,
    /// ChangeMessageVisibility with a handle whose message is gone (deleted, moved to a
    /// dead-letter queue, expired) or being moved.
    #[error("the message does not exist or is not available for a visibility change")]
    MessageNotAvailable,
    /// A receive while the queue has `limit` messages in flight.
    #[error("too many messages in flight (limit {limit})")]
    OverLimit {
        /// The in-flight limit reached.
        limit: usize,
    },
    /// Request parameter `name` breaks an SQS rule; `reason` says which, with the values.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter, by its SQS name.
        name: &'static str,
        /// The rule it breaks.
        reason: InvalidParameter,
    },
    /// A required parameter is missing (by its SQS name).
    #[error("The request must contain the parameter {0}.")]
    MissingParameter(&'static str),
    /// A message (body and attributes) of `size` bytes where at most `max` fit: the
    /// queue's MaximumMessageSize, or a segment for a record that would not fit one.
    #[error("message is {size} bytes, longer than the maximum of {max} bytes")]
    MessageTooLong {
        /// The message's size, bytes.
        size: usize,
        /// The most that fits, bytes.
        max: usize,
    },
    /// A message body SQS would not accept.
    #[error("invalid message contents: {0}")]
    InvalidMessageContents(String),
    /// A dead-letter queue move that cannot be made.
    #[error("no dead-letter queue move task is possible: {0}")]
    RedriveNotAllowed(RedriveRefusal),
    /// A `RedrivePolicy` (CreateQueue, SetQueueAttributes) whose dead-letter queue cannot
    /// be used by this queue.
    #[error("RedrivePolicy {policy} refused: {reason}")]
    DeadLetterTarget {
        /// The policy as the request gave it.
        policy: String,
        /// Why the target cannot be used.
        reason: DeadLetterTargetRefusal,
    },
    /// Stored data that fails its checks.
    #[error("corrupt data in {path}: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The partition failed after an I/O error and refuses work until reopened.
    #[error("partition is failed after an I/O error and must be reopened: {0}")]
    Failed(String),
    /// The disk is full (ENOSPC or EDQUOT from a write, a sync or creating a file).
    /// Nothing of the failed operation was acknowledged; sends succeed again once space
    /// is freed.
    #[error("out of space: {0}")]
    OutOfSpace(String),
    /// Any other I/O error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Which SQS rule a request parameter breaks (the parameter is named beside it, in
/// [`EngineError::InvalidParameter`]). Values the client sent are kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidParameter {
    /// A FIFO id (group or deduplication id) that is empty, too long or has characters
    /// other than ASCII alphanumerics and punctuation.
    #[error("not 1 to {max_chars} alphanumeric or punctuation characters")]
    BadId {
        /// Longest allowed.
        max_chars: usize,
    },
    /// A message attribute name SQS does not allow.
    #[error("message attribute name {attribute:?} is invalid")]
    BadAttributeName {
        /// The name given.
        attribute: String,
    },
    /// A message attribute whose data type is not String/Number/Binary (+ label), or
    /// whose value does not fit its type.
    #[error(
        "message attribute {attribute:?} has an invalid data type or value for type {data_type}"
    )]
    BadAttributeType {
        /// The attribute's name.
        attribute: String,
        /// The data type given.
        data_type: String,
    },
    /// More message attributes than SQS allows.
    #[error("{count} message attributes, more than {max}")]
    TooManyAttributes {
        /// How many were sent.
        count: usize,
        /// Most allowed.
        max: usize,
    },
    /// The same message attribute name twice.
    #[error("message attribute name {attribute:?} is repeated")]
    RepeatedAttribute {
        /// The name repeated.
        attribute: String,
    },
    /// A message system attribute other than `AWSTraceHeader` of type String.
    #[error("message system attribute {attribute:?} is not supported")]
    UnsupportedSystemAttribute {
        /// The name given.
        attribute: String,
    },
    /// A per-message delay over the maximum.
    #[error("delay of {delay_s} s is over {max_s} s")]
    DelayTooLong {
        /// The delay asked for.
        delay_s: u32,
        /// Longest allowed.
        max_s: u32,
    },
    /// A per-message delay on a FIFO queue (FIFO queues only have the queue's delay).
    #[error("per-message delay {delay_s} on a FIFO queue")]
    DelayOnFifoQueue {
        /// The delay asked for.
        delay_s: u32,
    },
    /// A deduplication id sent to a standard queue.
    #[error("deduplication id {dedup_id:?} on a standard queue")]
    DedupIdOnStandardQueue {
        /// The id sent.
        dedup_id: String,
    },
    /// A FIFO send without a deduplication id to a queue without content-based
    /// deduplication.
    #[error("no deduplication id and no content-based deduplication")]
    NoDedupId,
    /// A visibility timeout over the maximum (ReceiveMessage or ChangeMessageVisibility).
    #[error("visibility timeout of {timeout_s} s is over {max_s} s")]
    VisibilityTooLong {
        /// The timeout asked for.
        timeout_s: u64,
        /// Longest allowed.
        max_s: u32,
    },
    /// A tag key that is empty or too long.
    #[error("tag key {key:?} is not 1 to {max_chars} characters")]
    BadTagKey {
        /// The key given.
        key: String,
        /// Longest allowed.
        max_chars: usize,
    },
    /// A tag value that is too long.
    #[error("the value of tag {key:?} is over {max_chars} characters")]
    TagValueTooLong {
        /// The tag's key.
        key: String,
        /// Longest allowed.
        max_chars: usize,
    },
    /// A count (of messages asked for, say) outside its range.
    #[error("{count} is not between {min} and {max}")]
    CountOutOfRange {
        /// The count given.
        count: usize,
        /// Smallest allowed.
        min: usize,
        /// Largest allowed.
        max: usize,
    },
    /// More tags on a queue than allowed.
    #[error("more than {max} tags")]
    TooManyTags {
        /// Most allowed.
        max: usize,
    },
}

/// Why a receipt handle was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidHandle {
    /// Not a handle this engine issued for this queue.
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    /// A handle naming a partition the queue does not have.
    #[error("unknown partition")]
    UnknownPartition,
}

/// Why a dead-letter queue move could not be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedriveRefusal {
    /// The message names no source queue, or one that no longer exists.
    #[error("the message has no existing source queue")]
    NoSourceQueue,
    /// Redrive from a queue that no queue's RedrivePolicy names as its dead-letter queue
    /// (it would move live messages of an ordinary queue).
    #[error("queue {0} is not the dead-letter queue of any queue")]
    NotADeadLetterQueue(String),
}

/// Why a `RedrivePolicy` cannot name its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeadLetterTargetRefusal {
    /// No queue of this engine has the `deadLetterTargetArn`.
    #[error("the dead-letter target does not exist")]
    DoesNotExist,
    /// The dead-letter queue's `RedriveAllowPolicy` does not list the source queue
    /// (`denyAll`, or `byQueue` without it).
    #[error("the RedriveAllowPolicy of {dlq_arn} does not allow {source_arn}")]
    NotAllowed {
        /// The source queue's ARN.
        source_arn: String,
        /// The dead-letter queue's ARN.
        dlq_arn: String,
    },
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

    /// `InvalidParameter` of parameter `name`.
    pub(crate) fn invalid(name: &'static str, reason: InvalidParameter) -> EngineError {
        EngineError::InvalidParameter { name, reason }
    }
}

/// A bad queue name is reported as a queue-attribute error, as CreateQueue reports it.
impl From<spool_model::name::QueueNameError> for EngineError {
    fn from(e: spool_model::name::QueueNameError) -> EngineError {
        EngineError::Attr(AttrError::InvalidQueueName(e))
    }
}

/// ENOSPC or EDQUOT.
pub fn is_enospc(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// The engine's result: its error is an [`EngineError`] unless said otherwise.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
