//! [`CloseHandshakeConnector`]: completes the WebSocket closing handshake when the server
//! starts it — a work-around for core-pre's runner, which does not.
//!
//! When a Close frame arrives, tungstenite queues the Close reply the RFC requires and
//! writes it on the next read or write of the socket. core-pre's `ClientRunner` treats a
//! peer's Close as a lost connection: it stops reading, aborts the writer task and drops
//! the socket, so the reply is never written and every server-initiated close is unclean
//! (the fuzzing server marks such cases `UNCLEAN`). This wrapper holds the Close frame
//! back from the runner and keeps reading — which makes tungstenite write the reply — until
//! the server drops the TCP connection (or a short linger passes), then hands the Close to
//! the runner. Remove it once the runner flushes the reply itself; `autobahn_client
//! --strict` runs without it to check.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use core_pre::{
    AppState, BoxFuture, ConnectContext, ConnectError, Connection, Connector, Message,
    MessageStream, TransportError,
};
use futures::{Stream, StreamExt};

/// Wraps a connector so that every connection completes a server-initiated close.
pub struct CloseHandshakeConnector<C> {
    inner: C,
    linger: Duration,
}

impl<C> CloseHandshakeConnector<C> {
    /// Wraps `inner`; after a Close arrives, reading goes on for at most `linger`.
    pub fn new(inner: C, linger: Duration) -> Self {
        CloseHandshakeConnector { inner, linger }
    }
}

impl<S: AppState, C: Connector<S>> Connector<S> for CloseHandshakeConnector<C> {
    fn connect<'a>(
        &'a self,
        ctx: ConnectContext<S>,
    ) -> BoxFuture<'a, Result<Connection, ConnectError>> {
        Box::pin(async move {
            let Connection { stream, sink } = self.inner.connect(ctx).await?;
            let stream: MessageStream = Box::pin(CloseHandshake {
                inner: stream,
                held: None,
                linger: self.linger,
                finished: false,
            });
            Ok(Connection { stream, sink })
        })
    }
}

/// The inbound half: passes frames through until a Close, then drains before yielding it.
struct CloseHandshake {
    inner: MessageStream,
    /// The peer's Close and the end of the linger, once one arrived.
    held: Option<(Message, Pin<Box<tokio::time::Sleep>>)>,
    linger: Duration,
    finished: bool,
}

impl Stream for CloseHandshake {
    type Item = Result<Message, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            let polled = this.inner.poll_next_unpin(cx);
            let Some((_, linger)) = this.held.as_mut() else {
                match polled {
                    Poll::Ready(Some(Ok(Message::Close(frame)))) => {
                        let linger = Box::pin(tokio::time::sleep(this.linger));
                        this.held = Some((Message::Close(frame), linger));
                        continue;
                    }
                    other => return other,
                }
            };
            // Holding the Close: this read has written the reply. Frames after a Close are
            // ignored (the RFC allows none); the end of the stream, an error or the linger
            // releases the Close.
            let release = match polled {
                Poll::Ready(Some(Ok(_))) => continue,
                Poll::Ready(None | Some(Err(_))) => true,
                Poll::Pending => linger.as_mut().poll(cx).is_ready(),
            };
            if !release {
                return Poll::Pending;
            }
            this.finished = true;
            return Poll::Ready(this.held.take().map(|(close, _)| Ok(close)));
        }
    }
}
