//! The SQS domain of Spool, without I/O: what a queue name, an ARN, a queue attribute or
//! a redrive policy may be, and every limit of the API, each defined once.
//!
//! * [`limits`]: every numeric limit, with its unit in its name;
//! * [`account`]: account ids and regions, their defaults and rules;
//! * [`name`]: queue names and the `.fifo` suffix;
//! * [`arn`]: building and parsing queue ARNs;
//! * [`url`]: building and parsing queue URLs;
//! * [`message`]: message attribute names, types and `Number` values, FIFO ids, batch
//!   entry ids, permission labels, the characters a body may hold;
//! * [`attrs`]: typed queue attributes with their defaults, ranges and names, the
//!   `RedrivePolicy` / `RedriveAllowPolicy` formats, and what can be wrong with them;
//! * [`policy`]: the IAM words AddPermission writes into a queue's `Policy`.
//!
//! The engine stores and enforces these rules, the protocol crate reads requests by them
//! and the daemon words their errors as SQS does (`server/src/errors.rs`). This crate
//! decides nothing about storage or the wire, and no function in it panics on any input.
//! SNS topics will get their names and limits here too.

#![warn(missing_docs)]

pub mod account;
pub mod arn;
pub mod attrs;
pub mod limits;
pub mod message;
pub mod name;
pub mod policy;
pub mod url;

#[cfg(test)]
mod totality;

pub use arn::{queue_arn, queue_name_from_arn, SqsArn};
pub use attrs::{AttrError, AttrValueError, QueueAttributes, RedrivePermission, RedrivePolicy};
pub use name::{is_valid_queue_name, validate_queue_name, QueueNameError, FIFO_SUFFIX};
