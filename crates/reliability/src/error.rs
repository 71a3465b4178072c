//! [`ReliabilityError`]: what setting up a proxy or a soak run can fail with.
//!
//! The checks themselves do not fail with errors: a soak run always produces a
//! [`SoakReport`](crate::SoakReport), whose verdict says whether the stack held up.

use std::net::SocketAddr;

/// Everything this crate's setup can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReliabilityError {
    /// The proxy could not listen.
    #[error("could not listen on {addr}: {source}; check that loopback networking is available")]
    Bind {
        /// The address it tried.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// The simulator could not start or stop.
    #[error("the PocketOption simulator failed: {0}; run with RUST_LOG=debug to see why")]
    Simulator(#[from] pocketoption_sim::SimError),

    /// A soak client could not connect in the first place.
    #[error("soak client {client} could not connect: {reason}; is the simulator reachable?")]
    ClientSetup {
        /// The client's index.
        client: usize,
        /// Why.
        reason: String,
    },

    /// A soak option is invalid.
    #[error("invalid soak option: {0}; run `soak --help` for the options")]
    Usage(String),
}
