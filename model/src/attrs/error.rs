//! What can be wrong with a queue's name or attributes, as data.
//!
//! Each error names the attribute at fault and carries what was wrong with the values
//! involved (user input cut to [`MAX_ECHO_CHARS`] characters), so the daemon can answer
//! with SQS's exact error code and text (`server/src/errors.rs` does that mapping). The
//! `Display` of [`AttrValueError`] is the reason SQS gives for a bad value; the `Display`
//! of [`AttrError`] is a description for logs.

use crate::name::QueueNameError;

/// User input quoted in an error is cut to this many characters, so a huge value cannot
/// blow up a response or a log line.
pub const MAX_ECHO_CHARS: usize = 64;

/// User input quoted in an error, cut to [`MAX_ECHO_CHARS`] chars (`...` marks a cut).
pub(crate) fn echo(value: &str) -> String {
    let mut out: String = value.chars().take(MAX_ECHO_CHARS).collect();
    if out.len() < value.len() {
        out.push_str("...");
    }
    out
}

/// A CreateQueue / SetQueueAttributes / GetQueueAttributes request SQS refuses.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AttrError {
    /// The queue name breaks the rule of its queue type (SQS: `InvalidParameterValue`).
    #[error(transparent)]
    InvalidQueueName(#[from] QueueNameError),
    /// An unknown, read-only, or (on a standard queue) FIFO-only attribute name
    /// (SQS: `InvalidAttributeName`).
    #[error("unknown attribute {0}")]
    InvalidAttributeName(String),
    /// A bad value of a known attribute (SQS: `InvalidAttributeValue`).
    #[error("invalid value for attribute {name}: {reason}")]
    InvalidAttributeValue {
        /// The attribute at fault.
        name: &'static str,
        /// What is wrong with its value.
        reason: AttrValueError,
    },
    /// CreateQueue of an existing queue naming a different value (SQS: `QueueNameExists`).
    #[error("the queue exists with a different value for attribute {name}")]
    DifferentAttributes {
        /// The first attribute (in name order) whose value differs.
        name: &'static str,
    },
}

/// What is wrong with an attribute's value. `Display` is the reason SQS gives (quoted
/// user input is cut to [`MAX_ECHO_CHARS`] characters).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AttrValueError {
    /// Not a plain decimal integer within the attribute's range.
    #[error("Value {value} must be an integer from {min} to {max}.")]
    NotInRange {
        /// The value given.
        value: String,
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
    },
    /// Not `true` or `false`.
    #[error("Value {value} must be true or false.")]
    NotBoolean {
        /// The value given.
        value: String,
    },
    /// Not one of the attribute's words.
    #[error("Value {value} must be {}.", .allowed.join(" or "))]
    NotOneOf {
        /// The value given.
        value: String,
        /// The words allowed.
        allowed: &'static [&'static str],
    },
    /// SetQueueAttributes tried to change `FifoQueue` (AWS's words).
    #[error("Modifying queue type is not supported.")]
    FifoQueueImmutable,
    /// A `KmsMasterKeyId` too long or with control characters.
    #[error("A KMS key id must be at most {max_bytes} bytes without control characters.")]
    BadKmsKeyId {
        /// Longest allowed.
        max_bytes: usize,
    },
    /// A KMS key and SQS-managed SSE asked for together.
    #[error("You can use one type of server-side encryption (SSE) at one time: either KMS SSE (KmsMasterKeyId) or SQS SSE (SqsManagedSseEnabled).")]
    TwoSseTypes,
    /// `FifoThroughputLimit=perMessageGroupId` without `DeduplicationScope=messageGroup`.
    #[error("FifoThroughputLimit perMessageGroupId is allowed only when DeduplicationScope is messageGroup.")]
    ThroughputNeedsGroupScope,
    /// A policy that is not JSON.
    #[error("Invalid JSON: {detail}.")]
    NotJson {
        /// The parser's description.
        detail: String,
    },
    /// A policy that is JSON but not an object.
    #[error("The value must be a JSON object.")]
    NotJsonObject,
    /// A policy key the attribute does not have.
    #[error("Unknown key {key}: only {} are supported.", .allowed.join(" and "))]
    UnknownKey {
        /// The key given.
        key: String,
        /// The keys the policy has.
        allowed: &'static [&'static str],
    },
    /// A `RedrivePolicy` without one of its two keys.
    #[error("Redrive policy does not contain mandatory attribute: {key}.")]
    MissingKey {
        /// The key missing.
        key: &'static str,
    },
    /// `deadLetterTargetArn` is not a JSON string.
    #[error("deadLetterTargetArn must be a string.")]
    TargetArnNotString,
    /// `maxReceiveCount` is not an integer in range (number or decimal string).
    #[error("maxReceiveCount must be an integer from {min} to {max}.")]
    BadMaxReceiveCount {
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
    },
    /// `deadLetterTargetArn` is not a queue ARN.
    #[error(
        "Invalid deadLetterTargetArn {arn}: expected arn:aws:sqs:<region>:<account>:<queue name>."
    )]
    BadTargetArn {
        /// The ARN given.
        arn: String,
    },
    /// The dead-letter queue's type differs from the source queue's.
    #[error("Dead-letter target must be a {} queue for a {} source queue.",
        if *.source_fifo { "FIFO" } else { "standard" },
        if *.source_fifo { "FIFO" } else { "standard" })]
    TargetTypeMismatch {
        /// Whether the source queue is FIFO.
        source_fifo: bool,
    },
    /// More `sourceQueueArns` than allowed.
    #[error("sourceQueueArns can contain at most {max} ARNs.")]
    TooManySourceArns {
        /// Most allowed.
        max: usize,
    },
    /// A `sourceQueueArns` item that is not a queue ARN string.
    #[error("Invalid source queue ARN {value}.")]
    BadSourceArn {
        /// The item given (as JSON).
        value: String,
    },
    /// `sourceQueueArns` is not an array.
    #[error("sourceQueueArns must be an array of queue ARNs.")]
    SourceArnsNotArray,
    /// `redrivePermission` missing or not a string.
    #[error("redrivePermission is required and must be one of allowAll, denyAll, byQueue.")]
    MissingPermission,
    /// `redrivePermission` is not one of its words.
    #[error("Invalid redrivePermission {value}: must be one of allowAll, denyAll, byQueue.")]
    BadPermission {
        /// The value given.
        value: String,
    },
    /// `sourceQueueArns` with `allowAll` or `denyAll`.
    #[error("sourceQueueArns is only allowed when redrivePermission is byQueue.")]
    SourceArnsWithoutByQueue,
    /// `byQueue` without `sourceQueueArns`.
    #[error("sourceQueueArns must contain at least one ARN when redrivePermission is byQueue.")]
    ByQueueWithoutSourceArns,
}

/// An `InvalidAttributeValue` of attribute `name`.
pub(crate) fn invalid_value(name: &'static str, reason: AttrValueError) -> AttrError {
    AttrError::InvalidAttributeValue { name, reason }
}
