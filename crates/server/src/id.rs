//! [`SessionId`]: the number the server gives each session.
//!
//! Ids are assigned by the server (never chosen by a peer), increase from 1 and are never
//! reused during the server's life, so an id held after its session ended names nothing
//! rather than somebody else.

use std::fmt;

/// The server-assigned id of one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(u64);

impl SessionId {
    pub(crate) fn new(value: u64) -> Self {
        SessionId(value)
    }

    /// The id as a number (1 for the first session).
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
