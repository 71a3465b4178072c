//! [`ClientConfig`]: every tunable of a client, with defaults for native and browser
//! builds. The builder sets it; the runner and the client read it.

use std::time::Duration;

use crate::message::Message;
use crate::reconnect::ReconnectPolicy;
use crate::runtime;
use crate::supervisor::RestartPolicy;

/// A message sent at a fixed interval while connected, to keep the connection (and its
/// intermediaries) alive and to give the read timeout something to hear.
#[derive(Debug, Clone)]
pub struct KeepAlive {
    /// Time between two keep-alive messages.
    pub interval: Duration,
    /// The message (a WebSocket ping natively; browsers need an application message).
    pub message: Message,
}

/// Every tunable of a client. Set through [`ClientBuilder`](crate::ClientBuilder) methods
/// (or all at once with `with_config`, which replaces every field).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Outbound queue size (default 256, at least 1).
    pub outbound_capacity: usize,
    /// Each module's inbox size (default 1024, at least 1).
    pub inbox_capacity: usize,
    /// How long the reader waits for room in a full module inbox (default 100 ms).
    pub stall_timeout: Duration,
    /// Limit on one connection attempt (default 10 s).
    pub connect_timeout: Duration,
    /// A connection that receives nothing for this long is presumed dead (native default
    /// 45 s; browser default none, since browsers cannot ping). A connector can set its
    /// own per connection ([`Connection::with_read_timeout`](crate::Connection::with_read_timeout)).
    pub read_timeout: Option<Duration>,
    /// Periodic keep-alive (native default: a ping every 20 s; browser default none).
    pub keep_alive: Option<KeepAlive>,
    /// Limit on each connect/reconnect callback (default 10 s).
    pub callback_timeout: Duration,
    /// How long a send waits for room in a full outbound queue (default 10 s).
    pub send_timeout: Duration,
    /// How long `connect()`/`reconnect()` wait for the connection (default 30 s).
    pub wait_timeout: Duration,
    /// How long a graceful close waits for the close frame to be written (default 1 s).
    pub close_timeout: Duration,
    /// How long shutdown waits for modules and the runner to stop before aborting them
    /// (default 5 s).
    pub shutdown_timeout: Duration,
    /// Connect as soon as the runner starts (default true).
    pub connect_on_start: bool,
    /// When to reconnect.
    pub reconnect: ReconnectPolicy,
    /// How failed modules are restarted.
    pub restart: RestartPolicy,
}

impl Default for ClientConfig {
    fn default() -> Self {
        let browser = runtime::IN_BROWSER;
        ClientConfig {
            outbound_capacity: 256,
            inbox_capacity: 1024,
            stall_timeout: Duration::from_millis(100),
            connect_timeout: Duration::from_secs(10),
            read_timeout: (!browser).then_some(Duration::from_secs(45)),
            keep_alive: (!browser).then(|| KeepAlive {
                interval: Duration::from_secs(20),
                message: Message::Ping(bytes::Bytes::new()),
            }),
            callback_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(10),
            wait_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(5),
            connect_on_start: true,
            reconnect: ReconnectPolicy::default(),
            restart: RestartPolicy::default(),
        }
    }
}

impl ClientConfig {
    /// The outbound queue size actually used (never 0).
    pub(crate) fn outbound_capacity(&self) -> usize {
        self.outbound_capacity.max(1)
    }

    /// The inbox size actually used (never 0).
    pub(crate) fn inbox_capacity(&self) -> usize {
        self.inbox_capacity.max(1)
    }
}
