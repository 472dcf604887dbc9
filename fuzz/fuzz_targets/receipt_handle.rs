//! Fuzz target: opening receipt handles from untrusted bytes, and damaged sealed handles,
//! through `spool_engine::testing::receipt_handle`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| spool_engine::testing::receipt_handle(data));
