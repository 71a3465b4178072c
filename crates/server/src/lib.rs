//! # server
//!
//! A WebSocket server on tokio + tokio-tungstenite that speaks [core-pre](core_pre)'s
//! [`Message`](core_pre::Message): sessions with server-assigned ids, authentication at the
//! upgrade, rooms and non-blocking broadcast, a bounded inbound stream, events and a status
//! watch, limits on everything, metrics, and graceful shutdown.
//!
//! ```no_run
//! # async fn demo() -> Result<(), server::ServerError> {
//! use std::time::Duration;
//! use server::{Server, ServerEvent};
//!
//! let (server, mut inbox) = Server::builder().with_address("127.0.0.1:9000").start().await?;
//! loop {
//!     tokio::select! {
//!         Some((session, message)) = inbox.messages.recv() => {
//!             // Everyone in the lobby but the sender; never waits for a slow peer.
//!             server.to("lobby").except(session).send(message)?;
//!         }
//!         Some(event) = inbox.events.recv() => {
//!             if let ServerEvent::Connected(info) = event {
//!                 server.join(info.id, "lobby")?;
//!             }
//!         }
//!         else => break,
//!     }
//! }
//! let report = server.shutdown(Duration::from_secs(5)).await?;
//! println!("{} of {} sessions closed cleanly", report.closed_cleanly, report.sessions);
//! # Ok(()) }
//! ```
//!
//! ## How it is built
//!
//! One accept loop (`listener.rs` in the sources) owns the listening socket and a
//! task per connection. A connection's task runs the handshake (TLS, upgrade, the admission
//! checks: shutdown, connection cap → 503, origin → 403, authenticator, duplicate
//! identity), then the session loop, which alone owns the socket: it writes what the
//! session's bounded queue holds, reads frames into the bounded message stream, pings a
//! quiet peer and closes a silent one. Senders only push into queues, over snapshots of the
//! registry, so a slow or dead peer delays nobody but itself. The crate README has the
//! details: limits and their defaults, close codes, the authentication schemes.

mod auth;
mod builder;
mod config;
mod connection;
mod error;
mod events;
mod handshake;
mod id;
mod listener;
mod metrics;
mod registry;
mod server;
mod session;
mod shared;
mod shutdown;
mod tls;

pub use auth::{
    Authenticator, CHALLENGE_HEADER, DEFAULT_MAX_SKEW, Identity, Metadata, PUBKEY_HEADER, Reject,
    SIGNATURE_HEADER, Secp256k1Auth, SignedChallenge, SignedConnector, TokenAuth, UpgradeRequest,
};
pub use builder::ServerBuilder;
pub use config::{
    DEFAULT_CLOSE_TIMEOUT, DEFAULT_EVENT_CAPACITY, DEFAULT_FIRST_MESSAGE_TIMEOUT,
    DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_INBOUND_CAPACITY,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_MAX_PENDING_HANDSHAKES, DEFAULT_PING_INTERVAL, DEFAULT_QUEUE_CAPACITY,
    DEFAULT_READ_BUFFER_SIZE, DEFAULT_RETRY_AFTER, DEFAULT_SEND_DEADLINE, DuplicateIdentity,
    OriginPolicy, OverflowPolicy, ServerConfig,
};
pub use error::{Result, ServerError};
pub use events::{Disconnected, Events, Inbox, Messages, Phase, ServerEvent, ServerStatus};
pub use id::SessionId;
pub use metrics::{Metrics, RejectReason};
pub use server::{Delivery, Server, Target};
pub use session::{DisconnectReason, REPLACED_CLOSE_CODE, SessionInfo, SessionStats};
pub use shutdown::ShutdownReport;
