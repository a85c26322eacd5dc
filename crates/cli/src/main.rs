//! keel: the binary. Parses the command line, sets up logging, and hands off to the commands.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod admin;
mod banner;
mod commands;
mod datadir;
mod dev_l1;
mod journal;
mod l1_config;
mod l1_tools;
mod logging;
mod metrics;
mod monitor;
mod ports;
mod privileged_check;
mod proof_sender;

use clap::{Parser, Subcommand};

/// keel — an Ethereum ZK-rollup stack: L2 sequencer node, prover and L1 contracts.
#[derive(Debug, Parser)]
#[command(name = "keel", version, about, long_about = None)]
struct Cli {
    /// Log level or filter (error, warn, info, debug, trace, or a tracing filter like `keel_chain=debug`).
    #[arg(
        long = "log.level",
        env = "KEEL_LOG_LEVEL",
        default_value = "info",
        global = true
    )]
    log_level: String,
    /// Log line format: `text`, or `json` (one JSON object per line, for log collectors).
    #[arg(
        long = "log.format",
        env = "KEEL_LOG_FORMAT",
        value_enum,
        default_value_t = logging::LogFormat::Text,
        global = true
    )]
    log_format: logging::LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import blocks from a file of concatenated RLP blocks (as written by `geth export`).
    ///
    /// Every block is re-executed and checked against its header. Privileged transactions
    /// (deposits, type 0x7e) carry no signature: with --eth.rpc-url and --l1.deployment (or
    /// --l1.bridge-address) each must match what the L1 bridge queued under its id, or its block
    /// is refused; without an L1 they are trusted (a warning says so).
    Import(commands::import::ImportArgs),
    /// Export a range of canonical blocks to a file of concatenated RLP blocks.
    Export(commands::export::ExportArgs),
    /// The L2: run the sequencer node (`keel l2 --dev` for a local rollup), or one of its
    /// subcommands (deploy the L1 contracts, write a genesis).
    L2(Box<commands::l2::L2Cli>),
    /// Deposits and withdrawals: `keel bridge deposit|deposit-erc20|withdraw|withdraw-erc20|balance`.
    Bridge(Box<commands::bridge::BridgeCli>),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // A node logs to stdout, or into its terminal monitor; other commands log to stderr so
    // stdout carries only their result.
    let destination = match &cli.command {
        Command::L2(l2) if l2.command.is_none() && commands::l2::monitor_wanted(&l2.node) => {
            logging::Destination::Monitor
        }
        Command::L2(_) => logging::Destination::Stdout,
        _ => logging::Destination::Stderr,
    };
    if let Err(e) = logging::init(&cli.log_level, cli.log_format, destination) {
        eprintln!("error: {e}");
        return std::process::ExitCode::from(2);
    }

    let result = match cli.command {
        Command::Import(args) => commands::import::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::L2(cli) => commands::l2::dispatch(*cli),
        Command::Bridge(cli) => commands::bridge::run(*cli),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
