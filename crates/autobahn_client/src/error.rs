//! [`AutobahnError`]: everything that can stop a conformance run, with what to do next.

use std::time::Duration;

/// Why a conformance run (or one of its connections) could not be completed.
///
/// A case the fuzzing server judges as failed is *not* an error here: the server records
/// its verdict in its report. These errors mean the run itself could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AutobahnError {
    /// The fuzzing server could not be reached or refused the WebSocket upgrade.
    #[error("could not connect to {url}: {reason}; check that the fuzzing server is running there")]
    Connect {
        /// The URL dialled (without the query).
        url: String,
        /// What the transport reported.
        reason: String,
    },

    /// `getCaseCount` ended without a text message holding a number.
    #[error(
        "the fuzzing server's getCaseCount answered {answer:?} instead of a case count; is it an Autobahn-compatible fuzzing server?"
    )]
    BadCaseCount {
        /// What arrived (`None`: no text message at all).
        answer: Option<String>,
    },

    /// A connection was still open after the per-case limit.
    #[error(
        "{what} did not end within {after:?}; the server or the client is stuck (raise --case-timeout if the machine is just slow)"
    )]
    Timeout {
        /// Which connection (for example `case 42`).
        what: String,
        /// The limit.
        after: Duration,
    },

    /// core-pre refused an operation (only when the client is misused; a bug here).
    #[error("the core-pre client failed: {0}")]
    Client(#[from] core_pre::CoreError),

    /// A command-line argument is wrong.
    #[error("{0}; run with --help for usage")]
    Usage(String),
}
