//! `spool`: the command-line client of the Spool message queue.
//!
//! Exit status: 0 on success; 1 when a request failed (also when only some entries of a
//! batch failed; each failure is printed to stderr as
//! `error: <what failed>: <ErrorCode name>: <server message>`); 2 for usage errors.

#![forbid(unsafe_code)]

mod args;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with status 2.
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // `{:#}` prints the whole context chain: "sending to queue q: QueueDoesNotExist: …".
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
