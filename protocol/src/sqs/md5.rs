//! The MD5 digests SQS returns and SDKs verify: `MD5OfMessageBody` / `MD5OfBody`,
//! `MD5OfMessageAttributes` and `MD5OfMessageSystemAttributes` (lower-case hex).
//!
//! Attribute algorithm (AWS SQS developer guide, "Calculating the MD5 message digest for
//! message attributes"): sort the attributes by name (byte order); for each append
//! `u32be(len(name)) name`, `u32be(len(data type)) data type` (the full type, custom
//! label included), one transport byte (1 for a text value, 2 for a binary value) and
//! `u32be(len(value)) value` (UTF-8 text or the raw decoded bytes); digest the whole.
//! The transport byte follows the value's representation ([`AttributeValue`]), which
//! request validation keeps consistent with the data type. Callers omit the digest when
//! there are no attributes (SQS does); over an empty list these return the MD5 of no
//! bytes.

use ::md5::{Digest, Md5};

use crate::message::{AttributeValue, MessageAttribute};

fn hex(digest: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(digest.len() * 2);
    for b in digest {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Hex MD5 of the body's UTF-8 bytes.
pub fn md5_of_body(body: &[u8]) -> String {
    hex(&Md5::digest(body))
}

fn put(h: &mut Md5, bytes: &[u8]) {
    // Lengths above u32::MAX cannot occur for validated input; saturate rather than panic.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    h.update(len.to_be_bytes());
    h.update(bytes);
}

/// `MD5OfMessageAttributes` of these attributes (any order).
pub fn md5_of_message_attributes(attrs: &[MessageAttribute<'_>]) -> String {
    let mut sorted: Vec<&MessageAttribute<'_>> = attrs.iter().collect();
    sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut h = Md5::new();
    for a in sorted {
        put(&mut h, a.name.as_bytes());
        put(&mut h, a.data_type.as_bytes());
        match &a.value {
            AttributeValue::String(s) => {
                h.update([1u8]);
                put(&mut h, s.as_bytes());
            }
            AttributeValue::Binary(b) => {
                h.update([2u8]);
                put(&mut h, b);
            }
        }
    }
    hex(&h.finalize())
}

/// `MD5OfMessageSystemAttributes`: the same algorithm over the system attributes
/// (`AWSTraceHeader`).
pub fn md5_of_message_system_attributes(attrs: &[MessageAttribute<'_>]) -> String {
    md5_of_message_attributes(attrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn s(name: &'static str, ty: &'static str, v: &'static str) -> MessageAttribute<'static> {
        MessageAttribute {
            name: Cow::Borrowed(name),
            data_type: Cow::Borrowed(ty),
            value: AttributeValue::String(Cow::Borrowed(v)),
        }
    }

    #[test]
    fn body_digest() {
        // RFC 1321 test suite.
        assert_eq!(md5_of_body(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_of_body(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        // Python: hashlib.md5('héllo <&>\r\n'.encode()).hexdigest()
        assert_eq!(
            md5_of_body("héllo <&>\r\n".as_bytes()),
            "f79ebebfd68680deba0271dedcaaa12b"
        );
    }

    /// Digests pinned by moto's SQS tests as what AWS returns.
    #[test]
    fn attribute_digest_moto_vectors() {
        for (name, value, digest) in [
            (
                "timestamp",
                "1493147359900",
                "235c5c510d26fb653d073faed50ae77c",
            ),
            (
                "timestamp",
                "1493147359901",
                "994258b45346a2cc3f9cbb611aa7af30",
            ),
            (
                "SOME_Valid.attribute-Name",
                "1493147359900",
                "36655e7e9d7c0e8479fa3f3f42247ae7",
            ),
        ] {
            assert_eq!(
                md5_of_message_attributes(&[s(name, "Number", value)]),
                digest
            );
        }
    }

    /// Expected value computed independently with Python's hashlib over the documented
    /// layout (names sorted by bytes, u32be lengths, transport 1/2).
    #[test]
    fn attribute_digest_mixed_types() {
        let attrs = [
            s("b", "String", "x"),
            s("a", "Number", "1"),
            MessageAttribute {
                name: Cow::Borrowed("bin"),
                data_type: Cow::Borrowed("Binary.png"),
                value: AttributeValue::Binary(Cow::Borrowed(&[0, 1, 2, 255])),
            },
            s("Z", "String.utf8", "héllo 😀"),
        ];
        assert_eq!(
            md5_of_message_attributes(&attrs),
            "0ae9102473acf265c23072d88d781f6d"
        );
        let trace = [s(
            "AWSTraceHeader",
            "String",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )];
        assert_eq!(
            md5_of_message_system_attributes(&trace),
            "5ae4d5d7636402d80f4eb6d213245a88"
        );
    }

    #[test]
    fn attribute_digest_is_order_independent() {
        let a = [s("b", "String", "x"), s("a", "Number", "1")];
        let b = [s("a", "Number", "1"), s("b", "String", "x")];
        assert_eq!(md5_of_message_attributes(&a), md5_of_message_attributes(&b));
        assert_ne!(
            md5_of_message_attributes(&a),
            md5_of_message_attributes(&a[..1])
        );
    }
}
