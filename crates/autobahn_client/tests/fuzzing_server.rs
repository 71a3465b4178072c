//! The conformance client against a small fuzzing-server stand-in on a loopback socket:
//! the echo, the closing handshake, the run protocol and the errors.

use std::time::Duration;

use autobahn_client::{AutobahnError, ConnectionSettings, FuzzingServer};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// Bound on every wait in these tests.
const LIMIT: Duration = Duration::from_secs(20);

type Socket = WebSocketStream<TcpStream>;

fn settings() -> ConnectionSettings {
    ConnectionSettings {
        case_timeout: Duration::from_secs(15),
        ..ConnectionSettings::default()
    }
}

/// Accepts `connections` WebSocket connections in turn on a loopback port, reporting each
/// request path and handing each socket to `conversation`. Returns the server's
/// `ws://` base URL and the paths seen.
async fn serve<F, Fut>(connections: usize, conversation: F) -> (String, mpsc::Receiver<String>)
where
    F: Fn(String, Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (paths_tx, paths_rx) = mpsc::channel(64);
    tokio::spawn(async move {
        for _ in 0..connections {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let mut path = String::new();
            // Like the fuzzing server: no frame or message limit of its own.
            let config = WebSocketConfig::default()
                .max_frame_size(None)
                .max_message_size(None);
            // The handshake callback's error type is tungstenite's, large by design.
            #[allow(clippy::result_large_err)]
            let record_path = |req: &Request, res: Response| {
                path = req.uri().to_string();
                Ok(res)
            };
            let socket =
                tokio_tungstenite::accept_hdr_async_with_config(tcp, record_path, Some(config))
                    .await
                    .unwrap();
            let _ = paths_tx.send(path.clone()).await;
            conversation(path, socket).await;
        }
    });
    (url, paths_rx)
}

/// The next frame the client sends, within the limit.
async fn next(socket: &mut Socket) -> Option<Message> {
    tokio::time::timeout(LIMIT, socket.next())
        .await
        .expect("the client went silent")
        .and_then(Result::ok)
}

/// Closes with 1000 and reports what the client sent back before the connection ended.
async fn close_and_collect_reply(socket: &mut Socket) -> Option<CloseFrame> {
    socket
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "case over".into(),
        })))
        .await
        .unwrap();
    loop {
        match next(socket).await {
            Some(Message::Close(frame)) => return frame,
            Some(_) => continue,
            None => return None,
        }
    }
}

#[tokio::test]
async fn echoes_text_as_text_and_binary_as_binary_in_order() {
    let (report_tx, mut report_rx) = mpsc::channel(1);
    let (url, _paths) = serve(1, move |_, mut socket| {
        let report_tx = report_tx.clone();
        async move {
            let sent = vec![
                Message::text("hello"),
                Message::binary(vec![0u8, 1, 2, 255]),
                Message::text("ünïcödé ✓"),
                Message::binary(Vec::<u8>::new()),
                Message::text(""),
            ];
            for msg in &sent {
                socket.send(msg.clone()).await.unwrap();
            }
            let mut echoed = Vec::new();
            for _ in 0..sent.len() {
                echoed.push(next(&mut socket).await);
            }
            let _ = close_and_collect_reply(&mut socket).await;
            let expected: Vec<Option<Message>> = sent.into_iter().map(Some).collect();
            report_tx.send(echoed == expected).await.unwrap();
        }
    })
    .await;

    let server = FuzzingServer::new(&url, "core-pre")
        .unwrap()
        .with_settings(settings());
    let outcome = server.run_case(1).await.unwrap();
    let echoed_in_order = tokio::time::timeout(LIMIT, report_rx.recv()).await.unwrap();
    assert_eq!(echoed_in_order, Some(true));
    assert_eq!(outcome.case, 1);
    assert_eq!(outcome.connection.end, "peer_closed");
    assert_eq!(outcome.connection.stats.messages_out, 5);
}

#[tokio::test]
async fn echoes_a_message_larger_than_the_transports_default_limit() {
    // 16 MiB is client_ws's default limit; the suite's 9.x cases go up to it, so the client
    // raises it. One byte over proves the raised limit is in force, both ways.
    let size = (16 << 20) + 1;
    let (report_tx, mut report_rx) = mpsc::channel(1);
    let (url, _paths) = serve(1, move |_, mut socket| {
        let report_tx = report_tx.clone();
        async move {
            let payload = Bytes::from(vec![0xa5u8; size]);
            socket.send(Message::Binary(payload.clone())).await.unwrap();
            let same = matches!(next(&mut socket).await, Some(Message::Binary(b)) if b == payload);
            let _ = close_and_collect_reply(&mut socket).await;
            report_tx.send(same).await.unwrap();
        }
    })
    .await;

    let server = FuzzingServer::new(&url, "core-pre")
        .unwrap()
        .with_settings(settings());
    let outcome = server.run_case(1).await.unwrap();
    assert_eq!(
        tokio::time::timeout(LIMIT, report_rx.recv()).await.unwrap(),
        Some(true)
    );
    assert_eq!(outcome.connection.stats.bytes_out, size as u64);
}

/// Runs one case whose server only closes, and returns the client's close reply.
async fn close_reply() -> Option<CloseFrame> {
    let (report_tx, mut report_rx) = mpsc::channel(1);
    let (url, _paths) = serve(1, move |_, mut socket| {
        let report_tx = report_tx.clone();
        async move {
            let reply = close_and_collect_reply(&mut socket).await;
            report_tx.send(reply).await.unwrap();
        }
    })
    .await;
    let server = FuzzingServer::new(&url, "core-pre")
        .unwrap()
        .with_settings(settings());
    let outcome = server.run_case(1).await.unwrap();
    assert_eq!(outcome.connection.end, "peer_closed");
    tokio::time::timeout(LIMIT, report_rx.recv())
        .await
        .unwrap()
        .expect("the server task reported")
}

#[tokio::test]
async fn the_runner_answers_the_servers_close_with_the_same_code_before_dropping_the_connection() {
    let reply = close_reply().await;
    assert_eq!(reply.map(|frame| frame.code), Some(CloseCode::Normal));
}

#[tokio::test]
async fn a_run_asks_the_count_runs_every_case_in_order_then_updates_reports() {
    let (url, mut paths) = serve(5, |path, mut socket| async move {
        if path.starts_with("/getCaseCount") {
            socket.send(Message::text("3")).await.unwrap();
        } else if path.starts_with("/runCase") {
            socket.send(Message::text(path.clone())).await.unwrap();
            assert_eq!(next(&mut socket).await, Some(Message::text(path)));
        }
        let _ = close_and_collect_reply(&mut socket).await;
    })
    .await;

    let server = FuzzingServer::new(&url, "core-pre")
        .unwrap()
        .with_settings(settings());
    let mut progress = Vec::new();
    let summary = server
        .run_all(|outcome, total| progress.push((outcome.case, total)))
        .await
        .unwrap();

    let mut seen = Vec::new();
    while let Ok(path) = paths.try_recv() {
        seen.push(path);
    }
    assert_eq!(
        seen,
        [
            "/getCaseCount",
            "/runCase?case=1&agent=core-pre",
            "/runCase?case=2&agent=core-pre",
            "/runCase?case=3&agent=core-pre",
            "/updateReports?agent=core-pre",
        ]
    );
    assert_eq!(progress, [(1, 3), (2, 3), (3, 3)]);
    assert_eq!(summary.cases, 3);
    assert_eq!(summary.ends.get("peer_closed"), Some(&3));
    assert_eq!(summary.sent, 3);
}

#[tokio::test]
async fn a_case_count_that_is_not_a_number_stops_the_run() {
    let (url, _paths) = serve(1, |_, mut socket| async move {
        socket.send(Message::text("many")).await.unwrap();
        let _ = close_and_collect_reply(&mut socket).await;
    })
    .await;
    let server = FuzzingServer::new(&url, "core-pre")
        .unwrap()
        .with_settings(settings());
    match server.case_count().await {
        Err(AutobahnError::BadCaseCount { answer }) => assert_eq!(answer.as_deref(), Some("many")),
        other => panic!("expected BadCaseCount, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_that_is_not_listening_is_a_connect_error_naming_the_url() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    drop(listener);
    let server = FuzzingServer::new(&url, "core-pre")
        .unwrap()
        .with_settings(settings());
    match server.run_case(7).await {
        Err(error @ AutobahnError::Connect { .. }) => {
            let message = error.to_string();
            assert!(message.contains(&format!("{url}/runCase")), "{message}");
            assert!(
                !message.contains("agent="),
                "the query is not shown: {message}"
            );
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
}
