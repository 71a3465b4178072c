//! PocketOption ticks: the server floods two-step `updateStream` events
//! (`451-[…placeholder…]` + a binary attachment). The baseline is a bare read loop counting
//! header + attachment pairs; ours is the PocketOption client, whose subscription stream
//! hands each decoded tick to the user.

use std::time::{Duration, Instant};

use binary_options_tools::{PocketOption, Ssid, SubscriptionKind, Timeouts};
use core_pre::ReconnectPolicy;
use futures::{FutureExt, SinkExt, StreamExt};
use tokio_tungstenite::tungstenite;

use crate::error::{BenchError, within};
use crate::server::TICK_ASSET;
use crate::throughput::{CONNECT_WAIT, Throughput, bare_connect};

/// The baseline: sends `subfor` and counts `451-` header + binary attachment pairs.
pub async fn bare_pairs(url: &str, pairs: u64, limit: Duration) -> Result<Throughput, BenchError> {
    let mut ws = bare_connect(url).await?;
    let started = Instant::now();
    ws.send(tungstenite::Message::text(format!(
        r#"42["subfor","{TICK_ASSET}"]"#
    )))
    .await?;
    let mut count = 0u64;
    let mut header = false;
    within("the tick flood (bare pair loop)", limit, async {
        while count < pairs {
            match ws.next().await {
                Some(Ok(tungstenite::Message::Text(text))) => {
                    header = text.as_str().starts_with("451-")
                }
                Some(Ok(tungstenite::Message::Binary(_))) if header => {
                    header = false;
                    count += 1;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(BenchError::from(e)),
                None => return Err(BenchError::Protocol("the server closed early".into())),
            }
        }
        Ok(())
    })
    .await??;
    let elapsed = started.elapsed();
    let _ = ws.close(None).await;
    Ok(Throughput {
        units: count,
        elapsed,
    })
}

/// A PocketOption client for the bench server or the simulator at `url`.
pub fn pocketoption_builder(url: &str) -> binary_options_tools::PocketOptionBuilder {
    PocketOption::builder(Ssid::demo("bench-session", 777))
        .with_url(url)
        .only_given_urls()
        .with_reconnect_policy(
            ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(100))
                .with_max_attempts(3),
        )
        .with_timeouts(
            Timeouts::default()
                .with_connect(CONNECT_WAIT)
                .with_request(CONNECT_WAIT),
        )
}

/// What the PocketOption client delivered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TickDelivery {
    /// Ticks handed to the user, and the time they took.
    pub delivered: Throughput,
    /// Ticks the stream dropped because the user did not keep up (should be zero).
    pub dropped: u64,
}

/// Ours: subscribes with the PocketOption client and reads the stream until `pairs` ticks
/// have been delivered (or dropped: each tick is accounted for once).
pub async fn pocketoption_ticks(
    url: &str,
    pairs: u64,
    limit: Duration,
) -> Result<TickDelivery, BenchError> {
    let client = within(
        "the PocketOption client to connect",
        CONNECT_WAIT,
        pocketoption_builder(url).connect(),
    )
    .await??;
    // The asset list is needed by `subscribe`; wait for it before the clock starts.
    client.assets().await?;
    let started = Instant::now();
    let mut stream = client
        .subscribe(TICK_ASSET, SubscriptionKind::Ticks)
        .await?;
    // The user's loop runs in a task of its own, as an application would spawn it: on a
    // current-thread runtime the `block_on` future is polled only between batches of other
    // tasks, and a stream read from there falls behind a burst (see the crate README).
    let reader = tokio::spawn(async move {
        let mut delivered = 0u64;
        while delivered + stream.dropped() < pairs {
            // A tick that is already there is taken without a timer (the bare loop has none
            // either); otherwise a short wait, so that a last tick the stream dropped ends
            // the loop too.
            let next = match stream.next().now_or_never() {
                Some(next) => next,
                None => {
                    match tokio::time::timeout(Duration::from_millis(50), stream.next()).await {
                        Ok(next) => next,
                        Err(_) => continue,
                    }
                }
            };
            match next {
                Some(_) => delivered += 1,
                None => return Err(delivered),
            }
        }
        Ok((delivered, stream.dropped(), started.elapsed()))
    });
    let outcome = within("the tick flood (PocketOption client)", limit, reader).await;
    client.shutdown().await?;
    let (delivered, dropped, elapsed) = match outcome? {
        Ok(Ok(done)) => done,
        Ok(Err(delivered)) => {
            return Err(BenchError::Protocol(format!(
                "the tick stream ended after {delivered} ticks"
            )));
        }
        Err(e) => return Err(BenchError::Protocol(format!("the reader task failed: {e}"))),
    };
    Ok(TickDelivery {
        delivered: Throughput {
            units: delivered,
            elapsed,
        },
        dropped,
    })
}
