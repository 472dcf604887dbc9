//! One round of the crash loop: load the running daemon and SIGKILL it (at a random moment
//! or on a segment removal), kill it again during start-up in some rounds, restart it,
//! verify, print the round's line. Owns what lives from round to round ([`Rounds`]): the
//! seeded choices, the lifetime count, the last start-up time and the totals.
//!
//! Every random choice is drawn in the same order as when this was one function, so a
//! seed means what it meant before.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::args::Args;
use crate::body::Rng;
use crate::daemon::{read_life_log, segment_files, Daemon, DaemonCfg, LifeLog};
use crate::ledger::{Counts, Shared, State};
use crate::load::{consumer, fifo_producer, std_producer};
use crate::verify::drain_and_verify;
use crate::{SetupError, COMPACTION_WINDOW, STD_PRODUCERS};

/// What the loop adds up over all rounds.
#[derive(Default)]
pub(crate) struct Totals {
    pub(crate) counts: Counts,
    pub(crate) load_kills: u64,
    pub(crate) compaction_triggered: u64,
    pub(crate) near_compaction: u64,
    pub(crate) startup_kills: u64,
    pub(crate) startup_kills_before_listening: u64,
    pub(crate) segments_removed_seen: u64,
    pub(crate) repaired: u64,
    pub(crate) moves_finished: u64,
}

/// What lives from round to round.
pub(crate) struct Rounds<'a> {
    pub(crate) args: &'a Args,
    pub(crate) cfg: DaemonCfg,
    pub(crate) root: PathBuf,
    pub(crate) seed: u64,
    pub(crate) state: Shared,
    pub(crate) rng: Rng,
    /// Daemon lifetimes started so far (the first is 0).
    pub(crate) life: u64,
    /// How long the last restart took to print `listening`: start-up kills come within it.
    pub(crate) startup_time: Duration,
    pub(crate) totals: Totals,
}

/// How a round ended.
pub(crate) enum Outcome {
    /// No violation; the restarted daemon runs the next round.
    Passed(Daemon),
    /// Violations were found (and reported); the loop stops.
    Failed(Daemon),
    /// The restart did not reach `listening` (reported); the run ends at once.
    RestartFailed,
}

/// When and how a round's daemon is killed under load.
struct KillPlan {
    /// No load before this (compaction copies forward only while nothing else runs).
    quiet: Duration,
    /// Kill as soon as a segment file disappears (else at `kill_at`).
    wait_for_compaction: bool,
    /// With `wait_for_compaction`: a removal during the quiet moment counts too.
    arm_in_quiet: bool,
    kill_at: Duration,
}

/// What the load phase saw up to the kill.
struct LoadKill {
    killed_after: Duration,
    /// Killed on a segment removal.
    triggered: bool,
    /// Killed within [`COMPACTION_WINDOW`] of a segment removal.
    near: bool,
    /// The load had begun before the kill.
    loaded: bool,
    life_log: LifeLog,
}

impl Rounds<'_> {
    /// Runs round `round` against `d` (listening), which it kills; returns the restarted
    /// daemon unless the round failed to restart it.
    pub(crate) fn round(&mut self, round: u64, d: Daemon) -> Result<Outcome, SetupError> {
        let before = {
            let mut s = self.state.lock().unwrap();
            s.round = round;
            std::mem::take(&mut s.counts)
        };
        self.totals.counts.add(&before);
        let plan = self.plan_kill();
        let lk = self.load_and_kill(d, &plan);
        let mut life_logs = vec![lk.life_log];

        // Kill again during start-up (recovery) in a third of the rounds, once or twice.
        let (startup_kills, before_listening) = self.startup_kills(round, &mut life_logs)?;

        // Restart and verify.
        self.life += 1;
        let mut d = Daemon::spawn(&self.cfg, self.life, round, &mut self.rng)?;
        let addr = match d.wait_listening() {
            Ok(a) => a,
            Err(e) => {
                let mut s = self.state.lock().unwrap();
                s.violation(&format!("restart failed: {e}"));
                self.report_failure(&s);
                return Ok(Outcome::RestartFailed);
            }
        };
        self.startup_time = d.spawned.elapsed();
        if let Err(e) = drain_and_verify(&addr, &self.state, &mut self.rng) {
            self.state.lock().unwrap().violation(&e.to_string());
        }
        life_logs.push(read_life_log(&d.log_text(&self.cfg), &self.state));
        let repaired: u64 = life_logs.iter().map(|l| l.repaired).sum();
        let moves: u64 = life_logs.iter().map(|l| l.moves_finished).sum();
        self.totals.repaired += repaired;
        self.totals.moves_finished += moves;

        let s = self.state.lock().unwrap();
        let c = s.counts;
        println!(
            "round {round}/{}: killed after {} ms ({}{}{}), start-up kills {startup_kills} ({before_listening} before listening), sends {} acked {}, deletes acked {}, released {}, checked {}, drained {}, pre-kill receipts deleted {} and hidden {}, torn tails repaired {repaired}, copies finished by recovery {moves}, restart {} ms, violations {}",
            self.args.rounds,
            lk.killed_after.as_millis(),
            if lk.triggered { "on a segment removal" } else { "random" },
            if lk.near && !lk.triggered { ", within 100 ms of a segment removal" } else { "" },
            if lk.loaded { "" } else { ", before the load began" },
            c.sends_tried,
            c.sends_acked,
            c.deletes_acked,
            c.released,
            c.deliveries_checked,
            c.drained,
            c.prekill_deletes,
            c.prekill_hidden,
            self.startup_time.as_millis(),
            s.violations.len()
        );
        if !s.violations.is_empty() {
            self.report_failure(&s);
            return Ok(Outcome::Failed(d));
        }
        Ok(Outcome::Passed(d))
    }

    /// A quiet moment first (no load: compaction copies forward only then), then load.
    /// The kill: at a random moment, or (a third of the rounds) as soon as a segment file
    /// disappears, i.e. while compaction is removing segments.
    fn plan_kill(&mut self) -> KillPlan {
        let rng = &mut self.rng;
        let quiet = Duration::from_millis(rng.below(400));
        let wait_for_compaction = rng.chance(33);
        // Half of those may kill in the quiet moment (removals right after the drain).
        let arm_in_quiet = rng.chance(50);
        let limit = self.args.duration_per_round;
        let kill_at = quiet
            + if wait_for_compaction {
                limit
            } else {
                Duration::from_millis(
                    limit.as_millis() as u64 / 10 + rng.below(limit.as_millis() as u64 * 9 / 10),
                )
            };
        KillPlan {
            quiet,
            wait_for_compaction,
            arm_in_quiet,
            kill_at,
        }
    }

    /// Starts the load after the quiet moment, watches the segment files and the daemon,
    /// SIGKILLs it as planned, stops and joins the load, and reads the lifetime's log.
    fn load_and_kill(&mut self, mut d: Daemon, plan: &KillPlan) -> LoadKill {
        let addr = d.addr.clone().expect("listening");
        let stop = Arc::new(AtomicBool::new(false));
        let thread_rngs: Vec<Rng> = (0..STD_PRODUCERS + 4).map(|_| self.rng.fork()).collect();
        let mut start_load = Some((addr, thread_rngs));
        let mut load: Option<Vec<JoinHandle<()>>> = None;
        let t0 = Instant::now();
        let mut files = HashSet::new();
        segment_files(&self.cfg.data, &mut files, 6);
        let mut last_removal: Option<Instant> = None;
        let mut triggered = false;
        let mut died = None;
        while t0.elapsed() < plan.kill_at {
            if t0.elapsed() >= plan.quiet {
                if let Some((addr, rngs)) = start_load.take() {
                    load = Some(start_load_threads(&addr, &self.state, &stop, rngs));
                }
            }
            std::thread::sleep(Duration::from_millis(2));
            let mut now_files = HashSet::new();
            segment_files(&self.cfg.data, &mut now_files, 6);
            let removed = files.difference(&now_files).count() as u64;
            if removed > 0 {
                self.totals.segments_removed_seen += removed;
                last_removal = Some(Instant::now());
            }
            files = now_files;
            if let Some(st) = d.exited() {
                died = Some(st);
                break;
            }
            if plan.wait_for_compaction && removed > 0 && (load.is_some() || plan.arm_in_quiet) {
                triggered = true;
                break;
            }
        }
        if let Some(st) = died {
            self.state
                .lock()
                .unwrap()
                .violation(&format!("spoold exited on its own under load ({st})"));
        }
        let killed_after = t0.elapsed();
        let near = last_removal.is_some_and(|t| t.elapsed() <= COMPACTION_WINDOW);
        d.kill9();
        stop.store(true, Ordering::Relaxed);
        let loaded = load.is_some();
        for t in load.into_iter().flatten() {
            let _ = t.join();
        }
        self.totals.load_kills += 1;
        self.totals.compaction_triggered += u64::from(triggered);
        self.totals.near_compaction += u64::from(near);
        let life_log = read_life_log(&d.log_text(&self.cfg), &self.state);
        drop(d);
        LoadKill {
            killed_after,
            triggered,
            near,
            loaded,
            life_log,
        }
    }

    /// In a third of the rounds, starts the daemon once or twice and SIGKILLs it at a
    /// random moment within the last start-up time (during recovery, mostly). Returns the
    /// kills and how many came before `listening`.
    fn startup_kills(
        &mut self,
        round: u64,
        life_logs: &mut Vec<LifeLog>,
    ) -> Result<(u64, u64), SetupError> {
        let mut startup_kills = 0;
        let mut before_listening = 0;
        if self.rng.chance(33) {
            for _ in 0..=self.rng.below(2) {
                self.life += 1;
                let mut r = Daemon::spawn(&self.cfg, self.life, round, &mut self.rng)?;
                let us = self.rng.below(self.startup_time.as_micros() as u64);
                std::thread::sleep(Duration::from_micros(us));
                let listening = r.poll_listening();
                r.kill9();
                startup_kills += 1;
                before_listening += u64::from(!listening);
                life_logs.push(read_life_log(&r.log_text(&self.cfg), &self.state));
            }
        }
        self.totals.startup_kills += startup_kills;
        self.totals.startup_kills_before_listening += before_listening;
        Ok((startup_kills, before_listening))
    }

    /// Prints the violations (the first 30) and where the data and the log were kept.
    pub(crate) fn report_failure(&self, s: &State) {
        eprintln!(
            "spool-crashloop: FAILED (seed {}): {} violations",
            self.seed,
            s.violations.len()
        );
        for v in s.violations.iter().take(30) {
            eprintln!("  {v}");
        }
        eprintln!(
            "data kept in {} ; daemon log {}",
            self.root.display(),
            self.cfg.log.display()
        );
    }
}

/// Starts the load threads: the standard producers, the FIFO producer, two standard
/// consumers and a FIFO consumer; each takes its seeded random source from the end of
/// `rngs`.
fn start_load_threads(
    addr: &str,
    state: &Shared,
    stop: &Arc<AtomicBool>,
    mut rngs: Vec<Rng>,
) -> Vec<JoinHandle<()>> {
    let mut threads = Vec::new();
    for p in 0..STD_PRODUCERS {
        let (a, s, st, r) = (
            addr.to_string(),
            state.clone(),
            stop.clone(),
            rngs.pop().expect("rng"),
        );
        threads.push(std::thread::spawn(move || std_producer(a, s, st, p, r)));
    }
    {
        let (a, s, st, r) = (
            addr.to_string(),
            state.clone(),
            stop.clone(),
            rngs.pop().expect("rng"),
        );
        threads.push(std::thread::spawn(move || fifo_producer(a, s, st, r)));
    }
    for fifo in [false, false, true] {
        let (a, s, st, r) = (
            addr.to_string(),
            state.clone(),
            stop.clone(),
            rngs.pop().expect("rng"),
        );
        threads.push(std::thread::spawn(move || consumer(a, s, st, fifo, r)));
    }
    threads
}
