//! The server's life over real loopback sockets: graceful shutdown, core-pre clients
//! reconnecting across a restart, TLS.

mod support;

use std::time::Duration;

use client_ws::{WsConfig, WsConnector};
use core_pre::{ClientBuilder, Message};
use futures::{SinkExt, StreamExt};
use server::{DisconnectReason, Phase, Server, ServerError, ServerEvent};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use support::*;

#[tokio::test]
async fn graceful_shutdown_closes_every_session_with_1001_and_leaves_no_task() {
    let (server, mut inbox) = Server::builder().start().await.unwrap();
    let mut readers = Vec::new();
    for _ in 0..5 {
        let mut peer = client(&server, "/").await;
        readers.push(tokio::spawn(async move { close_code(&mut peer).await }));
    }
    eventually(|| server.metrics().active == 5).await;
    // Queued messages are written before the close frame.
    server.broadcast("last words").unwrap();
    let status = server.status();

    let report = within(server.shutdown(WAIT)).await.unwrap();
    assert_eq!(report.sessions, 5);
    assert_eq!(report.closed_cleanly, 5);
    assert_eq!((report.closed_uncleanly, report.aborted), (0, 0));
    for reader in readers {
        assert_eq!(within(reader).await.unwrap(), Some(1001));
    }
    let metrics = server.metrics();
    assert_eq!((metrics.active, metrics.tasks), (0, 0));
    assert_eq!(metrics.messages_out, 5);
    assert_eq!(status.borrow().phase, Phase::Stopped);

    // Every session's end was reported, then the streams end.
    let mut ends = 0;
    while let Some(event) = within(inbox.events.recv()).await {
        if let ServerEvent::Disconnected(ended) = event {
            assert_eq!(
                (ended.reason, ended.code, ended.clean),
                (DisconnectReason::Shutdown, Some(1001), true)
            );
            ends += 1;
        }
    }
    assert_eq!(ends, 5);
    assert!(within(inbox.messages.recv()).await.is_none());
    // The port is closed and the handle says so.
    assert!(
        tokio::net::TcpStream::connect(server.local_addr())
            .await
            .is_err()
    );
    assert!(matches!(
        server.shutdown(WAIT).await,
        Err(ServerError::ShuttingDown)
    ));
}

#[tokio::test]
async fn a_peer_that_never_answers_the_close_is_given_up_at_the_deadline() {
    let (server, _inbox) = Server::builder().start().await.unwrap();
    let mut polite = client(&server, "/").await;
    let polite_reader = tokio::spawn(async move { close_code(&mut polite).await });
    let _deaf = client(&server, "/").await;
    eventually(|| server.metrics().active == 2).await;

    let started = std::time::Instant::now();
    let report = within(server.shutdown(Duration::from_millis(400)))
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(report.sessions, 2);
    assert_eq!(report.closed_cleanly, 1);
    assert_eq!(report.closed_uncleanly + report.aborted, 1);
    assert!(
        elapsed < Duration::from_secs(2),
        "the deadline holds: {elapsed:?}"
    );
    assert_eq!(within(polite_reader).await.unwrap(), Some(1001));
    assert_eq!(server.metrics().tasks, 0);
}

#[tokio::test]
async fn a_core_pre_client_reconnects_after_the_server_restarts() {
    let (first, mut first_inbox) = Server::builder().start().await.unwrap();
    let address = first.local_addr();
    let (seen_tx, mut seen_rx) = mpsc::channel::<String>(16);
    let client = ClientBuilder::new(WsConnector::new(WsConfig::new(first.url())))
        .with_reconnect_policy(
            core_pre::ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(20))
                .with_max_delay(Duration::from_millis(100))
                .with_jitter(0.0),
        )
        .with_inline_handler(move |msg: &Message, _ctx: &core_pre::HandlerContext<()>| {
            if let Some(text) = msg.as_text() {
                let _ = seen_tx.try_send(text.to_string());
            }
        })
        .spawn();
    client.wait_connected(WAIT).await.unwrap();
    client.send("before").await.unwrap();
    let (id, msg) = within(first_inbox.messages.recv()).await.unwrap();
    assert_eq!(msg.as_text(), Some("before"));
    first.send_to(id, "from the first").unwrap();
    assert_eq!(within(seen_rx.recv()).await.unwrap(), "from the first");

    let report = within(first.shutdown(WAIT)).await.unwrap();
    assert_eq!(report.closed_cleanly, 1);

    // A new server on the same address; the client finds it by itself.
    let (second, mut second_inbox) = Server::builder()
        .with_address(address.to_string())
        .start()
        .await
        .unwrap();
    let id = connected(&mut second_inbox.events).await;
    second.send_to(id, "from the second").unwrap();
    assert_eq!(within(seen_rx.recv()).await.unwrap(), "from the second");
    client.wait_connected(WAIT).await.unwrap();
    client.send("after").await.unwrap();
    let (from, msg) = within(second_inbox.messages.recv()).await.unwrap();
    assert_eq!((from, msg.as_text()), (id, Some("after")));

    within(client.shutdown()).await.unwrap();
    second.shutdown(WAIT).await.unwrap();
}

#[tokio::test]
async fn tls_with_an_rcgen_certificate_serves_wss_and_refuses_plain_ws() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = certified.cert.pem();
    let (server, mut inbox) = Server::builder()
        .with_tls_pem(cert_pem.clone(), certified.signing_key.serialize_pem())
        .start()
        .await
        .unwrap();
    assert!(server.url().starts_with("wss://"));
    let url = format!("wss://localhost:{}/", server.local_addr().port());
    let config = WsConfig::new(url)
        .with_root_certificate_pem(cert_pem)
        .with_webpki_roots(false);
    let mut connection = within(client_ws::connect(&config)).await.unwrap();
    connection
        .sink
        .send(Message::text("over tls"))
        .await
        .unwrap();
    let (id, msg) = within(inbox.messages.recv()).await.unwrap();
    assert_eq!(msg.as_text(), Some("over tls"));
    server.send_to(id, "back over tls").unwrap();
    let back = within(connection.stream.next()).await.unwrap().unwrap();
    assert_eq!(back, Message::text("back over tls"));

    // A plain ws:// client cannot talk to it.
    let plain = format!("ws://{}/", server.local_addr());
    assert!(
        within(tokio_tungstenite::connect_async(plain))
            .await
            .is_err()
    );
    eventually(|| server.metrics().rejected(server::RejectReason::Tls) == 1).await;
    drop(connection);
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn sending_after_shutdown_names_the_session_as_gone() {
    let (server, mut inbox) = Server::builder().start().await.unwrap();
    let mut peer = client(&server, "/").await;
    let id = connected(&mut inbox.events).await;
    let closer = tokio::spawn(async move {
        let code = close_code(&mut peer).await;
        let _ = peer.send(WsMessage::text("late")).await;
        code
    });
    server.shutdown(WAIT).await.unwrap();
    assert_eq!(within(closer).await.unwrap(), Some(1001));
    assert!(matches!(
        server.send_to(id, "x"),
        Err(ServerError::UnknownSession(_))
    ));
    assert_eq!(server.broadcast("x").unwrap().queued, 0);
}

#[tokio::test]
async fn the_application_closes_a_session_with_its_own_code_after_the_queued_messages() {
    let (server, mut inbox) = Server::builder().start().await.unwrap();
    let mut peer = client(&server, "/").await;
    let id = connected(&mut inbox.events).await;
    assert!(matches!(
        server.close_session(id, 1006, "not sendable"),
        Err(ServerError::InvalidMessage(_))
    ));
    server.send_to(id, "goodbye").unwrap();
    server.close_session(id, 4321, "kicked").unwrap();
    assert_eq!(next_data(&mut peer).await, WsMessage::text("goodbye"));
    assert_eq!(close_code(&mut peer).await, Some(4321));
    let ended = disconnected(&mut inbox.events).await;
    assert_eq!(
        (ended.reason, ended.code, ended.clean),
        (DisconnectReason::ClosedByServer, Some(4321), true)
    );
    server.shutdown(SHUTDOWN).await.unwrap();
}
