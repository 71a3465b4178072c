//! [`ServerBuilder`]: every setting with its default, checked at [`start`](ServerBuilder::start).
//!
//! `start` validates the configuration, loads the TLS certificate, binds (or adopts) the
//! listening socket and spawns the accept loop; a mistake in any of these is a
//! [`ServerError`] there, before any client connects.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::auth::Authenticator;
use crate::config::{DuplicateIdentity, OriginPolicy, OverflowPolicy, ServerConfig};
use crate::error::ServerError;
use crate::events::{EventSender, Events, Inbox, Messages};
use crate::listener;
use crate::server::Server;
use crate::shared::{Shared, SharedParts};
use crate::{shutdown, tls};

/// Where to listen.
enum Listen {
    Address(String),
    Listener(TcpListener),
}

/// Configures and starts a [`Server`]. Every limit has a default (the `DEFAULT_*`
/// constants of this crate); the setters say which.
///
/// ```no_run
/// # async fn demo() -> Result<(), server::ServerError> {
/// use std::time::Duration;
/// use server::{OverflowPolicy, Server};
///
/// let (server, mut inbox) = Server::builder()
///     .with_address("127.0.0.1:9000")
///     .with_max_connections(5_000)
///     .with_ping_interval(Duration::from_secs(15))
///     .with_overflow_policy(OverflowPolicy::DropOldest)
///     .start()
///     .await?;
/// while let Some((session, message)) = inbox.messages.recv().await {
///     server.send_to(session, message)?; // echo
/// }
/// # Ok(()) }
/// ```
pub struct ServerBuilder {
    listen: Listen,
    config: ServerConfig,
    tls: Option<(Vec<u8>, Vec<u8>)>,
    authenticator: Option<Arc<dyn Authenticator>>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder::new()
    }
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listen = match &self.listen {
            Listen::Address(address) => address.clone(),
            Listen::Listener(listener) => format!("{:?}", listener.local_addr().ok()),
        };
        f.debug_struct("ServerBuilder")
            .field("listen", &listen)
            .field("config", &self.config)
            .field("tls", &self.tls.is_some())
            .field("authenticator", &self.authenticator.is_some())
            .finish()
    }
}

impl Server {
    /// A builder with every default (see [`ServerBuilder`]).
    pub fn builder() -> ServerBuilder {
        ServerBuilder::new()
    }
}

impl ServerBuilder {
    /// Every default; listens on `127.0.0.1:0` (a free port on loopback) until told
    /// otherwise.
    pub fn new() -> Self {
        ServerBuilder {
            listen: Listen::Address("127.0.0.1:0".into()),
            config: ServerConfig::default(),
            tls: None,
            authenticator: None,
        }
    }

    /// Listens on `address` (`host:port`; port 0 picks a free one).
    pub fn with_address(mut self, address: impl Into<String>) -> Self {
        self.listen = Listen::Address(address.into());
        self
    }

    /// Accepts on a listener the caller already bound (socket activation, a port chosen
    /// elsewhere).
    pub fn with_listener(mut self, listener: TcpListener) -> Self {
        self.listen = Listen::Listener(listener);
        self
    }

    /// Sessions at most at once (default [`DEFAULT_MAX_CONNECTIONS`](crate::DEFAULT_MAX_CONNECTIONS));
    /// the next upgrade is answered `503 Service Unavailable` with `Retry-After`.
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.config.max_connections = max;
        self
    }

    /// Connections at most in their handshake at once (default
    /// [`DEFAULT_MAX_PENDING_HANDSHAKES`](crate::DEFAULT_MAX_PENDING_HANDSHAKES)); accepting pauses beyond it.
    pub fn with_max_pending_handshakes(mut self, max: usize) -> Self {
        self.config.max_pending_handshakes = max;
        self
    }

    /// The `Retry-After` sent with a 503 (default 1 s; whole seconds).
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.config.retry_after = after;
        self
    }

    /// Time for TCP accept → TLS → upgrade (default [`DEFAULT_HANDSHAKE_TIMEOUT`](crate::DEFAULT_HANDSHAKE_TIMEOUT), 10 s); a
    /// connection that has not upgraded by then is dropped and counted.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// Time for a session's first data message (default none); a session silent that long
    /// is closed with 1008.
    pub fn with_first_message_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.first_message_timeout = timeout;
        self
    }

    /// The largest inbound message (default 1 MiB) and outbound one: a peer that sends more
    /// is closed with 1009; a send of more is refused with
    /// [`ServerError::MessageTooLarge`] and the connection kept. Lowers the frame limit to
    /// match when needed.
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.config.max_message_size = bytes;
        self.config.max_frame_size = self.config.max_frame_size.min(bytes);
        self
    }

    /// The largest inbound frame (default 1 MiB, at most the message limit); a larger one
    /// closes the session with 1009.
    pub fn with_max_frame_size(mut self, bytes: usize) -> Self {
        self.config.max_frame_size = bytes;
        self
    }

    /// Socket read buffer per session (default 4 KiB, at least 512 bytes).
    pub fn with_read_buffer_size(mut self, bytes: usize) -> Self {
        self.config.read_buffer_size = bytes;
        self
    }

    /// Ping a session quiet for `interval` (default 20 s).
    pub fn with_ping_interval(mut self, interval: Duration) -> Self {
        self.config.ping_interval = interval;
        self
    }

    /// Close a session silent for ping interval + `timeout` (default 20 s): a half-open peer
    /// is detected within that window of its last frame.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Messages each session's outbound queue holds (default 1,024).
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.config.queue_capacity = capacity;
        self
    }

    /// What a full queue does (default [`OverflowPolicy::Disconnect`]).
    pub fn with_overflow_policy(mut self, policy: OverflowPolicy) -> Self {
        self.config.overflow = policy;
        self
    }

    /// The deadline of one socket write, and of a full queue under
    /// [`OverflowPolicy::Disconnect`] (default 10 s); missing it closes the session with 1013.
    pub fn with_send_deadline(mut self, deadline: Duration) -> Self {
        self.config.send_deadline = deadline;
        self
    }

    /// How long a close the server starts waits for the peer's reply outside shutdown
    /// (default 2 s).
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.config.close_timeout = timeout;
        self
    }

    /// Which `Origin` headers may connect (default any).
    pub fn with_origin_policy(mut self, policy: OriginPolicy) -> Self {
        self.config.origin = policy;
        self
    }

    /// Only these origins may connect (requests without `Origin`, from native clients,
    /// still may; see [`OriginPolicy::AllowList`] to require one).
    pub fn with_allowed_origins<I, S>(self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_origin_policy(OriginPolicy::AllowList {
            origins: origins.into_iter().map(Into::into).collect(),
            require: false,
        })
    }

    /// What a second session with a live identity does (default both live).
    pub fn with_duplicate_identity(mut self, policy: DuplicateIdentity) -> Self {
        self.config.duplicate_identity = policy;
        self
    }

    /// Capacity of the inbound message stream (default 1,024).
    pub fn with_inbound_capacity(mut self, capacity: usize) -> Self {
        self.config.inbound_capacity = capacity;
        self
    }

    /// Capacity of the event stream (default 1,024).
    pub fn with_event_capacity(mut self, capacity: usize) -> Self {
        self.config.event_capacity = capacity;
        self
    }

    /// Serves TLS (`wss://`) with a certificate chain and private key in PEM (checked at
    /// [`start`](Self::start)).
    pub fn with_tls_pem(
        mut self,
        cert_chain_pem: impl Into<Vec<u8>>,
        private_key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls = Some((cert_chain_pem.into(), private_key_pem.into()));
        self
    }

    /// Decides each upgrade's identity (or refuses it); see [`Authenticator`].
    pub fn with_authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// The configuration so far.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Checks the settings, binds, and starts accepting. Returns the handle and the
    /// receiving ends (messages and events).
    pub async fn start(self) -> Result<(Server, Inbox), ServerError> {
        self.config.validate()?;
        let tls = match &self.tls {
            Some((cert, key)) => Some(tls::acceptor(cert, key)?),
            None => None,
        };
        let listener = match self.listen {
            Listen::Listener(listener) => listener,
            Listen::Address(address) => TcpListener::bind(&address)
                .await
                .map_err(|source| ServerError::Bind { address, source })?,
        };
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            address: "the given listener".into(),
            source,
        })?;
        let (inbound_tx, inbound_rx) = mpsc::channel(self.config.inbound_capacity);
        let (events_tx, events_rx) = mpsc::channel(self.config.event_capacity);
        let (trigger, _) = shutdown::channel();
        let shared = Arc::new(Shared::new(SharedParts {
            config: self.config,
            events: EventSender::new(events_tx),
            inbound: inbound_tx,
            authenticator: self.authenticator,
            tls,
            shutdown: trigger,
            local_addr,
        }));
        let task = tokio::spawn(listener::run(shared.clone(), listener));
        Ok((
            Server::new(shared, task),
            Inbox {
                messages: Messages::new(inbound_rx),
                events: Events::new(events_rx),
            },
        ))
    }
}
