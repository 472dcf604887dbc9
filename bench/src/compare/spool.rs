//! Spool as a `compare` target, over the binary protocol (`spool-binary`: one
//! Send request per batch, Receive + Delete of up to a batch) or over the SQS API
//! (`spool-sqs`: SendMessageBatch / ReceiveMessage (1 s long poll) / DeleteMessageBatch in
//! chunks of 10, SQS's limit, one after another). Sync durability is spoold's `sync` (acknowledged
//! after group-commit fdatasync); batch is `batch=1000` (fdatasync at least every second,
//! like Redis's `everysec`). FIFO queues get `MessageGroupId` `g<N>` and a unique
//! deduplication id per message.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

use spool_client::{ClientConfig, Connection, ReceiveOptions};
use spool_protocol::message::SendEntry;

use super::{Acked, CompareError, Consumer, Durability, Kind, Producer, QueueSpec, Res, Target};
use crate::daemon::{self, DaemonArgs, Spawned};
use crate::sqs::{delete_batch_body, BatchResult, Client, Received};

pub(crate) struct SpoolTarget {
    server: Spawned,
    sqs: bool,
}

impl SpoolTarget {
    pub(crate) fn start(d: Durability, dir: &Path, sqs: bool, extra: &str) -> Res<SpoolTarget> {
        let args = DaemonArgs {
            addr: None,
            producers: 0,
            consumers: 0,
            size: 100,
            batch: 1,
            pipeline: 1,
            durability: match d {
                Durability::Sync => "sync".into(),
                Durability::Batch => "batch=1000".into(),
            },
            shards: None,
            server_args: extra.to_string(),
            duration: 0.0,
            warmup: 0.0,
            repeat: 1,
            rate: 0,
            dir: dir.to_path_buf(),
        };
        let server = daemon::spawn(&args, sqs)?;
        Ok(SpoolTarget { server, sqs })
    }

    fn connect(&self) -> Res<Connection> {
        Ok(Connection::connect(&ClientConfig {
            addr: self.server.addr.clone(),
            ..Default::default()
        })?)
    }

    fn sqs_client(&self) -> Res<(tokio::runtime::Runtime, Client)> {
        let url = self.server.sqs_url.clone().ok_or(CompareError::NoSqsUrl)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let c = rt.block_on(Client::connect(&url))?;
        Ok((rt, c))
    }

    fn queue_url(&self, q: &QueueSpec) -> String {
        let url = self.server.sqs_url.as_deref().unwrap_or_default();
        format!("{url}/000000000000/{}", q.name)
    }
}

fn attributes(q: &QueueSpec) -> Vec<(&'static str, &'static str)> {
    let mut a = vec![("VisibilityTimeout", "300")];
    if q.kind.is_fifo() {
        a.push(("FifoQueue", "true"));
    }
    if q.kind == Kind::FifoHighThroughput {
        a.push(("DeduplicationScope", "messageGroup"));
        a.push(("FifoThroughputLimit", "perMessageGroupId"));
    }
    a
}

impl Target for SpoolTarget {
    fn pid(&self) -> u32 {
        self.server.child.id()
    }

    fn prepare(&self, q: &QueueSpec) -> Res<()> {
        self.connect()?.create_queue(&q.name, &attributes(q))?;
        Ok(())
    }

    fn producer(&self, q: &QueueSpec, index: usize) -> Res<Box<dyn Producer>> {
        if self.sqs {
            let (rt, c) = self.sqs_client()?;
            return Ok(Box::new(SqsProducer {
                rt,
                c,
                url: self.queue_url(q),
                fifo: q.kind.is_fifo(),
                index,
                seq: 0,
            }));
        }
        Ok(Box::new(BinaryProducer {
            c: self.connect()?,
            queue: q.name.clone(),
            fifo: q.kind.is_fifo(),
            index,
            seq: 0,
        }))
    }

    fn consumer(&self, q: &QueueSpec, _index: usize) -> Res<Box<dyn Consumer>> {
        if self.sqs {
            let (rt, c) = self.sqs_client()?;
            let url = self.queue_url(q);
            return Ok(Box::new(SqsConsumer {
                rt,
                c,
                receive: format!(
                    "{{\"QueueUrl\":\"{url}\",\"MaxNumberOfMessages\":{},\"WaitTimeSeconds\":1}}",
                    q.batch.min(10)
                ),
                url,
            }));
        }
        Ok(Box::new(BinaryConsumer {
            c: self.connect()?,
            queue: q.name.clone(),
            opts: ReceiveOptions {
                max_messages: q.batch as u32,
                wait_time_ms: 100,
                ..Default::default()
            },
            unanswered: None,
        }))
    }

    fn notes(&self) -> Vec<String> {
        vec![
            "spool: spoold with its default shards (one per core); sync = `--durability \
             sync` (ack after group-commit fdatasync), batch = `--durability batch=1000`"
                .into(),
        ]
    }
}

struct BinaryProducer {
    c: Connection,
    queue: String,
    fifo: bool,
    index: usize,
    seq: u64,
}

impl Producer for BinaryProducer {
    fn send(&mut self, bodies: &[Vec<u8>], group: usize) -> Res<()> {
        let group_id = format!("g{group}");
        let entries: Vec<SendEntry<'_>> = bodies
            .iter()
            .map(|b| {
                self.seq += 1;
                SendEntry {
                    body: Cow::Borrowed(b.as_slice()),
                    group_id: self.fifo.then_some(Cow::Borrowed(group_id.as_str())),
                    dedup_id: self
                        .fifo
                        .then(|| Cow::Owned(format!("p{}-{}", self.index, self.seq))),
                    ..Default::default()
                }
            })
            .collect();
        let results = self.c.send(&self.queue, &entries)?;
        match results.into_iter().find_map(Result::err) {
            Some(e) => Err(CompareError::Refused {
                what: "send",
                detail: format!("{e:?}"),
            }),
            None => Ok(()),
        }
    }
}

struct BinaryConsumer {
    c: Connection,
    queue: String,
    opts: ReceiveOptions,
    /// The delete of the last batch received, submitted but not yet answered: its
    /// request id, handle count and what it acknowledges.
    unanswered: Option<(u64, usize, Acked)>,
}

impl Consumer for BinaryConsumer {
    fn receive(&mut self, out: &mut Vec<Vec<u8>>) -> Res<Acked> {
        // The previous batch's delete is already on the wire; receive the next batch while
        // its group commit runs, then collect the delete's answer.
        let msgs = self.c.receive(&self.queue, &self.opts)?;
        let mut acked = Acked::default();
        if let Some((id, n, size)) = self.unanswered.take() {
            let results = self.c.delete_results(id, n)?;
            if let Some(e) = results.into_iter().find_map(Result::err) {
                return Err(CompareError::Refused {
                    what: "delete",
                    detail: format!("{e:?}"),
                });
            }
            acked = size;
        }
        if !msgs.is_empty() {
            let handles: Vec<&[u8]> = msgs.iter().map(|m| m.receipt_handle.as_ref()).collect();
            let id = self.c.submit_delete(&self.queue, &handles)?;
            let (n, first) = (msgs.len(), out.len());
            out.extend(msgs.into_iter().map(|m| m.body.into_owned()));
            self.unanswered = Some((id, n, Acked::of(&out[first..])));
        }
        Ok(acked)
    }
}

struct SqsProducer {
    rt: tokio::runtime::Runtime,
    c: Client,
    url: String,
    fifo: bool,
    index: usize,
    seq: u64,
}

impl Producer for SqsProducer {
    fn send(&mut self, bodies: &[Vec<u8>], group: usize) -> Res<()> {
        for chunk in bodies.chunks(10) {
            // Bodies are hex digits and `x`: no JSON escaping needed.
            let mut req = String::with_capacity(chunk.iter().map(|b| b.len() + 96).sum());
            let _ = write!(req, "{{\"QueueUrl\":\"{}\",\"Entries\":[", self.url);
            for (i, b) in chunk.iter().enumerate() {
                self.seq += 1;
                let body = std::str::from_utf8(b)?;
                let comma = if i > 0 { "," } else { "" };
                let _ = write!(req, "{comma}{{\"Id\":\"{i}\",\"MessageBody\":\"{body}\"");
                if self.fifo {
                    let _ = write!(
                        req,
                        ",\"MessageGroupId\":\"g{group}\",\"MessageDeduplicationId\":\"p{}-{}\"",
                        self.index, self.seq
                    );
                }
                req.push('}');
            }
            req.push_str("]}");
            let bytes = self.rt.block_on(self.c.call("SendMessageBatch", req))?;
            let r: BatchResult = serde_json::from_slice(&bytes)?;
            if r.successful.len() != chunk.len() {
                return Err(CompareError::Partial {
                    what: "batch",
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                });
            }
        }
        Ok(())
    }
}

struct SqsConsumer {
    rt: tokio::runtime::Runtime,
    c: Client,
    url: String,
    receive: String,
}

impl Consumer for SqsConsumer {
    /// One HTTP request at a time: the delete is answered before the next receive.
    fn receive(&mut self, out: &mut Vec<Vec<u8>>) -> Res<Acked> {
        let bytes = self
            .rt
            .block_on(self.c.call("ReceiveMessage", self.receive.clone()))?;
        let r: Received = serde_json::from_slice(&bytes)?;
        if r.messages.is_empty() {
            return Ok(Acked::default());
        }
        let body = delete_batch_body(&self.url, &r.messages);
        let bytes = self.rt.block_on(self.c.call("DeleteMessageBatch", body))?;
        let d: BatchResult = serde_json::from_slice(&bytes)?;
        if d.successful.len() != r.messages.len() {
            return Err(CompareError::Partial {
                what: "deletes",
                text: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        let first = out.len();
        out.extend(r.messages.iter().map(|m| m.body.as_bytes().to_vec()));
        Ok(Acked::of(&out[first..]))
    }
}
