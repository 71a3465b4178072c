//! [`ServerError`]: the one error type of this crate.
//!
//! Every message is a sentence that says what happened and what to do about it. None
//! carries a token, a header value or a query string: authentication secrets stay out of
//! errors as they stay out of logs.

use std::io;

use crate::id::SessionId;

/// Everything that can go wrong building, running or using a server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A builder setting is out of range or inconsistent.
    #[error("invalid server configuration: {0}")]
    InvalidConfig(String),

    /// The listening socket could not be opened.
    #[error(
        "could not listen on {address}: {source}; pick a free port (0 picks one) or stop the process holding it"
    )]
    Bind {
        /// The address asked for.
        address: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The TLS certificate or key could not be used.
    #[error("TLS setup failed: {0}")]
    Tls(String),

    /// No session has this id (it disconnected, or never existed).
    #[error("no session {0}: it has disconnected (watch the Disconnected events) or never existed")]
    UnknownSession(SessionId),

    /// The session's outbound queue is full: the message was not queued.
    #[error(
        "the outbound queue of session {id} is full ({capacity} messages): the peer is not reading fast enough; the message was dropped"
    )]
    QueueFull {
        /// The session.
        id: SessionId,
        /// Its queue capacity.
        capacity: usize,
    },

    /// The message is larger than the configured limit; nothing was sent and every
    /// connection stays open.
    #[error(
        "a {size}-byte message exceeds the {max}-byte limit; split it or raise ServerBuilder::with_max_message_size"
    )]
    MessageTooLarge {
        /// The message's payload size.
        size: usize,
        /// The limit.
        max: usize,
    },

    /// The message cannot be sent this way.
    #[error("cannot send this message: {0}")]
    InvalidMessage(&'static str),

    /// The server is shutting down or has shut down.
    #[error("the server is shutting down; start a new one to accept connections again")]
    ShuttingDown,
}

/// A shorthand for results of this crate.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;
