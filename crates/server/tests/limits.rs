//! Limits over real loopback sockets: the connection cap, handshake and first-message
//! timeouts, half-open peers, oversized and malformed frames.

mod support;

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use server::{DisconnectReason, RejectReason, Server, ServerError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

use support::*;

#[tokio::test]
async fn the_connection_beyond_the_cap_gets_503_with_retry_after_and_succeeds_after_one_leaves() {
    let (server, mut inbox) = Server::builder()
        .with_max_connections(2)
        .with_retry_after(Duration::from_secs(3))
        .start()
        .await
        .unwrap();
    let mut first = client(&server, "/").await;
    let _second = client(&server, "/").await;
    connected(&mut inbox.events).await;
    connected(&mut inbox.events).await;

    let url = server.url();
    let refused = within(tokio_tungstenite::connect_async(&url)).await;
    let Err(WsError::Http(response)) = refused else {
        panic!("expected an HTTP refusal, got {refused:?}");
    };
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "3");
    assert_eq!(server.metrics().rejected(RejectReason::Capacity), 1);

    first.close(None).await.unwrap();
    disconnected(&mut inbox.events).await;
    let _third = within(tokio_tungstenite::connect_async(&url))
        .await
        .expect("a slot is free again");
    assert_eq!(server.metrics().active, 2);
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn a_connection_that_never_upgrades_is_dropped_after_the_handshake_timeout() {
    let (server, _inbox) = Server::builder()
        .with_handshake_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let started = Instant::now();
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut buf = [0u8; 16];
    let read = within(tcp.read(&mut buf)).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the server should hang up: {read:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(250),
        "too early: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "too late: {elapsed:?}");
    assert_eq!(server.metrics().rejected(RejectReason::HandshakeTimeout), 1);
    assert_eq!(server.metrics().tasks, 0);
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn a_session_silent_past_the_first_message_timeout_is_closed_with_1008_and_a_talker_stays() {
    let (server, mut inbox) = Server::builder()
        .with_first_message_timeout(Some(Duration::from_millis(300)))
        .start()
        .await
        .unwrap();
    let mut silent = client(&server, "/").await;
    let mut talker = client(&server, "/").await;
    talker.send(WsMessage::text("hello")).await.unwrap();

    let started = Instant::now();
    assert_eq!(close_code(&mut silent).await, Some(1008));
    assert!(started.elapsed() < Duration::from_secs(3));
    let ended = disconnected(&mut inbox.events).await;
    assert_eq!(ended.reason, DisconnectReason::FirstMessageTimeout);

    // The talker is still served after the silent one's deadline.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (id, msg) = within(inbox.messages.recv()).await.unwrap();
    assert_eq!(msg.as_text(), Some("hello"));
    server.send_to(id, "still here").unwrap();
    assert_eq!(next_data(&mut talker).await, WsMessage::text("still here"));
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn a_half_open_peer_is_detected_within_ping_interval_plus_idle_timeout() {
    let ping = Duration::from_millis(200);
    let idle = Duration::from_millis(300);
    let (server, mut inbox) = Server::builder()
        .with_ping_interval(ping)
        .with_idle_timeout(idle)
        .start()
        .await
        .unwrap();
    // A client that reads (and so answers pings) and one that has gone silent: it never
    // reads, as a peer whose network vanished.
    let mut alive = client(&server, "/").await;
    let alive_reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = alive.next().await {
            if msg.is_close() {
                return false;
            }
        }
        true
    });
    let _silent = client(&server, "/").await;
    let started = Instant::now();
    connected(&mut inbox.events).await;
    let silent_id = connected(&mut inbox.events).await;

    let ended = disconnected(&mut inbox.events).await;
    let elapsed = started.elapsed();
    assert_eq!(ended.info.id, silent_id);
    assert_eq!(ended.reason, DisconnectReason::IdleTimeout);
    assert!(
        elapsed >= ping + idle - Duration::from_millis(50),
        "too early: {elapsed:?}"
    );
    assert!(
        elapsed < ping + idle + Duration::from_secs(1),
        "too late: {elapsed:?}"
    );

    // The reader answered every ping and is still connected after several windows.
    tokio::time::sleep(3 * (ping + idle)).await;
    assert_eq!(server.metrics().active, 1);
    assert!(!alive_reader.is_finished());
    server.shutdown(SHUTDOWN).await.unwrap();
    assert!(
        !within(alive_reader).await.unwrap(),
        "closed by the shutdown"
    );
}

#[tokio::test]
async fn an_oversized_message_closes_the_session_with_1009_and_an_oversized_send_is_refused() {
    let (server, mut inbox) = Server::builder()
        .with_max_message_size(1024)
        .start()
        .await
        .unwrap();
    let mut peer = client(&server, "/").await;
    let id = connected(&mut inbox.events).await;

    // Outbound: refused, nothing sent, the session stays.
    let refused = server.send_to(id, "x".repeat(2048));
    assert!(matches!(
        refused,
        Err(ServerError::MessageTooLarge {
            size: 2048,
            max: 1024
        })
    ));
    server.send_to(id, "small").unwrap();
    assert_eq!(next_data(&mut peer).await, WsMessage::text("small"));

    // Inbound: the session is closed with 1009.
    peer.send(WsMessage::text("y".repeat(2048))).await.unwrap();
    assert_eq!(close_code(&mut peer).await, Some(1009));
    let ended = disconnected(&mut inbox.events).await;
    assert_eq!(ended.reason, DisconnectReason::MessageTooLarge);
    assert_eq!(ended.code, Some(1009));
    server.shutdown(SHUTDOWN).await.unwrap();
}

/// Upgrades a raw TCP socket by hand, so the test can write frames no library would.
async fn raw_upgrade(server: &Server) -> TcpStream {
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.local_addr()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        within(tcp.read_exact(&mut byte)).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// Reads one unmasked server frame; returns (opcode, payload).
async fn raw_frame(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    within(tcp.read_exact(&mut head)).await.unwrap();
    let len = (head[1] & 0x7f) as usize;
    assert!(len < 126, "small frames only");
    let mut payload = vec![0u8; len];
    within(tcp.read_exact(&mut payload)).await.unwrap();
    (head[0] & 0x0f, payload)
}

/// A masked client frame (mask 0: the payload goes out as it is).
fn masked_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![first_byte, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

#[tokio::test]
async fn malformed_frames_close_the_session_with_1002_or_1007_and_others_are_unaffected() {
    let (server, mut inbox) = Server::builder().start().await.unwrap();
    let mut bystander = client(&server, "/").await;
    let bystander_id = connected(&mut inbox.events).await;

    // An unmasked client frame breaks RFC 6455 §5.1: protocol error.
    let mut unmasked = raw_upgrade(&server).await;
    connected(&mut inbox.events).await;
    unmasked.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    let (opcode, payload) = raw_frame(&mut unmasked).await;
    assert_eq!(opcode, 0x8, "a close frame");
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1002);
    assert_eq!(
        disconnected(&mut inbox.events).await.reason,
        DisconnectReason::ProtocolError
    );

    // A text frame that is not UTF-8: invalid payload.
    let mut not_utf8 = raw_upgrade(&server).await;
    connected(&mut inbox.events).await;
    not_utf8
        .write_all(&masked_frame(0x81, &[0xff, 0xfe]))
        .await
        .unwrap();
    let (opcode, payload) = raw_frame(&mut not_utf8).await;
    assert_eq!(opcode, 0x8);
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1007);

    // A well-formed masked frame from a raw client is delivered.
    let mut fine = raw_upgrade(&server).await;
    connected(&mut inbox.events).await;
    fine.write_all(&masked_frame(0x81, b"ok")).await.unwrap();
    let (_, msg) = within(inbox.messages.recv()).await.unwrap();
    assert_eq!(msg.as_text(), Some("ok"));

    server.send_to(bystander_id, "unaffected").unwrap();
    assert_eq!(
        next_data(&mut bystander).await,
        WsMessage::text("unaffected")
    );
    server.shutdown(SHUTDOWN).await.unwrap();
}

#[tokio::test]
async fn bad_settings_fail_at_start_with_a_sentence_naming_them() {
    let error = Server::builder()
        .with_queue_capacity(0)
        .start()
        .await
        .unwrap_err();
    assert!(matches!(error, ServerError::InvalidConfig(_)));
    assert!(error.to_string().contains("queue_capacity"), "{error}");
    let error = Server::builder()
        .with_allowed_origins(Vec::<String>::new())
        .start()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("origin"), "{error}");
    let error = Server::builder()
        .with_tls_pem("nope", "nope")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(error, ServerError::Tls(_)), "{error}");
    let taken = Server::builder().start().await.unwrap().0;
    let error = Server::builder()
        .with_address(taken.local_addr().to_string())
        .start()
        .await
        .unwrap_err();
    assert!(matches!(error, ServerError::Bind { .. }), "{error}");
}
