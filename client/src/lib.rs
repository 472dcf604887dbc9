//! spool-client: a Rust client for Spool's binary protocol (docs/protocol.md), and the
//! `spool` command-line tool (`src/bin/spool/`, feature `cli`, on by default).
//!
//! - [`Connection`]: one TCP connection with blocking I/O. It performs the Hello handshake
//!   on connect, pipelines any number of requests ([`Connection::submit`] /
//!   [`Connection::next_response`] / [`Connection::wait_for`], responses matched by request
//!   id whatever order they arrive in), and has a typed helper per operation
//!   ([`Connection::send`], [`Connection::receive`], …).
//! - [`Pool`]: a thread-safe pool of connections to one server.
//! - [`ClientError`]: what can go wrong, kept apart by who is to blame (the network, a
//!   malformed stream, the server refusing the request, the server closing).
//!
//! The client never trusts the server: every frame is bounded by the server's announced
//! max frame, every response is checked against the request it claims to answer, and any
//! stream that went wrong poisons the connection instead of being read on.
//!
//! ```no_run
//! use spool_client::{ClientConfig, Connection, ReceiveOptions};
//! let mut conn = Connection::connect(&ClientConfig::default())?;
//! conn.create_queue("jobs", &[])?;
//! conn.send_bodies("jobs", &[b"hello"])?;
//! for m in conn.receive("jobs", &ReceiveOptions { max_messages: 10, ..Default::default() })? {
//!     conn.delete("jobs", &[&m.receipt_handle])?;
//! }
//! # Ok::<(), spool_client::ClientError>(())
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod config;
pub mod connection;
pub mod error;
mod ops;
pub mod pool;
mod read_buf;

pub use config::{ClientConfig, ReceiveOptions};
pub use connection::{Connection, ServerHello};
pub use error::{ClientError, Result};
pub use pool::{Pool, PooledConnection};

/// The protocol crate, re-exported so users need not depend on it to build requests.
pub use spool_protocol as protocol;
pub use spool_protocol::{
    ErrorCode, Message, MessageAttribute, ProtocolError, Request, Response, SendEntry, SendOk,
    VisibilityEntry, WireError,
};
