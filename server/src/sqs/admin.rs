//! The admin endpoint: `GET /metrics` (Prometheus text format) and `GET /health`.
//!
//! `/metrics` renders the counters of [`crate::metrics`] and, read at scrape time through
//! the shards, every queue's depth, in-flight and delayed counts, plus the bytes the data
//! directory holds on disk. `/health` answers 200 once every shard answers a Ping.

use std::fmt::Write as _;
use std::path::Path;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use spool_model::limits::LIST_RESULTS_MAX;
use spool_protocol::{Request as WireRequest, Response as WireResponse};

use super::http::text;
use super::Gateway;
use spool_model::attrs::names as queue_attr;

const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Most queues listed in one scrape (the gauges of more are left out).
const MAX_SCRAPED_QUEUES: usize = 10_000;

pub async fn handle(gw: &Gateway, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    match req.uri().path() {
        "/metrics" => text(StatusCode::OK, PROMETHEUS, metrics(gw).await),
        "/health" => {
            for i in 0..gw.upstream.shards() {
                match gw.upstream.call_on(i, &WireRequest::Ping).await {
                    Ok(WireResponse::Pong) => {}
                    _ => {
                        return text(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "text/plain",
                            format!("shard {i} does not answer\n"),
                        )
                    }
                }
            }
            text(StatusCode::OK, "text/plain", "ok\n".into())
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /metrics or /health\n".into(),
        ),
    }
}

async fn metrics(gw: &Gateway) -> String {
    let mut out = String::with_capacity(16 << 10);
    gw.metrics.render(&mut out);
    let _ = writeln!(
        out,
        "# HELP spool_connections Client connections open, by protocol.\n\
         # TYPE spool_connections gauge\n\
         spool_connections{{protocol=\"binary\"}} {}\n\
         spool_connections{{protocol=\"sqs\"}} {}",
        gw.shared
            .connections
            .load(std::sync::atomic::Ordering::Relaxed),
        gw.shared
            .http_connections
            .load(std::sync::atomic::Ordering::Relaxed),
    );

    let names = queue_names(gw).await;
    let gauges = [
        (
            "spool_queue_messages",
            queue_attr::APPROXIMATE_NUMBER_OF_MESSAGES,
            "Visible messages.",
        ),
        (
            "spool_queue_messages_in_flight",
            queue_attr::APPROXIMATE_NUMBER_OF_MESSAGES_NOT_VISIBLE,
            "Received and not yet deleted or visible again.",
        ),
        (
            "spool_queue_messages_delayed",
            queue_attr::APPROXIMATE_NUMBER_OF_MESSAGES_DELAYED,
            "Delayed messages.",
        ),
    ];
    let mut values: Vec<(String, [String; 3])> = Vec::with_capacity(names.len());
    for name in names {
        let req = WireRequest::GetQueueAttributes {
            name: name.as_str().into(),
            attribute_names: gauges.iter().map(|g| g.1.into()).collect(),
        };
        if let Ok(WireResponse::QueueAttributes { attributes }) = gw.upstream.call(&req).await {
            let get = |k: &str| {
                attributes
                    .iter()
                    .find(|(n, _)| n.as_ref() == k)
                    .map_or_else(|| "0".to_string(), |(_, v)| v.to_string())
            };
            values.push((name, gauges.map(|g| get(g.1))));
        }
    }
    for (i, (metric, _, help)) in gauges.iter().enumerate() {
        let _ = writeln!(out, "# HELP {metric} {help}");
        let _ = writeln!(out, "# TYPE {metric} gauge");
        for (name, v) in &values {
            let _ = writeln!(out, "{metric}{{queue=\"{}\"}} {}", escape(name), v[i]);
        }
    }
    let _ = writeln!(
        out,
        "# HELP spool_disk_bytes Bytes the data directory occupies on disk.\n\
         # TYPE spool_disk_bytes gauge\nspool_disk_bytes {}",
        disk_bytes(&gw.cfg.data_dir)
    );
    out
}

async fn queue_names(gw: &Gateway) -> Vec<String> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    while names.len() < MAX_SCRAPED_QUEUES {
        let req = WireRequest::ListQueues {
            prefix: "".into(),
            max_results: LIST_RESULTS_MAX as u16,
            next_token: token.as_deref().map(Into::into),
        };
        match gw.upstream.call(&req).await {
            Ok(WireResponse::Queues {
                names: page,
                next_token,
            }) => {
                names.extend(page.into_iter().map(std::borrow::Cow::into_owned));
                match next_token {
                    Some(t) => token = Some(t.into_owned()),
                    None => break,
                }
            }
            _ => break,
        }
    }
    names
}

/// Label values escape `\`, `"` and newlines (queue names cannot hold them, but be safe).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Allocated bytes (st_blocks × 512) of every file under `dir`: preallocated, unwritten
/// segment space counts, as it does against the disk's free space.
fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.blocks() * 512;
            }
        }
    }
    total
}
