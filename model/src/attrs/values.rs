//! Attribute values: the FIFO enumerations and the strict parsers of SQS's string forms
//! (decimal integers, booleans, JSON objects).

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use super::error::{echo, invalid_value, AttrError, AttrValueError};

/// `DeduplicationScope` of a FIFO queue (`queue` | `messageGroup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeduplicationScope {
    /// One deduplication window for the whole queue (the default).
    Queue,
    /// One deduplication window per message group (high-throughput FIFO).
    MessageGroup,
}

impl DeduplicationScope {
    /// The SQS words, in the order SQS lists them.
    pub const SQS_WORDS: &'static [&'static str] = &["queue", "messageGroup"];

    /// The SQS word for this scope.
    pub fn as_sqs_str(self) -> &'static str {
        match self {
            DeduplicationScope::Queue => "queue",
            DeduplicationScope::MessageGroup => "messageGroup",
        }
    }

    /// Parses the SQS word (case-sensitive).
    pub fn from_sqs_str(s: &str) -> Option<Self> {
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
    /// The queue's throughput is shared by all groups (the default).
    PerQueue,
    /// Each group has the throughput (needs `DeduplicationScope=messageGroup`).
    PerMessageGroupId,
}

impl FifoThroughputLimit {
    /// The SQS words, in the order SQS lists them.
    pub const SQS_WORDS: &'static [&'static str] = &["perQueue", "perMessageGroupId"];

    /// The SQS word for this limit.
    pub fn as_sqs_str(self) -> &'static str {
        match self {
            FifoThroughputLimit::PerQueue => "perQueue",
            FifoThroughputLimit::PerMessageGroupId => "perMessageGroupId",
        }
    }

    /// Parses the SQS word (case-sensitive).
    pub fn from_sqs_str(s: &str) -> Option<Self> {
        match s {
            "perQueue" => Some(FifoThroughputLimit::PerQueue),
            "perMessageGroupId" => Some(FifoThroughputLimit::PerMessageGroupId),
            _ => None,
        }
    }
}

/// Digits only: no sign, no whitespace, no exponent (SQS rejects "+5" and " 5").
/// `None` for anything else, including values too large for u64.
pub(crate) fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All ASCII digits, so the only possible failure is overflow.
    s.parse::<u64>().ok()
}

/// A decimal integer within `range`, else `InvalidAttributeValue` of `name`.
pub(crate) fn parse_ranged(
    name: &'static str,
    value: &str,
    range: &RangeInclusive<u32>,
) -> Result<u32, AttrError> {
    parse_digits(value)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            invalid_value(
                name,
                AttrValueError::NotInRange {
                    value: echo(value),
                    min: *range.start(),
                    max: *range.end(),
                },
            )
        })
}

/// "true"/"false", ASCII case-insensitive (SQS and the SDKs accept "True" from loosely
/// typed callers; anything else is rejected).
pub(crate) fn parse_bool(name: &'static str, value: &str) -> Result<bool, AttrError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid_value(
            name,
            AttrValueError::NotBoolean { value: echo(value) },
        ))
    }
}

/// One of the attribute's words, else `InvalidAttributeValue` of `name`.
pub(crate) fn parse_word<T>(
    name: &'static str,
    value: &str,
    allowed: &'static [&'static str],
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, AttrError> {
    parse(value).ok_or_else(|| {
        invalid_value(
            name,
            AttrValueError::NotOneOf {
                value: echo(value),
                allowed,
            },
        )
    })
}

/// How SQS renders a boolean attribute.
pub(crate) fn bool_str(b: bool) -> String {
    let s = if b { "true" } else { "false" };
    s.to_string()
}

/// A JSON object, else `InvalidAttributeValue` of `name`.
pub(crate) fn parse_json_object(
    name: &'static str,
    json: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, AttrError> {
    // serde_json bounds nesting depth (128), so hostile input cannot overflow the stack.
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid_value(name, AttrValueError::NotJsonObject)),
        Err(e) => Err(invalid_value(
            name,
            AttrValueError::NotJson {
                detail: e.to_string(),
            },
        )),
    }
}

/// Whether two policies are the same JSON value (a retried CreateQueue may re-serialise
/// the same policy differently: whitespace, key order); text equality if either is not JSON.
pub(crate) fn json_equal(x: &str, y: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(x),
        serde_json::from_str::<serde_json::Value>(y),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => x == y,
    }
}
