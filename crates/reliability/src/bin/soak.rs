//! `soak`: many PocketOption clients streaming and trading against the simulator while a
//! fault proxy cuts their connections at random; prints the report and exits non-zero if
//! any promise was broken (see `reliability::soak`). Run by `cargo xtask soak`.
//!
//! The flags are declared in [`Args`]; clap generates `--help` and the errors from them.
//! Exit codes: 0 when every promise held (or for `--help`); 1 when one broke, or the run
//! could not be set up or its JSON report written; 2 on bad options.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgGroup, Parser};
use reliability::SoakConfig;

/// Many PocketOption clients streaming and trading against the simulator while a fault
/// proxy cuts their connections at random.
#[derive(Debug, Parser)]
#[command(
    name = "soak",
    group(ArgGroup::new("duration").required(true).args(["minutes", "seconds"])),
    // A flag given twice: the last one wins.
    args_override_self = true,
    after_help = "Exits with 1 when trades placed != results received, a call hung, \
        something panicked, a subscription was lost, or a client did not shut down cleanly; \
        2 on bad options. RUST_LOG=info (or debug) shows the clients' logs."
)]
struct Args {
    /// Trade for N minutes (fractions allowed).
    #[arg(long, value_name = "N", value_parser = minutes, overrides_with = "seconds")]
    minutes: Option<Duration>,
    /// Trade for N seconds.
    #[arg(long, value_name = "N", value_parser = seconds, overrides_with = "minutes")]
    seconds: Option<Duration>,
    /// Clients, each with its own account and connection [default: 8; 4 with --smoke].
    #[arg(long, value_name = "N")]
    clients: Option<usize>,
    /// Trades in flight per client [default: 2].
    #[arg(long, value_name = "N")]
    lanes: Option<usize>,
    /// Seed of prices and of the fault schedule [default: 7].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Seconds between faults, at random in A..B [default: 0.5-3; 0.4-1.5 with --smoke].
    #[arg(long = "fault-every", value_name = "A-B", value_parser = seconds_range)]
    fault_every: Option<(Duration, Duration)>,
    /// The CI settings: 4 clients, a fault every 0.4-1.5 s.
    #[arg(long)]
    smoke: bool,
    /// Also write the report as JSON to PATH.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
}

impl Args {
    /// The run these flags ask for: `--smoke` or the default settings, then each flag given.
    fn config(&self) -> SoakConfig {
        // The `duration` group is required: clap has refused a command line without one.
        let duration = self.minutes.or(self.seconds).unwrap_or_default();
        let mut config = if self.smoke {
            SoakConfig::smoke(duration)
        } else {
            SoakConfig::new(duration)
        };
        config.clients = self.clients.unwrap_or(config.clients);
        config.lanes = self.lanes.unwrap_or(config.lanes);
        config.seed = self.seed.unwrap_or(config.seed);
        config.fault_interval = self.fault_every.unwrap_or(config.fault_interval);
        config
    }
}

/// A non-negative, finite number of seconds (fractions allowed).
fn seconds(value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("`{value}` is not a non-negative number of seconds"))
}

/// A non-negative, finite number of minutes (fractions allowed).
fn minutes(value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|minutes| Duration::try_from_secs_f64(minutes * 60.0).ok())
        .ok_or_else(|| format!("`{value}` is not a non-negative number of minutes"))
}

/// `A-B`: two numbers of seconds.
fn seconds_range(value: &str) -> Result<(Duration, Duration), String> {
    let (low, high) = value
        .split_once('-')
        .ok_or_else(|| format!("`{value}` is not a range like 0.5-3"))?;
    Ok((seconds(low)?, seconds(high)?))
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("soak: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let config = args.config();
    println!(
        "soak: {} clients × {} lanes for {:.0} s against the simulator through a fault proxy...",
        config.clients,
        config.lanes,
        config.duration.as_secs_f64()
    );
    let report = match runtime.block_on(reliability::soak::run(config)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("soak: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("\n{report}");
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
        if let Err(error) = std::fs::write(path, text) {
            eprintln!("soak: could not write {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
        println!("report written to {}", path.display());
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
