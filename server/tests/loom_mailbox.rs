//! Loom model checks of the cross-shard mailbox (`spool_server::mailbox`).
//!
//! Built only with `RUSTFLAGS="--cfg loom"`, which also switches the library's atomics,
//! `Arc` and `UnsafeCell` to loom's (src/sync.rs). Each `loom::model` runs its closure under
//! every interleaving (bounded by `LOOM_MAX_PREEMPTIONS`) and loom's model of weak memory,
//! and fails on a data race on a slot, a leak of a loom object, a deadlock, or a failed
//! assertion. Run:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
//!     cargo test -p spool-server --release --test loom_mailbox
//! ```
//!
//! The models are kept tiny (capacity 1-2, two or three items): state space grows
//! exponentially, and the bugs these catch (ordering, wrap, lost wake-up, double drop)
//! show up with the smallest rings.
#![cfg(loom)]

use loom::sync::Notify;
use loom::thread;
use spool_server::mailbox::{channel, Doorbell, Full};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// Sends `value`, yielding to the model while the ring is full; returns the doorbell.
fn send_blocking<T>(tx: &mut spool_server::mailbox::Sender<T>, mut value: T) -> Doorbell {
    loop {
        match tx.try_send(value) {
            Ok(bell) => return bell,
            Err(Full(back)) => {
                value = back;
                thread::yield_now();
            }
        }
    }
}

/// Three items through a ring of two: every item arrives once, in order, across a wrap.
#[test]
fn fifo_capacity_2_three_items() {
    loom::model(|| {
        let (mut tx, mut rx) = channel::<u32>(2);
        let producer = thread::spawn(move || {
            for i in 0..3 {
                let _ = send_blocking(&mut tx, i);
            }
        });
        let mut got = Vec::new();
        while got.len() < 3 {
            match rx.try_recv() {
                Some(v) => got.push(v),
                None => thread::yield_now(),
            }
        }
        assert_eq!(got, [0, 1, 2]);
        producer.join().unwrap();
        assert!(rx.try_recv().is_none());
    });
}

/// Batch consumption (`drain`) against a concurrent producer: still in order, once each.
#[test]
fn drain_capacity_2_three_items() {
    loom::model(|| {
        let (mut tx, mut rx) = channel::<u32>(2);
        let producer = thread::spawn(move || {
            for i in 0..3 {
                let _ = send_blocking(&mut tx, i);
            }
        });
        let mut got = Vec::new();
        while got.len() < 3 {
            if rx.drain(usize::MAX, |v| got.push(v)) == 0 {
                thread::yield_now();
            }
        }
        assert_eq!(got, [0, 1, 2]);
        producer.join().unwrap();
    });
}

/// A full ring refuses and hands the value back, whatever the consumer does meanwhile; it
/// never holds more than its capacity; nothing is lost or duplicated.
#[test]
fn full_ring_backpressure() {
    loom::model(|| {
        let (mut tx, mut rx) = channel::<u32>(1);
        let producer = thread::spawn(move || {
            // Tries 0, 1, 2 once each; returns what went in and what came back.
            let mut sent = Vec::new();
            let mut refused = Vec::new();
            for i in 0..3 {
                match tx.try_send(i) {
                    Ok(_) => sent.push(i),
                    Err(Full(v)) => {
                        assert_eq!(v, i, "the refused value is the one offered");
                        refused.push(v);
                    }
                }
                assert!(tx.len() <= tx.capacity());
            }
            (sent, refused)
        });
        // The consumer takes at most one item concurrently.
        let early = rx.try_recv();
        let (sent, refused) = producer.join().unwrap();
        assert_eq!(sent[0], 0, "an empty ring accepts");
        assert_eq!(sent.len() + refused.len(), 3);
        assert!(sent.len() <= 2, "capacity 1 plus at most one freed slot");
        let mut got: Vec<u32> = early.into_iter().collect();
        got.extend(std::iter::from_fn(|| rx.try_recv()));
        assert_eq!(got, sent, "received exactly what was accepted, in order");
    });
}

/// The doorbell protocol never loses a wake-up. The receiver "sleeps" on a loom `Notify`
/// (standing in for the eventfd; it may wake spuriously) only when `prepare_sleep` says it
/// may; the sender notifies only on `Doorbell::Ring`. If a wake-up were lost, the receiver
/// would wait forever with items in the ring, and loom reports the deadlock.
#[test]
fn doorbell_never_loses_a_wakeup() {
    loom::model(|| {
        let bell = loom::sync::Arc::new(Notify::new());
        let (mut tx, mut rx) = channel::<u32>(2);
        let ring = bell.clone();
        let producer = thread::spawn(move || {
            for i in 0..2 {
                if send_blocking(&mut tx, i) == Doorbell::Ring {
                    ring.notify();
                }
            }
        });
        let mut got = Vec::new();
        while got.len() < 2 {
            if let Some(v) = rx.try_recv() {
                got.push(v);
                continue;
            }
            if rx.prepare_sleep() {
                bell.wait();
                rx.finish_sleep();
            }
        }
        assert_eq!(got, [0, 1]);
        producer.join().unwrap();
    });
}

/// Like `doorbell_never_loses_a_wakeup`, with a ring of one so the sender also meets a
/// full ring between wake-ups (the sender spins on `Full` while the receiver sleeps only
/// on an empty ring).
#[test]
fn doorbell_with_full_ring() {
    loom::model(|| {
        let bell = loom::sync::Arc::new(Notify::new());
        let (mut tx, mut rx) = channel::<u32>(1);
        let ring = bell.clone();
        let producer = thread::spawn(move || {
            for i in 0..2 {
                if send_blocking(&mut tx, i) == Doorbell::Ring {
                    ring.notify();
                }
            }
        });
        let mut got = Vec::new();
        while got.len() < 2 {
            if rx.drain(usize::MAX, |v| got.push(v)) > 0 {
                continue;
            }
            if rx.prepare_sleep() {
                bell.wait();
                rx.finish_sleep();
            }
        }
        assert_eq!(got, [0, 1]);
        producer.join().unwrap();
    });
}

/// Counts drops; bookkeeping outside the model (std atomics), not under test.
struct Counted(std::sync::Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Both halves dropped on different threads while items are in the ring (and one is taken
/// concurrently): every item is dropped exactly once, and loom sees no race between the
/// last `Drop` and the other side's final accesses.
#[test]
fn drop_safety_items_dropped_exactly_once() {
    loom::model(|| {
        let drops = std::sync::Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = channel::<Counted>(2);
        let d = drops.clone();
        let producer = thread::spawn(move || {
            for _ in 0..2 {
                let _ = tx.try_send(Counted(d.clone()));
            }
            drop(tx);
        });
        let consumer = thread::spawn(move || {
            drop(rx.try_recv());
            assert!(rx.len() <= rx.capacity());
            drop(rx);
        });
        producer.join().unwrap();
        consumer.join().unwrap();
        // The ring had room for both, so both were sent; each dropped once, by the consumer
        // or with the ring.
        assert_eq!(drops.load(SeqCst), 2);
    });
}

/// `is_closed` is seen by the survivor, and items sent before the sender went are still
/// received after it (the `closed` Release/Acquire carries them).
#[test]
fn close_is_seen_after_items() {
    loom::model(|| {
        let (mut tx, mut rx) = channel::<u32>(2);
        let producer = thread::spawn(move || {
            let _ = tx.try_send(7);
            drop(tx);
        });
        if rx.is_closed() {
            assert_eq!(rx.try_recv(), Some(7));
        }
        producer.join().unwrap();
        assert!(rx.is_closed());
    });
}
