//! [`CircleWsClient`]: JSON-RPC over WebSocket with secp256k1 nonce authentication, on
//! core-pre.
//!
//! The pieces, each on core-pre's terms rather than a runner of its own:
//! * the connector ([`handshake`]) opens the socket and runs fetch_nonce → sign →
//!   authenticate before handing the connection to the runner, so "connected" means
//!   "authenticated", on the first connection and after every reconnect;
//! * the [`dispatch`] module resolves responses by id and fans out notifications;
//! * the client handle assigns ids, registers each call with core-pre's
//!   `PendingRequests` (timeout; fails at once when its connection drops) and sends.

mod builder;
mod client;
mod dispatch;
mod handshake;
mod state;

pub use builder::{
    CircleWsClientBuilder, DEFAULT_CONNECT_WAIT, DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_HEARTBEAT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT,
};
pub use client::{CircleWsClient, Notifications};
pub use state::Notification;
