//! The native transport over real loopback sockets: frames, headers, limits, errors, TLS,
//! and a core-pre client running on `WsConnector`.

#![cfg(not(target_arch = "wasm32"))]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

use client_ws::{WsConfig, WsConnector, connect};
use core_pre::{
    ClientBuilder, CloseFrame, ConnectErrorKind, Connection, Message, TransportErrorKind,
};

/// Every wait in these tests is bounded by this.
const WAIT: Duration = Duration::from_secs(5);

async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.expect("timed out")
}

/// A WebSocket server on 127.0.0.1 that echoes every data frame and hands each accepted
/// connection's request headers to the test.
async fn echo_server() -> (String, mpsc::Receiver<Vec<(String, String)>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (headers_tx, headers_rx) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let headers_tx = headers_tx.clone();
            tokio::spawn(async move {
                let seen = Arc::new(Mutex::new(Vec::new()));
                let record = seen.clone();
                // The handshake callback's error type is tungstenite's, large by design.
                #[allow(clippy::result_large_err)]
                let callback = move |req: &Request, resp: Response| {
                    let mut out = record.lock().unwrap();
                    for (name, value) in req.headers() {
                        out.push((name.to_string(), value.to_str().unwrap_or("").to_string()));
                    }
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
                    return;
                };
                let headers = seen.lock().unwrap().clone();
                let _ = headers_tx.send(headers).await;
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_close() {
                        let _ = ws.close(None).await;
                        return;
                    }
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, headers_rx)
}

async fn next(connection: &mut Connection) -> Message {
    within(connection.stream.next())
        .await
        .expect("stream ended")
        .expect("transport error")
}

#[tokio::test]
async fn text_and_binary_frames_round_trip_through_an_echo_server() {
    let (url, _headers) = echo_server().await;
    let mut connection = within(connect(&WsConfig::new(url))).await.unwrap();

    within(connection.sink.send(Message::text("hello")))
        .await
        .unwrap();
    assert_eq!(next(&mut connection).await, Message::text("hello"));

    let payload = Bytes::from(vec![7u8; 70_000]);
    within(connection.sink.send(Message::Binary(payload.clone())))
        .await
        .unwrap();
    assert_eq!(next(&mut connection).await, Message::Binary(payload));
}

#[tokio::test]
async fn configured_headers_reach_the_server_in_the_handshake() {
    let (url, mut headers) = echo_server().await;
    let config = WsConfig::new(url)
        .with_origin("https://app.example")
        .with_user_agent("client_ws-test/1.0")
        .with_bearer_token("sekrit-token")
        .with_header("X-Extra", "one")
        .with_header("X-Extra", "two");
    let _connection = within(connect(&config)).await.unwrap();
    let seen = within(headers.recv()).await.unwrap();
    let get = |name: &str| -> Vec<&str> {
        seen.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(get("origin"), ["https://app.example"]);
    assert_eq!(get("user-agent"), ["client_ws-test/1.0"]);
    assert_eq!(get("authorization"), ["Bearer sekrit-token"]);
    assert_eq!(get("x-extra"), ["one", "two"]);
    assert!(!format!("{config:?}").contains("sekrit-token"));
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = within(connect(&WsConfig::new(format!("ws://{addr}"))))
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert_eq!(error.kind(), ConnectErrorKind::Refused, "{error}");
    assert!(
        error
            .message()
            .starts_with(&format!("could not reach {addr}: ")),
        "{error}"
    );
}

#[tokio::test]
async fn a_name_under_the_reserved_invalid_domain_fails_as_unresolved_without_a_lookup() {
    let started = std::time::Instant::now();
    let error = within(connect(&WsConfig::new(
        "wss://platform.example.invalid/socket.io/?EIO=4",
    )))
    .await
    .unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert_eq!(error.kind(), ConnectErrorKind::Unresolved, "{error}");
    assert_eq!(
        error.message().as_ref(),
        "could not resolve the host name platform.example.invalid: names under .invalid never exist (RFC 6761)"
    );
    // No resolver was asked: a lookup could take seconds.
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn a_server_that_never_answers_the_handshake_times_out_as_retryable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    // Accept the TCP connection and then say nothing.
    let hold = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        tokio::time::sleep(WAIT).await;
        drop(socket);
    });
    let config = WsConfig::new(url).with_connect_timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let error = within(connect(&config)).await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(error.message().contains("timed out"), "{error}");
    assert_eq!(error.kind(), ConnectErrorKind::TimedOut, "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));
    hold.abort();
}

#[tokio::test]
async fn malformed_urls_and_headers_are_fatal() {
    for url in ["not a url", "http://127.0.0.1:1/", "ws://"] {
        let error = within(connect(&WsConfig::new(url))).await.unwrap_err();
        assert!(!error.is_retryable(), "{url}: {error}");
        assert_eq!(error.kind(), ConnectErrorKind::Config, "{url}: {error}");
    }
    let bad_header = WsConfig::new("ws://127.0.0.1:1").with_header("Bad Name", "x");
    let error = within(connect(&bad_header)).await.unwrap_err();
    assert!(!error.is_retryable(), "{error}");
}

/// A server that answers every connection with a fixed HTTP status.
async fn http_status_server(status: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let reply =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(reply.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    url
}

#[tokio::test]
async fn http_refusals_are_fatal_except_overload_and_server_errors() {
    let not_found = within(connect(&WsConfig::new(
        http_status_server("404 Not Found").await,
    )))
    .await;
    let error = not_found.unwrap_err();
    assert!(
        !error.is_retryable() && error.message().contains("404"),
        "{error}"
    );
    assert_eq!(error.kind(), ConnectErrorKind::HttpStatus(404));

    let unavailable = within(connect(&WsConfig::new(
        http_status_server("503 Service Unavailable").await,
    )))
    .await;
    let error = unavailable.unwrap_err();
    assert!(
        error.is_retryable() && error.message().contains("503"),
        "{error}"
    );
    assert_eq!(error.kind(), ConnectErrorKind::HttpStatus(503));
}

#[tokio::test]
async fn an_inbound_message_over_the_limit_ends_the_stream_with_too_large() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        ws.send(WsMessage::text("small")).await.unwrap();
        ws.send(WsMessage::binary(vec![0u8; 4096])).await.unwrap();
        // Keep the socket open: the client must fail on the size, not on a close.
        tokio::time::sleep(WAIT).await;
    });
    let mut connection = within(connect(&WsConfig::new(url).with_max_message_size(1024)))
        .await
        .unwrap();
    assert_eq!(next(&mut connection).await, Message::text("small"));
    let error = within(connection.stream.next()).await.unwrap().unwrap_err();
    assert_eq!(error.kind, TransportErrorKind::TooLarge, "{error}");
    assert!(error.message.contains("4096"), "{error}");
}

#[tokio::test]
async fn an_outbound_message_over_the_limit_fails_with_too_large() {
    let (url, _headers) = echo_server().await;
    let mut connection = within(connect(&WsConfig::new(url).with_max_message_size(100)))
        .await
        .unwrap();
    let error = within(connection.sink.send(Message::text("x".repeat(101))))
        .await
        .unwrap_err();
    assert_eq!(error.kind, TransportErrorKind::TooLarge, "{error}");
}

#[tokio::test]
async fn close_frames_carry_their_code_and_reason_both_ways() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (seen_tx, mut seen_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        while let Some(Ok(msg)) = ws.next().await {
            if let WsMessage::Close(Some(frame)) = msg {
                let _ = seen_tx
                    .send((u16::from(frame.code), frame.reason.to_string()))
                    .await;
            }
        }
    });
    let mut connection = within(connect(&WsConfig::new(url))).await.unwrap();
    let close = Message::Close(Some(CloseFrame {
        code: 4001,
        reason: "bye now".into(),
    }));
    within(connection.sink.send(close)).await.unwrap();
    assert_eq!(
        within(seen_rx.recv()).await.unwrap(),
        (4001, "bye now".to_string())
    );
    // The server echoes the close (tungstenite does): the client sees it, then the end.
    match next(&mut connection).await {
        Message::Close(Some(frame)) => assert_eq!(frame.code, 4001),
        other => panic!("expected the close echo, got {other:?}"),
    }
    assert!(within(connection.stream.next()).await.is_none());
}

#[tokio::test]
async fn a_core_pre_client_runs_over_ws_connector_and_reconnects_after_a_drop() {
    // A server that tells each connection its sequence number, then echoes; the first
    // connection is dropped by the server after its greeting.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((tcp, _)) = listener.accept().await {
            n += 1;
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            ws.send(WsMessage::text(format!("hello {n}")))
                .await
                .unwrap();
            if n == 1 {
                drop(ws);
                continue;
            }
            tokio::spawn(async move {
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            });
        }
    });

    let (seen_tx, mut seen_rx) = mpsc::channel::<String>(16);
    let (client, runner) = ClientBuilder::new(WsConnector::new(WsConfig::new(url)))
        .with_reconnect_policy(
            core_pre::ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(20))
                .with_jitter(0.0),
        )
        .with_inline_handler(move |msg: &Message, _ctx: &core_pre::HandlerContext<()>| {
            if let Some(text) = msg.as_text() {
                let _ = seen_tx.try_send(text.to_string());
            }
        })
        .build();
    let runner = runner.spawn();

    assert_eq!(within(seen_rx.recv()).await.unwrap(), "hello 1");
    assert_eq!(within(seen_rx.recv()).await.unwrap(), "hello 2");
    client.wait_connected(WAIT).await.unwrap();
    client.send("after reconnect").await.unwrap();
    assert_eq!(within(seen_rx.recv()).await.unwrap(), "after reconnect");

    within(client.shutdown()).await.unwrap();
    within(runner).await.unwrap();
}

mod tls {
    use super::*;
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio_rustls::TlsAcceptor;

    /// A `wss://` echo server with a fresh self-signed certificate for `localhost`;
    /// returns its URL and the certificate (PEM and DER).
    async fn tls_echo_server() -> (String, String, Vec<u8>) {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert_der = certified.cert.der().to_vec();
        let cert_pem = certified.cert.pem();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert_der.clone().into()], key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                        return;
                    };
                    while let Some(Ok(msg)) = ws.next().await {
                        if msg.is_text() && ws.send(msg).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (format!("wss://localhost:{port}/"), cert_pem, cert_der)
    }

    #[tokio::test]
    async fn wss_to_a_private_ca_works_once_its_root_is_trusted() {
        let (url, pem, der) = tls_echo_server().await;

        let with_pem = WsConfig::new(url.clone())
            .with_root_certificate_pem(pem)
            .with_webpki_roots(false);
        let mut connection = within(connect(&with_pem)).await.unwrap();
        within(connection.sink.send(Message::text("secure")))
            .await
            .unwrap();
        assert_eq!(next(&mut connection).await, Message::text("secure"));

        let with_der = WsConfig::new(url).with_root_certificate_der(der);
        let mut connection = within(connect(&with_der)).await.unwrap();
        within(connection.sink.send(Message::text("der")))
            .await
            .unwrap();
        assert_eq!(next(&mut connection).await, Message::text("der"));
    }

    #[tokio::test]
    async fn an_untrusted_certificate_is_a_fatal_error_that_names_the_fix() {
        let (url, _pem, _der) = tls_echo_server().await;
        let error = within(connect(&WsConfig::new(url))).await.unwrap_err();
        assert!(!error.is_retryable(), "{error}");
        assert!(error.message().contains("with_root_certificate"), "{error}");
        assert_eq!(error.kind(), ConnectErrorKind::Tls, "{error}");
    }

    #[tokio::test]
    async fn a_pem_without_certificates_is_a_fatal_configuration_error() {
        let config =
            WsConfig::new("wss://localhost:1/").with_root_certificate_pem("not pem at all");
        let error = within(connect(&config)).await.unwrap_err();
        assert!(
            !error.is_retryable() && error.message().contains("CERTIFICATE"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn an_oversized_send_through_a_core_pre_client_is_dropped_alone_and_the_link_survives() {
    let (url, _headers) = echo_server().await;
    let (echoes_tx, mut echoes) = mpsc::channel::<String>(16);
    let (client, runner) = ClientBuilder::new(WsConnector::new(
        WsConfig::new(url).with_max_message_size(1024),
    ))
    .with_inline_handler(move |msg: &Message, _ctx: &core_pre::HandlerContext<()>| {
        if let Some(text) = msg.as_text() {
            let _ = echoes_tx.try_send(text.to_string());
        }
    })
    .build();
    let runner = runner.spawn();
    within(client.wait_connected(WAIT)).await.unwrap();
    client.send("x".repeat(4096)).await.unwrap();
    client.send("small").await.unwrap();
    assert_eq!(
        within(echoes.recv()).await.unwrap(),
        "small",
        "only the small one arrives"
    );
    assert_eq!(
        client.discarded_outbound(),
        1,
        "the oversized one is counted"
    );
    assert!(client.is_connected());
    client.shutdown().await.unwrap();
    within(runner).await.unwrap();
}
