//! [`LocalStorageStore`]: settings in the browser's localStorage (wasm32 only).
//!
//! Each key is stored as `PREFIX` + key, its value as JSON text, so several applications
//! on one origin keep apart. localStorage is synchronous and survives a reload.

use core_pre::runtime::BoxFuture;
use serde_json::Value;

use crate::error::AtomicError;
use crate::settings::SettingsStore;

/// Settings in the page's localStorage.
#[derive(Debug, Clone)]
pub struct LocalStorageStore {
    prefix: String,
}

impl LocalStorageStore {
    /// A store whose keys are prefixed with `prefix` (e.g. `"my_app."`).
    pub fn new(prefix: impl Into<String>) -> Self {
        LocalStorageStore {
            prefix: prefix.into(),
        }
    }

    fn storage() -> Result<web_sys::Storage, AtomicError> {
        let window = web_sys::window()
            .ok_or_else(|| AtomicError::Storage("there is no window (a worker?)".into()))?;
        window
            .local_storage()
            .map_err(|e| AtomicError::Storage(format!("access refused: {e:?}")))?
            .ok_or_else(|| AtomicError::Storage("the browser offers none".into()))
    }

    fn get_now(&self, key: &str) -> Result<Option<Value>, AtomicError> {
        let text = Self::storage()?
            .get_item(&format!("{}{key}", self.prefix))
            .map_err(|e| AtomicError::Storage(format!("reading {key:?}: {e:?}")))?;
        match text {
            None => Ok(None),
            Some(text) => {
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| AtomicError::SettingType {
                        key: key.to_owned(),
                        reason: format!("the stored text is not JSON: {e}"),
                    })
            }
        }
    }

    fn set_now(&self, key: &str, value: &Value) -> Result<(), AtomicError> {
        Self::storage()?
            .set_item(&format!("{}{key}", self.prefix), &value.to_string())
            .map_err(|e| AtomicError::Storage(format!("writing {key:?}: {e:?}")))
    }

    fn remove_now(&self, key: &str) -> Result<(), AtomicError> {
        Self::storage()?
            .remove_item(&format!("{}{key}", self.prefix))
            .map_err(|e| AtomicError::Storage(format!("removing {key:?}: {e:?}")))
    }
}

impl SettingsStore for LocalStorageStore {
    fn get_value<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Value>, AtomicError>> {
        let result = self.get_now(key);
        Box::pin(async move { result })
    }

    fn set_value<'a>(
        &'a self,
        key: &'a str,
        value: Value,
    ) -> BoxFuture<'a, Result<(), AtomicError>> {
        let result = self.set_now(key, &value);
        Box::pin(async move { result })
    }

    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), AtomicError>> {
        let result = self.remove_now(key);
        Box::pin(async move { result })
    }
}
