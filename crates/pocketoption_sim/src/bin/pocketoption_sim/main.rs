//! The simulator as a program: `cargo run -p pocketoption_sim -- --addr 127.0.0.1:PORT`.
//!
//! Runs until Ctrl-C, logs every connection (filter with `RUST_LOG`), injects faults on a
//! schedule given by flags, and takes commands on stdin (`help` lists them) so a person can
//! poke a client by hand. The flags (the library's [`pocketoption_sim::flags`], shared with
//! the `pocketoption sim` command of the CLI) and the stdin commands (`console`) are clap
//! declarations, so `--help` and `help` are generated from them.
//!
//! Exit codes: 0 after Ctrl-C or `--help`; 2 for a bad flag (clap's error on stderr); 1 when
//! the simulator cannot start (e.g. the address is taken) or stop.

mod console;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};
use pocketoption_sim::flags::SimulatorFlags;
use tokio::sync::mpsc;

// `main` appends the rest of the help (where clients connect, logging, the stdin commands)
// as `after_help`: a long about would switch `--help` to the sparse long layout.
/// pocketoption_sim: a PocketOption server simulator for tests and demos.
#[derive(Debug, Parser)]
#[command(
    name = "pocketoption_sim",
    long_about = None,
    args_override_self = true,
    allow_negative_numbers = true
)]
struct Args {
    #[command(flatten)]
    sim: SimulatorFlags,

    /// Do not read commands from stdin
    #[arg(long, help_heading = "Other")]
    no_stdin: bool,
}

/// Prints a line; a closed stdout (a pipe whose reader left) is not worth a panic.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Parses the flags, exiting with clap's help or error where clap decides to. The help ends
/// with the stdin commands, rendered from their own declarations.
fn parse_args() -> Args {
    let after_help = format!(
        "Clients connect to ws://ADDR/socket.io/?EIO=4&transport=websocket. The simulator runs \
         until Ctrl-C and logs to stderr (RUST_LOG=debug for every frame decision; session \
         tokens are never logged).\n\n\
         Stdin commands (one per line; `help` lists them, `COMMAND --help` explains one):\n{}",
        console::summary().trim_end()
    );
    let mut command = Args::command().after_help(after_help);
    let matches = command.get_matches_mut();
    Args::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut command).exit())
}

/// Reads stdin on a plain thread (a blocking read must not hold up the runtime's exit).
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = parse_args();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr: stdout carries the banner and the replies to stdin commands.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let sim = match args.sim.builder().start().await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    say(&format!(
        "PocketOption simulator on {} (Ctrl-C to stop; type `help` for commands)",
        sim.url()
    ));
    args.sim.faults.start(&sim);

    let mut lines = (!args.no_stdin).then(stdin_lines);
    loop {
        let next_line = async {
            match lines.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            line = next_line => match line {
                Some(line) => {
                    let reply = console::run(&sim, &line).await;
                    if !reply.is_empty() {
                        say(&reply);
                    }
                }
                // Stdin closed: keep serving until Ctrl-C.
                None => lines = None,
            },
        }
    }
    say("stopping");
    match sim.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_declarations_are_consistent() {
        use clap::CommandFactory;
        super::Args::command().debug_assert();
    }
}
