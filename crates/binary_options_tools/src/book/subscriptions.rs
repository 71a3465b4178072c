//! [`SubscriptionRegistry`]: the live market-data subscriptions and their subscribers
//! (the subscriptions module fans ticks out through it, the streams add and remove).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::book::tick_queue::{TickReceiver, TickSender, TrySendError, tick_queue};
use crate::error::Error;
use crate::server_time::unix_seconds;
use crate::types::Tick;

/// The platform streams at most this many assets per connection.
pub const MAX_ASSETS: usize = 4;

pub(crate) struct Subscriber {
    pub(crate) id: u64,
    pub(crate) tx: TickSender,
    pub(crate) dropped: Arc<AtomicU64>,
    pub(crate) lagging: bool,
}

pub(crate) struct Entry {
    pub(crate) asset: Arc<str>,
    pub(crate) period: u32,
    pub(crate) subscribers: Vec<Subscriber>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) next_id: u64,
    pub(crate) entries: Vec<Entry>,
    /// An asset was released since the server last heard the full list.
    pub(crate) released: bool,
    pub(crate) closed: bool,
}

/// The live subscriptions, shared by the module (fan-out) and the streams (add/remove).
#[derive(Default)]
pub(crate) struct SubscriptionRegistry {
    pub(crate) inner: Mutex<Inner>,
}

/// What the platform must be told after adding a subscriber.
pub(crate) enum Announce {
    /// The asset was already subscribed.
    Nothing,
    /// Send `changeSymbol` for the new asset, then `subfor` for each listed asset.
    New {
        asset: Arc<str>,
        period: u32,
        subfor: Vec<Arc<str>>,
    },
}

/// A subscriber just added: its id and queue, the shared asset name, and what to tell the
/// platform.
pub(crate) struct Added {
    pub(crate) id: u64,
    pub(crate) rx: TickReceiver,
    pub(crate) dropped: Arc<AtomicU64>,
    pub(crate) asset: Arc<str>,
    pub(crate) announce: Announce,
}

impl SubscriptionRegistry {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every mutation below leaves the registry consistent; a panic elsewhere does not
        // make it unusable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn add(&self, asset: &str, period: u32, capacity: usize) -> Result<Added, Error> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(Error::Core(core_pre::CoreError::ClientClosed));
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let (tx, rx) = tick_queue(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let subscriber = Subscriber {
            id,
            tx,
            dropped: dropped.clone(),
            lagging: false,
        };
        if let Some(entry) = inner.entries.iter_mut().find(|e| &*e.asset == asset) {
            entry.subscribers.push(subscriber);
            return Ok(Added {
                id,
                rx,
                dropped,
                asset: entry.asset.clone(),
                announce: Announce::Nothing,
            });
        }
        if inner.entries.len() >= MAX_ASSETS {
            return Err(Error::TooManySubscriptions {
                requested: asset.to_owned(),
                active: inner.entries.iter().map(|e| e.asset.to_string()).collect(),
            });
        }
        let shared: Arc<str> = Arc::from(asset);
        inner.entries.push(Entry {
            asset: shared.clone(),
            period,
            subscribers: vec![subscriber],
        });
        let subfor = if std::mem::take(&mut inner.released) {
            inner.entries.iter().map(|e| e.asset.clone()).collect()
        } else {
            vec![shared.clone()]
        };
        Ok(Added {
            id,
            rx,
            dropped,
            asset: shared.clone(),
            announce: Announce::New {
                asset: shared,
                period,
                subfor,
            },
        })
    }

    pub(crate) fn remove(&self, asset: &str, id: u64) {
        let mut inner = self.lock();
        if let Some(index) = inner.entries.iter().position(|e| &*e.asset == asset) {
            let entry = &mut inner.entries[index];
            entry.subscribers.retain(|s| s.id != id);
            if entry.subscribers.is_empty() {
                inner.entries.remove(index);
                inner.released = true;
            }
        }
    }

    /// The live assets and their periods, oldest first.
    pub(crate) fn active(&self) -> Vec<(Arc<str>, u32)> {
        self.lock()
            .entries
            .iter()
            .map(|e| (e.asset.clone(), e.period))
            .collect()
    }

    /// Hands each tick to every stream of its asset. Returns the newest tick time seen.
    /// Hands each tick to every stream of its asset without waiting. A tick whose stream is
    /// full goes to `blocked` (in order; later ticks of that stream follow it there), for
    /// the module to wait for room; a stream known to be stalled just loses it (counted).
    /// Returns the newest tick time seen.
    pub(crate) fn dispatch<'a>(
        &self,
        rows: impl IntoIterator<Item = (&'a str, f64, f64)>,
        blocked: &mut Vec<Blocked>,
    ) -> Option<f64> {
        let mut inner = self.lock();
        let mut newest = None;
        for row in rows {
            let time = unix_seconds(row.1);
            newest = Some(newest.map_or(time, |n: f64| n.max(time)));
            let Some(entry) = inner.entries.iter_mut().find(|e| *e.asset == *row.0) else {
                continue;
            };
            for sub in &mut entry.subscribers {
                let tick = Tick {
                    asset: entry.asset.clone(),
                    time,
                    price: row.2,
                };
                let tick = if blocked.iter().any(|b| b.id == sub.id) {
                    tick // keep the order: behind this stream's blocked ticks
                } else {
                    match sub.tx.try_send(tick) {
                        Ok(()) => {
                            sub.lagging = false;
                            continue;
                        }
                        Err(TrySendError::Full(tick)) if !sub.lagging => tick,
                        Err(TrySendError::Full(_)) => {
                            sub.dropped.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        // The stream was dropped; its guard removes it.
                        Err(TrySendError::Closed) => continue,
                    }
                };
                blocked.push(Blocked {
                    id: sub.id,
                    tx: sub.tx.clone(),
                    dropped: sub.dropped.clone(),
                    tick,
                });
            }
        }
        newest
    }

    /// Marks a stream as not being read: its ticks are dropped (counted) until it reads
    /// again.
    pub(crate) fn mark_stalled(&self, id: u64) {
        let mut inner = self.lock();
        for entry in &mut inner.entries {
            if let Some(sub) = entry.subscribers.iter_mut().find(|s| s.id == id) {
                sub.lagging = true;
                tracing::warn!(asset = %entry.asset, "a subscription stream is not being read; dropping its ticks until it reads again");
            }
        }
    }

    /// Ends every stream (on shutdown).
    pub(crate) fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.entries.clear();
    }
}

/// A tick whose stream's buffer was full when it arrived.
pub(crate) struct Blocked {
    pub(crate) id: u64,
    pub(crate) tx: TickSender,
    pub(crate) dropped: Arc<AtomicU64>,
    pub(crate) tick: Tick,
}
