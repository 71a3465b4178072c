//! # bench
//!
//! The benchmark suite's building blocks: we claim speed only where we measure it, and we
//! measure our stack against the raw transport in the same run, on loopback.
//!
//! * [`BenchServer`] ([`server`]) floods pre-encoded frames ([`Blast`]), answers the
//!   PocketOption handshake and echoes pings, over the bare RFC 6455 bits in [`wire`];
//!   [`ServerThread`] runs it on its own thread and runtime.
//! * [`throughput`]: a bare tokio-tungstenite read loop vs a core-pre client routing every
//!   frame to a counting module.
//! * [`ticks`]: a bare pair-counting loop vs the PocketOption client's subscription stream.
//! * [`latency`]: bare send + receive vs `RawHandle::send_and_wait`.
//! * [`memory`]: RSS growth of a stalled module, RSS per idle connection.
//! * [`reconnect`]: from a server-side drop to the stream delivering again.
//! * [`serving`]: the `server` crate against a bare tokio-tungstenite server: broadcast
//!   throughput, broadcast latency beside a stalled peer, echo round trips, RSS per idle
//!   session.
//! * [`nats`]: our messaging client (NATS over WebSocket) vs async-nats over TCP, through
//!   one nats-server: pub/sub throughput and request/reply round trips.
//! * [`hub_fanout`]: one publisher to many subscribers through the messaging hub, against
//!   nats-server with async-nats clients.
//! * [`report`]: the figures, the table and `report.json`.
//!
//! The suite itself (`benches/suite.rs`, which also measures ezsockets) runs with
//! `cargo xtask bench [--quick]`; see the crate README.

mod error;
pub mod hub_fanout;
pub mod latency;
pub mod memory;
pub mod nats;
pub mod reconnect;
pub mod report;
pub mod server;
mod server_thread;
pub mod serving;
pub mod throughput;
pub mod ticks;
pub mod wire;

pub use error::{BenchError, within};
pub use report::Figure;
pub use server::{BenchServer, Blast, ServerConfig};
pub use server_thread::ServerThread;
pub use throughput::Throughput;
