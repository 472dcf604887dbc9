//! The command line: every flag, its default and its help text, and the parsing of
//! `--duration-per-round`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "spool-crashloop",
    about = "SIGKILL spoold under load again and again; check that nothing acknowledged is lost"
)]
pub(crate) struct Args {
    /// Rounds (load, kill, restart, verify).
    #[arg(long, default_value_t = 20)]
    pub(crate) rounds: u64,
    /// Seed of every random choice (default: from the clock; printed).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Longest load phase of a round (the kill comes within it), e.g. 1500ms, 2s.
    #[arg(long, default_value = "1500ms", value_parser = parse_duration)]
    pub(crate) duration_per_round: Duration,
    /// Data directory (must not exist or be empty; default: a new one under the temp dir).
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// The spoold binary (default: `spoold` next to this binary).
    #[arg(long)]
    pub(crate) spoold: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    pub(crate) shards: u32,
    /// Segment size of the daemon: small, so that segments roll and compaction runs often.
    #[arg(long, default_value_t = 1)]
    pub(crate) segment_mib: u32,
    /// Start no round after this many seconds (0: no limit); totals cover the rounds run.
    #[arg(long, default_value_t = 0)]
    pub(crate) max_seconds: u64,
    /// Keep the data directory even when every round passed.
    #[arg(long)]
    pub(crate) keep_data: bool,
}

/// A `--duration-per-round` refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DurationError {
    #[error("not a duration: {0:?} (e.g. 1500ms, 2s)")]
    NotADuration(String),
    #[error("a round's load lasts between 10 ms and an hour")]
    OutOfRange,
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let s = s.trim();
    let (num, scale) = if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| DurationError::NotADuration(s.to_string()))?;
    if !(v * scale >= 10.0 && v * scale <= 3_600_000.0) {
        return Err(DurationError::OutOfRange);
    }
    Ok(Duration::from_millis((v * scale) as u64))
}
