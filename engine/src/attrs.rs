//! Queue names and queue attributes, with Amazon SQS semantics.
//!
//! This module owns:
//! * queue-name validation (`[A-Za-z0-9_-]`, 1–80 chars, `.fifo` suffix exactly for FIFO queues);
//! * the typed [`QueueAttributes`] of a queue, with the SQS defaults and ranges;
//! * conversion from the SQS string map (CreateQueue / SetQueueAttributes) and back
//!   (GetQueueAttributes), using the exact SQS attribute names;
//! * the JSON sub-formats `RedrivePolicy` and `RedriveAllowPolicy`, and SQS queue ARNs;
//! * the comparison behind idempotent CreateQueue.
//!
//! Promises:
//! * every function is total: any input string / map gives `Ok` or `Err`, never a panic;
//! * [`QueueAttributes::apply_set`] is all-or-nothing (it returns a new value; `self` is
//!   never touched);
//! * `for_create(name, &attrs.to_map())` gives back `attrs` for every valid `attrs`
//!   (what a queue reports can be fed back to create an identical queue);
//! * attribute-name errors are reported before value errors, as SQS does, so a request
//!   with both a bad name and a bad value fails with `InvalidAttributeName`.
//!
//! Not owned here: read-only attributes (`ApproximateNumberOfMessages*`, timestamps,
//! `QueueArn`) are produced by the engine; checking that a dead-letter queue exists, or
//! that it is not the source queue itself, needs the queue registry and is done by the caller.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

/// Longest queue name, including the `.fifo` suffix of a FIFO queue.
pub const MAX_QUEUE_NAME_LEN: usize = 80;
/// Suffix every FIFO queue name carries, and only FIFO queue names.
pub const FIFO_SUFFIX: &str = ".fifo";

/// `VisibilityTimeout`, seconds.
pub const VISIBILITY_TIMEOUT_RANGE: RangeInclusive<u32> = 0..=43_200;
/// `MessageRetentionPeriod`, seconds (1 minute to 14 days).
pub const MESSAGE_RETENTION_RANGE: RangeInclusive<u32> = 60..=1_209_600;
/// `MaximumMessageSize`, bytes (1 KiB to 1 MiB since Aug 2025).
pub const MAXIMUM_MESSAGE_SIZE_RANGE: RangeInclusive<u32> = 1_024..=1_048_576;
/// `DelaySeconds`.
pub const DELAY_RANGE: RangeInclusive<u32> = 0..=900;
/// `ReceiveMessageWaitTimeSeconds`.
pub const RECEIVE_WAIT_TIME_RANGE: RangeInclusive<u32> = 0..=20;
/// `KmsDataKeyReusePeriodSeconds`.
pub const KMS_DATA_KEY_REUSE_RANGE: RangeInclusive<u32> = 60..=86_400;
/// `maxReceiveCount` inside `RedrivePolicy`.
pub const MAX_RECEIVE_COUNT_RANGE: RangeInclusive<u32> = 1..=1_000;
/// At most this many `sourceQueueArns` in a `byQueue` `RedriveAllowPolicy`.
pub const MAX_REDRIVE_SOURCE_ARNS: usize = 10;

pub const DEFAULT_VISIBILITY_TIMEOUT_S: u32 = 30;
pub const DEFAULT_MESSAGE_RETENTION_S: u32 = 345_600;
pub const DEFAULT_MAXIMUM_MESSAGE_SIZE: u32 = 1_048_576;
pub const DEFAULT_DELAY_S: u32 = 0;
pub const DEFAULT_RECEIVE_WAIT_TIME_S: u32 = 0;
/// What SQS reports for `KmsDataKeyReusePeriodSeconds` once a KMS key is set.
pub const DEFAULT_KMS_DATA_KEY_REUSE_PERIOD_S: u32 = 300;

/// Longest `KmsMasterKeyId` accepted (a full key ARN is far shorter; this only bounds storage).
const MAX_KMS_KEY_ID_LEN: usize = 2_048;
/// User input echoed in error reasons is cut to this many chars so a huge value cannot
/// blow up a response or a log line.
const MAX_ECHO_CHARS: usize = 64;

/// Read-only attributes: reported by GetQueueAttributes, rejected by Create/SetQueueAttributes.
pub const READ_ONLY_ATTRIBUTE_NAMES: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

/// Every attribute name accepted by GetQueueAttributes (including read-only ones and "All").
pub const ALL_ATTRIBUTE_NAMES: &[&str] = &[
    "All",
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

/// Errors of this module. The variants map onto SQS error codes, see [`AttrError::sqs_code`].
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AttrError {
    #[error("invalid queue name: {0}")]
    InvalidQueueName(String),
    #[error("Unknown Attribute {0}.")]
    InvalidAttributeName(String),
    #[error("Invalid value for the parameter {name}. Reason: {reason}")]
    InvalidAttributeValue { name: String, reason: String },
    #[error(
        "A queue already exists with the same name and a different value for attribute {name}"
    )]
    DifferentAttributes { name: String },
}

impl AttrError {
    /// The SQS error code (JSON shape name) this error is reported as.
    /// A bad queue name is the coral `InvalidParameterValue` in SQS, not an attribute error.
    pub fn sqs_code(&self) -> &'static str {
        match self {
            AttrError::InvalidQueueName(_) => "InvalidParameterValue",
            AttrError::InvalidAttributeName(_) => "InvalidAttributeName",
            AttrError::InvalidAttributeValue { .. } => "InvalidAttributeValue",
            AttrError::DifferentAttributes { .. } => "QueueNameExists",
        }
    }
}

fn invalid_value(name: &str, reason: impl Into<String>) -> AttrError {
    AttrError::InvalidAttributeValue {
        name: name.to_string(),
        reason: reason.into(),
    }
}

/// User input quoted in an error reason, cut to a bounded length (on a char boundary).
fn echo(value: &str) -> String {
    let mut out: String = value.chars().take(MAX_ECHO_CHARS).collect();
    if out.len() < value.len() {
        out.push_str("...");
    }
    out
}

// The messages SQS returns for bad names (recorded from AWS).
const STANDARD_NAME_RULE: &str =
    "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length";
const FIFO_NAME_RULE: &str = "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.";

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// 1–80 chars of `[A-Za-z0-9_-]`; a FIFO queue's name ends in ".fifo" (the 80 includes the
/// suffix) and only FIFO names may end in .fifo.
pub fn validate_queue_name(name: &str, fifo: bool) -> Result<(), AttrError> {
    let (base, rule) = if fifo {
        match name.strip_suffix(FIFO_SUFFIX) {
            Some(base) => (base, FIFO_NAME_RULE),
            None => return Err(AttrError::InvalidQueueName(FIFO_NAME_RULE.to_string())),
        }
    } else {
        // '.' is not a name byte, so a standard name can never end in ".fifo".
        (name, STANDARD_NAME_RULE)
    };
    // Byte length is the char length here because only ASCII bytes pass `is_name_byte`.
    if base.is_empty() || name.len() > MAX_QUEUE_NAME_LEN || !base.bytes().all(is_name_byte) {
        return Err(AttrError::InvalidQueueName(rule.to_string()));
    }
    Ok(())
}

/// The parts of an SQS queue ARN `arn:<partition>:sqs:<region>:<account>:<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqsArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub name: &'a str,
}

impl<'a> SqsArn<'a> {
    /// Parses and validates the shape of a queue ARN. The partition is `aws` or `aws-*`
    /// (aws-cn, aws-us-gov), the region `[a-z0-9-]+`, the account 1–12 digits (12 in AWS;
    /// shorter ids are tolerated for self-hosted setups) and the name a valid queue name
    /// whose FIFO-ness is given by its `.fifo` suffix.
    pub fn parse(arn: &'a str) -> Option<SqsArn<'a>> {
        let mut parts = arn.splitn(6, ':');
        let (arn_tag, partition, service, region, account, name) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let partition_ok = partition == "aws"
            || partition.strip_prefix("aws-").is_some_and(|rest| {
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            });
        let region_ok = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let account_ok =
            (1..=12).contains(&account.len()) && account.bytes().all(|b| b.is_ascii_digit());
        if arn_tag != "arn" || service != "sqs" || !partition_ok || !region_ok || !account_ok {
            return None;
        }
        validate_queue_name(name, name.ends_with(FIFO_SUFFIX)).ok()?;
        Some(SqsArn {
            partition,
            region,
            account,
            name,
        })
    }

    /// Whether the ARN names a FIFO queue.
    pub fn is_fifo(&self) -> bool {
        self.name.ends_with(FIFO_SUFFIX)
    }
}

/// The queue name of a well-formed SQS queue ARN (see [`SqsArn::parse`]), else `None`.
pub fn queue_name_from_arn(arn: &str) -> Option<&str> {
    SqsArn::parse(arn).map(|a| a.name)
}

/// `RedrivePolicy`: where messages go after `max_receive_count` receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

const REDRIVE_POLICY: &str = "RedrivePolicy";
const REDRIVE_ALLOW_POLICY: &str = "RedriveAllowPolicy";

impl RedrivePolicy {
    /// Parses the SQS JSON form `{"deadLetterTargetArn":"arn:...","maxReceiveCount":N}`.
    /// `maxReceiveCount` may be a JSON number or a decimal string (AWS accepts both, and
    /// SDK users send both). The target's FIFO-ness must equal `source_fifo`: SQS requires
    /// a FIFO queue's DLQ to be FIFO and a standard queue's DLQ to be standard.
    pub fn parse(json: &str, source_fifo: bool) -> Result<RedrivePolicy, AttrError> {
        let obj = parse_json_object(REDRIVE_POLICY, json)?;
        if let Some(key) = obj
            .keys()
            .find(|k| *k != "deadLetterTargetArn" && *k != "maxReceiveCount")
        {
            return Err(invalid_value(
                REDRIVE_POLICY,
                format!(
                    "Unknown key {}: only deadLetterTargetArn and maxReceiveCount are supported.",
                    echo(key)
                ),
            ));
        }
        let arn = match obj.get("deadLetterTargetArn") {
            Some(serde_json::Value::String(s)) => s,
            Some(_) => {
                return Err(invalid_value(
                    REDRIVE_POLICY,
                    "deadLetterTargetArn must be a string.",
                ))
            }
            None => {
                return Err(invalid_value(
                    REDRIVE_POLICY,
                    "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.",
                ))
            }
        };
        let count = match obj.get("maxReceiveCount") {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            // Strict: same digit-only rule as the numeric attributes.
            Some(serde_json::Value::String(s)) => parse_digits(s),
            Some(_) => None,
            None => {
                return Err(invalid_value(
                    REDRIVE_POLICY,
                    "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
                ))
            }
        };
        let max_receive_count = count
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| MAX_RECEIVE_COUNT_RANGE.contains(n))
            .ok_or_else(|| {
                invalid_value(
                    REDRIVE_POLICY,
                    format!(
                        "maxReceiveCount must be an integer from {} to {}.",
                        MAX_RECEIVE_COUNT_RANGE.start(),
                        MAX_RECEIVE_COUNT_RANGE.end()
                    ),
                )
            })?;
        let target = SqsArn::parse(arn).ok_or_else(|| {
            invalid_value(
                REDRIVE_POLICY,
                format!(
                    "Invalid deadLetterTargetArn {}: expected arn:aws:sqs:<region>:<account>:<queue name>.",
                    echo(arn)
                ),
            )
        })?;
        if target.is_fifo() != source_fifo {
            let reason = if source_fifo {
                "Dead-letter target must be a FIFO queue for a FIFO source queue."
            } else {
                "Dead-letter target must be a standard queue for a standard source queue."
            };
            return Err(invalid_value(REDRIVE_POLICY, reason));
        }
        Ok(RedrivePolicy {
            dead_letter_target_arn: arn.clone(),
            max_receive_count,
        })
    }

    /// Compact SQS JSON; `maxReceiveCount` is a number, as AWS renders it.
    pub fn to_json(&self) -> String {
        // `json!` sorts keys (or keeps insertion order with preserve_order); both give
        // deadLetterTargetArn first. Display of a Value cannot fail.
        serde_json::json!({
            "deadLetterTargetArn": self.dead_letter_target_arn,
            "maxReceiveCount": self.max_receive_count,
        })
        .to_string()
    }
}

/// `RedriveAllowPolicy`: which source queues may use this queue as their DLQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RedrivePermission {
    AllowAll,
    DenyAll,
    /// `sourceQueueArns`: 1 to 10 queue ARNs.
    ByQueue(Vec<String>),
}

impl RedrivePermission {
    /// Parses `{"redrivePermission":"allowAll|denyAll|byQueue","sourceQueueArns":[...]}`.
    /// `sourceQueueArns` is required (1–10 queue ARNs) for byQueue and may only be absent
    /// or empty otherwise: a list that would be ignored is more likely a mistake than intent.
    pub fn parse(json: &str) -> Result<RedrivePermission, AttrError> {
        let obj = parse_json_object(REDRIVE_ALLOW_POLICY, json)?;
        if let Some(key) = obj
            .keys()
            .find(|k| *k != "redrivePermission" && *k != "sourceQueueArns")
        {
            return Err(invalid_value(
                REDRIVE_ALLOW_POLICY,
                format!(
                    "Unknown key {}: only redrivePermission and sourceQueueArns are supported.",
                    echo(key)
                ),
            ));
        }
        let arns: Vec<String> = match obj.get("sourceQueueArns") {
            None => Vec::new(),
            Some(serde_json::Value::Array(items)) => {
                if items.len() > MAX_REDRIVE_SOURCE_ARNS {
                    return Err(invalid_value(
                        REDRIVE_ALLOW_POLICY,
                        format!(
                            "sourceQueueArns can contain at most {MAX_REDRIVE_SOURCE_ARNS} ARNs."
                        ),
                    ));
                }
                let mut arns = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        serde_json::Value::String(s) if SqsArn::parse(s).is_some() => {
                            arns.push(s.clone())
                        }
                        other => {
                            return Err(invalid_value(
                                REDRIVE_ALLOW_POLICY,
                                format!("Invalid source queue ARN {}.", echo(&other.to_string())),
                            ))
                        }
                    }
                }
                arns
            }
            Some(_) => {
                return Err(invalid_value(
                    REDRIVE_ALLOW_POLICY,
                    "sourceQueueArns must be an array of queue ARNs.",
                ))
            }
        };
        let permission =
            match obj.get("redrivePermission") {
                Some(serde_json::Value::String(s)) => s.as_str(),
                _ => return Err(invalid_value(
                    REDRIVE_ALLOW_POLICY,
                    "redrivePermission is required and must be one of allowAll, denyAll, byQueue.",
                )),
            };
        match permission {
            "allowAll" | "denyAll" if !arns.is_empty() => Err(invalid_value(
                REDRIVE_ALLOW_POLICY,
                "sourceQueueArns is only allowed when redrivePermission is byQueue.",
            )),
            "allowAll" => Ok(RedrivePermission::AllowAll),
            "denyAll" => Ok(RedrivePermission::DenyAll),
            "byQueue" if arns.is_empty() => Err(invalid_value(
                REDRIVE_ALLOW_POLICY,
                "sourceQueueArns must contain at least one ARN when redrivePermission is byQueue.",
            )),
            "byQueue" => Ok(RedrivePermission::ByQueue(arns)),
            other => Err(invalid_value(
                REDRIVE_ALLOW_POLICY,
                format!(
                    "Invalid redrivePermission {}: must be one of allowAll, denyAll, byQueue.",
                    echo(other)
                ),
            )),
        }
    }

    /// Compact SQS JSON.
    pub fn to_json(&self) -> String {
        match self {
            RedrivePermission::AllowAll => {
                serde_json::json!({ "redrivePermission": "allowAll" }).to_string()
            }
            RedrivePermission::DenyAll => {
                serde_json::json!({ "redrivePermission": "denyAll" }).to_string()
            }
            RedrivePermission::ByQueue(arns) => serde_json::json!({
                "redrivePermission": "byQueue",
                "sourceQueueArns": arns,
            })
            .to_string(),
        }
    }

    /// Whether a queue with this policy accepts `source_arn` as one of its DLQ sources.
    pub fn allows(&self, source_arn: &str) -> bool {
        match self {
            RedrivePermission::AllowAll => true,
            RedrivePermission::DenyAll => false,
            RedrivePermission::ByQueue(arns) => arns.iter().any(|a| a == source_arn),
        }
    }
}

/// `DeduplicationScope` of a FIFO queue (`queue` | `messageGroup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeduplicationScope {
    Queue,
    MessageGroup,
}

impl DeduplicationScope {
    pub fn as_sqs_str(self) -> &'static str {
        match self {
            DeduplicationScope::Queue => "queue",
            DeduplicationScope::MessageGroup => "messageGroup",
        }
    }
    fn from_sqs_str(s: &str) -> Option<Self> {
        match s {
            "queue" => Some(DeduplicationScope::Queue),
            "messageGroup" => Some(DeduplicationScope::MessageGroup),
            _ => None,
        }
    }
}

/// `FifoThroughputLimit` of a FIFO queue (`perQueue` | `perMessageGroupId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FifoThroughputLimit {
    PerQueue,
    PerMessageGroupId,
}

impl FifoThroughputLimit {
    pub fn as_sqs_str(self) -> &'static str {
        match self {
            FifoThroughputLimit::PerQueue => "perQueue",
            FifoThroughputLimit::PerMessageGroupId => "perMessageGroupId",
        }
    }
    fn from_sqs_str(s: &str) -> Option<Self> {
        match s {
            "perQueue" => Some(FifoThroughputLimit::PerQueue),
            "perMessageGroupId" => Some(FifoThroughputLimit::PerMessageGroupId),
            _ => None,
        }
    }
}

/// The settable attributes of a queue.
///
/// Invariants kept by every constructor in this module: on a FIFO queue `dedup_scope` and
/// `fifo_throughput_limit` are `Some` (SQS reports them on every FIFO queue), on a standard
/// queue they are `None` and `content_based_dedup` is false; a KMS key implies a reuse
/// period and `sqs_managed_sse_enabled == false` (one SSE type at a time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueAttributes {
    /// 0..=43_200, default 30.
    pub visibility_timeout_s: u32,
    /// 60..=1_209_600, default 345_600.
    pub message_retention_s: u32,
    /// 1_024..=1_048_576, default 1_048_576.
    pub maximum_message_size: u32,
    /// 0..=900, default 0.
    pub delay_s: u32,
    /// 0..=20, default 0.
    pub receive_wait_time_s: u32,
    pub redrive_policy: Option<RedrivePolicy>,
    pub redrive_allow_policy: Option<RedrivePermission>,
    pub fifo: bool,
    /// FIFO only.
    pub content_based_dedup: bool,
    /// FIFO only.
    pub dedup_scope: Option<DeduplicationScope>,
    /// FIFO only.
    pub fifo_throughput_limit: Option<FifoThroughputLimit>,
    /// Stored verbatim (a valid JSON object).
    pub policy: Option<String>,
    pub kms_master_key_id: Option<String>,
    /// 60..=86_400.
    pub kms_data_key_reuse_period_s: Option<u32>,
    /// Default true.
    pub sqs_managed_sse_enabled: bool,
}

impl Default for QueueAttributes {
    /// SQS defaults of a standard queue.
    fn default() -> Self {
        QueueAttributes {
            visibility_timeout_s: DEFAULT_VISIBILITY_TIMEOUT_S,
            message_retention_s: DEFAULT_MESSAGE_RETENTION_S,
            maximum_message_size: DEFAULT_MAXIMUM_MESSAGE_SIZE,
            delay_s: DEFAULT_DELAY_S,
            receive_wait_time_s: DEFAULT_RECEIVE_WAIT_TIME_S,
            redrive_policy: None,
            redrive_allow_policy: None,
            fifo: false,
            content_based_dedup: false,
            dedup_scope: None,
            fifo_throughput_limit: None,
            policy: None,
            kms_master_key_id: None,
            kms_data_key_reuse_period_s: None,
            sqs_managed_sse_enabled: true,
        }
    }
}

/// The settable attributes, by SQS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attr {
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
    const ALL: [Attr; 15] = [
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

    fn name(self) -> &'static str {
        match self {
            Attr::VisibilityTimeout => "VisibilityTimeout",
            Attr::MessageRetentionPeriod => "MessageRetentionPeriod",
            Attr::MaximumMessageSize => "MaximumMessageSize",
            Attr::DelaySeconds => "DelaySeconds",
            Attr::ReceiveMessageWaitTimeSeconds => "ReceiveMessageWaitTimeSeconds",
            Attr::RedrivePolicy => REDRIVE_POLICY,
            Attr::RedriveAllowPolicy => REDRIVE_ALLOW_POLICY,
            Attr::FifoQueue => "FifoQueue",
            Attr::ContentBasedDeduplication => "ContentBasedDeduplication",
            Attr::DeduplicationScope => "DeduplicationScope",
            Attr::FifoThroughputLimit => "FifoThroughputLimit",
            Attr::Policy => "Policy",
            Attr::KmsMasterKeyId => "KmsMasterKeyId",
            Attr::KmsDataKeyReusePeriodSeconds => "KmsDataKeyReusePeriodSeconds",
            Attr::SqsManagedSseEnabled => "SqsManagedSseEnabled",
        }
    }

    /// Case-sensitive, as in SQS.
    fn from_name(name: &str) -> Option<Attr> {
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
    fn classify(name: &str, fifo: bool) -> Result<Attr, AttrError> {
        match Attr::from_name(name) {
            Some(a) if fifo || !a.fifo_only() => Ok(a),
            _ => Err(AttrError::InvalidAttributeName(name.to_string())),
        }
    }

    /// Whether `a` and `b` agree on this attribute (for idempotent CreateQueue).
    fn same(self, a: &QueueAttributes, b: &QueueAttributes) -> bool {
        match self {
            Attr::VisibilityTimeout => a.visibility_timeout_s == b.visibility_timeout_s,
            Attr::MessageRetentionPeriod => a.message_retention_s == b.message_retention_s,
            Attr::MaximumMessageSize => a.maximum_message_size == b.maximum_message_size,
            Attr::DelaySeconds => a.delay_s == b.delay_s,
            Attr::ReceiveMessageWaitTimeSeconds => a.receive_wait_time_s == b.receive_wait_time_s,
            Attr::RedrivePolicy => a.redrive_policy == b.redrive_policy,
            Attr::RedriveAllowPolicy => a.redrive_allow_policy == b.redrive_allow_policy,
            Attr::FifoQueue => a.fifo == b.fifo,
            Attr::ContentBasedDeduplication => a.content_based_dedup == b.content_based_dedup,
            Attr::DeduplicationScope => a.effective_dedup_scope() == b.effective_dedup_scope(),
            Attr::FifoThroughputLimit => {
                a.effective_fifo_throughput_limit() == b.effective_fifo_throughput_limit()
            }
            // A retried CreateQueue may re-serialise the same policy differently
            // (whitespace, key order), so compare JSON values, not text.
            Attr::Policy => match (&a.policy, &b.policy) {
                (Some(x), Some(y)) => json_equal(x, y),
                (x, y) => x == y,
            },
            Attr::KmsMasterKeyId => a.kms_master_key_id == b.kms_master_key_id,
            Attr::KmsDataKeyReusePeriodSeconds => {
                a.kms_data_key_reuse_period_s == b.kms_data_key_reuse_period_s
            }
            Attr::SqsManagedSseEnabled => a.sqs_managed_sse_enabled == b.sqs_managed_sse_enabled,
        }
    }
}

fn json_equal(x: &str, y: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(x),
        serde_json::from_str::<serde_json::Value>(y),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => x == y,
    }
}

/// Digits only: no sign, no whitespace, no exponent (SQS rejects "+5" and " 5").
/// `None` for anything else, including values too large for u64.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All ASCII digits, so the only possible failure is overflow.
    s.parse::<u64>().ok()
}

fn parse_ranged(name: &str, value: &str, range: &RangeInclusive<u32>) -> Result<u32, AttrError> {
    let reason = || {
        format!(
            "Value {} must be an integer from {} to {}.",
            echo(value),
            range.start(),
            range.end()
        )
    };
    let n = parse_digits(value).ok_or_else(|| invalid_value(name, reason()))?;
    u32::try_from(n)
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| invalid_value(name, reason()))
}

/// "true"/"false", ASCII case-insensitive (SQS and the SDKs accept "True" from loosely
/// typed callers; anything else is rejected).
fn parse_bool(name: &str, value: &str) -> Result<bool, AttrError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid_value(
            name,
            format!("Value {} must be true or false.", echo(value)),
        ))
    }
}

fn bool_str(b: bool) -> String {
    let s = if b { "true" } else { "false" };
    s.to_string()
}

fn parse_json_object(
    name: &str,
    json: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, AttrError> {
    // serde_json bounds nesting depth (128), so hostile input cannot overflow the stack.
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid_value(name, "The value must be a JSON object.")),
        Err(e) => Err(invalid_value(name, format!("Invalid JSON: {e}."))),
    }
}

/// Which request this map came from; they differ only in how `FifoQueue` is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Set,
}

impl QueueAttributes {
    /// SQS defaults for a new queue of the given type.
    pub fn default_for(fifo: bool) -> QueueAttributes {
        let mut attrs = QueueAttributes::default();
        if fifo {
            attrs.fifo = true;
            attrs.dedup_scope = Some(DeduplicationScope::Queue);
            attrs.fifo_throughput_limit = Some(FifoThroughputLimit::PerQueue);
        }
        attrs
    }

    /// `DeduplicationScope` in force (`queue` unless set).
    pub fn effective_dedup_scope(&self) -> DeduplicationScope {
        self.dedup_scope.unwrap_or(DeduplicationScope::Queue)
    }

    /// `FifoThroughputLimit` in force (`perQueue` unless set).
    pub fn effective_fifo_throughput_limit(&self) -> FifoThroughputLimit {
        self.fifo_throughput_limit
            .unwrap_or(FifoThroughputLimit::PerQueue)
    }

    /// Build the attributes of a new queue from CreateQueue's attribute map (SQS names,
    /// string values). `name` decides/validates FifoQueue: FifoQueue=true requires a .fifo
    /// name, a .fifo name requires FifoQueue=true (as SQS). FIFO-only attributes (including
    /// FifoQueue=false) on a standard queue, unknown names and read-only names are
    /// InvalidAttributeName; bad values are InvalidAttributeValue naming the attribute.
    pub fn for_create(
        name: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<QueueAttributes, AttrError> {
        // FifoQueue is needed first: it decides which name rule applies and which
        // attribute names exist.
        let fifo = match map.get("FifoQueue") {
            Some(v) => parse_bool("FifoQueue", v)?,
            None => false,
        };
        validate_queue_name(name, fifo)?;
        let mut attrs = QueueAttributes::default_for(fifo);
        attrs.apply_entries(map, Mode::Create)?;
        Ok(attrs)
    }

    /// SetQueueAttributes: apply changes to a copy. FifoQueue cannot be changed
    /// (InvalidAttributeValue if it differs / InvalidAttributeName on a standard queue);
    /// an empty string for RedrivePolicy / RedriveAllowPolicy / Policy / KmsMasterKeyId
    /// removes it. All-or-nothing: on error nothing is changed (self is borrowed immutably).
    pub fn apply_set(&self, map: &BTreeMap<String, String>) -> Result<QueueAttributes, AttrError> {
        let mut attrs = self.clone();
        attrs.apply_entries(map, Mode::Set)?;
        Ok(attrs)
    }

    /// The settable attributes as SQS reports them: unset optionals omitted, the FIFO
    /// attributes only on FIFO queues, JSON policies compact, booleans "true"/"false".
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(k.to_string(), v);
        };
        put("VisibilityTimeout", self.visibility_timeout_s.to_string());
        put(
            "MessageRetentionPeriod",
            self.message_retention_s.to_string(),
        );
        put("MaximumMessageSize", self.maximum_message_size.to_string());
        put("DelaySeconds", self.delay_s.to_string());
        put(
            "ReceiveMessageWaitTimeSeconds",
            self.receive_wait_time_s.to_string(),
        );
        put(
            "SqsManagedSseEnabled",
            bool_str(self.sqs_managed_sse_enabled),
        );
        if let Some(p) = &self.redrive_policy {
            put(REDRIVE_POLICY, p.to_json());
        }
        if let Some(p) = &self.redrive_allow_policy {
            put(REDRIVE_ALLOW_POLICY, p.to_json());
        }
        if let Some(p) = &self.policy {
            put("Policy", p.clone());
        }
        if let Some(k) = &self.kms_master_key_id {
            put("KmsMasterKeyId", k.clone());
        }
        if let Some(s) = self.kms_data_key_reuse_period_s {
            put("KmsDataKeyReusePeriodSeconds", s.to_string());
        }
        if self.fifo {
            put("FifoQueue", bool_str(true));
            put(
                "ContentBasedDeduplication",
                bool_str(self.content_based_dedup),
            );
            put(
                "DeduplicationScope",
                self.effective_dedup_scope().as_sqs_str().to_string(),
            );
            put(
                "FifoThroughputLimit",
                self.effective_fifo_throughput_limit()
                    .as_sqs_str()
                    .to_string(),
            );
        }
        m
    }

    /// For idempotent CreateQueue: Ok if `requested_map` (parsed as a CreateQueue of
    /// `queue_name`) equals self in every attribute the request named; otherwise
    /// `DifferentAttributes` naming the first differing attribute (map order). A request
    /// that is itself invalid gets the error CreateQueue would give.
    pub fn check_same(
        &self,
        requested_map: &BTreeMap<String, String>,
        queue_name: &str,
    ) -> Result<(), AttrError> {
        let requested = QueueAttributes::for_create(queue_name, requested_map)?;
        for key in requested_map.keys() {
            // for_create accepted every key, so each one resolves.
            if let Some(attr) = Attr::from_name(key) {
                if !attr.same(self, &requested) {
                    return Err(AttrError::DifferentAttributes {
                        name: attr.name().to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Applies a Create/Set map to `self`. May leave `self` half-updated on error; callers
    /// work on a copy.
    fn apply_entries(
        &mut self,
        map: &BTreeMap<String, String>,
        mode: Mode,
    ) -> Result<(), AttrError> {
        // Names first, values second: SQS reports InvalidAttributeName before
        // InvalidAttributeValue.
        let mut entries = Vec::with_capacity(map.len());
        for (k, v) in map {
            entries.push((Attr::classify(k, self.fifo)?, v.as_str()));
        }
        for &(attr, value) in &entries {
            self.assign(attr, value, mode)?;
        }
        let named = |a: Attr| entries.iter().any(|&(x, _)| x == a);
        self.settle(named)
    }

    fn assign(&mut self, attr: Attr, value: &str, mode: Mode) -> Result<(), AttrError> {
        let name = attr.name();
        match attr {
            Attr::VisibilityTimeout => {
                self.visibility_timeout_s = parse_ranged(name, value, &VISIBILITY_TIMEOUT_RANGE)?
            }
            Attr::MessageRetentionPeriod => {
                self.message_retention_s = parse_ranged(name, value, &MESSAGE_RETENTION_RANGE)?
            }
            Attr::MaximumMessageSize => {
                self.maximum_message_size = parse_ranged(name, value, &MAXIMUM_MESSAGE_SIZE_RANGE)?
            }
            Attr::DelaySeconds => self.delay_s = parse_ranged(name, value, &DELAY_RANGE)?,
            Attr::ReceiveMessageWaitTimeSeconds => {
                self.receive_wait_time_s = parse_ranged(name, value, &RECEIVE_WAIT_TIME_RANGE)?
            }
            Attr::RedrivePolicy => {
                self.redrive_policy = if value.is_empty() {
                    None
                } else {
                    Some(RedrivePolicy::parse(value, self.fifo)?)
                }
            }
            Attr::RedriveAllowPolicy => {
                self.redrive_allow_policy = if value.is_empty() {
                    None
                } else {
                    Some(RedrivePermission::parse(value)?)
                }
            }
            Attr::FifoQueue => {
                // Create: already parsed by for_create (it chose the queue type).
                // Set: the type is fixed at creation; restating it is harmless.
                if mode == Mode::Set && parse_bool(name, value)? != self.fifo {
                    return Err(invalid_value(
                        name,
                        "FifoQueue cannot be changed after the queue is created.",
                    ));
                }
            }
            Attr::ContentBasedDeduplication => self.content_based_dedup = parse_bool(name, value)?,
            Attr::DeduplicationScope => {
                let scope = DeduplicationScope::from_sqs_str(value).ok_or_else(|| {
                    invalid_value(
                        name,
                        format!("Value {} must be queue or messageGroup.", echo(value)),
                    )
                })?;
                self.dedup_scope = Some(scope);
            }
            Attr::FifoThroughputLimit => {
                let limit = FifoThroughputLimit::from_sqs_str(value).ok_or_else(|| {
                    invalid_value(
                        name,
                        format!(
                            "Value {} must be perQueue or perMessageGroupId.",
                            echo(value)
                        ),
                    )
                })?;
                self.fifo_throughput_limit = Some(limit);
            }
            Attr::Policy => {
                self.policy = if value.is_empty() {
                    None
                } else {
                    parse_json_object(name, value)?;
                    Some(value.to_string())
                }
            }
            Attr::KmsMasterKeyId => {
                self.kms_master_key_id = if value.is_empty() {
                    None
                } else if value.len() > MAX_KMS_KEY_ID_LEN || value.chars().any(char::is_control) {
                    return Err(invalid_value(
                        name,
                        format!(
                            "A KMS key id must be at most {MAX_KMS_KEY_ID_LEN} bytes without control characters."
                        ),
                    ));
                } else {
                    Some(value.to_string())
                }
            }
            Attr::KmsDataKeyReusePeriodSeconds => {
                self.kms_data_key_reuse_period_s =
                    Some(parse_ranged(name, value, &KMS_DATA_KEY_REUSE_RANGE)?)
            }
            Attr::SqsManagedSseEnabled => self.sqs_managed_sse_enabled = parse_bool(name, value)?,
        }
        Ok(())
    }

    /// Cross-attribute rules, checked on the final state of a Create/Set.
    fn settle(&mut self, named: impl Fn(Attr) -> bool) -> Result<(), AttrError> {
        // Removing the KMS key removes its reuse period, unless the request set one too.
        if self.kms_master_key_id.is_none()
            && named(Attr::KmsMasterKeyId)
            && !named(Attr::KmsDataKeyReusePeriodSeconds)
        {
            self.kms_data_key_reuse_period_s = None;
        }
        if self.kms_master_key_id.is_some() {
            if self.kms_data_key_reuse_period_s.is_none() {
                self.kms_data_key_reuse_period_s = Some(DEFAULT_KMS_DATA_KEY_REUSE_PERIOD_S);
            }
            // One SSE type at a time: choosing KMS turns SQS-managed SSE off, but asking
            // for both explicitly is a conflict.
            if self.sqs_managed_sse_enabled {
                if named(Attr::SqsManagedSseEnabled) {
                    return Err(invalid_value(
                        "SqsManagedSseEnabled",
                        "You can use one type of server-side encryption (SSE) at one time: either KMS SSE (KmsMasterKeyId) or SQS SSE (SqsManagedSseEnabled).",
                    ));
                }
                self.sqs_managed_sse_enabled = false;
            }
        }
        if self.fifo_throughput_limit == Some(FifoThroughputLimit::PerMessageGroupId)
            && self.dedup_scope != Some(DeduplicationScope::MessageGroup)
        {
            // Blame the attribute the request changed.
            let name = if named(Attr::FifoThroughputLimit) || !named(Attr::DeduplicationScope) {
                "FifoThroughputLimit"
            } else {
                "DeduplicationScope"
            };
            return Err(invalid_value(
                name,
                "FifoThroughputLimit perMessageGroupId is allowed only when DeduplicationScope is messageGroup.",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DLQ: &str = "arn:aws:sqs:us-east-1:000000000000:dlq";
    const DLQ_FIFO: &str = "arn:aws:sqs:us-east-1:000000000000:dlq.fifo";

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn create(name: &str, pairs: &[(&str, &str)]) -> Result<QueueAttributes, AttrError> {
        QueueAttributes::for_create(name, &map(pairs))
    }

    fn is_value_err(r: &Result<QueueAttributes, AttrError>, attr: &str) -> bool {
        matches!(r, Err(AttrError::InvalidAttributeValue { name, .. }) if name == attr)
    }

    fn name_err(attr: &str) -> AttrError {
        AttrError::InvalidAttributeName(attr.to_string())
    }

    #[test]
    fn defaults_match_sqs() {
        let d = QueueAttributes::default();
        assert_eq!(d.visibility_timeout_s, 30);
        assert_eq!(d.message_retention_s, 345_600);
        assert_eq!(d.maximum_message_size, 1_048_576);
        assert_eq!(d.delay_s, 0);
        assert_eq!(d.receive_wait_time_s, 0);
        assert!(d.sqs_managed_sse_enabled);
        assert!(!d.fifo && !d.content_based_dedup);
        assert_eq!(d.redrive_policy, None);
        assert_eq!(d.policy, None);
        assert_eq!(create("q", &[]), Ok(d.clone()));

        // A fresh standard queue reports exactly these settable attributes (AWS, 2025-08).
        let m = d.to_map();
        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "DelaySeconds",
                "MaximumMessageSize",
                "MessageRetentionPeriod",
                "ReceiveMessageWaitTimeSeconds",
                "SqsManagedSseEnabled",
                "VisibilityTimeout"
            ]
        );
        assert_eq!(m["SqsManagedSseEnabled"], "true");
        assert_eq!(m["VisibilityTimeout"], "30");

        let f = create("q.fifo", &[("FifoQueue", "true")]).unwrap();
        assert_eq!(f, QueueAttributes::default_for(true));
        let fm = f.to_map();
        assert_eq!(fm["FifoQueue"], "true");
        assert_eq!(fm["ContentBasedDeduplication"], "false");
        assert_eq!(fm["DeduplicationScope"], "queue");
        assert_eq!(fm["FifoThroughputLimit"], "perQueue");
    }

    #[test]
    fn queue_names() {
        assert!(validate_queue_name("a", false).is_ok());
        assert!(validate_queue_name("A-z_09", false).is_ok());
        assert!(validate_queue_name(&"a".repeat(80), false).is_ok());
        assert!(validate_queue_name(&"a".repeat(81), false).is_err());
        assert!(validate_queue_name("", false).is_err());
        assert!(validate_queue_name("a b", false).is_err());
        assert!(validate_queue_name("a.b", false).is_err());
        assert!(validate_queue_name("é", false).is_err());
        assert!(validate_queue_name("q.fifo", false).is_err());
        assert!(validate_queue_name("q.fifo", true).is_ok());
        assert!(validate_queue_name("q", true).is_err());
        assert!(validate_queue_name(".fifo", true).is_err());
        assert!(validate_queue_name("q.fifo.fifo", true).is_err());
        assert!(validate_queue_name(&format!("{}.fifo", "a".repeat(75)), true).is_ok());
        assert!(validate_queue_name(&format!("{}.fifo", "a".repeat(76)), true).is_err());
        assert!(matches!(
            validate_queue_name("bad name", false),
            Err(AttrError::InvalidQueueName(_))
        ));
        assert_eq!(
            validate_queue_name("x", true).unwrap_err().sqs_code(),
            "InvalidParameterValue"
        );
    }

    #[test]
    fn numeric_range_boundaries() {
        let cases: [(&str, u32, u32); 6] = [
            ("VisibilityTimeout", 0, 43_200),
            ("MessageRetentionPeriod", 60, 1_209_600),
            ("MaximumMessageSize", 1_024, 1_048_576),
            ("DelaySeconds", 0, 900),
            ("ReceiveMessageWaitTimeSeconds", 0, 20),
            ("KmsDataKeyReusePeriodSeconds", 60, 86_400),
        ];
        for (attr, min, max) in cases {
            for ok in [min, max] {
                let a = create("q", &[(attr, &ok.to_string())])
                    .unwrap_or_else(|e| panic!("{attr}={ok}: {e}"));
                assert_eq!(a.to_map()[attr], ok.to_string(), "{attr}");
            }
            let mut bad: Vec<String> = vec![
                (u64::from(max) + 1).to_string(),
                "abc".into(),
                "-1".into(),
                format!("+{min}"),
                format!(" {min}"),
                format!("{min} "),
                format!("{min}.0"),
                "1e3".into(),
                String::new(),
                "99999999999999999999999999".into(),
            ];
            if min > 0 {
                bad.push((min - 1).to_string());
            }
            for v in &bad {
                let r = create("q", &[(attr, v)]);
                assert!(is_value_err(&r, attr), "{attr}={v:?} gave {r:?}");
                let r = QueueAttributes::default().apply_set(&map(&[(attr, v)]));
                assert!(is_value_err(&r, attr), "set {attr}={v:?} gave {r:?}");
            }
        }
        // Leading zeros are still a plain decimal integer.
        assert_eq!(create("q", &[("DelaySeconds", "007")]).unwrap().delay_s, 7);
    }

    #[test]
    fn value_error_message_names_attribute() {
        let e = create("q", &[("VisibilityTimeout", "43201")]).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("Invalid value for the parameter VisibilityTimeout. Reason: "));
        assert!(text.contains("43201"));
        assert_eq!(e.sqs_code(), "InvalidAttributeValue");
        // Echoed values are bounded.
        let long = "x".repeat(10_000);
        let e = create("q", &[("DelaySeconds", &long)]).unwrap_err();
        assert!(e.to_string().len() < 300);
    }

    #[test]
    fn unknown_and_read_only_names() {
        for n in READ_ONLY_ATTRIBUTE_NAMES
            .iter()
            .chain(&["All", "Bogus", "visibilitytimeout"])
        {
            assert_eq!(create("q", &[(n, "1")]), Err(name_err(n)), "{n}");
            assert_eq!(
                QueueAttributes::default().apply_set(&map(&[(n, "1")])),
                Err(name_err(n))
            );
        }
        assert_eq!(
            name_err("FifoQueue").to_string(),
            "Unknown Attribute FifoQueue."
        );
        // Name errors win over value errors regardless of map order.
        assert_eq!(
            create("q", &[("AAA", "1"), ("DelaySeconds", "x")]),
            Err(name_err("AAA"))
        );
        assert_eq!(
            create("q", &[("DelaySeconds", "x"), ("ZZZ", "1")]),
            Err(name_err("ZZZ"))
        );
    }

    #[test]
    fn all_attribute_names_cover_everything() {
        assert!(ALL_ATTRIBUTE_NAMES.contains(&"All"));
        for a in Attr::ALL {
            assert!(ALL_ATTRIBUTE_NAMES.contains(&a.name()), "{}", a.name());
        }
        for r in READ_ONLY_ATTRIBUTE_NAMES {
            assert!(ALL_ATTRIBUTE_NAMES.contains(r));
        }
        assert_eq!(
            ALL_ATTRIBUTE_NAMES.len(),
            1 + Attr::ALL.len() + READ_ONLY_ATTRIBUTE_NAMES.len()
        );
    }

    #[test]
    fn fifo_rules() {
        // FifoQueue=true needs a .fifo name, a .fifo name needs FifoQueue=true.
        assert!(matches!(
            create("q", &[("FifoQueue", "true")]),
            Err(AttrError::InvalidQueueName(_))
        ));
        assert!(matches!(
            create("q.fifo", &[]),
            Err(AttrError::InvalidQueueName(_))
        ));
        assert!(matches!(
            create("q.fifo", &[("FifoQueue", "false")]),
            Err(AttrError::InvalidQueueName(_))
        ));
        assert!(is_value_err(
            &create("q.fifo", &[("FifoQueue", "yes")]),
            "FifoQueue"
        ));
        assert!(create("q.fifo", &[("FifoQueue", "TRUE")]).unwrap().fifo);
        // FIFO-only attributes (even FifoQueue=false) are unknown on standard queues.
        for (attr, v) in [
            ("FifoQueue", "false"),
            ("ContentBasedDeduplication", "false"),
            ("DeduplicationScope", "queue"),
            ("FifoThroughputLimit", "perQueue"),
        ] {
            assert_eq!(create("q", &[(attr, v)]), Err(name_err(attr)));
            assert_eq!(
                QueueAttributes::default().apply_set(&map(&[(attr, v)])),
                Err(name_err(attr))
            );
        }
        let hi = create(
            "q.fifo",
            &[
                ("FifoQueue", "true"),
                ("ContentBasedDeduplication", "true"),
                ("DeduplicationScope", "messageGroup"),
                ("FifoThroughputLimit", "perMessageGroupId"),
            ],
        )
        .unwrap();
        assert!(hi.content_based_dedup);
        assert_eq!(hi.dedup_scope, Some(DeduplicationScope::MessageGroup));
        assert_eq!(
            hi.fifo_throughput_limit,
            Some(FifoThroughputLimit::PerMessageGroupId)
        );
        // perMessageGroupId requires messageGroup scope.
        let r = create(
            "q.fifo",
            &[
                ("FifoQueue", "true"),
                ("FifoThroughputLimit", "perMessageGroupId"),
            ],
        );
        assert!(is_value_err(&r, "FifoThroughputLimit"), "{r:?}");
        let r = hi.apply_set(&map(&[("DeduplicationScope", "queue")]));
        assert!(is_value_err(&r, "DeduplicationScope"), "{r:?}");
        assert!(hi
            .apply_set(&map(&[
                ("DeduplicationScope", "queue"),
                ("FifoThroughputLimit", "perQueue")
            ]))
            .is_ok());
        for (attr, v) in [
            ("DeduplicationScope", "MessageGroup"),
            ("DeduplicationScope", ""),
            ("FifoThroughputLimit", "perqueue"),
            ("ContentBasedDeduplication", "1"),
        ] {
            let r = create("q.fifo", &[("FifoQueue", "true"), (attr, v)]);
            assert!(is_value_err(&r, attr), "{attr}={v:?}: {r:?}");
        }
        // FifoQueue cannot change on SetQueueAttributes; restating it is fine.
        assert!(is_value_err(
            &hi.apply_set(&map(&[("FifoQueue", "false")])),
            "FifoQueue"
        ));
        assert_eq!(hi.apply_set(&map(&[("FifoQueue", "true")])), Ok(hi.clone()));
    }

    #[test]
    fn redrive_policy_parse_and_render() {
        let json = format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":5}}"#);
        let p = RedrivePolicy::parse(&json, false).unwrap();
        assert_eq!(
            p,
            RedrivePolicy {
                dead_letter_target_arn: DLQ.into(),
                max_receive_count: 5
            }
        );
        assert_eq!(p.to_json(), json);
        assert_eq!(RedrivePolicy::parse(&p.to_json(), false), Ok(p.clone()));
        // maxReceiveCount as a string is accepted and rendered as a number.
        let as_string = format!(r#"{{ "maxReceiveCount": "5", "deadLetterTargetArn": "{DLQ}" }}"#);
        let a = create("q", &[("RedrivePolicy", &as_string)]).unwrap();
        assert_eq!(a.redrive_policy, Some(p.clone()));
        assert_eq!(a.to_map()["RedrivePolicy"], json);

        let bad = [
            "".to_string(),
            "not json".into(),
            "[]".into(),
            format!(r#"{{"deadLetterTargetArn":"{DLQ}"}}"#),
            r#"{"maxReceiveCount":5}"#.into(),
            format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":0}}"#),
            format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":1001}}"#),
            format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":-1}}"#),
            format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":5.5}}"#),
            format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":"+5"}}"#),
            format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":true}}"#),
            format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":5,"x":1}}"#),
            r#"{"deadLetterTargetArn":5,"maxReceiveCount":5}"#.into(),
            r#"{"deadLetterTargetArn":"dlq","maxReceiveCount":5}"#.into(),
            r#"{"deadLetterTargetArn":"arn:aws:sns:us-east-1:000000000000:dlq","maxReceiveCount":5}"#.into(),
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:bad name","maxReceiveCount":5}"#.into(),
            format!(r#"{{"deadLetterTargetArn":"{DLQ_FIFO}","maxReceiveCount":5}}"#),
        ];
        for b in &bad {
            assert!(
                matches!(
                    RedrivePolicy::parse(b, false),
                    Err(AttrError::InvalidAttributeValue { ref name, .. }) if name == "RedrivePolicy"
                ),
                "{b}"
            );
        }
        for n in [1, 1000] {
            let j = format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":{n}}}"#);
            assert_eq!(
                RedrivePolicy::parse(&j, false).unwrap().max_receive_count,
                n
            );
        }
        // FIFO <-> FIFO only.
        let fifo_json = format!(r#"{{"deadLetterTargetArn":"{DLQ_FIFO}","maxReceiveCount":3}}"#);
        assert!(RedrivePolicy::parse(&fifo_json, true).is_ok());
        assert!(RedrivePolicy::parse(&json, true).is_err());
        assert!(create(
            "q.fifo",
            &[("FifoQueue", "true"), ("RedrivePolicy", &fifo_json)]
        )
        .is_ok());
        assert!(is_value_err(
            &create("q.fifo", &[("FifoQueue", "true"), ("RedrivePolicy", &json)]),
            "RedrivePolicy"
        ));
        // Empty string removes on Set, means "none" on Create.
        assert_eq!(
            create("q", &[("RedrivePolicy", "")])
                .unwrap()
                .redrive_policy,
            None
        );
        let removed = a.apply_set(&map(&[("RedrivePolicy", "")])).unwrap();
        assert_eq!(removed.redrive_policy, None);
        assert!(!removed.to_map().contains_key("RedrivePolicy"));
    }

    #[test]
    fn arns() {
        assert_eq!(queue_name_from_arn(DLQ), Some("dlq"));
        assert_eq!(queue_name_from_arn(DLQ_FIFO), Some("dlq.fifo"));
        assert_eq!(
            queue_name_from_arn("arn:aws-cn:sqs:cn-north-1:123456789012:q"),
            Some("q")
        );
        for bad in [
            "",
            "arn:aws:sqs:us-east-1:000000000000:",
            "arn:aws:sqs:us-east-1:000000000000",
            "arn:aws:sqs::000000000000:q",
            "arn:aws:sqs:us-east-1::q",
            "arn:aws:sqs:us-east-1:0000000000001:q",
            "arn:aws:sqs:us-east-1:abc:q",
            "arn:aws:sqs:US-EAST-1:000000000000:q",
            "arn:aws:sns:us-east-1:000000000000:q",
            "arn:gcp:sqs:us-east-1:000000000000:q",
            "urn:aws:sqs:us-east-1:000000000000:q",
            "arn:aws:sqs:us-east-1:000000000000:q:extra",
            "arn:aws:sqs:us-east-1:000000000000:.fifo",
        ] {
            assert_eq!(queue_name_from_arn(bad), None, "{bad}");
        }
        let arn = SqsArn::parse(DLQ_FIFO).unwrap();
        assert!(arn.is_fifo());
        assert_eq!(
            (arn.partition, arn.region, arn.account),
            ("aws", "us-east-1", "000000000000")
        );
    }

    #[test]
    fn redrive_allow_policy() {
        for (json, want) in [
            (
                r#"{"redrivePermission":"allowAll"}"#,
                RedrivePermission::AllowAll,
            ),
            (
                r#"{"redrivePermission":"denyAll"}"#,
                RedrivePermission::DenyAll,
            ),
            (
                r#"{"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:us-east-1:000000000000:src"]}"#,
                RedrivePermission::ByQueue(vec!["arn:aws:sqs:us-east-1:000000000000:src".into()]),
            ),
        ] {
            let p = RedrivePermission::parse(json).unwrap();
            assert_eq!(p, want);
            assert_eq!(p.to_json(), json);
            let a = create("q", &[("RedriveAllowPolicy", json)]).unwrap();
            assert_eq!(a.to_map()["RedriveAllowPolicy"], json);
        }
        let ten: Vec<String> = (0..10)
            .map(|i| format!("\"arn:aws:sqs:us-east-1:000000000000:s{i}\""))
            .collect();
        let eleven = format!(
            "{},\"arn:aws:sqs:us-east-1:000000000000:s10\"",
            ten.join(",")
        );
        let ten = ten.join(",");
        assert!(RedrivePermission::parse(&format!(
            r#"{{"redrivePermission":"byQueue","sourceQueueArns":[{ten}]}}"#
        ))
        .is_ok());
        for bad in [
            format!(r#"{{"redrivePermission":"byQueue","sourceQueueArns":[{eleven}]}}"#),
            r#"{"redrivePermission":"byQueue"}"#.into(),
            r#"{"redrivePermission":"byQueue","sourceQueueArns":[]}"#.into(),
            r#"{"redrivePermission":"byQueue","sourceQueueArns":["nope"]}"#.into(),
            r#"{"redrivePermission":"byQueue","sourceQueueArns":[1]}"#.into(),
            r#"{"redrivePermission":"byQueue","sourceQueueArns":"x"}"#.into(),
            r#"{"redrivePermission":"allowAll","sourceQueueArns":["arn:aws:sqs:us-east-1:000000000000:s"]}"#.into(),
            r#"{"redrivePermission":"AllowAll"}"#.into(),
            r#"{"redrivePermission":"allowAll","extra":1}"#.into(),
            r#"{}"#.into(),
            "allowAll".into(),
        ] {
            assert!(
                is_value_err(&create("q", &[("RedriveAllowPolicy", &bad)]), "RedriveAllowPolicy"),
                "{bad}"
            );
        }
        let p = RedrivePermission::ByQueue(vec![DLQ.into()]);
        assert!(p.allows(DLQ) && !p.allows(DLQ_FIFO));
        assert!(RedrivePermission::AllowAll.allows(DLQ));
        assert!(!RedrivePermission::DenyAll.allows(DLQ));
    }

    #[test]
    fn policy_and_kms() {
        let policy = r#"{ "Version": "2012-10-17", "Statement": [] }"#;
        let a = create("q", &[("Policy", policy)]).unwrap();
        assert_eq!(a.policy.as_deref(), Some(policy)); // verbatim
        assert_eq!(a.to_map()["Policy"], policy);
        for bad in ["{", "[1]", "\"s\"", "null"] {
            assert!(is_value_err(&create("q", &[("Policy", bad)]), "Policy"));
        }
        assert_eq!(a.apply_set(&map(&[("Policy", "")])).unwrap().policy, None);

        // KMS key: SQS-managed SSE off, reuse period defaults to 300.
        let k = create("q", &[("KmsMasterKeyId", "alias/aws/sqs")]).unwrap();
        assert!(!k.sqs_managed_sse_enabled);
        assert_eq!(k.kms_data_key_reuse_period_s, Some(300));
        let m = k.to_map();
        assert_eq!(m["SqsManagedSseEnabled"], "false");
        assert_eq!(m["KmsDataKeyReusePeriodSeconds"], "300");
        // Both SSE types at once is a conflict.
        assert!(is_value_err(
            &create(
                "q",
                &[("KmsMasterKeyId", "k"), ("SqsManagedSseEnabled", "true")]
            ),
            "SqsManagedSseEnabled"
        ));
        assert!(is_value_err(
            &k.apply_set(&map(&[("SqsManagedSseEnabled", "true")])),
            "SqsManagedSseEnabled"
        ));
        // Switching back to SQS SSE in one request.
        let back = k
            .apply_set(&map(&[
                ("KmsMasterKeyId", ""),
                ("SqsManagedSseEnabled", "true"),
            ]))
            .unwrap();
        assert_eq!(back.kms_master_key_id, None);
        assert_eq!(back.kms_data_key_reuse_period_s, None);
        assert!(back.sqs_managed_sse_enabled);
        // Setting a key on an SQS-SSE queue switches SSE type.
        let to_kms = QueueAttributes::default()
            .apply_set(&map(&[("KmsMasterKeyId", "k")]))
            .unwrap();
        assert!(!to_kms.sqs_managed_sse_enabled);
        assert!(is_value_err(
            &create("q", &[("KmsMasterKeyId", "a\u{0}b")]),
            "KmsMasterKeyId"
        ));
        assert!(is_value_err(
            &create("q", &[("SqsManagedSseEnabled", "yes")]),
            "SqsManagedSseEnabled"
        ));
    }

    #[test]
    fn set_attributes_is_all_or_nothing() {
        let base = create("q", &[("VisibilityTimeout", "10")]).unwrap();
        let snapshot = base.clone();
        // DelaySeconds (sorted first) is valid, VisibilityTimeout is not: nothing applies.
        let r = base.apply_set(&map(&[("DelaySeconds", "5"), ("VisibilityTimeout", "-1")]));
        assert!(is_value_err(&r, "VisibilityTimeout"));
        assert_eq!(base, snapshot);
        let r = base.apply_set(&map(&[("DelaySeconds", "5"), ("QueueArn", "x")]));
        assert_eq!(r, Err(name_err("QueueArn")));
        assert_eq!(base, snapshot);

        let ok = base
            .apply_set(&map(&[("DelaySeconds", "5"), ("VisibilityTimeout", "60")]))
            .unwrap();
        assert_eq!((ok.delay_s, ok.visibility_timeout_s), (5, 60));
        assert_eq!(ok.message_retention_s, base.message_retention_s);
        assert_eq!(base.apply_set(&BTreeMap::new()), Ok(base.clone()));
    }

    #[test]
    fn check_same_for_idempotent_create() {
        let existing = create("q", &[("VisibilityTimeout", "60"), ("DelaySeconds", "5")]).unwrap();
        assert_eq!(existing.check_same(&BTreeMap::new(), "q"), Ok(()));
        assert_eq!(
            existing.check_same(&map(&[("VisibilityTimeout", "60")]), "q"),
            Ok(())
        );
        // Explicitly naming a default that matches is fine.
        assert_eq!(
            existing.check_same(&map(&[("MessageRetentionPeriod", "345600")]), "q"),
            Ok(())
        );
        let e = existing
            .check_same(
                &map(&[("DelaySeconds", "6"), ("VisibilityTimeout", "61")]),
                "q",
            )
            .unwrap_err();
        assert_eq!(
            e,
            AttrError::DifferentAttributes {
                name: "DelaySeconds".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "A queue already exists with the same name and a different value for attribute DelaySeconds"
        );
        assert_eq!(e.sqs_code(), "QueueNameExists");
        // Invalid requests fail as CreateQueue would.
        assert_eq!(
            existing.check_same(&map(&[("Nope", "1")]), "q"),
            Err(name_err("Nope"))
        );
        // Semantically equal JSON is the same.
        let with_policy = create("q", &[("Policy", r#"{"a":1,"b":2}"#)]).unwrap();
        assert_eq!(
            with_policy.check_same(&map(&[("Policy", r#"{ "b":2, "a":1 }"#)]), "q"),
            Ok(())
        );
        let rp = format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":5}}"#);
        let with_dlq = create("q", &[("RedrivePolicy", &rp)]).unwrap();
        let rp_str = format!(r#"{{"deadLetterTargetArn":"{DLQ}","maxReceiveCount":"5"}}"#);
        assert_eq!(
            with_dlq.check_same(&map(&[("RedrivePolicy", &rp_str)]), "q"),
            Ok(())
        );
        assert!(with_dlq
            .check_same(&map(&[("RedrivePolicy", "")]), "q")
            .is_err());
        let fifo = create("q.fifo", &[("FifoQueue", "true")]).unwrap();
        assert_eq!(fifo.check_same(&fifo.to_map(), "q.fifo"), Ok(()));
        assert_eq!(
            fifo.check_same(
                &map(&[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")]),
                "q.fifo"
            ),
            Err(AttrError::DifferentAttributes {
                name: "ContentBasedDeduplication".into()
            })
        );
    }

    #[test]
    fn serde_round_trip() {
        let a = create(
            "q.fifo",
            &[
                ("FifoQueue", "true"),
                (
                    "RedrivePolicy",
                    &format!(r#"{{"deadLetterTargetArn":"{DLQ_FIFO}","maxReceiveCount":2}}"#),
                ),
            ],
        )
        .unwrap();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<QueueAttributes>(&json).unwrap(), a);
    }

    // ---- property tests ----

    fn arb_key() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => proptest::sample::select(ALL_ATTRIBUTE_NAMES).prop_map(str::to_string),
            1 => ".{0,20}",
        ]
    }

    fn arb_value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("true".to_string()),
            Just("false".to_string()),
            "[0-9]{1,8}",
            "[-+ ]?[0-9]{1,25}",
            Just("queue".to_string()),
            Just("messageGroup".to_string()),
            Just("perMessageGroupId".to_string()),
            (
                0u32..2000,
                prop_oneof![Just(DLQ), Just(DLQ_FIFO), Just("x")]
            )
                .prop_map(|(n, arn)| {
                    format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":{n}}}"#)
                }),
            Just(r#"{"redrivePermission":"byQueue","sourceQueueArns":[]}"#.to_string()),
            "\\PC{0,40}",
            ".{0,40}",
        ]
    }

    fn arb_name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("q".to_string()),
            Just("q.fifo".to_string()),
            "[A-Za-z0-9_.-]{0,90}",
            ".{0,10}",
        ]
    }

    fn arb_valid_attrs() -> impl Strategy<Value = QueueAttributes> {
        let numbers = (
            VISIBILITY_TIMEOUT_RANGE,
            MESSAGE_RETENTION_RANGE,
            MAXIMUM_MESSAGE_SIZE_RANGE,
            DELAY_RANGE,
            RECEIVE_WAIT_TIME_RANGE,
        );
        let fifo_part = (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>());
        let optionals = (
            proptest::option::of((MAX_RECEIVE_COUNT_RANGE, "[a-z0-9_-]{1,20}")),
            proptest::option::of(prop_oneof![
                Just(RedrivePermission::AllowAll),
                Just(RedrivePermission::DenyAll),
                proptest::collection::vec("[a-z]{1,10}", 1..=10).prop_map(|names| {
                    RedrivePermission::ByQueue(
                        names
                            .into_iter()
                            .map(|n| format!("arn:aws:sqs:eu-west-1:123456789012:{n}"))
                            .collect(),
                    )
                }),
            ]),
            proptest::option::of(Just(
                r#"{"Version":"2012-10-17","Statement":[]}"#.to_string(),
            )),
            proptest::option::of(("[a-z/0-9-]{1,30}", KMS_DATA_KEY_REUSE_RANGE)),
            any::<bool>(),
        );
        (numbers, fifo_part, optionals).prop_map(
            |(
                (vis, ret, size, delay, wait),
                (fifo, cbd, group_scope, per_group),
                (redrive, allow, policy, kms, sqs_sse),
            )| {
                let suffix = if fifo { ".fifo" } else { "" };
                let mut a = QueueAttributes::default_for(fifo);
                a.visibility_timeout_s = vis;
                a.message_retention_s = ret;
                a.maximum_message_size = size;
                a.delay_s = delay;
                a.receive_wait_time_s = wait;
                a.redrive_policy = redrive.map(|(n, dlq)| RedrivePolicy {
                    dead_letter_target_arn: format!(
                        "arn:aws:sqs:us-east-1:000000000000:{dlq}{suffix}"
                    ),
                    max_receive_count: n,
                });
                a.redrive_allow_policy = allow;
                a.policy = policy;
                if fifo {
                    a.content_based_dedup = cbd;
                    if group_scope {
                        a.dedup_scope = Some(DeduplicationScope::MessageGroup);
                        if per_group {
                            a.fifo_throughput_limit = Some(FifoThroughputLimit::PerMessageGroupId);
                        }
                    }
                }
                match kms {
                    Some((key, reuse)) => {
                        a.kms_master_key_id = Some(key);
                        a.kms_data_key_reuse_period_s = Some(reuse);
                        a.sqs_managed_sse_enabled = false;
                    }
                    None => a.sqs_managed_sse_enabled = sqs_sse,
                }
                a
            },
        )
    }

    proptest! {
        #[test]
        fn arbitrary_maps_never_panic(
            name in arb_name(),
            m in proptest::collection::btree_map(arb_key(), arb_value(), 0..6),
        ) {
            let created = QueueAttributes::for_create(&name, &m);
            if let Ok(a) = &created {
                // Whatever was accepted reports back to the same queue.
                prop_assert_eq!(QueueAttributes::for_create(&name, &a.to_map()), Ok(a.clone()));
                prop_assert_eq!(a.check_same(&m, &name), Ok(()));
            }
            for base in [QueueAttributes::default(), QueueAttributes::default_for(true)] {
                let before = base.clone();
                let _ = base.apply_set(&m);
                prop_assert_eq!(&base, &before);
                let _ = base.check_same(&m, &name);
            }
            let _ = validate_queue_name(&name, true);
            let _ = queue_name_from_arn(&name);
            for v in m.values() {
                let _ = RedrivePolicy::parse(v, false);
                let _ = RedrivePermission::parse(v);
            }
        }

        #[test]
        fn to_map_round_trips(a in arb_valid_attrs()) {
            let name = if a.fifo { "queue-1.fifo" } else { "queue-1" };
            let m = a.to_map();
            prop_assert_eq!(QueueAttributes::for_create(name, &m), Ok(a.clone()));
            prop_assert_eq!(a.check_same(&m, name), Ok(()));
            // Setting a queue's own attributes on a fresh queue of the same type rebuilds it.
            prop_assert_eq!(QueueAttributes::default_for(a.fifo).apply_set(&m), Ok(a.clone()));
            prop_assert_eq!(a.apply_set(&m), Ok(a.clone()));
        }
    }
}
