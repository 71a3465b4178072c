//! Raw access: send any frame, wait for the frame that answers it, or stream every frame
//! that matches a [`Matcher`].
//!
//! Matchers see inbound text frames after the event layer, so a two-step event arrives as
//! its one-step equivalent `42["name",payload]`. Frames registered with
//! [`RawHandle::keep_on_reconnect`] are re-sent after every reconnect (custom keep-alives,
//! custom subscriptions).

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use core_pre::rule::Rule;
use core_pre::runtime;
use core_pre::{
    BoxError, CallbackContext, ConnectCallback, ConnectionWatch, CoreError, Message, Module,
    ModuleContext, Outbound,
};
use futures::Stream;
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::state::PocketOptionState;

/// Frames buffered per raw stream before the excess is dropped (and counted).
pub const RAW_STREAM_BUFFER: usize = 1024;

/// Decides whether a text frame is wanted.
#[derive(Clone)]
pub enum Matcher {
    /// The frame starts with this text.
    StartsWith(String),
    /// The frame ends with this text.
    EndsWith(String),
    /// The frame contains this text.
    Contains(String),
    /// The frame matches this regular expression.
    Regex(regex::Regex),
    /// The frame is an event with this name (`42["name",…]`).
    Event(String),
    /// Any predicate.
    Custom(Arc<dyn Fn(&str) -> bool + Send + Sync>),
    /// Every matcher matches.
    All(Vec<Matcher>),
    /// At least one matcher matches.
    AnyOf(Vec<Matcher>),
    /// The matcher does not match.
    Not(Box<Matcher>),
}

impl Matcher {
    /// See [`Matcher::StartsWith`].
    pub fn starts_with(prefix: impl Into<String>) -> Self {
        Matcher::StartsWith(prefix.into())
    }

    /// See [`Matcher::EndsWith`].
    ///
    /// ```
    /// use binary_options_tools::Matcher;
    ///
    /// let closed = Matcher::event("successcloseOrder").and(Matcher::ends_with("}]"));
    /// assert!(closed.matches(r#"42["successcloseOrder",{"profit":1.92,"deals":[]}]"#));
    /// assert!(!Matcher::ends_with("]]").matches(r#"42["ps"]"#));
    /// ```
    pub fn ends_with(suffix: impl Into<String>) -> Self {
        Matcher::EndsWith(suffix.into())
    }

    /// See [`Matcher::Contains`].
    pub fn contains(needle: impl Into<String>) -> Self {
        Matcher::Contains(needle.into())
    }

    /// See [`Matcher::Event`].
    pub fn event(name: impl Into<String>) -> Self {
        Matcher::Event(name.into())
    }

    /// See [`Matcher::Regex`]; fails on an invalid pattern.
    pub fn regex(pattern: &str) -> Result<Self, Error> {
        regex::Regex::new(pattern)
            .map(Matcher::Regex)
            .map_err(|e| Error::InvalidMatcher {
                reason: e.to_string(),
            })
    }

    /// See [`Matcher::Custom`].
    pub fn custom(predicate: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Matcher::Custom(Arc::new(predicate))
    }

    /// Both match.
    pub fn and(self, other: Matcher) -> Self {
        Matcher::All(vec![self, other])
    }

    /// Either matches.
    pub fn or(self, other: Matcher) -> Self {
        Matcher::AnyOf(vec![self, other])
    }

    /// The opposite (named like `Rule::not`, not `std::ops::Not`).
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Self {
        Matcher::Not(Box::new(self))
    }

    /// Whether `frame` matches.
    pub fn matches(&self, frame: &str) -> bool {
        match self {
            Matcher::StartsWith(p) => frame.starts_with(p.as_str()),
            Matcher::EndsWith(s) => frame.ends_with(s.as_str()),
            Matcher::Contains(n) => frame.contains(n.as_str()),
            Matcher::Regex(r) => r.is_match(frame),
            Matcher::Event(name) => crate::event_name(frame) == Some(name.as_str()),
            Matcher::Custom(f) => f(frame),
            Matcher::All(all) => all.iter().all(|m| m.matches(frame)),
            Matcher::AnyOf(any) => any.iter().any(|m| m.matches(frame)),
            Matcher::Not(m) => !m.matches(frame),
        }
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::StartsWith(p) => write!(f, "StartsWith({p:?})"),
            Matcher::EndsWith(s) => write!(f, "EndsWith({s:?})"),
            Matcher::Contains(n) => write!(f, "Contains({n:?})"),
            Matcher::Regex(r) => write!(f, "Regex({:?})", r.as_str()),
            Matcher::Event(n) => write!(f, "Event({n:?})"),
            Matcher::Custom(_) => f.write_str("Custom(..)"),
            Matcher::All(m) => f.debug_tuple("All").field(m).finish(),
            Matcher::AnyOf(m) => f.debug_tuple("AnyOf").field(m).finish(),
            Matcher::Not(m) => f.debug_tuple("Not").field(m).finish(),
        }
    }
}

struct Waiter {
    id: u64,
    matcher: Matcher,
    tx: oneshot::Sender<String>,
}

struct Tap {
    id: u64,
    matcher: Matcher,
    tx: mpsc::Sender<String>,
    dropped: Arc<AtomicU64>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    waiters: Vec<Waiter>,
    taps: Vec<Tap>,
    reconnect_frames: Vec<String>,
}

/// The active raw waiters and streams.
#[derive(Default)]
pub struct RawRegistry {
    inner: Mutex<Inner>,
    /// Waiters + taps, readable without the lock (the common case is zero).
    active: AtomicUsize,
}

impl RawRegistry {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Registry updates are single pushes/removals; a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn recount(&self, inner: &Inner) {
        self.active
            .store(inner.waiters.len() + inner.taps.len(), Ordering::Release);
    }

    /// Whether any waiter or stream wants `frame` (runs inline in the reader).
    fn wants(&self, frame: &str) -> bool {
        if self.active.load(Ordering::Acquire) == 0 {
            return false;
        }
        let inner = self.lock();
        inner.waiters.iter().any(|w| w.matcher.matches(frame))
            || inner.taps.iter().any(|t| t.matcher.matches(frame))
    }

    fn dispatch(&self, frame: &str) {
        let mut inner = self.lock();
        let mut i = 0;
        while i < inner.waiters.len() {
            if inner.waiters[i].matcher.matches(frame) {
                let waiter = inner.waiters.swap_remove(i);
                let _ = waiter.tx.send(frame.to_owned());
            } else {
                i += 1;
            }
        }
        inner.taps.retain(|tap| {
            if !tap.matcher.matches(frame) {
                return true;
            }
            match tap.tx.try_send(frame.to_owned()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tap.dropped.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        self.recount(&inner);
    }

    fn remove_waiter(&self, id: u64) {
        let mut inner = self.lock();
        inner.waiters.retain(|w| w.id != id);
        self.recount(&inner);
    }

    fn remove_tap(&self, id: u64) {
        let mut inner = self.lock();
        inner.taps.retain(|t| t.id != id);
        self.recount(&inner);
    }

    fn close(&self) {
        let mut inner = self.lock();
        inner.waiters.clear();
        inner.taps.clear();
        self.recount(&inner);
    }
}

/// Routes matching frames to raw waiters and streams.
pub struct RawModule {
    ctx: ModuleContext<PocketOptionState>,
}

/// Raw access to the connection.
#[derive(Clone)]
pub struct RawHandle {
    state: Arc<PocketOptionState>,
    outbound: Outbound,
    connection: ConnectionWatch,
}

/// Unregisters a waiter when its wait ends (answered, timed out or cancelled).
struct WaiterGuard<'a>(&'a RawRegistry, u64);

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.0.remove_waiter(self.1);
    }
}

impl RawHandle {
    /// Sends a text frame as is.
    pub async fn send(&self, frame: impl Into<String>) -> Result<(), Error> {
        Ok(self.outbound.send(Message::text(frame.into())).await?)
    }

    /// Sends `frame` and waits up to `timeout` for the first inbound frame that `matcher`
    /// accepts. The matcher is registered before sending, so a fast answer is not missed.
    /// Fails with `ConnectionLost` at once if the connection drops while waiting.
    pub async fn send_and_wait(
        &self,
        frame: impl Into<String>,
        matcher: Matcher,
        timeout: Duration,
    ) -> Result<String, Error> {
        let registry = &self.state.raw;
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut inner = registry.lock();
            let id = inner.next_id;
            inner.next_id += 1;
            inner.waiters.push(Waiter { id, matcher, tx });
            registry.recount(&inner);
            id
        };
        let _guard = WaiterGuard(registry, id);
        let epoch = self.connection.epoch();
        self.send(frame).await?;
        let mut connection = self.connection.clone();
        let outcome = runtime::timeout(timeout, async {
            tokio::select! {
                biased;
                reply = rx => reply.map_err(|_| CoreError::ClientClosed),
                _ = connection.lost_since(epoch) => Err(CoreError::ConnectionLost),
            }
        })
        .await;
        match outcome {
            Ok(result) => Ok(result?),
            Err(_) => Err(Error::Timeout {
                waiting_for: "a matching frame",
                after: timeout,
            }),
        }
    }

    /// Streams every inbound frame `matcher` accepts, from now on, until dropped.
    pub fn stream(&self, matcher: Matcher) -> RawStream {
        let registry = &self.state.raw;
        let (tx, rx) = mpsc::channel(RAW_STREAM_BUFFER);
        let dropped = Arc::new(AtomicU64::new(0));
        let mut inner = registry.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.taps.push(Tap {
            id,
            matcher,
            tx,
            dropped: dropped.clone(),
        });
        registry.recount(&inner);
        RawStream {
            rx,
            id,
            dropped,
            state: self.state.clone(),
        }
    }

    /// Re-sends `frame` after every reconnect, before modules see new traffic.
    pub fn keep_on_reconnect(&self, frame: impl Into<String>) {
        self.state.raw.lock().reconnect_frames.push(frame.into());
    }

    /// Forgets every frame registered with [`keep_on_reconnect`](Self::keep_on_reconnect).
    pub fn clear_reconnect_frames(&self) {
        self.state.raw.lock().reconnect_frames.clear();
    }
}

/// Frames matching a raw stream's matcher. Ends when the client shuts down.
pub struct RawStream {
    rx: mpsc::Receiver<String>,
    id: u64,
    dropped: Arc<AtomicU64>,
    state: Arc<PocketOptionState>,
}

impl RawStream {
    /// Frames dropped because this stream was not read fast enough.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Stream for RawStream {
    type Item = String;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<String>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for RawStream {
    fn drop(&mut self) {
        self.state.raw.remove_tap(self.id);
    }
}

impl Module<PocketOptionState> for RawModule {
    type Handle = RawHandle;
    const NAME: &'static str = "raw";

    fn new(ctx: ModuleContext<PocketOptionState>) -> (Self, RawHandle) {
        let handle = RawHandle {
            state: ctx.state.clone(),
            outbound: ctx.outbound.clone(),
            connection: ctx.connection.clone(),
        };
        (RawModule { ctx }, handle)
    }

    fn rule(state: &Arc<PocketOptionState>) -> Box<dyn Rule> {
        let state = state.clone();
        Box::new(move |msg: &Message| msg.as_text().is_some_and(|t| state.raw.wants(t)))
    }

    async fn run(&mut self) -> Result<(), BoxError> {
        while let Some(msg) = self.ctx.inbox.recv().await {
            if let Some(text) = msg.as_text() {
                self.ctx.state.raw.dispatch(text);
            }
        }
        self.ctx.state.raw.close();
        Ok(())
    }

    fn on_reconnect(
        _state: &Arc<PocketOptionState>,
    ) -> Option<Arc<dyn ConnectCallback<PocketOptionState>>> {
        Some(Arc::new(
            |ctx: CallbackContext<PocketOptionState>| async move {
                let frames = ctx.state.raw.lock().reconnect_frames.clone();
                for frame in frames {
                    ctx.outbound.send(frame).await?;
                }
                Ok(())
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_combine() {
        let m = Matcher::event("successopenOrder")
            .and(Matcher::contains("EURUSD"))
            .or(Matcher::regex(r"^42\[.ps.\]$").unwrap());
        assert!(m.matches(r#"42["successopenOrder",{"asset":"EURUSD_otc"}]"#));
        assert!(!m.matches(r#"42["successopenOrder",{"asset":"GBPUSD"}]"#));
        assert!(m.matches(r#"42["ps"]"#));
        assert!(Matcher::starts_with("3").not().matches("2"));
        assert!(Matcher::custom(|f| f.len() == 1).matches("2"));
        assert!(Matcher::regex("(").is_err());
    }
}
