//! Crash test (acceptance point 2): a partition holds acknowledged messages (flushed, so
//! durable) and an unacknowledged tail. A crash may leave any prefix of the tail's bytes
//! on disk, writes to different files in any order, and a torn write may leave garbage.
//! For every byte offset of the tail we cut the log there, and in a second pass flip a bit
//! there, then reopen and check:
//!
//! - every acknowledged message is delivered exactly once, a durably deleted one never;
//! - a tail record is delivered exactly when its bytes survived intact (and every record
//!   before it in its segment did), never garbled, never twice;
//! - the recovery report counts exactly the damaged bytes it erased;
//! - the engine appends and flushes again, and a second reopen finds the same messages
//!   plus the new one, with nothing left to erase (no resurrection of the torn tail).
//!
//! The `.idx` files get the same treatment: cut short, zeroed, header damaged, header
//! durable point lagging, or missing. The index is rebuilt from the log; a damaged slot
//! may redeliver a deleted message (at least once), an intact one never.
//!
//! The "unacknowledged" tail is written by a real flush; since a crash can keep any part
//! of an unacknowledged write, treating those bytes as unflushed is exactly the set of
//! states a crash can leave. The index header never vouches for the tail (the tail is
//! flushed after the last `sync_index`), as it would not after a real crash.

mod common;

use common::copy_dir;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use spool_engine::{Engine, EngineConfig, ManualClock, SendRequest};
use spool_engine::{PartitionConfig, RecoveryReport};

const T0: u64 = 1_800_000_000_000;
const Q: &str = "crash";
const QF: &str = "crash.fifo";
const SEG_BYTES: u64 = 64 << 10;
const SEG_SLOTS: u32 = 256;
const IDX_HEADER: usize = 4096;
const SLOT_LEN: usize = 32;
/// Visibility timeout of the receives here: long enough that nothing comes back while a
/// test receives (the clock stands still), short enough that a message received before
/// a crash is visible again when the tests reopen at `T0 + 60 s` (a receive's state
/// survives a restart: it stays in flight until its deadline).
const LONG_VIS_S: u32 = 30;

fn cfg() -> EngineConfig {
    EngineConfig {
        partition: PartitionConfig {
            segment_bytes: SEG_BYTES,
            segment_slots: SEG_SLOTS,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A unique, self-describing body of 100..=170 bytes, so a record is at most 250 bytes and
/// 256 records always fit a 64 KiB segment: segments roll on slots, at known points.
fn body(tag: &str, i: usize) -> Vec<u8> {
    let mut b = format!("{tag}-{i:05}-").into_bytes();
    let len = 100 + (i * 37) % 71;
    let mut k = 0usize;
    while b.len() < len {
        b.push(b'a' + ((i * 7 + k * 11) % 26) as u8);
        k += 1;
    }
    b
}

/// Sends `bodies`. On the FIFO queue each message gets its own group (so all can be in
/// flight at once) and a deduplication id derived from its body's tag.
fn send(e: &mut Engine, q: &str, bodies: &[Vec<u8>]) -> Vec<spool_engine::SendOutcome> {
    let fifo = q == QF;
    let reqs: Vec<SendRequest> = bodies
        .iter()
        .map(|b| {
            let tag = String::from_utf8_lossy(&b[..b.len().min(16)]).into_owned();
            SendRequest {
                body: b.clone(),
                group_id: fifo.then(|| format!("g-{tag}")),
                dedup_id: fifo.then(|| format!("d-{tag}")),
                ..Default::default()
            }
        })
        .collect();
    e.send(q, &reqs)
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

fn receive_all(e: &mut Engine, q: &str) -> Vec<spool_engine::ReceivedMessage> {
    let mut out = Vec::new();
    loop {
        let got = e.receive(q, 10, Some(LONG_VIS_S)).unwrap();
        if got.is_empty() {
            return out;
        }
        out.extend(got);
    }
}

fn log_file(part: &Path, base: u64) -> PathBuf {
    part.join(format!("{base:020}.log"))
}

fn idx_file(part: &Path, base: u64) -> PathBuf {
    part.join(format!("{base:020}.idx"))
}

/// Segment bases present in a partition directory, in log order.
fn seg_bases(part: &Path) -> Vec<u64> {
    let mut v: Vec<u64> = std::fs::read_dir(part)
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".log")?.parse().ok()
        })
        .collect();
    v.sort_unstable();
    v
}

/// A file's bytes padded with zeros to `len` (what the engine sees once it extends it).
fn image(path: &Path, len: usize) -> Vec<u8> {
    let mut b = std::fs::read(path).unwrap_or_default();
    if b.len() < len {
        b.resize(len, 0);
    }
    b
}

#[derive(Debug, Clone)]
struct Rec {
    seg: u64,
    start: usize,
    end: usize,
    seq: u64,
    body: Vec<u8>,
    /// A marker (journaled deletes or receive states), not a message.
    marker: bool,
    /// A state marker (journaled receives and visibility changes).
    states: bool,
}

impl Rec {
    /// A deletion marker.
    fn deletes(&self) -> bool {
        self.marker && !self.states
    }
}

/// Every record of every segment, walked by length and decoded.
fn scan(part: &Path) -> Vec<Rec> {
    let mut out = Vec::new();
    for base in seg_bases(part) {
        let buf = std::fs::read(log_file(part, base)).unwrap();
        let mut pos = 0;
        while pos + 8 <= buf.len() && buf[pos..pos + 4] != [0; 4] {
            let r = spool_engine::testing::record::decode(&buf[pos..]).expect("pristine record");
            let len = u32::from_le_bytes(buf[pos..pos + 4].try_into().unwrap()) as usize;
            out.push(Rec {
                seg: base,
                start: pos,
                end: pos + len,
                seq: r.seq,
                body: r.body,
                marker: buf[pos + 9] & spool_engine::testing::record::FLAG_DELETES != 0,
                states: buf[pos + 9] & spool_engine::testing::record::FLAG_STATES != 0,
            });
            pos += len;
        }
    }
    out
}

/// A new data directory with an engine (clock at `T0`) and queue `q` (FIFO for `QF`).
fn fresh(q: &str) -> (tempfile::TempDir, ManualClock, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let mut e = Engine::open(dir.path(), cfg(), Arc::new(clock.clone()))
        .unwrap()
        .0;
    let mut attrs = BTreeMap::new();
    if q == QF {
        attrs.insert("FifoQueue".to_string(), "true".to_string());
    }
    e.create_queue(q, &attrs, &BTreeMap::new()).unwrap();
    (dir, clock, e)
}

/// A pristine data directory after a run with acknowledged and unacknowledged appends.
struct Fixture {
    dir: tempfile::TempDir,
    /// The queue's name (`QF` for the FIFO variant).
    q: &'static str,
    /// The partition directory, relative to the data directory.
    part_rel: PathBuf,
    /// Every record in the log, in log order.
    recs: Vec<Rec>,
    /// Index of the first unacknowledged record in `recs`.
    first_tail: usize,
    /// Bodies deleted (durably) before the crash.
    deleted: Vec<Vec<u8>>,
}

impl Fixture {
    /// Sends `acked` messages (flushed in batches of 10), receives all of them (they are
    /// in flight at the crash), deletes every 9th (flushed), optionally advances the index
    /// headers, then appends and flushes `tail` more: the unacknowledged part.
    fn build(q: &'static str, acked: usize, tail: usize, sync_headers: bool) -> Fixture {
        let (dir, clock, mut e) = fresh(q);
        let bodies: Vec<Vec<u8>> = (0..acked).map(|i| body("ack", i)).collect();
        for chunk in bodies.chunks(10) {
            send(&mut e, q, chunk);
            e.flush().unwrap();
            clock.advance_ms(1);
        }
        let got = receive_all(&mut e, q);
        assert_eq!(got.len(), acked);
        let mut deleted = Vec::new();
        for (i, m) in got.iter().enumerate() {
            if i % 9 == 4 {
                e.delete_message(q, &m.receipt_handle).unwrap();
                deleted.push(m.body.clone());
            }
        }
        e.flush().unwrap();
        if sync_headers {
            e.sync_index().unwrap();
        }
        let qid = e.queue_id(q).unwrap();
        let part_rel = PathBuf::from("queues").join(qid.to_string()).join("0");
        let acked_recs = scan(&dir.path().join(&part_rel));
        // The deletes' flush journaled them in one deletion marker.
        assert_eq!(acked_recs.iter().filter(|r| !r.marker).count(), acked);
        assert_eq!(acked_recs.iter().filter(|r| r.deletes()).count(), 1);
        let acked_recs = acked_recs.len();
        let tail_bodies: Vec<Vec<u8>> = (0..tail).map(|i| body("tail", i)).collect();
        send(&mut e, q, &tail_bodies);
        e.flush().unwrap();
        drop(e);
        let recs = scan(&dir.path().join(&part_rel));
        assert_eq!(recs.len(), acked_recs + tail);
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(r.seq, i as u64);
        }
        Fixture {
            dir,
            q,
            part_rel,
            recs,
            first_tail: acked_recs,
            deleted,
        }
    }

    fn tail(&self) -> &[Rec] {
        &self.recs[self.first_tail..]
    }

    /// The [start, end) byte range of the unacknowledged tail in segment `seg`.
    fn tail_range(&self, seg: u64) -> Option<(usize, usize)> {
        let mut it = self.tail().iter().filter(|r| r.seg == seg);
        let first = it.next()?;
        let last = it.next_back().unwrap_or(first);
        Some((first.start, last.end))
    }

    fn is_deleted(&self, b: &[u8]) -> bool {
        self.deleted.iter().any(|d| d == b)
    }
}

/// One way a crash (or a disk) can leave the files.
#[derive(Debug, Clone)]
enum Damage {
    /// Truncate the segment's log to this many bytes.
    CutLog(u64, u64),
    /// Flip bit `bit` of byte `at` of the segment's log.
    FlipLog(u64, u64, u8),
    /// Zero the index slots of the unacknowledged records (index pages never written).
    ZeroTailSlots,
    /// Truncate the segment's index to this many bytes.
    CutIdx(u64, u64),
    /// Overwrite `len` bytes of the segment's index at `at` with `byte`.
    FillIdx(u64, u64, u64, u8),
    /// Rewrite the index header with this durable count (valid CRC): a lagging header.
    SetDurable(u64, u32),
    /// Remove the segment's log and/or index.
    Remove(u64, bool, bool),
}

fn apply(part: &Path, fx: &Fixture, d: &Damage) {
    use std::os::unix::fs::FileExt;
    let open = |p: PathBuf| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(p)
            .unwrap()
    };
    match *d {
        Damage::CutLog(seg, len) => open(log_file(part, seg)).set_len(len).unwrap(),
        Damage::FlipLog(seg, at, bit) => {
            let f = open(log_file(part, seg));
            let mut b = [0u8];
            f.read_exact_at(&mut b, at).unwrap();
            b[0] ^= 1 << bit;
            f.write_all_at(&b, at).unwrap();
        }
        Damage::ZeroTailSlots => {
            for r in fx.tail() {
                let f = open(idx_file(part, r.seg));
                let at = IDX_HEADER as u64 + (r.seq - r.seg) * SLOT_LEN as u64;
                f.write_all_at(&[0; SLOT_LEN], at).unwrap();
            }
        }
        Damage::CutIdx(seg, len) => open(idx_file(part, seg)).set_len(len).unwrap(),
        Damage::FillIdx(seg, at, len, byte) => {
            let f = open(idx_file(part, seg));
            f.write_all_at(&vec![byte; len as usize], at).unwrap();
        }
        Damage::SetDurable(seg, count) => {
            let f = open(idx_file(part, seg));
            let mut h = [0u8; 44];
            f.read_exact_at(&mut h, 0).unwrap();
            h[20..24].copy_from_slice(&count.to_le_bytes());
            let crc = crc32fast::hash(&h[..40]);
            h[40..44].copy_from_slice(&crc.to_le_bytes());
            f.write_all_at(&h, 0).unwrap();
        }
        Damage::Remove(seg, log, idx) => {
            if log {
                std::fs::remove_file(log_file(part, seg)).unwrap();
            }
            if idx {
                std::fs::remove_file(idx_file(part, seg)).unwrap();
            }
        }
    }
}

/// What recovery must make of the damaged files, computed from their bytes alone.
#[derive(Debug, Default)]
struct Expect {
    /// Indices into `fx.recs` of the records that survive.
    survivors: Vec<usize>,
    /// Bodies that must be delivered exactly once.
    must: Vec<Vec<u8>>,
    /// Deleted bodies whose slot was damaged: delivered at most once.
    may: Vec<Vec<u8>>,
    truncated_bytes: u64,
    torn_segments: usize,
}

fn expect(fx: &Fixture, pristine: &Path, part: &Path) -> Expect {
    let mut ex = Expect::default();
    let bases = seg_bases(part);
    for (k, &base) in bases.iter().enumerate() {
        let last = k + 1 == bases.len();
        let img = image(&log_file(part, base), SEG_BYTES as usize);
        // A record survives if its bytes are intact and so is every record before it in
        // its segment.
        let orig = std::fs::read(log_file(pristine, base)).unwrap();
        let mut pos = 0;
        let mut n = 0;
        for (i, r) in fx.recs.iter().enumerate().filter(|(_, r)| r.seg == base) {
            if img[r.start..r.end] != orig[r.start..r.end] {
                break;
            }
            ex.survivors.push(i);
            pos = r.end;
            n += 1;
        }
        let rest = &img[pos..];
        let extent = rest
            .iter()
            .take(1 << 20)
            .rposition(|&b| b != 0)
            .map_or(0, |i| i as u64 + 1);
        let end_marker = rest.len() >= 8 && rest[..8] == [0; 8];
        let full = n >= SEG_SLOTS as usize;
        let erased = if last {
            extent
        } else if full || end_marker {
            0
        } else {
            extent
        };
        ex.truncated_bytes += erased;
        ex.torn_segments += usize::from(erased > 0);
    }
    for &i in &ex.survivors {
        let r = &fx.recs[i];
        if r.marker {
            continue;
        }
        if !fx.is_deleted(&r.body) {
            ex.must.push(r.body.clone());
            continue;
        }
        // A deleted message stays deleted while its slot is intact.
        let slot = IDX_HEADER + (r.seq - r.seg) as usize * SLOT_LEN;
        let want = image(&idx_file(pristine, r.seg), slot + SLOT_LEN);
        let got = image(&idx_file(part, r.seg), slot + SLOT_LEN);
        if got[slot..slot + SLOT_LEN] != want[slot..slot + SLOT_LEN] {
            ex.may.push(r.body.clone());
        }
    }
    ex
}

fn partition_report(rep: &spool_engine::OpenReport) -> RecoveryReport {
    assert_eq!(rep.partitions.len(), 1);
    rep.partitions[0].2.clone()
}

fn counts(ms: &[spool_engine::ReceivedMessage]) -> HashMap<Vec<u8>, usize> {
    let mut c = HashMap::new();
    for m in ms {
        *c.entry(m.body.clone()).or_insert(0) += 1;
    }
    c
}

struct Case {
    name: String,
    damage: Vec<Damage>,
    /// Expected `rescanned` in the first report, when the case pins it.
    rescanned: Option<u64>,
    /// Whether the log is untouched (so the report must show nothing erased).
    clean_log: bool,
}

impl Case {
    fn new(name: String, damage: Vec<Damage>) -> Case {
        Case {
            name,
            damage,
            rescanned: None,
            clean_log: false,
        }
    }
}

/// What one case came to, for the coverage checks of the tests.
#[derive(Debug, Clone, Copy, Default)]
struct Outcome {
    /// Unacknowledged records that survived.
    tail_survivors: usize,
    /// Recovery erased bytes.
    erased: bool,
}

/// Copies the pristine directory, damages it, reopens twice and checks everything.
fn run_case(fx: &Fixture, case: &Case) -> Outcome {
    let name = &case.name;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    copy_dir(fx.dir.path(), &data);
    let part = data.join(&fx.part_rel);
    let pristine = fx.dir.path().join(&fx.part_rel);
    for d in &case.damage {
        apply(&part, fx, d);
    }
    let ex = expect(fx, &pristine, &part);

    // First reopen: recovery.
    let clock = ManualClock::new(T0 + 60_000);
    let (mut e, rep) = Engine::open(&data, cfg(), Arc::new(clock.clone()))
        .unwrap_or_else(|err| panic!("{name}: reopen failed: {err}"));
    let r = partition_report(&rep);
    assert_eq!(
        r.records,
        ex.survivors.len() as u64,
        "{name}: records {r:?}"
    );
    assert_eq!(
        (r.truncated_bytes, r.torn_segments),
        (ex.truncated_bytes, ex.torn_segments),
        "{name}: erased bytes {r:?}"
    );
    if case.clean_log {
        assert_eq!((r.truncated_bytes, r.torn_segments), (0, 0), "{name}");
    }
    if let Some(n) = case.rescanned {
        assert_eq!(r.rescanned, n, "{name}: rescanned {r:?}");
    }
    let got = receive_all(&mut e, fx.q);
    let c = counts(&got);
    for m in &got {
        let known = fx.recs.iter().any(|r| r.body == m.body);
        assert!(
            known,
            "{name}: garbled body {:?}",
            String::from_utf8_lossy(&m.body)
        );
    }
    for b in &ex.must {
        assert_eq!(
            c.get(b).copied().unwrap_or(0),
            1,
            "{name}: {} not delivered exactly once",
            String::from_utf8_lossy(b)
        );
    }
    for (b, n) in &c {
        let allowed = usize::from(ex.must.contains(b) || ex.may.contains(b));
        assert!(
            *n <= allowed,
            "{name}: {} delivered {n} times (allowed {allowed})",
            String::from_utf8_lossy(b)
        );
    }
    for (i, r) in fx.recs.iter().enumerate() {
        if i < fx.first_tail && !r.marker && !fx.is_deleted(&r.body) {
            assert!(c.contains_key(&r.body), "{name}: acknowledged seq {i} lost");
        }
    }

    // A FIFO sender retrying its unacknowledged sends: the deduplication window was
    // rebuilt from the surviving records, so a retry is a duplicate exactly when the
    // first attempt survived, and is appended otherwise.
    let mut posted = Vec::new();
    if fx.q == QF {
        for (k, r) in fx.tail().iter().enumerate() {
            let survived = ex.survivors.contains(&(fx.first_tail + k));
            let out = send(&mut e, fx.q, std::slice::from_ref(&r.body));
            assert_eq!(out[0].duplicate, survived, "{name}: retry of tail {k}");
            if !survived {
                posted.push(r.body.clone());
            }
        }
    }
    // The engine appends again after recovery.
    let post = format!("post-{name}").into_bytes();
    send(&mut e, fx.q, std::slice::from_ref(&post));
    posted.push(post);
    assert_eq!(
        e.flush().unwrap(),
        posted.len(),
        "{name}: append after recovery"
    );
    drop(e);

    // Second reopen: nothing left to erase, the same messages plus the new one.
    clock.advance_ms(60_000);
    let (mut e, rep) = Engine::open(&data, cfg(), Arc::new(clock.clone()))
        .unwrap_or_else(|err| panic!("{name}: second reopen failed: {err}"));
    let r2 = partition_report(&rep);
    assert_eq!(
        (r2.truncated_bytes, r2.torn_segments),
        (0, 0),
        "{name}: second reopen erased something: {r2:?}"
    );
    // The flush after the first reopen also journaled its receives (one state marker).
    let state_marker = u64::from(!got.is_empty());
    assert_eq!(
        r2.records,
        r.records + posted.len() as u64 + state_marker,
        "{name}: {r2:?}"
    );
    let got2 = receive_all(&mut e, fx.q);
    let mut c2 = counts(&got2);
    for p in &posted {
        assert_eq!(c2.remove(p), Some(1), "{name}: appended message");
    }
    assert_eq!(c2, c, "{name}: second reopen delivered a different set");
    Outcome {
        tail_survivors: ex.survivors.iter().filter(|&&i| i >= fx.first_tail).count(),
        erased: r.truncated_bytes > 0,
    }
}

/// Runs the cases on a few threads (the work is mostly waiting for fsync).
fn run_all(fx: &Fixture, cases: &[Case]) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let out = std::sync::Mutex::new(vec![Outcome::default(); cases.len()]);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(c) = cases.get(i) else {
                    return;
                };
                let o = run_case(fx, c);
                out.lock().unwrap()[i] = o;
            });
        }
    });
    out.into_inner().unwrap()
}

/// The tail cases must have hit every number of surviving tail records, with and
/// without something to erase.
fn check_coverage(fx: &Fixture, outcomes: &[Outcome]) {
    for k in 0..=fx.tail().len() {
        assert!(
            outcomes.iter().any(|o| o.tail_survivors == k),
            "no case kept {k} tail records"
        );
    }
    assert!(outcomes.iter().any(|o| o.erased));
    assert!(outcomes.iter().any(|o| !o.erased));
}

/// Damage cases for every byte of the unacknowledged tail, cut and flipped.
fn tail_cases(fx: &Fixture) -> Vec<Case> {
    let mut cases = Vec::new();
    let segs: Vec<(u64, (usize, usize))> = seg_bases(&fx.dir.path().join(&fx.part_rel))
        .into_iter()
        .filter_map(|b| Some((b, fx.tail_range(b)?)))
        .collect();
    // Prefix cuts of the tail as one byte stream across its segments: bytes before the
    // cut landed, bytes after it did not (a later segment's log is cut to nothing).
    let total: usize = segs.iter().map(|(_, (a, b))| b - a).sum();
    for x in 0..=total {
        let mut left = x;
        let mut damage = Vec::new();
        for &(seg, (a, b)) in &segs {
            let keep = left.min(b - a);
            left -= keep;
            damage.push(Damage::CutLog(seg, (a + keep) as u64));
        }
        if x % 2 == 1 {
            damage.push(Damage::ZeroTailSlots);
        }
        cases.push(Case::new(format!("cut@{x}"), damage));
    }
    // Writes to different files land in any order: with more than one segment in the
    // tail, cut the first while the later ones landed whole.
    if segs.len() > 1 {
        let (seg, (a, b)) = segs[0];
        for x in a..b {
            cases.push(Case::new(
                format!("cut-first-only@{seg}:{x}"),
                vec![Damage::CutLog(seg, x as u64)],
            ));
        }
    }
    // One flipped bit at every byte of the tail.
    for &(seg, (a, b)) in &segs {
        for x in a..b {
            cases.push(Case::new(
                format!("flip@{seg}:{x}"),
                vec![Damage::FlipLog(seg, x as u64, (x % 8) as u8)],
            ));
        }
    }
    // Garbage past the tail of the head segment (a sector of a torn write that landed
    // beyond a gap).
    let (head, (_, end)) = *segs.last().unwrap();
    for gap in [0u64, 1, 511, 4096] {
        cases.push(Case::new(
            format!("stray@{head}:+{gap}"),
            vec![Damage::FlipLog(head, end as u64 + gap, 3)],
        ));
    }
    cases
}

#[test]
fn torn_tail_of_the_head_segment() {
    // 300 acknowledged: segment 0 full (256), segment 1 holds 44 + the 4-record tail.
    let fx = Fixture::build(Q, 300, 4, true);
    let segs = seg_bases(&fx.dir.path().join(&fx.part_rel));
    assert_eq!(segs.len(), 2);
    assert!(fx.tail().iter().all(|r| r.seg == segs[1]));
    let cases = tail_cases(&fx);
    let out = run_all(&fx, &cases);
    check_coverage(&fx, &out);
}

#[test]
fn torn_tail_across_a_segment_roll() {
    // 252 acknowledged, the receives' state marker and the deletes' marker: the tail's
    // first 2 records end segment 0, the other 2 start segment 1. Index headers never
    // advanced: recovery rescans every segment.
    let fx = Fixture::build(Q, 252, 4, false);
    let segs = seg_bases(&fx.dir.path().join(&fx.part_rel));
    assert_eq!(segs.len(), 2);
    assert_eq!(fx.tail().iter().filter(|r| r.seg == segs[0]).count(), 2);
    let mut cases = tail_cases(&fx);
    // The crash came before the new segment's files were durable, or between them.
    let (s0, (a, b)) = (segs[0], fx.tail_range(segs[0]).unwrap());
    for x in [a, a + 1, usize::midpoint(a, b), b] {
        cases.push(Case::new(
            format!("no-new-segment@{x}"),
            vec![
                Damage::CutLog(s0, x as u64),
                Damage::Remove(segs[1], true, true),
            ],
        ));
        cases.push(Case::new(
            format!("new-segment-index-only@{x}"),
            vec![
                Damage::CutLog(s0, x as u64),
                Damage::Remove(segs[1], true, false),
            ],
        ));
        cases.push(Case::new(
            format!("new-segment-without-index@{x}"),
            vec![
                Damage::CutLog(s0, x as u64),
                Damage::CutLog(segs[1], 0),
                Damage::Remove(segs[1], false, true),
            ],
        ));
    }
    let out = run_all(&fx, &cases);
    check_coverage(&fx, &out);
}

#[test]
fn damaged_index_files_are_rebuilt_from_the_log() {
    let fx = Fixture::build(Q, 300, 4, true);
    let part = fx.dir.path().join(&fx.part_rel);
    let segs = seg_bases(&part);
    assert_eq!(segs.len(), 2);
    let count = |seg: u64| fx.recs.iter().filter(|r| r.seg == seg).count() as u64;
    let acked_in = |seg: u64| {
        fx.recs[..fx.first_tail]
            .iter()
            .filter(|r| r.seg == seg)
            .count() as u64
    };
    // Undamaged: the headers vouch for the acknowledged records; the tail is rescanned.
    let tail_len = fx.tail().len() as u64;
    let mut cases = vec![Case {
        rescanned: Some(tail_len),
        ..Case::new("undamaged".into(), vec![])
    }];
    for &seg in &segs {
        let n = count(seg) as usize;
        let idx_len = (IDX_HEADER + SEG_SLOTS as usize * SLOT_LEN) as u64;
        let mut cuts = vec![0u64, 1, 20, 43, 44, 100, 4095, 4096];
        for k in [0, 1, n / 3, n / 2, n.saturating_sub(1), n] {
            for r in [1, 8, 26, 27, 31] {
                cuts.push((IDX_HEADER + k * SLOT_LEN + r) as u64);
            }
        }
        cuts.push(idx_len - 1);
        for len in cuts {
            cases.push(Case {
                clean_log: true,
                ..Case::new(
                    format!("idx-cut@{seg}:{len}"),
                    vec![Damage::CutIdx(seg, len)],
                )
            });
        }
        let fills = [
            ("zeroed", 0, idx_len, 0u8),
            ("header-zeroed", 0, 44, 0),
            ("header-garbage", 8, 30, 0xa5),
            (
                "slots-zeroed",
                IDX_HEADER as u64,
                idx_len - IDX_HEADER as u64,
                0,
            ),
            ("slots-garbage", IDX_HEADER as u64 + 40, 100, 0xff),
        ];
        for (what, at, len, byte) in fills {
            cases.push(Case {
                clean_log: true,
                ..Case::new(
                    format!("idx-{what}@{seg}"),
                    vec![Damage::FillIdx(seg, at, len, byte)],
                )
            });
        }
        cases.push(Case {
            clean_log: true,
            ..Case::new(
                format!("idx-missing@{seg}"),
                vec![Damage::Remove(seg, false, true)],
            )
        });
        // A lagging durable point: recovery rescans from it and keeps the slots' states.
        let acked = acked_in(seg);
        for d in [0, 1, acked / 2, acked.saturating_sub(1)] {
            let other: u64 = segs
                .iter()
                .filter(|&&s| s != seg)
                .map(|&s| count(s) - acked_in(s))
                .sum();
            cases.push(Case {
                rescanned: Some(count(seg) - d + other),
                clean_log: true,
                ..Case::new(
                    format!("idx-durable-lag@{seg}:{d}"),
                    vec![Damage::SetDurable(seg, d as u32)],
                )
            });
        }
    }
    // Index damage together with a torn log tail.
    let head = *segs.last().unwrap();
    let (a, b) = fx.tail_range(head).unwrap();
    for x in [a + 1, usize::midpoint(a, b), b - 1] {
        for &seg in &segs {
            cases.push(Case::new(
                format!("idx-zeroed@{seg}+cut@{x}"),
                vec![
                    Damage::FillIdx(seg, 0, 4096 + 64 * 32, 0),
                    Damage::CutLog(head, x as u64),
                ],
            ));
        }
    }
    run_all(&fx, &cases);
}

#[test]
fn torn_tail_of_a_fifo_queue_and_sender_retries() {
    // FIFO: the deduplication window is rebuilt from what survived; retries of the
    // unacknowledged sends are checked in every case. Cuts only (flips add nothing FIFO
    // specific and the other tests cover them).
    let fx = Fixture::build(QF, 300, 4, true);
    let cases: Vec<Case> = tail_cases(&fx)
        .into_iter()
        .filter(|c| c.name.starts_with("cut"))
        .collect();
    let out = run_all(&fx, &cases);
    check_coverage(&fx, &out);
}

/// Deletes are acknowledged once their deletion marker is durable in the log; the index
/// files are synced only in the background. A crash that loses every index write since
/// the last `sync_index` must still not bring a deleted message back: recovery re-applies
/// the markers. Run on a standard and a FIFO queue, with deletes in two flushes (two
/// markers) and messages spread over three segments.
#[test]
fn acknowledged_deletes_survive_an_index_that_never_synced_them() {
    for q in [Q, QF] {
        let (dir, clock, mut e) = fresh(q);
        let n = 600;
        let bodies: Vec<Vec<u8>> = (0..n).map(|i| body("jd", i)).collect();
        for chunk in bodies.chunks(10) {
            send(&mut e, q, chunk);
            e.flush().unwrap();
        }
        e.sync_index().unwrap();
        let qid = e.queue_id(q).unwrap();
        let part = dir.path().join("queues").join(qid.to_string()).join("0");
        let bases = seg_bases(&part);
        assert_eq!(bases.len(), 3, "{q}: 600 records over 256-slot segments");
        // The index files as a crash right now would leave them.
        let synced: Vec<Vec<u8>> = bases
            .iter()
            .map(|&b| std::fs::read(idx_file(&part, b)).unwrap())
            .collect();

        let got = receive_all(&mut e, q);
        assert_eq!(got.len(), n, "{q}");
        let mut deleted = Vec::new();
        for (round, rem) in [(0, 0), (1, 1)] {
            for m in got.iter().filter(|m| {
                let i: usize = std::str::from_utf8(&m.body[3..8]).unwrap().parse().unwrap();
                i % 3 == rem
            }) {
                assert_eq!(
                    e.delete_message(q, &m.receipt_handle).unwrap(),
                    spool_engine::DeleteOutcome::Deleted,
                    "{q}: round {round}"
                );
                deleted.push(m.body.clone());
            }
            // Acknowledged here: a marker, and no index sync.
            assert_eq!(e.flush().unwrap(), 0, "{q}: markers are not messages");
        }
        drop(e);

        // The crash: the logs as written, the index files as last synced.
        let crashed = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), crashed.path());
        let cpart = crashed
            .path()
            .join("queues")
            .join(qid.to_string())
            .join("0");
        assert_eq!(
            seg_bases(&cpart),
            bases,
            "{q}: the markers fit the head segment"
        );
        for (b, img) in bases.iter().zip(&synced) {
            // The old image knows nothing of the deletes (state byte 26 of a slot).
            let gone = img[IDX_HEADER..]
                .chunks_exact(SLOT_LEN)
                .filter(|s| s[26] == 5)
                .count();
            assert_eq!(gone, 0, "{q}: the synced index holds no delete");
            std::fs::write(idx_file(&cpart, *b), img).unwrap();
        }
        let markers = scan(&cpart).iter().filter(|r| r.deletes()).count();
        assert_eq!(markers, 2, "{q}: one marker per flush of deletes");

        clock.advance_ms(60_000);
        let (mut e, rep) = Engine::open(crashed.path(), cfg(), Arc::new(clock.clone())).unwrap();
        let r = partition_report(&rep);
        assert_eq!(r.journaled_deletes, deleted.len() as u64, "{q}: {r:?}");
        let again = receive_all(&mut e, q);
        let c = counts(&again);
        for b in &bodies {
            let want = usize::from(!deleted.contains(b));
            assert_eq!(
                c.get(b).copied().unwrap_or(0),
                want,
                "{q}: {}",
                String::from_utf8_lossy(b)
            );
        }
        assert_eq!(again.len(), n - deleted.len(), "{q}");
    }
}

/// An engine (every read through the mmap: nothing retained) whose queue `Q` holds 5
/// committed messages, the third of them damaged on disk afterwards (one bit flipped
/// in its body, through the file: the mapping sees the same page). Returns the bodies.
fn with_a_damaged_record() -> (tempfile::TempDir, Engine, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.partition.retain_bytes = 0;
    let mut e = Engine::open(dir.path(), c, Arc::new(ManualClock::new(T0)))
        .unwrap()
        .0;
    e.create_queue(Q, &BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let bodies: Vec<Vec<u8>> = (0..5).map(|i| body("rot", i)).collect();
    send(&mut e, Q, &bodies);
    e.flush().unwrap();
    let qid = e.queue_id(Q).unwrap();
    let part = dir.path().join("queues").join(qid.to_string()).join("0");
    let recs = scan(&part);
    assert_eq!(recs.len(), 5);
    {
        use std::os::unix::fs::FileExt;
        let r = &recs[2];
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(log_file(&part, r.seg))
            .unwrap();
        let at = (r.end - 10) as u64;
        let mut b = [0u8];
        f.read_exact_at(&mut b, at).unwrap();
        b[0] ^= 0x10;
        f.write_all_at(&b, at).unwrap();
    }
    (dir, e, bodies)
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

/// A record damaged on disk after it was committed (bit rot, a bad sector) is never
/// delivered: reads through the mmap verify the CRC. (Only records still held in the
/// retained flush buffers, which never left memory, skip the check.)
#[test]
fn a_record_damaged_after_its_commit_is_never_delivered() {
    let (_dir, mut e, mut bodies) = with_a_damaged_record();
    // One receive: the damaged record is skipped and the call goes on past it.
    let got = e.receive(Q, 10, Some(LONG_VIS_S)).unwrap();
    assert!(e.receive(Q, 10, Some(LONG_VIS_S)).unwrap().is_empty());
    assert_eq!(e.corrupt_records(), 1, "the damaged record is counted");
    assert_eq!(e.counters(Q).unwrap().ready, 0);
    assert_eq!(e.counters(Q).unwrap().in_flight, 4);
    bodies.remove(2);
    let have = got.iter().map(|m| m.body.clone()).collect();
    assert_eq!(
        sorted(have),
        sorted(bodies),
        "every intact message, never the damaged one"
    );
}

/// The same on a move (redrive): the damaged record is not copied with a fresh, valid
/// CRC, and the messages taken before it are moved, not stranded.
#[test]
fn a_damaged_record_is_never_moved() {
    let (_dir, mut e, mut bodies) = with_a_damaged_record();
    // Redrive needs a dead-letter queue: "dest" names Q as its own.
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":5}}"#,
        e.queue_arn(Q)
    );
    e.create_queue(
        "dest",
        &common::map(&[("RedrivePolicy", &policy)]),
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(e.redrive(Q, Some("dest"), 10).unwrap(), 4);
    e.flush().unwrap();
    assert_eq!(e.corrupt_records(), 1);
    assert_eq!(e.counters(Q).unwrap().ready, 0);
    let got = receive_all(&mut e, "dest");
    bodies.remove(2);
    let have = got.iter().map(|m| m.body.clone()).collect();
    assert_eq!(sorted(have), sorted(bodies));
    assert!(
        receive_all(&mut e, Q).is_empty(),
        "nothing left behind or stranded"
    );
}
