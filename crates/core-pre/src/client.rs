//! [`Client`]: the cloneable handle users hold.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::error::{ConnectFailure, CoreError, CoreResult};
use crate::link::{ConnectionWatch, Link, Outbound};
use crate::message::Message;
use crate::module::ApiModule;
use crate::router::{self, RouteStats, RouteStatsSnapshot};
use crate::runner::Control;
use crate::runtime;
use crate::state::{AppState, ConnectionState, DisconnectReason};
use crate::supervisor::{ModuleHealth, ModuleStatus};

cfg_if::cfg_if! {
    if #[cfg(target_arch = "wasm32")] {
        pub(crate) type AnyHandle = Box<dyn Any>;
    } else {
        pub(crate) type AnyHandle = Box<dyn Any + Send + Sync>;
    }
}

struct ClientInner<S> {
    link: Arc<Link>,
    outbound: Outbound,
    control: futures::channel::mpsc::Sender<Control>,
    handles: HashMap<TypeId, AnyHandle>,
    state: Arc<S>,
    health: Vec<Arc<ModuleHealth>>,
    route_stats: Vec<(&'static str, Arc<RouteStats>)>,
    wait_timeout: Duration,
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
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl<S: AppState> Client<S> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        link: Arc<Link>,
        outbound: Outbound,
        control: futures::channel::mpsc::Sender<Control>,
        handles: HashMap<TypeId, AnyHandle>,
        state: Arc<S>,
        health: Vec<Arc<ModuleHealth>>,
        route_stats: Vec<(&'static str, Arc<RouteStats>)>,
        wait_timeout: Duration,
    ) -> Self {
        Client {
            inner: Arc::new(ClientInner {
                link,
                outbound,
                control,
                handles,
                state,
                health,
                route_stats,
                wait_timeout,
            }),
        }
    }

    /// Sends a message to the peer (see [`Outbound`] for the policy while disconnected or
    /// when the queue is full).
    pub async fn send(&self, msg: impl Into<Message>) -> CoreResult<()> {
        self.inner.outbound.send(msg).await
    }

    /// Sends without waiting; fails with [`CoreError::QueueFull`] if the queue is full.
    pub fn try_send(&self, msg: impl Into<Message>) -> CoreResult<()> {
        self.inner.outbound.try_send(msg)
    }

    /// The handle of module `M`.
    pub fn get_handle<M: ApiModule<S>>(&self) -> CoreResult<M::Handle> {
        self.inner.link.ensure_open()?;
        self.inner
            .handles
            .get(&TypeId::of::<M>())
            .and_then(|handle| handle.downcast_ref::<M::Handle>())
            .cloned()
            .ok_or(CoreError::ModuleNotRegistered(M::NAME))
    }

    /// The connection state now.
    pub fn state(&self) -> ConnectionState {
        self.inner.link.state()
    }

    /// A receiver that sees every change of connection state.
    pub fn watch_state(&self) -> watch::Receiver<ConnectionState> {
        self.inner.link.watch_state()
    }

    /// A watch of the connection, for [`PendingRequests`](crate::PendingRequests) and modules.
    pub fn connection_watch(&self) -> ConnectionWatch {
        self.inner.link.connection_watch()
    }

    /// True when connected and ready.
    pub fn is_connected(&self) -> bool {
        self.state().is_connected()
    }

    /// The shared application state.
    pub fn app_state(&self) -> &Arc<S> {
        &self.inner.state
    }

    /// The outbound sender, for code that only needs to send.
    pub fn outbound(&self) -> Outbound {
        self.inner.outbound.clone()
    }

    /// The connection attempts that failed since the last good connection (how many, for
    /// how long, to which endpoints, the last error), or `None` if none failed.
    pub fn connect_failure(&self) -> Option<ConnectFailure> {
        self.inner.link.connect_failure()
    }

    /// Waits until connected and ready, for at most `timeout`.
    ///
    /// Returns early with an error when waiting cannot succeed: the connection was
    /// [rejected](CoreError::Rejected), the reconnect policy [gave up](CoreError::GaveUp),
    /// `disconnect()` was called ([`CoreError::NotConnected`]), or the client is closed.
    /// When the time runs out it returns [`CoreError::ConnectTimeout`], which says what the
    /// attempts so far ran into; the runner keeps trying.
    pub async fn wait_connected(&self, timeout: Duration) -> CoreResult<()> {
        self.inner.link.ensure_open()?;
        let mut states = self.watch_state();
        let wait = async {
            loop {
                let state = states.borrow_and_update().clone();
                match state {
                    ConnectionState::Connected => return Ok(()),
                    ConnectionState::Closed => return Err(CoreError::ClientClosed),
                    ConnectionState::Disconnected(DisconnectReason::Requested) => {
                        return Err(self.inner.link.not_connected());
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
                            failure: self.inner.link.connect_failure().map(Box::new),
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
                if self.inner.link.is_closed() {
                    return Err(CoreError::ClientClosed);
                }
                Err(CoreError::ConnectTimeout {
                    after: timeout,
                    state: self.state(),
                    failure: self.inner.link.connect_failure().map(Box::new),
                })
            }
        }
    }

    async fn command(&self, make: fn(oneshot::Sender<()>) -> Control) -> CoreResult<()> {
        self.inner.link.ensure_open()?;
        let (ack_tx, ack_rx) = oneshot::channel();
        let wait = self.inner.wait_timeout;
        let exchange = async {
            futures::SinkExt::send(&mut self.inner.control.clone(), make(ack_tx))
                .await
                .map_err(|_| CoreError::ClientClosed)?;
            ack_rx.await.map_err(|_| CoreError::ClientClosed)
        };
        match runtime::timeout(wait, exchange).await {
            Ok(result) => result,
            Err(_) => Err(CoreError::Timeout {
                after: wait,
                waiting_for: "the client runner (is `ClientRunner::run` spawned?)",
            }),
        }
    }

    /// Connects (if not connected) and waits until ready. While connected it returns at
    /// once: use [`reconnect`](Client::reconnect) to force a fresh connection.
    pub async fn connect(&self) -> CoreResult<()> {
        self.command(Control::Connect).await?;
        self.wait_connected(self.inner.wait_timeout).await
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
        self.wait_connected(self.inner.wait_timeout).await
    }

    /// Shuts the client down gracefully: closes the connection, stops every module, joins
    /// every task. Returns once everything has stopped.
    pub async fn shutdown(&self) -> CoreResult<()> {
        self.command(Control::Shutdown).await
    }

    /// Each module's health: running or not, failures, last error.
    pub fn module_health(&self) -> Vec<ModuleStatus> {
        self.inner.health.iter().map(|h| h.status()).collect()
    }

    /// Each module's delivery counters (delivered, dropped while stalled).
    pub fn route_stats(&self) -> Vec<RouteStatsSnapshot> {
        router::snapshot(&self.inner.route_stats)
    }

    /// Messages that were queued but never written because their connection dropped.
    pub fn discarded_outbound(&self) -> u64 {
        self.inner.link.discarded_outbound.load(Ordering::Relaxed)
    }
}
