//! [`ServerConfig`]: every limit of the server, with its default and its check.
//!
//! The builder ([`ServerBuilder`](crate::ServerBuilder)) writes these; [`ServerConfig::validate`]
//! refuses nonsense (zero capacities, zero timeouts, a frame limit above the message limit)
//! with a sentence naming the setting, so a bad configuration fails at build time instead
//! of misbehaving under load.

use std::time::Duration;

use crate::error::ServerError;

/// Default cap on concurrent sessions: 10,000. The next upgrade gets HTTP 503.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default cap on connections still in their TCP/TLS/HTTP handshake: 1,024. Accepting
/// pauses (the kernel's backlog holds the rest) while this many are in progress.
pub const DEFAULT_MAX_PENDING_HANDSHAKES: usize = 1_024;
/// Default time for TCP accept → TLS → WebSocket upgrade: 10 s.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default wait for a session's first data message: none. Listen-only clients are
/// legitimate (dashboards, tickers), and the ping/idle check already removes dead ones;
/// set one with [`ServerBuilder::with_first_message_timeout`](crate::ServerBuilder::with_first_message_timeout)
/// when clients must speak first (e.g. a login message).
pub const DEFAULT_FIRST_MESSAGE_TIMEOUT: Option<Duration> = None;
/// Default limit on one inbound message: 1 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 20;
/// Default limit on one inbound frame: 1 MiB (a message may span several frames).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 1 << 20;
/// Default socket read buffer per session: 4 KiB, so idle sessions stay small (larger
/// messages still arrive whole, over several reads).
pub const DEFAULT_READ_BUFFER_SIZE: usize = 4 << 10;
/// Default interval of WebSocket pings on a quiet session: 20 s.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
/// Default extra silence allowed after a ping interval before a peer counts as gone:
/// 20 s. A half-open peer is detected within ping interval + idle timeout of its last
/// frame.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(20);
/// Default capacity of each session's outbound queue: 1,024 messages.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1_024;
/// Default deadline for one socket write (and for a full queue to make room under
/// [`OverflowPolicy::Disconnect`]): 10 s.
pub const DEFAULT_SEND_DEADLINE: Duration = Duration::from_secs(10);
/// Default wait for the peer's reply to a close frame the server sent (outside shutdown,
/// whose deadline rules): 2 s.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Default `Retry-After` of the 503 answered beyond the connection cap: 1 s.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Default capacity of the inbound message stream: 1,024 messages.
pub const DEFAULT_INBOUND_CAPACITY: usize = 1_024;
/// Default capacity of the event stream: 1,024 events.
pub const DEFAULT_EVENT_CAPACITY: usize = 1_024;

/// The longest duration any setting accepts: a year (longer ones are surely mistakes, and
/// would overflow clock arithmetic).
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// What happens when a message is sent to a session whose outbound queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OverflowPolicy {
    /// The message is dropped (counted per session); if the queue stays full for longer
    /// than the send deadline, or one socket write takes longer than it, the session is
    /// closed with code 1013 ("try again later"). The default: a peer that cannot keep up
    /// is cut loose instead of silently missing messages for ever.
    #[default]
    Disconnect,
    /// The message is refused (`send_to` returns [`ServerError::QueueFull`]; broadcasts
    /// count it) and the session stays.
    Reject,
    /// The oldest queued message is dropped (counted) to make room: the peer sees the
    /// newest data, for feeds where only the latest value matters.
    DropOldest,
}

/// Which `Origin` headers an upgrade may carry.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum OriginPolicy {
    /// Any origin, or none (the default: native clients send no `Origin`).
    #[default]
    Any,
    /// Only these origins (exact, ASCII case-insensitive, e.g. `https://app.example`);
    /// a request without `Origin` passes unless `require` is set. Others get HTTP 403.
    AllowList {
        /// The allowed origins.
        origins: Vec<String>,
        /// Whether a request without an `Origin` header is refused too.
        require: bool,
    },
}

impl OriginPolicy {
    /// Whether an upgrade with this `Origin` (or none) may proceed.
    pub(crate) fn allows(&self, origin: Option<&str>) -> bool {
        match (self, origin) {
            (OriginPolicy::Any, _) => true,
            (OriginPolicy::AllowList { require, .. }, None) => !require,
            (OriginPolicy::AllowList { origins, .. }, Some(origin)) => {
                origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
            }
        }
    }
}

/// What happens when a session authenticates with an identity another live session has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DuplicateIdentity {
    /// Both sessions live (the default).
    #[default]
    Allow,
    /// The older session is closed with code [`REPLACED_CLOSE_CODE`](crate::REPLACED_CLOSE_CODE)
    /// as the new one registers (one session per user, the latest wins).
    ReplaceOld,
    /// The new upgrade is refused with HTTP 409 (one session per user, the first wins).
    RejectNew,
}

/// Every tunable of a server. Built by [`ServerBuilder`](crate::ServerBuilder).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub(crate) max_connections: usize,
    pub(crate) max_pending_handshakes: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) first_message_timeout: Option<Duration>,
    pub(crate) max_message_size: usize,
    pub(crate) max_frame_size: usize,
    pub(crate) read_buffer_size: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) overflow: OverflowPolicy,
    pub(crate) send_deadline: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) retry_after: Duration,
    pub(crate) origin: OriginPolicy,
    pub(crate) duplicate_identity: DuplicateIdentity,
    pub(crate) inbound_capacity: usize,
    pub(crate) event_capacity: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_pending_handshakes: DEFAULT_MAX_PENDING_HANDSHAKES,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            first_message_timeout: DEFAULT_FIRST_MESSAGE_TIMEOUT,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            read_buffer_size: DEFAULT_READ_BUFFER_SIZE,
            ping_interval: DEFAULT_PING_INTERVAL,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            overflow: OverflowPolicy::default(),
            send_deadline: DEFAULT_SEND_DEADLINE,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            retry_after: DEFAULT_RETRY_AFTER,
            origin: OriginPolicy::default(),
            duplicate_identity: DuplicateIdentity::default(),
            inbound_capacity: DEFAULT_INBOUND_CAPACITY,
            event_capacity: DEFAULT_EVENT_CAPACITY,
        }
    }
}

impl ServerConfig {
    /// Checks every setting; the first problem found is named in the error.
    pub(crate) fn validate(&self) -> Result<(), ServerError> {
        let invalid = |what: String| Err(ServerError::InvalidConfig(what));
        let counts = [
            ("max_connections", self.max_connections),
            ("max_pending_handshakes", self.max_pending_handshakes),
            ("queue_capacity", self.queue_capacity),
            ("inbound_capacity", self.inbound_capacity),
            ("event_capacity", self.event_capacity),
        ];
        for (name, value) in counts {
            if value == 0 {
                return invalid(format!("{name} is 0; give at least 1"));
            }
        }
        // tokio's semaphore holds at most this many permits.
        if self.max_connections > tokio::sync::Semaphore::MAX_PERMITS
            || self.max_pending_handshakes > tokio::sync::Semaphore::MAX_PERMITS
        {
            return invalid("max_connections or max_pending_handshakes is too large".into());
        }
        let durations = [
            ("handshake_timeout", self.handshake_timeout),
            ("ping_interval", self.ping_interval),
            ("idle_timeout", self.idle_timeout),
            ("send_deadline", self.send_deadline),
            ("close_timeout", self.close_timeout),
        ];
        for (name, value) in durations {
            if value.is_zero() {
                return invalid(format!("{name} is zero; give a positive duration"));
            }
        }
        let longest = [
            ("handshake_timeout", self.handshake_timeout),
            ("ping_interval", self.ping_interval),
            ("idle_timeout", self.idle_timeout),
            ("send_deadline", self.send_deadline),
            ("close_timeout", self.close_timeout),
            ("retry_after", self.retry_after),
            (
                "first_message_timeout",
                self.first_message_timeout.unwrap_or_default(),
            ),
        ];
        for (name, value) in longest {
            if value > MAX_DURATION {
                return invalid(format!(
                    "{name} is longer than a year; give a shorter duration"
                ));
            }
        }
        if self.first_message_timeout.is_some_and(|t| t.is_zero()) {
            return invalid(
                "first_message_timeout is zero; give a positive duration, or None to disable it"
                    .into(),
            );
        }
        if self.retry_after < Duration::from_secs(1) {
            return invalid(
                "retry_after is under 1 s; Retry-After counts whole seconds, give at least 1 s"
                    .into(),
            );
        }
        if self.max_message_size == 0 || self.max_frame_size == 0 {
            return invalid("max_message_size and max_frame_size must be at least 1 byte".into());
        }
        if self.max_frame_size > self.max_message_size {
            return invalid(format!(
                "max_frame_size ({}) is larger than max_message_size ({}); a frame is part of a message, lower the frame limit",
                self.max_frame_size, self.max_message_size
            ));
        }
        if self.read_buffer_size < 512 {
            return invalid(format!(
                "read_buffer_size is {} bytes; give at least 512",
                self.read_buffer_size
            ));
        }
        if let OriginPolicy::AllowList { origins, .. } = &self.origin {
            if origins.is_empty() {
                return invalid(
                    "the origin allow-list is empty, so every browser would be refused; add an origin or allow any".into(),
                );
            }
        }
        Ok(())
    }

    /// The connection cap.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The handshake timeout.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// The first-message timeout, if any.
    pub fn first_message_timeout(&self) -> Option<Duration> {
        self.first_message_timeout
    }

    /// The inbound message size limit in bytes.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// The ping interval and the idle timeout.
    pub fn keep_alive(&self) -> (Duration, Duration) {
        (self.ping_interval, self.idle_timeout)
    }

    /// The outbound queue capacity, overflow policy and send deadline.
    pub fn outbound(&self) -> (usize, OverflowPolicy, Duration) {
        (self.queue_capacity, self.overflow, self.send_deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        ServerConfig::default().validate().unwrap();
    }

    #[test]
    fn zero_limits_are_refused_with_their_name() {
        let config = ServerConfig {
            queue_capacity: 0,
            ..ServerConfig::default()
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("queue_capacity"), "{error}");
        let config = ServerConfig {
            ping_interval: Duration::ZERO,
            ..ServerConfig::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("ping_interval")
        );
        let config = ServerConfig {
            max_frame_size: 2 << 20,
            ..ServerConfig::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("max_frame_size")
        );
        let config = ServerConfig {
            first_message_timeout: Some(Duration::MAX),
            ..ServerConfig::default()
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(
            error.contains("first_message_timeout") && error.contains("year"),
            "{error}"
        );
    }

    #[test]
    fn origin_allow_list_matches_case_insensitively_and_may_require_one() {
        let policy = OriginPolicy::AllowList {
            origins: vec!["https://app.example".into()],
            require: false,
        };
        assert!(policy.allows(Some("HTTPS://APP.example")));
        assert!(!policy.allows(Some("https://evil.example")));
        assert!(policy.allows(None));
        let strict = OriginPolicy::AllowList {
            origins: vec!["https://app.example".into()],
            require: true,
        };
        assert!(!strict.allows(None));
    }
}
