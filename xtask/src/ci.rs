//! `cargo xtask ci`: every check, in order, failing loudly on the first failure.
//!
//! It sets itself up first ([`tools::ensure`]): missing system tools are installed with
//! apt-get (as root or through `sudo -n`), or named with the command that installs them.

use crate::cmd::{self, cargo, root};
use crate::tools::{self, WASM_TARGET};

/// Crates that claim browser support: each must pass clippy and build for wasm32 (the
/// libraries, and the dashboard's page app).
const BROWSER_CRATES: &[&str] = &[
    "core-pre",
    "client_ws",
    "binary_options_tools",
    "atomic_ws",
    "dashboard",
];

/// The browser crates present in this checkout.
fn browser_crates() -> Vec<&'static str> {
    BROWSER_CRATES
        .iter()
        .copied()
        .filter(|name| {
            root()
                .join("crates")
                .join(name)
                .join("Cargo.toml")
                .is_file()
        })
        .collect()
}

fn package_args(crates: &[&'static str]) -> Vec<&'static str> {
    crates.iter().flat_map(|name| ["-p", *name]).collect()
}

pub(crate) fn run(skip_browser: bool) -> Result<(), String> {
    let started = std::time::Instant::now();
    // Before any build: a missing tool is installed (or named) now, not after minutes of
    // compiling.
    tools::ensure(!skip_browser)?;
    let wasm = browser_crates();
    let wasm_packages = package_args(&wasm);

    cmd::run("format", &mut cargo(&["fmt", "--all", "--", "--check"]))?;
    crate::tidy::run()?;
    cmd::run(
        "clippy (native)",
        &mut cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    let mut clippy_wasm = vec!["clippy", "--target", WASM_TARGET];
    clippy_wasm.extend(&wasm_packages);
    clippy_wasm.extend(["--", "-D", "warnings"]);
    cmd::run("clippy (wasm32)", &mut cargo(&clippy_wasm))?;

    let mut build_wasm = vec!["build", "--target", WASM_TARGET];
    build_wasm.extend(&wasm_packages);
    cmd::run("build (wasm32)", &mut cargo(&build_wasm))?;

    cmd::run(
        "tests",
        &mut cargo(&[
            "test",
            "--workspace",
            "--all-targets",
            "--exclude",
            crate::python::CRATE,
        ]),
    )?;
    cmd::run(
        "doc tests",
        &mut cargo(&[
            "test",
            "--workspace",
            "--doc",
            "--exclude",
            crate::python::CRATE,
        ]),
    )?;
    cmd::run(
        "docs",
        cargo(&["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings"),
    )?;

    if skip_browser {
        println!("\n==> browser tests and the dashboard test skipped (--skip-browser)");
    } else {
        crate::browser::run()?;
        crate::dashboard::test()?;
    }
    crate::bench::smoke()?;
    crate::instructions::smoke()?;
    crate::soak::smoke()?;
    crate::fuzz::smoke()?;
    crate::autobahn::smoke()?;
    crate::peers::run()?;
    crate::python::run()?;

    println!("\nci: time per step");
    for (step, seconds) in cmd::step_times() {
        println!("    {seconds:>7.1}s  {step}");
    }
    println!(
        "ci: all checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
