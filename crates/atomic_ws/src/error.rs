//! [`AtomicError`]: the one error type of the crate.

use std::time::Duration;

use core_pre::{CoreError, HumanDuration};

/// Everything that can go wrong in atomic_ws. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AtomicError {
    /// The settings file could not be read or written.
    #[error(
        "could not {action} the settings file {path}: {reason}; check that its directory exists and is writable"
    )]
    SettingsIo {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: String,
        /// What the system said.
        reason: String,
    },
    /// The settings file is not a JSON object.
    #[error(
        "the settings file {path} is corrupt ({reason}); open it with JsonFileStore::open_or_reset to set it aside and start afresh"
    )]
    CorruptSettings {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The settings file was corrupt: it was set aside and the store started empty.
    #[error(
        "the settings file {path} was corrupt ({reason}); it was moved to {moved_to} and the settings start afresh"
    )]
    SettingsReset {
        /// The file.
        path: String,
        /// What was wrong with it.
        reason: String,
        /// Where the corrupt file now is.
        moved_to: String,
    },
    /// A setting holds a value of another shape than the one asked for.
    #[error("the setting {key:?} does not hold the expected type ({reason}); set it again")]
    SettingType {
        /// The key.
        key: String,
        /// What serde said.
        reason: String,
    },
    /// The browser's storage is unavailable (private mode, disabled, or quota exceeded).
    #[error("the browser's localStorage is unavailable: {0}")]
    Storage(String),
    /// A compact message could not be read or written.
    #[error("malformed compact message: {0}")]
    Codec(String),
    /// A compact message of another category than the one expected.
    #[error("expected a compact message of category {expected}, got category {found}")]
    WrongCategory {
        /// The category asked for.
        expected: u16,
        /// The category received.
        found: u16,
    },
    /// A discovery socket could not be opened or used.
    #[error("discovery failed: {0}")]
    Discovery(String),
    /// No server of the service answered discovery in time.
    #[error(
        "no server of service {service:?} answered discovery within {} (probed {probed}); start one, check that UDP port {port} is open, or give the address",
        HumanDuration(*waited)
    )]
    NothingFound {
        /// The service name probed for.
        service: String,
        /// How long replies were collected.
        waited: Duration,
        /// Where the probes went.
        probed: String,
        /// The discovery port.
        port: u16,
    },
    /// The client failed.
    #[error(transparent)]
    Client(#[from] CoreError),
}
