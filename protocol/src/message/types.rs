//! The binary protocol's values: [`Request`], [`Response`] and the pieces they carry.
//!
//! Strings and byte strings are `Cow`s: decoded values borrow the frame they came from,
//! values built by a caller may own their bytes. Field comments name each limit; the
//! codec (`encode.rs` / `decode.rs`) enforces them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::error::ErrorCode;
use crate::limits::MAX_ERROR_MESSAGE_LEN;

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
    /// The value, as text or bytes.
    pub value: AttributeValue<'a>,
}

impl MessageAttribute<'_> {
    /// Its size as SQS counts it against the message size limit: name, data type and
    /// value.
    pub fn size(&self) -> usize {
        self.name.len()
            + self.data_type.len()
            + match &self.value {
                AttributeValue::String(s) => s.len(),
                AttributeValue::Binary(b) => b.len(),
            }
    }

    /// The sizes of `attrs` added up.
    pub fn total_size(attrs: &[MessageAttribute<'_>]) -> usize {
        attrs.iter().map(MessageAttribute::size).sum()
    }
}

/// How an attribute value travels: UTF-8 text (String and Number types) or raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue<'a> {
    /// Text: the value of a `String` or `Number` attribute.
    String(Cow<'a, str>),
    /// Bytes: the value of a `Binary` attribute.
    Binary(Cow<'a, [u8]>),
}

/// One message of a Send batch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendEntry<'a> {
    /// The message body (the engine checks its size and contents).
    pub body: Cow<'a, [u8]>,
    /// At most [`MAX_MESSAGE_ATTRIBUTES`].
    pub attributes: Vec<MessageAttribute<'a>>,
    /// At most [`MAX_MESSAGE_ATTRIBUTES`].
    pub system_attributes: Vec<MessageAttribute<'a>>,
    /// Per-message delay in seconds; None = the queue's delay.
    pub delay_s: Option<u32>,
    /// Message group id (FIFO queues); at most [`MAX_ID_LEN`] bytes.
    pub group_id: Option<Cow<'a, str>>,
    /// Deduplication id (FIFO queues); at most [`MAX_ID_LEN`] bytes.
    pub dedup_id: Option<Cow<'a, str>>,
}

/// One entry of a ChangeVisibility batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityEntry<'a> {
    /// The handle of the receive to change; at most [`MAX_RECEIPT_HANDLE_LEN`] bytes.
    pub receipt_handle: Cow<'a, [u8]>,
    /// The new visibility timeout, in seconds from now (0 = visible now).
    pub timeout_s: u32,
}

/// An error: of a whole request (the Error response) or of one batch entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError<'a> {
    /// The stable error code.
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
    /// The message's id.
    pub message_id: [u8; 16],
    /// FIFO queues only.
    pub sequence_number: Option<u128>,
    /// Dropped as a duplicate within the deduplication window (the id is the original's).
    pub duplicate: bool,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message<'a> {
    /// The message's id, as Send returned it.
    pub message_id: [u8; 16],
    /// Opaque; at most [`MAX_RECEIPT_HANDLE_LEN`] bytes.
    pub receipt_handle: Cow<'a, [u8]>,
    /// The message body.
    pub body: Cow<'a, [u8]>,
    /// The message attributes the receive asked for.
    pub attributes: Vec<MessageAttribute<'a>>,
    /// The message system attributes, if the receive asked for them.
    pub system_attributes: Vec<MessageAttribute<'a>>,
    /// Times received, this receive included (ApproximateReceiveCount).
    pub receive_count: u32,
    /// When it was sent, in ms since the Unix epoch.
    pub sent_ms: u64,
    /// When it was first received, in ms since the Unix epoch.
    pub first_receive_ms: u64,
    /// Message group id (FIFO queues).
    pub group_id: Option<Cow<'a, str>>,
    /// Deduplication id (FIFO queues).
    pub dedup_id: Option<Cow<'a, str>>,
    /// Sequence number (FIFO queues).
    pub sequence_number: Option<u128>,
    /// Name of the queue this message was dead-lettered from.
    pub dead_letter_source: Option<Cow<'a, str>>,
}

/// A request. See docs/protocol.md for each payload's layout. Queue names are valid
/// ([`crate::is_valid_queue_name`]) once decoded, and are checked again when encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// The handshake, the first request on a connection.
    Hello {
        /// The oldest protocol version the client speaks.
        min_version: u8,
        /// The newest protocol version the client speaks.
        max_version: u8,
        /// The API key, if the client has one; at most [`MAX_API_KEY_LEN`] bytes.
        api_key: Option<Cow<'a, [u8]>>,
    },
    /// A round trip with empty payloads.
    Ping,
    /// Creates a queue, or confirms one exists with the same attributes.
    CreateQueue {
        /// The queue's name.
        name: Cow<'a, str>,
        /// Queue attributes by SQS name (the engine checks names and values).
        attributes: Map<'a>,
        /// Tags to set on a new queue.
        tags: Map<'a>,
    },
    /// Deletes a queue and its messages.
    DeleteQueue {
        /// The queue's name.
        name: Cow<'a, str>,
    },
    /// Looks a queue up by name.
    GetQueue {
        /// The queue's name.
        name: Cow<'a, str>,
    },
    /// Lists queue names that start with a prefix, a page at a time.
    ListQueues {
        /// The prefix (may be empty); at most [`MAX_QUEUE_NAME_LEN`] bytes.
        prefix: Cow<'a, str>,
        /// 0 = the server's default (`LIST_RESULTS_MAX` of [`spool_model::limits`]).
        max_results: u16,
        /// The token of the page to return, from an earlier reply.
        next_token: Option<Cow<'a, str>>,
    },
    /// Reads queue attributes.
    GetQueueAttributes {
        /// The queue's name.
        name: Cow<'a, str>,
        /// Empty or containing `All` = every attribute.
        attribute_names: Vec<Cow<'a, str>>,
    },
    /// Changes queue attributes (all or none).
    SetQueueAttributes {
        /// The queue's name.
        name: Cow<'a, str>,
        /// Queue attributes by SQS name.
        attributes: Map<'a>,
    },
    /// Deletes every message of a queue.
    PurgeQueue {
        /// The queue's name.
        name: Cow<'a, str>,
    },
    /// Lists the queues whose dead-letter queue this is, a page at a time.
    ListDeadLetterSourceQueues {
        /// The dead-letter queue's name.
        name: Cow<'a, str>,
        /// 0 = the server's default (`LIST_RESULTS_MAX` of [`spool_model::limits`]).
        max_results: u16,
        /// The token of the page to return, from an earlier reply.
        next_token: Option<Cow<'a, str>>,
    },
    /// Moves messages out of a dead-letter queue.
    Redrive {
        /// The dead-letter queue to move messages out of.
        source: Cow<'a, str>,
        /// None = back to each message's original queue.
        destination: Option<Cow<'a, str>>,
        /// Most messages to move.
        max_messages: u32,
    },
    /// Adds or replaces tags (at most [`MAX_MAP_ENTRIES`] per request).
    TagQueue {
        /// The queue's name.
        name: Cow<'a, str>,
        /// The tags to set.
        tags: Map<'a>,
    },
    /// Removes the tags with these keys (absent keys are ignored).
    UntagQueue {
        /// The queue's name.
        name: Cow<'a, str>,
        /// The tag keys to remove.
        keys: Vec<Cow<'a, str>>,
    },
    /// Reads a queue's tags.
    ListQueueTags {
        /// The queue's name.
        name: Cow<'a, str>,
    },
    /// Sends a batch of 1 to [`MAX_BATCH`] messages.
    Send {
        /// The queue's name.
        queue: Cow<'a, str>,
        /// The messages, answered in this order.
        entries: Vec<SendEntry<'a>>,
    },
    /// Receives messages, optionally waiting for the first (long polling).
    Receive {
        /// The queue's name.
        queue: Cow<'a, str>,
        /// Most messages to return; at most [`MAX_BATCH`].
        max_messages: u32,
        /// None = the queue's VisibilityTimeout.
        visibility_timeout_s: Option<u32>,
        /// Long polling: wait up to this long for a first message.
        wait_time_ms: u32,
        /// Message attributes to return, with SQS MessageAttributeNames semantics: `All`
        /// or `.*` = all, `prefix.*` = names starting with `prefix`, otherwise exact names.
        attribute_names: Vec<Cow<'a, str>>,
        /// Return message system attributes (`AWSTraceHeader`).
        system_attributes: bool,
    },
    /// Deletes received messages by receipt handle (1 to [`MAX_BATCH`]).
    Delete {
        /// The queue's name.
        queue: Cow<'a, str>,
        /// Each at most [`MAX_RECEIPT_HANDLE_LEN`] bytes; answered in this order.
        receipt_handles: Vec<Cow<'a, [u8]>>,
    },
    /// Changes received messages' visibility timeouts (1 to [`MAX_BATCH`]).
    ChangeVisibility {
        /// The queue's name.
        queue: Cow<'a, str>,
        /// The changes, answered in this order.
        entries: Vec<VisibilityEntry<'a>>,
    },
}

/// A response. Per-entry results of a batch are in the order of the request's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response<'a> {
    /// The handshake's answer: the version chosen and the server's limits.
    Hello {
        /// The protocol version both sides now speak.
        version: u8,
        /// Largest frame the server accepts, in bytes, length field included.
        max_frame: u32,
        /// Most entries the server accepts in one batch.
        max_batch: u32,
        /// The server's number of shards.
        shard_count: u16,
    },
    /// Answers Ping.
    Pong,
    /// Answers CreateQueue.
    QueueCreated {
        /// The queue's id.
        queue_id: u64,
        /// False when the queue already existed with the same attributes.
        created: bool,
    },
    /// Answers DeleteQueue.
    QueueDeleted,
    /// Answers GetQueue.
    Queue {
        /// The queue's id.
        queue_id: u64,
    },
    /// Answers ListQueues: one page of names.
    Queues {
        /// Queue names, in order.
        names: Vec<Cow<'a, str>>,
        /// Present when more names follow: pass it to get the next page.
        next_token: Option<Cow<'a, str>>,
    },
    /// Answers GetQueueAttributes.
    QueueAttributes {
        /// The attributes asked for, by SQS name, values as decimal or text strings.
        attributes: Map<'a>,
    },
    /// Answers SetQueueAttributes.
    QueueAttributesSet,
    /// Answers PurgeQueue.
    Purged,
    /// Answers ListDeadLetterSourceQueues: one page of names.
    DeadLetterSourceQueues {
        /// Queue names, in order.
        names: Vec<Cow<'a, str>>,
        /// Present when more names follow: pass it to get the next page.
        next_token: Option<Cow<'a, str>>,
    },
    /// Answers Redrive.
    Redriven {
        /// Messages moved.
        moved: u64,
    },
    /// Answers TagQueue.
    QueueTagged,
    /// Answers UntagQueue.
    QueueUntagged,
    /// Answers ListQueueTags.
    QueueTags {
        /// The queue's tags.
        tags: Map<'a>,
    },
    /// Answers Send.
    Sent {
        /// One result per entry.
        results: Vec<Result<SendOk, WireError<'a>>>,
    },
    /// Answers Receive.
    Received {
        /// The messages received (possibly none).
        messages: Vec<Message<'a>>,
    },
    /// Answers Delete.
    Deleted {
        /// One result per receipt handle.
        results: Vec<Result<(), WireError<'a>>>,
    },
    /// Answers ChangeVisibility.
    VisibilityChanged {
        /// One result per entry.
        results: Vec<Result<(), WireError<'a>>>,
    },
    /// The request failed as a whole.
    Error(WireError<'a>),
}

impl<'a> Response<'a> {
    /// An Error response.
    pub fn error(code: ErrorCode, message: impl Into<Cow<'a, str>>) -> Self {
        Response::Error(WireError::new(code, message))
    }
}
