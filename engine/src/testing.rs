//! What fuzz targets, benchmarks and the crate's own integration tests need beyond the
//! public API: the internal types they drive directly, and the bodies of the fuzz targets.
//! Hidden from the documentation and not a stable API.
//!
//! The fuzz target bodies are kept in the crate so that `fuzz/` (cargo-fuzz) and the
//! plain test over the seed corpus (`tests/fuzz_corpus.rs`) run exactly the same code.
//! Each must never panic, whatever the input.

#![allow(missing_docs)]

use std::path::Path;

use crate::partition::{Partition, PartitionConfig, QueueParams};
pub use crate::partition::{FAST_LANE_MAX_MSGS, NOISY_MIN_BACKLOG_MSGS, NOISY_SILENT_AFTER_MS};
pub use crate::receipt::{Receipt, ReceiptKey, KEY_LEN};
use crate::{Engine, PwriteFlusher, Result};

/// Flushes what is staged in partition `partition` of queue `queue` alone, skipping the
/// engine's bookkeeping: a move whose copy this makes durable is not finished at its
/// source, as if the process crashed right after this write (crash tests). Returns the
/// number of messages committed, or None if there is no such queue or partition.
pub fn flush_partition_only(
    e: &mut Engine,
    queue: &str,
    partition: usize,
) -> Option<Result<usize>> {
    let now = e.now_ms();
    let p = e
        .queue_ref_mut(queue)?
        .partitions_mut()
        .get_mut(partition)?;
    Some(p.flush(now, &mut PwriteFlusher))
}

/// The record codec (`.log` records).
pub mod record {
    pub use crate::record::{
        decode, encode, AttributeValue, Compression, MessageAttribute, MessageId, Origin, Record,
        FLAG_DELETES, FLAG_STATES,
    };
}

/// Decodes arbitrary bytes as a record; a record that decodes must re-encode to the
/// same bytes (uncompressed) and decode again to the same value.
pub fn record_decode(data: &[u8]) {
    if let Ok(r) = crate::record::decode(data) {
        let mut out = Vec::new();
        crate::record::encode(&mut out, &r, None);
        let again = crate::record::decode(&out).expect("re-encoded record decodes");
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

/// Receipt handles from untrusted input (`receipt_handle` target). The input is split
/// into a receipt to seal (its first 18 bytes), a position and a replacement byte (the
/// next 2), and the rest, which is opened as a handle as is.
///
/// Promises checked: opening arbitrary bytes never panics, and whatever opens is exactly
/// the handle `seal` gives that receipt; a sealed handle opens to its receipt for its own
/// queue only; changing any one byte of a sealed handle makes it fail to open.
pub fn receipt_handle(data: &[u8]) {
    const QUEUE: u64 = 7;
    let key = ReceiptKey::from_bytes([0x5a; KEY_LEN]);

    // Arbitrary bytes (the whole input, and what follows the fixed-size prefix).
    for raw in [data, data.get(20..).unwrap_or(&[])] {
        // (A handle of the previous version opens too, to a stale receipt.)
        if let Ok(r) =
            key.open(QUEUE, raw).map_err(|_| ()).and_then(
                |r| {
                    if raw[0] == 4 {
                        Ok(r)
                    } else {
                        Err(())
                    }
                },
            )
        {
            assert_eq!(
                key.seal(QUEUE, &r).as_bytes(),
                raw,
                "an opened handle is canonical"
            );
        }
    }

    // A real handle, damaged in one place.
    let mut b = [0u8; 20];
    let n = data.len().min(20);
    b[..n].copy_from_slice(&data[..n]);
    let le = |s: &[u8]| s.iter().rev().fold(0u64, |acc, &x| acc << 8 | u64::from(x));
    let r = Receipt {
        partition: le(&b[0..2]) as u16,
        seq: le(&b[2..10]),
        generation: le(&b[10..18]),
    };
    let (pos, with) = (b[18] as usize, b[19]);
    let sealed = key.seal(QUEUE, &r);
    assert_eq!(key.open(QUEUE, &sealed), Ok(r), "a sealed handle opens");
    assert!(
        key.open(QUEUE ^ 1, &sealed).is_err(),
        "a handle opened for another queue"
    );
    // One byte changed (to any other value).
    let mut raw = sealed.to_vec();
    let i = pos % raw.len();
    let flip = if with == 0 { 1 } else { with };
    raw[i] ^= flip;
    assert!(
        key.open(QUEUE, &raw).is_err(),
        "handle with byte {i} changed opened: {raw:?}"
    );
    // Cut short or grown by the replacement byte.
    assert!(
        key.open(QUEUE, &sealed[..i]).is_err(),
        "handle cut to {i} bytes opened"
    );
    let mut long = sealed.to_vec();
    long.push(with);
    assert!(
        key.open(QUEUE, &long).is_err(),
        "handle with a byte more opened"
    );
}
