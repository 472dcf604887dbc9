//! Requests and responses: opcodes, the Rust types, and their payload codecs.
//!
//! Promise: `decode(opcode, payload)` accepts exactly what `encode` produces for values
//! within the limits, consumes the payload exactly (trailing bytes are an error), never
//! panics, and never reserves more than the payload could hold. Decoded strings and byte
//! strings are `Cow::Borrowed` slices of the payload (zero copy, bodies included); values
//! built by a caller may use `Cow::Owned`. `encode` checks the same limits and leaves
//! `out` unchanged when it refuses a value. Layouts are in docs/protocol.md.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::error::{ErrorCode, ProtocolError};
use crate::frame::{encode_frame, Frame};
use crate::wire::{Reader, Result, Writer};
use crate::*;

/// A string-to-string map (queue attributes, tags). Keys are unique on the wire.
pub type Map<'a> = BTreeMap<Cow<'a, str>, Cow<'a, str>>;

/// Request opcodes. The response to a request has opcode `request | 0x80`; an Error
/// response has opcode `0xFF`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    Hello = 0x01,
    Ping = 0x02,
    CreateQueue = 0x10,
    DeleteQueue = 0x11,
    GetQueue = 0x12,
    ListQueues = 0x13,
    GetQueueAttributes = 0x14,
    SetQueueAttributes = 0x15,
    PurgeQueue = 0x16,
    ListDeadLetterSourceQueues = 0x17,
    Redrive = 0x18,
    TagQueue = 0x19,
    UntagQueue = 0x1A,
    ListQueueTags = 0x1B,
    Send = 0x20,
    Receive = 0x21,
    Delete = 0x22,
    ChangeVisibility = 0x23,
}

/// Bit set on a request opcode to form its response opcode.
pub const RESPONSE_BIT: u8 = 0x80;
/// Opcode of the Error response.
pub const ERROR_OPCODE: u8 = 0xFF;

impl Opcode {
    pub const ALL: &'static [Opcode] = &[
        Opcode::Hello,
        Opcode::Ping,
        Opcode::CreateQueue,
        Opcode::DeleteQueue,
        Opcode::GetQueue,
        Opcode::ListQueues,
        Opcode::GetQueueAttributes,
        Opcode::SetQueueAttributes,
        Opcode::PurgeQueue,
        Opcode::ListDeadLetterSourceQueues,
        Opcode::Redrive,
        Opcode::TagQueue,
        Opcode::UntagQueue,
        Opcode::ListQueueTags,
        Opcode::Send,
        Opcode::Receive,
        Opcode::Delete,
        Opcode::ChangeVisibility,
    ];

    /// The opcode's name as the spec spells it.
    pub fn name(self) -> &'static str {
        match self {
            Opcode::Hello => "Hello",
            Opcode::Ping => "Ping",
            Opcode::CreateQueue => "CreateQueue",
            Opcode::DeleteQueue => "DeleteQueue",
            Opcode::GetQueue => "GetQueue",
            Opcode::ListQueues => "ListQueues",
            Opcode::GetQueueAttributes => "GetQueueAttributes",
            Opcode::SetQueueAttributes => "SetQueueAttributes",
            Opcode::PurgeQueue => "PurgeQueue",
            Opcode::ListDeadLetterSourceQueues => "ListDeadLetterSourceQueues",
            Opcode::Redrive => "Redrive",
            Opcode::TagQueue => "TagQueue",
            Opcode::UntagQueue => "UntagQueue",
            Opcode::ListQueueTags => "ListQueueTags",
            Opcode::Send => "Send",
            Opcode::Receive => "Receive",
            Opcode::Delete => "Delete",
            Opcode::ChangeVisibility => "ChangeVisibility",
        }
    }

    pub fn from_u8(v: u8) -> Option<Opcode> {
        Opcode::ALL.iter().copied().find(|o| *o as u8 == v)
    }

    /// The opcode of this request's (non-error) response.
    pub fn response(self) -> u8 {
        self as u8 | RESPONSE_BIT
    }
}

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

// ----- shared pieces --------------------------------------------------------------------

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// 1 to 80 bytes of `[A-Za-z0-9_-]`, optionally followed by `.fifo`.
pub fn is_valid_queue_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    !base.is_empty() && name.len() <= MAX_QUEUE_NAME_LEN && base.bytes().all(is_name_byte)
}

fn read_queue<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Cow<'a, str>> {
    let name = r.str16(MAX_QUEUE_NAME_LEN, what)?;
    if !is_valid_queue_name(&name) {
        return Err(ProtocolError::InvalidQueueName(what));
    }
    Ok(name)
}

fn write_queue(w: &mut Writer<'_>, name: &str, what: &'static str) -> Result<()> {
    if !is_valid_queue_name(name) {
        return Err(ProtocolError::InvalidQueueName(what));
    }
    w.str16(name, MAX_QUEUE_NAME_LEN, what)
}

fn read_map<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Map<'a>> {
    let n = r.count16(MAX_MAP_ENTRIES, what)?;
    let mut m = Map::new();
    for _ in 0..n {
        let k = r.str16(MAX_ATTRIBUTE_NAME_LEN, what)?;
        let v = r.str32(MAX_MAP_VALUE_LEN, what)?;
        if m.insert(k, v).is_some() {
            return Err(ProtocolError::DuplicateKey(what));
        }
    }
    Ok(m)
}

fn write_map(w: &mut Writer<'_>, m: &Map<'_>, what: &'static str) -> Result<()> {
    w.count16(m.len(), MAX_MAP_ENTRIES, what)?;
    for (k, v) in m {
        w.str16(k, MAX_ATTRIBUTE_NAME_LEN, what)?;
        w.str32(v, MAX_MAP_VALUE_LEN, what)?;
    }
    Ok(())
}

fn read_names<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Vec<Cow<'a, str>>> {
    let n = r.count8(MAX_ATTRIBUTE_NAMES, what)?;
    let mut v = Vec::with_capacity(r.capacity(n, 2));
    for _ in 0..n {
        v.push(r.str16(MAX_ATTRIBUTE_NAME_LEN, what)?);
    }
    Ok(v)
}

fn write_names(w: &mut Writer<'_>, v: &[Cow<'_, str>], what: &'static str) -> Result<()> {
    w.count8(v.len(), MAX_ATTRIBUTE_NAMES, what)?;
    for s in v {
        w.str16(s, MAX_ATTRIBUTE_NAME_LEN, what)?;
    }
    Ok(())
}

/// A page of queue names and the token of the next page.
type QueuePage<'a> = (Vec<Cow<'a, str>>, Option<Cow<'a, str>>);

fn read_queue_list<'a>(r: &mut Reader<'a>) -> Result<QueuePage<'a>> {
    let n = r.batch(MAX_BATCH, false, "queue names")?;
    let mut names = Vec::with_capacity(r.capacity(n, 2));
    for _ in 0..n {
        names.push(read_queue(r, "queue names")?);
    }
    let token = r.opt("next token", |r| r.str16(MAX_NEXT_TOKEN_LEN, "next token"))?;
    Ok((names, token))
}

fn write_queue_list(
    w: &mut Writer<'_>,
    names: &[Cow<'_, str>],
    token: &Option<Cow<'_, str>>,
) -> Result<()> {
    w.batch(names.len(), MAX_BATCH, false, "queue names")?;
    for n in names {
        write_queue(w, n, "queue names")?;
    }
    w.opt(token.as_deref(), |w, t| {
        w.str16(t, MAX_NEXT_TOKEN_LEN, "next token")
    })
}

fn read_id<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Option<Cow<'a, str>>> {
    r.opt(what, |r| r.str16(MAX_ID_LEN, what))
}

fn write_id(w: &mut Writer<'_>, v: &Option<Cow<'_, str>>, what: &'static str) -> Result<()> {
    w.opt(v.as_deref(), |w, s| w.str16(s, MAX_ID_LEN, what))
}

const TRANSPORT_STRING: u8 = 1;
const TRANSPORT_BINARY: u8 = 2;

fn read_attrs<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Vec<MessageAttribute<'a>>> {
    let n = r.count8(MAX_MESSAGE_ATTRIBUTES, what)?;
    let mut v = Vec::with_capacity(r.capacity(n, 9));
    for _ in 0..n {
        let name = r.str16(MAX_ATTRIBUTE_NAME_LEN, "attribute name")?;
        let data_type = r.str16(MAX_ATTRIBUTE_NAME_LEN, "attribute data type")?;
        let value = match r.u8("attribute transport")? {
            TRANSPORT_STRING => AttributeValue::String(r.str32(usize::MAX, "attribute value")?),
            TRANSPORT_BINARY => AttributeValue::Binary(r.bytes32(usize::MAX, "attribute value")?),
            t => {
                return Err(ProtocolError::InvalidValue {
                    what: "attribute transport",
                    value: t as u64,
                })
            }
        };
        v.push(MessageAttribute {
            name,
            data_type,
            value,
        });
    }
    Ok(v)
}

fn write_attrs(w: &mut Writer<'_>, v: &[MessageAttribute<'_>], what: &'static str) -> Result<()> {
    w.count8(v.len(), MAX_MESSAGE_ATTRIBUTES, what)?;
    for a in v {
        w.str16(&a.name, MAX_ATTRIBUTE_NAME_LEN, "attribute name")?;
        w.str16(&a.data_type, MAX_ATTRIBUTE_NAME_LEN, "attribute data type")?;
        match &a.value {
            AttributeValue::String(s) => {
                w.u8(TRANSPORT_STRING);
                w.str32(s, usize::MAX, "attribute value")?;
            }
            AttributeValue::Binary(b) => {
                w.u8(TRANSPORT_BINARY);
                w.bytes32(b, usize::MAX, "attribute value")?;
            }
        }
    }
    Ok(())
}

fn read_error<'a>(r: &mut Reader<'a>) -> Result<WireError<'a>> {
    let code = ErrorCode::from_u16(r.u16("error code")?);
    let message = r.str16(MAX_ERROR_MESSAGE_LEN, "error message")?;
    Ok(WireError { code, message })
}

fn write_error(w: &mut Writer<'_>, e: &WireError<'_>) -> Result<()> {
    w.u16(e.code.as_u16());
    w.str16(&e.message, MAX_ERROR_MESSAGE_LEN, "error message")
}

const STATUS_OK: u8 = 0;
const STATUS_ERROR: u8 = 1;

fn read_results<'a, T>(
    r: &mut Reader<'a>,
    what: &'static str,
    mut ok: impl FnMut(&mut Reader<'a>) -> Result<T>,
) -> Result<Vec<Result<T, WireError<'a>>>> {
    let n = r.batch(MAX_BATCH, false, what)?;
    let mut v = Vec::with_capacity(r.capacity(n, 1));
    for _ in 0..n {
        match r.u8("entry status")? {
            STATUS_OK => v.push(Ok(ok(r)?)),
            STATUS_ERROR => v.push(Err(read_error(r)?)),
            s => {
                return Err(ProtocolError::InvalidValue {
                    what: "entry status",
                    value: s as u64,
                })
            }
        }
    }
    Ok(v)
}

fn write_results<T>(
    w: &mut Writer<'_>,
    v: &[Result<T, WireError<'_>>],
    what: &'static str,
    mut ok: impl FnMut(&mut Writer<'_>, &T) -> Result<()>,
) -> Result<()> {
    w.batch(v.len(), MAX_BATCH, false, what)?;
    for e in v {
        match e {
            Ok(x) => {
                w.u8(STATUS_OK);
                ok(w, x)?;
            }
            Err(e) => {
                w.u8(STATUS_ERROR);
                write_error(w, e)?;
            }
        }
    }
    Ok(())
}

fn read_send_entry<'a>(r: &mut Reader<'a>) -> Result<SendEntry<'a>> {
    Ok(SendEntry {
        body: r.bytes32(usize::MAX, "message body")?,
        attributes: read_attrs(r, "message attributes")?,
        system_attributes: read_attrs(r, "message system attributes")?,
        delay_s: r.opt("delay", |r| r.u32("delay"))?,
        group_id: read_id(r, "message group id")?,
        dedup_id: read_id(r, "deduplication id")?,
    })
}

fn write_send_entry(w: &mut Writer<'_>, e: &SendEntry<'_>) -> Result<()> {
    w.bytes32(&e.body, usize::MAX, "message body")?;
    write_attrs(w, &e.attributes, "message attributes")?;
    write_attrs(w, &e.system_attributes, "message system attributes")?;
    w.opt(e.delay_s, |w, d| {
        w.u32(d);
        Ok(())
    })?;
    write_id(w, &e.group_id, "message group id")?;
    write_id(w, &e.dedup_id, "deduplication id")
}

fn read_message<'a>(r: &mut Reader<'a>) -> Result<Message<'a>> {
    Ok(Message {
        message_id: r.id16("message id")?,
        receipt_handle: r.bytes16(MAX_RECEIPT_HANDLE_LEN, "receipt handle")?,
        body: r.bytes32(usize::MAX, "message body")?,
        attributes: read_attrs(r, "message attributes")?,
        system_attributes: read_attrs(r, "message system attributes")?,
        receive_count: r.u32("receive count")?,
        sent_ms: r.u64("sent timestamp")?,
        first_receive_ms: r.u64("first receive timestamp")?,
        group_id: read_id(r, "message group id")?,
        dedup_id: read_id(r, "deduplication id")?,
        sequence_number: r.opt("sequence number", |r| r.u128("sequence number"))?,
        dead_letter_source: r.opt("dead-letter source", |r| {
            read_queue(r, "dead-letter source")
        })?,
    })
}

fn write_message(w: &mut Writer<'_>, m: &Message<'_>) -> Result<()> {
    w.raw(&m.message_id);
    w.bytes16(&m.receipt_handle, MAX_RECEIPT_HANDLE_LEN, "receipt handle")?;
    w.bytes32(&m.body, usize::MAX, "message body")?;
    write_attrs(w, &m.attributes, "message attributes")?;
    write_attrs(w, &m.system_attributes, "message system attributes")?;
    w.u32(m.receive_count);
    w.u64(m.sent_ms);
    w.u64(m.first_receive_ms);
    write_id(w, &m.group_id, "message group id")?;
    write_id(w, &m.dedup_id, "deduplication id")?;
    w.opt(m.sequence_number, |w, s| {
        w.u128(s);
        Ok(())
    })?;
    w.opt(m.dead_letter_source.as_deref(), |w, s| {
        write_queue(w, s, "dead-letter source")
    })
}

/// Minimum wire bytes of entries, for bounding reservations.
const MIN_SEND_ENTRY: usize = 9;
const MIN_HANDLE: usize = 2;
const MIN_VISIBILITY_ENTRY: usize = 6;
const MIN_MESSAGE: usize = 48;

const RECEIVE_FLAG_SYSTEM_ATTRIBUTES: u8 = 1;

// ----- requests -------------------------------------------------------------------------

impl<'a> Request<'a> {
    pub fn opcode(&self) -> Opcode {
        match self {
            Request::Hello { .. } => Opcode::Hello,
            Request::Ping => Opcode::Ping,
            Request::CreateQueue { .. } => Opcode::CreateQueue,
            Request::DeleteQueue { .. } => Opcode::DeleteQueue,
            Request::GetQueue { .. } => Opcode::GetQueue,
            Request::ListQueues { .. } => Opcode::ListQueues,
            Request::GetQueueAttributes { .. } => Opcode::GetQueueAttributes,
            Request::SetQueueAttributes { .. } => Opcode::SetQueueAttributes,
            Request::PurgeQueue { .. } => Opcode::PurgeQueue,
            Request::ListDeadLetterSourceQueues { .. } => Opcode::ListDeadLetterSourceQueues,
            Request::Redrive { .. } => Opcode::Redrive,
            Request::TagQueue { .. } => Opcode::TagQueue,
            Request::UntagQueue { .. } => Opcode::UntagQueue,
            Request::ListQueueTags { .. } => Opcode::ListQueueTags,
            Request::Send { .. } => Opcode::Send,
            Request::Receive { .. } => Opcode::Receive,
            Request::Delete { .. } => Opcode::Delete,
            Request::ChangeVisibility { .. } => Opcode::ChangeVisibility,
        }
    }

    /// Appends this request as a whole frame (current version, flags 0) to `out`. Fails,
    /// leaving `out` as it was, if a value breaks a limit of the protocol.
    pub fn encode(&self, request_id: u64, out: &mut Vec<u8>) -> Result<()> {
        encode_frame(out, self.opcode() as u8, request_id, |w| {
            self.encode_payload(w)
        })
    }

    /// Checks the request against every limit the codec enforces (counts, lengths), as
    /// [`Request::encode`] would, without encoding it: for requests built in process
    /// (the SQS API's) that reach a shard without crossing the wire.
    pub fn check_limits(&self) -> Result<()> {
        self.encode_payload(&mut Writer { out: None })
    }

    /// Decodes a request frame's payload.
    pub fn from_frame(frame: &Frame<'a>) -> Result<Request<'a>> {
        Request::decode(frame.opcode, frame.payload)
    }

    /// Decodes the payload of a request with opcode `opcode`.
    pub fn decode(opcode: u8, payload: &'a [u8]) -> Result<Request<'a>> {
        let op = Opcode::from_u8(opcode).ok_or(ProtocolError::UnknownOpcode(opcode))?;
        let mut r = Reader::new(payload);
        let r = &mut r;
        let req = match op {
            Opcode::Hello => Request::Hello {
                min_version: r.u8("min version")?,
                max_version: r.u8("max version")?,
                api_key: r.opt("api key", |r| r.bytes16(MAX_API_KEY_LEN, "api key"))?,
            },
            Opcode::Ping => Request::Ping,
            Opcode::CreateQueue => Request::CreateQueue {
                name: read_queue(r, "queue name")?,
                attributes: read_map(r, "queue attributes")?,
                tags: read_map(r, "queue tags")?,
            },
            Opcode::DeleteQueue => Request::DeleteQueue {
                name: read_queue(r, "queue name")?,
            },
            Opcode::GetQueue => Request::GetQueue {
                name: read_queue(r, "queue name")?,
            },
            Opcode::ListQueues => Request::ListQueues {
                prefix: r.str16(MAX_QUEUE_NAME_LEN, "queue name prefix")?,
                max_results: r.u16("max results")?,
                next_token: r.opt("next token", |r| r.str16(MAX_NEXT_TOKEN_LEN, "next token"))?,
            },
            Opcode::GetQueueAttributes => Request::GetQueueAttributes {
                name: read_queue(r, "queue name")?,
                attribute_names: read_names(r, "attribute names")?,
            },
            Opcode::SetQueueAttributes => Request::SetQueueAttributes {
                name: read_queue(r, "queue name")?,
                attributes: read_map(r, "queue attributes")?,
            },
            Opcode::PurgeQueue => Request::PurgeQueue {
                name: read_queue(r, "queue name")?,
            },
            Opcode::ListDeadLetterSourceQueues => Request::ListDeadLetterSourceQueues {
                name: read_queue(r, "queue name")?,
                max_results: r.u16("max results")?,
                next_token: r.opt("next token", |r| r.str16(MAX_NEXT_TOKEN_LEN, "next token"))?,
            },
            Opcode::Redrive => Request::Redrive {
                source: read_queue(r, "source queue")?,
                destination: r.opt("destination queue", |r| read_queue(r, "destination queue"))?,
                max_messages: r.u32("max messages")?,
            },
            Opcode::TagQueue => Request::TagQueue {
                name: read_queue(r, "queue name")?,
                tags: read_map(r, "queue tags")?,
            },
            Opcode::UntagQueue => Request::UntagQueue {
                name: read_queue(r, "queue name")?,
                keys: read_names(r, "tag keys")?,
            },
            Opcode::ListQueueTags => Request::ListQueueTags {
                name: read_queue(r, "queue name")?,
            },
            Opcode::Send => {
                let queue = read_queue(r, "queue name")?;
                let n = r.batch(MAX_BATCH, true, "send entries")?;
                let mut entries = Vec::with_capacity(r.capacity(n, MIN_SEND_ENTRY));
                for _ in 0..n {
                    entries.push(read_send_entry(r)?);
                }
                Request::Send { queue, entries }
            }
            Opcode::Receive => {
                let queue = read_queue(r, "queue name")?;
                let max_messages = r.u32("max messages")?;
                if max_messages as usize > MAX_BATCH {
                    return Err(ProtocolError::BatchTooLarge {
                        count: max_messages as usize,
                        max: MAX_BATCH,
                    });
                }
                let visibility_timeout_s =
                    r.opt("visibility timeout", |r| r.u32("visibility timeout"))?;
                let wait_time_ms = r.u32("wait time")?;
                let flags = r.u8("receive flags")?;
                if flags & !RECEIVE_FLAG_SYSTEM_ATTRIBUTES != 0 {
                    return Err(ProtocolError::InvalidValue {
                        what: "receive flags",
                        value: flags as u64,
                    });
                }
                Request::Receive {
                    queue,
                    max_messages,
                    visibility_timeout_s,
                    wait_time_ms,
                    system_attributes: flags & RECEIVE_FLAG_SYSTEM_ATTRIBUTES != 0,
                    attribute_names: read_names(r, "message attribute names")?,
                }
            }
            Opcode::Delete => {
                let queue = read_queue(r, "queue name")?;
                let n = r.batch(MAX_BATCH, true, "receipt handles")?;
                let mut receipt_handles = Vec::with_capacity(r.capacity(n, MIN_HANDLE));
                for _ in 0..n {
                    receipt_handles.push(r.bytes16(MAX_RECEIPT_HANDLE_LEN, "receipt handle")?);
                }
                Request::Delete {
                    queue,
                    receipt_handles,
                }
            }
            Opcode::ChangeVisibility => {
                let queue = read_queue(r, "queue name")?;
                let n = r.batch(MAX_BATCH, true, "visibility entries")?;
                let mut entries = Vec::with_capacity(r.capacity(n, MIN_VISIBILITY_ENTRY));
                for _ in 0..n {
                    entries.push(VisibilityEntry {
                        receipt_handle: r.bytes16(MAX_RECEIPT_HANDLE_LEN, "receipt handle")?,
                        timeout_s: r.u32("visibility timeout")?,
                    });
                }
                Request::ChangeVisibility { queue, entries }
            }
        };
        r.finish()?;
        Ok(req)
    }

    fn encode_payload(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            Request::Hello {
                min_version,
                max_version,
                api_key,
            } => {
                w.u8(*min_version);
                w.u8(*max_version);
                w.opt(api_key.as_deref(), |w, k| {
                    w.bytes16(k, MAX_API_KEY_LEN, "api key")
                })
            }
            Request::Ping => Ok(()),
            Request::CreateQueue {
                name,
                attributes,
                tags,
            } => {
                write_queue(w, name, "queue name")?;
                write_map(w, attributes, "queue attributes")?;
                write_map(w, tags, "queue tags")
            }
            Request::DeleteQueue { name }
            | Request::GetQueue { name }
            | Request::PurgeQueue { name }
            | Request::ListQueueTags { name } => write_queue(w, name, "queue name"),
            Request::TagQueue { name, tags } => {
                write_queue(w, name, "queue name")?;
                write_map(w, tags, "queue tags")
            }
            Request::UntagQueue { name, keys } => {
                write_queue(w, name, "queue name")?;
                write_names(w, keys, "tag keys")
            }
            Request::ListQueues {
                prefix,
                max_results,
                next_token,
            } => {
                w.str16(prefix, MAX_QUEUE_NAME_LEN, "queue name prefix")?;
                w.u16(*max_results);
                w.opt(next_token.as_deref(), |w, t| {
                    w.str16(t, MAX_NEXT_TOKEN_LEN, "next token")
                })
            }
            Request::GetQueueAttributes {
                name,
                attribute_names,
            } => {
                write_queue(w, name, "queue name")?;
                write_names(w, attribute_names, "attribute names")
            }
            Request::SetQueueAttributes { name, attributes } => {
                write_queue(w, name, "queue name")?;
                write_map(w, attributes, "queue attributes")
            }
            Request::ListDeadLetterSourceQueues {
                name,
                max_results,
                next_token,
            } => {
                write_queue(w, name, "queue name")?;
                w.u16(*max_results);
                w.opt(next_token.as_deref(), |w, t| {
                    w.str16(t, MAX_NEXT_TOKEN_LEN, "next token")
                })
            }
            Request::Redrive {
                source,
                destination,
                max_messages,
            } => {
                write_queue(w, source, "source queue")?;
                w.opt(destination.as_deref(), |w, d| {
                    write_queue(w, d, "destination queue")
                })?;
                w.u32(*max_messages);
                Ok(())
            }
            Request::Send { queue, entries } => {
                write_queue(w, queue, "queue name")?;
                w.batch(entries.len(), MAX_BATCH, true, "send entries")?;
                entries.iter().try_for_each(|e| write_send_entry(w, e))
            }
            Request::Receive {
                queue,
                max_messages,
                visibility_timeout_s,
                wait_time_ms,
                attribute_names,
                system_attributes,
            } => {
                write_queue(w, queue, "queue name")?;
                if *max_messages as usize > MAX_BATCH {
                    return Err(ProtocolError::BatchTooLarge {
                        count: *max_messages as usize,
                        max: MAX_BATCH,
                    });
                }
                w.u32(*max_messages);
                w.opt(*visibility_timeout_s, |w, v| {
                    w.u32(v);
                    Ok(())
                })?;
                w.u32(*wait_time_ms);
                w.u8(if *system_attributes {
                    RECEIVE_FLAG_SYSTEM_ATTRIBUTES
                } else {
                    0
                });
                write_names(w, attribute_names, "message attribute names")
            }
            Request::Delete {
                queue,
                receipt_handles,
            } => {
                write_queue(w, queue, "queue name")?;
                w.batch(receipt_handles.len(), MAX_BATCH, true, "receipt handles")?;
                receipt_handles
                    .iter()
                    .try_for_each(|h| w.bytes16(h, MAX_RECEIPT_HANDLE_LEN, "receipt handle"))
            }
            Request::ChangeVisibility { queue, entries } => {
                write_queue(w, queue, "queue name")?;
                w.batch(entries.len(), MAX_BATCH, true, "visibility entries")?;
                entries.iter().try_for_each(|e| {
                    w.bytes16(&e.receipt_handle, MAX_RECEIPT_HANDLE_LEN, "receipt handle")?;
                    w.u32(e.timeout_s);
                    Ok(())
                })
            }
        }
    }
}

// ----- responses ------------------------------------------------------------------------

impl<'a> Response<'a> {
    /// The wire opcode: the request's opcode | 0x80, or 0xFF for Error.
    pub fn opcode(&self) -> u8 {
        let op = match self {
            Response::Hello { .. } => Opcode::Hello,
            Response::Pong => Opcode::Ping,
            Response::QueueCreated { .. } => Opcode::CreateQueue,
            Response::QueueDeleted => Opcode::DeleteQueue,
            Response::Queue { .. } => Opcode::GetQueue,
            Response::Queues { .. } => Opcode::ListQueues,
            Response::QueueAttributes { .. } => Opcode::GetQueueAttributes,
            Response::QueueAttributesSet => Opcode::SetQueueAttributes,
            Response::Purged => Opcode::PurgeQueue,
            Response::DeadLetterSourceQueues { .. } => Opcode::ListDeadLetterSourceQueues,
            Response::Redriven { .. } => Opcode::Redrive,
            Response::QueueTagged => Opcode::TagQueue,
            Response::QueueUntagged => Opcode::UntagQueue,
            Response::QueueTags { .. } => Opcode::ListQueueTags,
            Response::Sent { .. } => Opcode::Send,
            Response::Received { .. } => Opcode::Receive,
            Response::Deleted { .. } => Opcode::Delete,
            Response::VisibilityChanged { .. } => Opcode::ChangeVisibility,
            Response::Error(_) => return ERROR_OPCODE,
        };
        op.response()
    }

    /// An Error response.
    pub fn error(code: ErrorCode, message: impl Into<Cow<'a, str>>) -> Self {
        Response::Error(WireError::new(code, message))
    }

    /// Appends this response as a whole frame answering `request_id` to `out`. Fails,
    /// leaving `out` as it was, if a value breaks a limit of the protocol. The caller
    /// keeps the frame within the peer's max frame (e.g. by receiving fewer messages).
    pub fn encode(&self, request_id: u64, out: &mut Vec<u8>) -> Result<()> {
        encode_frame(out, self.opcode(), request_id, |w| self.encode_payload(w))
    }

    /// Decodes a response frame's payload.
    pub fn from_frame(frame: &Frame<'a>) -> Result<Response<'a>> {
        Response::decode(frame.opcode, frame.payload)
    }

    /// Decodes the payload of a response with opcode `opcode`.
    pub fn decode(opcode: u8, payload: &'a [u8]) -> Result<Response<'a>> {
        let mut r = Reader::new(payload);
        let r = &mut r;
        if opcode == ERROR_OPCODE {
            let e = read_error(r)?;
            r.finish()?;
            return Ok(Response::Error(e));
        }
        let op = (opcode & RESPONSE_BIT != 0)
            .then(|| Opcode::from_u8(opcode & !RESPONSE_BIT))
            .flatten()
            .ok_or(ProtocolError::UnknownOpcode(opcode))?;
        let resp = match op {
            Opcode::Hello => Response::Hello {
                version: r.u8("version")?,
                max_frame: r.u32("max frame")?,
                max_batch: r.u32("max batch")?,
                shard_count: r.u16("shard count")?,
            },
            Opcode::Ping => Response::Pong,
            Opcode::CreateQueue => Response::QueueCreated {
                queue_id: r.u64("queue id")?,
                created: r.bool("created")?,
            },
            Opcode::DeleteQueue => Response::QueueDeleted,
            Opcode::GetQueue => Response::Queue {
                queue_id: r.u64("queue id")?,
            },
            Opcode::ListQueues => {
                let (names, next_token) = read_queue_list(r)?;
                Response::Queues { names, next_token }
            }
            Opcode::GetQueueAttributes => Response::QueueAttributes {
                attributes: read_map(r, "queue attributes")?,
            },
            Opcode::SetQueueAttributes => Response::QueueAttributesSet,
            Opcode::PurgeQueue => Response::Purged,
            Opcode::ListDeadLetterSourceQueues => {
                let (names, next_token) = read_queue_list(r)?;
                Response::DeadLetterSourceQueues { names, next_token }
            }
            Opcode::Redrive => Response::Redriven {
                moved: r.u64("moved")?,
            },
            Opcode::TagQueue => Response::QueueTagged,
            Opcode::UntagQueue => Response::QueueUntagged,
            Opcode::ListQueueTags => Response::QueueTags {
                tags: read_map(r, "queue tags")?,
            },
            Opcode::Send => Response::Sent {
                results: read_results(r, "send results", |r| {
                    Ok(SendOk {
                        message_id: r.id16("message id")?,
                        sequence_number: r.opt("sequence number", |r| r.u128("sequence number"))?,
                        duplicate: r.bool("duplicate")?,
                    })
                })?,
            },
            Opcode::Receive => {
                let n = r.batch(MAX_BATCH, false, "messages")?;
                let mut messages = Vec::with_capacity(r.capacity(n, MIN_MESSAGE));
                for _ in 0..n {
                    messages.push(read_message(r)?);
                }
                Response::Received { messages }
            }
            Opcode::Delete => Response::Deleted {
                results: read_results(r, "delete results", |_| Ok(()))?,
            },
            Opcode::ChangeVisibility => Response::VisibilityChanged {
                results: read_results(r, "visibility results", |_| Ok(()))?,
            },
        };
        r.finish()?;
        Ok(resp)
    }

    fn encode_payload(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            Response::Hello {
                version,
                max_frame,
                max_batch,
                shard_count,
            } => {
                w.u8(*version);
                w.u32(*max_frame);
                w.u32(*max_batch);
                w.u16(*shard_count);
                Ok(())
            }
            Response::Pong
            | Response::QueueDeleted
            | Response::QueueAttributesSet
            | Response::Purged
            | Response::QueueTagged
            | Response::QueueUntagged => Ok(()),
            Response::QueueTags { tags } => write_map(w, tags, "queue tags"),
            Response::QueueCreated { queue_id, created } => {
                w.u64(*queue_id);
                w.bool(*created);
                Ok(())
            }
            Response::Queue { queue_id } => {
                w.u64(*queue_id);
                Ok(())
            }
            Response::Queues { names, next_token }
            | Response::DeadLetterSourceQueues { names, next_token } => {
                write_queue_list(w, names, next_token)
            }
            Response::QueueAttributes { attributes } => {
                write_map(w, attributes, "queue attributes")
            }
            Response::Redriven { moved } => {
                w.u64(*moved);
                Ok(())
            }
            Response::Sent { results } => write_results(w, results, "send results", |w, ok| {
                w.raw(&ok.message_id);
                w.opt(ok.sequence_number, |w, s| {
                    w.u128(s);
                    Ok(())
                })?;
                w.bool(ok.duplicate);
                Ok(())
            }),
            Response::Received { messages } => {
                w.batch(messages.len(), MAX_BATCH, false, "messages")?;
                messages.iter().try_for_each(|m| write_message(w, m))
            }
            Response::Deleted { results } => {
                write_results(w, results, "delete results", |_, _| Ok(()))
            }
            Response::VisibilityChanged { results } => {
                write_results(w, results, "visibility results", |_, _| Ok(()))
            }
            Response::Error(e) => write_error(w, e),
        }
    }
}

// ----- owned copies ---------------------------------------------------------------------

fn own_str(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

fn own_bytes(c: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
    Cow::Owned(c.into_owned())
}

fn own_map(m: Map<'_>) -> Map<'static> {
    m.into_iter()
        .map(|(k, v)| (own_str(k), own_str(v)))
        .collect()
}

fn own_names(v: Vec<Cow<'_, str>>) -> Vec<Cow<'static, str>> {
    v.into_iter().map(own_str).collect()
}

impl MessageAttribute<'_> {
    /// A copy that owns its bytes (no longer borrows the frame it was decoded from).
    pub fn into_owned(self) -> MessageAttribute<'static> {
        MessageAttribute {
            name: own_str(self.name),
            data_type: own_str(self.data_type),
            value: match self.value {
                AttributeValue::String(s) => AttributeValue::String(own_str(s)),
                AttributeValue::Binary(b) => AttributeValue::Binary(own_bytes(b)),
            },
        }
    }
}

fn own_attrs(v: Vec<MessageAttribute<'_>>) -> Vec<MessageAttribute<'static>> {
    v.into_iter().map(MessageAttribute::into_owned).collect()
}

impl SendEntry<'_> {
    /// A copy that owns its bytes.
    pub fn into_owned(self) -> SendEntry<'static> {
        SendEntry {
            body: own_bytes(self.body),
            attributes: own_attrs(self.attributes),
            system_attributes: own_attrs(self.system_attributes),
            delay_s: self.delay_s,
            group_id: self.group_id.map(own_str),
            dedup_id: self.dedup_id.map(own_str),
        }
    }
}

impl VisibilityEntry<'_> {
    /// A copy that owns its bytes.
    pub fn into_owned(self) -> VisibilityEntry<'static> {
        VisibilityEntry {
            receipt_handle: own_bytes(self.receipt_handle),
            timeout_s: self.timeout_s,
        }
    }
}

impl WireError<'_> {
    /// A copy that owns its bytes.
    pub fn into_owned(self) -> WireError<'static> {
        WireError {
            code: self.code,
            message: own_str(self.message),
        }
    }
}

impl Message<'_> {
    /// A copy that owns its bytes.
    pub fn into_owned(self) -> Message<'static> {
        Message {
            message_id: self.message_id,
            receipt_handle: own_bytes(self.receipt_handle),
            body: own_bytes(self.body),
            attributes: own_attrs(self.attributes),
            system_attributes: own_attrs(self.system_attributes),
            receive_count: self.receive_count,
            sent_ms: self.sent_ms,
            first_receive_ms: self.first_receive_ms,
            group_id: self.group_id.map(own_str),
            dedup_id: self.dedup_id.map(own_str),
            sequence_number: self.sequence_number,
            dead_letter_source: self.dead_letter_source.map(own_str),
        }
    }
}

fn own_results<T>(v: Vec<Result<T, WireError<'_>>>) -> Vec<Result<T, WireError<'static>>> {
    v.into_iter()
        .map(|r| r.map_err(WireError::into_owned))
        .collect()
}

impl Request<'_> {
    /// A copy that owns its bytes (no longer borrows the frame it was decoded from).
    pub fn into_owned(self) -> Request<'static> {
        match self {
            Request::Hello {
                min_version,
                max_version,
                api_key,
            } => Request::Hello {
                min_version,
                max_version,
                api_key: api_key.map(own_bytes),
            },
            Request::Ping => Request::Ping,
            Request::CreateQueue {
                name,
                attributes,
                tags,
            } => Request::CreateQueue {
                name: own_str(name),
                attributes: own_map(attributes),
                tags: own_map(tags),
            },
            Request::DeleteQueue { name } => Request::DeleteQueue {
                name: own_str(name),
            },
            Request::GetQueue { name } => Request::GetQueue {
                name: own_str(name),
            },
            Request::ListQueues {
                prefix,
                max_results,
                next_token,
            } => Request::ListQueues {
                prefix: own_str(prefix),
                max_results,
                next_token: next_token.map(own_str),
            },
            Request::GetQueueAttributes {
                name,
                attribute_names,
            } => Request::GetQueueAttributes {
                name: own_str(name),
                attribute_names: own_names(attribute_names),
            },
            Request::SetQueueAttributes { name, attributes } => Request::SetQueueAttributes {
                name: own_str(name),
                attributes: own_map(attributes),
            },
            Request::PurgeQueue { name } => Request::PurgeQueue {
                name: own_str(name),
            },
            Request::ListDeadLetterSourceQueues {
                name,
                max_results,
                next_token,
            } => Request::ListDeadLetterSourceQueues {
                name: own_str(name),
                max_results,
                next_token: next_token.map(own_str),
            },
            Request::Redrive {
                source,
                destination,
                max_messages,
            } => Request::Redrive {
                source: own_str(source),
                destination: destination.map(own_str),
                max_messages,
            },
            Request::TagQueue { name, tags } => Request::TagQueue {
                name: own_str(name),
                tags: own_map(tags),
            },
            Request::UntagQueue { name, keys } => Request::UntagQueue {
                name: own_str(name),
                keys: own_names(keys),
            },
            Request::ListQueueTags { name } => Request::ListQueueTags {
                name: own_str(name),
            },
            Request::Send { queue, entries } => Request::Send {
                queue: own_str(queue),
                entries: entries.into_iter().map(SendEntry::into_owned).collect(),
            },
            Request::Receive {
                queue,
                max_messages,
                visibility_timeout_s,
                wait_time_ms,
                attribute_names,
                system_attributes,
            } => Request::Receive {
                queue: own_str(queue),
                max_messages,
                visibility_timeout_s,
                wait_time_ms,
                attribute_names: own_names(attribute_names),
                system_attributes,
            },
            Request::Delete {
                queue,
                receipt_handles,
            } => Request::Delete {
                queue: own_str(queue),
                receipt_handles: receipt_handles.into_iter().map(own_bytes).collect(),
            },
            Request::ChangeVisibility { queue, entries } => Request::ChangeVisibility {
                queue: own_str(queue),
                entries: entries
                    .into_iter()
                    .map(VisibilityEntry::into_owned)
                    .collect(),
            },
        }
    }
}

impl Response<'_> {
    /// A copy that owns its bytes (no longer borrows the frame it was decoded from).
    pub fn into_owned(self) -> Response<'static> {
        match self {
            Response::Hello {
                version,
                max_frame,
                max_batch,
                shard_count,
            } => Response::Hello {
                version,
                max_frame,
                max_batch,
                shard_count,
            },
            Response::Pong => Response::Pong,
            Response::QueueCreated { queue_id, created } => {
                Response::QueueCreated { queue_id, created }
            }
            Response::QueueDeleted => Response::QueueDeleted,
            Response::Queue { queue_id } => Response::Queue { queue_id },
            Response::Queues { names, next_token } => Response::Queues {
                names: own_names(names),
                next_token: next_token.map(own_str),
            },
            Response::QueueAttributes { attributes } => Response::QueueAttributes {
                attributes: own_map(attributes),
            },
            Response::QueueAttributesSet => Response::QueueAttributesSet,
            Response::Purged => Response::Purged,
            Response::DeadLetterSourceQueues { names, next_token } => {
                Response::DeadLetterSourceQueues {
                    names: own_names(names),
                    next_token: next_token.map(own_str),
                }
            }
            Response::Redriven { moved } => Response::Redriven { moved },
            Response::QueueTagged => Response::QueueTagged,
            Response::QueueUntagged => Response::QueueUntagged,
            Response::QueueTags { tags } => Response::QueueTags {
                tags: own_map(tags),
            },
            Response::Sent { results } => Response::Sent {
                results: own_results(results),
            },
            Response::Received { messages } => Response::Received {
                messages: messages.into_iter().map(Message::into_owned).collect(),
            },
            Response::Deleted { results } => Response::Deleted {
                results: own_results(results),
            },
            Response::VisibilityChanged { results } => Response::VisibilityChanged {
                results: own_results(results),
            },
            Response::Error(e) => Response::Error(e.into_owned()),
        }
    }
}
