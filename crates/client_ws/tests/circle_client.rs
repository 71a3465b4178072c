//! CircleWsClient against the reference server over loopback: authentication and its
//! failures, calls, timeouts, notifications, reconnects with re-authentication, dead-peer
//! detection, and secrets staying out of `Debug`.

#![cfg(not(target_arch = "wasm32"))]

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};

use client_ws::auth::{AuthError, KeyPair};
use client_ws::rpc::{self, Incoming};
use client_ws::server::{ReferenceServer, ServerConfig};
use client_ws::{
    CircleWsClientBuilder, ClientWsError, ConnectionState, DisconnectReason, ReconnectPolicy,
    WsConfig,
};
use core_pre::{Connection, Message};

/// Every wait in these tests is bounded by this.
const WAIT: Duration = Duration::from_secs(5);
const KEY: &str = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.expect("timed out")
}

async fn server(config: ServerConfig) -> ReferenceServer {
    ReferenceServer::start(config).await.unwrap()
}

fn fast_reconnects() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .with_initial_delay(Duration::from_millis(20))
        .with_max_delay(Duration::from_millis(200))
        .with_jitter(0.0)
}

fn client_for(server: &ReferenceServer) -> CircleWsClientBuilder {
    CircleWsClientBuilder::new(server.url())
        .with_keypair(KEY)
        .with_reconnect_policy(fast_reconnects())
        .with_request_timeout(Duration::from_secs(3))
        .with_connect_wait(WAIT)
}

/// Waits until the watched state satisfies `what`. Subscribe (`client.watch_connection_state()`)
/// before causing the change, so a short-lived state cannot slip by unseen.
async fn wait_state(
    states: &mut tokio::sync::watch::Receiver<ConnectionState>,
    what: impl Fn(&ConnectionState) -> bool,
) -> ConnectionState {
    within(states.wait_for(|state| what(state)))
        .await
        .unwrap()
        .clone()
}

/// Sends one request on a raw connection and returns the response's outcome.
async fn raw_call(
    connection: &mut Connection,
    id: u64,
    method: &str,
    params: Value,
) -> Result<Value, rpc::RpcError> {
    within(
        connection
            .sink
            .send(Message::text(rpc::request(id, method, &params))),
    )
    .await
    .unwrap();
    loop {
        let frame = within(connection.stream.next()).await.unwrap().unwrap();
        if let Some(text) = frame.as_text() {
            if let Ok(Incoming::Response {
                id: answered,
                outcome,
            }) = rpc::parse(text)
            {
                assert_eq!(answered, id);
                return outcome;
            }
        }
    }
}

async fn raw_connection(server: &ReferenceServer) -> Connection {
    within(client_ws::connect(&WsConfig::new(server.url())))
        .await
        .unwrap()
}

async fn fetch_nonce(connection: &mut Connection, id: u64, key: &KeyPair) -> String {
    let issued = raw_call(
        connection,
        id,
        "fetch_nonce",
        json!({"pubkey": key.public_key_hex()}),
    )
    .await
    .unwrap();
    assert!(issued["expires_at"].as_u64().unwrap() > 0);
    issued["nonce"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn connect_authenticates_and_the_server_knows_who_is_calling() {
    let server = server(ServerConfig::new()).await;
    let client = client_for(&server).build().unwrap();
    assert!(!client.is_connected());
    within(client.connect()).await.unwrap();
    assert!(client.is_connected());
    assert_eq!(server.stats().authenticated, 1);
    let me = client.public_key().unwrap().to_string();
    assert_eq!(within(client.play("whoami")).await.unwrap(), me);
    assert_eq!(
        within(client.play("echo one\necho two")).await.unwrap(),
        "one\ntwo"
    );
    within(client.ping()).await.unwrap();
}

#[tokio::test]
async fn a_key_the_server_does_not_accept_is_rejected_with_a_typed_error_and_no_retries() {
    let allowed = KeyPair::generate().unwrap();
    let server = server(
        ServerConfig::new()
            .with_allowed_keys([allowed.public_key_hex()])
            .unwrap(),
    )
    .await;
    let client = client_for(&server).build().unwrap();
    let error = within(client.connect()).await.unwrap_err();
    assert!(
        matches!(
            &error,
            ClientWsError::Auth(AuthError::Rejected { code: -32002, .. })
        ),
        "{error:?}"
    );
    assert!(!client.is_connected());
    assert!(matches!(
        client.connection_state(),
        ConnectionState::Disconnected(DisconnectReason::Rejected(_))
    ));
    assert_eq!(server.stats().authenticated, 0);
    // The allowed key gets in.
    let good = CircleWsClientBuilder::new(server.url())
        .with_key(allowed)
        .build()
        .unwrap();
    within(good.connect()).await.unwrap();
}

#[tokio::test]
async fn a_signature_by_another_key_is_refused_as_invalid_credentials() {
    let server = server(ServerConfig::new()).await;
    let alice = KeyPair::generate().unwrap();
    let mallory = KeyPair::generate().unwrap();
    let mut connection = raw_connection(&server).await;
    let nonce = fetch_nonce(&mut connection, 1, &alice).await;
    let forged =
        json!({"pubkey": alice.public_key_hex(), "signature": mallory.sign_message(&nonce)});
    let error = raw_call(&mut connection, 2, "authenticate", forged)
        .await
        .unwrap_err();
    assert_eq!(error.code, rpc::INVALID_CREDENTIALS, "{error:?}");
    // Nothing is unlocked.
    let play = raw_call(&mut connection, 3, "play", json!({"script": "whoami"}))
        .await
        .unwrap_err();
    assert_eq!(play.code, rpc::AUTH_REQUIRED);
}

#[tokio::test]
async fn a_replayed_nonce_is_refused_on_the_same_and_on_another_connection() {
    let server = server(ServerConfig::new()).await;
    let key = KeyPair::generate().unwrap();
    let mut first = raw_connection(&server).await;
    let nonce = fetch_nonce(&mut first, 1, &key).await;
    // The spec's alternative params shape.
    let credentials = json!({"credentials": key.credentials(&nonce)});
    assert_eq!(
        raw_call(&mut first, 2, "authenticate", credentials.clone()).await,
        Ok(json!({"authenticated": true}))
    );
    let again = raw_call(&mut first, 3, "authenticate", credentials.clone())
        .await
        .unwrap_err();
    assert_eq!(again.code, rpc::NONCE_REJECTED, "{again:?}");
    let mut second = raw_connection(&server).await;
    let replay = raw_call(&mut second, 1, "authenticate", credentials)
        .await
        .unwrap_err();
    assert_eq!(replay.code, rpc::NONCE_REJECTED, "{replay:?}");
    assert_eq!(server.stats().authenticated, 1);
}

#[tokio::test]
async fn an_expired_nonce_is_refused_as_expired() {
    let ttl = Duration::from_millis(100);
    let server = server(ServerConfig::new().with_nonce_ttl(ttl)).await;
    let key = KeyPair::generate().unwrap();
    let mut connection = raw_connection(&server).await;
    let nonce = fetch_nonce(&mut connection, 1, &key).await;
    // Expiry is a matter of time: let the nonce's lifetime pass.
    tokio::time::sleep(ttl * 2).await;
    let error = raw_call(
        &mut connection,
        2,
        "authenticate",
        json!(key.credentials(&nonce)),
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, rpc::NONCE_REJECTED);
    assert!(error.message.contains("expired"), "{error:?}");
}

#[tokio::test]
async fn play_requires_authentication_when_the_server_says_so() {
    let server = server(ServerConfig::new()).await;
    let anonymous = CircleWsClientBuilder::new(server.url()).build().unwrap();
    within(anonymous.connect()).await.unwrap();
    within(anonymous.ping()).await.unwrap();
    let error = within(anonymous.play("echo hi")).await.unwrap_err();
    match error {
        ClientWsError::Rpc { method, error } => {
            assert_eq!((method.as_str(), error.code), ("play", rpc::AUTH_REQUIRED));
        }
        other => panic!("expected an RPC error, got {other:?}"),
    }

    let open = self::server(ServerConfig::new().require_auth_for_play(false)).await;
    let anonymous = CircleWsClientBuilder::new(open.url()).build().unwrap();
    within(anonymous.connect()).await.unwrap();
    assert_eq!(within(anonymous.play("whoami")).await.unwrap(), "anonymous");
}

#[tokio::test]
async fn unknown_methods_come_back_as_typed_rpc_errors() {
    let server = server(ServerConfig::new()).await;
    let client = client_for(&server).build().unwrap();
    within(client.connect()).await.unwrap();
    let error = within(client.call("no_such_method", json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientWsError::Rpc { error, .. } if error.code == rpc::METHOD_NOT_FOUND),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_call_without_an_answer_times_out_and_the_next_call_still_works() {
    let server = server(ServerConfig::new()).await;
    let client = client_for(&server).build().unwrap();
    within(client.connect()).await.unwrap();
    let started = Instant::now();
    let error = within(client.call_with_timeout(
        "play",
        json!({"script": "sleep 3000"}),
        Duration::from_millis(200),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(&error, ClientWsError::Timeout { method, .. } if method == "play"),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    within(client.ping()).await.unwrap();
    assert!(client.is_connected());
}

#[tokio::test]
async fn a_pending_call_fails_at_once_when_the_connection_drops() {
    let server = server(ServerConfig::new()).await;
    let client = client_for(&server)
        .with_request_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    within(client.connect()).await.unwrap();
    let mut notes = client.notifications();
    let pending = tokio::spawn({
        let client = client.clone();
        // The server announces when it runs the script: by then the call is registered.
        async move { client.play("notify started\nsleep 20000").await }
    });
    assert_eq!(within(notes.recv()).await.unwrap().method, "started");
    let started = Instant::now();
    assert_eq!(server.drop_connections(), 1);
    let outcome = within(pending).await.unwrap();
    assert!(
        matches!(&outcome, Err(ClientWsError::ConnectionLost { method }) if method == "play"),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn after_a_server_drop_the_client_reconnects_reauthenticates_and_calls_work_again() {
    let server = server(ServerConfig::new()).await;
    let client = client_for(&server).build().unwrap();
    within(client.connect()).await.unwrap();
    let me = client.public_key().unwrap().to_string();

    assert_eq!(server.drop_connections(), 1);
    let stats = server
        .wait_for(WAIT, |s| {
            s.accepted == 2 && s.authenticated == 2 && s.live == 1
        })
        .await;
    assert!(
        stats.is_some(),
        "no re-authenticated connection: {:?}",
        server.stats()
    );
    wait_state(
        &mut client.watch_connection_state(),
        ConnectionState::is_connected,
    )
    .await;
    assert_eq!(within(client.play("whoami")).await.unwrap(), me);
}

#[tokio::test]
async fn a_call_made_while_reconnecting_goes_out_after_reauthentication() {
    let server = server(ServerConfig::new()).await;
    let client = client_for(&server)
        .with_reconnect_policy(fast_reconnects().with_initial_delay(Duration::from_millis(500)))
        .build()
        .unwrap();
    within(client.connect()).await.unwrap();
    let mut states = client.watch_connection_state();
    server.drop_connections();
    wait_state(&mut states, |s| {
        matches!(s, ConnectionState::Reconnecting { .. })
    })
    .await;
    assert!(
        !client.is_connected(),
        "the call must be made while reconnecting"
    );
    // `whoami` only answers with the key on an authenticated connection.
    assert_eq!(
        within(client.play("whoami")).await.unwrap(),
        client.public_key().unwrap()
    );
    assert_eq!(server.stats().authenticated, 2);
}

#[tokio::test]
async fn keep_alive_detects_a_silent_half_open_server_and_reconnects() {
    let server = server(ServerConfig::new()).await;
    let client = client_for(&server)
        .with_heartbeat(Duration::from_millis(100), Duration::from_millis(800))
        .build()
        .unwrap();
    within(client.connect()).await.unwrap();
    // Many keep-alive intervals, and more than the timeout, pass on a healthy connection
    // without a reconnect.
    let healthy = server
        .wait_for(Duration::from_millis(1000), |s| s.accepted > 1)
        .await;
    assert!(
        healthy.is_none(),
        "a live server must not be dropped: {healthy:?}"
    );

    let mut states = client.watch_connection_state();
    let started = Instant::now();
    assert_eq!(server.freeze_connections(), 1);
    wait_state(&mut states, |s| !s.is_connected()).await;
    let detected = started.elapsed();
    // Not at once (the socket stays open), but within about one timeout.
    assert!(
        detected >= Duration::from_millis(300),
        "too early: {detected:?}"
    );
    assert!(detected < Duration::from_secs(3), "too late: {detected:?}");
    wait_state(&mut states, ConnectionState::is_connected).await;
    assert_eq!(server.stats().authenticated, 2);
    within(client.ping()).await.unwrap();
}

#[tokio::test]
async fn notifications_from_the_server_reach_every_subscriber() {
    let server = server(ServerConfig::new()).await;
    let client = client_for(&server).build().unwrap();
    let mut first = client.notifications();
    let second = client.notifications();
    within(client.connect()).await.unwrap();
    within(client.play("notify tick {\"n\": 1}")).await.unwrap();
    let note = within(first.recv()).await.unwrap();
    assert_eq!(
        (note.method.as_str(), note.params),
        ("tick", json!({"n": 1}))
    );
    assert_eq!(server.notify_all("news", &json!(["x"])), 1);
    assert_eq!(within(first.recv()).await.unwrap().method, "news");
    let mut stream = Box::pin(second.into_stream());
    assert_eq!(within(stream.next()).await.unwrap().method, "tick");
    assert_eq!(within(stream.next()).await.unwrap().method, "news");
}

#[tokio::test]
async fn calls_before_connect_and_after_disconnect_fail_with_not_connected() {
    let server = server(ServerConfig::new()).await;
    let client = client_for(&server).build().unwrap();
    let early = within(client.ping()).await.unwrap_err();
    assert!(
        matches!(early, ClientWsError::NotConnected { .. }),
        "{early:?}"
    );

    within(client.connect()).await.unwrap();
    within(client.disconnect()).await.unwrap();
    assert!(!client.is_connected());
    let late = within(client.ping()).await.unwrap_err();
    assert!(
        matches!(late, ClientWsError::NotConnected { .. }),
        "{late:?}"
    );
    assert!(server.wait_for(WAIT, |s| s.live == 0).await.is_some());

    // And it connects (and authenticates) again on request.
    within(client.connect()).await.unwrap();
    within(client.ping()).await.unwrap();
    assert_eq!(server.stats().authenticated, 2);
}

#[tokio::test]
async fn dropping_the_last_client_closes_its_connection() {
    let server = server(ServerConfig::new()).await;
    let client = client_for(&server).build().unwrap();
    within(client.connect()).await.unwrap();
    let clone = client.clone();
    drop(client);
    within(clone.ping()).await.unwrap();
    drop(clone);
    assert!(
        server.wait_for(WAIT, |s| s.live == 0).await.is_some(),
        "{:?}",
        server.stats()
    );
}

#[tokio::test]
async fn after_shutdown_every_call_fails_with_closed() {
    let server = server(ServerConfig::new()).await;
    let client = client_for(&server).build().unwrap();
    within(client.connect()).await.unwrap();
    within(client.shutdown()).await.unwrap();
    assert!(matches!(
        within(client.ping()).await,
        Err(ClientWsError::Closed)
    ));
    assert_eq!(client.connection_state(), ConnectionState::Closed);
}

#[tokio::test]
async fn connecting_to_a_server_that_is_down_reports_the_last_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = CircleWsClientBuilder::new(url)
        .with_keypair(KEY)
        .with_reconnect_policy(fast_reconnects())
        .with_connect_wait(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = within(client.connect()).await.unwrap_err();
    match error {
        ClientWsError::Connect(reason) => assert!(reason.contains("could not reach"), "{reason}"),
        other => panic!("expected a connect error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_invalid_key_fails_the_build_without_echoing_the_key() {
    let bad = "zz".repeat(32);
    let error = CircleWsClientBuilder::new("ws://127.0.0.1:1")
        .with_keypair(&bad)
        .build()
        .unwrap_err();
    assert!(
        matches!(error, ClientWsError::Auth(AuthError::InvalidPrivateKey(_))),
        "{error:?}"
    );
    assert!(!error.to_string().contains(&bad));
}

#[tokio::test]
async fn the_private_key_never_appears_in_debug_output() {
    let server = server(ServerConfig::new()).await;
    let builder = client_for(&server);
    let shown_builder = format!("{builder:?} {builder:#?}");
    let client = builder.build().unwrap();
    within(client.connect()).await.unwrap();
    let key = KeyPair::from_hex(KEY).unwrap();
    for shown in [
        shown_builder,
        format!("{client:?} {client:#?}"),
        format!("{key:?} {key:#?}"),
    ] {
        assert!(!shown.contains(KEY), "{shown}");
        assert!(!shown.to_lowercase().contains(&KEY[..16]), "{shown}");
    }
    let invalid = CircleWsClientBuilder::new("ws://x").with_keypair(&KEY[..60]);
    assert!(!format!("{invalid:?}").contains(&KEY[..60]));
}
