//! Runs every fuzz target over its seed corpus in `fuzz/corpus/<target>/`, so CI
//! exercises the targets on stable Rust without cargo-fuzz. Regenerate the seeds with
//! `cargo test -p spool-engine --test fuzz_corpus -- --ignored write_seed_corpus`.

#[path = "common/queue_model.rs"]
mod queue_model;

use spool_engine::testing::record::{
    self, AttributeValue, MessageAttribute, MessageId, Origin, Record,
};
use spool_testkit::{fuzz_corpus, fuzz_corpus_dir};

#[test]
fn record_decode_corpus() {
    for data in fuzz_corpus("record_decode") {
        spool_engine::testing::record_decode(&data);
    }
}

#[test]
fn receipt_handle_corpus() {
    for data in fuzz_corpus("receipt_handle") {
        spool_engine::testing::receipt_handle(&data);
    }
}

#[test]
fn engine_model_corpus() {
    for data in fuzz_corpus("engine_model") {
        queue_model::run_bytes(&data);
    }
}

/// The decoder is bounded: however long the input, at most MAX_FUZZ_OPS operations.
#[test]
fn engine_model_input_is_bounded() {
    let (_, c) = queue_model::Case::from_bytes(&[2u8; 10_000]);
    assert_eq!(c.ops.len(), queue_model::MAX_FUZZ_OPS);
    let (fifo, c) = queue_model::Case::from_bytes(&[]);
    assert!(!fifo && c.ops.is_empty());
}

#[test]
fn recovery_corpus() {
    for data in fuzz_corpus("recovery") {
        let dir = tempfile::tempdir().unwrap();
        spool_engine::testing::recovery(&data, dir.path());
    }
}

fn sample(seq: u64, body: &[u8]) -> Record {
    Record {
        seq,
        sent_at_ms: 1_800_000_000_000,
        visible_at_ms: 0,
        message_id: MessageId::from_u128(u128::from(seq) + 1),
        receive_count: 0,
        first_receive_ms: 0,
        group_id: Some("g".into()),
        dedup_id: None,
        origin: (seq == 1).then(|| Origin {
            queue_id: 3,
            partition: 0,
            seq: 9,
            queue_name: "src".into(),
        }),
        attributes: vec![MessageAttribute {
            name: "a".into(),
            data_type: "Binary".into(),
            value: AttributeValue::Binary(vec![1, 2, 3]),
        }],
        system_attributes: vec![],
        body: body.to_vec(),
    }
}

#[test]
#[ignore = "writes the seed corpus; run by hand"]
fn write_seed_corpus() {
    write_receipt_seeds();
    write_engine_model_seeds();
    let rd = fuzz_corpus_dir("record_decode");
    let rc = fuzz_corpus_dir("recovery");
    std::fs::create_dir_all(&rd).unwrap();
    std::fs::create_dir_all(&rc).unwrap();
    let mut log = Vec::new();
    for seq in 0..4 {
        let mut one = Vec::new();
        record::encode(&mut one, &sample(seq, &vec![b'x'; 40 * seq as usize]), None);
        std::fs::write(rd.join(format!("record-{seq}")), &one).unwrap();
        log.extend_from_slice(&one);
    }
    let mut z = Vec::new();
    let c = record::Compression {
        level: 1,
        min_body: 16,
    };
    record::encode(&mut z, &sample(0, &b"{\"k\":1}".repeat(50)), Some(c));
    std::fs::write(rd.join("record-zstd"), &z).unwrap();
    std::fs::write(rd.join("truncated"), &log[..50]).unwrap();
    // Recovery inputs: first byte even = log only; odd = byte 1 * 16 bytes of index.
    let mut whole = vec![0u8];
    whole.extend_from_slice(&log);
    std::fs::write(rc.join("log-4-records"), &whole).unwrap();
    let mut torn = vec![0u8];
    torn.extend_from_slice(&log[..log.len() - 7]);
    std::fs::write(rc.join("log-torn-tail"), &torn).unwrap();
    let mut flipped = whole.clone();
    flipped[120] ^= 0x40;
    std::fs::write(rc.join("log-bit-flip"), &flipped).unwrap();
    let mut with_idx = vec![1u8, 4];
    with_idx.extend_from_slice(&[0xffu8; 64]);
    with_idx.extend_from_slice(&log);
    std::fs::write(rc.join("log-garbage-idx"), &with_idx).unwrap();
}

/// Seeds for `receipt_handle`: 18 bytes of receipt, a position and a byte, then text to
/// open as a handle (real handles, near misses, garbage).
fn write_receipt_seeds() {
    use spool_engine::testing::{Receipt, ReceiptKey, KEY_LEN};
    let dir = fuzz_corpus_dir("receipt_handle");
    std::fs::create_dir_all(&dir).unwrap();
    let key = ReceiptKey::from_bytes([0x5a; KEY_LEN]);
    let r = Receipt {
        partition: 1,
        seq: 1234,
        generation: 3 << 32 | 2,
    };
    let mut prefix = Vec::new();
    prefix.extend_from_slice(&r.partition.to_le_bytes());
    prefix.extend_from_slice(&r.seq.to_le_bytes());
    prefix.extend_from_slice(&r.generation.to_le_bytes());
    let sealed = key.seal(7, &r);
    let other_queue = key.seal(8, &r);
    let mut last_byte = sealed.to_vec();
    *last_byte.last_mut().unwrap() ^= 1;
    let mut padded = sealed.to_vec();
    padded.push(0);
    let mut prefixed = vec![1, 0];
    prefixed.extend_from_slice(&sealed);
    let seeds: [(&str, u8, u8, &[u8]); 8] = [
        ("valid", 0, b'A', sealed.as_bytes()),
        ("other-queue", 34, b'B', other_queue.as_bytes()),
        ("last-byte", 34, 0, &last_byte),
        ("padded", 3, b'=', &padded),
        ("server-prefixed", 10, 0xff, &prefixed),
        ("empty", 0, 0, b""),
        ("garbage", 200, b'~', b"0.bogus\x00\xff+/=="),
        ("long", 17, b'-', &[b'A'; 200]),
    ];
    for (name, pos, with, text) in seeds {
        let mut data = prefix.clone();
        data.push(pos);
        data.push(with);
        data.extend_from_slice(text);
        std::fs::write(dir.join(name), data).unwrap();
    }
}

/// Seeds for `engine_model` (layout in `Case::from_bytes`): hand-written sequences that
/// reach each operation, for standard and FIFO queues, and deterministic pseudo-random
/// ones.
fn write_engine_model_seeds() {
    let dir = fuzz_corpus_dir("engine_model");
    std::fs::create_dir_all(&dir).unwrap();
    // Tags: 0 send, 2 flush, 3 receive, 4 receive+delete, 5 delete latest, 6 delete
    // stale, 7 change visibility, 8 stale change, 9 advance, 11 purge, 12 crash,
    // 13 compact, 14 sync index, 15 counters.
    let send3 = [0u8, 2, 0, 0, 10, 99, 1, 1, 50, 99, 2, 3, 0x10, 0x02, 99];
    let mut basic = vec![0u8];
    basic.extend_from_slice(&send3);
    basic.extend_from_slice(&[
        2, 3, 9, 1, 30, 5, 0, 7, 4, 10, 15, 6, 0, 8, 1, 9, 6, 0x10, 0x27,
    ]);
    basic.extend_from_slice(&[3, 9, 0, 4, 9, 1, 20, 2, 12, 3, 9, 0, 14, 13, 7, 64, 11, 15]);
    let mut fifo = basic.clone();
    fifo[0] = 0b1000_0011; // FIFO, 2 partitions
    let mut fifo_dedup = vec![0b0010_1001u8]; // FIFO, tiny segments, content dedup
    fifo_dedup.extend_from_slice(&[
        0, 4, 0, 0, 5, 0, 10, 0, 5, 0, 0, 5, 1, 0, 5, 0, 7, 2, 4, 1, 0,
    ]);
    fifo_dedup.extend_from_slice(&[2, 4, 4, 1, 10, 12, 4, 9, 1, 0]);
    let mut compaction = vec![0b0000_1000u8]; // tiny segments
    for _ in 0..6 {
        compaction.extend_from_slice(&[
            0, 4, 0, 4, 0x00, 0x0b, 99, 0, 4, 0x00, 0x0b, 99, 1, 0, 5, 99, 2, 0, 9, 99,
        ]);
        compaction.extend_from_slice(&[2, 4, 9, 0]);
    }
    compaction.extend_from_slice(&[13, 7, 64, 12, 13, 1, 8, 3, 9, 1]);
    let mut expiry = vec![0b0001_0100u8]; // short retention, 2 partitions
    expiry.extend_from_slice(&send3);
    expiry.extend_from_slice(&[2, 3, 4, 1, 10, 9, 9, 0, 0, 1, 3, 4, 0, 12, 3, 9, 0]);
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("standard-basic", basic),
        ("fifo-basic", fifo),
        ("fifo-dedup", fifo_dedup),
        ("compaction", compaction),
        ("retention", expiry),
    ];
    for (name, data) in seeds {
        std::fs::write(dir.join(name), data).unwrap();
    }
    // Pseudo-random inputs (xorshift), every header variant.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..8u8 {
        let mut data = vec![i.wrapping_mul(37)];
        for _ in 0..(60 + 40 * usize::from(i)) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.push(x as u8);
        }
        std::fs::write(dir.join(format!("random-{i}")), data).unwrap();
    }
}
