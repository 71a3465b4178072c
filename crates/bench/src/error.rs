//! [`BenchError`]: everything that can stop a benchmark, each saying what to look at.

use std::time::Duration;

/// Why a benchmark could not produce its figure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A socket operation failed.
    #[error(
        "I/O error: {0}; is the loopback interface up and are file descriptors available (ulimit -n)?"
    )]
    Io(#[from] std::io::Error),
    /// A peer broke the WebSocket or Socket.IO protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The bare tokio-tungstenite client failed.
    #[error("tokio-tungstenite: {0}")]
    WebSocket(Box<tokio_tungstenite::tungstenite::Error>),
    /// A core-pre client failed.
    #[error("core-pre client: {0}")]
    Core(#[from] core_pre::CoreError),
    /// The PocketOption client failed.
    #[error("PocketOption client: {0}")]
    PocketOption(#[from] binary_options_tools::Error),
    /// The simulator failed.
    #[error("simulator: {0}")]
    Simulator(#[from] pocketoption_sim::SimError),
    /// Something did not happen in time (the machine may be overloaded, or a frame was lost).
    #[error(
        "timed out after {after:?} waiting for {what}; rerun on a quieter machine, or look for lost frames"
    )]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        after: Duration,
    },
    /// A measurement could not be taken (for example `/proc/self/status` is missing).
    #[error("cannot measure {what}: {reason}")]
    Measurement {
        /// The figure.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A child process of the memory benchmarks failed.
    #[error("memory benchmark child `{kind}` failed: {reason}")]
    Child {
        /// The child's job.
        kind: String,
        /// What went wrong (its stderr when it had one).
        reason: String,
    },
}

impl From<tokio_tungstenite::tungstenite::Error> for BenchError {
    fn from(error: tokio_tungstenite::tungstenite::Error) -> Self {
        // Boxed: tungstenite's error is large and would bloat every `Result` here.
        BenchError::WebSocket(Box::new(error))
    }
}

/// Waits for `future` for at most `limit`, naming `what` in the error.
pub async fn within<F: std::future::Future>(
    what: &str,
    limit: Duration,
    future: F,
) -> Result<F::Output, BenchError> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| BenchError::Timeout {
            what: what.to_owned(),
            after: limit,
        })
}
