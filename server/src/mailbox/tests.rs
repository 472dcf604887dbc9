//! Unit tests of the mailbox (single-threaded and with real threads); the loom model
//! is `server/tests/loom_mailbox.rs`.

use super::*;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::SeqCst};

/// Counts its drops in a shared counter.
struct Counted(std::sync::Arc<StdAtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn assert_send<T: Send>() {}

#[test]
fn halves_are_send() {
    assert_send::<Sender<Vec<u8>>>();
    assert_send::<Receiver<Vec<u8>>>();
}

#[test]
fn capacity_rounds_up_to_power_of_two() {
    for (asked, got) in [(0, 1), (1, 1), (2, 2), (3, 4), (5, 8), (64, 64), (65, 128)] {
        let (tx, rx) = channel::<u8>(asked);
        assert_eq!(tx.capacity(), got, "asked {asked}");
        assert_eq!(rx.capacity(), got, "asked {asked}");
    }
}

#[test]
fn fifo_full_and_empty() {
    let (mut tx, mut rx) = channel(3); // rounds to 4
    assert!(rx.try_recv().is_none());
    assert!(tx.is_empty() && rx.is_empty());
    for i in 0..4 {
        tx.try_push(i).unwrap();
    }
    assert_eq!(tx.len(), 4);
    assert_eq!(rx.len(), 4);
    let Err(Full(v)) = tx.try_send(99) else {
        panic!("a full ring must refuse")
    };
    assert_eq!(v, 99, "the refused value comes back");
    assert_eq!(tx.len(), 4, "a full ring does not grow");
    assert_eq!(rx.try_recv(), Some(0));
    tx.try_push(4).unwrap();
    assert!(tx.try_send(5).is_err());
    let got: Vec<_> = std::iter::from_fn(|| rx.try_recv()).collect();
    assert_eq!(got, [1, 2, 3, 4]);
    assert!(rx.try_recv().is_none());
    assert!(rx.is_empty());
}

#[test]
fn wraparound_keeps_order() {
    let (mut tx, mut rx) = channel(4);
    let mut next_in = 0u32;
    let mut next_out = 0u32;
    // Uneven batches walk head and tail around the ring many times.
    for round in 0..1000 {
        for _ in 0..=(round % 4) {
            if tx.try_send(next_in).is_ok() {
                next_in += 1;
            }
        }
        for _ in 0..=(round % 3) {
            if let Some(v) = rx.try_recv() {
                assert_eq!(v, next_out);
                next_out += 1;
            }
        }
    }
    while let Some(v) = rx.try_recv() {
        assert_eq!(v, next_out);
        next_out += 1;
    }
    assert_eq!(next_in, next_out);
    assert!(next_in > 1000);
}

#[test]
fn indices_wrap_at_usize_max() {
    let (mut tx, mut rx) = channel(4);
    // Start both sides just below the wrap of the free-running counters.
    let start = usize::MAX - 5;
    tx.tail = start;
    tx.cached_head = start;
    rx.head = start;
    rx.cached_tail = start;
    tx.shared.head.store(start, SeqCst);
    tx.shared.tail.store(start, SeqCst);
    for i in 0..20 {
        tx.try_push(i).unwrap();
        tx.try_push(i + 100).unwrap();
        assert_eq!(rx.len(), 2);
        assert_eq!(rx.try_recv(), Some(i));
        assert_eq!(rx.try_recv(), Some(i + 100));
    }
    assert!(rx.try_recv().is_none());
}

#[test]
fn drain_takes_at_most_max_in_order() {
    let (mut tx, mut rx) = channel(8);
    for i in 0..6 {
        tx.try_push(i).unwrap();
    }
    let mut got = Vec::new();
    assert_eq!(rx.drain(0, |v| got.push(v)), 0);
    assert_eq!(rx.drain(4, |v| got.push(v)), 4);
    assert_eq!(got, [0, 1, 2, 3]);
    assert_eq!(rx.drain(100, |v| got.push(v)), 2);
    assert_eq!(got, [0, 1, 2, 3, 4, 5]);
    assert_eq!(rx.drain(100, |v| got.push(v)), 0);
}

#[test]
fn remaining_items_dropped_exactly_once() {
    let drops = std::sync::Arc::new(StdAtomicUsize::new(0));
    let item = || Counted(drops.clone());
    // Receiver goes first, then sender.
    {
        let (mut tx, mut rx) = channel(4);
        for _ in 0..3 {
            tx.try_push(item()).unwrap();
        }
        drop(rx.try_recv()); // one taken out and dropped by us
        assert_eq!(drops.load(SeqCst), 1);
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(
            drops.load(SeqCst),
            1,
            "items live until both halves are gone"
        );
        tx.try_push(item()).unwrap(); // sent into a closed ring: dropped with it
        drop(tx);
    }
    assert_eq!(drops.load(SeqCst), 4);
    // Sender goes first; a full ring that wrapped; a refused value.
    drops.store(0, SeqCst);
    {
        let (mut tx, mut rx) = channel(2);
        tx.try_push(item()).unwrap();
        tx.try_push(item()).unwrap();
        drop(rx.try_recv());
        tx.try_push(item()).unwrap(); // wraps
        let refused = tx.try_send(item()).unwrap_err();
        drop(refused);
        assert_eq!(drops.load(SeqCst), 2);
        drop(tx);
        assert!(rx.is_closed());
        assert_eq!(
            rx.len(),
            2,
            "items sent before the close are still received"
        );
    }
    assert_eq!(drops.load(SeqCst), 4);
}

#[test]
fn panicking_drain_callback_neither_leaks_nor_double_drops() {
    let drops = std::sync::Arc::new(StdAtomicUsize::new(0));
    let (mut tx, mut rx) = channel(4);
    for _ in 0..3 {
        tx.try_push(Counted(drops.clone())).unwrap();
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rx.drain(3, |item| {
            drop(item);
            panic!("handler failed");
        })
    }));
    assert!(result.is_err());
    assert_eq!(drops.load(SeqCst), 1);
    assert_eq!(rx.len(), 2);
    drop((tx, rx));
    assert_eq!(drops.load(SeqCst), 3);
}

#[test]
fn doorbell_rings_once_per_sleep() {
    let (mut tx, mut rx) = channel(4);
    assert_eq!(tx.try_send(1).unwrap(), Doorbell::Quiet, "receiver awake");
    assert!(!rx.prepare_sleep(), "items present: must not sleep");
    assert_eq!(
        tx.try_send(2).unwrap(),
        Doorbell::Quiet,
        "announcement withdrawn"
    );
    assert_eq!(rx.drain(usize::MAX, drop), 2);
    assert!(rx.prepare_sleep(), "empty: may sleep");
    assert_eq!(tx.try_send(3).unwrap(), Doorbell::Ring);
    assert_eq!(
        tx.try_send(4).unwrap(),
        Doorbell::Quiet,
        "only one send rings"
    );
    rx.finish_sleep();
    assert_eq!(rx.drain(usize::MAX, drop), 2);
    // A stale announcement (receiver woke for another reason, skipped finish_sleep)
    // costs at most one ring.
    assert!(rx.prepare_sleep());
    tx.try_push(5).unwrap();
    tx.try_push(6).unwrap();
    assert!(tx.doorbell().must_ring());
    assert!(!tx.doorbell().must_ring());
}

/// One million items through a 64-slot ring between two threads, order checked.
#[test]
fn stress_two_threads_keeps_order() {
    const N: u64 = 1_000_000;
    let (mut tx, mut rx) = channel::<u64>(64);
    let producer = std::thread::spawn(move || {
        let mut next = 0;
        while next < N {
            match tx.try_send(next) {
                Ok(_) => next += 1,
                Err(Full(v)) => {
                    assert_eq!(v, next);
                    std::thread::yield_now();
                }
            }
        }
    });
    let mut expected = 0u64;
    let mut turn = 0u32;
    while expected < N {
        turn = turn.wrapping_add(1);
        // Alternate single receives and batches so both paths see contention.
        let got = if turn & 1 == 0 {
            match rx.try_recv() {
                Some(v) => {
                    assert_eq!(v, expected);
                    expected += 1;
                    1
                }
                None => 0,
            }
        } else {
            rx.drain(17, |v| {
                assert_eq!(v, expected);
                expected += 1;
            })
        };
        if got == 0 {
            std::thread::yield_now();
        }
    }
    producer.join().unwrap();
    assert!(rx.try_recv().is_none());
    assert!(rx.is_closed());
}

/// The doorbell with real sleeping: the receiver blocks in poll(2) on an eventfd that
/// the sender writes on `Doorbell::Ring`. A lost wake-up shows up as a poll that times
/// out with items in the ring.
#[test]
fn stress_doorbell_with_eventfd_loses_no_wakeup() {
    use crate::eventfd::EventFd;
    use std::os::fd::AsRawFd;

    const N: u32 = 100_000;
    let efd = std::sync::Arc::new(EventFd::new().unwrap());
    let (mut tx, mut rx) = channel::<u32>(64);
    let ring = efd.clone();
    let producer = std::thread::spawn(move || {
        let mut rings = 0u32;
        for i in 0..N {
            let mut v = i;
            loop {
                match tx.try_send(v) {
                    Ok(Doorbell::Ring) => {
                        ring.notify().unwrap();
                        rings += 1;
                        break;
                    }
                    Ok(Doorbell::Quiet) => break,
                    Err(Full(back)) => {
                        v = back;
                        std::thread::yield_now();
                    }
                }
            }
            // Pause now and then so the receiver runs dry and goes to sleep.
            if i % 64 == 0 {
                std::thread::yield_now();
            }
        }
        rings
    });
    let mut expected = 0u32;
    let mut announcements = 0u32;
    while expected < N {
        let got = rx.drain(usize::MAX, |v| {
            assert_eq!(v, expected);
            expected += 1;
        });
        if got > 0 || expected == N {
            continue;
        }
        announcements += 1;
        if rx.prepare_sleep() {
            let mut pfd = libc::pollfd {
                fd: efd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `pfd` is one valid pollfd that outlives the call.
            let n = unsafe { libc::poll(&raw mut pfd, 1, 10_000) };
            assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
            assert!(
                n == 1 || rx.is_empty(),
                "lost wake-up: slept 10 s with {} items waiting",
                rx.len()
            );
            efd.drain().unwrap();
            rx.finish_sleep();
        }
    }
    let rings = producer.join().unwrap();
    assert!(
        rings <= announcements,
        "at most one ring per prepare_sleep ({rings} > {announcements})"
    );
}
