//! The state shared by a client's handles and its runner, and the [`Outbound`] sender.
//!
//! Everything that can send (the `Client`, module handles, callbacks, handlers) holds an
//! [`Outbound`]; everything that waits on the connection holds a [`ConnectionWatch`]. Both
//! point at one [`Link`], which knows whether the client is closed and whether a connection
//! is up, so every failure can be reported precisely (`ClientClosed`, `NotConnected`)
//! instead of as an opaque channel error.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};

use crate::error::{ConnectError, ConnectFailure, CoreError, CoreResult};
use crate::message::Message;
use crate::runtime::{self, Instant};
use crate::state::{ConnectionState, DisconnectReason};
use crate::status::{STATUS_CAPACITY, StatusEvents};

/// Shared between the runner and every handle of one client.
pub(crate) struct Link {
    closed: AtomicBool,
    up: AtomicBool,
    state_tx: watch::Sender<ConnectionState>,
    /// Every change of `state_tx`, for the observers of `Client::status_events`; opened
    /// by the first observer (its slots are 4 KB a client that nobody may ever use).
    status_tx: OnceLock<broadcast::Sender<ConnectionState>>,
    epoch_tx: watch::Sender<u64>,
    shutdown_tx: watch::Sender<bool>,
    pub(crate) discarded_outbound: AtomicU64,
    attempts: Mutex<AttemptLog>,
}

/// The connection attempts that failed since the last good connection (or since the
/// user asked to connect).
#[derive(Default)]
struct AttemptLog {
    /// When the first attempt of this run started.
    since: Option<Instant>,
    failed: u32,
    endpoints: Vec<Arc<str>>,
    last_endpoint: Option<Arc<str>>,
    last_error: Option<ConnectError>,
}

impl Link {
    pub(crate) fn new() -> Arc<Self> {
        let (state_tx, _) =
            watch::channel(ConnectionState::Disconnected(DisconnectReason::NotStarted));
        let (epoch_tx, _) = watch::channel(0);
        let (shutdown_tx, _) = watch::channel(false);
        Arc::new(Link {
            closed: AtomicBool::new(false),
            up: AtomicBool::new(false),
            state_tx,
            status_tx: OnceLock::new(),
            epoch_tx,
            shutdown_tx,
            discarded_outbound: AtomicU64::new(0),
            attempts: Mutex::default(),
        })
    }

    fn attempts(&self) -> MutexGuard<'_, AttemptLog> {
        // Plain data: it stays consistent whatever panicked while holding the lock.
        crate::runtime::lock(&self.attempts)
    }

    /// A connection attempt starts (the first of a run starts the clock).
    pub(crate) fn attempt_started(&self) {
        let mut log = self.attempts();
        if log.since.is_none() {
            log.since = Some(Instant::now());
        }
    }

    /// A connection attempt to `endpoint` (if the connector named it) failed.
    pub(crate) fn attempt_failed(&self, endpoint: Option<Arc<str>>, error: ConnectError) {
        let mut log = self.attempts();
        log.failed = log.failed.saturating_add(1);
        if let Some(endpoint) = &endpoint {
            if log.endpoints.len() < ConnectFailure::MAX_ENDPOINTS
                && !log.endpoints.contains(endpoint)
            {
                log.endpoints.push(endpoint.clone());
            }
        }
        log.last_endpoint = endpoint;
        log.last_error = Some(error);
    }

    /// Connected, or asked to start afresh: forget the failed attempts.
    pub(crate) fn reset_attempts(&self) {
        *self.attempts() = AttemptLog::default();
    }

    /// The failed attempts so far, if any failed.
    pub(crate) fn connect_failure(&self) -> Option<ConnectFailure> {
        let log = self.attempts();
        let last_error = log.last_error.clone()?;
        Some(ConnectFailure {
            attempts: log.failed,
            trying_for: log.since.map(|since| since.elapsed()).unwrap_or_default(),
            endpoints: log.endpoints.clone(),
            last_endpoint: log.last_endpoint.clone(),
            last_error,
        })
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn ensure_open(&self) -> CoreResult<()> {
        if self.is_closed() {
            Err(CoreError::ClientClosed)
        } else {
            Ok(())
        }
    }

    /// Fails unless a connection is up (callbacks may send before the state says Connected).
    pub(crate) fn ensure_up(&self) -> CoreResult<()> {
        self.ensure_open()?;
        if self.up.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(self.not_connected())
        }
    }

    pub(crate) fn not_connected(&self) -> CoreError {
        if self.is_closed() {
            return CoreError::ClientClosed;
        }
        CoreError::NotConnected {
            state: self.state().to_string(),
        }
    }

    pub(crate) fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Release);
    }

    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
        self.up.store(false, Ordering::Release);
        self.shutdown_tx.send_replace(true);
    }

    pub(crate) fn state(&self) -> ConnectionState {
        self.state_tx.borrow().clone()
    }

    /// Sets the state; a change also goes to the status observers, if there are any
    /// (without them nothing is cloned or sent).
    pub(crate) fn set_state(&self, state: ConnectionState) {
        let status_tx = self.status_tx.get().filter(|tx| tx.receiver_count() > 0);
        let mut event = None;
        self.state_tx.send_if_modified(|current| {
            if *current == state {
                false
            } else {
                if status_tx.is_some() {
                    event = Some(state.clone());
                }
                *current = state;
                true
            }
        });
        if let (Some(tx), Some(event)) = (status_tx, event) {
            // An error only means the last observer left meanwhile.
            let _ = tx.send(event);
        }
    }

    /// The transitions from now on, starting with the current state.
    pub(crate) fn status_events(&self) -> StatusEvents {
        // Subscribe first: a change between the two is then seen twice and yielded once.
        let rx = self
            .status_tx
            .get_or_init(|| broadcast::channel(STATUS_CAPACITY).0)
            .subscribe();
        StatusEvents::new(rx, self.state())
    }

    pub(crate) fn watch_state(&self) -> watch::Receiver<ConnectionState> {
        self.state_tx.subscribe()
    }

    /// Marks the end of a connection: every reply awaited on it is lost.
    pub(crate) fn end_epoch(&self) {
        self.epoch_tx.send_modify(|epoch| *epoch += 1);
    }

    pub(crate) fn watch_shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    pub(crate) fn connection_watch(self: &Arc<Self>) -> ConnectionWatch {
        ConnectionWatch {
            state: self.state_tx.subscribe(),
            epoch: self.epoch_tx.subscribe(),
            link: self.clone(),
        }
    }
}

/// Sends messages to the peer through the client's bounded outbound queue.
///
/// Policy: a send while no connection is up fails at once with
/// [`CoreError::NotConnected`] (nothing is queued for a later connection, so a stale order
/// is never sent minutes later). When the queue is full the send waits for room, up to the
/// client's send timeout. Messages still queued when a connection drops are discarded and
/// counted, never replayed onto the next connection.
#[derive(Clone)]
pub struct Outbound {
    tx: mpsc::Sender<Message>,
    link: Arc<Link>,
    send_timeout: Duration,
}

impl Outbound {
    pub(crate) fn new(tx: mpsc::Sender<Message>, link: Arc<Link>, send_timeout: Duration) -> Self {
        Outbound {
            tx,
            link,
            send_timeout,
        }
    }

    /// Queues `msg` for the peer, waiting for room if the queue is full.
    pub async fn send(&self, msg: impl Into<Message>) -> CoreResult<()> {
        self.link.ensure_up()?;
        match self.tx.try_send(msg.into()) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(msg)) => {
                match runtime::timeout(self.send_timeout, self.tx.send(msg)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(_)) => Err(CoreError::ClientClosed),
                    Err(_) => Err(CoreError::Timeout {
                        after: self.send_timeout,
                        waiting_for: "room in the outbound queue",
                    }),
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(CoreError::ClientClosed),
        }
    }

    /// Queues `msg` without waiting; fails with [`CoreError::QueueFull`] if there is no room.
    pub fn try_send(&self, msg: impl Into<Message>) -> CoreResult<()> {
        self.link.ensure_up()?;
        self.tx.try_send(msg.into()).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => CoreError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => CoreError::ClientClosed,
        })
    }

    /// True while a connection is up.
    pub fn is_up(&self) -> bool {
        self.link.ensure_up().is_ok()
    }

    /// Queues without checking the link (for the runner's own keep-alive and close frames).
    pub(crate) fn push(&self, msg: Message) -> bool {
        self.tx.try_send(msg).is_ok()
    }
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("capacity", &self.tx.capacity())
            .finish()
    }
}

/// Watches the connection: its public state, and the end of each connection.
///
/// Every connection has an *epoch*; it ends when the connection ends. A request registered
/// during epoch `n` can wait on [`lost_since`](ConnectionWatch::lost_since)`(n)` to learn, at
/// once, that its reply can no longer arrive.
#[derive(Clone)]
pub struct ConnectionWatch {
    state: watch::Receiver<ConnectionState>,
    epoch: watch::Receiver<u64>,
    link: Arc<Link>,
}

impl ConnectionWatch {
    /// The current state.
    pub fn state(&self) -> ConnectionState {
        self.state.borrow().clone()
    }

    /// True when a connection is up (it may still be running reconnect callbacks).
    pub fn is_up(&self) -> bool {
        self.link.ensure_up().is_ok()
    }

    /// True once the client is shut down.
    pub fn is_closed(&self) -> bool {
        self.link.is_closed()
    }

    /// The current connection epoch.
    pub fn epoch(&self) -> u64 {
        *self.epoch.borrow()
    }

    /// Resolves once the connection of epoch `epoch` has ended (at once if it already has).
    pub async fn lost_since(&mut self, epoch: u64) {
        // An error means the runner is gone: the connection is certainly lost too.
        let _ = self.epoch.wait_for(|current| *current != epoch).await;
    }

    /// Waits for the next change of state and returns the new state.
    pub async fn changed(&mut self) -> CoreResult<ConnectionState> {
        self.state
            .changed()
            .await
            .map_err(|_| CoreError::ClientClosed)?;
        Ok(self.state.borrow_and_update().clone())
    }
}

impl std::fmt::Debug for ConnectionWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionWatch")
            .field("state", &self.state())
            .field("epoch", &self.epoch())
            .finish()
    }
}
