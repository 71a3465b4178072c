//! Running commands with readable logs and loud failures.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The workspace root (the parent of this crate's directory).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// A `cargo` command run from the workspace root.
pub(crate) fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(args).current_dir(root());
    command
}

/// Every step run so far, with its seconds, for the closing summary of `cargo xtask ci`.
static STEPS: Mutex<Vec<(String, f64)>> = Mutex::new(Vec::new());

/// The steps run so far and how long each took, in order.
pub(crate) fn step_times() -> Vec<(String, f64)> {
    STEPS.lock().map(|steps| steps.clone()).unwrap_or_default()
}

/// Records a step that ran in-process (not through [`run`]) for the closing summary.
pub(crate) fn record_step(step: &str, seconds: f64) {
    if let Ok(mut steps) = STEPS.lock() {
        steps.push((step.to_string(), seconds));
    }
}

/// Runs `command`, echoing it; fails with the step name if it fails.
pub(crate) fn run(step: &str, command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}").replace('"', "");
    println!("\n==> {step}\n    $ {shown}");
    let started = Instant::now();
    let status = command
        .status()
        .map_err(|e| format!("step `{step}`: could not start {shown}: {e}"))?;
    let took = started.elapsed().as_secs_f64();
    if let Ok(mut steps) = STEPS.lock() {
        steps.push((step.to_string(), took));
    }
    if status.success() {
        println!("    ok: {step} ({took:.1}s)");
        Ok(())
    } else {
        Err(format!(
            "step `{step}` FAILED ({status}) after {took:.1}s: {shown}"
        ))
    }
}

/// Where `program` is on PATH, if it is.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// True when `program` can be found on PATH.
pub(crate) fn on_path(program: &str) -> bool {
    which(program).is_some()
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, relative to the root, or `target/`).
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        })
        .unwrap_or_else(|| root().join("target"))
}

/// True on a CI machine (`CI` set to anything but empty/false/0).
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A loopback TCP port that was free a moment ago (bound, read and released).
pub(crate) fn free_port() -> Result<u16, String> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot bind a loopback port: {e}"))?;
    Ok(probe.local_addr().map_err(|e| e.to_string())?.port())
}

/// Gives `child` up to `within` to exit by itself (its stdin closed, say), then kills it.
pub(crate) fn stop_child(child: &mut Child, within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
