//! The crate's error type: one enum, with messages that say what to do next.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::human::HumanDuration;
use crate::state::ConnectionState;

/// A boxed error, as returned by modules and callbacks.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of this crate.
pub type CoreResult<T> = Result<T, CoreError>;

/// Everything that can go wrong in a core-pre client.
///
/// `Display` is a sentence for people (what happened and what to do); `Debug` is for
/// developers.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The client was shut down (or every `Client` was dropped). Nothing else will work on it.
    #[error("the client is shut down; build a new client to connect again")]
    ClientClosed,

    /// There is no live connection right now. The state says what the client is doing
    /// (while reconnecting: the next attempt and why the last one failed).
    #[error("not connected: {state}; wait with `wait_connected` or call `connect`")]
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
    #[error("timed out after {} waiting for {waiting_for}", HumanDuration(*.after))]
    Timeout {
        /// How long the call waited.
        after: Duration,
        /// What it was waiting for.
        waiting_for: &'static str,
    },

    /// Waiting for a connection ran out of time; the runner keeps trying in the
    /// background. `failure` tells what the attempts so far ran into.
    #[error("{}", connect_timeout_message(*.after, .state, .failure.as_deref()))]
    ConnectTimeout {
        /// How long the call waited.
        after: Duration,
        /// The connection state when the wait ended.
        state: ConnectionState,
        /// The failed attempts since the last connection, if any failed yet.
        failure: Option<Box<ConnectFailure>>,
    },

    /// Connecting failed in a way retrying cannot fix (rejected credentials, for example).
    #[error("connection rejected: {reason}")]
    Rejected {
        /// The reason given by the connector.
        reason: Arc<str>,
    },

    /// The reconnect policy ran out of attempts.
    #[error("{}", gave_up_message(*.attempts, .last_error, .failure.as_deref()))]
    GaveUp {
        /// How many attempts were made.
        attempts: u32,
        /// The error of the last attempt.
        last_error: Arc<str>,
        /// The failed connection attempts in detail (endpoints, time spent, last error).
        failure: Option<Box<ConnectFailure>>,
    },

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

impl CoreError {
    /// The failed connection attempts behind a [`ConnectTimeout`](CoreError::ConnectTimeout)
    /// or [`GaveUp`](CoreError::GaveUp), if there were any.
    pub fn connect_failure(&self) -> Option<&ConnectFailure> {
        match self {
            CoreError::ConnectTimeout { failure, .. } | CoreError::GaveUp { failure, .. } => {
                failure.as_deref()
            }
            _ => None,
        }
    }
}

fn connect_timeout_message(
    after: Duration,
    state: &ConnectionState,
    failure: Option<&ConnectFailure>,
) -> String {
    match failure {
        Some(failure) => {
            // The state's own last failure is the one just described: say only what is next.
            let next = match state {
                ConnectionState::Reconnecting { attempt, delay, .. } => {
                    format!("attempt {attempt} in {}", HumanDuration(*delay))
                }
                ConnectionState::Connecting => "an attempt is in progress".to_owned(),
                other => other.to_string(),
            };
            format!(
                "not connected after {}: {failure}; the client keeps trying ({next})",
                HumanDuration(after)
            )
        }
        None => format!(
            "not connected after {}: the first connection attempt has not finished yet ({state}); wait longer or raise the connect timeout",
            HumanDuration(after)
        ),
    }
}

fn gave_up_message(attempts: u32, last_error: &str, failure: Option<&ConnectFailure>) -> String {
    match failure {
        Some(failure) => format!(
            "gave up after {attempts} connection attempts: {failure}; call `connect` to try again"
        ),
        None => format!(
            "gave up after {attempts} connection attempts; the last error: {last_error}; call `connect` to try again"
        ),
    }
}

/// What the runner knows about the connection attempts that failed since the last good
/// connection: how many, for how long, where, and the last error.
///
/// Reported by [`CoreError::ConnectTimeout`] and [`CoreError::GaveUp`], so a program that
/// cannot connect can say why. Its `Display` is a clause like `3 attempts over 4.2 s to
/// wss://example.com/ failed; the last one: could not reach example.com:443: …`.
#[derive(Debug, Clone)]
pub struct ConnectFailure {
    /// Failed attempts in a row.
    pub attempts: u32,
    /// How long since the first of them started.
    pub trying_for: Duration,
    /// The endpoints tried, in the order first tried, as the connector named them with
    /// [`ConnectContext::set_endpoint`](crate::ConnectContext::set_endpoint) (at most
    /// [`ConnectFailure::MAX_ENDPOINTS`]).
    pub endpoints: Vec<Arc<str>>,
    /// The endpoint of the last attempt, if the connector named it.
    pub last_endpoint: Option<Arc<str>>,
    /// The last attempt's error.
    pub last_error: ConnectError,
}

impl ConnectFailure {
    /// How many distinct endpoints a report keeps.
    pub const MAX_ENDPOINTS: usize = 32;
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.attempts == 1 { "" } else { "s" };
        write!(
            f,
            "{} attempt{plural} over {}",
            self.attempts,
            HumanDuration(self.trying_for)
        )?;
        if !self.endpoints.is_empty() {
            f.write_str(" to ")?;
            for (i, endpoint) in self.endpoints.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                f.write_str(endpoint)?;
            }
        }
        let last = if self.attempts == 1 {
            "failed"
        } else {
            "failed; the last one"
        };
        write!(f, " {last}: {}", self.last_error)
    }
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

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Closed => "connection closed",
            TransportErrorKind::Io => "I/O error",
            TransportErrorKind::Protocol => "protocol error",
            TransportErrorKind::TooLarge => "message too large",
            TransportErrorKind::Tls => "TLS error",
            TransportErrorKind::Other => "transport error",
        })
    }
}

/// A transport failure: a kind and a human-readable message (never containing secrets).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the connection failed ({kind}): {message}")]
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

/// What stopped a connection attempt, as far as the connector can tell. Lets the layer
/// above give advice that fits (check DNS, check the port, check the proxy...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectErrorKind {
    /// The host name did not resolve (no network, DNS down, a typo in the host).
    Unresolved,
    /// The host refused the connection (nothing listens on the port, or a firewall
    /// rejects it).
    Refused,
    /// The host or network is unreachable (no route, network down).
    Unreachable,
    /// No answer in time.
    TimedOut,
    /// The TLS handshake or the certificate check failed.
    Tls,
    /// The server answered the connection request with this HTTP status instead of
    /// accepting it.
    HttpStatus(u16),
    /// The connection opened but the peer did not complete the protocol's handshake
    /// (closed, reset, answered something unexpected).
    Handshake,
    /// The peer refused the credentials.
    Rejected,
    /// The client's own settings are wrong (URL, headers, certificates).
    Config,
    /// Anything else, or not known.
    Other,
}

impl fmt::Display for ConnectErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectErrorKind::Unresolved => f.write_str("host name not resolved"),
            ConnectErrorKind::Refused => f.write_str("connection refused"),
            ConnectErrorKind::Unreachable => f.write_str("network unreachable"),
            ConnectErrorKind::TimedOut => f.write_str("timed out"),
            ConnectErrorKind::Tls => f.write_str("TLS failure"),
            ConnectErrorKind::HttpStatus(status) => write!(f, "HTTP status {status}"),
            ConnectErrorKind::Handshake => f.write_str("handshake failure"),
            ConnectErrorKind::Rejected => f.write_str("rejected"),
            ConnectErrorKind::Config => f.write_str("invalid settings"),
            ConnectErrorKind::Other => f.write_str("other failure"),
        }
    }
}

/// Why a [`Connector`](crate::Connector) could not connect, whether retrying can help, and
/// (optionally) what [kind](ConnectErrorKind) of failure it was.
///
/// ```
/// use core_pre::{ConnectError, ConnectErrorKind};
///
/// let error = ConnectError::retryable("could not reach example.invalid:443: no such host")
///     .with_kind(ConnectErrorKind::Unresolved);
/// assert!(error.is_retryable());
/// assert_eq!(error.kind(), ConnectErrorKind::Unresolved);
/// assert_eq!(error.to_string(), "could not reach example.invalid:443: no such host");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    retryable: bool,
    kind: ConnectErrorKind,
    message: Arc<str>,
}

impl ConnectError {
    /// A failure that may go away (refused, timed out, network down): the runner retries
    /// per its [`ReconnectPolicy`](crate::ReconnectPolicy).
    pub fn retryable(message: impl Into<Arc<str>>) -> Self {
        ConnectError {
            retryable: true,
            kind: ConnectErrorKind::Other,
            message: message.into(),
        }
    }

    /// A failure retrying cannot fix (for example rejected credentials): the runner stops
    /// and reports [`CoreError::Rejected`] until `connect` is called again.
    pub fn fatal(message: impl Into<Arc<str>>) -> Self {
        ConnectError {
            retryable: false,
            kind: ConnectErrorKind::Other,
            message: message.into(),
        }
    }

    /// Says what kind of failure this is (default [`ConnectErrorKind::Other`]).
    pub fn with_kind(mut self, kind: ConnectErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// Whether the runner should try again.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ConnectErrorKind {
        self.kind
    }

    /// The reason, for humans.
    pub fn message(&self) -> &Arc<str> {
        &self.message
    }
}

impl From<TransportError> for ConnectError {
    fn from(e: TransportError) -> Self {
        let kind = match e.kind {
            TransportErrorKind::Tls => ConnectErrorKind::Tls,
            TransportErrorKind::Closed | TransportErrorKind::Protocol => {
                ConnectErrorKind::Handshake
            }
            _ => ConnectErrorKind::Other,
        };
        ConnectError::retryable(e.to_string()).with_kind(kind)
    }
}
