//! `cargo xtask python`: the Python package (`crates/python`) built into a wheel with
//! maturin, installed into the venv `target/python-venv`, and its pytest suite run against
//! the in-process simulator. `cargo xtask ci` runs it.
//!
//! The wheel is built with the **dev** profile: the dependencies are already compiled for
//! the workspace's tests, so the build costs the binding crate alone (about 20 s on 2
//! cores) instead of a full optimized build (several minutes). Users installing with pip
//! get the release profile.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::cmd::{self, root, target_dir};

/// The binding crate's package name (excluded from `cargo test --workspace`: its tests
/// are pytest, and a Rust test binary would have to link libpython).
pub(crate) const CRATE: &str = "binary_options_tools_py";
/// The build backend the package declares (`pyproject.toml`).
const MATURIN: &str = "maturin==1.16.0";
/// The test runner.
const PYTEST: &str = "pytest==9.2.0";
/// The type checker: `mypy --strict` on the package's sources and `stubtest` on the
/// installed package (the extension's `.pyi` against what it exports at run time).
const MYPY: &str = "mypy==2.4.1";

pub(crate) fn run() -> Result<(), String> {
    let started = Instant::now();
    let bin = crate::venv::ensure("python-venv", MATURIN, "the Python package's build")?;
    crate::venv::ensure("python-venv", PYTEST, "the Python package's tests")?;
    crate::venv::ensure("python-venv", MYPY, "the Python package's type check")?;
    let wheels = target_dir().join("python-wheels");
    let _ = std::fs::remove_dir_all(&wheels);
    let build_started = Instant::now();
    cmd::run(
        "build the Python wheel (maturin, dev profile)",
        Command::new(bin.join("maturin"))
            .args(["build", "--profile", "dev", "--manifest-path"])
            .arg(root().join("crates/python/Cargo.toml"))
            .arg("--interpreter")
            .arg(bin.join("python"))
            .arg("--out")
            .arg(&wheels)
            .current_dir(root()),
    )?;
    let build_secs = build_started.elapsed().as_secs_f64();
    let wheel = find_wheel(&wheels)?;
    cmd::run(
        "install the Python wheel",
        Command::new(bin.join("pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--force-reinstall",
                "--no-deps",
            ])
            .arg(&wheel),
    )?;
    cmd::run(
        "type check the Python package (mypy --strict)",
        Command::new(bin.join("python"))
            .args([
                "-m",
                "mypy",
                "--strict",
                "crates/python/python/binary_options_tools",
            ])
            .current_dir(root()),
    )?;
    cmd::run(
        "check the Python stubs against the wheel (stubtest)",
        Command::new(bin.join("python"))
            .args(["-m", "mypy.stubtest", "binary_options_tools", "--allowlist"])
            .arg(root().join("crates/python/tests/stubtest-allowlist.txt"))
            .current_dir(root()),
    )?;
    println!("\n==> the Python package's tests (pytest against the simulator)");
    let test_started = Instant::now();
    let output = Command::new(bin.join("python"))
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "crates/python/tests",
        ])
        .current_dir(root())
        .output()
        .map_err(|e| format!("could not start pytest: {e}"))?;
    let took = test_started.elapsed().as_secs_f64();
    cmd::record_step("python tests (pytest)", took);
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    let summary = stdout
        .lines()
        .rev()
        .find(|line| line.contains(" passed") || line.contains(" failed"))
        .unwrap_or("no summary line")
        .trim_matches(|c| c == '=' || c == ' ');
    if !output.status.success() {
        return Err(format!(
            "the Python package's tests FAILED ({}) after {took:.1}s: {summary}",
            output.status
        ));
    }
    println!(
        "    ok: python: {summary} (wheel built in {build_secs:.1}s; {:.1}s in all)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `cargo xtask python --bench`: `py_ticks_throughput` (crates/python/benches) on a
/// release wheel, in a venv of its own so the test venv keeps its quick dev wheel.
pub(crate) fn bench() -> Result<(), String> {
    let bin = crate::venv::ensure("python-bench-venv", MATURIN, "the Python benchmark's build")?;
    let wheels = target_dir().join("python-wheels-release");
    let _ = std::fs::remove_dir_all(&wheels);
    cmd::run(
        "build the Python wheel (maturin, release)",
        Command::new(bin.join("maturin"))
            .args(["build", "--release", "--manifest-path"])
            .arg(root().join("crates/python/Cargo.toml"))
            .arg("--interpreter")
            .arg(bin.join("python"))
            .arg("--out")
            .arg(&wheels)
            .current_dir(root()),
    )?;
    let wheel = find_wheel(&wheels)?;
    cmd::run(
        "install the release wheel",
        Command::new(bin.join("pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--force-reinstall",
                "--no-deps",
            ])
            .arg(&wheel),
    )?;
    cmd::run(
        "py_ticks_throughput (Python async for against the Rust client)",
        Command::new(bin.join("python"))
            .arg(root().join("crates/python/benches/py_ticks_throughput.py"))
            .current_dir(root()),
    )
}

/// The one wheel maturin wrote.
fn find_wheel(dir: &std::path::Path) -> Result<PathBuf, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("no wheel directory {}: {e}", dir.display()))?;
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .ok_or_else(|| format!("maturin wrote no wheel into {}", dir.display()))
}
