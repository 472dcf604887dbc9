//! The ledger of what the client saw: per stream and sequence number, whether a send was
//! attempted or acknowledged, a delivery seen, a delete attempted or acknowledged; the
//! receipts the consumers hold (a handle and the earliest its visibility can run out); the
//! round's counts and the violations found. Owns the check of each single delivery.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use spool_client::Message;

use crate::body::{parse_body, Id};
use crate::{FIFO_QUEUE, STD_QUEUE};

pub(crate) const TRIED: u8 = 1; // a send was attempted
pub(crate) const ACKED: u8 = 2; // the daemon acknowledged the send
pub(crate) const SEEN: u8 = 4; // received at least once
pub(crate) const DEL_TRIED: u8 = 8; // a delete was attempted (the message may be gone)
pub(crate) const DEL_ACKED: u8 = 16; // the daemon acknowledged the delete (it must stay gone)
pub(crate) const DRAINED: u8 = 32; // received in the current verification drain

/// The load's consumers receive with this visibility timeout: short, so that what a kill
/// leaves in flight (a restart keeps it in flight) comes back within the drain.
pub(crate) const CONSUMER_VISIBILITY_S: u32 = 2;
pub(crate) const CONSUMER_VISIBILITY: Duration = Duration::from_secs(CONSUMER_VISIBILITY_S as u64);

/// How early a visibility deadline may pass by our clock (see `check_delivery`).
const DEADLINE_SLACK: Duration = Duration::from_millis(50);

/// A consumer's receipt of a message it received and has not resolved (deleted or
/// released with an acknowledgement).
pub(crate) struct Held {
    pub(crate) handle: Vec<u8>,
    /// The receive was requested at this moment minus the visibility timeout, so its
    /// deadline is no earlier than this.
    pub(crate) hidden_until: Instant,
    /// A release (ChangeMessageVisibility 0) was attempted: it may be visible already.
    pub(crate) release_tried: bool,
}

#[derive(Default)]
pub(crate) struct Stream {
    pub(crate) flags: Vec<u8>,
    /// FIFO: the highest sequence number among first deliveries.
    pub(crate) last_first: Option<u64>,
}

#[derive(Default, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) sends_tried: u64,
    pub(crate) sends_acked: u64,
    pub(crate) send_entry_errors: u64,
    pub(crate) deletes_acked: u64,
    pub(crate) delete_entry_errors: u64,
    pub(crate) released: u64,
    pub(crate) deliveries_checked: u64,
    pub(crate) drained: u64,
    pub(crate) drain_duplicates: u64,
    pub(crate) unacked_seen: u64,
    /// Drains after which the queue counts were off at first and then settled.
    pub(crate) count_lags: u64,
    /// Messages received before a kill and deleted after the restart by their
    /// pre-kill handle.
    pub(crate) prekill_deletes: u64,
    /// Messages received before a kill and checked to stay hidden until their deadline.
    pub(crate) prekill_hidden: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, o: &Counts) {
        self.sends_tried += o.sends_tried;
        self.sends_acked += o.sends_acked;
        self.send_entry_errors += o.send_entry_errors;
        self.deletes_acked += o.deletes_acked;
        self.delete_entry_errors += o.delete_entry_errors;
        self.released += o.released;
        self.deliveries_checked += o.deliveries_checked;
        self.drained += o.drained;
        self.drain_duplicates += o.drain_duplicates;
        self.unacked_seen += o.unacked_seen;
        self.count_lags += o.count_lags;
        self.prekill_deletes += o.prekill_deletes;
        self.prekill_hidden += o.prekill_hidden;
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) std: Vec<Stream>,
    pub(crate) fifo: Vec<Stream>,
    pub(crate) violations: Vec<String>,
    pub(crate) counts: Counts,
    pub(crate) round: u64,
    /// Receipts the consumers hold (see [`Held`]).
    pub(crate) held: HashMap<Id, Held>,
    /// Messages received before the kill whose receive must still hide them: receiving
    /// one before this moment is a violation.
    pub(crate) hidden: HashMap<Id, Instant>,
    /// When a consumer last asked for messages (a receive whose answer the kill lost
    /// hides what it took until this plus the visibility timeout).
    pub(crate) last_receive: Option<Instant>,
}

impl State {
    pub(crate) fn stream(&mut self, fifo: bool, i: usize) -> Option<&mut Stream> {
        if fifo {
            self.fifo.get_mut(i)
        } else {
            self.std.get_mut(i)
        }
    }

    pub(crate) fn violation(&mut self, what: &str) {
        let round = self.round;
        if self.violations.len() < 1000 {
            self.violations.push(format!("round {round}: {what}"));
        }
    }

    /// Reserves `n` sequence numbers of a stream (marked tried).
    pub(crate) fn reserve(&mut self, fifo: bool, i: usize, n: usize) -> u64 {
        let s = self.stream(fifo, i).expect("stream exists");
        let base = s.flags.len() as u64;
        s.flags.extend(std::iter::repeat_n(TRIED, n));
        self.counts.sends_tried += n as u64;
        base
    }

    pub(crate) fn set(&mut self, id: Id, bit: u8) {
        if let Some(f) = self
            .stream(id.fifo, id.stream)
            .and_then(|s| s.flags.get_mut(id.seq as usize))
        {
            *f |= bit;
        }
    }

    pub(crate) fn clear(&mut self, id: Id, bit: u8) {
        if let Some(f) = self
            .stream(id.fifo, id.stream)
            .and_then(|s| s.flags.get_mut(id.seq as usize))
        {
            *f &= !bit;
        }
    }

    pub(crate) fn flags(&mut self, id: Id) -> u8 {
        self.stream(id.fifo, id.stream)
            .and_then(|s| s.flags.get(id.seq as usize).copied())
            .unwrap_or(0)
    }

    /// Checks one delivery from `queue`; returns its identity if it is ours and intact.
    pub(crate) fn check_delivery(
        &mut self,
        fifo: bool,
        m: &Message<'_>,
        drain: bool,
    ) -> Option<Id> {
        self.counts.deliveries_checked += 1;
        let queue = if fifo { FIFO_QUEUE.as_str() } else { STD_QUEUE };
        let (id, _round) = match parse_body(&m.body) {
            Ok(v) => v,
            Err(e) => {
                let shown = String::from_utf8_lossy(&m.body[..m.body.len().min(80)]).to_string();
                self.violation(&format!(
                    "corrupt body from {queue}: {e} (starts {shown:?})"
                ));
                return None;
            }
        };
        if id.fifo != fifo {
            self.violation(&format!("{id} received from the wrong queue {queue}"));
            return None;
        }
        if fifo && m.group_id.as_deref() != Some(group_name(id.stream).as_str()) {
            self.violation(&format!(
                "{id} received with group id {:?}",
                m.group_id.as_deref()
            ));
        }
        let f = self.flags(id);
        if f & TRIED == 0 {
            self.violation(&format!("{id} received but never sent"));
            return None;
        }
        if f & DEL_ACKED != 0 {
            self.violation(&format!(
                "{id}: its delete was acknowledged, yet it was received again (receive count {})",
                m.receive_count
            ));
        }
        if let Some(until) = self.hidden.remove(&id) {
            // The daemon counts in whole milliseconds from a clock its shard reads once
            // per turn of its loop: a deadline may come this much before our bound.
            if Instant::now() + DEADLINE_SLACK < until {
                self.violation(&format!(
                    "{id}: received before the kill, in flight until {:?} from now, yet received again after the restart",
                    until - Instant::now()
                ));
            }
        }
        if f & ACKED == 0 && f & SEEN == 0 {
            self.counts.unacked_seen += 1;
        }
        if fifo && f & SEEN == 0 {
            let s = self.stream(true, id.stream).expect("checked above");
            let last = s.last_first;
            s.last_first = Some(id.seq.max(last.unwrap_or(0)));
            if let Some(last) = last {
                if id.seq <= last {
                    self.violation(&format!(
                        "FIFO order: group {} delivered seq {} for the first time after seq {last}",
                        id.stream, id.seq
                    ));
                }
            }
        }
        if drain {
            if f & DRAINED != 0 {
                self.counts.drain_duplicates += 1;
            } else {
                self.counts.drained += 1;
            }
            self.set(id, DRAINED);
        }
        self.set(id, SEEN);
        Some(id)
    }
}

pub(crate) fn group_name(g: usize) -> String {
    format!("g{g}")
}

pub(crate) type Shared = Arc<Mutex<State>>;
