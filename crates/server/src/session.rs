//! One session as the rest of the server sees it: [`SessionInfo`] (who and since when),
//! its bounded outbound queue with the overflow policy, its close request and its drop
//! counter.
//!
//! Senders never wait: [`Session::enqueue`] takes a short lock, pushes (or applies the
//! overflow policy) and wakes the session's task, which alone writes to the socket. That is
//! why a slow or dead peer can only ever fill its own queue.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::auth::{Identity, Metadata};
use crate::config::OverflowPolicy;
use crate::id::SessionId;
use crate::metrics::Counters;

/// The close code sent to a session replaced by a newer one with the same identity
/// ([`DuplicateIdentity::ReplaceOld`](crate::DuplicateIdentity::ReplaceOld)).
pub const REPLACED_CLOSE_CODE: u16 = 4000;

/// What the server knows about one session. Fixed for the session's life.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The server-assigned id.
    pub id: SessionId,
    /// The peer's address.
    pub peer: SocketAddr,
    /// When the upgrade completed.
    pub connected_at: SystemTime,
    /// Who the authenticator said the peer is (`None` without an authenticator).
    pub identity: Option<Identity>,
    /// Public facts of the upgrade request: `path`, and `origin` and `user-agent` when sent.
    /// Never the query or other header values, which may carry credentials.
    pub metadata: Metadata,
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The peer sent a close frame.
    PeerClosed,
    /// The connection ended without a close frame (reset, EOF, I/O error).
    ConnectionLost,
    /// Nothing arrived for ping interval + idle timeout (a half-open or dead peer).
    IdleTimeout,
    /// No data message arrived within the first-message timeout (close code 1008).
    FirstMessageTimeout,
    /// The peer sent a message or frame over the limit (close code 1009).
    MessageTooLarge,
    /// The peer broke the WebSocket protocol (close code 1002, or 1007 for bad UTF-8).
    ProtocolError,
    /// The peer did not take its messages in time (close code 1013).
    SlowConsumer,
    /// A newer session with the same identity replaced it (close code
    /// [`REPLACED_CLOSE_CODE`]).
    Replaced,
    /// The application closed it ([`Server::close_session`](crate::Server::close_session)).
    ClosedByServer,
    /// The server shut down (close code 1001).
    Shutdown,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DisconnectReason::PeerClosed => "the peer closed the connection",
            DisconnectReason::ConnectionLost => "the connection was lost",
            DisconnectReason::IdleTimeout => "the peer went silent",
            DisconnectReason::FirstMessageTimeout => "no first message in time",
            DisconnectReason::MessageTooLarge => "the peer sent a message over the limit",
            DisconnectReason::ProtocolError => "the peer broke the WebSocket protocol",
            DisconnectReason::SlowConsumer => "the peer did not read its messages in time",
            DisconnectReason::Replaced => "replaced by a newer session of the same identity",
            DisconnectReason::ClosedByServer => "closed by the application",
            DisconnectReason::Shutdown => "the server shut down",
        })
    }
}

/// A session's outbound counters ([`Server::session_stats`](crate::Server::session_stats)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Messages waiting in its queue now.
    pub queued: usize,
    /// Messages dropped or refused for it because its queue was full.
    pub dropped: u64,
}

/// A request to close a session, handled by its task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CloseRequest {
    pub(crate) code: u16,
    pub(crate) reason: String,
    pub(crate) why: DisconnectReason,
}

/// What became of one message handed to a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Enqueued {
    Queued,
    /// Queued, after dropping the oldest message (drop-oldest policy).
    QueuedDroppingOldest,
    /// Not queued: the queue is full (disconnect or reject policy).
    Full,
    /// Not queued: the session is closing or gone.
    Ended,
}

struct Outbox {
    queue: VecDeque<WsMessage>,
    /// Since when the queue has been full without the task taking anything out.
    full_since: Option<Instant>,
    close: Option<CloseRequest>,
    /// The task took the close request or finished: nothing more is queued.
    ended: bool,
}

/// One session's shared half: its info, outbound queue and wake-up.
pub(crate) struct Session {
    pub(crate) info: Arc<SessionInfo>,
    outbox: Mutex<Outbox>,
    wake: Notify,
    dropped: AtomicU64,
    capacity: usize,
    policy: OverflowPolicy,
    send_deadline: Duration,
}

impl Session {
    pub(crate) fn new(
        info: SessionInfo,
        capacity: usize,
        policy: OverflowPolicy,
        send_deadline: Duration,
    ) -> Self {
        Session {
            info: Arc::new(info),
            outbox: Mutex::new(Outbox {
                // Grows on demand: idle sessions hold no queue memory.
                queue: VecDeque::new(),
                full_since: None,
                close: None,
                ended: false,
            }),
            wake: Notify::new(),
            dropped: AtomicU64::new(0),
            capacity,
            policy,
            send_deadline,
        }
    }

    pub(crate) fn id(&self) -> SessionId {
        self.info.id
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // Nothing panics while holding this lock; a poisoned one still holds a valid queue.
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `msg` without waiting, applying the overflow policy when the queue is full.
    pub(crate) fn enqueue(&self, msg: WsMessage, counters: &Counters) -> Enqueued {
        let outcome = {
            let mut outbox = self.outbox();
            if outbox.ended || outbox.close.is_some() {
                return Enqueued::Ended;
            }
            if outbox.queue.len() < self.capacity {
                outbox.queue.push_back(msg);
                Enqueued::Queued
            } else {
                match self.policy {
                    OverflowPolicy::DropOldest => {
                        outbox.queue.pop_front();
                        outbox.queue.push_back(msg);
                        Enqueued::QueuedDroppingOldest
                    }
                    OverflowPolicy::Reject => Enqueued::Full,
                    OverflowPolicy::Disconnect => {
                        let now = Instant::now();
                        let since = *outbox.full_since.get_or_insert(now);
                        if now.duration_since(since) >= self.send_deadline {
                            outbox.close = Some(CloseRequest {
                                code: 1013,
                                reason: "too slow: outbound queue full".into(),
                                why: DisconnectReason::SlowConsumer,
                            });
                        }
                        Enqueued::Full
                    }
                }
            }
        };
        match outcome {
            Enqueued::Queued | Enqueued::QueuedDroppingOldest => self.wake.notify_one(),
            Enqueued::Full => {
                if self.policy == OverflowPolicy::Disconnect {
                    // Wakes the task in case a close was just requested.
                    self.wake.notify_one();
                }
            }
            Enqueued::Ended => {}
        }
        if matches!(outcome, Enqueued::Full | Enqueued::QueuedDroppingOldest) {
            self.dropped.fetch_add(1, Relaxed);
            Counters::add(&counters.dropped, 1);
        }
        outcome
    }

    /// Asks the session's task to close with `code`; the first request wins. Never waits.
    pub(crate) fn request_close(
        &self,
        code: u16,
        reason: impl Into<String>,
        why: DisconnectReason,
    ) {
        {
            let mut outbox = self.outbox();
            if outbox.ended || outbox.close.is_some() {
                return;
            }
            outbox.close = Some(CloseRequest {
                code,
                reason: reason.into(),
                why,
            });
        }
        self.wake.notify_one();
    }

    /// Moves up to `max` queued messages into `batch`; returns the close request once it is
    /// made (after which nothing more is queued) and whether messages remain.
    pub(crate) fn take(
        &self,
        batch: &mut Vec<WsMessage>,
        max: usize,
    ) -> (Option<CloseRequest>, bool) {
        let mut outbox = self.outbox();
        let n = outbox.queue.len().min(max);
        batch.extend(outbox.queue.drain(..n));
        if n > 0 {
            outbox.full_since = None;
        }
        let close = outbox.close.take();
        if close.is_some() {
            outbox.ended = true;
        }
        (close, !outbox.queue.is_empty())
    }

    /// Marks the session finished: later sends are refused and the queue is freed.
    pub(crate) fn end(&self) {
        let mut outbox = self.outbox();
        outbox.ended = true;
        outbox.queue = VecDeque::new();
    }

    /// Waits until something was queued or a close was requested.
    pub(crate) async fn woken(&self) {
        self.wake.notified().await
    }

    pub(crate) fn stats(&self) -> SessionStats {
        SessionStats {
            queued: self.outbox().queue.len(),
            dropped: self.dropped.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(capacity: usize, policy: OverflowPolicy, deadline: Duration) -> Session {
        let info = SessionInfo {
            id: SessionId::new(1),
            peer: SocketAddr::from(([127, 0, 0, 1], 1)),
            connected_at: SystemTime::now(),
            identity: None,
            metadata: Metadata::new(),
        };
        Session::new(info, capacity, policy, deadline)
    }

    fn text(s: &str) -> WsMessage {
        WsMessage::text(s)
    }

    #[test]
    fn drop_oldest_keeps_the_newest_messages_and_counts_the_loss() {
        let counters = Counters::default();
        let s = session(2, OverflowPolicy::DropOldest, Duration::from_secs(1));
        for m in ["a", "b", "c"] {
            s.enqueue(text(m), &counters);
        }
        let mut batch = Vec::new();
        s.take(&mut batch, 10);
        assert_eq!(batch, vec![text("b"), text("c")]);
        assert_eq!(s.stats().dropped, 1);
    }

    #[test]
    fn reject_refuses_without_closing() {
        let counters = Counters::default();
        let s = session(1, OverflowPolicy::Reject, Duration::ZERO);
        assert_eq!(s.enqueue(text("a"), &counters), Enqueued::Queued);
        assert_eq!(s.enqueue(text("b"), &counters), Enqueued::Full);
        assert_eq!(s.enqueue(text("c"), &counters), Enqueued::Full);
        let (close, more) = s.take(&mut Vec::new(), 10);
        assert_eq!((close, more), (None, false));
    }

    #[test]
    fn disconnect_requests_1013_once_the_queue_stays_full_past_the_deadline() {
        let counters = Counters::default();
        let s = session(1, OverflowPolicy::Disconnect, Duration::ZERO);
        s.enqueue(text("a"), &counters);
        assert_eq!(s.enqueue(text("b"), &counters), Enqueued::Full);
        let (close, _) = s.take(&mut Vec::new(), 10);
        assert_eq!(
            close.map(|c| (c.code, c.why)),
            Some((1013, DisconnectReason::SlowConsumer))
        );
        assert_eq!(s.enqueue(text("c"), &counters), Enqueued::Ended);
    }

    #[test]
    fn the_first_close_request_wins() {
        let s = session(4, OverflowPolicy::Disconnect, Duration::from_secs(1));
        s.request_close(1001, "bye", DisconnectReason::Shutdown);
        s.request_close(4000, "replaced", DisconnectReason::Replaced);
        let (close, _) = s.take(&mut Vec::new(), 10);
        assert_eq!(close.map(|c| c.code), Some(1001));
    }
}
