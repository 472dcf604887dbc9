//! Queue names and queue attributes: the SQS rules are the model's (`spool_model`), kept
//! here under the engine's paths so the engine and its users name them one way. The
//! engine holds a queue's [`QueueAttributes`] in its catalog entry (`queue::QueueMeta`),
//! whose on-disk form is their serde form.

pub use spool_model::arn::{queue_name_from_arn, SqsArn};
pub use spool_model::attrs::*;
pub use spool_model::name::{validate_queue_name, FIFO_SUFFIX};
