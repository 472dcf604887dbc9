//! What each `spool` command does: connect, make the calls, print the results.
//!
//! Every command returns `Ok(ExitCode)` when it ran (FAILURE if some entry of a batch
//! failed; those are printed as they come) and `Err` with a context saying what failed
//! otherwise; `main` prints the error.

use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use spool_client::protocol::{AttributeValue, MessageAttribute, Request, Response, SendEntry};
use spool_client::{ClientConfig, ClientError, Connection, ErrorCode, ReceiveOptions, WireError};

use crate::args::{
    Cli, Cmd, CreateArgs, DeleteArgs, QueueCmd, ReceiveArgs, RedriveArgs, SendArgs, StatsArgs,
};
use crate::output;

/// Messages per Send batch from `--lines` (also bounded by the server's max batch).
const SEND_BATCH: usize = 1000;
/// Requests kept in flight by `stats` (a bounded pipelining window).
const STATS_WINDOW: usize = 256;
/// Room left in a Send frame for everything but the bodies and their attributes.
const FRAME_MARGIN: usize = 64 << 10;
/// Per-entry overhead on the wire besides body, attributes and ids (an upper bound).
const ENTRY_OVERHEAD: usize = 32;

pub fn run(cli: Cli) -> Result<ExitCode> {
    let mut cfg = ClientConfig {
        addr: cli.addr,
        api_key: cli.api_key.map(String::into_bytes),
        ..ClientConfig::default()
    };
    if let Cmd::Receive(r) = &cli.cmd {
        // A long poll must not outlast the read timeout.
        let wait = Duration::from_secs(r.wait.into());
        cfg.io_timeout = cfg
            .io_timeout
            .map(|t| t.max(wait + Duration::from_secs(30)));
    }
    let mut conn = Connection::connect(&cfg).context("connecting to the server")?;
    let c = &mut conn;
    match cli.cmd {
        Cmd::Queue(q) => queue(c, q),
        Cmd::Send(a) => send(c, &a),
        Cmd::Receive(a) => receive(c, &a),
        Cmd::Delete(a) => delete(c, &a),
        Cmd::Redrive(a) => redrive(c, &a),
        Cmd::Stats(a) => stats(c, a),
    }
}

fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn queue(c: &mut Connection, cmd: QueueCmd) -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    match cmd {
        QueueCmd::Create(CreateArgs {
            name,
            mut attrs,
            tags,
            fifo,
        }) => {
            if fifo {
                attrs.retain(|(k, _)| k != "FifoQueue");
                attrs.push(("FifoQueue".into(), "true".into()));
            }
            let id = c
                .create_queue_with_tags(&name, &pairs(&attrs), &pairs(&tags))
                .with_context(|| format!("creating queue {name}"))?;
            writeln!(out, "{id}")?;
        }
        QueueCmd::List { prefix } => {
            for name in c.list_queues(&prefix).context("listing queues")? {
                writeln!(out, "{name}")?;
            }
        }
        QueueCmd::Get { name, attrs, json } => {
            let names: Vec<&str> = attrs.iter().map(String::as_str).collect();
            let got = c
                .get_queue_attributes(&name, &names)
                .with_context(|| format!("getting the attributes of queue {name}"))?;
            if json {
                writeln!(out, "{}", serde_json::to_string(&got)?)?;
            } else {
                for (k, v) in got {
                    writeln!(out, "{k}={v}")?;
                }
            }
        }
        QueueCmd::Set { name, attrs } => c
            .set_queue_attributes(&name, &pairs(&attrs))
            .with_context(|| format!("setting the attributes of queue {name}"))?,
        QueueCmd::Delete { name } => c
            .delete_queue(&name)
            .with_context(|| format!("deleting queue {name}"))?,
        QueueCmd::Purge { name } => c
            .purge_queue(&name)
            .with_context(|| format!("purging queue {name}"))?,
        QueueCmd::DlqSources { name } => {
            let names = c
                .list_dead_letter_source_queues(&name)
                .with_context(|| format!("listing the dead-letter source queues of {name}"))?;
            for n in names {
                writeln!(out, "{n}")?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Prints a failed batch entry to stderr.
fn entry_error(what: &str, index: usize, e: &WireError<'_>) {
    eprintln!("error: {what} entry {index}: {}: {}", e.code, e.message);
}

fn send(c: &mut Connection, a: &SendArgs) -> Result<ExitCode> {
    let input = match (&a.body, &a.file) {
        (Some(b), _) => b.clone().into_bytes(),
        (None, Some(path)) => {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
        }
        (None, None) => {
            let mut buf = Vec::new();
            io::stdin()
                .read_to_end(&mut buf)
                .context("reading the body from standard input")?;
            buf
        }
    };
    let bodies: Vec<&[u8]> = if a.lines {
        split_lines(&input)
    } else {
        vec![&input]
    };
    let attributes: Vec<MessageAttribute<'_>> = a
        .attrs
        .iter()
        .map(|(k, v)| MessageAttribute {
            name: k.as_str().into(),
            data_type: "String".into(),
            value: AttributeValue::String(v.as_str().into()),
        })
        .collect();
    let entries: Vec<SendEntry<'_>> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| SendEntry {
            body: (*body).into(),
            attributes: attributes.clone(),
            system_attributes: Vec::new(),
            delay_s: a.delay,
            group_id: a.group.as_deref().map(Into::into),
            dedup_id: a.dedup.as_ref().map(|d| {
                if a.lines {
                    format!("{d}-{i}").into()
                } else {
                    d.as_str().into()
                }
            }),
        })
        .collect();

    let max_count = SEND_BATCH.min(c.hello().max_batch.max(1) as usize);
    let max_bytes = (c.hello().max_frame as usize)
        .saturating_sub(FRAME_MARGIN)
        .max(1);
    let mut out = BufWriter::new(io::stdout().lock());
    let mut failed = false;
    let mut start = 0;
    while start < entries.len() {
        let end = batch_end(&entries, start, max_count, max_bytes);
        let results = c
            .send(&a.queue, &entries[start..end])
            .with_context(|| format!("sending to queue {}", a.queue))?;
        for (i, r) in results.iter().enumerate() {
            match r {
                Ok(ok) => writeln!(out, "{}", output::message_id(&ok.message_id))?,
                Err(e) => {
                    failed = true;
                    out.flush()?;
                    entry_error("send", start + i, e);
                }
            }
        }
        start = end;
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Lines of `input` without their `\n` / `\r\n`; a final line without a newline counts,
/// a trailing newline does not start another (empty) message.
fn split_lines(input: &[u8]) -> Vec<&[u8]> {
    let input = input.strip_suffix(b"\n").unwrap_or(input);
    if input.is_empty() {
        return Vec::new();
    }
    input
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect()
}

/// End of the batch starting at `start`: at most `max_count` entries whose estimated wire
/// size stays within `max_bytes`, but always at least one entry (an entry too large for
/// any frame goes alone and the codec refuses it with a clear error).
fn batch_end(entries: &[SendEntry<'_>], start: usize, max_count: usize, max_bytes: usize) -> usize {
    let mut bytes = 0;
    let mut end = start;
    while end < entries.len() && end - start < max_count {
        let size = entry_size(&entries[end]);
        if end > start && bytes + size > max_bytes {
            break;
        }
        bytes += size;
        end += 1;
    }
    end
}

fn entry_size(e: &SendEntry<'_>) -> usize {
    let attr = |a: &MessageAttribute<'_>| {
        let v = match &a.value {
            AttributeValue::String(s) => s.len(),
            AttributeValue::Binary(b) => b.len(),
        };
        a.name.len() + a.data_type.len() + v + 16
    };
    ENTRY_OVERHEAD
        + e.body.len()
        + e.attributes.iter().map(attr).sum::<usize>()
        + e.group_id.as_ref().map_or(0, |g| g.len())
        + e.dedup_id.as_ref().map_or(0, |d| d.len())
}

fn receive(c: &mut Connection, a: &ReceiveArgs) -> Result<ExitCode> {
    let opts = ReceiveOptions {
        max_messages: a.max,
        visibility_timeout_s: a.visibility,
        wait_time_ms: a.wait.saturating_mul(1000),
        attribute_names: vec!["All".into()],
        system_attributes: a.json,
    };
    let messages = c
        .receive(&a.queue, &opts)
        .with_context(|| format!("receiving from queue {}", a.queue))?;
    let mut out = BufWriter::new(io::stdout().lock());
    for m in &messages {
        if a.json {
            writeln!(out, "{}", output::message_json(m))?;
        } else {
            out.write_all(String::from_utf8_lossy(&m.body).as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    if !a.delete || messages.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let handles: Vec<&[u8]> = messages.iter().map(|m| &*m.receipt_handle).collect();
    delete_handles(c, &a.queue, &handles)
}

fn delete(c: &mut Connection, a: &DeleteArgs) -> Result<ExitCode> {
    let raw = a
        .handles
        .iter()
        .map(|h| {
            output::handle_bytes(h)
                .with_context(|| format!("{h:?} is not a receipt handle (base64url expected)"))
        })
        .collect::<Result<Vec<_>>>()?;
    let handles: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
    delete_handles(c, &a.queue, &handles)
}

/// Deletes in batches of the server's max batch; per-entry failures go to stderr.
fn delete_handles(c: &mut Connection, queue: &str, handles: &[&[u8]]) -> Result<ExitCode> {
    let batch = c.hello().max_batch.max(1) as usize;
    let mut failed = false;
    for (n, chunk) in handles.chunks(batch).enumerate() {
        let results = c
            .delete(queue, chunk)
            .with_context(|| format!("deleting messages from queue {queue}"))?;
        for (i, r) in results.iter().enumerate() {
            if let Err(e) = r {
                failed = true;
                entry_error("delete", n * batch + i, e);
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn redrive(c: &mut Connection, a: &RedriveArgs) -> Result<ExitCode> {
    let moved = c
        .redrive(&a.dlq, a.to.as_deref(), a.max)
        .with_context(|| format!("redriving queue {}", a.dlq))?;
    println!("{moved}");
    Ok(ExitCode::SUCCESS)
}

const STATS_ATTRIBUTES: [&str; 3] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
];

fn stats(c: &mut Connection, a: StatsArgs) -> Result<ExitCode> {
    let (names, one) = match a.queue {
        Some(q) => (vec![q], true),
        None => (c.list_queues("").context("listing queues")?, false),
    };
    let mut rows = Vec::with_capacity(names.len());
    // Pipelined: a window of GetQueueAttributes in flight instead of one round trip each.
    for chunk in names.chunks(STATS_WINDOW) {
        let mut ids = Vec::with_capacity(chunk.len());
        for name in chunk {
            let req = Request::GetQueueAttributes {
                name: name.as_str().into(),
                attribute_names: STATS_ATTRIBUTES.iter().map(|n| (*n).into()).collect(),
            };
            ids.push(
                c.submit(&req)
                    .with_context(|| format!("asking for stats of {name}"))?,
            );
        }
        for (name, id) in chunk.iter().zip(ids) {
            let attrs = match c.wait_for(id) {
                Ok(Response::QueueAttributes { attributes }) => attributes,
                // Deleted since it was listed: not worth failing the whole table for.
                Ok(Response::Error(e)) if !one && e.code == ErrorCode::QueueDoesNotExist => {
                    continue
                }
                Ok(Response::Error(e)) => {
                    return Err(ClientError::from(e))
                        .with_context(|| format!("getting the stats of queue {name}"))
                }
                Ok(other) => anyhow::bail!(
                    "getting the stats of queue {name}: unexpected response opcode {:#04x}",
                    other.opcode()
                ),
                Err(e) => {
                    return Err(e).with_context(|| format!("getting the stats of queue {name}"))
                }
            };
            let mut row = vec![name.clone()];
            for attr in STATS_ATTRIBUTES {
                row.push(
                    attrs
                        .get(attr)
                        .map_or("-".to_string(), std::string::ToString::to_string),
                );
            }
            rows.push(row);
        }
    }
    print!(
        "{}",
        output::table(&["QUEUE", "MESSAGES", "NOT_VISIBLE", "DELAYED"], &rows)
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(
            split_lines(b"a\nb\r\n\nc"),
            vec![&b"a"[..], b"b", b"", b"c"]
        );
        assert_eq!(split_lines(b"a\n"), vec![&b"a"[..]]);
        assert!(split_lines(b"").is_empty());
        assert!(split_lines(b"\n").is_empty());
    }

    #[test]
    fn batches_respect_count_and_bytes() {
        let body = vec![0u8; 100];
        let entries: Vec<SendEntry<'_>> = (0..25)
            .map(|_| SendEntry {
                body: body.as_slice().into(),
                ..Default::default()
            })
            .collect();
        assert_eq!(batch_end(&entries, 0, 10, usize::MAX), 10);
        assert_eq!(batch_end(&entries, 20, 10, usize::MAX), 25);
        let per = entry_size(&entries[0]);
        assert_eq!(batch_end(&entries, 0, 10, 3 * per), 3);
        // One entry always goes, even when it alone is over the byte budget.
        assert_eq!(batch_end(&entries, 0, 10, 1), 1);
    }
}
