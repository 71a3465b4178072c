//! The messaging client: [`MessagingClient`] over core-pre (reconnects, bounded queues,
//! request correlation) and client_ws's transport (native and browser), speaking either
//! [`Codec`] of `shared/protocol/messaging.md`.
//!
//! From the bottom: `config` ([`ClientConfig`], [`Codec`]) → `shared` (the subscription
//! registry, pending requests and the dispatch of inbound frames) → `subscription`
//! ([`Subscription`]) and `connector` (the WebSocket plus each codec's handshake and
//! resubscription) → `client` ([`MessagingClient`]).

#[allow(clippy::module_inception)]
mod client;
mod config;
mod connector;
mod shared;
mod subscription;

pub use client::{MessagingClient, Session};
pub use config::{
    ClientConfig, Codec, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_PENDING_REQUESTS,
    DEFAULT_PING_INTERVAL, DEFAULT_SUBSCRIPTION_CAPACITY,
};
pub use core_pre::{ConnectionState, ReconnectPolicy};
pub use subscription::Subscription;
