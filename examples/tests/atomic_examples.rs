//! The atomic example pair over loopback, run as a user runs it: discovery, the
//! confirmation, the endpoint remembered across client runs, a dead remembered endpoint
//! falling through to discovery, a corrupt settings file, and nothing found.

mod atomic_support;

use std::process::Command;
use std::time::{Duration, Instant};

use atomic_support::{RemoveOnDrop, ServerProcess, example, run_bounded, settings_file};

const LIMIT: Duration = Duration::from_secs(40);

fn server() -> ServerProcess {
    let mut command = Command::new(example("atomic_server"));
    command.args(["--listen", "127.0.0.1:0", "--discovery", "127.0.0.1:0"]);
    ServerProcess::start(command)
}

/// The WebSocket URL from the server's banner (`serving ws://…/ as …`).
fn ws_url(server: &ServerProcess) -> String {
    server
        .banner
        .split_whitespace()
        .nth(1)
        .expect("a URL in the banner")
        .to_owned()
}

fn client(server: &ServerProcess, settings: &std::path::Path) -> Command {
    let mut command = Command::new(example("atomic_client"));
    command
        .arg("--once")
        .arg("--probe")
        .arg(server.discovery_addr().to_string())
        .arg("--settings")
        .arg(settings);
    command
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_client_discovers_the_server_and_a_second_run_uses_the_remembered_endpoint() {
    let server = server();
    let url = ws_url(&server);
    let settings = settings_file("remember");
    let _cleanup = RemoveOnDrop(settings.clone());

    let first = run_bounded(client(&server, &settings), LIMIT);
    assert!(first.status.success(), "the first run failed");
    let text = stdout(&first);
    assert!(text.contains("no address given: discovering"), "{text}");
    assert!(
        text.contains(&format!("connected to {url} (discovered endpoint)")),
        "{text}"
    );
    assert!(text.contains("status: connected"), "{text}");
    assert!(text.contains("confirmed"), "{text}");

    let second = run_bounded(client(&server, &settings), LIMIT);
    assert!(second.status.success(), "the second run failed");
    let text = stdout(&second);
    assert!(
        text.contains(&format!("using the remembered endpoint {url}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("connected to {url} (remembered endpoint)")),
        "{text}"
    );
    assert!(text.contains("confirmed"), "{text}");
}

#[test]
fn a_dead_remembered_endpoint_falls_through_to_discovery() {
    let settings = settings_file("fallthrough");
    let _cleanup = RemoveOnDrop(settings.clone());
    let mut old = server();
    let old_url = ws_url(&old);
    let first = run_bounded(client(&old, &settings), LIMIT);
    assert!(first.status.success(), "the first run failed");
    old.kill();

    // Another server, elsewhere: the remembered one is dead.
    let new = server();
    let new_url = ws_url(&new);
    assert_ne!(old_url, new_url);
    let second = run_bounded(client(&new, &settings), LIMIT);
    assert!(second.status.success(), "the run after the move failed");
    let text = stdout(&second);
    assert!(
        text.contains(&format!("using the remembered endpoint {old_url}")),
        "{text}"
    );
    assert!(text.contains("status: reconnecting"), "{text}");
    assert!(
        text.contains(&format!("connected to {new_url} (discovered endpoint)")),
        "{text}"
    );
    assert!(text.contains("confirmed"), "{text}");
    // And the new endpoint is the one remembered now.
    let saved = std::fs::read_to_string(&settings).unwrap();
    assert!(saved.contains(&new_url), "{saved}");
}

#[test]
fn a_corrupt_settings_file_is_reported_and_the_client_starts_afresh() {
    let server = server();
    let settings = settings_file("corrupt");
    let _cleanup = RemoveOnDrop(settings.clone());
    std::fs::write(&settings, "{\"atomic_ws.last_endpoint\": ").unwrap();
    let output = run_bounded(client(&server, &settings), LIMIT);
    assert!(output.status.success(), "the run failed");
    let text = stdout(&output);
    assert!(
        text.contains("warning: the settings file") && text.contains("was corrupt"),
        "{text}"
    );
    assert!(text.contains("confirmed"), "{text}");
}

#[test]
fn nothing_found_exits_non_zero_with_the_reason() {
    let settings = settings_file("nothing");
    let _cleanup = RemoveOnDrop(settings.clone());
    // A UDP port that receives probes and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut command = Command::new(example("atomic_client"));
    command
        .args(["--once", "--timeout-secs", "3", "--probe"])
        .arg(silent.local_addr().unwrap().to_string())
        .arg("--settings")
        .arg(&settings);
    let started = Instant::now();
    let output = run_bounded(command, LIMIT);
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(1));
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no server found or reachable within 3 s")
            && stderr.contains("answered discovery"),
        "{stderr}"
    );
    assert!(!stdout(&output).contains("confirmed"));
}
