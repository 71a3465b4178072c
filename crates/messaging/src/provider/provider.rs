//! [`MessagingProvider`]: the provider facade of the original (`wasmcloud:messaging`): one
//! [`MessagingClient`] — one WebSocket session — per link, configured from string maps
//! merged over the provider's defaults; a [`Handler`] receives what source links subscribe
//! to, under an in-flight cap.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

// `std::time::SystemTime` natively; the browser clock in wasm32 (std's panics there).
use core_pre::runtime::SystemTime;

use bytes::Bytes;
use core_pre::{BoxError, BoxFuture, runtime};
use tokio::sync::Semaphore;

use super::config::{ConfigError, ConnectionConfig};
use crate::client::MessagingClient;
use crate::error::MessagingError;
use crate::message::BrokerMessage;
use crate::subject::Subject;

/// Receives the messages of source links (the "handler component" of the contract).
///
/// Return `Ok(Some(body))` to answer a request (the provider publishes it to the
/// message's `reply_to`), `Ok(None)` otherwise.
///
/// ```
/// use bytes::Bytes;
/// use messaging::BrokerMessage;
/// use messaging::provider::Handler;
///
/// struct Upper;
/// impl Handler for Upper {
///     fn handle_message(&self, _link: &str, msg: BrokerMessage)
///         -> messaging::provider::BoxFuture<'static, Result<Option<Bytes>, messaging::provider::BoxError>> {
///         Box::pin(async move {
///             Ok(Some(Bytes::from(String::from_utf8_lossy(&msg.body).to_uppercase())))
///         })
///     }
/// }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Handles one message that arrived on source link `link`.
    fn handle_message(
        &self,
        link: &str,
        message: BrokerMessage,
    ) -> BoxFuture<'static, Result<Option<Bytes>, BoxError>>;
}

/// A handler that does nothing (a provider used only as a target).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHandler;

impl Handler for NoHandler {
    fn handle_message(
        &self,
        _link: &str,
        _message: BrokerMessage,
    ) -> BoxFuture<'static, Result<Option<Bytes>, BoxError>> {
        Box::pin(async { Ok(None) })
    }
}

/// One link's session, as [`MessagingProvider::list_sessions`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session id (the hub's, or generated for `nats`); reachable at `_SESSION.<id>`.
    pub id: String,
    /// When the link's current connection was made.
    pub connected_at: Option<SystemTime>,
    /// `link`, `role` (`target`/`source`), `codec`, `uri` (without credentials), `state`.
    pub metadata: BTreeMap<String, String>,
}

/// Counters of the handler's work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandlerStats {
    /// Messages handed to the handler.
    pub handled: u64,
    /// Messages shed because no handler slot freed up within `handler_wait`.
    pub shed: u64,
    /// Handler calls that returned an error.
    pub failed: u64,
    /// Handler calls running now.
    pub in_flight: usize,
}

#[derive(Default)]
struct Counters {
    handled: AtomicU64,
    shed: AtomicU64,
    failed: AtomicU64,
    in_flight: AtomicUsize,
}

/// Why a provider call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The link's configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The messaging call failed.
    #[error(transparent)]
    Messaging(#[from] MessagingError),
    /// No such link.
    #[error("no link {0:?} (links are made by receive_link_config_as_target/as_source)")]
    UnknownLink(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Target,
    Source,
}

struct LinkEntry {
    role: Role,
    client: MessagingClient,
    config: ConnectionConfig,
    pumps: Vec<runtime::TaskHandle<()>>,
}

impl LinkEntry {
    async fn close(self) {
        for pump in &self.pumps {
            pump.abort();
        }
        self.client.shutdown().await;
    }
}

/// The messaging provider: links, their sessions, and the handler.
///
/// * A **target** link (a component calls the provider) gets a client for
///   [`publish`](Self::publish) and [`request`](Self::request).
/// * A **source** link (the provider calls a component) also subscribes to the link's
///   `subscriptions` and hands each message to the [`Handler`]: at most `max_in_flight`
///   calls at once; a message that finds no free slot within `handler_wait` is shed and
///   counted ([`handler_stats`](Self::handler_stats)); while it waits, the subscription's
///   own bounded queue takes the backlog (and drops, counted, when full).
/// * With `enable_session_tracking`, a link's session is listed and reachable with
///   [`send_to_session`](Self::send_to_session); what arrives for the session goes to the
///   handler (`nats` links subscribe `_SESSION.<id>` themselves; the hub does it for
///   `json` links).
pub struct MessagingProvider {
    defaults: ConnectionConfig,
    handler: Arc<dyn Handler>,
    links: tokio::sync::Mutex<HashMap<String, LinkEntry>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for MessagingProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessagingProvider")
            .field("defaults", &self.defaults)
            .field("handler_stats", &self.handler_stats())
            .finish_non_exhaustive()
    }
}

impl MessagingProvider {
    /// A provider with these defaults and this handler.
    pub fn new(defaults: ConnectionConfig, handler: impl Handler) -> Self {
        MessagingProvider {
            defaults,
            handler: Arc::new(handler),
            links: tokio::sync::Mutex::new(HashMap::new()),
            counters: Arc::default(),
        }
    }

    /// The provider's defaults.
    pub fn defaults(&self) -> &ConnectionConfig {
        &self.defaults
    }

    /// A component linked to the provider (it will publish and request): connects a
    /// session for `link` with the link's map merged over the defaults. A link of the same
    /// name is replaced.
    pub async fn receive_link_config_as_target(
        &self,
        link: &str,
        config: &HashMap<String, String>,
    ) -> Result<(), ProviderError> {
        self.add_link(link, config, Role::Target).await
    }

    /// The provider linked to a component (it delivers messages to it): connects a session
    /// for `link`, subscribes to the link's `subscriptions` and hands each message to the
    /// handler.
    pub async fn receive_link_config_as_source(
        &self,
        link: &str,
        config: &HashMap<String, String>,
    ) -> Result<(), ProviderError> {
        self.add_link(link, config, Role::Source).await
    }

    async fn add_link(
        &self,
        link: &str,
        map: &HashMap<String, String>,
        role: Role,
    ) -> Result<(), ProviderError> {
        let config = ConnectionConfig::merge(&self.defaults, &ConnectionConfig::from_map(map)?);
        let client = MessagingClient::connect(config.client_config()?).await?;
        let mut pumps = Vec::new();
        // One cap for the link: every subscription's messages share its slots.
        let slots = Arc::new(Semaphore::new(config.max_in_flight));
        let setup = async {
            if role == Role::Source {
                for spec in &config.subscriptions {
                    let sub = client
                        .subscribe(spec.pattern.as_str(), spec.queue.as_deref())
                        .await?;
                    pumps.push(self.pump(link, sub, &client, &config, &slots));
                }
            }
            if config.enable_session_tracking {
                let sub = client.subscribe_session().await?;
                pumps.push(self.pump(link, sub, &client, &config, &slots));
            }
            Ok::<(), MessagingError>(())
        };
        if let Err(error) = setup.await {
            for pump in &pumps {
                pump.abort();
            }
            client.shutdown().await;
            return Err(error.into());
        }
        let entry = LinkEntry {
            role,
            client,
            config,
            pumps,
        };
        let old = self.links.lock().await.insert(link.to_owned(), entry);
        if let Some(old) = old {
            old.close().await;
        }
        Ok(())
    }

    /// Reads one subscription and hands its messages to the handler under the cap.
    fn pump(
        &self,
        link: &str,
        mut sub: crate::client::Subscription,
        client: &MessagingClient,
        config: &ConnectionConfig,
        slots: &Arc<Semaphore>,
    ) -> runtime::TaskHandle<()> {
        let handler = self.handler.clone();
        let counters = self.counters.clone();
        let slots = slots.clone();
        let wait = config.handler_wait;
        let link = link.to_owned();
        let client = client.clone();
        runtime::spawn(async move {
            while let Some(message) = sub.recv().await {
                let permit = match runtime::timeout(wait, slots.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) => return,
                    Err(_) => {
                        let shed = counters.shed.fetch_add(1, Ordering::Relaxed) + 1;
                        tracing::warn!(link, shed, ?wait, "handler busy: message shed");
                        continue;
                    }
                };
                counters.handled.fetch_add(1, Ordering::Relaxed);
                counters.in_flight.fetch_add(1, Ordering::Relaxed);
                let call = handler.handle_message(&link, message.clone());
                let counters = counters.clone();
                let client = client.clone();
                let link = link.clone();
                drop(runtime::spawn(async move {
                    let outcome = call.await;
                    counters.in_flight.fetch_sub(1, Ordering::Relaxed);
                    drop(permit);
                    match outcome {
                        Ok(Some(reply)) => {
                            if let Some(reply_to) = &message.reply_to {
                                if let Err(error) = client.publish(reply_to, reply).await {
                                    tracing::warn!(link, %error, "could not send the handler's reply");
                                }
                            }
                        }
                        Ok(None) => {}
                        Err(error) => {
                            counters.failed.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(link, %error, "the handler failed");
                        }
                    }
                }));
            }
        })
    }

    async fn client(&self, link: &str) -> Result<(MessagingClient, Duration), ProviderError> {
        let links = self.links.lock().await;
        let entry = links
            .get(link)
            .ok_or_else(|| ProviderError::UnknownLink(link.to_owned()))?;
        Ok((entry.client.clone(), entry.config.request_timeout))
    }

    /// Publishes through link `link`'s session.
    pub async fn publish(&self, link: &str, message: &BrokerMessage) -> Result<(), ProviderError> {
        let (client, _) = self.client(link).await?;
        Ok(client.publish_message(message).await?)
    }

    /// Requests through link `link`'s session (its `request_timeout` when `timeout` is
    /// `None`).
    pub async fn request(
        &self,
        link: &str,
        subject: &str,
        body: impl Into<Bytes>,
        timeout: Option<Duration>,
    ) -> Result<BrokerMessage, ProviderError> {
        let (client, default_timeout) = self.client(link).await?;
        Ok(client
            .request(subject, body, timeout.unwrap_or(default_timeout))
            .await?)
    }

    /// Sends `body` to session `session_id` (on `_SESSION.<id>`), through any connected
    /// link.
    pub async fn send_to_session(
        &self,
        session_id: &str,
        body: impl Into<Bytes>,
    ) -> Result<(), ProviderError> {
        let subject = Subject::session(session_id).map_err(ProviderError::Messaging)?;
        let client = {
            let links = self.links.lock().await;
            let mut clients: Vec<&LinkEntry> = links.values().collect();
            clients.sort_by_key(|e| !e.client.is_connected());
            clients
                .first()
                .map(|e| e.client.clone())
                .ok_or(ProviderError::Messaging(MessagingError::NotConnected))?
        };
        Ok(client.publish(subject, body).await?)
    }

    /// The sessions of the links with session tracking on, one per link.
    pub async fn list_sessions(&self) -> Vec<SessionInfo> {
        let links = self.links.lock().await;
        let mut out: Vec<SessionInfo> = links
            .iter()
            .filter(|(_, e)| e.config.enable_session_tracking)
            .map(|(name, e)| {
                let session = e.client.session();
                let metadata = BTreeMap::from([
                    ("link".to_owned(), name.clone()),
                    (
                        "role".to_owned(),
                        match e.role {
                            Role::Target => "target",
                            Role::Source => "source",
                        }
                        .to_owned(),
                    ),
                    ("codec".to_owned(), e.config.codec.to_string()),
                    ("uri".to_owned(), client_ws::redacted_url(&e.config.uri)),
                    ("state".to_owned(), e.client.state().to_string()),
                ]);
                SessionInfo {
                    id: session.id,
                    connected_at: session.connected_at,
                    metadata,
                }
            })
            .collect();
        out.sort_by(|a, b| a.metadata.get("link").cmp(&b.metadata.get("link")));
        out
    }

    /// Closes link `link`'s session; false if there was none.
    pub async fn delete_link(&self, link: &str) -> bool {
        let entry = self.links.lock().await.remove(link);
        match entry {
            Some(entry) => {
                entry.close().await;
                true
            }
            None => false,
        }
    }

    /// The names of the links.
    pub async fn links(&self) -> Vec<String> {
        let mut names: Vec<String> = self.links.lock().await.keys().cloned().collect();
        names.sort();
        names
    }

    /// Closes every link.
    pub async fn shutdown(&self) {
        let entries: Vec<LinkEntry> = self.links.lock().await.drain().map(|(_, e)| e).collect();
        for entry in entries {
            entry.close().await;
        }
    }

    /// The handler's counters.
    pub fn handler_stats(&self) -> HandlerStats {
        HandlerStats {
            handled: self.counters.handled.load(Ordering::Relaxed),
            shed: self.counters.shed.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            in_flight: self.counters.in_flight.load(Ordering::Relaxed),
        }
    }
}
