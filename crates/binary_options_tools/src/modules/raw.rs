//! Raw access: send any frame, wait for the frame that answers it, or stream every frame
//! that matches a [`Matcher`].
//!
//! Matchers see inbound text frames after the event layer, so a two-step event arrives as
//! its one-step equivalent `42["name",payload]`. Frames registered with
//! [`RawHandle::keep_on_reconnect`] are re-sent after every reconnect (custom keep-alives,
//! custom subscriptions).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use core_pre::rule::Rule;
use core_pre::runtime;
use core_pre::{
    BoxError, CallbackContext, ConnectCallback, ConnectionWatch, CoreError, Message, Module,
    ModuleContext, Outbound,
};
use futures::Stream;
use tokio::sync::{mpsc, oneshot};

pub use crate::book::raw::Matcher;
pub(crate) use crate::book::raw::RawRegistry;
use crate::book::raw::{Tap, Waiter};
use crate::error::Error;
use crate::state::PocketOptionState;

/// Frames buffered per raw stream before the excess is dropped (and counted).
pub const RAW_STREAM_BUFFER: usize = 1024;

/// Routes matching frames to raw waiters and streams.
pub(crate) struct RawModule {
    ctx: ModuleContext<PocketOptionState>,
}

/// Raw access to the connection.
#[derive(Clone)]
pub struct RawHandle {
    state: Arc<PocketOptionState>,
    outbound: Outbound,
    connection: ConnectionWatch,
}

/// Unregisters a waiter when its wait ends (answered, timed out or cancelled).
struct WaiterGuard<'a>(&'a RawRegistry, u64);

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.0.remove_waiter(self.1);
    }
}

impl RawHandle {
    /// Sends a text frame as is.
    pub async fn send(&self, frame: impl Into<String>) -> Result<(), Error> {
        Ok(self.outbound.send(Message::text(frame.into())).await?)
    }

    /// Sends `frame` and waits up to `timeout` for the first inbound frame that `matcher`
    /// accepts. The matcher is registered before sending, so a fast answer is not missed.
    /// Fails with `ConnectionLost` at once if the connection drops while waiting.
    pub async fn send_and_wait(
        &self,
        frame: impl Into<String>,
        matcher: Matcher,
        timeout: Duration,
    ) -> Result<String, Error> {
        let registry = &self.state.raw;
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut inner = registry.lock();
            let id = inner.next_id;
            inner.next_id += 1;
            inner.waiters.push(Waiter { id, matcher, tx });
            registry.recount(&inner);
            id
        };
        let _guard = WaiterGuard(registry, id);
        let epoch = self.connection.epoch();
        self.send(frame).await?;
        let mut connection = self.connection.clone();
        let outcome = runtime::timeout(timeout, async {
            tokio::select! {
                biased;
                reply = rx => reply.map_err(|_| CoreError::ClientClosed),
                _ = connection.lost_since(epoch) => Err(CoreError::ConnectionLost),
            }
        })
        .await;
        match outcome {
            Ok(result) => Ok(result?),
            Err(_) => Err(Error::Timeout {
                waiting_for: "a matching frame",
                after: timeout,
            }),
        }
    }

    /// Streams every inbound frame `matcher` accepts, from now on, until dropped.
    pub fn stream(&self, matcher: Matcher) -> RawStream {
        let registry = &self.state.raw;
        let (tx, rx) = mpsc::channel(RAW_STREAM_BUFFER);
        let dropped = Arc::new(AtomicU64::new(0));
        let mut inner = registry.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.taps.push(Tap {
            id,
            matcher,
            tx,
            dropped: dropped.clone(),
        });
        registry.recount(&inner);
        RawStream {
            rx,
            id,
            dropped,
            state: self.state.clone(),
        }
    }

    /// Re-sends `frame` after every reconnect, before modules see new traffic.
    pub fn keep_on_reconnect(&self, frame: impl Into<String>) {
        self.state.raw.lock().reconnect_frames.push(frame.into());
    }

    /// Forgets every frame registered with [`keep_on_reconnect`](Self::keep_on_reconnect).
    pub fn clear_reconnect_frames(&self) {
        self.state.raw.lock().reconnect_frames.clear();
    }
}

/// Frames matching a raw stream's matcher. Ends when the client shuts down.
pub struct RawStream {
    rx: mpsc::Receiver<String>,
    id: u64,
    dropped: Arc<AtomicU64>,
    state: Arc<PocketOptionState>,
}

impl RawStream {
    /// Frames dropped because this stream was not read fast enough.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Stream for RawStream {
    type Item = String;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<String>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for RawStream {
    fn drop(&mut self) {
        self.state.raw.remove_tap(self.id);
    }
}

impl Module<PocketOptionState> for RawModule {
    type Handle = RawHandle;
    const NAME: &'static str = "raw";

    fn new(ctx: ModuleContext<PocketOptionState>) -> (Self, RawHandle) {
        let handle = RawHandle {
            state: ctx.state.clone(),
            outbound: ctx.outbound.clone(),
            connection: ctx.connection.clone(),
        };
        (RawModule { ctx }, handle)
    }

    fn rule(state: &Arc<PocketOptionState>) -> Box<dyn Rule> {
        let state = state.clone();
        Box::new(move |msg: &Message| msg.as_text().is_some_and(|t| state.raw.wants(t)))
    }

    async fn run(&mut self) -> Result<(), BoxError> {
        while let Some(msg) = self.ctx.inbox.recv().await {
            if let Some(text) = msg.as_text() {
                self.ctx.state.raw.dispatch(text);
            }
        }
        self.ctx.state.raw.close();
        Ok(())
    }

    fn on_reconnect(
        _state: &Arc<PocketOptionState>,
    ) -> Option<Arc<dyn ConnectCallback<PocketOptionState>>> {
        Some(Arc::new(
            |ctx: CallbackContext<PocketOptionState>| async move {
                let frames = ctx.state.raw.lock().reconnect_frames.clone();
                for frame in frames {
                    ctx.outbound.send(frame).await?;
                }
                Ok(())
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_combine() {
        let m = Matcher::event("successopenOrder")
            .and(Matcher::contains("EURUSD"))
            .or(Matcher::regex(r"^42\[.ps.\]$").unwrap());
        assert!(m.matches(r#"42["successopenOrder",{"asset":"EURUSD_otc"}]"#));
        assert!(!m.matches(r#"42["successopenOrder",{"asset":"GBPUSD"}]"#));
        assert!(m.matches(r#"42["ps"]"#));
        assert!(Matcher::starts_with("3").not().matches("2"));
        assert!(Matcher::custom(|f| f.len() == 1).matches("2"));
        assert!(Matcher::regex("(").is_err());
    }
}
