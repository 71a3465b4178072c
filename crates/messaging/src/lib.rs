//! # messaging
//!
//! Subject messaging over WebSocket in the shape of the `wasmcloud:messaging` contract:
//! components publish and request on subjects, subscribers receive [`BrokerMessage`]s.
//! Wire contracts: `shared/protocol/messaging.md` (two formats: the NATS client protocol
//! over WebSocket, against a stock `nats-server`; and the JSON envelope our hub speaks).
//!
//! This crate holds, from the bottom: [`subject`] (validation and `*`/`>` matching),
//! [`BrokerMessage`], [`MessagingError`], the [`json`] envelope, and (native only) a
//! [`testing::NatsServer`] harness that runs a local `nats-server` for tests and benchmarks.
//!
//! The client side, above them: the [`nats`] protocol codec (pure, no I/O),
//! [`MessagingClient`] ([`client`]: both codecs, natively and in the browser, on core-pre
//! and client_ws), the [`provider`] facade (links configured from string maps merged over
//! defaults, a handler with an in-flight cap, sessions) and the `msg` command line
//! ([`cli`], native only). See the crate README for the guarantees and an example.
//!
//! The server side: the [`hub`] (native only, on the `server` crate) routes the `json`
//! format between sessions and, given a NATS URL, bridges to NATS so several hubs form one
//! bus (`HUB.md`).

#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
/// The command line is native only: in the browser its `main` fails at once.
#[cfg(target_arch = "wasm32")]
pub mod cli {
    /// Returns failure: there is no command line in the browser.
    pub fn main() -> std::process::ExitCode {
        std::process::ExitCode::FAILURE
    }
}
pub mod client;
pub mod error;
#[cfg(not(target_arch = "wasm32"))]
pub mod hub;
/// The hub is native only: in the browser its program's `main` fails at once.
#[cfg(target_arch = "wasm32")]
pub mod hub {
    /// The `hub` program.
    pub mod cli {
        /// Returns failure: there is no hub in the browser.
        pub fn main() -> std::process::ExitCode {
            std::process::ExitCode::FAILURE
        }
    }
}
pub mod json;
pub mod message;
pub mod nats;
pub mod provider;
pub mod subject;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use client::{ClientConfig, Codec, MessagingClient, Subscription};
pub use error::{ErrorCode, MessagingError};
pub use message::BrokerMessage;
pub use subject::{Pattern, Subject};
