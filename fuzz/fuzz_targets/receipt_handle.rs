//! Fuzz target: opening receipt handles from untrusted bytes, and damaged sealed handles,
//! through `spool_engine::fuzzing::receipt_handle`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| spool_engine::fuzzing::receipt_handle(data));
