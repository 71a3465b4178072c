//! [`PendingRequests`]: match replies to the requests that wait for them.
//!
//! Register a key before sending a request, send, then [`wait`](PendingReply::wait) for the
//! reply. A reply resolves the waiter with the same key. Every wait has a timeout, and the
//! wait fails at once with [`CoreError::ConnectionLost`] when the connection it was
//! registered on ends, so no caller waits for a reply that can no longer come and no reply
//! crosses onto a new connection. Dropping a waiter unregisters it, so timed-out requests
//! do not accumulate.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # use core_pre::memory::MemoryServer;
//! # use core_pre::{ClientBuilder, PendingRequests};
//! # use std::time::Duration;
//! # let (client, _runner) = ClientBuilder::new(MemoryServer::new().connector()).build();
//! let pending: PendingRequests<u64, String> = PendingRequests::new(client.connection_watch(), 1024);
//! let waiter = pending.register(7).unwrap();
//! assert!(pending.resolve(&7, "answer".to_string()));
//! assert_eq!(waiter.wait(Duration::from_secs(1)).await.unwrap(), "answer");
//! # }
//! ```

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::error::{CoreError, CoreResult};
use crate::link::ConnectionWatch;
use crate::runtime;

struct Entry<V> {
    seq: u64,
    tx: oneshot::Sender<V>,
}

struct Inner<K, V> {
    next_seq: u64,
    entries: HashMap<K, Entry<V>>,
}

/// Requests waiting for replies, keyed by a correlation key.
pub struct PendingRequests<K, V> {
    inner: Arc<Mutex<Inner<K, V>>>,
    connection: ConnectionWatch,
    limit: usize,
}

impl<K, V> Clone for PendingRequests<K, V> {
    fn clone(&self) -> Self {
        PendingRequests {
            inner: self.inner.clone(),
            connection: self.connection.clone(),
            limit: self.limit,
        }
    }
}

fn lock<K, V>(inner: &Mutex<Inner<K, V>>) -> MutexGuard<'_, Inner<K, V>> {
    // The map stays consistent even if a holder panicked: every operation is one insert or
    // remove.
    crate::runtime::lock(inner)
}

impl<K: Eq + Hash + Clone, V> PendingRequests<K, V> {
    /// An empty set that allows at most `limit` requests to wait at once.
    pub fn new(connection: ConnectionWatch, limit: usize) -> Self {
        PendingRequests {
            inner: Arc::new(Mutex::new(Inner {
                next_seq: 0,
                entries: HashMap::new(),
            })),
            connection,
            limit: limit.max(1),
        }
    }

    /// Registers `key` on the current connection. Call it before sending the request.
    pub fn register(&self, key: K) -> CoreResult<PendingReply<K, V>> {
        if self.connection.is_closed() {
            return Err(CoreError::ClientClosed);
        }
        let epoch = self.connection.epoch();
        let (tx, rx) = oneshot::channel();
        let mut inner = lock(&self.inner);
        if inner.entries.len() >= self.limit {
            return Err(CoreError::TooManyPending(self.limit));
        }
        if inner.entries.contains_key(&key) {
            return Err(CoreError::DuplicateRequest);
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.entries.insert(key.clone(), Entry { seq, tx });
        Ok(PendingReply {
            rx,
            key: Some(key),
            seq,
            epoch,
            inner: self.inner.clone(),
            connection: self.connection.clone(),
        })
    }

    /// Hands `value` to the waiter registered under `key`; false if there is none.
    pub fn resolve(&self, key: &K, value: V) -> bool {
        let entry = lock(&self.inner).entries.remove(key);
        match entry {
            Some(entry) => entry.tx.send(value).is_ok(),
            None => false,
        }
    }

    /// Hands `value` to the oldest waiter whose key satisfies `pred` (for replies that carry
    /// no key of their own, matched by content and order of submission). Exactly one waiter
    /// gets it; false if none matched.
    pub fn resolve_oldest(&self, mut pred: impl FnMut(&K) -> bool, value: V) -> bool {
        let mut inner = lock(&self.inner);
        let oldest = inner
            .entries
            .iter()
            .filter(|(key, _)| pred(key))
            .min_by_key(|(_, entry)| entry.seq)
            .map(|(key, _)| key.clone());
        let entry = oldest.and_then(|key| inner.entries.remove(&key));
        drop(inner);
        match entry {
            Some(entry) => entry.tx.send(value).is_ok(),
            None => false,
        }
    }

    /// Fails every waiter with [`CoreError::ConnectionLost`].
    pub fn fail_all(&self) {
        lock(&self.inner).entries.clear();
    }

    /// How many requests are waiting.
    pub fn len(&self) -> usize {
        lock(&self.inner).entries.len()
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One registered request, waiting for its reply.
pub struct PendingReply<K: Eq + Hash, V> {
    rx: oneshot::Receiver<V>,
    key: Option<K>,
    seq: u64,
    epoch: u64,
    inner: Arc<Mutex<Inner<K, V>>>,
    connection: ConnectionWatch,
}

impl<K: Eq + Hash, V> PendingReply<K, V> {
    /// Waits up to `timeout` for the reply.
    ///
    /// Fails with [`CoreError::Timeout`], with [`CoreError::ConnectionLost`] as soon as the
    /// connection the request was registered on ends, or with [`CoreError::ClientClosed`]
    /// after shutdown.
    pub async fn wait(mut self, timeout: Duration) -> CoreResult<V> {
        let epoch = self.epoch;
        let mut connection = self.connection.clone();
        let outcome = runtime::timeout(timeout, async {
            tokio::select! {
                biased;
                reply = &mut self.rx => reply.ok(),
                _ = connection.lost_since(epoch) => None,
            }
        })
        .await;
        match outcome {
            Ok(Some(value)) => Ok(value),
            Ok(None) if self.connection.is_closed() => Err(CoreError::ClientClosed),
            Ok(None) => Err(CoreError::ConnectionLost),
            Err(_) if self.connection.is_closed() => Err(CoreError::ClientClosed),
            Err(_) => Err(CoreError::Timeout {
                after: timeout,
                waiting_for: "a reply",
            }),
        }
    }

    /// The epoch of the connection this request was registered on.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

impl<K: Eq + Hash, V> Drop for PendingReply<K, V> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut inner = lock(&self.inner);
            // Only remove our own entry: the key may have been reused after we were resolved.
            if inner.entries.get(&key).is_some_and(|e| e.seq == self.seq) {
                inner.entries.remove(&key);
            }
        }
    }
}
