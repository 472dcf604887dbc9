//! A queue: its name, attributes and tags, and its partitions. The queue level spreads
//! sends over partitions (round robin for standard queues; by message group for FIFO, so
//! a group's order holds within one partition) and gathers receives from all of them.
//!
//! It also validates messages the way SQS does before anything is staged: size, number
//! and names of attributes, FIFO group and deduplication ids, per-message delay.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::attrs::{DeduplicationScope, QueueAttributes};
use crate::error::{EngineError, Result};
use crate::partition::{dedup_key, NewMessage, Partition, QueueParams};
use crate::record::{AttributeValue, MessageAttribute};

/// At most this many message attributes per message (SQS).
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// What a sender asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendRequest {
    /// The message body (at least one byte).
    pub body: Vec<u8>,
    /// Message attributes (at most 10, `MAX_MESSAGE_ATTRIBUTES`).
    pub attributes: Vec<MessageAttribute>,
    /// Message system attributes; SQS accepts only `AWSTraceHeader`.
    pub system_attributes: Vec<MessageAttribute>,
    /// Per-message delay in seconds (standard queues only).
    pub delay_s: Option<u32>,
    /// FIFO message group id (required on FIFO queues, optional elsewhere).
    pub group_id: Option<String>,
    /// FIFO deduplication id (else derived from the body, if the queue says so).
    pub dedup_id: Option<String>,
}

/// The catalog entry of a queue (persisted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueMeta {
    /// Internal id, never reused; names the queue's directory.
    pub id: u64,
    /// Queue name.
    pub name: String,
    /// Settable attributes.
    pub attrs: QueueAttributes,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// CreatedTimestamp, in seconds.
    pub created_s: u64,
    /// LastModifiedTimestamp, in seconds.
    pub modified_s: u64,
    /// Partitions it was created with.
    pub partitions: u16,
}

/// A queue and its partitions.
pub struct Queue {
    /// Its catalog entry.
    pub meta: QueueMeta,
    pub(crate) partitions: Vec<Partition>,
    pub(crate) rr: usize,
    pub(crate) last_purge_ms: Option<u64>,
}

fn valid_id_chars(s: &str) -> bool {
    // Alphanumerics and punctuation (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~), as SQS allows.
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b.is_ascii_punctuation())
}

fn check_id(name: &'static str, v: &str) -> Result<()> {
    if v.is_empty() || v.len() > 128 || !valid_id_chars(v) {
        return Err(EngineError::InvalidParameter {
            name,
            reason: format!("{name} must be 1 to 128 alphanumeric or punctuation characters"),
        });
    }
    Ok(())
}

/// Validates message attribute names and types (SQS rules).
pub fn check_attribute(a: &MessageAttribute) -> Result<()> {
    let n = &a.name;
    let bad_name = n.is_empty()
        || n.len() > 256
        || !n
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        || n.starts_with('.')
        || n.ends_with('.')
        || n.contains("..")
        || n.to_ascii_lowercase().starts_with("aws.")
        || n.to_ascii_lowercase().starts_with("amazon.");
    if bad_name {
        return Err(EngineError::InvalidParameter {
            name: "MessageAttributeName",
            reason: format!("message attribute name '{n}' is invalid"),
        });
    }
    let base = a.data_type.split('.').next().unwrap_or("");
    let ok_type = a.data_type.len() <= 256
        && match (base, &a.value) {
            ("String", AttributeValue::String(_)) => true,
            ("Number", AttributeValue::String(s)) => is_sqs_number(s),
            ("Binary", AttributeValue::Binary(_)) => true,
            _ => false,
        };
    if !ok_type {
        return Err(EngineError::InvalidParameter {
            name: "MessageAttributeValue",
            reason: format!(
                "message attribute '{n}' has an invalid data type or value for type {}",
                a.data_type
            ),
        });
    }
    Ok(())
}

/// A Number attribute: up to 38 significant digits, optional sign, decimal point and
/// exponent.
fn is_sqs_number(s: &str) -> bool {
    let t = s.trim_start_matches(['-', '+']);
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let digits = mant.bytes().filter(|b| b.is_ascii_digit()).count();
    let dots = mant.bytes().filter(|&b| b == b'.').count();
    let mant_ok = digits > 0 && dots <= 1 && mant.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let exp_ok = exp.is_none_or(|e| {
        let e = e.trim_start_matches(['-', '+']);
        !e.is_empty() && e.len() <= 3 && e.bytes().all(|b| b.is_ascii_digit())
    });
    mant_ok && exp_ok && digits <= 38 + 1
}

/// What a partition needs from its queue's attributes.
pub fn params_for(a: &QueueAttributes, dlq_exists: bool) -> QueueParams {
    QueueParams {
        fifo: a.fifo,
        dedup_per_group: a.effective_dedup_scope() == DeduplicationScope::MessageGroup,
        retention_ms: a.message_retention_s as u64 * 1000,
        max_receive_count: a
            .redrive_policy
            .as_ref()
            .filter(|_| dlq_exists)
            .map(|r| r.max_receive_count),
    }
}

/// The checks of a send that do not depend on the queue type's ids: body, message and
/// system attributes, size and delay (SQS rules).
fn check_message(a: &QueueAttributes, r: &SendRequest) -> Result<()> {
    if r.body.is_empty() {
        return Err(EngineError::MissingParameter("MessageBody"));
    }
    if r.attributes.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(EngineError::InvalidParameter {
            name: "MessageAttributes",
            reason: format!(
                "Number of message attributes [{}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}].",
                r.attributes.len()
            ),
        });
    }
    for (i, attr) in r.attributes.iter().enumerate() {
        check_attribute(attr)?;
        if r.attributes[..i].iter().any(|b| b.name == attr.name) {
            return Err(EngineError::InvalidParameter {
                name: "MessageAttributes",
                reason: format!("message attribute name '{}' is repeated", attr.name),
            });
        }
    }
    for attr in &r.system_attributes {
        if attr.name != "AWSTraceHeader" || attr.data_type != "String" {
            return Err(EngineError::InvalidParameter {
                name: "MessageSystemAttributes",
                reason: format!(
                    "message system attribute '{}' is not supported (only AWSTraceHeader of type String)",
                    attr.name
                ),
            });
        }
    }
    let size = r.body.len() + r.attributes.iter().map(|a| a.size()).sum::<usize>();
    if size > a.maximum_message_size as usize {
        return Err(EngineError::MessageTooLong {
            size,
            max: a.maximum_message_size as usize,
        });
    }
    if let Some(d) = r.delay_s {
        if d > 900 {
            return Err(EngineError::InvalidParameter {
                name: "DelaySeconds",
                reason: format!("Value {d} for parameter DelaySeconds is invalid. Reason: must be between 0 and 900."),
            });
        }
        if a.fifo {
            return Err(EngineError::InvalidParameter {
                name: "DelaySeconds",
                reason: format!("Value {d} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."),
            });
        }
    }
    Ok(())
}

impl Queue {
    /// Queue name.
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    /// Internal id.
    pub fn id(&self) -> u64 {
        self.meta.id
    }

    /// Whether it is a FIFO queue.
    pub fn is_fifo(&self) -> bool {
        self.meta.attrs.fifo
    }

    /// Its partitions.
    pub fn partitions(&self) -> &[Partition] {
        &self.partitions
    }

    /// Its partitions, mutably.
    pub fn partitions_mut(&mut self) -> &mut [Partition] {
        &mut self.partitions
    }

    /// What its partitions need from its attributes.
    pub(crate) fn params(&self, dlq_exists: bool) -> QueueParams {
        params_for(&self.meta.attrs, dlq_exists)
    }

    /// Which partition a FIFO group lives in (stable across restarts: FNV-1a).
    pub(crate) fn partition_for_group(&self, group: &str) -> usize {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in group.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        (h % self.partitions.len() as u64) as usize
    }

    /// Validates a send and turns it into what a partition stages, with the partition
    /// it goes to.
    pub(crate) fn prepare<'a>(
        &mut self,
        now_ms: u64,
        r: &'a SendRequest,
    ) -> Result<(usize, NewMessage<'a>)> {
        let a = &self.meta.attrs;
        check_message(a, r)?;
        if let Some(g) = &r.group_id {
            check_id("MessageGroupId", g)?;
        }
        let mut dedup_id = None;
        let mut key = None;
        if a.fifo {
            let Some(g) = &r.group_id else {
                return Err(EngineError::MissingParameter("MessageGroupId"));
            };
            let d = match (&r.dedup_id, a.content_based_dedup) {
                (Some(d), _) => {
                    check_id("MessageDeduplicationId", d)?;
                    Cow::Borrowed(d.as_str())
                }
                (None, true) => {
                    let digest = sha2::Sha256::digest(&r.body);
                    Cow::Owned(digest.iter().map(|b| format!("{b:02x}")).collect())
                }
                (None, false) => {
                    return Err(EngineError::InvalidParameter {
                        name: "MessageDeduplicationId",
                        reason: "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly".into(),
                    })
                }
            };
            let per_group = a.effective_dedup_scope() == DeduplicationScope::MessageGroup;
            key = Some(dedup_key(per_group, Some(g), &d));
            dedup_id = Some(d);
        } else if let Some(d) = &r.dedup_id {
            return Err(EngineError::InvalidParameter {
                name: "MessageDeduplicationId",
                reason: format!("Value {d} for parameter MessageDeduplicationId is invalid. Reason: The request includes a parameter that is not valid for this queue type."),
            });
        }
        let delay_s = r.delay_s.unwrap_or(a.delay_s) as u64;
        let part = match (&r.group_id, a.fifo) {
            (Some(g), true) => self.partition_for_group(g),
            _ => {
                self.rr = self.rr.wrapping_add(1);
                self.rr % self.partitions.len()
            }
        };
        Ok((
            part,
            NewMessage {
                body: &r.body,
                attributes: &r.attributes,
                system_attributes: &r.system_attributes,
                visible_at_ms: if delay_s > 0 {
                    now_ms + delay_s * 1000
                } else {
                    0
                },
                group_id: r.group_id.as_deref(),
                dedup_id,
                dedup_key: key,
                origin: None,
                message_id: None,
                sent_at_ms: None,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for ok in [
            "1",
            "-1.5",
            "0.000",
            "1e10",
            "12345678901234567890123456789012345678",
        ] {
            assert!(is_sqs_number(ok), "{ok}");
        }
        for bad in ["", "abc", "1..2", "1e", "--", "1e1234"] {
            assert!(!is_sqs_number(bad), "{bad}");
        }
    }

    #[test]
    fn attribute_names() {
        let mk = |n: &str| MessageAttribute {
            name: n.into(),
            data_type: "String".into(),
            value: AttributeValue::String("v".into()),
        };
        assert!(check_attribute(&mk("a.b-c_d")).is_ok());
        for bad in ["", ".a", "a.", "a..b", "AWS.x", "amazon.y", "a b"] {
            assert!(check_attribute(&mk(bad)).is_err(), "{bad}");
        }
        let mut a = mk("n");
        a.data_type = "Number".into();
        assert!(check_attribute(&a).is_err());
        a.value = AttributeValue::String("42".into());
        assert!(check_attribute(&a).is_ok());
        a.data_type = "Binary".into();
        assert!(check_attribute(&a).is_err());
    }
}
