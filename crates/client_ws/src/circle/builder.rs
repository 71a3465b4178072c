//! [`CircleWsClientBuilder`]: URL, key, timeouts, heartbeat, reconnect policy, headers.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use core_pre::{ClientBuilder, Message, ReconnectPolicy};

use super::client::{CircleWsClient, Inner};
use super::dispatch::RpcDispatch;
use super::handshake::CircleConnector;
use super::state::{CircleState, Settings};
use crate::auth::{AuthError, KeyPair};
use crate::error::{ClientWsError, Result};
use crate::transport::{WsConfig, redacted_url};

/// Default limit on one call (and on each authentication step): 10 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default heartbeat interval (see [`CircleWsClientBuilder::with_heartbeat`]): 20 s.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(20);
/// Default heartbeat timeout, the silence after which the server is presumed dead: 45 s.
pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(45);
/// Default limit on how long `connect()` waits: 30 s.
pub const DEFAULT_CONNECT_WAIT: Duration = Duration::from_secs(30);

/// Builds a [`CircleWsClient`].
///
/// ```
/// use client_ws::CircleWsClientBuilder;
/// use std::time::Duration;
///
/// let client = CircleWsClientBuilder::new("ws://127.0.0.1:9000")
///     .with_keypair("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
///     .with_request_timeout(Duration::from_secs(5))
///     .with_heartbeat(Duration::from_secs(10), Duration::from_secs(25))
///     .with_header("User-Agent", "my-bot/1.0")
///     .build()
///     .unwrap();
/// // The private key never shows.
/// assert!(!format!("{client:?}").contains("4c0883a6"));
/// ```
pub struct CircleWsClientBuilder {
    ws: WsConfig,
    key: Option<std::result::Result<KeyPair, AuthError>>,
    request_timeout: Duration,
    heartbeat: Option<(Duration, Duration)>,
    reconnect: ReconnectPolicy,
    connect_wait: Duration,
    notification_capacity: usize,
    max_pending: usize,
}

impl CircleWsClientBuilder {
    /// A builder for a client of the server at `url` (`ws://` or `wss://`), without a key
    /// (no authentication) and with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        CircleWsClientBuilder {
            ws: WsConfig::new(url),
            key: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            heartbeat: Some((DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT)),
            reconnect: ReconnectPolicy::default(),
            connect_wait: DEFAULT_CONNECT_WAIT,
            notification_capacity: 256,
            max_pending: 1024,
        }
    }

    /// Authenticates every connection with this private key (64 hex characters, optional
    /// `0x`). A malformed key makes [`build`](Self::build) fail; the key itself never
    /// appears in errors, logs or `Debug`.
    pub fn with_keypair(mut self, private_key_hex: &str) -> Self {
        self.key = Some(KeyPair::from_hex(private_key_hex));
        self
    }

    /// Authenticates every connection with this key pair.
    pub fn with_key(mut self, key: KeyPair) -> Self {
        self.key = Some(Ok(key));
        self
    }

    /// Limits each call (and each authentication step) to `timeout` (default 10 s).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Keeps the connection alive and checks the server: natively a WebSocket ping every
    /// `interval`, in the browser a `ping` call; a connection that hears nothing for
    /// `timeout` is closed and re-made. Defaults: 20 s and 45 s.
    ///
    /// (Named apart from core-pre's `ClientBuilder::with_keep_alive(interval, message)`,
    /// which only sends; this one also gives up on a silent server.)
    pub fn with_heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat = Some((interval, timeout));
        self
    }

    /// No heartbeat: no keep-alive and no dead-peer detection.
    pub fn without_heartbeat(mut self) -> Self {
        self.heartbeat = None;
        self
    }

    /// How reconnects are paced (exponential backoff with jitter by default).
    pub fn with_reconnect_policy(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// Adds a handshake header (natively; browsers do not allow it).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.ws = self.ws.with_header(name, value);
        self
    }

    /// Limits the opening of one WebSocket (TCP, TLS, upgrade; default 10 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.ws = self.ws.with_connect_timeout(timeout);
        self
    }

    /// How long [`CircleWsClient::connect`] waits for an authenticated connection before
    /// it reports the last failure (default 30 s). The client keeps trying afterwards.
    pub fn with_connect_wait(mut self, wait: Duration) -> Self {
        self.connect_wait = wait;
        self
    }

    /// Changes any other transport setting (message size, TLS roots…).
    ///
    /// ```
    /// # use client_ws::CircleWsClientBuilder;
    /// let builder = CircleWsClientBuilder::new("wss://circle.example/rpc")
    ///     .configure_transport(|ws| ws.with_max_message_size(1 << 20));
    /// ```
    pub fn configure_transport(mut self, configure: impl FnOnce(WsConfig) -> WsConfig) -> Self {
        self.ws = configure(self.ws);
        self
    }

    /// How many notifications a slow [`Notifications`](super::Notifications) receiver may
    /// fall behind before it skips some (default 256).
    pub fn with_notification_capacity(mut self, capacity: usize) -> Self {
        self.notification_capacity = capacity.max(1);
        self
    }

    /// How many calls may wait for answers at once (default 1024).
    pub fn with_max_pending(mut self, max: usize) -> Self {
        self.max_pending = max.max(1);
        self
    }

    /// Builds the client. It does not connect until [`CircleWsClient::connect`].
    // In the browser nothing is `Send` and nothing needs to be: there is one thread.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub fn build(self) -> Result<CircleWsClient> {
        let key = match self.key {
            None => None,
            Some(Ok(key)) => Some(Arc::new(key)),
            Some(Err(error)) => return Err(ClientWsError::Auth(error)),
        };
        let browser = core_pre::runtime::IN_BROWSER;
        let settings = Settings {
            app_keep_alive: self
                .heartbeat
                .filter(|_| browser)
                .map(|(interval, _)| interval),
            max_pending: self.max_pending,
        };
        let notification_capacity = self.notification_capacity;
        let public_key = key.as_ref().map(|k| k.public_key_hex());
        let url = self.ws.url().to_owned();
        let max_message_size = self.ws.max_message_size();
        // The runner's limit on one attempt covers opening plus both handshake steps.
        let attempt_limit =
            self.ws.connect_timeout() + self.request_timeout * 2 + Duration::from_secs(1);
        let connector = CircleConnector {
            ws: self.ws,
            key,
            step_timeout: self.request_timeout,
        };
        let mut builder = ClientBuilder::with_state_fn(connector, |watch| {
            CircleState::new(settings, notification_capacity, watch)
        })
        .with_module::<RpcDispatch>()
        .with_connect_on_start(false)
        .with_reconnect_policy(self.reconnect)
        .with_connect_timeout(attempt_limit)
        .with_wait_timeout(self.connect_wait);
        builder = match self.heartbeat {
            None => builder.without_keep_alive().with_read_timeout(None),
            // The browser's keep-alive is the dispatch module's `ping` call.
            Some((_, timeout)) if browser => builder
                .without_keep_alive()
                .with_read_timeout(Some(timeout)),
            Some((interval, timeout)) => builder
                .with_keep_alive(interval, Message::Ping(bytes::Bytes::new()))
                .with_read_timeout(Some(timeout)),
        };
        let (client, runner) = builder.build();
        Ok(CircleWsClient {
            inner: Arc::new(Inner {
                client,
                runner: Mutex::new(Some(runner)),
                task: Mutex::new(None),
                url,
                public_key,
                request_timeout: self.request_timeout,
                max_message_size,
            }),
        })
    }
}

impl fmt::Debug for CircleWsClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match &self.key {
            None => "none".to_string(),
            Some(Ok(key)) => format!("public key {}", key.public_key_hex()),
            Some(Err(_)) => "invalid (redacted)".to_string(),
        };
        f.debug_struct("CircleWsClientBuilder")
            .field("url", &redacted_url(self.ws.url()))
            .field("key", &key)
            .field("request_timeout", &self.request_timeout)
            .field("heartbeat", &self.heartbeat)
            .field("reconnect", &self.reconnect)
            .field("transport", &self.ws)
            .finish()
    }
}
