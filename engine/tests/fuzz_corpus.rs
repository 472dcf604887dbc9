//! Runs every fuzz target over its seed corpus in `fuzz/corpus/<target>/`, so CI
//! exercises the targets on stable Rust without cargo-fuzz. Regenerate the seeds with
//! `cargo test -p spool-engine --test fuzz_corpus -- --ignored write_seed_corpus`.

use std::path::PathBuf;

use spool_engine::record::{self, AttributeValue, MessageAttribute, MessageId, Origin, Record};

fn corpus(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let mut v: Vec<_> = std::fs::read_dir(corpus(target))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "seed corpus of {target} is empty");
    v.into_iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn record_decode_corpus() {
    for data in inputs("record_decode") {
        spool_engine::fuzzing::record_decode(&data);
    }
}

#[test]
fn receipt_handle_corpus() {
    for data in inputs("receipt_handle") {
        spool_engine::fuzzing::receipt_handle(&data);
    }
}

#[test]
fn recovery_corpus() {
    for data in inputs("recovery") {
        let dir = tempfile::tempdir().unwrap();
        spool_engine::fuzzing::recovery(&data, dir.path());
    }
}

fn sample(seq: u64, body: &[u8]) -> Record {
    Record {
        seq,
        sent_at_ms: 1_800_000_000_000,
        visible_at_ms: 0,
        message_id: MessageId::from_u128(seq as u128 + 1),
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
    let rd = corpus("record_decode");
    let rc = corpus("recovery");
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
    use spool_engine::receipt::{Receipt, ReceiptKey, KEY_LEN};
    let dir = corpus("receipt_handle");
    std::fs::create_dir_all(&dir).unwrap();
    let key = ReceiptKey::from_bytes([0x5a; KEY_LEN]);
    let r = Receipt {
        partition: 1,
        seq: 1234,
        generation: 2,
        epoch: 3,
    };
    let mut prefix = Vec::new();
    prefix.extend_from_slice(&r.partition.to_le_bytes());
    prefix.extend_from_slice(&r.seq.to_le_bytes());
    prefix.extend_from_slice(&r.generation.to_le_bytes());
    prefix.extend_from_slice(&r.epoch.to_le_bytes());
    let sealed = key.seal(7, &r);
    let other_queue = key.seal(8, &r);
    let mut last_char = sealed.clone().into_bytes();
    *last_char.last_mut().unwrap() ^= 1;
    let seeds: [(&str, u8, u8, &[u8]); 8] = [
        ("valid", 0, b'A', sealed.as_bytes()),
        ("other-queue", 46, b'B', other_queue.as_bytes()),
        ("last-char", 46, 0, &last_char),
        ("padded", 3, b'=', format!("{sealed}=").leak().as_bytes()),
        (
            "server-prefixed",
            10,
            0xff,
            format!("1.{sealed}").leak().as_bytes(),
        ),
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
