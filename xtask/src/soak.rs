//! `cargo xtask soak --minutes N`: many PocketOption clients streaming and trading against
//! the simulator while a fault proxy cuts their connections at random intervals (the
//! `soak` binary of `crates/reliability`). The report gives RSS over time, reconnects,
//! trades placed against results received, and errors by kind; the command fails when
//! trades placed != results received, a call hung, something panicked, a subscription was
//! lost or a client did not shut down cleanly.

use std::path::PathBuf;
use std::process::Command;

use crate::cmd::{self, cargo, root, target_dir};

/// How long the CI smoke run trades.
const SMOKE_SECONDS: &str = "15";

/// Where reports go: `target/soak/`.
fn report_dir() -> PathBuf {
    target_dir().join("soak")
}

fn with_report(args: &[String], name: &str) -> Result<Vec<String>, String> {
    let mut args = args.to_vec();
    if !args.iter().any(|a| a == "--json") {
        let dir = report_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("soak: could not create {}: {e}", dir.display()))?;
        args.push("--json".into());
        args.push(dir.join(name).display().to_string());
    }
    Ok(args)
}

/// Builds the soak in release mode and runs it with `args` (passed through: `--minutes N`
/// or `--seconds N`, and optionally `--clients N`, `--lanes N`, `--seed N`,
/// `--fault-every A-B`, `--json PATH`).
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if !args.iter().any(|a| a == "--minutes" || a == "--seconds") {
        return Err(
            "soak: say how long, e.g. `cargo xtask soak --minutes 10` (or --seconds N); \
             other options: --clients N, --lanes N, --seed N, --fault-every A-B, --json PATH"
                .into(),
        );
    }
    let args = with_report(args, "report.json")?;
    let mut command = cargo(&[
        "run",
        "--release",
        "-p",
        "reliability",
        "--bin",
        "soak",
        "--",
    ]);
    command.args(&args);
    cmd::run("soak (release)", &mut command)
}

/// The short smoke run `cargo xtask ci` makes: 15 s, 4 clients, dev profile.
///
/// The tests step that runs before it builds the `soak` binary (the reliability crate's
/// tests run it), so the smoke run uses that binary directly instead of paying for a
/// build of its own; without it (the step skipped, another target directory) it falls
/// back to `cargo run`.
pub(crate) fn smoke() -> Result<(), String> {
    let args = with_report(
        &[
            "--seconds".to_string(),
            SMOKE_SECONDS.to_string(),
            "--smoke".to_string(),
        ],
        "smoke.json",
    )?;
    let built = report_dir()
        .parent()
        .map(|target| {
            target
                .join("debug")
                .join(format!("soak{}", std::env::consts::EXE_SUFFIX))
        })
        .filter(|binary| binary.is_file());
    let mut command = match built {
        Some(binary) => {
            let mut command = Command::new(binary);
            command.current_dir(root());
            command
        }
        None => cargo(&["run", "-p", "reliability", "--bin", "soak", "--"]),
    };
    command.args(&args);
    cmd::run("soak smoke (15 s, dev profile)", &mut command)
}
