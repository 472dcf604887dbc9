//! Validation that needs no queue state: message bodies, message (and system)
//! attributes, SQS Number values, group / deduplication ids, send entries and the
//! structure every batch shares (count, ids, distinctness). Errors carry AWS's kind and,
//! where recorded, its wording.
//!
//! The rules themselves are the SQS model's ([`spool_model::message`], reached through
//! [`crate::limits`]); this module words what breaks them as SQS does.

use std::collections::HashSet;

use spool_model::limits::{
    BATCH_ENTRY_ID_MAX_CHARS, DELAY_RANGE_S, MESSAGE_ATTRIBUTE_DATA_TYPE_MAX_CHARS,
    MESSAGE_ID_PARAMETER_MAX_CHARS,
};
use spool_model::message::{
    check_message_attribute_name, is_valid_body_text, AttributeNameProblem, AWS_TRACE_HEADER,
};

use super::object::{check_range, Obj, RangeText};
use super::types::{FifoIdsGiven, SendMessageEntry, Wire};
use crate::limits::{
    is_valid_batch_id, is_valid_message_id, MAX_ATTRIBUTE_NAME_LEN, MAX_BATCH_ENTRIES,
    MAX_MESSAGE_ATTRIBUTES, MAX_MESSAGE_SIZE,
};
use crate::message::{AttributeValue, MessageAttribute};
use crate::sqs::error::{clip, ErrorKind, SqsError};
use crate::sqs::Action;

/// Whether `c` may appear in a message body (and in XML 1.0): the model's rule.
pub use spool_model::message::is_valid_body_char as is_xml_char;
/// Whether `s` is an SQS Number: the model's rule.
pub use spool_model::message::is_valid_number;

/// Checks a message body: non-empty (`MissingParameter`) and only XML characters
/// (`InvalidMessageContents`).
pub fn validate_body(body: &str) -> Result<(), SqsError> {
    if body.is_empty() {
        return Err(SqsError::missing("MessageBody"));
    }
    if !is_valid_body_text(body) {
        return Err(SqsError::new(
            ErrorKind::InvalidMessageContents,
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
        ));
    }
    Ok(())
}

pub(super) fn invalid(msg: impl Into<String>) -> SqsError {
    SqsError::new(ErrorKind::InvalidParameterValue, msg)
}

/// Checks a message attribute name by the model's rule
/// ([`check_message_attribute_name`]), each problem in AWS's words.
pub fn validate_attribute_name(name: &str) -> Result<(), SqsError> {
    let Err(problem) = check_message_attribute_name(name) else {
        return Ok(());
    };
    Err(invalid(match problem {
        AttributeNameProblem::Empty => {
            "The request must contain non-empty message attribute name.".to_string()
        }
        AttributeNameProblem::TooLong => format!(
            "Message (user) attribute name {}... must be shorter than {MAX_ATTRIBUTE_NAME_LEN} bytes.",
            clip(name)
        ),
        AttributeNameProblem::BadCharacter => format!(
            "Message (user) attribute name '{}' is invalid. Can only include alphanumeric characters, hyphens, underscores, or dots.",
            clip(name)
        ),
        AttributeNameProblem::ReservedPrefix => format!(
            "Message (user) attribute name '{name}' is invalid. Names starting with 'AWS.' or 'Amazon.' are reserved."
        ),
        AttributeNameProblem::BadPeriod => format!(
            "Message (user) attribute name '{name}' is invalid. It can't start or end with a period, or have consecutive periods."
        ),
    }))
}

/// A message attribute as received, before validation.
pub(super) struct RawAttr {
    pub(super) name: String,
    pub(super) data_type: Option<String>,
    pub(super) string_value: Option<String>,
    pub(super) binary_value: Option<Vec<u8>>,
    pub(super) has_lists: bool,
}

impl RawAttr {
    pub(super) fn size(&self) -> usize {
        self.name.len()
            + self.data_type.as_ref().map_or(0, String::len)
            + self.string_value.as_ref().map_or(0, String::len)
            + self.binary_value.as_ref().map_or(0, Vec::len)
    }
}

pub(super) fn validate_message_attributes(
    raw: Vec<RawAttr>,
) -> Result<Vec<MessageAttribute<'static>>, SqsError> {
    if raw.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(invalid(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [{MAX_MESSAGE_ATTRIBUTES}].",
            raw.len()
        )));
    }
    let mut out = Vec::with_capacity(raw.len());
    for a in raw {
        validate_attribute_name(&a.name)?;
        let name = a.name;
        let Some(data_type) = a.data_type.filter(|t| !t.is_empty()) else {
            return Err(invalid(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            )));
        };
        if data_type.len() > MESSAGE_ATTRIBUTE_DATA_TYPE_MAX_CHARS {
            return Err(invalid(format!(
                "The message attribute '{name}' has a data type longer than {MESSAGE_ATTRIBUTE_DATA_TYPE_MAX_CHARS} bytes."
            )));
        }
        if a.has_lists {
            return Err(invalid(format!(
                "Message attribute '{name}': list values (StringListValues, BinaryListValues) are not supported."
            )));
        }
        let (base, label) = match data_type.split_once('.') {
            Some((b, l)) => (b, Some(l)),
            None => (data_type.as_str(), None),
        };
        if label == Some("") || !matches!(base, "String" | "Number" | "Binary") {
            return Err(invalid(format!(
                "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        // AWS's words (recorded for an empty String value; the same for each type).
        let empty = || {
            invalid(format!(
                "Message (user) attribute '{name}' must contain a non-empty value of type '{base}'."
            ))
        };
        let value = if base == "Binary" {
            match a.binary_value {
                Some(b) if !b.is_empty() => AttributeValue::Binary(b.into()),
                Some(_) => return Err(empty()),
                None => {
                    return Err(invalid(format!(
                        "The message attribute '{name}' with type 'Binary' must use field 'Binary'."
                    )))
                }
            }
        } else {
            let Some(s) = a.string_value.filter(|s| !s.is_empty()) else {
                return Err(empty());
            };
            if !is_valid_body_text(&s) {
                return Err(invalid(format!(
                    "The message attribute '{name}' contains invalid characters."
                )));
            }
            if base == "Number" && !is_valid_number(&s) {
                return Err(invalid(format!(
                    "Can't cast the value of message (user) attribute '{name}' to a number."
                )));
            }
            AttributeValue::String(s.into())
        };
        out.push(MessageAttribute {
            name: name.into(),
            data_type: data_type.into(),
            value,
        });
    }
    Ok(out)
}

pub(super) fn validate_system_attributes(
    raw: Vec<RawAttr>,
) -> Result<Vec<MessageAttribute<'static>>, SqsError> {
    let mut out = Vec::with_capacity(raw.len().min(1));
    for a in raw {
        if a.name != AWS_TRACE_HEADER {
            return Err(invalid(format!(
                "Message system attribute name '{}' is invalid.",
                clip(&a.name)
            )));
        }
        if a.data_type.as_deref() != Some("String") {
            return Err(invalid(format!(
                "The message system attribute '{AWS_TRACE_HEADER}' must have the data type String."
            )));
        }
        let Some(s) = a
            .string_value
            .filter(|s| !s.is_empty() && is_valid_body_text(s))
        else {
            return Err(invalid(format!(
                "The message system attribute '{AWS_TRACE_HEADER}' must contain a non-empty string value."
            )));
        };
        out.push(MessageAttribute {
            name: a.name.into(),
            data_type: "String".into(),
            value: AttributeValue::String(s.into()),
        });
    }
    Ok(out)
}

/// Message group / deduplication / receive attempt ids: the model's rule
/// ([`spool_model::message::is_valid_message_id_parameter`]).
pub(super) fn check_id(name: &str, v: Option<&str>) -> Result<Option<String>, SqsError> {
    match v {
        None => Ok(None),
        Some(s) if is_valid_message_id(s) => Ok(Some(s.to_string())),
        Some(s) => Err(SqsError::invalid_value(
            name,
            s,
            &format!("{name} can only include alphanumeric and punctuation characters. 1 to {MESSAGE_ID_PARAMETER_MAX_CHARS} in length."),
        )),
    }
}

// ----- messages and batches --------------------------------------------------------------

/// A send entry after the structural pass (types right, required members present).
pub(super) struct RawSend<'a> {
    body: &'a str,
    delay: Option<i64>,
    attributes: Vec<RawAttr>,
    system_attributes: Vec<RawAttr>,
    dedup_id: Option<&'a str>,
    group_id: Option<&'a str>,
}

impl RawSend<'_> {
    pub(super) fn size(&self) -> usize {
        self.body.len() + self.attributes.iter().map(RawAttr::size).sum::<usize>()
    }

    /// Which FIFO ids the entry carried (see [`FifoIdsGiven`]).
    pub(super) fn fifo_ids(&self) -> FifoIdsGiven {
        FifoIdsGiven {
            group_id: self.group_id.is_some(),
            dedup_id: self.dedup_id.is_some(),
        }
    }
}

pub(super) fn raw_send<'a>(o: &Obj<'a>) -> Result<RawSend<'a>, SqsError> {
    Ok(RawSend {
        body: o.str_req("MessageBody")?,
        delay: o.int_opt("DelaySeconds")?,
        attributes: o.raw_attributes("MessageAttributes")?,
        system_attributes: o.raw_attributes("MessageSystemAttributes")?,
        dedup_id: o.str_opt("MessageDeduplicationId")?,
        group_id: o.str_opt("MessageGroupId")?,
    })
}

pub(super) fn validate_send(raw: RawSend<'_>) -> Result<SendMessageEntry, SqsError> {
    validate_body(raw.body)?;
    let delay_seconds = match raw.delay {
        None => None,
        Some(v) => Some(check_range(
            "DelaySeconds",
            v,
            &DELAY_RANGE_S,
            RangeText::AtLeastAtMostIfProvided,
        )?),
    };
    let entry = SendMessageEntry {
        body: raw.body.to_string(),
        delay_seconds,
        message_attributes: validate_message_attributes(raw.attributes)?,
        message_system_attributes: validate_system_attributes(raw.system_attributes)?,
        message_deduplication_id: check_id("MessageDeduplicationId", raw.dedup_id)?,
        message_group_id: check_id("MessageGroupId", raw.group_id)?,
    };
    Ok(entry)
}

pub(super) fn message_too_long() -> SqsError {
    invalid(format!(
        "One or more parameters are invalid. Reason: Message must be shorter than {MAX_MESSAGE_SIZE} bytes."
    ))
}

/// The structural checks every batch shares; returns the entries and their ids.
pub(super) fn batch_entries<'a>(
    o: &Obj<'a>,
    action: Action,
) -> Result<Vec<(String, Obj<'a>)>, SqsError> {
    let entry_name = format!("{action}RequestEntry");
    let entries = match (o.objects("Entries")?, o.wire) {
        (Some(e), _) => e,
        (None, Wire::Json) => return Err(SqsError::missing("Entries")),
        (None, Wire::Query) => Vec::new(),
    };
    if entries.is_empty() {
        return Err(SqsError::new(
            ErrorKind::EmptyBatchRequest,
            format!("There should be at least one {entry_name} in the request."),
        ));
    }
    if entries.len() > MAX_BATCH_ENTRIES {
        return Err(SqsError::new(
            ErrorKind::TooManyEntriesInBatchRequest,
            format!(
                "Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {}.",
                entries.len()
            ),
        ));
    }
    let mut seen = HashSet::with_capacity(entries.len());
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.into_iter().enumerate() {
        let id = e
            .str_opt("Id")?
            .ok_or_else(|| SqsError::missing(&format!("{entry_name}.{}.Id", i + 1)))?;
        if !is_valid_batch_id(id) {
            return Err(SqsError::new(
                ErrorKind::InvalidBatchEntryId,
                format!("A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most {BATCH_ENTRY_ID_MAX_CHARS} letters long."),
            ));
        }
        if !seen.insert(id) {
            return Err(SqsError::new(
                ErrorKind::BatchEntryIdsNotDistinct,
                format!("Id {id} repeated."),
            ));
        }
        out.push((id.to_string(), e));
    }
    Ok(out)
}
