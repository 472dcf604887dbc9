//! Fair queues on a standard partition (AWS's 2025 feature): a message's MessageGroupId
//! names its tenant, and when one tenant has built a large backlog, the other tenants'
//! new messages are received ahead of it instead of waiting for the cursor to walk the
//! whole backlog in log order.
//!
//! Owns the tenants' state ([`Fair`]): per tenant, the messages staged or committed and
//! not yet received once (by a keyed 64-bit hash of the group id, as `fifo.rs` keys its
//! groups), which tenants are noisy, and the *fast lane*: sequence numbers of quiet
//! tenants' messages committed while a noisy tenant exists, served before the redelivery
//! line and the cursor (`receive.rs`, [`Partition::fair_next`]).
//!
//! How a tenant is judged (AWS flags a tenant holding more than 10 % of the queue's
//! in-flight messages and at least 30 of them; Spool judges the backlog, which is what
//! makes others wait in a log-ordered partition):
//! - noisy once it has at least [`NOISY_MIN_BACKLOG_MSGS`] messages not yet received and
//!   more than a tenth of all tenants' such messages; no longer noisy when it falls below
//!   half that minimum or to a twentieth of the backlog (hysteresis, so a tenant near the
//!   line does not flip on every message);
//! - others are prioritised only while some noisy tenant sent a message in the last
//!   [`NOISY_SILENT_AFTER_MS`] (AWS: a tenant that sent nothing for 5 minutes is no longer
//!   noisy);
//! - a message without a group id is a tenant of its own (as AWS treats it), so it is
//!   quiet; in a partition where no message carries a group id nothing is ever noisy and
//!   the order is the plain standard one.
//!
//! Promises: standard-queue semantics are unchanged apart from the order (no grouping, no
//! locking): the lane holds seqs only, a popped seq is delivered only if its slot is still
//! Ready (so a message delivered by the cursor first is skipped here, and the cursor
//! skips one the lane delivered, as it is no longer Ready), and every message is still
//! reached by the cursor, so nothing is lost or delivered twice. Memory is bounded
//! ([`MAX_TENANTS`], [`FAST_LANE_MAX_MSGS`]), never O(backlog). FIFO partitions never
//! touch any of it (every entry point returns at once). Nothing here survives a restart:
//! counts start at zero on open and count only what is sent after it (`floor`).
//!
//! The counts are a heuristic, not an invariant: a message that leaves the queue without
//! being received (expired, purged, moved to a dead-letter queue, damaged) is not taken
//! off its tenant's count. An over-count can only make a tenant look noisier; the state is
//! reset whenever the partition holds no message that was never received, so it cannot
//! drift for long.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::BuildHasher;

use super::stage::NewMessage;
use super::Partition;
use crate::hash::SeqMap;
use crate::index::SlotState;

/// A tenant with fewer messages waiting than this is never noisy: below about ten full
/// receives (10 messages each) the cursor reaches any message within a few calls anyway,
/// so reordering would buy nothing. (AWS's in-flight minimum is 30.)
pub const NOISY_MIN_BACKLOG_MSGS: u32 = 100;

/// A tenant becomes noisy above 1/this of all tenants' waiting messages (AWS: 10 %).
const NOISY_SHARE_DIVISOR: u64 = 10;

/// A noisy tenant stops being noisy at or below 1/this of the backlog: half the share it
/// took to become noisy, so a tenant near the line does not flip on every message.
const QUIET_SHARE_DIVISOR: u64 = 20;

/// Noisy tenants that sent nothing for this long no longer cause others to be
/// prioritised (AWS: 5 consecutive minutes).
pub const NOISY_SILENT_AFTER_MS: u64 = 5 * 60 * 1000;

/// Most seqs in the fast lane (staged and committed together): 32 KiB per partition. A
/// quiet tenant's message that finds the lane full waits for the cursor, as in a plain
/// standard queue. 4 096 is hundreds of full receives, far more than quiet tenants
/// (each a small share by definition) send in the time a consumer takes to drain it.
pub const FAST_LANE_MAX_MSGS: usize = 4096;

/// Most tenants tracked per partition (about 24 bytes each, so at most ~400 KiB): a
/// tenant arriving past the bound is not counted and is treated as quiet, like a message
/// without a group id.
pub(crate) const MAX_TENANTS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, Default)]
struct Tenant {
    /// Staged or committed and never received.
    waiting: u32,
    noisy: bool,
}

/// A standard partition's tenant state (see the module doc).
#[derive(Debug, Default)]
pub(super) struct Fair {
    hasher: RandomState,
    tenants: SeqMap<Tenant>,
    /// Sum of every tenant's `waiting`.
    backlog: u64,
    /// Tenants with `noisy` set.
    noisy: u32,
    /// Last time a noisy tenant staged a message.
    noisy_sent_ms: u64,
    /// The first seq counted since open: a message before it was never counted, so its
    /// first receive takes nothing off (None until something is counted).
    floor: Option<u64>,
    /// Staged seqs bound for the lane, waiting for their commit (ascending).
    staged: VecDeque<u64>,
    /// Committed seqs of quiet tenants, served before the cursor (ascending).
    lane: VecDeque<u64>,
}

impl Fair {
    fn key(&self, group: &str) -> u64 {
        self.hasher.hash_one(group.as_bytes())
    }

    /// Whether quiet tenants' messages are prioritised now.
    fn prioritizing(&self, now_ms: u64) -> bool {
        self.noisy > 0 && now_ms < self.noisy_sent_ms.saturating_add(NOISY_SILENT_AFTER_MS)
    }

    /// Re-judges tenant `key` after its count changed; removes it at zero. Returns
    /// whether it is noisy now.
    fn judge(&mut self, key: u64) -> bool {
        let backlog = self.backlog;
        let Some(t) = self.tenants.get_mut(&key) else {
            return false;
        };
        let w = u64::from(t.waiting);
        let noisy = if t.noisy {
            w >= u64::from(NOISY_MIN_BACKLOG_MSGS / 2) && w * QUIET_SHARE_DIVISOR > backlog
        } else {
            w >= u64::from(NOISY_MIN_BACKLOG_MSGS) && w * NOISY_SHARE_DIVISOR > backlog
        };
        if noisy != t.noisy {
            t.noisy = noisy;
            if noisy {
                self.noisy += 1;
            } else {
                self.noisy -= 1;
            }
        }
        if t.waiting == 0 {
            self.tenants.remove(&key);
        }
        debug_assert!(self.noisy as usize <= self.tenants.len());
        noisy
    }

    /// Counts one more waiting message of tenant `group`; returns whether it is noisy.
    fn count(&mut self, now_ms: u64, group: &str) -> bool {
        let key = self.key(group);
        if self.tenants.len() >= MAX_TENANTS && !self.tenants.contains_key(&key) {
            return false;
        }
        let t = self.tenants.entry(key).or_default();
        t.waiting = t.waiting.saturating_add(1);
        self.backlog += 1;
        let noisy = self.judge(key);
        if noisy {
            self.noisy_sent_ms = now_ms;
        }
        noisy
    }

    /// Forgets every count: called when no never-received message is left, where every
    /// count is zero by definition (this is what undoes drift).
    fn reset(&mut self) {
        self.tenants.clear();
        self.backlog = 0;
        self.noisy = 0;
    }
}

impl Partition {
    /// Stage time (`stage.rs`): counts message `seq` for its tenant and, when it is a
    /// quiet tenant's while a noisy one is backlogged, marks it for the fast lane.
    pub(super) fn fair_staged(&mut self, now_ms: u64, seq: u64, m: &NewMessage<'_>) {
        if self.params.fifo {
            return;
        }
        let f = &mut self.fair;
        let noisy = match m.group_id {
            Some(g) => {
                f.floor.get_or_insert(seq);
                f.count(now_ms, g)
            }
            None => false,
        };
        let room = f.staged.len() + f.lane.len() < FAST_LANE_MAX_MSGS;
        // A delayed message is not Ready at its commit: the lane would only drop it.
        if !noisy && room && m.visible_at_ms <= now_ms && f.prioritizing(now_ms) {
            debug_assert!(f.staged.back().is_none_or(|&b| b < seq));
            f.staged.push_back(seq);
        }
    }

    /// Commit time (`commit.rs`, after `committed_seq` advanced): the batch's lane-bound
    /// messages join the lane.
    pub(super) fn fair_committed(&mut self) {
        let committed = self.committed_seq;
        let f = &mut self.fair;
        while f.staged.front().is_some_and(|&s| s < committed) {
            let seq = f.staged.pop_front().expect("front exists");
            f.lane.push_back(seq);
        }
        debug_assert!(f.staged.len() + f.lane.len() <= FAST_LANE_MAX_MSGS);
    }

    /// The next fast-lane message still Ready, if any (`receive.rs`, before the
    /// redelivery line and the cursor). Each entry is popped once, so the work is bounded
    /// by the lane's length.
    pub(super) fn fair_next(&mut self) -> Option<u64> {
        if self.params.fifo {
            return None;
        }
        while let Some(seq) = self.fair.lane.pop_front() {
            if matches!(self.slot_of(seq), Some((_, s)) if s.state == SlotState::Ready) {
                return Some(seq);
            }
        }
        let c = self.counters;
        if c.ready == 0
            && c.delayed == 0
            && self.next_seq == self.committed_seq
            && !self.fair.tenants.is_empty()
        {
            self.fair.reset();
        }
        None
    }

    /// Delivery (`receive.rs`): a message received for the first time is no longer
    /// waiting. `first` says whether it had never been received.
    pub(super) fn fair_delivered(&mut self, seq: u64, first: bool, group: Option<&str>) {
        let f = &mut self.fair;
        let (Some(g), Some(floor)) = (group, f.floor) else {
            return;
        };
        if self.params.fifo || !first || seq < floor {
            return;
        }
        let key = f.key(g);
        let Some(t) = f.tenants.get_mut(&key) else {
            return;
        };
        t.waiting -= 1;
        f.backlog -= 1;
        f.judge(key);
    }

    /// Messages in the fast lane (committed, or staged and bound for it).
    pub fn fair_lane_len(&self) -> usize {
        self.fair.staged.len() + self.fair.lane.len()
    }

    /// Tenants currently judged noisy.
    pub fn fair_noisy_tenants(&self) -> u32 {
        self.fair.noisy
    }
}
