//! Message move tasks (StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask):
//! DLQ redrive at a bounded rate, as a background task of the gateway.
//!
//! A task moves the dead-letter queue's visible messages, in steps of a tenth of its rate
//! every 100 ms, with the binary protocol's Redrive (exactly-once moves inside the
//! engine), to the destination queue or, without one, each back to the queue it came
//! from. It completes when a step finds nothing to move, or is cancelled, or fails with
//! the error of the step that failed.
//!
//! Promises: at most one running task per source queue (a second start is refused); the
//! task list is bounded ([`MAX_TASKS_KEPT`], oldest finished dropped first); tasks live in
//! memory only: a daemon restart forgets them (the messages already moved stay moved).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use spool_protocol::{Request, Response};

use super::Gateway;
use spool_model::limits::MOVE_TASK_RATE_DEFAULT_PER_S;

/// Finished tasks remembered for ListMessageMoveTasks.
pub const MAX_TASKS_KEPT: usize = 1000;
/// A task moves a tenth of its rate every this often.
const STEP: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Completed,
    Cancelling,
    Cancelled,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Completed => "COMPLETED",
            Status::Cancelling => "CANCELLING",
            Status::Cancelled => "CANCELLED",
            Status::Failed => "FAILED",
        }
    }
}

pub struct Task {
    pub handle: String,
    pub source: String,
    pub source_arn: String,
    pub destination: Option<String>,
    pub destination_arn: Option<String>,
    pub max_per_second: Option<u32>,
    pub started_ms: u64,
    /// Visible messages in the source when the task started.
    pub to_move: u64,
    moved: AtomicU64,
    cancel: AtomicBool,
    state: Mutex<(Status, Option<String>)>,
}

/// What ListMessageMoveTasks reports of a task.
#[derive(Debug, Clone)]
pub struct TaskView {
    /// Only for a running task (as AWS does).
    pub handle: Option<String>,
    pub status: Status,
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub max_per_second: Option<u32>,
    pub moved: u64,
    pub to_move: u64,
    pub failure_reason: Option<String>,
    pub started_ms: u64,
}

impl Task {
    fn status(&self) -> (Status, Option<String>) {
        lock(&self.state).clone()
    }

    fn set(&self, s: Status, why: Option<String>) {
        *lock(&self.state) = (s, why);
    }

    fn view(&self) -> TaskView {
        let (status, failure_reason) = self.status();
        TaskView {
            handle: matches!(status, Status::Running).then(|| self.handle.clone()),
            status,
            source_arn: self.source_arn.clone(),
            destination_arn: self.destination_arn.clone(),
            max_per_second: self.max_per_second,
            moved: self.moved.load(Ordering::Relaxed),
            to_move: self.to_move,
            failure_reason,
            started_ms: self.started_ms,
        }
    }
}

/// Why a start or cancel was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveError {
    /// Another task on this source is running.
    AlreadyRunning,
    /// No such task handle, or the task is not running.
    NotFound,
}

#[derive(Default)]
pub struct MoveTasks {
    tasks: Mutex<Vec<Arc<Task>>>,
    next: AtomicU64,
}

/// What a new task is to do.
pub struct NewTask {
    pub source: String,
    pub source_arn: String,
    pub destination: Option<String>,
    pub destination_arn: Option<String>,
    pub max_per_second: Option<u32>,
    pub to_move: u64,
    pub now_ms: u64,
}

impl MoveTasks {
    /// Registers a task and starts it. Returns its handle.
    pub fn start(&self, gw: &Arc<Gateway>, t: NewTask) -> Result<String, MoveError> {
        let task = {
            let mut tasks = lock(&self.tasks);
            let running = tasks.iter().any(|x| {
                x.source == t.source && matches!(x.status().0, Status::Running | Status::Cancelling)
            });
            if running {
                return Err(MoveError::AlreadyRunning);
            }
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            let handle = format!("{}-{n:016x}-{:016x}", t.now_ms, rand_u64(n));
            let task = Arc::new(Task {
                handle,
                source: t.source,
                source_arn: t.source_arn,
                destination: t.destination,
                destination_arn: t.destination_arn,
                max_per_second: t.max_per_second,
                started_ms: t.now_ms,
                to_move: t.to_move,
                moved: AtomicU64::new(0),
                cancel: AtomicBool::new(false),
                state: Mutex::new((Status::Running, None)),
            });
            if tasks.len() >= MAX_TASKS_KEPT {
                if let Some(i) = tasks
                    .iter()
                    .position(|x| !matches!(x.status().0, Status::Running | Status::Cancelling))
                {
                    tasks.remove(i);
                }
            }
            tasks.push(task.clone());
            task
        };
        let handle = task.handle.clone();
        // On the gateway's runtime: the caller may be a shard's thread, which has none.
        gw.rt.spawn(run(gw.clone(), task));
        Ok(handle)
    }

    /// Asks a running task to stop; returns the messages it moved so far.
    pub fn cancel(&self, handle: &str) -> Result<u64, MoveError> {
        let tasks = lock(&self.tasks);
        let t = tasks
            .iter()
            .find(|t| t.handle == handle)
            .ok_or(MoveError::NotFound)?;
        if t.status().0 != Status::Running {
            return Err(MoveError::NotFound);
        }
        t.cancel.store(true, Ordering::SeqCst);
        t.set(Status::Cancelling, None);
        Ok(t.moved.load(Ordering::Relaxed))
    }

    /// The most recent `max` tasks of a source queue, newest first.
    pub fn list(&self, source: &str, max: usize) -> Vec<TaskView> {
        lock(&self.tasks)
            .iter()
            .rev()
            .filter(|t| t.source == source)
            .take(max)
            .map(|t| t.view())
            .collect()
    }
}

async fn run(gw: Arc<Gateway>, task: Arc<Task>) {
    let rate = task
        .max_per_second
        .unwrap_or(MOVE_TASK_RATE_DEFAULT_PER_S)
        .max(1);
    // A tenth of the rate per 100 ms step; at least one message per step.
    let per_step = (rate / 10).max(1);
    let mut tick = tokio::time::interval(STEP);
    loop {
        tick.tick().await;
        if task.cancel.load(Ordering::SeqCst) {
            task.set(Status::Cancelled, None);
            return;
        }
        let req = Request::Redrive {
            source: task.source.as_str().into(),
            destination: task.destination.as_deref().map(Into::into),
            max_messages: per_step,
        };
        match gw.upstream.call(&req).await {
            Ok(Response::Redriven { moved }) => {
                task.moved.fetch_add(moved, Ordering::Relaxed);
                if moved == 0 {
                    task.set(Status::Completed, None);
                    return;
                }
            }
            Ok(Response::Error(e)) => {
                task.set(Status::Failed, Some(e.message.into_owned()));
                return;
            }
            Ok(other) => {
                task.set(
                    Status::Failed,
                    Some(format!("unexpected reply {:?}", other.opcode())),
                );
                return;
            }
            Err(e) => {
                task.set(Status::Failed, Some(e.to_string()));
                return;
            }
        }
    }
}

/// A well-mixed 64-bit value (splitmix64 of a counter and the clock): task handles need to
/// be unique, not secret.
fn rand_u64(n: u64) -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = n.wrapping_add(t).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
