//! The `pocketoption_sim` binary: documented flags, errors, and a real run.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_pocketoption_sim");

#[test]
fn help_documents_every_flag() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--addr",
        "--seed",
        "--tick-ms",
        "--ping-interval-ms",
        "--ping-timeout-ms",
        "--time-scale",
        "--demo-balance",
        "--real-balance",
        "--history-items",
        "--close-order",
        "--delivery",
        "--delivery-for",
        "--accept-session",
        "--reject-all",
        "--reject-event",
        "--check-user-agent",
        "--check-origin",
        "--reply-delay-ms",
        "--refuse-for-secs",
        "--drop-every-secs",
        "--silent-every-secs",
        "--silent-for-secs",
        "--malformed-every-secs",
        "--malformed-kind",
        "--restart-every-secs",
        "--restart-downtime-ms",
        "--no-stdin",
        "--help",
    ] {
        assert!(help.contains(flag), "--help does not document {flag}");
    }
}

#[test]
fn bad_arguments_exit_with_a_message() {
    for args in [
        &["--bogus"][..],
        &["--seed"],
        &["--tick-ms", "fast"],
        &["--delivery", "three"],
        &["--close-order", "list"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("error: "), "{err}");
    }
}

#[tokio::test]
async fn binary_serves_the_protocol_until_interrupted() {
    let mut child = Command::new(BIN)
        .args([
            "--addr",
            "127.0.0.1:0",
            "--seed",
            "3",
            "--tick-ms",
            "50",
            "--no-stdin",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let first_line = tokio::time::timeout(
        WAIT,
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        }),
    )
    .await;
    let line = match first_line {
        Ok(Ok(Ok(line))) => line,
        other => {
            let _ = child.kill();
            panic!("no banner from the binary: {other:?}");
        }
    };
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("ws://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();

    let mut c = Client::login(&url, &demo_auth("cli", 1)).await;
    c.emit("subfor", json!("EURUSD_otc")).await;
    let tick = c.expect_event("updateStream").await;
    assert_eq!(tick[0][0], "EURUSD_otc");

    // Ctrl-C (SIGINT) stops it cleanly.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .expect("the binary did not stop on SIGINT")
    .unwrap()
    .unwrap();
    assert!(exited.success(), "{exited:?}");
}
