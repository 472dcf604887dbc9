//! The binary protocol's values: [`Request`], [`Response`] and the pieces they carry.
//!
//! Strings and byte strings are `Cow`s: decoded values borrow the frame they came from,
//! values built by a caller may own their bytes. Field comments name each limit; the
//! codec (`encode.rs` / `decode.rs`) enforces them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::error::ErrorCode;
use crate::limits::*;

/// A string-to-string map (queue attributes, tags). Keys are unique on the wire.
pub type Map<'a> = BTreeMap<Cow<'a, str>, Cow<'a, str>>;

/// A message attribute (or message system attribute such as `AWSTraceHeader`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute<'a> {
    /// At most [`MAX_ATTRIBUTE_NAME_LEN`] bytes.
    pub name: Cow<'a, str>,
    /// `String`, `Number` or `Binary`, optionally with a `.label`; at most
    /// [`MAX_ATTRIBUTE_NAME_LEN`] bytes. The engine validates it.
    pub data_type: Cow<'a, str>,
    pub value: AttributeValue<'a>,
}

/// How an attribute value travels: UTF-8 text (String and Number types) or raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue<'a> {
    String(Cow<'a, str>),
    Binary(Cow<'a, [u8]>),
}

/// One message of a Send batch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendEntry<'a> {
    pub body: Cow<'a, [u8]>,
    /// At most [`MAX_MESSAGE_ATTRIBUTES`].
    pub attributes: Vec<MessageAttribute<'a>>,
    /// At most [`MAX_MESSAGE_ATTRIBUTES`].
    pub system_attributes: Vec<MessageAttribute<'a>>,
    /// Per-message delay in seconds; None = the queue's delay.
    pub delay_s: Option<u32>,
    pub group_id: Option<Cow<'a, str>>,
    pub dedup_id: Option<Cow<'a, str>>,
}

/// One entry of a ChangeVisibility batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityEntry<'a> {
    pub receipt_handle: Cow<'a, [u8]>,
    pub timeout_s: u32,
}

/// An error: of a whole request (the Error response) or of one batch entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError<'a> {
    pub code: ErrorCode,
    /// Human-readable; at most [`MAX_ERROR_MESSAGE_LEN`] bytes.
    pub message: Cow<'a, str>,
}

impl<'a> WireError<'a> {
    /// An error whose message is cut (on a char boundary) to the wire limit.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'a, str>>) -> Self {
        let mut message = message.into();
        if message.len() > MAX_ERROR_MESSAGE_LEN {
            let mut end = MAX_ERROR_MESSAGE_LEN;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.to_mut().truncate(end);
        }
        WireError { code, message }
    }
}

/// A successfully sent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOk {
    pub message_id: [u8; 16],
    /// FIFO queues only.
    pub sequence_number: Option<u128>,
    /// Dropped as a duplicate within the deduplication window (the id is the original's).
    pub duplicate: bool,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message<'a> {
    pub message_id: [u8; 16],
    /// Opaque; at most [`MAX_RECEIPT_HANDLE_LEN`] bytes.
    pub receipt_handle: Cow<'a, [u8]>,
    pub body: Cow<'a, [u8]>,
    pub attributes: Vec<MessageAttribute<'a>>,
    pub system_attributes: Vec<MessageAttribute<'a>>,
    pub receive_count: u32,
    pub sent_ms: u64,
    pub first_receive_ms: u64,
    pub group_id: Option<Cow<'a, str>>,
    pub dedup_id: Option<Cow<'a, str>>,
    pub sequence_number: Option<u128>,
    /// Name of the queue this message was dead-lettered from.
    pub dead_letter_source: Option<Cow<'a, str>>,
}

/// A request. See docs/protocol.md for each payload's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    Hello {
        min_version: u8,
        max_version: u8,
        api_key: Option<Cow<'a, [u8]>>,
    },
    Ping,
    CreateQueue {
        name: Cow<'a, str>,
        attributes: Map<'a>,
        tags: Map<'a>,
    },
    DeleteQueue {
        name: Cow<'a, str>,
    },
    GetQueue {
        name: Cow<'a, str>,
    },
    ListQueues {
        prefix: Cow<'a, str>,
        /// 0 = the server's default (1000).
        max_results: u16,
        next_token: Option<Cow<'a, str>>,
    },
    GetQueueAttributes {
        name: Cow<'a, str>,
        /// Empty or containing `All` = every attribute.
        attribute_names: Vec<Cow<'a, str>>,
    },
    SetQueueAttributes {
        name: Cow<'a, str>,
        attributes: Map<'a>,
    },
    PurgeQueue {
        name: Cow<'a, str>,
    },
    ListDeadLetterSourceQueues {
        name: Cow<'a, str>,
        max_results: u16,
        next_token: Option<Cow<'a, str>>,
    },
    Redrive {
        /// The dead-letter queue to move messages out of.
        source: Cow<'a, str>,
        /// None = back to each message's original queue.
        destination: Option<Cow<'a, str>>,
        max_messages: u32,
    },
    /// Adds or replaces tags (at most [`MAX_MAP_ENTRIES`] per request).
    TagQueue {
        name: Cow<'a, str>,
        tags: Map<'a>,
    },
    /// Removes the tags with these keys (absent keys are ignored).
    UntagQueue {
        name: Cow<'a, str>,
        keys: Vec<Cow<'a, str>>,
    },
    ListQueueTags {
        name: Cow<'a, str>,
    },
    Send {
        queue: Cow<'a, str>,
        entries: Vec<SendEntry<'a>>,
    },
    Receive {
        queue: Cow<'a, str>,
        max_messages: u32,
        /// None = the queue's VisibilityTimeout.
        visibility_timeout_s: Option<u32>,
        /// Long polling: wait up to this long for a first message.
        wait_time_ms: u32,
        /// Message attributes to return, with SQS MessageAttributeNames semantics: `All`
        /// or `.*` = all, `prefix.*` = by prefix, otherwise exact names.
        attribute_names: Vec<Cow<'a, str>>,
        /// Return message system attributes (`AWSTraceHeader`).
        system_attributes: bool,
    },
    Delete {
        queue: Cow<'a, str>,
        receipt_handles: Vec<Cow<'a, [u8]>>,
    },
    ChangeVisibility {
        queue: Cow<'a, str>,
        entries: Vec<VisibilityEntry<'a>>,
    },
}

/// A response. Per-entry results of a batch are in the order of the request's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response<'a> {
    Hello {
        version: u8,
        max_frame: u32,
        max_batch: u32,
        shard_count: u16,
    },
    Pong,
    QueueCreated {
        queue_id: u64,
        /// False when the queue already existed with the same attributes.
        created: bool,
    },
    QueueDeleted,
    Queue {
        queue_id: u64,
    },
    Queues {
        names: Vec<Cow<'a, str>>,
        next_token: Option<Cow<'a, str>>,
    },
    QueueAttributes {
        attributes: Map<'a>,
    },
    QueueAttributesSet,
    Purged,
    DeadLetterSourceQueues {
        names: Vec<Cow<'a, str>>,
        next_token: Option<Cow<'a, str>>,
    },
    Redriven {
        moved: u64,
    },
    QueueTagged,
    QueueUntagged,
    QueueTags {
        tags: Map<'a>,
    },
    Sent {
        results: Vec<Result<SendOk, WireError<'a>>>,
    },
    Received {
        messages: Vec<Message<'a>>,
    },
    Deleted {
        results: Vec<Result<(), WireError<'a>>>,
    },
    VisibilityChanged {
        results: Vec<Result<(), WireError<'a>>>,
    },
    Error(WireError<'a>),
}

impl<'a> Response<'a> {
    /// An Error response.
    pub fn error(code: ErrorCode, message: impl Into<Cow<'a, str>>) -> Self {
        Response::Error(WireError::new(code, message))
    }
}
