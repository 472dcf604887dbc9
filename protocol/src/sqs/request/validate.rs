//! Validation that needs no queue state: message bodies, message (and system)
//! attributes, SQS Number values, group / deduplication ids, send entries and the
//! structure every batch shares (count, ids, distinctness). Errors carry AWS's kind and,
//! where recorded, its wording.
//!
//! The limits and name rules themselves are in [`crate::limits`].

use std::collections::HashSet;

use super::object::{check_range, Obj};
use super::types::{SendMessageEntry, Wire};
use crate::limits::*;
use crate::message::{AttributeValue, MessageAttribute};
use crate::sqs::error::{clip, ErrorKind, SqsError};
use crate::sqs::Action;

/// Whether `c` may appear in a message body (and in XML 1.0): `#x9 | #xA | #xD |
/// #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF`.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether every character of `s` [`is_xml_char`]. ASCII text (the common case) is checked
/// a byte at a time; anything else per char.
pub(super) fn is_xml_text(s: &str) -> bool {
    let ascii_ok = |b: &u8| matches!(b, b'\t' | b'\n' | b'\r' | 0x20..=0x7f);
    s.as_bytes().iter().all(ascii_ok) || s.chars().all(is_xml_char)
}

/// Checks a message body: non-empty (`MissingParameter`) and only XML characters
/// (`InvalidMessageContents`).
pub fn validate_body(body: &str) -> Result<(), SqsError> {
    if body.is_empty() {
        return Err(SqsError::missing("MessageBody"));
    }
    if !is_xml_text(body) {
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

/// Checks a message attribute name: 1..=256 of `[A-Za-z0-9_.-]`, no `AWS.`/`Amazon.`
/// prefix (any case), no leading, trailing or doubled period.
pub fn validate_attribute_name(name: &str) -> Result<(), SqsError> {
    if name.is_empty() {
        return Err(invalid(
            "The request must contain non-empty message attribute name.",
        ));
    }
    if name.len() > MAX_ATTRIBUTE_NAME_LEN {
        return Err(invalid(format!(
            "Message (user) attribute name {}... must be shorter than {MAX_ATTRIBUTE_NAME_LEN} bytes.",
            clip(name)
        )));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(invalid(format!(
            "Message (user) attribute name '{}' is invalid. Can only include alphanumeric characters, hyphens, underscores, or dots.",
            clip(name)
        )));
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("aws.") || lower.starts_with("amazon.") {
        return Err(invalid(format!(
            "Message (user) attribute name '{name}' is invalid. Names starting with 'AWS.' or 'Amazon.' are reserved."
        )));
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(invalid(format!(
            "Message (user) attribute name '{name}' is invalid. It can't start or end with a period, or have consecutive periods."
        )));
    }
    Ok(())
}

/// Whether `s` is an SQS Number: decimal with optional sign, fraction and exponent, at
/// most 38 significant digits, magnitude 0 or within 10^-128..=10^126.
pub fn is_valid_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let mut digits: Vec<u8> = Vec::new();
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        digits.push(c);
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            digits.push(c);
            i += 1;
        }
    }
    if digits.is_empty() {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if i != b.len() {
        return false;
    }
    let first = digits.iter().position(|&d| d != b'0');
    let Some(first) = first else { return true }; // zero
    let last = digits.iter().rposition(|&d| d != b'0').unwrap_or(first);
    if last + 1 - first > 38 {
        return false;
    }
    match s.parse::<f64>() {
        Ok(v) => v.is_finite() && (1e-128..=1e126).contains(&v.abs()),
        Err(_) => false,
    }
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
        if data_type.len() > MAX_ATTRIBUTE_NAME_LEN {
            return Err(invalid(format!(
                "The message attribute '{name}' has a data type longer than {MAX_ATTRIBUTE_NAME_LEN} bytes."
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
        let value = if base == "Binary" {
            match a.binary_value.filter(|b| !b.is_empty()) {
                Some(b) => AttributeValue::Binary(b.into()),
                None => {
                    return Err(invalid(format!(
                        "The message attribute '{name}' with type 'Binary' must use field 'Binary'."
                    )))
                }
            }
        } else {
            let Some(s) = a.string_value.filter(|s| !s.is_empty()) else {
                return Err(invalid(format!(
                    "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{base}'."
                )));
            };
            if !is_xml_text(&s) {
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
        if a.name != "AWSTraceHeader" {
            return Err(invalid(format!(
                "Message system attribute name '{}' is invalid.",
                clip(&a.name)
            )));
        }
        if a.data_type.as_deref() != Some("String") {
            return Err(invalid(
                "The message system attribute 'AWSTraceHeader' must have the data type String.",
            ));
        }
        let Some(s) = a.string_value.filter(|s| !s.is_empty() && is_xml_text(s)) else {
            return Err(invalid(
                "The message system attribute 'AWSTraceHeader' must contain a non-empty string value.",
            ));
        };
        out.push(MessageAttribute {
            name: a.name.into(),
            data_type: "String".into(),
            value: AttributeValue::String(s.into()),
        });
    }
    Ok(out)
}

/// Message group / deduplication / receive attempt ids: 1..=128 ASCII alphanumeric or
/// punctuation characters.
pub(super) fn check_id(name: &str, v: Option<&str>) -> Result<Option<String>, SqsError> {
    match v {
        None => Ok(None),
        Some(s) if is_valid_message_id(s) => Ok(Some(s.to_string())),
        Some(s) => Err(SqsError::invalid_value(
            name,
            s,
            &format!("{name} can only include alphanumeric and punctuation characters. 1 to 128 in length."),
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
            0,
            MAX_DELAY_SECONDS,
            "Must be >= 0 and <= 900, if provided.",
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
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
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
