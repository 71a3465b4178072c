//! Running commands with readable logs and loud failures.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The workspace root (the parent of this crate's directory).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// A `cargo` command run from the workspace root.
pub fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(args).current_dir(root());
    command
}

/// Runs `command`, echoing it; fails with the step name if it fails.
pub fn run(step: &str, command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}").replace('"', "");
    println!("\n==> {step}\n    $ {shown}");
    let started = Instant::now();
    let status = command
        .status()
        .map_err(|e| format!("step `{step}`: could not start {shown}: {e}"))?;
    let took = started.elapsed().as_secs_f64();
    if status.success() {
        println!("    ok: {step} ({took:.1}s)");
        Ok(())
    } else {
        Err(format!(
            "step `{step}` FAILED ({status}) after {took:.1}s: {shown}"
        ))
    }
}

/// True when `program` can be found on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// True on a CI machine (`CI` set to anything but empty/false/0).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}
