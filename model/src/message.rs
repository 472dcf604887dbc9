//! Rules for what a message may carry: message attribute names and data types, `Number`
//! values, the FIFO ids (`MessageGroupId`, `MessageDeduplicationId`,
//! `ReceiveRequestAttemptId`) and the one system attribute a sender may set.
//!
//! Predicates only: callers hold their own message types and report their own errors.
//! Every function is total.

use crate::limits::{
    BATCH_ENTRY_ID_MAX_CHARS, MESSAGE_ATTRIBUTE_DATA_TYPE_MAX_CHARS,
    MESSAGE_ATTRIBUTE_NAME_MAX_CHARS, MESSAGE_ID_PARAMETER_MAX_CHARS, NUMBER_ATTRIBUTE_MAX_DIGITS,
    PERMISSION_LABEL_MAX_CHARS,
};

/// The only message system attribute a sender may set (of data type `String`).
pub const AWS_TRACE_HEADER: &str = "AWSTraceHeader";

/// The X-Ray HTTP header (lower case, as HTTP header maps look names up): on a send it
/// becomes the message's [`AWS_TRACE_HEADER`] unless the message sets that attribute.
pub const TRACE_ID_HTTP_HEADER: &str = "x-amzn-trace-id";

/// Message system attribute names, exactly as SQS spells them: what a ReceiveMessage may
/// ask for (`MessageSystemAttributeNames`) and the daemon fills in.
pub mod system_names {
    pub use super::AWS_TRACE_HEADER;
    /// The sender's account id.
    pub const SENDER_ID: &str = "SenderId";
    /// When the message was sent (epoch milliseconds).
    pub const SENT_TIMESTAMP: &str = "SentTimestamp";
    /// How many times the message has been received.
    pub const APPROXIMATE_RECEIVE_COUNT: &str = "ApproximateReceiveCount";
    /// When the message was first received (epoch milliseconds).
    pub const APPROXIMATE_FIRST_RECEIVE_TIMESTAMP: &str = "ApproximateFirstReceiveTimestamp";
    /// The FIFO message group id.
    pub const MESSAGE_GROUP_ID: &str = "MessageGroupId";
    /// The FIFO deduplication id.
    pub const MESSAGE_DEDUPLICATION_ID: &str = "MessageDeduplicationId";
    /// The FIFO sequence number.
    pub const SEQUENCE_NUMBER: &str = "SequenceNumber";
    /// The ARN of the queue a dead-lettered message came from.
    pub const DEAD_LETTER_QUEUE_SOURCE_ARN: &str = "DeadLetterQueueSourceArn";
}

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

/// What is wrong with a message attribute name, in the order SQS checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeNameProblem {
    /// No characters.
    Empty,
    /// Longer than [`MESSAGE_ATTRIBUTE_NAME_MAX_CHARS`] bytes of UTF-8.
    TooLong,
    /// A character that is not a letter or digit (any script), `_`, `-` or `.`.
    BadCharacter,
    /// Starts with `AWS.` or `Amazon.` (any case), which AWS reserves.
    ReservedPrefix,
    /// Starts or ends with a period, or has two in a row.
    BadPeriod,
}

/// Checks a message attribute name: 1–256 bytes of letters and digits of any script
/// (Unicode alphanumerics: AWS accepts `attr.1øßä`), `_`, `-` and `.`; not starting with
/// `AWS.` or `Amazon.` (any case); no leading, trailing or double `.`. Reports the first
/// problem in SQS's order.
///
/// The length is counted in UTF-8 bytes, as AWS's error text words it ("must be shorter
/// than 256 bytes"), so a valid name also fits the binary protocol's field for it. For
/// the ASCII names almost every client sends, bytes are characters.
pub fn check_message_attribute_name(n: &str) -> Result<(), AttributeNameProblem> {
    if n.is_empty() {
        return Err(AttributeNameProblem::Empty);
    }
    if n.len() > MESSAGE_ATTRIBUTE_NAME_MAX_CHARS {
        return Err(AttributeNameProblem::TooLong);
    }
    if !n.chars().all(is_attribute_name_char) {
        return Err(AttributeNameProblem::BadCharacter);
    }
    let lower = n.to_ascii_lowercase();
    if lower.starts_with("aws.") || lower.starts_with("amazon.") {
        return Err(AttributeNameProblem::ReservedPrefix);
    }
    if n.starts_with('.') || n.ends_with('.') || n.contains("..") {
        return Err(AttributeNameProblem::BadPeriod);
    }
    Ok(())
}

/// A character a message attribute name may hold: a letter or digit of any script, or
/// one of `_`, `-`, `.` (so `§`, `!`, spaces and other punctuation are refused).
fn is_attribute_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Whether [`check_message_attribute_name`] finds nothing wrong.
pub fn is_valid_message_attribute_name(n: &str) -> bool {
    check_message_attribute_name(n).is_ok()
}

/// The `MessageAttributeNames` entries of a receive that select every attribute.
pub const ALL_MESSAGE_ATTRIBUTES: [&str; 3] = ["All", "*", ".*"];

/// Whether one `MessageAttributeNames` entry of a receive selects the attribute `name`:
/// `All`, `*` and `.*` select every one; `<prefix>.*` selects the names that start with
/// `<prefix>` (everything before the `.*`, so `Hel.*` selects `Hello` and `Help.Me`); any
/// other entry selects the name equal to it.
pub fn message_attribute_selected(pattern: &str, name: &str) -> bool {
    if ALL_MESSAGE_ATTRIBUTES.contains(&pattern) {
        return true;
    }
    match pattern.strip_suffix(".*") {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// A `MessageGroupId`, `MessageDeduplicationId` or `ReceiveRequestAttemptId`: 1–128
/// ASCII alphanumerics and punctuation (``!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~``), that is,
/// ASCII graphic characters.
pub fn is_valid_message_id_parameter(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MESSAGE_ID_PARAMETER_MAX_CHARS
        && s.bytes().all(|b| b.is_ascii_graphic())
}

/// A batch entry `Id`: 1–80 of `[A-Za-z0-9_-]`.
pub fn is_valid_batch_entry_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= BATCH_ENTRY_ID_MAX_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An AddPermission `Label`: 1–80 of `[A-Za-z0-9_-]`.
pub fn is_valid_permission_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= PERMISSION_LABEL_MAX_CHARS
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `c` may appear in a message body (the XML 1.0 characters): `#x9 | #xA | #xD |
/// #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF`; anything else is
/// InvalidMessageContents.
pub fn is_valid_body_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether every character of `s` [`is_valid_body_char`]. ASCII text (the common case) is
/// checked a byte at a time; anything else per char.
pub fn is_valid_body_text(s: &str) -> bool {
    let ascii_ok = |b: &u8| matches!(b, b'\t' | b'\n' | b'\r' | 0x20..=0x7f);
    s.as_bytes().iter().all(ascii_ok) || s.chars().all(is_valid_body_char)
}

/// Smallest magnitude of a non-zero `Number` attribute.
pub const NUMBER_ATTRIBUTE_MIN_MAGNITUDE: f64 = 1e-128;
/// Largest magnitude of a `Number` attribute.
pub const NUMBER_ATTRIBUTE_MAX_MAGNITUDE: f64 = 1e126;

/// Whether `s` is an SQS `Number`: decimal with optional sign, fraction and exponent, at
/// most 38 significant digits, magnitude 0 or within 10^-128..=10^126.
pub fn is_valid_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    // The digits of the mantissa, integer and fraction parts together.
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
    let Some(first) = digits.iter().position(|&d| d != b'0') else {
        return true; // zero
    };
    let last = digits.iter().rposition(|&d| d != b'0').unwrap_or(first);
    if last + 1 - first > NUMBER_ATTRIBUTE_MAX_DIGITS {
        return false;
    }
    match s.parse::<f64>() {
        Ok(v) => {
            v.is_finite()
                && (NUMBER_ATTRIBUTE_MIN_MAGNITUDE..=NUMBER_ATTRIBUTE_MAX_MAGNITUDE)
                    .contains(&v.abs())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_selection() {
        for (pattern, name, want) in [
            ("All", "x", true),
            ("*", "x", true),
            (".*", "x", true),
            ("Hel.*", "Hello", true),
            ("Hel.*", "Help.Me", true),
            ("Hel.*", "Hel", true),
            ("Hel.*", "Hi", false),
            ("Hel.*", "hello", false),
            ("foo.*", "foo.bar", true),
            ("x", "x", true),
            ("x", "xy", false),
            ("Hel*", "Hello", false),
        ] {
            assert_eq!(
                message_attribute_selected(pattern, name),
                want,
                "{pattern} {name}"
            );
        }
    }

    #[test]
    fn numbers() {
        for ok in [
            "1",
            "-1.5",
            "0.000",
            "1e10",
            "12345678901234567890123456789012345678",
        ] {
            assert!(is_valid_number(ok), "{ok}");
        }
        for bad in ["", "abc", "1..2", "1e", "--", "1e1234"] {
            assert!(!is_valid_number(bad), "{bad}");
        }
        // Significant digits and magnitude (AWS's rule).
        assert!(is_valid_number(
            "000123456789012345678901234567890123456780000"
        ));
        assert!(!is_valid_number("123456789012345678901234567890123456789"));
        assert!(is_valid_number("1e126") && !is_valid_number("1e127"));
        assert!(is_valid_number("1e-128") && !is_valid_number("1e-129"));
        assert!(is_valid_number("-0.0e999"));
    }

    #[test]
    fn attribute_names() {
        assert!(is_valid_message_attribute_name("a.b-c_d"));
        assert!(is_valid_message_attribute_name(&"a".repeat(256)));
        // Letters and digits of any script, as AWS accepts them.
        for ok in ["attr.1øßä", "名前", "Ωmega٣", "x.ÄÖÜ"] {
            assert!(is_valid_message_attribute_name(ok), "{ok}");
        }
        // 128 two-byte letters are 256 bytes; one more is over.
        assert!(is_valid_message_attribute_name(&"ø".repeat(128)));
        assert_eq!(
            check_message_attribute_name(&"ø".repeat(129)),
            Err(AttributeNameProblem::TooLong)
        );
        for bad in ["a§b", "a!b", "a\"b", "a(b", "a?b", "a b", "a\u{1F600}"] {
            assert_eq!(
                check_message_attribute_name(bad),
                Err(AttributeNameProblem::BadCharacter),
                "{bad}"
            );
        }
        for bad in [
            "",
            ".a",
            "a.",
            "a..b",
            "AWS.x",
            "amazon.y",
            "aWs.ø",
            ".ø",
            "ø..ß",
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
    fn batch_ids_labels_and_bodies() {
        assert!(is_valid_batch_entry_id("a-B_9") && is_valid_batch_entry_id(&"x".repeat(80)));
        for bad in ["", "a.b", "a b", &"x".repeat(81)] {
            assert!(!is_valid_batch_entry_id(bad), "{bad}");
        }
        assert!(is_valid_permission_label("allow-send_1"));
        assert!(!is_valid_permission_label("") && !is_valid_permission_label("a.b"));
        assert!(is_valid_body_text("hi\tthere\n\u{E000}\u{10000}"));
        for bad in ["\u{0}", "a\u{8}", "\u{FFFE}", "\u{1F}"] {
            assert!(!is_valid_body_text(bad), "{bad:?}");
        }
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
