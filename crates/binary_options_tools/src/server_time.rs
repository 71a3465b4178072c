//! [`ServerClock`]: the platform's clock, estimated from the timestamps it sends.
//!
//! The platform has no "what time is it" call; every tick carries the server's time with
//! sub-second precision. A tick reaches us some latency after it was stamped, so each
//! sample `server_ts − local_now` underestimates the offset by that latency; the best
//! estimate is the largest offset seen recently (the least-delayed sample). Samples older
//! than the window are forgotten so a clock adjustment on either side is picked up.
//! Without fresh samples (no subscription, no trades) the estimate is *stale*, and says so.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use crate::types::from_unix_secs;
use core_pre::runtime::{Instant, SystemTime, UNIX_EPOCH};

/// How long a sample counts.
const WINDOW: Duration = Duration::from_secs(30);
/// At most this many samples are kept.
const MAX_SAMPLES: usize = 256;
/// An estimate without a sample for this long is stale.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(10);

/// The server time as best known now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerTime {
    /// The server's current time (with sub-second precision).
    pub now: SystemTime,
    /// Server minus local clock, in seconds (negative when the server is behind).
    pub offset: f64,
    /// Time since the last sample; `None` when there never was one.
    pub age: Option<Duration>,
    /// True when there is no recent sample: `now` is then local time plus the last known
    /// offset (or plain local time).
    pub stale: bool,
}

impl ServerTime {
    /// [`now`](Self::now) as unix seconds, the form of tick and candle times.
    pub fn unix(&self) -> f64 {
        crate::types::unix_secs(self.now)
    }
}

/// Current local unix time in seconds.
pub(crate) fn local_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Normalizes a platform timestamp: values above 1e12 are milliseconds.
pub(crate) fn unix_seconds(ts: f64) -> f64 {
    if ts > 1e12 { ts / 1000.0 } else { ts }
}

/// Estimates the server clock.
#[derive(Debug, Default)]
pub(crate) struct ServerClock {
    samples: Mutex<VecDeque<(Instant, f64)>>,
}

impl ServerClock {
    /// Records a server timestamp (unix seconds) observed now.
    pub(crate) fn observe(&self, server_unix: f64) {
        if !server_unix.is_finite() || server_unix <= 0.0 {
            return;
        }
        let now = Instant::now();
        let offset = server_unix - local_unix();
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        while samples
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > WINDOW)
            || samples.len() >= MAX_SAMPLES
        {
            samples.pop_front();
        }
        samples.push_back((now, offset));
    }

    /// The current estimate.
    pub(crate) fn now(&self) -> ServerTime {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let local = local_unix();
        let Some((last_at, _)) = samples.back() else {
            return ServerTime {
                now: from_unix_secs(local),
                offset: 0.0,
                age: None,
                stale: true,
            };
        };
        let age = last_at.elapsed();
        let offset = samples
            .iter()
            .map(|(_, o)| *o)
            .fold(f64::NEG_INFINITY, f64::max);
        ServerTime {
            now: from_unix_secs(local + offset),
            offset,
            age: Some(age),
            stale: age > STALE_AFTER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_delayed_sample_wins_and_no_sample_is_stale() {
        let clock = ServerClock::default();
        assert!(clock.now().stale);
        let local = local_unix();
        clock.observe(local + 100.0 - 0.200); // 200 ms latency
        clock.observe(local + 100.0 - 0.020); // 20 ms latency
        clock.observe(local + 100.0 - 0.100);
        let t = clock.now();
        assert!(!t.stale);
        assert!((t.offset - 99.98).abs() < 0.01, "{t:?}");
        assert!((t.unix() - (local_unix() + 99.98)).abs() < 0.05);
    }

    #[test]
    fn millisecond_timestamps_are_normalized() {
        assert_eq!(unix_seconds(1_732_288_888_123.0), 1_732_288_888.123);
        assert_eq!(unix_seconds(1_732_288_888.5), 1_732_288_888.5);
    }
}
