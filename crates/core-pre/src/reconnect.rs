//! When to reconnect ([`ReconnectPolicy`]) and what to do once reconnected
//! ([`ConnectCallback`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::error::BoxError;
use crate::link::Outbound;
use crate::runtime::{self, BoxFuture, MaybeSend, MaybeSync};
use crate::state::AppState;

/// Exponential backoff with jitter, a cap, a reset after a stable connection and an
/// optional limit on attempts.
///
/// The delay before retry `n` (1-based) is `min(initial × multiplierⁿ⁻¹, max)`, then
/// reduced by a random fraction of up to `jitter` so that many clients dropped at once do
/// not return at once. It never exceeds `max_delay`. A connection that stayed up for
/// `stable_after` resets the count, so the next drop starts again from `initial_delay`.
///
/// ```
/// use core_pre::ReconnectPolicy;
/// use std::time::Duration;
///
/// let policy = ReconnectPolicy::default()
///     .with_initial_delay(Duration::from_millis(100))
///     .with_max_delay(Duration::from_secs(5))
///     .with_jitter(0.0);
/// assert_eq!(policy.delay_for(1), Duration::from_millis(100));
/// assert_eq!(policy.delay_for(3), Duration::from_millis(400));
/// assert_eq!(policy.delay_for(30), Duration::from_secs(5));
/// ```
///
/// # In atomic_websocket's terms
///
/// | atomic_websocket | `ReconnectPolicy` |
/// |---|---|
/// | `retry_seconds: n` (a fixed interval) | [`ReconnectPolicy::fixed`]`(Duration::from_secs(n))`: every retry after `n` s, less up to 20 % jitter |
/// | the doubling interval | [`ReconnectPolicy::doubling`]`(initial, cap)`: `initial`, `2×initial`, … up to `cap`, jittered |
/// | `max_retry_count: r` (documented there, never implemented) | [`with_max_retries`](Self::with_max_retries)`(r)`: `r` retries after the first failure, then [`DisconnectReason::GaveUp`](crate::DisconnectReason::GaveUp) (the same as [`with_max_attempts`](Self::with_max_attempts)`(r + 1)`) |
/// | no jitter (every client returns at the same instant) | [`with_jitter`](Self::with_jitter): 0.2 by default, `0.0` to turn it off |
/// | (no equivalent) | [`with_stable_after`](Self::with_stable_after): a connection that lasted resets the count |
///
/// ```
/// use core_pre::ReconnectPolicy;
/// use std::time::Duration;
///
/// // retry_seconds = 5, max_retry_count = 3
/// let policy = ReconnectPolicy::fixed(Duration::from_secs(5)).with_max_retries(3);
/// assert_eq!(policy.max_attempts(), Some(4));
/// for attempt in 1..=3 {
///     let delay = policy.delay_for(attempt);
///     assert!(delay <= Duration::from_secs(5) && delay >= Duration::from_secs(4));
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    initial_delay: Duration,
    max_delay: Duration,
    multiplier: f64,
    jitter: f64,
    stable_after: Duration,
    max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.2,
            stable_after: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

impl ReconnectPolicy {
    /// Retries every `interval` (atomic_websocket's `retry_seconds`), less up to 20 % of
    /// jitter so that clients dropped together do not return together. Other settings
    /// are the defaults (no attempt limit).
    pub fn fixed(interval: Duration) -> Self {
        ReconnectPolicy {
            initial_delay: interval,
            max_delay: interval,
            multiplier: 1.0,
            ..ReconnectPolicy::default()
        }
    }

    /// Retries after `initial`, then twice as long each time up to `cap`, each delay less
    /// up to 20 % of jitter (atomic_websocket's doubling interval, with jitter and a cap).
    pub fn doubling(initial: Duration, cap: Duration) -> Self {
        ReconnectPolicy {
            initial_delay: initial,
            max_delay: cap.max(initial),
            multiplier: 2.0,
            ..ReconnectPolicy::default()
        }
    }

    /// Gives up after `retries` retries following the first failure (atomic_websocket's
    /// `max_retry_count`); the same as `with_max_attempts(retries + 1)`.
    pub fn with_max_retries(self, retries: u32) -> Self {
        self.with_max_attempts(retries.saturating_add(1))
    }

    /// The delay before the first retry (default 500 ms).
    pub fn with_initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The cap on any delay (default 30 s).
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How much each delay grows (default 2.0; values below 1 are treated as 1).
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = if multiplier.is_finite() {
            multiplier.max(1.0)
        } else {
            1.0
        };
        self
    }

    /// The largest fraction randomly taken off each delay, in `0.0..=1.0` (default 0.2).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// How long a connection must last for the next drop to start from the initial delay
    /// again (default 30 s).
    pub fn with_stable_after(mut self, duration: Duration) -> Self {
        self.stable_after = duration;
        self
    }

    /// Gives up after this many failed attempts in a row (default: never).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// The delay before retry `attempt` (1-based), with fresh jitter.
    pub fn delay_for(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, runtime::jitter_unit())
    }

    /// The delay before retry `attempt` for a given random sample in `0.0..1.0`.
    pub fn delay_with(&self, attempt: u32, sample: f64) -> Duration {
        let capped = backoff(self.initial_delay, self.max_delay, self.multiplier, attempt);
        let factor = 1.0 - self.jitter * sample.clamp(0.0, 1.0);
        Duration::from_secs_f64((capped.as_secs_f64() * factor).max(0.0))
    }

    /// The attempt limit, if any.
    pub fn max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    /// See [`with_stable_after`](Self::with_stable_after).
    pub fn stable_after(&self) -> Duration {
        self.stable_after
    }

    /// See [`with_max_delay`](Self::with_max_delay).
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// See [`with_initial_delay`](Self::with_initial_delay).
    pub fn initial_delay(&self) -> Duration {
        self.initial_delay
    }
}

/// Exponential backoff: `initial × multiplier^(attempt − 1)`, capped at `max` (attempt is
/// 1-based). The one formula behind reconnect delays and module restarts.
pub(crate) fn backoff(initial: Duration, max: Duration, multiplier: f64, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(64) as i32;
    let base = initial.as_secs_f64() * multiplier.powi(exponent);
    Duration::from_secs_f64(base.min(max.as_secs_f64()).max(0.0))
}

/// What a connect or reconnect callback gets.
pub struct CallbackContext<S> {
    /// The shared application state.
    pub state: Arc<S>,
    /// Sends to the peer (already usable: the connection is up).
    pub outbound: Outbound,
    /// How many times the client has reconnected so far (0 on the first connection).
    pub reconnects: u64,
}

impl<S> Clone for CallbackContext<S> {
    fn clone(&self) -> Self {
        CallbackContext {
            state: self.state.clone(),
            outbound: self.outbound.clone(),
            reconnects: self.reconnects,
        }
    }
}

/// Runs after a connection is established, before modules see its traffic. Callbacks run
/// one after another, in the order they were registered, each with a timeout; a failing or
/// slow callback is logged and the next one runs.
///
/// Callbacks must not wait for replies that only a module would receive: modules get the
/// new connection's traffic after the callbacks finish. Sending is fine.
pub trait ConnectCallback<S: AppState>: MaybeSend + MaybeSync + 'static {
    /// Does the work (resubscribe, restore state...).
    fn call(&self, ctx: CallbackContext<S>) -> BoxFuture<'static, Result<(), BoxError>>;
}

impl<S, F, Fut> ConnectCallback<S> for F
where
    S: AppState,
    F: Fn(CallbackContext<S>) -> Fut + MaybeSend + MaybeSync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + MaybeSend + 'static,
{
    fn call(&self, ctx: CallbackContext<S>) -> BoxFuture<'static, Result<(), BoxError>> {
        runtime::boxed(self(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let policy = ReconnectPolicy::default()
            .with_initial_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(1000))
            .with_jitter(0.0);
        let delays: Vec<u128> = (1..=6).map(|n| policy.delay_for(n).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.delay_for(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn jitter_only_shortens_and_stays_within_its_fraction() {
        let policy = ReconnectPolicy::default()
            .with_initial_delay(Duration::from_millis(1000))
            .with_max_delay(Duration::from_secs(10))
            .with_jitter(0.25);
        assert_eq!(policy.delay_with(1, 0.0), Duration::from_millis(1000));
        assert_eq!(policy.delay_with(1, 1.0), Duration::from_millis(750));
        for _ in 0..1000 {
            let d = policy.delay_for(5);
            assert!(
                d <= Duration::from_secs(10) && d >= Duration::from_millis(7500),
                "{d:?}"
            );
        }
        let spread: std::collections::HashSet<u128> =
            (0..50).map(|_| policy.delay_for(2).as_micros()).collect();
        assert!(spread.len() > 10, "jitter should vary the delay");
    }

    #[test]
    fn fixed_and_doubling_match_atomic_websockets_intervals() {
        let fixed = ReconnectPolicy::fixed(Duration::from_secs(3)).with_jitter(0.0);
        let delays: Vec<u64> = (1..=4).map(|n| fixed.delay_for(n).as_secs()).collect();
        assert_eq!(delays, vec![3, 3, 3, 3]);
        let doubling = ReconnectPolicy::doubling(Duration::from_secs(1), Duration::from_secs(6))
            .with_jitter(0.0);
        let delays: Vec<u64> = (1..=5).map(|n| doubling.delay_for(n).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 6, 6]);
        // Jitter is on by default in both.
        let jittered = ReconnectPolicy::fixed(Duration::from_secs(1));
        assert_eq!(jittered.delay_with(1, 1.0), Duration::from_millis(800));
        assert_eq!(
            ReconnectPolicy::default()
                .with_max_retries(2)
                .max_attempts(),
            Some(3)
        );
    }

    #[test]
    fn nonsense_settings_are_clamped() {
        let policy = ReconnectPolicy::default()
            .with_multiplier(f64::NAN)
            .with_jitter(7.0)
            .with_initial_delay(Duration::from_millis(10));
        assert_eq!(policy.delay_with(9, 0.0), Duration::from_millis(10));
        assert_eq!(policy.delay_with(1, 1.0), Duration::ZERO);
    }
}
