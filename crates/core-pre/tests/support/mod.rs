//! Test support: a real loopback WebSocket server (tokio-tungstenite), a minimal connector
//! for it, and small modules that record what they see.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use core_pre::{
    AppState, BoxError, BoxFuture, Commander, Commands, ConnectContext, ConnectError, Connection,
    Connector, Inbox, Message, Module, ModuleContext, Rule, TransportError, TransportErrorKind,
};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc};
use tokio_tungstenite::tungstenite::{self, protocol::CloseFrame as TCloseFrame};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Every wait in these tests is bounded by this.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

pub(crate) async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A loopback WebSocket server that hands every accepted connection to the test.
pub(crate) struct WsServer {
    pub addr: std::net::SocketAddr,
    peers: Mutex<mpsc::UnboundedReceiver<WsPeer>>,
    refuse: Arc<AtomicBool>,
    pub attempts: Arc<AtomicUsize>,
}

impl WsServer {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let refuse = Arc::new(AtomicBool::new(false));
        let attempts = Arc::new(AtomicUsize::new(0));
        let (refuse2, attempts2) = (refuse.clone(), attempts.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                attempts2.fetch_add(1, Ordering::SeqCst);
                if refuse2.load(Ordering::SeqCst) {
                    drop(tcp);
                    continue;
                }
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                        let _ = tx.send(WsPeer { ws });
                    }
                });
            }
        });
        WsServer {
            addr,
            peers: Mutex::new(rx),
            refuse,
            attempts,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub(crate) fn connector(&self) -> WsTestConnector {
        WsTestConnector { url: self.url() }
    }

    /// Closes each new TCP connection at once while `refuse` is true.
    pub(crate) fn set_refusing(&self, refuse: bool) {
        self.refuse.store(refuse, Ordering::SeqCst);
    }

    pub(crate) async fn accept(&self) -> WsPeer {
        within("a client connection", async {
            self.peers
                .lock()
                .await
                .recv()
                .await
                .expect("server task ended")
        })
        .await
    }

    /// Accepts with a short deadline; None when no client connected.
    pub(crate) async fn try_accept(&self, deadline: Duration) -> Option<WsPeer> {
        tokio::time::timeout(deadline, async { self.peers.lock().await.recv().await })
            .await
            .ok()
            .flatten()
    }
}

/// The server side of one WebSocket connection.
pub(crate) struct WsPeer {
    pub ws: WebSocketStream<TcpStream>,
}

impl WsPeer {
    pub(crate) async fn send_text(&mut self, text: &str) {
        self.ws
            .send(tungstenite::Message::text(text))
            .await
            .expect("server send");
    }

    /// The next text frame from the client (pings/pongs skipped).
    pub(crate) async fn recv_text(&mut self) -> String {
        within("a text frame from the client", async {
            loop {
                match self.ws.next().await {
                    Some(Ok(tungstenite::Message::Text(t))) => return t.to_string(),
                    Some(Ok(_)) => continue,
                    other => panic!("connection ended while waiting for text: {other:?}"),
                }
            }
        })
        .await
    }

    /// Reads until the client closes; returns the close code it sent, if any.
    pub(crate) async fn recv_close(&mut self) -> Option<u16> {
        within("the client's close frame", async {
            while let Some(msg) = self.ws.next().await {
                match msg {
                    Ok(tungstenite::Message::Close(frame)) => return frame.map(|f| f.code.into()),
                    Ok(_) => continue,
                    Err(_) => return None,
                }
            }
            None
        })
        .await
    }

    pub(crate) async fn close(mut self, code: u16) {
        let _ = self
            .ws
            .close(Some(TCloseFrame {
                code: code.into(),
                reason: "test".into(),
            }))
            .await;
    }
}

type ClientWs = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn to_message(msg: tungstenite::Message) -> Message {
    match msg {
        tungstenite::Message::Text(t) => {
            Message::Text(core_pre::Text::from_utf8(t.into()).expect("tungstenite checked utf-8"))
        }
        tungstenite::Message::Binary(b) => Message::Binary(b),
        tungstenite::Message::Ping(b) => Message::Ping(b),
        tungstenite::Message::Pong(b) => Message::Pong(b),
        tungstenite::Message::Close(f) => Message::Close(f.map(|f| core_pre::CloseFrame {
            code: f.code.into(),
            reason: f.reason.as_str().into(),
        })),
        tungstenite::Message::Frame(_) => Message::Binary(Default::default()),
    }
}

fn from_message(msg: Message) -> tungstenite::Message {
    match msg {
        Message::Text(t) => tungstenite::Message::Text(
            tungstenite::Utf8Bytes::try_from(t.into_bytes()).expect("text is utf-8"),
        ),
        Message::Binary(b) => tungstenite::Message::Binary(b),
        Message::Ping(b) => tungstenite::Message::Ping(b),
        Message::Pong(b) => tungstenite::Message::Pong(b),
        Message::Close(f) => tungstenite::Message::Close(f.map(|f| TCloseFrame {
            code: f.code.into(),
            reason: f.reason.as_str().to_owned().into(),
        })),
    }
}

fn transport_error(e: tungstenite::Error) -> TransportError {
    TransportError::new(TransportErrorKind::Io, e.to_string())
}

/// A minimal tokio-tungstenite connector (the real one lives in `client_ws`).
#[derive(Clone)]
pub(crate) struct WsTestConnector {
    url: String,
}

impl<S: AppState> Connector<S> for WsTestConnector {
    fn connect<'a>(
        &'a self,
        _ctx: ConnectContext<S>,
    ) -> BoxFuture<'a, Result<Connection, ConnectError>> {
        Box::pin(async move {
            let (ws, _): (ClientWs, _) = tokio_tungstenite::connect_async(self.url.as_str())
                .await
                .map_err(|e| ConnectError::retryable(e.to_string()))?;
            let (sink, stream) = ws.split();
            let stream = stream.map(|r| r.map(to_message).map_err(transport_error));
            let sink = sink
                .with(|m: Message| async move { Ok::<_, tungstenite::Error>(from_message(m)) })
                .sink_map_err(transport_error);
            Ok(Connection::new(stream, sink))
        })
    }
}

/// A module that records every message its rule lets through, and answers queries with
/// what it has seen so far.
pub(crate) struct Recorder<const ID: usize> {
    inbox: Inbox,
    commands: Commands<(), Vec<String>>,
    seen: Vec<String>,
}

#[derive(Clone)]
pub(crate) struct RecorderHandle(Commander<(), Vec<String>>);

impl RecorderHandle {
    pub(crate) async fn seen(&self) -> core_pre::CoreResult<Vec<String>> {
        self.0.call((), Duration::from_secs(5)).await
    }

    /// Waits until at least `n` messages have been seen.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<String> {
        within("messages to reach a module", async {
            loop {
                let seen = self.seen().await.unwrap();
                if seen.len() >= n {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
    }
}

/// Recorder 0 takes texts starting with "a", recorder 1 texts containing "b".
pub(crate) fn recorder_rule(id: usize) -> Box<dyn Rule> {
    match id {
        0 => Box::new(|m: &Message| m.as_text().is_some_and(|t| t.starts_with('a'))),
        _ => Box::new(|m: &Message| m.as_text().is_some_and(|t| t.contains('b'))),
    }
}

impl<const ID: usize> Module<()> for Recorder<ID> {
    type Handle = RecorderHandle;
    const NAME: &'static str = if ID == 0 { "recorder_a" } else { "recorder_b" };

    fn new(ctx: ModuleContext<()>) -> (Self, RecorderHandle) {
        let (commander, commands) = ctx.command_channel(8);
        let recorder = Recorder {
            inbox: ctx.inbox,
            commands,
            seen: Vec::new(),
        };
        (recorder, RecorderHandle(commander))
    }

    fn rule(_state: &Arc<()>) -> Box<dyn Rule> {
        recorder_rule(ID)
    }

    async fn run(&mut self) -> Result<(), BoxError> {
        loop {
            tokio::select! {
                msg = self.inbox.recv() => match msg {
                    Some(msg) => self.seen.push(msg.as_text().unwrap_or("<binary>").to_owned()),
                    None => return Ok(()),
                },
                req = self.commands.recv() => match req {
                    Some(req) => { req.reply(self.seen.clone()); }
                    None => return Ok(()),
                },
            }
        }
    }
}
