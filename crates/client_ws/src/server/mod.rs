//! The reference server: the server side of the circle protocol, for tests, examples, the
//! browser tests, and anyone who needs to implement this authentication scheme.
//!
//! It speaks JSON-RPC 2.0 over WebSocket text frames and implements `fetch_nonce`
//! (random, single-use, expiring nonces bound to a key), `authenticate` (verification by
//! recovery, state per connection), `ping` and `play` (a tiny [script] runner that
//! requires authentication when configured). Test hooks drop or freeze every live
//! connection, to exercise reconnects and dead-peer detection.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> std::io::Result<()> {
//! use client_ws::server::{ReferenceServer, ServerConfig};
//!
//! let server = ReferenceServer::start(ServerConfig::new()).await?;
//! println!("listening on {}", server.url());
//! # server.shutdown().await; Ok(()) }
//! ```

mod nonce;
pub mod script;
mod session;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use secp256k1::PublicKey;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::auth::{AuthError, parse_public_key};
use crate::transport::DEFAULT_MAX_MESSAGE_SIZE;

pub use nonce::{IssuedNonce, MAX_OUTSTANDING, MAX_PER_KEY, NonceBook, RedeemError};

/// How the reference server behaves. Builder-style.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    addr: SocketAddr,
    nonce_ttl: Duration,
    require_auth_for_play: bool,
    allowed_keys: Option<Vec<PublicKey>>,
    max_message_size: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig::new()
    }
}

impl ServerConfig {
    /// Listens on `127.0.0.1:0` (a free port), nonces live 5 minutes, `play` requires
    /// authentication, any key may authenticate, messages up to 16 MiB.
    pub fn new() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            nonce_ttl: Duration::from_secs(300),
            require_auth_for_play: true,
            allowed_keys: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }

    /// The address to listen on.
    pub fn with_addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// How long a nonce stays valid.
    pub fn with_nonce_ttl(mut self, ttl: Duration) -> Self {
        self.nonce_ttl = ttl;
        self
    }

    /// Whether `play` needs an authenticated connection (default true).
    pub fn require_auth_for_play(mut self, required: bool) -> Self {
        self.require_auth_for_play = required;
        self
    }

    /// Only these public keys (hex, compressed or uncompressed) may authenticate; others
    /// get -32002 even with a valid signature.
    pub fn with_allowed_keys<I, K>(mut self, keys: I) -> Result<Self, AuthError>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        let keys = keys
            .into_iter()
            .map(|key| parse_public_key(key.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        self.allowed_keys = Some(keys);
        Ok(self)
    }

    /// The largest message accepted.
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes.max(1);
        self
    }
}

/// What a test hook asks of the live connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hook {
    Run,
    /// Stop reading and writing but keep the socket open: a half-open peer.
    Freeze,
    /// Drop the socket without a close frame.
    Drop,
}

/// One live connection, as the server's registry knows it.
struct SessionEntry {
    hook: watch::Sender<Hook>,
    outbound: mpsc::Sender<session::Outgoing>,
}

/// Counters for tests and monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// WebSocket connections accepted so far.
    pub accepted: u64,
    /// Successful `authenticate` calls so far.
    pub authenticated: u64,
    /// Connections open now.
    pub live: usize,
}

/// State shared by the accept loop and every session.
struct Shared {
    config: ServerConfig,
    nonces: Mutex<NonceBook>,
    sessions: Mutex<HashMap<u64, SessionEntry>>,
    next_session: AtomicU64,
    stats: watch::Sender<ServerStats>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a single insert/remove/lookup: the data stays
    // consistent even if a holder panicked.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn is_allowed(&self, key: &PublicKey) -> bool {
        self.config
            .allowed_keys
            .as_ref()
            .is_none_or(|keys| keys.contains(key))
    }
}

/// A running reference server. Dropping it stops accepting and closes every connection.
pub struct ReferenceServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl ReferenceServer {
    /// Binds and starts serving in the background (needs a tokio runtime).
    pub async fn start(config: ServerConfig) -> std::io::Result<ReferenceServer> {
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            nonces: Mutex::new(NonceBook::new(config.nonce_ttl)),
            config,
            sessions: Mutex::new(HashMap::new()),
            next_session: AtomicU64::new(1),
            stats: watch::Sender::new(ServerStats::default()),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        tracing::info!(%addr, "reference server listening");
        Ok(ReferenceServer {
            addr,
            shared,
            accept,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://<addr>`, the URL clients connect to.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The counters now.
    pub fn stats(&self) -> ServerStats {
        *self.shared.stats.borrow()
    }

    /// Waits until `predicate` holds for the counters, for at most `timeout`; returns the
    /// counters then, or `None` on timeout.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut predicate: impl FnMut(&ServerStats) -> bool,
    ) -> Option<ServerStats> {
        let mut stats = self.shared.stats.subscribe();
        let wait = async { stats.wait_for(|s| predicate(s)).await.map(|s| *s).ok() };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
    }

    fn hook_all(&self, hook: Hook) -> usize {
        let sessions = lock(&self.shared.sessions);
        for entry in sessions.values() {
            entry.hook.send_replace(hook);
        }
        sessions.len()
    }

    /// Drops every live connection at once, without a close frame (as a crashed server
    /// or a cut network would). Returns how many were dropped. New connections are served
    /// normally.
    pub fn drop_connections(&self) -> usize {
        self.hook_all(Hook::Drop)
    }

    /// Makes every live connection go silent: nothing is read (so pings go unanswered)
    /// and nothing is written, but the socket stays open, like a half-open peer. New
    /// connections are served normally. Returns how many were frozen.
    pub fn freeze_connections(&self) -> usize {
        self.hook_all(Hook::Freeze)
    }

    /// Sends a notification to every live connection (skipping any whose queue is full).
    pub fn notify_all(&self, method: &str, params: &Value) -> usize {
        let frame = crate::rpc::notification(method, params);
        let sessions = lock(&self.shared.sessions);
        sessions
            .values()
            .filter(|entry| {
                entry
                    .outbound
                    .try_send(session::Outgoing::Text(frame.clone()))
                    .is_ok()
            })
            .count()
    }

    /// Stops accepting and drops every connection.
    pub async fn shutdown(self) {
        self.accept.abort();
        self.drop_connections();
        let _ = self
            .wait_for(Duration::from_secs(5), |stats| stats.live == 0)
            .await;
    }
}

impl Drop for ReferenceServer {
    fn drop(&mut self) {
        self.accept.abort();
        self.hook_all(Hook::Drop);
    }
}

impl std::fmt::Debug for ReferenceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceServer")
            .field("addr", &self.addr)
            .field("stats", &self.stats())
            .finish()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let id = shared.next_session.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(session::serve(tcp, peer, id, shared.clone()));
    }
}
