//! The browser transport and CircleWsClient, inside headless Chromium, against the native
//! reference server that `cargo xtask ci` starts (its URL is baked in at compile time
//! through `CLIENT_WS_TEST_SERVER`).
//!
//! ```text
//! CLIENT_WS_TEST_SERVER=ws://127.0.0.1:PORT CLIENT_WS_TEST_REFUSED_URL=ws://127.0.0.1:CLOSED/ \
//! CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//! cargo test -p client_ws --target wasm32-unknown-unknown --test browser
//! ```

#![cfg(target_arch = "wasm32")]

use std::future::Future;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

use client_ws::auth::KeyPair;
use client_ws::rpc::{self, Incoming};
use client_ws::{CircleWsClientBuilder, ClientWsError, ConnectionState, ReconnectPolicy, WsConfig};
use core_pre::{Message, TransportErrorKind, runtime};

wasm_bindgen_test_configure!(run_in_browser);

/// Every wait in these tests is bounded by this.
const WAIT: Duration = Duration::from_secs(10);

fn server_url() -> &'static str {
    match option_env!("CLIENT_WS_TEST_SERVER") {
        Some(url) => url,
        None => panic!(
            "build with CLIENT_WS_TEST_SERVER=ws://127.0.0.1:PORT of a running reference server \
             (cargo xtask ci does)"
        ),
    }
}

async fn within<F: Future>(future: F) -> F::Output {
    runtime::timeout(WAIT, future).await.expect("timed out")
}

fn client(key: KeyPair) -> CircleWsClientBuilder {
    CircleWsClientBuilder::new(server_url())
        .with_key(key)
        .with_request_timeout(Duration::from_secs(5))
        .with_connect_wait(WAIT)
        .with_reconnect_policy(
            ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(50))
                .with_max_delay(Duration::from_millis(500))
                .with_jitter(0.0),
        )
}

/// Waits until the watched state satisfies `what`. Subscribe before causing the change,
/// so a short-lived state cannot slip by unseen.
async fn wait_state(
    states: &mut tokio::sync::watch::Receiver<ConnectionState>,
    what: impl Fn(&ConnectionState) -> bool,
) {
    within(states.wait_for(|state| what(state)))
        .await
        .expect("client closed");
}

#[wasm_bindgen_test]
async fn the_raw_browser_transport_carries_json_rpc_both_ways() {
    let mut connection = within(client_ws::connect(&WsConfig::new(server_url())))
        .await
        .unwrap();
    let request = rpc::request(1, "ping", &Value::Null);
    within(connection.sink.send(Message::text(request)))
        .await
        .unwrap();
    let frame = within(connection.stream.next()).await.unwrap().unwrap();
    let answer = rpc::parse(frame.as_text().unwrap()).unwrap();
    assert_eq!(
        answer,
        Incoming::Response {
            id: 1,
            outcome: Ok(json!("pong"))
        }
    );
}

#[wasm_bindgen_test]
async fn opening_a_refused_socket_fails_as_retryable_instead_of_hanging() {
    // A closed loopback port chosen by the harness: the failure arrives as events.
    let url = option_env!("CLIENT_WS_TEST_REFUSED_URL").unwrap_or("ws://127.0.0.1:1/");
    let error = within(client_ws::connect(&WsConfig::new(url)))
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error}");
}

#[wasm_bindgen_test]
async fn sending_on_a_closed_socket_reports_closed_instead_of_vanishing() {
    let mut connection = within(client_ws::connect(&WsConfig::new(server_url())))
        .await
        .unwrap();
    // Code 1001 is not allowed from a page: the transport sends 1000 instead of throwing.
    let close = Message::Close(Some(core_pre::CloseFrame {
        code: 1001,
        reason: "going away".into(),
    }));
    within(connection.sink.send(close)).await.unwrap();
    // Read until the browser reports the socket closed.
    while let Some(item) = within(connection.stream.next()).await {
        if matches!(item, Ok(Message::Close(_)) | Err(_)) {
            break;
        }
    }
    let error = within(connection.sink.send(Message::text("too late")))
        .await
        .unwrap_err();
    assert_eq!(error.kind, TransportErrorKind::Closed, "{error}");
}

#[wasm_bindgen_test]
async fn the_client_authenticates_with_secp256k1_inside_the_browser() {
    let key = KeyPair::generate().unwrap();
    let pubkey = key.public_key_hex();
    let client = client(key).build().unwrap();
    within(client.connect()).await.unwrap();
    assert!(client.is_connected());
    assert_eq!(within(client.play("whoami")).await.unwrap(), pubkey);
    assert_eq!(
        within(client.play("echo from the browser")).await.unwrap(),
        "from the browser"
    );
    within(client.ping()).await.unwrap();
    within(client.shutdown()).await.unwrap();
}

#[wasm_bindgen_test]
async fn play_is_refused_without_authentication() {
    let anonymous = CircleWsClientBuilder::new(server_url()).build().unwrap();
    within(anonymous.connect()).await.unwrap();
    match within(anonymous.play("echo hi")).await {
        Err(ClientWsError::Rpc { error, .. }) => assert_eq!(error.code, rpc::AUTH_REQUIRED),
        other => panic!("expected -32001, got {other:?}"),
    }
    within(anonymous.shutdown()).await.unwrap();
}

#[wasm_bindgen_test]
async fn the_client_survives_a_server_side_drop_and_reauthenticates() {
    let key = KeyPair::generate().unwrap();
    let pubkey = key.public_key_hex();
    let client = client(key).build().unwrap();
    within(client.connect()).await.unwrap();
    // The server answers, then drops the connection without a close frame.
    let mut states = client.watch_connection_state();
    let answer = within(client.play("echo bye\ndisconnect")).await.unwrap();
    assert_eq!(answer, "bye");
    wait_state(&mut states, |s| !s.is_connected()).await;
    wait_state(&mut states, ConnectionState::is_connected).await;
    assert_eq!(within(client.play("whoami")).await.unwrap(), pubkey);
    within(client.shutdown()).await.unwrap();
}

#[wasm_bindgen_test]
async fn the_application_keep_alive_spots_a_silent_server() {
    let key = KeyPair::generate().unwrap();
    let client = client(key)
        .with_heartbeat(Duration::from_millis(100), Duration::from_millis(600))
        .build()
        .unwrap();
    within(client.connect()).await.unwrap();
    // `ping` calls keep a healthy connection alive well past the read timeout: the state
    // must not change at all (not even a quick reconnect).
    let mut states = client.watch_connection_state();
    states.borrow_and_update();
    runtime::sleep(Duration::from_millis(1000)).await;
    assert!(
        !states.has_changed().unwrap(),
        "the connection dropped: {}",
        client.connection_state()
    );
    // Now the server goes silent with the socket open: only the keep-alive can notice.
    assert_eq!(within(client.play("echo ok\nfreeze")).await.unwrap(), "ok");
    wait_state(&mut states, |s| !s.is_connected()).await;
    wait_state(&mut states, ConnectionState::is_connected).await;
    within(client.ping()).await.unwrap();
    within(client.shutdown()).await.unwrap();
}
