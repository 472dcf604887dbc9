//! Verification after a restart: check the receipts the consumers held at the kill (half
//! are deleted by their pre-kill handle, which must work; the other half must stay hidden
//! until their visibility deadline), drain both queues (waiting out every deadline a
//! pre-kill receive may have set), check that every acknowledged, never-deleted send came
//! back, leave a backlog on the standard queue, and check that the queues' counts settle
//! on the exact numbers.

use std::time::{Duration, Instant};

use spool_client::{ClientError, Connection, ReceiveOptions};

use crate::body::{Id, Rng};
use crate::ledger::{Shared, ACKED, CONSUMER_VISIBILITY, DEL_ACKED, DEL_TRIED, DRAINED};
use crate::load::{connect, delete_all, release_all};
use crate::{DRAIN_TIMEOUT, FIFO_QUEUE, STD_QUEUE};

/// Why a drain stopped before it finished (what it found wrong are violations).
#[derive(Debug, thiserror::Error)]
pub(crate) enum DrainError {
    #[error("cannot connect to the restarted daemon")]
    Connect,
    #[error("draining {queue} took over {DRAIN_TIMEOUT:?}")]
    Timeout { queue: &'static str },
    #[error("drain receive: {0}")]
    Receive(ClientError),
    /// `what` is `delete` or `release`.
    #[error("drain {what} failed")]
    Ack { what: &'static str },
    #[error("get attributes of {queue}: {source}")]
    Attributes {
        queue: &'static str,
        source: ClientError,
    },
}

/// Drains both queues on a freshly started daemon and checks that every acknowledged,
/// never-deleted send came back. The standard queue keeps a random 30 % (released again).
pub(crate) fn drain_and_verify(
    addr: &str,
    state: &Shared,
    rng: &mut Rng,
) -> Result<(), DrainError> {
    let mut c = connect(addr).ok_or(DrainError::Connect)?;
    {
        let mut guard = state.lock().unwrap();
        let s = &mut *guard;
        for st in s.std.iter_mut().chain(s.fifo.iter_mut()) {
            for f in &mut st.flags {
                *f &= !DRAINED;
            }
        }
    }
    let quiet = check_receipts(&mut c, state, rng)?;
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    let held = drain_std(&mut c, state, deadline, quiet)?;
    drain_fifo(&mut c, state, deadline, quiet)?;
    state.lock().unwrap().hidden.clear();
    check_lost(state);
    let visible = keep_backlog(&mut c, state, rng, held)?;
    // Nothing else runs now: the queues' counts must settle on the exact numbers. (They
    // may lag for a moment: a message being copied forward by compaction leaves the
    // visible count when its copy is staged and comes back when the copy is committed.)
    for (queue, visible) in [(STD_QUEUE, visible), (FIFO_QUEUE.as_str(), 0)] {
        check_counts_settle(&mut c, state, queue, visible)?;
    }
    Ok(())
}

/// Before the drain: the receipts the consumers held when the daemon was killed (received,
/// neither deleted nor released). Each whose deadline is still ahead (by a margin) is either
/// deleted now by its pre-kill handle (which must be accepted; the message must then never
/// come back) or must stay hidden until its deadline (checked by every later delivery).
/// Returns the moment after which nothing received before the kill can still be hidden.
fn check_receipts(
    c: &mut Connection,
    state: &Shared,
    rng: &mut Rng,
) -> Result<Instant, DrainError> {
    const MARGIN: Duration = Duration::from_millis(300);
    let now = Instant::now();
    let (mut del_std, mut del_fifo) = (Vec::new(), Vec::new());
    let quiet = {
        let mut s = state.lock().unwrap();
        let held = std::mem::take(&mut s.held);
        let mut quiet = s.last_receive.map_or(now, |t| t + CONSUMER_VISIBILITY);
        for (id, h) in held {
            quiet = quiet.max(h.hidden_until);
            let f = s.flags(id);
            let resolving = h.release_tried || f & (DEL_TRIED | DEL_ACKED) != 0;
            if resolving || h.hidden_until <= now + MARGIN {
                continue;
            }
            if rng.chance(50) {
                let to = if id.fifo { &mut del_fifo } else { &mut del_std };
                to.push((id, h.handle));
            } else {
                s.hidden.insert(id, h.hidden_until);
                s.counts.prekill_hidden += 1;
            }
        }
        quiet + MARGIN
    };
    for (fifo, items) in [(false, del_std), (true, del_fifo)] {
        if items.is_empty() {
            continue;
        }
        let queue = if fifo { FIFO_QUEUE.as_str() } else { STD_QUEUE };
        let handles: Vec<&[u8]> = items.iter().map(|(_, h)| h.as_slice()).collect();
        let res = c
            .delete(queue, &handles)
            .map_err(|_| DrainError::Ack { what: "delete" })?;
        let mut s = state.lock().unwrap();
        for ((id, _), r) in items.iter().zip(res) {
            match r {
                Ok(()) => {
                    s.set(*id, DEL_TRIED | DEL_ACKED);
                    s.counts.prekill_deletes += 1;
                }
                Err(e) => s.violation(&format!(
                    "{id}: the handle of its receive before the kill was refused after the restart: {e:?}"
                )),
            }
        }
    }
    Ok(quiet)
}

/// Standard: receive everything (it stays in flight for an hour), checking each delivery;
/// returns the handles received. Goes on at least until `quiet` (what a receive before the
/// kill hid is visible again by then).
fn drain_std(
    c: &mut Connection,
    state: &Shared,
    deadline: Instant,
    quiet: Instant,
) -> Result<Vec<(Id, Vec<u8>)>, DrainError> {
    let mut held: Vec<(Id, Vec<u8>)> = Vec::new();
    let mut empties = 0;
    while empties < 2 || Instant::now() < quiet {
        if Instant::now() > deadline {
            return Err(DrainError::Timeout { queue: STD_QUEUE });
        }
        let opts = ReceiveOptions {
            max_messages: 1000,
            wait_time_ms: 200,
            ..Default::default()
        };
        let ms = c.receive(STD_QUEUE, &opts).map_err(DrainError::Receive)?;
        if ms.is_empty() {
            empties += 1;
            continue;
        }
        empties = 0;
        let mut s = state.lock().unwrap();
        for m in &ms {
            if let Some(id) = s.check_delivery(false, m, true) {
                held.push((id, m.receipt_handle.to_vec()));
            }
        }
    }
    Ok(held)
}

/// FIFO: receive in group order, checking each delivery and deleting as we go (at least
/// until `quiet`, as the standard drain).
fn drain_fifo(
    c: &mut Connection,
    state: &Shared,
    deadline: Instant,
    quiet: Instant,
) -> Result<(), DrainError> {
    let mut empties = 0;
    while empties < 2 || Instant::now() < quiet {
        if Instant::now() > deadline {
            return Err(DrainError::Timeout {
                queue: FIFO_QUEUE.as_str(),
            });
        }
        let opts = ReceiveOptions {
            max_messages: 10,
            wait_time_ms: 200,
            ..Default::default()
        };
        let ms = c.receive(&FIFO_QUEUE, &opts).map_err(DrainError::Receive)?;
        if ms.is_empty() {
            empties += 1;
            continue;
        }
        empties = 0;
        let mut del = Vec::new();
        {
            let mut s = state.lock().unwrap();
            for m in &ms {
                if let Some(id) = s.check_delivery(true, m, true) {
                    del.push((id, m.receipt_handle.to_vec()));
                }
            }
        }
        if !delete_all(c, state, true, &del, None) {
            return Err(DrainError::Ack { what: "delete" });
        }
    }
    Ok(())
}

/// Every acknowledged send whose delete was never attempted must have come back.
fn check_lost(state: &Shared) {
    let mut s = state.lock().unwrap();
    let mut missing = Vec::new();
    for (fifo, streams) in [(false, &s.std), (true, &s.fifo)] {
        for (i, st) in streams.iter().enumerate() {
            for (seq, &f) in st.flags.iter().enumerate() {
                if f & ACKED != 0 && f & (DEL_TRIED | DEL_ACKED | DRAINED) == 0 {
                    missing.push(Id {
                        fifo,
                        stream: i,
                        seq: seq as u64,
                    });
                }
            }
        }
    }
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(10).map(Id::to_string).collect();
        s.violation(&format!(
            "{} acknowledged messages lost, e.g. {}",
            missing.len(),
            shown.join(", ")
        ));
    }
}

/// Keeps a random 30 % of the standard queue as a backlog (sparse segments to copy):
/// deletes the rest of `held`, releases those kept. Returns how many were kept.
fn keep_backlog(
    c: &mut Connection,
    state: &Shared,
    rng: &mut Rng,
    held: Vec<(Id, Vec<u8>)>,
) -> Result<usize, DrainError> {
    let (mut del, mut rel) = (Vec::new(), Vec::new());
    for item in held {
        if rng.chance(70) {
            del.push(item);
        } else {
            rel.push(item);
        }
    }
    for chunk in del.chunks(1000) {
        if !delete_all(c, state, false, chunk, None) {
            return Err(DrainError::Ack { what: "delete" });
        }
    }
    for chunk in rel.chunks(1000) {
        if !release_all(c, state, false, chunk) {
            return Err(DrainError::Ack { what: "release" });
        }
    }
    Ok(rel.len())
}

/// Waits (up to 3 s) for `queue`'s counts to read `visible` visible, none in flight, none
/// delayed: a violation if they do not; counted as a lag if they did only after a while.
fn check_counts_settle(
    c: &mut Connection,
    state: &Shared,
    queue: &'static str,
    visible: usize,
) -> Result<(), DrainError> {
    let names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ];
    let want = [visible.to_string(), "0".into(), "0".into()];
    let mut first: Option<Vec<String>> = None;
    let settle = Instant::now() + Duration::from_secs(3);
    loop {
        let a = c
            .get_queue_attributes(queue, &names)
            .map_err(|source| DrainError::Attributes { queue, source })?;
        let got: Vec<String> = names
            .iter()
            .map(|n| a.get(*n).cloned().unwrap_or_else(|| "?".into()))
            .collect();
        if got == want {
            if first.is_some() {
                state.lock().unwrap().counts.count_lags += 1;
            }
            break;
        }
        let first = first.get_or_insert(got.clone());
        if Instant::now() > settle {
            state.lock().unwrap().violation(&format!(
                "{queue} after the drain: visible/in flight/delayed {got:?} (first {first:?}), expected {want:?}"
            ));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
