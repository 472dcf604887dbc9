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
use crate::error::{EngineError, InvalidParameter, Result};
use crate::partition::{dedup_key, NewMessage, Partition, QueueParams};
use crate::record::{AttributeValue, MessageAttribute};
use spool_model::limits::{DELAY_MAX_S, MESSAGE_ID_PARAMETER_MAX_CHARS};
use spool_model::message::{
    is_valid_message_attribute_name, is_valid_message_id_parameter, is_valid_number, DataType,
    AWS_TRACE_HEADER,
};

/// At most this many message attributes per message (SQS).
pub use spool_model::limits::MESSAGE_ATTRIBUTES_MAX as MAX_MESSAGE_ATTRIBUTES;

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

fn check_id(name: &'static str, v: &str) -> Result<()> {
    if !is_valid_message_id_parameter(v) {
        return Err(EngineError::invalid(
            name,
            InvalidParameter::BadId {
                max_chars: MESSAGE_ID_PARAMETER_MAX_CHARS,
            },
        ));
    }
    Ok(())
}

/// Validates message attribute names and types (SQS rules).
pub fn check_attribute(a: &MessageAttribute) -> Result<()> {
    if !is_valid_message_attribute_name(&a.name) {
        return Err(EngineError::invalid(
            "MessageAttributeName",
            InvalidParameter::BadAttributeName {
                attribute: a.name.clone(),
            },
        ));
    }
    let ok_type = match (DataType::of(&a.data_type), &a.value) {
        (Some(DataType::String), AttributeValue::String(_))
        | (Some(DataType::Binary), AttributeValue::Binary(_)) => true,
        (Some(DataType::Number), AttributeValue::String(s)) => is_valid_number(s),
        _ => false,
    };
    if !ok_type {
        return Err(EngineError::invalid(
            "MessageAttributeValue",
            InvalidParameter::BadAttributeType {
                attribute: a.name.clone(),
                data_type: a.data_type.clone(),
            },
        ));
    }
    Ok(())
}

/// The message and system attributes of a send: how many, their names and types, no
/// name twice, and only `AWSTraceHeader` among the system ones (SQS rules).
fn check_attributes(r: &SendRequest) -> Result<()> {
    if r.attributes.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(EngineError::invalid(
            "MessageAttributes",
            InvalidParameter::TooManyAttributes {
                count: r.attributes.len(),
                max: MAX_MESSAGE_ATTRIBUTES,
            },
        ));
    }
    for (i, attr) in r.attributes.iter().enumerate() {
        check_attribute(attr)?;
        if r.attributes[..i].iter().any(|b| b.name == attr.name) {
            return Err(EngineError::invalid(
                "MessageAttributes",
                InvalidParameter::RepeatedAttribute {
                    attribute: attr.name.clone(),
                },
            ));
        }
    }
    for attr in &r.system_attributes {
        if attr.name != AWS_TRACE_HEADER || attr.data_type != "String" {
            return Err(EngineError::invalid(
                "MessageSystemAttributes",
                InvalidParameter::UnsupportedSystemAttribute {
                    attribute: attr.name.clone(),
                },
            ));
        }
    }
    Ok(())
}

/// What a partition needs from its queue's attributes.
pub fn params_for(a: &QueueAttributes, dlq_exists: bool) -> QueueParams {
    QueueParams {
        fifo: a.fifo,
        dedup_per_group: a.effective_dedup_scope() == DeduplicationScope::MessageGroup,
        retention_ms: u64::from(a.message_retention_s) * 1000,
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
    check_attributes(r)?;
    let size = r.body.len()
        + r.attributes
            .iter()
            .map(super::record::MessageAttribute::size)
            .sum::<usize>();
    if size > a.maximum_message_size as usize {
        return Err(EngineError::MessageTooLong {
            size,
            max: a.maximum_message_size as usize,
        });
    }
    if let Some(d) = r.delay_s {
        if d > DELAY_MAX_S {
            return Err(EngineError::invalid(
                "DelaySeconds",
                InvalidParameter::DelayTooLong {
                    delay_s: d,
                    max_s: DELAY_MAX_S,
                },
            ));
        }
        // AWS refuses only a non-zero per-message delay on a FIFO queue; an explicit 0 is
        // accepted (SDKs and frameworks send it by default).
        if a.fifo && d != 0 {
            return Err(EngineError::invalid(
                "DelaySeconds",
                InvalidParameter::DelayOnFifoQueue { delay_s: d },
            ));
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

    /// Its partitions, to read (sizes, counts, sequence numbers).
    pub fn partitions(&self) -> &[Partition] {
        &self.partitions
    }

    /// Its partitions, mutably (crate-private: a partition's own methods skip the
    /// engine's bookkeeping).
    pub(crate) fn partitions_mut(&mut self) -> &mut [Partition] {
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
            h ^= u64::from(b);
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
        let mut other_scope = None;
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
                    use std::fmt::Write as _;
                    let digest = sha2::Sha256::digest(&r.body);
                    let mut hex = String::with_capacity(2 * digest.len());
                    for b in digest {
                        // Writing to a String cannot fail.
                        let _ = write!(hex, "{b:02x}");
                    }
                    Cow::Owned(hex)
                }
                (None, false) => {
                    return Err(EngineError::invalid(
                        "MessageDeduplicationId",
                        InvalidParameter::NoDedupId,
                    ))
                }
            };
            let per_group = a.effective_dedup_scope() == DeduplicationScope::MessageGroup;
            key = Some(dedup_key(per_group, Some(g), &d));
            other_scope = Some(dedup_key(!per_group, Some(g), &d));
            dedup_id = Some(d);
        } else if let Some(d) = &r.dedup_id {
            return Err(EngineError::invalid(
                "MessageDeduplicationId",
                InvalidParameter::DedupIdOnStandardQueue {
                    dedup_id: d.clone(),
                },
            ));
        }
        // A FIFO message cannot carry its own delay (only 0 gets this far), so the queue's
        // DelaySeconds applies to it, as on AWS.
        let delay_s = u64::from(if a.fifo {
            a.delay_s
        } else {
            r.delay_s.unwrap_or(a.delay_s)
        });
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
                dedup_other_scope: other_scope,
                origin: None,
                message_id: None,
                sent_at_ms: None,
                receive_count: 0,
                first_receive_ms: 0,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn numbers_follow_aws_rule() {
        // SQS's Number: at most 38 significant digits, magnitude up to 10^126. The
        // binary protocol used to take any exponent of up to 3 digits.
        let num = |v: &str| MessageAttribute {
            name: "n".into(),
            data_type: "Number".into(),
            value: AttributeValue::String(v.into()),
        };
        assert!(check_attribute(&num("1e126")).is_ok());
        for bad in ["1e500", "1e127", "1e-200"] {
            assert!(matches!(
                check_attribute(&num(bad)),
                Err(EngineError::InvalidParameter {
                    reason: InvalidParameter::BadAttributeType { .. },
                    ..
                })
            ));
        }
    }
}
