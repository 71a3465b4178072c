//! [`Middleware`]: layers over every message in and out, and observers of the connection
//! lifecycle.
//!
//! A middleware implements only the hooks it cares about; the rest default to passing the
//! message on unchanged (or doing nothing). On the message paths a layer can **observe**
//! (return the message as it came), **transform** (return another message) or **drop**
//! (return `None`: later layers, handlers and modules never see it, or it is never sent).
//! A stack is an ordered list: every hook runs in the order the middleware were added.
//! Hooks are synchronous and run on the hot path (receive hooks in the reader, send hooks
//! in the writer), so keep them cheap. With no middleware installed, neither path does any
//! work for them.

use std::sync::Arc;

use crate::error::ConnectError;
use crate::link::Outbound;
use crate::message::Message;
use crate::runtime::{MaybeSend, MaybeSync};
use crate::state::{AppState, ConnectionEnd};

/// What middleware hooks get besides their argument.
pub struct MiddlewareContext<S> {
    /// The shared application state.
    pub state: Arc<S>,
    /// Sends to the peer.
    pub outbound: Outbound,
}

/// Hooks into the message flow and the connection lifecycle. Message hooks default to
/// passing the message on; lifecycle hooks to doing nothing.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use core_pre::{Message, Middleware, MiddlewareContext};
///
/// /// Counts text messages, drops `debug:` ones, and tags what goes out.
/// #[derive(Default)]
/// struct Filter(AtomicU64);
///
/// impl Middleware<()> for Filter {
///     fn on_receive(&self, msg: Message, _ctx: &MiddlewareContext<()>) -> Option<Message> {
///         if msg.as_text().is_some_and(|t| t.starts_with("debug:")) {
///             return None;
///         }
///         if msg.is_text() {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///         Some(msg)
///     }
///
///     fn on_send(&self, msg: Message, _ctx: &MiddlewareContext<()>) -> Option<Message> {
///         match msg.as_text() {
///             Some(text) => Some(Message::text(format!("v1:{text}"))),
///             None => Some(msg),
///         }
///     }
/// }
/// ```
pub trait Middleware<S: AppState>: MaybeSend + MaybeSync + 'static {
    /// A connection was established.
    fn on_connect(&self, _ctx: &MiddlewareContext<S>) {}
    /// A connection attempt failed.
    fn on_connect_failed(&self, _error: &ConnectError, _ctx: &MiddlewareContext<S>) {}
    /// A connection ended.
    fn on_disconnect(&self, _end: &ConnectionEnd, _ctx: &MiddlewareContext<S>) {}
    /// A message arrived (before routing).
    fn on_receive(&self, msg: Message, _ctx: &MiddlewareContext<S>) -> Option<Message> {
        Some(msg)
    }
    /// A message is about to be written.
    fn on_send(&self, msg: Message, _ctx: &MiddlewareContext<S>) -> Option<Message> {
        Some(msg)
    }
}

impl<S: AppState, M: Middleware<S>> Middleware<S> for Arc<M> {
    fn on_connect(&self, ctx: &MiddlewareContext<S>) {
        (**self).on_connect(ctx)
    }
    fn on_connect_failed(&self, error: &ConnectError, ctx: &MiddlewareContext<S>) {
        (**self).on_connect_failed(error, ctx)
    }
    fn on_disconnect(&self, end: &ConnectionEnd, ctx: &MiddlewareContext<S>) {
        (**self).on_disconnect(end, ctx)
    }
    fn on_receive(&self, msg: Message, ctx: &MiddlewareContext<S>) -> Option<Message> {
        (**self).on_receive(msg, ctx)
    }
    fn on_send(&self, msg: Message, ctx: &MiddlewareContext<S>) -> Option<Message> {
        (**self).on_send(msg, ctx)
    }
}

/// The ordered list of middleware of one client.
pub(crate) struct MiddlewareStack<S> {
    layers: Vec<Box<dyn Middleware<S>>>,
    ctx: MiddlewareContext<S>,
}

impl<S: AppState> MiddlewareStack<S> {
    pub(crate) fn new(layers: Vec<Box<dyn Middleware<S>>>, ctx: MiddlewareContext<S>) -> Self {
        MiddlewareStack { layers, ctx }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    pub(crate) fn on_connect(&self) {
        self.layers.iter().for_each(|m| m.on_connect(&self.ctx));
    }

    pub(crate) fn on_connect_failed(&self, error: &ConnectError) {
        self.layers
            .iter()
            .for_each(|m| m.on_connect_failed(error, &self.ctx));
    }

    pub(crate) fn on_disconnect(&self, end: &ConnectionEnd) {
        self.layers
            .iter()
            .for_each(|m| m.on_disconnect(end, &self.ctx));
    }

    /// Runs every receive layer in order; `None` when one dropped the message.
    pub(crate) fn on_receive(&self, msg: Message) -> Option<Message> {
        self.layers
            .iter()
            .try_fold(msg, |msg, m| m.on_receive(msg, &self.ctx))
    }

    /// Runs every send layer in order; `None` when one dropped the message.
    pub(crate) fn on_send(&self, msg: Message) -> Option<Message> {
        self.layers
            .iter()
            .try_fold(msg, |msg, m| m.on_send(msg, &self.ctx))
    }
}
