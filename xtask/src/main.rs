//! Project automation, in Rust rather than shell scripts: `cargo xtask --help` lists the
//! commands (the help text is generated from the declarations below).

mod autobahn;
mod bench;
mod browser;
mod ci;
mod cmd;
mod dashboard;
mod fuzz;
mod instructions;
mod peers;
mod python;
mod soak;
mod tidy;
mod tools;
mod venv;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Build and CI automation for this workspace.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every check CI runs, failing on the first failure.
    ///
    /// fmt, clippy (native and wasm32), wasm32 builds, tests, docs, browser tests, smoke
    /// runs of the benchmarks, soak, fuzzers and Autobahn. Installs the system tools it
    /// needs first (apt-get as root or with `sudo -n`), or names them with the command.
    Ci {
        /// Skip the headless browser tests (and do not install Chromium).
        #[arg(long)]
        skip_browser: bool,
    },
    /// Every tool the checks use, present or missing, with its version.
    ///
    /// Exits non-zero when a tool the checks need is missing.
    Doctor,
    /// Install the missing tools, as `ci` does before it starts.
    Setup,
    /// The layering rules of ARCHITECTURE.md, checked from the sources.
    ///
    /// Crates depend only downward, core-pre names no socket library or protocol, target
    /// cfgs only in their homes, no module cycles inside a crate.
    Tidy,
    /// Only the headless browser tests (client_ws and binary_options_tools in Chromium).
    Browser,
    /// The live browser dashboard: builds the page's wasm (cargo + the pinned wasm-bindgen
    /// CLI) and serves it with the simulator in-process, printing the URL.
    ///
    /// With --test: drives the page in headless Chromium through chromedriver (candles,
    /// a call and its result, a dropped connection and the recovery) and saves
    /// target/dashboard.png.
    Dashboard {
        /// Where to serve the page.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Test the page in headless Chromium instead of serving it.
        #[arg(long)]
        test: bool,
    },
    /// The benchmark suite; writes target/bench/report.json.
    Bench {
        /// Short sizes, for iterating.
        #[arg(long)]
        quick: bool,
        /// Instructions per frame of the routed, tick and round-trip paths (callgrind)
        /// instead of the timed suite.
        #[arg(long)]
        instructions: bool,
        /// With --instructions: fail when one of our paths costs over 10 % more than the
        /// committed baseline (crates/bench/instructions.json).
        #[arg(long, requires = "instructions")]
        check: bool,
        /// With --instructions: write these counts as the baseline.
        #[arg(long, requires = "instructions")]
        record: bool,
        /// With --instructions: the unoptimized suite (the profile CI checks).
        #[arg(long, requires = "instructions")]
        unoptimized: bool,
    },
    /// Every fuzz target (or those named) for N seconds each.
    ///
    /// Needs the nightly toolchain; cargo-fuzz is installed into target/tools on first use.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Run only this target (repeatable).
        #[arg(long = "target", value_parser = clap::builder::PossibleValuesParser::new(fuzz::TARGETS))]
        targets: Vec<String>,
        /// Build the targets, run nothing.
        #[arg(long)]
        build_only: bool,
    },
    /// The Autobahn WebSocket conformance cases against our client.
    Autobahn {
        /// Case globs, comma-separated (e.g. `1.*,9.7.*`); all of 1–10 when absent.
        #[arg(long, value_delimiter = ',')]
        cases: Vec<String>,
    },
    /// The server crate with a stock WebSocket client (Python `websockets`, in a venv).
    Peers,
    /// The Python package: the wheel built with maturin into target/python-venv, and its
    /// pytest suite run against the simulator.
    Python {
        /// Instead: the py_ticks_throughput benchmark on a release wheel
        /// (target/python-bench-venv), Python's `async for` against the Rust client.
        #[arg(long)]
        bench: bool,
    },
    /// Many clients streaming and trading while connections are cut.
    ///
    /// Options go to the soak binary: `--minutes N` or `--seconds N` (required),
    /// `--clients N`, `--lanes N`, `--seed N`, `--fault-every A-B`, `--json PATH`.
    Soak {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Ci { skip_browser } => ci::run(skip_browser),
        Command::Doctor => tools::doctor(),
        Command::Setup => tools::ensure(true),
        Command::Tidy => tidy::run(),
        Command::Browser => browser::run(),
        Command::Dashboard { test: true, .. } => dashboard::test(),
        Command::Dashboard { addr, test: false } => dashboard::run(&addr),
        Command::Bench {
            instructions: true,
            check,
            record,
            unoptimized,
            ..
        } => instructions::run(
            if unoptimized {
                instructions::SMOKE
            } else {
                instructions::FULL
            },
            check,
            record,
        ),
        Command::Bench { quick, .. } => bench::run(quick),
        Command::Fuzz {
            seconds,
            targets,
            build_only,
        } => fuzz::run(seconds, &targets, build_only),
        Command::Autobahn { cases } => autobahn::run(&cases),
        Command::Peers => peers::run(),
        Command::Python { bench: false } => python::run(),
        Command::Python { bench: true } => python::bench(),
        Command::Soak { args } => soak::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nxtask: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn options_parse_into_their_commands() {
        let cli =
            Cli::try_parse_from(["xtask", "fuzz", "--seconds", "5", "--target", "ssid_parse"])
                .expect("valid");
        assert!(matches!(
            cli.command,
            Command::Fuzz { seconds: 5, ref targets, build_only: false } if targets == &["ssid_parse"]
        ));
        assert!(Cli::try_parse_from(["xtask", "fuzz", "--target", "nope"]).is_err());
        let cli = Cli::try_parse_from(["xtask", "soak", "--minutes", "3", "--clients", "2"])
            .expect("valid");
        assert!(matches!(cli.command, Command::Soak { ref args } if args.len() == 4));
        let cli =
            Cli::try_parse_from(["xtask", "autobahn", "--cases", "1.*,9.7.*"]).expect("valid");
        assert!(matches!(cli.command, Command::Autobahn { ref cases } if cases.len() == 2));
        assert!(Cli::try_parse_from(["xtask", "ci", "--bogus"]).is_err());
    }
}
