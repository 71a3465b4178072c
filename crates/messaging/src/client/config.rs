//! [`ClientConfig`] and [`Codec`]: where a [`MessagingClient`](super::MessagingClient)
//! connects, which wire format it speaks, and every bound it keeps.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use core_pre::ReconnectPolicy;

use crate::error::MessagingError;

/// The wire format of a link (`shared/protocol/messaging.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Codec {
    /// The NATS client protocol in binary WebSocket frames, against a stock `nats-server`
    /// with a `websocket { … }` listener.
    #[default]
    Nats,
    /// The JSON envelope in text frames, against our hub.
    Json,
}

impl Codec {
    /// `"nats"` or `"json"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::Nats => "nats",
            Codec::Json => "json",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Codec {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "nats" => Ok(Codec::Nats),
            "json" => Ok(Codec::Json),
            _ => Err(format!("codec {text:?} is neither \"nats\" nor \"json\"")),
        }
    }
}

/// Default bound on each subscription's queue of undelivered messages.
pub const DEFAULT_SUBSCRIPTION_CAPACITY: usize = 1024;
/// Default bound on requests waiting for replies at once.
pub const DEFAULT_MAX_PENDING_REQUESTS: usize = 1024;
/// Default interval of the client's keep-alive `PING` (`{"op":"ping"}` in `json`).
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
/// Default limit on opening a connection (WebSocket plus the protocol handshake).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach the broker, and the client's bounds. Builder-style; `Debug` never shows the
/// token or header values.
///
/// ```
/// use messaging::client::{ClientConfig, Codec};
/// use std::time::Duration;
///
/// let config = ClientConfig::new("ws://127.0.0.1:4223", Codec::Nats)
///     .with_auth_token("s3cret")
///     .with_connect_timeout(Duration::from_secs(3));
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct ClientConfig {
    pub(crate) url: String,
    pub(crate) codec: Codec,
    pub(crate) auth_token: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) connect_timeout: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) subscription_capacity: usize,
    pub(crate) max_pending_requests: usize,
    pub(crate) outbound_capacity: usize,
    pub(crate) max_frame: usize,
    pub(crate) reconnect: ReconnectPolicy,
}

impl ClientConfig {
    /// A configuration for `url` (`ws://…` or `wss://…`) speaking `codec`, with the
    /// defaults: no token, 10 s connect timeout, a keep-alive every 20 s (a silent server
    /// is dropped after three intervals), 1024 messages per subscription queue, 1024
    /// requests in flight, 1024 outbound frames, 16 MiB frames, reconnect with backoff
    /// (250 ms doubling up to 5 s, forever).
    pub fn new(url: impl Into<String>, codec: Codec) -> Self {
        ClientConfig {
            url: url.into(),
            codec,
            auth_token: None,
            name: None,
            headers: Vec::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            ping_interval: DEFAULT_PING_INTERVAL,
            subscription_capacity: DEFAULT_SUBSCRIPTION_CAPACITY,
            max_pending_requests: DEFAULT_MAX_PENDING_REQUESTS,
            outbound_capacity: 1024,
            max_frame: client_ws::DEFAULT_MAX_MESSAGE_SIZE,
            reconnect: ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(250))
                .with_max_delay(Duration::from_secs(5)),
        }
    }

    /// Checks the URL's scheme.
    pub(crate) fn check(&self) -> Result<(), MessagingError> {
        if !(self.url.starts_with("ws://") || self.url.starts_with("wss://")) {
            return Err(MessagingError::BrokerUnavailable {
                message: format!(
                    "URL {:?} is not a WebSocket URL (ws://… or wss://…)",
                    client_ws::redacted_url(&self.url)
                ),
            });
        }
        Ok(())
    }

    /// The token: `auth_token` in `nats`'s `CONNECT`; `Authorization: Bearer` in `json`.
    pub fn with_auth_token(mut self, token: impl Into<String>) -> Self {
        self.auth_token = Some(token.into());
        self
    }

    /// A client name (`nats`: shown in the server's monitoring).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a header to the WebSocket upgrade (natively; browsers send their own).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Limits opening one connection: the WebSocket and the protocol handshake.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How often the client pings the server; a server silent for three intervals is
    /// presumed dead and the client reconnects.
    pub fn with_ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Bounds each subscription's queue (at least 1). When it is full, new messages for
    /// that subscription are dropped and counted ([`Subscription::dropped`](super::Subscription::dropped)).
    pub fn with_subscription_capacity(mut self, capacity: usize) -> Self {
        self.subscription_capacity = capacity.max(1);
        self
    }

    /// Bounds the requests waiting for replies at once (beyond it a request fails with
    /// [`MessagingError::QuotaExceeded`]).
    pub fn with_max_pending_requests(mut self, max: usize) -> Self {
        self.max_pending_requests = max.max(1);
        self
    }

    /// Bounds the outbound queue (a full queue makes a send wait, then fail).
    pub fn with_outbound_capacity(mut self, capacity: usize) -> Self {
        self.outbound_capacity = capacity.max(1);
        self
    }

    /// Bounds one WebSocket frame either way.
    pub fn with_max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes.max(1024);
        self
    }

    /// How reconnects are paced.
    pub fn with_reconnect_policy(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ClientConfig")
            .field("url", &client_ws::redacted_url(&self.url))
            .field("codec", &self.codec)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("name", &self.name)
            .field("headers", &header_names)
            .field("connect_timeout", &self.connect_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("subscription_capacity", &self.subscription_capacity)
            .field("max_pending_requests", &self.max_pending_requests)
            .field("outbound_capacity", &self.outbound_capacity)
            .field("max_frame", &self.max_frame)
            .finish()
    }
}
