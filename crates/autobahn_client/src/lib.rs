//! # autobahn_client
//!
//! The client side of the project's WebSocket conformance run: it drives the Autobahn
//! fuzzing-server cases (the standard `getCaseCount` → `runCase` → `updateReports` protocol)
//! through the project's own stack — a core-pre [`ClientBuilder`](core_pre::ClientBuilder)
//! over the client_ws native transport — with a module that echoes every text message as
//! text and every binary message as binary. The fuzzing server judges the replies, the
//! closing handshakes and the reactions to protocol violations.
//!
//! * [`FuzzingServer`] speaks the fuzzing-server protocol: [`case_count`], [`run_case`],
//!   [`update_reports`], [`run_all`];
//! * [`Echo`] is the core-pre module that sends each message back;
//! * [`ConnectionSettings`] holds the limits every connection runs with;
//!
//! `cargo xtask autobahn` starts a fuzzing server (the PyPI package `kosoku`), runs the
//! `autobahn_client` binary against it and checks the report.
//!
//! [`case_count`]: FuzzingServer::case_count
//! [`run_case`]: FuzzingServer::run_case
//! [`update_reports`]: FuzzingServer::update_reports
//! [`run_all`]: FuzzingServer::run_all

mod connection;
mod echo;
mod error;
mod fuzzing_server;

pub use connection::{ConnectionSettings, Ended};
pub use echo::Echo;
pub use error::AutobahnError;
pub use fuzzing_server::{CaseOutcome, FuzzingServer, RunSummary};
