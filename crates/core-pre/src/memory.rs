//! An in-memory transport: a [`MemoryConnector`] for clients and a [`MemoryServer`] that
//! accepts them. No sockets, deterministic, for unit tests of modules and the runner.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use core_pre::memory::MemoryServer;
//! use core_pre::{ClientBuilder, Message};
//! use std::time::Duration;
//!
//! let server = MemoryServer::new();
//! let (client, runner) = ClientBuilder::new(server.connector()).build();
//! let _task = core_pre::runtime::spawn(runner.run());
//! let mut peer = server.accept().await.unwrap();
//! client.wait_connected(Duration::from_secs(5)).await.unwrap();
//! client.send(Message::text("hello")).await.unwrap();
//! assert_eq!(peer.recv().await.unwrap(), Message::text("hello"));
//! client.shutdown().await.unwrap();
//! # }
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use tokio::sync::Mutex;

use crate::connector::{ConnectContext, Connection, Connector};
use crate::error::{ConnectError, TransportError};
use crate::message::Message;
use crate::runtime::{self, BoxFuture};
use crate::state::AppState;

/// Frames each direction of an in-memory connection can hold before the sender waits.
const PIPE_CAPACITY: usize = 1024;

struct ServerShared {
    accept_tx: mpsc::UnboundedSender<MemoryPeer>,
    accept_rx: Mutex<mpsc::UnboundedReceiver<MemoryPeer>>,
    refusing: AtomicBool,
    attempts: AtomicU32,
}

/// The server side of the in-memory transport.
#[derive(Clone)]
pub struct MemoryServer {
    shared: Arc<ServerShared>,
}

impl Default for MemoryServer {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryServer {
    /// A server with no connections yet.
    pub fn new() -> Self {
        let (accept_tx, accept_rx) = mpsc::unbounded();
        MemoryServer {
            shared: Arc::new(ServerShared {
                accept_tx,
                accept_rx: Mutex::new(accept_rx),
                refusing: AtomicBool::new(false),
                attempts: AtomicU32::new(0),
            }),
        }
    }

    /// A connector whose connections arrive at this server.
    pub fn connector(&self) -> MemoryConnector {
        MemoryConnector {
            server: self.clone(),
        }
    }

    /// Makes connection attempts fail (retryably) while `refuse` is true.
    pub fn set_refusing(&self, refuse: bool) {
        self.shared.refusing.store(refuse, Ordering::SeqCst);
    }

    /// How many connection attempts reached this server (accepted or refused).
    pub fn attempts(&self) -> u32 {
        self.shared.attempts.load(Ordering::SeqCst)
    }

    /// Waits for the next client connection.
    pub async fn accept(&self) -> Option<MemoryPeer> {
        self.shared.accept_rx.lock().await.next().await
    }

    fn open(&self) -> Result<Connection, ConnectError> {
        self.shared.attempts.fetch_add(1, Ordering::SeqCst);
        if self.shared.refusing.load(Ordering::SeqCst) {
            return Err(ConnectError::retryable(
                "memory server is refusing connections",
            ));
        }
        let (to_client, client_rx) = mpsc::channel(PIPE_CAPACITY);
        let (client_tx, from_client) = mpsc::channel(PIPE_CAPACITY);
        let peer = MemoryPeer {
            tx: to_client,
            rx: from_client,
        };
        self.shared
            .accept_tx
            .unbounded_send(peer)
            .map_err(|_| ConnectError::retryable("memory server is gone"))?;
        let stream = client_rx.map(Ok::<Message, TransportError>);
        let sink = client_tx.sink_map_err(|_| TransportError::closed());
        Ok(Connection::new(stream, sink))
    }
}

/// Connects clients to a [`MemoryServer`].
#[derive(Clone)]
pub struct MemoryConnector {
    server: MemoryServer,
}

impl<S: AppState> Connector<S> for MemoryConnector {
    fn connect<'a>(
        &'a self,
        _ctx: ConnectContext<S>,
    ) -> BoxFuture<'a, Result<Connection, ConnectError>> {
        runtime::boxed(async move { self.server.open() })
    }
}

/// The server's end of one in-memory connection. Dropping it closes the connection.
pub struct MemoryPeer {
    tx: mpsc::Sender<Message>,
    rx: mpsc::Receiver<Message>,
}

impl MemoryPeer {
    /// Sends a message to the client. Fails once the client side is gone.
    pub async fn send(&mut self, msg: impl Into<Message>) -> Result<(), TransportError> {
        self.tx
            .send(msg.into())
            .await
            .map_err(|_| TransportError::closed())
    }

    /// The next message from the client, or `None` once the client side is gone.
    pub async fn recv(&mut self) -> Option<Message> {
        self.rx.next().await
    }

    /// The next text message from the client, skipping pings, pongs and binary frames.
    pub async fn recv_text(&mut self) -> Option<String> {
        while let Some(msg) = self.recv().await {
            if let Message::Text(text) = msg {
                return Some(text.to_string());
            }
        }
        None
    }
}
