//! When the platform cannot be reached, the error says why: how long the client tried,
//! where, what the last attempt ran into, and what to do.
//!
//! Nothing here leaves the machine: the "platform" is a closed loopback port, or a name
//! under the reserved `.invalid` domain, which the transport refuses without a lookup.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use support::within;

use std::time::{Duration, Instant};

use binary_options_tools::{Error, PocketOption, PocketOptionBuilder, Ssid, Timeouts};
use core_pre::{ConnectErrorKind, ConnectionState, ReconnectPolicy};

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn builder(url: &str) -> PocketOptionBuilder {
    PocketOption::builder(Ssid::demo("unreachable-session", 7))
        .with_url(url)
        .only_given_urls()
        .with_reconnect_policy(
            ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(50))
                .with_max_delay(Duration::from_millis(200)),
        )
        .with_timeouts(
            Timeouts::default()
                .with_connect(Duration::from_secs(1))
                .with_attempt(Duration::from_millis(500))
                .with_handshake(Duration::from_millis(500))
                .with_request(Duration::from_millis(300)),
        )
}

#[tokio::test]
async fn a_closed_port_is_reported_as_refused_with_the_url_and_what_to_do() {
    let port = closed_port();
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let started = Instant::now();
    let error = within("connect", builder(&url).connect())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));

    let Error::ConnectFailed(report) = &error else {
        panic!("expected ConnectFailed, got {error:?}");
    };
    assert_eq!(report.waited, Duration::from_secs(1));
    assert!(!report.gave_up && !report.still_trying, "{report:?}");
    assert!(report.demo);
    let failure = report.failure.as_ref().expect("attempts failed");
    assert!(failure.attempts >= 2, "retried with backoff: {failure:?}");
    assert_eq!(failure.last_error.kind(), ConnectErrorKind::Refused);
    let endpoint = format!("ws://127.0.0.1:{port}/socket.io/");
    assert_eq!(
        failure.endpoints.iter().map(|e| &**e).collect::<Vec<_>>(),
        [endpoint.as_str()]
    );

    let text = error.to_string();
    assert!(
        text.starts_with("could not connect to PocketOption (demo account) within 1 s: "),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "to {endpoint} failed; the last one: could not reach 127.0.0.1:{port}: "
        )),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(
        text.contains("Nothing accepted the connection at that address"),
        "{text}"
    );
    assert!(text.contains("`--url`"), "{text}");
    // `connect` shut the client down: it does not go on trying.
    assert!(!text.contains("keeps trying"), "{text}");
}

#[tokio::test]
async fn an_unresolvable_name_is_reported_as_a_name_that_did_not_resolve() {
    let url = "wss://platform.example.invalid/socket.io/?EIO=4&transport=websocket";
    let error = within("connect", builder(url).connect()).await.unwrap_err();
    let Error::ConnectFailed(report) = &error else {
        panic!("expected ConnectFailed, got {error:?}");
    };
    assert_eq!(
        report.last_error_kind(),
        Some(ConnectErrorKind::Unresolved),
        "{report:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains(
            "to wss://platform.example.invalid/socket.io/ failed; the last one: could not resolve the host name platform.example.invalid"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "The server's name did not resolve: check that this machine is online and that DNS works"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn while_reconnecting_waits_and_calls_say_what_the_client_waits_for_and_why() {
    let port = closed_port();
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let client = builder(&url).spawn();
    let cause = format!("could not reach 127.0.0.1:{port}: ");

    let error = within(
        "wait_connected",
        client.wait_connected(Duration::from_millis(600)),
    )
    .await
    .unwrap_err();
    let Error::ConnectFailed(report) = &error else {
        panic!("expected ConnectFailed, got {error:?}");
    };
    assert!(report.still_trying);
    let text = error.to_string();
    assert!(text.contains("within 600 ms"), "{text}");
    assert!(text.contains(&cause), "{text}");
    assert!(
        text.ends_with("The client keeps trying in the background."),
        "{text}"
    );

    // The state says what the client waits for, and why the last attempt failed.
    match client.connection_state() {
        ConnectionState::Reconnecting { last_error, .. } => {
            assert!(last_error.contains(&cause), "{last_error}");
        }
        other => panic!("expected to be reconnecting: {other}"),
    }
    let sent = client.raw().send(r#"42["ps"]"#).await.unwrap_err();
    let text = sent.to_string();
    assert!(
        text.starts_with("not connected: reconnecting (attempt "),
        "{text}"
    );
    assert!(text.contains(&cause), "{text}");
    // So does a wait for data the platform sends once connected.
    let balance = within("balance", client.balance()).await.unwrap_err();
    let text = balance.to_string();
    assert!(
        text.starts_with("not connected: reconnecting (attempt "),
        "{text}"
    );
    assert!(text.contains(&cause), "{text}");

    // Shutdown joins the runner.
    within("shutdown", client.shutdown()).await.unwrap();
    assert_eq!(client.connection_state(), core_pre::ConnectionState::Closed);
}
