//! The cross-shard mailbox: a bounded single-producer/single-consumer ring with a doorbell.
//!
//! One shard sends requests (or replies) to another through a [`Sender`]; the owning shard
//! takes them out through the matching [`Receiver`]. What it promises:
//!
//! - **Bounded.** The ring holds at most [`capacity`](Sender::capacity) items (the requested
//!   capacity rounded up to a power of two) and never grows: when it is full,
//!   [`Sender::try_send`] hands the value back in [`Full`] and the caller applies
//!   backpressure. Memory is fixed at creation.
//! - **FIFO, lossless.** Items come out in the order they went in, each exactly once.
//! - **Single producer, single consumer, by type.** [`channel`] returns exactly one of each;
//!   neither is `Clone`, and every operation that moves an index takes `&mut self`. Both
//!   are `Send` (when `T: Send`), so each can live on its own shard's thread.
//! - **Drop-safe.** Either side may be dropped at any time, from any thread. Items still in
//!   the ring are dropped exactly once, when the second side goes. The survivor can see
//!   that its peer is gone with `is_closed`.
//! - **No lost wake-ups.** A receiver that wants to sleep calls
//!   [`Receiver::prepare_sleep`] and sleeps only if it returns `true`; a send that happens
//!   after that returns [`Doorbell::Ring`] (exactly one send does), and the sender must then
//!   wake the receiver (write its eventfd). See "Doorbell" below.
//!
//! # Indices
//!
//! `head` (next slot to read, written only by the receiver) and `tail` (next slot to write,
//! written only by the sender) are free-running counters that wrap at `usize::MAX`; the slot
//! of position `p` is `p & mask`. Invariant, as seen by either side:
//! `0 <= tail - head <= capacity` (wrapping subtraction). The slots `head..tail` hold
//! initialized values; all others are uninitialized. Each side keeps its own index in a
//! plain field (it is the only writer) and a cached copy of the other side's index, which
//! it refreshes from the atomic only when the cache says full (sender) or empty
//! (receiver): on the fast path a send or receive touches no cache line the other shard is
//! writing.
//!
//! # Memory ordering
//!
//! - The sender writes a slot, then stores `tail` with `Release`; the receiver loads `tail`
//!   with `Acquire` before reading the slot. So the slot's contents happen-before the read.
//! - The receiver moves a value out of a slot, then stores `head` with `Release`; the sender
//!   loads `head` with `Acquire` before overwriting that slot. So the read happens-before
//!   the overwrite: the two never race on a slot.
//!
//! # Doorbell
//!
//! The receiver sleeps (in epoll) when it has nothing to do; the sender must wake it when it
//! puts work in an empty ring, and should not pay a syscall on every send. A flag
//! `needs_wake` in shared memory says "the receiver is, or is about to be, asleep". The
//! protocol is the classic store-then-check on both sides (Dekker):
//!
//! ```text
//! receiver (prepare_sleep)          sender (try_send)
//!   needs_wake.swap(true)             write slot; tail = t + 1   (Release)
//!   fence(SeqCst)    -- F_r           fence(SeqCst)              -- F_s
//!   read tail; empty? -> may sleep    needs_wake? -> swap(false), ring
//! ```
//!
//! The two `SeqCst` fences are totally ordered. If `F_s` comes first, the receiver's read of
//! `tail` after `F_r` sees the new item, so it does not sleep. If `F_r` comes first, the
//! sender's read of `needs_wake` after `F_s` sees `true` (or a later value), so it rings.
//! Either way the item is not stranded with the receiver asleep. Acquire/release alone is
//! not enough here: each side stores one location and then loads the *other*, and only a
//! `SeqCst` fence orders a store before a later load (store-load). The `swap(false)` makes
//! sure only one send rings per sleep. (Loom models `SeqCst` fences; it treats `SeqCst`
//! loads and stores as `AcqRel`, which is why the protocol uses fences.)

use std::fmt;
use std::mem::MaybeUninit;
use std::ops::Deref;

use crate::sync::{fence, Arc, AtomicBool, AtomicUsize, Ordering, UnsafeCell};

/// Creates a mailbox holding up to `capacity` items, rounded up to a power of two (so a
/// slot index is a mask, not a division). A `capacity` of 0 is rounded up to 1.
///
/// # Panics
///
/// If the rounded capacity does not fit in a `usize`.
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let capacity = capacity
        .max(1)
        .checked_next_power_of_two()
        .expect("mailbox capacity overflows usize");
    let slots: Box<[UnsafeCell<MaybeUninit<T>>]> = (0..capacity)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let shared = Arc::new(Shared {
        head: CachePadded(AtomicUsize::new(0)),
        tail: CachePadded(AtomicUsize::new(0)),
        needs_wake: CachePadded(AtomicBool::new(false)),
        closed: AtomicBool::new(false),
        mask: capacity - 1,
        slots,
    });
    let sender = Sender {
        shared: shared.clone(),
        tail: 0,
        cached_head: 0,
    };
    let receiver = Receiver {
        shared,
        head: 0,
        cached_tail: 0,
    };
    (sender, receiver)
}

/// The value [`Sender::try_send`] could not enqueue because the ring was full.
///
/// The mailbox never grows; the caller keeps the value and applies backpressure (retry
/// after the receiver drains, or tell its own client to slow down).
pub struct Full<T>(pub T);

impl<T> Full<T> {
    /// Returns the value that was not sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mailbox full")
    }
}

impl<T> std::error::Error for Full<T> {}

/// Whether the sender must wake the receiver after a send.
#[must_use = "on `Ring` the sender must wake the receiver (write its eventfd), or the item may sit unseen"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doorbell {
    /// The receiver is asleep, or about to be, and nobody has woken it yet: wake it.
    Ring,
    /// The receiver is awake, or another send already rang: nothing to do.
    Quiet,
}

impl Doorbell {
    /// `true` for [`Doorbell::Ring`].
    pub fn must_ring(self) -> bool {
        self == Doorbell::Ring
    }
}

/// The producing half of a mailbox. Not `Clone`: there is one producer (a second would
/// break the single-writer invariant of `tail`).
///
/// ```compile_fail
/// let (tx, _rx) = spool_server::mailbox::channel::<u32>(4);
/// let _second_sender = tx.clone();
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
    /// Next position to write. Only this side writes `shared.tail`, so this is its value.
    tail: usize,
    /// A past value of `shared.head`: never ahead of it, so `tail - cached_head` may
    /// over-state the fill level, never under-state it.
    cached_head: usize,
}

/// The consuming half of a mailbox. Not `Clone`: there is one consumer (a second would
/// break the single-writer invariant of `head`).
///
/// ```compile_fail
/// let (_tx, rx) = spool_server::mailbox::channel::<u32>(4);
/// let _second_receiver = rx.clone();
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// Next position to read. Only this side writes `shared.head`, so this is its value.
    head: usize,
    /// A past value of `shared.tail`: never ahead of it, so `cached_tail - head` may
    /// under-state the fill level, never over-state it.
    cached_tail: usize,
}

/// The state both halves point at.
struct Shared<T> {
    /// Next position to read; stored only by the receiver.
    head: CachePadded<AtomicUsize>,
    /// Next position to write; stored only by the sender.
    tail: CachePadded<AtomicUsize>,
    /// Set by the receiver before it sleeps; cleared by the send that rings (or by the
    /// receiver once awake). Read on every send, written rarely: its own cache line, so
    /// that the receiver's `head` stores do not evict it from the sender's cache.
    needs_wake: CachePadded<AtomicBool>,
    /// Set by whichever half is dropped first.
    closed: AtomicBool,
    /// `capacity - 1`; capacity is a power of two.
    mask: usize,
    /// `slots[p & mask]` is initialized exactly for positions `p` in `head..tail`.
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

// SAFETY: `Shared` hands values of `T` from the sender's thread to the receiver's, so it
// needs `T: Send`; it never gives out `&T` to two threads at once, so `T: Sync` is not
// needed. The slots are `UnsafeCell`s, but the head/tail protocol (see the module doc)
// guarantees each slot is accessed by one side at a time, with happens-before between the
// sender's write and the receiver's read and between that read and the next write.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above: every shared access goes through atomics or through slots whose
// ownership the head/tail protocol passes between the two sides.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn capacity(&self) -> usize {
        self.mask + 1
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Both halves are gone (this runs when the last `Arc` drops). The `Arc`'s own
        // release/acquire on its count makes every store either half made visible here, so
        // relaxed loads read the final indices.
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        debug_assert!(tail.wrapping_sub(head) <= self.capacity());
        let mut pos = head;
        while pos != tail {
            self.slots[pos & self.mask].with_mut(|slot| {
                // SAFETY: positions `head..tail` hold initialized values that no one has
                // moved out; each is dropped once here, and no other access is possible
                // (we have `&mut self`).
                unsafe { (*slot).assume_init_drop() }
            });
            pos = pos.wrapping_add(1);
        }
    }
}

impl<T> Sender<T> {
    /// Enqueues `value`, or hands it back in [`Full`] if the ring is full (the ring never
    /// grows). On success, says whether the receiver must be woken: see [`Doorbell`].
    ///
    /// Equivalent to [`try_push`](Self::try_push) followed by [`doorbell`](Self::doorbell);
    /// a sender that enqueues a batch may call those instead and check the doorbell once.
    pub fn try_send(&mut self, value: T) -> Result<Doorbell, Full<T>> {
        self.try_push(value)?;
        Ok(self.doorbell())
    }

    /// Enqueues `value` without checking the doorbell, or hands it back if the ring is full.
    /// After one or more pushes the sender must call [`doorbell`](Self::doorbell) before it
    /// waits on anything, or a sleeping receiver may not learn of the items.
    pub fn try_push(&mut self, value: T) -> Result<(), Full<T>> {
        let capacity = self.shared.capacity();
        debug_assert!(self.tail.wrapping_sub(self.cached_head) <= capacity);
        if self.tail.wrapping_sub(self.cached_head) == capacity {
            // Looks full; refresh. Acquire pairs with the receiver's Release store of `head`,
            // so its move out of the slot we are about to overwrite happens-before our write.
            self.cached_head = self.shared.head.load(Ordering::Acquire);
            debug_assert!(self.tail.wrapping_sub(self.cached_head) <= capacity);
            if self.tail.wrapping_sub(self.cached_head) == capacity {
                return Err(Full(value));
            }
        }
        self.shared.slots[self.tail & self.shared.mask].with_mut(|slot| {
            // SAFETY: `tail - head < capacity`, so slot `tail & mask` is outside
            // `head..tail`: uninitialized (or already moved out), and the receiver does not
            // touch it until `tail` moves past it. We are the only sender (`&mut self`).
            unsafe { (*slot).write(value) };
        });
        self.tail = self.tail.wrapping_add(1);
        // Release publishes the slot write to the receiver's Acquire load of `tail`.
        self.shared.tail.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// Checks whether the receiver went to sleep needing a wake-up, and claims the wake-up
    /// if so: returns [`Doorbell::Ring`] at most once per [`Receiver::prepare_sleep`].
    pub fn doorbell(&mut self) -> Doorbell {
        // Store-load barrier: orders our `tail` store before the `needs_wake` load below,
        // against the receiver's fence between its `needs_wake` store and `tail` load. See
        // the module doc for why this cannot lose a wake-up.
        fence(Ordering::SeqCst);
        // Cheap load first: on the busy path the flag is false and the line stays shared.
        // The swap then claims the ring, so of several sends only one rings. Relaxed is
        // enough for both: the flag carries no data (items are published through `tail`),
        // and the ring itself (a syscall) orders what follows.
        if self.shared.needs_wake.load(Ordering::Relaxed)
            && self.shared.needs_wake.swap(false, Ordering::Relaxed)
        {
            Doorbell::Ring
        } else {
            Doorbell::Quiet
        }
    }

    /// The number of items in the ring. It may over-state: the receiver may have taken
    /// some since.
    pub fn len(&self) -> usize {
        let len = self
            .tail
            .wrapping_sub(self.shared.head.load(Ordering::Acquire));
        debug_assert!(len <= self.capacity());
        len
    }

    /// Whether the ring is empty (it may have become so since, if this says `false`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most items the ring holds: a power of two.
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// Whether the receiver has been dropped: items sent now will never be received
    /// (they are dropped with the ring).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

impl<T> Receiver<T> {
    /// Takes the oldest item, or `None` if the ring is empty.
    pub fn try_recv(&mut self) -> Option<T> {
        if self.head == self.cached_tail && !self.refresh_tail() {
            return None;
        }
        Some(self.pop())
    }

    /// Takes up to `max` items, oldest first, passing each to `f`; returns how many. Items
    /// that arrive while it runs are left for the next call: it reads the sender's index at
    /// most once.
    ///
    /// Each slot is released to the sender before `f` sees its item, so `f` may panic
    /// without double drops or leaks, and a sender blocked on a full ring can go on early.
    pub fn drain(&mut self, max: usize, mut f: impl FnMut(T)) -> usize {
        if max == 0 {
            return 0;
        }
        // One Acquire load per batch (skipped if the cache already covers `max`), so a
        // batch takes everything published so far.
        if self.cached_tail.wrapping_sub(self.head) < max {
            self.refresh_tail();
        }
        let n = self.cached_tail.wrapping_sub(self.head).min(max);
        for _ in 0..n {
            f(self.pop());
        }
        n
    }

    /// The number of items in the ring. It may under-state: the sender may have added
    /// some since.
    pub fn len(&self) -> usize {
        let len = self
            .shared
            .tail
            .load(Ordering::Acquire)
            .wrapping_sub(self.head);
        debug_assert!(len <= self.capacity());
        len
    }

    /// Whether the ring is empty (it may have become non-empty since, if this says `true`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most items the ring holds: a power of two.
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// Whether the sender has been dropped: once the ring is empty, nothing more will come.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Announces that the receiver is about to sleep, then checks the ring once more.
    ///
    /// Returns `true` if the ring is still empty: the receiver may sleep (on its eventfd),
    /// and the next send will return [`Doorbell::Ring`] so its sender wakes it. Returns
    /// `false` if items arrived: the receiver must not sleep but process them (the
    /// announcement is withdrawn).
    ///
    /// After waking (for any reason), call [`finish_sleep`](Self::finish_sleep) so senders
    /// stop ringing a receiver that is awake.
    pub fn prepare_sleep(&mut self) -> bool {
        // A swap rather than a store: as a read-modify-write it reads the latest value, so
        // it is ordered after any earlier claim (`swap(false)`) by the sender in the flag's
        // modification order *explicitly*. C11 already orders them (the claim read an
        // earlier value of ours), but loom keeps modification order partial and, with a
        // plain store here, reports a lost wake-up that real hardware cannot produce. The
        // cost is one RMW on the way to a syscall.
        self.shared.needs_wake.swap(true, Ordering::Relaxed);
        // Store-load barrier: pairs with the fence in `Sender::doorbell` (module doc).
        fence(Ordering::SeqCst);
        if self.refresh_tail() {
            // Items arrived: stay awake. A sender may have seen the flag already and will
            // ring anyway; that costs one spurious wake-up, never a lost one.
            self.shared.needs_wake.store(false, Ordering::Relaxed);
            false
        } else {
            true
        }
    }

    /// Withdraws a [`prepare_sleep`](Self::prepare_sleep) announcement once awake. Optional
    /// for correctness (a stale flag only causes one spurious ring), but saves senders the
    /// syscall while this receiver is busy.
    pub fn finish_sleep(&mut self) {
        self.shared.needs_wake.store(false, Ordering::Relaxed);
    }

    /// Re-reads the sender's `tail`; returns whether the ring is non-empty.
    fn refresh_tail(&mut self) -> bool {
        // Acquire pairs with the sender's Release store of `tail`: the slot writes before it
        // happen-before our reads of those slots.
        self.cached_tail = self.shared.tail.load(Ordering::Acquire);
        debug_assert!(self.cached_tail.wrapping_sub(self.head) <= self.capacity());
        self.cached_tail != self.head
    }

    /// Moves out the item at `head` and releases its slot. Caller ensures `head != cached_tail`.
    fn pop(&mut self) -> T {
        debug_assert_ne!(self.head, self.cached_tail);
        let value = self.shared.slots[self.head & self.shared.mask].with_mut(|slot| {
            // SAFETY: `head` is in `head..cached_tail` ⊆ `head..tail`, so the slot holds an
            // initialized value, made visible by the Acquire load of `tail` that set
            // `cached_tail`. The sender will not write it until `head` moves past it, and we
            // are the only receiver (`&mut self`). We move it out exactly once, as `head`
            // moves past it right after.
            unsafe { (*slot).assume_init_read() }
        });
        self.head = self.head.wrapping_add(1);
        // Release: our read of the slot happens-before the sender's reuse of it (it loads
        // `head` with Acquire before writing).
        self.shared.head.store(self.head, Ordering::Release);
        value
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // Release so a receiver that sees `closed` also sees every item we sent.
        self.shared.closed.store(true, Ordering::Release);
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // Items left in the ring are dropped by `Shared::drop`, when the sender goes too.
        self.shared.closed.store(true, Ordering::Release);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

/// Aligns (and so pads) its contents to 128 bytes: two 64-byte lines, since x86's adjacent-
/// line prefetcher pulls lines in pairs (crossbeam uses the same figure). Keeps the index
/// one side writes off the lines the other side writes.
#[repr(align(128))]
struct CachePadded<T>(T);

impl<T> Deref for CachePadded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
