//! Helpers shared by the engine's integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::path::Path;

use spool_engine::SendRequest;

/// A fixed start time for ManualClock (2027-01-15).
pub const T0: u64 = 1_800_000_000_000;

/// A string map (queue attributes, tags) from pairs.
pub fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A send of `s` as the body, nothing else.
pub fn body(s: &str) -> SendRequest {
    SendRequest {
        body: s.as_bytes().to_vec(),
        ..Default::default()
    }
}

/// Copies a data directory (a crash snapshot), recursively.
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for ent in std::fs::read_dir(src).unwrap() {
        let ent = ent.unwrap();
        let to = dst.join(ent.file_name());
        if ent.file_type().unwrap().is_dir() {
            copy_dir(&ent.path(), &to);
        } else {
            std::fs::copy(ent.path(), &to).unwrap();
        }
    }
}
