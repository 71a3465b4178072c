//! Project automation, in Rust rather than shell scripts.
//!
//! ```text
//! cargo xtask ci                 every check CI runs (fmt, clippy native + wasm32, tests,
//!                                docs, wasm32 builds, browser tests, smoke runs); installs
//!                                the system tools it needs first
//! cargo xtask doctor             every tool the checks use: present or not, which version
//! cargo xtask setup              install the missing tools (apt-get as root or via sudo)
//! cargo xtask bench [--quick]    the benchmark suite; writes target/bench/report.json
//! cargo xtask fuzz --seconds N   every fuzz target for N seconds each
//! cargo xtask autobahn           the Autobahn WebSocket conformance cases
//! cargo xtask soak --minutes N   many clients streaming and trading while links are cut
//! ```

mod autobahn;
mod bench;
mod browser;
mod ci;
mod cmd;
mod fuzz;
mod soak;
mod tools;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  ci                 run every check CI runs; fails on the first failure. Installs the
                     system tools it needs first (apt-get, as root or with sudo -n)
                     options: --skip-browser   skip the headless browser tests
  doctor             list every tool the checks use, present or missing, with versions;
                     exits non-zero when one is missing
  setup              install the missing tools, as `ci` does before it starts
  browser            run only the headless browser tests
  bench [--quick]    run the benchmarks and write target/bench/report.json
  fuzz --seconds N   run every fuzz target for N seconds (needs nightly + cargo-fuzz,
                     installed on first use)
  autobahn           run the Autobahn fuzzing-server cases against our client
  soak --minutes N   many clients streaming and trading while connections are cut
  help               show this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let rest = &args[1..];
    let result = match command.as_str() {
        "ci" => ci::run(rest),
        "browser" => browser::run(),
        "doctor" => tools::doctor(),
        "setup" => tools::ensure(true),
        "bench" => bench::run(rest),
        "fuzz" => fuzz::run(rest),
        "autobahn" => autobahn::run(rest),
        "soak" => soak::run(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nxtask: {message}");
            ExitCode::FAILURE
        }
    }
}
