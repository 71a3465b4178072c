//! [`MessagingConnector`]: opens the WebSocket (client_ws), runs the codec's handshake and
//! re-sends every subscription on the raw connection **before** the runner takes it over —
//! so core-pre reports the connection up, and any publish can go out, only after the
//! subscriptions are restored.
//!
//! * `nats`: wait for `INFO`, send `CONNECT` + `PING`, wait for `PONG` (a `-ERR` such as
//!   `Authorization Violation` refuses the connection for good), then `SUB` the fresh
//!   wildcard inbox `_INBOX.<random>.*` and every subscription. The inbound stream is cut
//!   into whole protocol messages by [`NatsFrames`] (the streaming parser), one core-pre
//!   [`Message`] each.
//! * `json`: wait for the hub's `hello` (session id, `max_payload`), then `sub` frames.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
// `std::time::SystemTime` natively; the browser clock in wasm32 (std's panics there).
use core_pre::runtime::SystemTime;

use bytes::BytesMut;
use futures::{SinkExt, Stream, StreamExt};

use client_ws::WsConfig;
use core_pre::{
    BoxFuture, ConnectContext, ConnectError, ConnectErrorKind, Connection, Connector, Message,
    MessageStream, TransportError, TransportErrorKind, runtime,
};

use super::config::Codec;
use super::shared::{CREDENTIALS_REFUSED, InboxPrefix, Shared};
use crate::error::MessagingError;
use crate::json::HubFrame;
use crate::nats::{self, ConnectOptions, Decoder, Limits, ServerOp, encode};
use crate::subject::{INBOX_PREFIX, random_token};

/// Opens connections for a [`MessagingClient`](super::MessagingClient).
pub(crate) struct MessagingConnector {
    pub(crate) ws: WsConfig,
    pub(crate) codec: Codec,
    pub(crate) options: ConnectOptions,
}

impl Connector<Shared> for MessagingConnector {
    fn connect<'a>(
        &'a self,
        ctx: ConnectContext<Shared>,
    ) -> BoxFuture<'a, Result<Connection, ConnectError>> {
        ctx.set_endpoint(client_ws::redacted_url(self.ws.url()));
        runtime::boxed(async move {
            let connection = client_ws::connect(&self.ws).await?;
            let result = match self.codec {
                Codec::Nats => self.nats_handshake(connection, &ctx.state).await,
                Codec::Json => json_handshake(connection, &ctx.state).await,
            };
            if let Err(error) = &result {
                tracing::warn!(%error, "messaging handshake failed");
            }
            result
        })
    }
}

fn handshake_error(message: impl Into<String>) -> ConnectError {
    ConnectError::retryable(message.into()).with_kind(ConnectErrorKind::Handshake)
}

fn lost(error: &TransportError) -> ConnectError {
    handshake_error(format!(
        "the connection failed during the handshake: {error}"
    ))
}

/// A fresh inbox prefix for a new connection, recorded with the connection's epoch.
fn new_inbox(shared: &Shared) -> String {
    let prefix = format!("{INBOX_PREFIX}{}.", random_token(22));
    *runtime::lock(&shared.inbox) = InboxPrefix {
        prefix: prefix.clone(),
        epoch: Some(shared.connection.epoch()),
    };
    prefix
}

impl MessagingConnector {
    async fn nats_handshake(
        &self,
        connection: Connection,
        shared: &Shared,
    ) -> Result<Connection, ConnectError> {
        let Connection {
            stream,
            mut sink,
            read_timeout,
        } = connection;
        let mut frames = NatsFrames::new(stream);
        let info = match frames.next_op().await? {
            ServerOp::Info(info) => info,
            other => {
                return Err(handshake_error(format!(
                    "the server did not start with INFO but with {other:?} (is this a NATS WebSocket listener?)"
                )));
            }
        };
        if info.max_payload > 0 {
            frames.decoder.set_max_payload(info.max_payload);
            shared
                .max_payload
                .store(info.max_payload, Ordering::Relaxed);
        }
        let mut hello = BytesMut::new();
        encode::connect(&mut hello, &self.options);
        hello.extend_from_slice(encode::PING);
        sink.send(Message::binary(hello.freeze()))
            .await
            .map_err(|e| lost(&e))?;
        loop {
            match frames.next_op().await? {
                ServerOp::Pong => break,
                ServerOp::Ping => sink
                    .send(Message::binary(bytes::Bytes::from_static(encode::PONG)))
                    .await
                    .map_err(|e| lost(&e))?,
                ServerOp::Err(text) => {
                    let error = shared.nats_error(&text);
                    return Err(match error {
                        MessagingError::AccessDenied { .. } => {
                            ConnectError::fatal(format!("{CREDENTIALS_REFUSED}: {text}"))
                                .with_kind(ConnectErrorKind::Rejected)
                        }
                        _ => handshake_error(format!("the server refused CONNECT: {text}")),
                    });
                }
                ServerOp::Info(_) | ServerOp::Ok => {}
                ServerOp::Msg { .. } => {
                    return Err(handshake_error("the server sent MSG before PONG"));
                }
            }
        }
        let prefix = new_inbox(shared);
        let mut subs = BytesMut::new();
        for frame in shared.resubscribe_frames(&format!("{prefix}*")) {
            subs.extend_from_slice(frame.payload());
        }
        sink.send(Message::binary(subs.freeze()))
            .await
            .map_err(|e| lost(&e))?;
        *runtime::lock(&shared.session) = super::shared::SessionView {
            id: shared.own_session_id.clone(),
            connected_at: Some(SystemTime::now()),
            server: format!("{} {}", info.server_name, info.version)
                .trim()
                .to_owned(),
        };
        Ok(Connection {
            stream: Box::pin(frames),
            sink,
            read_timeout,
        })
    }
}

async fn json_handshake(
    connection: Connection,
    shared: &Shared,
) -> Result<Connection, ConnectError> {
    let Connection {
        mut stream,
        mut sink,
        read_timeout,
    } = connection;
    let (session, max_payload) = loop {
        match stream.next().await {
            None => {
                return Err(handshake_error(
                    "the hub closed the connection before its hello",
                ));
            }
            Some(Err(e)) => return Err(lost(&e)),
            Some(Ok(Message::Text(text))) => match HubFrame::decode(text.as_str()) {
                Ok(HubFrame::Hello {
                    session,
                    max_payload,
                }) => break (session, max_payload),
                Ok(HubFrame::Err { code, message, .. }) => {
                    return Err(handshake_error(format!(
                        "the hub refused the session ({}): {message}",
                        code.as_str()
                    )));
                }
                Ok(other) => {
                    return Err(handshake_error(format!(
                        "the hub's first frame was {other:?}, not hello"
                    )));
                }
                Err(error) => {
                    return Err(handshake_error(format!(
                        "the hub's first frame is not the json envelope: {error}"
                    )));
                }
            },
            Some(Ok(Message::Close(frame))) => {
                let why = frame
                    .map(|f| format!(" (code {}: {})", f.code, f.reason))
                    .unwrap_or_default();
                return Err(handshake_error(format!(
                    "the hub closed the connection before its hello{why}"
                )));
            }
            Some(Ok(Message::Binary(_))) => {
                return Err(handshake_error(
                    "the hub sent a binary frame (is this a NATS listener? use the nats codec)",
                ));
            }
            Some(Ok(_)) => {}
        }
    };
    shared.max_payload.store(max_payload, Ordering::Relaxed);
    let prefix = new_inbox(shared);
    for frame in shared.resubscribe_frames(&format!("{prefix}*")) {
        sink.feed(frame).await.map_err(|e| lost(&e))?;
    }
    sink.flush().await.map_err(|e| lost(&e))?;
    *runtime::lock(&shared.session) = super::shared::SessionView {
        id: session,
        connected_at: Some(SystemTime::now()),
        server: "hub".to_owned(),
    };
    Ok(Connection {
        stream,
        sink,
        read_timeout,
    })
}

/// Cuts the server's byte stream into whole NATS protocol messages, one binary
/// [`Message`] each. A byte stream that is not the protocol ends the connection with a
/// [`TransportErrorKind::Protocol`] error naming what was wrong.
pub(crate) struct NatsFrames {
    inner: MessageStream,
    pub(crate) decoder: Decoder,
    failed: bool,
}

impl NatsFrames {
    pub(crate) fn new(inner: MessageStream) -> Self {
        NatsFrames {
            inner,
            decoder: Decoder::new(Limits::default()),
            failed: false,
        }
    }

    /// The next protocol message during the handshake (WebSocket control frames skipped).
    async fn next_op(&mut self) -> Result<ServerOp, ConnectError> {
        loop {
            match self.next().await {
                None => {
                    return Err(handshake_error(
                        "the server closed the connection during the handshake",
                    ));
                }
                Some(Err(e)) => return Err(lost(&e)),
                Some(Ok(Message::Binary(frame))) => {
                    return nats::parse_frame(frame)
                        .map_err(|e| handshake_error(format!("during the handshake, {e}")));
                }
                Some(Ok(Message::Close(frame))) => {
                    let why = frame
                        .map(|f| format!(" (code {}: {})", f.code, f.reason))
                        .unwrap_or_default();
                    return Err(handshake_error(format!(
                        "the server closed the connection during the handshake{why}"
                    )));
                }
                Some(Ok(_)) => {}
            }
        }
    }
}

impl Stream for NatsFrames {
    type Item = Result<Message, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.failed {
                return Poll::Ready(None);
            }
            match this.decoder.next_frame() {
                Ok(Some(frame)) => return Poll::Ready(Some(Ok(Message::Binary(frame)))),
                Ok(None) => {}
                Err(error) => {
                    this.failed = true;
                    return Poll::Ready(Some(Err(TransportError::new(
                        TransportErrorKind::Protocol,
                        error.to_string(),
                    ))));
                }
            }
            match this.inner.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(Message::Binary(bytes)))) => this.decoder.extend(&bytes),
                Poll::Ready(Some(Ok(Message::Text(text)))) => {
                    this.decoder.extend(text.as_str().as_bytes())
                }
                Poll::Ready(other) => return Poll::Ready(other),
            }
        }
    }
}
