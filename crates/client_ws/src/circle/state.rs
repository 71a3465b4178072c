//! [`CircleState`]: what the connector, the dispatch module and the client handle share.
//!
//! Request ids come from one counter for the whole life of the client, so they increase
//! on every connection and are never reused (the handshake takes its ids from it too).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use core_pre::runtime::lock;
use core_pre::{AppState, ConnectionWatch, PendingRequests};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::error::ClientWsError;
use crate::rpc::RpcError;

/// What a call waits for: the response's `result` or `error`.
pub(crate) type Reply = Result<Value, RpcError>;

/// A notification from the server (a JSON-RPC message without an `id`).
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The notification's method.
    pub method: String,
    /// Its params (`null` when absent).
    pub params: Value,
}

/// Settings the modules read.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Sends a `ping` call this often (browsers, which cannot send ping frames).
    pub(crate) app_keep_alive: Option<Duration>,
    /// How many calls may wait at once.
    pub(crate) max_pending: usize,
}

pub(crate) struct CircleState {
    next_id: AtomicU64,
    /// The calls waiting for responses, failed at once when their connection drops.
    pub(crate) pending: PendingRequests<u64, Reply>,
    pub(crate) notifications: broadcast::Sender<Notification>,
    last_error: Mutex<Option<ClientWsError>>,
    pub(crate) settings: Settings,
}

impl CircleState {
    pub(crate) fn new(
        settings: Settings,
        notification_capacity: usize,
        connection: ConnectionWatch,
    ) -> Self {
        let (notifications, _) = broadcast::channel(notification_capacity.max(1));
        CircleState {
            next_id: AtomicU64::new(1),
            pending: PendingRequests::new(connection, settings.max_pending),
            notifications,
            last_error: Mutex::new(None),
            settings,
        }
    }

    /// A fresh request id.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Remembers why the last connection attempt failed (for `connect()` to report).
    pub(crate) fn record_error(&self, error: Option<ClientWsError>) {
        *lock(&self.last_error) = error;
    }

    /// Why the last connection attempt failed, if it did.
    pub(crate) fn last_error(&self) -> Option<ClientWsError> {
        lock(&self.last_error).clone()
    }
}

impl AppState for CircleState {}
