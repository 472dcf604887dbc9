//! The workload of `spool-bench compare`: what is sent, by whom, how durably, how long.
//! Built from a profile (default, `--quick`, `--full`), then a TOML file, then flags, in
//! that order, each overriding the last; [`Workload::validate`] bounds every number.

use std::fmt;
use std::path::Path;

use clap::Args;
use serde::{Deserialize, Serialize};

/// Every target the harness knows, in the order runs and tables use.
pub(crate) const ALL_TARGETS: [&str; 5] =
    ["spool-binary", "spool-sqs", "redis", "rabbitmq", "nats"];
/// Most messages per batch (the binary protocol's own limit is higher; peers' batches
/// are pipelines of single messages).
const MAX_BATCH: usize = 1000;
/// The largest body (SQS's and Spool's limit).
const MAX_SIZE: usize = 1 << 20;
/// Bodies carry their send time in the first 16 bytes.
const MIN_SIZE: usize = 16;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Durability {
    /// Acknowledged after fsync: Spool `sync`, Redis `appendfsync always`, RabbitMQ
    /// persistent messages with publisher confirms.
    Sync,
    /// fsync at most every second: Spool `batch=1000`, Redis `appendfsync everysec`.
    Batch,
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Durability::Sync => "sync",
            Durability::Batch => "batch",
        })
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Standard,
    Fifo,
    /// FIFO in SQS's high-throughput mode (DeduplicationScope messageGroup,
    /// FifoThroughputLimit perMessageGroupId); a plain FIFO queue for the other targets.
    #[serde(rename = "fifo-ht")]
    FifoHighThroughput,
}

impl Kind {
    pub(crate) fn is_fifo(self) -> bool {
        matches!(self, Kind::Fifo | Kind::FifoHighThroughput)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Standard => "standard",
            Kind::Fifo => "fifo",
            Kind::FifoHighThroughput => "fifo-ht",
        })
    }
}

/// Why a size (`--sizes`, `sizes = [...]`) was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SizeSpecError {
    #[error("not a size: {0:?} (e.g. 100, 1KiB, 64KiB)")]
    NotASize(String),
    #[error("size too large: {0:?}")]
    TooLarge(String),
    #[error("size range {0:?} runs backwards")]
    Backwards(String),
    #[error("size {0:?} out of range: bodies are {MIN_SIZE} B to 1 MiB")]
    OutOfRange(String),
}

/// Why a workload (file, flags, or the two together) was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorkloadError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", .path.display())]
    Toml {
        path: std::path::PathBuf,
        source: toml::de::Error,
    },
    #[error("unknown target {name:?} (known: {})", ALL_TARGETS.join(", "))]
    UnknownTarget { name: String },
    #[error(transparent)]
    Size(#[from] SizeSpecError),
    #[error("unknown queue kind {0:?} (standard, fifo, fifo-ht)")]
    UnknownKind(String),
    #[error("unknown durability {0:?} (sync, batch)")]
    UnknownDurability(String),
    /// A setting out of its range, or an empty list: the message names the flag.
    #[error("{0}")]
    Invalid(&'static str),
}

/// A body size: fixed, or uniform between two sizes (inclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SizeSpec {
    Fixed(usize),
    Uniform(usize, usize),
}

impl SizeSpec {
    /// `100`, `1KiB`, `64k`, `1MiB`, or a range `100-4KiB`.
    pub(crate) fn parse(s: &str) -> Result<SizeSpec, SizeSpecError> {
        let one = |t: &str| -> Result<usize, SizeSpecError> {
            let t = t.trim();
            let lower = t.to_ascii_lowercase();
            let (num, mult) = if let Some(n) = lower
                .strip_suffix("kib")
                .or_else(|| lower.strip_suffix('k'))
            {
                (n.to_string(), 1024)
            } else if let Some(n) = lower
                .strip_suffix("mib")
                .or_else(|| lower.strip_suffix('m'))
            {
                (n.to_string(), 1 << 20)
            } else {
                (lower.strip_suffix('b').unwrap_or(&lower).to_string(), 1)
            };
            let n: usize = num
                .trim()
                .parse()
                .map_err(|_| SizeSpecError::NotASize(t.to_string()))?;
            n.checked_mul(mult)
                .ok_or_else(|| SizeSpecError::TooLarge(t.to_string()))
        };
        let spec = match s.split_once('-') {
            Some((a, b)) => SizeSpec::Uniform(one(a)?, one(b)?),
            None => SizeSpec::Fixed(one(s)?),
        };
        let (lo, hi) = spec.bounds();
        if lo > hi {
            return Err(SizeSpecError::Backwards(s.to_string()));
        }
        if lo < MIN_SIZE || hi > MAX_SIZE {
            return Err(SizeSpecError::OutOfRange(s.to_string()));
        }
        Ok(spec)
    }

    fn bounds(&self) -> (usize, usize) {
        match *self {
            SizeSpec::Fixed(n) => (n, n),
            SizeSpec::Uniform(a, b) => (a, b),
        }
    }

    pub(crate) fn varies(&self) -> bool {
        matches!(self, SizeSpec::Uniform(a, b) if a != b)
    }

    pub(crate) fn mean(&self) -> f64 {
        let (a, b) = self.bounds();
        (a + b) as f64 / 2.0
    }

    /// A size drawn from the spec with a xorshift step of `rng`.
    pub(crate) fn pick(&self, rng: &mut u64) -> usize {
        let (a, b) = self.bounds();
        if a == b {
            return a;
        }
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        a + (*rng % (b - a + 1) as u64) as usize
    }

    pub(crate) fn label(&self) -> String {
        fn one(n: usize) -> String {
            if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
                format!("{} MiB", n >> 20)
            } else if n >= 1024 && n.is_multiple_of(1024) {
                format!("{} KiB", n >> 10)
            } else {
                format!("{n} B")
            }
        }
        match *self {
            SizeSpec::Fixed(n) => one(n),
            SizeSpec::Uniform(a, b) => format!("{}–{}", one(a), one(b)),
        }
    }
}

/// The workload flags of `spool-bench compare` (each overrides the profile and file).
#[derive(Args, Clone, Debug, Default)]
pub(crate) struct WorkloadFlags {
    /// Targets, comma separated: spool-binary, spool-sqs, redis, rabbitmq, nats.
    #[arg(long, value_delimiter = ',')]
    targets: Option<Vec<String>>,
    /// Body sizes, comma separated: 100, 1KiB, 64KiB, or a uniform range 100-4KiB.
    #[arg(long, value_delimiter = ',')]
    sizes: Option<Vec<String>>,
    /// Messages per send batch and most per receive.
    #[arg(long)]
    batch: Option<usize>,
    /// Producer connections (threads).
    #[arg(long)]
    producers: Option<usize>,
    /// Consumer connections (threads).
    #[arg(long)]
    consumers: Option<usize>,
    /// Queue kinds, comma separated: standard, fifo, fifo-ht (FIFO in high-throughput
    /// mode; the same as fifo for targets other than Spool).
    #[arg(long, value_delimiter = ',')]
    kinds: Option<Vec<String>>,
    /// Message groups of FIFO runs.
    #[arg(long)]
    fifo_groups: Option<usize>,
    /// Durabilities, comma separated: sync, batch.
    #[arg(long, value_delimiter = ',')]
    durabilities: Option<Vec<String>>,
    /// Seconds measured per run (after the warm-up).
    #[arg(long)]
    duration: Option<f64>,
    /// Stop a run early once this many messages completed (0 = run for --duration).
    #[arg(long)]
    messages: Option<u64>,
    /// Offered load in msgs/s over all producers, open loop (0 = closed loop).
    #[arg(long)]
    rate: Option<u64>,
    /// Seconds of warm-up per run, not measured.
    #[arg(long)]
    warmup: Option<f64>,
    /// Also run every target at half of spool-binary's peak (open loop) for latency.
    #[arg(long)]
    half_peak: Option<bool>,
    /// Rounds: every target runs every cell once per round (servers started afresh each
    /// round), and each cell reports its median run.
    #[arg(long)]
    repeat: Option<usize>,
}

/// The same keys as [`WorkloadFlags`], from a TOML file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WorkloadFile {
    targets: Option<Vec<String>>,
    sizes: Option<Vec<String>>,
    batch: Option<usize>,
    producers: Option<usize>,
    consumers: Option<usize>,
    kinds: Option<Vec<String>>,
    fifo_groups: Option<usize>,
    durabilities: Option<Vec<String>>,
    duration: Option<f64>,
    messages: Option<u64>,
    rate: Option<u64>,
    warmup: Option<f64>,
    half_peak: Option<bool>,
    repeat: Option<usize>,
}

#[derive(Clone, Debug)]
pub(crate) struct Workload {
    pub targets: Vec<String>,
    pub sizes: Vec<SizeSpec>,
    pub batch: usize,
    pub producers: usize,
    pub consumers: usize,
    pub kinds: Vec<Kind>,
    pub fifo_groups: usize,
    pub durabilities: Vec<Durability>,
    pub duration: f64,
    pub messages: u64,
    pub rate: u64,
    pub warmup: f64,
    pub half_peak: bool,
    pub repeat: usize,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            targets: ALL_TARGETS.iter().map(ToString::to_string).collect(),
            sizes: vec![SizeSpec::Fixed(100)],
            batch: 100,
            producers: 4,
            consumers: 4,
            kinds: vec![Kind::Standard],
            fifo_groups: 16,
            durabilities: vec![Durability::Sync],
            duration: 5.0,
            messages: 0,
            rate: 0,
            warmup: 1.0,
            half_peak: false,
            repeat: 1,
        }
    }
}

impl Workload {
    /// The smoke profile: well under 2 minutes with every target installed.
    pub(crate) fn quick() -> Workload {
        Workload {
            kinds: vec![Kind::Standard, Kind::Fifo],
            duration: 2.0,
            warmup: 0.5,
            ..Workload::default()
        }
    }

    /// The profile behind docs/benchmarks.md.
    pub(crate) fn full() -> Workload {
        Workload {
            sizes: [100, 1024, 16 << 10, 64 << 10]
                .into_iter()
                .map(SizeSpec::Fixed)
                .collect(),
            kinds: vec![Kind::Standard, Kind::Fifo],
            durabilities: vec![Durability::Sync, Durability::Batch],
            duration: 5.0,
            warmup: 1.0,
            half_peak: true,
            ..Workload::default()
        }
    }

    pub(crate) fn apply_file(&mut self, path: &Path) -> Result<(), WorkloadError> {
        let text = std::fs::read_to_string(path).map_err(|source| WorkloadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let f: WorkloadFile = toml::from_str(&text).map_err(|source| WorkloadError::Toml {
            path: path.to_path_buf(),
            source,
        })?;
        self.apply(WorkloadFlags {
            targets: f.targets,
            sizes: f.sizes,
            batch: f.batch,
            producers: f.producers,
            consumers: f.consumers,
            kinds: f.kinds,
            fifo_groups: f.fifo_groups,
            durabilities: f.durabilities,
            duration: f.duration,
            messages: f.messages,
            rate: f.rate,
            warmup: f.warmup,
            half_peak: f.half_peak,
            repeat: f.repeat,
        })
    }

    pub(crate) fn apply_flags(&mut self, f: &WorkloadFlags) -> Result<(), WorkloadError> {
        self.apply(f.clone())
    }

    fn apply(&mut self, f: WorkloadFlags) -> Result<(), WorkloadError> {
        if let Some(t) = f.targets {
            for name in &t {
                if !ALL_TARGETS.contains(&name.as_str()) {
                    return Err(WorkloadError::UnknownTarget { name: name.clone() });
                }
            }
            self.targets = t;
        }
        if let Some(s) = f.sizes {
            self.sizes = s
                .iter()
                .map(|x| SizeSpec::parse(x))
                .collect::<Result<_, _>>()?;
        }
        if let Some(k) = f.kinds {
            self.kinds = k
                .iter()
                .map(|x| match x.as_str() {
                    "standard" => Ok(Kind::Standard),
                    "fifo" => Ok(Kind::Fifo),
                    "fifo-ht" => Ok(Kind::FifoHighThroughput),
                    other => Err(WorkloadError::UnknownKind(other.to_string())),
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(d) = f.durabilities {
            self.durabilities = d
                .iter()
                .map(|x| match x.as_str() {
                    "sync" => Ok(Durability::Sync),
                    "batch" => Ok(Durability::Batch),
                    other => Err(WorkloadError::UnknownDurability(other.to_string())),
                })
                .collect::<Result<_, _>>()?;
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = f.$f { self.$f = v; } )* };
        }
        set!(
            batch,
            producers,
            consumers,
            fifo_groups,
            duration,
            messages,
            rate,
            warmup,
            half_peak,
            repeat
        );
        Ok(())
    }

    pub(crate) fn validate(&self) -> Result<(), WorkloadError> {
        let check = |ok: bool, what: &'static str| -> Result<(), WorkloadError> {
            if ok {
                Ok(())
            } else {
                Err(WorkloadError::Invalid(what))
            }
        };
        check(!self.targets.is_empty(), "no targets")?;
        check(!self.sizes.is_empty(), "no sizes")?;
        check(!self.kinds.is_empty(), "no queue kinds")?;
        check(!self.durabilities.is_empty(), "no durabilities")?;
        check(
            (1..=MAX_BATCH).contains(&self.batch),
            "--batch must be 1 to 1000",
        )?;
        check(
            (1..=256).contains(&self.producers),
            "--producers must be 1 to 256",
        )?;
        check(
            (1..=256).contains(&self.consumers),
            "--consumers must be 1 to 256",
        )?;
        check(
            (1..=1024).contains(&self.fifo_groups),
            "--fifo-groups must be 1 to 1024",
        )?;
        check(
            self.duration > 0.0 && self.duration <= 3600.0,
            "--duration must be above 0 and at most 3600 s",
        )?;
        check(
            (0.0..=600.0).contains(&self.warmup),
            "--warmup must be 0 to 600 s",
        )?;
        check(
            (1..=100).contains(&self.repeat),
            "--repeat must be 1 to 100",
        )?;
        // Each producer holds one batch of bodies; keep that bounded (256 MiB in all).
        let largest = self.sizes.iter().map(|s| s.bounds().1).max().unwrap_or(0);
        check(
            largest * self.batch * self.producers <= 256 << 20,
            "sizes × batch × producers exceed 256 MiB of bodies in flight",
        )?;
        Ok(())
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "compare: targets {}; sizes {}; batch {}; {} producers, {} consumers; kinds {} \
             (FIFO: {} groups); durabilities {}; {}{} s measured after {} s warm-up{}{}",
            self.targets.join(", "),
            self.sizes
                .iter()
                .map(SizeSpec::label)
                .collect::<Vec<_>>()
                .join(", "),
            self.batch,
            self.producers,
            self.consumers,
            self.kinds
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            self.fifo_groups,
            self.durabilities
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            if self.rate > 0 {
                format!("open loop at {} msgs/s; ", self.rate)
            } else {
                String::new()
            },
            self.duration,
            self.warmup,
            if self.repeat > 1 {
                format!(
                    "; {} rounds, the median run of each cell reported",
                    self.repeat
                )
            } else {
                String::new()
            },
            if self.half_peak {
                "; then every target at half of spool-binary's peak"
            } else {
                ""
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_ranges() {
        assert_eq!(SizeSpec::parse("100").unwrap(), SizeSpec::Fixed(100));
        assert_eq!(SizeSpec::parse("1KiB").unwrap(), SizeSpec::Fixed(1024));
        assert_eq!(SizeSpec::parse("64k").unwrap(), SizeSpec::Fixed(65536));
        assert_eq!(
            SizeSpec::parse("100-4KiB").unwrap(),
            SizeSpec::Uniform(100, 4096)
        );
        assert!(SizeSpec::parse("8").is_err(), "below the 16 B stamp");
        assert!(SizeSpec::parse("2MiB").is_err(), "above 1 MiB");
        assert!(SizeSpec::parse("4k-1k").is_err(), "backwards");
        assert!(SizeSpec::parse("lots").is_err());
        assert_eq!(SizeSpec::parse("64KiB").unwrap().label(), "64 KiB");
    }

    #[test]
    fn uniform_sizes_stay_in_range_and_vary() {
        let s = SizeSpec::Uniform(100, 200);
        let mut rng = 42u64;
        let picks: Vec<usize> = (0..1000).map(|_| s.pick(&mut rng)).collect();
        assert!(picks.iter().all(|n| (100..=200).contains(n)));
        assert!(picks.iter().any(|&n| n < 120) && picks.iter().any(|&n| n > 180));
    }

    #[test]
    fn a_file_then_flags_override_the_profile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.toml");
        std::fs::write(
            &path,
            "sizes = [\"1KiB\"]\nbatch = 50\nkinds = [\"fifo\"]\nfifo_groups = 8\n",
        )
        .unwrap();
        let mut w = Workload::quick();
        w.apply_file(&path).unwrap();
        w.apply_flags(&WorkloadFlags {
            batch: Some(20),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(w.sizes, vec![SizeSpec::Fixed(1024)]);
        assert_eq!(w.batch, 20);
        assert_eq!(w.kinds, vec![Kind::Fifo]);
        assert_eq!(w.fifo_groups, 8);
        w.validate().unwrap();

        std::fs::write(&path, "bogus = 1\n").unwrap();
        assert!(Workload::default().apply_file(&path).is_err());
        let w = Workload {
            batch: 0,
            ..Workload::default()
        };
        assert!(w.validate().is_err());
    }
}
