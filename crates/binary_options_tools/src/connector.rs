//! [`PocketOptionConnector`]: opens a WebSocket to the platform, runs the Engine.IO and
//! Socket.IO handshake and authenticates, and only then hands the connection to the runner.
//!
//! Handshake (fact sheet §3): `0{…}` open → `40` → `40{"sid"}` → `42["auth",…]` →
//! `successauth`. Engine.IO pings are answered from the first frame. Events that arrive
//! early (stock servers may emit before `40{"sid"}`) are kept and delivered once the runner
//! takes over. A rejection (`NotAuthorized`, `notAuthorized`, `auth_error`, or `41` after
//! the auth frame) is a *fatal* error with a human reason, so the runner stops instead of
//! retrying a dead session forever.
//!
//! URLs are tried in order, one per attempt, starting from the last one that worked; a
//! failing URL moves the next attempt to the next URL (the next region).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use client_ws::WsConfig;
use core_pre::runtime::{self, BoxFuture};
use core_pre::{
    ConnectContext, ConnectError, ConnectErrorKind, Connection, Connector, HumanDuration, Message,
    ReadTimeout,
};
use futures::{SinkExt, StreamExt};

use crate::engineio::{self, Frame, OpenPayload};
use crate::error::REJECTED_REASON;
use crate::events::EventStream;
use crate::limits::FrameLimits;
use crate::socketio::{self, PacketKind};
use crate::state::PocketOptionState;

/// Frames the web client sends right after `successauth`; the platform answers with the
/// asset list, the balance and the deal lists.
const AFTER_AUTH: &[&str] = &[
    r#"42["assets/load"]"#,
    r#"42["indicator/load"]"#,
    r#"42["favorite/load"]"#,
    r#"42["price-alert/load"]"#,
    r#"42["getBalance"]"#,
];

/// Events buffered during the handshake at most (the excess is dropped and logged).
const EARLY_LIMIT: usize = 1024;

/// Connects to the platform (see the module docs).
pub(crate) struct PocketOptionConnector {
    urls: Vec<String>,
    next: AtomicUsize,
    ws: WsConfig,
    handshake_timeout: Duration,
    limits: FrameLimits,
}

impl PocketOptionConnector {
    /// A connector trying `urls` in order, with `ws` as the template for each connection
    /// (headers, timeouts, TLS roots; its URL is replaced).
    pub(crate) fn new(
        urls: Vec<String>,
        ws: WsConfig,
        handshake_timeout: Duration,
        limits: FrameLimits,
    ) -> Self {
        PocketOptionConnector {
            urls,
            next: AtomicUsize::new(0),
            ws,
            handshake_timeout,
            limits,
        }
    }

    async fn connect_to(
        &self,
        url: &str,
        ctx: &ConnectContext<PocketOptionState>,
    ) -> Result<Connection, ConnectError> {
        let config = self.ws.clone().with_url(url);
        let connection = client_ws::connect(&config).await?;
        match runtime::timeout(
            self.handshake_timeout,
            handshake(connection, ctx, self.limits),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(ConnectError::retryable(format!(
                "the server at {} accepted the WebSocket but did not finish the Socket.IO handshake within {}",
                client_ws::redacted_url(url),
                HumanDuration(self.handshake_timeout)
            ))
            .with_kind(ConnectErrorKind::Handshake)),
        }
    }
}

impl Connector<PocketOptionState> for PocketOptionConnector {
    fn connect<'a>(
        &'a self,
        ctx: ConnectContext<PocketOptionState>,
    ) -> BoxFuture<'a, Result<Connection, ConnectError>> {
        runtime::boxed(async move {
            if self.urls.is_empty() {
                return Err(ConnectError::fatal(
                    "no server URL to connect to; give one with `PocketOptionBuilder::with_url`",
                )
                .with_kind(ConnectErrorKind::Config));
            }
            let index = self.next.load(Ordering::Relaxed) % self.urls.len();
            let url = &self.urls[index];
            ctx.set_endpoint(client_ws::redacted_url(url));
            tracing::debug!(url = %url, attempt = ctx.attempt, "connecting to PocketOption");
            let result = self.connect_to(url, &ctx).await;
            match &result {
                Ok(_) => tracing::info!(url = %url, "authenticated"),
                Err(e) if e.is_retryable() && self.urls.len() > 1 => {
                    tracing::warn!(url = %url, error = %e, "connection failed; the next attempt tries the next URL");
                    self.next
                        .store((index + 1) % self.urls.len(), Ordering::Relaxed);
                }
                Err(e) if e.is_retryable() => {
                    tracing::warn!(url = %url, error = %e, "connection failed");
                }
                Err(e) => tracing::error!(url = %url, error = %e, "connection rejected"),
            }
            result
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Open,
    Namespace,
    Auth,
}

fn is_rejection(name: &str) -> bool {
    matches!(name, "NotAuthorized" | "notAuthorized" | "auth_error")
}

async fn handshake(
    connection: Connection,
    ctx: &ConnectContext<PocketOptionState>,
    limits: FrameLimits,
) -> Result<Connection, ConnectError> {
    let state = &ctx.state;
    let Connection {
        stream,
        mut sink,
        read_timeout: _,
    } = connection;
    let mut read_timeout = ReadTimeout::Inherit;
    let mut events = EventStream::new(stream, limits, state.malformed.clone());
    let mut early: Vec<Message> = Vec::new();
    let mut phase = Phase::Open;
    let send_failed = |e: core_pre::TransportError| {
        ConnectError::retryable(format!("the connection failed during the handshake: {e}"))
            .with_kind(ConnectErrorKind::Handshake)
    };
    let rejected = || ConnectError::fatal(REJECTED_REASON).with_kind(ConnectErrorKind::Rejected);
    loop {
        let msg = match events.next().await {
            Some(Ok(msg)) => msg,
            // The server ending the session right after our auth frame is a rejection; the
            // connection failing underneath is not (it is retried).
            Some(Err(_)) if phase == Phase::Auth && events.server_closed() => {
                return Err(rejected());
            }
            Some(Err(e)) => {
                return Err(
                    ConnectError::retryable(format!("the handshake failed: {e}"))
                        .with_kind(ConnectErrorKind::Handshake),
                );
            }
            None => {
                return Err(ConnectError::retryable(
                    "the server closed the connection during the handshake",
                )
                .with_kind(ConnectErrorKind::Handshake));
            }
        };
        let Some(text) = msg.as_text() else {
            continue;
        };
        // A frame the codec cannot read is none of the handshake's packets; it is kept
        // with the early events like any other.
        let frame = engineio::decode_text(text, &limits).ok();
        if matches!(frame, Some(Frame::Ping(""))) {
            sink.send(Message::text(engineio::PONG))
                .await
                .map_err(send_failed)?;
            continue;
        }
        let kind = match &frame {
            Some(Frame::Message(packet)) => Some(packet.kind()),
            _ => None,
        };
        match (phase, &frame) {
            (Phase::Open, Some(Frame::Open(json))) => {
                let open = OpenPayload::parse(json).map_err(|e| {
                    ConnectError::retryable(format!(
                        "the server's Engine.IO open packet is invalid: {e}"
                    ))
                    .with_kind(ConnectErrorKind::Handshake)
                })?;
                tracing::debug!(
                    ping_interval = open.ping_interval,
                    ping_timeout = open.ping_timeout,
                    "engine.io open"
                );
                // The server pings every `pingInterval` and gives up after `pingTimeout`:
                // hearing nothing for both means the link is dead (socket.io's own rule).
                let silence = open.ping_interval.saturating_add(open.ping_timeout);
                if silence > 0 {
                    read_timeout = ReadTimeout::After(Duration::from_millis(silence.max(100)));
                }
                sink.send(Message::text(socketio::encode_connect(None)))
                    .await
                    .map_err(send_failed)?;
                phase = Phase::Namespace;
                continue;
            }
            (Phase::Namespace, _) if kind == Some(PacketKind::Connect) => {
                sink.send(Message::text(state.ssid.auth_frame()))
                    .await
                    .map_err(send_failed)?;
                phase = Phase::Auth;
                continue;
            }
            _ => {}
        }
        if kind == Some(PacketKind::ConnectError) {
            return Err(ConnectError::fatal(format!(
                "the server refused the Socket.IO connection: {}",
                text.get(2..)
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect::<String>()
            ))
            .with_kind(ConnectErrorKind::Rejected));
        }
        match crate::event_name(text) {
            Some("successauth") if phase == Phase::Auth => break,
            Some(name) if is_rejection(name) => return Err(rejected()),
            _ => {
                if early.len() < EARLY_LIMIT {
                    early.push(msg);
                } else {
                    tracing::warn!("too many events before authentication; dropping one");
                }
            }
        }
    }
    for frame in AFTER_AUTH {
        sink.send(Message::text(*frame))
            .await
            .map_err(send_failed)?;
    }
    let stream = futures::stream::iter(early.into_iter().map(Ok)).chain(events);
    Ok(Connection::new(stream, sink).with_read_timeout(read_timeout))
}

/// The default browser user agent sent to the platform (demo sessions are not bound to
/// one; real sessions use the one they were issued for).
pub(crate) const DEFAULT_USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";

/// The transport template for the platform: Origin and User-Agent as the web client sends
/// them.
pub(crate) fn platform_ws_config(user_agent: &str) -> WsConfig {
    WsConfig::new("wss://invalid.invalid/")
        .with_origin("https://pocketoption.com")
        .with_user_agent(user_agent)
}
