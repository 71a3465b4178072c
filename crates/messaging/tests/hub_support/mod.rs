//! A raw WebSocket peer for the hub tests: tokio-tungstenite speaking the `json` envelope
//! through `messaging::json`, every wait bounded.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use messaging::ErrorCode;
use messaging::json::{ClientFrame, HubFrame};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// How long a test waits for anything it expects.
pub const WAIT: Duration = Duration::from_secs(5);

/// How long a test watches for something that must not arrive.
pub const QUIET: Duration = Duration::from_millis(300);

/// One raw client of the hub.
pub struct Peer {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The session id from `hello`.
    pub session: String,
    /// `max_payload` from `hello`.
    pub max_payload: usize,
}

/// What ended a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// A close frame with this code.
    Closed(Option<u16>),
    /// The socket ended without a close frame.
    Dropped,
}

impl Peer {
    /// Connects and reads `hello`, which must be the first frame.
    pub async fn connect(url: &str) -> Peer {
        let (ws, _) = tokio::time::timeout(WAIT, connect_async(url))
            .await
            .expect("connect in time")
            .expect("upgrade");
        let mut peer = Peer {
            ws,
            session: String::new(),
            max_payload: 0,
        };
        match peer.next().await {
            HubFrame::Hello {
                session,
                max_payload,
            } => {
                peer.session = session;
                peer.max_payload = max_payload;
            }
            other => panic!("the first frame is not hello: {other:?}"),
        }
        peer
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: impl Into<String>) {
        tokio::time::timeout(WAIT, self.ws.send(WsMessage::text(text.into())))
            .await
            .expect("send in time")
            .expect("send");
    }

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, bytes: &[u8]) {
        tokio::time::timeout(WAIT, self.ws.send(WsMessage::binary(bytes.to_vec())))
            .await
            .expect("send in time")
            .expect("send");
    }

    /// Sends a frame.
    pub async fn send(&mut self, frame: ClientFrame) {
        self.send_text(frame.encode()).await;
    }

    /// Subscribes (without waiting for the hub; see [`sync`](Self::sync)).
    pub async fn sub(&mut self, sid: &str, pattern: &str, queue: Option<&str>) {
        self.send(ClientFrame::Sub {
            sid: sid.into(),
            subject: pattern.into(),
            queue: queue.map(Into::into),
        })
        .await;
    }

    /// Subscribes and waits until the hub has filed it.
    pub async fn sub_synced(&mut self, sid: &str, pattern: &str, queue: Option<&str>) {
        self.sub(sid, pattern, queue).await;
        let before = self.sync().await;
        assert!(before.is_empty(), "unexpected frames: {before:?}");
    }

    /// Publishes.
    pub async fn publish(&mut self, subject: &str, body: &[u8], reply_to: Option<&str>) {
        self.send(ClientFrame::Publish {
            subject: subject.into(),
            body: Bytes::copy_from_slice(body),
            reply_to: reply_to.map(Into::into),
        })
        .await;
    }

    /// `ping`, then every frame up to the `pong`: the hub has handled everything sent
    /// before.
    pub async fn sync(&mut self) -> Vec<HubFrame> {
        self.send(ClientFrame::Ping).await;
        let mut before = Vec::new();
        loop {
            match self.next().await {
                HubFrame::Pong => return before,
                other => before.push(other),
            }
        }
    }

    /// The next frame; panics after [`WAIT`].
    pub async fn next(&mut self) -> HubFrame {
        match self.next_within(WAIT).await {
            Some(frame) => frame,
            None => panic!("no frame within {WAIT:?}"),
        }
    }

    /// The next frame, or `None` when none comes within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<HubFrame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match message {
                Some(Ok(WsMessage::Text(text))) => {
                    return Some(HubFrame::decode(&text).expect("the hub sends valid frames"));
                }
                Some(Ok(WsMessage::Close(frame))) => {
                    panic!("closed by the hub: {frame:?}")
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("socket error: {e}"),
                None => panic!("the socket ended"),
            }
        }
    }

    /// The next `msg`: `(sid, subject, body, reply_to)`.
    pub async fn next_msg(&mut self) -> (String, String, Bytes, Option<String>) {
        match self.next().await {
            HubFrame::Msg {
                sid,
                subject,
                body,
                reply_to,
            } => (sid, subject, body, reply_to),
            other => panic!("expected a msg, got {other:?}"),
        }
    }

    /// The next frame must be an `err` with `code`; returns its message and subject.
    pub async fn expect_err(&mut self, code: ErrorCode) -> (String, Option<String>) {
        match self.next().await {
            HubFrame::Err {
                code: got,
                message,
                subject,
            } => {
                assert_eq!(got, code, "err {message:?}");
                (message, subject)
            }
            other => panic!("expected err {code:?}, got {other:?}"),
        }
    }

    /// Nothing arrives for [`QUIET`] (a ping round trip first makes sure the hub is done).
    pub async fn expect_nothing(&mut self) {
        let before = self.sync().await;
        assert!(before.is_empty(), "unexpected frames: {before:?}");
        assert_eq!(self.next_within(QUIET).await, None);
    }

    /// Reads until the connection ends; returns how (frames before it are skipped).
    pub async fn ending(&mut self, wait: Duration) -> Ending {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => panic!("the connection did not end within {wait:?}"),
                Ok(Some(Ok(WsMessage::Close(frame)))) => {
                    return Ending::Closed(frame.map(|f| u16::from(f.code)));
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) => return Ending::Dropped,
            }
        }
    }

    /// Closes politely.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(WAIT, self.ws.close(None)).await;
        // Read until the server's reply so the session has ended at the hub.
        let _ = tokio::time::timeout(WAIT, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}

/// Waits until `check` holds (polled every 10 ms), or panics after [`WAIT`] with `what`.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {WAIT:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
