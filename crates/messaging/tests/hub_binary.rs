//! The `hub` binary: starts on port 0, prints its URL, routes, and shuts down cleanly on
//! SIGTERM; refuses a bad address with an `error:` line.

mod hub_support;

use std::process::Stdio;

use hub_support::{Ending, Peer, WAIT};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

#[cfg(unix)]
#[tokio::test]
async fn the_binary_prints_its_url_routes_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hub"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--max-payload",
            "2048",
            "--shutdown-timeout",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the hub binary runs");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("the URL is printed in time")
        .unwrap()
        .expect("a line");
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");

    let mut a = Peer::connect(&url).await;
    assert_eq!(a.max_payload, 2048);
    a.sub_synced("1", "greetings.*", None).await;
    let mut b = Peer::connect(&url).await;
    b.publish("greetings.en", b"hello", None).await;
    assert_eq!(&a.next_msg().await.2[..], b"hello");

    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(a.ending(WAIT).await, Ending::Closed(Some(1001)));
    let exit = tokio::time::timeout(WAIT * 2, child.wait())
        .await
        .expect("the hub exits in time")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(stderr.contains("terminated: shutting down"), "{stderr}");
    assert!(stderr.contains("2 sessions"), "{stderr}");
    assert!(stderr.contains("1 published, 1 delivered"), "{stderr}");
}

#[tokio::test]
async fn an_address_in_use_is_an_error_line_and_exit_code_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = tokio::time::timeout(
        WAIT,
        Command::new(env!("CARGO_BIN_EXE_hub"))
            .args(["--listen", &address])
            .output(),
    )
    .await
    .expect("it exits in time")
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: the hub could not start"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}
