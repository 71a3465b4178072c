//! # client_ws
//!
//! Real WebSocket transports for [core-pre](core_pre), natively and in the browser, with one
//! API:
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

#![warn(missing_docs)]

pub mod auth;
mod error;
pub mod rpc;
mod transport;

pub use error::{ClientWsError, Result};
pub use transport::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_WRITE_BUFFER_SIZE, WsConfig,
    WsConnector, connect,
};
