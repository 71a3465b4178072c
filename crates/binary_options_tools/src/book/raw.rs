//! [`RawRegistry`]: the raw waiters and streams, and the [`Matcher`]s that pick their
//! frames (the raw module feeds it, the raw handle adds to it).

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, oneshot};

use crate::error::Error;

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

/// A matcher is also a core-pre [`Rule`](core_pre::Rule) (on text frames), so the one
/// vocabulary serves raw waiters and modules of your own.
///
/// ```
/// use binary_options_tools::Matcher;
/// use core_pre::{Message, Rule};
///
/// let mut rule = Matcher::event("successcloseOrder");
/// assert!(Rule::matches(&mut rule, &Message::text(r#"42["successcloseOrder",{}]"#)));
/// assert!(!Rule::matches(&mut rule, &Message::binary(vec![1, 2])));
/// ```
impl core_pre::Rule for Matcher {
    fn matches(&mut self, msg: &core_pre::Message) -> bool {
        msg.as_text()
            .is_some_and(|text| Matcher::matches(self, text))
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

pub(crate) struct Waiter {
    pub(crate) id: u64,
    pub(crate) matcher: Matcher,
    pub(crate) tx: oneshot::Sender<String>,
}

pub(crate) struct Tap {
    pub(crate) id: u64,
    pub(crate) matcher: Matcher,
    pub(crate) tx: mpsc::Sender<String>,
    pub(crate) dropped: Arc<AtomicU64>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) next_id: u64,
    pub(crate) waiters: Vec<Waiter>,
    pub(crate) taps: Vec<Tap>,
    pub(crate) reconnect_frames: Vec<String>,
}

/// The active raw waiters and streams.
#[derive(Default)]
pub(crate) struct RawRegistry {
    pub(crate) inner: Mutex<Inner>,
    /// Waiters + taps, readable without the lock (the common case is zero).
    pub(crate) active: AtomicUsize,
}

impl RawRegistry {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // Registry updates are single pushes/removals; a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn recount(&self, inner: &Inner) {
        self.active
            .store(inner.waiters.len() + inner.taps.len(), Ordering::Release);
    }

    /// Whether any waiter or stream wants `frame` (runs inline in the reader).
    pub(crate) fn wants(&self, frame: &str) -> bool {
        if self.active.load(Ordering::Acquire) == 0 {
            return false;
        }
        let inner = self.lock();
        inner.waiters.iter().any(|w| w.matcher.matches(frame))
            || inner.taps.iter().any(|t| t.matcher.matches(frame))
    }

    pub(crate) fn dispatch(&self, frame: &str) {
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

    pub(crate) fn remove_waiter(&self, id: u64) {
        let mut inner = self.lock();
        inner.waiters.retain(|w| w.id != id);
        self.recount(&inner);
    }

    pub(crate) fn remove_tap(&self, id: u64) {
        let mut inner = self.lock();
        inner.taps.retain(|t| t.id != id);
        self.recount(&inner);
    }

    pub(crate) fn close(&self) {
        let mut inner = self.lock();
        inner.waiters.clear();
        inner.taps.clear();
        self.recount(&inner);
    }
}
