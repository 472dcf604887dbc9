//! The binary protocol's requests and responses: opcodes, the Rust types, and their
//! payload codecs. Layouts are in docs/protocol.md.
//!
//! - `opcode.rs`: the one opcode table ([`Opcode`]) and which opcode each value uses.
//! - `types.rs`: [`Request`], [`Response`] and the values they carry.
//! - `fields.rs`: the payload pieces both directions share, read and written.
//! - `decode.rs` / `encode.rs`: the payload codecs of [`Request`] and [`Response`].
//! - `owned.rs`: `into_owned` copies that no longer borrow the frame.
//!
//! Limits and the queue-name rule live in [`crate::limits`].
//!
//! Promise: `decode(opcode, payload)` accepts exactly what `encode` produces for values
//! within the limits, consumes the payload exactly (trailing bytes are an error), never
//! panics, and never reserves more than the payload could hold. Decoded strings and byte
//! strings are `Cow::Borrowed` slices of the payload (zero copy, bodies included); values
//! built by a caller may use `Cow::Owned`. `encode` checks the same limits and leaves
//! `out` unchanged when it refuses a value.

mod decode;
mod encode;
mod fields;
mod opcode;
mod owned;
mod types;

pub use crate::limits::is_valid_queue_name;
pub use opcode::{Opcode, ERROR_OPCODE, RESPONSE_BIT};
pub use types::{
    AttributeValue, Map, Message, MessageAttribute, Request, Response, SendEntry, SendOk,
    VisibilityEntry, WireError,
};
