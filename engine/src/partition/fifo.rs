//! FIFO scheduling of one partition, as SQS schedules a FIFO queue: which message groups
//! have messages in flight or set aside behind the cursor, and which message is handed
//! out next.
//!
//! Owns [`Fifo`] (and its [`Group`]s). Promises:
//! - a message is handed out only if no earlier message of its group is in flight from
//!   an earlier receive call: messages at or after an in-flight message wait, earlier ones
//!   that became visible again (their visibility ran out or was changed to 0) do not;
//! - within one receive call, the group holding the oldest available message is served
//!   first, as many of its messages as are available, in sequence order (also with a
//!   visibility timeout of 0), then the group holding the next oldest, and so on;
//! - memory is bounded by the in-flight limit plus `PartitionConfig::max_fifo_skipped`
//!   (only groups with something in flight or set aside are held).
//!
//! How: the cursor walks the log; a message it passes that cannot be handed out now is
//! set aside in its group's `pending` list (sorted). Groups whose oldest pending message
//! is available sit in `ready`, ordered by that message's sequence number, so the oldest
//! available message is always `ready`'s first entry (everything pending is older than
//! the cursor). A call serving a group whose pending list ran out looks ahead with the
//! cursor for that group's next messages, setting the others aside, as SQS's
//! look-ahead does.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::Partition;
use crate::hash::SeqMap;
use crate::index::SlotState;
use crate::record;

/// A FIFO message in flight.
#[derive(Clone, Copy, Debug)]
pub(super) struct InFlight {
    /// The receive call ([`Fifo::call`]) that handed it out.
    call: u64,
    /// When its retention period ends (`u64::MAX` until delivered): it leaves flight
    /// then at the latest, so an expired message never holds its group back.
    expires_ms: u64,
}

#[derive(Default)]
pub(super) struct Group {
    /// Messages of this group in flight: sequence number → who handed it out and when
    /// it expires.
    pub(super) in_flight: BTreeMap<u64, InFlight>,
    /// Ready messages of this group behind the cursor, in sequence order.
    pub(super) pending: VecDeque<u64>,
    /// This group's key in [`Fifo::ready`] (its first pending message), if it is there.
    ready_at: Option<u64>,
}

impl Group {
    /// The first message in flight from a call other than `call`: every later message
    /// of the group waits for it.
    fn blocked_from(&self, call: u64) -> Option<u64> {
        self.in_flight
            .iter()
            .find(|&(_, f)| f.call != call)
            .map(|(&s, _)| s)
    }

    /// The first pending message, if a new receive call may take it: it precedes every
    /// message of the group in flight.
    fn available_head(&self) -> Option<u64> {
        let head = *self.pending.front()?;
        match self.in_flight.keys().next() {
            Some(&first) if first < head => None,
            _ => Some(head),
        }
    }
}

/// How many messages of other groups a receive call sets aside while it looks ahead for
/// the next message of the group it serves, before it turns to the next group instead.
/// Without a bound of its own, one look-ahead past a backlog of single-message groups
/// spent the whole scan budget (64 Ki slots) and the call returned one message; SQS's
/// look-ahead is bounded too.
const LOOKAHEAD_MAX: u32 = 4096;

/// The call of a message found in flight at recovery: no receive call is ever this one
/// (calls count up from 1), so it holds its group's later messages from every call.
const RECOVERED_CALL: u64 = u64::MAX;

/// What the group a call is serving can give next.
enum Take {
    Seq(u64),
    /// An earlier message of the group is in flight from another call.
    Blocked,
    /// Nothing set aside: its next message, if any, is ahead of the cursor.
    Empty,
}

/// FIFO scheduling state: only groups with something in flight or pending are held.
///
/// Groups are known by a keyed 64-bit hash of their id (the key is random per `Fifo`, so
/// a client cannot aim two ids at one hash). Two ids with the same hash would share one
/// `Group`: their messages would then be delivered in one combined order, which still
/// keeps each group's own order (it only serializes more than needed), so no collision
/// check is needed.
#[derive(Default)]
pub(super) struct Fifo {
    pub(super) groups: SeqMap<Group>,
    /// Groups whose first pending message is available, by (that message, group key).
    ready: BTreeSet<(u64, u64)>,
    /// The group of every message this state tracks (in flight, or pending in a group),
    /// so that releasing or requeuing one never reads its record back from the log:
    /// the log is written with O_DIRECT, so such a read faults the page in from disk.
    /// Bounded by the in-flight limit plus `max_fifo_skipped`.
    pub(super) group_of_seq: SeqMap<u64>,
    pub(super) hasher: std::collections::hash_map::RandomState,
    pub(super) skipped: usize,
    /// Counts receive calls; see [`Group::in_flight`].
    call: u64,
    /// The group the current call is serving.
    current: Option<u64>,
    /// Messages the look-ahead for `current` may still set aside ([`LOOKAHEAD_MAX`]).
    lookahead_left: u32,
}

impl Fifo {
    /// The key of group id `id`.
    pub(super) fn key(&self, id: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(id)
    }

    /// Puts group `g` in `ready` (or takes it out) as its state now says; forgets a group
    /// with nothing in flight or pending.
    fn refresh(&mut self, g: u64) {
        let Some(group) = self.groups.get_mut(&g) else {
            return;
        };
        let want = group.available_head();
        if want != group.ready_at {
            if let Some(old) = group.ready_at.take() {
                self.ready.remove(&(old, g));
            }
            if let Some(new) = want {
                self.ready.insert((new, g));
                group.ready_at = Some(new);
            }
        }
        if group.in_flight.is_empty() && group.pending.is_empty() {
            debug_assert!(group.ready_at.is_none());
            self.groups.remove(&g);
        }
    }

    /// Sets a ready message aside in its group.
    fn set_aside(&mut self, seq: u64, g: u64) {
        let group = self.groups.entry(g).or_default();
        let at = group.pending.partition_point(|&s| s < seq);
        if group.pending.get(at) == Some(&seq) {
            return;
        }
        group.pending.insert(at, seq);
        self.skipped += 1;
        self.group_of_seq.insert(seq, g);
        self.refresh(g);
    }

    /// Counts `seq` in flight for the current call.
    fn take(&mut self, seq: u64, g: u64) {
        let call = self.call;
        self.group_of_seq.insert(seq, g);
        let group = self.groups.entry(g).or_default();
        let old = group.in_flight.insert(
            seq,
            InFlight {
                call,
                expires_ms: u64::MAX,
            },
        );
        debug_assert!(old.is_none(), "message {seq} taken twice");
        self.refresh(g);
    }

    /// Takes `head`, the first pending message of `g`, off its list: in flight for the
    /// current call if it is still `ready`, else forgotten.
    fn pop_pending(&mut self, g: u64, head: u64, ready: bool) {
        let group = self.groups.get_mut(&g).expect("group present");
        debug_assert_eq!(group.pending.front(), Some(&head));
        group.pending.pop_front();
        self.skipped -= 1;
        if ready {
            group.in_flight.insert(
                head,
                InFlight {
                    call: self.call,
                    expires_ms: u64::MAX,
                },
            );
        } else {
            self.group_of_seq.remove(&head);
        }
        self.refresh(g);
    }
}

impl Partition {
    /// Starts a receive call (or a take for a move): messages it hands out of one group
    /// do not hold back the group's next messages within the same call.
    pub(super) fn fifo_begin_call(&mut self) {
        self.fifo.call += 1;
        self.fifo.current = None;
    }

    /// Checks the FIFO bookkeeping (debug builds; a no-op for standard queues): every
    /// message it tracks is either set aside in a group (`skipped`) or in flight, so the
    /// group map holds exactly `skipped + in_flight` entries; with few groups, the
    /// per-group counts add up and `ready` lists exactly the groups whose first pending
    /// message is available. Called where a public call ends.
    pub(crate) fn debug_check_fifo(&self) {
        if !cfg!(debug_assertions) || !self.params.fifo {
            return;
        }
        let f = &self.fifo;
        debug_assert_eq!(
            f.group_of_seq.len(),
            f.skipped + self.counters.in_flight as usize,
            "FIFO group map: skipped {}, in flight {}",
            f.skipped,
            self.counters.in_flight
        );
        if f.groups.len() <= 64 {
            let pending: usize = f.groups.values().map(|g| g.pending.len()).sum();
            let in_flight: usize = f.groups.values().map(|g| g.in_flight.len()).sum();
            debug_assert_eq!(pending, f.skipped, "FIFO messages set aside");
            debug_assert_eq!(
                in_flight as u64, self.counters.in_flight,
                "FIFO groups in flight"
            );
            for (&g, group) in &f.groups {
                debug_assert_eq!(group.ready_at, group.available_head(), "group {g}");
                debug_assert!(group
                    .pending
                    .iter()
                    .zip(group.pending.iter().skip(1))
                    .all(|(a, b)| a < b));
            }
            debug_assert_eq!(
                f.ready.len(),
                f.groups.values().filter(|g| g.ready_at.is_some()).count()
            );
        }
    }

    /// The FIFO group key of a message, read from its record: from a batch still kept
    /// in memory if it is there, else through the log's mmap. None if the message or its
    /// record is gone, or the record names no group.
    pub(super) fn read_group_key(&self, seq: u64) -> Option<u64> {
        record::peek_group(self.record_bytes(seq)?).map(|g| self.fifo.key(g))
    }

    /// A message's record: from a batch still kept in memory if it is there, else
    /// through the log's mmap (unchecked). None if the message is gone.
    fn record_bytes(&self, seq: u64) -> Option<&[u8]> {
        let (pos, slot) = self.slot_of(seq)?;
        let seg = &self.segs[pos];
        Some(
            self.retained
                .find(seq, seg.base_seq, u64::from(slot.offset), slot.len as usize)
                .unwrap_or_else(|| seg.record_bytes(&slot)),
        )
    }

    /// The group key of `seq`: remembered, or read from its record.
    fn group_key(&self, seq: u64) -> u64 {
        self.fifo
            .group_of_seq
            .get(&seq)
            .copied()
            .or_else(|| self.read_group_key(seq))
            .unwrap_or_else(|| self.fifo.key(b""))
    }

    /// A FIFO message left flight (deleted, expired, moved, visible again), or one
    /// [`Partition::next_fifo`] handed out was not delivered after all: the group's later
    /// messages may move on. Returns the message's group key, for a requeue.
    pub(crate) fn fifo_release(&mut self, seq: u64) -> Option<u64> {
        let g = match self.fifo.group_of_seq.remove(&seq) {
            Some(g) => g,
            None => self.read_group_key(seq)?,
        };
        if let Some(group) = self.fifo.groups.get_mut(&g) {
            group.in_flight.remove(&seq);
            let call = self.fifo.call;
            if self.fifo.current == Some(g) && !group.in_flight.values().any(|f| f.call == call) {
                // Handed out by this call but not delivered (expired, damaged, a dead
                // letter), and nothing else of the group was: the group did not hold the
                // oldest available message after all, so the call picks again.
                self.fifo.current = None;
            }
            self.fifo.refresh(g);
        }
        Some(g)
    }

    /// When an in-flight message must come back: at `visible_at_ms`, or at the end of
    /// its retention period if that is sooner (FIFO: known once delivered), so that an
    /// expired message leaves flight and stops holding its group back.
    pub(super) fn in_flight_deadline(&self, seq: u64, visible_at_ms: u64) -> u64 {
        if !self.params.fifo {
            return visible_at_ms;
        }
        let expires = self
            .fifo
            .group_of_seq
            .get(&seq)
            .and_then(|g| self.fifo.groups.get(g))
            .and_then(|g| g.in_flight.get(&seq))
            .map_or(u64::MAX, |f| f.expires_ms);
        visible_at_ms.min(expires)
    }

    /// A FIFO message found in flight at recovery (its deadline still ahead): its group
    /// waits for it, as if an earlier receive call had delivered it; it leaves flight by
    /// its retention end at the latest, as a message delivered since the start does.
    pub(crate) fn fifo_hold(&mut self, seq: u64) {
        let g = self.group_key(seq);
        let sent_at_ms = self
            .record_bytes(seq)
            .and_then(record::peek_header)
            .map(|h| h.sent_at_ms);
        let expires_ms =
            sent_at_ms.map_or(u64::MAX, |t| t.saturating_add(self.params.retention_ms));
        self.fifo.group_of_seq.insert(seq, g);
        let group = self.fifo.groups.entry(g).or_default();
        let old = group.in_flight.insert(
            seq,
            InFlight {
                call: RECOVERED_CALL,
                expires_ms,
            },
        );
        debug_assert!(old.is_none(), "message {seq} held twice");
        self.fifo.refresh(g);
        if let Some((_, slot)) = self.slot_of(seq) {
            self.timers.insert(seq, slot.visible_at_ms.min(expires_ms));
        }
    }

    /// A FIFO message handed out by [`Partition::next_fifo`] was delivered; it expires at
    /// `expires_ms`.
    pub(super) fn fifo_delivered(&mut self, seq: u64, expires_ms: u64) {
        let f = self
            .fifo
            .group_of_seq
            .get(&seq)
            .and_then(|g| self.fifo.groups.get_mut(g))
            .and_then(|g| g.in_flight.get_mut(&seq));
        debug_assert!(f.is_some(), "delivered {seq} is not in flight in its group");
        if let Some(f) = f {
            f.expires_ms = expires_ms;
        }
    }

    /// A ready FIFO message behind the cursor goes back in line, in its group's order.
    /// `group` is its key when the caller knows it (from [`Partition::fifo_release`]).
    pub(super) fn fifo_requeue(&mut self, seq: u64, group: Option<u64>) {
        let Some(g) = group.or_else(|| self.read_group_key(seq)) else {
            return;
        };
        self.fifo.set_aside(seq, g);
    }

    /// The next message to hand out (its slot is Ready), counted in flight for its group
    /// (the caller delivers it, or gives it back with [`Partition::fifo_release`]).
    pub(super) fn next_fifo(&mut self, now_ms: u64) -> Option<u64> {
        for _ in 0..self.cfg.scan_budget {
            if let Some(g) = self.fifo.current {
                match self.fifo_take_next_of(g) {
                    Take::Seq(seq) => return Some(seq),
                    Take::Blocked => self.fifo.current = None,
                    Take::Empty => {
                        // Look ahead for the group's next message.
                        if self.fifo.skipped >= self.cfg.max_fifo_skipped
                            || self.fifo.lookahead_left == 0
                        {
                            // SQS, too, looks only so far past busy groups.
                            self.fifo.current = None;
                        } else if let Some(seq) = self.advance_cursor(now_ms) {
                            let key = self.group_key(seq);
                            if key == g {
                                self.fifo.take(seq, g);
                                return Some(seq);
                            }
                            self.fifo.set_aside(seq, key);
                            self.fifo.lookahead_left -= 1;
                        } else {
                            self.fifo.current = None;
                        }
                    }
                }
                continue;
            }
            if let Some(&(_, g)) = self.fifo.ready.first() {
                // The group holding the oldest available message (once its first pending
                // message is known to be still there; else the order is looked at again).
                if !self.fifo_drop_stale_heads(g) {
                    self.fifo.current = Some(g);
                    self.fifo.lookahead_left = LOOKAHEAD_MAX;
                }
                continue;
            }
            if self.fifo.skipped >= self.cfg.max_fifo_skipped {
                return None;
            }
            let seq = self.advance_cursor(now_ms)?;
            let g = self.group_key(seq);
            let call = self.fifo.call;
            let waits = self.fifo.groups.get(&g).is_some_and(|group| {
                !group.pending.is_empty() || group.blocked_from(call).is_some()
            });
            if waits {
                self.fifo.set_aside(seq, g);
                continue;
            }
            self.fifo.take(seq, g);
            self.fifo.current = Some(g);
            self.fifo.lookahead_left = LOOKAHEAD_MAX;
            return Some(seq);
        }
        // Budget spent setting messages of busy groups aside; the next call goes on.
        None
    }

    fn is_ready(&self, seq: u64) -> bool {
        matches!(self.slot_of(seq), Some((_, s)) if s.state == SlotState::Ready)
    }

    /// The next message of group `g` from what is set aside, for the current call.
    fn fifo_take_next_of(&mut self, g: u64) -> Take {
        let call = self.fifo.call;
        loop {
            let Some(group) = self.fifo.groups.get(&g) else {
                return Take::Empty;
            };
            let blocked = group.blocked_from(call);
            let Some(&head) = group.pending.front() else {
                return if blocked.is_some() {
                    Take::Blocked
                } else {
                    Take::Empty
                };
            };
            if blocked.is_some_and(|b| b < head) {
                return Take::Blocked;
            }
            // Deleted, expired or moved since it was set aside: dropped, and look on.
            let ready = self.is_ready(head);
            self.fifo.pop_pending(g, head, ready);
            if ready {
                return Take::Seq(head);
            }
        }
    }

    /// Drops the first pending messages of `g` that are no longer ready (deleted,
    /// expired, moved since they were set aside). True if any was dropped.
    fn fifo_drop_stale_heads(&mut self, g: u64) -> bool {
        let mut dropped = false;
        while let Some(&head) = self.fifo.groups.get(&g).and_then(|gr| gr.pending.front()) {
            if self.is_ready(head) {
                break;
            }
            self.fifo.pop_pending(g, head, false);
            dropped = true;
        }
        dropped
    }
}
