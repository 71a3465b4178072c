//! # atomic_ws
//!
//! The features of [atomic_websocket] on our stack, without its faults: a resilient client
//! on core-pre with connection status events, endpoint memory, LAN discovery, a settings
//! store, and compact category-tagged binary messages; the server side is `server` plus a
//! discovery responder.
//!
//! | atomic_websocket | here |
//! |---|---|
//! | status channel (taken once) | core-pre's `Client::status_events()`: any number of observers, any time |
//! | `retry_seconds`, `max_retry_count` (documented, missing), doubling | core-pre's `ReconnectPolicy::fixed` / `doubling` / `with_max_retries`, with jitter |
//! | last server IP in the database | [`endpoint::EndpointResolver`]: remembered → configured → discovered |
//! | /24 scan after a public IP lookup | `discovery`: broadcast probes per local interface, a responder on the server (native) |
//! | settings database | [`settings::SettingsStore`]: `JsonFileStore` (native), `LocalStorageStore` (wasm32), [`settings::MemoryStore`] |
//! | category-tagged binary messages | [`compact`]: a `u16` tag + a postcard payload, typed send/decode |
//!
//! The modules, from the bottom: [`error`](AtomicError), [`settings`], [`compact`] →
//! the stores (`JsonFileStore` natively, `LocalStorageStore` in the browser) →
//! [`endpoint`] → `discovery` (native). This file is the only one with a target `cfg`.
//!
//! [atomic_websocket]: https://crates.io/crates/atomic_websocket

pub mod compact;
pub mod endpoint;
mod error;
pub mod settings;

pub use error::AtomicError;

cfg_if::cfg_if! {
    if #[cfg(target_arch = "wasm32")] {
        mod local_store;
        pub use local_store::LocalStorageStore;
    } else {
        pub mod discovery;
        mod file_store;
        pub use file_store::JsonFileStore;
    }
}
