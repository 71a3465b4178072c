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

pub mod error;
#[cfg(not(target_arch = "wasm32"))]
pub mod hub;
pub mod json;
pub mod message;
pub mod subject;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use error::{ErrorCode, MessagingError};
pub use message::BrokerMessage;
pub use subject::{Pattern, Subject};
