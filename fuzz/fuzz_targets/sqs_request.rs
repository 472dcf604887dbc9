//! Fuzz target: the SQS API request parser (AWS JSON 1.0 and query), through
//! `spool_protocol::fuzzing::fuzz_sqs_request`, which documents the input layout.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| spool_protocol::fuzzing::fuzz_sqs_request(data));
