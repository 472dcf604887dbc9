//! Reading the two wires: detecting which one a request speaks, and turning its bytes
//! (an AWS JSON 1.0 body, or query/form parameters) into one JSON-shaped object that the
//! builders read. Query parameters are rearranged into the JSON shape here
//! (`Attribute.1.Name` → `Attributes`, `…RequestEntry.N.…` → `Entries`), so one extractor
//! serves both wires.
//!
//! Promise: no work or memory beyond a small multiple of the input: the body and query
//! string are capped at [`MAX_HTTP_BODY`] and the parameter / JSON token count at
//! [`MAX_PARAMS`] before anything is parsed.

use std::collections::BTreeMap;

use super::object::json_kind;
use super::types::{HttpRequest, Wire};
use crate::limits::{MAX_HTTP_BODY, MAX_PARAMS};
use crate::sqs::error::{clip, ErrorKind, SqsError};
use crate::sqs::jval::{JObj, JVal};
use crate::sqs::{Action, TARGET_PREFIX};

// ----- wire detection and the entry point -----------------------------------------------

/// The wire a request speaks: JSON when `X-Amz-Target` starts with `AmazonSQS.` or the
/// content type is `application/x-amz-json-*`, else query. Use it to render the error
/// when [`super::parse`] fails.
pub fn detect_wire(req: &HttpRequest<'_>) -> Wire {
    let target_json = req.target.is_some_and(|t| t.starts_with(TARGET_PREFIX));
    let ct_json = req.content_type.is_some_and(|c| {
        const JSON_PREFIX: &str = "application/x-amz-json";
        c.trim_start()
            .get(..JSON_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(JSON_PREFIX))
    });
    if target_json || ct_json {
        Wire::Json
    } else {
        Wire::Query
    }
}

pub(super) fn invalid_action(name: &str) -> SqsError {
    SqsError::new(
        ErrorKind::InvalidAction,
        format!("The action {} is not valid for this endpoint.", clip(name)),
    )
}

pub(super) fn too_large(what: &str) -> SqsError {
    SqsError::new(
        ErrorKind::InvalidParameterValue,
        format!("The {what} must be at most {MAX_HTTP_BODY} bytes."),
    )
}

pub(super) fn serialization(msg: impl Into<String>) -> SqsError {
    SqsError::new(ErrorKind::SerializationException, msg)
}

pub(super) fn parse_json<'a>(req: &HttpRequest<'a>) -> Result<(Action, JObj<'a>), SqsError> {
    let target = req.target.unwrap_or("");
    let action = target
        .strip_prefix(TARGET_PREFIX)
        .and_then(Action::from_name)
        .ok_or_else(|| invalid_action(target.strip_prefix(TARGET_PREFIX).unwrap_or(target)))?;
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok((action, Vec::new()));
    }
    // Every counted token is a byte of the body, so a body no longer than the bound cannot
    // exceed it (most requests: the scan is skipped).
    if req.body.len() > MAX_PARAMS && json_token_count(req.body) > MAX_PARAMS {
        return Err(SqsError::new(
            ErrorKind::InvalidParameterValue,
            format!("The request must have at most {MAX_PARAMS} JSON values."),
        ));
    }
    match serde_json::from_slice::<JVal<'a>>(req.body) {
        Ok(JVal::Object(m)) => Ok((action, m)),
        Ok(v) => Err(serialization(format!(
            "{} The request body must be a JSON object.",
            json_kind(&v)
        ))),
        Err(e) => Err(serialization(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

/// Counts `{ [ , :` outside strings: a bound on the number of JSON values.
pub(super) fn json_token_count(body: &[u8]) -> usize {
    let (mut n, mut in_str, mut esc) = (0usize, false, false);
    for &b in body {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            }
        } else {
            match b {
                b'"' => in_str = true,
                b'{' | b'[' | b',' | b':' => n += 1,
                _ => {}
            }
        }
    }
    n
}

/// Reads a query request. `at_queue_url`: it was sent to a queue URL's path, where a
/// request without `Action` is an unknown operation (404) and only the actions of
/// [`Action::valid_at_queue_url`] are served, as on AWS.
pub(super) fn parse_query(
    req: &HttpRequest<'_>,
    at_queue_url: bool,
) -> Result<(Action, JObj<'static>), SqsError> {
    let use_body = !req.method.eq_ignore_ascii_case("GET");
    let query = req.query.unwrap_or("").as_bytes();
    // A bound check over one request's query and body: not worth the bytecount crate.
    #[allow(clippy::naive_bytecount)]
    let count = |s: &[u8]| s.iter().filter(|&&b| b == b'&').count() + 1;
    if count(query) + if use_body { count(req.body) } else { 0 } > MAX_PARAMS {
        return Err(SqsError::new(
            ErrorKind::InvalidParameterValue,
            format!("The request must have at most {MAX_PARAMS} parameters."),
        ));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    if use_body {
        pairs.extend(
            form_urlencoded::parse(req.body).map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
    }
    pairs.extend(form_urlencoded::parse(query).map(|(k, v)| (k.into_owned(), v.into_owned())));
    let mut params: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in &pairs {
        params.entry(k.as_str()).or_insert(v.as_str());
    }
    let name = params.get("Action").copied().filter(|a| !a.is_empty());
    let name = match name {
        Some(n) => n,
        None if at_queue_url => return Err(SqsError::of(ErrorKind::UnknownOperation)),
        None => {
            return Err(SqsError::new(
                ErrorKind::MissingAction,
                "The request must contain the parameter Action.",
            ))
        }
    };
    let action = Action::from_name(name)
        .filter(|a| !at_queue_url || a.valid_at_queue_url())
        .ok_or_else(|| invalid_action(name))?;
    let map = query_to_json(&params, action, 0)?;
    Ok((action, map))
}

/// Rearranges flattened query parameters into the JSON request shape.
pub(super) fn query_to_json(
    params: &BTreeMap<&str, &str>,
    action: Action,
    depth: u8,
) -> Result<JObj<'static>, SqsError> {
    type Items<'a> = BTreeMap<u32, BTreeMap<&'a str, &'a str>>;
    let mut obj: JObj<'static> = Vec::new();
    let mut groups: BTreeMap<&str, Items<'_>> = BTreeMap::new();
    // Lists sent empty: SDKs write an empty list as its member name with no value
    // (botocore's query serializer: `Entries=`), which SQS reads as an empty list.
    let mut empty_lists: Vec<&str> = Vec::new();
    for (&k, &v) in params {
        match k.split_once('.') {
            None if v.is_empty() && depth == 0 && QUERY_LIST_MEMBERS.contains(&k) => {
                empty_lists.push(k);
            }
            None => {
                obj.push((k.to_string().into(), JVal::string(v)));
            }
            Some((head, tail)) => {
                let (idx, rest) = tail.split_once('.').unwrap_or((tail, ""));
                // Indices are positive decimal integers; other keys are ignored.
                let Ok(idx) = idx.parse::<u32>() else {
                    continue;
                };
                groups
                    .entry(head)
                    .or_default()
                    .entry(idx)
                    .or_default()
                    .insert(rest, v);
            }
        }
    }
    let entry_head = match action {
        Action::SendMessageBatch => "SendMessageBatchRequestEntry",
        Action::DeleteMessageBatch => "DeleteMessageBatchRequestEntry",
        Action::ChangeMessageVisibilityBatch => "ChangeMessageVisibilityBatchRequestEntry",
        _ => "",
    };
    for (head, items) in groups {
        let list = |items: &Items<'_>| {
            JVal::Array(
                items
                    .values()
                    .filter_map(|sub| sub.get("").map(|v| JVal::string(*v)))
                    .collect(),
            )
        };
        let (key, value) = match head {
            "Attribute" => ("Attributes", query_pairs(&items, head, "Name", "Value")?),
            "Tag" if action == Action::CreateQueue => {
                ("tags", query_pairs(&items, head, "Key", "Value")?)
            }
            "Tag" => ("Tags", query_pairs(&items, head, "Key", "Value")?),
            "AttributeName" => ("AttributeNames", list(&items)),
            "MessageSystemAttributeName" => ("MessageSystemAttributeNames", list(&items)),
            "MessageAttributeName" => ("MessageAttributeNames", list(&items)),
            "TagKey" => ("TagKeys", list(&items)),
            "AWSAccountId" => ("AWSAccountIds", list(&items)),
            "ActionName" => ("Actions", list(&items)),
            "MessageAttribute" => ("MessageAttributes", query_message_attributes(&items, head)?),
            "MessageSystemAttribute" => (
                "MessageSystemAttributes",
                query_message_attributes(&items, head)?,
            ),
            h if depth == 0 && !entry_head.is_empty() && h == entry_head => {
                let mut entries = Vec::with_capacity(items.len());
                for sub in items.values() {
                    entries.push(JVal::Object(query_to_json(sub, action, 1)?));
                }
                ("Entries", JVal::Array(entries))
            }
            _ => continue,
        };
        obj.push((key.into(), value));
    }
    for k in empty_lists {
        if !obj.iter().any(|(name, _)| name == k) {
            obj.push((k.to_string().into(), JVal::Array(Vec::new())));
        }
    }
    Ok(obj)
}

/// The list members of the requests (their JSON names, which the query form also uses
/// for a list sent empty).
const QUERY_LIST_MEMBERS: [&str; 7] = [
    "Entries",
    "AttributeNames",
    "MessageSystemAttributeNames",
    "MessageAttributeNames",
    "TagKeys",
    "AWSAccountIds",
    "Actions",
];

pub(super) fn query_pairs(
    items: &BTreeMap<u32, BTreeMap<&str, &str>>,
    head: &str,
    key: &str,
    value: &str,
) -> Result<JVal<'static>, SqsError> {
    let mut map: JObj<'static> = Vec::new();
    for (idx, sub) in items {
        let k = sub
            .get(key)
            .ok_or_else(|| SqsError::missing(&format!("{head}.{idx}.{key}")))?;
        let v = sub
            .get(value)
            .ok_or_else(|| SqsError::missing(&format!("{head}.{idx}.{value}")))?;
        map.push((k.to_string().into(), JVal::string(*v)));
    }
    Ok(JVal::Object(map))
}

pub(super) fn query_message_attributes(
    items: &BTreeMap<u32, BTreeMap<&str, &str>>,
    head: &str,
) -> Result<JVal<'static>, SqsError> {
    let mut map: JObj<'static> = Vec::new();
    for (idx, sub) in items {
        let name = sub
            .get("Name")
            .ok_or_else(|| SqsError::missing(&format!("{head}.{idx}.Name")))?;
        let mut value: JObj<'static> = Vec::new();
        let mut string_list = Vec::new();
        let mut binary_list = Vec::new();
        for (&k, &v) in sub {
            let Some(field) = k.strip_prefix("Value.") else {
                continue;
            };
            match field {
                "DataType" | "StringValue" | "BinaryValue" => {
                    value.push((field.to_string().into(), JVal::string(v)));
                }
                f if f.starts_with("StringListValue.") => string_list.push(JVal::string(v)),
                f if f.starts_with("BinaryListValue.") => binary_list.push(JVal::string(v)),
                _ => {}
            }
        }
        if !string_list.is_empty() {
            value.push(("StringListValues".into(), JVal::Array(string_list)));
        }
        if !binary_list.is_empty() {
            value.push(("BinaryListValues".into(), JVal::Array(binary_list)));
        }
        map.push((name.to_string().into(), JVal::Object(value)));
    }
    Ok(JVal::Object(map))
}
