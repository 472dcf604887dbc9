//! The SQS names and rules the daemon itself writes down (the codec's limits live in
//! `spool_protocol::sqs::request`, the queue attribute ranges in `spool_engine::attrs`):
//! the queue and message system attribute names the SQS layer asks for or fills in, the
//! IAM names AddPermission writes into a policy, the account id and region rules, and the
//! defaults of message move tasks.
//!
//! Everything here is a name or a rule of SQS, not of Spool, and is written nowhere else in
//! the daemon; it is kept in one file so that one SQS model can take it over whole.

/// Queue attributes the daemon reads or writes by name.
pub mod queue_attr {
    /// The queue's ARN (read-only).
    pub const QUEUE_ARN: &str = "QueueArn";
    /// The queue's access policy (JSON), edited by AddPermission / RemovePermission.
    pub const POLICY: &str = "Policy";
    /// Whether the queue is FIFO; fixed at creation.
    pub const FIFO_QUEUE: &str = "FifoQueue";
    /// The long-poll wait a ReceiveMessage without WaitTimeSeconds gets.
    pub const RECEIVE_MESSAGE_WAIT_TIME_SECONDS: &str = "ReceiveMessageWaitTimeSeconds";
    /// Visible messages (read-only).
    pub const APPROXIMATE_NUMBER_OF_MESSAGES: &str = "ApproximateNumberOfMessages";
    /// Received and not yet deleted or visible again (read-only).
    pub const APPROXIMATE_NUMBER_OF_MESSAGES_NOT_VISIBLE: &str =
        "ApproximateNumberOfMessagesNotVisible";
    /// Delayed messages (read-only).
    pub const APPROXIMATE_NUMBER_OF_MESSAGES_DELAYED: &str = "ApproximateNumberOfMessagesDelayed";
}

/// Message system attributes a ReceiveMessage may ask for.
pub mod message_attr {
    pub const SENDER_ID: &str = "SenderId";
    pub const SENT_TIMESTAMP: &str = "SentTimestamp";
    pub const APPROXIMATE_RECEIVE_COUNT: &str = "ApproximateReceiveCount";
    pub const APPROXIMATE_FIRST_RECEIVE_TIMESTAMP: &str = "ApproximateFirstReceiveTimestamp";
    pub const MESSAGE_GROUP_ID: &str = "MessageGroupId";
    pub const MESSAGE_DEDUPLICATION_ID: &str = "MessageDeduplicationId";
    pub const SEQUENCE_NUMBER: &str = "SequenceNumber";
    pub const DEAD_LETTER_QUEUE_SOURCE_ARN: &str = "DeadLetterQueueSourceArn";
    /// The one system attribute a sender sets (X-Ray tracing); stored with the message.
    pub const AWS_TRACE_HEADER: &str = "AWSTraceHeader";
}

/// The IAM policy language version of the policies AddPermission writes.
pub const POLICY_VERSION: &str = "2012-10-17";

/// The `Id` SQS gives a queue's policy when AddPermission creates it.
pub fn default_policy_id(queue_arn: &str) -> String {
    format!("{queue_arn}/SQSDefaultPolicy")
}

/// The IAM principal of a whole account: `arn:aws:iam::<account>:root`.
pub fn account_root_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// An SQS action as a policy names it: `SQS:<action>`.
pub fn policy_action(action: &str) -> String {
    format!("SQS:{action}")
}

/// Characters of a client's receipt handle quoted in ReceiptHandleIsInvalid.
pub const MAX_QUOTED_HANDLE_CHARS: usize = 256;

/// The region queue ARNs name unless configured otherwise.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Longest region name accepted.
pub const MAX_REGION_LEN: usize = 32;
/// The account id queue URLs and ARNs name unless configured otherwise.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// Digits of an AWS account id.
pub const ACCOUNT_ID_LEN: usize = 12;

/// A region: 1 to [`MAX_REGION_LEN`] of `a-z`, `0-9` and `-`.
pub fn is_valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= MAX_REGION_LEN
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An account id: exactly [`ACCOUNT_ID_LEN`] decimal digits.
pub fn is_valid_account_id(account: &str) -> bool {
    account.len() == ACCOUNT_ID_LEN && account.bytes().all(|b| b.is_ascii_digit())
}

/// Messages per second a message move task moves when the request names no rate (AWS:
/// "system optimized"; requests may ask for at most
/// `spool_protocol::sqs::request::MAX_MOVE_RATE`).
pub const DEFAULT_MOVE_RATE_PER_S: u32 = 10_000;
/// Tasks ListMessageMoveTasks returns when the request names no MaxResults.
pub const DEFAULT_MOVE_TASK_RESULTS: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_account_ids() {
        assert!(is_valid_region(DEFAULT_REGION));
        assert!(is_valid_region("eu-west-1"));
        assert!(!is_valid_region(""));
        assert!(!is_valid_region("EU-WEST-1"));
        assert!(!is_valid_region(&"a".repeat(MAX_REGION_LEN + 1)));
        assert!(is_valid_account_id(DEFAULT_ACCOUNT_ID));
        assert!(!is_valid_account_id("12"));
        assert!(!is_valid_account_id("12345678901a"));
    }

    #[test]
    fn iam_names() {
        assert_eq!(
            account_root_arn("123456789012"),
            "arn:aws:iam::123456789012:root"
        );
        assert_eq!(policy_action("SendMessage"), "SQS:SendMessage");
        assert_eq!(
            default_policy_id("arn:aws:sqs:us-east-1:000000000000:q"),
            "arn:aws:sqs:us-east-1:000000000000:q/SQSDefaultPolicy"
        );
    }
}
