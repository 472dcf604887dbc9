//! NATS JetStream as a `compare` target: a stream with work-queue retention on file
//! storage, one durable pull consumer with explicit acks. Producers publish a batch and
//! then await every publish ack; consumers fetch up to a batch (expiring after 100 ms)
//! and ack each message. FIFO: one subject and one pull consumer per message group in the
//! same stream, each used by one consumer (consumer `i` of `n` owns groups
//! `g % n == i`), with at most a batch unacknowledged, which keeps per-group order.
//!
//! Durability: Debian's nats-server (2.9) writes JetStream messages to its files before
//! the publish ack but fsyncs them only on its own timer; the `sync_interval: always`
//! setting that would fsync each write arrived in 2.10. So both `sync` and `batch` runs
//! use the server's default, which is weaker than the other targets' `sync` (the table
//! says so).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;

use super::server_process::{find_binary, free_port, ServerProcess};
use super::{
    peer, Acked, CompareError, Consumer, Durability, Kind, Producer, QueueSpec, Res, Target,
};

pub(crate) struct NatsTarget {
    server: ServerProcess,
    addr: String,
}

impl NatsTarget {
    pub(crate) fn start(_d: Durability, parent: &Path) -> Res<NatsTarget> {
        let bin = find_binary(&["nats-server"]).ok_or(CompareError::NotInstalled("nats-server"))?;
        let port = free_port()?;
        let mut server = ServerProcess::start("nats", parent, |dir| {
            let mut c = Command::new(&bin);
            c.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
                .arg(dir.join("jetstream"));
            c
        })?;
        server.wait_for_port(port, Duration::from_secs(30))?;
        Ok(NatsTarget {
            server,
            addr: format!("127.0.0.1:{port}"),
        })
    }

    fn open(&self) -> Res<(tokio::runtime::Runtime, jetstream::Context)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // The JetStream context spawns a task: build it inside the runtime.
        let js = rt
            .block_on(async {
                async_nats::connect(self.addr.as_str())
                    .await
                    .map(jetstream::new)
            })
            .map_err(peer("nats"))?;
        Ok((rt, js))
    }
}

/// Stream names may not contain `.`; subjects are `<stream>.s` or `<stream>.g<N>`.
fn stream_name(q: &QueueSpec) -> String {
    q.name.replace('.', "_")
}

fn subjects(q: &QueueSpec) -> Vec<String> {
    let s = stream_name(q);
    match q.kind {
        Kind::Standard => vec![format!("{s}.s")],
        Kind::Fifo | Kind::FifoHighThroughput => (0..q.groups).map(|g| format!("{s}.g{g}")).collect(),
    }
}

fn consumer_name(subject: &str) -> String {
    subject.replace('.', "_")
}

impl Target for NatsTarget {
    fn pid(&self) -> u32 {
        self.server.child.id()
    }

    fn prepare(&self, q: &QueueSpec) -> Res<()> {
        let (rt, js) = self.open()?;
        let max_ack_pending = match q.kind {
            Kind::Standard => (q.batch * q.consumers * 2) as i64,
            Kind::Fifo | Kind::FifoHighThroughput => q.batch as i64,
        };
        rt.block_on(async {
            let st = js
                .create_stream(stream::Config {
                    name: stream_name(q),
                    subjects: vec![format!("{}.>", stream_name(q))],
                    retention: stream::RetentionPolicy::WorkQueue,
                    storage: stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(peer("nats create_stream"))?;
            for subject in subjects(q) {
                st.create_consumer(consumer::pull::Config {
                    durable_name: Some(consumer_name(&subject)),
                    filter_subject: subject.clone(),
                    ack_policy: consumer::AckPolicy::Explicit,
                    max_ack_pending,
                    ..Default::default()
                })
                .await
                .map_err(peer("nats create_consumer"))?;
            }
            Ok(())
        })
    }

    fn producer(&self, q: &QueueSpec, _index: usize) -> Res<Box<dyn Producer>> {
        let (rt, js) = self.open()?;
        Ok(Box::new(NatsProducer {
            rt,
            js,
            subjects: subjects(q),
        }))
    }

    fn consumer(&self, q: &QueueSpec, index: usize) -> Res<Box<dyn Consumer>> {
        let (rt, js) = self.open()?;
        let owned: Vec<String> = subjects(q)
            .into_iter()
            .enumerate()
            .filter(|(g, _)| q.kind == Kind::Standard || g % q.consumers == index)
            .map(|(_, s)| s)
            .collect();
        let consumers = rt
            .block_on(async {
                let st = js.get_stream(stream_name(q)).await?;
                let mut v = Vec::new();
                for s in &owned {
                    v.push(
                        st.get_consumer::<consumer::pull::Config>(&consumer_name(s))
                            .await?,
                    );
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(v)
            })
            .map_err(peer("nats get_consumer"))?;
        Ok(Box::new(NatsConsumer {
            rt,
            consumers,
            next: 0,
            batch: q.batch,
        }))
    }

    fn notes(&self) -> Vec<String> {
        vec![
            "nats: JetStream, work-queue stream on file storage, durable pull consumers, \
             explicit acks; nats-server 2.9 (Debian) fsyncs on its own timer and cannot be \
             told to fsync every write (that came in 2.10), so its `sync` and `batch` runs \
             both have weaker durability than the other targets' `sync`; FIFO = a subject and \
             consumer per group"
                .into(),
        ]
    }
}

struct NatsProducer {
    rt: tokio::runtime::Runtime,
    js: jetstream::Context,
    subjects: Vec<String>,
}

impl Producer for NatsProducer {
    fn send(&mut self, bodies: &[Vec<u8>], group: usize) -> Res<()> {
        let subject = self.subjects[group % self.subjects.len()].clone();
        let js = &self.js;
        self.rt.block_on(async {
            let mut acks = Vec::with_capacity(bodies.len());
            for b in bodies {
                acks.push(
                    js.publish(subject.clone(), bytes::Bytes::copy_from_slice(b))
                        .await
                        .map_err(peer("nats publish"))?,
                );
            }
            for a in acks {
                a.await.map_err(peer("nats publish ack"))?;
            }
            Ok(())
        })
    }
}

struct NatsConsumer {
    rt: tokio::runtime::Runtime,
    consumers: Vec<consumer::Consumer<consumer::pull::Config>>,
    next: usize,
    batch: usize,
}

impl Consumer for NatsConsumer {
    fn receive(&mut self, out: &mut Vec<Vec<u8>>) -> Res<Acked> {
        if self.consumers.is_empty() {
            // More consumers than FIFO groups: this one has nothing to read.
            std::thread::sleep(Duration::from_millis(100));
            return Ok(Acked::default());
        }
        // Owned groups take turns.
        let c = &self.consumers[self.next % self.consumers.len()];
        self.next = self.next.wrapping_add(1);
        let batch = self.batch;
        self.rt.block_on(async {
            let mut msgs = c
                .fetch()
                .max_messages(batch)
                .expires(Duration::from_millis(100))
                .messages()
                .await
                .map_err(peer("nats fetch"))?;
            while let Some(m) = msgs.next().await {
                let m = m.map_err(peer("nats fetch"))?;
                // A one-way publish to the reply subject: no answer to wait for.
                m.ack().await.map_err(peer("nats ack"))?;
                out.push(m.payload.to_vec());
            }
            Ok::<(), CompareError>(())
        })?;
        Ok(Acked::of(out))
    }
}
