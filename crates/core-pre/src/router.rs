//! The router: hands each inbound message to every module whose rule matches, and to
//! every inline handler.
//!
//! # Slow modules
//!
//! Each module has a bounded inbox. When a module's inbox is full, the reader waits for
//! room for up to the client's *stall timeout* (default 100 ms): a module that is merely
//! slow pushes back on the reader and loses nothing. If no room appears in that time the
//! module is considered stalled: the message is dropped **for that module only**, counted
//! in its route statistics ([`Client::route_stats`](crate::Client::route_stats)), and logged once. While stalled, further messages for it are
//! dropped without waiting, so one stuck module never stalls the connection (or its
//! keep-alive) for everyone else. As soon as it frees room it receives messages again.
//!
//! Inline handlers run in the reader, in order, before modules: they must not block.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::link::Outbound;
use crate::message::Message;
use crate::rule::Rule;
use crate::runtime::{self, BoxFuture, MaybeSend, MaybeSync};
use crate::state::AppState;

/// What an inline handler gets besides the message.
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
pub trait InlineHandler<S>: MaybeSend + MaybeSync + 'static {
    /// Looks at one message.
    fn handle(&self, msg: &Message, ctx: &HandlerContext<S>);
}

impl<S, F> InlineHandler<S> for F
where
    F: Fn(&Message, &HandlerContext<S>) + MaybeSend + MaybeSync + 'static,
{
    fn handle(&self, msg: &Message, ctx: &HandlerContext<S>) {
        self(msg, ctx)
    }
}

/// Delivery counters of one module.
#[derive(Debug, Default)]
pub(crate) struct RouteStats {
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

/// Adds one to a counter only the reader task writes: a plain load and store, cheaper than
/// an atomic read-modify-write on every message (readers on other threads still see whole
/// values).
fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
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

    /// Delivers without waiting. Gives the message back when the inbox is full and the
    /// module is not (yet) known to be stalled: the caller then waits with
    /// [`deliver_waiting`](Self::deliver_waiting).
    fn try_deliver(&mut self, msg: Message) -> Result<(), Message> {
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
                bump(&self.stats.delivered);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(msg)) => {
                if self.stalled {
                    bump(&self.stats.dropped);
                    Ok(())
                } else {
                    Err(msg)
                }
            }
            // The module is gone (shutting down): nothing to deliver to.
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
        }
    }

    /// Waits up to `stall_timeout` for room; past it, the module is stalled.
    async fn deliver_waiting(&mut self, msg: Message, stall_timeout: Duration) {
        match runtime::timeout(stall_timeout, self.tx.reserve()).await {
            Ok(Ok(permit)) => {
                permit.send(msg);
                bump(&self.stats.delivered);
            }
            // The module is gone (shutting down): nothing to deliver to.
            Ok(Err(_)) => {}
            Err(_) => {
                self.stalled = true;
                bump(&self.stats.dropped);
                tracing::warn!(
                    module = self.module,
                    ?stall_timeout,
                    "module inbox full: dropping its messages until it catches up"
                );
            }
        }
    }
}

/// Routes inbound messages to modules and handlers.
pub(crate) struct Router<S> {
    routes: Vec<Route>,
    /// Scratch list of the routes matching the current message (reused, no allocation).
    matched: Vec<usize>,
    handlers: Vec<Box<dyn InlineHandler<S>>>,
    handler_ctx: HandlerContext<S>,
    stall_timeout: Duration,
}

impl<S: AppState> Router<S> {
    pub(crate) fn new(
        routes: Vec<Route>,
        handlers: Vec<Box<dyn InlineHandler<S>>>,
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

    /// Runs the inline handlers (always, from the first frame of a connection).
    pub(crate) fn run_handlers(&self, msg: &Message) {
        for handler in &self.handlers {
            handler.handle(msg, &self.handler_ctx);
        }
    }

    /// Delivers to every module whose rule matches (the last one gets `msg` itself, the
    /// others a cheap clone). Returns `None` when every inbox took the message at once — the
    /// hot path, with no future built — or the future that waits for room (see the module
    /// docs) and delivers the rest.
    pub(crate) fn route(&mut self, msg: Message) -> Option<BoxFuture<'_, ()>> {
        self.matched.clear();
        for (index, route) in self.routes.iter_mut().enumerate() {
            if route.rule.matches(&msg) {
                self.matched.push(index);
            }
        }
        let (&last, others) = self.matched.split_last()?;
        for (position, &index) in others.iter().enumerate() {
            if let Err(blocked) = self.routes[index].try_deliver(msg.clone()) {
                return Some(runtime::boxed(self.route_waiting(
                    position,
                    blocked,
                    Some(msg),
                )));
            }
        }
        let blocked = self.routes[last].try_deliver(msg).err()?;
        let position = self.matched.len() - 1;
        Some(runtime::boxed(self.route_waiting(position, blocked, None)))
    }

    /// The slow path of [`route`](Self::route): waits for the route at `position` of the
    /// matched list, then delivers to the ones after it (`rest` is the message for them).
    async fn route_waiting(
        &mut self,
        position: usize,
        blocked: Message,
        mut rest: Option<Message>,
    ) {
        let stall_timeout = self.stall_timeout;
        let index = self.matched[position];
        self.routes[index]
            .deliver_waiting(blocked, stall_timeout)
            .await;
        let count = self.matched.len();
        for next in position + 1..count {
            let index = self.matched[next];
            let msg = if next + 1 == count {
                rest.take()
            } else {
                rest.clone()
            };
            let Some(msg) = msg else { return };
            if let Err(blocked) = self.routes[index].try_deliver(msg) {
                self.routes[index]
                    .deliver_waiting(blocked, stall_timeout)
                    .await;
            }
        }
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
