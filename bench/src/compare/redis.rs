//! Redis Streams as a `compare` target: a queue is a stream with one consumer group.
//! Producers XADD a batch in one pipeline; consumers XREADGROUP up to a batch (BLOCK
//! 100 ms) and then XACK and XDEL what they got in one pipeline (a deleted SQS message is
//! gone; XACK alone would keep it in the stream). FIFO: one stream per message group,
//! each read by exactly one consumer (consumer `i` of `n` owns groups `g % n == i`),
//! which keeps per-group order as SQS FIFO does.
//!
//! Durability: the append-only file with `appendfsync always` (sync: fsync before the
//! reply, one per event-loop turn, so pipelines share it) or `everysec` (batch); RDB
//! snapshots off.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use redis::Value;

use super::server_process::{find_binary, free_port, ServerProcess};
use super::{
    peer, Acked, CompareError, Consumer, Durability, Kind, Producer, QueueSpec, Res, Target,
};

pub(crate) struct RedisTarget {
    server: ServerProcess,
    url: String,
}

impl RedisTarget {
    pub(crate) fn start(d: Durability, parent: &Path) -> Res<RedisTarget> {
        let bin =
            find_binary(&["redis-server"]).ok_or(CompareError::NotInstalled("redis-server"))?;
        let port = free_port()?;
        let fsync = match d {
            Durability::Sync => "always",
            Durability::Batch => "everysec",
        };
        let mut server = ServerProcess::start("redis", parent, |dir| {
            let mut c = Command::new(&bin);
            c.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .arg("--dir")
                .arg(dir)
                .args(["--appendonly", "yes", "--appendfsync", fsync])
                .args(["--save", "", "--daemonize", "no", "--protected-mode", "yes"]);
            c
        })?;
        server.wait_for_port(port, Duration::from_secs(30))?;
        Ok(RedisTarget {
            server,
            url: format!("redis://127.0.0.1:{port}/"),
        })
    }

    fn connect(&self) -> Res<redis::Connection> {
        redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection())
            .map_err(peer("redis"))
    }
}

fn keys(q: &QueueSpec) -> Vec<String> {
    match q.kind {
        Kind::Standard => vec![q.name.clone()],
        Kind::Fifo | Kind::FifoHighThroughput => (0..q.groups).map(|g| format!("{}:g{g}", q.name)).collect(),
    }
}

const GROUP: &str = "bench";

impl Target for RedisTarget {
    fn pid(&self) -> u32 {
        self.server.child.id()
    }

    fn prepare(&self, q: &QueueSpec) -> Res<()> {
        let mut c = self.connect()?;
        for k in keys(q) {
            redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&k)
                .arg(GROUP)
                .arg("$")
                .arg("MKSTREAM")
                .query::<()>(&mut c)
                .map_err(peer("redis XGROUP CREATE"))?;
        }
        Ok(())
    }

    fn producer(&self, q: &QueueSpec, _index: usize) -> Res<Box<dyn Producer>> {
        Ok(Box::new(RedisProducer {
            c: self.connect()?,
            keys: keys(q),
        }))
    }

    fn consumer(&self, q: &QueueSpec, index: usize) -> Res<Box<dyn Consumer>> {
        let all = keys(q);
        let owned: Vec<String> = match q.kind {
            Kind::Standard => all,
            Kind::Fifo | Kind::FifoHighThroughput => all
                .into_iter()
                .enumerate()
                .filter(|(g, _)| g % q.consumers == index)
                .map(|(_, k)| k)
                .collect(),
        };
        let per_stream = (q.batch / owned.len().max(1)).max(1);
        Ok(Box::new(RedisConsumer {
            c: self.connect()?,
            name: format!("c{index}"),
            owned,
            per_stream,
            unacked: Vec::new(),
            unacked_size: Acked::default(),
        }))
    }

    fn notes(&self) -> Vec<String> {
        vec![
            "redis: Redis Streams, one consumer group; sync = `appendonly yes, appendfsync \
             always`, batch = `appendfsync everysec`; consumers XACK + XDEL; FIFO = a stream \
             per group, each read by one consumer"
                .into(),
        ]
    }
}

struct RedisProducer {
    c: redis::Connection,
    keys: Vec<String>,
}

impl Producer for RedisProducer {
    fn send(&mut self, bodies: &[Vec<u8>], group: usize) -> Res<()> {
        let key = &self.keys[group % self.keys.len()];
        let mut p = redis::pipe();
        for b in bodies {
            p.cmd("XADD").arg(key).arg("*").arg("b").arg(b.as_slice());
        }
        p.query::<()>(&mut self.c).map_err(peer("redis XADD"))
    }
}

struct RedisConsumer {
    c: redis::Connection,
    name: String,
    owned: Vec<String>,
    per_stream: usize,
    /// The last batch read, not yet acknowledged: (stream, entry ids) and its size.
    unacked: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    unacked_size: Acked,
}

impl Consumer for RedisConsumer {
    fn receive(&mut self, out: &mut Vec<Vec<u8>>) -> Res<Acked> {
        if self.owned.is_empty() {
            // More consumers than FIFO groups: this one has nothing to read.
            std::thread::sleep(Duration::from_millis(100));
            return Ok(Acked::default());
        }
        // One round trip: the previous batch's XACK + XDEL, then the next XREADGROUP.
        // With `appendfsync always` Redis answers the pipeline after the fsync that makes
        // the acknowledgements durable.
        let mut p = redis::pipe();
        for (key, ids) in &self.unacked {
            p.cmd("XACK").arg(key).arg(GROUP).arg(ids).ignore();
            p.cmd("XDEL").arg(key).arg(ids).ignore();
        }
        let read = p
            .cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(&self.name)
            .arg("COUNT")
            .arg(self.per_stream)
            .arg("BLOCK")
            .arg(100)
            .arg("STREAMS");
        for k in &self.owned {
            read.arg(k);
        }
        for _ in &self.owned {
            read.arg(">");
        }
        let mut reply: Vec<Value> = p
            .query(&mut self.c)
            .map_err(peer("redis XACK/XDEL/XREADGROUP"))?;
        let acked = std::mem::take(&mut self.unacked_size);
        self.unacked.clear();
        let reply = reply.pop().ok_or_else(|| CompareError::Protocol {
            peer: "redis",
            what: "no XREADGROUP reply in the pipeline".into(),
        })?;
        for (key, entries) in streams(&reply)? {
            let mut ids = Vec::new();
            for e in entries {
                let (id, body) = entry(e)?;
                ids.push(id);
                self.unacked_size.msgs += 1;
                self.unacked_size.bytes += body.len() as u64;
                out.push(body);
            }
            if !ids.is_empty() {
                self.unacked.push((key, ids));
            }
        }
        Ok(acked)
    }
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        _ => None,
    }
}

/// `[[key, [entry, ...]], ...]` (RESP2) or a map (RESP3) or nil (the wait ended).
fn streams(v: &Value) -> Res<Vec<(Vec<u8>, &Vec<Value>)>> {
    let bad = || CompareError::Protocol {
        peer: "redis",
        what: format!("unexpected XREADGROUP reply {v:?}"),
    };
    match v {
        Value::Nil => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|s| match s {
                Value::Array(kv) if kv.len() == 2 => match (bytes(&kv[0]), &kv[1]) {
                    (Some(k), Value::Array(entries)) => Ok((k, entries)),
                    _ => Err(bad()),
                },
                _ => Err(bad()),
            })
            .collect(),
        Value::Map(items) => items
            .iter()
            .map(|(k, e)| match (bytes(k), e) {
                (Some(k), Value::Array(entries)) => Ok((k, entries)),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

/// `[id, [field, value]]`.
fn entry(v: &Value) -> Res<(Vec<u8>, Vec<u8>)> {
    let bad = || CompareError::Protocol {
        peer: "redis",
        what: format!("unexpected stream entry {v:?}"),
    };
    let Value::Array(parts) = v else {
        return Err(bad());
    };
    let id = parts.first().and_then(bytes).ok_or_else(bad)?;
    let Some(Value::Array(fields)) = parts.get(1) else {
        return Err(bad());
    };
    let body = fields.get(1).and_then(bytes).ok_or_else(bad)?;
    Ok((id, body))
}
