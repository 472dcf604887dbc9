//! The payload pieces requests and responses share, read and written: queue names,
//! maps, name lists, ids, message attributes, per-entry results, send entries and
//! received messages.
//!
//! Promise: each `read_*` accepts exactly what its `write_*` twin produces, checks every
//! count and length against its limit (in [`crate::limits`]) before using it, and
//! reserves no more than the remaining bytes could hold.

use std::borrow::Cow;

use super::types::{
    AttributeValue, Map, Message, MessageAttribute, SendEntry, VisibilityEntry, WireError,
};
use crate::error::{ErrorCode, ProtocolError};
use crate::limits::{
    is_valid_queue_name, MAX_ATTRIBUTE_NAMES, MAX_ATTRIBUTE_NAME_LEN, MAX_BATCH,
    MAX_ERROR_MESSAGE_LEN, MAX_ID_LEN, MAX_MAP_ENTRIES, MAX_MAP_VALUE_LEN, MAX_MESSAGE_ATTRIBUTES,
    MAX_NEXT_TOKEN_LEN, MAX_QUEUE_NAME_LEN, MAX_RECEIPT_HANDLE_LEN,
};
use crate::wire::{Reader, Result, Writer};

pub(super) fn read_queue<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Cow<'a, str>> {
    let name = r.str16(MAX_QUEUE_NAME_LEN, what)?;
    if !is_valid_queue_name(&name) {
        return Err(ProtocolError::InvalidQueueName(what));
    }
    Ok(name)
}

pub(super) fn write_queue(w: &mut Writer<'_>, name: &str, what: &'static str) -> Result<()> {
    if !is_valid_queue_name(name) {
        return Err(ProtocolError::InvalidQueueName(what));
    }
    w.str16(name, MAX_QUEUE_NAME_LEN, what)
}

pub(super) fn read_map<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Map<'a>> {
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

pub(super) fn write_map(w: &mut Writer<'_>, m: &Map<'_>, what: &'static str) -> Result<()> {
    w.count16(m.len(), MAX_MAP_ENTRIES, what)?;
    for (k, v) in m {
        w.str16(k, MAX_ATTRIBUTE_NAME_LEN, what)?;
        w.str32(v, MAX_MAP_VALUE_LEN, what)?;
    }
    Ok(())
}

pub(super) fn read_names<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Vec<Cow<'a, str>>> {
    let n = r.count8(MAX_ATTRIBUTE_NAMES, what)?;
    let mut v = Vec::with_capacity(r.capacity(n, 2));
    for _ in 0..n {
        v.push(r.str16(MAX_ATTRIBUTE_NAME_LEN, what)?);
    }
    Ok(v)
}

pub(super) fn write_names(
    w: &mut Writer<'_>,
    v: &[Cow<'_, str>],
    what: &'static str,
) -> Result<()> {
    w.count8(v.len(), MAX_ATTRIBUTE_NAMES, what)?;
    for s in v {
        w.str16(s, MAX_ATTRIBUTE_NAME_LEN, what)?;
    }
    Ok(())
}

/// A page of queue names and the token of the next page.
pub(super) type QueuePage<'a> = (Vec<Cow<'a, str>>, Option<Cow<'a, str>>);

pub(super) fn read_queue_list<'a>(r: &mut Reader<'a>) -> Result<QueuePage<'a>> {
    let n = r.batch(MAX_BATCH, false, "queue names")?;
    let mut names = Vec::with_capacity(r.capacity(n, 2));
    for _ in 0..n {
        names.push(read_queue(r, "queue names")?);
    }
    let token = r.opt("next token", |r| r.str16(MAX_NEXT_TOKEN_LEN, "next token"))?;
    Ok((names, token))
}

pub(super) fn write_queue_list(
    w: &mut Writer<'_>,
    names: &[Cow<'_, str>],
    token: Option<&str>,
) -> Result<()> {
    w.batch(names.len(), MAX_BATCH, false, "queue names")?;
    for n in names {
        write_queue(w, n, "queue names")?;
    }
    w.opt(token, |w, t| w.str16(t, MAX_NEXT_TOKEN_LEN, "next token"))
}

pub(super) fn read_id<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Option<Cow<'a, str>>> {
    r.opt(what, |r| r.str16(MAX_ID_LEN, what))
}

pub(super) fn write_id(w: &mut Writer<'_>, v: Option<&str>, what: &'static str) -> Result<()> {
    w.opt(v, |w, s| w.str16(s, MAX_ID_LEN, what))
}

const TRANSPORT_STRING: u8 = 1;
const TRANSPORT_BINARY: u8 = 2;

pub(super) fn read_attrs<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
) -> Result<Vec<MessageAttribute<'a>>> {
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
                    value: u64::from(t),
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

pub(super) fn write_attrs(
    w: &mut Writer<'_>,
    v: &[MessageAttribute<'_>],
    what: &'static str,
) -> Result<()> {
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

pub(super) fn read_error<'a>(r: &mut Reader<'a>) -> Result<WireError<'a>> {
    let code = ErrorCode::from_u16(r.u16("error code")?);
    let message = r.str16(MAX_ERROR_MESSAGE_LEN, "error message")?;
    Ok(WireError { code, message })
}

pub(super) fn write_error(w: &mut Writer<'_>, e: &WireError<'_>) -> Result<()> {
    w.u16(e.code.as_u16());
    w.str16(&e.message, MAX_ERROR_MESSAGE_LEN, "error message")
}

const STATUS_OK: u8 = 0;
const STATUS_ERROR: u8 = 1;

pub(super) fn read_results<'a, T>(
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
                    value: u64::from(s),
                })
            }
        }
    }
    Ok(v)
}

pub(super) fn write_results<T>(
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

pub(super) fn read_send_entry<'a>(r: &mut Reader<'a>) -> Result<SendEntry<'a>> {
    Ok(SendEntry {
        body: r.bytes32(usize::MAX, "message body")?,
        attributes: read_attrs(r, "message attributes")?,
        system_attributes: read_attrs(r, "message system attributes")?,
        delay_s: r.opt("delay", |r| r.u32("delay"))?,
        group_id: read_id(r, "message group id")?,
        dedup_id: read_id(r, "deduplication id")?,
    })
}

pub(super) fn write_send_entry(w: &mut Writer<'_>, e: &SendEntry<'_>) -> Result<()> {
    w.bytes32(&e.body, usize::MAX, "message body")?;
    write_attrs(w, &e.attributes, "message attributes")?;
    write_attrs(w, &e.system_attributes, "message system attributes")?;
    w.opt(e.delay_s, |w, d| {
        w.u32(d);
        Ok(())
    })?;
    write_id(w, e.group_id.as_deref(), "message group id")?;
    write_id(w, e.dedup_id.as_deref(), "deduplication id")
}

pub(super) fn read_visibility_entry<'a>(r: &mut Reader<'a>) -> Result<VisibilityEntry<'a>> {
    Ok(VisibilityEntry {
        receipt_handle: r.bytes16(MAX_RECEIPT_HANDLE_LEN, "receipt handle")?,
        timeout_s: r.u32("visibility timeout")?,
    })
}

pub(super) fn write_visibility_entry(w: &mut Writer<'_>, e: &VisibilityEntry<'_>) -> Result<()> {
    w.bytes16(&e.receipt_handle, MAX_RECEIPT_HANDLE_LEN, "receipt handle")?;
    w.u32(e.timeout_s);
    Ok(())
}

pub(super) fn read_message<'a>(r: &mut Reader<'a>) -> Result<Message<'a>> {
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

pub(super) fn write_message(w: &mut Writer<'_>, m: &Message<'_>) -> Result<()> {
    w.raw(&m.message_id);
    w.bytes16(&m.receipt_handle, MAX_RECEIPT_HANDLE_LEN, "receipt handle")?;
    w.bytes32(&m.body, usize::MAX, "message body")?;
    write_attrs(w, &m.attributes, "message attributes")?;
    write_attrs(w, &m.system_attributes, "message system attributes")?;
    w.u32(m.receive_count);
    w.u64(m.sent_ms);
    w.u64(m.first_receive_ms);
    write_id(w, m.group_id.as_deref(), "message group id")?;
    write_id(w, m.dedup_id.as_deref(), "deduplication id")?;
    w.opt(m.sequence_number, |w, s| {
        w.u128(s);
        Ok(())
    })?;
    w.opt(m.dead_letter_source.as_deref(), |w, s| {
        write_queue(w, s, "dead-letter source")
    })
}

/// Minimum wire bytes of entries, for bounding reservations.
pub(super) const MIN_SEND_ENTRY: usize = 9;
pub(super) const MIN_HANDLE: usize = 2;
pub(super) const MIN_VISIBILITY_ENTRY: usize = 6;
pub(super) const MIN_MESSAGE: usize = 48;

pub(super) const RECEIVE_FLAG_SYSTEM_ATTRIBUTES: u8 = 1;
