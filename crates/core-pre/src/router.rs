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

use crate::inbox::{InboxSender, TrySendError};
use crate::link::Outbound;
use crate::message::Message;
use crate::rule::{Interest, Rule};
use crate::runtime::{self, MaybeSend, MaybeSync};
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
    tx: InboxSender,
    stalled: bool,
    stats: Arc<RouteStats>,
}

impl Route {
    pub(crate) fn new(module: &'static str, rule: Box<dyn Rule>, tx: InboxSender) -> Self {
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
    #[inline(always)]
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
            Err(TrySendError::Full(msg)) => {
                if self.stalled {
                    bump(&self.stats.dropped);
                    Ok(())
                } else {
                    Err(msg)
                }
            }
            // The module is gone (shutting down): nothing to deliver to.
            Err(TrySendError::Closed) => Ok(()),
        }
    }

    /// Waits up to `stall_timeout` for room; past it, the module is stalled.
    async fn deliver_waiting(&mut self, msg: Message, stall_timeout: Duration) {
        match runtime::timeout(stall_timeout, self.tx.send(msg)).await {
            Ok(Ok(())) => bump(&self.stats.delivered),
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

/// A node of the uncompressed trie waiting to be placed by [`Index::compress`]: its old
/// number, the run leading to it, and `(new parent, edge)` (none for the root).
type Pending = (usize, Vec<u8>, Option<(usize, usize)>);

/// One node of the prefix index: the routes whose prefix ends here, and the next bytes.
#[derive(Default)]
struct Node {
    /// The bytes after the edge's byte that lead here (a chain of nodes with one child
    /// and no routes, compressed: one comparison instead of a step per byte).
    run: Box<[u8]>,
    routes: Vec<usize>,
    /// `(byte, node)` pairs, sorted by byte.
    next: Vec<(u8, u32)>,
    /// Every route to ask about a text whose walk ends here: the routes of this node and
    /// of the nodes above it, and the routes that want every message; sorted, computed
    /// once when the index is built.
    all: Box<[usize]>,
    /// The bytes leading from the root to here.
    path: Box<[u8]>,
}

/// The routes each message can concern, from the rules' [`Interest`]s: a rule is asked
/// only about messages in its interest, so a rule that does not want a frame costs
/// nothing for it and routing stays flat as modules are added.
///
/// Text prefixes live in a byte trie: one walk along the message's first bytes finds every
/// route whose prefix the message starts with, however many routes there are.
struct Index {
    /// Routes asked about every message.
    always: Vec<usize>,
    /// The prefix trie; node 0 is the root (the empty prefix).
    nodes: Vec<Node>,
    /// `(head, routes)`: routes that also want every text not starting with `head`.
    outside: Vec<(Box<[u8]>, Vec<usize>)>,
    /// How many routes there are.
    routes: usize,
    /// The leaf the last walk ended at (0: none). A protocol's frames come in runs of
    /// one kind (a flood of ticks), and a text that starts with a leaf's path walks to
    /// that leaf whatever follows: one comparison instead of a walk.
    last_leaf: usize,
}

impl Index {
    fn new(routes: &[Route]) -> Index {
        let mut index = Index {
            always: Vec::new(),
            nodes: vec![Node::default()],
            outside: Vec::new(),
            routes: routes.len(),
            last_leaf: 0,
        };
        for (route, r) in routes.iter().enumerate() {
            match r.rule.interest() {
                Interest::All => index.always.push(route),
                Interest::Text { prefixes, outside } => {
                    for prefix in prefixes {
                        index.insert(prefix.as_bytes(), route);
                    }
                    if let Some(head) = outside {
                        let head = head.into_bytes().into_boxed_slice();
                        match index.outside.iter_mut().find(|(h, _)| *h == head) {
                            Some((_, group)) => group.push(route),
                            None => index.outside.push((head, vec![route])),
                        }
                    }
                }
            }
        }
        index.compress();
        index.gather();
        index
    }

    /// Fills each node's `all` list. Parents come before their children in `nodes` (the
    /// compression numbers them so), so one pass in order sees every parent's list first.
    fn gather(&mut self) {
        let mut parents = vec![None; self.nodes.len()];
        for (number, node) in self.nodes.iter().enumerate() {
            for &(_, child) in &node.next {
                parents[child as usize] = Some(number);
            }
        }
        for (number, parent) in parents.into_iter().enumerate() {
            let mut all: Vec<usize> = match parent {
                Some(parent) => self.nodes[parent].all.to_vec(),
                None => self.always.clone(),
            };
            all.extend_from_slice(&self.nodes[number].routes);
            all.sort_unstable();
            all.dedup();
            self.nodes[number].all = all.into_boxed_slice();
            if let Some(parent) = parent {
                let mut path = self.nodes[parent].path.to_vec();
                let edge = self.nodes[parent]
                    .next
                    .iter()
                    .find(|&&(_, child)| child as usize == number)
                    .map(|&(byte, _)| byte);
                path.extend(edge);
                path.extend_from_slice(&self.nodes[number].run);
                self.nodes[number].path = path.into_boxed_slice();
            }
        }
    }

    /// Folds every chain of nodes with one child and no routes into its head's `run`.
    fn compress(&mut self) {
        let mut old: Vec<Option<Node>> = std::mem::take(&mut self.nodes)
            .into_iter()
            .map(Some)
            .collect();
        let mut nodes: Vec<Node> = Vec::new();
        // Nodes still to place: the old node, and where to write its new number (the new
        // parent and the edge in it); the root has none.
        let mut stack: Vec<Pending> = vec![(0, Vec::new(), None)];
        while let Some((mut at, mut run, parent)) = stack.pop() {
            // The root keeps an empty run: the walk starts there.
            if parent.is_some() {
                while let Some(node) = old[at].as_ref() {
                    match node.next.as_slice() {
                        [(byte, child)] if node.routes.is_empty() => {
                            run.push(*byte);
                            at = *child as usize;
                        }
                        _ => break,
                    }
                }
            }
            let Some(node) = old[at].take() else { continue };
            let number = nodes.len();
            if let Some((parent, edge)) = parent {
                nodes[parent].next[edge].1 = number as u32;
            }
            for (edge, &(_, child)) in node.next.iter().enumerate() {
                stack.push((child as usize, Vec::new(), Some((number, edge))));
            }
            nodes.push(Node {
                run: run.into_boxed_slice(),
                routes: node.routes,
                next: node.next,
                all: Box::default(),
                path: Box::default(),
            });
        }
        nodes.shrink_to_fit();
        self.nodes = nodes;
    }

    fn insert(&mut self, prefix: &[u8], route: usize) {
        let mut node = 0;
        for &byte in prefix {
            node = match self.nodes[node]
                .next
                .binary_search_by_key(&byte, |&(b, _)| b)
            {
                Ok(at) => self.nodes[node].next[at].1 as usize,
                Err(at) => {
                    let child = self.nodes.len();
                    self.nodes.push(Node::default());
                    self.nodes[node].next.insert(at, (byte, child as u32));
                    child
                }
            };
        }
        if !self.nodes[node].routes.contains(&route) {
            self.nodes[node].routes.push(route);
        }
    }

    /// True when every route is asked about every message (no rule declared an interest).
    fn is_trivial(&self) -> bool {
        self.always.len() == self.routes
    }

    /// The deepest node whose path `text` starts with.
    fn walk(&self, text: &[u8]) -> usize {
        let mut node = 0;
        let mut rest = text;
        while let Some((&byte, after)) = rest.split_first() {
            let next = match self.nodes[node].next.as_slice() {
                [] => break,
                [(b, child)] => {
                    if *b != byte {
                        break;
                    }
                    *child as usize
                }
                edges => match edges.binary_search_by_key(&byte, |&(b, _)| b) {
                    Ok(at) => edges[at].1 as usize,
                    Err(_) => break,
                },
            };
            match after.strip_prefix(&*self.nodes[next].run) {
                Some(after_run) => {
                    node = next;
                    rest = after_run;
                }
                None => break,
            }
        }
        node
    }

    /// The routes to ask about `msg`, in route order: a list computed when the index was
    /// built, or (when a rule wants texts outside some head and this one is) `scratch`
    /// filled with that list and those rules.
    fn candidates<'a>(&'a mut self, msg: &Message, scratch: &'a mut Vec<usize>) -> &'a [usize] {
        let Some(text) = msg.as_text().map(str::as_bytes) else {
            return &self.always;
        };
        let node = match self.last_leaf {
            leaf if leaf != 0 && text.starts_with(&self.nodes[leaf].path) => leaf,
            _ => {
                let node = self.walk(text);
                if node != 0 && self.nodes[node].next.is_empty() {
                    self.last_leaf = node;
                }
                node
            }
        };
        let node = &self.nodes[node];
        let mut outside = self
            .outside
            .iter()
            .filter(|(head, _)| !text.starts_with(head))
            .peekable();
        if outside.peek().is_none() {
            return &node.all;
        }
        scratch.clear();
        scratch.extend_from_slice(&node.all);
        for (_, group) in outside {
            scratch.extend_from_slice(group);
        }
        scratch.sort_unstable();
        scratch.dedup();
        scratch
    }
}

/// Where [`Router::route`] stopped: the matched route at `position` had no room for
/// `blocked`; `rest` is the message for the matched routes after it (none when it was the
/// last).
pub(crate) struct Blocked {
    position: usize,
    blocked: Message,
    rest: Option<Message>,
}

/// Routes inbound messages to modules and handlers.
pub(crate) struct Router<S> {
    routes: Vec<Route>,
    /// Which routes to ask about each message (see [`Index`]).
    index: Index,
    /// Scratch list of the routes to ask about the current message, when the index has
    /// no ready list for it (reused).
    candidates: Vec<usize>,
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
            candidates: Vec::with_capacity(routes.len()),
            index: Index::new(&routes),
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
    /// others a cheap clone). Returns `Ok` when every inbox took the message at once (the
    /// hot path, with no future built), or where it stopped at a full inbox: pass that to
    /// [`finish`](Self::finish), which waits for room (see the module docs) and delivers
    /// the rest.
    #[inline]
    pub(crate) fn route(&mut self, msg: Message) -> Result<(), Blocked> {
        self.matched.clear();
        if self.index.is_trivial() {
            // No rule declared an interest: ask them all, as the index would.
            for (index, route) in self.routes.iter_mut().enumerate() {
                if route.rule.matches(&msg) {
                    self.matched.push(index);
                }
            }
        } else {
            for &index in self.index.candidates(&msg, &mut self.candidates) {
                if self.routes[index].rule.matches(&msg) {
                    self.matched.push(index);
                }
            }
        }
        let Some((&last, others)) = self.matched.split_last() else {
            return Ok(());
        };
        for (position, &index) in others.iter().enumerate() {
            if let Err(blocked) = self.routes[index].try_deliver(msg.clone()) {
                return Err(Blocked {
                    position,
                    blocked,
                    rest: Some(msg),
                });
            }
        }
        match self.routes[last].try_deliver(msg) {
            Ok(()) => Ok(()),
            Err(blocked) => Err(Blocked {
                position: self.matched.len() - 1,
                blocked,
                rest: None,
            }),
        }
    }

    /// The slow path of [`route`](Self::route): waits for the route at which it stopped,
    /// then delivers to the matched routes after it.
    pub(crate) async fn finish(&mut self, stopped: Blocked) {
        let Blocked {
            position,
            blocked,
            mut rest,
        } = stopped;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{RuleExt, WithAttachments, text_starts_with};

    fn route(rule: Box<dyn Rule>) -> Route {
        let (tx, _inbox) = crate::inbox::channel(1);
        Route::new("test", rule, tx)
    }

    fn candidates(index: &mut Index, msg: &Message) -> Vec<usize> {
        let mut scratch = Vec::new();
        index.candidates(msg, &mut scratch).to_vec()
    }

    #[test]
    fn the_index_asks_exactly_the_rules_whose_interest_covers_the_message() {
        let mut routes = vec![
            route(text_starts_with("42[\"tick\"").boxed()),
            route(Box::new(|m: &Message| m.is_binary())),
            route(
                text_starts_with("42[\"tick\"")
                    .or(text_starts_with("42[\"ti"))
                    .boxed(),
            ),
            route(text_starts_with("").boxed()),
            route(
                text_starts_with("42[\"quote\"")
                    .or(text_starts_with("42[\"balance\""))
                    .boxed(),
            ),
            route(WithAttachments::new(text_starts_with("451-"), |_: &Message| 1).boxed()),
        ];
        // A rule that also wants every text not in the canonical `42["` shape.
        struct Events;
        impl Rule for Events {
            fn matches(&mut self, msg: &Message) -> bool {
                msg.as_text().is_some_and(|t| t.contains("quote"))
            }
            fn interest(&self) -> Interest {
                Interest::text(["42[\"quote\""]).or_text_not_starting_with("42[\"")
            }
        }
        routes.push(route(Box::new(Events)));
        for _ in 0..100 {
            routes.push(route(text_starts_with("42[\"idle\"").boxed()));
        }
        let interests: Vec<Interest> = routes.iter().map(|r| r.rule.interest()).collect();
        assert_eq!(interests[0], Interest::text(["42[\"tick\""]));
        assert_eq!(interests[5], Interest::All, "attachments need every frame");
        let mut index = Index::new(&routes);
        let messages = [
            Message::text("42[\"tick\",1]"),
            Message::text("42[\"ti\"]"),
            Message::text("42[\"quote\",2]"),
            Message::text("42[\"balance\",3]"),
            Message::text("427[\"quote\",2]"),
            Message::text("42"),
            Message::text(""),
            Message::text("451-[\"x\"]"),
            Message::binary(vec![1, 2]),
        ];
        // Twice over in both orders: a walk remembered from one message (the last leaf)
        // must never answer for another.
        let sequence = messages
            .iter()
            .chain(messages.iter().rev())
            .chain(messages.iter().flat_map(|m| [m, m]));
        for msg in sequence {
            let expected: Vec<usize> = interests
                .iter()
                .enumerate()
                .filter(|(_, interest)| interest.covers(msg))
                .map(|(i, _)| i)
                .collect();
            assert_eq!(candidates(&mut index, msg), expected, "{msg:?}");
        }
        assert_eq!(
            candidates(&mut index, &Message::text("42[\"tick\",1]")),
            vec![0, 1, 2, 3, 5],
            "a tick asks the tick rules, the catch-alls and nothing else"
        );
        assert_eq!(
            candidates(&mut index, &Message::text("427[\"quote\"]")),
            vec![1, 3, 5, 6],
            "a frame outside the canonical head reaches the rule that asked for those"
        );
    }
}
