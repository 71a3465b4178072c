//! [`Subscription`]: a stream of the [`BrokerMessage`]s matching one pattern.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use core_pre::{Message, Outbound, runtime};
use futures::Stream;
use tokio::sync::mpsc;

use super::shared::Shared;
use crate::error::MessagingError;
use crate::message::BrokerMessage;
use crate::subject::Pattern;

/// The messages of one subscription, as a [`Stream`]. Made by
/// [`MessagingClient::subscribe`](super::MessagingClient::subscribe).
///
/// **Queue policy**: the subscription's queue is bounded
/// ([`ClientConfig::with_subscription_capacity`](super::ClientConfig::with_subscription_capacity),
/// 1024 by default). When it is full because the stream is not read fast enough, each new
/// message for it is **dropped and counted** ([`dropped`](Self::dropped)); the connection
/// and every other subscription go on undisturbed.
///
/// The subscription survives reconnects (the client re-sends it before anything else).
/// Dropping it, or [`unsubscribe`](Self::unsubscribe), sends `UNSUB`. The stream ends when
/// the client is shut down or every handle to it is dropped.
pub struct Subscription {
    sid: u64,
    pattern: Pattern,
    queue: Option<String>,
    rx: mpsc::Receiver<BrokerMessage>,
    dropped: Arc<AtomicU64>,
    shared: Arc<Shared>,
    outbound: Outbound,
    active: bool,
}

impl Subscription {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        sid: u64,
        pattern: Pattern,
        queue: Option<String>,
        rx: mpsc::Receiver<BrokerMessage>,
        dropped: Arc<AtomicU64>,
        shared: Arc<Shared>,
        outbound: Outbound,
    ) -> Self {
        Subscription {
            sid,
            pattern,
            queue,
            rx,
            dropped,
            shared,
            outbound,
            active: true,
        }
    }

    /// The next message; `None` once the client is gone.
    pub async fn recv(&mut self) -> Option<BrokerMessage> {
        self.rx.recv().await
    }

    /// A message if one is waiting.
    pub fn try_recv(&mut self) -> Option<BrokerMessage> {
        self.rx.try_recv().ok()
    }

    /// Messages dropped because this subscription's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The pattern.
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }

    /// The queue group, if any.
    pub fn queue(&self) -> Option<&str> {
        self.queue.as_deref()
    }

    /// The subscription id on the wire.
    pub fn sid(&self) -> u64 {
        self.sid
    }

    /// Stops the subscription and sends `UNSUB` (waiting for room in the outbound queue,
    /// bounded by the client's send timeout). Messages already queued are discarded.
    pub async fn unsubscribe(mut self) -> Result<(), MessagingError> {
        self.active = false;
        match self.shared.remove_subscription(self.sid) {
            Some(frame) => match self.outbound.send(frame).await {
                Ok(()) => Ok(()),
                // Not connected: the server forgot it with the connection, and the next
                // connection will not re-send it.
                Err(core_pre::CoreError::NotConnected { .. }) => Ok(()),
                Err(e) => Err(super::shared::from_core(e)),
            },
            None => Ok(()),
        }
    }
}

impl Stream for Subscription {
    type Item = BrokerMessage;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if !self.active {
            return;
        }
        if let Some(frame) = self.shared.remove_subscription(self.sid) {
            send_later(&self.outbound, frame);
        }
    }
}

/// Sends `frame` now if there is room, else from a task (bounded by the send timeout).
fn send_later(outbound: &Outbound, frame: Message) {
    // Sent, or nothing to unsubscribe from (disconnected or closed), unless the queue is full.
    if let Err(core_pre::CoreError::QueueFull) = outbound.try_send(frame.clone()) {
        let outbound = outbound.clone();
        drop(runtime::spawn(async move {
            let _ = outbound.send(frame).await;
        }));
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("sid", &self.sid)
            .field("pattern", &self.pattern)
            .field("queue", &self.queue)
            .field("dropped", &self.dropped())
            .finish()
    }
}
