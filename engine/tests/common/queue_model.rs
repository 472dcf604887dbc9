//! The in-memory model of SQS semantics and the harness that drives a real `Engine`
//! against it, shared by the property test (`tests/model.rs`, proptest strategies) and
//! the `engine_model` fuzz target (`fuzz/`, [`Case::from_bytes`]); the corpus of that
//! target also runs as a plain test (`tests/fuzz_corpus.rs`). Both include this file with
//! `#[path]`. What is checked, and what a crash means, is described in `tests/model.rs`.
#![allow(dead_code)] // each includer uses a different part

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use spool_engine::PartitionConfig;
use spool_engine::{
    Clock, DeleteOutcome, Engine, EngineConfig, EngineError, ManualClock, MessageId, ReceiptHandle,
    ReceivedMessage, SendRequest,
};

pub const T0: u64 = 1_800_000_000_000;
const QUEUE_STD: &str = "model-q";
const QUEUE_FIFO: &str = "model-q.fifo";
const PURGE_INTERVAL_MS: u64 = 60_000;
const DEDUP_WINDOW_MS: u64 = 300_000;
const DEFAULT_RETENTION_MS: u64 = 345_600_000;
pub const GROUPS: u8 = 3;
/// Most operations [`Case::from_bytes`] decodes, so one fuzz execution stays short.
pub const MAX_FUZZ_OPS: usize = 200;

// ----- operations --------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct SendSpec {
    pub group: u8,
    pub pad: u16,
    /// FIFO with explicit deduplication ids: reuse the id of an earlier send.
    pub reuse_dedup: Option<usize>,
}

#[derive(Debug, Clone)]
pub enum Op {
    Send(Vec<SendSpec>),
    Flush,
    /// Receive; with `delete`, delete each message at once by its fresh handle.
    Receive {
        max: usize,
        vis_s: u32,
        delete: bool,
    },
    DeleteLatest(usize),
    DeleteStale(usize),
    ChangeVis {
        pick: usize,
        secs: u32,
    },
    ChangeVisStale(usize),
    Advance(u64),
    Purge,
    Crash,
    Compact {
        flush_first: bool,
        steps: u8,
        budget: usize,
    },
    SyncIndex,
    Counters,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub partitions: u16,
    /// 4 KiB / 8-slot segments instead of 16 KiB / 64 slots: many rolls and compactions.
    pub tiny_segments: bool,
    pub short_retention: bool,
    pub content_dedup: bool,
    pub ops: Vec<Op>,
}

/// Reads a fuzz input byte by byte; past the end every byte is 0.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u24(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), 0])
    }
}

impl Case {
    /// Decodes a fuzz input: any bytes make a case. Byte 0: bit 0 FIFO, bits 1-2 the
    /// partition count (1, 1, 2, 3), bit 3 tiny segments, bit 4 short retention, bit 5
    /// content-based deduplication. Then operations, each a tag byte (mod 16) and its
    /// arguments, up to [`MAX_FUZZ_OPS`]. Returns the case and whether it is FIFO.
    pub fn from_bytes(data: &[u8]) -> (bool, Case) {
        let mut b = Bytes(data);
        let h = b.u8();
        let mut case = Case {
            partitions: [1, 1, 2, 3][usize::from(h >> 1 & 3)],
            tiny_segments: h & 8 != 0,
            short_retention: h & 16 != 0,
            content_dedup: h & 32 != 0,
            ops: Vec::new(),
        };
        while !b.0.is_empty() && case.ops.len() < MAX_FUZZ_OPS {
            let tag = b.u8() % 16;
            let op = match tag {
                0 | 1 => {
                    let n = 1 + usize::from(b.u8() % 5);
                    let specs = (0..n)
                        .map(|_| SendSpec {
                            group: b.u8() % GROUPS,
                            pad: match b.u8() % 5 {
                                0..=2 => u16::from(b.u8()) % 200,
                                3 => 200 + b.u16() % 2800,
                                _ => 3000 + b.u16() % 500,
                            },
                            reuse_dedup: (b.u8() < 40).then(|| usize::from(b.u8())),
                        })
                        .collect();
                    Op::Send(specs)
                }
                2 => Op::Flush,
                3 | 4 => Op::Receive {
                    max: 1 + usize::from(b.u8() % 10),
                    vis_s: match b.u8() % 5 {
                        0 => 0,
                        _ => 1 + u32::from(b.u8()) % 60,
                    },
                    delete: tag == 4,
                },
                5 => Op::DeleteLatest(usize::from(b.u8())),
                6 => Op::DeleteStale(usize::from(b.u8())),
                7 => Op::ChangeVis {
                    pick: usize::from(b.u8()),
                    secs: u32::from(b.u8()) % 61,
                },
                8 => Op::ChangeVisStale(usize::from(b.u8())),
                9 | 10 => Op::Advance(match b.u8() % 10 {
                    0..=5 => u64::from(b.u16()) % 5_000,
                    6..=8 => 5_000 + u64::from(b.u16()) % 65_000,
                    _ => 70_000 + u64::from(b.u24()) % 7_130_000,
                }),
                11 => Op::Purge,
                12 => Op::Crash,
                13 => {
                    let f = b.u8();
                    Op::Compact {
                        flush_first: f & 1 != 0,
                        steps: 1 + (f >> 1) % 4,
                        budget: 1 + usize::from(b.u8() % 64),
                    }
                }
                14 => Op::SyncIndex,
                _ => Op::Counters,
            };
            case.ops.push(op);
        }
        (h & 1 != 0, case)
    }
}

/// Where data directories go: the test target's temp dir under cargo test, else
/// /dev/shm when there is one (fuzzing: fsync is free there), else the system's.
fn tmp_root() -> PathBuf {
    match option_env!("CARGO_TARGET_TMPDIR") {
        Some(d) => PathBuf::from(d),
        None if std::path::Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
        None => std::env::temp_dir(),
    }
}

/// Runs a fuzz input (see [`Case::from_bytes`]) against the model.
pub fn run_bytes(data: &[u8]) {
    let (fifo, case) = Case::from_bytes(data);
    run_case(fifo, &case);
}

// ----- the model ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Del {
    No,
    /// Deleted, not yet flushed: a crash may undo it.
    Pending,
    /// Deleted and flushed: never to be seen again.
    Durable,
    /// Was Pending when the engine crashed: may or may not be back.
    Maybe,
}

#[derive(Debug)]
struct Msg {
    body: Vec<u8>,
    message_id: MessageId,
    group: Option<String>,
    dedup: Option<String>,
    sent_at: u64,
    /// Engine life (number of opens) it was sent in.
    life: u32,
    /// Dropped by deduplication: not a message at all.
    dropped: bool,
    /// Flushed: the sender was acknowledged.
    acked: bool,
    /// Staged but not flushed when the engine crashed.
    lost: bool,
    purged: bool,
    del: Del,
    /// In flight until this time (not in flight if <= now).
    visible_at: u64,
    /// The handle of the latest delivery, if it was in this engine life.
    handle: Option<ReceiptHandle>,
    /// [`Harness::compactions`] when `handle` was issued.
    handle_compactions: u64,
    /// The receive call ([`Harness::calls`]) of the latest delivery.
    call: u64,
}

struct Harness {
    dir: tempfile::TempDir,
    clock: ManualClock,
    cfg: EngineConfig,
    engine: Option<Engine>,
    queue: &'static str,
    fifo: bool,
    /// Partitions per queue: SQS's order across groups holds within one.
    partitions: u16,
    content_dedup: bool,
    retention_ms: u64,
    msgs: Vec<Msg>,
    /// Handles that are no longer the latest (or from an earlier engine life).
    /// With each: [`Harness::compactions`] when it was issued.
    stale: Vec<(usize, ReceiptHandle, u64)>,
    /// Compaction runs and crashes (whose recovery may finish compaction copies) so far.
    compactions: u64,
    /// FIFO deduplication id -> the message that owns it.
    dedup_owner: HashMap<String, usize>,
    last_purge: Option<u64>,
    /// Receive calls made so far: a FIFO receive may return several messages of one
    /// group, in order, but no call may return a group's message while an earlier
    /// call's are in flight.
    calls: u64,
    life: u32,
    log: Vec<String>,
}

fn parse_id(body: &[u8]) -> Option<usize> {
    let colon = body.iter().position(|&b| b == b':')?;
    std::str::from_utf8(&body[..colon]).ok()?.parse().ok()
}

impl Harness {
    fn new(fifo: bool, c: &Case) -> Harness {
        let dir = tempfile::tempdir_in(tmp_root()).unwrap();
        let clock = ManualClock::new(T0);
        let cfg = EngineConfig {
            partition: PartitionConfig {
                segment_bytes: if c.tiny_segments { 4 << 10 } else { 16 << 10 },
                segment_slots: if c.tiny_segments { 8 } else { 64 },
                ..Default::default()
            },
            partitions_per_queue: c.partitions,
            ..Default::default()
        };
        let engine = Engine::open(dir.path(), cfg.clone(), Arc::new(clock.clone()))
            .unwrap()
            .0;
        let queue = if fifo { QUEUE_FIFO } else { QUEUE_STD };
        let mut h = Harness {
            dir,
            clock,
            cfg,
            engine: Some(engine),
            queue,
            fifo,
            partitions: c.partitions,
            content_dedup: c.content_dedup,
            retention_ms: if c.short_retention {
                60_000
            } else {
                DEFAULT_RETENTION_MS
            },
            msgs: Vec::new(),
            stale: Vec::new(),
            compactions: 0,
            dedup_owner: HashMap::new(),
            last_purge: None,
            calls: 0,
            life: 1,
            log: Vec::new(),
        };
        let mut attrs = BTreeMap::new();
        if c.short_retention {
            attrs.insert("MessageRetentionPeriod".to_string(), "60".to_string());
        }
        if fifo {
            attrs.insert("FifoQueue".to_string(), "true".to_string());
            attrs.insert(
                "ContentBasedDeduplication".to_string(),
                c.content_dedup.to_string(),
            );
        }
        let created = h.e().create_queue(queue, &attrs, &BTreeMap::new()).unwrap();
        assert!(created);
        h
    }

    fn e(&mut self) -> &mut Engine {
        self.engine.as_mut().expect("engine open")
    }

    fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    fn expired(&self, m: &Msg, now: u64) -> bool {
        m.sent_at + self.retention_ms <= now
    }

    /// A real, acknowledged message that still exists as far as the engine may know.
    fn exists(m: &Msg) -> bool {
        !m.dropped && m.acked && !m.lost && !m.purged
    }

    fn ctx(&self) -> String {
        let tail: Vec<&String> = self.log.iter().rev().take(12).collect();
        format!(
            "now=T0+{} recent ops (newest first): {tail:?}",
            self.now() - T0
        )
    }

    fn run(&mut self, op: &Op) {
        self.log.push(format!("{op:?} @T0+{}", self.now() - T0));
        match op {
            Op::Send(specs) => self.send(specs),
            Op::Flush => {
                self.e().flush().unwrap();
                self.model_flush();
            }
            Op::Receive { max, vis_s, delete } => self.receive(*max, *vis_s, *delete),
            Op::DeleteLatest(pick) => self.delete_latest(*pick),
            Op::DeleteStale(pick) => self.delete_stale(*pick),
            Op::ChangeVis { pick, secs } => self.change_vis(*pick, *secs),
            Op::ChangeVisStale(pick) => self.change_vis_stale(*pick),
            Op::Advance(ms) => self.clock.advance_ms(*ms),
            Op::Purge => self.purge(),
            Op::Crash => self.crash(),
            Op::Compact {
                flush_first,
                steps,
                budget,
            } => {
                if *flush_first {
                    self.e().flush().unwrap();
                }
                self.compactions += 1;
                for _ in 0..*steps {
                    self.e().compact(*budget).unwrap();
                }
                // compact() flushes.
                self.model_flush();
            }
            Op::SyncIndex => self.e().sync_index().unwrap(),
            Op::Counters => self.counters(),
        }
    }

    fn model_flush(&mut self) {
        for m in self.msgs.iter_mut().filter(|m| !m.lost && !m.dropped) {
            m.acked = true;
            if m.del == Del::Pending {
                m.del = Del::Durable;
            }
        }
    }

    fn send(&mut self, specs: &[SendSpec]) {
        let now = self.now();
        let mut reqs = Vec::new();
        let mut planned = Vec::new();
        for s in specs {
            let id = self.msgs.len() + planned.len();
            let mut body = format!("{id}:").into_bytes();
            body.extend(vec![b'x'; s.pad as usize]);
            let group = self.fifo.then(|| format!("g{}", s.group));
            let dedup = if self.fifo && !self.content_dedup {
                let reuse = s.reuse_dedup.and_then(|k| {
                    let known: Vec<&String> = {
                        let mut v: Vec<&String> = self.dedup_owner.keys().collect();
                        v.sort();
                        v
                    };
                    (!known.is_empty()).then(|| known[k % known.len()].clone())
                });
                Some(reuse.unwrap_or_else(|| format!("d{id}")))
            } else {
                None
            };
            reqs.push(SendRequest {
                body: body.clone(),
                group_id: group.clone(),
                dedup_id: dedup.clone(),
                ..Default::default()
            });
            planned.push((body, group, dedup));
        }
        let q = self.queue;
        let out = self.e().send(q, &reqs).unwrap();
        assert_eq!(out.len(), planned.len());
        for (res, (body, group, dedup)) in out.into_iter().zip(planned) {
            let o = res.unwrap_or_else(|e| panic!("send failed: {e} ({})", self.ctx()));
            let id = self.msgs.len();
            let mut dropped = false;
            if let Some(d) = dedup.as_ref().filter(|_| !self.content_dedup) {
                if let Some(&owner) = self.dedup_owner.get(d) {
                    let om = &self.msgs[owner];
                    // A purge empties the deduplication window (as AWS's PurgeQueue does).
                    let expect_dup = !om.lost && !om.purged && now < om.sent_at + DEDUP_WINDOW_MS;
                    assert_eq!(
                        o.duplicate,
                        expect_dup,
                        "dedup id {d} (owner {owner} sent at T0+{}, life {}, lost {}, now life {}): {}",
                        om.sent_at - T0,
                        om.life,
                        om.lost,
                        self.life,
                        self.ctx()
                    );
                    if o.duplicate {
                        assert_eq!(o.message_id, om.message_id, "duplicate's message id");
                    }
                }
                dropped = o.duplicate;
                if !dropped {
                    self.dedup_owner.insert(d.clone(), id);
                }
            } else {
                assert!(!o.duplicate, "unique send reported as duplicate");
                if let Some(d) = &dedup {
                    self.dedup_owner.insert(d.clone(), id);
                }
            }
            assert_eq!(o.sequence_number.is_some(), self.fifo);
            self.msgs.push(Msg {
                body,
                message_id: o.message_id,
                group,
                dedup,
                sent_at: now,
                life: self.life,
                dropped,
                acked: false,
                lost: false,
                purged: false,
                del: Del::No,
                visible_at: 0,
                handle: None,
                handle_compactions: 0,
                call: 0,
            });
        }
    }

    /// Checks one delivery against the model and records it.
    fn delivered(&mut self, rm: &ReceivedMessage, vis_ms: u64) -> usize {
        let now = self.now();
        let id = parse_id(&rm.body)
            .filter(|&i| i < self.msgs.len())
            .unwrap_or_else(|| panic!("(b) delivered a message never sent: {:?}", rm.body));
        let m = &self.msgs[id];
        let ctx = || format!("message {id} {m:?}; {}", self.ctx());
        assert_eq!(rm.body, m.body, "(b) body differs: {}", ctx());
        assert!(!m.dropped, "(b) delivered a deduplicated send: {}", ctx());
        assert!(
            m.acked && !m.lost,
            "(b) delivered an unacknowledged send: {}",
            ctx()
        );
        assert!(!m.purged, "(a) delivered a purged message: {}", ctx());
        assert!(
            !matches!(m.del, Del::Pending | Del::Durable),
            "(a) delivered a deleted message: {}",
            ctx()
        );
        assert!(
            !self.expired(m, now),
            "(a) delivered an expired message: {}",
            ctx()
        );
        assert!(
            m.visible_at <= now,
            "(a) delivered while its visibility timeout runs: {}",
            ctx()
        );
        assert_eq!(rm.message_id, m.message_id, "message id: {}", ctx());
        assert_eq!(rm.sent_at_ms, m.sent_at, "sent time: {}", ctx());
        assert_eq!(rm.group_id, m.group, "group: {}", ctx());
        assert_eq!(rm.dedup_id.is_some(), self.fifo, "dedup id: {}", ctx());
        if let (false, Some(d)) = (self.content_dedup, &m.dedup) {
            assert_eq!(rm.dedup_id.as_ref(), Some(d), "dedup id: {}", ctx());
        }
        assert!(rm.receive_count >= 1);
        if self.fifo {
            self.check_group_order(id, now);
        }
        let compactions = self.compactions;
        let m = &mut self.msgs[id];
        m.call = self.calls;
        m.del = Del::No;
        m.visible_at = now + vis_ms;
        let issued = std::mem::replace(&mut m.handle_compactions, compactions);
        if let Some(old) = m.handle.replace(rm.receipt_handle) {
            self.stale.push((id, old, issued));
        }
        id
    }

    /// SQS's FIFO rule for delivering `id` now: every earlier message of its group that
    /// is still there (not deleted, not expired) was delivered earlier in this same call
    /// (an earlier one in flight from another call holds `id` back; an earlier visible
    /// one must come first), and no later message of the group came before it in this
    /// call. A later message of the group in flight does not hold `id` back (it became
    /// visible again: AWS hands it out).
    fn check_group_order(&self, id: usize, now: u64) {
        let ctx = || self.ctx();
        let m = &self.msgs[id];
        for (j, o) in self.msgs.iter().enumerate() {
            if j == id || o.group != m.group || !Self::exists(o) || self.expired(o, now) {
                continue;
            }
            let this_call = o.call == self.calls && o.del == Del::No;
            if j > id {
                assert!(
                    !this_call,
                    "(d) delivered {id} after the later {j} of its group in one receive: \
                     {o:?}; {}",
                    ctx()
                );
                continue;
            }
            assert!(
                this_call || o.del != Del::No,
                "(d) delivered {id} while earlier {j} of its group is undeleted and was not \
                 delivered first in this call: {o:?}; {}",
                ctx()
            );
        }
    }

    /// One FIFO receive's groups, as SQS serves them (one partition): each group's
    /// messages come back to back, and each group starts only when no message that was
    /// surely available at the start of the call, of a group not served yet, is older
    /// than the group's first message (the group holding the oldest available message
    /// first).
    fn check_group_runs(&self, got: &[usize], available: &[usize]) {
        let mut served: Vec<&Option<String>> = Vec::new();
        let mut last: Option<&Option<String>> = None;
        for &id in got {
            let g = &self.msgs[id].group;
            if last == Some(g) {
                continue;
            }
            assert!(
                !served.contains(&g),
                "(e) group {g:?} twice in one receive {got:?}: {}",
                self.ctx()
            );
            for &a in available {
                let ag = &self.msgs[a].group;
                assert!(
                    a > id || served.contains(&ag) || ag == g,
                    "(e) group {g:?} (from {id}) served before the older available {a} of \
                     group {ag:?}: {got:?}; {}",
                    self.ctx()
                );
            }
            served.push(g);
            last = Some(g);
        }
    }

    /// Acknowledged messages that the engine must hand out now if asked (standard), or
    /// that head a group that is surely free (FIFO).
    fn surely_available(&self) -> Vec<usize> {
        let now = self.now();
        let ok = |m: &Msg| {
            Self::exists(m) && m.del == Del::No && !self.expired(m, now) && m.visible_at <= now
        };
        if !self.fifo {
            return (0..self.msgs.len())
                .filter(|&i| ok(&self.msgs[i]))
                .collect();
        }
        // Per group: the first message that is there, unless an earlier one is in
        // flight (or its delete is in doubt after a crash).
        let mut out = Vec::new();
        for g in 0..GROUPS {
            let g = Some(format!("g{g}"));
            for (i, m) in self.msgs.iter().enumerate() {
                if m.group != g || !Self::exists(m) || self.expired(m, now) {
                    continue;
                }
                let held = m.del == Del::Maybe || (m.del == Del::No && m.visible_at > now);
                if held {
                    break;
                }
                if ok(m) {
                    out.push(i);
                    break;
                }
            }
        }
        out.sort_unstable();
        out
    }

    fn receive(&mut self, max: usize, vis_s: u32, delete: bool) {
        let available = self.surely_available();
        let q = self.queue;
        self.calls += 1;
        let got = self.e().receive(q, max, Some(vis_s)).unwrap();
        assert!(got.len() <= max);
        let mut seen = HashSet::new();
        let mut ids = Vec::new();
        for rm in &got {
            let id = self.delivered(rm, u64::from(vis_s) * 1000);
            assert!(seen.insert(id), "message {id} twice in one receive");
            ids.push(id);
        }
        if self.fifo && self.partitions == 1 {
            self.check_group_runs(&ids, &available);
        }
        if got.len() < max {
            let ids: HashSet<usize> = got.iter().filter_map(|m| parse_id(&m.body)).collect();
            let left: Vec<usize> = available.into_iter().filter(|i| !ids.contains(i)).collect();
            assert!(
                left.is_empty(),
                "(c) receive of {max} returned {} but not the available {left:?}: {}",
                got.len(),
                self.ctx()
            );
        }
        if delete {
            for rm in &got {
                let id = parse_id(&rm.body).unwrap();
                self.delete_with(id, &rm.receipt_handle);
            }
        }
    }

    /// A message with a latest handle: mostly one not deleted yet.
    fn pick_latest(&self, pick: usize) -> Option<usize> {
        let any = pick.trailing_zeros() >= 2;
        let c: Vec<usize> = (0..self.msgs.len())
            .filter(|&i| {
                let m = &self.msgs[i];
                m.handle.is_some() && (any || (m.del == Del::No && !m.purged))
            })
            .collect();
        (!c.is_empty()).then(|| c[(pick >> 2) % c.len()])
    }

    /// In flight for sure: the engine must accept its latest handle.
    fn surely_in_flight(&self, m: &Msg) -> bool {
        let now = self.now();
        m.visible_at > now && m.del == Del::No && !m.purged && !self.expired(m, now)
    }

    fn delete_latest(&mut self, pick: usize) {
        let Some(id) = self.pick_latest(pick) else {
            return;
        };
        let h = self.msgs[id].handle.unwrap();
        self.delete_with(id, &h);
    }

    /// Deletes message `id` by `h`, its latest handle.
    fn delete_with(&mut self, id: usize, h: &[u8]) {
        let q = self.queue;
        let r = self.e().delete_message(q, h);
        let now = self.now();
        let m = &self.msgs[id];
        let ctx = || format!("delete {id} {m:?}: {r:?}; {}", self.ctx());
        match &r {
            Ok(DeleteOutcome::Deleted) => {
                assert!(m.del == Del::No && !m.purged, "deleted twice: {}", ctx());
                if self.fifo {
                    assert!(
                        m.visible_at > now,
                        "FIFO deleted a visible message: {}",
                        ctx()
                    );
                }
                let m = &mut self.msgs[id];
                m.del = Del::Pending;
                m.visible_at = 0;
            }
            Ok(DeleteOutcome::Stale) | Err(EngineError::ReceiptHandleExpired) => {
                assert!(
                    !self.surely_in_flight(m),
                    "latest handle refused: {}",
                    ctx()
                );
                if r.is_err() {
                    assert!(self.fifo, "{}", ctx());
                }
            }
            Err(e) => panic!("delete failed ({e}): {}", ctx()),
        }
    }

    fn delete_stale(&mut self, pick: usize) {
        if self.stale.is_empty() {
            return;
        }
        let (id, h, _) = self.stale[pick % self.stale.len()];
        let q = self.queue;
        let r = self.e().delete_message(q, &h);
        assert!(
            matches!(r, Ok(DeleteOutcome::Stale))
                || (self.fifo && matches!(r, Err(EngineError::ReceiptHandleExpired))),
            "stale handle of {id} deleted: {r:?}; {}",
            self.ctx()
        );
    }

    fn change_vis(&mut self, pick: usize, secs: u32) {
        let Some(id) = self.pick_latest(pick) else {
            return;
        };
        let h = self.msgs[id].handle.unwrap();
        let q = self.queue;
        let r = self.e().change_visibility(q, &h, secs);
        let now = self.now();
        let m = &self.msgs[id];
        let ctx = || {
            format!(
                "change visibility of {id} {m:?} to {secs}s: {r:?}; {}",
                self.ctx()
            )
        };
        // SQS's rules: any handle of a message that still exists changes it (an expired
        // one too, unless that would put a FIFO message back in flight: expired); a handle
        // of a message that is gone is refused.
        let gone = matches!(m.del, Del::Pending | Del::Durable) || m.purged;
        let visible = m.visible_at <= now;
        match &r {
            Ok(()) => {
                assert!(!gone, "changed visibility of a deleted message: {}", ctx());
                assert!(
                    !(self.fifo && visible && secs > 0),
                    "a FIFO message visible again went back in flight: {}",
                    ctx()
                );
                let m = &mut self.msgs[id];
                if secs > 0 || !visible {
                    m.visible_at = now + u64::from(secs) * 1000;
                }
            }
            Err(EngineError::ReceiptHandleExpired) => {
                assert!(
                    self.fifo && secs > 0 && !self.surely_in_flight(m),
                    "expired: {}",
                    ctx()
                );
            }
            Err(EngineError::MessageNotAvailable) => {
                assert!(
                    gone || m.del == Del::Maybe || self.expired(m, now),
                    "handle of a message that exists refused: {}",
                    ctx()
                );
            }
            Err(e) => panic!("change visibility failed ({e}): {}", ctx()),
        }
    }

    fn change_vis_stale(&mut self, pick: usize) {
        if self.stale.is_empty() {
            return;
        }
        let (id, h, issued) = self.stale[pick % self.stale.len()];
        let q = self.queue;
        let r = self.e().change_visibility(q, &h, 0);
        let now = self.now();
        // An older handle while a newer receive holds the message applies to it.
        match r {
            Ok(()) => {
                let m = &mut self.msgs[id];
                assert!(
                    !matches!(m.del, Del::Pending | Del::Durable) && !m.purged,
                    "stale handle of deleted {id} changed visibility; {}",
                    self.ctx()
                );
                let m = &mut self.msgs[id];
                m.visible_at = m.visible_at.min(now);
            }
            Err(EngineError::MessageNotAvailable) => {
                // Gone, or copied forward by compaction since this handle was issued: a
                // copy is found only by the handle that was the latest when it was
                // copied, until it is received again (docs/sqs-compatibility.md).
                assert!(
                    !self.surely_in_flight(&self.msgs[id]) || self.compactions > issued,
                    "stale handle of in-flight {id} refused; {}",
                    self.ctx()
                );
            }
            r => panic!("stale handle of {id}: {r:?}; {}", self.ctx()),
        }
    }

    fn purge(&mut self) {
        let now = self.now();
        let q = self.queue;
        let r = self.e().purge_queue(q);
        let too_soon = self.last_purge.is_some_and(|t| now < t + PURGE_INTERVAL_MS);
        match r {
            Ok(()) => {
                assert!(!too_soon, "purge allowed within 60 s of the last");
                self.last_purge = Some(now);
                for m in &mut self.msgs {
                    m.purged = true;
                    m.visible_at = 0;
                }
            }
            Err(EngineError::PurgeQueueInProgress(_)) => {
                assert!(too_soon, "purge refused more than 60 s after the last");
            }
            Err(e) => panic!("purge failed: {e}"),
        }
    }

    fn crash(&mut self) {
        // Dropped without flushing: nothing staged reaches the log.
        drop(self.engine.take());
        self.life += 1;
        self.compactions += 1;
        self.last_purge = None;
        for (id, m) in self.msgs.iter_mut().enumerate() {
            if !m.acked {
                m.lost = true;
            }
            // Receive state survives: in flight until its deadline, its handle still the
            // latest (a process crash keeps the index pages; the journal covers the rest).
            if m.del == Del::Pending {
                m.del = Del::Maybe;
            }
            let _ = id;
        }
        let (e, _) = Engine::open(
            self.dir.path(),
            self.cfg.clone(),
            Arc::new(self.clock.clone()),
        )
        .unwrap_or_else(|e| panic!("reopen failed: {e}; {}", self.ctx()));
        self.engine = Some(e);
    }

    fn counters(&mut self) {
        let now = self.now();
        let q = self.queue;
        let c = self.e().counters(q).unwrap();
        let in_flight = |strict: bool| {
            self.msgs
                .iter()
                .filter(|m| {
                    Self::exists(m)
                        && m.del == Del::No
                        && m.visible_at > now
                        && (!strict || !self.expired(m, now))
                })
                .count() as u64
        };
        assert!(
            in_flight(true) <= c.in_flight && c.in_flight <= in_flight(false),
            "in flight: engine {} model {}..={}; {}",
            c.in_flight,
            in_flight(true),
            in_flight(false),
            self.ctx()
        );
    }

    /// (c): after every visibility timeout ran out, draining the queue returns every
    /// acknowledged, undeleted, unexpired message.
    fn drain_and_check(&mut self) {
        self.log.push("final flush + drain".into());
        self.e().flush().unwrap();
        self.model_flush();
        let now = self.now();
        let end = self
            .msgs
            .iter()
            .filter(|m| Self::exists(m) && m.del == Del::No)
            .map(|m| m.visible_at)
            .fold(now, u64::max);
        self.clock.set_ms(end);
        let expected: Vec<usize> = (0..self.msgs.len())
            .filter(|&i| {
                let m = &self.msgs[i];
                Self::exists(m) && m.del == Del::No && !self.expired(m, end)
            })
            .collect();
        let mut got = HashSet::new();
        let q = self.queue;
        for _round in 0..10_000 {
            self.calls += 1;
            let batch = self.e().receive(q, 10, Some(600)).unwrap();
            if batch.is_empty() {
                break;
            }
            for rm in &batch {
                let id = self.delivered(rm, 600_000);
                got.insert(id);
                let r = self.e().delete_message(q, &rm.receipt_handle).unwrap();
                assert_eq!(r, DeleteOutcome::Deleted, "fresh handle of {id}");
                let m = &mut self.msgs[id];
                m.del = Del::Pending;
                m.visible_at = 0;
            }
        }
        let missing: Vec<usize> = expected.into_iter().filter(|i| !got.contains(i)).collect();
        assert!(
            missing.is_empty(),
            "(c) acknowledged messages lost: {:?}; {}",
            missing
                .iter()
                .map(|&i| (i, &self.msgs[i]))
                .map(|(i, m)| format!(
                    "{i}: sent T0+{} life {} del {:?} group {:?}",
                    m.sent_at - T0,
                    m.life,
                    m.del,
                    m.group
                ))
                .collect::<Vec<_>>(),
            self.ctx()
        );
    }
}

pub fn run_case(fifo: bool, c: &Case) {
    let mut h = Harness::new(fifo, c);
    for op in &c.ops {
        h.run(op);
    }
    h.drain_and_check();
}
