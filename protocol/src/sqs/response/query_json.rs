//! The query protocol's JSON form: a query request that sends `Accept: application/json`
//! gets its reply as JSON instead of XML, as AWS's query front end answers it. The shape
//! is the XML document's, in JSON (recorded from AWS: LocalStack's AWS-validated tests
//! read `GetQueueAttributesResponse.GetQueueAttributesResult.Attributes[].Name`, and an
//! error's `Error.Code` and `Error.Message`):
//!
//! ```text
//! {"<Action>Response": {"<Action>Result": {…}, "ResponseMetadata": {"RequestId": "…"}}}
//! {"Error": {"Type": "Sender", "Code": "<query code>", "Message": "…"}, "RequestId": "…"}
//! ```
//!
//! Inside the result, members carry the model's names (`Attributes`, `Messages`,
//! `QueueUrls`, as in AWS JSON 1.0); maps are lists of `{"Name", "Value"}` entries
//! (`{"Key", "Value"}` for tags), as the XML writes them. Where AWS's exact JSON for a
//! member is not recorded, this is our choice (docs/sqs-compatibility.md).

use serde_json::{json, Map, Value};

use super::{to_json, SqsResponse};
use crate::sqs::error::SqsError;
use crate::sqs::{Action, HttpReply};

/// `Content-Type` of query replies in JSON.
pub const QUERY_JSON_CONTENT_TYPE: &str = "application/json";

/// Whether an `Accept` header asks for JSON (`application/json`, any parameters).
pub fn accepts_json(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|t| {
            t.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case(QUERY_JSON_CONTENT_TYPE))
        })
    })
}

/// A success reply of a query request, in JSON.
pub fn render_query_json(action: Action, resp: &SqsResponse, request_id: &str) -> HttpReply {
    let name = action.name();
    let mut inner = Map::new();
    if !matches!(resp, SqsResponse::Empty) {
        // The JSON 1.0 body is the result's members; only the maps change shape.
        let mut result: Value =
            serde_json::from_slice(&to_json(resp)).unwrap_or_else(|_| json!({}));
        maps_as_entries(&mut result);
        inner.insert(format!("{name}Result"), result);
    }
    inner.insert(
        "ResponseMetadata".into(),
        json!({ "RequestId": request_id }),
    );
    let body = json!({ format!("{name}Response"): Value::Object(inner) });
    HttpReply {
        status: 200,
        content_type: QUERY_JSON_CONTENT_TYPE,
        headers: vec![("x-amzn-RequestId", request_id.to_string())],
        body: body.to_string().into_bytes(),
    }
}

/// An error reply of a query request, in JSON.
pub fn render_query_json_error(err: &SqsError, request_id: &str) -> HttpReply {
    let kind = err.kind;
    let body = json!({
        "Error": {"Type": kind.fault(), "Code": kind.query_code(), "Message": err.query_message()},
        "RequestId": request_id,
    });
    HttpReply {
        status: kind.status(),
        content_type: QUERY_JSON_CONTENT_TYPE,
        headers: vec![("x-amzn-RequestId", request_id.to_string())],
        body: body.to_string().into_bytes(),
    }
}

/// Rewrites the map members of a JSON 1.0 result (`Attributes`, `MessageAttributes`,
/// `Tags`), wherever they are, as the lists of entries the query form writes.
fn maps_as_entries(v: &mut Value) {
    match v {
        Value::Object(members) => {
            for (k, m) in members.iter_mut() {
                let key = match k.as_str() {
                    "Attributes" | "MessageAttributes" => "Name",
                    "Tags" => "Key",
                    _ => {
                        maps_as_entries(m);
                        continue;
                    }
                };
                if let Value::Object(map) = m {
                    let entries = std::mem::take(map)
                        .into_iter()
                        .map(|(name, value)| json!({ key: name, "Value": value }))
                        .collect();
                    *m = Value::Array(entries);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(maps_as_entries),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::sqs::ErrorKind;

    #[test]
    fn accept_json_is_read_from_the_header() {
        assert!(accepts_json(Some("application/json")));
        assert!(accepts_json(Some("text/html, Application/JSON; q=0.9")));
        assert!(!accepts_json(Some("*/*")));
        assert!(!accepts_json(Some("application/x-amz-json-1.0")));
        assert!(!accepts_json(None));
    }

    #[test]
    fn attributes_are_name_value_entries_under_the_action_response() {
        let attributes = BTreeMap::from([("VisibilityTimeout".to_string(), "30".to_string())]);
        let r = render_query_json(
            Action::GetQueueAttributes,
            &SqsResponse::GetQueueAttributes { attributes },
            "rid",
        );
        assert_eq!(r.content_type, "application/json");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            json!({"GetQueueAttributesResponse": {
                "GetQueueAttributesResult": {"Attributes": [{"Name": "VisibilityTimeout", "Value": "30"}]},
                "ResponseMetadata": {"RequestId": "rid"},
            }})
        );
    }

    #[test]
    fn an_action_without_result_has_only_metadata() {
        let r = render_query_json(Action::DeleteQueue, &SqsResponse::Empty, "rid");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            json!({"DeleteQueueResponse": {"ResponseMetadata": {"RequestId": "rid"}}})
        );
    }

    #[test]
    fn errors_carry_the_query_code() {
        let e = SqsError::new(
            ErrorKind::InvalidAction,
            "The action ListQueues is not valid for this endpoint.",
        );
        let r = render_query_json_error(&e, "rid");
        assert_eq!(r.status, 400);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["Error"]["Code"], "InvalidAction");
        assert_eq!(v["Error"]["Type"], "Sender");
        assert_eq!(
            v["Error"]["Message"],
            "The action ListQueues is not valid for this endpoint."
        );
    }
}
