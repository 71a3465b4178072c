//! The tools the checks use: `cargo xtask doctor` reports them, `cargo xtask setup` (and
//! `cargo xtask ci`, before any build) installs the missing ones.
//!
//! Each [`Tool`] says how to find it, how to ask its version, which check needs it and how
//! it is installed. System packages come from Debian's `apt-get`, run directly as root or
//! through non-interactive `sudo`; when neither is possible the run stops at once with one
//! message that names every missing tool and the command that installs them. Tools that
//! xtask builds itself on first use (the pinned `wasm-bindgen-test-runner`, `cargo-fuzz`,
//! the Autobahn venv) are reported, not installed here: their own step installs them into
//! `target/` and caches them there.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::cmd::{self, root, target_dir};

/// The browser build's Rust target.
pub(crate) const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// How a missing tool is installed.
#[derive(Clone, Copy)]
enum Install {
    /// A Debian package.
    Apt(&'static str),
    /// `rustup target add`.
    RustupTarget(&'static str),
    /// `rustup component add`.
    RustupComponent(&'static str),
    /// Built by xtask into `target/tools` (or a venv) by the step that uses it.
    OnFirstUse,
    /// Not installable here; the step that wants it falls back (said in `purpose`).
    Optional(&'static str),
}

/// How a tool is found and its version read.
#[derive(Clone, Copy)]
enum Probe {
    /// The first of these programs that exists (absolute path or on PATH), asked with
    /// `--version`.
    Program(&'static [&'static str]),
    /// A cargo subcommand (`cargo NAME --version`).
    Cargo(&'static str),
    /// An installed Rust target.
    Target(&'static str),
    /// python3 that can create virtual environments (pip included).
    PythonVenv,
    /// `wasm-bindgen-test-runner` at the Cargo.lock version of wasm-bindgen.
    WasmBindgenRunner,
    /// A program xtask installed into `target/tools/bin`.
    XtaskTool(&'static str),
    /// The nightly toolchain (`cargo +nightly`).
    Nightly,
}

/// One tool a check uses.
struct Tool {
    name: &'static str,
    purpose: &'static str,
    probe: Probe,
    install: Install,
    /// Needed only by the browser tests (`--skip-browser` drops it).
    browser_only: bool,
}

const TOOLS: &[Tool] = &[
    Tool {
        name: "rustfmt",
        purpose: "format check",
        probe: Probe::Cargo("fmt"),
        install: Install::RustupComponent("rustfmt"),
        browser_only: false,
    },
    Tool {
        name: "clippy",
        purpose: "lints, native and wasm32",
        probe: Probe::Cargo("clippy"),
        install: Install::RustupComponent("clippy"),
        browser_only: false,
    },
    Tool {
        name: WASM_TARGET,
        purpose: "browser builds of core-pre, client_ws, binary_options_tools",
        probe: Probe::Target(WASM_TARGET),
        install: Install::RustupTarget(WASM_TARGET),
        browser_only: false,
    },
    Tool {
        name: "clang",
        purpose: "secp256k1's C code for wasm32",
        probe: Probe::Program(&["clang"]),
        install: Install::Apt("clang"),
        browser_only: false,
    },
    Tool {
        name: "valgrind",
        purpose: "instruction counts of the hot paths (callgrind), judged against a baseline",
        probe: Probe::Program(&["valgrind"]),
        install: Install::Apt("valgrind"),
        browser_only: false,
    },
    Tool {
        name: "ip",
        purpose: "network namespaces and a veth pair for the LAN discovery test (examples' atomic_netns)",
        probe: Probe::Program(&["ip", "/usr/sbin/ip", "/sbin/ip"]),
        install: Install::Apt("iproute2"),
        browser_only: false,
    },
    Tool {
        name: "nats-server",
        purpose: "the real NATS peer of the messaging tests and benchmarks (websocket listener)",
        probe: Probe::Program(&["nats-server", "/usr/sbin/nats-server"]),
        install: Install::Apt("nats-server"),
        browser_only: false,
    },
    Tool {
        name: "lld",
        purpose: "links secp256k1's C code for wasm32",
        probe: Probe::Program(&["wasm-ld", "ld.lld"]),
        install: Install::Apt("lld"),
        browser_only: false,
    },
    Tool {
        name: "chromium",
        purpose: "headless browser tests",
        probe: Probe::Program(&[
            "/usr/bin/chromium",
            "chromium",
            "chromium-browser",
            "google-chrome",
        ]),
        install: Install::Apt("chromium"),
        browser_only: true,
    },
    Tool {
        name: "chromedriver",
        purpose: "drives Chromium for the browser tests",
        probe: Probe::Program(&["/usr/bin/chromedriver", "chromedriver"]),
        install: Install::Apt("chromium-driver"),
        browser_only: true,
    },
    Tool {
        name: "python3 + venv",
        purpose: "Autobahn conformance (kosoku) and the server's stock peer (websockets), in venvs",
        probe: Probe::PythonVenv,
        install: Install::Apt("python3-venv"),
        browser_only: false,
    },
    Tool {
        name: "wasm-bindgen-test-runner",
        purpose: "runs the wasm32 tests in Chromium (pinned to Cargo.lock)",
        probe: Probe::WasmBindgenRunner,
        install: Install::OnFirstUse,
        browser_only: true,
    },
    Tool {
        name: "cargo-fuzz",
        purpose: "fuzz smoke (with the nightly toolchain)",
        probe: Probe::XtaskTool("cargo-fuzz"),
        install: Install::OnFirstUse,
        browser_only: false,
    },
    Tool {
        name: "nightly toolchain",
        purpose: "fuzzing with sanitizers",
        probe: Probe::Nightly,
        install: Install::Optional("without it the fuzz smoke only compiles the targets"),
        browser_only: false,
    },
];

/// What a probe found.
enum Found {
    /// Present, with a version line (or where it is).
    Yes(String),
    /// Missing.
    No,
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Runs a version command; `Some(first line)` when it succeeds.
fn version_of(command: &mut Command) -> Option<String> {
    let out = command.stdin(Stdio::null()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let line = first_line(&out.stdout);
    Some(if line.is_empty() {
        first_line(&out.stderr)
    } else {
        line
    })
}

/// The first candidate that exists: an absolute path, or a program on PATH.
pub(crate) fn find_program(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().find_map(|name| {
        let path = PathBuf::from(name);
        if path.is_absolute() {
            path.is_file().then_some(path)
        } else {
            cmd::which(name)
        }
    })
}

fn probe(tool: &Tool) -> Found {
    let found = match tool.probe {
        Probe::Program(candidates) => find_program(candidates).map(|path| {
            version_of(Command::new(&path).arg("--version"))
                .unwrap_or_else(|| path.display().to_string())
        }),
        Probe::Cargo(sub) => version_of(cmd::cargo(&[sub, "--version"]).stderr(Stdio::null())),
        Probe::Target(target) => Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .ok()
            .filter(|out| String::from_utf8_lossy(&out.stdout).contains(target))
            .map(|_| "installed".to_string()),
        Probe::PythonVenv => version_of(Command::new("python3").args([
            "-c",
            "import venv, ensurepip, sys; print('Python', sys.version.split()[0])",
        ])),
        Probe::WasmBindgenRunner => {
            let wanted = lock_version("wasm-bindgen").ok();
            let runner = wasm_bindgen_runner();
            let have = version_of(Command::new(&runner).arg("--version"));
            match (have, wanted) {
                (Some(have), Some(wanted)) if have.ends_with(&wanted) => Some(have),
                _ => None,
            }
        }
        Probe::XtaskTool(name) => {
            version_of(Command::new(target_dir().join("tools/bin").join(name)).arg("--version"))
        }
        Probe::Nightly => version_of(
            Command::new("cargo")
                .args(["+nightly", "--version"])
                .env_remove("RUSTUP_TOOLCHAIN")
                .env_remove("CARGO")
                .stderr(Stdio::null()),
        ),
    };
    found.map_or(Found::No, Found::Yes)
}

/// Where xtask keeps `wasm-bindgen-test-runner`.
pub(crate) fn wasm_bindgen_runner() -> PathBuf {
    target_dir().join("tools/bin/wasm-bindgen-test-runner")
}

/// `cargo install`s `krate` at exactly `version` into `target/tools`, as a build tool: with
/// `opt-level = 1`, no LTO, no debug info and many codegen units (its own release profile
/// may ask for LTO and one unit, which costs minutes on two cores for a tool that only
/// runs a few seconds per CI run). `locked`: use the crate's own lock file.
pub(crate) fn cargo_install(krate: &str, version: &str, locked: bool) -> Result<(), String> {
    let root_dir = target_dir().join("tools").display().to_string();
    let exact = format!("={version}");
    let mut args = vec![
        "install",
        krate,
        "--version",
        &exact,
        "--root",
        &root_dir,
        "--force",
    ];
    if locked {
        args.push("--locked");
    }
    let mut command = cmd::cargo(&args);
    for (key, value) in [
        ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1"),
        ("CARGO_PROFILE_RELEASE_LTO", "off"),
        ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
        ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
        ("CARGO_PROFILE_RELEASE_INCREMENTAL", "false"),
    ] {
        command.env(key, value);
    }
    cmd::run(
        &format!("install {krate} {version} into target/tools (once; cached there)"),
        &mut command,
    )
}

/// The version of `package` recorded in Cargo.lock.
pub(crate) fn lock_version(package: &str) -> Result<String, String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let wanted = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            if let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|l| l.strip_suffix('"'))
            {
                return Ok(version.to_string());
            }
        }
    }
    Err(format!("{package} is not in Cargo.lock"))
}

fn install_hint(install: Install) -> String {
    match install {
        Install::Apt(package) => format!("apt-get install {package}"),
        Install::RustupTarget(target) => format!("rustup target add {target}"),
        Install::RustupComponent(component) => format!("rustup component add {component}"),
        Install::OnFirstUse => "installed by xtask into target/tools on first use".into(),
        Install::Optional(fallback) => format!("optional: {fallback}"),
    }
}

/// `cargo xtask doctor`: every tool, present or not, with its version; fails when a tool
/// the checks need is missing (optional and installed-on-first-use tools do not fail it).
pub(crate) fn doctor() -> Result<(), String> {
    let mut missing = Vec::new();
    println!("{:<26} {:<8} {:<45} used for", "tool", "status", "version");
    for tool in TOOLS {
        let (status, version) = match probe(tool) {
            Found::Yes(version) => ("ok", version),
            Found::No => {
                let status = match tool.install {
                    Install::OnFirstUse => "later",
                    Install::Optional(_) => "absent",
                    _ => {
                        missing.push(tool);
                        "MISSING"
                    }
                };
                (status, install_hint(tool.install))
            }
        };
        println!(
            "{:<26} {:<8} {:<45} {}",
            tool.name,
            status,
            shorten(&version, 45),
            tool.purpose
        );
    }
    if missing.is_empty() {
        println!("\ndoctor: everything `cargo xtask ci` needs is here");
        Ok(())
    } else {
        Err(missing_message(&missing))
    }
}

fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let cut: String = text.chars().take(width - 1).collect();
        format!("{cut}…")
    }
}

/// The one message for tools that cannot be installed here: each tool, and the commands.
fn missing_message(missing: &[&Tool]) -> String {
    let mut message = String::from("missing tools:\n");
    for tool in missing {
        message.push_str(&format!(
            "  - {} ({}): {}\n",
            tool.name,
            tool.purpose,
            install_hint(tool.install)
        ));
    }
    let commands = install_commands(missing, "sudo ");
    message.push_str("install them with:\n");
    for command in commands {
        message.push_str(&format!("  {command}\n"));
    }
    message.push_str("or run `cargo xtask ci` as root (it installs them itself)");
    message
}

/// Shell commands that install `missing`: one `apt-get`, one `rustup target`, one
/// `rustup component` at most.
fn install_commands(missing: &[&Tool], sudo: &str) -> Vec<String> {
    let pick = |f: fn(Install) -> Option<&'static str>| -> Vec<&'static str> {
        missing.iter().filter_map(|tool| f(tool.install)).collect()
    };
    let apt = pick(|i| match i {
        Install::Apt(p) => Some(p),
        _ => None,
    });
    let targets = pick(|i| match i {
        Install::RustupTarget(t) => Some(t),
        _ => None,
    });
    let components = pick(|i| match i {
        Install::RustupComponent(c) => Some(c),
        _ => None,
    });
    let mut commands = Vec::new();
    if !apt.is_empty() {
        commands.push(format!(
            "{sudo}apt-get update && {sudo}apt-get install -y --no-install-recommends {}",
            apt.join(" ")
        ));
    }
    if !targets.is_empty() {
        commands.push(format!("rustup target add {}", targets.join(" ")));
    }
    if !components.is_empty() {
        commands.push(format!("rustup component add {}", components.join(" ")));
    }
    commands
}

/// Whether this process may run `apt-get`: as root directly, otherwise through `sudo -n`.
fn apt_runner() -> Option<Vec<&'static str>> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| first_line(&out.stdout) == "0");
    if root {
        return Some(Vec::new());
    }
    let sudo = cmd::which("sudo").is_some()
        && Command::new("sudo")
            .args(["-n", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    sudo.then(|| vec!["sudo", "-n"])
}

fn apt_command(prefix: &[&str], args: &[&str]) -> Command {
    let mut parts = prefix.iter().chain(["apt-get"].iter()).chain(args.iter());
    // `parts` has at least "apt-get" in it.
    let mut command = Command::new(parts.next().copied().unwrap_or("apt-get"));
    command
        .args(parts)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null());
    command
}

/// Installs every missing tool the checks need (`browser`: include the browser tests'
/// tools). Says what it installs; fails with [`missing_message`] when it cannot.
pub(crate) fn ensure(browser: bool) -> Result<(), String> {
    let needed: Vec<&Tool> = TOOLS
        .iter()
        .filter(|tool| browser || !tool.browser_only)
        .filter(|tool| !matches!(tool.install, Install::OnFirstUse | Install::Optional(_)))
        .filter(|tool| matches!(probe(tool), Found::No))
        .collect();
    if needed.is_empty() {
        println!("\n==> tools: everything needed is installed (`cargo xtask doctor` lists it)");
        return Ok(());
    }
    let names: Vec<&str> = needed.iter().map(|tool| tool.name).collect();
    println!("\n==> tools: installing {}", names.join(", "));

    let mut apt: Vec<&str> = Vec::new();
    for tool in &needed {
        match tool.install {
            Install::Apt(package) => apt.push(package),
            Install::RustupTarget(target) => cmd::run(
                &format!("install the {target} target"),
                Command::new("rustup").args(["target", "add", target]),
            )?,
            Install::RustupComponent(component) => cmd::run(
                &format!("install the {component} component"),
                Command::new("rustup").args(["component", "add", component]),
            )?,
            Install::OnFirstUse | Install::Optional(_) => {}
        }
    }
    if !apt.is_empty() {
        let Some(prefix) = apt_runner().filter(|_| cmd::which("apt-get").is_some()) else {
            let still: Vec<&Tool> = needed
                .iter()
                .copied()
                .filter(|tool| matches!(tool.install, Install::Apt(_)))
                .collect();
            return Err(format!(
                "cannot install system packages here (not root, no passwordless sudo, or no \
                 apt-get).\n{}",
                missing_message(&still)
            ));
        };
        cmd::run(
            "apt-get update",
            &mut apt_command(&prefix, &["update", "-qq"]),
        )?;
        let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
        args.extend(&apt);
        cmd::run(
            &format!("apt-get install {}", apt.join(" ")),
            &mut apt_command(&prefix, &args),
        )?;
    }
    let still: Vec<&Tool> = needed
        .into_iter()
        .filter(|tool| matches!(probe(tool), Found::No))
        .collect();
    if still.is_empty() {
        println!("    ok: tools installed");
        Ok(())
    } else {
        Err(format!(
            "installed, but still not found:\n{}",
            missing_message(&still)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_for_missing_tools_names_each_and_one_command_per_installer() {
        let missing: Vec<&Tool> = TOOLS
            .iter()
            .filter(|t| matches!(t.name, "clang" | "chromium" | "chromedriver"))
            .chain(TOOLS.iter().filter(|t| t.name == WASM_TARGET))
            .collect();
        let message = missing_message(&missing);
        for name in ["clang", "chromium", "chromedriver", WASM_TARGET] {
            assert!(message.contains(&format!("  - {name} (")), "{message}");
        }
        assert!(
            message.contains(
                "sudo apt-get update && sudo apt-get install -y --no-install-recommends \
                 clang chromium chromium-driver"
            ),
            "{message}"
        );
        assert!(
            message.contains(&format!("rustup target add {WASM_TARGET}")),
            "{message}"
        );
        assert_eq!(message.matches("apt-get install").count(), 4, "{message}");
    }

    #[test]
    fn lock_versions_are_read_from_the_lock_file() {
        let version = lock_version("wasm-bindgen").expect("wasm-bindgen is locked");
        assert!(version.split('.').count() == 3, "{version}");
        assert!(lock_version("no-such-crate-here").is_err());
    }

    #[test]
    fn a_program_that_does_not_exist_is_not_found() {
        assert!(find_program(&["no-such-program-xtask-test", "/no/such/path"]).is_none());
        assert!(find_program(&["sh"]).is_some());
    }
}
