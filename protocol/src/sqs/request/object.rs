//! Typed access to a JSON-shaped request object (the request, or one batch entry):
//! strings, integers, lists, maps, blobs and raw message attributes, each with the error
//! AWS gives for a member of the wrong JSON type on each wire.

use std::ops::RangeInclusive;

use base64::Engine as _;

use super::types::{AttrMap, Wire};
use super::validate::RawAttr;
use super::wire::serialization;
use crate::limits::MAX_MESSAGE_ATTRIBUTES;
use crate::sqs::error::{clip, SqsError};
use crate::sqs::jval::{lookup, members, JObj, JVal};

pub(super) fn json_kind(v: &JVal<'_>) -> &'static str {
    match v {
        JVal::Null => "NULL_VALUE",
        JVal::Bool(_) => "BOOLEAN_VALUE",
        JVal::Number(_) => "NUMBER_VALUE",
        JVal::String(_) => "STRING_VALUE",
        JVal::Array(_) => "Start of list found where not expected.",
        JVal::Object(_) => "Start of structure or map found where not expected.",
    }
}

/// The error for a member of the wrong JSON type, where `want` names the type expected
/// ("a String").
fn type_error(v: &JVal<'_>, want: &str) -> SqsError {
    match v {
        JVal::Array(_) | JVal::Object(_) => serialization(json_kind(v)),
        _ => serialization(format!("{} can not be converted to {want}", json_kind(v))),
    }
}

/// One JSON object (the request, or a batch entry) with the wire it came from.
pub(super) struct Obj<'a> {
    pub(super) map: &'a JObj<'a>,
    pub(super) wire: Wire,
}

impl<'a> Obj<'a> {
    pub(super) fn get(&self, name: &str) -> Option<&'a JVal<'a>> {
        match lookup(self.map, name) {
            None | Some(JVal::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub(super) fn str_opt(&self, name: &str) -> Result<Option<&'a str>, SqsError> {
        match self.get(name) {
            None => Ok(None),
            Some(JVal::String(s)) => Ok(Some(s.as_ref())),
            Some(v) => Err(type_error(v, "a String")),
        }
    }

    pub(super) fn string_opt(&self, name: &str) -> Result<Option<String>, SqsError> {
        Ok(self.str_opt(name)?.map(str::to_string))
    }

    pub(super) fn str_req(&self, name: &str) -> Result<&'a str, SqsError> {
        self.str_opt(name)?.ok_or_else(|| SqsError::missing(name))
    }

    /// A required string that must also be non-empty.
    pub(super) fn str_nonempty(&self, name: &str) -> Result<&'a str, SqsError> {
        match self.str_req(name)? {
            "" => Err(SqsError::missing(name)),
            s => Ok(s),
        }
    }

    pub(super) fn int_opt(&self, name: &str) -> Result<Option<i64>, SqsError> {
        match (self.get(name), self.wire) {
            (None, _) => Ok(None),
            (Some(JVal::Number(n)), _) => match n.as_i64() {
                Some(i) => Ok(Some(i)),
                None => Err(serialization(format!(
                    "NUMBER_VALUE {} can not be converted to an Integer",
                    clip(&n.to_string())
                ))),
            },
            (Some(JVal::String(s)), Wire::Query) => match s.trim().parse::<i64>() {
                Ok(i) => Ok(Some(i)),
                Err(_) => Err(SqsError::invalid_value(name, s, "Must be an integer.")),
            },
            (Some(v), _) => Err(type_error(v, "an Integer")),
        }
    }

    /// An optional integer in `min..=max`, else `InvalidParameterValue` with `reason`.
    pub(super) fn int_in(
        &self,
        name: &str,
        range: &RangeInclusive<u32>,
        text: RangeText,
    ) -> Result<Option<u32>, SqsError> {
        match self.int_opt(name)? {
            None => Ok(None),
            Some(v) => check_range(name, v, range, text).map(Some),
        }
    }

    pub(super) fn str_list(&self, name: &str) -> Result<Option<Vec<String>>, SqsError> {
        match self.get(name) {
            None => Ok(None),
            Some(JVal::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        JVal::String(s) => out.push(s.to_string()),
                        v => return Err(type_error(v, "a String")),
                    }
                }
                Ok(Some(out))
            }
            Some(v) => Err(type_error(v, "a List")),
        }
    }

    pub(super) fn str_map(&self, name: &str) -> Result<Option<AttrMap>, SqsError> {
        match self.get(name) {
            None => Ok(None),
            Some(JVal::Object(m)) => {
                let mut out = AttrMap::new();
                for (k, v) in members(m) {
                    match v {
                        JVal::String(s) => {
                            out.insert(k.to_string(), s.to_string());
                        }
                        v => return Err(type_error(v, "a String")),
                    }
                }
                Ok(Some(out))
            }
            Some(v) => Err(type_error(v, "a Map")),
        }
    }

    pub(super) fn objects(&self, name: &str) -> Result<Option<Vec<Obj<'a>>>, SqsError> {
        match self.get(name) {
            None => Ok(None),
            Some(JVal::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        JVal::Object(m) => out.push(Obj {
                            map: m,
                            wire: self.wire,
                        }),
                        v => return Err(type_error(v, "a Structure")),
                    }
                }
                Ok(Some(out))
            }
            Some(v) => Err(type_error(v, "a List")),
        }
    }

    pub(super) fn blob(&self, name: &str, text: &str) -> Result<Vec<u8>, SqsError> {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| match self.wire {
                Wire::Json => serialization(format!("{name} is not valid base64.")),
                Wire::Query => {
                    SqsError::invalid_value(name, text, "Must be a base64-encoded binary value.")
                }
            })
    }

    /// The raw (structurally checked, not yet validated) message attributes of `name`.
    pub(super) fn raw_attributes(&self, name: &str) -> Result<Vec<RawAttr>, SqsError> {
        let Some(v) = self.get(name) else {
            return Ok(Vec::new());
        };
        let JVal::Object(m) = v else {
            return Err(type_error(v, "a Map"));
        };
        let m = members(m);
        let mut out = Vec::with_capacity(m.len().min(MAX_MESSAGE_ATTRIBUTES + 1));
        for (attr_name, value) in m {
            let JVal::Object(fields) = value else {
                return Err(type_error(value, "a Structure"));
            };
            let f = Obj {
                map: fields,
                wire: self.wire,
            };
            let binary_value = match f.str_opt("BinaryValue")? {
                Some(text) => Some(f.blob("BinaryValue", text)?),
                None => None,
            };
            let has_lists = f
                .str_list("StringListValues")?
                .is_some_and(|l| !l.is_empty())
                || f.str_list("BinaryListValues")?
                    .is_some_and(|l| !l.is_empty());
            out.push(RawAttr {
                name: attr_name.to_string(),
                data_type: f.string_opt("DataType")?,
                string_value: f.string_opt("StringValue")?,
                binary_value,
                has_lists,
            });
        }
        Ok(out)
    }
}

/// How AWS words a value out of its range, per parameter; the bounds come from the
/// range checked, so each number is written once (in [`spool_model::limits`]).
#[derive(Debug, Clone, Copy)]
pub(super) enum RangeText {
    /// "Must be >= {min} and <= {max}, if provided."
    AtLeastAtMostIfProvided,
    /// "Must be between {min} and {max}, if provided."
    BetweenIfProvided,
    /// "Must be between {min} and {max}."
    Between,
    /// "{name} must be an integer between {min} and {max}."
    NamedIntegerBetween,
}

impl RangeText {
    fn reason(self, name: &str, range: &RangeInclusive<u32>) -> String {
        let (min, max) = (range.start(), range.end());
        match self {
            RangeText::AtLeastAtMostIfProvided => {
                format!("Must be >= {min} and <= {max}, if provided.")
            }
            RangeText::BetweenIfProvided => {
                format!("Must be between {min} and {max}, if provided.")
            }
            RangeText::Between => format!("Must be between {min} and {max}."),
            RangeText::NamedIntegerBetween => {
                format!("{name} must be an integer between {min} and {max}.")
            }
        }
    }
}

/// `v` as a `u32` if it lies in `range`, else InvalidParameterValue worded by `text`.
pub(super) fn check_range(
    name: &str,
    v: i64,
    range: &RangeInclusive<u32>,
    text: RangeText,
) -> Result<u32, SqsError> {
    match u32::try_from(v) {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(SqsError::invalid_value(
            name,
            &v.to_string(),
            &text.reason(name, range),
        )),
    }
}
