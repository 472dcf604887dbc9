//! The Amazon SQS HTTP API codec (sans-IO): AWS JSON 1.0 and the legacy query/XML
//! protocol.
//!
//! This module owns the translation between HTTP requests/replies and typed SQS values;
//! it knows nothing of sockets, clocks, queues or storage. The HTTP layer hands
//! [`request::parse`] the method, path, query string, the `X-Amz-Target` and
//! `Content-Type` headers and the body, and gets back the [`Wire`] the client speaks and
//! a typed [`SqsRequest`]; it answers with [`response::render`] (a typed [`SqsResponse`])
//! or [`error::render_error`] (an [`SqsError`]), both returning an [`HttpReply`] to write
//! out as is. When `parse` fails, [`request::detect_wire`] says which wire to render the
//! error in.
//!
//! - [`request`]: wire detection, request parsing and every validation that needs no
//!   queue state (limits, batch structure, message contents, message attributes).
//! - [`response`]: success bodies, JSON and XML.
//! - [`error`]: [`ErrorKind`] (each kind's JSON `__type`, legacy query code, fault and
//!   HTTP status) and error bodies.
//! - [`md5`]: `MD5OfMessageBody` / `MD5OfMessageAttributes` / `MD5OfMessageSystemAttributes`.
//! - [`url`]: queue URL and ARN helpers.
//!
//! Promises: `parse` never panics on any input, refuses a body larger than
//! [`request::MAX_HTTP_BODY`] before looking at it, and allocates no more than a small
//! multiple of the input size; renderers never panic and always produce well-formed JSON
//! or XML (text that XML 1.0 cannot carry is replaced by U+FFFD). No unsafe code.

pub mod error;
mod jval;
pub mod md5;
pub mod request;
pub mod response;
pub mod url;

pub use error::{render_error, ErrorKind, SqsError};
pub use request::{
    detect_wire, parse, AttrMap, BatchEntry, FifoIdsGiven, HttpRequest, ReceiveMessageRequest,
    SendMessageEntry, SqsRequest, VisibilityChange, Wire,
};
pub use response::{
    accepts_json, render, render_query_json, render_query_json_error, BatchFailure, MoveTask,
    ReceivedSqsMessage, SendMessageBatchResultEntry, SendMessageResult, SqsResponse,
};

/// The XML namespace of every query-protocol response.
pub const XML_NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";
/// `Content-Type` of AWS JSON 1.0 requests and replies.
pub const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// `Content-Type` of query-protocol (XML) replies.
pub const XML_CONTENT_TYPE: &str = "text/xml";
/// The `X-Amz-Target` prefix of SQS JSON requests.
pub const TARGET_PREFIX: &str = "AmazonSQS.";

/// An HTTP reply, ready to write: status, `Content-Type`, extra headers (always
/// `x-amzn-RequestId`; for JSON errors also `x-amzn-query-error`) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// Other headers, in the order to write them.
    pub headers: Vec<(&'static str, String)>,
    /// The body, JSON or XML.
    pub body: Vec<u8>,
}

macro_rules! actions {
    ($($name:ident,)*) => {
        /// The 23 SQS actions (API version 2012-11-05).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                $name,
            )*
        }

        impl Action {
            /// Every action.
            pub const ALL: &'static [Action] = &[$(Action::$name,)*];

            /// The action's name as on the wire (`SendMessage`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Action::$name => stringify!($name),)*
                }
            }

            /// The action with this exact (case-sensitive) name.
            pub fn from_name(name: &str) -> Option<Action> {
                match name {
                    $(stringify!($name) => Some(Action::$name),)*
                    _ => None,
                }
            }
        }
    };
}

impl Action {
    /// Whether a query request sent to a queue URL (`/<account>/<queue>`) may name this
    /// action. AWS answers CreateQueue and ListQueues there with `InvalidAction` (recorded);
    /// the message move tasks, which name queues by ARN, are refused the same way (our
    /// choice). GetQueueUrl is served there, for any queue, as AWS serves it.
    pub fn valid_at_queue_url(self) -> bool {
        !matches!(
            self,
            Action::CreateQueue
                | Action::ListQueues
                | Action::StartMessageMoveTask
                | Action::ListMessageMoveTasks
                | Action::CancelMessageMoveTask
        )
    }
}

actions! {
    CreateQueue,
    DeleteQueue,
    GetQueueUrl,
    ListQueues,
    GetQueueAttributes,
    SetQueueAttributes,
    PurgeQueue,
    SendMessage,
    SendMessageBatch,
    ReceiveMessage,
    DeleteMessage,
    DeleteMessageBatch,
    ChangeMessageVisibility,
    ChangeMessageVisibilityBatch,
    TagQueue,
    UntagQueue,
    ListQueueTags,
    AddPermission,
    RemovePermission,
    ListDeadLetterSourceQueues,
    StartMessageMoveTask,
    ListMessageMoveTasks,
    CancelMessageMoveTask,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Writes XML text content with SQS's escaping: `&`, `<`, `>`, `"` as entities, `\r` as
/// `&#xD;` (XML parsers would otherwise normalise it away), and characters XML 1.0
/// cannot carry at all as U+FFFD.
pub(crate) fn xml_escape_into(out: &mut Vec<u8>, text: &str) {
    let mut buf = [0u8; 4];
    for c in text.chars() {
        match c {
            '&' => out.extend_from_slice(b"&amp;"),
            '<' => out.extend_from_slice(b"&lt;"),
            '>' => out.extend_from_slice(b"&gt;"),
            '"' => out.extend_from_slice(b"&quot;"),
            '\r' => out.extend_from_slice(b"&#xD;"),
            c if request::is_xml_char(c) => {
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            _ => out.extend_from_slice("\u{FFFD}".as_bytes()),
        }
    }
}

/// Appends `<name>escaped text</name>`.
pub(crate) fn xml_elem(out: &mut Vec<u8>, name: &str, text: &str) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
    xml_escape_into(out, text);
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

pub(crate) fn xml_open(out: &mut Vec<u8>, name: &str) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

pub(crate) fn xml_close(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.push(b'>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        assert_eq!(Action::ALL.len(), 23);
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(*a));
        }
        assert_eq!(Action::from_name("sendmessage"), None);
        assert_eq!(Action::from_name(""), None);
    }

    #[test]
    fn xml_escaping() {
        let mut out = Vec::new();
        xml_escape_into(&mut out, "a<b>&\"c'\r\n\u{1}é😀\u{FFFE}");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a&lt;b&gt;&amp;&quot;c'&#xD;\n\u{FFFD}é😀\u{FFFD}"
        );
    }
}
