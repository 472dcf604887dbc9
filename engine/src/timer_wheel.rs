//! Deadline store for one queue partition: a hierarchical timing wheel.
//!
//! This module owns the deadlines of in-flight messages (visibility timeouts,
//! up to 12 h) and delayed messages (delays, up to 15 min) of a single
//! partition, keyed by message sequence number (`u64`). It promises:
//!
//! * **Determinism.** Time is a `u64` count of milliseconds passed in by the
//!   caller. Nothing here reads a clock, spawns a thread or allocates
//!   randomness, so the same calls always give the same results.
//! * **O(1) insert, re-arm and cancel** (amortised; see "Memory" below), and
//!   memory proportional to the number of live timers, not to the length of
//!   the time horizon.
//! * **Exact answers.** [`TimerWheel::next_deadline`] is the exact earliest
//!   deadline, and [`TimerWheel::poll_expired`] hands out due timers in exact
//!   `(deadline, key)` order, at most `limit` per call; what does not fit stays
//!   for the next call. A deadline already in the past when inserted fires on
//!   the next poll. A `now_ms` smaller than one seen before is treated as the
//!   previous value: time never goes backwards.
//!
//! # Design
//!
//! Like the Linux kernel and tokio timers: [`LEVELS`] levels of [`SLOTS`]
//! slots, 1 ms resolution. A slot of level `l` spans `64^l` ms, so the wheel
//! covers `64^6` ms (about 795 days); deadlines further out than that wait in
//! a single overflow list. Timers live in a slab (`Vec` plus free list) and are
//! linked into their slot as intrusive doubly-linked lists by `u32` index; a
//! `HashMap<u64, u32>` from key to slab index makes cancel O(1). Keys are sequence
//! numbers the engine assigns (never chosen by a client), so the map hashes them with one
//! multiply ([`crate::hash`]) instead of SipHash, which was ~2 % of a shard's time.
//!
//! Placement is relative to the wheel cursor `elapsed` (the classic XOR rule):
//! a timer with deadline `d > elapsed` sits on the level of the highest 6-bit
//! digit in which `d` and `elapsed` differ, in the slot named by `d`'s digit
//! there. Consequences (the invariants everything else relies on):
//!
//! * every timer on level `l` is earlier than every timer on level `l + 1`;
//! * within a level, a slot's digit is strictly greater than `elapsed`'s
//!   digit, so the lowest set bit of the level's occupancy bitmap is the
//!   earliest slot: no wrap-around to reason about;
//! * all timers of one level-0 slot have the same deadline;
//! * moving `elapsed` forward to any time before the start of the earliest
//!   occupied slot keeps every timer correctly placed, so only occupied slots
//!   ever cost work ("cascading" re-places a slot's timers one level down when
//!   the cursor reaches the slot's start; each timer cascades at most
//!   `LEVELS` times).
//!
//! Timers whose deadline is `<= elapsed` are *due*: they leave the wheel and
//! wait in a binary heap ordered by `(deadline, key)`, from which
//! `poll_expired` hands them out. Every due timer is earlier than every timer
//! still in the wheel, so the heap top is always the global minimum. The wheel
//! is only advanced (one slot at a time) while the heap is empty, which keeps
//! the work of a call proportional to `limit` plus the size of the one slot
//! that was opened. Cancelling a due timer leaves a stale heap element behind
//! (recognised by a per-push stamp); stale elements are dropped lazily and the
//! heap is compacted when more than half of it is stale.
//!
//! `next_deadline` takes `&self` and must be exact. Each slot keeps the
//! minimum deadline of its timers and how many share it; inserting keeps it
//! exact, cancelling the last timer at the minimum marks it inexact (it is
//! then only a lower bound) and the next `next_deadline` scans that one slot. `poll_expired` re-computes the minimum
//! of the earliest slot so that the common path stays O(1).
//!
//! # Memory
//!
//! Live timers cost one slab entry (40 bytes), one hash-map entry and, while
//! due, one heap element. The slab never holds more than
//! `max(4 * len, SHRINK_MIN)` entries for long: when the live count drops
//! below a quarter of the slab (and the slab has at least [`SHRINK_MIN`]
//! entries) everything is re-packed into fresh, right-sized allocations. That
//! re-pack is O(len) but happens at most once per `3 * len` removals, so it is
//! O(1) amortised. Fixed per-wheel overhead is about 5 KiB of slot tables.
//! At most `u32::MAX - 1` timers can be live at once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::hash::SeqMap;

/// Bits of the deadline consumed by one level.
const SLOT_BITS: u32 = 6;
/// Slots per level; one `u64` occupancy bitmap per level.
pub const SLOTS: usize = 1 << SLOT_BITS;
/// Levels of the wheel; `64^6` ms is about 795 days.
pub const LEVELS: usize = 6;
/// Bits of time covered by the whole wheel (36).
const WHEEL_BITS: u32 = SLOT_BITS * LEVELS as u32;
/// Index of the overflow list, after the `LEVELS * SLOTS` slot lists.
const OVERFLOW: usize = LEVELS * SLOTS;
/// Number of intrusive lists: every slot plus the overflow list.
const LISTS: usize = OVERFLOW + 1;
/// "No entry" in intrusive links and list heads.
const NIL: u32 = u32::MAX;
/// Slabs smaller than this are never re-packed (not worth the copy).
pub const SHRINK_MIN: usize = 1024;
/// The due heap is compacted only when it has at least this many stale elements.
const STALE_MIN: usize = 64;

/// Where a slab entry currently is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loc {
    /// On the free list (or momentarily detached while being moved).
    Free,
    /// Linked into list `id` (a slot, or `OVERFLOW`).
    List(u16),
    /// In the due heap; only the heap element carrying this stamp is valid.
    Due(u64),
}

#[derive(Clone, Debug)]
struct Entry {
    key: u64,
    deadline: u64,
    prev: u32,
    /// Next in the list, or next free entry while `loc == Free`.
    next: u32,
    loc: Loc,
}

/// Element of the due heap. Field order gives the `(deadline, key)` order;
/// `stamp` and `idx` only break ties between a live element and stale ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct DueRef {
    deadline: u64,
    key: u64,
    stamp: u64,
    idx: u32,
}

/// Hierarchical timing wheel of `u64` keys with millisecond deadlines.
/// See the module documentation for guarantees and invariants.
#[derive(Debug)]
pub struct TimerWheel {
    slab: Vec<Entry>,
    /// Head of the free list threaded through `Entry::next`.
    free_head: u32,
    index: SeqMap<u32>,
    /// Head entry of each list; `NIL` when empty.
    heads: Box<[u32]>,
    /// Per list: a lower bound of its deadlines, equal to the minimum when
    /// `min_exact`; `u64::MAX` when the list is empty.
    list_min: Box<[u64]>,
    min_exact: Box<[bool]>,
    /// Per list, while `min_exact`: how many of its timers have the minimum deadline,
    /// so cancelling one of several keeps the minimum exact (no rescan per cancel).
    min_count: Box<[u32]>,
    /// Bit `s` of `occupied[l]` is set iff slot `s` of level `l` is non-empty.
    occupied: [u64; LEVELS],
    /// Due timers (deadline `<= elapsed`), min-first; may hold stale elements.
    due: BinaryHeap<Reverse<DueRef>>,
    /// Number of stale elements in `due`. Invariant: the top is never stale.
    due_stale: usize,
    next_stamp: u64,
    /// Wheel cursor: every timer in the wheel has a deadline `> elapsed`,
    /// every timer in `due` one `<= elapsed`. `elapsed <= now`.
    elapsed: u64,
    /// Latest time seen (`new` or `poll_expired`).
    now: u64,
}

/// Level for `deadline` relative to cursor `elapsed` (may be `>= LEVELS`).
fn level_for(elapsed: u64, deadline: u64) -> usize {
    debug_assert!(deadline > elapsed);
    let top_bit = (elapsed ^ deadline).ilog2();
    (top_bit / SLOT_BITS) as usize
}

/// Digit of `t` on `level`.
fn digit(t: u64, level: usize) -> usize {
    ((t >> (SLOT_BITS * level as u32)) as usize) & (SLOTS - 1)
}

/// First millisecond covered by slot `slot` of `level` given cursor `elapsed`.
fn slot_start(elapsed: u64, level: usize, slot: usize) -> u64 {
    let span_bits = SLOT_BITS * (level as u32 + 1);
    let high = elapsed & !((1u64 << span_bits) - 1);
    high | ((slot as u64) << (SLOT_BITS * level as u32))
}

impl TimerWheel {
    /// An empty wheel whose clock starts at `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        TimerWheel {
            slab: Vec::new(),
            free_head: NIL,
            index: SeqMap::default(),
            heads: vec![NIL; LISTS].into_boxed_slice(),
            list_min: vec![u64::MAX; LISTS].into_boxed_slice(),
            min_exact: vec![true; LISTS].into_boxed_slice(),
            min_count: vec![0; LISTS].into_boxed_slice(),
            occupied: [0; LEVELS],
            due: BinaryHeap::new(),
            due_stale: 0,
            next_stamp: 0,
            elapsed: now_ms,
            now: now_ms,
        }
    }

    /// Insert or re-arm: if `key` already has a timer, its deadline is replaced.
    pub fn insert(&mut self, key: u64, deadline_ms: u64) {
        let idx = match self.index.get(&key) {
            Some(&idx) => {
                self.detach(idx);
                self.slab[idx as usize].deadline = deadline_ms;
                idx
            }
            None => {
                let idx = self.alloc(key, deadline_ms);
                self.index.insert(key, idx);
                idx
            }
        };
        self.place(idx);
        // A re-armed due timer left a stale element that may be the top.
        self.clean_due_top();
    }

    /// Cancel; returns the deadline it had.
    pub fn remove(&mut self, key: u64) -> Option<u64> {
        let idx = self.index.remove(&key)?;
        let deadline = self.slab[idx as usize].deadline;
        self.detach(idx);
        self.release(idx);
        self.clean_due_top();
        self.maybe_shrink();
        Some(deadline)
    }

    /// The deadline of `key`'s timer, if it has one.
    #[cfg(test)]
    pub fn deadline(&self, key: u64) -> Option<u64> {
        self.index
            .get(&key)
            .map(|&idx| self.slab[idx as usize].deadline)
    }

    /// Whether `key` has a timer.
    #[cfg(test)]
    pub fn contains(&self, key: u64) -> bool {
        self.index.contains_key(&key)
    }

    /// Number of timers, due ones not yet polled included.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are no timers.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Earliest deadline among all timers (exact), or None.
    ///
    /// O(1) unless the earliest slot's minimum was cancelled since the last
    /// `poll_expired`, in which case that one slot is scanned.
    pub fn next_deadline(&self) -> Option<u64> {
        // Due timers precede everything in the wheel; the top is never stale.
        if let Some(Reverse(top)) = self.due.peek() {
            return Some(top.deadline);
        }
        if let Some((level, slot, start)) = self.earliest_slot() {
            if level == 0 {
                // A level-0 slot holds exactly one deadline: its start.
                return Some(start);
            }
            return Some(self.exact_min(level * SLOTS + slot));
        }
        if self.heads[OVERFLOW] != NIL {
            return Some(self.exact_min(OVERFLOW));
        }
        None
    }

    /// Advance time to `now_ms` and append to `out` up to `limit` timers whose
    /// deadline <= now_ms, removing them, ordered by (deadline, key). Returns
    /// how many were appended. If more than `limit` are due, the rest stay and
    /// are returned by the next call. Deadlines already in the past at insert
    /// fire on the next poll. A `now_ms` smaller than before is treated as the
    /// previous value.
    ///
    /// Work per call is O(appended * log n) plus the size of the slots opened
    /// to find them (each timer is moved between levels at most `LEVELS` times
    /// in its life), plus an occasional amortised re-pack.
    pub fn poll_expired(&mut self, now_ms: u64, limit: usize, out: &mut Vec<(u64, u64)>) -> usize {
        let now = now_ms.max(self.now);
        self.now = now;
        let mut appended = 0;
        while appended < limit {
            if let Some(Reverse(top)) = self.due.pop() {
                debug_assert!(self.is_live_due(&top), "due heap top must be live");
                debug_assert!(top.deadline <= self.elapsed && self.elapsed <= now);
                let removed = self.index.remove(&top.key);
                debug_assert_eq!(removed, Some(top.idx));
                // Popped, so not stale: detach by hand rather than `detach`.
                self.slab[top.idx as usize].loc = Loc::Free;
                self.release(top.idx);
                out.push((top.key, top.deadline));
                appended += 1;
                self.clean_due_top();
            } else if !self.advance_one(now) {
                break;
            }
        }
        // Move the cursor up to `now` when no occupied slot starts at or
        // before `now` (otherwise `limit` stopped us and the slots must be
        // opened in order by a later call). Keeping `elapsed` close to `now`
        // lets later inserts at `<= now` go straight to the due heap.
        let idle = match self.next_event() {
            Some(t) => t > now,
            None => true,
        };
        if idle {
            debug_assert!(self.elapsed <= now);
            self.elapsed = now;
        }
        // Make the next `next_deadline` O(1).
        if self.due.is_empty() {
            if let Some((level, slot, _)) = self.earliest_slot() {
                self.refresh_min(level * SLOTS + slot);
            }
        }
        self.maybe_shrink();
        appended
    }

    /// Cancel every timer and release the memory they used. The clock stays.
    pub fn clear(&mut self) {
        let now = self.now;
        *self = TimerWheel::new(now);
    }

    // ----- slab -----

    fn alloc(&mut self, key: u64, deadline: u64) -> u32 {
        let entry = Entry {
            key,
            deadline,
            prev: NIL,
            next: NIL,
            loc: Loc::Free,
        };
        if self.free_head == NIL {
            assert!(
                self.slab.len() < NIL as usize,
                "TimerWheel: too many timers"
            );
            self.slab.push(entry);
            (self.slab.len() - 1) as u32
        } else {
            let idx = self.free_head;
            let slot = &mut self.slab[idx as usize];
            debug_assert_eq!(slot.loc, Loc::Free);
            self.free_head = slot.next;
            *slot = entry;
            idx
        }
    }

    /// Put a detached entry on the free list.
    fn release(&mut self, idx: u32) {
        let e = &mut self.slab[idx as usize];
        debug_assert_eq!(e.loc, Loc::Free, "release of an attached entry");
        e.prev = NIL;
        e.next = self.free_head;
        self.free_head = idx;
    }

    // ----- placement -----

    /// Put a detached entry where its deadline says: the due heap, a slot, or
    /// the overflow list.
    fn place(&mut self, idx: u32) {
        let (key, deadline) = {
            let e = &self.slab[idx as usize];
            debug_assert_eq!(e.loc, Loc::Free, "place of an attached entry");
            (e.key, e.deadline)
        };
        if deadline <= self.elapsed {
            let stamp = self.next_stamp;
            self.next_stamp += 1;
            let e = &mut self.slab[idx as usize];
            e.loc = Loc::Due(stamp);
            e.prev = NIL;
            e.next = NIL;
            self.due.push(Reverse(DueRef {
                deadline,
                key,
                stamp,
                idx,
            }));
            return;
        }
        let level = level_for(self.elapsed, deadline);
        let id = if level >= LEVELS {
            OVERFLOW
        } else {
            level * SLOTS + digit(deadline, level)
        };
        self.link(id, idx);
    }

    /// Push `idx` at the head of list `id`, keeping occupancy and the list
    /// minimum up to date (min with a new element keeps an exact min exact and
    /// a lower bound a lower bound).
    fn link(&mut self, id: usize, idx: u32) {
        let head = self.heads[id];
        if head != NIL {
            self.slab[head as usize].prev = idx;
        }
        let e = &mut self.slab[idx as usize];
        e.prev = NIL;
        e.next = head;
        e.loc = Loc::List(id as u16);
        let deadline = e.deadline;
        self.heads[id] = idx;
        if id < OVERFLOW {
            self.occupied[id / SLOTS] |= 1u64 << (id % SLOTS);
        }
        if deadline < self.list_min[id] {
            // Below a lower bound of all the others: the exact minimum, held once.
            self.list_min[id] = deadline;
            self.min_exact[id] = true;
            self.min_count[id] = 1;
        } else if deadline == self.list_min[id] && self.min_exact[id] {
            self.min_count[id] += 1;
        }
    }

    /// Take `idx` out of wherever it is and mark it `Free` (detached). A due
    /// entry leaves a stale heap element; callers run `clean_due_top` after.
    fn detach(&mut self, idx: u32) {
        let (loc, prev, next, deadline) = {
            let e = &self.slab[idx as usize];
            (e.loc, e.prev, e.next, e.deadline)
        };
        match loc {
            Loc::Free => unreachable!("detach of a free entry"),
            Loc::Due(_) => self.due_stale += 1,
            Loc::List(id) => {
                let id = id as usize;
                if prev == NIL {
                    debug_assert_eq!(self.heads[id], idx);
                    self.heads[id] = next;
                } else {
                    self.slab[prev as usize].next = next;
                }
                if next != NIL {
                    self.slab[next as usize].prev = prev;
                }
                if self.heads[id] == NIL {
                    self.clear_list_meta(id);
                } else if deadline == self.list_min[id] && self.min_exact[id] {
                    // The last timer at the minimum: it is now only a lower bound.
                    // (Level-0 slots hold a single deadline: their count is the
                    // list length, so this happens only when the list empties.)
                    self.min_count[id] -= 1;
                    if self.min_count[id] == 0 {
                        self.min_exact[id] = false;
                    }
                }
            }
        }
        let e = &mut self.slab[idx as usize];
        e.loc = Loc::Free;
        e.prev = NIL;
        e.next = NIL;
    }

    fn clear_list_meta(&mut self, id: usize) {
        debug_assert_eq!(self.heads[id], NIL);
        if id < OVERFLOW {
            self.occupied[id / SLOTS] &= !(1u64 << (id % SLOTS));
        }
        self.list_min[id] = u64::MAX;
        self.min_exact[id] = true;
        self.min_count[id] = 0;
    }

    fn is_live_due(&self, r: &DueRef) -> bool {
        self.slab
            .get(r.idx as usize)
            .is_some_and(|e| e.loc == Loc::Due(r.stamp))
    }

    /// Restore "the heap top is live", and compact the heap if mostly stale.
    fn clean_due_top(&mut self) {
        while let Some(Reverse(top)) = self.due.peek() {
            if self.is_live_due(top) {
                break;
            }
            self.due.pop();
            self.due_stale -= 1;
        }
        if self.due_stale >= STALE_MIN && self.due_stale > self.due.len() / 2 {
            let slab = &self.slab;
            self.due
                .retain(|Reverse(r)| slab[r.idx as usize].loc == Loc::Due(r.stamp));
            self.due_stale = 0;
        }
    }

    // ----- time -----

    /// The earliest occupied slot as `(level, slot, start)`.
    fn earliest_slot(&self) -> Option<(usize, usize, u64)> {
        for (level, &bits) in self.occupied.iter().enumerate() {
            if bits != 0 {
                let slot = bits.trailing_zeros() as usize;
                debug_assert!(slot > digit(self.elapsed, level));
                return Some((level, slot, slot_start(self.elapsed, level, slot)));
            }
        }
        None
    }

    /// The next time at which the cursor has work to do, ignoring due timers:
    /// the start of the earliest slot, else the start of the wheel-sized block
    /// holding the earliest overflow timer.
    fn next_event(&mut self) -> Option<u64> {
        if let Some((_, _, start)) = self.earliest_slot() {
            return Some(start);
        }
        if self.heads[OVERFLOW] != NIL {
            self.refresh_min(OVERFLOW);
            return Some(self.list_min[OVERFLOW] & !((1u64 << WHEEL_BITS) - 1));
        }
        None
    }

    /// With the due heap empty, open the next slot (or the overflow list) if
    /// it starts at or before `now`: move the cursor to its start and re-place
    /// its timers, which go to lower levels or become due. Returns whether
    /// anything was opened.
    fn advance_one(&mut self, now: u64) -> bool {
        debug_assert!(self.due.is_empty());
        let (id, start) = match self.earliest_slot() {
            Some((level, slot, start)) => (level * SLOTS + slot, start),
            None if self.heads[OVERFLOW] != NIL => {
                let start = self.next_event().expect("overflow is non-empty");
                (OVERFLOW, start)
            }
            None => return false,
        };
        if start > now {
            return false;
        }
        // Every other timer is in a later slot (or later block), so moving
        // the cursor here keeps all of them correctly placed.
        debug_assert!(start > self.elapsed);
        self.elapsed = start;
        let mut cur = self.heads[id];
        self.heads[id] = NIL;
        self.clear_list_meta(id);
        while cur != NIL {
            let next = self.slab[cur as usize].next;
            self.slab[cur as usize].loc = Loc::Free;
            // Lands strictly below this level, in the heap, or (overflow only)
            // back in the overflow list, which was emptied above.
            self.place(cur);
            cur = next;
        }
        true
    }

    // ----- list minima -----

    /// The minimum deadline of list `id` and how many timers have it.
    fn scan_min(&self, id: usize) -> (u64, u32) {
        let (mut min, mut count) = (u64::MAX, 0);
        let mut cur = self.heads[id];
        while cur != NIL {
            let e = &self.slab[cur as usize];
            if e.deadline < min {
                (min, count) = (e.deadline, 1);
            } else if e.deadline == min {
                count += 1;
            }
            cur = e.next;
        }
        (min, count)
    }

    fn exact_min(&self, id: usize) -> u64 {
        if self.min_exact[id] {
            self.list_min[id]
        } else {
            self.scan_min(id).0
        }
    }

    fn refresh_min(&mut self, id: usize) {
        if !self.min_exact[id] {
            (self.list_min[id], self.min_count[id]) = self.scan_min(id);
            self.min_exact[id] = true;
        }
    }

    // ----- memory -----

    /// Re-pack into right-sized allocations once the slab is mostly free.
    fn maybe_shrink(&mut self) {
        if self.slab.len() >= SHRINK_MIN && self.index.len() < self.slab.len() / 4 {
            self.repack();
        }
    }

    /// Rebuild slab, index and due heap holding only live timers. Each timer
    /// goes back into the same list, so occupancy and list minima still hold.
    fn repack(&mut self) {
        let live = self.index.len();
        let old = std::mem::replace(&mut self.slab, Vec::with_capacity(live));
        self.index =
            SeqMap::with_capacity_and_hasher(live, std::hash::BuildHasherDefault::default());
        self.due = BinaryHeap::new();
        self.due_stale = 0;
        self.free_head = NIL;
        self.heads.fill(NIL);
        // Relinking below recomputes every list's minimum and its count exactly.
        self.list_min.fill(u64::MAX);
        self.min_exact.fill(true);
        self.min_count.fill(0);
        for e in old {
            let loc = e.loc;
            if loc == Loc::Free {
                continue;
            }
            let idx = self.slab.len() as u32;
            self.index.insert(e.key, idx);
            self.slab.push(Entry {
                loc: Loc::Free,
                ..e
            });
            match loc {
                Loc::List(id) => self.link(id as usize, idx),
                Loc::Due(_) => self.place(idx),
                Loc::Free => unreachable!(),
            }
        }
        debug_assert_eq!(self.slab.len(), live);
    }

    /// Full O(n) consistency check, for tests.
    #[cfg(test)]
    fn assert_invariants(&self) {
        assert!(self.elapsed <= self.now);
        let mut seen = 0usize;
        for id in 0..LISTS {
            let mut cur = self.heads[id];
            let mut prev = NIL;
            let mut min = u64::MAX;
            while cur != NIL {
                let e = &self.slab[cur as usize];
                assert_eq!(e.loc, Loc::List(id as u16));
                assert_eq!(e.prev, prev);
                assert!(e.deadline > self.elapsed);
                let level = level_for(self.elapsed, e.deadline);
                let want = if level >= LEVELS {
                    OVERFLOW
                } else {
                    level * SLOTS + digit(e.deadline, level)
                };
                assert_eq!(want, id, "misplaced deadline {}", e.deadline);
                assert_eq!(self.index.get(&e.key), Some(&cur));
                min = min.min(e.deadline);
                seen += 1;
                prev = cur;
                cur = e.next;
            }
            assert!(self.list_min[id] <= min);
            if self.min_exact[id] {
                assert_eq!(self.list_min[id], min);
                assert_eq!((min, self.min_count[id]), self.scan_min(id));
            }
            if id < OVERFLOW {
                let bit = (self.occupied[id / SLOTS] >> (id % SLOTS)) & 1 == 1;
                assert_eq!(bit, self.heads[id] != NIL);
            }
        }
        let mut live_due = 0usize;
        for Reverse(r) in &self.due {
            if self.is_live_due(r) {
                live_due += 1;
                let e = &self.slab[r.idx as usize];
                assert_eq!((e.key, e.deadline), (r.key, r.deadline));
                assert!(r.deadline <= self.elapsed);
                assert_eq!(self.index.get(&r.key), Some(&r.idx));
            }
        }
        assert_eq!(self.due.len() - live_due, self.due_stale);
        if let Some(Reverse(top)) = self.due.peek() {
            assert!(self.is_live_due(top));
        }
        assert_eq!(seen + live_due, self.index.len());
        let mut free = 0usize;
        let mut cur = self.free_head;
        while cur != NIL {
            assert_eq!(self.slab[cur as usize].loc, Loc::Free);
            free += 1;
            cur = self.slab[cur as usize].next;
        }
        assert_eq!(free + self.index.len(), self.slab.len());
        assert!(self.slab.len() < SHRINK_MIN || self.index.len() >= self.slab.len() / 4);
    }
}

#[cfg(test)]
mod tests;
