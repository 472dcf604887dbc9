//! The typed helpers of [`Connection`]: one method per operation, each a single round
//! trip (paged listings: one per page). Each converts an Error response into
//! [`ClientError::Server`], a response of the wrong type into [`ClientError::Unexpected`],
//! and checks that a batch answers with exactly one result per entry, since results are
//! matched to entries by position.

use std::borrow::Cow;
use std::collections::BTreeMap;

use spool_protocol::{
    AttributeValue, Map, Message, MessageAttribute, Request, Response, SendEntry, SendOk,
    VisibilityEntry, WireError,
};

use crate::config::ReceiveOptions;
use crate::connection::{unexpected, Connection};
use crate::error::{ClientError, Result};

/// Per-entry results of a batch.
type EntryResults<T> = Vec<std::result::Result<T, WireError<'static>>>;

/// A listing stops after this many pages: a server that never stops handing out tokens
/// must not keep the client looping.
const MAX_PAGES: usize = 100_000;

impl Connection {
    /// Round trip with an empty request.
    pub fn ping(&mut self) -> Result<()> {
        match self.call(&Request::Ping)? {
            Response::Pong => Ok(()),
            other => Err(unexpected("Pong", &other)),
        }
    }

    /// Creates a queue (idempotent when the attributes match) and returns its id.
    pub fn create_queue(&mut self, name: &str, attributes: &[(&str, &str)]) -> Result<u64> {
        self.create_queue_with_tags(name, attributes, &[])
    }

    /// [`Connection::create_queue`] with tags.
    pub fn create_queue_with_tags(
        &mut self,
        name: &str,
        attributes: &[(&str, &str)],
        tags: &[(&str, &str)],
    ) -> Result<u64> {
        let req = Request::CreateQueue {
            name: name.into(),
            attributes: map(attributes),
            tags: map(tags),
        };
        match self.call(&req)? {
            Response::QueueCreated { queue_id, .. } => Ok(queue_id),
            other => Err(unexpected("QueueCreated", &other)),
        }
    }

    /// Deletes the queue `name` and every message in it.
    pub fn delete_queue(&mut self, name: &str) -> Result<()> {
        match self.call(&Request::DeleteQueue { name: name.into() })? {
            Response::QueueDeleted => Ok(()),
            other => Err(unexpected("QueueDeleted", &other)),
        }
    }

    /// The queue's id; `QueueDoesNotExist` if there is none.
    pub fn get_queue(&mut self, name: &str) -> Result<u64> {
        match self.call(&Request::GetQueue { name: name.into() })? {
            Response::Queue { queue_id } => Ok(queue_id),
            other => Err(unexpected("Queue", &other)),
        }
    }

    /// Every queue whose name starts with `prefix`, following the pages to the end.
    pub fn list_queues(&mut self, prefix: &str) -> Result<Vec<String>> {
        self.all_pages(|token| Request::ListQueues {
            prefix: prefix.into(),
            max_results: 0,
            next_token: token.map(Cow::Owned),
        })
    }

    /// The queue's attributes named in `names` (empty = all).
    pub fn get_queue_attributes(
        &mut self,
        name: &str,
        names: &[&str],
    ) -> Result<BTreeMap<String, String>> {
        let req = Request::GetQueueAttributes {
            name: name.into(),
            attribute_names: names.iter().map(|n| Cow::Borrowed(*n)).collect(),
        };
        match self.call(&req)? {
            Response::QueueAttributes { attributes } => Ok(attributes
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()),
            other => Err(unexpected("QueueAttributes", &other)),
        }
    }

    /// Sets the given attributes of queue `name`; all or none are applied.
    pub fn set_queue_attributes(&mut self, name: &str, attributes: &[(&str, &str)]) -> Result<()> {
        let req = Request::SetQueueAttributes {
            name: name.into(),
            attributes: map(attributes),
        };
        match self.call(&req)? {
            Response::QueueAttributesSet => Ok(()),
            other => Err(unexpected("QueueAttributesSet", &other)),
        }
    }

    /// Deletes every message in queue `name` (at most once per 60 s, as SQS).
    pub fn purge_queue(&mut self, name: &str) -> Result<()> {
        match self.call(&Request::PurgeQueue { name: name.into() })? {
            Response::Purged => Ok(()),
            other => Err(unexpected("Purged", &other)),
        }
    }

    /// Queues whose RedrivePolicy names `name` as their dead-letter queue (every page).
    pub fn list_dead_letter_source_queues(&mut self, name: &str) -> Result<Vec<String>> {
        self.all_pages(|token| Request::ListDeadLetterSourceQueues {
            name: name.into(),
            max_results: 0,
            next_token: token.map(Cow::Owned),
        })
    }

    /// Moves up to `max_messages` messages out of the dead-letter queue `source`, to
    /// `destination` or (None) back to the queues they came from; returns how many moved.
    pub fn redrive(
        &mut self,
        source: &str,
        destination: Option<&str>,
        max_messages: u32,
    ) -> Result<u64> {
        let req = Request::Redrive {
            source: source.into(),
            destination: destination.map(Cow::Borrowed),
            max_messages,
        };
        match self.call(&req)? {
            Response::Redriven { moved } => Ok(moved),
            other => Err(unexpected("Redriven", &other)),
        }
    }

    /// Sends a batch; one result per entry, in order.
    pub fn send(&mut self, queue: &str, entries: &[SendEntry<'_>]) -> Result<EntryResults<SendOk>> {
        // The request owns its entries; borrow every field instead of copying bodies.
        let req = Request::Send {
            queue: queue.into(),
            entries: entries.iter().map(borrow_entry).collect(),
        };
        match self.call(&req)? {
            Response::Sent { results } => {
                check_count("Send", results.len(), entries.len())?;
                Ok(results.into_iter().map(owned_result).collect())
            }
            other => Err(unexpected("Sent", &other)),
        }
    }

    /// Sends one message per body, with the queue's defaults.
    pub fn send_bodies(&mut self, queue: &str, bodies: &[&[u8]]) -> Result<EntryResults<SendOk>> {
        let entries: Vec<SendEntry<'_>> = bodies
            .iter()
            .map(|b| SendEntry {
                body: Cow::Borrowed(*b),
                ..Default::default()
            })
            .collect();
        self.send(queue, &entries)
    }

    /// Receives up to `opts.max_messages` messages.
    pub fn receive(&mut self, queue: &str, opts: &ReceiveOptions) -> Result<Vec<Message<'static>>> {
        let req = Request::Receive {
            queue: queue.into(),
            max_messages: opts.max_messages,
            visibility_timeout_s: opts.visibility_timeout_s,
            wait_time_ms: opts.wait_time_ms,
            attribute_names: opts
                .attribute_names
                .iter()
                .map(|n| Cow::Borrowed(n.as_str()))
                .collect(),
            system_attributes: opts.system_attributes,
        };
        match self.call(&req)? {
            Response::Received { messages } => {
                if messages.len() > opts.max_messages as usize {
                    return Err(ClientError::Unexpected(format!(
                        "asked for at most {} messages, received {}",
                        opts.max_messages,
                        messages.len()
                    )));
                }
                Ok(messages)
            }
            other => Err(unexpected("Received", &other)),
        }
    }

    /// Deletes messages by receipt handle; one result per handle, in order.
    pub fn delete(&mut self, queue: &str, handles: &[&[u8]]) -> Result<EntryResults<()>> {
        let id = self.submit_delete(queue, handles)?;
        self.delete_results(id, handles.len())
    }

    /// Submits a delete and writes it out without waiting for its answer, so that a
    /// consumer can acknowledge one batch while it receives the next (the answer comes
    /// once the deletes are durable, a group commit later). Collect the answer with
    /// [`Connection::delete_results`]; responses to other requests are not disturbed.
    pub fn submit_delete(&mut self, queue: &str, handles: &[&[u8]]) -> Result<u64> {
        let req = Request::Delete {
            queue: queue.into(),
            receipt_handles: handles.iter().map(|h| Cow::Borrowed(*h)).collect(),
        };
        let id = self.submit(&req)?;
        self.flush()?;
        Ok(id)
    }

    /// Waits for the answer to the delete submitted as request `id` with `count` handles:
    /// one result per handle, in order.
    pub fn delete_results(&mut self, id: u64, count: usize) -> Result<EntryResults<()>> {
        match self.wait_for(id)? {
            Response::Deleted { results } => {
                check_count("Delete", results.len(), count)?;
                Ok(results.into_iter().map(owned_result).collect())
            }
            Response::Error(e) => Err(e.into()),
            other => Err(unexpected("Deleted", &other)),
        }
    }

    /// Sets the visibility timeout (seconds) of received messages; one result per entry.
    pub fn change_visibility(
        &mut self,
        queue: &str,
        entries: &[(&[u8], u32)],
    ) -> Result<EntryResults<()>> {
        let req = Request::ChangeVisibility {
            queue: queue.into(),
            entries: entries
                .iter()
                .map(|(h, t)| VisibilityEntry {
                    receipt_handle: Cow::Borrowed(*h),
                    timeout_s: *t,
                })
                .collect(),
        };
        match self.call(&req)? {
            Response::VisibilityChanged { results } => {
                check_count("ChangeVisibility", results.len(), entries.len())?;
                Ok(results.into_iter().map(owned_result).collect())
            }
            other => Err(unexpected("VisibilityChanged", &other)),
        }
    }

    /// Runs a paged listing (ListQueues, ListDeadLetterSourceQueues) to its last page.
    fn all_pages<'a>(
        &mut self,
        mut request: impl FnMut(Option<String>) -> Request<'a>,
    ) -> Result<Vec<String>> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let (names, next) = match self.call(&request(token.clone()))? {
                Response::Queues { names, next_token }
                | Response::DeadLetterSourceQueues { names, next_token } => (names, next_token),
                other => return Err(unexpected("a page of queue names", &other)),
            };
            all.extend(names.into_iter().map(Cow::into_owned));
            match next {
                None => return Ok(all),
                // The same token again would loop forever.
                Some(t) if token.as_deref() == Some(&*t) => {
                    return Err(ClientError::Unexpected(format!(
                        "server repeated the pagination token {t:?}"
                    )))
                }
                Some(t) => token = Some(t.into_owned()),
            }
        }
        Err(ClientError::Unexpected(format!(
            "listing did not end after {MAX_PAGES} pages"
        )))
    }
}

fn map<'a>(pairs: &[(&'a str, &'a str)]) -> Map<'a> {
    pairs
        .iter()
        .map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v)))
        .collect()
}

fn borrow_entry<'a>(e: &'a SendEntry<'_>) -> SendEntry<'a> {
    SendEntry {
        body: Cow::Borrowed(&e.body),
        attributes: e.attributes.iter().map(borrow_attribute).collect(),
        system_attributes: e.system_attributes.iter().map(borrow_attribute).collect(),
        delay_s: e.delay_s,
        group_id: e.group_id.as_deref().map(Cow::Borrowed),
        dedup_id: e.dedup_id.as_deref().map(Cow::Borrowed),
    }
}

fn borrow_attribute<'a>(a: &'a MessageAttribute<'_>) -> MessageAttribute<'a> {
    MessageAttribute {
        name: Cow::Borrowed(&a.name),
        data_type: Cow::Borrowed(&a.data_type),
        value: match &a.value {
            AttributeValue::String(s) => AttributeValue::String(Cow::Borrowed(s)),
            AttributeValue::Binary(b) => AttributeValue::Binary(Cow::Borrowed(b)),
        },
    }
}

fn check_count(what: &str, got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(ClientError::Unexpected(format!(
            "{what} of {want} entries answered with {got} results"
        )))
    }
}

fn owned_result<T>(
    r: std::result::Result<T, WireError<'_>>,
) -> std::result::Result<T, WireError<'static>> {
    r.map_err(WireError::into_owned)
}
