//! Queue attribute names, exactly as SQS spells them (case-sensitive), and which of them
//! a request may set.

use super::error::AttrError;

/// `VisibilityTimeout` (settable).
pub const VISIBILITY_TIMEOUT: &str = "VisibilityTimeout";
/// `MessageRetentionPeriod` (settable).
pub const MESSAGE_RETENTION_PERIOD: &str = "MessageRetentionPeriod";
/// `MaximumMessageSize` (settable).
pub const MAXIMUM_MESSAGE_SIZE: &str = "MaximumMessageSize";
/// `DelaySeconds` (settable).
pub const DELAY_SECONDS: &str = "DelaySeconds";
/// `ReceiveMessageWaitTimeSeconds` (settable).
pub const RECEIVE_MESSAGE_WAIT_TIME_SECONDS: &str = "ReceiveMessageWaitTimeSeconds";
/// `RedrivePolicy` (settable).
pub const REDRIVE_POLICY: &str = "RedrivePolicy";
/// `RedriveAllowPolicy` (settable).
pub const REDRIVE_ALLOW_POLICY: &str = "RedriveAllowPolicy";
/// `FifoQueue` (set at creation only; FIFO queues only).
pub const FIFO_QUEUE: &str = "FifoQueue";
/// `ContentBasedDeduplication` (settable; FIFO queues only).
pub const CONTENT_BASED_DEDUPLICATION: &str = "ContentBasedDeduplication";
/// `DeduplicationScope` (settable; FIFO queues only).
pub const DEDUPLICATION_SCOPE: &str = "DeduplicationScope";
/// `FifoThroughputLimit` (settable; FIFO queues only).
pub const FIFO_THROUGHPUT_LIMIT: &str = "FifoThroughputLimit";
/// `Policy` (settable).
pub const POLICY: &str = "Policy";
/// `KmsMasterKeyId` (settable).
pub const KMS_MASTER_KEY_ID: &str = "KmsMasterKeyId";
/// `KmsDataKeyReusePeriodSeconds` (settable).
pub const KMS_DATA_KEY_REUSE_PERIOD_SECONDS: &str = "KmsDataKeyReusePeriodSeconds";
/// `SqsManagedSseEnabled` (settable).
pub const SQS_MANAGED_SSE_ENABLED: &str = "SqsManagedSseEnabled";

/// `ApproximateNumberOfMessages` (read-only): messages ready to receive.
pub const APPROXIMATE_NUMBER_OF_MESSAGES: &str = "ApproximateNumberOfMessages";
/// `ApproximateNumberOfMessagesNotVisible` (read-only): messages in flight.
pub const APPROXIMATE_NUMBER_OF_MESSAGES_NOT_VISIBLE: &str =
    "ApproximateNumberOfMessagesNotVisible";
/// `ApproximateNumberOfMessagesDelayed` (read-only): messages not yet due.
pub const APPROXIMATE_NUMBER_OF_MESSAGES_DELAYED: &str = "ApproximateNumberOfMessagesDelayed";
/// `CreatedTimestamp` (read-only, epoch seconds).
pub const CREATED_TIMESTAMP: &str = "CreatedTimestamp";
/// `LastModifiedTimestamp` (read-only, epoch seconds).
pub const LAST_MODIFIED_TIMESTAMP: &str = "LastModifiedTimestamp";
/// `QueueArn` (read-only).
pub const QUEUE_ARN: &str = "QueueArn";
/// `All`: GetQueueAttributes's word for every attribute.
pub const ALL: &str = "All";

/// The three message counts, read-only; summed over the shards that hold a queue.
pub const COUNT_ATTRIBUTE_NAMES: [&str; 3] = [
    APPROXIMATE_NUMBER_OF_MESSAGES,
    APPROXIMATE_NUMBER_OF_MESSAGES_NOT_VISIBLE,
    APPROXIMATE_NUMBER_OF_MESSAGES_DELAYED,
];

/// Read-only attributes: reported by GetQueueAttributes, rejected by Create/SetQueueAttributes.
pub const READ_ONLY_ATTRIBUTE_NAMES: &[&str] = &[
    APPROXIMATE_NUMBER_OF_MESSAGES,
    APPROXIMATE_NUMBER_OF_MESSAGES_NOT_VISIBLE,
    APPROXIMATE_NUMBER_OF_MESSAGES_DELAYED,
    CREATED_TIMESTAMP,
    LAST_MODIFIED_TIMESTAMP,
    QUEUE_ARN,
];

/// Every attribute name accepted by GetQueueAttributes (including read-only ones and "All").
pub const ALL_ATTRIBUTE_NAMES: &[&str] = &[
    ALL,
    POLICY,
    VISIBILITY_TIMEOUT,
    MAXIMUM_MESSAGE_SIZE,
    MESSAGE_RETENTION_PERIOD,
    APPROXIMATE_NUMBER_OF_MESSAGES,
    APPROXIMATE_NUMBER_OF_MESSAGES_NOT_VISIBLE,
    CREATED_TIMESTAMP,
    LAST_MODIFIED_TIMESTAMP,
    QUEUE_ARN,
    APPROXIMATE_NUMBER_OF_MESSAGES_DELAYED,
    DELAY_SECONDS,
    RECEIVE_MESSAGE_WAIT_TIME_SECONDS,
    REDRIVE_POLICY,
    FIFO_QUEUE,
    CONTENT_BASED_DEDUPLICATION,
    KMS_MASTER_KEY_ID,
    KMS_DATA_KEY_REUSE_PERIOD_SECONDS,
    DEDUPLICATION_SCOPE,
    FIFO_THROUGHPUT_LIMIT,
    REDRIVE_ALLOW_POLICY,
    SQS_MANAGED_SSE_ENABLED,
];

/// The settable attributes, by SQS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attr {
    VisibilityTimeout,
    MessageRetentionPeriod,
    MaximumMessageSize,
    DelaySeconds,
    ReceiveMessageWaitTimeSeconds,
    RedrivePolicy,
    RedriveAllowPolicy,
    FifoQueue,
    ContentBasedDeduplication,
    DeduplicationScope,
    FifoThroughputLimit,
    Policy,
    KmsMasterKeyId,
    KmsDataKeyReusePeriodSeconds,
    SqsManagedSseEnabled,
}

impl Attr {
    pub(crate) const ALL: [Attr; 15] = [
        Attr::VisibilityTimeout,
        Attr::MessageRetentionPeriod,
        Attr::MaximumMessageSize,
        Attr::DelaySeconds,
        Attr::ReceiveMessageWaitTimeSeconds,
        Attr::RedrivePolicy,
        Attr::RedriveAllowPolicy,
        Attr::FifoQueue,
        Attr::ContentBasedDeduplication,
        Attr::DeduplicationScope,
        Attr::FifoThroughputLimit,
        Attr::Policy,
        Attr::KmsMasterKeyId,
        Attr::KmsDataKeyReusePeriodSeconds,
        Attr::SqsManagedSseEnabled,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Attr::VisibilityTimeout => VISIBILITY_TIMEOUT,
            Attr::MessageRetentionPeriod => MESSAGE_RETENTION_PERIOD,
            Attr::MaximumMessageSize => MAXIMUM_MESSAGE_SIZE,
            Attr::DelaySeconds => DELAY_SECONDS,
            Attr::ReceiveMessageWaitTimeSeconds => RECEIVE_MESSAGE_WAIT_TIME_SECONDS,
            Attr::RedrivePolicy => REDRIVE_POLICY,
            Attr::RedriveAllowPolicy => REDRIVE_ALLOW_POLICY,
            Attr::FifoQueue => FIFO_QUEUE,
            Attr::ContentBasedDeduplication => CONTENT_BASED_DEDUPLICATION,
            Attr::DeduplicationScope => DEDUPLICATION_SCOPE,
            Attr::FifoThroughputLimit => FIFO_THROUGHPUT_LIMIT,
            Attr::Policy => POLICY,
            Attr::KmsMasterKeyId => KMS_MASTER_KEY_ID,
            Attr::KmsDataKeyReusePeriodSeconds => KMS_DATA_KEY_REUSE_PERIOD_SECONDS,
            Attr::SqsManagedSseEnabled => SQS_MANAGED_SSE_ENABLED,
        }
    }

    /// Case-sensitive, as in SQS.
    pub(crate) fn from_name(name: &str) -> Option<Attr> {
        Attr::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Attributes SQS only knows on FIFO queues; on a standard queue they are "unknown".
    fn fifo_only(self) -> bool {
        matches!(
            self,
            Attr::FifoQueue
                | Attr::ContentBasedDeduplication
                | Attr::DeduplicationScope
                | Attr::FifoThroughputLimit
        )
    }

    /// Resolves a map key for a queue of the given type. Read-only attributes, "All" and
    /// unknown names are all InvalidAttributeName, as in SQS.
    pub(crate) fn classify(name: &str, fifo: bool) -> Result<Attr, AttrError> {
        match Attr::from_name(name) {
            Some(a) if fifo || !a.fifo_only() => Ok(a),
            _ => Err(AttrError::InvalidAttributeName(name.to_string())),
        }
    }
}

/// Whether GetQueueAttributes knows `name` (case-sensitive; `All` included).
pub fn is_known_attribute_name(name: &str) -> bool {
    ALL_ATTRIBUTE_NAMES.contains(&name)
}
