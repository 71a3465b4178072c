//! The `pocketoption_sim` binary: documented flags and stdin commands, errors, and real
//! runs steered by flags and by stdin.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc as std_mpsc;
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
    // The stdin commands are listed too, with their arguments.
    for command in [
        "status",
        "drop",
        "silent <on|off>",
        "refuse <SECS>",
        "malformed <KIND|all>",
        "delay <MS>",
        "restart [MS]",
        "pin <ASSET> <PRICE>",
        "unpin <ASSET>",
        "active <ASSET> <on|off>",
        "payout <ASSET> <N>",
        "balance <UID> <demo|real> <AMOUNT>",
        "accept-all",
        "reject-all",
    ] {
        assert!(
            help.contains(&format!("\n  {command} ")),
            "--help does not list the stdin command {command}:\n{help}"
        );
    }
    // Defaults and choices come from the declarations.
    assert!(help.contains("[default: 127.0.0.1:8080]"), "{help}");
    assert!(help.contains("garbage-text"), "{help}");
    assert!(out.stderr.is_empty());

    // `-h` prints the same summary.
    let short = Command::new(BIN).arg("-h").output().unwrap();
    assert!(short.status.success());
    assert_eq!(String::from_utf8(short.stdout).unwrap(), help);
}

#[test]
fn bad_arguments_exit_with_a_message() {
    for args in [
        &["--bogus"][..],
        &["--seed"],
        &["--tick-ms", "fast"],
        &["--delivery", "three"],
        &["--close-order", "list"],
        &["--history-items"],
        &["--addr", "localhost"],
        &["--refuse-for-secs", "0"],
        &["--drop-every-secs", "-1"],
        &["--silent-every-secs", "inf"],
        &["--malformed-kind", "nonsense"],
        &["--delivery-for", "updateStream"],
        &["--delivery-for", "updateStream=three"],
        &["--reply-delay-ms", "1.5"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("error: "), "{err}");
        // The message names the offending flag and points at the help.
        assert!(err.contains(args[0]), "{args:?}: {err}");
        assert!(err.contains("--help"), "{args:?}: {err}");
    }
}

#[test]
fn a_bad_flag_error_suggests_the_closest_flag() {
    let out = Command::new(BIN).arg("--sed").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unexpected argument '--sed'"), "{err}");
    assert!(err.contains("--seed"), "{err}");
}

#[test]
fn a_config_the_simulator_refuses_exits_with_1() {
    let out = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--tick-ms", "0", "--no-stdin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("error: invalid configuration"), "{err}");
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

/// The binary with stdin and stdout piped, and its stdout lines on a channel.
struct Piped {
    child: Child,
    stdin: ChildStdin,
    lines: std_mpsc::Receiver<String>,
}

impl Piped {
    fn spawn(args: &[&str]) -> Piped {
        let mut child = Command::new(BIN)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std_mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Piped {
            child,
            stdin,
            lines,
        }
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(WAIT)
            .expect("no line from the binary in time")
    }

    /// Sends one command; returns the lines printed up to (and including) the first one
    /// `last` accepts.
    fn command(&mut self, command: &str, last: impl Fn(&str) -> bool) -> Vec<String> {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let mut seen = Vec::new();
        loop {
            let line = self.line();
            let done = last(&line);
            seen.push(line);
            if done {
                return seen;
            }
        }
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn stdin_commands_steer_the_running_simulator() {
    let mut sim = Piped::spawn(&["--addr=127.0.0.1:0", "--tick-ms=50"]);
    let banner = sim.line();
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("ws://"))
        .unwrap_or_else(|| panic!("no URL in {banner:?}"))
        .to_owned();

    // `help` lists every command, generated from the declarations.
    let help = sim.command("help", |l| l.trim_start().starts_with("help [COMMAND]"));
    let help = help.join("\n");
    for command in [
        "status",
        "pin <ASSET> <PRICE>",
        "balance <UID> <demo|real> <AMOUNT>",
    ] {
        assert!(help.contains(command), "{help}");
    }
    // `COMMAND --help` explains one command.
    let pin_help = sim.command("pin --help", |l| l.contains("Print help"));
    assert!(
        pin_help
            .iter()
            .any(|l| l.contains("Usage: pin <ASSET> <PRICE>")),
        "{pin_help:?}"
    );

    // Bad lines get an error that says what was expected, and the console keeps going.
    let bogus = sim.command("bogus", |l| l.contains("try 'help'"));
    assert!(bogus[0].starts_with("error: "), "{bogus:?}");
    let missing = sim.command("pin EURUSD_otc", |l| l.contains("try '--help'"));
    assert!(missing.iter().any(|l| l.contains("<PRICE>")), "{missing:?}");
    let unknown = sim.command("pin NOPE_otc 1.5", |_| true);
    assert!(
        unknown[0].starts_with("error: unknown asset `NOPE_otc`"),
        "{unknown:?}"
    );

    // A pinned price is what a subscribed client streams.
    assert_eq!(sim.command("pin EURUSD_otc 1.2345", |_| true), ["pinned"]);
    let mut client = Client::login(&url, &demo_auth("stdin", 9)).await;
    client.emit("subfor", json!("EURUSD_otc")).await;
    let tick = client.expect_event("updateStream").await;
    assert_eq!(tick[0][2], json!(1.2345), "{tick}");

    // A balance set on stdin is what the client reads.
    assert_eq!(
        sim.command("balance 9 demo 777.25", |_| true),
        ["balance set"]
    );
    assert_eq!(client.balance().await, 777.25);

    let status = sim.command("status", |_| true);
    assert!(status[0].starts_with("1 connection(s) open"), "{status:?}");

    // `drop` cuts the client off.
    assert_eq!(sim.command("drop", |_| true), ["dropped every connection"]);
    let mut gone = false;
    for _ in 0..100 {
        match support::next_seen(&mut client.ws, WAIT).await {
            Some(support::Seen::Gone) | Some(support::Seen::Close(_)) | None => {
                gone = true;
                break;
            }
            Some(_) => continue,
        }
    }
    assert!(gone, "the client was not dropped");
}
