//! Settings that survive a restart: the [`SettingsStore`] trait, typed access through
//! [`SettingsExt`], and the [`MemoryStore`].
//!
//! atomic_websocket keeps its settings (the last server that worked, above all) in an
//! embedded database. A client needs a handful of small values, so here a store is a map
//! from keys to JSON values: the JSON file store natively (`JsonFileStore`, written
//! atomically), the browser's localStorage on wasm32 (`LocalStorageStore`), and memory for
//! tests. Values go in and out through serde, typed.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

use core_pre::runtime::{self, BoxFuture, MaybeSend, MaybeSync};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::AtomicError;

/// A place to keep small settings by key.
///
/// Implementations keep a value once `set_value` has returned `Ok` (across a restart, for
/// the persistent ones). Use the typed [`SettingsExt::get`] / [`SettingsExt::set`].
pub trait SettingsStore: MaybeSend + MaybeSync + 'static {
    /// The value under `key`, if any.
    fn get_value<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Value>, AtomicError>>;

    /// Keeps `value` under `key`.
    fn set_value<'a>(
        &'a self,
        key: &'a str,
        value: Value,
    ) -> BoxFuture<'a, Result<(), AtomicError>>;

    /// Forgets `key` (no error if it was not there).
    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), AtomicError>>;
}

/// Typed access to any [`SettingsStore`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), atomic_ws::AtomicError> {
/// use atomic_ws::settings::{MemoryStore, SettingsExt};
///
/// let store = MemoryStore::new();
/// store.set("retry_seconds", &5u64).await?;
/// assert_eq!(store.get::<u64>("retry_seconds").await?, Some(5));
/// assert_eq!(store.get::<u64>("missing").await?, None);
/// // Another type than the one stored is a clear error.
/// assert!(store.get::<String>("retry_seconds").await.is_err());
/// # Ok(()) }
/// ```
pub trait SettingsExt: SettingsStore {
    /// The value under `key` as a `T`; `None` if absent; an error if it is not a `T`.
    fn get<'a, T: DeserializeOwned + 'a>(
        &'a self,
        key: &'a str,
    ) -> impl Future<Output = Result<Option<T>, AtomicError>> + MaybeSend + 'a {
        async move {
            match self.get_value(key).await? {
                None => Ok(None),
                Some(value) => {
                    serde_json::from_value(value)
                        .map(Some)
                        .map_err(|e| AtomicError::SettingType {
                            key: key.to_owned(),
                            reason: e.to_string(),
                        })
                }
            }
        }
    }

    /// Keeps `value` under `key`.
    fn set<'a, T: Serialize + ?Sized>(
        &'a self,
        key: &'a str,
        value: &T,
    ) -> impl Future<Output = Result<(), AtomicError>> + MaybeSend + 'a {
        let value = serde_json::to_value(value).map_err(|e| AtomicError::SettingType {
            key: key.to_owned(),
            reason: e.to_string(),
        });
        async move { self.set_value(key, value?).await }
    }
}

impl<T: SettingsStore + ?Sized> SettingsExt for T {}

/// Settings in memory only (tests, or a client that must not write to disk).
#[derive(Debug, Default)]
pub struct MemoryStore {
    values: Mutex<BTreeMap<String, Value>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

impl SettingsStore for MemoryStore {
    fn get_value<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Value>, AtomicError>> {
        let value = runtime::lock(&self.values).get(key).cloned();
        Box::pin(async move { Ok(value) })
    }

    fn set_value<'a>(
        &'a self,
        key: &'a str,
        value: Value,
    ) -> BoxFuture<'a, Result<(), AtomicError>> {
        runtime::lock(&self.values).insert(key.to_owned(), value);
        Box::pin(async { Ok(()) })
    }

    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), AtomicError>> {
        runtime::lock(&self.values).remove(key);
        Box::pin(async { Ok(()) })
    }
}
