//! spool-server: the spoold daemon, being built in issue 3.
//!
//! The daemon runs one shard per core; each shard owns its queue partitions outright and
//! runs one event loop (mio for sockets, io_uring for the engine's flushes). A request for
//! another shard's partition travels through a bounded single-producer/single-consumer
//! mailbox and the reply comes back the same way. This crate so far holds those cross-shard
//! primitives:
//!
//! - [`mailbox`]: the bounded SPSC ring with a doorbell protocol that never loses a wake-up,
//!   model-checked with loom (`RUSTFLAGS="--cfg loom"`, see `tests/loom_mailbox.rs`);
//! - [`eventfd`]: the Linux eventfd a shard sleeps on and a sender rings;
//!
//! and the step from a decoded request to the engine and back:
//!
//! - [`dispatch`]: request → engine calls → response, sans-IO;
//! - [`errors`]: the one place engine errors become wire error codes.

pub mod dispatch;
pub mod errors;
pub mod eventfd;
pub mod mailbox;
mod sync;
