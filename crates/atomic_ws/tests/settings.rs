//! The settings stores: typed values, surviving a restart, atomic writes, and a corrupt
//! file (a clear error and a fresh start, never a panic).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use atomic_ws::settings::{MemoryStore, SettingsExt, SettingsStore};
use atomic_ws::{AtomicError, JsonFileStore};
use serde::{Deserialize, Serialize};

/// A fresh directory for one test (removed at the end of the test when it passes).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "atomic_ws_settings_{name}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Options {
    retry_seconds: u64,
    names: Vec<String>,
}

#[tokio::test]
async fn values_survive_reopening_the_file() {
    let dir = TempDir::new("reopen");
    let path = dir.file("settings.json");
    let options = Options {
        retry_seconds: 5,
        names: vec!["a".into(), "ü".into()],
    };
    {
        let store = JsonFileStore::open(&path).await.unwrap();
        assert_eq!(store.get::<Options>("options").await.unwrap(), None);
        store.set("options", &options).await.unwrap();
        store.set("endpoint", "ws://10.0.0.1:9300/").await.unwrap();
        store.set("gone", &1).await.unwrap();
        store.remove("gone").await.unwrap();
        store.remove("never there").await.unwrap();
    }
    let store = JsonFileStore::open(&path).await.unwrap();
    assert_eq!(
        store.get::<Options>("options").await.unwrap(),
        Some(options)
    );
    assert_eq!(
        store.get::<String>("endpoint").await.unwrap().as_deref(),
        Some("ws://10.0.0.1:9300/")
    );
    assert_eq!(store.get::<i32>("gone").await.unwrap(), None);
    // Only the file itself: no temporary file is left behind.
    assert_eq!(dir.entries(), vec!["settings.json"]);
    // The file is a readable JSON object.
    let text = std::fs::read_to_string(&path).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["options"]["retry_seconds"], 5);
}

#[tokio::test]
async fn a_value_of_another_type_is_a_clear_error() {
    for store in [
        Box::new(MemoryStore::new()) as Box<dyn SettingsStore>,
        Box::new(
            JsonFileStore::open(TempDir::new("type").file("s.json"))
                .await
                .unwrap(),
        ),
    ] {
        store.set("port", &9300u16).await.unwrap();
        let error = store.get::<Options>("port").await.unwrap_err();
        assert!(matches!(error, AtomicError::SettingType { ref key, .. } if key == "port"));
        assert!(error.to_string().contains("\"port\""), "{error}");
        assert_eq!(store.get::<u16>("port").await.unwrap(), Some(9300));
    }
}

#[tokio::test]
async fn a_corrupt_file_is_reported_then_set_aside_for_a_fresh_start() {
    for (case, content) in [
        ("garbage", &b"{\"endpoint\": \"ws://x\", oops"[..]),
        ("array", &b"[1, 2, 3]"[..]),
        ("binary", &[0xff, 0xfe, 0x00, 0x01][..]),
        ("empty", &b""[..]),
    ] {
        let dir = TempDir::new(case);
        let path = dir.file("settings.json");
        std::fs::write(&path, content).unwrap();

        let error = JsonFileStore::open(&path).await.unwrap_err();
        assert!(
            matches!(error, AtomicError::CorruptSettings { .. }),
            "{case}: {error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("settings.json") && message.contains("open_or_reset"),
            "{case}: {message}"
        );
        // Nothing was touched by the failed open.
        assert_eq!(std::fs::read(&path).unwrap(), content);

        let (store, warning) = JsonFileStore::open_or_reset(&path).await;
        let warning = warning.expect("a corrupt file is reported");
        assert!(
            matches!(warning, AtomicError::SettingsReset { ref moved_to, .. } if moved_to.ends_with("settings.json.corrupt")),
            "{case}: {warning:?}"
        );
        assert_eq!(dir.entries(), vec!["settings.json.corrupt"]);
        assert_eq!(store.get::<String>("endpoint").await.unwrap(), None);
        store.set("endpoint", "ws://fresh/").await.unwrap();
        let reopened = JsonFileStore::open(&path).await.unwrap();
        assert_eq!(
            reopened.get::<String>("endpoint").await.unwrap().as_deref(),
            Some("ws://fresh/")
        );
        // The corrupt file is kept for people to look at.
        assert_eq!(
            std::fs::read(dir.file("settings.json.corrupt")).unwrap(),
            content
        );
    }
}

#[tokio::test]
async fn a_write_that_cannot_happen_is_an_error_and_changes_nothing() {
    let dir = TempDir::new("unwritable");
    let path = dir.file("missing-dir").join("settings.json");
    let store = JsonFileStore::open(&path).await.unwrap();
    let error = store.set("k", &1).await.unwrap_err();
    assert!(
        matches!(
            error,
            AtomicError::SettingsIo {
                action: "write",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("missing-dir"), "{error}");
    assert_eq!(
        store.get::<i32>("k").await.unwrap(),
        None,
        "not kept in memory either"
    );
}

#[tokio::test]
async fn concurrent_writes_all_land() {
    let dir = TempDir::new("concurrent");
    let path = dir.file("settings.json");
    let store = std::sync::Arc::new(JsonFileStore::open(&path).await.unwrap());
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.set(&format!("key{i}"), &i).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    let reopened = JsonFileStore::open(&path).await.unwrap();
    for i in 0..16 {
        assert_eq!(
            reopened.get::<i32>(&format!("key{i}")).await.unwrap(),
            Some(i)
        );
    }
    assert_eq!(dir.entries(), vec!["settings.json"]);
}
