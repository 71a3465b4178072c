//! `hub_fanout`: one publisher to many subscribers through our messaging hub, deliveries
//! per second, against `nats-server` with async-nats clients doing the same.
//!
//! Ours: a `messaging::hub::Hub` on the suite's server thread; the clients are raw
//! tokio-tungstenite connections speaking the `json` envelope on the caller's runtime
//! (each subscriber counts `msg` frames without decoding them, as a client that only
//! counts would). The baseline: a local `nats-server` process (the
//! `messaging::testing::NatsServer` harness) and one async-nats connection per subscriber
//! plus one for the publisher, on the same runtime. Same subscribers, messages and body
//! size; the clock runs from the first publish to the last delivery. Both sides are sized
//! so nothing is dropped (the hub's per-session queues and async-nats's subscriber buffers
//! hold a whole run), so every message reaches every subscriber and a lost one is a
//! timeout, not a better figure. nats-server is a separate, multi-threaded process, which
//! favours the baseline on a two-core machine.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use messaging::hub::Hub;
use messaging::json::{ClientFrame, HubFrame};
use messaging::testing::NatsServer;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::error::{BenchError, within};
use crate::server_thread::ServerThread;
use crate::throughput::{Throughput, bare_connect};

/// One run must finish within this.
const RUN_LIMIT: Duration = Duration::from_secs(120);
/// The subject of the fan-out.
const SUBJECT: &str = "bench.fanout";

/// The workload.
#[derive(Debug, Clone, Copy)]
pub struct Fanout {
    /// Subscribers (each its own connection).
    pub subscribers: usize,
    /// Messages published.
    pub messages: usize,
    /// Body bytes per message.
    pub body: usize,
}

fn protocol(what: impl std::fmt::Display) -> BenchError {
    BenchError::Protocol(what.to_string())
}

/// Our hub, started on `thread` with queues that hold a whole run.
pub async fn start_hub(thread: &ServerThread, work: Fanout) -> Result<Hub, BenchError> {
    let queue = work.messages + 64;
    thread
        .run(async move {
            Hub::builder()
                .with_queue_capacity(queue)
                .with_server(|s| s.with_max_connections(work.subscribers + 64))
                .start()
                .await
        })
        .await?
        .map_err(|e| protocol(format!("the hub did not start: {e}")))
}

/// Stops a hub started by [`start_hub`] on its thread.
pub async fn stop_hub(thread: &ServerThread, hub: Hub) -> Result<(), BenchError> {
    thread
        .run(async move {
            let _ = hub.shutdown(Duration::from_secs(5)).await;
        })
        .await
}

/// One run through our hub.
pub async fn hub_fanout(url: &str, work: Fanout) -> Result<Throughput, BenchError> {
    let mut readers = JoinSet::new();
    for _ in 0..work.subscribers {
        let mut ws = bare_connect(url).await?;
        // hello, then a subscription confirmed by a ping/pong round trip.
        let hello = within("the hub's hello", RUN_LIMIT, ws.next()).await?;
        if !matches!(hello, Some(Ok(WsMessage::Text(_)))) {
            return Err(protocol(format!("no hello from the hub: {hello:?}")));
        }
        let sub = ClientFrame::Sub {
            sid: "1".into(),
            subject: SUBJECT.into(),
            queue: None,
        };
        ws.send(WsMessage::text(sub.encode())).await?;
        ws.send(WsMessage::text(ClientFrame::Ping.encode())).await?;
        loop {
            match within("the hub's pong", RUN_LIMIT, ws.next()).await? {
                Some(Ok(WsMessage::Text(text))) => {
                    if HubFrame::decode(&text) == Ok(HubFrame::Pong) {
                        break;
                    }
                    return Err(protocol(format!("unexpected frame before pong: {text}")));
                }
                Some(Ok(_)) => {}
                other => return Err(protocol(format!("the hub ended the session: {other:?}"))),
            }
        }
        let expected = work.messages;
        readers.spawn(async move {
            let mut count = 0usize;
            while count < expected {
                match ws.next().await {
                    Some(Ok(WsMessage::Text(text)))
                        if text.as_str().starts_with("{\"op\":\"msg\"") =>
                    {
                        count += 1
                    }
                    Some(Ok(WsMessage::Text(text))) => {
                        return Err(protocol(format!("unexpected frame: {text}")));
                    }
                    Some(Ok(_)) => {}
                    other => {
                        return Err(protocol(format!(
                            "a subscriber's session ended after {count} of {expected}: {other:?}"
                        )));
                    }
                }
            }
            Ok::<Instant, BenchError>(Instant::now())
        });
    }
    let mut publisher = bare_connect(url).await?;
    let hello = within("the hub's hello", RUN_LIMIT, publisher.next()).await?;
    if !matches!(hello, Some(Ok(WsMessage::Text(_)))) {
        return Err(protocol(format!("no hello from the hub: {hello:?}")));
    }
    // Every frame is the same; encode it once.
    let frame = ClientFrame::Publish {
        subject: SUBJECT.into(),
        body: Bytes::from(vec![b'x'; work.body]),
        reply_to: None,
    }
    .encode();
    let started = Instant::now();
    let publishing = async {
        for _ in 0..work.messages {
            publisher.feed(WsMessage::text(frame.clone())).await?;
        }
        publisher.flush().await?;
        Ok::<(), BenchError>(())
    };
    let last = within("the hub fan-out", RUN_LIMIT, async {
        publishing.await?;
        last_delivery(&mut readers, started).await
    })
    .await??;
    let _ = publisher.close(None).await;
    Ok(Throughput {
        units: (work.subscribers * work.messages) as u64,
        elapsed: last.duration_since(started),
    })
}

/// Waits for every subscriber; returns when the last one had all its messages.
async fn last_delivery(
    readers: &mut JoinSet<Result<Instant, BenchError>>,
    started: Instant,
) -> Result<Instant, BenchError> {
    let mut last = started;
    while let Some(done) = readers.join_next().await {
        let at = done.map_err(|e| protocol(format!("a subscriber task failed: {e}")))??;
        last = last.max(at);
    }
    Ok(last)
}

/// One run through `nats-server` with async-nats clients.
pub async fn nats_fanout(nats: &NatsServer, work: Fanout) -> Result<Throughput, BenchError> {
    let url = nats.nats_url();
    let connect = |url: String| async move {
        within(
            "an async-nats connection",
            RUN_LIMIT,
            async_nats::ConnectOptions::new()
                // Room for a whole run: a slow subscriber waits instead of losing messages.
                .subscription_capacity(work.messages + 64)
                .connect(url),
        )
        .await?
        .map_err(|e| protocol(format!("async-nats could not connect: {e}")))
    };
    let mut readers = JoinSet::new();
    let mut clients = Vec::new();
    for _ in 0..work.subscribers {
        let client = connect(url.clone()).await?;
        let mut subscriber = client
            .subscribe(SUBJECT)
            .await
            .map_err(|e| protocol(format!("async-nats subscribe: {e}")))?;
        crate::nats::async_nats_sync(&client).await?;
        let expected = work.messages;
        readers.spawn(async move {
            let mut count = 0usize;
            while count < expected {
                match subscriber.next().await {
                    Some(_) => count += 1,
                    None => {
                        return Err(protocol(format!(
                            "an async-nats subscription ended after {count} of {expected}"
                        )));
                    }
                }
            }
            Ok::<Instant, BenchError>(Instant::now())
        });
        clients.push(client);
    }
    let publisher = connect(url).await?;
    let body = Bytes::from(vec![b'x'; work.body]);
    let started = Instant::now();
    let last = within("the NATS fan-out", RUN_LIMIT, async {
        for _ in 0..work.messages {
            publisher
                .publish(SUBJECT, body.clone())
                .await
                .map_err(|e| protocol(format!("async-nats publish: {e}")))?;
        }
        let _ = publisher.flush().await;
        last_delivery(&mut readers, started).await
    })
    .await??;
    drop(clients);
    Ok(Throughput {
        units: (work.subscribers * work.messages) as u64,
        elapsed: last.duration_since(started),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small run of each side delivers every message to every subscriber.
    #[test]
    fn both_sides_deliver_everything() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let thread = ServerThread::start("hub-fanout-test").unwrap();
        let work = Fanout {
            subscribers: 5,
            messages: 50,
            body: 64,
        };
        runtime.block_on(async {
            let hub = start_hub(&thread, work).await.unwrap();
            let ours = hub_fanout(&hub.url(), work).await.unwrap();
            assert_eq!(ours.units, 250);
            assert_eq!(hub.metrics().delivered, 250);
            stop_hub(&thread, hub).await.unwrap();
            let nats = NatsServer::start().expect("nats-server (cargo xtask setup installs it)");
            let theirs = nats_fanout(&nats, work).await.unwrap();
            assert_eq!(theirs.units, 250);
            assert!(ours.per_second() > 0.0 && theirs.per_second() > 0.0);
        });
    }
}
