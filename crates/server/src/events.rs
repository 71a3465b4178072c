//! What the server tells the application: the inbound [`Messages`] stream, the
//! [`Events`] stream (sessions connecting and disconnecting) and the [`ServerStatus`]
//! watch.
//!
//! All three are bounded, and none can stall the server:
//! * **Messages** give backpressure: while the stream is full, a session stops reading its
//!   socket (TCP pushes back on that peer) but keeps writing, pinging and closing; its idle
//!   clock is paused meanwhile. Once the [`Messages`] receiver is dropped, inbound messages
//!   are discarded and counted ([`Metrics::inbound_discarded`](crate::Metrics::inbound_discarded)).
//! * **Events** are never waited for: when the stream is full, the new event is dropped and
//!   counted ([`Metrics::events_dropped`](crate::Metrics::events_dropped)). The status watch
//!   always has the current count of sessions, events read or not.
//! * **Status** is a `watch`: only the latest value is kept.

use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use core_pre::Message;
use futures::Stream;
use tokio::sync::mpsc;

use crate::id::SessionId;
use crate::metrics::Counters;
use crate::session::{DisconnectReason, SessionInfo};

/// Something that happened to a session.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A session started (its upgrade completed).
    Connected(Arc<SessionInfo>),
    /// A session ended.
    Disconnected(Disconnected),
}

/// How a session ended.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Disconnected {
    /// The session.
    pub info: Arc<SessionInfo>,
    /// Why it ended.
    pub reason: DisconnectReason,
    /// The close code of the closing handshake: the peer's when it closed first, the
    /// server's otherwise; `None` when the connection ended without a close frame.
    pub code: Option<u16>,
    /// Whether the closing handshake completed (both close frames exchanged).
    pub clean: bool,
}

/// The server's lifecycle phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Accepting connections.
    Running,
    /// No longer accepting; closing sessions.
    ShuttingDown,
    /// Every task has finished.
    Stopped,
}

/// The server's state, as a `watch` ([`Server::status`](crate::Server::status)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStatus {
    /// The lifecycle phase.
    pub phase: Phase,
    /// Sessions open now.
    pub active: usize,
    /// The address the server listens on.
    pub local_addr: SocketAddr,
}

/// The inbound data messages of every session, in arrival order per session.
///
/// ```no_run
/// # async fn demo(mut messages: server::Messages) {
/// while let Some((session, message)) = messages.recv().await {
///     println!("{session} sent {message:?}");
/// }
/// # }
/// ```
pub struct Messages {
    rx: mpsc::Receiver<(SessionId, Message)>,
}

impl Messages {
    pub(crate) fn new(rx: mpsc::Receiver<(SessionId, Message)>) -> Self {
        Messages { rx }
    }

    /// The next message; `None` once the server has stopped and everything was read.
    pub async fn recv(&mut self) -> Option<(SessionId, Message)> {
        self.rx.recv().await
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<(SessionId, Message)> {
        self.rx.try_recv().ok()
    }
}

impl Stream for Messages {
    type Item = (SessionId, Message);
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl fmt::Debug for Messages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Messages")
            .field("waiting", &self.rx.len())
            .finish()
    }
}

/// Sessions connecting and disconnecting (bounded; see the module documentation for what
/// happens when it is not read).
pub struct Events {
    rx: mpsc::Receiver<ServerEvent>,
}

impl Events {
    pub(crate) fn new(rx: mpsc::Receiver<ServerEvent>) -> Self {
        Events { rx }
    }

    /// The next event; `None` once the server has stopped and everything was read.
    pub async fn recv(&mut self) -> Option<ServerEvent> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<ServerEvent> {
        self.rx.try_recv().ok()
    }
}

impl Stream for Events {
    type Item = ServerEvent;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("waiting", &self.rx.len())
            .finish()
    }
}

/// The receiving ends a started server hands to the application.
#[derive(Debug)]
#[non_exhaustive]
pub struct Inbox {
    /// Inbound data messages.
    pub messages: Messages,
    /// Connect and disconnect events.
    pub events: Events,
}

/// The sending side of the event stream: never waits. Closed when the server stops, so
/// the application's [`Events`] ends.
pub(crate) struct EventSender {
    tx: Mutex<Option<mpsc::Sender<ServerEvent>>>,
}

impl EventSender {
    pub(crate) fn new(tx: mpsc::Sender<ServerEvent>) -> Self {
        EventSender {
            tx: Mutex::new(Some(tx)),
        }
    }

    pub(crate) fn close(&self) {
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    pub(crate) fn emit(&self, event: ServerEvent, counters: &Counters) {
        // Held only for a `try_send`, which never waits.
        let tx = self.tx.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(tx) = tx.as_ref() else {
            return;
        };
        match tx.try_send(event) {
            Ok(()) => {}
            // Nobody reads events any more: nothing to count.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                Counters::add(&counters.events_dropped, 1);
            }
        }
    }
}
