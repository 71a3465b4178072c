//! Reconnect: the time from a server-side drop to the subscription delivering again.
//!
//! The PocketOption client streams ticks from the simulator; the simulator cuts every
//! connection (no close frame); the client notices, waits its first backoff delay,
//! reconnects, re-authenticates, re-subscribes, and the stream delivers again. The figure
//! is measured against the configured first backoff delay (jitter off, so the delay is
//! exactly that): everything above it is our overhead.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use binary_options_tools::SubscriptionKind;
use core_pre::ReconnectPolicy;
use futures::{FutureExt, StreamExt};
use pocketoption_sim::Simulator;

use crate::error::{BenchError, within};
use crate::throughput::CONNECT_WAIT;
use crate::ticks::pocketoption_builder;

/// The subscribed asset (one the simulator has by default).
const ASSET: &str = "EURUSD_otc";
/// Connected time before each drop: longer than the policy's `stable_after`, so every
/// round starts again from the first backoff delay.
const UPTIME: Duration = Duration::from_millis(150);

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Drops the connection `rounds` times and returns, for each, the time until a tick
/// stamped after the drop reached the stream.
pub async fn reconnect_delays(
    sim: &Simulator,
    first_backoff: Duration,
    rounds: usize,
) -> Result<Vec<Duration>, BenchError> {
    let policy = ReconnectPolicy::default()
        .with_initial_delay(first_backoff)
        .with_jitter(0.0)
        .with_stable_after(UPTIME / 2);
    let client = within(
        "the PocketOption client to connect to the simulator",
        CONNECT_WAIT,
        pocketoption_builder(&sim.url())
            .with_reconnect_policy(policy)
            .connect(),
    )
    .await??;
    let mut stream = client.subscribe(ASSET, SubscriptionKind::Ticks).await?;
    let mut delays = Vec::with_capacity(rounds);
    let outcome = async {
        for _ in 0..rounds {
            // Stay connected a while (ticks keep flowing), then forget what was buffered.
            let settled = Instant::now();
            while settled.elapsed() < UPTIME {
                within("a tick before the drop", CONNECT_WAIT, stream.next()).await?;
            }
            while let Some(Some(_)) = stream.next().now_or_never() {}
            let connects = client.statistics().connects;
            let dropped_at = unix_now();
            let started = Instant::now();
            sim.drop_all_connections();
            within(
                "the stream to deliver after the drop",
                CONNECT_WAIT,
                async {
                    loop {
                        match stream.next().await {
                            Some(tick)
                                if tick.time > dropped_at
                                    && client.statistics().connects > connects =>
                            {
                                return Ok(());
                            }
                            Some(_) => {}
                            None => return Err(BenchError::Protocol("the stream ended".into())),
                        }
                    }
                },
            )
            .await??;
            delays.push(started.elapsed());
        }
        Ok::<(), BenchError>(())
    }
    .await;
    drop(stream);
    client.shutdown().await?;
    outcome?;
    Ok(delays)
}
