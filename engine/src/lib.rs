//! spool-engine: the storage and queue-state core of Spool.
//!
//! Messages are appended to segmented, preallocated logs (`segment`, `record`); the
//! mutable state of each message lives in an mmap'd index of fixed-size slots (`index`).
//! A partition (`partition`) walks its index in log order with a cursor, keeps in-flight
//! and delayed messages on a timer wheel (`timer_wheel`), and commits appends in groups
//! (stage → flush → commit) through a pluggable flusher (`flusher`: pwrite or io_uring).
//! Opening a partition recovers it (`recovery`); space is reclaimed in small steps
//! (`compaction`). Queues (`queue`) spread over partitions; the engine (`engine`) holds all
//! queues, their catalog and the moves between them (dead-letter, redrive).
//!
//! No networking, no threads of its own, no clock reads: time comes from a [`Clock`] the
//! caller passes in, so tests drive it.

pub mod aligned;
pub mod attrs;
pub mod clock;
pub mod compaction;
pub mod dedup;
pub mod engine;
pub mod error;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod flusher;
pub mod fuzzing;
pub mod index;
pub mod partition;
pub mod queue;
pub mod receipt;
pub mod record;
pub mod recovery;
mod retained;
pub mod segment;
pub mod spare;
pub mod timer_wheel;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Engine, EngineConfig, EngineFlush, OpenReport, ReceivedMessage, SendOutcome};
pub use error::{EngineError, InvalidHandle, InvalidParameter, RedriveRefusal, Result};
pub use flusher::{open_flusher, Flusher, FlusherKind, PwriteFlusher};
pub use partition::{Counters, DeleteOutcome, PartitionConfig};
pub use queue::SendRequest;
pub use receipt::{ReceiptHandle, HANDLE_LEN};
pub use record::{AttributeValue, MessageAttribute, MessageId};
