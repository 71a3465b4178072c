//! Connection state as the outside world sees it, and the [`AppState`] shared by modules.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::human::HumanDuration;
use crate::runtime::{MaybeSend, MaybeSync};

/// Data shared by every module, handler and callback of one client.
///
/// Use interior mutability for what changes. The runner calls
/// [`clear_connection_data`](AppState::clear_connection_data) each time a connection ends,
/// so data that only makes sense for one connection (a session id, a pending handshake)
/// does not leak into the next.
pub trait AppState: MaybeSend + MaybeSync + 'static {
    /// Forgets per-connection data. Called after a connection ends, before reconnecting.
    fn clear_connection_data(&self) {}
}

impl AppState for () {}

/// The connection state of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// The first connection attempt is in progress.
    Connecting,
    /// Connected, and reconnect callbacks have finished: ready for traffic.
    Connected,
    /// Waiting `delay` before reconnect attempt number `attempt` (1 for the first retry),
    /// because of `last_error`.
    Reconnecting {
        /// The attempt about to be made (1-based).
        attempt: u32,
        /// How long the runner waits before it.
        delay: Duration,
        /// Why the last attempt failed (or why the last connection ended).
        last_error: Arc<str>,
    },
    /// Not connected, and not trying to: see the reason.
    Disconnected(DisconnectReason),
    /// Shut down for good.
    Closed,
}

impl ConnectionState {
    /// True only in [`ConnectionState::Connected`].
    pub fn is_connected(&self) -> bool {
        matches!(self, ConnectionState::Connected)
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionState::Connecting => f.write_str("connecting"),
            ConnectionState::Connected => f.write_str("connected"),
            ConnectionState::Reconnecting {
                attempt,
                delay,
                last_error,
            } => write!(
                f,
                "reconnecting (attempt {attempt} in {}); last failure: {last_error}",
                HumanDuration(*delay)
            ),
            ConnectionState::Disconnected(reason) => write!(f, "disconnected: {reason}"),
            ConnectionState::Closed => f.write_str("closed"),
        }
    }
}

/// Why a client is in [`ConnectionState::Disconnected`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The runner has not started yet (`ClientRunner::run` was not called).
    NotStarted,
    /// `disconnect()` was called, or the builder said not to connect on start.
    Requested,
    /// The connector rejected the connection for good (e.g. bad credentials).
    Rejected(Arc<str>),
    /// The reconnect policy ran out of attempts.
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last_error: Arc<str>,
    },
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::NotStarted => f.write_str("runner not started"),
            DisconnectReason::Requested => f.write_str("disconnect requested"),
            DisconnectReason::Rejected(reason) => write!(f, "rejected: {reason}"),
            DisconnectReason::GaveUp {
                attempts,
                last_error,
            } => write!(f, "gave up after {attempts} attempts: {last_error}"),
        }
    }
}

/// Why one connection ended (reported to middleware and statistics).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionEnd {
    /// The peer sent a close frame (with its code, if any).
    PeerClosed(Option<u16>),
    /// The stream ended without a close frame.
    StreamEnded,
    /// Reading or writing failed.
    TransportError(Arc<str>),
    /// Nothing arrived within the read timeout: the peer is presumed dead.
    ReadTimeout,
    /// `disconnect()` was called.
    Requested,
    /// `reconnect()` was called.
    Reconnect,
    /// The client is shutting down.
    Shutdown,
}

impl ConnectionEnd {
    /// A short stable label, for statistics.
    pub fn label(&self) -> &'static str {
        match self {
            ConnectionEnd::PeerClosed(_) => "peer_closed",
            ConnectionEnd::StreamEnded => "stream_ended",
            ConnectionEnd::TransportError(_) => "transport_error",
            ConnectionEnd::ReadTimeout => "read_timeout",
            ConnectionEnd::Requested => "requested",
            ConnectionEnd::Reconnect => "reconnect",
            ConnectionEnd::Shutdown => "shutdown",
        }
    }

    /// True when the connection was lost rather than closed on purpose.
    pub fn is_unexpected(&self) -> bool {
        !matches!(
            self,
            ConnectionEnd::Requested | ConnectionEnd::Reconnect | ConnectionEnd::Shutdown
        )
    }
}

impl fmt::Display for ConnectionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionEnd::PeerClosed(Some(code)) => write!(f, "peer closed with code {code}"),
            ConnectionEnd::PeerClosed(None) => f.write_str("peer closed"),
            ConnectionEnd::StreamEnded => f.write_str("stream ended"),
            ConnectionEnd::TransportError(e) => write!(f, "transport error: {e}"),
            ConnectionEnd::ReadTimeout => f.write_str("read timeout (peer silent)"),
            ConnectionEnd::Requested => f.write_str("disconnect requested"),
            ConnectionEnd::Reconnect => f.write_str("reconnect requested"),
            ConnectionEnd::Shutdown => f.write_str("shutdown"),
        }
    }
}
