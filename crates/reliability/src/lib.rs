//! # reliability
//!
//! Proof, with figures, that the stack keeps working under faults and bad input and loses
//! nothing (issue #7). Three parts:
//!
//! * [`FaultProxy`]: a TCP proxy on loopback that cuts, stalls, delays, corrupts,
//!   truncates, injects and refuses, between a client and its server;
//! * the integration suites in `tests/`: fault scenarios for the PocketOption client
//!   (`po_faults.rs`) and `CircleWsClient` (`circle_faults.rs`), security checks
//!   (`security.rs`: TLS with a private CA, names, auth, size limits) and secrets in logs
//!   (`secrets.rs`, a capturing tracing subscriber at TRACE level);
//! * the [soak] run: many PocketOption clients streaming and trading against the
//!   simulator while the proxy cuts their connections at random; the report gives RSS
//!   over time, reconnects, trades placed against results received, and errors by kind.
//!   `cargo xtask soak --minutes N` runs it (the `soak` binary of this crate).

mod error;
mod frames;
mod proxy;
pub mod soak;

pub use error::ReliabilityError;
pub use frames::binary_frame_header;
pub use proxy::{Corruption, FaultProxy, ProxyStats};
pub use soak::{SoakConfig, SoakReport};
