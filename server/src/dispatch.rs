//! Request → engine → response: what a shard does with one decoded binary-protocol
//! request, with no sockets, threads or clocks of its own (sans-IO), so it is tested
//! directly.
//!
//! Promises:
//! - every request gets a response; an engine error becomes an `Error` response (or a
//!   per-entry error in a batch) with the code from [`crate::errors`]; nothing panics;
//! - limits the codec leaves to the server are checked here (receive size, visibility
//!   timeout, list page size);
//! - a response that acknowledges durable state (Sent, Deleted, a moved Redrive, a
//!   purge, a non-empty Received, VisibilityChanged) says so in [`Dispatched::needs_flush`]: the caller writes it only after the
//!   engine's next group commit.
//!
//! Long polling is the shard's job: `Receive` here answers with what is available now.

use std::borrow::Cow;
use std::collections::BTreeMap;

use spool_engine::{
    AttributeValue, Engine, EngineError, InvalidParameter, MessageAttribute, SendRequest,
};
use spool_protocol::message::{
    self, Map, Message, Request, Response, SendEntry, SendOk, VisibilityEntry,
};
use spool_protocol::MAX_BATCH;

use crate::{errors, handle};

/// What the server tells a client in the handshake.
#[derive(Debug, Clone, Copy)]
pub struct ServerInfo {
    pub max_frame: u32,
    pub shard_count: u16,
    /// The shard this engine is, named in the receipt handles it gives out.
    pub shard: u16,
}

/// The result of dispatching one request.
#[derive(Debug)]
pub struct Dispatched {
    pub response: Response<'static>,
    /// Send the response only after the engine's next flush has completed.
    pub needs_flush: bool,
}

/// Default and largest page of ListQueues / ListDeadLetterSourceQueues.
const MAX_LIST_RESULTS: usize = spool_model::limits::LIST_RESULTS_MAX as usize;

fn reply(response: Response<'static>) -> Dispatched {
    Dispatched {
        response,
        needs_flush: false,
    }
}

fn error(e: &EngineError) -> Dispatched {
    reply(Response::Error(errors::wire(e)))
}

fn invalid(name: &'static str, reason: InvalidParameter) -> Dispatched {
    error(&EngineError::InvalidParameter { name, reason })
}

fn owned_map(m: &Map<'_>) -> BTreeMap<String, String> {
    m.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn to_wire_map(m: BTreeMap<String, String>) -> Map<'static> {
    m.into_iter()
        .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
        .collect()
}

fn to_engine_attr(a: &message::MessageAttribute<'_>) -> MessageAttribute {
    MessageAttribute {
        name: a.name.to_string(),
        data_type: a.data_type.to_string(),
        value: match &a.value {
            message::AttributeValue::String(s) => AttributeValue::String(s.to_string()),
            message::AttributeValue::Binary(b) => AttributeValue::Binary(b.to_vec()),
        },
    }
}

fn to_wire_attr(a: MessageAttribute) -> message::MessageAttribute<'static> {
    message::MessageAttribute {
        name: Cow::Owned(a.name),
        data_type: Cow::Owned(a.data_type),
        value: match a.value {
            AttributeValue::String(s) => message::AttributeValue::String(Cow::Owned(s)),
            AttributeValue::Binary(b) => message::AttributeValue::Binary(Cow::Owned(b)),
        },
    }
}

/// SQS MessageAttributeNames semantics ([`spool_model::message::message_attribute_selected`]);
/// no names = none.
pub fn wants_attribute(names: &[Cow<'_, str>], attr: &str) -> bool {
    names
        .iter()
        .any(|n| spool_model::message::message_attribute_selected(n, attr))
}

/// A page of `names` after `next_token` (the last name of the previous page).
fn page(
    names: Vec<String>,
    max_results: u16,
    next_token: Option<&str>,
) -> (Vec<Cow<'static, str>>, Option<Cow<'static, str>>) {
    let max = match max_results as usize {
        0 => MAX_LIST_RESULTS,
        n => n.min(MAX_LIST_RESULTS),
    };
    let mut rest = names
        .into_iter()
        .filter(|n| next_token.is_none_or(|t| n.as_str() > t));
    let out: Vec<Cow<'static, str>> = rest.by_ref().take(max).map(Cow::Owned).collect();
    let more = rest.next().is_some();
    let token = more.then(|| out.last().cloned()).flatten();
    (out, token)
}

/// Room for message bytes in one Receive reply: the frame maximum less one largest message
/// (`MESSAGE_SIZE_MAX_BYTES` of [`spool_model::limits`], with attributes) and generous per-message overhead, so the message that crosses
/// the budget still fits. The daemon refuses a maximum frame below 4 MiB.
pub fn reply_budget(max_frame: u32) -> usize {
    (max_frame as usize).saturating_sub(2 << 20).max(64 << 10)
}

/// Handles one request against the engine. Receipt handles go out with this shard's
/// prefix ([`handle::wrap`]) and come back in Delete and ChangeVisibility without it: the
/// shard that read the request strips it when it routes each handle to its shard.
pub fn dispatch(engine: &mut Engine, info: &ServerInfo, req: Request<'_>) -> Dispatched {
    match req {
        Request::Hello { .. } => hello(*info),
        Request::Ping => reply(Response::Pong),
        Request::CreateQueue {
            name,
            attributes,
            tags,
        } => create_queue(engine, &name, &attributes, &tags),
        Request::DeleteQueue { name } => unit(engine.delete_queue(&name), Response::QueueDeleted),
        Request::GetQueue { name } => match engine.queue_id(&name) {
            Ok(queue_id) => reply(Response::Queue { queue_id }),
            Err(e) => error(&e),
        },
        Request::ListQueues {
            prefix,
            max_results,
            next_token,
        } => {
            let (names, next_token) = page(
                engine.list_queues(&prefix),
                max_results,
                next_token.as_deref(),
            );
            reply(Response::Queues { names, next_token })
        }
        Request::GetQueueAttributes {
            name,
            attribute_names,
        } => get_queue_attributes(engine, &name, &attribute_names),
        Request::SetQueueAttributes { name, attributes } => unit(
            engine.set_queue_attributes(&name, &owned_map(&attributes)),
            Response::QueueAttributesSet,
        ),
        Request::PurgeQueue { name } => match engine.purge_queue(&name) {
            Ok(()) => durable(Response::Purged),
            Err(e) => error(&e),
        },
        Request::ListDeadLetterSourceQueues {
            name,
            max_results,
            next_token,
        } => match engine.dead_letter_source_queues(&name) {
            Ok(all) => {
                let (names, next_token) = page(all, max_results, next_token.as_deref());
                reply(Response::DeadLetterSourceQueues { names, next_token })
            }
            Err(e) => error(&e),
        },
        Request::Redrive {
            source,
            destination,
            max_messages,
        } => match engine.redrive(&source, destination.as_deref(), max_messages as usize) {
            Ok(moved) => durable(Response::Redriven {
                moved: moved as u64,
            }),
            Err(e) => error(&e),
        },
        Request::TagQueue { name, tags } => unit(
            engine.tag_queue(&name, &owned_map(&tags)),
            Response::QueueTagged,
        ),
        Request::UntagQueue { name, keys } => {
            let keys: Vec<String> = keys.iter().map(std::string::ToString::to_string).collect();
            unit(engine.untag_queue(&name, &keys), Response::QueueUntagged)
        }
        Request::ListQueueTags { name } => match engine.queue_tags(&name) {
            Ok(tags) => reply(Response::QueueTags {
                tags: to_wire_map(tags),
            }),
            Err(e) => error(&e),
        },
        Request::Send { queue, entries } => send(engine, &queue, entries),
        Request::Receive {
            queue,
            max_messages,
            visibility_timeout_s,
            wait_time_ms: _,
            attribute_names,
            system_attributes,
        } => receive(
            engine,
            *info,
            &queue,
            ReceiveWants {
                max_messages,
                visibility_timeout_s,
                attribute_names: &attribute_names,
                system_attributes,
            },
        ),
        Request::Delete {
            queue,
            receipt_handles,
        } => delete(engine, &queue, &receipt_handles),
        Request::ChangeVisibility { queue, entries } => change_visibility(engine, &queue, &entries),
    }
}

/// A response that acknowledges durable state: written after the next group commit.
fn durable(response: Response<'static>) -> Dispatched {
    Dispatched {
        response,
        needs_flush: true,
    }
}

/// `ok` when the engine call succeeded, else its error.
fn unit(r: Result<(), EngineError>, ok: Response<'static>) -> Dispatched {
    match r {
        Ok(()) => reply(ok),
        Err(e) => error(&e),
    }
}

fn hello(info: ServerInfo) -> Dispatched {
    reply(Response::Hello {
        version: spool_protocol::VERSION,
        max_frame: info.max_frame,
        max_batch: MAX_BATCH as u32,
        shard_count: info.shard_count,
    })
}

fn create_queue(
    engine: &mut Engine,
    name: &str,
    attributes: &Map<'_>,
    tags: &Map<'_>,
) -> Dispatched {
    match engine.create_queue(name, &owned_map(attributes), &owned_map(tags)) {
        Ok(created) => match engine.queue_id(name) {
            Ok(queue_id) => reply(Response::QueueCreated { queue_id, created }),
            Err(e) => error(&e),
        },
        Err(e) => error(&e),
    }
}

fn get_queue_attributes(
    engine: &mut Engine,
    name: &str,
    attribute_names: &[Cow<'_, str>],
) -> Dispatched {
    let all = match engine.get_queue_attributes(name) {
        Ok(all) => all,
        Err(e) => return error(&e),
    };
    let every = attribute_names.is_empty()
        || attribute_names
            .iter()
            .any(|n| n.as_ref() == spool_model::attrs::names::ALL);
    if let Some(unknown) = attribute_names
        .iter()
        .find(|n| !spool_model::attrs::names::is_known_attribute_name(n))
    {
        return error(&EngineError::Attr(
            spool_engine::attrs::AttrError::InvalidAttributeName(unknown.to_string()),
        ));
    }
    let picked = all
        .into_iter()
        .filter(|(k, _)| every || attribute_names.iter().any(|n| n == k))
        .collect();
    reply(Response::QueueAttributes {
        attributes: to_wire_map(picked),
    })
}

fn send(engine: &mut Engine, queue: &str, entries: Vec<SendEntry<'_>>) -> Dispatched {
    // By value: an owned request (one routed between shards) moves its bodies into the
    // engine's send requests instead of copying them.
    let batch: Vec<SendRequest> = entries
        .into_iter()
        .map(|e| SendRequest {
            body: e.body.into_owned(),
            attributes: e.attributes.iter().map(to_engine_attr).collect(),
            system_attributes: e.system_attributes.iter().map(to_engine_attr).collect(),
            delay_s: e.delay_s,
            group_id: e.group_id.map(Cow::into_owned),
            dedup_id: e.dedup_id.map(Cow::into_owned),
        })
        .collect();
    match engine.send(queue, &batch) {
        Ok(results) => durable(Response::Sent {
            results: results
                .into_iter()
                .map(|r| match r {
                    Ok(o) => Ok(SendOk {
                        message_id: o.message_id.0,
                        sequence_number: o.sequence_number,
                        duplicate: o.duplicate,
                    }),
                    Err(e) => Err(errors::wire(&e)),
                })
                .collect(),
        }),
        Err(e) => error(&e),
    }
}

/// What a Receive asks for beyond its queue.
#[derive(Clone, Copy)]
struct ReceiveWants<'r, 'a> {
    max_messages: u32,
    visibility_timeout_s: Option<u32>,
    attribute_names: &'r [Cow<'a, str>],
    system_attributes: bool,
}

fn receive(
    engine: &mut Engine,
    info: ServerInfo,
    queue: &str,
    wants: ReceiveWants<'_, '_>,
) -> Dispatched {
    let max_messages = wants.max_messages;
    if max_messages == 0 || max_messages as usize > MAX_BATCH {
        return invalid(
            "MaxNumberOfMessages",
            InvalidParameter::CountOutOfRange {
                count: max_messages as usize,
                min: 1,
                max: MAX_BATCH,
            },
        );
    }
    let budget = reply_budget(info.max_frame);
    let got = match engine.receive_within(
        queue,
        max_messages as usize,
        wants.visibility_timeout_s,
        budget,
    ) {
        Ok(got) => got,
        Err(e) => return error(&e),
    };
    let messages: Vec<Message<'static>> = got
        .into_iter()
        .map(|m| Message {
            message_id: m.message_id.0,
            receipt_handle: Cow::Owned(handle::wrap(info.shard, &m.receipt_handle)),
            body: Cow::Owned(m.body),
            attributes: m
                .attributes
                .into_iter()
                .filter(|a| wants_attribute(wants.attribute_names, &a.name))
                .map(to_wire_attr)
                .collect(),
            system_attributes: if wants.system_attributes {
                m.system_attributes.into_iter().map(to_wire_attr).collect()
            } else {
                Vec::new()
            },
            receive_count: m.receive_count,
            sent_ms: m.sent_at_ms,
            first_receive_ms: m.first_receive_ms,
            group_id: m.group_id.map(Cow::Owned),
            dedup_id: m.dedup_id.map(Cow::Owned),
            sequence_number: m.sequence_number,
            dead_letter_source: m.dead_letter_source.map(Cow::Owned),
        })
        .collect();
    // Receiving moves messages past maxReceiveCount to their dead-letter queue; those
    // moves complete with the next flush. A receive is journaled (its state marker) by the
    // next flush too: in `sync` durability the reply waits for it, so a message received
    // just before a crash is still in flight after it, and its handle still works.
    if messages.is_empty() {
        reply(Response::Received { messages })
    } else {
        durable(Response::Received { messages })
    }
}

fn delete(engine: &mut Engine, queue: &str, receipt_handles: &[Cow<'_, [u8]>]) -> Dispatched {
    let results = match engine.delete_messages(queue, receipt_handles) {
        Ok(r) => r
            .into_iter()
            .map(|r| r.map(|_| ()).map_err(|e| errors::wire(&e)))
            .collect(),
        Err(e) => return error(&e),
    };
    durable(Response::Deleted { results })
}

fn change_visibility(
    engine: &mut Engine,
    queue: &str,
    entries: &[VisibilityEntry<'_>],
) -> Dispatched {
    if !engine.queue_exists(queue) {
        return error(&EngineError::QueueDoesNotExist(queue.to_string()));
    }
    let results = entries
        .iter()
        .map(|e| {
            engine
                .change_visibility(queue, &e.receipt_handle, e.timeout_s)
                .map_err(|e| errors::wire(&e))
        })
        .collect::<Vec<_>>();
    // A visibility change is journaled by the next flush, as a receive is.
    if results.iter().any(Result::is_ok) {
        durable(Response::VisibilityChanged { results })
    } else {
        reply(Response::VisibilityChanged { results })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spool_engine::{Counters, EngineConfig, ManualClock};
    use spool_protocol::message::{SendEntry, VisibilityEntry};
    use spool_protocol::ErrorCode;
    use std::sync::Arc;

    const INFO: ServerInfo = ServerInfo {
        max_frame: 1 << 20,
        shard_count: 1,
        shard: 0,
    };

    fn engine(dir: &std::path::Path, clock: &ManualClock) -> Engine {
        Engine::open(dir, EngineConfig::default(), Arc::new(clock.clone()))
            .unwrap()
            .0
    }

    fn code(d: &Dispatched) -> Option<ErrorCode> {
        match &d.response {
            Response::Error(e) => Some(e.code),
            _ => None,
        }
    }

    #[test]
    fn send_receive_delete_round_trip_with_errors() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(1_800_000_000_000);
        let mut e = engine(dir.path(), &clock);
        let d = dispatch(
            &mut e,
            &INFO,
            Request::CreateQueue {
                name: "q".into(),
                attributes: [("VisibilityTimeout".into(), "5".into())].into(),
                tags: Map::new(),
            },
        );
        assert!(matches!(
            d.response,
            Response::QueueCreated { created: true, .. }
        ));
        let attrs = vec![
            message::MessageAttribute {
                name: "app.kind".into(),
                data_type: "String".into(),
                value: message::AttributeValue::String("a".into()),
            },
            message::MessageAttribute {
                name: "other".into(),
                data_type: "Binary".into(),
                value: message::AttributeValue::Binary(vec![0, 1].into()),
            },
        ];
        let d = dispatch(
            &mut e,
            &INFO,
            Request::Send {
                queue: "q".into(),
                entries: vec![
                    SendEntry {
                        body: b"hello".as_slice().into(),
                        attributes: attrs,
                        ..Default::default()
                    },
                    SendEntry::default(), // empty body: a per-entry error
                ],
            },
        );
        assert!(d.needs_flush);
        let Response::Sent { results } = d.response else {
            panic!("{:?}", d.response)
        };
        assert!(results[0].is_ok());
        assert_eq!(
            results[1].as_ref().unwrap_err().code,
            ErrorCode::MissingParameter
        );
        e.flush().unwrap();
        let d = dispatch(
            &mut e,
            &INFO,
            Request::Receive {
                queue: "q".into(),
                max_messages: 10,
                visibility_timeout_s: None,
                wait_time_ms: 0,
                attribute_names: vec!["app.*".into()],
                system_attributes: false,
            },
        );
        assert!(d.needs_flush, "a receive is journaled by the next flush");
        let Response::Received { messages } = d.response else {
            panic!("{:?}", d.response)
        };
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].body.as_ref(), b"hello");
        assert_eq!(messages[0].attributes.len(), 1, "only app.* attributes");
        assert_eq!(messages[0].attributes[0].name, "app.kind");
        // Handles come out with their shard prefix; routing strips it before a delete.
        let wire = messages[0].receipt_handle.clone().into_owned();
        let (shard, inner) = handle::unwrap(&wire, 1).unwrap();
        assert_eq!(shard, 0);
        let handle = inner.to_vec();
        let d = dispatch(
            &mut e,
            &INFO,
            Request::ChangeVisibility {
                queue: "q".into(),
                entries: vec![
                    VisibilityEntry {
                        receipt_handle: handle.clone().into(),
                        timeout_s: 60,
                    },
                    VisibilityEntry {
                        receipt_handle: b"forged".as_slice().into(),
                        timeout_s: 60,
                    },
                ],
            },
        );
        assert!(
            d.needs_flush,
            "a visibility change is journaled by the next flush"
        );
        let Response::VisibilityChanged { results } = d.response else {
            panic!()
        };
        assert!(results[0].is_ok());
        assert_eq!(
            results[1].as_ref().unwrap_err().code,
            ErrorCode::ReceiptHandleIsInvalid
        );
        let d = dispatch(
            &mut e,
            &INFO,
            Request::Delete {
                queue: "q".into(),
                receipt_handles: vec![handle.into(), vec![0xff, 0xfe].into()],
            },
        );
        assert!(d.needs_flush);
        let Response::Deleted { results } = d.response else {
            panic!()
        };
        assert!(results[0].is_ok());
        assert_eq!(
            results[1].as_ref().unwrap_err().code,
            ErrorCode::ReceiptHandleIsInvalid
        );
        e.flush().unwrap();
        assert_eq!(e.counters("q").unwrap(), Counters::default());
        // Whole-request errors.
        let d = dispatch(
            &mut e,
            &INFO,
            Request::Receive {
                queue: "nope".into(),
                max_messages: 1,
                visibility_timeout_s: None,
                wait_time_ms: 0,
                attribute_names: vec![],
                system_attributes: false,
            },
        );
        assert_eq!(code(&d), Some(ErrorCode::QueueDoesNotExist));
        let d = dispatch(
            &mut e,
            &INFO,
            Request::Receive {
                queue: "q".into(),
                max_messages: 0,
                visibility_timeout_s: None,
                wait_time_ms: 0,
                attribute_names: vec![],
                system_attributes: false,
            },
        );
        assert_eq!(code(&d), Some(ErrorCode::InvalidParameter));
        let d = dispatch(
            &mut e,
            &INFO,
            Request::GetQueueAttributes {
                name: "q".into(),
                attribute_names: vec!["Bogus".into()],
            },
        );
        assert_eq!(code(&d), Some(ErrorCode::InvalidAttributeName));
        let d = dispatch(
            &mut e,
            &INFO,
            Request::CreateQueue {
                name: "q".into(),
                attributes: [("VisibilityTimeout".into(), "6".into())].into(),
                tags: Map::new(),
            },
        );
        assert_eq!(code(&d), Some(ErrorCode::QueueNameExists));
    }

    #[test]
    fn list_pages_and_attribute_filters() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(1_800_000_000_000);
        let mut e = engine(dir.path(), &clock);
        for n in ["a1", "a2", "a3", "b1"] {
            e.create_queue(n, &BTreeMap::new(), &BTreeMap::new())
                .unwrap();
        }
        let list = |e: &mut Engine, token: Option<&str>| {
            let d = dispatch(
                e,
                &INFO,
                Request::ListQueues {
                    prefix: "a".into(),
                    max_results: 2,
                    next_token: token.map(|t| Cow::Owned(t.to_string())),
                },
            );
            match d.response {
                Response::Queues { names, next_token } => (
                    names
                        .into_iter()
                        .map(std::borrow::Cow::into_owned)
                        .collect::<Vec<_>>(),
                    next_token.map(std::borrow::Cow::into_owned),
                ),
                r => panic!("{r:?}"),
            }
        };
        let (p1, t1) = list(&mut e, None);
        assert_eq!(p1, ["a1", "a2"]);
        let (p2, t2) = list(&mut e, t1.as_deref());
        assert_eq!(p2, ["a3"]);
        assert_eq!(t2, None);
        let d = dispatch(
            &mut e,
            &INFO,
            Request::GetQueueAttributes {
                name: "a1".into(),
                attribute_names: vec!["VisibilityTimeout".into(), "QueueArn".into()],
            },
        );
        let Response::QueueAttributes { attributes } = d.response else {
            panic!()
        };
        assert_eq!(attributes.len(), 2);
        assert_eq!(attributes["VisibilityTimeout"], "30");
        for (names, attr, want) in [
            (vec!["All"], "x", true),
            (vec![".*"], "x", true),
            (vec!["foo.*"], "foo.bar", true),
            (vec!["foo.*"], "foobar", true),
            (vec!["foo.*"], "fo", false),
            (vec!["x"], "x", true),
            (vec![], "x", false),
        ] {
            let names: Vec<Cow<str>> = names.into_iter().map(Cow::Borrowed).collect();
            assert_eq!(wants_attribute(&names, attr), want, "{names:?} {attr}");
        }
    }
}
