//! [`Server`]: the handle to a running server — sending (to one session, to everyone, to
//! rooms), rooms, session lookups, metrics, status, and shutdown.
//!
//! Every send is non-blocking: a message is converted to tungstenite's type once (the
//! payload is shared, never copied per recipient), then queued to each recipient of a
//! snapshot taken under a short read lock. A full queue costs its own session a drop
//! (counted per session), never a wait for the sender or the other recipients.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use core_pre::Message;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::error::ServerError;
use crate::events::ServerStatus;
use crate::id::SessionId;
use crate::metrics::Metrics;
use crate::registry::Snapshot;
use crate::session::{DisconnectReason, Enqueued, SessionInfo, SessionStats};
use crate::shared::Shared;
use crate::shutdown::ShutdownReport;

/// How long dropping the last [`Server`] handle gives the sessions to close.
const DROP_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What became of one message sent to several sessions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// Sessions it was queued for.
    pub queued: usize,
    /// Sessions whose full queue dropped or refused it, or dropped an older message for it
    /// (drop-oldest), counted in their [`SessionStats::dropped`].
    pub dropped: usize,
}

/// A running server. Cheap to clone; every clone controls the same server.
///
/// Dropping the last handle without calling [`shutdown`](Self::shutdown) starts a shutdown
/// with a 5-second deadline in the background.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    listener: Mutex<Option<JoinHandle<ShutdownReport>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared
            .shutdown
            .trigger(Instant::now() + DROP_SHUTDOWN_GRACE);
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.inner.shared.local_addr)
            .field("active", &self.inner.shared.registry.len())
            .finish()
    }
}

impl Server {
    pub(crate) fn new(shared: Arc<Shared>, listener: JoinHandle<ShutdownReport>) -> Self {
        Server {
            inner: Arc::new(Inner {
                shared,
                listener: Mutex::new(Some(listener)),
            }),
        }
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The address the server listens on (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.shared().local_addr
    }

    /// The `ws://` (or `wss://` with TLS) URL of the server's root, for clients on this host.
    pub fn url(&self) -> String {
        let scheme = if self.shared().tls.is_some() {
            "wss"
        } else {
            "ws"
        };
        format!("{scheme}://{}/", self.local_addr())
    }

    /// Converts once, checking the size limit.
    fn prepare(&self, msg: Message) -> Result<WsMessage, ServerError> {
        let max = self.shared().config.max_message_size;
        if msg.len() > max && !matches!(msg, Message::Close(_)) {
            return Err(ServerError::MessageTooLarge {
                size: msg.len(),
                max,
            });
        }
        Ok(match msg {
            // `Text` is UTF-8 by construction, so this check cannot fail; it runs once per
            // send, not per recipient.
            Message::Text(text) => WsMessage::Text(
                Utf8Bytes::try_from(text.into_bytes())
                    .map_err(|_| ServerError::InvalidMessage("text that is not UTF-8"))?,
            ),
            Message::Binary(bytes) => WsMessage::Binary(bytes),
            Message::Ping(bytes) => WsMessage::Ping(bytes),
            Message::Pong(bytes) => WsMessage::Pong(bytes),
            Message::Close(_) => {
                return Err(ServerError::InvalidMessage(
                    "a close frame; use Server::close_session",
                ));
            }
        })
    }

    /// Queues `msg` for session `id` without waiting.
    ///
    /// Errors: [`ServerError::UnknownSession`] (gone or closing),
    /// [`ServerError::QueueFull`] (its queue is full: under the default policy the message
    /// is dropped and a session that stays full is closed with 1013; under
    /// [`OverflowPolicy::Reject`](crate::OverflowPolicy::Reject) it is refused),
    /// [`ServerError::MessageTooLarge`] (nothing sent, the session stays).
    pub fn send_to(&self, id: SessionId, msg: impl Into<Message>) -> Result<(), ServerError> {
        let msg = self.prepare(msg.into())?;
        let session = self
            .shared()
            .registry
            .get(id)
            .ok_or(ServerError::UnknownSession(id))?;
        match session.enqueue(msg, &self.shared().counters) {
            Enqueued::Queued | Enqueued::QueuedDroppingOldest => Ok(()),
            Enqueued::Full => Err(ServerError::QueueFull {
                id,
                capacity: self.shared().config.queue_capacity,
            }),
            Enqueued::Ended => Err(ServerError::UnknownSession(id)),
        }
    }

    /// Queues `msg` for every session, without waiting for any.
    pub fn broadcast(&self, msg: impl Into<Message>) -> Result<Delivery, ServerError> {
        self.everyone().send(msg)
    }

    /// Every session, as a target to narrow with [`Target::except`].
    pub fn everyone(&self) -> Target<'_> {
        Target {
            server: self,
            room: None,
            except: Vec::new(),
        }
    }

    /// The sessions in `room`, as a target.
    ///
    /// ```no_run
    /// # fn demo(server: &server::Server, sender: server::SessionId) -> Result<(), server::ServerError> {
    /// server.to("lobby").except(sender).send("someone said hi")?;
    /// # Ok(()) }
    /// ```
    pub fn to<'a>(&'a self, room: &'a str) -> Target<'a> {
        Target {
            server: self,
            room: Some(room),
            except: Vec::new(),
        }
    }

    /// Puts session `id` in `room` (created on first join); `Ok(false)` if it already was.
    pub fn join(&self, id: SessionId, room: &str) -> Result<bool, ServerError> {
        self.shared()
            .registry
            .join(id, room)
            .ok_or(ServerError::UnknownSession(id))
    }

    /// Takes session `id` out of `room` (a room with no member ceases to exist); whether
    /// it was in it.
    pub fn leave(&self, id: SessionId, room: &str) -> bool {
        self.shared().registry.leave(id, room)
    }

    /// The rooms session `id` is in, sorted.
    pub fn rooms_of(&self, id: SessionId) -> Vec<String> {
        self.shared().registry.rooms_of(id)
    }

    /// Every room with a member, sorted.
    pub fn rooms(&self) -> Vec<String> {
        self.shared().registry.rooms()
    }

    /// The sessions in `room`, by id.
    pub fn members(&self, room: &str) -> Vec<SessionId> {
        let mut ids: Vec<SessionId> = self
            .shared()
            .registry
            .room(room)
            .iter()
            .map(|s| s.id())
            .collect();
        ids.sort();
        ids
    }

    /// What the server knows about session `id`.
    pub fn session(&self, id: SessionId) -> Option<Arc<SessionInfo>> {
        self.shared().registry.get(id).map(|s| s.info.clone())
    }

    /// Every live session, by id.
    pub fn sessions(&self) -> Vec<Arc<SessionInfo>> {
        let mut sessions: Vec<Arc<SessionInfo>> = self
            .shared()
            .registry
            .everyone()
            .iter()
            .map(|s| s.info.clone())
            .collect();
        sessions.sort_by_key(|s| s.id);
        sessions
    }

    /// The outbound counters of session `id`.
    pub fn session_stats(&self, id: SessionId) -> Option<SessionStats> {
        self.shared().registry.get(id).map(|s| s.stats())
    }

    /// Asks session `id` to close with `code` (1000, or 3000–4999 for application reasons;
    /// 1001–1003 and 1007–1014 are accepted too) and a short reason (cut to 123 bytes);
    /// queued messages are written first. Returns without waiting.
    pub fn close_session(&self, id: SessionId, code: u16, reason: &str) -> Result<(), ServerError> {
        let sendable = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
        if !sendable {
            return Err(ServerError::InvalidMessage(
                "a close code a peer may receive: 1000, 1001-1003, 1007-1014 or 3000-4999",
            ));
        }
        let session = self
            .shared()
            .registry
            .get(id)
            .ok_or(ServerError::UnknownSession(id))?;
        session.request_close(code, reason, DisconnectReason::ClosedByServer);
        Ok(())
    }

    /// The counters now.
    pub fn metrics(&self) -> Metrics {
        self.shared().counters.snapshot()
    }

    /// A watch of the server's phase and session count.
    pub fn status(&self) -> watch::Receiver<ServerStatus> {
        self.shared().status.subscribe()
    }

    /// Shuts down: stops accepting at once, closes every session with 1001 (queued messages
    /// written first), waits up to `deadline` for them to close, aborts what remains, and
    /// reports. Every task of the server has finished when it returns. (A deadline over a
    /// year counts as a year.)
    ///
    /// Only the first call does the work; later calls (from clones) return
    /// [`ServerError::ShuttingDown`].
    pub async fn shutdown(&self, deadline: Duration) -> Result<ShutdownReport, ServerError> {
        let handle = self
            .inner
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or(ServerError::ShuttingDown)?;
        let deadline = deadline.min(crate::config::MAX_DURATION);
        self.shared().shutdown.trigger(Instant::now() + deadline);
        // The listener aborts its tasks at the deadline, so it returns soon after; a panic
        // in it is reported as an empty report.
        Ok(handle.await.unwrap_or_default())
    }
}

/// A set of sessions to send to: everyone or a room, minus some.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    server: &'a Server,
    room: Option<&'a str>,
    except: Vec<SessionId>,
}

impl Target<'_> {
    /// Leaves session `id` out (typically the sender).
    pub fn except(mut self, id: SessionId) -> Self {
        self.except.push(id);
        self
    }

    /// Queues `msg` for every session of the target, without waiting for any.
    pub fn send(&self, msg: impl Into<Message>) -> Result<Delivery, ServerError> {
        let msg = self.server.prepare(msg.into())?;
        let shared = self.server.shared();
        let snapshot: Snapshot = match self.room {
            None => shared.registry.everyone(),
            Some(room) => shared.registry.room(room),
        };
        let mut delivery = Delivery::default();
        for session in snapshot.iter() {
            if self.except.contains(&session.id()) {
                continue;
            }
            match session.enqueue(msg.clone(), &shared.counters) {
                Enqueued::Queued => delivery.queued += 1,
                Enqueued::QueuedDroppingOldest => {
                    delivery.queued += 1;
                    delivery.dropped += 1;
                }
                Enqueued::Full => delivery.dropped += 1,
                Enqueued::Ended => {}
            }
        }
        Ok(delivery)
    }
}
