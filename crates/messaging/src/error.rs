//! [`MessagingError`]: every way a messaging call fails, and the [`ErrorCode`]s of the
//! `json` format's `err` frame.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a messaging call failed. Each message says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessagingError {
    /// A subject, pattern or queue group name is malformed.
    #[error("subject {subject:?} is invalid: {reason}")]
    SubjectInvalid {
        /// The text refused.
        subject: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The broker refused the operation on this subject (permissions, authentication).
    #[error("access denied on {subject:?}: {message}")]
    AccessDenied {
        /// The subject concerned (may be empty when the broker did not say).
        subject: String,
        /// The broker's words.
        message: String,
    },
    /// No reply within the request's timeout.
    #[error(
        "no reply on {subject:?} within {after:?}: a responder exists but did not answer in time (raise the timeout or check the responder)"
    )]
    Timeout {
        /// The request's subject.
        subject: String,
        /// The timeout that ran out.
        after: Duration,
    },
    /// A request found nobody subscribed to its subject.
    #[error("no responders on {subject:?}: nothing is subscribed to it")]
    NoResponders {
        /// The request's subject.
        subject: String,
    },
    /// A body is larger than the broker accepts.
    #[error("message of {size} bytes is larger than the broker's limit of {max} bytes")]
    TooLarge {
        /// The body's size.
        size: usize,
        /// The broker's `max_payload`.
        max: usize,
    },
    /// A bounded queue or a quota is full (too many subscriptions, requests in flight…).
    #[error("quota exceeded: {message}")]
    QuotaExceeded {
        /// Which quota.
        message: String,
    },
    /// The broker cannot be reached or refused the connection.
    #[error("broker unavailable: {message}")]
    BrokerUnavailable {
        /// What happened.
        message: String,
    },
    /// The client is not connected right now (it may be reconnecting); retry later.
    #[error("not connected to the broker (reconnecting or shut down); retry once connected")]
    NotConnected,
    /// The broker sent something that breaks the protocol.
    #[error("protocol error: {message}")]
    Protocol {
        /// What was wrong.
        message: String,
    },
    /// The client or hub was shut down.
    #[error("shut down")]
    Shutdown,
}

/// The `code` of a `json`-format `err` frame (`shared/protocol/messaging.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A subject, pattern or queue name is malformed.
    SubjectInvalid,
    /// The body is over `max_payload`.
    TooLarge,
    /// A request found no subscriber.
    NoResponders,
    /// Not allowed.
    AccessDenied,
    /// A per-session limit (subscriptions, queue) is reached.
    QuotaExceeded,
    /// The frame is not a valid envelope.
    BadFrame,
}

impl ErrorCode {
    /// The code's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SubjectInvalid => "subject_invalid",
            Self::TooLarge => "too_large",
            Self::NoResponders => "no_responders",
            Self::AccessDenied => "access_denied",
            Self::QuotaExceeded => "quota_exceeded",
            Self::BadFrame => "bad_frame",
        }
    }
}
