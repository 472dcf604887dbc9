//! The load generator's SQS client: one keep-alive HTTP/1.1 connection speaking AWS JSON
//! 1.0, one request in flight, and `HttpError`, why one of its calls failed.

use bytes::{Buf, Bytes, BytesMut};

/// One keep-alive HTTP/1.1 connection speaking AWS JSON 1.0, one request in flight (as an
/// SDK client's connection has).
///
/// Written on a bare tokio `TcpStream` rather than hyper's client: the load generator shares
/// this machine's two cores with the server it measures, and hyper's client connection runs
/// as a task of its own that every request reaches through a channel (two task wake-ups per
/// call) and builds a header map for. Here a call is one `write` of head and body and as
/// many `read`s as the response takes, parsed with `httparse` (hyper's own parser). It
/// speaks only what these servers answer with: `Content-Length` or chunked bodies, and
/// `Connection: close` (moto's server closes after every response), after which the next
/// call reconnects, as SDK clients do.
pub(crate) struct Client {
    stream: tokio::net::TcpStream,
    host: String,
    /// Request head and body, reused.
    out: Vec<u8>,
    /// Bytes read and not yet consumed.
    inbuf: BytesMut,
    /// The server said it will close the connection after the last response.
    closing: bool,
}

/// Largest response head or body the client accepts (a receive of 10 × 1 MiB is ~14 MiB).
const MAX_RESPONSE: usize = 64 << 20;

/// Why a call of the load generator's SQS client failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("only http:// endpoints are supported, not {0:?}")]
    NotHttp(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Any status but 200, with the response body (SQS's error document).
    #[error("{action}: HTTP {status}: {text}")]
    Status {
        action: String,
        status: u16,
        text: String,
    },
    #[error(transparent)]
    Head(#[from] httparse::Error),
    #[error("bad Content-Length {0:?}")]
    ContentLength(String),
    #[error("bad chunk size line {0:?}")]
    ChunkSize(String),
    #[error("a response body of {0} bytes is too large")]
    BodyTooLarge(usize),
    #[error("a chunked response body is too large")]
    ChunkedTooLarge,
    #[error("a response head is too large")]
    HeadTooLarge,
    #[error("the server closed the connection before its response ended")]
    Closed,
}

impl Client {
    pub(crate) async fn connect(url: &str) -> Result<Client, HttpError> {
        let host = url
            .strip_prefix("http://")
            .ok_or_else(|| HttpError::NotHttp(url.to_string()))?
            .trim_end_matches('/')
            .to_string();
        let stream = tokio::net::TcpStream::connect(&host).await?;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            host,
            out: Vec::with_capacity(4 << 10),
            inbuf: BytesMut::with_capacity(16 << 10),
            closing: false,
        })
    }

    /// Sends one request whose JSON text is `body`; returns the response body, or an error
    /// naming the action for any status but 200.
    pub(crate) async fn call(&mut self, action: &str, body: String) -> Result<Bytes, HttpError> {
        use tokio::io::AsyncWriteExt;
        if self.closing {
            *self = Client::connect(&format!("http://{}", self.host)).await?;
        }
        self.out.clear();
        self.out.extend_from_slice(b"POST / HTTP/1.1\r\nHost: ");
        self.out.extend_from_slice(self.host.as_bytes());
        self.out.extend_from_slice(
            b"\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS.",
        );
        self.out.extend_from_slice(action.as_bytes());
        // Well-formed SigV4 shape; the signature itself is not checked by these servers.
        self.out.extend_from_slice(
            b"\r\nAuthorization: AWS4-HMAC-SHA256 \
              Credential=bench/20260101/us-east-1/sqs/aws4_request, \
              SignedHeaders=host;x-amz-date, Signature=00\r\n\
              X-Amz-Date: 20260101T000000Z\r\nContent-Length: ",
        );
        self.out
            .extend_from_slice(body.len().to_string().as_bytes());
        self.out.extend_from_slice(b"\r\n\r\n");
        self.out.extend_from_slice(body.as_bytes());
        self.stream.write_all(&self.out).await?;
        let (status, reply) = self.read_response().await?;
        if status != 200 {
            return Err(HttpError::Status {
                action: action.to_string(),
                status,
                text: String::from_utf8_lossy(&reply).into_owned(),
            });
        }
        Ok(reply)
    }

    /// Reads one whole response: its status and body.
    async fn read_response(&mut self) -> Result<(u16, Bytes), HttpError> {
        enum Framing {
            Length(usize),
            Chunked,
            UntilClose,
        }
        let (status, head_len, framing) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut r = httparse::Response::new(&mut headers);
            match r.parse(&self.inbuf)? {
                httparse::Status::Complete(n) => {
                    let status = r.code.unwrap_or(0);
                    let mut framing = Framing::UntilClose;
                    self.closing = r.version == Some(0);
                    for h in r.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            let v = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .ok_or_else(|| {
                                    HttpError::ContentLength(
                                        String::from_utf8_lossy(h.value).into_owned(),
                                    )
                                })?;
                            framing = Framing::Length(v);
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding")
                            && h.value.eq_ignore_ascii_case(b"chunked")
                        {
                            framing = Framing::Chunked;
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            self.closing = h.value.eq_ignore_ascii_case(b"close");
                        }
                    }
                    break (status, n, framing);
                }
                httparse::Status::Partial => self.fill().await?,
            }
        };
        self.inbuf.advance(head_len);
        let body = match framing {
            Framing::Length(n) => {
                if n > MAX_RESPONSE {
                    return Err(HttpError::BodyTooLarge(n));
                }
                while self.inbuf.len() < n {
                    self.fill().await?;
                }
                self.inbuf.split_to(n).freeze()
            }
            Framing::Chunked => self.read_chunked().await?,
            Framing::UntilClose => {
                self.closing = true;
                while self.fill().await.is_ok() {}
                self.inbuf.split().freeze()
            }
        };
        Ok((status, body))
    }

    /// A chunked body, decoded (trailers are skipped).
    async fn read_chunked(&mut self) -> Result<Bytes, HttpError> {
        let mut body = BytesMut::new();
        loop {
            let line = loop {
                if let Some(i) = self.inbuf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                self.fill().await?;
            };
            let text = &self.inbuf[..line];
            let size = std::str::from_utf8(text)
                .ok()
                .and_then(|t| usize::from_str_radix(t.split(';').next()?.trim(), 16).ok())
                .ok_or_else(|| HttpError::ChunkSize(String::from_utf8_lossy(text).into_owned()))?;
            self.inbuf.advance(line + 2);
            if size == 0 {
                // Trailers, then an empty line.
                loop {
                    let end = loop {
                        if let Some(i) = self.inbuf.windows(2).position(|w| w == b"\r\n") {
                            break i;
                        }
                        self.fill().await?;
                    };
                    self.inbuf.advance(end + 2);
                    if end == 0 {
                        return Ok(body.freeze());
                    }
                }
            }
            if body.len() + size > MAX_RESPONSE {
                return Err(HttpError::ChunkedTooLarge);
            }
            while self.inbuf.len() < size + 2 {
                self.fill().await?;
            }
            body.extend_from_slice(&self.inbuf[..size]);
            self.inbuf.advance(size + 2);
        }
    }

    /// Reads more bytes; the end of the stream is an error (a response was due).
    async fn fill(&mut self) -> Result<(), HttpError> {
        use tokio::io::AsyncReadExt;
        if self.inbuf.len() > MAX_RESPONSE {
            return Err(HttpError::HeadTooLarge);
        }
        self.inbuf.reserve(16 << 10);
        let n = self.stream.read_buf(&mut self.inbuf).await?;
        if n == 0 {
            self.closing = true;
            return Err(HttpError::Closed);
        }
        Ok(())
    }
}
