//! The messaging figures (issue 13): our [`MessagingClient`] (the `nats` codec over a
//! WebSocket) against `async-nats` over TCP, both through the same local nats-server
//! ([`NatsServer`], a separate process).
//!
//! * `nats_ws_pubsub`: one publisher, one subscriber on another connection; messages per
//!   second from the first publish to the last delivery (goal ≥ 0.5 × async-nats);
//! * `nats_ws_request_rtt`: one requester, one responder on another connection;
//!   request/reply round trips, p50 and p99 (goal p99 ≤ 1.5 × async-nats).
//!
//! Each side uses one implementation at both ends, so a figure is that client's own cost.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use messaging::client::{ClientConfig, Codec, MessagingClient};
pub use messaging::testing::NatsServer;

use crate::error::{BenchError, within};
use crate::latency::LatencySummary;
use crate::throughput::Throughput;

/// The body of every benchmark message: small, like most bus traffic.
const BODY: &[u8] = b"0123456789abcdef";
/// Limit on connecting a client.
const CONNECT: Duration = Duration::from_secs(10);
/// A flood's reader gives up after this long without a message (a lost message would
/// otherwise be waited for until the whole run's limit).
const STALL: Duration = Duration::from_secs(10);
/// Limit on one request.
const REQUEST: Duration = Duration::from_secs(5);

fn failed(what: &str, error: impl std::fmt::Display) -> BenchError {
    BenchError::Protocol(format!("{what}: {error}"))
}

async fn ours(url: &str, capacity: usize) -> Result<MessagingClient, BenchError> {
    MessagingClient::connect(
        ClientConfig::new(url, Codec::Nats).with_subscription_capacity(capacity.max(1)),
    )
    .await
    .map_err(|e| failed("our messaging client", e))
}

async fn theirs(url: &str) -> Result<async_nats::Client, BenchError> {
    within("async-nats's connection", CONNECT, async_nats::connect(url))
        .await?
        .map_err(|e| failed("async-nats", e))
}

/// Waits until the server has handled everything `client` sent so far, its subscriptions
/// included. async-nats's `flush` only empties the socket, so a publish from another
/// connection could still overtake a subscription; instead the client sends itself a
/// message on a fresh subject and waits for it (a server handles one connection's commands
/// in order).
pub async fn async_nats_sync(client: &async_nats::Client) -> Result<(), BenchError> {
    let subject = format!("_BENCH_SYNC.{}", messaging::subject::random_token(16));
    let mut echo = client
        .subscribe(subject.clone())
        .await
        .map_err(|e| failed("async-nats subscribe", e))?;
    client
        .publish(subject, Bytes::new())
        .await
        .map_err(|e| failed("async-nats publish", e))?;
    match within("an async-nats sync", CONNECT, echo.next()).await? {
        Some(_) => Ok(()),
        None => Err(failed("async-nats sync", "the subscription ended")),
    }
}

/// Our client: `n` messages from one connection to a subscriber on another.
pub async fn ours_pubsub(ws_url: &str, n: u64, limit: Duration) -> Result<Throughput, BenchError> {
    // Room for a whole run, as the baseline has: a slow reader waits instead of losing
    // messages (a drop would be reported below).
    let capacity = usize::try_from(n).unwrap_or(usize::MAX).saturating_add(64);
    let subscriber = ours(ws_url, capacity).await?;
    let publisher = ours(ws_url, 1).await?;
    let mut sub = subscriber
        .subscribe("bench.pubsub", None)
        .await
        .map_err(|e| failed("subscribe", e))?;
    subscriber
        .flush(CONNECT)
        .await
        .map_err(|e| failed("flush", e))?;
    let body = Bytes::from_static(BODY);
    let started = Instant::now();
    let publish = async {
        for _ in 0..n {
            publisher
                .publish("bench.pubsub", body.clone())
                .await
                .map_err(|e| failed("publish", e))?;
        }
        Ok::<(), BenchError>(())
    };
    let receive = async {
        for got in 0..n {
            match tokio::time::timeout(STALL, sub.recv()).await {
                Ok(Some(_)) => {}
                Ok(None) => return Err(failed("subscription", "ended early")),
                Err(_) => {
                    return Err(failed(
                        "our subscriber",
                        format!(
                            "nothing for {STALL:?} after {got} of {n} messages ({} dropped, connection {})",
                            sub.dropped(),
                            subscriber.state()
                        ),
                    ));
                }
            }
        }
        Ok(started.elapsed())
    };
    let (published, elapsed) = within("our pub/sub flood", limit, async {
        futures::join!(publish, receive)
    })
    .await?;
    published?;
    let elapsed = elapsed?;
    if sub.dropped() > 0 {
        return Err(failed(
            "our subscriber",
            format!("dropped {} messages", sub.dropped()),
        ));
    }
    publisher.shutdown().await;
    subscriber.shutdown().await;
    Ok(Throughput { units: n, elapsed })
}

/// async-nats: the same flood over TCP.
pub async fn async_nats_pubsub(
    nats_url: &str,
    n: u64,
    limit: Duration,
) -> Result<Throughput, BenchError> {
    // Room for a whole run, as ours has: a slow reader waits instead of losing messages.
    let capacity = usize::try_from(n).unwrap_or(usize::MAX).saturating_add(64);
    let subscriber = within(
        "async-nats's connection",
        CONNECT,
        async_nats::ConnectOptions::new()
            .subscription_capacity(capacity)
            .connect(nats_url),
    )
    .await?
    .map_err(|e| failed("async-nats", e))?;
    let publisher = theirs(nats_url).await?;
    let mut sub = subscriber
        .subscribe("bench.pubsub")
        .await
        .map_err(|e| failed("async-nats subscribe", e))?;
    async_nats_sync(&subscriber).await?;
    let body = Bytes::from_static(BODY);
    let started = Instant::now();
    let publish = async {
        for _ in 0..n {
            publisher
                .publish("bench.pubsub", body.clone())
                .await
                .map_err(|e| failed("async-nats publish", e))?;
        }
        publisher
            .flush()
            .await
            .map_err(|e| failed("async-nats flush", e))
    };
    let receive = async {
        for got in 0..n {
            match tokio::time::timeout(STALL, sub.next()).await {
                Ok(Some(_)) => {}
                Ok(None) => return Err(failed("async-nats subscription", "ended early")),
                Err(_) => {
                    return Err(failed(
                        "async-nats's subscriber",
                        format!("nothing for {STALL:?} after {got} of {n} messages"),
                    ));
                }
            }
        }
        Ok(started.elapsed())
    };
    let (published, elapsed) = within("async-nats's pub/sub flood", limit, async {
        futures::join!(publish, receive)
    })
    .await?;
    published?;
    Ok(Throughput {
        units: n,
        elapsed: elapsed?,
    })
}

/// Our client: `warmup` unmeasured then `rounds` measured request/reply round trips.
pub async fn ours_request_rtt(
    ws_url: &str,
    warmup: usize,
    rounds: usize,
) -> Result<LatencySummary, BenchError> {
    let responder = ours(ws_url, 1024).await?;
    let requester = ours(ws_url, 1).await?;
    let mut service = responder
        .subscribe("bench.rtt", None)
        .await
        .map_err(|e| failed("subscribe", e))?;
    responder
        .flush(CONNECT)
        .await
        .map_err(|e| failed("flush", e))?;
    let answering = responder.clone();
    let serve = tokio::spawn(async move {
        while let Some(request) = service.recv().await {
            if let Some(reply) = request.reply_to {
                if answering.publish(reply, request.body).await.is_err() {
                    return;
                }
            }
        }
    });
    let body = Bytes::from_static(BODY);
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..warmup + rounds {
        let started = Instant::now();
        requester
            .request("bench.rtt", body.clone(), REQUEST)
            .await
            .map_err(|e| failed("our request", e))?;
        if i >= warmup {
            samples.push(started.elapsed());
        }
    }
    requester.shutdown().await;
    responder.shutdown().await;
    serve.abort();
    LatencySummary::of(&mut samples).ok_or_else(|| failed("our round trips", "none measured"))
}

/// async-nats: the same round trips over TCP.
pub async fn async_nats_request_rtt(
    nats_url: &str,
    warmup: usize,
    rounds: usize,
) -> Result<LatencySummary, BenchError> {
    let responder = theirs(nats_url).await?;
    let requester = theirs(nats_url).await?;
    let mut service = responder
        .subscribe("bench.rtt")
        .await
        .map_err(|e| failed("async-nats subscribe", e))?;
    async_nats_sync(&responder).await?;
    let answering = responder.clone();
    let serve = tokio::spawn(async move {
        while let Some(request) = service.next().await {
            if let Some(reply) = request.reply {
                if answering.publish(reply, request.payload).await.is_err() {
                    return;
                }
            }
        }
    });
    let body = Bytes::from_static(BODY);
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..warmup + rounds {
        let started = Instant::now();
        within(
            "an async-nats reply",
            REQUEST,
            requester.request("bench.rtt", body.clone()),
        )
        .await?
        .map_err(|e| failed("async-nats request", e))?;
        if i >= warmup {
            samples.push(started.elapsed());
        }
    }
    serve.abort();
    LatencySummary::of(&mut samples)
        .ok_or_else(|| failed("async-nats round trips", "none measured"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The four measurements run end to end at tiny sizes (correctness, not speed).
    #[tokio::test(flavor = "current_thread")]
    async fn every_measurement_completes_and_counts_what_it_says() {
        let server = NatsServer::start().expect("nats-server (cargo xtask setup installs it)");
        let limit = Duration::from_secs(30);
        let ours = ours_pubsub(&server.ws_url(), 500, limit).await.unwrap();
        let theirs = async_nats_pubsub(&server.nats_url(), 500, limit)
            .await
            .unwrap();
        assert_eq!((ours.units, theirs.units), (500, 500));
        assert!(ours.per_second() > 0.0 && theirs.per_second() > 0.0);
        let ours = ours_request_rtt(&server.ws_url(), 5, 50).await.unwrap();
        let theirs = async_nats_request_rtt(&server.nats_url(), 5, 50)
            .await
            .unwrap();
        assert_eq!((ours.samples, theirs.samples), (50, 50));
        assert!(ours.p50 <= ours.p99 && theirs.p50 <= theirs.p99);
    }
}
