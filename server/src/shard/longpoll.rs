//! Long polling: receives that found nothing park here until a message arrives, their
//! wait ends, their caller goes, or the shard stops.
//!
//! A parked receive holds a watch on every other shard for its queue ("tell me when it has
//! messages", [`super::Envelope::Watch`]); a shard whose queue has visible messages answers
//! each live watch with `Ready`, and each idle parked receive on that queue then tries
//! there (a parked try, [`super::fanout`]). Local arrivals wake the queue (`wake`).
//!
//! Owns [`LongPolls`]. Promises: a parked receive is in `parked` exactly once, and is
//! `busy` exactly while one parked try for it is out; it is answered exactly once (with
//! messages, empty at its deadline or at shutdown, or dropped with its connection).

use std::collections::{HashMap, HashSet};

use spool_protocol::Request;

use super::fanout::{Op, OpKind};
use super::route::without_wait;
use super::{abandoned, empty_received, is_nonempty_receive, Envelope, ReplyTo, Shard};

/// A long poll waiting for messages.
pub(super) struct Parked {
    id: u64,
    to: ReplyTo,
    pub(super) queue: String,
    req: Request<'static>,
    deadline_ms: u64,
    /// A try on another shard is out.
    busy: bool,
}

/// The long polls parked on this shard, and the watches between shards.
#[derive(Default)]
pub(super) struct LongPolls {
    /// Oldest first.
    pub(super) parked: Vec<Parked>,
    /// Per queue, per shard: the watch that shard holds here (until, ms).
    pub(super) watchers: HashMap<String, Vec<u64>>,
    /// Per queue, per shard: the watch this shard holds there.
    pub(super) watch_sent: HashMap<String, Vec<u64>>,
    /// Queues that may have visible messages for a long poll or a watch.
    pub(super) wake: HashSet<String>,
}

impl LongPolls {
    /// The earliest deadline of a parked receive.
    pub(super) fn next_deadline_ms(&self) -> Option<u64> {
        self.parked.iter().map(|p| p.deadline_ms).min()
    }

    fn push(&mut self, p: Parked) {
        debug_assert!(
            self.parked.iter().all(|q| q.id != p.id),
            "a long poll parked twice"
        );
        debug_assert!(!p.busy, "a long poll parked with a try out");
        self.parked.push(p);
    }

    /// Drops the long polls of a closed connection: they would take messages nobody reads.
    pub(super) fn drop_conn(&mut self, slot: usize, generation: u64) {
        self.parked.retain(|p| {
            !matches!(p.to, ReplyTo::Conn { slot: s, generation: g, .. } if s == slot && g == generation)
        });
    }

    /// Another shard (`from`, of `shards`) holds a long poll on `queue` until `until_ms`.
    pub(super) fn on_watch(&mut self, shards: u16, from: u16, queue: String, until_ms: u64) {
        let n = shards as usize;
        let ws = self
            .watchers
            .entry(queue.clone())
            .or_insert_with(|| vec![0; n]);
        let w = &mut ws[from as usize];
        *w = (*w).max(until_ms);
        // Messages may be here already.
        self.wake.insert(queue);
    }

    /// Every queue a long poll or a watch waits on may have become visible (a timer ran).
    pub(super) fn wake_all(&mut self) {
        for p in &self.parked {
            self.wake.insert(p.queue.clone());
        }
        self.wake.extend(self.watchers.keys().cloned());
    }

    /// Takes every parked receive (at shutdown).
    pub(super) fn take_all(&mut self) -> Vec<ReplyTo> {
        std::mem::take(&mut self.parked)
            .into_iter()
            .map(|p| p.to)
            .collect()
    }
}

impl Shard {
    pub(super) fn park(&mut self, to: ReplyTo, req: Request<'static>, deadline_ms: u64) {
        let Request::Receive { queue, .. } = &req else {
            return;
        };
        let queue = queue.to_string();
        let id = self.router.new_token();
        self.polls.push(Parked {
            id,
            to,
            queue: queue.clone(),
            req,
            deadline_ms,
            busy: false,
        });
        self.watch_everywhere(&queue, deadline_ms);
    }

    /// Holds a watch for `queue` until `until_ms` on every other shard.
    fn watch_everywhere(&mut self, queue: &str, until_ms: u64) {
        for s in 0..self.n {
            if s != self.id {
                self.send_watch(s, queue, until_ms);
            }
        }
    }

    fn send_watch(&mut self, shard: u16, queue: &str, until_ms: u64) {
        let n = self.n as usize;
        let sent = self
            .polls
            .watch_sent
            .entry(queue.to_string())
            .or_insert_with(|| vec![0; n]);
        if sent[shard as usize] >= until_ms {
            return;
        }
        sent[shard as usize] = until_ms;
        let env = Envelope::Watch {
            from: self.id,
            queue: queue.to_string(),
            until_ms,
        };
        self.send_env(shard, env);
    }

    /// Another shard has messages for `queue`: let each idle long poll on it try there.
    pub(super) fn on_ready(&mut self, from: u16, queue: &str) {
        if let Some(sent) = self.polls.watch_sent.get_mut(queue) {
            sent[from as usize] = 0;
        }
        let now = self.now();
        let mut tries = Vec::new();
        let http = self.http.host.as_ref();
        for p in &mut self.polls.parked {
            if p.queue == queue && !p.busy && p.deadline_ms > now && !abandoned(http, &p.to) {
                #[cfg(debug_assertions)]
                debug_assert_eq!(self.ops.tries(p.id), 0, "an idle long poll with a try out");
                p.busy = true;
                tries.push((p.id, without_wait(&p.req)));
            }
        }
        for (parked, r) in tries {
            let op = self.router.new_token();
            let o = Op {
                // Unused: a ParkedTry answers its parked receive.
                to: ReplyTo::Op { op: 0, part: 0 },
                kind: OpKind::ParkedTry { parked },
            };
            self.ops.insert(op, o);
            self.run_on(from, ReplyTo::Op { op, part: 0 }, r);
        }
    }

    /// The try of parked receive `parked` on another shard came back with `resp`.
    pub(super) fn on_parked_try(&mut self, parked: u64, resp: spool_protocol::Response<'static>) {
        #[cfg(debug_assertions)]
        debug_assert_eq!(self.ops.tries(parked), 0, "two tries out for one long poll");
        let Some(i) = self.polls.parked.iter().position(|p| p.id == parked) else {
            // Answered meanwhile (shutdown) or dropped with its connection.
            return;
        };
        debug_assert!(
            self.polls.parked[i].busy,
            "a try came back for an idle long poll"
        );
        let now = self.now();
        if is_nonempty_receive(&resp) || self.polls.parked[i].deadline_ms <= now {
            let p = self.polls.parked.remove(i);
            self.deliver(p.to, resp);
        } else {
            let p = &mut self.polls.parked[i];
            p.busy = false;
            let (q, until) = (p.queue.clone(), p.deadline_ms);
            // Every shard, not only the one tried: a Ready from a third shard may have
            // arrived (and consumed its watch) while this try was out.
            self.watch_everywhere(&q, until);
            // Messages may also have appeared here meanwhile.
            self.polls.wake.insert(q);
        }
    }

    /// Serves long polls and watches of queues that may have visible messages.
    pub(super) fn serve_wakes(&mut self) {
        if self.polls.wake.is_empty() {
            return;
        }
        let now = self.now();
        for queue in std::mem::take(&mut self.polls.wake) {
            self.serve_parked(&queue);
            self.notify_watchers(&queue, now);
        }
    }

    /// Local long polls on `queue`, oldest first, while messages last.
    fn serve_parked(&mut self, queue: &str) {
        let mut i = 0;
        while i < self.polls.parked.len() {
            let p = &self.polls.parked[i];
            if p.queue != queue || p.busy {
                i += 1;
                continue;
            }
            if abandoned(self.http.host.as_ref(), &p.to) {
                let p = self.polls.parked.remove(i);
                self.deliver(p.to, empty_received());
                continue;
            }
            let resp = self.receive_here(p.req.clone());
            if is_nonempty_receive(&resp) {
                let p = self.polls.parked.remove(i);
                self.deliver_received(p.to, resp);
            } else {
                break;
            }
        }
    }

    /// Tells the shards watching `queue` here that it has visible messages (which
    /// consumes their watches), or forgets watches that have run out.
    fn notify_watchers(&mut self, queue: &str, now: u64) {
        let Some(ws) = self.polls.watchers.get_mut(queue) else {
            return;
        };
        if ws.iter().all(|&u| u <= now) {
            self.polls.watchers.remove(queue);
            return;
        }
        match self.engine.counters(queue).map(|c| c.ready > 0) {
            Ok(true) => {
                let ws = self.polls.watchers.remove(queue).unwrap_or_default();
                for (s, until) in ws.into_iter().enumerate() {
                    if until > now {
                        let env = Envelope::Ready {
                            from: self.id,
                            queue: queue.to_string(),
                        };
                        self.send_env(s as u16, env);
                    }
                }
            }
            Ok(false) => {}
            Err(_) => {
                // The queue is gone: the long polls elsewhere learn it on their own.
                self.polls.watchers.remove(queue);
            }
        }
    }

    /// Answers long polls whose wait is over, and drops those whose caller has gone (they
    /// would otherwise take messages nobody reads, invisible until their visibility
    /// timeout runs out).
    pub(super) fn expire_parked(&mut self, now: u64) {
        let mut i = 0;
        while i < self.polls.parked.len() {
            let p = &self.polls.parked[i];
            if (p.deadline_ms <= now || abandoned(self.http.host.as_ref(), &p.to)) && !p.busy {
                let p = self.polls.parked.remove(i);
                self.deliver(p.to, empty_received());
            } else {
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parked(id: u64, slot: usize, deadline_ms: u64) -> Parked {
        Parked {
            id,
            to: ReplyTo::Conn {
                slot,
                generation: 1,
                id,
            },
            queue: "q".into(),
            req: Request::Receive {
                queue: "q".into(),
                max_messages: 1,
                visibility_timeout_s: None,
                wait_time_ms: 1_000,
                attribute_names: Vec::new(),
                system_attributes: false,
            },
            deadline_ms,
            busy: false,
        }
    }

    #[test]
    fn a_closed_connection_takes_its_long_polls_with_it() {
        let mut polls = LongPolls::default();
        polls.push(parked(1, 0, 500));
        polls.push(parked(2, 1, 300));
        assert_eq!(polls.next_deadline_ms(), Some(300));
        polls.drop_conn(1, 1);
        assert_eq!(polls.parked.len(), 1);
        assert_eq!(polls.next_deadline_ms(), Some(500));
        // Another generation in the same slot is another connection.
        polls.drop_conn(0, 2);
        assert_eq!(polls.parked.len(), 1);
        assert_eq!(polls.take_all().len(), 1);
        assert_eq!(polls.next_deadline_ms(), None);
    }

    #[test]
    fn watches_keep_the_latest_deadline_and_wake_their_queue() {
        let mut polls = LongPolls::default();
        polls.on_watch(3, 2, "q".into(), 900);
        polls.on_watch(3, 2, "q".into(), 400);
        assert_eq!(polls.watchers["q"], vec![0, 0, 900]);
        assert!(polls.wake.contains("q"));
        polls.wake.clear();
        polls.wake_all();
        assert!(polls.wake.contains("q"));
    }
}
