//! The crate's error type: one enum, with messages that say what to do next.

use std::sync::Arc;
use std::time::Duration;

/// A boxed error, as returned by modules and callbacks.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of this crate.
pub type CoreResult<T> = Result<T, CoreError>;

/// Everything that can go wrong in a core-pre client.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The client was shut down (or every `Client` was dropped). Nothing else will work on it.
    #[error("the client is shut down; build a new client to connect again")]
    ClientClosed,

    /// There is no live connection right now.
    #[error("not connected ({state}); wait with `wait_connected` or call `connect`")]
    NotConnected {
        /// The connection state at the time of the call.
        state: String,
    },

    /// The connection dropped while a request was waiting for its reply.
    #[error(
        "the connection was lost before the reply arrived; the request may or may not have been processed"
    )]
    ConnectionLost,

    /// A wait took longer than allowed.
    #[error("timed out after {after:?} waiting for {waiting_for}")]
    Timeout {
        /// How long the call waited.
        after: Duration,
        /// What it was waiting for.
        waiting_for: &'static str,
    },

    /// Connecting failed in a way retrying cannot fix (rejected credentials, for example).
    #[error("connection rejected: {reason}")]
    Rejected {
        /// The reason given by the connector.
        reason: Arc<str>,
    },

    /// The reconnect policy ran out of attempts.
    #[error(
        "gave up after {attempts} connection attempts; last error: {last_error}; call `connect` to try again"
    )]
    GaveUp {
        /// How many attempts were made.
        attempts: u32,
        /// The error of the last attempt.
        last_error: Arc<str>,
    },

    /// `get_handle` asked for a module that was never added to the builder.
    #[error("module `{0}` is not registered; add it with `ClientBuilder::with_module`")]
    ModuleNotRegistered(&'static str),

    /// A module stopped (or dropped the request) before answering.
    #[error("module `{0}` stopped before answering; see the client's module health for its error")]
    ModuleStopped(&'static str),

    /// Too many requests are waiting for replies at once.
    #[error("too many pending requests ({0}); wait for some to finish")]
    TooManyPending(usize),

    /// The outbound queue is full (only from non-waiting sends).
    #[error("the outbound queue is full; slow down or use the waiting `send`")]
    QueueFull,

    /// A request with this correlation key is already waiting.
    #[error("a request with the same correlation key is already pending")]
    DuplicateRequest,

    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// What kind of transport failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The socket is closed.
    Closed,
    /// An I/O error (reset, refused, broken pipe...).
    Io,
    /// The peer broke the WebSocket protocol.
    Protocol,
    /// A message exceeded the configured maximum size.
    TooLarge,
    /// TLS setup or verification failed.
    Tls,
    /// Anything else.
    Other,
}

/// A transport failure: a kind and a human-readable message (never containing secrets).
#[derive(Debug, Clone, thiserror::Error)]
#[error("transport error ({kind:?}): {message}")]
pub struct TransportError {
    /// The kind of failure.
    pub kind: TransportErrorKind,
    /// A description of what happened.
    pub message: Arc<str>,
}

impl TransportError {
    /// A transport error of the given kind.
    pub fn new(kind: TransportErrorKind, message: impl Into<Arc<str>>) -> Self {
        TransportError {
            kind,
            message: message.into(),
        }
    }

    /// The socket is closed.
    pub fn closed() -> Self {
        Self::new(TransportErrorKind::Closed, "connection closed")
    }
}

/// Why a [`Connector`](crate::Connector) could not connect, and whether retrying can help.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    retryable: bool,
    message: Arc<str>,
}

impl ConnectError {
    /// A failure that may go away (refused, timed out, network down): the runner retries
    /// per its [`ReconnectPolicy`](crate::ReconnectPolicy).
    pub fn retryable(message: impl Into<Arc<str>>) -> Self {
        ConnectError {
            retryable: true,
            message: message.into(),
        }
    }

    /// A failure retrying cannot fix (for example rejected credentials): the runner stops
    /// and reports [`CoreError::Rejected`] until `connect` is called again.
    pub fn fatal(message: impl Into<Arc<str>>) -> Self {
        ConnectError {
            retryable: false,
            message: message.into(),
        }
    }

    /// Whether the runner should try again.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The reason, for humans.
    pub fn message(&self) -> &Arc<str> {
        &self.message
    }
}

impl From<TransportError> for ConnectError {
    fn from(e: TransportError) -> Self {
        ConnectError::retryable(e.to_string())
    }
}
