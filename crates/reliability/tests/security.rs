//! Security checks over loopback: `wss://` with a certificate from a private CA made in the
//! test (and a certificate for the wrong name refused for good), authentication that
//! belongs to one connection, malformed and misused credentials refused without unlocking
//! anything, size limits, and key material wiped on drop.

mod support;

use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use binary_options_tools::{Decimal, Error, SubscriptionKind};
use client_ws::auth::KeyPair;
use client_ws::rpc::{self, Incoming, RpcError};
use client_ws::server::{ReferenceServer, ServerConfig};
use client_ws::{
    CircleWsClientBuilder, ClientWsError, ConnectionState, DisconnectReason, WsConfig,
};
use core_pre::{Connection, Message};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::tls::{PrivateCa, TlsFront};
use support::{ASSET, WAIT, fast_sim, next_candle, po_builder, within};

const KEY: &str = "c0ffee254729296a45a3885639ac7e10f9d54979a7e2b0d58a4a7c6e2b3a1f01";

fn wss_config(url: String, ca: &PrivateCa) -> WsConfig {
    WsConfig::new(url)
        .with_root_certificate_pem(ca.pem())
        .with_webpki_roots(false)
}

#[tokio::test]
async fn wss_through_a_private_ca_carries_an_authenticated_circle_session() {
    let ca = PrivateCa::new();
    let (chain, key) = ca.leaf(&["localhost"]);
    let server = ReferenceServer::start(ServerConfig::new()).await.unwrap();
    let front = TlsFront::start(server.local_addr(), chain, key).await;
    let pem = ca.pem();
    let client = CircleWsClientBuilder::new(format!("wss://localhost:{}/", front.port))
        .with_keypair(KEY)
        .configure_transport(|ws| ws.with_root_certificate_pem(pem).with_webpki_roots(false))
        .with_connect_wait(WAIT)
        .build()
        .unwrap();
    within("connect over TLS", client.connect()).await.unwrap();
    assert_eq!(
        within("whoami", client.play("whoami")).await.unwrap(),
        client.public_key().unwrap()
    );
    assert_eq!(server.stats().authenticated, 1);
    within("shutdown", client.shutdown()).await.unwrap();
}

#[tokio::test]
async fn wss_through_a_private_ca_carries_a_pocketoption_session() {
    let ca = PrivateCa::new();
    let (chain, key) = ca.leaf(&["localhost"]);
    let sim = fast_sim().start().await.unwrap();
    let front = TlsFront::start(sim.addr(), chain, key).await;
    let url = format!(
        "wss://localhost:{}/socket.io/?EIO=4&transport=websocket",
        front.port
    );
    let client = within(
        "connect over TLS",
        po_builder(&url, "tls-session")
            .with_ws_config(wss_config("wss://replaced".into(), &ca))
            .connect(),
    )
    .await
    .unwrap();
    assert!(within("balance", client.balance()).await.unwrap() > Decimal::ZERO);
    let mut ticks = within(
        "subscribe",
        client.subscribe(ASSET, SubscriptionKind::Ticks),
    )
    .await
    .unwrap();
    next_candle(&mut ticks).await;
    within("shutdown", client.shutdown()).await.unwrap();
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_for_good() {
    let ca = PrivateCa::new();
    // Issued by the trusted CA, but for another host.
    let (chain, key) = ca.leaf(&["wrong.example"]);
    let server = ReferenceServer::start(ServerConfig::new()).await.unwrap();
    let front = TlsFront::start(server.local_addr(), chain, key).await;
    let url = format!("wss://localhost:{}/", front.port);

    let error = within(
        "a raw connection",
        client_ws::connect(&wss_config(url.clone(), &ca)),
    )
    .await
    .expect_err("the name does not match");
    assert!(!error.is_retryable(), "fatal: {error}");
    let message = error.message().to_string();
    assert!(
        message.contains("NotValidForName") && message.contains("with_root_certificate"),
        "the error says what is wrong and where to look: {message}"
    );

    let pem = ca.pem();
    let client = CircleWsClientBuilder::new(url)
        .with_keypair(KEY)
        .configure_transport(|ws| ws.with_root_certificate_pem(pem).with_webpki_roots(false))
        .with_connect_wait(WAIT)
        .build()
        .unwrap();
    let started = Instant::now();
    let error = within("connect", client.connect()).await.unwrap_err();
    assert!(
        matches!(&error, ClientWsError::Connect(reason) if reason.contains("NotValidForName")),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not retried until the wait ran out"
    );
    assert!(
        matches!(
            client.connection_state(),
            ConnectionState::Disconnected(DisconnectReason::Rejected(_))
        ),
        "the client stopped trying: {}",
        client.connection_state()
    );
    assert_eq!(server.stats().accepted, 0, "nothing reached the server");
    assert_eq!(front.handshakes(), 2, "one handshake each, no retries");
}

#[tokio::test]
async fn a_pocketoption_client_refuses_a_certificate_for_another_name_without_retrying() {
    let ca = PrivateCa::new();
    let (chain, key) = ca.leaf(&["wrong.example"]);
    let sim = fast_sim().start().await.unwrap();
    let front = TlsFront::start(sim.addr(), chain, key).await;
    let url = format!(
        "wss://localhost:{}/socket.io/?EIO=4&transport=websocket",
        front.port
    );
    let started = Instant::now();
    let error = within(
        "connect",
        po_builder(&url, "tls-session")
            .with_ws_config(wss_config("wss://replaced".into(), &ca))
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().contains("NotValidForName"),
        "the error names the certificate problem: {error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "failed fast");
    assert_eq!(front.handshakes(), 1, "no retries");
    assert_eq!(sim.connections_accepted(), 0);
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_certificate_failure_is_not_reported_as_a_rejected_session() {
    let ca = PrivateCa::new();
    let (chain, key) = ca.leaf(&["wrong.example"]);
    let sim = fast_sim().start().await.unwrap();
    let front = TlsFront::start(sim.addr(), chain, key).await;
    let url = format!(
        "wss://localhost:{}/socket.io/?EIO=4&transport=websocket",
        front.port
    );
    let error = within(
        "connect",
        po_builder(&url, "tls-session")
            .with_ws_config(wss_config("wss://replaced".into(), &ca))
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(
        !matches!(error, Error::Authentication { .. }),
        "a TLS failure is not a session problem: {error:?}"
    );
}

/// A raw WebSocket to the reference server, for speaking the protocol by hand.
async fn raw(server: &ReferenceServer) -> Connection {
    within(
        "a raw connection",
        client_ws::connect(&WsConfig::new(server.url())),
    )
    .await
    .unwrap()
}

/// One request on a raw connection; its outcome.
async fn call(connection: &mut Connection, method: &str, params: Value) -> Result<Value, RpcError> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    within(
        "send",
        connection
            .sink
            .send(Message::text(rpc::request(id, method, &params))),
    )
    .await
    .unwrap();
    within(method, async {
        loop {
            let frame = connection.stream.next().await.unwrap().unwrap();
            if let Some(Ok(Incoming::Response {
                id: answered,
                outcome,
            })) = frame.as_text().map(rpc::parse)
            {
                if answered == id {
                    return outcome;
                }
            }
        }
    })
    .await
}

async fn nonce_for(connection: &mut Connection, key: &KeyPair) -> String {
    let issued = call(
        connection,
        "fetch_nonce",
        json!({"pubkey": key.public_key_hex()}),
    )
    .await
    .unwrap();
    issued["nonce"].as_str().unwrap().to_owned()
}

/// The code of the error `play` answers with (0 when it succeeds).
async fn play_code(connection: &mut Connection) -> i64 {
    match call(connection, "play", json!({"script": "whoami"})).await {
        Ok(_) => 0,
        Err(error) => error.code,
    }
}

#[tokio::test]
async fn authentication_belongs_to_one_connection() {
    let server = ReferenceServer::start(ServerConfig::new()).await.unwrap();
    let key = KeyPair::from_hex(KEY).unwrap();
    let mut first = raw(&server).await;
    let mut second = raw(&server).await;
    let nonce = nonce_for(&mut first, &key).await;
    let credentials = json!(key.credentials(&nonce));
    assert_eq!(
        call(&mut first, "authenticate", credentials.clone()).await,
        Ok(json!({"authenticated": true}))
    );
    assert_eq!(play_code(&mut first).await, 0, "the first connection is in");
    assert_eq!(
        play_code(&mut second).await,
        rpc::AUTH_REQUIRED,
        "the second connection, same key, is not"
    );
    let replay = call(&mut second, "authenticate", credentials).await;
    assert_eq!(replay.map_err(|e| e.code), Err(rpc::NONCE_REJECTED));
    // A new connection after the first one is gone starts from nothing too.
    drop(first);
    let mut third = raw(&server).await;
    assert_eq!(play_code(&mut third).await, rpc::AUTH_REQUIRED);
    assert_eq!(play_code(&mut second).await, rpc::AUTH_REQUIRED);
    assert_eq!(server.stats().authenticated, 1);
}

#[tokio::test]
async fn malformed_and_misused_credentials_are_refused_and_unlock_nothing() {
    let server = ReferenceServer::start(ServerConfig::new()).await.unwrap();
    let key = KeyPair::from_hex(KEY).unwrap();
    let other = KeyPair::generate().unwrap();
    let mut connection = raw(&server).await;
    let pubkey = key.public_key_hex();

    let bad_pubkey = call(&mut connection, "fetch_nonce", json!({"pubkey": "04zz"})).await;
    assert_eq!(bad_pubkey.map_err(|e| e.code), Err(rpc::INVALID_PARAMS));

    let nonce = nonce_for(&mut connection, &key).await;
    let good = key.sign_message(&nonce);
    let cases: Vec<(&str, Value, i64)> = vec![
        (
            "a signature that is not hex",
            json!({"pubkey": pubkey, "signature": "zz".repeat(65)}),
            rpc::INVALID_CREDENTIALS,
        ),
        (
            "a signature of the wrong length",
            json!({"pubkey": pubkey, "signature": &good[..128]}),
            rpc::INVALID_CREDENTIALS,
        ),
        (
            "a public key that is not hex",
            json!({"pubkey": format!("04{}", "g".repeat(128)), "signature": good}),
            rpc::INVALID_PARAMS,
        ),
        (
            "a public key cut short",
            json!({"pubkey": &pubkey[..64], "signature": good}),
            rpc::INVALID_PARAMS,
        ),
        (
            "a signature by another key",
            json!({"pubkey": pubkey, "signature": other.sign_message(&nonce)}),
            rpc::INVALID_CREDENTIALS,
        ),
        (
            "a signature of a nonce never issued",
            json!({"pubkey": pubkey, "signature": key.sign_message("0123456789abcdef")}),
            rpc::INVALID_CREDENTIALS,
        ),
        (
            "credentials missing",
            json!({"pubkey": pubkey}),
            rpc::INVALID_PARAMS,
        ),
    ];
    for (what, params, code) in cases {
        let outcome = call(&mut connection, "authenticate", params).await;
        assert_eq!(outcome.map_err(|e| e.code), Err(code), "{what}");
        assert_eq!(
            play_code(&mut connection).await,
            rpc::AUTH_REQUIRED,
            "{what} unlocks nothing"
        );
    }
    assert_eq!(server.stats().authenticated, 0);
}

#[tokio::test]
async fn the_reference_server_drops_a_connection_that_sends_more_than_its_limit() {
    let server = ReferenceServer::start(ServerConfig::new().with_max_message_size(1024))
        .await
        .unwrap();
    let mut big = raw(&server).await;
    let padding = "x".repeat(2048);
    within(
        "send",
        big.sink.send(Message::text(rpc::request(
            1,
            "ping",
            &json!({"pad": padding}),
        ))),
    )
    .await
    .unwrap();
    within("the connection to end", async {
        while let Some(Ok(_)) = big.stream.next().await {}
    })
    .await;
    assert!(
        server.wait_for(WAIT, |s| s.live == 0).await.is_some(),
        "{:?}",
        server.stats()
    );
    let mut small = raw(&server).await;
    assert_eq!(
        call(&mut small, "ping", json!(null)).await,
        Ok(json!("pong"))
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
#[allow(unsafe_code)] // Reads a dropped slot's bytes; SAFETY at each block.
fn the_private_key_is_wiped_when_its_key_pair_is_dropped() {
    let secret: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&KEY[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut slot = MaybeUninit::new(KeyPair::from_hex(KEY).unwrap());
    let bytes = |slot: &MaybeUninit<KeyPair>| {
        // SAFETY: the slot holds a KeyPair (two arrays of bytes, no padding) for the whole
        // test; dropping it in place leaves the memory allocated and initialized.
        unsafe {
            std::slice::from_raw_parts(slot.as_ptr().cast::<u8>(), std::mem::size_of::<KeyPair>())
        }
        .to_vec()
    };
    assert!(contains(&bytes(&slot), &secret), "the key is held in place");
    // SAFETY: initialized above, dropped once, never used as a KeyPair afterwards.
    unsafe { slot.assume_init_drop() };
    assert!(
        !contains(&bytes(&slot), &secret),
        "the key is gone after drop"
    );
}
