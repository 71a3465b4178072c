//! [`HubMetrics`]: what the hub counted, read at any time without stopping it.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::error::ErrorCode;

/// Every [`ErrorCode`], in the order of [`HubMetrics::refused`].
const CODES: [ErrorCode; 6] = [
    ErrorCode::SubjectInvalid,
    ErrorCode::TooLarge,
    ErrorCode::NoResponders,
    ErrorCode::AccessDenied,
    ErrorCode::QuotaExceeded,
    ErrorCode::BadFrame,
];

fn code_index(code: ErrorCode) -> usize {
    CODES.iter().position(|&c| c == code).unwrap_or(0)
}

/// The live counters, shared by the router, the bridge and the handle.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) undeliverable: AtomicU64,
    pub(crate) refused: [AtomicU64; 6],
    pub(crate) bad_frame_closes: AtomicU64,
    pub(crate) slow_consumers: AtomicU64,
    pub(crate) subscriptions: AtomicU64,
    pub(crate) sessions: AtomicU64,
    pub(crate) nats_out: AtomicU64,
    pub(crate) nats_in: AtomicU64,
    pub(crate) nats_errors: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn refuse(&self, code: ErrorCode) {
        self.refused[code_index(code)].fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> HubMetrics {
        HubMetrics {
            published: self.published.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            undeliverable: self.undeliverable.load(Relaxed),
            refused: CODES
                .iter()
                .map(|&code| (code, self.refused[code_index(code)].load(Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            bad_frame_closes: self.bad_frame_closes.load(Relaxed),
            slow_consumers: self.slow_consumers.load(Relaxed),
            subscriptions: self.subscriptions.load(Relaxed),
            sessions: self.sessions.load(Relaxed),
            nats_out: self.nats_out.load(Relaxed),
            nats_in: self.nats_in.load(Relaxed),
            nats_errors: self.nats_errors.load(Relaxed),
        }
    }
}

/// A snapshot of the hub's counters ([`Hub::metrics`](super::Hub::metrics)). Counts are
/// since the hub started; `subscriptions` and `sessions` are current.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubMetrics {
    /// Publishes accepted from sessions (refused ones are in `refused`).
    pub published: u64,
    /// `msg` frames queued to sessions (local and bridged messages).
    pub delivered: u64,
    /// Deliveries that could not be queued (the session had ended or its queue was full).
    pub undeliverable: u64,
    /// `err` frames sent, by code (codes never sent are left out); `no_responders` is here.
    pub refused: Vec<(ErrorCode, u64)>,
    /// Sessions closed with 1008 after three malformed frames within a second.
    pub bad_frame_closes: u64,
    /// Sessions the server closed with 1013 because they did not read (slow consumers).
    pub slow_consumers: u64,
    /// Subscriptions now, the implicit `_SESSION.<id>` ones included.
    pub subscriptions: u64,
    /// Sessions now.
    pub sessions: u64,
    /// Messages the hub published to NATS.
    pub nats_out: u64,
    /// Messages the hub received from NATS.
    pub nats_in: u64,
    /// NATS operations that failed (publish, subscribe, bridged request other than "no
    /// responders" or a timeout).
    pub nats_errors: u64,
}

impl HubMetrics {
    /// How many `err` frames with `code` were sent.
    pub fn refused(&self, code: ErrorCode) -> u64 {
        self.refused
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(0, |(_, n)| *n)
    }
}
