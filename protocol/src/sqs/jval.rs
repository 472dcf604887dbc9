//! A JSON value for reading SQS requests: strings borrow from the request body where they
//! can (a string with escapes is decoded into an owned one) and objects are member lists.
//!
//! `serde_json::Value` allocates every key and string and builds a sorted map per object;
//! for a batch of ten sends that tree cost more than everything else the parser does.
//!
//! Promises: a [`JVal`] read from a body answers every question the request parser asks
//! exactly as a `serde_json::Value` read from the same body would: a member lookup finds
//! the last member of that name, and [`members`] lists an object's members in key order
//! with duplicates resolved the same way (the last wins). Numbers are `serde_json`'s.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// An object's members, in the order they came.
pub type JObj<'a> = Vec<(Cow<'a, str>, JVal<'a>)>;

#[derive(Debug, Clone, PartialEq)]
pub enum JVal<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Cow<'a, str>),
    Array(Vec<JVal<'a>>),
    Object(JObj<'a>),
}

impl<'a> JVal<'a> {
    /// A string value owned by itself (the query form builds these).
    pub fn string(s: impl Into<String>) -> JVal<'a> {
        JVal::String(Cow::Owned(s.into()))
    }
}

/// The value of member `name` (the last one, if repeated).
pub fn lookup<'o, 'a>(obj: &'o JObj<'a>, name: &str) -> Option<&'o JVal<'a>> {
    obj.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The members in key order, each key once (its last value), as a map would hold them.
pub fn members<'o, 'a>(obj: &'o JObj<'a>) -> Vec<(&'o str, &'o JVal<'a>)> {
    let mut out: Vec<(&str, &JVal<'a>)> = obj.iter().map(|(k, v)| (k.as_ref(), v)).collect();
    // Stable: among equal keys the last stays last, and that one is kept.
    out.sort_by(|a, b| a.0.cmp(b.0));
    let mut kept: Vec<(&str, &JVal<'a>)> = Vec::with_capacity(out.len());
    for m in out {
        match kept.last_mut() {
            Some(last) if last.0 == m.0 => *last = m,
            _ => kept.push(m),
        }
    }
    kept
}

impl<'de> Deserialize<'de> for JVal<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JValVisitor)
    }
}

struct JValVisitor;

impl<'de> Visitor<'de> for JValVisitor {
    type Value = JVal<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<JVal<'de>, E> {
        Ok(JVal::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<JVal<'de>, E> {
        Ok(JVal::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<JVal<'de>, E> {
        Ok(JVal::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<JVal<'de>, E> {
        // As serde_json's Value: a float it cannot hold (never from valid JSON) is null.
        Ok(serde_json::Number::from_f64(v).map_or(JVal::Null, JVal::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<JVal<'de>, E> {
        Ok(JVal::String(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<JVal<'de>, E> {
        Ok(JVal::String(Cow::Owned(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<JVal<'de>, E> {
        Ok(JVal::String(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<JVal<'de>, E> {
        Ok(JVal::Null)
    }

    fn visit_none<E>(self) -> Result<JVal<'de>, E> {
        Ok(JVal::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<JVal<'de>, D::Error> {
        JVal::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JVal<'de>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element::<JVal<'de>>()? {
            out.push(v);
        }
        Ok(JVal::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JVal<'de>, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(k) = map.next_key::<Key<'de>>()? {
            let v = map.next_value::<JVal<'de>>()?;
            out.push((k.0, v));
        }
        Ok(JVal::Object(out))
    }
}

/// An object key, borrowed when it has no escapes (serde's `Cow<str>` always copies).
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The same shape as serde_json's Value, with objects as sorted maps (last key wins).
    fn to_value(v: &JVal<'_>) -> Value {
        match v {
            JVal::Null => Value::Null,
            JVal::Bool(b) => Value::Bool(*b),
            JVal::Number(n) => Value::Number(n.clone()),
            JVal::String(s) => Value::String(s.to_string()),
            JVal::Array(a) => Value::Array(a.iter().map(to_value).collect()),
            JVal::Object(o) => Value::Object(
                members(o)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), to_value(v)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn reads_what_serde_json_reads() {
        let bodies = [
            r#"{"QueueUrl":"http://h/1/q","Entries":[{"Id":"a","MessageBody":"x\"y\u00e9\n"},{"Id":"b","MessageBody":"plain","DelaySeconds":5}]}"#,
            r#"{"b":1,"a":2,"b":3,"c":{"z":null,"y":[true,false,1.5,-7,18446744073709551615]}}"#,
            r#"{"k\"ey":"v","":"","nested":{"a":{"a":{"a":[]}}}}"#,
            r#"[1,"two",{"three":3}]"#,
            r#""just a string""#,
            "1e400",
        ];
        for body in bodies {
            let ours = serde_json::from_str::<JVal<'_>>(body).map(|v| to_value(&v));
            let theirs = serde_json::from_str::<Value>(body);
            match (ours, theirs) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{body}"),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("{body}: {a:?} vs {b:?}"),
            }
        }
    }

    #[test]
    fn plain_strings_borrow_and_escaped_ones_are_decoded() {
        let body = r#"{"plain":"abc","esc":"a\nb"}"#;
        let JVal::Object(o) = serde_json::from_str::<JVal<'_>>(body).unwrap() else {
            panic!("not an object");
        };
        assert!(matches!(&o[0].0, Cow::Borrowed("plain")));
        assert!(matches!(
            lookup(&o, "plain"),
            Some(JVal::String(Cow::Borrowed("abc")))
        ));
        assert_eq!(lookup(&o, "esc"), Some(&JVal::string("a\nb")));
        assert_eq!(lookup(&o, "missing"), None);
    }

    #[test]
    fn members_are_sorted_and_the_last_duplicate_wins() {
        let o: JObj<'_> = vec![
            ("b".into(), JVal::string("1")),
            ("a".into(), JVal::string("2")),
            ("b".into(), JVal::string("3")),
        ];
        let m = members(&o);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].0, m[1].0), ("a", "b"));
        assert_eq!(m[1].1, &JVal::string("3"));
        assert_eq!(lookup(&o, "b"), Some(&JVal::string("3")));
    }
}
