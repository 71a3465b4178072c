//! The quickstart's error path, run as a user runs it: the example binary, with an SSID in
//! the environment and `--url` pointing at a closed loopback port. It must exit non-zero
//! and print, on stderr, a sentence that names the cause.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The quickstart example binary, built (or checked up to date) by the cargo running
/// this test, in the same target directory and profile.
fn quickstart() -> PathBuf {
    // This test runs from `<target>/<profile>/deps/`; examples live in
    // `<target>/<profile>/examples/`.
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in <target>/<profile>/deps");
    let target_dir = profile_dir.parent().expect("<target>/<profile>");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    // The variables cargo sets for this test (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`…) would
    // look like a changed environment to build scripts and force a rebuild.
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("CARGO_") && name_text != "CARGO_HOME" {
            build.env_remove(&name);
        }
    }
    build
        .args([
            "build",
            "--quiet",
            "-p",
            "examples",
            "--example",
            "quickstart",
        ])
        .arg("--target-dir")
        .arg(target_dir);
    // The profile `cargo test` builds examples with: this build then finds the example
    // that `cargo test` just brought up to date.
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    } else {
        build.args(["--profile", "test"]);
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building the quickstart example failed");
    profile_dir
        .join("examples")
        .join(format!("quickstart{}", std::env::consts::EXE_SUFFIX))
}

#[test]
fn an_unreachable_url_exits_non_zero_and_says_why() {
    let binary = quickstart();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let started = Instant::now();
    let output = Command::new(binary)
        .args(["--url", &url, "--connect-timeout", "1.5"])
        .env(
            "POCKET_OPTION_SSID",
            r#"42["auth",{"session":"quickstart-test-session","isDemo":1,"uid":7,"platform":2}]"#,
        )
        // Logs off: only what every user sees.
        .env("RUST_LOG", "off")
        .stdin(Stdio::null())
        .output()
        .expect("the quickstart runs");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("Error: could not connect to PocketOption (demo account) within 1.5 s: "),
        "{stderr}"
    );
    assert!(
        first.contains(&format!(
            "to ws://127.0.0.1:{port}/socket.io/ failed; the last one: could not reach 127.0.0.1:{port}: "
        )),
        "{stderr}"
    );
    assert!(first.to_lowercase().contains("refused"), "{stderr}");
    assert!(first.contains("`--url`"), "{stderr}");
    // A sentence for people, not a Debug dump; and never the session.
    assert!(!stderr.contains("Core("), "{stderr}");
    assert!(!stderr.contains("quickstart-test-session"), "{stderr}");
}

#[test]
fn a_bad_argument_exits_non_zero_with_the_usage() {
    let output = Command::new(quickstart())
        .arg("--no-such-flag")
        .env("RUST_LOG", "off")
        .stdin(Stdio::null())
        .output()
        .expect("the quickstart runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end(),
        "Error: unknown argument `--no-such-flag`; usage: quickstart [--url URL] [--connect-timeout SECONDS]"
    );
}
