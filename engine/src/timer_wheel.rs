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
//! multiply ([`SeqHasher`]) instead of SipHash, which was ~2 % of a shard's time.
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
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes a `u64` key with one multiply by an odd constant (Fibonacci hashing) and folds
/// the product's high half (which mixes all of the key) into its low half (hashbrown's
/// bucket index), so strided keys spread too. Only for keys the engine
/// assigns itself: it has no resistance to chosen collisions.
#[derive(Default, Clone, Copy)]
pub struct SeqHasher(u64);

impl Hasher for SeqHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Not used by u64 keys; correct (if slow) for anything else.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        // Fold the high half into the low: hashbrown picks the bucket from the low bits,
        // and those of a product depend only on the key's low bits, so keys with a
        // stride of 2^k would otherwise share 1/2^k of the buckets.
        self.0 ^ (self.0 >> 32)
    }
}

/// A `HashMap` keyed by engine-assigned sequence numbers.
pub type SeqMap<V> = HashMap<u64, V, BuildHasherDefault<SeqHasher>>;

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
    let top_bit = 63 - (elapsed ^ deadline).leading_zeros();
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
    pub fn deadline(&self, key: u64) -> Option<u64> {
        self.index
            .get(&key)
            .map(|&idx| self.slab[idx as usize].deadline)
    }

    /// Whether `key` has a timer.
    pub fn contains(&self, key: u64) -> bool {
        self.index.contains_key(&key)
    }

    /// Number of timers, due ones not yet polled included.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are no timers.
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
        if self.free_head != NIL {
            let idx = self.free_head;
            let slot = &mut self.slab[idx as usize];
            debug_assert_eq!(slot.loc, Loc::Free);
            self.free_head = slot.next;
            *slot = entry;
            idx
        } else {
            assert!(
                self.slab.len() < NIL as usize,
                "TimerWheel: too many timers"
            );
            self.slab.push(entry);
            (self.slab.len() - 1) as u32
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
                if prev != NIL {
                    self.slab[prev as usize].next = next;
                } else {
                    debug_assert_eq!(self.heads[id], idx);
                    self.heads[id] = next;
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
        self.index = SeqMap::with_capacity_and_hasher(live, Default::default());
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
        for Reverse(r) in self.due.iter() {
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
mod tests {
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
}
