//! Rules for what a message may carry: message attribute names and data types, `Number`
//! values, the FIFO ids (`MessageGroupId`, `MessageDeduplicationId`,
//! `ReceiveRequestAttemptId`) and the one system attribute a sender may set.
//!
//! Predicates only: callers hold their own message types and report their own errors.
//! Every function is total.

use crate::limits::{
    MESSAGE_ATTRIBUTE_DATA_TYPE_MAX_CHARS, MESSAGE_ATTRIBUTE_NAME_MAX_CHARS,
    MESSAGE_ID_PARAMETER_MAX_CHARS, NUMBER_ATTRIBUTE_MAX_DIGITS,
};

/// The only message system attribute a sender may set (of data type `String`).
pub const AWS_TRACE_HEADER: &str = "AWSTraceHeader";

/// The base data types of a message attribute (a data type may add `.label`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// `String` (or `String.label`): UTF-8 text.
    String,
    /// `Number` (or `Number.label`): a decimal number sent as text.
    Number,
    /// `Binary` (or `Binary.label`): bytes.
    Binary,
}

impl DataType {
    /// The base type of a full data type (`Number.float` → `Number`), if it is one of the
    /// three and within [`MESSAGE_ATTRIBUTE_DATA_TYPE_MAX_CHARS`].
    pub fn of(data_type: &str) -> Option<DataType> {
        if data_type.len() > MESSAGE_ATTRIBUTE_DATA_TYPE_MAX_CHARS {
            return None;
        }
        match data_type.split('.').next().unwrap_or("") {
            "String" => Some(DataType::String),
            "Number" => Some(DataType::Number),
            "Binary" => Some(DataType::Binary),
            _ => None,
        }
    }
}

/// A message attribute name: 1–256 of `[A-Za-z0-9_.-]`, no leading, trailing or double
/// `.`, and not starting with `AWS.` or `Amazon.` (any case), which AWS reserves.
pub fn is_valid_message_attribute_name(n: &str) -> bool {
    let lower = n.to_ascii_lowercase();
    !(n.is_empty()
        || n.len() > MESSAGE_ATTRIBUTE_NAME_MAX_CHARS
        || !n
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        || n.starts_with('.')
        || n.ends_with('.')
        || n.contains("..")
        || lower.starts_with("aws.")
        || lower.starts_with("amazon."))
}

/// A `MessageGroupId`, `MessageDeduplicationId` or `ReceiveRequestAttemptId`: 1–128
/// ASCII alphanumerics and punctuation (``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``).
pub fn is_valid_message_id_parameter(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MESSAGE_ID_PARAMETER_MAX_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b.is_ascii_punctuation())
}

/// A `Number` attribute value: optional sign, up to 38 significant digits with at most
/// one decimal point, optional exponent of up to 3 digits.
pub fn is_sqs_number(s: &str) -> bool {
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
    // One more than the limit: a leading zero ("0.5") is not significant.
    mant_ok && exp_ok && digits <= NUMBER_ATTRIBUTE_MAX_DIGITS + 1
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
        assert!(is_valid_message_attribute_name("a.b-c_d"));
        assert!(is_valid_message_attribute_name(&"a".repeat(256)));
        for bad in [
            "",
            ".a",
            "a.",
            "a..b",
            "AWS.x",
            "amazon.y",
            "a b",
            &"a".repeat(257),
        ] {
            assert!(!is_valid_message_attribute_name(bad), "{bad}");
        }
    }

    #[test]
    fn data_types() {
        assert_eq!(DataType::of("String"), Some(DataType::String));
        assert_eq!(DataType::of("Number.float"), Some(DataType::Number));
        assert_eq!(DataType::of("Binary.x"), Some(DataType::Binary));
        assert_eq!(DataType::of("string"), None);
        assert_eq!(DataType::of(""), None);
        assert_eq!(DataType::of(&format!("String.{}", "x".repeat(250))), None);
    }

    #[test]
    fn id_parameters() {
        assert!(is_valid_message_id_parameter("g-1!~"));
        assert!(is_valid_message_id_parameter(&"x".repeat(128)));
        for bad in ["", "a b", "é", &"x".repeat(129)] {
            assert!(!is_valid_message_id_parameter(bad), "{bad}");
        }
    }
}
