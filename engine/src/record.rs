//! The on-disk record: one message in a segment's `.log`.
//!
//! Layout (little endian), `HEADER_LEN` fixed bytes then the variable part:
//!
//! ```text
//!  0 u32 len            total record length, header included
//!  4 u32 crc            CRC-32 (crc32fast) of bytes [8, len)
//!  8 u8  version        RECORD_VERSION
//!  9 u8  flags          FLAG_ZSTD: body is zstd-compressed; FLAG_ORIGIN: origin block present;
//!                       FLAG_DELETES: a marker, not a message (see below);
//!                       FLAG_STATES (with FLAG_DELETES): a state marker
//! 10 u16 group_len
//! 12 u32 stored_body_len
//! 16 u64 seq            partition sequence number; slot = seq - segment base
//! 24 u64 sent_at_ms     original enqueue time (kept when a message is moved or copied)
//! 32 u64 visible_at_ms  delay-until at send (0 = none)
//! 40 [16] message id
//! 56 u32 receive_count  carried over when a record is copied forward by compaction
//! 60 u32 body_len       uncompressed body length
//! 64 u64 first_receive_ms
//! 72 u16 dedup_len
//! 74 u16 reserved
//! 76 u32 attrs_len
//! 80 group | dedup | origin | attrs | body
//! ```
//!
//! The origin block (`FLAG_ORIGIN`) names the slot this record was moved from (dead-letter
//! move, redrive, compaction copy-forward): `u64 queue id | u16 partition | u64 seq | u16
//! name len | queue name`. Recovery uses it to finish a move that a crash interrupted,
//! so a moved message exists exactly once.
//!
//! A deletion marker (`FLAG_DELETES`) journals the deletes a partition made since its last
//! group commit: its body is the deleted sequence numbers, `u64` little endian each. It
//! occupies a sequence number and a slot like a message but is never delivered (its slot
//! is Deleted from birth). Acknowledging a delete needs only the log's fdatasync, not one
//! of each touched index file: recovery re-applies the markers it finds past an index's
//! durable point (`recovery.rs`).
//!
//! A state marker (`FLAG_DELETES | FLAG_STATES`) journals receive state the same way: its
//! body is [`StateEntry`]s ([`STATE_ENTRY_LEN`] bytes each): what a receive,
//! ChangeMessageVisibility or compaction copy left in a slot, so that in-flight messages,
//! receive counts and receipt generations survive a restart without an index sync per
//! commit. Every marker carries `FLAG_DELETES`, so anything that only needs to know
//! "message or not" reads one bit.
//!
//! Promises: [`decode`] never panics and never allocates more than the record's own
//! declared, bounds-checked length; a record is accepted only if its CRC matches.

use crate::aligned::Sink;
use crate::error::EngineError;

/// Bytes of a record header.
pub const HEADER_LEN: usize = 80;
/// Format version written in every record header.
pub const RECORD_VERSION: u8 = 1;
/// Header flag: the body is zstd-compressed.
pub const FLAG_ZSTD: u8 = 1;
/// Header flag: the record carries an origin (a move or compaction copy).
pub const FLAG_ORIGIN: u8 = 2;
/// Header flag: a deletion marker, whose body lists deleted sequence numbers.
pub const FLAG_DELETES: u8 = 4;
/// Most sequence numbers one deletion marker carries (a 64 KiB body).
pub const MAX_MARKER_SEQS: usize = 8192;
/// Header flag (always with [`FLAG_DELETES`]): a state marker, whose body lists
/// [`StateEntry`]s instead of deleted sequence numbers.
pub const FLAG_STATES: u8 = 8;
/// Bytes of one [`StateEntry`] in a state marker's body.
pub const STATE_ENTRY_LEN: usize = 36;
/// Most entries one state marker carries (a 288 KiB body).
pub const MAX_MARKER_STATES: usize = 8192;
/// Upper bound on any record: a 1 MiB body plus generous room for attributes and ids.
pub const MAX_RECORD_LEN: usize = 4 << 20;

// What docs/format.md relies on, checked at compile time.
// The header's fields fill its 80 bytes: len, crc, version, flags, group_len,
// stored_body_len, seq, sent_at_ms, visible_at_ms, message id, receive_count, body_len,
// first_receive_ms, dedup_len, reserved, attrs_len.
const _: () = assert!(4 + 4 + 1 + 1 + 2 + 4 + 8 + 8 + 8 + 16 + 4 + 4 + 8 + 2 + 2 + 4 == HEADER_LEN);
// A record's length fits its `len` field and an index slot's (both u32).
const _: () = assert!(MAX_RECORD_LEN <= u32::MAX as usize);
// The fullest deletion and state markers are valid records.
const _: () = assert!(HEADER_LEN + MAX_MARKER_SEQS * 8 <= MAX_RECORD_LEN);
const _: () = assert!(HEADER_LEN + MAX_MARKER_STATES * STATE_ENTRY_LEN <= MAX_RECORD_LEN);
// A state entry: seq, visible_at_ms, first_receive_ms, generation, receive_count.
const _: () = assert!(8 + 8 + 8 + 8 + 4 == STATE_ENTRY_LEN);

/// A 128-bit message id, printed as a UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MessageId(pub [u8; 16]);

impl MessageId {
    /// Builds a version-4-shaped UUID from 128 random-ish bits.
    pub fn from_u128(v: u128) -> Self {
        let mut b = v.to_be_bytes();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        MessageId(b)
    }
}

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = &self.0;
        for (i, byte) in b.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// The value of a message attribute. `Number` attributes travel as strings, as in SQS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// A `String` or `Number` value.
    String(String),
    /// A `Binary` value.
    Binary(Vec<u8>),
}

/// One message attribute (or message system attribute such as `AWSTraceHeader`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    /// Attribute name.
    pub name: String,
    /// `String`, `Number` or `Binary`, optionally with a `.custom` label.
    pub data_type: String,
    /// Its value.
    pub value: AttributeValue,
}

impl MessageAttribute {
    /// Bytes this attribute counts toward the message size limit (SQS counts name, type
    /// and value).
    pub fn size(&self) -> usize {
        let v = match &self.value {
            AttributeValue::String(s) => s.len(),
            AttributeValue::Binary(b) => b.len(),
        };
        self.name.len() + self.data_type.len() + v
    }
}

/// Where a moved record came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Internal id of the source queue.
    pub queue_id: u64,
    /// Source partition.
    pub partition: u16,
    /// Sequence number of the source slot.
    pub seq: u64,
    /// Name of the queue a dead letter came from.
    pub queue_name: String,
}

/// Everything a record holds, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Sequence number: its slot in the partition.
    pub seq: u64,
    /// When it was first sent.
    pub sent_at_ms: u64,
    /// Not visible before this time (0: at once).
    pub visible_at_ms: u64,
    /// Message id.
    pub message_id: MessageId,
    /// Receives before it was written (a copy keeps its history).
    pub receive_count: u32,
    /// First receive before it was written (0: none).
    pub first_receive_ms: u64,
    /// FIFO message group id.
    pub group_id: Option<String>,
    /// FIFO deduplication id.
    pub dedup_id: Option<String>,
    /// Where a moved or copied record came from.
    pub origin: Option<Origin>,
    /// Message attributes.
    pub attributes: Vec<MessageAttribute>,
    /// Message system attributes.
    pub system_attributes: Vec<MessageAttribute>,
    /// The body (decompressed).
    pub body: Vec<u8>,
}

/// Per-message bytes of a reply beyond body, attributes and ids: message id, counts,
/// times, sequence number, receipt handle (well under this).
pub const REPLY_OVERHEAD: usize = 256;

impl Record {
    /// Bytes a reply holding this message costs: body, attributes, ids, and
    /// `REPLY_OVERHEAD` for the fixed fields and the receipt handle.
    pub fn payload_len(&self) -> usize {
        let attrs =
            |v: &[MessageAttribute]| -> usize { v.iter().map(MessageAttribute::size).sum() };
        REPLY_OVERHEAD
            + self.body.len()
            + attrs(&self.attributes)
            + attrs(&self.system_attributes)
            + self.group_id.as_ref().map_or(0, String::len)
            + self.dedup_id.as_ref().map_or(0, String::len)
            + self.origin.as_ref().map_or(0, |o| o.queue_name.len())
    }
}

/// The fixed header fields, readable without decoding the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub len: u32,
    pub flags: u8,
    pub seq: u64,
    pub sent_at_ms: u64,
    pub visible_at_ms: u64,
}

const ATTR_KIND_MESSAGE: u8 = 0;
const ATTR_KIND_SYSTEM: u8 = 1;
const TRANSPORT_STRING: u8 = 1;
const TRANSPORT_BINARY: u8 = 2;

fn encode_attrs<S: Sink + ?Sized>(
    out: &mut S,
    attrs: &[MessageAttribute],
    system: &[MessageAttribute],
) {
    if attrs.is_empty() && system.is_empty() {
        return;
    }
    out.extend_from_slice(&((attrs.len() + system.len()) as u16).to_le_bytes());
    for (kind, list) in [(ATTR_KIND_MESSAGE, attrs), (ATTR_KIND_SYSTEM, system)] {
        for a in list {
            let (transport, value): (u8, &[u8]) = match &a.value {
                AttributeValue::String(s) => (TRANSPORT_STRING, s.as_bytes()),
                AttributeValue::Binary(b) => (TRANSPORT_BINARY, b),
            };
            out.push(kind);
            out.push(transport);
            out.extend_from_slice(&(a.name.len() as u16).to_le_bytes());
            out.extend_from_slice(a.name.as_bytes());
            out.extend_from_slice(&(a.data_type.len() as u16).to_le_bytes());
            out.extend_from_slice(a.data_type.as_bytes());
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
            out.extend_from_slice(value);
        }
    }
}

/// A record to encode, borrowing its variable parts (from a request frame, say), so
/// staging copies each body once: into the write buffer.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    pub seq: u64,
    pub sent_at_ms: u64,
    pub visible_at_ms: u64,
    pub message_id: MessageId,
    pub receive_count: u32,
    pub first_receive_ms: u64,
    pub group_id: Option<&'a str>,
    pub dedup_id: Option<&'a str>,
    pub origin: Option<&'a Origin>,
    pub attributes: &'a [MessageAttribute],
    pub system_attributes: &'a [MessageAttribute],
    pub body: &'a [u8],
}

impl Record {
    /// A borrowed view, for encoding.
    pub fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            seq: self.seq,
            sent_at_ms: self.sent_at_ms,
            visible_at_ms: self.visible_at_ms,
            message_id: self.message_id,
            receive_count: self.receive_count,
            first_receive_ms: self.first_receive_ms,
            group_id: self.group_id.as_deref(),
            dedup_id: self.dedup_id.as_deref(),
            origin: self.origin.as_ref(),
            attributes: &self.attributes,
            system_attributes: &self.system_attributes,
            body: &self.body,
        }
    }
}

/// Compression settings for bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// zstd level (1 is the sweet spot on these machines: ~220 MB/s per message).
    pub level: i32,
    /// Bodies smaller than this are stored as they are.
    pub min_body: usize,
}

/// Appends the encoding of `r` to `out` and returns its length. Compresses the body when
/// `compression` is set, the body is large enough, and compression saves at least 1/8.
pub fn encode(out: &mut Vec<u8>, r: &Record, compression: Option<Compression>) -> usize {
    encode_ref(out, &r.as_ref(), compression)
}

/// [`encode`] from borrowed parts.
pub fn encode_ref<S: Sink + ?Sized>(
    out: &mut S,
    r: &RecordRef<'_>,
    compression: Option<Compression>,
) -> usize {
    encode_flagged(out, r, compression, 0)
}

mod markers;
pub use markers::{encode_deletes, encode_states, marker_seqs, marker_states, StateEntry};

fn encode_flagged<S: Sink + ?Sized>(
    out: &mut S,
    r: &RecordRef<'_>,
    compression: Option<Compression>,
    extra_flags: u8,
) -> usize {
    let start = out.len();
    let group = r.group_id.unwrap_or("").as_bytes();
    let dedup = r.dedup_id.unwrap_or("").as_bytes();
    let mut flags = extra_flags;
    let compressed = compression
        .filter(|c| r.body.len() >= c.min_body)
        .and_then(|c| zstd::bulk::compress(r.body, c.level).ok())
        .filter(|z| z.len() < r.body.len() - r.body.len() / 8);
    if compressed.is_some() {
        flags |= FLAG_ZSTD;
    }
    if r.origin.is_some() {
        flags |= FLAG_ORIGIN;
    }
    let body: &[u8] = compressed.as_deref().unwrap_or(r.body);
    // The fixed header is built on the stack and appended in one copy: field by field it
    // was twenty appends per record, each with its own capacity check (~5 % of the
    // daemon's CPU at a million messages a second).
    let mut h = [0u8; HEADER_LEN];
    // [0..8): len + crc, patched below.
    h[8] = RECORD_VERSION;
    h[9] = flags;
    h[10..12].copy_from_slice(&(group.len() as u16).to_le_bytes());
    h[12..16].copy_from_slice(&(body.len() as u32).to_le_bytes());
    h[16..24].copy_from_slice(&r.seq.to_le_bytes());
    h[24..32].copy_from_slice(&r.sent_at_ms.to_le_bytes());
    h[32..40].copy_from_slice(&r.visible_at_ms.to_le_bytes());
    h[40..56].copy_from_slice(&r.message_id.0);
    h[56..60].copy_from_slice(&r.receive_count.to_le_bytes());
    h[60..64].copy_from_slice(&(r.body.len() as u32).to_le_bytes());
    h[64..72].copy_from_slice(&r.first_receive_ms.to_le_bytes());
    h[72..74].copy_from_slice(&(dedup.len() as u16).to_le_bytes());
    // [74..76): reserved, zero; [76..80): attributes length, patched below.
    let attrs_len_at = start + 76;
    out.extend_from_slice(&h);
    out.extend_from_slice(group);
    out.extend_from_slice(dedup);
    if let Some(o) = r.origin {
        out.extend_from_slice(&o.queue_id.to_le_bytes());
        out.extend_from_slice(&o.partition.to_le_bytes());
        out.extend_from_slice(&o.seq.to_le_bytes());
        out.extend_from_slice(&(o.queue_name.len() as u16).to_le_bytes());
        out.extend_from_slice(o.queue_name.as_bytes());
    }
    let attrs_start = out.len();
    encode_attrs(out, r.attributes, r.system_attributes);
    let attrs_len = (out.len() - attrs_start) as u32;
    out.bytes_mut()[attrs_len_at..attrs_len_at + 4].copy_from_slice(&attrs_len.to_le_bytes());
    out.extend_from_slice(body);
    let len = out.len() - start;
    debug_assert!(len <= MAX_RECORD_LEN);
    out.bytes_mut()[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    let crc = crc32fast::hash(&out.bytes()[start + 8..]);
    out.bytes_mut()[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    len
}

/// Why a byte range is not a valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Zero length: the preallocated, never-written part of a segment.
    End,
    /// Length out of bounds, CRC mismatch, or an inconsistent layout.
    Corrupt,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]))
}

/// Validates the record at the start of `buf` (length bounds and CRC) and returns its
/// header. `buf` may extend past the record.
pub fn check(buf: &[u8]) -> std::result::Result<Header, Invalid> {
    if buf.len() < 8 {
        return Err(if buf.iter().all(|&b| b == 0) {
            Invalid::End
        } else {
            Invalid::Corrupt
        });
    }
    let len = u32_at(buf, 0) as usize;
    if len == 0 {
        return Err(if u32_at(buf, 4) == 0 {
            Invalid::End
        } else {
            Invalid::Corrupt
        });
    }
    if !(HEADER_LEN..=MAX_RECORD_LEN).contains(&len) || len > buf.len() {
        return Err(Invalid::Corrupt);
    }
    let crc = u32_at(buf, 4);
    if crc32fast::hash(&buf[8..len]) != crc || buf[8] != RECORD_VERSION {
        return Err(Invalid::Corrupt);
    }
    Ok(Header {
        len: len as u32,
        flags: buf[9],
        seq: u64_at(buf, 16),
        sent_at_ms: u64_at(buf, 24),
        visible_at_ms: u64_at(buf, 32),
    })
}

/// Reads the header fields of a record already known to be valid (no CRC check): used on
/// the hot path, where the slot says the record was verified when it was written or
/// recovered.
pub fn peek_header(buf: &[u8]) -> Option<Header> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    Some(Header {
        len: u32_at(buf, 0),
        flags: buf[9],
        seq: u64_at(buf, 16),
        sent_at_ms: u64_at(buf, 24),
        visible_at_ms: u64_at(buf, 32),
    })
}

/// The group id of a record, without decoding the rest.
pub fn peek_group(buf: &[u8]) -> Option<&[u8]> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    let glen = u16_at(buf, 10) as usize;
    buf.get(HEADER_LEN..HEADER_LEN + glen)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], Invalid> {
        let end = self.at.checked_add(n).ok_or(Invalid::Corrupt)?;
        let s = self.b.get(self.at..end).ok_or(Invalid::Corrupt)?;
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> std::result::Result<u8, Invalid> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> std::result::Result<u16, Invalid> {
        Ok(u16_at(self.take(2)?, 0))
    }
    fn u32(&mut self) -> std::result::Result<u32, Invalid> {
        Ok(u32_at(self.take(4)?, 0))
    }
    fn u64(&mut self) -> std::result::Result<u64, Invalid> {
        Ok(u64_at(self.take(8)?, 0))
    }
    fn string(&mut self, n: usize) -> std::result::Result<String, Invalid> {
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| Invalid::Corrupt)
    }
}

/// Checks and fully decodes the record at the start of `buf`.
pub fn decode(buf: &[u8]) -> std::result::Result<Record, Invalid> {
    let h = check(buf)?;
    decode_checked(&buf[..h.len as usize])
}

/// Decodes a record whose CRC was already verified (`buf` is exactly the record).
pub fn decode_checked(buf: &[u8]) -> std::result::Result<Record, Invalid> {
    if buf.len() < HEADER_LEN {
        return Err(Invalid::Corrupt);
    }
    let flags = buf[9];
    let group_len = u16_at(buf, 10) as usize;
    let stored_body_len = u32_at(buf, 12) as usize;
    let body_len = u32_at(buf, 60) as usize;
    let dedup_len = u16_at(buf, 72) as usize;
    let attrs_len = u32_at(buf, 76) as usize;
    let mut r = Reader {
        b: buf,
        at: HEADER_LEN,
    };
    let group_id = match group_len {
        0 => None,
        n => Some(r.string(n)?),
    };
    let dedup_id = match dedup_len {
        0 => None,
        n => Some(r.string(n)?),
    };
    let origin = if flags & FLAG_ORIGIN != 0 {
        let queue_id = r.u64()?;
        let partition = r.u16()?;
        let seq = r.u64()?;
        let n = r.u16()? as usize;
        Some(Origin {
            queue_id,
            partition,
            seq,
            queue_name: r.string(n)?,
        })
    } else {
        None
    };
    let attr_bytes = r.take(attrs_len)?;
    let (attributes, system_attributes) = decode_attrs(attr_bytes)?;
    let stored = r.take(stored_body_len)?;
    if r.at != buf.len() || body_len > MAX_RECORD_LEN {
        return Err(Invalid::Corrupt);
    }
    let body = if flags & FLAG_ZSTD != 0 {
        let out = zstd::bulk::decompress(stored, body_len).map_err(|_| Invalid::Corrupt)?;
        if out.len() != body_len {
            return Err(Invalid::Corrupt);
        }
        out
    } else {
        if stored.len() != body_len {
            return Err(Invalid::Corrupt);
        }
        stored.to_vec()
    };
    Ok(Record {
        seq: u64_at(buf, 16),
        sent_at_ms: u64_at(buf, 24),
        visible_at_ms: u64_at(buf, 32),
        message_id: MessageId(buf[40..56].try_into().map_err(|_| Invalid::Corrupt)?),
        receive_count: u32_at(buf, 56),
        first_receive_ms: u64_at(buf, 64),
        group_id,
        dedup_id,
        origin,
        attributes,
        system_attributes,
        body,
    })
}

type AttrLists = (Vec<MessageAttribute>, Vec<MessageAttribute>);

fn decode_attrs(b: &[u8]) -> std::result::Result<AttrLists, Invalid> {
    let mut attrs = Vec::new();
    let mut system = Vec::new();
    if b.is_empty() {
        return Ok((attrs, system));
    }
    let mut r = Reader { b, at: 0 };
    let count = r.u16()? as usize;
    for _ in 0..count {
        let kind = r.u8()?;
        let transport = r.u8()?;
        let n = r.u16()? as usize;
        let name = r.string(n)?;
        let n = r.u16()? as usize;
        let data_type = r.string(n)?;
        let n = r.u32()? as usize;
        let value = match transport {
            TRANSPORT_STRING => AttributeValue::String(r.string(n)?),
            TRANSPORT_BINARY => AttributeValue::Binary(r.take(n)?.to_vec()),
            _ => return Err(Invalid::Corrupt),
        };
        let a = MessageAttribute {
            name,
            data_type,
            value,
        };
        match kind {
            ATTR_KIND_MESSAGE => attrs.push(a),
            ATTR_KIND_SYSTEM => system.push(a),
            _ => return Err(Invalid::Corrupt),
        }
    }
    if r.at != b.len() {
        return Err(Invalid::Corrupt);
    }
    Ok((attrs, system))
}

/// Maps a decode failure of a record the index promised was valid to an engine error.
pub fn corrupt_at(path: &std::path::Path, offset: u64) -> EngineError {
    EngineError::Corrupt {
        path: path.display().to_string(),
        reason: format!("record at offset {offset} failed validation"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Record {
        Record {
            seq: 42,
            sent_at_ms: 1_700_000_000_000,
            visible_at_ms: 0,
            message_id: MessageId::from_u128(7),
            receive_count: 3,
            first_receive_ms: 5,
            group_id: Some("g1".into()),
            dedup_id: Some("d1".into()),
            origin: Some(Origin {
                queue_id: 9,
                partition: 1,
                seq: 77,
                queue_name: "src".into(),
            }),
            attributes: vec![MessageAttribute {
                name: "k".into(),
                data_type: "String".into(),
                value: AttributeValue::String("v".into()),
            }],
            system_attributes: vec![MessageAttribute {
                name: "AWSTraceHeader".into(),
                data_type: "String".into(),
                value: AttributeValue::String("Root=1".into()),
            }],
            body: b"hello world".to_vec(),
        }
    }

    #[test]
    fn round_trip_and_crc() {
        let r = sample();
        let mut buf = Vec::new();
        let n = encode(&mut buf, &r, None);
        assert_eq!(n, buf.len());
        assert_eq!(decode(&buf).unwrap(), r);
        for i in 0..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x10;
            assert!(decode(&b).is_err(), "flip at {i} accepted");
        }
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "cut at {cut} accepted");
        }
    }

    #[test]
    fn zeros_are_end_not_corrupt() {
        assert_eq!(check(&[0u8; 100]), Err(Invalid::End));
        assert_eq!(check(&[0u8; 3]), Err(Invalid::End));
    }

    #[test]
    fn compression_only_when_it_pays() {
        let mut r = sample();
        r.body = b"{\"key\":\"value\",\"n\":1}".repeat(400);
        let mut buf = Vec::new();
        let c = Some(Compression {
            level: 1,
            min_body: 1024,
        });
        encode(&mut buf, &r, c);
        assert_ne!(buf[9] & FLAG_ZSTD, 0);
        assert!(buf.len() < r.body.len() / 2);
        assert_eq!(decode(&buf).unwrap(), r);
        // Random bytes do not compress: stored as they are.
        let mut x = 1u64;
        r.body = (0..5000)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (x >> 56) as u8
            })
            .collect();
        buf.clear();
        encode(&mut buf, &r, c);
        assert_eq!(buf[9] & FLAG_ZSTD, 0);
        assert_eq!(decode(&buf).unwrap(), r);
    }

    #[test]
    fn uuid_format() {
        let s = MessageId::from_u128(u128::MAX).to_string();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes);
            let _ = decode_checked(&bytes);
        }

        #[test]
        fn round_trip(body in proptest::collection::vec(any::<u8>(), 0..2000),
                      group in proptest::option::of("[a-z]{1,10}"),
                      seq in any::<u64>()) {
            let mut r = sample();
            r.body = body;
            r.group_id = group;
            r.seq = seq;
            r.origin = None;
            let mut buf = Vec::new();
            encode(&mut buf, &r, Some(Compression { level: 1, min_body: 64 }));
            prop_assert_eq!(decode(&buf).unwrap(), r);
        }
    }
}
