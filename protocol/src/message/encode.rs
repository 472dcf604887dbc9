//! Encoding: [`Request`] and [`Response`] to whole frames.
//!
//! Promise: `encode` checks every limit `decode` enforces, so whatever encodes also
//! decodes, and leaves `out` unchanged when it refuses a value.

use super::fields::{
    write_error, write_map, write_message, write_names, write_queue, write_queue_list,
    write_results, write_send_entry, write_visibility_entry, RECEIVE_FLAG_SYSTEM_ATTRIBUTES,
};
use super::types::{Request, Response};
use crate::error::ProtocolError;
use crate::frame::encode_frame;
use crate::limits::{
    MAX_API_KEY_LEN, MAX_BATCH, MAX_NEXT_TOKEN_LEN, MAX_QUEUE_NAME_LEN, MAX_RECEIPT_HANDLE_LEN,
};
use crate::wire::{Result, Writer};

impl Request<'_> {
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
            } => write_receive(
                w,
                queue,
                *max_messages,
                *visibility_timeout_s,
                *wait_time_ms,
                attribute_names,
                *system_attributes,
            ),
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
                entries
                    .iter()
                    .try_for_each(|e| write_visibility_entry(w, e))
            }
        }
    }
}

/// Receive's payload: the batch cap is checked before anything is written.
fn write_receive(
    w: &mut Writer<'_>,
    queue: &str,
    max_messages: u32,
    visibility_timeout_s: Option<u32>,
    wait_time_ms: u32,
    attribute_names: &[std::borrow::Cow<'_, str>],
    system_attributes: bool,
) -> Result<()> {
    write_queue(w, queue, "queue name")?;
    if max_messages as usize > MAX_BATCH {
        return Err(ProtocolError::BatchTooLarge {
            count: max_messages as usize,
            max: MAX_BATCH,
        });
    }
    w.u32(max_messages);
    w.opt(visibility_timeout_s, |w, v| {
        w.u32(v);
        Ok(())
    })?;
    w.u32(wait_time_ms);
    w.u8(if system_attributes {
        RECEIVE_FLAG_SYSTEM_ATTRIBUTES
    } else {
        0
    });
    write_names(w, attribute_names, "message attribute names")
}

impl Response<'_> {
    /// Appends this response as a whole frame answering `request_id` to `out`. Fails,
    /// leaving `out` as it was, if a value breaks a limit of the protocol. The caller
    /// keeps the frame within the peer's max frame (e.g. by receiving fewer messages).
    pub fn encode(&self, request_id: u64, out: &mut Vec<u8>) -> Result<()> {
        encode_frame(out, self.opcode(), request_id, |w| self.encode_payload(w))
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
                write_queue_list(w, names, next_token.as_deref())
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
                write_results(w, results, "delete results", |_, ()| Ok(()))
            }
            Response::VisibilityChanged { results } => {
                write_results(w, results, "visibility results", |_, ()| Ok(()))
            }
            Response::Error(e) => write_error(w, e),
        }
    }
}
