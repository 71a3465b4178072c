//! The `msg` binary against a real nats-server.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use messaging::testing::NatsServer;

const MSG: &str = env!("CARGO_BIN_EXE_msg");

fn msg(url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(MSG);
    command.args(["--url", url, "--codec", "nats"]).args(args);
    command
}

/// Runs to completion, at most `limit`.
fn run(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait(&mut child, limit)
}

fn wait(child: &mut Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("msg did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_end(&mut stdout).unwrap();
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_end(&mut stderr).unwrap();
    }
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Starts a long-running command and waits for its "ready" line on stderr.
fn start_ready(mut command: Command, ready: &str) -> Child {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(ready) => return child,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("no {ready:?} line from msg");
            }
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn sub_prints_what_pub_sends_and_exits_after_count() {
    let server = NatsServer::start().unwrap();
    let url = server.ws_url();
    let mut sub = start_ready(msg(&url, &["sub", "greet.*", "--count", "2"]), "listening");
    for (subject, body) in [
        ("greet.a", "hello"),
        ("other", "skip"),
        ("greet.b", "two words"),
    ] {
        let out = run(msg(&url, &["pub", subject, body]), Duration::from_secs(10));
        assert!(out.status.success(), "pub: {}", text(&out.stderr));
    }
    let out = wait(&mut sub, Duration::from_secs(10));
    assert!(out.status.success(), "sub: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "greet.a hello\ngreet.b two words\n");
}

#[test]
fn req_prints_the_reply_and_fails_clearly_without_responders() {
    let server = NatsServer::start().unwrap();
    let url = server.ws_url();
    let mut replier = start_ready(
        msg(&url, &["reply", "svc.time", "noon", "--count", "1"]),
        "answering",
    );
    let out = run(
        msg(&url, &["req", "svc.time", "?"]),
        Duration::from_secs(10),
    );
    assert!(out.status.success(), "req: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "noon\n");
    assert!(wait(&mut replier, Duration::from_secs(10)).status.success());

    let started = Instant::now();
    let out = run(
        msg(&url, &["req", "svc.time", "?", "--timeout-ms", "5000"]),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(5));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: no responders"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn failures_exit_non_zero_with_one_line() {
    let server = NatsServer::start().unwrap();
    let url = server.ws_url();
    // A responder that never answers: timeout.
    let mut mute = start_ready(msg(&url, &["sub", "svc.mute"]), "listening");
    let out = run(
        msg(&url, &["req", "svc.mute", "?", "--timeout-ms", "300"]),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no reply"),
        "{}",
        text(&out.stderr)
    );
    let _ = mute.kill();
    let _ = mute.wait();

    // Nobody listening on the port: refused.
    drop(server);
    let out = run(
        msg(&url, &["--connect-timeout-ms", "500", "pub", "a", "b"]),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: broker unavailable"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // Bad arguments, refused before connecting (nothing listens on the URL now).
    let started = Instant::now();
    let out = run(msg(&url, &["pub", "a.*", "x"]), Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("concrete subject"),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        msg(&url, &["sub", "a", "--queue", "bad group"]),
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(2));
    let mut bad_codec = Command::new(MSG);
    bad_codec.args(["--url", &url, "--codec", "xml", "pub", "a", "b"]);
    let out = run(bad_codec, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
}
