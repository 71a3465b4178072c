//! What the atomic example tests share: building an example binary, a server process that
//! is killed when dropped, and a client run with a deadline.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The example binary `name`, built (or checked up to date) by the cargo running this
/// test, in the same target directory and profile (as `quickstart_errors.rs` does).
pub(crate) fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in <target>/<profile>/deps");
    let target_dir = profile_dir.parent().expect("<target>/<profile>");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    // Cargo's variables for this test would look like a changed environment to build
    // scripts and force a rebuild.
    for (var, _) in std::env::vars_os() {
        let text = var.to_string_lossy();
        if text.starts_with("CARGO_") && text != "CARGO_HOME" {
            build.env_remove(&var);
        }
    }
    build
        .args(["build", "--quiet", "-p", "examples", "--example", name])
        .arg("--target-dir")
        .arg(target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    } else {
        build.args(["--profile", "test"]);
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building the {name} example failed");
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// A running `atomic_server`, killed when dropped; its output is echoed.
pub(crate) struct ServerProcess {
    child: Child,
    /// The first line it printed ("serving ws://… on udp …").
    pub(crate) banner: String,
}

impl ServerProcess {
    /// Starts `command` and waits (up to 20 s) for its banner line.
    pub(crate) fn start(mut command: Command) -> ServerProcess {
        let mut child = command
            .env("RUST_LOG", "off")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("  server | {line}");
                let _ = tx.send(line);
            }
        });
        let banner = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server printed nothing within 20 s");
            }
        };
        assert!(
            banner.starts_with("serving "),
            "unexpected banner: {banner}"
        );
        ServerProcess { child, banner }
    }

    /// The UDP discovery address from the banner (`… on udp ADDR`).
    pub(crate) fn discovery_addr(&self) -> std::net::SocketAddr {
        self.banner
            .rsplit("on udp ")
            .next()
            .and_then(|a| a.trim().parse().ok())
            .unwrap_or_else(|| panic!("no discovery address in {:?}", self.banner))
    }

    /// Kills it now.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `command` to completion, killing it after `limit`; prints its output.
pub(crate) fn run_bounded(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .env("RUST_LOG", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the client starts");
    let started = Instant::now();
    loop {
        match child.try_wait().expect("the client can be waited for") {
            Some(_) => break,
            None if started.elapsed() > limit => {
                let _ = child.kill();
                break;
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let output = child.wait_with_output().expect("the client's output");
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        println!("  client | {line}");
    }
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        println!("  client ! {line}");
    }
    output
}

/// A settings file path unique to this test run (removed first).
pub(crate) fn settings_file(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "atomic_examples_{name}_{}.json",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

/// Removes a file when dropped.
pub(crate) struct RemoveOnDrop(pub(crate) PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let mut corrupt = self.0.clone().into_os_string();
        corrupt.push(".corrupt");
        let _ = std::fs::remove_file(Path::new(&corrupt));
    }
}
