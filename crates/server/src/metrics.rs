//! [`Metrics`]: what the server has done, as plain counters.
//!
//! The counters are atomics bumped where things happen (the accept loop, each session's
//! task, the send calls); [`Metrics`] is a copy taken at one moment. Nothing here blocks or
//! allocates on the hot path.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Why an upgrade (or a connection before it) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RejectReason {
    /// The connection cap was reached (HTTP 503 with `Retry-After`).
    Capacity,
    /// The `Origin` header is not allowed (HTTP 403).
    Origin,
    /// The authentication hook refused the request (its status, 401 or 403 usually).
    Unauthorized,
    /// Another live session has the same identity and the policy refuses the new one
    /// (HTTP 409).
    DuplicateIdentity,
    /// The request was not a valid WebSocket upgrade, or the connection failed during it.
    Handshake,
    /// TCP accept → TLS → upgrade did not finish within the handshake timeout.
    HandshakeTimeout,
    /// The TLS handshake failed.
    Tls,
    /// The server is shutting down (HTTP 503).
    ShuttingDown,
}

impl RejectReason {
    const ALL: [RejectReason; 8] = [
        RejectReason::Capacity,
        RejectReason::Origin,
        RejectReason::Unauthorized,
        RejectReason::DuplicateIdentity,
        RejectReason::Handshake,
        RejectReason::HandshakeTimeout,
        RejectReason::Tls,
        RejectReason::ShuttingDown,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RejectReason::Capacity => "at capacity",
            RejectReason::Origin => "origin not allowed",
            RejectReason::Unauthorized => "not authenticated",
            RejectReason::DuplicateIdentity => "identity already connected",
            RejectReason::Handshake => "bad handshake",
            RejectReason::HandshakeTimeout => "handshake timed out",
            RejectReason::Tls => "TLS handshake failed",
            RejectReason::ShuttingDown => "shutting down",
        })
    }
}

/// The live counters (shared by every task of one server).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    rejected: [AtomicU64; 8],
    pub(crate) active: AtomicUsize,
    pub(crate) tasks: AtomicUsize,
    pub(crate) messages_in: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) send_timeouts: AtomicU64,
    pub(crate) inbound_discarded: AtomicU64,
    pub(crate) events_dropped: AtomicU64,
}

impl Counters {
    pub(crate) fn reject(&self, reason: RejectReason) {
        self.rejected[reason.index()].fetch_add(1, Relaxed);
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        Metrics {
            accepted: self.accepted.load(Relaxed),
            rejected: RejectReason::ALL
                .iter()
                .map(|&reason| (reason, self.rejected[reason.index()].load(Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            active: self.active.load(Relaxed),
            tasks: self.tasks.load(Relaxed),
            messages_in: self.messages_in.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            messages_out: self.messages_out.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            send_timeouts: self.send_timeouts.load(Relaxed),
            inbound_discarded: self.inbound_discarded.load(Relaxed),
            events_dropped: self.events_dropped.load(Relaxed),
        }
    }
}

/// A copy of the server's counters at one moment ([`Server::metrics`](crate::Server::metrics)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Upgrades accepted (sessions started), in total.
    pub accepted: u64,
    /// Refused connections by reason (reasons never seen are absent).
    pub rejected: Vec<(RejectReason, u64)>,
    /// Sessions open now.
    pub active: usize,
    /// Connection tasks alive now (handshakes in progress plus sessions); 0 after shutdown.
    pub tasks: usize,
    /// Data messages (text and binary) received.
    pub messages_in: u64,
    /// Payload bytes of those messages.
    pub bytes_in: u64,
    /// Messages written to sockets (data and pings).
    pub messages_out: u64,
    /// Payload bytes of those messages.
    pub bytes_out: u64,
    /// Outbound messages dropped or refused because a session's queue was full.
    pub dropped: u64,
    /// Socket writes that missed the send deadline (each closed its session with 1013).
    pub send_timeouts: u64,
    /// Inbound messages discarded because nobody holds the message stream any more.
    pub inbound_discarded: u64,
    /// Events dropped because the event stream was full (nobody reading it).
    pub events_dropped: u64,
}

impl Metrics {
    /// Refusals for `reason` (0 if none).
    pub fn rejected(&self, reason: RejectReason) -> u64 {
        self.rejected
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }

    /// Refusals of any reason.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().map(|(_, n)| n).sum()
    }
}
