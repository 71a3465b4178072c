//! `cargo xtask ci`: every check, in order, failing loudly on the first failure.

use crate::cmd::{self, cargo, root};

/// Library crates that claim browser support: each must pass clippy and build for wasm32.
const BROWSER_CRATES: &[&str] = &["core-pre", "client_ws", "binary_options_tools"];
const WASM_TARGET: &str = "wasm32-unknown-unknown";

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

/// Makes sure the wasm32 target is installed, installing it when rustup is available.
pub fn ensure_wasm_target() -> Result<(), String> {
    let installed = std::process::Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains(WASM_TARGET));
    match installed {
        Ok(true) => Ok(()),
        Ok(false) => cmd::run(
            "install the wasm32 target",
            std::process::Command::new("rustup").args(["target", "add", WASM_TARGET]),
        ),
        Err(_) => Err(format!(
            "rustup is not available to install the {WASM_TARGET} target; install it by hand"
        )),
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let skip_browser = args.iter().any(|a| a == "--skip-browser");
    if let Some(unknown) = args.iter().find(|a| *a != "--skip-browser") {
        return Err(format!("ci: unknown option `{unknown}`"));
    }
    let started = std::time::Instant::now();
    ensure_wasm_target()?;
    let wasm = browser_crates();
    let wasm_packages = package_args(&wasm);

    cmd::run("format", &mut cargo(&["fmt", "--all", "--", "--check"]))?;
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
        &mut cargo(&["test", "--workspace", "--all-targets"]),
    )?;
    cmd::run("doc tests", &mut cargo(&["test", "--workspace", "--doc"]))?;
    cmd::run(
        "docs",
        cargo(&["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings"),
    )?;

    if skip_browser {
        println!("\n==> browser tests skipped (--skip-browser)");
    } else {
        crate::browser::run()?;
    }
    crate::bench::smoke()?;
    crate::soak::smoke()?;
    crate::fuzz::smoke()?;
    crate::autobahn::smoke()?;

    println!(
        "\nci: all checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
