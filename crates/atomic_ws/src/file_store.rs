//! [`JsonFileStore`]: settings in a JSON file, written atomically, off the async threads
//! (native only).
//!
//! The file is one JSON object, readable and editable by people. Every change writes the
//! whole object to a temporary file beside it, flushes it to disk and renames it over the
//! old one, so a crash leaves either the old settings or the new ones, never half a file.
//! The file system work runs on tokio's blocking pool (`spawn_blocking`). A file that is
//! not a JSON object is reported, never a panic; [`JsonFileStore::open_or_reset`] sets it
//! aside and starts afresh.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use core_pre::runtime::BoxFuture;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::error::AtomicError;
use crate::settings::SettingsStore;

/// Settings in a JSON file that survive a restart.
///
/// ```no_run
/// # async fn demo() -> Result<(), atomic_ws::AtomicError> {
/// use atomic_ws::JsonFileStore;
/// use atomic_ws::settings::SettingsExt;
///
/// let (store, reset) = JsonFileStore::open_or_reset("client_settings.json").await;
/// if let Some(warning) = reset {
///     eprintln!("{warning}"); // the file was corrupt: set aside, starting afresh
/// }
/// store.set("last_endpoint", "ws://192.168.1.20:9300/").await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct JsonFileStore {
    path: PathBuf,
    /// The file's content; the lock also keeps writes in order.
    values: Mutex<Map<String, Value>>,
}

/// Distinguishes the temporary files of concurrent writers in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl JsonFileStore {
    /// Opens the store at `path`: a missing file is an empty store (created on the first
    /// write); a file that is not a JSON object is [`AtomicError::CorruptSettings`].
    pub async fn open(path: impl Into<PathBuf>) -> Result<Self, AtomicError> {
        let path = path.into();
        let values = read(path.clone()).await?;
        Ok(JsonFileStore {
            path,
            values: Mutex::new(values),
        })
    }

    /// Opens the store at `path`; when the file is corrupt, moves it to `PATH.corrupt`,
    /// starts empty and returns the store with [`AtomicError::SettingsReset`] saying so.
    /// When the file cannot be read at all, starts empty and returns that error (writes
    /// will report their own).
    pub async fn open_or_reset(path: impl Into<PathBuf>) -> (Self, Option<AtomicError>) {
        let path = path.into();
        let (values, warning) = match read(path.clone()).await {
            Ok(values) => (values, None),
            Err(AtomicError::CorruptSettings {
                path: shown,
                reason,
            }) => {
                let aside = set_aside(&path).await;
                let warning = match aside {
                    Ok(moved_to) => AtomicError::SettingsReset {
                        path: shown,
                        reason,
                        moved_to,
                    },
                    Err(error) => error,
                };
                (Map::new(), Some(warning))
            }
            Err(other) => (Map::new(), Some(other)),
        };
        let store = JsonFileStore {
            path,
            values: Mutex::new(values),
        };
        (store, warning)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies `change` to a copy, writes it, and keeps it only if the write succeeded.
    async fn update(
        &self,
        change: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<(), AtomicError> {
        let mut values = self.values.lock().await;
        let mut next = values.clone();
        change(&mut next);
        let bytes = serde_json::to_vec_pretty(&next).map_err(|e| AtomicError::SettingsIo {
            action: "write",
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        let path = self.path.clone();
        blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|reason| AtomicError::SettingsIo {
                action: "write",
                path: self.path.display().to_string(),
                reason,
            })?;
        *values = next;
        Ok(())
    }
}

impl SettingsStore for JsonFileStore {
    fn get_value<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Value>, AtomicError>> {
        Box::pin(async move { Ok(self.values.lock().await.get(key).cloned()) })
    }

    fn set_value<'a>(
        &'a self,
        key: &'a str,
        value: Value,
    ) -> BoxFuture<'a, Result<(), AtomicError>> {
        Box::pin(self.update(move |values| {
            values.insert(key.to_owned(), value);
        }))
    }

    fn remove<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), AtomicError>> {
        Box::pin(async move {
            if !self.values.lock().await.contains_key(key) {
                return Ok(());
            }
            self.update(|values| {
                values.remove(key);
            })
            .await
        })
    }
}

/// Runs file system work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) => Err(format!("the file task failed: {e}")),
    }
}

/// The map in `path`; empty when the file does not exist.
async fn read(path: PathBuf) -> Result<Map<String, Value>, AtomicError> {
    let shown = path.display().to_string();
    let bytes = blocking(move || match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    })
    .await
    .map_err(|reason| AtomicError::SettingsIo {
        action: "read",
        path: shown.clone(),
        reason,
    })?;
    let Some(bytes) = bytes else {
        return Ok(Map::new());
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(values)) => Ok(values),
        Ok(other) => Err(AtomicError::CorruptSettings {
            path: shown,
            reason: format!("it holds a JSON {} instead of an object", kind(&other)),
        }),
        Err(e) => Err(AtomicError::CorruptSettings {
            path: shown,
            reason: format!("not valid JSON: {e}"),
        }),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Moves a corrupt file to `PATH.corrupt` (replacing an older one); returns where.
async fn set_aside(path: &Path) -> Result<String, AtomicError> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".corrupt");
    let aside = PathBuf::from(aside);
    let (from, to) = (path.to_owned(), aside.clone());
    blocking(move || std::fs::rename(&from, &to).map_err(|e| e.to_string()))
        .await
        .map_err(|reason| AtomicError::SettingsIo {
            action: "set aside",
            path: path.display().to_string(),
            reason,
        })?;
    Ok(aside.display().to_string())
}

/// Writes `bytes` to a temporary file in `path`'s directory, flushes it, and renames it
/// over `path`; the temporary file is removed if anything fails.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;

    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| "the path names no file".to_owned())?
        .to_string_lossy();
    let temp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(e.to_string());
    }
    Ok(())
}
