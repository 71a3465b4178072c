//! Endpoint memory: [`EndpointResolver`], a core-pre [`Connector`] that finds where to
//! connect — the last endpoint that worked, then the configured one, then discovery —
//! and remembers the one that worked.
//!
//! atomic_websocket keeps "the last server IP" in its database and, without one, dials
//! every host of an assumed /24. Here the order is explicit and each source gets a fixed
//! number of consecutive failures before the resolver falls through to the next:
//!
//! 1. **remembered**: the endpoint under [`LAST_ENDPOINT_KEY`] in the [`SettingsStore`];
//! 2. **configured**: the URL the application was given, if any;
//! 3. **discovered**: the candidates a [`Discover`] source returns (LAN discovery natively,
//!    `atomic_ws::discovery::Prober`), tried in order.
//!
//! After the last candidate the resolver starts again from the remembered endpoint (the
//! old server may be back). Each call of `connect` is one attempt at one endpoint: the
//! client's [`ReconnectPolicy`](core_pre::ReconnectPolicy) spaces the attempts out and
//! limits them. The endpoint that connects is written to the store (when it changed) and
//! published on [`EndpointResolver::watch`].

use std::fmt;
use std::sync::Arc;

use client_ws::{WsConfig, redacted_url};
use core_pre::runtime::{BoxFuture, MaybeSend, MaybeSync};
use core_pre::{AppState, ConnectContext, ConnectError, Connection, Connector, runtime};
use tokio::sync::{Mutex, watch};

use crate::error::AtomicError;
use crate::settings::{SettingsExt, SettingsStore};

/// The settings key of the last endpoint that worked.
pub const LAST_ENDPOINT_KEY: &str = "atomic_ws.last_endpoint";

/// How many consecutive failures a source gets before the resolver falls through
/// (default).
pub const DEFAULT_FAILURES_PER_SOURCE: u32 = 2;

/// A way to find servers when no address is known: returns WebSocket URLs, best first.
pub trait Discover: MaybeSend + MaybeSync + 'static {
    /// Looks for servers; an empty list or an error means none was found.
    fn discover(&self) -> BoxFuture<'_, Result<Vec<String>, AtomicError>>;
}

/// Where an endpoint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The last endpoint that worked, from the settings store.
    Remembered,
    /// The endpoint the application configured.
    Configured,
    /// Found by discovery.
    Discovered,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Remembered => "remembered",
            Source::Configured => "configured",
            Source::Discovered => "discovered",
        })
    }
}

/// An endpoint and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedEndpoint {
    /// The WebSocket URL.
    pub url: String,
    /// Its source.
    pub source: Source,
}

/// A [`Connector`] over client_ws's WebSocket transport that resolves its endpoint from
/// memory, configuration and discovery (see the [module docs](self)).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use atomic_ws::endpoint::EndpointResolver;
/// use atomic_ws::settings::MemoryStore;
/// use core_pre::ClientBuilder;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let resolver = EndpointResolver::new(Arc::new(MemoryStore::new()))
///     .with_configured("ws://192.168.1.20:9300/");
/// let mut connected_to = resolver.watch();
/// let client = ClientBuilder::new(resolver).spawn();
/// client.wait_connected(Duration::from_secs(10)).await?;
/// println!("connected to {:?}", connected_to.borrow_and_update());
/// # Ok(()) }
/// ```
pub struct EndpointResolver {
    store: Arc<dyn SettingsStore>,
    key: String,
    configured: Option<String>,
    discovery: Option<Arc<dyn Discover>>,
    failures_per_source: u32,
    template: WsConfig,
    cursor: Mutex<Cursor>,
    connected: watch::Sender<Option<ResolvedEndpoint>>,
}

/// Where the resolver is in its chain.
#[derive(Debug)]
struct Cursor {
    source: Source,
    /// Consecutive failures of the current source (or candidate).
    failures: u32,
    /// The remembered endpoint, once read from the store.
    remembered: Option<Option<String>>,
    /// The candidates of the last discovery, and the one being tried.
    discovered: Vec<String>,
    candidate: usize,
}

impl Cursor {
    fn move_to(&mut self, source: Source) {
        self.source = source;
        self.failures = 0;
        if source == Source::Discovered {
            self.discovered.clear();
            self.candidate = 0;
        }
    }
}

impl EndpointResolver {
    /// A resolver that remembers endpoints in `store`. Without
    /// [`with_configured`](Self::with_configured) or [`with_discovery`](Self::with_discovery)
    /// it can only use a remembered endpoint.
    pub fn new(store: Arc<dyn SettingsStore>) -> Self {
        let (connected, _) = watch::channel(None);
        EndpointResolver {
            store,
            key: LAST_ENDPOINT_KEY.to_owned(),
            configured: None,
            discovery: None,
            failures_per_source: DEFAULT_FAILURES_PER_SOURCE,
            template: WsConfig::new(""),
            cursor: Mutex::new(Cursor {
                source: Source::Remembered,
                failures: 0,
                remembered: None,
                discovered: Vec::new(),
                candidate: 0,
            }),
            connected,
        }
    }

    /// The endpoint the application was given (tried after the remembered one).
    pub fn with_configured(mut self, url: impl Into<String>) -> Self {
        self.configured = Some(url.into());
        self
    }

    /// The discovery source, tried last.
    pub fn with_discovery(mut self, discovery: impl Discover) -> Self {
        self.discovery = Some(Arc::new(discovery));
        self
    }

    /// Consecutive failures of one source (or discovered candidate) before falling through
    /// to the next (default [`DEFAULT_FAILURES_PER_SOURCE`]; at least 1).
    pub fn with_failures_per_source(mut self, failures: u32) -> Self {
        self.failures_per_source = failures.max(1);
        self
    }

    /// The WebSocket settings (headers, timeouts, sizes, TLS roots); its URL is replaced
    /// by each resolved endpoint.
    pub fn with_ws_config(mut self, config: WsConfig) -> Self {
        self.template = config;
        self
    }

    /// The settings key the endpoint is remembered under (default [`LAST_ENDPOINT_KEY`]).
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// The endpoint of the current (or last) connection and its source; `None` before the
    /// first connection.
    pub fn watch(&self) -> watch::Receiver<Option<ResolvedEndpoint>> {
        self.connected.subscribe()
    }

    /// The remembered endpoint, read from the store.
    pub async fn remembered(&self) -> Result<Option<String>, AtomicError> {
        self.store.get::<String>(&self.key).await
    }

    /// The endpoint to try now.
    async fn next_endpoint(&self, cursor: &mut Cursor) -> Result<ResolvedEndpoint, ConnectError> {
        // Each source is visited at most once per call: remembered, configured, discovered.
        for _ in 0..3 {
            match cursor.source {
                Source::Remembered => {
                    if cursor.remembered.is_none() {
                        let read = self.remembered().await.unwrap_or_else(|error| {
                            tracing::warn!(%error, "the remembered endpoint is unreadable; ignoring it");
                            None
                        });
                        cursor.remembered = Some(read);
                    }
                    match cursor.remembered.clone().flatten() {
                        Some(url) => {
                            return Ok(ResolvedEndpoint {
                                url,
                                source: Source::Remembered,
                            });
                        }
                        None => cursor.move_to(Source::Configured),
                    }
                }
                Source::Configured => match &self.configured {
                    // The same URL as the remembered one has had its turn already.
                    Some(url)
                        if cursor.remembered.as_ref().and_then(Option::as_ref) != Some(url) =>
                    {
                        return Ok(ResolvedEndpoint {
                            url: url.clone(),
                            source: Source::Configured,
                        });
                    }
                    _ => cursor.move_to(Source::Discovered),
                },
                Source::Discovered => {
                    let Some(discovery) = &self.discovery else {
                        cursor.move_to(Source::Remembered);
                        continue;
                    };
                    if cursor.candidate >= cursor.discovered.len() {
                        let found = discovery.discover().await;
                        cursor.discovered = found.as_ref().cloned().unwrap_or_default();
                        cursor.candidate = 0;
                        if cursor.discovered.is_empty() {
                            // Next time, from the top: the remembered server may be back.
                            cursor.move_to(Source::Remembered);
                            let why = match found {
                                Err(error) => error.to_string(),
                                Ok(_) => "discovery found no server".to_owned(),
                            };
                            return Err(ConnectError::retryable(why));
                        }
                    }
                    return Ok(ResolvedEndpoint {
                        url: cursor.discovered[cursor.candidate].clone(),
                        source: Source::Discovered,
                    });
                }
            }
        }
        Err(ConnectError::fatal(
            "no endpoint to connect to: none remembered, none configured, and no discovery; \
             configure a URL or enable discovery",
        ))
    }

    /// Counts a failure of the current source and falls through after too many.
    fn failed(&self, cursor: &mut Cursor, at_once: bool) {
        cursor.failures += 1;
        if !at_once && cursor.failures < self.failures_per_source {
            return;
        }
        match cursor.source {
            Source::Remembered => cursor.move_to(Source::Configured),
            Source::Configured => cursor.move_to(Source::Discovered),
            Source::Discovered => {
                cursor.failures = 0;
                cursor.candidate += 1;
                if cursor.candidate >= cursor.discovered.len() {
                    cursor.move_to(Source::Remembered);
                }
            }
        }
    }

    /// Remembers the endpoint that worked and publishes it.
    async fn succeeded(&self, cursor: &mut Cursor, endpoint: ResolvedEndpoint) {
        let known = cursor.remembered.clone().flatten();
        if known.as_deref() != Some(endpoint.url.as_str()) {
            match self.store.set(&self.key, &endpoint.url).await {
                Ok(()) => tracing::info!(url = %redacted_url(&endpoint.url), "endpoint remembered"),
                Err(error) => tracing::warn!(%error, "could not remember the endpoint"),
            }
        }
        cursor.remembered = Some(Some(endpoint.url.clone()));
        cursor.move_to(Source::Remembered);
        self.connected.send_replace(Some(endpoint));
    }
}

impl fmt::Debug for EndpointResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointResolver")
            .field("configured", &self.configured.as_deref().map(redacted_url))
            .field("discovery", &self.discovery.is_some())
            .field("failures_per_source", &self.failures_per_source)
            .finish_non_exhaustive()
    }
}

impl<S: AppState> Connector<S> for EndpointResolver {
    fn connect<'a>(
        &'a self,
        ctx: ConnectContext<S>,
    ) -> BoxFuture<'a, Result<Connection, ConnectError>> {
        runtime::boxed(async move {
            // One attempt at a time (the runner never overlaps them); held for the attempt so
            // the cursor moves in order.
            let mut cursor = self.cursor.lock().await;
            let endpoint = self.next_endpoint(&mut cursor).await?;
            ctx.set_endpoint(format!(
                "{} ({})",
                redacted_url(&endpoint.url),
                endpoint.source
            ));
            tracing::debug!(url = %redacted_url(&endpoint.url), source = %endpoint.source, "trying endpoint");
            let config = self.template.clone().with_url(endpoint.url.clone());
            match client_ws::connect(&config).await {
                Ok(connection) => {
                    self.succeeded(&mut cursor, endpoint).await;
                    Ok(connection)
                }
                Err(error) => {
                    // A refusal of one endpoint (a 404, a bad certificate) is not the end of
                    // the chain: fall through at once and keep trying the others.
                    let fatal = !error.is_retryable();
                    self.failed(&mut cursor, fatal);
                    if fatal {
                        Err(ConnectError::retryable(format!(
                            "{} ({}) refused: {}",
                            redacted_url(&endpoint.url),
                            endpoint.source,
                            error.message()
                        )))
                    } else {
                        Err(error)
                    }
                }
            }
        })
    }
}
