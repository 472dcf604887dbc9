//! Bodies of the fuzz targets, kept in the crate so that `fuzz/` (cargo-fuzz) and the
//! plain test over the seed corpus (`tests/fuzz_corpus.rs`) run exactly the same code.
//!
//! Each function must never panic, whatever the input.

use std::path::Path;

use crate::partition::{Partition, PartitionConfig, QueueParams};
use crate::record;

/// Decodes arbitrary bytes as a record; a record that decodes must re-encode to the
/// same bytes (uncompressed) and decode again to the same value.
pub fn record_decode(data: &[u8]) {
    if let Ok(r) = record::decode(data) {
        let mut out = Vec::new();
        record::encode(&mut out, &r, None);
        let again = record::decode(&out).expect("re-encoded record decodes");
        assert_eq!(again, r);
    }
}

/// Treats arbitrary bytes as the `.log` of a segment (optionally with an `.idx`), opens
/// the partition, and receives everything. Recovery must not panic, must report or keep
/// every record, and anything delivered must be a record that passed its checksum.
pub fn recovery(data: &[u8], dir: &Path) {
    let (log, idx) = match data.first() {
        Some(&k) if k & 1 == 1 && data.len() > 2 => {
            let split = 2 + (data[1] as usize * 16).min(data.len() - 2);
            (&data[split..], Some(&data[2..split]))
        }
        _ => (data.get(1..).unwrap_or(&[]), None),
    };
    let part = dir.join("p");
    std::fs::create_dir_all(&part).expect("temp dir");
    std::fs::write(part.join("00000000000000000000.log"), log).expect("write log");
    if let Some(idx) = idx {
        std::fs::write(part.join("00000000000000000000.idx"), idx).expect("write idx");
    }
    let cfg = PartitionConfig {
        segment_bytes: 64 << 10,
        segment_slots: 64,
        ..Default::default()
    };
    let now = 1_800_000_000_000;
    let Ok((mut p, _report)) = Partition::open(1, &part, 0, cfg, QueueParams::default(), now)
    else {
        return;
    };
    let mut out = Vec::new();
    let mut dead = Vec::new();
    for _ in 0..100 {
        let before = out.len();
        if p.receive(now, 64, 30_000, &mut out, &mut dead, &mut { usize::MAX })
            .is_err()
            || out.len() == before
        {
            break;
        }
    }
    for d in &out {
        assert_eq!(d.record.seq, d.seq);
    }
}
