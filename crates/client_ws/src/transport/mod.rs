//! The WebSocket transport: one API, two backends.
//!
//! Natively the socket is tokio-tungstenite with rustls; in the browser
//! (`wasm32-unknown-unknown`) it is the page's `WebSocket` through gloo-net. The backend is
//! chosen here, once; [`WsConfig`], [`connect`] and [`WsConnector`] look the same on both.

mod close;
mod config;
mod connector;

cfg_if::cfg_if! {
    if #[cfg(target_arch = "wasm32")] {
        #[path = "wasm.rs"]
        mod imp;
    } else {
        #[path = "native.rs"]
        mod imp;
    }
}

pub use config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_READ_BUFFER_SIZE,
    DEFAULT_WRITE_BUFFER_SIZE, WsConfig, redacted_url,
};
pub use connector::WsConnector;

use core_pre::{ConnectError, Connection};

/// Refuses an outbound message over the limit before it reaches the socket (close frames,
/// whose reason is capped anyway, always pass). Both backends call it.
fn check_outbound_size(
    msg: &core_pre::Message,
    max: usize,
) -> Result<(), core_pre::TransportError> {
    if msg.len() <= max || matches!(msg, core_pre::Message::Close(_)) {
        return Ok(());
    }
    Err(core_pre::TransportError::new(
        core_pre::TransportErrorKind::TooLarge,
        format!(
            "outbound {} message of {} bytes exceeds the {max}-byte limit; split it or raise \
             WsConfig::with_max_message_size",
            msg.kind(),
            msg.len(),
        ),
    ))
}

/// Opens one WebSocket per `config` and returns it as a core-pre [`Connection`].
///
/// The returned connection is raw: a protocol client may exchange handshake frames on it
/// (`connection.sink.send(..)`, `connection.stream.next()`) before handing it to the runner.
///
/// Errors:
/// * [retryable](ConnectError::is_retryable): refused, unreachable, reset, timed out (the
///   whole attempt is limited by [`WsConfig::with_connect_timeout`]), HTTP 408/429/5xx;
///   in the browser any failure to open (browsers do not say why).
/// * fatal: a malformed URL or header, a TLS certificate that does not verify (natively:
///   unknown CA, wrong host name, expired; trust a private CA with
///   [`WsConfig::with_root_certificate_der`]), any other HTTP refusal (401, 403, 404…).
///
/// Frames map one to one onto [`core_pre::Message`]; an inbound message over
/// [`WsConfig::with_max_message_size`] ends the stream with a
/// [`TransportErrorKind::TooLarge`](core_pre::TransportErrorKind::TooLarge) error, and an
/// outbound one over it is refused with the same kind before it reaches the socket.
pub async fn connect(config: &WsConfig) -> Result<Connection, ConnectError> {
    imp::connect(config).await
}
