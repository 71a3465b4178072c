//! `pocketoption`: the PocketOption client on the command line.
//!
//! Check an SSID, diagnose the connection, look at the balance, payouts and server time,
//! save candles (as a table, CSV, JSON or a candlestick PNG), stream live prices, trade
//! and place pending orders, all against the real platform or, with `--sim`, against the
//! simulator started in-process; `pocketoption sim` runs that simulator in the foreground.
//!
//! Each command is one clap struct in `commands/` whose doc comments are its `--help`;
//! the connection flags are `connect::ConnectArgs`, flattened into every command that
//! connects. Errors are printed by `error::report` as `error: <sentence>` and its causes,
//! with the exit codes listed in `error::EXIT_CODES` (and `--help`).
//!
//! Modules: `time` and `error` use nothing of the crate but `error`; `output` and
//! `connect` use `error` and `time`; `chart` and `progress` use nothing; `commands` uses them all.

mod chart;
mod commands;
mod connect;
mod error;
mod output;
mod progress;
mod time;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::{
    assets, balance, candles, completions, doctor, pending, server_time, sim, ssid, stream, trade,
};
use crate::error::{CliError, EXIT_CODES};

/// pocketoption: PocketOption from the command line (or against the built-in simulator)
#[derive(Debug, Parser)]
#[command(
    name = "pocketoption",
    version,
    after_help = format!(
        "Every command that connects takes --sim to run against the simulator started \
         in-process (no account, no network), or an SSID (--ssid or POCKET_OPTION_SSID; use a \
         demo account's). `pocketoption COMMAND --help` explains a command.\n\n{EXIT_CODES}"
    )
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The commands. Each `…Args` struct's doc comment is its help (the first line the summary
/// in the list); the two command groups are described here.
#[derive(Debug, Subcommand)]
enum Command {
    /// Check an SSID: what it is, or exactly what is wrong with it (never prints the token)
    #[command(subcommand)]
    Ssid(ssid::SsidCommand),
    Doctor(doctor::DoctorArgs),
    Balance(balance::BalanceArgs),
    Assets(assets::AssetsArgs),
    ServerTime(server_time::ServerTimeArgs),
    Candles(candles::CandlesArgs),
    Stream(stream::StreamArgs),
    Trade(trade::TradeArgs),
    /// Place or cancel pending orders (opened later, at a time or a price)
    #[command(subcommand)]
    Pending(pending::PendingCommand),
    Sim(sim::SimArgs),
    Completions(completions::CompletionsArgs),
}

impl Command {
    async fn run(self) -> Result<(), CliError> {
        match self {
            Command::Ssid(command) => command.run(),
            Command::Doctor(args) => args.run().await,
            Command::Balance(args) => args.run().await,
            Command::Assets(args) => args.run().await,
            Command::ServerTime(args) => args.run().await,
            Command::Candles(args) => args.run().await,
            Command::Stream(args) => args.run().await,
            Command::Trade(args) => args.run().await,
            Command::Pending(command) => command.run().await,
            Command::Sim(args) => args.run().await,
            Command::Completions(args) => args.run(),
        }
    }
}

fn main() -> ExitCode {
    // clap prints help and version (exit 0) or a usage error (exit 2) itself.
    let cli = Cli::parse();
    // Logs (never session tokens) go to stderr, off unless RUST_LOG asks: the command
    // reports failures itself, as sentences.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return error::report(&error::io("could not start the async runtime", e)),
    };
    let outcome = runtime.block_on(cli.command.run());
    // Whatever is still running (a stdin reader, a stream's task) must not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => error::report(&error),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_declarations_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
