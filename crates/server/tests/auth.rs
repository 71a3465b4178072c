//! Authentication at the upgrade over real loopback sockets: tokens, secp256k1 signed
//! challenges (with client_ws's keys and connector), origins, replacement by identity.

mod support;

use std::time::Duration;

use client_ws::WsConfig;
use client_ws::auth::KeyPair;
use core_pre::{ClientBuilder, Message};
use futures::StreamExt;
use server::{
    DisconnectReason, DuplicateIdentity, Identity, REPLACED_CLOSE_CODE, RejectReason,
    Secp256k1Auth, Server, SignedChallenge, SignedConnector, TokenAuth,
};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use support::*;

/// The HTTP status of a refused upgrade of `request`.
async fn refused_status(request: impl IntoClientRequest + Unpin) -> u16 {
    match within(tokio_tungstenite::connect_async(request)).await {
        Err(WsError::Http(response)) => response.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn token_auth_accepts_known_tokens_from_header_or_query_and_refuses_others_with_401() {
    let auth = TokenAuth::new()
        .with_token("alice-token", Identity::new("alice"))
        .with_token("bob-token", Identity::new("bob"));
    let (server, mut inbox) = Server::builder()
        .with_authenticator(auth)
        .start()
        .await
        .unwrap();

    let mut request = server.url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", "Bearer alice-token".parse().unwrap());
    let _alice = within(tokio_tungstenite::connect_async(request))
        .await
        .unwrap();
    let id = connected(&mut inbox.events).await;
    let info = server.session(id).unwrap();
    assert_eq!(info.identity.as_ref().map(Identity::name), Some("alice"));
    // The query never reaches the session's metadata; the path does.
    assert_eq!(info.metadata.get("path").map(String::as_str), Some("/"));

    let _bob = client(&server, "/?token=bob-token").await;
    let id = connected(&mut inbox.events).await;
    assert_eq!(
        server
            .session(id)
            .unwrap()
            .identity
            .as_ref()
            .unwrap()
            .name(),
        "bob"
    );

    assert_eq!(
        refused_status(format!("{}?token=guess", server.url())).await,
        401
    );
    assert_eq!(refused_status(server.url()).await, 401);
    let metrics = server.metrics();
    assert_eq!(metrics.rejected(RejectReason::Unauthorized), 2);
    assert_eq!((metrics.accepted, metrics.active), (2, 2));
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn a_secp256k1_signed_challenge_authenticates_as_the_keys_address_once() {
    let (server, mut inbox) = Server::builder()
        .with_authenticator(Secp256k1Auth::new("chat"))
        .start()
        .await
        .unwrap();
    let key = KeyPair::generate().unwrap();
    let signed = SignedChallenge::new(&key, "chat").unwrap();
    let config = WsConfig::new(server.url()).with_headers(signed.headers());
    let mut connection = within(client_ws::connect(&config)).await.unwrap();
    let id = connected(&mut inbox.events).await;
    let identity = server.session(id).unwrap().identity.clone().unwrap();
    assert_eq!(identity.name(), key.address());
    assert_eq!(
        identity.attribute("pubkey"),
        Some(key.public_key_hex().as_str())
    );
    server.send_to(id, "welcome").unwrap();
    let welcome = within(connection.stream.next()).await.unwrap().unwrap();
    assert_eq!(welcome, Message::text("welcome"));

    // The same upgrade again is a replay.
    let replay = within(client_ws::connect(&config)).await.unwrap_err();
    assert_eq!(replay.kind(), core_pre::ConnectErrorKind::HttpStatus(401));
    // A challenge for another realm, or signed by another key, is refused too.
    let elsewhere = SignedChallenge::new(&key, "bank").unwrap();
    let mut forged = SignedChallenge::new(&key, "chat").unwrap();
    forged.pubkey = KeyPair::generate().unwrap().public_key_hex();
    for bad in [elsewhere, forged] {
        let config = WsConfig::new(server.url()).with_headers(bad.headers());
        let error = within(client_ws::connect(&config)).await.unwrap_err();
        assert_eq!(error.kind(), core_pre::ConnectErrorKind::HttpStatus(401));
    }
    // Browsers send the proof in the query.
    let fresh = SignedChallenge::new(&key, "chat").unwrap();
    let _browser = client(&server, &format!("/?{}", fresh.query())).await;
    let id = connected(&mut inbox.events).await;
    assert_eq!(
        server
            .session(id)
            .unwrap()
            .identity
            .as_ref()
            .unwrap()
            .name(),
        key.address()
    );
    assert_eq!(server.metrics().rejected(RejectReason::Unauthorized), 3);
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn a_core_pre_client_with_a_signed_connector_authenticates_again_on_every_reconnect() {
    let (server, mut inbox) = Server::builder()
        .with_authenticator(Secp256k1Auth::new("chat"))
        .start()
        .await
        .unwrap();
    let key = KeyPair::generate().unwrap();
    let address = key.address();
    let connector = SignedConnector::new(WsConfig::new(server.url()), key, "chat");
    let client = ClientBuilder::new(connector)
        .with_reconnect_policy(
            core_pre::ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(20))
                .with_jitter(0.0),
        )
        .spawn();
    let first = connected(&mut inbox.events).await;
    // The server drops the session; the client reconnects with a fresh signed challenge.
    server.close_session(first, 4001, "go away").unwrap();
    let second = connected(&mut inbox.events).await;
    assert_ne!(first, second);
    assert_eq!(
        server
            .session(second)
            .unwrap()
            .identity
            .as_ref()
            .unwrap()
            .name(),
        address
    );
    client.wait_connected(WAIT).await.unwrap();
    client.send("signed in again").await.unwrap();
    let (from, msg) = within(inbox.messages.recv()).await.unwrap();
    assert_eq!((from, msg.as_text()), (second, Some("signed in again")));
    assert_eq!(server.metrics().rejected_total(), 0);
    within(client.shutdown()).await.unwrap();
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn a_second_session_of_an_identity_replaces_the_first_when_configured() {
    let auth = TokenAuth::new().with_token("alice-token", Identity::new("alice"));
    let (server, mut inbox) = Server::builder()
        .with_authenticator(auth)
        .with_duplicate_identity(DuplicateIdentity::ReplaceOld)
        .start()
        .await
        .unwrap();
    let mut old = client(&server, "/?token=alice-token").await;
    let old_id = connected(&mut inbox.events).await;
    let mut new = client(&server, "/?token=alice-token").await;
    let new_id = connected(&mut inbox.events).await;

    assert_eq!(close_code(&mut old).await, Some(REPLACED_CLOSE_CODE));
    let ended = disconnected(&mut inbox.events).await;
    assert_eq!(
        (ended.info.id, ended.reason),
        (old_id, DisconnectReason::Replaced)
    );
    server.send_to(new_id, "you are the one").unwrap();
    assert_eq!(
        next_data(&mut new).await,
        WsMessage::text("you are the one")
    );
    assert_eq!(server.metrics().active, 1);
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn a_second_session_of_an_identity_is_refused_with_409_when_the_first_wins() {
    let auth = TokenAuth::new().with_token("alice-token", Identity::new("alice"));
    let (server, mut inbox) = Server::builder()
        .with_authenticator(auth)
        .with_duplicate_identity(DuplicateIdentity::RejectNew)
        .start()
        .await
        .unwrap();
    let _first = client(&server, "/?token=alice-token").await;
    connected(&mut inbox.events).await;
    assert_eq!(
        refused_status(format!("{}?token=alice-token", server.url())).await,
        409
    );
    assert_eq!(
        server.metrics().rejected(RejectReason::DuplicateIdentity),
        1
    );
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn origins_outside_the_allow_list_get_403_and_native_clients_without_one_pass() {
    let (server, _inbox) = Server::builder()
        .with_allowed_origins(["https://app.example"])
        .start()
        .await
        .unwrap();
    let with_origin = |origin: &str| {
        let mut request = server.url().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        request
    };
    assert_eq!(
        refused_status(with_origin("https://evil.example")).await,
        403
    );
    within(tokio_tungstenite::connect_async(with_origin(
        "https://app.example",
    )))
    .await
    .unwrap();
    let _native = client(&server, "/").await;
    assert_eq!(server.metrics().rejected(RejectReason::Origin), 1);
    server.shutdown(SHUTDOWN).await.unwrap();
}
