//! [`ClientWsError`]: what a [`CircleWsClient`](crate::CircleWsClient) call can fail with,
//! each message saying what to do next.
//!
//! Transport-level failures keep core-pre's types ([`core_pre::ConnectError`],
//! [`core_pre::TransportError`]) so that any core-pre client can use the transport;
//! authentication failures are [`AuthError`](crate::auth::AuthError), wrapped here.

use std::time::Duration;

use crate::auth::AuthError;
use crate::rpc::RpcError;

/// Everything a `CircleWsClient` operation can fail with.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientWsError {
    /// Authentication failed (bad key, rejected credentials, nonce refused…).
    #[error(transparent)]
    Auth(#[from] AuthError),

    /// The server answered the call with a JSON-RPC error.
    #[error("the server answered `{method}` with error {}: {}", .error.code, .error.message)]
    Rpc {
        /// The method called.
        method: String,
        /// The server's error object.
        error: RpcError,
    },

    /// No answer within the call's timeout. The server may still have run the call.
    #[error(
        "no answer to `{method}` within {after:?}; the server may still have processed it; retry or raise the timeout"
    )]
    Timeout {
        /// The method called.
        method: String,
        /// How long the call waited.
        after: Duration,
    },

    /// A lifecycle operation (`connect`, `disconnect`, `reconnect`, `shutdown`) was not
    /// acknowledged by the client's background task in time. It may still take effect.
    #[error(
        "`{operation}()` was not acknowledged by the client's background task within {}; it may still take effect; check the connection state or call it again",
        core_pre::HumanDuration(*.after)
    )]
    LifecycleTimeout {
        /// The operation: `connect`, `disconnect`, `reconnect` or `shutdown`.
        operation: &'static str,
        /// How long it waited.
        after: Duration,
    },

    /// The connection dropped before the answer came. The server may or may not have run
    /// the call; the client reconnects by itself.
    #[error(
        "the connection was lost before `{method}` was answered; it may or may not have run; retry once reconnected"
    )]
    ConnectionLost {
        /// The method called.
        method: String,
    },

    /// There is no connection and none is being made (never connected, disconnected on
    /// request, or the reconnect policy gave up).
    #[error("not connected: {state}; call `connect()` first")]
    NotConnected {
        /// The connection state at the time of the call.
        state: String,
    },

    /// Connecting failed for good (for example the URL is wrong or TLS verification
    /// failed); see the reason.
    #[error("could not connect: {0}")]
    Connect(String),

    /// The client was shut down or dropped.
    #[error("the client is shut down; build a new one")]
    Closed,

    /// The server's answer did not have the expected shape.
    #[error("unexpected answer to `{method}`: {reason}")]
    UnexpectedResponse {
        /// The method called.
        method: String,
        /// What was wrong with it.
        reason: String,
    },

    /// The request is larger than the transport's maximum message size; nothing was sent
    /// and the connection is untouched.
    #[error(
        "the `{method}` request is {size} bytes, over the {max}-byte message limit; send less or raise WsConfig::with_max_message_size"
    )]
    TooLarge {
        /// The method called.
        method: String,
        /// The encoded request's size.
        size: usize,
        /// The limit.
        max: usize,
    },

    /// The client configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// Another core-pre failure (queue full, too many pending calls…).
    #[error(transparent)]
    Core(core_pre::CoreError),
}

/// The result type of `CircleWsClient` operations.
pub type Result<T, E = ClientWsError> = std::result::Result<T, E>;
