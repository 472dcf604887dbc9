//! RabbitMQ as a `compare` target: a durable classic queue, persistent messages
//! (delivery mode 2), publisher confirms (a batch is published, then every confirm is
//! awaited), consumers with manual acks and a prefetch of two batches; a consumer acks
//! each message it took. FIFO: one queue per message group, each consumed
//! by one consumer (consumer `i` of `n` owns groups `g % n == i`).
//!
//! Durability: RabbitMQ confirms a persistent message on a durable queue only once it is
//! fsynced (it batches fsyncs across publishers), which is `sync`; it has no looser
//! per-queue mode, so `batch` runs the same configuration (the table says so).
//!
//! The broker runs from Debian's scripts (`/usr/lib/rabbitmq/bin/rabbitmq-server`) with
//! every directory, the node name and the ports set through its environment variables,
//! so it touches nothing outside its temporary directory (but the Erlang port mapper,
//! `epmd`, which Erlang starts on 127.0.0.1:4369 and leaves running).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use super::server_process::{find_binary, free_port, ServerProcess};
use super::{peer, Acked, CompareError, Consumer, Kind, Producer, QueueSpec, Res, Target};
use crate::compare::Durability;

pub(crate) struct RabbitTarget {
    server: ServerProcess,
    uri: String,
}

impl RabbitTarget {
    pub(crate) fn start(_d: Durability, parent: &Path) -> Res<RabbitTarget> {
        let bin = find_binary(&["rabbitmq-server"])
            .filter(|p| p.starts_with("/usr/lib/rabbitmq"))
            .or_else(|| {
                let p = Path::new("/usr/lib/rabbitmq/bin/rabbitmq-server");
                p.is_file().then(|| p.to_path_buf())
            })
            .ok_or(CompareError::NotInstalled("rabbitmq-server"))?;
        let (port, dist) = (free_port()?, free_port()?);
        let node = format!("spoolbench{}x{port}@localhost", std::process::id());
        let mut server = ServerProcess::start("rabbitmq", parent, |dir| {
            let _ = std::fs::write(dir.join("enabled_plugins"), "[].\n");
            let _ = std::fs::write(dir.join("rabbitmq.conf"), "loopback_users = none\n");
            let mut c = Command::new(&bin);
            c.env("HOME", dir)
                .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
                .env("RABBITMQ_LOG_BASE", dir.join("log"))
                .env("RABBITMQ_NODENAME", &node)
                .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
                .env("RABBITMQ_NODE_PORT", port.to_string())
                .env("RABBITMQ_DIST_PORT", dist.to_string())
                .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
                .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq"))
                .env("ERL_EPMD_ADDRESS", "127.0.0.1")
                .env(
                    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                    "-kernel inet_dist_use_interface {127,0,0,1}",
                );
            c
        })?;
        server.wait_for_port(port, Duration::from_secs(90))?;
        Ok(RabbitTarget {
            server,
            uri: format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
        })
    }

    fn open(&self) -> Res<(tokio::runtime::Runtime, Connection, Channel)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (conn, ch) = rt
            .block_on(async {
                let conn = Connection::connect(&self.uri, ConnectionProperties::default()).await?;
                let ch = conn.create_channel().await?;
                Ok::<_, lapin::Error>((conn, ch))
            })
            .map_err(peer("rabbitmq"))?;
        Ok((rt, conn, ch))
    }
}

fn queues(q: &QueueSpec) -> Vec<String> {
    match q.kind {
        Kind::Standard => vec![q.name.clone()],
        Kind::Fifo | Kind::FifoHighThroughput => (0..q.groups).map(|g| format!("{}-g{g}", q.name)).collect(),
    }
}

impl Target for RabbitTarget {
    fn pid(&self) -> u32 {
        self.server.child.id()
    }

    fn prepare(&self, q: &QueueSpec) -> Res<()> {
        let (rt, _conn, ch) = self.open()?;
        rt.block_on(async {
            for name in queues(q) {
                ch.queue_declare(
                    name.as_str().into(),
                    QueueDeclareOptions::durable(),
                    FieldTable::default(),
                )
                .await?;
            }
            Ok::<_, lapin::Error>(())
        })
        .map_err(peer("rabbitmq queue_declare"))
    }

    fn producer(&self, q: &QueueSpec, _index: usize) -> Res<Box<dyn Producer>> {
        let (rt, conn, ch) = self.open()?;
        rt.block_on(ch.confirm_select(ConfirmSelectOptions::default()))
            .map_err(peer("rabbitmq confirm_select"))?;
        Ok(Box::new(RabbitProducer {
            rt,
            _conn: conn,
            ch,
            queues: queues(q),
        }))
    }

    fn consumer(&self, q: &QueueSpec, index: usize) -> Res<Box<dyn Consumer>> {
        let (rt, conn, ch) = self.open()?;
        let owned: Vec<String> = queues(q)
            .into_iter()
            .enumerate()
            .filter(|(g, _)| q.kind == Kind::Standard || g % q.consumers == index)
            .map(|(_, n)| n)
            .collect();
        let prefetch = (q.batch * 2).min(u16::MAX as usize) as u16;
        let consumers = rt
            .block_on(async {
                ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
                let mut v = Vec::new();
                for (i, name) in owned.iter().enumerate() {
                    v.push(
                        ch.basic_consume(
                            name.as_str().into(),
                            format!("c{index}-{i}").as_str().into(),
                            BasicConsumeOptions::default(),
                            FieldTable::default(),
                        )
                        .await?,
                    );
                }
                Ok::<_, lapin::Error>(v)
            })
            .map_err(peer("rabbitmq basic_consume"))?;
        Ok(Box::new(RabbitConsumer {
            rt,
            _conn: conn,
            ch,
            stream: futures_util::stream::select_all(consumers),
            batch: q.batch,
        }))
    }

    fn notes(&self) -> Vec<String> {
        vec![
            "rabbitmq: durable classic queue, persistent messages, publisher confirms, manual \
             acks, prefetch 2 batches; it has no looser durability mode, so `batch` runs are \
             the same configuration as `sync`; FIFO = a queue per group, each consumed by one \
             consumer"
                .into(),
        ]
    }
}

struct RabbitProducer {
    rt: tokio::runtime::Runtime,
    _conn: Connection,
    ch: Channel,
    queues: Vec<String>,
}

impl Producer for RabbitProducer {
    fn send(&mut self, bodies: &[Vec<u8>], group: usize) -> Res<()> {
        let queue = self.queues[group % self.queues.len()].as_str();
        let ch = &self.ch;
        self.rt
            .block_on(async {
                let mut confirms = Vec::with_capacity(bodies.len());
                for b in bodies {
                    confirms.push(
                        ch.basic_publish(
                            "".into(),
                            queue.into(),
                            BasicPublishOptions::default(),
                            b,
                            BasicProperties::default().with_delivery_mode(2),
                        )
                        .await?,
                    );
                }
                for c in confirms {
                    if !c.await?.is_ack() {
                        return Ok(Err(CompareError::Nacked));
                    }
                }
                Ok::<_, lapin::Error>(Ok(()))
            })
            .map_err(peer("rabbitmq publish"))?
    }
}

type DeliveryStream = futures_util::stream::SelectAll<lapin::Consumer>;

struct RabbitConsumer {
    rt: tokio::runtime::Runtime,
    _conn: Connection,
    ch: Channel,
    stream: DeliveryStream,
    batch: usize,
}

impl Consumer for RabbitConsumer {
    fn receive(&mut self, out: &mut Vec<Vec<u8>>) -> Res<Acked> {
        let (stream, ch, batch) = (&mut self.stream, &self.ch, self.batch);
        self.rt.block_on(async {
            let first = match tokio::time::timeout(Duration::from_millis(100), stream.next()).await
            {
                Err(_) => return Ok(()),
                Ok(None) => {
                    return Err(CompareError::Protocol {
                        peer: "rabbitmq",
                        what: "the consumer was cancelled".into(),
                    })
                }
                Ok(Some(d)) => d.map_err(peer("rabbitmq delivery"))?,
            };
            // Deliveries from several queues interleave on the channel, so tags arrive
            // out of order across them: ack each one (a multiple-ack could cover a tag
            // not taken yet). Acks are one-way frames, not round trips.
            let mut tags = vec![first.delivery_tag];
            out.push(first.data);
            // Take what has already arrived, up to a batch, without waiting.
            while tags.len() < batch {
                match stream.next().now_or_never() {
                    Some(Some(d)) => {
                        let d = d.map_err(peer("rabbitmq delivery"))?;
                        tags.push(d.delivery_tag);
                        out.push(d.data);
                    }
                    _ => break,
                }
            }
            for tag in tags {
                ch.basic_ack(tag, BasicAckOptions { multiple: false })
                    .await
                    .map_err(peer("rabbitmq ack"))?;
            }
            Ok::<(), CompareError>(())
        })?;
        Ok(Acked::of(out))
    }
}
