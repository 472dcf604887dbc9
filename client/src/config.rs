//! Plain configuration values: [`ClientConfig`] (where and how to connect) and
//! [`ReceiveOptions`] (the knobs of a Receive). No I/O here.

use std::time::Duration;

/// Where the server is and how long to wait for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// `host:port`; every address it resolves to is tried in turn.
    pub addr: String,
    /// Sent in the Hello; required by servers configured with keys.
    pub api_key: Option<Vec<u8>>,
    /// Per address tried.
    pub connect_timeout: Duration,
    /// Read and write timeout of the socket; None = block forever. Keep it above the
    /// longest long-poll wait you use, or a waiting Receive times out.
    pub io_timeout: Option<Duration>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            addr: "127.0.0.1:9320".to_string(),
            api_key: None,
            connect_timeout: Duration::from_secs(5),
            io_timeout: Some(Duration::from_mins(1)),
        }
    }
}

/// Options of [`crate::Connection::receive`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiveOptions {
    /// Most messages to return.
    pub max_messages: u32,
    /// None = the queue's VisibilityTimeout.
    pub visibility_timeout_s: Option<u32>,
    /// Long polling: wait up to this long for a first message (0 = answer at once).
    pub wait_time_ms: u32,
    /// Message attributes to return (SQS MessageAttributeNames: `All`, `prefix.*`, names).
    pub attribute_names: Vec<String>,
    /// Return message system attributes (`AWSTraceHeader`).
    pub system_attributes: bool,
}

impl Default for ReceiveOptions {
    fn default() -> Self {
        ReceiveOptions {
            max_messages: 1,
            visibility_timeout_s: None,
            wait_time_ms: 0,
            attribute_names: Vec::new(),
            system_attributes: false,
        }
    }
}
