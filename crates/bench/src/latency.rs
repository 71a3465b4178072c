//! Request/response latency: sequential round trips of `42["benchPing",i]` →
//! `42["benchPong",i]`. The baseline is a bare tokio-tungstenite send + receive; ours is
//! the PocketOption client's raw module handle, `RawHandle::send_and_wait`, which goes
//! caller → outbound queue → writer task → socket, and back through the runner, the router
//! and the raw module to the caller.

use std::time::{Duration, Instant};

use binary_options_tools::Matcher;
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite;

use crate::error::{BenchError, within};
use crate::throughput::{CONNECT_WAIT, bare_connect};
use crate::ticks::pocketoption_builder;

/// Each round trip is bounded by this.
const ROUND_TRIP_LIMIT: Duration = Duration::from_secs(5);

/// Percentiles of a set of round trips.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    /// Round trips measured.
    pub samples: usize,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
}

impl LatencySummary {
    /// Nearest-rank percentiles of `samples` (which it sorts); `None` when empty.
    pub fn of(samples: &mut [Duration]) -> Option<LatencySummary> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let rank = |p: f64| {
            let index = ((p / 100.0) * samples.len() as f64).ceil() as usize;
            samples[index.clamp(1, samples.len()) - 1]
        };
        Some(LatencySummary {
            samples: samples.len(),
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            max: samples[samples.len() - 1],
        })
    }
}

fn ping(i: usize) -> String {
    format!(r#"42["benchPing",{i}]"#)
}

fn summary(mut samples: Vec<Duration>) -> Result<LatencySummary, BenchError> {
    LatencySummary::of(&mut samples).ok_or(BenchError::Measurement {
        what: "round trips",
        reason: "no round trip was measured".into(),
    })
}

/// The baseline: `warmup + rounds` sequential send + receive with bare tokio-tungstenite.
pub async fn bare_round_trips(
    url: &str,
    warmup: usize,
    rounds: usize,
) -> Result<LatencySummary, BenchError> {
    let mut ws = bare_connect(url).await?;
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..warmup + rounds {
        let started = Instant::now();
        ws.send(tungstenite::Message::text(ping(i))).await?;
        within("a bare round trip", ROUND_TRIP_LIMIT, async {
            loop {
                match ws.next().await {
                    Some(Ok(tungstenite::Message::Text(t)))
                        if t.as_str().starts_with("42[\"benchPong") =>
                    {
                        return Ok(());
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(BenchError::from(e)),
                    None => return Err(BenchError::Protocol("the server closed early".into())),
                }
            }
        })
        .await??;
        if i >= warmup {
            samples.push(started.elapsed());
        }
    }
    let _ = ws.close(None).await;
    summary(samples)
}

/// Ours: `warmup + rounds` sequential `send_and_wait` through the PocketOption client's raw
/// module handle, each waiting for the matching `benchPong` event.
pub async fn raw_round_trips(
    url: &str,
    warmup: usize,
    rounds: usize,
) -> Result<LatencySummary, BenchError> {
    let client = within(
        "the PocketOption client to connect",
        CONNECT_WAIT,
        pocketoption_builder(url).connect(),
    )
    .await??;
    let raw = client.raw().clone();
    let mut samples = Vec::with_capacity(rounds);
    let mut outcome = Ok(());
    for i in 0..warmup + rounds {
        let started = Instant::now();
        if let Err(e) = raw
            .send_and_wait(ping(i), Matcher::event("benchPong"), ROUND_TRIP_LIMIT)
            .await
        {
            outcome = Err(BenchError::from(e));
            break;
        }
        if i >= warmup {
            samples.push(started.elapsed());
        }
    }
    client.shutdown().await?;
    outcome?;
    summary(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let s = LatencySummary::of(&mut samples).unwrap();
        assert_eq!(s.samples, 100);
        assert_eq!(s.p50, Duration::from_micros(50));
        assert_eq!(s.p90, Duration::from_micros(90));
        assert_eq!(s.p99, Duration::from_micros(99));
        assert_eq!(s.max, Duration::from_micros(100));
        let mut one = vec![Duration::from_micros(7)];
        assert_eq!(
            LatencySummary::of(&mut one).unwrap().p99,
            Duration::from_micros(7)
        );
        assert!(LatencySummary::of(&mut []).is_none());
    }
}
