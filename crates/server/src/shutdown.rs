//! Graceful shutdown: the signal every task watches, and the [`ShutdownReport`].
//!
//! [`Server::shutdown`](crate::Server::shutdown) sets the signal with a deadline. The
//! listener stops accepting at once (the port closes), asks every session to close with
//! 1001 "going away" (queued messages are written first), and waits for the sessions' tasks
//! until the deadline; any task still running then is aborted. The report says how many
//! sessions completed the closing handshake, how many ended otherwise, and how many tasks
//! had to be aborted. When the report is returned no task of the server is left.

use std::time::{Duration, Instant};

use tokio::sync::watch;

/// The outcome of a graceful shutdown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Sessions open when the shutdown began.
    pub sessions: usize,
    /// Sessions whose peer answered the 1001 close frame before the deadline.
    pub closed_cleanly: usize,
    /// Sessions that ended before the deadline without a complete closing handshake (the
    /// peer vanished, or had already closed).
    pub closed_uncleanly: usize,
    /// Connection tasks (sessions or handshakes) still running at the deadline, aborted.
    pub aborted: usize,
    /// How long the shutdown took.
    pub elapsed: Duration,
}

/// The shutdown signal: `None` while running, then the deadline for sessions to close.
#[derive(Clone)]
pub(crate) struct ShutdownSignal {
    rx: watch::Receiver<Option<Instant>>,
}

/// The trigger side (held by the server's shared state).
pub(crate) struct ShutdownTrigger {
    tx: watch::Sender<Option<Instant>>,
}

pub(crate) fn channel() -> (ShutdownTrigger, ShutdownSignal) {
    let (tx, rx) = watch::channel(None);
    (ShutdownTrigger { tx }, ShutdownSignal { rx })
}

impl ShutdownTrigger {
    /// Starts the shutdown with `deadline`; false if it had already started.
    pub(crate) fn trigger(&self, deadline: Instant) -> bool {
        self.tx.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(deadline);
            true
        })
    }

    /// The deadline, once the shutdown has started.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        *self.tx.borrow()
    }

    pub(crate) fn subscribe(&self) -> ShutdownSignal {
        ShutdownSignal {
            rx: self.tx.subscribe(),
        }
    }
}

impl ShutdownSignal {
    /// Waits for the shutdown and returns its deadline. Cancel-safe.
    pub(crate) async fn triggered(&mut self) -> Instant {
        loop {
            if let Some(deadline) = *self.rx.borrow_and_update() {
                return deadline;
            }
            if self.rx.changed().await.is_err() {
                // The trigger is gone with the server: shut down now.
                return Instant::now();
            }
        }
    }
}
