//! [`Statistics`]: a middleware that counts messages, bytes, connections and disconnect
//! reasons, and keeps uptime.
//!
//! ```
//! use core_pre::memory::MemoryServer;
//! use core_pre::{ClientBuilder, Statistics};
//!
//! let stats = Statistics::new();
//! let (_client, _runner) = ClientBuilder::new(MemoryServer::new().connector())
//!     .with_middleware(stats.clone())
//!     .build();
//! assert_eq!(stats.snapshot().messages_in, 0);
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::ConnectError;
use crate::message::Message;
use crate::middleware::{Middleware, MiddlewareContext};
use crate::runtime::Instant;
use crate::state::{AppState, ConnectionEnd};

#[derive(Default)]
struct Counters {
    messages_in: AtomicU64,
    bytes_in: AtomicU64,
    messages_out: AtomicU64,
    bytes_out: AtomicU64,
    connects: AtomicU64,
    connect_failures: AtomicU64,
    times: Mutex<Times>,
}

#[derive(Default)]
struct Times {
    connected_since: Option<Instant>,
    total_uptime: Duration,
    disconnects: BTreeMap<&'static str, u64>,
}

/// Connection statistics. Clone it before adding it to a builder to keep a handle for
/// [`snapshot`](Statistics::snapshot); clones share the counters.
#[derive(Clone, Default)]
pub struct Statistics {
    counters: Arc<Counters>,
}

/// A point-in-time copy of [`Statistics`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatisticsSnapshot {
    /// Messages received (all kinds, control frames included).
    pub messages_in: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Messages written.
    pub messages_out: u64,
    /// Payload bytes written.
    pub bytes_out: u64,
    /// Successful connections, the first included.
    pub connects: u64,
    /// Successful connections after the first.
    pub reconnects: u64,
    /// Failed connection attempts.
    pub connect_failures: u64,
    /// Ended connections, by [`ConnectionEnd::label`].
    pub disconnects: BTreeMap<&'static str, u64>,
    /// How long the current connection has been up (zero when not connected).
    pub current_uptime: Duration,
    /// Total time connected, the current connection included.
    pub total_uptime: Duration,
}

impl Statistics {
    /// Fresh counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatisticsSnapshot {
        let c = &self.counters;
        let times = crate::runtime::lock(&c.times);
        let current_uptime = times
            .connected_since
            .map(|since| since.elapsed())
            .unwrap_or_default();
        let connects = c.connects.load(Ordering::Relaxed);
        StatisticsSnapshot {
            messages_in: c.messages_in.load(Ordering::Relaxed),
            bytes_in: c.bytes_in.load(Ordering::Relaxed),
            messages_out: c.messages_out.load(Ordering::Relaxed),
            bytes_out: c.bytes_out.load(Ordering::Relaxed),
            connects,
            reconnects: connects.saturating_sub(1),
            connect_failures: c.connect_failures.load(Ordering::Relaxed),
            disconnects: times.disconnects.clone(),
            current_uptime,
            total_uptime: times.total_uptime + current_uptime,
        }
    }

    fn times(&self) -> std::sync::MutexGuard<'_, Times> {
        // A poisoned lock only means a panic elsewhere; the counters are still usable.
        crate::runtime::lock(&self.counters.times)
    }
}

impl<S: AppState> Middleware<S> for Statistics {
    fn on_connect(&self, _ctx: &MiddlewareContext<S>) {
        self.counters.connects.fetch_add(1, Ordering::Relaxed);
        self.times().connected_since = Some(Instant::now());
    }

    fn on_connect_failed(&self, _error: &ConnectError, _ctx: &MiddlewareContext<S>) {
        self.counters
            .connect_failures
            .fetch_add(1, Ordering::Relaxed);
    }

    fn on_disconnect(&self, end: &ConnectionEnd, _ctx: &MiddlewareContext<S>) {
        let mut times = self.times();
        if let Some(since) = times.connected_since.take() {
            times.total_uptime += since.elapsed();
        }
        *times.disconnects.entry(end.label()).or_default() += 1;
    }

    fn on_receive(&self, msg: Message, _ctx: &MiddlewareContext<S>) -> Option<Message> {
        self.counters.messages_in.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_in
            .fetch_add(msg.len() as u64, Ordering::Relaxed);
        Some(msg)
    }

    fn on_send(&self, msg: Message, _ctx: &MiddlewareContext<S>) -> Option<Message> {
        self.counters.messages_out.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_out
            .fetch_add(msg.len() as u64, Ordering::Relaxed);
        Some(msg)
    }
}

impl std::fmt::Debug for Statistics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.snapshot().fmt(f)
    }
}
