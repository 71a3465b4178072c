//! [`Client`]: the cloneable handle users hold.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::control::Control;
use crate::error::{ConnectFailure, CoreError, CoreResult};
use crate::link::{ConnectionWatch, Link, Outbound};
use crate::message::Message;
use crate::router::{self, RouteStats, RouteStatsSnapshot};
use crate::runtime::{self, TaskHandle};
use crate::state::{AppState, ConnectionState, DisconnectReason};
use crate::status::StatusEvents;
use crate::supervisor::{ModuleHealth, ModuleStatus};

/// What the builder hands a new client.
pub(crate) struct ClientParts<S> {
    pub(crate) link: Arc<Link>,
    pub(crate) outbound: Outbound,
    pub(crate) control: futures::channel::mpsc::Sender<Control>,
    pub(crate) state: Arc<S>,
    pub(crate) health: Vec<Arc<ModuleHealth>>,
    pub(crate) route_stats: Vec<(&'static str, Arc<RouteStats>)>,
    pub(crate) wait_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
}

struct ClientInner<S> {
    parts: ClientParts<S>,
    /// The runner's task when the builder spawned it: `shutdown` joins it.
    runner: Mutex<Option<TaskHandle<()>>>,
}

/// The handle to a running client. Cheap to clone; all clones drive the same connection.
///
/// When the last clone is dropped, the runner shuts down (module handles do not keep it
/// alive). After [`shutdown`](Client::shutdown), every method returns
/// [`CoreError::ClientClosed`].
pub struct Client<S: AppState = ()> {
    inner: Arc<ClientInner<S>>,
}

impl<S: AppState> Clone for Client<S> {
    fn clone(&self) -> Self {
        Client {
            inner: self.inner.clone(),
        }
    }
}

impl<S: AppState> std::fmt::Debug for Client<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.connection_state())
            .finish_non_exhaustive()
    }
}

impl<S: AppState> Client<S> {
    pub(crate) fn new(parts: ClientParts<S>) -> Self {
        Client {
            inner: Arc::new(ClientInner {
                parts,
                runner: Mutex::new(None),
            }),
        }
    }

    /// Keeps the spawned runner's task, for `shutdown` to join.
    pub(crate) fn adopt_runner(&self, task: TaskHandle<()>) {
        *runtime::lock(&self.inner.runner) = Some(task);
    }

    /// Sends a message to the peer (see [`Outbound`] for the policy while disconnected or
    /// when the queue is full).
    pub async fn send(&self, msg: impl Into<Message>) -> CoreResult<()> {
        self.inner.parts.outbound.send(msg).await
    }

    /// Sends without waiting; fails with [`CoreError::QueueFull`] if the queue is full.
    pub fn try_send(&self, msg: impl Into<Message>) -> CoreResult<()> {
        self.inner.parts.outbound.try_send(msg)
    }

    /// The connection state now.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.parts.link.state()
    }

    /// A receiver that sees every change of connection state.
    pub fn watch_connection_state(&self) -> watch::Receiver<ConnectionState> {
        self.inner.parts.link.watch_state()
    }

    /// The connection's transitions as a stream: the current state first, then every
    /// change (connecting, connected, reconnecting with attempt and delay, disconnected
    /// with the reason, gave up, closed). Take as many as you like, whenever you like;
    /// each observer has its own bounded cursor, and one that falls behind reads
    /// [`StatusEvent::Lagged`](crate::StatusEvent::Lagged) instead of slowing anyone.
    pub fn status_events(&self) -> StatusEvents {
        self.inner.parts.link.status_events()
    }

    /// A watch of the connection, for [`PendingRequests`](crate::PendingRequests) and modules.
    pub fn connection_watch(&self) -> ConnectionWatch {
        self.inner.parts.link.connection_watch()
    }

    /// True when connected and ready.
    pub fn is_connected(&self) -> bool {
        self.connection_state().is_connected()
    }

    /// The shared application state (the `S` of `ClientBuilder<S>`).
    pub fn app_state(&self) -> &Arc<S> {
        &self.inner.parts.state
    }

    /// The outbound sender, for code that only needs to send.
    pub fn outbound(&self) -> Outbound {
        self.inner.parts.outbound.clone()
    }

    /// The connection attempts that failed since the last good connection (how many, for
    /// how long, to which endpoints, the last error), or `None` if none failed.
    pub fn connect_failure(&self) -> Option<ConnectFailure> {
        self.inner.parts.link.connect_failure()
    }

    /// Waits until connected and ready, for at most `timeout`.
    ///
    /// Returns early with an error when waiting cannot succeed: the connection was
    /// [rejected](CoreError::Rejected), the reconnect policy [gave up](CoreError::GaveUp),
    /// `disconnect()` was called ([`CoreError::NotConnected`]), or the client is closed.
    /// When the time runs out it returns [`CoreError::ConnectTimeout`], which says what the
    /// attempts so far ran into; the runner keeps trying.
    pub async fn wait_connected(&self, timeout: Duration) -> CoreResult<()> {
        self.inner.parts.link.ensure_open()?;
        let mut states = self.watch_connection_state();
        let wait = async {
            loop {
                let state = states.borrow_and_update().clone();
                match state {
                    ConnectionState::Connected => return Ok(()),
                    ConnectionState::Closed => return Err(CoreError::ClientClosed),
                    ConnectionState::Disconnected(DisconnectReason::Requested) => {
                        return Err(self.inner.parts.link.not_connected());
                    }
                    ConnectionState::Disconnected(DisconnectReason::Rejected(reason)) => {
                        return Err(CoreError::Rejected { reason });
                    }
                    ConnectionState::Disconnected(DisconnectReason::GaveUp {
                        attempts,
                        last_error,
                    }) => {
                        return Err(CoreError::GaveUp {
                            attempts,
                            last_error,
                            failure: self.inner.parts.link.connect_failure().map(Box::new),
                        });
                    }
                    _ => {}
                }
                if states.changed().await.is_err() {
                    return Err(CoreError::ClientClosed);
                }
            }
        };
        match runtime::timeout(timeout, wait).await {
            Ok(result) => result,
            Err(_) => {
                if self.inner.parts.link.is_closed() {
                    return Err(CoreError::ClientClosed);
                }
                Err(CoreError::ConnectTimeout {
                    after: timeout,
                    state: self.connection_state(),
                    failure: self.inner.parts.link.connect_failure().map(Box::new),
                })
            }
        }
    }

    async fn command(&self, make: fn(oneshot::Sender<()>) -> Control) -> CoreResult<()> {
        self.inner.parts.link.ensure_open()?;
        let (ack_tx, ack_rx) = oneshot::channel();
        let wait = self.inner.parts.wait_timeout;
        let exchange = async {
            futures::SinkExt::send(&mut self.inner.parts.control.clone(), make(ack_tx))
                .await
                .map_err(|_| CoreError::ClientClosed)?;
            ack_rx.await.map_err(|_| CoreError::ClientClosed)
        };
        match runtime::timeout(wait, exchange).await {
            Ok(result) => result,
            Err(_) => Err(CoreError::Timeout {
                after: wait,
                waiting_for: "the client runner (built with `build`? spawn its runner, or use `ClientBuilder::spawn`)",
            }),
        }
    }

    /// Connects (if not connected) and waits until ready. While connected it returns at
    /// once: use [`reconnect`](Client::reconnect) to force a fresh connection.
    pub async fn connect(&self) -> CoreResult<()> {
        self.command(Control::Connect).await?;
        self.wait_connected(self.inner.parts.wait_timeout).await
    }

    /// Closes the connection and stays disconnected until [`connect`](Client::connect).
    /// Returns once disconnected.
    pub async fn disconnect(&self) -> CoreResult<()> {
        self.command(Control::Disconnect).await
    }

    /// Closes the current connection (if any) and connects afresh, at once, without
    /// backoff; waits until ready.
    pub async fn reconnect(&self) -> CoreResult<()> {
        self.command(Control::Reconnect).await?;
        self.wait_connected(self.inner.parts.wait_timeout).await
    }

    /// Shuts the client down gracefully: closes the connection, stops every module, joins
    /// every task (the runner too, when the builder spawned it). Returns once everything
    /// has stopped.
    pub async fn shutdown(&self) -> CoreResult<()> {
        self.command(Control::Shutdown).await?;
        let runner = runtime::lock(&self.inner.runner).take();
        if let Some(runner) = runner {
            let limit = self.inner.parts.shutdown_timeout;
            if runtime::timeout(limit, runner).await.is_err() {
                tracing::warn!(?limit, "the runner did not finish in time after shutdown");
            }
        }
        Ok(())
    }

    /// Each module's health: running or not, failures, last error.
    pub fn module_health(&self) -> Vec<ModuleStatus> {
        self.inner.parts.health.iter().map(|h| h.status()).collect()
    }

    /// Each module's delivery counters (delivered, dropped while stalled).
    pub fn route_stats(&self) -> Vec<RouteStatsSnapshot> {
        router::snapshot(&self.inner.parts.route_stats)
    }

    /// Messages that were queued but never written because their connection dropped.
    pub fn discarded_outbound(&self) -> u64 {
        self.inner
            .parts
            .link
            .discarded_outbound
            .load(Ordering::Relaxed)
    }
}
