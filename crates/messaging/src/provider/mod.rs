//! The provider facade of the original `wasmcloud:messaging` provider: a
//! [`ConnectionConfig`] per link from a string map merged over the provider's defaults,
//! the link lifecycle, a [`Handler`] with an in-flight cap, and sessions
//! ([`MessagingProvider::send_to_session`], [`MessagingProvider::list_sessions`]).
//!
//! From the bottom: `config` ([`ConnectionConfig`], [`ConfigError`]) → `provider`
//! ([`MessagingProvider`], [`Handler`], [`SessionInfo`]).

mod config;
#[allow(clippy::module_inception)]
mod provider;

pub use config::{ConfigError, ConnectionConfig, SubscriptionSpec};
/// What a [`Handler`] returns, re-exported so handlers need no other import.
pub use core_pre::{BoxError, BoxFuture};
pub use provider::{
    Handler, HandlerStats, MessagingProvider, NoHandler, ProviderError, SessionInfo,
};
