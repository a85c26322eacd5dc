//! keel: the binary. Parses the command line, sets up logging, and hands off to the commands.

mod banner;
mod commands;
mod datadir;
mod dev_l1;
mod journal;
mod l1_config;
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
    let filter = match tracing_subscriber::EnvFilter::try_new(&cli.log_level) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("error: invalid --log.level {:?}: {e}", cli.log_level);
            return std::process::ExitCode::from(2);
        }
    };
    // A node logs to stdout (there is no monitor yet); other commands log to stderr so stdout
    // carries only their result.
    if matches!(cli.command, Command::L2(_)) {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .with_writer(std::io::stdout)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .init();
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
