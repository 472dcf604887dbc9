//! Every numeric limit of the SQS API, once, with its unit in its name (`_S` seconds,
//! `_MS` milliseconds, `_BYTES` bytes, `_CHARS` characters; a bare count otherwise).
//!
//! Values are AWS's (docs/reference facts, recorded where AWS and its documentation
//! disagree). Ranges are inclusive and come as `_MIN_`/`_MAX_` pairs plus a
//! `RangeInclusive` where a caller checks membership. Nothing here does I/O or allocates.

use std::ops::RangeInclusive;

// ----- queue attributes -----------------------------------------------------------------

/// Smallest `VisibilityTimeout` (also of ReceiveMessage and ChangeMessageVisibility).
pub const VISIBILITY_TIMEOUT_MIN_S: u32 = 0;
/// Largest `VisibilityTimeout`: 12 hours (also the ChangeMessageVisibility ceiling).
pub const VISIBILITY_TIMEOUT_MAX_S: u32 = 43_200;
/// [`VISIBILITY_TIMEOUT_MAX_S`] in milliseconds, for clocks that count them.
pub const VISIBILITY_TIMEOUT_MAX_MS: u64 = VISIBILITY_TIMEOUT_MAX_S as u64 * 1000;
/// `VisibilityTimeout` of a new queue.
pub const VISIBILITY_TIMEOUT_DEFAULT_S: u32 = 30;
/// The `VisibilityTimeout` range.
pub const VISIBILITY_TIMEOUT_RANGE_S: RangeInclusive<u32> =
    VISIBILITY_TIMEOUT_MIN_S..=VISIBILITY_TIMEOUT_MAX_S;

/// Shortest `MessageRetentionPeriod`: 1 minute.
pub const MESSAGE_RETENTION_MIN_S: u32 = 60;
/// Longest `MessageRetentionPeriod`: 14 days.
pub const MESSAGE_RETENTION_MAX_S: u32 = 1_209_600;
/// `MessageRetentionPeriod` of a new queue: 4 days.
pub const MESSAGE_RETENTION_DEFAULT_S: u32 = 345_600;
/// The `MessageRetentionPeriod` range.
pub const MESSAGE_RETENTION_RANGE_S: RangeInclusive<u32> =
    MESSAGE_RETENTION_MIN_S..=MESSAGE_RETENTION_MAX_S;

/// Smallest `MaximumMessageSize`: 1 KiB.
pub const MAXIMUM_MESSAGE_SIZE_MIN_BYTES: u32 = 1_024;
/// Largest message SQS takes (body plus message attributes), and the largest
/// `MaximumMessageSize`: 1 MiB since August 2025. Also the ceiling of a whole
/// SendMessageBatch request.
pub const MESSAGE_SIZE_MAX_BYTES: u32 = 1_048_576;
/// The message-size ceiling before August 2025 (256 KiB), still what older SDK
/// documentation quotes; kept for reference and clients that enforce it.
pub const MESSAGE_SIZE_LEGACY_MAX_BYTES: u32 = 262_144;
/// `MaximumMessageSize` of a new queue.
pub const MAXIMUM_MESSAGE_SIZE_DEFAULT_BYTES: u32 = MESSAGE_SIZE_MAX_BYTES;
/// The `MaximumMessageSize` range.
pub const MAXIMUM_MESSAGE_SIZE_RANGE_BYTES: RangeInclusive<u32> =
    MAXIMUM_MESSAGE_SIZE_MIN_BYTES..=MESSAGE_SIZE_MAX_BYTES;
/// The largest SendMessageBatch request (the sum of its entries' sizes).
pub const BATCH_REQUEST_MAX_BYTES: u32 = MESSAGE_SIZE_MAX_BYTES;

/// Longest `DelaySeconds` (queue attribute and per-message delay): 15 minutes.
pub const DELAY_MAX_S: u32 = 900;
/// `DelaySeconds` of a new queue.
pub const DELAY_DEFAULT_S: u32 = 0;
/// The `DelaySeconds` range.
pub const DELAY_RANGE_S: RangeInclusive<u32> = 0..=DELAY_MAX_S;

/// Longest long poll (`ReceiveMessageWaitTimeSeconds`, ReceiveMessage `WaitTimeSeconds`).
pub const RECEIVE_WAIT_TIME_MAX_S: u32 = 20;
/// [`RECEIVE_WAIT_TIME_MAX_S`] in milliseconds, for clocks that count them.
pub const RECEIVE_WAIT_TIME_MAX_MS: u32 = RECEIVE_WAIT_TIME_MAX_S * 1000;
/// `ReceiveMessageWaitTimeSeconds` of a new queue (short polling).
pub const RECEIVE_WAIT_TIME_DEFAULT_S: u32 = 0;
/// The `ReceiveMessageWaitTimeSeconds` range.
pub const RECEIVE_WAIT_TIME_RANGE_S: RangeInclusive<u32> = 0..=RECEIVE_WAIT_TIME_MAX_S;

/// Shortest `KmsDataKeyReusePeriodSeconds`: 1 minute.
pub const KMS_DATA_KEY_REUSE_MIN_S: u32 = 60;
/// Longest `KmsDataKeyReusePeriodSeconds`: 24 hours.
pub const KMS_DATA_KEY_REUSE_MAX_S: u32 = 86_400;
/// What SQS reports for `KmsDataKeyReusePeriodSeconds` once a KMS key is set: 5 minutes.
pub const KMS_DATA_KEY_REUSE_DEFAULT_S: u32 = 300;
/// The `KmsDataKeyReusePeriodSeconds` range.
pub const KMS_DATA_KEY_REUSE_RANGE_S: RangeInclusive<u32> =
    KMS_DATA_KEY_REUSE_MIN_S..=KMS_DATA_KEY_REUSE_MAX_S;
/// Longest `KmsMasterKeyId` accepted. A key ARN is far shorter; this only bounds storage
/// (Spool's own limit, SQS states none).
pub const KMS_MASTER_KEY_ID_MAX_BYTES: usize = 2_048;

/// `maxReceiveCount` of a `RedrivePolicy`: receives before a message goes to the DLQ.
pub const MAX_RECEIVE_COUNT_MIN: u32 = 1;
/// Largest `maxReceiveCount`.
pub const MAX_RECEIVE_COUNT_MAX: u32 = 1_000;
/// The `maxReceiveCount` range.
pub const MAX_RECEIVE_COUNT_RANGE: RangeInclusive<u32> =
    MAX_RECEIVE_COUNT_MIN..=MAX_RECEIVE_COUNT_MAX;
/// At most this many `sourceQueueArns` in a `byQueue` `RedriveAllowPolicy`.
pub const REDRIVE_SOURCE_ARNS_MAX: usize = 10;

// ----- names ----------------------------------------------------------------------------

/// Longest queue name, including the `.fifo` suffix of a FIFO queue.
pub const QUEUE_NAME_MAX_CHARS: usize = 80;
/// Longest message attribute name.
pub const MESSAGE_ATTRIBUTE_NAME_MAX_CHARS: usize = 256;
/// Longest message attribute data type (`String.custom-label` included).
pub const MESSAGE_ATTRIBUTE_DATA_TYPE_MAX_CHARS: usize = 256;
/// At most this many significant digits in a `Number` message attribute.
pub const NUMBER_ATTRIBUTE_MAX_DIGITS: usize = 38;
/// Longest `MessageGroupId`, `MessageDeduplicationId` and `ReceiveRequestAttemptId`.
pub const MESSAGE_ID_PARAMETER_MAX_CHARS: usize = 128;
/// Longest batch entry `Id`.
pub const BATCH_ENTRY_ID_MAX_CHARS: usize = 80;
/// Longest AddPermission `Label`.
pub const PERMISSION_LABEL_MAX_CHARS: usize = 80;
/// Longest tag key.
pub const TAG_KEY_MAX_CHARS: usize = 128;
/// Longest tag value.
pub const TAG_VALUE_MAX_CHARS: usize = 256;

// ----- counts ---------------------------------------------------------------------------

/// At most this many message attributes on one message.
pub const MESSAGE_ATTRIBUTES_MAX: usize = 10;
/// At most this many entries in one batch request (send, delete, change visibility).
pub const BATCH_ENTRIES_MAX: usize = 10;
/// At most this many messages from one ReceiveMessage (`MaxNumberOfMessages`).
pub const RECEIVE_MESSAGES_MAX: u32 = 10;
/// At most this many messages in flight (received, neither deleted nor visible again) on
/// one queue; a receive beyond it is refused with OverLimit.
pub const IN_FLIGHT_MESSAGES_MAX: usize = 120_000;
/// At most this many tags on a queue.
pub const QUEUE_TAGS_MAX: usize = 50;
/// The largest page of ListQueues and ListDeadLetterSourceQueues (`MaxResults`).
pub const LIST_RESULTS_MAX: u32 = 1_000;
/// The largest page of ListMessageMoveTasks (`MaxResults`).
pub const MOVE_TASK_RESULTS_MAX: u32 = 10;
/// Tasks ListMessageMoveTasks returns when the request names no `MaxResults`.
pub const MOVE_TASK_RESULTS_DEFAULT: u32 = 1;
/// The fastest StartMessageMoveTask `MaxNumberOfMessagesPerSecond`.
pub const MOVE_TASK_RATE_MAX_PER_S: u32 = 500;
/// Messages per second a message move task moves when the request names no rate. AWS
/// says only "system optimized"; this is Spool's choice, above what a request may ask
/// for ([`MOVE_TASK_RATE_MAX_PER_S`]).
pub const MOVE_TASK_RATE_DEFAULT_PER_S: u32 = 10_000;

// ----- time windows ---------------------------------------------------------------------

/// A FIFO queue drops a second message with a deduplication id it saw within this window
/// (also the ReceiveRequestAttemptId retry window): 5 minutes.
pub const DEDUP_WINDOW_S: u32 = 300;
/// [`DEDUP_WINDOW_S`] in milliseconds.
pub const DEDUP_WINDOW_MS: u64 = DEDUP_WINDOW_S as u64 * 1000;
/// After DeleteQueue, the name cannot be reused for this long (QueueDeletedRecently).
pub const QUEUE_DELETED_RECENTLY_S: u32 = 60;
/// [`QUEUE_DELETED_RECENTLY_S`] in milliseconds.
pub const QUEUE_DELETED_RECENTLY_MS: u64 = QUEUE_DELETED_RECENTLY_S as u64 * 1000;
/// At most one PurgeQueue per queue in this long (PurgeQueueInProgress).
pub const PURGE_INTERVAL_S: u32 = 60;
/// [`PURGE_INTERVAL_S`] in milliseconds.
pub const PURGE_INTERVAL_MS: u64 = PURGE_INTERVAL_S as u64 * 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_agree() {
        assert_eq!(VISIBILITY_TIMEOUT_MAX_S, 12 * 60 * 60);
        assert_eq!(MESSAGE_RETENTION_MAX_S, 14 * 24 * 60 * 60);
        assert_eq!(MESSAGE_RETENTION_DEFAULT_S, 4 * 24 * 60 * 60);
        assert_eq!(MESSAGE_SIZE_MAX_BYTES, 1 << 20);
        assert_eq!(MESSAGE_SIZE_LEGACY_MAX_BYTES, 256 << 10);
        assert_eq!(VISIBILITY_TIMEOUT_MAX_MS, 43_200_000);
        assert_eq!(DEDUP_WINDOW_MS, 5 * 60 * 1000);
        assert_eq!(QUEUE_DELETED_RECENTLY_MS, 60_000);
        assert_eq!(PURGE_INTERVAL_MS, 60_000);
    }

    #[test]
    fn defaults_lie_in_their_ranges() {
        assert!(VISIBILITY_TIMEOUT_RANGE_S.contains(&VISIBILITY_TIMEOUT_DEFAULT_S));
        assert!(MESSAGE_RETENTION_RANGE_S.contains(&MESSAGE_RETENTION_DEFAULT_S));
        assert!(MAXIMUM_MESSAGE_SIZE_RANGE_BYTES.contains(&MAXIMUM_MESSAGE_SIZE_DEFAULT_BYTES));
        assert!(DELAY_RANGE_S.contains(&DELAY_DEFAULT_S));
        assert!(RECEIVE_WAIT_TIME_RANGE_S.contains(&RECEIVE_WAIT_TIME_DEFAULT_S));
        assert!(KMS_DATA_KEY_REUSE_RANGE_S.contains(&KMS_DATA_KEY_REUSE_DEFAULT_S));
    }
}
