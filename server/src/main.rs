//! `spoold`: the Spool daemon. Reads its configuration (flags, `SPOOL_*` environment,
//! optional TOML file), starts the shards, prints `listening <addr>` on stdout once it
//! accepts connections (after `sqs http://<addr>` and `admin http://<addr>` for the SQS API
//! and the admin endpoint, when they are on), and on SIGTERM or SIGINT finishes in-flight requests, flushes and
//! exits 0. A second signal exits at once (status 130); that is safe too, since recovery
//! handles any crash, but unacknowledged work is dropped.

#![cfg_attr(loom, allow(unused))]

#[cfg(not(loom))]
use std::io::{IsTerminal, Write};

#[cfg(not(loom))]
use signal_hook::consts::{SIGINT, SIGTERM};
#[cfg(not(loom))]
use signal_hook::iterator::Signals;
#[cfg(not(loom))]
use spool_server::config::Config;
#[cfg(not(loom))]
use spool_server::daemon::Daemon;

// mimalloc: the daemon allocates and frees small buffers per message (decoded records,
// receipt handles, replies) on several threads; glibc malloc was ~7 % of its CPU.
#[cfg(not(loom))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The loom build (`--cfg loom`) model-checks the mailbox only; it has no daemon.
#[cfg(loom)]
fn main() {}

#[cfg(not(loom))]
fn main() {
    let cfg = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("spoold: {e}");
            std::process::exit(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let mut signals = match Signals::new([SIGTERM, SIGINT]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("spoold: cannot install signal handlers: {e}");
            std::process::exit(1);
        }
    };
    let daemon = match Daemon::start(cfg) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("spoold: {e}");
            std::process::exit(1);
        }
    };
    // What stdout says: tests and scripts wait for it to learn the ports.
    // A closed stdout is not a reason to stop serving.
    let mut out = std::io::stdout();
    // `listening` comes last: whoever waits for it has the other addresses already.
    if let Some(a) = daemon.sqs_addr() {
        let _ = writeln!(out, "sqs http://{a}");
    }
    if let Some(a) = daemon.admin_addr() {
        let _ = writeln!(out, "admin http://{a}");
    }
    let _ = writeln!(out, "listening {}", daemon.addr());
    let _ = out.flush();

    let shared = daemon.shutdown_handle();
    std::thread::Builder::new()
        .name("spool-signals".into())
        .spawn(move || {
            let mut first = true;
            for sig in signals.forever() {
                if first {
                    tracing::info!(signal = sig, "shutting down");
                    shared.request_shutdown();
                    first = false;
                } else {
                    tracing::warn!(signal = sig, "second signal: exiting now");
                    std::process::exit(130);
                }
            }
        })
        .expect("spawn the signal thread");

    match daemon.wait() {
        Ok(()) => {
            tracing::info!("stopped cleanly");
        }
        Err(e) => {
            tracing::error!("{e}");
            std::process::exit(1);
        }
    }
}
