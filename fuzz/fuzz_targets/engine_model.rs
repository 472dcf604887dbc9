//! Fuzz target: a stateful run of a real `Engine` (temp dir, manual clock) against the
//! in-memory SQS model of `engine/tests/common/queue_model.rs`, the same model and
//! harness the proptest in `engine/tests/model.rs` uses. The input decodes to a queue
//! kind and at most 200 operations (`Case::from_bytes` documents the layout).
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../engine/tests/common/queue_model.rs"]
mod queue_model;

fuzz_target!(|data: &[u8]| queue_model::run_bytes(data));
