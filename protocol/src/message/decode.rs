//! Decoding: payload bytes to [`Request`] and [`Response`].
//!
//! Promise: `decode(opcode, payload)` accepts exactly what `encode` produces for values
//! within the limits, consumes the payload exactly (trailing bytes are an error), never
//! panics, and never reserves more than the payload could hold. Decoded strings and byte
//! strings are `Cow::Borrowed` slices of the payload (zero copy, bodies included).

use super::fields::{
    read_error, read_map, read_message, read_names, read_queue, read_queue_list, read_results,
    read_send_entry, read_visibility_entry, MIN_HANDLE, MIN_MESSAGE, MIN_SEND_ENTRY,
    MIN_VISIBILITY_ENTRY, RECEIVE_FLAG_SYSTEM_ATTRIBUTES,
};
use super::opcode::{Opcode, ERROR_OPCODE, RESPONSE_BIT};
use super::types::{Request, Response, SendOk};
use crate::error::ProtocolError;
use crate::frame::Frame;
use crate::limits::{
    MAX_API_KEY_LEN, MAX_BATCH, MAX_NEXT_TOKEN_LEN, MAX_QUEUE_NAME_LEN, MAX_RECEIPT_HANDLE_LEN,
};
use crate::wire::{Reader, Result};

impl<'a> Request<'a> {
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
            Opcode::Receive => read_receive(r)?,
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
                    entries.push(read_visibility_entry(r)?);
                }
                Request::ChangeVisibility { queue, entries }
            }
        };
        r.finish()?;
        Ok(req)
    }
}

/// Receive's payload: the batch cap and the reserved flag bits are checked here.
fn read_receive<'a>(r: &mut Reader<'a>) -> Result<Request<'a>> {
    let queue = read_queue(r, "queue name")?;
    let max_messages = r.u32("max messages")?;
    if max_messages as usize > MAX_BATCH {
        return Err(ProtocolError::BatchTooLarge {
            count: max_messages as usize,
            max: MAX_BATCH,
        });
    }
    let visibility_timeout_s = r.opt("visibility timeout", |r| r.u32("visibility timeout"))?;
    let wait_time_ms = r.u32("wait time")?;
    let flags = r.u8("receive flags")?;
    if flags & !RECEIVE_FLAG_SYSTEM_ATTRIBUTES != 0 {
        return Err(ProtocolError::InvalidValue {
            what: "receive flags",
            value: u64::from(flags),
        });
    }
    Ok(Request::Receive {
        queue,
        max_messages,
        visibility_timeout_s,
        wait_time_ms,
        system_attributes: flags & RECEIVE_FLAG_SYSTEM_ATTRIBUTES != 0,
        attribute_names: read_names(r, "message attribute names")?,
    })
}

impl<'a> Response<'a> {
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
}
