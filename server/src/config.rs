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

/// Default address of the binary protocol.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9320";
/// Default address of the SQS HTTP API (the port SQS-compatible servers commonly use).
pub const DEFAULT_SQS_LISTEN: &str = "127.0.0.1:9324";
/// Default address of the admin endpoint (`/metrics`, `/health`).
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9325";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./spool-data";
/// Smallest maximum frame the daemon accepts: a Receive reply must hold a 1 MiB message
/// with room to spare (see `dispatch::reply_budget`).
pub const MIN_MAX_FRAME: u32 = 4 << 20;

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
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sync" => Ok(Durability::Sync),
            "none" => Ok(Durability::None),
            "batch" => Ok(Durability::Batch(Duration::from_millis(10))),
            _ => {
                let ms = s
                    .strip_prefix("batch=")
                    .and_then(|v| v.strip_suffix("ms").unwrap_or(v).parse::<u64>().ok())
                    .filter(|ms| (1..=60_000).contains(ms))
                    .ok_or_else(|| {
                        format!(
                            "invalid durability {s:?}: expected sync, none, batch or \
                             batch=<1..60000>ms"
                        )
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
    pub fn load() -> Result<Config, String> {
        let args = Args::parse();
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Config::resolve(args, file)
    }

    /// Merges flags over the file over the defaults, and checks every value.
    pub fn resolve(args: Args, file: FileConfig) -> Result<Config, String> {
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
            return Err(format!(
                "max_frame {max_frame} is below the minimum of {MIN_MAX_FRAME} bytes"
            ));
        }
        let shards = args.shards.or(file.shards);
        if shards == Some(0) || shards.is_some_and(|n| n > 256) {
            return Err("shards must be between 1 and 256".into());
        }
        let max_connections = args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(4096);
        if max_connections == 0 {
            return Err("max_connections must be at least 1".into());
        }
        let max_in_flight = args.max_in_flight.or(file.max_in_flight).unwrap_or(256);
        if !(1..=65_536).contains(&max_in_flight) {
            return Err("max_in_flight must be between 1 and 65536".into());
        }
        let keys = if args.api_keys.is_empty() {
            file.api_keys
        } else {
            args.api_keys
        };
        let mut api_keys = Vec::new();
        for k in keys {
            if k.is_empty() || k.len() > spool_protocol::MAX_API_KEY_LEN {
                return Err(format!(
                    "an API key must be 1 to {} bytes",
                    spool_protocol::MAX_API_KEY_LEN
                ));
            }
            api_keys.push(k.into_bytes());
        }
        let flusher_name = args.flusher.or(file.flusher);
        let flusher = match flusher_name.as_deref() {
            None | Some("pwrite") => spool_engine::FlusherKind::Pwrite,
            Some("uring") => spool_engine::FlusherKind::Uring,
            Some(other) => return Err(format!("unknown flusher {other:?}: pwrite or uring")),
        };
        let segment_mib = args.segment_mib.or(file.segment_mib).unwrap_or(64);
        if !(1..=4096).contains(&segment_mib) {
            return Err("segment_mib must be between 1 and 4096".into());
        }
        let retain_kib = args.retain_kib.or(file.retain_kib).unwrap_or(4096);
        let spare_segments = args.spare_segments.or(file.spare_segments).unwrap_or(1);
        if spare_segments > 16 {
            return Err("spare_segments must be at most 16".into());
        }
        if retain_kib > 1 << 20 {
            return Err("retain_kib must be at most 1048576 (1 GiB)".into());
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
        let region = args
            .region
            .or(file.region)
            .unwrap_or_else(|| "us-east-1".into());
        if region.is_empty()
            || region.len() > 32
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!(
                "region {region:?} must be 1 to 32 of a-z, 0-9 and -"
            ));
        }
        let account_id = args
            .account_id
            .or(file.account_id)
            .unwrap_or_else(|| "000000000000".into());
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("account_id {account_id:?} must be 12 digits"));
        }
        let sqs_max_connections = args
            .sqs_max_connections
            .or(file.sqs_max_connections)
            .unwrap_or(1024);
        if !(1..=65_536).contains(&sqs_max_connections) {
            return Err("sqs_max_connections must be between 1 and 65536".into());
        }
        let sqs_threads = args.sqs_threads.or(file.sqs_threads).unwrap_or(1);
        if !(1..=256).contains(&sqs_threads) {
            return Err("sqs_threads must be between 1 and 256".into());
        }
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

/// An address setting that may be `off`.
fn optional_addr(
    what: &str,
    v: Option<String>,
    default: &str,
) -> Result<Option<SocketAddr>, String> {
    let v = v.unwrap_or_else(|| default.to_string());
    if v == "off" {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| format!("{what} {v:?} is not an address (ip:port) or off"))
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))
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
        assert!(Config::resolve(off, FileConfig::default())
            .unwrap_err()
            .contains("account_id"));
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
        assert!(Config::resolve(small, FileConfig::default())
            .unwrap_err()
            .contains("max_frame"));
        assert!(toml::from_str::<FileConfig>("bogus = 1").is_err());
    }
}
