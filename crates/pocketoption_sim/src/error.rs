//! [`SimError`]: the one error type of the simulator, with messages that say what to do.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Everything that can go wrong when running or steering the simulator.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The listening socket could not be opened.
    #[error("could not listen on {addr}: {source}; pick a free port, or 127.0.0.1:0 for any")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: Arc<std::io::Error>,
    },

    /// The simulator was shut down; start a new one.
    #[error("the simulator is shut down; start a new one with `Simulator::builder()`")]
    ShutDown,

    /// An asset symbol is not in the catalog.
    #[error("unknown asset `{0}`; see `Simulator::assets` for the catalog")]
    UnknownAsset(String),

    /// A wait on the simulator took too long.
    #[error("timed out after {after:?} waiting for {waiting_for}")]
    Timeout {
        /// How long it waited.
        after: Duration,
        /// What it waited for.
        waiting_for: &'static str,
    },

    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
}
