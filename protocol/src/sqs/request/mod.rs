//! SQS requests: wire detection, parsing of both wires into one typed [`SqsRequest`],
//! and every validation that needs no queue state.
//!
//! Wires. A request with `X-Amz-Target: AmazonSQS.<Action>` (or a `Content-Type` of
//! `application/x-amz-json-…`) is AWS JSON 1.0: a JSON object body with the model's
//! member names. Anything else is the query protocol: `Action=…&…` form parameters from
//! the query string and, unless the method is GET, from the body (body parameters win on
//! a clash), with flattened lists and maps (`AttributeName.1`, `Attribute.1.Name` /
//! `Attribute.1.Value`, `MessageAttribute.1.Value.StringValue`,
//! `SendMessageBatchRequestEntry.1.Id`, `Tag.1.Key`, `TagKey.1`, `AWSAccountId.1`,
//! `ActionName.1`, …). Query parameters are first rearranged into the JSON shape, so one
//! extractor serves both wires; query values are all text, so integers there are parsed
//! from text.
//!
//! Queue. Queue-scoped actions carry `queue_url`: the `QueueUrl` parameter, or, when it
//! is absent (older SDKs POST to the queue URL itself), the request path if it has the
//! shape `/<account>/<name>` or `/queue/<region>/<account>/<name>`. So `queue_url` may be a
//! full URL with any host, a bare path, or (as SQS accepts) a bare queue name;
//! [`super::url::queue_of_parameter`] reads all three.
//!
//! Empty lists: the query form writes an empty list as its bare member name with no value
//! (`Entries=`, `MessageAttributeNames=`); it reads as an empty list, as SQS reads it.
//!
//! Errors (the kinds AWS uses, see [`super::error`]):
//! - a body over [`MAX_HTTP_BODY`], or more than [`MAX_PARAMS`] parameters / JSON
//!   tokens: `InvalidParameterValue`, refused before parsing;
//! - JSON that does not parse, a body that is not an object, or a member of the wrong
//!   JSON type (a string where an integer belongs, invalid base64 in a blob):
//!   `SerializationException` (recorded from AWS: "STRING_VALUE can not be converted to
//!   an Integer"); in the query wire an unparsable integer or bad base64 is
//!   `InvalidParameterValue`;
//! - no or unknown target / `Action`: `InvalidAction` (query without `Action`:
//!   `MissingAction`); a query request sent to a queue URL path without `Action` is
//!   `UnknownOperation` (404), and one naming an action that is not served there
//!   (CreateQueue, ListQueues, the move tasks) `InvalidAction`, as AWS answers;
//! - a required parameter absent: `MissingParameter` (an empty `MessageBody` counts as
//!   absent, as in SQS);
//! - out-of-range numbers, bad names, bad message attributes: `InvalidParameterValue`
//!   with AWS's wording where recorded; body characters outside the XML set:
//!   `InvalidMessageContents`;
//! - batches: no entries `EmptyBatchRequest`, more than [`MAX_BATCH_ENTRIES`]
//!   `TooManyEntriesInBatchRequest`, an id that is not a valid batch entry id
//!   ([`is_valid_batch_id`]) `InvalidBatchEntryId`, a repeated id
//!   `BatchEntryIdsNotDistinct`, message bytes (bodies plus attributes) over
//!   [`MAX_MESSAGE_SIZE`] `BatchRequestTooLong`, and a missing `Id` or
//!   other required entry member `MissingParameter`, all failing the whole call. Problems
//!   with one entry's *values* (message contents, attributes, delay, ids of groups,
//!   visibility timeout range, empty receipt handle) are that entry's
//!   [`BatchEntry::result`] error, reported by the caller in the `Failed` list, as SQS does.
//!
//! Promises: never panics; bounded work and memory (see the module doc of
//! [`super`]); validation here is exactly what needs no queue state (queue attribute
//! names and values, receipt handle contents, FIFO rules and MaximumMessageSize are the
//! engine's).
//!
//! Layout: `types.rs` (the typed request), `wire.rs` (detecting and reading both wires
//! into one JSON-shaped object), `object.rs` (typed access to that object),
//! `validate.rs` (contents, attributes, batch structure) and `build.rs` (one typed
//! request per action). Limits and name rules are the SQS model's ([`spool_model`]),
//! named for this crate in [`crate::limits`] and re-exported here.

mod build;
mod object;
mod types;
mod validate;
mod wire;

#[cfg(test)]
mod tests;

pub use crate::limits::{
    is_valid_batch_id, MAX_ATTRIBUTE_NAME_LEN, MAX_BATCH_ENTRIES, MAX_BATCH_ID_LEN,
    MAX_DELAY_SECONDS, MAX_HTTP_BODY, MAX_ID_LEN, MAX_LABEL_LEN, MAX_LIST_RESULTS,
    MAX_MESSAGE_ATTRIBUTES, MAX_MESSAGE_SIZE, MAX_MOVE_RATE, MAX_MOVE_TASK_RESULTS, MAX_PARAMS,
    MAX_RECEIVE_MESSAGES, MAX_VISIBILITY_TIMEOUT, MAX_WAIT_TIME_SECONDS,
};
pub use types::{
    AttrMap, BatchEntry, FifoIdsGiven, HttpRequest, ReceiveMessageRequest, SendMessageEntry,
    SqsRequest, VisibilityChange, Wire,
};
pub use validate::{is_valid_number, is_xml_char, validate_attribute_name, validate_body};
pub use wire::detect_wire;

use super::error::SqsError;
use super::url;
use object::Obj;
use wire::{parse_json, parse_query, too_large};

/// Parses a request. On error, render it in [`detect_wire`]`(req)`.
pub fn parse(req: &HttpRequest<'_>) -> Result<(Wire, SqsRequest), SqsError> {
    let wire = detect_wire(req);
    if req.body.len() > MAX_HTTP_BODY {
        return Err(too_large("request body"));
    }
    if req.query.map_or(0, str::len) > MAX_HTTP_BODY {
        return Err(too_large("query string"));
    }
    let path = req.path.split(['?', '#']).next().unwrap_or("");
    let path_queue = url::queue_account_and_name(path).map(|_| path);
    let (action, map) = match wire {
        Wire::Json => parse_json(req)?,
        Wire::Query => parse_query(req, path_queue.is_some())?,
    };
    let o = Obj { map: &map, wire };
    let request = build::build(action, &o, path_queue)?;
    Ok((wire, request))
}
