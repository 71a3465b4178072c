//! `cargo xtask peers`: the server crate against a WebSocket client we did not write.
//!
//! Starts `examples/chat_server.rs` on a free loopback port and runs
//! `crates/server/tests/peers/chat_client.py` with the PyPI package `websockets` (pinned
//! below, installed into `target/peers-venv`): an upgrade refused with 401, a chat between
//! two sessions, `/who`, a too-large message closed with 1009, and a graceful shutdown
//! (SIGINT to the example) closing the last session with 1001. `cargo xtask ci` runs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::cmd::{self, cargo, root, target_dir};

/// The `websockets` release the check is pinned to.
const WEBSOCKETS: &str = "websockets==13.1";
/// Bound on each wait for a line from the server or the client.
const LINE_WAIT: Duration = Duration::from_secs(120);

/// Kills the process on drop, if it is still running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines a child prints on stdout, read by a thread.
fn lines_of(child: &mut Child) -> Result<mpsc::Receiver<String>, String> {
    let out = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("    | {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Ok(rx)
}

/// Waits for a line starting with `prefix`; returns its rest.
fn line_after(lines: &mpsc::Receiver<String>, prefix: &str, who: &str) -> Result<String, String> {
    let deadline = std::time::Instant::now() + LINE_WAIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return Ok(rest.to_owned());
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "{who} printed no `{prefix}` line within {LINE_WAIT:?}"
                ));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(format!("{who} ended before printing `{prefix}`"));
            }
        }
    }
}

pub(crate) fn run() -> Result<(), String> {
    let started = std::time::Instant::now();
    let bin = crate::venv::ensure("peers-venv", WEBSOCKETS, "the stock-client check")?;
    cmd::run(
        "build the chat example",
        &mut cargo(&["build", "-p", "examples", "--example", "chat_server"]),
    )?;
    println!("\n==> the server crate with a stock client (Python {WEBSOCKETS})");
    let example = target_dir().join("debug/examples/chat_server");
    let mut server = Running(
        Command::new(&example)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", example.display()))?,
    );
    let server_lines = lines_of(&mut server.0)?;
    let url = line_after(&server_lines, "chat server at ", "the chat example")?;
    let script = root().join("crates/server/tests/peers/chat_client.py");
    let mut client = Running(
        Command::new(bin.join("python"))
            .arg(&script)
            .arg(url.trim_end_matches('/'))
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not run the venv's python: {e}"))?,
    );
    let client_lines = lines_of(&mut client.0)?;
    line_after(&client_lines, "ready for shutdown", "the stock client")?;
    // Ctrl-C, as a person would stop it (the shell's own `kill`: no procps needed).
    let pid = server.0.id();
    cmd::run(
        "ask the chat example to stop (SIGINT)",
        Command::new("sh").args(["-c", &format!("kill -INT {pid}")]),
    )?;
    let status = client
        .0
        .wait()
        .map_err(|e| format!("the stock client: {e}"))?;
    if !status.success() {
        return Err(format!(
            "the stock client failed ({status}); its reason is above"
        ));
    }
    let report = line_after(&server_lines, "shut down: ", "the chat example")?;
    let status = server
        .0
        .wait()
        .map_err(|e| format!("the chat example: {e}"))?;
    if !status.success() {
        return Err(format!("the chat example failed ({status})"));
    }
    if !report.starts_with("1 of 1 sessions closed cleanly") {
        return Err(format!("the shutdown was not clean: {report}"));
    }
    let took = started.elapsed().as_secs_f64();
    cmd::record_step("the server with a stock client", took);
    println!("    ok: a stock client talked to the server ({took:.1}s)");
    Ok(())
}
