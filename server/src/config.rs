//! The daemon's configuration: command-line flags, `SPOOL_*` environment variables and an
//! optional TOML file, in that order of precedence (a flag beats the environment, which
//! beats the file, which beats the built-in default).
//!
//! Promises: `spoold` with no arguments listens on 127.0.0.1:9320 with data under
//! `./spool-data`; every value is checked here, once, so the shards can trust it (a bad
//! value is a startup error naming the setting, never a panic later).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

use spool_model::account::{
    is_valid_account_id, is_valid_region, ACCOUNT_ID_DIGITS, DEFAULT_ACCOUNT_ID, DEFAULT_REGION,
    REGION_MAX_CHARS,
};

/// Default address of the binary protocol.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9320";
/// Default address of the SQS HTTP API (the port SQS-compatible servers commonly use).
pub const DEFAULT_SQS_LISTEN: &str = "127.0.0.1:9324";
/// Default address of the admin endpoint (`/metrics`, `/health`).
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9325";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./spool-data";
/// Smallest maximum frame the daemon accepts: a Receive reply must hold a largest message
/// (`MESSAGE_SIZE_MAX_BYTES` of [`spool_model::limits`]) with room to spare (see `dispatch::reply_budget`).
pub const MIN_MAX_FRAME: u32 = 4 << 20;

/// Most shards a daemon runs (and a data directory may hold).
pub const MAX_SHARDS: u16 = 256;
/// Most requests in progress per connection.
pub const MAX_IN_FLIGHT: usize = 65_536;
/// Segment file sizes allowed, in MiB.
pub const SEGMENT_MIB_RANGE: std::ops::RangeInclusive<u64> = 1..=4096;
/// Most pre-written segment files per shard.
pub const MAX_SPARE_SEGMENTS: usize = 16;
/// Most KiB of recent batches retained per partition (1 GiB).
pub const MAX_RETAIN_KIB: usize = 1 << 20;
/// Most SQS API connections served at once.
pub const MAX_SQS_CONNECTIONS: usize = 65_536;
/// Most threads of the gateway runtime.
pub const MAX_SQS_THREADS: usize = 256;
/// Durability `batch=<ms>` intervals allowed, in milliseconds.
pub const BATCH_INTERVAL_MS_RANGE: std::ops::RangeInclusive<u64> = 1..=60_000;
/// Interval of a plain `batch` durability.
pub const DEFAULT_BATCH_INTERVAL: Duration = Duration::from_millis(10);

/// Why the configuration was refused. Each names the setting (as its TOML key, which is
/// the long flag with underscores) and the value given, or the file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {}: {source}", path.display())]
    ParseFile {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error(transparent)]
    Durability(#[from] DurabilityError),
    #[error("max_frame {given} is below the minimum of {MIN_MAX_FRAME} bytes")]
    MaxFrameTooSmall { given: u32 },
    #[error("{setting} must be between {min} and {max} (given: {given})")]
    OutOfRange {
        setting: &'static str,
        given: u64,
        min: u64,
        max: u64,
    },
    #[error("max_connections must be at least 1")]
    NoConnections,
    #[error("spare_segments must be at most {MAX_SPARE_SEGMENTS} (given: {given})")]
    TooManySpareSegments { given: usize },
    #[error("retain_kib must be at most {MAX_RETAIN_KIB} (1 GiB) (given: {given})")]
    RetainTooLarge { given: usize },
    #[error(
        "an API key must be 1 to {} bytes (one is {len})",
        spool_protocol::MAX_API_KEY_LEN
    )]
    ApiKeyLength { len: usize },
    #[error("unknown flusher {given:?}: pwrite or uring")]
    UnknownFlusher { given: String },
    #[error("{setting} {given:?} is not an address (ip:port) or off")]
    NotAnAddress {
        setting: &'static str,
        given: String,
    },
    #[error("region {given:?} must be 1 to {REGION_MAX_CHARS} of a-z, 0-9 and -")]
    Region { given: String },
    #[error("account_id {given:?} must be {ACCOUNT_ID_DIGITS} digits")]
    AccountId { given: String },
}

/// A durability setting that is none of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid durability {given:?}: expected sync, none, batch or batch=<{}..{}>ms",
    BATCH_INTERVAL_MS_RANGE.start(),
    BATCH_INTERVAL_MS_RANGE.end()
)]
pub struct DurabilityError {
    pub given: String,
}

/// When a write counts as acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Acknowledge after fdatasync (group commit). The default.
    Sync,
    /// Acknowledge at once; write and fdatasync at most every this often.
    Batch(Duration),
    /// Acknowledge at once; write without fdatasync (the OS decides when).
    None,
}

impl std::str::FromStr for Durability {
    type Err = DurabilityError;

    fn from_str(s: &str) -> Result<Self, DurabilityError> {
        match s {
            "sync" => Ok(Durability::Sync),
            "none" => Ok(Durability::None),
            "batch" => Ok(Durability::Batch(DEFAULT_BATCH_INTERVAL)),
            _ => {
                let ms = s
                    .strip_prefix("batch=")
                    .and_then(|v| v.strip_suffix("ms").unwrap_or(v).parse::<u64>().ok())
                    .filter(|ms| BATCH_INTERVAL_MS_RANGE.contains(ms))
                    .ok_or_else(|| DurabilityError {
                        given: s.to_string(),
                    })?;
                Ok(Durability::Batch(Duration::from_millis(ms)))
            }
        }
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Durability::Sync => f.write_str("sync (acknowledge after fdatasync, group commit)"),
            Durability::Batch(d) => write!(
                f,
                "batch={}ms (acknowledge before fdatasync; a crash loses up to {}ms)",
                d.as_millis(),
                d.as_millis()
            ),
            Durability::None => {
                f.write_str("none (no fdatasync; a crash may lose acknowledged writes)")
            }
        }
    }
}

/// Command-line flags. Each can also come from its environment variable or the TOML file.
#[derive(Debug, Parser, Default)]
#[command(name = "spoold", version, about = "Spool message queue daemon")]
pub struct Args {
    /// TOML file with any of the settings below (keys as the long flag names, with
    /// underscores: listen, data_dir, shards, durability, ...).
    #[arg(long, env = "SPOOL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address of the binary protocol [default: 127.0.0.1:9320]. Port 0 picks a free port
    /// (printed on stdout).
    #[arg(long, env = "SPOOL_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory [default: ./spool-data].
    #[arg(long, env = "SPOOL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Shards (threads, one per core) [default: available cores, or what the data
    /// directory was created with].
    #[arg(long, env = "SPOOL_SHARDS")]
    pub shards: Option<u16>,
    /// sync | batch=<ms> | none [default: sync].
    #[arg(long, env = "SPOOL_DURABILITY")]
    pub durability: Option<Durability>,
    /// Most client connections, over all shards [default: 4096].
    #[arg(long, env = "SPOOL_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Largest frame in bytes, length prefix included [default: 16777216; at least 4 MiB].
    #[arg(long, env = "SPOOL_MAX_FRAME")]
    pub max_frame: Option<u32>,
    /// Requests in progress per connection before the daemon stops reading from it
    /// [default: 256].
    #[arg(long, env = "SPOOL_MAX_IN_FLIGHT")]
    pub max_in_flight: Option<usize>,
    /// Accepted API key; repeat for several. With none, any client is accepted.
    #[arg(long = "api-key", env = "SPOOL_API_KEYS", value_delimiter = ',')]
    pub api_keys: Vec<String>,
    /// Group-commit I/O: pwrite | uring [default: pwrite]. The commit thread writes and
    /// fdatasyncs; with uring it submits to a ring whose kernel workers do the fdatasync,
    /// one thread hop more per commit (measured slower: docs/benchmarks.md).
    #[arg(long, env = "SPOOL_FLUSHER")]
    pub flusher: Option<String>,
    /// Segment file size in MiB [default: 64].
    #[arg(long, env = "SPOOL_SEGMENT_MIB")]
    pub segment_mib: Option<u64>,
    /// Append to the log with O_DIRECT (true) or through the page cache (false)
    /// [default: true].
    #[arg(long, env = "SPOOL_DIRECT_IO")]
    pub direct_io: Option<bool>,
    /// KiB of recently written batches each queue partition keeps in memory, so that
    /// messages received soon after they were sent are read from RAM [default: 4096; 0 =
    /// always read through the log's mmap].
    #[arg(long, env = "SPOOL_RETAIN_KIB")]
    pub retain_kib: Option<usize>,
    /// Segment files each shard keeps written (zeros) and synced ahead of need, so group
    /// commits never sync into freshly allocated blocks [default: 1; 0 = off].
    #[arg(long, env = "SPOOL_SPARE_SEGMENTS")]
    pub spare_segments: Option<usize>,
    /// Log filter (tracing EnvFilter syntax, e.g. info or spool_server=debug) [default: info].
    #[arg(long, env = "SPOOL_LOG")]
    pub log: Option<String>,
    /// Address of the SQS HTTP API, or `off` [default: 127.0.0.1:9324].
    #[arg(long, env = "SPOOL_SQS_LISTEN")]
    pub sqs_listen: Option<String>,
    /// Address of the admin endpoint (/metrics, /health), or `off`
    /// [default: 127.0.0.1:9325].
    #[arg(long, env = "SPOOL_ADMIN_LISTEN")]
    pub admin_listen: Option<String>,
    /// Region in queue ARNs [default: us-east-1].
    #[arg(long, env = "SPOOL_REGION")]
    pub region: Option<String>,
    /// Account id (12 digits) in queue URLs and ARNs [default: 000000000000].
    #[arg(long, env = "SPOOL_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// Most SQS API (HTTP) connections served at once [default: 1024].
    #[arg(long, env = "SPOOL_SQS_MAX_CONNECTIONS")]
    pub sqs_max_connections: Option<usize>,
    /// Threads of the gateway runtime (admin endpoint, message move tasks; SQS requests
    /// are served on the shards) [default: 1].
    #[arg(long, env = "SPOOL_SQS_THREADS")]
    pub sqs_threads: Option<usize>,
}

/// The TOML file: the same settings as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub shards: Option<u16>,
    pub durability: Option<String>,
    pub max_connections: Option<usize>,
    pub max_frame: Option<u32>,
    pub max_in_flight: Option<usize>,
    #[serde(default)]
    pub api_keys: Vec<String>,
    pub flusher: Option<String>,
    pub segment_mib: Option<u64>,
    pub direct_io: Option<bool>,
    pub retain_kib: Option<usize>,
    pub spare_segments: Option<usize>,
    pub log: Option<String>,
    pub sqs_listen: Option<String>,
    pub admin_listen: Option<String>,
    pub region: Option<String>,
    pub account_id: Option<String>,
    pub sqs_max_connections: Option<usize>,
    pub sqs_threads: Option<usize>,
}

/// The checked configuration the daemon runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// None = decide at startup (what the data directory holds, else available cores).
    pub shards: Option<u16>,
    pub durability: Durability,
    pub max_connections: usize,
    pub max_frame: u32,
    pub max_in_flight: usize,
    pub api_keys: Vec<Vec<u8>>,
    pub flusher: spool_engine::FlusherKind,
    pub segment_bytes: u64,
    pub direct_io: bool,
    /// Bytes of recently written batches kept per partition.
    pub retain_bytes: usize,
    /// Pre-written segment files kept ready per shard.
    pub spare_segments: usize,
    pub log: String,
    /// None: the SQS HTTP API is off.
    pub sqs_listen: Option<SocketAddr>,
    /// None: the admin endpoint is off.
    pub admin_listen: Option<SocketAddr>,
    pub region: String,
    pub account_id: String,
    pub sqs_max_connections: usize,
    pub sqs_threads: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config::resolve(Args::default(), FileConfig::default()).expect("defaults are valid")
    }
}

impl Config {
    /// Parses flags (and environment), reads the TOML file if one is named, and checks.
    pub fn load() -> Result<Config, ConfigError> {
        let args = Args::parse();
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Config::resolve(args, file)
    }

    /// Merges flags over the file over the defaults, and checks every value.
    pub fn resolve(args: Args, file: FileConfig) -> Result<Config, ConfigError> {
        let durability = match (args.durability, file.durability) {
            (Some(d), _) => d,
            (None, Some(s)) => s.parse()?,
            (None, None) => Durability::Sync,
        };
        let max_frame = args
            .max_frame
            .or(file.max_frame)
            .unwrap_or(spool_protocol::DEFAULT_MAX_FRAME as u32);
        if max_frame < MIN_MAX_FRAME {
            return Err(ConfigError::MaxFrameTooSmall { given: max_frame });
        }
        let shards = args.shards.or(file.shards);
        if let Some(n) = shards {
            in_range("shards", n.into(), 1, MAX_SHARDS.into())?;
        }
        let max_connections = args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(4096);
        if max_connections == 0 {
            return Err(ConfigError::NoConnections);
        }
        let max_in_flight = args.max_in_flight.or(file.max_in_flight).unwrap_or(256);
        in_range(
            "max_in_flight",
            max_in_flight as u64,
            1,
            MAX_IN_FLIGHT as u64,
        )?;
        let keys = if args.api_keys.is_empty() {
            file.api_keys
        } else {
            args.api_keys
        };
        let api_keys = api_keys(keys)?;
        let flusher = flusher(args.flusher.or(file.flusher).as_deref())?;
        let segment_mib = args.segment_mib.or(file.segment_mib).unwrap_or(64);
        in_range(
            "segment_mib",
            segment_mib,
            *SEGMENT_MIB_RANGE.start(),
            *SEGMENT_MIB_RANGE.end(),
        )?;
        let retain_kib = args.retain_kib.or(file.retain_kib).unwrap_or(4096);
        let spare_segments = args.spare_segments.or(file.spare_segments).unwrap_or(1);
        if spare_segments > MAX_SPARE_SEGMENTS {
            return Err(ConfigError::TooManySpareSegments {
                given: spare_segments,
            });
        }
        if retain_kib > MAX_RETAIN_KIB {
            return Err(ConfigError::RetainTooLarge { given: retain_kib });
        }
        let sqs_listen = optional_addr(
            "sqs_listen",
            args.sqs_listen.or(file.sqs_listen),
            DEFAULT_SQS_LISTEN,
        )?;
        let admin_listen = optional_addr(
            "admin_listen",
            args.admin_listen.or(file.admin_listen),
            DEFAULT_ADMIN_LISTEN,
        )?;
        let region = region(args.region.or(file.region))?;
        let account_id = account_id(args.account_id.or(file.account_id))?;
        let sqs_max_connections = args
            .sqs_max_connections
            .or(file.sqs_max_connections)
            .unwrap_or(1024);
        in_range(
            "sqs_max_connections",
            sqs_max_connections as u64,
            1,
            MAX_SQS_CONNECTIONS as u64,
        )?;
        let sqs_threads = args.sqs_threads.or(file.sqs_threads).unwrap_or(1);
        in_range("sqs_threads", sqs_threads as u64, 1, MAX_SQS_THREADS as u64)?;
        Ok(Config {
            sqs_threads,
            sqs_listen,
            admin_listen,
            region,
            account_id,
            sqs_max_connections,
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default")),
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            shards,
            durability,
            max_connections,
            max_frame,
            max_in_flight,
            api_keys,
            flusher,
            segment_bytes: segment_mib << 20,
            direct_io: args.direct_io.or(file.direct_io).unwrap_or(true),
            retain_bytes: retain_kib << 10,
            spare_segments,
            log: args.log.or(file.log).unwrap_or_else(|| "info".into()),
        })
    }
}

/// The API keys as bytes, each 1 to `MAX_API_KEY_LEN` bytes.
fn api_keys(keys: Vec<String>) -> Result<Vec<Vec<u8>>, ConfigError> {
    keys.into_iter()
        .map(|k| {
            if k.is_empty() || k.len() > spool_protocol::MAX_API_KEY_LEN {
                Err(ConfigError::ApiKeyLength { len: k.len() })
            } else {
                Ok(k.into_bytes())
            }
        })
        .collect()
}

fn flusher(name: Option<&str>) -> Result<spool_engine::FlusherKind, ConfigError> {
    match name {
        None | Some("pwrite") => Ok(spool_engine::FlusherKind::Pwrite),
        Some("uring") => Ok(spool_engine::FlusherKind::Uring),
        Some(other) => Err(ConfigError::UnknownFlusher {
            given: other.to_string(),
        }),
    }
}

fn region(given: Option<String>) -> Result<String, ConfigError> {
    let region = given.unwrap_or_else(|| DEFAULT_REGION.into());
    if is_valid_region(&region) {
        Ok(region)
    } else {
        Err(ConfigError::Region { given: region })
    }
}

fn account_id(given: Option<String>) -> Result<String, ConfigError> {
    let account_id = given.unwrap_or_else(|| DEFAULT_ACCOUNT_ID.into());
    if is_valid_account_id(&account_id) {
        Ok(account_id)
    } else {
        Err(ConfigError::AccountId { given: account_id })
    }
}

/// Ok if `min <= given <= max`, else the error naming `setting`.
fn in_range(setting: &'static str, given: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&given) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            setting,
            given,
            min,
            max,
        })
    }
}

/// An address setting that may be `off`.
fn optional_addr(
    setting: &'static str,
    v: Option<String>,
    default: &str,
) -> Result<Option<SocketAddr>, ConfigError> {
    let v = v.unwrap_or_else(|| default.to_string());
    if v == "off" {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| ConfigError::NotAnAddress { setting, given: v })
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::ParseFile {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_loopback_with_local_data() {
        let c = Config::default();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.data_dir, PathBuf::from("./spool-data"));
        assert_eq!(c.durability, Durability::Sync);
        assert!(c.api_keys.is_empty());
        assert_eq!(c.sqs_listen.unwrap().to_string(), DEFAULT_SQS_LISTEN);
        assert_eq!(c.admin_listen.unwrap().to_string(), DEFAULT_ADMIN_LISTEN);
        assert_eq!(c.account_id, "000000000000");
        let off = Args {
            sqs_listen: Some("off".into()),
            account_id: Some("12".into()),
            ..Default::default()
        };
        let e = Config::resolve(off, FileConfig::default()).unwrap_err();
        assert!(matches!(e, ConfigError::AccountId { .. }));
        assert!(e.to_string().contains("account_id"));
    }

    #[test]
    fn durability_parses_and_rejects() {
        assert_eq!("sync".parse::<Durability>(), Ok(Durability::Sync));
        assert_eq!("none".parse::<Durability>(), Ok(Durability::None));
        assert_eq!(
            "batch=5ms".parse::<Durability>(),
            Ok(Durability::Batch(Duration::from_millis(5)))
        );
        assert_eq!(
            "batch=20".parse::<Durability>(),
            Ok(Durability::Batch(Duration::from_millis(20)))
        );
        assert!("batch=0".parse::<Durability>().is_err());
        assert!("fast".parse::<Durability>().is_err());
    }

    #[test]
    fn errors_name_the_setting_and_the_value_given() {
        let cases = [
            (
                Args {
                    shards: Some(0),
                    ..Default::default()
                },
                "shards must be between 1 and 256 (given: 0)",
            ),
            (
                Args {
                    flusher: Some("fast".into()),
                    ..Default::default()
                },
                "unknown flusher \"fast\": pwrite or uring",
            ),
            (
                Args {
                    sqs_listen: Some("nowhere".into()),
                    ..Default::default()
                },
                "sqs_listen \"nowhere\" is not an address (ip:port) or off",
            ),
            (
                Args {
                    region: Some("EU".into()),
                    ..Default::default()
                },
                "region \"EU\" must be 1 to 32 of a-z, 0-9 and -",
            ),
            (
                Args {
                    retain_kib: Some(2 << 20),
                    ..Default::default()
                },
                "retain_kib must be at most 1048576 (1 GiB) (given: 2097152)",
            ),
            (
                Args {
                    api_keys: vec![String::new()],
                    ..Default::default()
                },
                "an API key must be 1 to 256 bytes (one is 0)",
            ),
        ];
        for (args, want) in cases {
            let e = Config::resolve(args, FileConfig::default()).unwrap_err();
            assert_eq!(e.to_string(), want);
        }
        let file = FileConfig {
            durability: Some("fast".into()),
            ..Default::default()
        };
        let e = Config::resolve(Args::default(), file).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid durability \"fast\": expected sync, none, batch or batch=<1..60000>ms"
        );
        let missing = Path::new("/nonexistent/spool.toml");
        let e = read_file(missing).unwrap_err();
        assert!(matches!(e, ConfigError::ReadFile { .. }));
        assert!(e
            .to_string()
            .starts_with("cannot read config file /nonexistent/spool.toml: "));
    }

    #[test]
    fn flags_beat_the_file_and_bad_values_are_errors() {
        let file: FileConfig = toml::from_str(
            "listen = \"127.0.0.1:1234\"\nshards = 3\ndurability = \"none\"\nmax_frame = 8388608\n",
        )
        .unwrap();
        let args = Args {
            shards: Some(2),
            ..Default::default()
        };
        let c = Config::resolve(args, file).unwrap();
        assert_eq!(c.listen.port(), 1234);
        assert_eq!(c.shards, Some(2));
        assert_eq!(c.durability, Durability::None);
        assert_eq!(c.max_frame, 8 << 20);

        let small = Args {
            max_frame: Some(1024),
            ..Default::default()
        };
        let e = Config::resolve(small, FileConfig::default()).unwrap_err();
        assert!(matches!(e, ConfigError::MaxFrameTooSmall { given: 1024 }));
        assert!(e.to_string().contains("max_frame"));
        assert!(toml::from_str::<FileConfig>("bogus = 1").is_err());
    }
}
