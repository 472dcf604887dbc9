//! The load of a round: producers sending to both queues, consumers receiving, checking,
//! deleting and releasing, each recording in the ledger what was tried and what was
//! acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spool_client::{ClientConfig, Connection, ReceiveOptions, SendEntry};

use crate::body::{make_body, Id, Rng};
use crate::ledger::{group_name, Held, Shared, ACKED, DEL_ACKED, DEL_TRIED};
use crate::ledger::{CONSUMER_VISIBILITY, CONSUMER_VISIBILITY_S};
use crate::{FIFO_GROUPS, FIFO_QUEUE, STD_QUEUE};

pub(crate) fn connect(addr: &str) -> Option<Connection> {
    Connection::connect(&ClientConfig {
        addr: addr.to_string(),
        connect_timeout: Duration::from_secs(5),
        io_timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    })
    .ok()
}

/// Records a send's per-entry results in the ledger: an entry the server acknowledged is
/// ACKED (it must survive any kill from now on); one it refused is counted as an error.
fn record_sends<T, E>(state: &Shared, ids: Vec<Id>, results: Vec<Result<T, E>>) {
    let mut s = state.lock().unwrap();
    for (id, r) in ids.into_iter().zip(results) {
        if r.is_ok() {
            s.set(id, ACKED);
            s.counts.sends_acked += 1;
        } else {
            s.counts.send_entry_errors += 1;
        }
    }
}

// A thread body: it owns what its thread uses.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn std_producer(
    addr: String,
    state: Shared,
    stop: Arc<AtomicBool>,
    p: usize,
    mut rng: Rng,
) {
    let Some(mut c) = connect(&addr) else { return };
    while !stop.load(Ordering::Relaxed) {
        let n = 5 + rng.below(26) as usize;
        let (base, round) = {
            let mut s = state.lock().unwrap();
            (s.reserve(false, p, n), s.round)
        };
        let ids: Vec<Id> = (0..n as u64)
            .map(|k| Id {
                fifo: false,
                stream: p,
                seq: base + k,
            })
            .collect();
        let bodies: Vec<Vec<u8>> = ids
            .iter()
            .map(|&id| make_body(id, round, 16 + rng.below(3000) as usize))
            .collect();
        let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
        let Ok(res) = c.send_bodies(STD_QUEUE, &refs) else {
            return;
        };
        record_sends(&state, ids, res);
    }
}

// A thread body: it owns what its thread uses.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn fifo_producer(addr: String, state: Shared, stop: Arc<AtomicBool>, mut rng: Rng) {
    let Some(mut c) = connect(&addr) else { return };
    while !stop.load(Ordering::Relaxed) {
        let n = 1 + rng.below(10) as usize;
        let mut ids = Vec::with_capacity(n);
        let round = {
            let mut s = state.lock().unwrap();
            for _ in 0..n {
                let g = rng.below(FIFO_GROUPS as u64) as usize;
                ids.push(Id {
                    fifo: true,
                    stream: g,
                    seq: s.reserve(true, g, 1),
                });
            }
            s.round
        };
        let bodies: Vec<Vec<u8>> = ids
            .iter()
            .map(|&id| make_body(id, round, 16 + rng.below(2000) as usize))
            .collect();
        let entries: Vec<SendEntry<'_>> = ids
            .iter()
            .zip(&bodies)
            .map(|(id, b)| SendEntry {
                body: b.as_slice().into(),
                group_id: Some(group_name(id.stream).into()),
                dedup_id: Some(format!("{}-{}", id.stream, id.seq).into()),
                ..Default::default()
            })
            .collect();
        let Ok(res) = c.send(&FIFO_QUEUE, &entries) else {
            return;
        };
        record_sends(&state, ids, res);
    }
}

/// Deletes `items` (marked tried first, acknowledged after); false if the connection failed.
/// With `deadline` (the earliest the receive's visibility can run out), an acknowledgement
/// that came after it is not counted as a sure delete: the handle may have been stale.
pub(crate) fn delete_all(
    c: &mut Connection,
    state: &Shared,
    fifo: bool,
    items: &[(Id, Vec<u8>)],
    deadline: Option<Instant>,
) -> bool {
    if items.is_empty() {
        return true;
    }
    let queue = if fifo { FIFO_QUEUE.as_str() } else { STD_QUEUE };
    {
        let mut s = state.lock().unwrap();
        for (id, _) in items {
            s.set(*id, DEL_TRIED);
        }
    }
    let handles: Vec<&[u8]> = items.iter().map(|(_, h)| h.as_slice()).collect();
    let Ok(res) = c.delete(queue, &handles) else {
        return false;
    };
    let sure = deadline.is_none_or(|d| Instant::now() < d);
    let mut s = state.lock().unwrap();
    for ((id, _), r) in items.iter().zip(res) {
        match r {
            Ok(()) => {
                s.held.remove(id);
                if sure {
                    s.set(*id, DEL_ACKED);
                }
                s.counts.deletes_acked += 1;
            }
            Err(_) => {
                // Refused: nothing was deleted.
                s.clear(*id, DEL_TRIED);
                s.counts.delete_entry_errors += 1;
            }
        }
    }
    true
}

/// Makes `items` visible again at once (ChangeMessageVisibility 0).
pub(crate) fn release_all(
    c: &mut Connection,
    state: &Shared,
    fifo: bool,
    items: &[(Id, Vec<u8>)],
) -> bool {
    if items.is_empty() {
        return true;
    }
    let queue = if fifo { FIFO_QUEUE.as_str() } else { STD_QUEUE };
    {
        let mut s = state.lock().unwrap();
        for (id, _) in items {
            if let Some(h) = s.held.get_mut(id) {
                h.release_tried = true;
            }
        }
    }
    let entries: Vec<(&[u8], u32)> = items.iter().map(|(_, h)| (h.as_slice(), 0)).collect();
    let ok = c.change_visibility(queue, &entries).is_ok();
    if ok {
        let mut s = state.lock().unwrap();
        s.counts.released += items.len() as u64;
        for (id, _) in items {
            s.held.remove(id);
        }
    }
    ok
}

/// Receives and checks; deletes most, releases some, leaves some in flight (standard).
// A thread body: it owns what its thread uses.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn consumer(
    addr: String,
    state: Shared,
    stop: Arc<AtomicBool>,
    fifo: bool,
    mut rng: Rng,
) {
    let Some(mut c) = connect(&addr) else { return };
    let queue = if fifo { FIFO_QUEUE.as_str() } else { STD_QUEUE };
    while !stop.load(Ordering::Relaxed) {
        let opts = ReceiveOptions {
            max_messages: if fifo { 10 } else { 1 + rng.below(50) as u32 },
            wait_time_ms: 100,
            visibility_timeout_s: Some(CONSUMER_VISIBILITY_S),
            ..Default::default()
        };
        let asked = Instant::now();
        state.lock().unwrap().last_receive = Some(asked);
        let Ok(ms) = c.receive(queue, &opts) else {
            return;
        };
        let deadline = asked + CONSUMER_VISIBILITY;
        let (mut del, mut rel) = (Vec::new(), Vec::new());
        {
            let mut s = state.lock().unwrap();
            for m in &ms {
                let Some(id) = s.check_delivery(fifo, m, false) else {
                    continue;
                };
                let h = m.receipt_handle.to_vec();
                s.held.insert(
                    id,
                    Held {
                        handle: h.clone(),
                        hidden_until: deadline,
                        release_tried: false,
                    },
                );
                match rng.below(10) {
                    0 => rel.push((id, h)),
                    // Left in flight: it comes back at its deadline, a restart or not.
                    1 if !fifo => {}
                    _ => del.push((id, h)),
                }
            }
        }
        if !delete_all(&mut c, &state, fifo, &del, Some(deadline))
            || !release_all(&mut c, &state, fifo, &rel)
        {
            return;
        }
    }
}
