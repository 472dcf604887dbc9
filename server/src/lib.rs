//! spool-server: the `spoold` daemon.
//!
//! The daemon runs one shard per core; each shard owns partition N of every queue and runs
//! one event loop (mio for sockets, an eventfd for wake-ups, a companion thread doing its
//! group commits through io_uring). A request for another shard's partition travels
//! through a bounded single-producer/single-consumer mailbox and the reply comes back the
//! same way. Data flows one way, one file per step:
//!
//! - socket → frame: [`conn`] (buffers, framing, bounds per connection);
//! - frame → request → where it runs: [`shard`] (the loop, routing, long polling, group
//!   commit, background work, shutdown);
//! - request → engine → response: [`dispatch`] (sans-IO), with [`errors`] the one place
//!   engine errors become wire error codes;
//! - cross-shard: [`mailbox`] (model-checked with loom, `tests/loom_mailbox.rs`),
//!   [`eventfd`], [`handle`] (shard-routed receipt handles);
//! - disk: [`commit`] (the group-commit companion thread);
//! - the SQS HTTP API and the admin endpoint: [`sqs`] (hyper on its own thread, into the
//!   shards over internal connections), counting in [`metrics`];
//! - startup and shutdown: [`daemon`], configured by [`config`].

pub mod commit;
pub mod config;
pub mod conn;
pub mod daemon;
pub mod dispatch;
pub mod errors;
pub mod eventfd;
pub mod handle;
pub mod mailbox;
pub mod metrics;
pub mod shard;
pub mod sqs;
mod sync;
