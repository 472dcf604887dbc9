//! spool-server: the `spoold` daemon.
//!
//! The daemon runs one shard per core; each shard owns partition N of every queue and runs
//! one event loop (mio for sockets, an eventfd for wake-ups, a companion thread doing its
//! group commits through io_uring). A request for another shard's partition travels
//! through a bounded single-producer/single-consumer mailbox and the reply comes back the
//! same way. Data flows one way, one file per step:
//!
//! - socket → frame: [`conn`] (buffers, framing, bounds per connection);
//! - frame → request → where it runs: [`shard`] (the loop in `shard/mod.rs`, and one file
//!   per concern, each owning its state: connections, SQS connections, routing, mailboxes,
//!   long polling, fan-out and merge, group commit, background work, shutdown);
//! - request → engine → response: [`dispatch`] (sans-IO), with [`errors`] the one place
//!   engine errors become wire error codes;
//! - cross-shard: [`mailbox`] (model-checked with loom, `tests/loom_mailbox.rs`),
//!   [`eventfd`], [`handle`] (shard-routed receipt handles);
//! - disk: [`commit`] (the group-commit companion thread);
//! - the SQS HTTP API and the admin endpoint: [`sqs`] (SQS connections served by hyper on
//!   the shard threads themselves, `sqs::host`; the admin endpoint and move tasks on a
//!   thread of their own, into the shards through per-shard call queues), counting in
//!   [`metrics`];
//! - what the shards, the gateway and the daemon share: [`shared`];
//! - startup and shutdown: [`daemon`], configured by [`config`].

//!
//! Under `RUSTFLAGS="--cfg loom"` only the mailbox (and its sync facade) is built: that build
//! exists to model-check the mailbox (`tests/loom_mailbox.rs`), and tokio, which the SQS API
//! uses, leaves out its networking under that flag.

pub mod mailbox;
mod sync;

#[cfg(not(loom))]
pub mod commit;
#[cfg(not(loom))]
pub mod config;
#[cfg(not(loom))]
pub mod conn;
#[cfg(not(loom))]
pub mod daemon;
#[cfg(not(loom))]
pub mod dispatch;
#[cfg(not(loom))]
pub mod errors;
#[cfg(not(loom))]
pub mod eventfd;
#[cfg(not(loom))]
pub mod handle;
#[cfg(not(loom))]
pub mod metrics;
#[cfg(not(loom))]
pub mod shard;
#[cfg(not(loom))]
pub mod shared;
#[cfg(not(loom))]
pub mod sqs;
