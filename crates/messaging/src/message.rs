//! [`BrokerMessage`]: what travels on a subject.

use bytes::Bytes;

use crate::subject::Subject;

/// A message on a subject, as the `wasmcloud:messaging` contract has it: a subject, an
/// opaque body and, for a request, the subject its reply goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerMessage {
    /// The concrete subject it was published on.
    pub subject: Subject,
    /// The payload; clones share it.
    pub body: Bytes,
    /// Where a reply goes (set on requests).
    pub reply_to: Option<Subject>,
}

impl BrokerMessage {
    /// A message without a reply subject.
    pub fn new(subject: Subject, body: impl Into<Bytes>) -> Self {
        Self {
            subject,
            body: body.into(),
            reply_to: None,
        }
    }

    /// The same message with a reply subject.
    pub fn with_reply_to(mut self, reply_to: Subject) -> Self {
        self.reply_to = Some(reply_to);
        self
    }
}
