//! The router: hands each inbound message to every module whose rule matches, and to
//! every lightweight handler.
//!
//! # Slow modules
//!
//! Each module has a bounded inbox. When a module's inbox is full, the reader waits for
//! room for up to the client's *stall timeout* (default 100 ms): a module that is merely
//! slow pushes back on the reader and loses nothing. If no room appears in that time the
//! module is considered stalled: the message is dropped **for that module only**, counted
//! in its [`RouteStats`], and logged once. While stalled, further messages for it are
//! dropped without waiting, so one stuck module never stalls the connection (or its
//! keep-alive) for everyone else. As soon as it frees room it receives messages again.
//!
//! Lightweight handlers run inline, in order, before modules: they must not block.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::link::Outbound;
use crate::message::Message;
use crate::rule::Rule;
use crate::runtime::{self, MaybeSend, MaybeSync};
use crate::state::AppState;

/// What a lightweight handler gets besides the message.
pub struct HandlerContext<S> {
    /// The shared application state.
    pub state: Arc<S>,
    /// Sends to the peer (use `try_send`: handlers must not block).
    pub outbound: Outbound,
}

/// A function that sees every inbound message, inline in the reader.
///
/// Any `Fn(&Message, &HandlerContext<S>)` is a handler. Use it for things that must happen
/// immediately and cheaply, like answering a protocol-level ping.
pub trait LightweightHandler<S>: MaybeSend + MaybeSync + 'static {
    /// Looks at one message.
    fn handle(&self, msg: &Message, ctx: &HandlerContext<S>);
}

impl<S, F> LightweightHandler<S> for F
where
    F: Fn(&Message, &HandlerContext<S>) + MaybeSend + MaybeSync + 'static,
{
    fn handle(&self, msg: &Message, ctx: &HandlerContext<S>) {
        self(msg, ctx)
    }
}

/// Delivery counters of one module.
#[derive(Debug, Default)]
pub struct RouteStats {
    delivered: AtomicU64,
    dropped: AtomicU64,
}

/// A copy of one module's delivery counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteStatsSnapshot {
    /// The module.
    pub module: &'static str,
    /// Messages put in its inbox.
    pub delivered: u64,
    /// Messages dropped because it was stalled.
    pub dropped: u64,
}

pub(crate) struct Route {
    module: &'static str,
    rule: Box<dyn Rule>,
    tx: mpsc::Sender<Message>,
    stalled: bool,
    stats: Arc<RouteStats>,
}

impl Route {
    pub(crate) fn new(
        module: &'static str,
        rule: Box<dyn Rule>,
        tx: mpsc::Sender<Message>,
    ) -> Self {
        Route {
            module,
            rule,
            tx,
            stalled: false,
            stats: Arc::default(),
        }
    }

    pub(crate) fn stats(&self) -> (&'static str, Arc<RouteStats>) {
        (self.module, self.stats.clone())
    }

    async fn deliver(&mut self, msg: Message, stall_timeout: Duration) {
        match self.tx.try_send(msg) {
            Ok(()) => {
                if self.stalled {
                    self.stalled = false;
                    tracing::info!(
                        module = self.module,
                        dropped = self.stats.dropped.load(Ordering::Relaxed),
                        "module caught up; delivering again"
                    );
                }
                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(msg)) => {
                if self.stalled {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                match runtime::timeout(stall_timeout, self.tx.reserve()).await {
                    Ok(Ok(permit)) => {
                        permit.send(msg);
                        self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    // The module is gone (shutting down): nothing to deliver to.
                    Ok(Err(_)) => {}
                    Err(_) => {
                        self.stalled = true;
                        self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            module = self.module,
                            ?stall_timeout,
                            "module inbox full: dropping its messages until it catches up"
                        );
                    }
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// Routes inbound messages to modules and handlers.
pub(crate) struct Router<S> {
    routes: Vec<Route>,
    /// Scratch list of the routes matching the current message (reused, no allocation).
    matched: Vec<usize>,
    handlers: Vec<Box<dyn LightweightHandler<S>>>,
    handler_ctx: HandlerContext<S>,
    stall_timeout: Duration,
}

impl<S: AppState> Router<S> {
    pub(crate) fn new(
        routes: Vec<Route>,
        handlers: Vec<Box<dyn LightweightHandler<S>>>,
        handler_ctx: HandlerContext<S>,
        stall_timeout: Duration,
    ) -> Self {
        Router {
            matched: Vec::with_capacity(routes.len()),
            routes,
            handlers,
            handler_ctx,
            stall_timeout,
        }
    }

    /// Runs the lightweight handlers (always, from the first frame of a connection).
    pub(crate) fn run_handlers(&self, msg: &Message) {
        for handler in &self.handlers {
            handler.handle(msg, &self.handler_ctx);
        }
    }

    /// Delivers to every module whose rule matches.
    /// Delivers to every module whose rule matches (the last one gets `msg` itself, the
    /// others a cheap clone).
    pub(crate) async fn route(&mut self, msg: Message) {
        let stall_timeout = self.stall_timeout;
        self.matched.clear();
        for (index, route) in self.routes.iter_mut().enumerate() {
            if route.rule.matches(&msg) {
                self.matched.push(index);
            }
        }
        let Some((&last, others)) = self.matched.split_last() else {
            return;
        };
        for &index in others {
            self.routes[index].deliver(msg.clone(), stall_timeout).await;
        }
        self.routes[last].deliver(msg, stall_timeout).await;
    }

    /// Clears rule state between connections.
    pub(crate) fn reset(&mut self) {
        for route in &mut self.routes {
            route.rule.reset();
            route.stalled = false;
        }
    }
}

pub(crate) fn snapshot(stats: &[(&'static str, Arc<RouteStats>)]) -> Vec<RouteStatsSnapshot> {
    stats
        .iter()
        .map(|(module, s)| RouteStatsSnapshot {
            module,
            delivered: s.delivered.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
        })
        .collect()
}
