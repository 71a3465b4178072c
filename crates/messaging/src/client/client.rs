//! [`MessagingClient`]: publish, subscribe, request/reply over one WebSocket link.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

// `std::time::SystemTime` natively; the browser clock in wasm32 (std's panics there).
use core_pre::runtime::SystemTime;

use bytes::Bytes;
use client_ws::WsConfig;
use core_pre::{
    Client, ClientBuilder, ConnectionState, CoreError, HandlerContext, Message, runtime,
};
use tokio::sync::watch;

use super::config::{ClientConfig, Codec};
use super::connector::MessagingConnector;
use super::shared::{Shared, from_core};
use super::subscription::Subscription;
use crate::error::MessagingError;
use crate::message::BrokerMessage;
use crate::nats::{ConnectOptions, encode};
use crate::subject::{Pattern, Subject, check_queue_group};

/// What the current connection is, for [`MessagingClient::session`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Session {
    /// The session id: the one the hub's `hello` assigned (`json`), or one the client
    /// generated (`nats`, stable across reconnects).
    pub id: String,
    /// When the current connection was made.
    pub connected_at: Option<SystemTime>,
    /// The largest body the broker accepts.
    pub max_payload: usize,
    /// The broker's name and version as it announced them (`hub` for our hub).
    pub server: String,
}

struct Inner {
    client: Client<Shared>,
    shared: Arc<Shared>,
    keep_alive: runtime::TaskHandle<()>,
    url: String,
    codec: Codec,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.keep_alive.abort();
        self.shared.close_subscriptions();
    }
}

/// A messaging client: one link to a NATS server (codec `nats`) or our hub (`json`),
/// natively or in the browser, reconnecting by itself. Cheap to clone.
///
/// * Subscriptions are restored after every reconnect before any new publish goes out.
/// * Requests share one wildcard inbox subscription per connection; each has its own
///   timeout, fails at once with [`MessagingError::NoResponders`] when nobody listens, and
///   with [`MessagingError::NotConnected`] the moment its connection drops; a reply never
///   crosses onto the next connection (each connection has a fresh inbox).
/// * Every queue is bounded: subscriptions drop new messages when full and count them
///   ([`Subscription::dropped`]); requests in flight are capped; sends wait a bounded time
///   for room in the outbound queue. Publishing while disconnected fails at once with
///   [`MessagingError::NotConnected`] (nothing stale is sent later).
///
/// ```no_run
/// # async fn demo() -> Result<(), messaging::MessagingError> {
/// use messaging::client::{ClientConfig, Codec, MessagingClient};
/// use std::time::Duration;
///
/// let client = MessagingClient::connect(ClientConfig::new("ws://127.0.0.1:4223", Codec::Nats)).await?;
/// let mut orders = client.subscribe("orders.*", None).await?;
/// client.publish("orders.new", "42").await?;
/// let first = orders.recv().await;
/// let reply = client.request("prices.get", "EURUSD", Duration::from_secs(2)).await;
/// client.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MessagingClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MessagingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessagingClient")
            .field("url", &client_ws::redacted_url(&self.inner.url))
            .field("codec", &self.inner.codec)
            .field("state", &self.state())
            .finish()
    }
}

impl MessagingClient {
    /// Starts a client and waits until it is connected (at most one and a half connect
    /// timeouts: a first attempt and part of a retry). On failure the client is shut down and the error says why: wrong
    /// credentials are [`MessagingError::AccessDenied`], anything else
    /// [`MessagingError::BrokerUnavailable`] with what the attempts ran into.
    pub async fn connect(config: ClientConfig) -> Result<Self, MessagingError> {
        let wait = config.connect_timeout + config.connect_timeout / 2;
        let client = Self::start(config)?;
        match client.inner.client.wait_connected(wait).await {
            Ok(()) => Ok(client),
            Err(error) => {
                let error = from_core(error);
                client.shutdown().await;
                Err(error)
            }
        }
    }

    /// Starts a client that connects (and reconnects) in the background; see
    /// [`state`](Self::state) and [`wait_connected`](Self::wait_connected). Needs a tokio
    /// runtime natively.
    pub fn start(config: ClientConfig) -> Result<Self, MessagingError> {
        config.check()?;
        let mut ws = WsConfig::new(config.url.clone())
            .with_connect_timeout(config.connect_timeout)
            .with_max_message_size(config.max_frame)
            .with_headers(config.headers.iter().cloned());
        if let (Codec::Json, Some(token)) = (config.codec, &config.auth_token) {
            ws = ws.with_bearer_token(token);
        }
        let connector = MessagingConnector {
            ws,
            codec: config.codec,
            options: ConnectOptions::new(config.auth_token.clone(), config.name.clone()),
        };
        let codec = config.codec;
        let (capacity, max_pending) = (config.subscription_capacity, config.max_pending_requests);
        let client = ClientBuilder::with_state_fn(connector, move |watch| {
            Shared::new(codec, watch, capacity, max_pending)
        })
        .with_inline_handler(|msg: &Message, ctx: &HandlerContext<Shared>| {
            ctx.state.dispatch(msg, &ctx.outbound)
        })
        .on_connect(|ctx: core_pre::CallbackContext<Shared>| async move {
            ctx.state.send_missed_subscriptions(&ctx.outbound);
            Ok(())
        })
        .with_reconnect_policy(config.reconnect.clone())
        // One limit for the whole attempt: WebSocket and handshake.
        .with_connect_timeout(config.connect_timeout)
        .with_outbound_capacity(config.outbound_capacity)
        .with_read_timeout(Some(config.ping_interval * 3))
        .without_keep_alive()
        .spawn();
        let shared = client.app_state().clone();
        let keep_alive = runtime::spawn(keep_alive(
            Arc::downgrade(&shared),
            client.outbound(),
            config.ping_interval,
        ));
        Ok(MessagingClient {
            inner: Arc::new(Inner {
                client,
                shared,
                keep_alive,
                url: config.url,
                codec,
            }),
        })
    }

    /// The connection state now.
    pub fn state(&self) -> ConnectionState {
        self.inner.client.connection_state()
    }

    /// A receiver that sees every change of connection state.
    pub fn watch_state(&self) -> watch::Receiver<ConnectionState> {
        self.inner.client.watch_connection_state()
    }

    /// True when connected and ready.
    pub fn is_connected(&self) -> bool {
        self.inner.client.is_connected()
    }

    /// Waits until connected, for at most `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), MessagingError> {
        self.inner
            .client
            .wait_connected(timeout)
            .await
            .map_err(from_core)
    }

    /// The codec this client speaks.
    pub fn codec(&self) -> Codec {
        self.inner.codec
    }

    /// The current session (id, connection time, the broker's `max_payload`).
    pub fn session(&self) -> Session {
        let view = runtime::lock(&self.inner.shared.session).clone();
        Session {
            id: if view.id.is_empty() {
                self.inner.shared.own_session_id.clone()
            } else {
                view.id
            },
            connected_at: view.connected_at,
            max_payload: self.max_payload(),
            server: view.server,
        }
    }

    /// The largest body the broker accepts (from `INFO` or `hello`).
    pub fn max_payload(&self) -> usize {
        self.inner.shared.max_payload.load(Ordering::Relaxed)
    }

    /// The last error the broker reported asynchronously (`-ERR`, an `err` frame), if any.
    pub fn last_error(&self) -> Option<MessagingError> {
        runtime::lock(&self.inner.shared.last_error).clone()
    }

    /// How many errors the broker reported asynchronously.
    pub fn server_errors(&self) -> u64 {
        self.inner.shared.server_errors.load(Ordering::Relaxed)
    }

    /// Outbound frames discarded because their connection dropped before they were written.
    pub fn discarded_outbound(&self) -> u64 {
        self.inner.client.discarded_outbound()
    }

    fn check_size(&self, body: &Bytes) -> Result<(), MessagingError> {
        let max = self.max_payload();
        if body.len() > max {
            return Err(MessagingError::TooLarge {
                size: body.len(),
                max,
            });
        }
        Ok(())
    }

    async fn send(&self, frame: Message) -> Result<(), MessagingError> {
        self.inner.client.send(frame).await.map_err(from_core)
    }

    /// Publishes `body` on `subject` (concrete: no wildcards).
    pub async fn publish(
        &self,
        subject: impl AsRef<str>,
        body: impl Into<Bytes>,
    ) -> Result<(), MessagingError> {
        self.publish_inner(subject.as_ref(), None, body.into())
            .await
    }

    /// Publishes with a reply subject (a request whose reply you collect yourself).
    pub async fn publish_with_reply(
        &self,
        subject: impl AsRef<str>,
        reply_to: impl AsRef<str>,
        body: impl Into<Bytes>,
    ) -> Result<(), MessagingError> {
        let reply_to = Subject::new(reply_to)?;
        self.publish_inner(subject.as_ref(), Some(reply_to.as_str()), body.into())
            .await
    }

    /// Publishes a [`BrokerMessage`] as it is.
    pub async fn publish_message(&self, message: &BrokerMessage) -> Result<(), MessagingError> {
        self.publish_inner(
            message.subject.as_str(),
            message.reply_to.as_ref().map(Subject::as_str),
            message.body.clone(),
        )
        .await
    }

    /// Publishes with NATS headers (`HPUB`; the `nats` codec only).
    pub async fn publish_with_headers(
        &self,
        subject: impl AsRef<str>,
        headers: &[(String, String)],
        body: impl Into<Bytes>,
    ) -> Result<(), MessagingError> {
        if self.inner.codec != Codec::Nats {
            return Err(MessagingError::Protocol {
                message: "headers need the nats codec; the json envelope has none".into(),
            });
        }
        let subject = Subject::new(subject)?;
        let body = body.into();
        self.check_size(&body)?;
        let mut buf = bytes::BytesMut::new();
        encode::hpublish(&mut buf, subject.as_str(), None, headers, &body).map_err(|e| {
            MessagingError::Protocol {
                message: e.to_string(),
            }
        })?;
        self.inner
            .shared
            .last_publish_size
            .store(buf.len(), Ordering::Relaxed);
        self.send(Message::binary(buf.freeze())).await
    }

    async fn publish_inner(
        &self,
        subject: &str,
        reply_to: Option<&str>,
        body: Bytes,
    ) -> Result<(), MessagingError> {
        let subject = Subject::new(subject)?;
        self.check_size(&body)?;
        self.inner
            .shared
            .last_publish_size
            .store(body.len(), Ordering::Relaxed);
        let frame = self
            .inner
            .shared
            .pub_frame(subject.as_str(), reply_to, &body);
        self.send(frame).await
    }

    /// Subscribes to `pattern` (`*` and a final `>` allowed), optionally in a queue group
    /// (each message then reaches one member of the group). Works while disconnected too:
    /// the subscription is sent when the connection is (re)made.
    pub async fn subscribe(
        &self,
        pattern: impl AsRef<str>,
        queue: Option<&str>,
    ) -> Result<Subscription, MessagingError> {
        let pattern = Pattern::new(pattern)?;
        if let Some(queue) = queue {
            check_queue_group(queue)?;
        }
        let outbound = self.inner.client.outbound();
        let new = self.inner.shared.add_subscription(
            pattern.clone(),
            queue.map(str::to_owned),
            &outbound,
            false,
        )?;
        let subscription = Subscription::new(
            new.sid,
            pattern,
            queue.map(str::to_owned),
            new.rx,
            new.dropped,
            self.inner.shared.clone(),
            outbound.clone(),
        );
        if let Some(frame) = new.later {
            // The outbound queue was full: wait (bounded) for room.
            outbound.send(frame).await.map_err(from_core)?;
        }
        Ok(subscription)
    }

    /// The messages sent to this client's session (`_SESSION.<id>`, see
    /// [`session`](Self::session)): with `nats` a subscription to the client's own session
    /// subject; with `json` the hub's implicit one (nothing is sent), following the session
    /// id the hub assigns on each connection.
    pub async fn subscribe_session(&self) -> Result<Subscription, MessagingError> {
        match self.inner.codec {
            Codec::Nats => {
                let subject = Subject::session(&self.inner.shared.own_session_id)?;
                self.subscribe(subject.as_str(), None).await
            }
            Codec::Json => {
                let pattern = Pattern::new(format!("{}>", crate::subject::SESSION_PREFIX))?;
                let outbound = self.inner.client.outbound();
                let new =
                    self.inner
                        .shared
                        .add_subscription(pattern.clone(), None, &outbound, true)?;
                Ok(Subscription::new(
                    new.sid,
                    pattern,
                    None,
                    new.rx,
                    new.dropped,
                    self.inner.shared.clone(),
                    outbound,
                ))
            }
        }
    }

    /// Sends a request and waits up to `timeout` for its reply.
    ///
    /// Fails with [`MessagingError::NoResponders`] at once when nothing is subscribed to
    /// `subject`, [`MessagingError::Timeout`] when no reply comes in time,
    /// [`MessagingError::NotConnected`] at once when the connection drops (or is not up),
    /// and [`MessagingError::QuotaExceeded`] when too many requests are in flight.
    pub async fn request(
        &self,
        subject: impl AsRef<str>,
        body: impl Into<Bytes>,
        timeout: Duration,
    ) -> Result<BrokerMessage, MessagingError> {
        let subject = Subject::new(subject)?;
        let body = body.into();
        self.check_size(&body)?;
        let shared = &self.inner.shared;
        let inbox = runtime::lock(&shared.inbox).clone();
        let token = shared.next_token.fetch_add(1, Ordering::Relaxed);
        let waiter = shared.pending.register(token).map_err(from_core)?;
        // The inbox must be the one of the connection the request is registered on.
        if inbox.prefix.is_empty() || inbox.epoch != Some(waiter.epoch()) {
            return Err(MessagingError::NotConnected);
        }
        runtime::lock(&shared.request_subjects).insert(token, subject.as_str().to_owned());
        let reply_to = format!("{}{token}", inbox.prefix);
        shared
            .last_publish_size
            .store(body.len(), Ordering::Relaxed);
        let frame = shared.pub_frame(subject.as_str(), Some(&reply_to), &body);
        let outcome = match self.send(frame).await {
            Err(error) => Err(error),
            Ok(()) => match waiter.wait(timeout).await {
                Ok(reply) => reply,
                Err(CoreError::Timeout { .. }) => Err(MessagingError::Timeout {
                    subject: subject.as_str().to_owned(),
                    after: timeout,
                }),
                Err(error) => Err(from_core(error)),
            },
        };
        runtime::lock(&shared.request_subjects).remove(&token);
        outcome
    }

    /// Waits until the broker has processed everything sent so far (a `PING` answered by
    /// its `PONG`), for at most `timeout`.
    pub async fn flush(&self, timeout: Duration) -> Result<(), MessagingError> {
        let pong = self
            .inner
            .shared
            .queue_ping(&self.inner.client.outbound())?;
        match runtime::timeout(timeout, pong).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(MessagingError::NotConnected),
            Err(_) => Err(MessagingError::Timeout {
                subject: "PING".into(),
                after: timeout,
            }),
        }
    }

    /// Drops the current connection and makes a new one (subscriptions restored).
    pub async fn reconnect(&self) -> Result<(), MessagingError> {
        self.inner.client.reconnect().await.map_err(from_core)
    }

    /// Closes the link for good: every subscription stream ends, every waiting request
    /// fails, the background tasks stop. Idempotent.
    pub async fn shutdown(&self) {
        self.inner.keep_alive.abort();
        self.inner.shared.close_subscriptions();
        let _ = self.inner.client.shutdown().await;
    }
}

/// Pings every `interval` while connected, so a silent server is noticed (the read
/// timeout is three intervals) and idle links stay open. Stops with the client.
async fn keep_alive(shared: Weak<Shared>, outbound: core_pre::Outbound, interval: Duration) {
    loop {
        runtime::sleep(interval).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.connection.is_closed() {
            return;
        }
        if outbound.is_up() {
            // The pong is awaited by nobody: the read timeout does the judging.
            let _ = shared.queue_ping(&outbound);
        }
    }
}
