//! The hub: our own broker for the `json` format (`shared/protocol/messaging.md`), on the
//! `server` crate, optionally bridged to NATS so several hubs form one bus.
//!
//! Each WebSocket session first gets `{"op":"hello","session":"<id>","max_payload":N}`;
//! then its `sub`/`unsub`/publish/`ping` frames are routed: subjects with `*`/`>`
//! wildcards, queue groups (each message to one member of each group and to every plain
//! subscriber), request/reply (a request nobody subscribes to is answered at once with
//! `err` `no_responders`), and `_SESSION.<id>`, to which every session is implicitly
//! subscribed under the sid [`SESSION_SID`]. Session ids are `<hub id>-<n>`: unique across
//! bridged hubs, so `_SESSION.<id>` reaches a session on any of them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), messaging::hub::HubError> {
//! use std::time::Duration;
//! use messaging::hub::Hub;
//!
//! let hub = Hub::builder()
//!     .with_address("127.0.0.1:4280")
//!     .with_nats("nats://127.0.0.1:4222") // optional: join the bus of other hubs
//!     .start()
//!     .await?;
//! println!("listening on {}", hub.url());
//! // … later
//! hub.shutdown(Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```
//!
//! Files: `index.rs` (the subscription index), `router.rs` (the task that routes),
//! `bridge.rs` (the NATS bridge), `metrics.rs` ([`HubMetrics`]), this file (the [`Hub`]
//! handle, [`HubBuilder`], [`HubError`]).

mod bridge;
pub mod cli;
mod index;
mod metrics;
mod router;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use server::{Server, ServerBuilder, ServerError, ShutdownReport};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use bridge::HUB_ORIGIN_HEADER;
pub use metrics::HubMetrics;
pub use router::{BAD_FRAME_WINDOW, BAD_FRAMES_TO_CLOSE, MAX_SID_LEN, SESSION_SID};

use crate::json::{DEFAULT_MAX_PAYLOAD, max_frame_len};
use crate::subject::random_token;

/// Subscriptions a session may hold by default (its implicit `_SESSION.<id>` one aside).
pub const DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION: usize = 1_000;

/// How long [`HubBuilder::start`] waits for the NATS server by default.
pub const DEFAULT_NATS_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a bridged request waits for its reply by default (the requester keeps its own
/// timeout; this only bounds the hub's bookkeeping).
pub const DEFAULT_BRIDGED_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Bridged requests in flight at most by default; beyond it a request is published without
/// the "no responders" check.
pub const DEFAULT_MAX_BRIDGED_REQUESTS: usize = 10_000;

/// Commands queued for the bridge at most; a publish beyond it is dropped and counted
/// ([`HubMetrics::nats_errors`]) so a NATS outage never stalls local routing.
const BRIDGE_CAPACITY: usize = 8_192;

/// Messages from NATS queued for the router at most (the bridge waits beyond it).
const FROM_BRIDGE_CAPACITY: usize = 4_096;

/// How long [`Hub::shutdown`] waits for the router and the bridge after the server stopped.
const TASK_GRACE: Duration = Duration::from_secs(5);

/// Why a hub could not start or stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The WebSocket server refused a setting, could not bind, or is already shut down.
    #[error("the hub's WebSocket server: {0}")]
    Server(#[from] ServerError),
    /// The NATS server given to [`HubBuilder::with_nats`] could not be reached.
    #[error(
        "could not connect to NATS at {url}: {message} (is nats-server running there? check the URL and port)"
    )]
    Nats {
        /// The URL, without any credentials it held.
        url: String,
        /// What async-nats said.
        message: String,
    },
    /// A hub setting is out of range.
    #[error("invalid hub setting: {0}")]
    Config(&'static str),
}

/// `url` without a `user:password@` part.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Configures and starts a [`Hub`]. Settings the hub does not name can be reached with
/// [`with_server`](Self::with_server).
pub struct HubBuilder {
    server: ServerBuilder,
    max_payload: usize,
    max_subscriptions: usize,
    nats: Option<String>,
    nats_connect_timeout: Duration,
    request_timeout: Duration,
    max_requests: usize,
}

impl fmt::Debug for HubBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubBuilder")
            .field("server", &self.server)
            .field("max_payload", &self.max_payload)
            .field("max_subscriptions", &self.max_subscriptions)
            .field("nats", &self.nats.as_deref().map(redact))
            .finish_non_exhaustive()
    }
}

impl Default for HubBuilder {
    fn default() -> Self {
        Self {
            server: ServerBuilder::new(),
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_subscriptions: DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION,
            nats: None,
            nats_connect_timeout: DEFAULT_NATS_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_BRIDGED_REQUEST_TIMEOUT,
            max_requests: DEFAULT_MAX_BRIDGED_REQUESTS,
        }
    }
}

impl HubBuilder {
    /// Listens on `address` (`host:port`; port 0 picks a free one; default `127.0.0.1:0`).
    pub fn with_address(mut self, address: impl Into<String>) -> Self {
        self.server = self.server.with_address(address);
        self
    }

    /// Accepts on a listener the caller bound.
    pub fn with_listener(mut self, listener: TcpListener) -> Self {
        self.server = self.server.with_listener(listener);
        self
    }

    /// The largest decoded body a publish may carry (default 1 MiB). Frames longer than
    /// [`max_frame_len`]`(max_payload)` are refused with `too_large` before they are
    /// parsed; frames over twice that close the session with 1009 (the server's limit).
    pub fn with_max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// Subscriptions a session may hold (default
    /// [`DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION`]); one more is refused with
    /// `quota_exceeded`.
    pub fn with_max_subscriptions_per_session(mut self, max: usize) -> Self {
        self.max_subscriptions = max;
        self
    }

    /// Bridges to the NATS server at `url` (`nats://host:port`): local publishes go to NATS,
    /// NATS messages on the sessions' patterns come to the sessions.
    pub fn with_nats(mut self, url: impl Into<String>) -> Self {
        self.nats = Some(url.into());
        self
    }

    /// How long [`start`](Self::start) waits for NATS (default 5 s).
    pub fn with_nats_connect_timeout(mut self, timeout: Duration) -> Self {
        self.nats_connect_timeout = timeout;
        self
    }

    /// How long a request bridged to NATS waits for its reply (default 60 s).
    pub fn with_bridged_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Each session's outbound queue, in messages (the server's default 1,024).
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.server = self.server.with_queue_capacity(capacity);
        self
    }

    /// How long a session's queue may stay full before the session is closed with 1013
    /// (slow consumer), and the deadline of one socket write (the server's default 10 s).
    pub fn with_send_deadline(mut self, deadline: Duration) -> Self {
        self.server = self.server.with_send_deadline(deadline);
        self
    }

    /// Any other server setting (connections cap, TLS, authentication, pings…).
    pub fn with_server(mut self, configure: impl FnOnce(ServerBuilder) -> ServerBuilder) -> Self {
        self.server = configure(self.server);
        self
    }

    /// Checks the settings, connects to NATS when asked, binds and starts routing.
    pub async fn start(self) -> Result<Hub, HubError> {
        if self.max_payload == 0 {
            return Err(HubError::Config("max_payload must be at least 1 byte"));
        }
        if self.max_subscriptions == 0 {
            return Err(HubError::Config(
                "max_subscriptions_per_session must be at least 1",
            ));
        }
        let hub_id: Arc<str> = Arc::from(random_token(8));
        let client = match &self.nats {
            Some(url) => Some(
                bridge::connect(url, &hub_id, self.nats_connect_timeout)
                    .await
                    .map_err(|e| HubError::Nats {
                        url: redact(url),
                        message: e.to_string(),
                    })?,
            ),
            None => None,
        };
        // Room for a frame of twice the longest a full body needs: longer frames than that
        // one are refused (`too_large`) without closing; beyond it the server closes (1009).
        let frame_cap = max_frame_len(self.max_payload)
            .saturating_mul(2)
            .saturating_add(4096);
        let (server, inbox) = self
            .server
            .with_max_message_size(frame_cap)
            .with_max_frame_size(frame_cap)
            .start()
            .await?;
        let counters = Arc::new(metrics::Counters::default());
        let (bridge_tx, from_bridge, bridge_task) = match client {
            Some(client) => {
                let (tx, rx) = mpsc::channel(BRIDGE_CAPACITY);
                let (events_tx, events_rx) = mpsc::channel(FROM_BRIDGE_CAPACITY);
                let task = tokio::spawn(bridge::run(
                    client,
                    bridge::BridgeConfig {
                        hub_id: hub_id.clone(),
                        request_timeout: self.request_timeout,
                        max_requests: self.max_requests,
                    },
                    server.clone(),
                    counters.clone(),
                    rx,
                    events_tx,
                ));
                (Some(tx), Some(events_rx), Some(task))
            }
            None => (None, None, None),
        };
        let router = router::Router::new(
            server.clone(),
            router::RouterConfig {
                hub_id: hub_id.clone(),
                max_payload: self.max_payload,
                max_subscriptions: self.max_subscriptions,
            },
            counters.clone(),
            bridge_tx,
        );
        let router_task = tokio::spawn(router.run(inbox, from_bridge));
        Ok(Hub {
            server,
            hub_id,
            counters,
            bridged: self.nats.is_some(),
            max_payload: self.max_payload,
            tasks: Mutex::new(Some((router_task, bridge_task))),
        })
    }
}

/// A running hub. Dropping it shuts the server down (5-second deadline); call
/// [`shutdown`](Self::shutdown) to choose the deadline and get the report.
pub struct Hub {
    server: Server,
    hub_id: Arc<str>,
    counters: Arc<metrics::Counters>,
    bridged: bool,
    max_payload: usize,
    #[allow(clippy::type_complexity)]
    tasks: Mutex<Option<(JoinHandle<()>, Option<JoinHandle<()>>)>>,
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("id", &self.hub_id)
            .field("local_addr", &self.local_addr())
            .field("bridged", &self.bridged)
            .finish()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        // The tasks hold server handles; once they are gone the last handle (ours) starts
        // the server's own shutdown.
        let tasks = self
            .tasks
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((router, bridge)) = tasks {
            router.abort();
            if let Some(bridge) = bridge {
                bridge.abort();
            }
        }
    }
}

impl Hub {
    /// A builder with every default (see [`HubBuilder`]).
    pub fn builder() -> HubBuilder {
        HubBuilder::default()
    }

    /// `ws://host:port/`, where clients connect.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The hub's random id: the prefix of its session ids and the value of its
    /// [`HUB_ORIGIN_HEADER`] on NATS.
    pub fn id(&self) -> &str {
        &self.hub_id
    }

    /// Whether the hub is bridged to NATS.
    pub fn is_bridged(&self) -> bool {
        self.bridged
    }

    /// The largest body a publish may carry.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// The hub's counters.
    pub fn metrics(&self) -> HubMetrics {
        self.counters.snapshot()
    }

    /// The WebSocket server underneath (its sessions, metrics and status).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Stops accepting, closes every session with 1001 (queued messages are written
    /// first), waits up to `deadline` for them, then stops routing and flushes the bridge.
    pub async fn shutdown(&self, deadline: Duration) -> Result<ShutdownReport, HubError> {
        let report = self.server.shutdown(deadline).await?;
        let tasks = self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((router, bridge)) = tasks {
            // The router ends with the server's streams and drops the bridge's sender, which
            // ends the bridge.
            let _ = tokio::time::timeout(TASK_GRACE, router).await;
            if let Some(bridge) = bridge {
                let _ = tokio::time::timeout(TASK_GRACE, bridge).await;
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_leave_the_url() {
        assert_eq!(redact("nats://u:secret@host:4222"), "nats://***@host:4222");
        assert_eq!(redact("nats://host:4222"), "nats://host:4222");
        let builder = Hub::builder().with_nats("nats://tok3n@h:1");
        assert!(!format!("{builder:?}").contains("tok3n"));
    }
}
