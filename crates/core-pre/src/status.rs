//! Status events: the connection's transitions as a stream that any number of observers
//! can take, at any time ([`StatusEvents`], from `Client::status_events`).
//!
//! The connection state is a watch (the latest value only). Some callers want every step
//! instead: a user interface that shows "reconnecting (attempt 3 in 2 s)", a log of what
//! happened, a supervisor that acts when the policy gives up. The runner publishes each
//! change on a bounded broadcast channel as it sets the state; each observer has its own
//! cursor, so a slow observer never blocks the runner or the others: it skips what it
//! missed and reads a [`StatusEvent::Lagged`] saying how many. Nothing is cloned or sent
//! while nobody observes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::human::HumanDuration;
use crate::runtime::BoxStream;
use crate::state::{ConnectionState, DisconnectReason};

/// How many transitions an observer may fall behind before it skips (and is told how many
/// it skipped).
pub(crate) const STATUS_CAPACITY: usize = 64;

/// One transition of a client's connection, or a note that the observer fell behind.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusEvent {
    /// A first connection attempt (or one asked for with `connect`/`reconnect`) started.
    Connecting,
    /// Connected, and the reconnect callbacks have finished: ready for traffic.
    Connected,
    /// Waiting `delay` before reconnect attempt `attempt` (1-based), because of
    /// `last_error`.
    Reconnecting {
        /// The attempt about to be made (1-based).
        attempt: u32,
        /// How long the runner waits before it (jitter included).
        delay: Duration,
        /// Why the last attempt failed, or why the last connection ended.
        last_error: Arc<str>,
    },
    /// Not connected, and not trying to (requested, or rejected for good). A policy that
    /// runs out of attempts is [`StatusEvent::GaveUp`] instead.
    Disconnected(DisconnectReason),
    /// The reconnect policy ran out of attempts: the client stays disconnected until
    /// `connect` is called.
    GaveUp {
        /// Attempts made in a row.
        attempts: u32,
        /// The last error.
        last_error: Arc<str>,
    },
    /// The client shut down; the stream ends after this event.
    Closed,
    /// This observer fell behind and missed this many transitions (the others did not).
    Lagged(u64),
}

impl From<ConnectionState> for StatusEvent {
    fn from(state: ConnectionState) -> Self {
        match state {
            ConnectionState::Connecting => StatusEvent::Connecting,
            ConnectionState::Connected => StatusEvent::Connected,
            ConnectionState::Reconnecting {
                attempt,
                delay,
                last_error,
            } => StatusEvent::Reconnecting {
                attempt,
                delay,
                last_error,
            },
            ConnectionState::Disconnected(DisconnectReason::GaveUp {
                attempts,
                last_error,
            }) => StatusEvent::GaveUp {
                attempts,
                last_error,
            },
            ConnectionState::Disconnected(reason) => StatusEvent::Disconnected(reason),
            ConnectionState::Closed => StatusEvent::Closed,
        }
    }
}

impl StatusEvent {
    /// A short stable label (`connecting`, `connected`, `reconnecting`, `disconnected`,
    /// `gave_up`, `closed`, `lagged`), for logs and counters.
    pub fn label(&self) -> &'static str {
        match self {
            StatusEvent::Connecting => "connecting",
            StatusEvent::Connected => "connected",
            StatusEvent::Reconnecting { .. } => "reconnecting",
            StatusEvent::Disconnected(_) => "disconnected",
            StatusEvent::GaveUp { .. } => "gave_up",
            StatusEvent::Closed => "closed",
            StatusEvent::Lagged(_) => "lagged",
        }
    }
}

impl fmt::Display for StatusEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusEvent::Connecting => f.write_str("connecting"),
            StatusEvent::Connected => f.write_str("connected"),
            StatusEvent::Reconnecting {
                attempt,
                delay,
                last_error,
            } => write!(
                f,
                "reconnecting (attempt {attempt} in {}); last failure: {last_error}",
                HumanDuration(*delay)
            ),
            StatusEvent::Disconnected(reason) => write!(f, "disconnected: {reason}"),
            StatusEvent::GaveUp {
                attempts,
                last_error,
            } => write!(f, "gave up after {attempts} attempts: {last_error}"),
            StatusEvent::Closed => f.write_str("closed"),
            StatusEvent::Lagged(missed) => {
                write!(f, "missed {missed} transitions (observer too slow)")
            }
        }
    }
}

/// The connection's transitions, from the state at the moment it was taken.
///
/// The first item is the state when `Client::status_events` was called; then every change,
/// in order. An observer that falls more than 64 transitions behind gets
/// [`StatusEvent::Lagged`] and continues with the oldest transition still kept. The stream
/// ends after [`StatusEvent::Closed`] (or when the client is gone).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use core_pre::memory::MemoryServer;
/// use core_pre::{ClientBuilder, StatusEvent};
/// use futures::StreamExt;
///
/// let server = MemoryServer::new();
/// let client = ClientBuilder::new(server.connector()).spawn();
/// let mut events = client.status_events();
/// let _peer = server.accept().await.unwrap();
/// // Taken right after spawning: the runner may still be connecting, or be connected.
/// let mut seen = Vec::new();
/// while let Some(event) = events.next().await {
///     seen.push(event.clone());
///     if event == StatusEvent::Connected {
///         break;
///     }
/// }
/// assert_eq!(seen.last(), Some(&StatusEvent::Connected));
/// client.shutdown().await.unwrap();
/// # }
/// ```
pub struct StatusEvents {
    inner: BoxStream<'static, StatusEvent>,
}

/// An observer's cursor.
struct Follow {
    rx: broadcast::Receiver<ConnectionState>,
    /// The state read from the watch when the stream was taken, yielded first.
    first: Option<ConnectionState>,
    /// The last state yielded: the first broadcast item may repeat the watch's value.
    last: Option<ConnectionState>,
}

impl StatusEvents {
    /// Subscribe before reading `current`, so no transition falls between the two: one
    /// that does arrives twice (from the watch and the channel) and is yielded once.
    pub(crate) fn new(rx: broadcast::Receiver<ConnectionState>, current: ConnectionState) -> Self {
        let follow = Follow {
            rx,
            first: Some(current),
            last: None,
        };
        let inner = futures::stream::unfold(Some(follow), |follow| async move {
            let mut follow = follow?;
            loop {
                let next = match follow.first.take() {
                    Some(first) => Ok(first),
                    None => follow.rx.recv().await,
                };
                match next {
                    Ok(state) => {
                        if follow.last.as_ref() == Some(&state) {
                            continue;
                        }
                        follow.last = Some(state.clone());
                        let closed = state == ConnectionState::Closed;
                        return Some((StatusEvent::from(state), (!closed).then_some(follow)));
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        follow.last = None;
                        return Some((StatusEvent::Lagged(missed), Some(follow)));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        StatusEvents {
            inner: Box::pin(inner),
        }
    }
}

impl futures::Stream for StatusEvents {
    type Item = StatusEvent;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<StatusEvent>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for StatusEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StatusEvents { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn a_slow_observer_reads_lagged_and_goes_on() {
        let (tx, rx) = broadcast::channel(4);
        let mut events = StatusEvents::new(rx, ConnectionState::Connecting);
        for attempt in 1..=10 {
            tx.send(ConnectionState::Reconnecting {
                attempt,
                delay: Duration::from_millis(10),
                last_error: Arc::from("refused"),
            })
            .unwrap();
        }
        tx.send(ConnectionState::Closed).unwrap();
        let seen: Vec<StatusEvent> = events.by_ref().collect().await;
        assert_eq!(seen[0], StatusEvent::Connecting);
        assert_eq!(seen[1], StatusEvent::Lagged(7));
        assert!(
            matches!(seen[2], StatusEvent::Reconnecting { attempt: 8, .. }),
            "{seen:?}"
        );
        assert_eq!(seen.last(), Some(&StatusEvent::Closed));
        assert_eq!(seen.len(), 6);
    }

    #[tokio::test]
    async fn the_current_state_is_not_repeated_by_the_channel() {
        let (tx, rx) = broadcast::channel(4);
        let mut events = StatusEvents::new(rx, ConnectionState::Connected);
        tx.send(ConnectionState::Connected).unwrap();
        drop(tx);
        let seen: Vec<StatusEvent> = events.by_ref().collect().await;
        assert_eq!(seen, vec![StatusEvent::Connected]);
    }
}
