//! One connection to the fuzzing server: a core-pre client over the client_ws native
//! transport, run until the server ends the connection, then shut down.
//!
//! Each fuzzing-server URL is a one-shot conversation (one case, the case count, or the
//! report update), so the client never reconnects (`ReconnectPolicy` with one attempt) and
//! sends no keep-alive pings of its own (they would be extra frames in the server's
//! transcript). Every wait is bounded by [`ConnectionSettings::case_timeout`].

use std::time::{Duration, Instant};

use client_ws::{WsConfig, WsConnector};
use core_pre::{
    ClientBuilder, ConnectionState, DisconnectReason, ReconnectPolicy, Statistics,
    StatisticsSnapshot,
};

use crate::error::AutobahnError;

/// The limits every connection of a run uses.
///
/// ```
/// use autobahn_client::ConnectionSettings;
/// let settings = ConnectionSettings::default();
/// // The 9.x cases send messages of up to 16 MiB.
/// assert!(settings.max_message_size > 16 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// The largest message accepted and sent back (default 64 MiB; the suite's largest is
    /// 16 MiB).
    pub max_message_size: usize,
    /// Limit on TCP connect + WebSocket handshake (default 10 s).
    pub connect_timeout: Duration,
    /// Limit on one whole connection, from dialling to the end (default 120 s). The same
    /// bound is the read timeout: a server silent that long is presumed gone.
    pub case_timeout: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            max_message_size: 64 << 20,
            connect_timeout: Duration::from_secs(10),
            case_timeout: Duration::from_secs(120),
        }
    }
}

/// How a connection went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// How the connection ended, as core-pre labels it (`peer_closed`, `stream_ended`,
    /// `transport_error`, …).
    pub end: &'static str,
    /// The connection's counters: messages in and out, bytes, connects.
    pub stats: StatisticsSnapshot,
    /// From dialling to the end of the connection.
    pub took: Duration,
}

/// Runs one connection to `url` until the server ends it; `what` names it in errors.
///
/// `customize` adds what this connection needs (the echo module, a handler reading the
/// case count) to a builder already set up with the transport and the settings.
pub(crate) async fn run_connection(
    what: &str,
    url: &str,
    settings: &ConnectionSettings,
    customize: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Result<Ended, AutobahnError> {
    let started = Instant::now();
    let statistics = Statistics::new();
    let transport = WsConfig::new(url)
        .with_max_message_size(settings.max_message_size)
        .with_connect_timeout(settings.connect_timeout);
    // The runner itself completes server-initiated closing handshakes.
    let builder = ClientBuilder::new(WsConnector::new(transport))
        .with_reconnect_policy(ReconnectPolicy::default().with_max_attempts(1))
        .without_keep_alive()
        .with_read_timeout(Some(settings.case_timeout))
        // A slow echo (a 16 MiB write) pushes back on the reader instead of losing frames.
        .with_stall_timeout(settings.case_timeout)
        // The transport's own connect timeout fires first and gives the better message.
        .with_connect_timeout(settings.connect_timeout + Duration::from_secs(1))
        .with_middleware(statistics.clone());
    let (client, runner) = customize(builder).build();
    let runner = runner.spawn();

    // With one attempt allowed, the runner ends in `Disconnected` whether the connection
    // failed or the server closed it.
    let mut states = client.watch_connection_state();
    let finished = tokio::time::timeout(
        settings.case_timeout,
        states.wait_for(|state| match state {
            ConnectionState::Disconnected(DisconnectReason::NotStarted) => false,
            ConnectionState::Disconnected(_) | ConnectionState::Closed => true,
            _ => false,
        }),
    )
    .await
    .map(|state| state.map(|state| state.clone()));
    let took = started.elapsed();

    // Stop the client whatever happened; both waits are bounded (shutdown by the client's
    // wait timeout).
    let _ = client.shutdown().await;
    let _ = tokio::time::timeout(Duration::from_secs(10), runner).await;

    let final_state = match finished {
        Ok(Ok(state)) => state,
        Ok(Err(_)) => ConnectionState::Closed,
        Err(_) => {
            return Err(AutobahnError::Timeout {
                what: what.to_owned(),
                after: settings.case_timeout,
            });
        }
    };
    let stats = statistics.snapshot();
    if stats.connects == 0 {
        let reason = match final_state {
            ConnectionState::Disconnected(DisconnectReason::GaveUp { last_error, .. }) => {
                last_error.to_string()
            }
            ConnectionState::Disconnected(DisconnectReason::Rejected(reason)) => reason.to_string(),
            other => format!("the client ended {other} without connecting"),
        };
        return Err(AutobahnError::Connect {
            url: url.split('?').next().unwrap_or(url).to_owned(),
            reason,
        });
    }
    let end = stats
        .disconnects
        .keys()
        .next()
        .copied()
        .unwrap_or("unknown");
    Ok(Ended { end, stats, took })
}
