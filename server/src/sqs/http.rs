//! HTTP limits shared by the SQS API ([`super::host`], on the shards) and the admin
//! endpoint (served here, on the gateway's runtime): head size and timeout, body size.
//!
//! Promises: request heads are limited to [`MAX_HEAD`] bytes and must arrive within
//! [`HEAD_TIMEOUT`] (slow clients cannot pin a connection forever); SQS bodies over
//! [`MAX_BODY`] are refused with an SQS-shaped error without being buffered; at most 64
//! admin connections are served at once; nothing here panics on any input.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::Gateway;

/// Largest request head (request line and headers).
pub const MAX_HEAD: usize = 64 << 10;
/// Largest request body: a batch of `BATCH_REQUEST_MAX_BYTES` ([`spool_model::limits`]),
/// form-encoded (every byte may take three), with room.
pub const MAX_BODY: usize = 4 << 20;
/// A request head must arrive within this long (unless `SPOOL_SQS_HEAD_TIMEOUT_MS` says
/// otherwise: tests use a short one so that they need not wait 30 s).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// [`HEAD_TIMEOUT`], or `SPOOL_SQS_HEAD_TIMEOUT_MS` if set to a positive number.
pub(crate) fn head_timeout() -> Duration {
    static T: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *T.get_or_init(|| {
        std::env::var("SPOOL_SQS_HEAD_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&ms| ms > 0)
            .map_or(HEAD_TIMEOUT, Duration::from_millis)
    })
}

/// Whether the request declares a body over [`MAX_BODY`] (it is then not read).
pub(crate) fn body_over_limit(h: &hyper::HeaderMap) -> bool {
    h.get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY as u64)
}

/// Serves `GET /metrics` and `GET /health` on `listener` until the gateway stops.
pub async fn serve_admin(listener: TcpListener, gw: Arc<Gateway>) {
    let slots = Arc::new(Semaphore::new(64));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = gw.stopping() => return,
        };
        let gw = gw.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let gw = gw.clone();
                async move { Ok::<_, Infallible>(super::admin::handle(&gw, req).await) }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(head_timeout())
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
            drop(permit);
        });
    }
}

/// A plain-text reply (admin endpoint).
pub fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    r
}
