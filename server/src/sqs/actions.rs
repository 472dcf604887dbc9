//! SQS actions: each parsed SQS request becomes binary-protocol requests into the shards,
//! and their replies become the SQS response (placeholder until the codec lands).

use bytes::Bytes;
use http_body_util::Full;
use hyper::http::request::Parts;

use super::Gateway;

/// A rendered reply and what it was, for the metrics.
pub struct Reply {
    pub action: &'static str,
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn into_response(self) -> hyper::Response<Full<Bytes>> {
        let mut r = hyper::Response::new(Full::new(Bytes::from(self.body)));
        *r.status_mut() = hyper::StatusCode::from_u16(self.status)
            .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
        let h = r.headers_mut();
        h.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(self.content_type),
        );
        for (k, v) in self.headers {
            if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        }
        r
    }
}

pub async fn handle(_gw: &std::sync::Arc<Gateway>, _parts: &Parts, _body: &[u8]) -> Reply {
    Reply {
        action: "Unknown",
        status: 400,
        content_type: "text/plain",
        headers: Vec::new(),
        body: b"not yet".to_vec(),
    }
}

pub fn too_large(_gw: &Gateway, _parts: &Parts) -> Reply {
    Reply {
        action: "Unknown",
        status: 413,
        content_type: "text/plain",
        headers: Vec::new(),
        body: b"too large".to_vec(),
    }
}
