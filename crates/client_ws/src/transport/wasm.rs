//! The browser transport: the page's `WebSocket`, through gloo-net, on the page's event loop.
//!
//! Browser facts this file handles:
//! * Opening never fails up front: `new WebSocket(url)` only rejects malformed URLs, and
//!   a refused or failed connection arrives later as `error` + `close` events. So
//!   [`connect`] waits for the socket to open (or fail) before returning.
//! * Sending on a closed socket silently succeeds, so the sink checks `readyState` first
//!   and reports [`TransportError::closed`]; liveness itself is tracked from the read side
//!   (the stream ends with the `close` event).
//! * Only close codes 1000 and 3000–4999 may be sent: others are mapped to 1000.
//! * Pages cannot send ping/pong frames (the browser answers server pings itself): outbound
//!   pings and pongs are dropped; use an application keep-alive.
//! * Pages cannot set handshake headers, pick TLS roots or size buffers: those settings
//!   of [`WsConfig`] are ignored.
//!
//! gloo-net turns the socket's events into a stream; sends and closes go straight to the
//! `web_sys::WebSocket` handle, which also lets the sink close with a chosen code.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Sink, Stream, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message as BrowserMessage, WebSocketError};
use wasm_bindgen::{JsCast, JsValue};

use core_pre::{
    CloseFrame, ConnectError, ConnectErrorKind, Connection, Message, Text, TransportError,
    TransportErrorKind, runtime,
};

use super::close::{browser_close_code, close_reason};
use super::config::{WsConfig, redacted_url};

/// `WebSocket.OPEN`.
const OPEN: u16 = 1;

/// A readable text for a JavaScript exception.
fn js_text(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

/// Opens a WebSocket per `config`. See [`crate::connect`].
pub(crate) async fn connect(config: &WsConfig) -> Result<Connection, ConnectError> {
    let url = redacted_url(&config.url);
    if !config.headers.is_empty() {
        tracing::debug!(%url, "browsers do not allow WebSocket handshake headers; ignoring them");
    }
    let handle = web_sys::WebSocket::new(&config.url).map_err(|e| {
        ConnectError::fatal(format!(
            "invalid WebSocket URL {url}: {}; use ws://host:port/path or wss://…",
            js_text(&e)
        ))
        .with_kind(ConnectErrorKind::Config)
    })?;
    let mut socket = WebSocket::try_from(handle.clone()).map_err(|e| {
        ConnectError::fatal(format!(
            "could not set up the browser WebSocket for {url}: {e}"
        ))
    })?;

    // gloo's sink becomes ready once the socket leaves CONNECTING, opened or failed.
    let settle = futures::future::poll_fn(|cx| {
        Sink::<BrowserMessage>::poll_ready(Pin::new(&mut socket), cx)
    });
    match runtime::timeout(config.connect_timeout, settle).await {
        Ok(_) if handle.ready_state() == OPEN => {}
        Ok(_) => {
            return Err(ConnectError::retryable(format!(
                "could not open {url}: the browser does not say why (refused, unreachable, TLS or \
                 HTTP error); see the browser console"
            )));
        }
        Err(_) => {
            let _ = handle.close();
            return Err(ConnectError::retryable(format!(
                "opening {url} timed out after {:?}; check that the server is up, or raise the connect timeout",
                config.connect_timeout
            ))
            .with_kind(ConnectErrorKind::TimedOut));
        }
    }

    let stream = BrowserStream {
        inner: socket,
        max_message_size: config.max_message_size,
        done: false,
    };
    let sink = BrowserSink {
        handle,
        max_message_size: config.max_message_size,
    };
    Ok(Connection::new(stream, sink))
}

/// The inbound half: gloo's event stream, with close events turned into close messages.
struct BrowserStream {
    inner: WebSocket,
    max_message_size: usize,
    done: bool,
}

impl Stream for BrowserStream {
    type Item = Result<Message, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = match self.inner.poll_next_unpin(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(item) => item,
        };
        let result = match item {
            None => {
                self.done = true;
                return Poll::Ready(None);
            }
            Some(Ok(msg)) => {
                let len = match &msg {
                    BrowserMessage::Text(text) => text.len(),
                    BrowserMessage::Bytes(bytes) => bytes.len(),
                };
                if len > self.max_message_size {
                    Err(TransportError::new(
                        TransportErrorKind::TooLarge,
                        format!(
                            "inbound message of {len} bytes exceeds the {}-byte limit; raise \
                             WsConfig::with_max_message_size if the peer legitimately sends this much",
                            self.max_message_size
                        ),
                    ))
                } else {
                    Ok(match msg {
                        BrowserMessage::Text(text) => Message::Text(Text::from(text)),
                        BrowserMessage::Bytes(bytes) => Message::Binary(bytes.into()),
                    })
                }
            }
            Some(Err(WebSocketError::ConnectionClose(event))) => {
                Ok(Message::Close(Some(CloseFrame {
                    code: event.code,
                    reason: Text::from(event.reason),
                })))
            }
            Some(Err(WebSocketError::ConnectionError)) => Err(TransportError::new(
                TransportErrorKind::Io,
                "the browser reported a WebSocket error (details only in the browser console)",
            )),
            Some(Err(other)) => Err(TransportError::new(
                TransportErrorKind::Other,
                other.to_string(),
            )),
        };
        if result.is_err() {
            self.done = true;
        }
        Poll::Ready(Some(result))
    }
}

/// The outbound half: sends straight to the browser socket, after checking it is open.
struct BrowserSink {
    handle: web_sys::WebSocket,
    max_message_size: usize,
}

impl BrowserSink {
    fn ensure_open(&self) -> Result<(), TransportError> {
        if self.handle.ready_state() == OPEN {
            Ok(())
        } else {
            Err(TransportError::closed())
        }
    }
}

impl Sink<Message> for BrowserSink {
    type Error = TransportError;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(self.ensure_open())
    }

    fn start_send(self: Pin<&mut Self>, msg: Message) -> Result<(), TransportError> {
        // A send on a closing or closed socket would be silently dropped by the browser.
        self.ensure_open()?;
        super::check_outbound_size(&msg, self.max_message_size)?;
        let sent = match &msg {
            Message::Text(text) => self.handle.send_with_str(text.as_str()),
            Message::Binary(bytes) => self.handle.send_with_u8_array(bytes),
            // Pages cannot send control frames; the browser answers pings by itself.
            Message::Ping(_) | Message::Pong(_) => Ok(()),
            Message::Close(frame) => {
                let (code, reason) = match frame {
                    Some(frame) => (
                        browser_close_code(frame.code),
                        close_reason(frame.reason.as_str()),
                    ),
                    None => (1000, ""),
                };
                self.handle.close_with_code_and_reason(code, reason)
            }
        };
        sent.map_err(|e| {
            TransportError::new(
                TransportErrorKind::Io,
                format!("browser send failed: {}", js_text(&e)),
            )
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        // The browser buffers and writes on its own; there is nothing to flush.
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        if self.handle.ready_state() == OPEN {
            let _ = self.handle.close_with_code(1000);
        }
        Poll::Ready(Ok(()))
    }
}
