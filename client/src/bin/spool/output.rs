//! How `spool` prints things: message ids in UUID form, messages as text or JSON lines,
//! and the stats table. Pure functions of their inputs, so they are unit-tested here.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use spool_client::protocol::{AttributeValue, Message, MessageAttribute};

/// A 16-byte message id as a UUID string (8-4-4-4-12 lower-case hex), as SQS shows ids.
pub fn message_id(id: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in id.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A receipt handle as the CLI prints it, and `spool delete` takes it back: base64url
/// without padding (handles are bytes on the wire).
pub fn handle_text(h: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h)
}

/// [`handle_text`] reversed; None if the text is not base64url.
pub fn handle_bytes(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}

/// One received message as a JSON object (printed on one line). The body is given as
/// text (invalid UTF-8 replaced), plus `body_base64` with the exact bytes when it is not
/// valid UTF-8; the sequence number is a string because it can exceed JSON's safe integers.
pub fn message_json(m: &Message<'_>) -> Value {
    let mut o = Map::new();
    o.insert("message_id".into(), message_id(&m.message_id).into());
    o.insert(
        "receipt_handle".into(),
        handle_text(&m.receipt_handle).into(),
    );
    o.insert("body".into(), String::from_utf8_lossy(&m.body).into());
    if std::str::from_utf8(&m.body).is_err() {
        o.insert("body_base64".into(), B64.encode(&m.body).into());
    }
    o.insert("receive_count".into(), m.receive_count.into());
    o.insert("sent_ms".into(), m.sent_ms.into());
    o.insert("first_receive_ms".into(), m.first_receive_ms.into());
    o.insert("group_id".into(), m.group_id.as_deref().into());
    o.insert("dedup_id".into(), m.dedup_id.as_deref().into());
    o.insert(
        "sequence_number".into(),
        m.sequence_number.map(|n| n.to_string()).into(),
    );
    if let Some(src) = &m.dead_letter_source {
        o.insert("dead_letter_source".into(), src.as_ref().into());
    }
    o.insert("attributes".into(), attributes_json(&m.attributes));
    if !m.system_attributes.is_empty() {
        o.insert(
            "system_attributes".into(),
            attributes_json(&m.system_attributes),
        );
    }
    Value::Object(o)
}

/// `{name: {"data_type": .., "string_value" | "binary_value" (base64): ..}}`, SQS style.
fn attributes_json(attrs: &[MessageAttribute<'_>]) -> Value {
    let mut o = Map::new();
    for a in attrs {
        let v = match &a.value {
            AttributeValue::String(s) => json!({"data_type": a.data_type, "string_value": s}),
            AttributeValue::Binary(b) => {
                json!({"data_type": a.data_type, "binary_value": B64.encode(b)})
            }
        };
        o.insert(a.name.to_string(), v);
    }
    Value::Object(o)
}

/// A left-aligned first column and right-aligned numeric columns, two spaces apart.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i == 0 {
                let _ = write!(line, "{cell:<w$}");
            } else {
                let _ = write!(line, "  {cell:>w$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn uuid_form() {
        let id: [u8; 16] = std::array::from_fn(|i| i as u8 * 17);
        assert_eq!(message_id(&id), "00112233-4455-6677-8899-aabbccddeeff");
    }

    #[test]
    fn json_of_a_binary_body() {
        let m = Message {
            receipt_handle: Cow::Borrowed(b"rh1"),
            body: Cow::Borrowed(&[0xff, b'a']),
            receive_count: 2,
            sequence_number: Some(u128::MAX),
            attributes: vec![MessageAttribute {
                name: "k".into(),
                data_type: "String".into(),
                value: AttributeValue::String("v".into()),
            }],
            ..Default::default()
        };
        let v = message_json(&m);
        assert_eq!(v["receipt_handle"], "cmgx");
        assert_eq!(handle_bytes("cmgx").as_deref(), Some(&b"rh1"[..]));
        assert_eq!(
            handle_bytes("cmgx="),
            None,
            "padding is not part of the spelling"
        );
        assert_eq!(v["body"], "\u{fffd}a");
        assert_eq!(v["body_base64"], "/2E=");
        assert_eq!(v["receive_count"], 2);
        assert_eq!(v["group_id"], Value::Null);
        assert_eq!(v["sequence_number"], u128::MAX.to_string());
        assert_eq!(v["attributes"]["k"]["string_value"], "v");
        let text = message_json(&Message {
            body: Cow::Borrowed(b"ok"),
            ..Default::default()
        });
        assert_eq!(text["body"], "ok");
        assert!(text.get("body_base64").is_none());
    }

    #[test]
    fn table_aligns() {
        let t = table(
            &["QUEUE", "N"],
            &[
                vec!["a".into(), "10".into()],
                vec!["long-name".into(), "7".into()],
            ],
        );
        assert_eq!(t, "QUEUE       N\na          10\nlong-name   7\n");
    }
}
