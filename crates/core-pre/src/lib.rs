//! # core-pre
//!
//! A platform-neutral framework for resilient WebSocket clients. It compiles natively (on
//! tokio) and for `wasm32-unknown-unknown` (in the browser), and depends on no socket
//! library: transports plug in through the [`Connector`] trait.
//!
//! The pieces:
//!
//! * [`ClientBuilder`] assembles a client from a [`Connector`], [`Module`]s (each hands
//!   back a typed handle), [inline handlers](InlineHandler), [`Middleware`],
//!   connect/reconnect callbacks and settings, and spawns it (or builds a [`Client`] +
//!   [`ClientRunner`] to run yourself).
//! * [`ClientRunner`] is the background task: it connects, reads and routes every inbound
//!   message, writes from a bounded queue, detects dead peers, reconnects with backoff,
//!   and supervises modules.
//! * [`Client`] is the cloneable handle: send, watch the connection state (or follow its
//!   transitions as [`StatusEvents`]), connect/disconnect/reconnect, shut down.
//! * The [`router`] hands each message to every module whose [`Rule`] matches.
//! * [`PendingRequests`] correlates requests with replies, with timeouts, failing every
//!   waiter when its connection drops.
//! * [`Statistics`] counts messages, bytes, connections and disconnect reasons.
//! * [`memory`] is an in-memory transport for tests.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use core_pre::memory::MemoryServer;
//! use core_pre::{ClientBuilder, Message};
//! use std::time::Duration;
//!
//! let server = MemoryServer::new();
//! let client = ClientBuilder::new(server.connector()).spawn();
//! let mut peer = server.accept().await.unwrap();
//! client.wait_connected(Duration::from_secs(5)).await.unwrap();
//!
//! client.send("hello").await.unwrap();
//! assert_eq!(peer.recv_text().await.unwrap(), "hello");
//!
//! client.shutdown().await.unwrap(); // joins every task, the runner's too
//! assert!(client.send("too late").await.is_err());
//! # }
//! ```

mod builder;
mod client;
mod config;
mod connector;
mod control;
mod correlation;
mod error;
mod human;
mod inbox;
mod link;
pub mod memory;
mod message;
mod middleware;
mod module;
mod reconnect;
pub mod router;
pub mod rule;
mod runner;
pub mod runtime;
mod state;
mod statistics;
mod status;
mod supervisor;

pub use builder::{ClientBuilder, Modules};
pub use client::Client;
pub use config::{ClientConfig, KeepAlive};
pub use connector::{
    ConnectContext, Connection, Connector, MessageSink, MessageStream, ReadTimeout,
};
pub use correlation::{PendingReply, PendingRequests};
pub use error::{
    BoxError, ConnectError, ConnectErrorKind, ConnectFailure, CoreError, CoreResult,
    TransportError, TransportErrorKind,
};
pub use human::HumanDuration;
pub use inbox::Inbox;
pub use link::{ConnectionWatch, Outbound};
pub use message::{CloseFrame, Message, Text};
pub use middleware::{Middleware, MiddlewareContext};
pub use module::{Commander, Commands, Module, ModuleContext, Request, Responder};
pub use reconnect::{CallbackContext, ConnectCallback, ReconnectPolicy};
pub use router::{HandlerContext, InlineHandler, RouteStatsSnapshot};
pub use rule::{Interest, Rule, RuleExt};
pub use runner::ClientRunner;
pub use runtime::{BoxFuture, MaybeSend, MaybeSync};
pub use state::{AppState, ConnectionEnd, ConnectionState, DisconnectReason};
pub use statistics::{Statistics, StatisticsSnapshot};
pub use status::{StatusEvent, StatusEvents};
pub use supervisor::{ModuleStatus, RestartPolicy};
