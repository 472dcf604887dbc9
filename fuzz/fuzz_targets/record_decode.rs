#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| spool_engine::testing::record_decode(data));
