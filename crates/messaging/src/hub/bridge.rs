//! The NATS bridge: several hubs on one NATS server (or cluster) form one bus.
//!
//! One task owns the [`async_nats::Client`] and takes [`Command`]s from the router in order
//! over one bounded channel: publishes (dropped and counted when the channel is full, so a
//! NATS outage never stalls local routing), subscription changes (waited for: the router's
//! subscription keys are refcounted, the first one of a `(pattern, queue)` opens a NATS
//! subscription and the last one closes it), bridged requests and `pong` barriers.
//!
//! * Each NATS subscription has a forwarding task that hands its messages to the router
//!   ([`BridgeEvent::Message`]). Queue subscriptions carry their group, so NATS picks one
//!   hub per message and that hub one of its local members: a group spans hubs.
//! * Every message a hub publishes carries the header [`HUB_ORIGIN_HEADER`] with the hub's
//!   id. The hub has already delivered it to its own plain subscribers, so when NATS echoes
//!   it back on a plain subscription the forwarder drops it (queue groups are only served
//!   through NATS when bridged, so echoes on queue subscriptions are kept).
//! * A request (a publish with `reply_to`) that no local subscriber takes is sent as a NATS
//!   request, which NATS answers at once with "no responders" when nobody anywhere is
//!   subscribed ([`BridgeEvent::NoResponders`]); a reply comes back as
//!   [`BridgeEvent::Reply`] and the router delivers it to the request's `reply_to`.
//! * async-nats reconnects by itself and re-sends its subscriptions after a reconnect;
//!   publishes made while it is disconnected wait in its own buffer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, HeaderMap, Request, RequestErrorKind};
use bytes::Bytes;
use futures::StreamExt;
use server::{Server, SessionId};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::index::BridgeKey;
use super::metrics::Counters;
use crate::json::HubFrame;

/// The header naming the hub that published a message to NATS.
pub const HUB_ORIGIN_HEADER: &str = "Hub-Origin";

/// How long a barrier (behind a bridged `pong`) or the final flush may take.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The subjects of the barrier messages a hub sends itself: `_HUB_BARRIER.<hub id>.<n>`.
/// Never delivered to sessions.
const BARRIER_PREFIX: &str = "_HUB_BARRIER.";

/// Barriers waiting for their message to come back, by number.
type Barriers = Arc<std::sync::Mutex<HashMap<u64, oneshot::Sender<()>>>>;

/// What the router asks of the bridge.
#[derive(Debug)]
pub(crate) enum Command {
    /// Publish a message a local session sent (already delivered locally).
    Publish {
        subject: String,
        body: Bytes,
        reply_to: Option<String>,
    },
    /// A request no local subscriber took: ask NATS, answer `reply_to` or say "no
    /// responders" to `session`.
    Request {
        session: SessionId,
        subject: String,
        body: Bytes,
        reply_to: String,
    },
    /// Open a NATS subscription.
    Subscribe(BridgeKey),
    /// Close one.
    Unsubscribe(BridgeKey),
    /// Answer `pong` to `session` once the NATS server has handled every earlier command
    /// (a barrier message the hub sends itself and waits to receive).
    Flush(SessionId),
}

/// What the bridge hands the router.
#[derive(Debug)]
pub(crate) enum BridgeEvent {
    /// A message from NATS on the subscription `key`.
    Message {
        key: BridgeKey,
        subject: String,
        body: Bytes,
        reply_to: Option<String>,
    },
    /// The reply to a bridged request, for the request's `reply_to`.
    Reply { reply_to: String, body: Bytes },
    /// A bridged request found nobody.
    NoResponders { session: SessionId, subject: String },
}

/// The settings of the bridge.
#[derive(Clone, Debug)]
pub(crate) struct BridgeConfig {
    pub(crate) hub_id: Arc<str>,
    pub(crate) request_timeout: Duration,
    pub(crate) max_requests: usize,
}

/// Connects to NATS; fails when the server cannot be reached within `timeout`.
pub(crate) async fn connect(
    url: &str,
    hub_id: &str,
    timeout: Duration,
) -> Result<Client, async_nats::ConnectError> {
    async_nats::ConnectOptions::new()
        .name(format!("messaging-hub-{hub_id}"))
        .connection_timeout(timeout)
        // Replies to the hub's own bridged requests stay apart from sessions' `_INBOX.>`.
        .custom_inbox_prefix(format!("_HUB_INBOX.{hub_id}"))
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected => debug!("hub bridge: connected to NATS"),
                async_nats::Event::Disconnected => {
                    warn!("hub bridge: disconnected from NATS; reconnecting")
                }
                other => debug!("hub bridge: NATS event: {other}"),
            }
        })
        .connect(url)
        .await
}

/// The bridge task: runs until the router drops its command sender.
pub(crate) async fn run(
    client: Client,
    config: BridgeConfig,
    server: Server,
    counters: Arc<Counters>,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<BridgeEvent>,
) {
    let mut forwarders: HashMap<BridgeKey, JoinHandle<()>> = HashMap::new();
    // The server handles one connection's operations in order, so once a message published
    // after some subscriptions comes back, those subscriptions are in place (async-nats's
    // `flush` only empties the socket buffer).
    let barriers: Barriers = Arc::default();
    let barrier_base = format!("{BARRIER_PREFIX}{}", config.hub_id);
    let mut next_barrier = 0u64;
    let barrier_task = match client.subscribe(format!("{barrier_base}.*")).await {
        Ok(mut subscriber) => {
            let barriers = barriers.clone();
            Some(tokio::spawn(async move {
                while let Some(message) = subscriber.next().await {
                    let number = message
                        .subject
                        .rsplit('.')
                        .next()
                        .and_then(|n| n.parse::<u64>().ok());
                    let waiting = number.and_then(|n| {
                        barriers
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .remove(&n)
                    });
                    if let Some(waiting) = waiting {
                        let _ = waiting.send(());
                    }
                }
            }))
        }
        Err(e) => {
            warn!(
                "hub bridge: the barrier subscription failed ({e}); pongs will not wait for NATS"
            );
            Counters::add(&counters.nats_errors, 1);
            None
        }
    };
    let requests = Arc::new(Semaphore::new(config.max_requests));
    let mut origin = HeaderMap::new();
    origin.insert(HUB_ORIGIN_HEADER, &*config.hub_id);
    while let Some(command) = commands.recv().await {
        match command {
            Command::Publish {
                subject,
                body,
                reply_to,
            } => {
                let sent = match reply_to {
                    Some(reply) => {
                        client
                            .publish_with_reply_and_headers(subject, reply, origin.clone(), body)
                            .await
                    }
                    None => {
                        client
                            .publish_with_headers(subject, origin.clone(), body)
                            .await
                    }
                };
                match sent {
                    Ok(()) => Counters::add(&counters.nats_out, 1),
                    Err(e) => {
                        debug!("hub bridge: publish failed: {e}");
                        Counters::add(&counters.nats_errors, 1);
                    }
                }
            }
            Command::Request {
                session,
                subject,
                body,
                reply_to,
            } => {
                let Ok(permit) = requests.clone().try_acquire_owned() else {
                    // Too many bridged requests in flight: publish it plainly (a reply still
                    // arrives; only the "no responders" answer is lost).
                    let sent = client
                        .publish_with_reply_and_headers(subject, reply_to, origin.clone(), body)
                        .await;
                    Counters::add(
                        if sent.is_ok() {
                            &counters.nats_out
                        } else {
                            &counters.nats_errors
                        },
                        1,
                    );
                    continue;
                };
                let client = client.clone();
                let events = events.clone();
                let counters = counters.clone();
                let request = Request::new()
                    .payload(body)
                    .headers(origin.clone())
                    .timeout(Some(config.request_timeout));
                Counters::add(&counters.nats_out, 1);
                tokio::spawn(async move {
                    let _permit = permit;
                    let event = match client.send_request(subject.clone(), request).await {
                        Ok(reply) => BridgeEvent::Reply {
                            reply_to,
                            body: reply.payload,
                        },
                        Err(e) if e.kind() == RequestErrorKind::NoResponders => {
                            BridgeEvent::NoResponders { session, subject }
                        }
                        // The requester has its own timeout; nothing to tell it.
                        Err(e) if e.kind() == RequestErrorKind::TimedOut => return,
                        Err(e) => {
                            debug!("hub bridge: request failed: {e}");
                            Counters::add(&counters.nats_errors, 1);
                            return;
                        }
                    };
                    let _ = events.send(event).await;
                });
            }
            Command::Subscribe(key) => {
                let subscribed = match &key.queue {
                    Some(group) => {
                        client
                            .queue_subscribe(key.pattern.to_string(), group.to_string())
                            .await
                    }
                    None => client.subscribe(key.pattern.to_string()).await,
                };
                match subscribed {
                    Ok(subscriber) => {
                        let task = tokio::spawn(forward(
                            subscriber,
                            key.clone(),
                            config.hub_id.clone(),
                            events.clone(),
                            counters.clone(),
                        ));
                        if let Some(old) = forwarders.insert(key, task) {
                            old.abort();
                        }
                    }
                    Err(e) => {
                        warn!("hub bridge: subscribing to {} failed: {e}", key.pattern);
                        Counters::add(&counters.nats_errors, 1);
                    }
                }
            }
            Command::Unsubscribe(key) => {
                // Dropping the subscriber (with its task) unsubscribes at NATS.
                if let Some(task) = forwarders.remove(&key) {
                    task.abort();
                }
            }
            Command::Flush(session) => {
                next_barrier += 1;
                let (done, arrived) = oneshot::channel();
                if barrier_task.is_some() {
                    barriers
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(next_barrier, done);
                    let subject = format!("{barrier_base}.{next_barrier}");
                    if client.publish(subject, Bytes::new()).await.is_err() {
                        Counters::add(&counters.nats_errors, 1);
                    }
                }
                let server = server.clone();
                let barriers = barriers.clone();
                let number = next_barrier;
                tokio::spawn(async move {
                    // NATS away: answer anyway after the timeout (the session is alive).
                    let _ = tokio::time::timeout(FLUSH_TIMEOUT, arrived).await;
                    barriers
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(&number);
                    let _ = server.send_to(session, HubFrame::Pong.encode());
                });
            }
        }
    }
    for (_, task) in forwarders.drain() {
        task.abort();
    }
    if let Some(task) = barrier_task {
        task.abort();
    }
    let _ = tokio::time::timeout(FLUSH_TIMEOUT, client.flush()).await;
}

/// Hands one NATS subscription's messages to the router, dropping the hub's own echoes on
/// plain subscriptions.
async fn forward(
    mut subscriber: async_nats::Subscriber,
    key: BridgeKey,
    hub_id: Arc<str>,
    events: mpsc::Sender<BridgeEvent>,
    counters: Arc<Counters>,
) {
    while let Some(message) = subscriber.next().await {
        Counters::add(&counters.nats_in, 1);
        let own = message
            .headers
            .as_ref()
            .and_then(|h| h.get(HUB_ORIGIN_HEADER))
            .is_some_and(|v| v.as_str() == &*hub_id);
        if (own && key.queue.is_none()) || message.subject.starts_with(BARRIER_PREFIX) {
            continue;
        }
        let event = BridgeEvent::Message {
            key: key.clone(),
            subject: message.subject.to_string(),
            body: message.payload,
            reply_to: message.reply.map(|r| r.to_string()),
        };
        if events.send(event).await.is_err() {
            break;
        }
    }
}
