//! # client_ws
//!
//! Real WebSocket transports for [core-pre](core_pre), natively and in the browser, and
//! [`CircleWsClient`], a JSON-RPC client that authenticates with a secp256k1 key.
//!
//! ## Transport
//!
//! * [`WsConfig`] describes a connection (URL, headers, limits, TLS roots);
//! * [`connect`] opens a raw [`core_pre::Connection`] (for protocol clients that run a
//!   handshake before the runner takes over);
//! * [`WsConnector`] is a [`core_pre::Connector`], so any core-pre client runs over it.
//!
//! Natively the socket is tokio-tungstenite with rustls (ring provider, webpki roots plus
//! any private CA you add), `TCP_NODELAY` on. In the browser (`wasm32-unknown-unknown`) it
//! is the page's `WebSocket` through gloo-net. The backend is chosen at compile time;
//! callers never write a `cfg`.
//!
//! ## CircleWsClient
//!
//! [`CircleWsClientBuilder`] → [`CircleWsClient`]: `connect()` opens the socket and, with
//! a key, runs fetch_nonce → sign → authenticate (see [`auth`]); then `call`, `play`,
//! notifications, connection state; keep-alive, reconnect with backoff and
//! re-authentication happen by themselves. The wire contract is in the crate README.
//!
//! ## Reference server
//!
//! With the `server` feature (native only), `server::ReferenceServer` implements the
//! server side of the protocol, for tests, examples and anyone implementing it.

pub mod auth;
mod circle;
mod error;
pub mod rpc;
#[cfg(all(feature = "server", not(target_arch = "wasm32")))]
pub mod server;
mod transport;

pub use circle::{
    CircleWsClient, CircleWsClientBuilder, DEFAULT_CONNECT_WAIT, DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_HEARTBEAT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, Notification, Notifications,
};
pub use core_pre::{ConnectionState, DisconnectReason, ReconnectPolicy};
pub use error::{ClientWsError, Result};
pub use transport::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_READ_BUFFER_SIZE,
    DEFAULT_WRITE_BUFFER_SIZE, WsConfig, WsConnector, connect, redacted_url,
};
