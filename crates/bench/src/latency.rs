//! Request/response latency: sequential round trips of `42["benchPing",i]` →
//! `42["benchPong",i]`. The baseline is a bare tokio-tungstenite send + receive; ours is
//! the PocketOption client's raw module handle, `RawHandle::send_and_wait`, which goes
//! caller → outbound queue → writer task → socket, and back through the runner, the router
//! and the raw module to the caller.

use std::time::{Duration, Instant};

use binary_options_tools::{Matcher, PocketOption, RawHandle};
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

/// The baseline: a bare tokio-tungstenite connection doing send + receive.
pub struct BareRoundTrips {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl BareRoundTrips {
    /// Connects to the bench server at `url`.
    pub async fn connect(url: &str) -> Result<Self, BenchError> {
        Ok(BareRoundTrips {
            ws: bare_connect(url).await?,
        })
    }

    /// One round trip: sends ping `i`, reads until the pong.
    pub async fn round_trip(&mut self, i: usize) -> Result<Duration, BenchError> {
        let started = Instant::now();
        self.ws.send(tungstenite::Message::text(ping(i))).await?;
        let ws = &mut self.ws;
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
        Ok(started.elapsed())
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Ours: the PocketOption client's raw module handle, `send_and_wait`.
pub struct RawRoundTrips {
    client: PocketOption,
    raw: RawHandle,
}

impl RawRoundTrips {
    /// Connects a PocketOption client to the bench server at `url` (its Socket.IO URL).
    pub async fn connect(url: &str) -> Result<Self, BenchError> {
        let client = within(
            "the PocketOption client to connect",
            CONNECT_WAIT,
            pocketoption_builder(url).connect(),
        )
        .await??;
        let raw = client.raw().clone();
        Ok(RawRoundTrips { client, raw })
    }

    /// One round trip: `send_and_wait` of ping `i` for the `benchPong` event.
    pub async fn round_trip(&mut self, i: usize) -> Result<Duration, BenchError> {
        let started = Instant::now();
        self.raw
            .send_and_wait(ping(i), Matcher::event("benchPong"), ROUND_TRIP_LIMIT)
            .await?;
        Ok(started.elapsed())
    }

    /// Shuts the client down.
    pub async fn close(self) -> Result<(), BenchError> {
        Ok(self.client.shutdown().await?)
    }
}

/// Round trips of both kinds, interleaved in blocks of `block` so that noise from the rest
/// of the machine falls on both alike: `warmup` unmeasured ones each, then `rounds` each.
/// Returns (ours, bare).
///
/// Both loops run in a task of their own, as an application's would. Polled by `block_on`
/// instead (the runtime's main future), a future that another task wakes is polled again
/// only after the scheduler has checked for I/O once more (a non-blocking `epoll_wait`):
/// one more system call per round trip for any client whose reply comes through a task,
/// an artefact of where the benchmark runs rather than a cost of the client.
pub async fn interleaved_round_trips(
    bare_url: &str,
    raw_url: &str,
    warmup: usize,
    rounds: usize,
    block: usize,
) -> Result<(LatencySummary, LatencySummary), BenchError> {
    let (bare_url, raw_url) = (bare_url.to_owned(), raw_url.to_owned());
    tokio::spawn(async move { interleaved(&bare_url, &raw_url, warmup, rounds, block).await })
        .await
        .map_err(|e| BenchError::Protocol(format!("the round-trip task failed: {e}")))?
}

async fn interleaved(
    bare_url: &str,
    raw_url: &str,
    warmup: usize,
    rounds: usize,
    block: usize,
) -> Result<(LatencySummary, LatencySummary), BenchError> {
    let mut bare = BareRoundTrips::connect(bare_url).await?;
    let mut raw = RawRoundTrips::connect(raw_url).await?;
    let (mut bare_samples, mut raw_samples) =
        (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    let outcome = async {
        for i in 0..warmup {
            bare.round_trip(i).await?;
            raw.round_trip(i).await?;
        }
        let block = block.max(1);
        let mut done = 0;
        while done < rounds {
            let n = block.min(rounds - done);
            for i in done..done + n {
                bare_samples.push(bare.round_trip(warmup + i).await?);
            }
            for i in done..done + n {
                raw_samples.push(raw.round_trip(warmup + i).await?);
            }
            done += n;
        }
        Ok::<(), BenchError>(())
    }
    .await;
    bare.close().await;
    raw.close().await?;
    outcome?;
    Ok((summary(raw_samples)?, summary(bare_samples)?))
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
