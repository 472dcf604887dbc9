//! Owned copies: `into_owned` for every value that may borrow a frame, for callers that
//! keep a decoded value past the frame's buffer.

use std::borrow::Cow;

use super::types::{
    AttributeValue, Map, Message, MessageAttribute, Request, Response, SendEntry, VisibilityEntry,
    WireError,
};

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
