//! The command line of `spool`, as clap derive types. Parsing only; `commands.rs` acts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use spool_protocol::limits::FIFO_SUFFIX;

/// Command-line client for the Spool message queue (binary protocol).
#[derive(Parser, Debug)]
#[command(
    name = "spool",
    version,
    about = "Command-line client for the Spool message queue (binary protocol)",
    propagate_version = true
)]
pub struct Cli {
    /// Address (host:port) of the server's binary protocol listener.
    #[arg(
        long,
        env = "SPOOL_ADDR",
        default_value = "127.0.0.1:9320",
        global = true
    )]
    pub addr: String,
    /// API key, for a server that requires one.
    #[arg(long, env = "SPOOL_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Create, inspect, change and delete queues.
    #[command(subcommand)]
    Queue(QueueCmd),
    /// Send messages; prints one message id per line.
    Send(SendArgs),
    /// Receive messages and print them.
    Receive(ReceiveArgs),
    /// Delete received messages by receipt handle.
    Delete(DeleteArgs),
    /// Move messages out of a dead-letter queue; prints how many moved. A queue that no
    /// queue's RedrivePolicy names as its dead-letter queue is refused (exit 1).
    Redrive(RedriveArgs),
    /// Message counts of one queue or of every queue, as a table.
    Stats(StatsArgs),
}

#[derive(Subcommand, Debug)]
pub enum QueueCmd {
    /// Create a queue (idempotent if the attributes match); prints its id.
    Create(CreateArgs),
    /// List queue names, one per line.
    List {
        /// Only queues whose names start with this.
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// Print a queue's attributes, one NAME=VALUE per line.
    Get {
        /// Queue name.
        name: String,
        /// Attribute to print (repeatable); all of them when none is given.
        #[arg(long = "attr", value_name = "NAME")]
        attrs: Vec<String>,
        /// Print one JSON object instead.
        #[arg(long)]
        json: bool,
    },
    /// Change a queue's attributes.
    Set {
        /// Queue name.
        name: String,
        /// Attribute to set, e.g. VisibilityTimeout=60 (repeatable).
        #[arg(long = "attr", value_name = "K=V", value_parser = parse_key_value, required = true)]
        attrs: Vec<(String, String)>,
    },
    /// Delete a queue and its messages.
    Delete {
        /// Queue name.
        name: String,
    },
    /// Delete every message of a queue.
    Purge {
        /// Queue name.
        name: String,
    },
    /// List the queues that use this queue as their dead-letter queue.
    DlqSources {
        /// Name of the dead-letter queue.
        name: String,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Queue name (FIFO queue names end in the FIFO suffix). The help text names the
    /// suffix from the SQS model, where it is defined.
    #[arg(help = format!("Queue name (FIFO queue names end in {FIFO_SUFFIX})"))]
    pub name: String,
    /// Queue attribute, e.g. VisibilityTimeout=60 (repeatable).
    #[arg(long = "attr", value_name = "K=V", value_parser = parse_key_value)]
    pub attrs: Vec<(String, String)>,
    /// Tag (repeatable).
    #[arg(long = "tag", value_name = "K=V", value_parser = parse_key_value)]
    pub tags: Vec<(String, String)>,
    /// Make a FIFO queue (sets FifoQueue=true; the name must end in the FIFO suffix).
    #[arg(
        long,
        help = format!("Make a FIFO queue (sets FifoQueue=true; the name must end in {FIFO_SUFFIX})")
    )]
    pub fifo: bool,
}

#[derive(Args, Debug)]
pub struct SendArgs {
    /// Queue name.
    pub queue: String,
    /// Message body; read from --file or standard input when absent.
    #[arg(conflicts_with = "file")]
    pub body: Option<String>,
    /// Read the body from this file.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Send every line as its own message (in batches of up to 1000).
    #[arg(long)]
    pub lines: bool,
    /// Message group id (FIFO queues).
    #[arg(long, value_name = "G")]
    pub group: Option<String>,
    /// Deduplication id (FIFO queues). With --lines, line N gets the id `D-N` (N from 0).
    #[arg(long, value_name = "D")]
    pub dedup: Option<String>,
    /// Delay delivery by this many seconds.
    #[arg(long, value_name = "S")]
    pub delay: Option<u32>,
    /// Message attribute of type String (repeatable).
    #[arg(long = "attr", value_name = "NAME=VALUE", value_parser = parse_key_value)]
    pub attrs: Vec<(String, String)>,
}

#[derive(Args, Debug)]
pub struct ReceiveArgs {
    /// Queue name.
    pub queue: String,
    /// Most messages to receive.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub max: u32,
    /// Long polling: wait up to this many seconds for a first message.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub wait: u32,
    /// Visibility timeout of the received messages (default: the queue's).
    #[arg(long, value_name = "SECONDS")]
    pub visibility: Option<u32>,
    /// Delete the messages after printing them.
    #[arg(long)]
    pub delete: bool,
    /// Print one JSON object per message (id, receipt handle, body, attributes, …).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Queue name.
    pub queue: String,
    /// Receipt handles of the messages to delete, as `receive --json` prints them.
    #[arg(required = true, value_name = "RECEIPT_HANDLE")]
    pub handles: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RedriveArgs {
    /// The dead-letter queue to move messages out of.
    pub dlq: String,
    /// Destination queue (default: each message back to the queue it came from).
    #[arg(long, value_name = "QUEUE")]
    pub to: Option<String>,
    /// Most messages to move.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max: u32,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// One queue (default: every queue). Columns: MESSAGES = ApproximateNumberOfMessages,
    /// NOT_VISIBLE = ...NotVisible, DELAYED = ...Delayed.
    pub queue: Option<String>,
}

/// A `K=V` argument without `=`, or with an empty key.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected KEY=VALUE, got {0:?}")]
pub struct KeyValueError(String);

/// `K=V` → (K, V); the value may contain `=`.
fn parse_key_value(s: &str) -> Result<(String, String), KeyValueError> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(KeyValueError(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn key_value() {
        assert_eq!(
            parse_key_value("RedrivePolicy={\"a\"=1}").unwrap(),
            ("RedrivePolicy".into(), "{\"a\"=1}".into())
        );
        assert!(parse_key_value("novalue").is_err());
        assert!(parse_key_value("=v").is_err());
    }

    #[test]
    fn every_command_and_flag_has_help() {
        fn walk(cmd: &clap::Command) {
            for arg in cmd.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                assert!(
                    builtin || arg.get_help().is_some(),
                    "{} --{} has no help",
                    cmd.get_name(),
                    arg.get_id()
                );
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() != "help" {
                    assert!(sub.get_about().is_some(), "{} has no help", sub.get_name());
                    walk(sub);
                }
            }
        }
        walk(&Cli::command());
    }

    #[test]
    fn parses_a_send() {
        let cli = Cli::try_parse_from([
            "spool", "--addr", "h:1", "send", "q", "--lines", "--attr", "a=b", "--delay", "3",
        ])
        .unwrap();
        assert_eq!(cli.addr, "h:1");
        let Cmd::Send(s) = cli.cmd else { panic!() };
        assert!(s.lines && s.body.is_none());
        assert_eq!(s.attrs, vec![("a".to_string(), "b".to_string())]);
        assert_eq!(s.delay, Some(3));
    }
}
