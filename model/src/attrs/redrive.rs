//! `RedrivePolicy` (where a queue's messages go after too many receives) and
//! `RedriveAllowPolicy` (which queues may send their dead letters to a queue): their JSON
//! forms, parsed strictly and rendered compactly as AWS does.
//!
//! Checking that a dead-letter queue exists, or that it is not the source queue itself,
//! needs the queue registry and is left to the caller.

use serde::{Deserialize, Serialize};

use super::error::{echo, invalid_value, AttrError, AttrValueError};
use super::names::{REDRIVE_ALLOW_POLICY, REDRIVE_POLICY};
use super::values::{parse_digits, parse_json_object};
use crate::arn::SqsArn;
use crate::limits::{MAX_RECEIVE_COUNT_RANGE, REDRIVE_SOURCE_ARNS_MAX};

const DEAD_LETTER_TARGET_ARN: &str = "deadLetterTargetArn";
const MAX_RECEIVE_COUNT: &str = "maxReceiveCount";
const REDRIVE_POLICY_KEYS: &[&str] = &[DEAD_LETTER_TARGET_ARN, MAX_RECEIVE_COUNT];
const REDRIVE_PERMISSION: &str = "redrivePermission";
const SOURCE_QUEUE_ARNS: &str = "sourceQueueArns";
const REDRIVE_ALLOW_POLICY_KEYS: &[&str] = &[REDRIVE_PERMISSION, SOURCE_QUEUE_ARNS];

/// `RedrivePolicy`: where messages go after `max_receive_count` receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedrivePolicy {
    /// The dead-letter queue's ARN (a valid queue ARN of the source queue's type).
    pub dead_letter_target_arn: String,
    /// Receives before a message moves (within [`MAX_RECEIVE_COUNT_RANGE`]).
    pub max_receive_count: u32,
}

fn redrive_error(reason: AttrValueError) -> AttrError {
    invalid_value(REDRIVE_POLICY, reason)
}

fn allow_error(reason: AttrValueError) -> AttrError {
    invalid_value(REDRIVE_ALLOW_POLICY, reason)
}

/// The first key of `obj` that is not in `allowed`, as an error.
fn unknown_key(
    obj: &serde_json::Map<String, serde_json::Value>,
    allowed: &'static [&'static str],
) -> Option<AttrValueError> {
    obj.keys()
        .find(|k| !allowed.contains(&k.as_str()))
        .map(|k| AttrValueError::UnknownKey {
            key: echo(k),
            allowed,
        })
}

impl RedrivePolicy {
    /// Parses the SQS JSON form `{"deadLetterTargetArn":"arn:...","maxReceiveCount":N}`.
    /// `maxReceiveCount` may be a JSON number or a decimal string (AWS accepts both, and
    /// SDK users send both). The target's FIFO-ness must equal `source_fifo`: SQS requires
    /// a FIFO queue's DLQ to be FIFO and a standard queue's DLQ to be standard.
    pub fn parse(json: &str, source_fifo: bool) -> Result<RedrivePolicy, AttrError> {
        let obj = parse_json_object(REDRIVE_POLICY, json)?;
        if let Some(e) = unknown_key(&obj, REDRIVE_POLICY_KEYS) {
            return Err(redrive_error(e));
        }
        let arn = match obj.get(DEAD_LETTER_TARGET_ARN) {
            Some(serde_json::Value::String(s)) => s,
            Some(_) => return Err(redrive_error(AttrValueError::TargetArnNotString)),
            None => {
                return Err(redrive_error(AttrValueError::MissingKey {
                    key: DEAD_LETTER_TARGET_ARN,
                }))
            }
        };
        let count = match obj.get(MAX_RECEIVE_COUNT) {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            // Strict: same digit-only rule as the numeric attributes.
            Some(serde_json::Value::String(s)) => parse_digits(s),
            Some(_) => None,
            None => {
                return Err(redrive_error(AttrValueError::MissingKey {
                    key: MAX_RECEIVE_COUNT,
                }))
            }
        };
        let max_receive_count = count
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| MAX_RECEIVE_COUNT_RANGE.contains(n))
            .ok_or_else(|| {
                redrive_error(AttrValueError::BadMaxReceiveCount {
                    min: *MAX_RECEIVE_COUNT_RANGE.start(),
                    max: *MAX_RECEIVE_COUNT_RANGE.end(),
                })
            })?;
        let target = SqsArn::parse(arn)
            .ok_or_else(|| redrive_error(AttrValueError::BadTargetArn { arn: echo(arn) }))?;
        if target.is_fifo() != source_fifo {
            return Err(redrive_error(AttrValueError::TargetTypeMismatch {
                source_fifo,
            }));
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
            DEAD_LETTER_TARGET_ARN: self.dead_letter_target_arn,
            MAX_RECEIVE_COUNT: self.max_receive_count,
        })
        .to_string()
    }
}

/// `RedriveAllowPolicy`: which source queues may use this queue as their DLQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RedrivePermission {
    /// Any queue (the default).
    AllowAll,
    /// No queue.
    DenyAll,
    /// `sourceQueueArns`: 1 to [`REDRIVE_SOURCE_ARNS_MAX`] queue ARNs.
    ByQueue(Vec<String>),
}

impl RedrivePermission {
    /// Parses `{"redrivePermission":"allowAll|denyAll|byQueue","sourceQueueArns":[...]}`.
    /// `sourceQueueArns` is required (1–10 queue ARNs) for byQueue and may only be absent
    /// or empty otherwise: a list that would be ignored is more likely a mistake than intent.
    pub fn parse(json: &str) -> Result<RedrivePermission, AttrError> {
        let obj = parse_json_object(REDRIVE_ALLOW_POLICY, json)?;
        if let Some(e) = unknown_key(&obj, REDRIVE_ALLOW_POLICY_KEYS) {
            return Err(allow_error(e));
        }
        let arns = match obj.get(SOURCE_QUEUE_ARNS) {
            None => Vec::new(),
            Some(serde_json::Value::Array(items)) => source_arns(items)?,
            Some(_) => return Err(allow_error(AttrValueError::SourceArnsNotArray)),
        };
        let permission = match obj.get(REDRIVE_PERMISSION) {
            Some(serde_json::Value::String(s)) => s.as_str(),
            _ => return Err(allow_error(AttrValueError::MissingPermission)),
        };
        match permission {
            "allowAll" | "denyAll" if !arns.is_empty() => {
                Err(allow_error(AttrValueError::SourceArnsWithoutByQueue))
            }
            "allowAll" => Ok(RedrivePermission::AllowAll),
            "denyAll" => Ok(RedrivePermission::DenyAll),
            "byQueue" if arns.is_empty() => {
                Err(allow_error(AttrValueError::ByQueueWithoutSourceArns))
            }
            "byQueue" => Ok(RedrivePermission::ByQueue(arns)),
            other => Err(allow_error(AttrValueError::BadPermission {
                value: echo(other),
            })),
        }
    }

    /// Compact SQS JSON.
    pub fn to_json(&self) -> String {
        match self {
            RedrivePermission::AllowAll => {
                serde_json::json!({ REDRIVE_PERMISSION: "allowAll" }).to_string()
            }
            RedrivePermission::DenyAll => {
                serde_json::json!({ REDRIVE_PERMISSION: "denyAll" }).to_string()
            }
            RedrivePermission::ByQueue(arns) => serde_json::json!({
                REDRIVE_PERMISSION: "byQueue",
                SOURCE_QUEUE_ARNS: arns,
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

/// The `sourceQueueArns` array: at most [`REDRIVE_SOURCE_ARNS_MAX`] queue ARN strings.
fn source_arns(items: &[serde_json::Value]) -> Result<Vec<String>, AttrError> {
    if items.len() > REDRIVE_SOURCE_ARNS_MAX {
        return Err(allow_error(AttrValueError::TooManySourceArns {
            max: REDRIVE_SOURCE_ARNS_MAX,
        }));
    }
    items
        .iter()
        .map(|item| match item {
            serde_json::Value::String(s) if SqsArn::parse(s).is_some() => Ok(s.clone()),
            other => Err(allow_error(AttrValueError::BadSourceArn {
                value: echo(&other.to_string()),
            })),
        })
        .collect()
}
