//! The engine on a really full filesystem (a 4 MiB tmpfs, mounted by the test when it may:
//! root with mount permission; otherwise it says so and passes).
//!
//! Regression for two defects: a segment whose preallocation hit ENOSPC used to be made
//! sparse instead (so the failure moved to the group commit's write, failing the whole
//! partition, and a page of the mapped index could SIGBUS), and the index file was
//! always sparse. Now a full disk is reported by the send that needs a new segment, as
//! `OutOfSpace`, nothing partial is left behind, no partition fails, everything
//! committed stays readable, and sends succeed once space is freed.

mod common;

use common::{body, T0};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use spool_engine::PartitionConfig;
use spool_engine::{Engine, EngineConfig, ManualClock};
use spool_testkit::Tmpfs;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn full_tmpfs_refuses_sends_cleanly_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(&dir.path().join("mnt"), "4m") else {
        eprintln!("disk_full: cannot mount a tmpfs here (not root?); skipped");
        return;
    };
    let filler = mnt.path().join("filler");
    std::fs::write(&filler, vec![1u8; 1 << 20]).unwrap();
    let data = mnt.path().join("data");
    let clock = ManualClock::new(T0);
    let cfg = EngineConfig {
        partition: PartitionConfig {
            segment_bytes: 256 << 10,
            segment_slots: 1024,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut e = Engine::open(&data, cfg.clone(), Arc::new(clock.clone()))
        .unwrap()
        .0;
    e.create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let msg = "m".repeat(8000);
    let mut committed = 0usize;
    let mut refused = None;
    for i in 0..10_000 {
        match e.send("q", &[body(&msg)]).unwrap().pop().unwrap() {
            Ok(_) => {
                committed += e
                    .flush()
                    .expect("a flush failed: the disk was not preallocated");
            }
            Err(err) => {
                assert!(err.is_out_of_space(), "{err}");
                refused = Some(i);
                break;
            }
        }
    }
    assert!(refused.is_some(), "never ran out of space");
    assert!(!e.has_failed_partitions());
    // Nothing partial left: every segment on disk is one the partition uses.
    let logs = files_under(&data)
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .count();
    // `Partition` has no public path to name its method by.
    #[allow(clippy::redundant_closure_for_method_calls)]
    let in_use: usize = e
        .queue_ref("q")
        .unwrap()
        .partitions()
        .iter()
        .map(|p| p.segment_count())
        .sum();
    assert_eq!(logs, in_use);
    // Everything committed is readable.
    let mut got = 0;
    loop {
        let ms = e.receive("q", 10, Some(3600)).unwrap();
        if ms.is_empty() {
            break;
        }
        got += ms.len();
    }
    assert_eq!(got, committed);
    // Space back: sends succeed.
    std::fs::remove_file(&filler).unwrap();
    e.send("q", &[body(&msg)]).unwrap().pop().unwrap().unwrap();
    assert_eq!(e.flush().unwrap(), 1);
    eprintln!(
        "disk_full: {committed} messages of 8 KB committed on a 4 MiB tmpfs, then OutOfSpace"
    );
    drop(e);
    drop(mnt);
}
