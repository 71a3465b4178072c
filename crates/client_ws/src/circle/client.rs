//! [`CircleWsClient`]: the handle users hold: connect, call, play, notifications, state.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use core_pre::runtime::{self, Instant, TaskHandle};
use core_pre::{Client, ClientRunner, ConnectionState, CoreError, HumanDuration, PendingRequests};
use futures::Stream;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use super::state::{CircleState, Notification, Reply};
use crate::error::{ClientWsError, Result};
use crate::rpc;
use crate::transport::redacted_url;

pub(crate) struct Inner {
    pub(crate) client: Client<CircleState>,
    pub(crate) runner: Mutex<Option<ClientRunner<CircleState>>>,
    pub(crate) task: Mutex<Option<TaskHandle<()>>>,
    pub(crate) url: String,
    pub(crate) public_key: Option<String>,
    pub(crate) request_timeout: Duration,
    /// The transport's limit: a larger request fails alone instead of killing the link.
    pub(crate) max_message_size: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is a single `take`/`replace`: nothing can be left half-done.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A self-managing JSON-RPC client for a circle server: it connects, authenticates with
/// its secp256k1 key (fetch_nonce → sign → authenticate), keeps the connection alive,
/// reconnects with backoff and re-authenticates by itself.
///
/// Cheap to clone; every clone drives the same connection. When the last clone is
/// dropped the connection is closed and the background task stops.
///
/// ```no_run
/// # async fn demo() -> client_ws::Result<()> {
/// use client_ws::CircleWsClientBuilder;
/// use serde_json::json;
///
/// let client = CircleWsClientBuilder::new("ws://127.0.0.1:9000")
///     .with_keypair("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
///     .build()?;
/// client.connect().await?; // authenticated from here on
/// let output = client.play("echo hello").await?;
/// let raw = client.call("ping", json!(null)).await?;
/// client.disconnect().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CircleWsClient {
    pub(crate) inner: Arc<Inner>,
}

impl CircleWsClient {
    fn state_data(&self) -> &Arc<CircleState> {
        self.inner.client.app_state()
    }

    fn pending(&self) -> &PendingRequests<u64, Reply> {
        &self.state_data().pending
    }

    /// Starts the background runner the first time it is needed.
    fn start(&self) {
        if let Some(runner) = lock(&self.inner.runner).take() {
            *lock(&self.inner.task) = Some(runtime::spawn(runner.run()));
        }
    }

    /// Connects and, with a key, authenticates; returns once the connection is ready, or
    /// with the reason it is not (at most the builder's connect wait).
    ///
    /// Rejected credentials come back as [`ClientWsError::Auth`] and stop the client
    /// from retrying (call `connect` again to retry). Failures that may pass (server down,
    /// nonce refused) are retried in the background with backoff; if the wait runs out
    /// first, the last failure is returned and the client keeps trying.
    pub async fn connect(&self) -> Result<()> {
        self.start();
        match self.inner.client.connect().await {
            Ok(()) => Ok(()),
            Err(error) => Err(self.connect_failure(error, "connect")),
        }
    }

    /// Maps a failed `connect` or `reconnect` (`operation`), preferring the last
    /// authentication failure over a bare timeout.
    fn connect_failure(&self, error: CoreError, operation: &'static str) -> ClientWsError {
        let last = self.state_data().last_error();
        match (error, last) {
            (
                CoreError::Rejected { .. } | CoreError::GaveUp { .. },
                Some(last @ ClientWsError::Auth(_)),
            ) => last,
            (CoreError::ConnectTimeout { .. }, Some(last @ ClientWsError::Auth(_))) => last,
            (CoreError::Rejected { reason }, _) => ClientWsError::Connect(reason.to_string()),
            // Says how long it waited, what the attempts ran into, and that it keeps trying.
            (timeout @ CoreError::ConnectTimeout { .. }, _) => {
                ClientWsError::Connect(timeout.to_string())
            }
            (other, _) => map_core(other, Operation::Lifecycle(operation)),
        }
    }

    /// Closes the connection; the client stays disconnected until [`connect`](Self::connect).
    /// Pending calls fail with [`ClientWsError::ConnectionLost`].
    pub async fn disconnect(&self) -> Result<()> {
        if lock(&self.inner.runner).is_some() {
            // Never started: nothing to close.
            return Ok(());
        }
        self.inner
            .client
            .disconnect()
            .await
            .map_err(|e| map_core(e, Operation::Lifecycle("disconnect")))
    }

    /// Drops the current connection and connects (and authenticates) afresh, at once.
    pub async fn reconnect(&self) -> Result<()> {
        self.start();
        match self.inner.client.reconnect().await {
            Ok(()) => Ok(()),
            Err(error) => Err(self.connect_failure(error, "reconnect")),
        }
    }

    /// Shuts the client down for good: closes the connection and stops the background
    /// task. Every later call fails with [`ClientWsError::Closed`].
    pub async fn shutdown(&self) -> Result<()> {
        // A runner that never ran starts idle and shuts down at once.
        self.start();
        match self.inner.client.shutdown().await {
            Ok(()) | Err(CoreError::ClientClosed) => Ok(()),
            Err(other) => Err(map_core(other, Operation::Lifecycle("shutdown"))),
        }
    }

    /// True while the connection is open and, with a key, authenticated.
    pub fn is_connected(&self) -> bool {
        self.inner.client.is_connected()
    }

    /// The connection state now.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.client.connection_state()
    }

    /// A receiver that sees every change of connection state (connecting, connected,
    /// reconnecting with attempt and delay, disconnected with reason, closed).
    pub fn watch_connection_state(&self) -> watch::Receiver<ConnectionState> {
        self.inner.client.watch_connection_state()
    }

    /// The public key this client authenticates with (uncompressed hex), if any.
    pub fn public_key(&self) -> Option<&str> {
        self.inner.public_key.as_deref()
    }

    /// The server URL (as configured).
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Calls `method` with `params` (`Value::Null` for none) and returns its result,
    /// within the builder's request timeout.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        self.call_with_timeout(method, params, self.inner.request_timeout)
            .await
    }

    /// Calls `method` with `params`, waiting at most `timeout` in all.
    ///
    /// If the client is reconnecting, the call first waits (within `timeout`) for the new
    /// connection to be authenticated, then goes out on it. If the connection drops
    /// while the call waits for its answer, it fails at once with
    /// [`ClientWsError::ConnectionLost`]; it is never re-sent on the next connection.
    pub async fn call_with_timeout(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value> {
        let started = Instant::now();
        self.ready_within(method, timeout).await?;
        let id = self.state_data().next_id();
        let frame = rpc::request(id, method, &params);
        if frame.len() > self.inner.max_message_size {
            return Err(ClientWsError::TooLarge {
                method: method.to_string(),
                size: frame.len(),
                max: self.inner.max_message_size,
            });
        }
        let reply = self
            .pending()
            .register(id)
            .map_err(|e| map_core(e, Operation::Call(method)))?;
        if let Err(error) = self.inner.client.send(frame).await {
            return Err(match error {
                // The connection went away between the state check and the send.
                CoreError::NotConnected { .. } => ClientWsError::ConnectionLost {
                    method: method.to_string(),
                },
                other => map_core(other, Operation::Call(method)),
            });
        }
        let remaining = timeout.saturating_sub(started.elapsed());
        match reply.wait(remaining).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(error)) => Err(ClientWsError::Rpc {
                method: method.to_string(),
                error,
            }),
            Err(CoreError::Timeout { .. }) => Err(ClientWsError::Timeout {
                method: method.to_string(),
                after: timeout,
            }),
            Err(other) => Err(map_core(other, Operation::Call(method))),
        }
    }

    /// Waits (within `timeout`) for a connection that is being made; fails at once when
    /// none is.
    async fn ready_within(&self, method: &str, timeout: Duration) -> Result<()> {
        match self.connection_state() {
            ConnectionState::Connected => Ok(()),
            ConnectionState::Connecting | ConnectionState::Reconnecting { .. } => {
                match self.inner.client.wait_connected(timeout).await {
                    Ok(()) => Ok(()),
                    Err(CoreError::ConnectTimeout { after, state, .. }) => {
                        Err(ClientWsError::NotConnected {
                            state: format!("{state} (waited {})", HumanDuration(after)),
                        })
                    }
                    Err(other) => Err(map_core(other, Operation::Call(method))),
                }
            }
            ConnectionState::Disconnected(reason) => Err(ClientWsError::NotConnected {
                state: format!("disconnected: {reason}"),
            }),
            ConnectionState::Closed => Err(ClientWsError::Closed),
        }
    }

    /// Calls `ping`; Ok when the server answers `"pong"`.
    pub async fn ping(&self) -> Result<()> {
        let answer = self.call("ping", Value::Null).await?;
        if answer == "pong" {
            Ok(())
        } else {
            Err(ClientWsError::UnexpectedResponse {
                method: "ping".into(),
                reason: format!("expected \"pong\", got {answer}"),
            })
        }
    }

    /// Calls `play` with `script` and returns its output.
    pub async fn play(&self, script: &str) -> Result<String> {
        match self.call("play", json!({ "script": script })).await? {
            Value::String(output) => Ok(output),
            other => Err(ClientWsError::UnexpectedResponse {
                method: "play".into(),
                reason: format!("expected a string, got {other}"),
            }),
        }
    }

    /// Subscribes to the server's notifications (JSON-RPC messages without an id), from
    /// now on, on this and every later connection.
    pub fn notifications(&self) -> Notifications {
        Notifications {
            rx: self.state_data().notifications.subscribe(),
        }
    }
}

impl fmt::Debug for CircleWsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircleWsClient")
            .field("url", &redacted_url(&self.inner.url))
            .field("public_key", &self.inner.public_key)
            .field("state", &self.connection_state())
            .finish_non_exhaustive()
    }
}

/// What a core-pre error came from, so the message can name it.
#[derive(Debug, Clone, Copy)]
enum Operation<'a> {
    /// A JSON-RPC call, by method name.
    Call(&'a str),
    /// A lifecycle operation of the client (`connect`, `disconnect`, `reconnect`,
    /// `shutdown`).
    Lifecycle(&'static str),
}

/// Maps a core-pre error to this crate's, naming the method or lifecycle operation.
fn map_core(error: CoreError, operation: Operation<'_>) -> ClientWsError {
    match (error, operation) {
        (CoreError::ClientClosed, _) => ClientWsError::Closed,
        (CoreError::NotConnected { state }, _) => ClientWsError::NotConnected { state },
        (CoreError::ConnectionLost, Operation::Call(method)) => ClientWsError::ConnectionLost {
            method: method.to_string(),
        },
        (CoreError::Timeout { after, .. }, Operation::Call(method)) => ClientWsError::Timeout {
            method: method.to_string(),
            after,
        },
        (CoreError::Timeout { after, .. }, Operation::Lifecycle(operation)) => {
            ClientWsError::LifecycleTimeout { operation, after }
        }
        (CoreError::Rejected { reason }, _) => ClientWsError::Connect(reason.to_string()),
        (gave_up @ CoreError::GaveUp { .. }, _) => ClientWsError::NotConnected {
            state: gave_up.to_string(),
        },
        (other, _) => ClientWsError::Core(other),
    }
}

/// The server's notifications, as received from the moment of subscribing.
///
/// A receiver that falls more than the builder's notification capacity behind skips the
/// oldest ones (and logs how many). [`recv`](Self::recv) has no timeout of its own: it
/// ends (with `None`) when the client is gone; wrap it in a timeout to bound the wait.
#[derive(Debug)]
pub struct Notifications {
    rx: broadcast::Receiver<Notification>,
}

impl Notifications {
    /// The next notification, or `None` once the client is gone.
    pub async fn recv(&mut self) -> Option<Notification> {
        loop {
            match self.rx.recv().await {
                Ok(notification) => return Some(notification),
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::warn!(
                        skipped,
                        "notification receiver fell behind; skipped the oldest"
                    );
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// A notification if one is waiting.
    pub fn try_recv(&mut self) -> Option<Notification> {
        loop {
            match self.rx.try_recv() {
                Ok(notification) => return Some(notification),
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    }

    /// The notifications as a `Stream`.
    pub fn into_stream(self) -> impl Stream<Item = Notification> {
        futures::stream::unfold(self, |mut this| async move {
            let next = this.recv().await?;
            Some((next, this))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lifecycle_timeout_names_the_operation() {
        let core = CoreError::Timeout {
            after: Duration::from_secs(30),
            waiting_for: "the client runner",
        };
        let error = map_core(core, Operation::Lifecycle("disconnect"));
        assert!(
            matches!(&error, ClientWsError::LifecycleTimeout { operation: "disconnect", after }
                if *after == Duration::from_secs(30)),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(text.contains("`disconnect()`"), "{text}");
        assert!(text.contains("within 30 s"), "{text}");
        assert!(!text.contains("``"), "{text}");
    }

    #[test]
    fn a_call_timeout_still_names_the_method() {
        let core = CoreError::Timeout {
            after: Duration::from_secs(2),
            waiting_for: "the reply",
        };
        let text = map_core(core, Operation::Call("play")).to_string();
        assert!(text.contains("no answer to `play`"), "{text}");
    }
}
