//! [`Connector`]: how a connection is made, and remade after it drops.
//!
//! core-pre depends on no socket library. A transport (the `client_ws` crate for real
//! WebSockets, [`memory`](crate::memory) for tests) turns its socket into a [`Connection`]:
//! a stream of inbound [`Message`]s and a sink for outbound ones. A connector may also run a
//! protocol handshake or authentication before it hands the connection over, so the runner
//! only ever sees ready connections.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Sink, Stream};

use crate::error::{ConnectError, TransportError};
use crate::message::Message;
use crate::runtime::{BoxFuture, BoxSink, BoxStream, MaybeSend, MaybeSync};
use crate::state::AppState;

/// The inbound half of a connection.
pub type MessageStream = BoxStream<'static, Result<Message, TransportError>>;
/// The outbound half of a connection.
pub type MessageSink = BoxSink<'static, Message, TransportError>;

/// An open connection: the two halves the runner drives.
pub struct Connection {
    /// Messages from the peer. The stream ending means the connection is gone.
    pub stream: MessageStream,
    /// Messages to the peer.
    pub sink: MessageSink,
    /// This connection's own read timeout, if the connector set one.
    pub read_timeout: ReadTimeout,
}

/// How long a connection may stay silent before it is presumed dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadTimeout {
    /// The client's setting ([`ClientConfig::read_timeout`](crate::ClientConfig::read_timeout)).
    #[default]
    Inherit,
    /// No read timeout for this connection.
    Never,
    /// This limit, for this connection.
    After(Duration),
}

impl ReadTimeout {
    /// The limit in force, given the client's setting.
    pub fn resolve(self, client: Option<Duration>) -> Option<Duration> {
        match self {
            ReadTimeout::Inherit => client,
            ReadTimeout::Never => None,
            ReadTimeout::After(limit) => Some(limit),
        }
    }
}

impl Connection {
    /// A connection from any stream and sink of [`Message`]s.
    pub fn new<St, Si>(stream: St, sink: Si) -> Self
    where
        St: Stream<Item = Result<Message, TransportError>> + MaybeSend + 'static,
        Si: Sink<Message, Error = TransportError> + MaybeSend + 'static,
    {
        Connection {
            stream: Box::pin(stream),
            sink: Box::pin(sink),
            read_timeout: ReadTimeout::Inherit,
        }
    }

    /// Sets this connection's read timeout. A protocol handshake often announces how long
    /// the server may stay silent (Engine.IO's `pingInterval + pingTimeout`); a connector
    /// passes it on here so dead peers are detected in the server's own window.
    pub fn with_read_timeout(mut self, read_timeout: ReadTimeout) -> Self {
        self.read_timeout = read_timeout;
        self
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connection { .. }")
    }
}

/// What the runner tells a connector about the attempt it is making, and where the
/// connector says the attempt goes (so a failed or timed-out attempt can be reported).
#[derive(Debug)]
pub struct ConnectContext<S> {
    /// The shared application state.
    pub state: Arc<S>,
    /// 0 for the first connection, then how many attempts have failed in a row (so a
    /// connector can rotate through several servers).
    pub attempt: u32,
    reported: Arc<Mutex<Reported>>,
}

/// What a connector reported about its attempt.
#[derive(Debug, Default)]
struct Reported {
    endpoint: Option<Arc<str>>,
}

impl<S> Clone for ConnectContext<S> {
    fn clone(&self) -> Self {
        ConnectContext {
            state: self.state.clone(),
            attempt: self.attempt,
            reported: self.reported.clone(),
        }
    }
}

impl<S> ConnectContext<S> {
    pub(crate) fn new(state: Arc<S>, attempt: u32) -> Self {
        ConnectContext {
            state,
            attempt,
            reported: Arc::default(),
        }
    }

    fn reported(&self) -> std::sync::MutexGuard<'_, Reported> {
        // The data stays consistent whatever panicked while holding the lock.
        crate::runtime::lock(&self.reported)
    }

    /// Names the endpoint this attempt goes to (a URL or `host:port`, without secrets).
    /// Call it before connecting: if the attempt fails or times out, the runner records
    /// where it went, and a [`ConnectFailure`](crate::ConnectFailure) lists the endpoints
    /// tried.
    pub fn set_endpoint(&self, endpoint: impl Into<Arc<str>>) {
        self.reported().endpoint = Some(endpoint.into());
    }

    /// The endpoint named with [`set_endpoint`](Self::set_endpoint), if any.
    pub fn endpoint(&self) -> Option<Arc<str>> {
        self.reported().endpoint.clone()
    }
}

/// Makes connections. Called for the first connection and for every reconnect.
///
/// Return [`ConnectError::retryable`] for failures that may pass and
/// [`ConnectError::fatal`] for ones that will not (the runner then stops trying).
///
/// ```
/// use core_pre::{BoxFuture, ConnectContext, ConnectError, Connection, Connector};
///
/// struct Refuser;
///
/// impl Connector<()> for Refuser {
///     fn connect<'a>(&'a self, _ctx: ConnectContext<()>) -> BoxFuture<'a, Result<Connection, ConnectError>> {
///         Box::pin(async { Err(ConnectError::retryable("nobody is listening")) })
///     }
/// }
/// ```
pub trait Connector<S: AppState>: MaybeSend + MaybeSync + 'static {
    /// Opens one connection.
    fn connect<'a>(
        &'a self,
        ctx: ConnectContext<S>,
    ) -> BoxFuture<'a, Result<Connection, ConnectError>>;
}
