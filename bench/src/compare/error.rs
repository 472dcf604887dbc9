//! `CompareError`: why a target of `spool-bench compare` could not start, or why a run
//! against it failed. Runs happen on producer and consumer threads, so every cause is
//! `Send`; a run's error is printed on the terminal and kept in `results.json`.

use std::process::ExitStatus;
use std::time::Duration;

use crate::daemon::SpawnError;
use crate::failures::Failures;
use crate::sqs::HttpError;

/// Errors of the compare harness and its targets.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CompareError {
    /// The target's server binary is not on this machine.
    #[error("{0} is not installed (bench/install-peers.sh)")]
    NotInstalled(&'static str),
    /// A peer server's process could not be spawned.
    #[error("cannot start {name}: {source}")]
    Spawn {
        name: String,
        source: std::io::Error,
    },
    /// A peer server exited before it listened; `log` is the end of its log.
    #[error("exited ({status}): {log}")]
    Exited { status: ExitStatus, log: String },
    /// A peer server did not listen in time; `log` is the end of its log.
    #[error("not listening after {limit:?}: {log}")]
    NotListening { limit: Duration, log: String },
    /// spoold did not start.
    #[error(transparent)]
    Spoold(#[from] SpawnError),
    #[error("spoold printed no SQS URL")]
    NoSqsUrl,
    #[error("unknown target {0:?}")]
    UnknownTarget(String),
    /// Local I/O: free ports, data directories, logs, a client runtime.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Spool's binary-protocol client.
    #[error(transparent)]
    Client(#[from] spool_client::ClientError),
    /// The SQS client.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// An SQS reply that is not the JSON expected.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Utf8(#[from] std::str::Utf8Error),
    /// A peer's client library failed; `op` names the peer and the call
    /// (`rabbitmq queue_declare`).
    #[error("{op}: {source}")]
    Peer {
        op: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A peer answered something the harness does not understand.
    #[error("{peer}: {what}")]
    Protocol { peer: &'static str, what: String },
    /// A server answered a request, but not every entry succeeded: `what` names the
    /// request (`send`, `delete`), `detail` the answer.
    #[error("{what} failed: {detail}")]
    Refused { what: &'static str, detail: String },
    /// An SQS batch answered 200 with some entries failed; `text` is the answer.
    #[error("{what} partly failed: {text}")]
    Partial { what: &'static str, text: String },
    #[error("a publish was nacked")]
    Nacked,
    /// A producer or consumer thread failed.
    #[error("{role} {index}: {source}")]
    Thread {
        role: &'static str,
        index: usize,
        source: Box<CompareError>,
    },
    #[error("a load thread panicked")]
    Panicked,
    /// The first failures of a run's load threads.
    #[error(transparent)]
    Load(Failures<CompareError>),
}

/// A `map_err` for a peer client library's errors: `op` names the peer and the call.
pub(crate) fn peer<E>(op: &'static str) -> impl FnOnce(E) -> CompareError
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    move |e| CompareError::Peer {
        op,
        source: e.into(),
    }
}
