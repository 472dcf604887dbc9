//! Tests of the timer wheel: unit cases and a property test against a BTreeMap model.

use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const SEC: u64 = 1000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

fn poll(w: &mut TimerWheel, now: u64, limit: usize) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let n = w.poll_expired(now, limit, &mut out);
    assert_eq!(n, out.len());
    w.assert_invariants();
    out
}

#[test]
fn insert_remove_rearm() {
    let mut w = TimerWheel::new(1_000);
    assert!(w.is_empty());
    assert_eq!(w.next_deadline(), None);
    w.insert(7, 31_000);
    w.insert(8, 2_000);
    assert_eq!(w.len(), 2);
    assert!(w.contains(7));
    assert_eq!(w.deadline(7), Some(31_000));
    assert_eq!(w.next_deadline(), Some(2_000));
    // Re-arm replaces the deadline, does not add a timer.
    w.insert(8, 40_000);
    assert_eq!(w.len(), 2);
    assert_eq!(w.deadline(8), Some(40_000));
    assert_eq!(w.next_deadline(), Some(31_000));
    w.assert_invariants();
    assert_eq!(w.remove(7), Some(31_000));
    assert_eq!(w.remove(7), None);
    assert!(!w.contains(7));
    assert_eq!(w.next_deadline(), Some(40_000));
    assert!(poll(&mut w, 39_999, usize::MAX).is_empty());
    assert_eq!(poll(&mut w, 40_000, usize::MAX), vec![(8, 40_000)]);
    assert!(w.is_empty());
    assert_eq!(w.next_deadline(), None);
}

#[test]
fn past_deadlines_fire_on_next_poll() {
    let mut w = TimerWheel::new(10_000);
    w.insert(1, 0);
    w.insert(2, 9_999);
    w.insert(3, 10_000);
    assert_eq!(w.next_deadline(), Some(0));
    w.assert_invariants();
    // Same `now` as at creation: all three are due.
    assert_eq!(
        poll(&mut w, 10_000, usize::MAX),
        vec![(1, 0), (2, 9_999), (3, 10_000)]
    );
    // Cursor moved to 20_000; a deadline between the old and new time is
    // in the past too.
    assert!(poll(&mut w, 20_000, usize::MAX).is_empty());
    w.insert(4, 15_000);
    w.insert(5, 20_001);
    assert_eq!(w.next_deadline(), Some(15_000));
    // Time going backwards is treated as the previous time.
    assert_eq!(poll(&mut w, 5, usize::MAX), vec![(4, 15_000)]);
    assert_eq!(poll(&mut w, 20_001, usize::MAX), vec![(5, 20_001)]);
}

#[test]
fn re_arm_due_timer() {
    let mut w = TimerWheel::new(0);
    w.insert(1, 5);
    w.insert(2, 5);
    // Both become due inside the wheel but only one fits.
    assert_eq!(poll(&mut w, 10, 1), vec![(1, 5)]);
    // Re-arm the waiting due timer into the future, then back to the past.
    w.insert(2, 100);
    w.assert_invariants();
    assert_eq!(w.next_deadline(), Some(100));
    assert!(poll(&mut w, 10, 10).is_empty());
    w.insert(2, 3);
    w.insert(2, 4);
    w.assert_invariants();
    assert_eq!(w.next_deadline(), Some(4));
    assert_eq!(poll(&mut w, 10, 10), vec![(2, 4)]);
    assert!(w.is_empty());
}

#[test]
fn far_deadlines_12h_and_14d() {
    let start = 1_700_000_000_000; // a realistic epoch-millis clock
    let mut w = TimerWheel::new(start);
    w.insert(1, start + 12 * HOUR);
    w.insert(2, start + 14 * DAY);
    w.insert(3, start + 15 * MIN);
    w.assert_invariants();
    assert_eq!(w.next_deadline(), Some(start + 15 * MIN));
    assert!(poll(&mut w, start + 15 * MIN - 1, usize::MAX).is_empty());
    assert_eq!(
        poll(&mut w, start + 15 * MIN, usize::MAX),
        vec![(3, start + 15 * MIN)]
    );
    assert_eq!(w.next_deadline(), Some(start + 12 * HOUR));
    // Walk up in uneven steps; nothing fires early.
    let mut t = start + 15 * MIN;
    while t + 7_777_777 < start + 12 * HOUR {
        t += 7_777_777;
        assert!(poll(&mut w, t, usize::MAX).is_empty());
        assert_eq!(w.next_deadline(), Some(start + 12 * HOUR));
    }
    assert!(poll(&mut w, start + 12 * HOUR - 1, usize::MAX).is_empty());
    assert_eq!(
        poll(&mut w, start + 12 * HOUR, usize::MAX),
        vec![(1, start + 12 * HOUR)]
    );
    assert_eq!(w.next_deadline(), Some(start + 14 * DAY));
    // One big jump well past the last deadline.
    assert_eq!(
        poll(&mut w, start + 30 * DAY, usize::MAX),
        vec![(2, start + 14 * DAY)]
    );
    assert!(w.is_empty());
}

#[test]
fn overflow_beyond_wheel_range() {
    let mut w = TimerWheel::new(5);
    let far = 3u64 << WHEEL_BITS; // ~6.5 years
    w.insert(1, u64::MAX);
    w.insert(2, far + 17);
    w.insert(3, far);
    w.insert(4, 100);
    w.assert_invariants();
    assert_eq!(w.next_deadline(), Some(100));
    assert_eq!(poll(&mut w, 1 << WHEEL_BITS, usize::MAX), vec![(4, 100)]);
    assert_eq!(w.next_deadline(), Some(far));
    assert_eq!(w.remove(3), Some(far));
    assert_eq!(w.next_deadline(), Some(far + 17));
    assert!(poll(&mut w, far + 16, usize::MAX).is_empty());
    assert_eq!(poll(&mut w, far + 17, usize::MAX), vec![(2, far + 17)]);
    assert_eq!(w.next_deadline(), Some(u64::MAX));
    assert!(poll(&mut w, u64::MAX - 1, usize::MAX).is_empty());
    assert_eq!(poll(&mut w, u64::MAX, usize::MAX), vec![(1, u64::MAX)]);
    // At the end of time everything is due at once.
    w.insert(9, u64::MAX);
    w.insert(8, 0);
    assert_eq!(
        poll(&mut w, u64::MAX, usize::MAX),
        vec![(8, 0), (9, u64::MAX)]
    );
}

#[test]
fn limit_is_respected_and_order_exact() {
    let mut w = TimerWheel::new(0);
    // 100 timers on one millisecond, 50 on another, inserted in scrambled
    // key order, plus past-due ones inserted between polls.
    for i in 0..100u64 {
        w.insert((i * 37) % 100, 1_000);
    }
    for i in 0..50u64 {
        w.insert(1_000 + (i * 13) % 50, 999);
    }
    assert_eq!(poll(&mut w, 2_000, 0), vec![]);
    let first = poll(&mut w, 2_000, 30);
    let want: Vec<_> = (1_000..1_030).map(|k| (k, 999)).collect();
    assert_eq!(first, want);
    // A late insert of an already-past deadline jumps the queue.
    w.insert(5_000, 1_500);
    w.insert(5_001, 1);
    let second = poll(&mut w, 2_000, 25);
    let mut want = vec![(5_001, 1)];
    want.extend((1_030..1_050).map(|k| (k, 999)));
    want.extend((0..4).map(|k| (k, 1_000)));
    assert_eq!(second, want);
    let rest = poll(&mut w, 2_000, usize::MAX);
    let mut want: Vec<_> = (4..100).map(|k| (k, 1_000)).collect();
    want.push((5_000, 1_500));
    assert_eq!(rest, want);
    assert!(w.is_empty());
}

#[test]
fn next_deadline_exact_across_levels() {
    let mut w = TimerWheel::new(123_456);
    // One timer per level, plus several sharing a high-level slot.
    let ds = [
        123_460,
        123_456 + 70,
        123_456 + 5_000,
        123_456 + 300_000,
        123_456 + 20_000_000,
        123_456 + 1_000_000_000,
        123_456 + 60_000_000_000,
        123_456 + 200_000_000_000,
    ];
    for (k, &d) in ds.iter().enumerate() {
        w.insert(k as u64, d);
        w.insert(100 + k as u64, d + 1);
    }
    w.assert_invariants();
    for (k, &d) in ds.iter().enumerate() {
        assert_eq!(w.next_deadline(), Some(d));
        // Removing the minimum of a slot makes its cached minimum inexact.
        assert_eq!(w.remove(k as u64), Some(d));
        w.assert_invariants();
        assert_eq!(w.next_deadline(), Some(d + 1));
        assert_eq!(w.remove(100 + k as u64), Some(d + 1));
    }
    assert_eq!(w.next_deadline(), None);
    // Same, but consuming through polls so slots cascade.
    for (k, &d) in ds.iter().enumerate() {
        w.insert(k as u64, d);
        w.insert(100 + k as u64, d + 1);
    }
    for (k, &d) in ds.iter().enumerate() {
        assert_eq!(w.next_deadline(), Some(d));
        assert_eq!(poll(&mut w, d, usize::MAX), vec![(k as u64, d)]);
        assert_eq!(w.next_deadline(), Some(d + 1));
        assert_eq!(poll(&mut w, d + 1, 1), vec![(100 + k as u64, d + 1)]);
    }
}

#[test]
fn memory_shrinks_after_burst() {
    let mut w = TimerWheel::new(0);
    for k in 0..100_000u64 {
        w.insert(k, 10 * SEC + k % 5_000);
    }
    assert!(w.slab.len() >= 100_000);
    for k in 0..99_000u64 {
        w.remove(k);
    }
    w.assert_invariants();
    assert!(w.slab.capacity() < 5_000, "slab kept {}", w.slab.capacity());
    let out = poll(&mut w, 20 * SEC, usize::MAX);
    assert_eq!(out.len(), 1_000);
    assert!(out.windows(2).all(|p| (p[0].1, p[0].0) < (p[1].1, p[1].0)));
    // Drain a due burst through small polls: the heap shrinks too.
    for k in 0..50_000u64 {
        w.insert(k, 1);
    }
    while !poll(&mut w, 20 * SEC, 997).is_empty() {}
    assert!(w.is_empty());
    assert!(w.slab.capacity() < SHRINK_MIN * 4);
    assert!(w.due.capacity() < SHRINK_MIN * 4);
    assert!(w.index.capacity() < SHRINK_MIN * 4);
    w.insert(1, 5);
    w.clear();
    assert!(w.is_empty());
    assert_eq!(w.next_deadline(), None);
    assert!(poll(&mut w, 30 * SEC, usize::MAX).is_empty());
}

// ----- model-based property test -----

#[derive(Clone, Debug)]
enum When {
    /// `now - x` (saturating): already due.
    Past(u64),
    /// `now + x` (saturating).
    Future(u64),
    Absolute(u64),
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u64, When),
    Remove(u64),
    Advance(u64),
    Poll {
        limit: usize,
        back: u64,
    },
    /// Insert `count` keys from 10_000 on, deadlines spread over `spread` ms.
    Burst {
        count: u64,
        spread: u64,
    },
    /// Remove all keys in `10_000..10_000 + count`.
    RemoveBurst(u64),
    Clear,
}

fn small_duration() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 0..5u64,
        6 => 0..200u64,
        4 => 0..70_000u64,
        2 => 0..4_000_000u64,
        1 => 0..50 * HOUR,
    ]
}

fn when() -> impl Strategy<Value = When> {
    prop_oneof![
        2 => (0..2_000u64).prop_map(When::Past),
        6 => small_duration().prop_map(When::Future),
        1 => prop_oneof![Just(12 * HOUR), Just(15 * MIN), Just(14 * DAY)]
            .prop_map(When::Future),
        1 => (0..(1u64 << 40)).prop_map(When::Future),
        1 => prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()].prop_map(When::Absolute),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..48u64, when()).prop_map(|(k, w)| Op::Insert(k, w)),
        4 => (0..48u64).prop_map(Op::Remove),
        6 => small_duration().prop_map(Op::Advance),
        6 => (
            prop_oneof![3 => 0..6usize, 1 => Just(usize::MAX)],
            prop_oneof![5 => Just(0u64), 1 => 0..1_000u64]
        )
            .prop_map(|(limit, back)| Op::Poll { limit, back }),
        1 => (0..2_500u64, prop_oneof![Just(1u64), 1..100_000u64])
            .prop_map(|(count, spread)| Op::Burst { count, spread }),
        1 => (0..2_500u64).prop_map(Op::RemoveBurst),
        1 => Just(Op::Clear),
    ]
}

#[derive(Default)]
struct Model {
    now: u64,
    by_key: BTreeMap<u64, u64>,
    order: BTreeSet<(u64, u64)>, // (deadline, key)
}

impl Model {
    fn insert(&mut self, key: u64, deadline: u64) {
        self.remove(key);
        self.by_key.insert(key, deadline);
        self.order.insert((deadline, key));
    }
    fn remove(&mut self, key: u64) -> Option<u64> {
        let d = self.by_key.remove(&key)?;
        self.order.remove(&(d, key));
        Some(d)
    }
    fn poll(&mut self, now: u64, limit: usize) -> Vec<(u64, u64)> {
        self.now = self.now.max(now);
        let due: Vec<(u64, u64)> = self
            .order
            .iter()
            .take_while(|&&(d, _)| d <= self.now)
            .take(limit)
            .copied()
            .collect();
        for &(d, k) in &due {
            self.order.remove(&(d, k));
            self.by_key.remove(&k);
        }
        due.into_iter().map(|(d, k)| (k, d)).collect()
    }
}

fn run_ops(start: u64, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut w = TimerWheel::new(start);
    let mut m = Model {
        now: start,
        ..Model::default()
    };
    // The time the caller believes it is; polls may pass smaller values.
    let mut clock = start;
    for op in ops {
        match op {
            Op::Insert(k, when) => {
                let d = match when {
                    When::Past(x) => m.now.saturating_sub(x),
                    When::Future(x) => clock.saturating_add(x),
                    When::Absolute(x) => x,
                };
                w.insert(k, d);
                m.insert(k, d);
            }
            Op::Remove(k) => prop_assert_eq!(w.remove(k), m.remove(k)),
            Op::Advance(dt) => clock = clock.saturating_add(dt),
            Op::Poll { limit, back } => {
                let at = clock.saturating_sub(back);
                let mut out = vec![(u64::MAX, u64::MAX)];
                let n = w.poll_expired(at, limit, &mut out);
                prop_assert_eq!(out[0], (u64::MAX, u64::MAX), "must append");
                prop_assert_eq!(n, out.len() - 1);
                prop_assert_eq!(&out[1..], &m.poll(at, limit)[..]);
            }
            Op::Burst { count, spread } => {
                for i in 0..count {
                    let d = clock.saturating_add((i * 7_919) % spread);
                    w.insert(10_000 + i, d);
                    m.insert(10_000 + i, d);
                }
            }
            Op::RemoveBurst(count) => {
                for i in 0..count {
                    prop_assert_eq!(w.remove(10_000 + i), m.remove(10_000 + i));
                }
            }
            Op::Clear => {
                w.clear();
                m.by_key.clear();
                m.order.clear();
            }
        }
        w.assert_invariants();
        prop_assert_eq!(w.len(), m.by_key.len());
        prop_assert_eq!(w.is_empty(), m.by_key.is_empty());
        prop_assert_eq!(w.next_deadline(), m.order.first().map(|&(d, _)| d));
        for k in 0..48u64 {
            prop_assert_eq!(w.deadline(k), m.by_key.get(&k).copied());
            prop_assert_eq!(w.contains(k), m.by_key.contains_key(&k));
        }
    }
    // Drain: everything comes out, in order, at the end of time.
    let mut out = Vec::new();
    w.poll_expired(u64::MAX, usize::MAX, &mut out);
    prop_assert_eq!(out, m.poll(u64::MAX, usize::MAX));
    prop_assert!(w.is_empty());
    w.assert_invariants();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn matches_btreemap_model(
        start in prop_oneof![Just(0u64), 0..1_000_000u64, Just(1_700_000_000_000u64),
                             Just((1u64 << WHEEL_BITS) - 10)],
        ops in prop::collection::vec(op(), 1..250),
    ) {
        run_ops(start, ops)?;
    }
}
