//! ReceiveRequestAttemptId on FIFO queues, as SQS documents it: a ReceiveMessage retried
//! with the same attempt id within five minutes returns the same messages with the same
//! receipt handles (and resets their visibility timeout), unless one of them was deleted
//! or had its visibility changed since; then the retry is a new receive.
//!
//! Owns [`ReceiveAttempts`]: the recent attempts of every FIFO queue, shared by the SQS
//! connections of all shards (a retry may come on another connection). Promises: at
//! most [`ATTEMPTS_MAX`] attempts are remembered (the oldest are forgotten first), each
//! for at most [`ATTEMPT_WINDOW`]; an attempt any of whose handles was used for a delete
//! or a visibility change through the SQS API, or any of whose messages was received
//! again through it, is forgotten at once; a retry asking for a visibility timeout of 0
//! is a new receive. A delete or visibility
//! change over the binary protocol is not seen here: the retry then finds the message no
//! longer in flight under that handle (resetting its visibility fails) and is a new
//! receive too. A receive over the binary protocol is not seen either: a retry after the
//! message was received again that way would reset the newer receive's timeout and
//! return the older handle (the binary protocol has no attempt ids; documented).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use spool_model::limits::DEDUP_WINDOW_MS;
use spool_protocol::Message;

/// How long an attempt id is remembered: SQS's deduplication interval, five minutes.
pub const ATTEMPT_WINDOW: Duration = Duration::from_millis(DEDUP_WINDOW_MS);

/// Most attempts remembered at once, over every queue: bounds memory (an attempt holds
/// up to 10 messages of up to 1 MiB, but only as long as they stay in flight unchanged).
pub const ATTEMPTS_MAX: usize = 10_000;

/// One remembered receive.
#[derive(Clone)]
pub struct Attempt {
    /// What it returned, with the wire receipt handles.
    pub messages: Vec<Message<'static>>,
}

struct Entry {
    at: Instant,
    attempt: Attempt,
}

#[derive(Default)]
struct Inner {
    by_key: HashMap<(String, String), Entry>,
    /// The attempt each remembered receipt handle (wire form) was returned by, so that
    /// a delete or visibility change finds its attempt without a scan.
    by_handle: HashMap<Vec<u8>, (String, String)>,
    /// The attempt each remembered message (by message id and queue) was returned by, so
    /// that receiving it again forgets that attempt.
    by_message: HashMap<(String, [u8; 16]), (String, String)>,
    /// Keys in the order they were remembered (a key may appear again after it was
    /// replaced; the stale position is skipped when reached).
    order: VecDeque<((String, String), Instant)>,
}

/// Recent receive attempts, by (queue name, attempt id).
#[derive(Default)]
pub struct ReceiveAttempts {
    inner: Mutex<Inner>,
}

impl ReceiveAttempts {
    /// The attempt `id` on `queue`, if it was made within the window and not forgotten.
    pub fn get(&self, queue: &str, id: &str, now: Instant) -> Option<Attempt> {
        let mut inner = self.lock();
        inner.expire(now);
        inner
            .by_key
            .get(&(queue.to_string(), id.to_string()))
            .map(|e| e.attempt.clone())
    }

    /// Remembers what attempt `id` on `queue` returned.
    pub fn remember(&self, queue: &str, id: &str, attempt: Attempt, now: Instant) {
        let mut inner = self.lock();
        inner.expire(now);
        let key = (queue.to_string(), id.to_string());
        inner.remove(&key);
        for m in &attempt.messages {
            inner
                .by_handle
                .insert(m.receipt_handle.to_vec(), key.clone());
            inner
                .by_message
                .insert((queue.to_string(), m.message_id), key.clone());
        }
        inner.by_key.insert(key.clone(), Entry { at: now, attempt });
        inner.order.push_back((key, now));
        while inner.by_key.len() > ATTEMPTS_MAX {
            inner.pop_oldest();
        }
        debug_assert!(inner.by_key.len() <= ATTEMPTS_MAX);
    }

    /// Forgets attempt `id` on `queue` (its messages were modified).
    pub fn forget(&self, queue: &str, id: &str) {
        self.lock().remove(&(queue.to_string(), id.to_string()));
    }

    /// Forgets every attempt on `queue` that returned one of `handles` (wire handles):
    /// those messages were deleted or their visibility changed.
    pub fn forget_handles(&self, queue: &str, handles: &[&[u8]]) {
        let mut inner = self.lock();
        if inner.by_key.is_empty() {
            return;
        }
        for h in handles {
            if let Some(key) = inner.by_handle.get(*h).cloned() {
                if key.0 == queue {
                    inner.remove(&key);
                }
            }
        }
    }

    /// Forgets every attempt on `queue` that returned one of the messages `ids`: they were
    /// received again, so its handles are no longer the latest (a retry must not return
    /// them, though an older handle can still change their visibility).
    pub fn forget_messages(&self, queue: &str, ids: &[[u8; 16]]) {
        let mut inner = self.lock();
        if inner.by_key.is_empty() {
            return;
        }
        for id in ids {
            if let Some(key) = inner.by_message.get(&(queue.to_string(), *id)).cloned() {
                inner.remove(&key);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-changed in a way
        // that matters (each call is one insert or removal): go on with them.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Inner {
    /// Forgets attempt `key` and its handles.
    fn remove(&mut self, key: &(String, String)) {
        if let Some(e) = self.by_key.remove(key) {
            for m in &e.attempt.messages {
                if self.by_handle.get(&m.receipt_handle[..]) == Some(key) {
                    self.by_handle.remove(&m.receipt_handle[..]);
                }
                let mk = (key.0.clone(), m.message_id);
                if self.by_message.get(&mk) == Some(key) {
                    self.by_message.remove(&mk);
                }
            }
        }
        debug_assert!(!self.by_key.is_empty() || self.by_handle.is_empty());
        debug_assert!(!self.by_key.is_empty() || self.by_message.is_empty());
    }

    fn expire(&mut self, now: Instant) {
        while let Some((_, at)) = self.order.front() {
            if now.duration_since(*at) < ATTEMPT_WINDOW {
                break;
            }
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        let Some((key, at)) = self.order.pop_front() else {
            return;
        };
        // Only if the entry is the one remembered then (not a later one under the key).
        if self.by_key.get(&key).is_some_and(|e| e.at == at) {
            self.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(handle: &[u8]) -> Attempt {
        Attempt {
            messages: vec![Message {
                receipt_handle: handle.to_vec().into(),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn an_attempt_is_found_within_the_window_and_not_after() {
        let a = ReceiveAttempts::default();
        let t0 = Instant::now();
        a.remember("q.fifo", "x", attempt(b"h1"), t0);
        assert!(a
            .get("q.fifo", "x", t0 + Duration::from_secs(299))
            .is_some());
        assert!(a.get("other.fifo", "x", t0).is_none());
        assert!(a.get("q.fifo", "x", t0 + ATTEMPT_WINDOW).is_none());
    }

    #[test]
    fn a_used_handle_forgets_its_attempt_only() {
        let a = ReceiveAttempts::default();
        let t0 = Instant::now();
        a.remember("q.fifo", "x", attempt(b"h1"), t0);
        a.remember("q.fifo", "y", attempt(b"h2"), t0);
        a.forget_handles("q.fifo", &[b"h1"]);
        assert!(a.get("q.fifo", "x", t0).is_none());
        assert!(a.get("q.fifo", "y", t0).is_some());
    }

    #[test]
    fn a_new_attempt_under_an_old_id_drops_the_old_handles() {
        let a = ReceiveAttempts::default();
        let t0 = Instant::now();
        a.remember("q.fifo", "x", attempt(b"h1"), t0);
        a.remember("q.fifo", "x", attempt(b"h2"), t0);
        // h1 no longer belongs to any attempt: using it forgets nothing.
        a.forget_handles("q.fifo", &[b"h1"]);
        assert!(a.get("q.fifo", "x", t0).is_some());
        a.forget_handles("q.fifo", &[b"h2"]);
        assert!(a.get("q.fifo", "x", t0).is_none());
        assert!(a.lock().by_handle.is_empty());
    }

    #[test]
    fn a_message_received_again_forgets_its_attempt() {
        let a = ReceiveAttempts::default();
        let t0 = Instant::now();
        a.remember("q.fifo", "x", attempt(b"h1"), t0);
        a.forget_messages("other.fifo", &[[0; 16]]);
        assert!(a.get("q.fifo", "x", t0).is_some());
        a.forget_messages("q.fifo", &[[0; 16]]);
        assert!(a.get("q.fifo", "x", t0).is_none());
        assert!(a.lock().by_message.is_empty());
    }

    #[test]
    fn the_oldest_attempts_go_past_the_bound() {
        let a = ReceiveAttempts::default();
        let t0 = Instant::now();
        for i in 0..=ATTEMPTS_MAX {
            a.remember("q.fifo", &i.to_string(), attempt(b"h"), t0);
        }
        assert!(a.get("q.fifo", "0", t0).is_none());
        assert!(a.get("q.fifo", "1", t0).is_some());
        assert!(a.get("q.fifo", &ATTEMPTS_MAX.to_string(), t0).is_some());
    }
}
