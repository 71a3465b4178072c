//! [`ClientRunner`]: the background task that owns the connection.
//!
//! Its life is a loop over three steps ([`Next`]): wait to be asked to connect, make a
//! connection attempt (after a backoff delay when retrying), and serve a connection until
//! it ends. Serving reads inline (routing every inbound message), writes from a separate
//! task (so a slow socket never stops reading), detects dead peers by read timeout, sends
//! keep-alives, and runs connect/reconnect callbacks, in order, before modules see the new
//! connection's traffic.
//!
//! Inline handlers and middleware see every frame from the first one, even while
//! callbacks run: a protocol ping that arrives during a resubscription is answered at once.
//! Frames for modules are held (bounded) until the callbacks finish.
//!
//! The outbound queue's receiver belongs to the runner; during a connection it is lent to
//! the writer task, which hands it back when it ends (it catches its own panics, so the
//! receiver always comes back).

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use futures::{FutureExt, SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::config::ClientConfig;
use crate::connector::{ConnectContext, Connection, Connector, MessageSink, MessageStream};
use crate::control::{Ack, Control, Interrupt, ack};
use crate::error::{ConnectError, ConnectErrorKind, TransportError, TransportErrorKind};
use crate::human::HumanDuration;
use crate::link::{Link, Outbound};
use crate::message::{CloseFrame, Message};
use crate::middleware::MiddlewareStack;
use crate::reconnect::{CallbackContext, ConnectCallback};
use crate::router::{Blocked, Router};
use crate::runtime::{self, BoxFnOnce, BoxFuture, Instant, MaybeSend, TaskHandle};
use crate::state::{AppState, ConnectionEnd, ConnectionState, DisconnectReason};

/// How many ready frames the reader takes at once before checking its other duties.
const READ_BATCH: usize = 64;
/// How many queued messages the writer takes at once.
const WRITE_BATCH: usize = 64;
/// A timer period that never fires in practice.
const IDLE_TICK: Duration = Duration::from_secs(3600);

/// What the builder hands a new runner.
pub(crate) struct RunnerParts<S: AppState> {
    pub(crate) connector: Box<dyn Connector<S>>,
    pub(crate) state: Arc<S>,
    pub(crate) link: Arc<Link>,
    pub(crate) config: ClientConfig,
    pub(crate) control: futures::channel::mpsc::Receiver<Control>,
    pub(crate) outbound: Outbound,
    pub(crate) router: Router<S>,
    pub(crate) middleware: Arc<MiddlewareStack<S>>,
    pub(crate) connect_callbacks: Vec<Arc<dyn ConnectCallback<S>>>,
    pub(crate) reconnect_callbacks: Vec<Arc<dyn ConnectCallback<S>>>,
    pub(crate) starters: Vec<BoxFnOnce<TaskHandle<()>>>,
}

/// The runner's next step.
enum Next {
    /// Disconnected for `reason`: wait to be asked to connect (then acknowledge).
    Idle(DisconnectReason, Ack),
    /// Make a connection attempt (after a backoff delay when retrying).
    Connect,
    /// Stop everything (then acknowledge).
    Shutdown(Ack),
}

/// Failed attempts since the last good connection.
struct Retry {
    failures: u32,
    last_error: Arc<str>,
}

impl Retry {
    fn new() -> Retry {
        Retry {
            failures: 0,
            last_error: Arc::from("none"),
        }
    }
}

/// How one connection ended.
struct Served {
    end: ConnectionEnd,
    ack: Ack,
    uptime: Duration,
}

/// The writer task: ends with the outbound receiver it was lent, and how writing ended.
type Writer = TaskHandle<(mpsc::Receiver<Message>, Result<(), TransportError>)>;

/// Drives a client: connects, reads, writes, reconnects. Spawn [`run`](ClientRunner::run)
/// (or call [`spawn`](ClientRunner::spawn)); it returns after shutdown. Most code never
/// sees it: [`ClientBuilder::spawn`](crate::ClientBuilder::spawn) spawns it, and
/// [`Client::shutdown`](crate::Client::shutdown) joins it.
pub struct ClientRunner<S: AppState> {
    parts: RunnerParts<S>,
    /// The outbound receiver while no writer holds it (`None` only during a connection).
    outbound_rx: Option<mpsc::Receiver<Message>>,
    reconnects: u64,
}

impl<S: AppState> std::fmt::Debug for ClientRunner<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRunner").finish_non_exhaustive()
    }
}

impl<S: AppState> ClientRunner<S> {
    pub(crate) fn new(parts: RunnerParts<S>, outbound_rx: mpsc::Receiver<Message>) -> Self {
        ClientRunner {
            parts,
            outbound_rx: Some(outbound_rx),
            reconnects: 0,
        }
    }

    /// Spawns [`run`](ClientRunner::run) on the current runtime.
    pub fn spawn(self) -> TaskHandle<()> {
        runtime::spawn(self.run())
    }

    /// Runs the client until it is shut down (by `Client::shutdown` or by dropping every
    /// `Client`).
    // Not an `async fn`: its future would hold `self` beside the `life` future that holds
    // it too, doubling the runner's size.
    pub fn run(self) -> impl Future<Output = ()> + MaybeSend {
        let span = tracing::info_span!("client_runner");
        self.life().instrument(span)
    }

    async fn life(mut self) {
        let tasks: Vec<TaskHandle<()>> =
            self.parts.starters.drain(..).map(|start| start()).collect();
        let mut retry = Retry::new();
        let mut connected_before = false;
        let mut next = if self.parts.config.connect_on_start {
            Next::Connect
        } else {
            Next::Idle(DisconnectReason::Requested, None)
        };
        let shutdown_ack = loop {
            next = match next {
                Next::Shutdown(ack) => break ack,
                Next::Idle(reason, ack) => self.idle(reason, ack, &mut retry).await,
                Next::Connect => match self.attempt(&mut retry).await {
                    Err(next) => next,
                    Ok(connection) => {
                        let served = self.serve(connection, connected_before).await;
                        connected_before = true;
                        self.after(served, &mut retry)
                    }
                },
            };
        };
        runtime::boxed(self.shut_down(tasks, shutdown_ack)).await;
    }

    /// Disconnected: waits to be asked to connect.
    async fn idle(&mut self, reason: DisconnectReason, pending: Ack, retry: &mut Retry) -> Next {
        self.parts
            .link
            .set_state(ConnectionState::Disconnected(reason));
        ack(pending);
        match self.parts.control.next().await {
            None => Next::Shutdown(None),
            Some(Control::Shutdown(a)) => Next::Shutdown(Some(a)),
            Some(Control::Disconnect(a)) => Next::Idle(DisconnectReason::Requested, Some(a)),
            Some(Control::Connect(a) | Control::Reconnect(a)) => {
                *retry = Retry::new();
                self.parts.link.reset_attempts();
                // Connecting before the acknowledgement: a caller that waits for the
                // connection after it must never read the idle state it asked to leave.
                self.parts.link.set_state(ConnectionState::Connecting);
                ack(Some(a));
                Next::Connect
            }
        }
    }

    /// One connection attempt, after the backoff delay when retrying. `Err` says what to
    /// do instead of serving a connection.
    async fn attempt(&mut self, retry: &mut Retry) -> Result<Connection, Next> {
        if retry.failures > 0 {
            // The state stays `Reconnecting` (with the delay waited) during the attempt.
            runtime::boxed(self.back_off(retry)).await?;
        } else {
            self.parts.link.set_state(ConnectionState::Connecting);
        }
        tracing::debug!(attempt = retry.failures, "connecting");
        self.parts.link.attempt_started();
        let ctx = ConnectContext::new(self.parts.state.clone(), retry.failures);
        let limit = self.parts.config.connect_timeout;
        // Boxed, like the other cold paths: the runner's future stays as small as serving
        // a connection needs (it lives as long as the client).
        let mut attempt = runtime::boxed(runtime::timeout(
            limit,
            self.parts.connector.connect(ctx.clone()),
        ));
        let result = loop {
            match wait_or_interrupt(&mut self.parts.control, attempt.as_mut()).await {
                Waited::Done(result) => break result,
                // Already connecting.
                Waited::Proceed => {}
                Waited::Then(next) => return Err(next),
            }
        };
        drop(attempt);
        match result {
            Ok(Ok(connection)) => {
                self.parts.link.reset_attempts();
                Ok(connection)
            }
            Ok(Err(error)) if !error.is_retryable() => {
                self.parts.middleware.on_connect_failed(&error);
                self.parts
                    .link
                    .attempt_failed(ctx.endpoint(), error.clone());
                tracing::error!(error = %error, "connection rejected; not retrying");
                Err(Next::Idle(
                    DisconnectReason::Rejected(error.message().clone()),
                    None,
                ))
            }
            Ok(Err(error)) => Err(self.record_failure(retry, &ctx, error)),
            Err(_) => {
                let at = match ctx.endpoint() {
                    Some(endpoint) => format!("the attempt to connect to {endpoint}"),
                    None => "the connection attempt".to_owned(),
                };
                let error = ConnectError::retryable(format!(
                    "{at} did not finish within {}",
                    HumanDuration(limit)
                ))
                .with_kind(ConnectErrorKind::TimedOut);
                Err(self.record_failure(retry, &ctx, error))
            }
        }
    }

    /// Waits out the backoff delay before retry number `retry.failures`, or gives up.
    async fn back_off(&mut self, retry: &Retry) -> Result<(), Next> {
        let reconnect = &self.parts.config.reconnect;
        if reconnect
            .max_attempts()
            .is_some_and(|max| retry.failures >= max)
        {
            tracing::error!(attempts = retry.failures, error = %retry.last_error, "giving up reconnecting");
            return Err(Next::Idle(
                DisconnectReason::GaveUp {
                    attempts: retry.failures,
                    last_error: retry.last_error.clone(),
                },
                None,
            ));
        }
        let delay = reconnect.delay_for(retry.failures);
        tracing::info!(attempt = retry.failures, ?delay, "reconnecting after delay");
        self.parts.link.set_state(ConnectionState::Reconnecting {
            attempt: retry.failures,
            delay,
            last_error: retry.last_error.clone(),
        });
        let mut sleep = pin!(runtime::sleep(delay));
        match wait_or_interrupt(&mut self.parts.control, sleep.as_mut()).await {
            // Asked to connect: skip the rest of the delay.
            Waited::Done(()) | Waited::Proceed => Ok(()),
            Waited::Then(next) => Err(next),
        }
    }

    /// Books a failed attempt (middleware, the client's failure report, the log) and says
    /// to try again.
    fn record_failure(
        &self,
        retry: &mut Retry,
        ctx: &ConnectContext<S>,
        error: ConnectError,
    ) -> Next {
        self.parts.middleware.on_connect_failed(&error);
        self.parts
            .link
            .attempt_failed(ctx.endpoint(), error.clone());
        tracing::warn!(error = %error, "connection attempt failed");
        retry.last_error = error.message().clone();
        retry.failures = retry.failures.saturating_add(1);
        Next::Connect
    }

    /// What follows a connection that ended.
    fn after(&mut self, served: Served, retry: &mut Retry) -> Next {
        match served.end {
            ConnectionEnd::Shutdown => Next::Shutdown(served.ack),
            ConnectionEnd::Requested => Next::Idle(DisconnectReason::Requested, served.ack),
            ConnectionEnd::Reconnect => {
                *retry = Retry::new();
                // As in `idle`: the caller waits for the next connection, not this one.
                self.parts.link.set_state(ConnectionState::Connecting);
                ack(served.ack);
                Next::Connect
            }
            lost => {
                retry.failures = if served.uptime >= self.parts.config.reconnect.stable_after() {
                    1
                } else {
                    retry.failures.saturating_add(1)
                };
                retry.last_error = Arc::from(format!("the connection was lost ({lost})"));
                Next::Connect
            }
        }
    }

    /// Stops modules, joins every task, and marks the client closed.
    async fn shut_down(self, tasks: Vec<TaskHandle<()>>, shutdown_ack: Ack) {
        tracing::info!("shutting down");
        let ClientRunner { parts, .. } = self;
        parts.link.mark_closed();
        parts.link.end_epoch();
        // Dropping the router closes every module inbox.
        drop(parts.router);
        let deadline = parts.config.shutdown_timeout;
        let mut remaining = tasks;
        let joined = runtime::timeout(deadline, async {
            // Pop each task once it has finished, so none is polled after completion.
            while let Some(task) = remaining.last_mut() {
                let _ = task.await;
                remaining.pop();
            }
        })
        .await;
        if joined.is_err() {
            tracing::warn!(
                ?deadline,
                stuck = remaining.len(),
                "modules did not stop in time; aborting them"
            );
            for task in &remaining {
                task.abort();
            }
            futures::future::join_all(remaining).await;
        }
        parts.link.set_state(ConnectionState::Closed);
        ack(shutdown_ack);
    }

    fn tick_period(&self, read_timeout: Option<Duration>) -> Duration {
        let read = read_timeout.map(|t| t / 4);
        let keep_alive = self.parts.config.keep_alive.as_ref().map(|k| k.interval);
        match (read, keep_alive) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => IDLE_TICK,
        }
        .max(Duration::from_millis(1))
    }

    /// Lends the outbound receiver to a new writer task for `sink`.
    fn start_writer(&mut self, sink: MessageSink) -> Option<(Writer, oneshot::Sender<()>)> {
        let Some(rx) = self.outbound_rx.take() else {
            tracing::error!("the outbound queue was lost; the client cannot send any more");
            return None;
        };
        let (stop_tx, stop_rx) = oneshot::channel();
        let writer = runtime::spawn(write_loop(
            sink,
            rx,
            self.parts.middleware.clone(),
            self.parts.link.clone(),
            stop_rx,
        ));
        Some((writer, stop_tx))
    }

    /// The callbacks this connection runs before modules see its traffic, as one future
    /// (`None`: there are none, the connection is ready at once).
    fn callbacks_gate(&self, is_reconnect: bool) -> Option<BoxFuture<'static, ()>> {
        let mut callbacks: Vec<Arc<dyn ConnectCallback<S>>> = self.parts.connect_callbacks.clone();
        if is_reconnect {
            callbacks.extend(self.parts.reconnect_callbacks.iter().cloned());
        }
        if callbacks.is_empty() {
            return None;
        }
        let ctx = CallbackContext {
            state: self.parts.state.clone(),
            outbound: self.parts.outbound.clone(),
            reconnects: self.reconnects,
        };
        Some(runtime::boxed(run_callbacks(
            callbacks,
            ctx,
            self.parts.config.callback_timeout,
        )))
    }

    /// Drives one connection until it ends; then tears it down.
    async fn serve(&mut self, connection: Connection, is_reconnect: bool) -> Served {
        let Connection {
            mut stream,
            sink,
            read_timeout,
        } = connection;
        let read_timeout = read_timeout.resolve(self.parts.config.read_timeout);
        let started = Instant::now();
        let Some((mut writer, stop_writer)) = self.start_writer(sink) else {
            return Served {
                end: ConnectionEnd::Shutdown,
                ack: None,
                uptime: Duration::ZERO,
            };
        };
        self.parts.link.set_up(true);
        let mut writer_done = false;
        self.parts.middleware.on_connect();
        if is_reconnect {
            self.reconnects += 1;
        }
        tracing::info!(reconnects = self.reconnects, "connected");
        let mut gate = self.callbacks_gate(is_reconnect);
        if gate.is_none() {
            self.parts.link.set_state(ConnectionState::Connected);
        }
        let mut held: VecDeque<Message> = VecDeque::new();
        // Grows on the first burst; an idle connection keeps it empty.
        let mut batch: Vec<Option<Result<Message, TransportError>>> = Vec::new();

        let tick_period = self.tick_period(read_timeout);
        let mut tick = pin!(runtime::sleep(tick_period));
        let mut last_frame = Instant::now();
        let keep_alive = self.parts.config.keep_alive.clone();
        let mut next_keep_alive = keep_alive.as_ref().map(|k| Instant::now() + k.interval);

        let (end, pending_ack): (ConnectionEnd, Ack) = 'conn: loop {
            tokio::select! {
                biased;
                cmd = self.parts.control.next() => match cmd {
                    None => break 'conn (ConnectionEnd::Shutdown, None),
                    Some(Control::Shutdown(a)) => break 'conn (ConnectionEnd::Shutdown, Some(a)),
                    Some(Control::Disconnect(a)) => break 'conn (ConnectionEnd::Requested, Some(a)),
                    Some(Control::Reconnect(a)) => break 'conn (ConnectionEnd::Reconnect, Some(a)),
                    Some(Control::Connect(a)) => ack(Some(a)),
                },
                () = wait_gate(&mut gate) => {
                    gate = None;
                    self.open_gate(&mut held).await;
                },
                result = &mut writer, if !writer_done => {
                    writer_done = true;
                    match self.writer_ended(result) {
                        // The writer sent a close frame on the user's request: keep reading
                        // until the peer answers and the stream ends.
                        Ok(()) => {}
                        Err(e) => break 'conn (ConnectionEnd::TransportError(e.message), None),
                    }
                },
                () = read_batch(&mut stream, &mut batch) => {
                    last_frame = Instant::now();
                    for frame in batch.drain(..) {
                        let taken = self.on_frame(frame, &mut held, gate.is_some());
                        let end = match taken {
                            Taken::Done(end) => end,
                            Taken::Wait(stopped, end) => {
                                // A cold path, boxed so the runner's future stays small.
                                runtime::boxed(self.parts.router.finish(stopped)).await;
                                end
                            }
                            Taken::HeldFull(end) => {
                                // Too much held: wait for the callbacks (they have a
                                // timeout) rather than hold without bound.
                                wait_gate(&mut gate).await;
                                gate = None;
                                self.open_gate(&mut held).await;
                                end
                            }
                        };
                        if let Some(end) = end {
                            break 'conn (end, None);
                        }
                    }
                },
                () = &mut tick => {
                    let now = Instant::now();
                    if read_timeout.is_some_and(|limit| now.duration_since(last_frame) >= limit) {
                        break 'conn (ConnectionEnd::ReadTimeout, None);
                    }
                    if let (Some(due), Some(keep_alive)) = (next_keep_alive, &keep_alive) {
                        if now >= due {
                            if !self.parts.outbound.push(keep_alive.message.clone()) {
                                tracing::debug!("outbound queue full; keep-alive skipped");
                            }
                            next_keep_alive = Some(now + keep_alive.interval);
                        }
                    }
                    tick.set(runtime::sleep(tick_period));
                },
            }
        };

        // Tear down (a cold path, boxed so the runner's future stays small).
        self.parts.link.set_up(false);
        let writer = (!writer_done).then_some((writer, stop_writer));
        runtime::boxed(self.tear_down(stream, writer, &end)).await;
        let uptime = started.elapsed();
        if end.is_unexpected() {
            tracing::warn!(reason = %end, ?uptime, "connection lost");
        } else {
            tracing::info!(reason = %end, ?uptime, "connection closed");
        }
        Served {
            end,
            ack: pending_ack,
            uptime,
        }
    }

    /// Takes the outbound receiver back from a writer that ended; returns how it ended.
    fn writer_ended(
        &mut self,
        result: Result<(mpsc::Receiver<Message>, Result<(), TransportError>), runtime::JoinError>,
    ) -> Result<(), TransportError> {
        match result {
            Ok((rx, ended)) => {
                self.outbound_rx = Some(rx);
                ended
            }
            // Not expected: the writer catches its panics and is never aborted.
            Err(e) => Err(TransportError::new(
                TransportErrorKind::Other,
                format!("the writer task stopped: {e}"),
            )),
        }
    }

    /// Ends a connection: lets a graceful close or the peer's close finish (bounded by the
    /// close timeout), stops the writer and takes the outbound receiver back, discards
    /// what was queued for this connection (counted), and resets per-connection state.
    async fn tear_down(
        &mut self,
        mut stream: MessageStream,
        writer: Option<(Writer, oneshot::Sender<()>)>,
        end: &ConnectionEnd,
    ) {
        let close_timeout = self.parts.config.close_timeout;
        if let Some((mut writer, stop)) = writer {
            let mut result = None;
            if !end.is_unexpected() {
                // A graceful close: let the writer flush what is queued, then a close frame.
                self.parts
                    .outbound
                    .push(Message::Close(Some(CloseFrame::normal("client closing"))));
                result = runtime::timeout(close_timeout, &mut writer).await.ok();
            }
            let result = match result {
                Some(result) => result,
                None => {
                    // Too slow, or the link is gone: stop it where it is.
                    let _ = stop.send(());
                    writer.await
                }
            };
            let _ = self.writer_ended(result);
        }
        if matches!(end, ConnectionEnd::PeerClosed(_)) {
            // The transport queued its reply to the peer's close frame; it goes out as the
            // stream is read to its end. Finish the closing handshake, briefly.
            let _ = runtime::timeout(close_timeout, async {
                while let Some(Ok(_)) = stream.next().await {}
            })
            .await;
        }
        drop(stream);
        let mut discarded = 0u64;
        if let Some(rx) = self.outbound_rx.as_mut() {
            while rx.try_recv().is_ok() {
                discarded += 1;
            }
        }
        if discarded > 0 {
            self.parts
                .link
                .discarded_outbound
                .fetch_add(discarded, Ordering::Relaxed);
            tracing::warn!(
                discarded,
                "discarded messages queued for the lost connection"
            );
        }
        self.parts.link.end_epoch();
        self.parts.router.reset();
        self.parts.state.clear_connection_data();
        self.parts.middleware.on_disconnect(end);
    }

    /// Callbacks are done: release held frames to modules, and announce readiness.
    async fn open_gate(&mut self, held: &mut VecDeque<Message>) {
        while let Some(msg) = held.pop_front() {
            if let Err(stopped) = self.parts.router.route(msg) {
                runtime::boxed(self.parts.router.finish(stopped)).await;
            }
        }
        self.parts.link.set_state(ConnectionState::Connected);
    }

    /// Handles one inbound frame without waiting (the hot path builds no future): runs
    /// the handlers, then routes the message, or holds it while the callbacks gate is
    /// closed (`gated`). Says what is left to do and why the connection ended, if it did.
    #[inline]
    fn on_frame(
        &mut self,
        frame: Option<Result<Message, TransportError>>,
        held: &mut VecDeque<Message>,
        gated: bool,
    ) -> Taken {
        let msg = match frame {
            None => return Taken::Done(Some(ConnectionEnd::StreamEnded)),
            Some(Err(e)) => return Taken::Done(Some(ConnectionEnd::TransportError(e.message))),
            Some(Ok(msg)) => msg,
        };
        // A close ends the connection whatever a middleware makes of it.
        let end = match &msg {
            Message::Close(frame) => {
                Some(ConnectionEnd::PeerClosed(frame.as_ref().map(|f| f.code)))
            }
            _ => None,
        };
        let msg = if self.parts.middleware.is_empty() {
            msg
        } else {
            match self.parts.middleware.on_receive(msg) {
                Some(msg) => msg,
                None => return Taken::Done(end),
            }
        };
        self.parts.router.run_handlers(&msg);
        if gated {
            held.push_back(msg);
            return if held.len() >= self.parts.config.inbox_capacity() {
                Taken::HeldFull(end)
            } else {
                Taken::Done(end)
            };
        }
        match self.parts.router.route(msg) {
            Ok(()) => Taken::Done(end),
            Err(stopped) => Taken::Wait(stopped, end),
        }
    }
}

/// What is left to do for one inbound frame after [`ClientRunner::on_frame`], and why the
/// connection ended if the frame ended it.
enum Taken {
    /// Nothing: routed (every inbox took it at once), held or dropped.
    Done(Option<ConnectionEnd>),
    /// Finish delivering where the router stopped at a full inbox (its slow path).
    Wait(Blocked, Option<ConnectionEnd>),
    /// Held while the callbacks run, and the held queue is full.
    HeldFull(Option<ConnectionEnd>),
}

/// How a wait that a control command can interrupt ended.
enum Waited<T> {
    /// The future finished.
    Done(T),
    /// Asked to connect or reconnect (acknowledged): the caller decides.
    Proceed,
    /// Asked to stop or disconnect: do that next.
    Then(Next),
}

/// Polls `fut` until it finishes or a control command arrives.
async fn wait_or_interrupt<F: Future + ?Sized>(
    control: &mut futures::channel::mpsc::Receiver<Control>,
    mut fut: Pin<&mut F>,
) -> Waited<F::Output> {
    tokio::select! {
        out = &mut fut => Waited::Done(out),
        cmd = control.next() => match Interrupt::from(cmd) {
            Interrupt::Shutdown(a) => Waited::Then(Next::Shutdown(a)),
            Interrupt::Disconnect(a) => Waited::Then(Next::Idle(DisconnectReason::Requested, a)),
            Interrupt::Proceed => Waited::Proceed,
        },
    }
}

/// Waits until the stream has frames ready and takes every ready one (at most
/// [`READ_BATCH`]) into `batch`, polling with the task's own waker. The end of the stream or
/// an error is taken as a last item. Cancel-safe: it only takes frames when it completes.
fn read_batch<'a>(
    stream: &'a mut MessageStream,
    batch: &'a mut Vec<Option<Result<Message, TransportError>>>,
) -> impl Future<Output = ()> + 'a {
    std::future::poll_fn(move |cx| {
        while batch.len() < READ_BATCH {
            match stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(msg))) => batch.push(Some(Ok(msg))),
                Poll::Ready(last) => {
                    batch.push(last);
                    break;
                }
                Poll::Pending => break,
            }
        }
        if batch.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
}

async fn wait_gate(gate: &mut Option<BoxFuture<'static, ()>>) {
    match gate {
        Some(pending) => pending.await,
        None => std::future::pending().await,
    }
}

async fn run_callbacks<S: AppState>(
    callbacks: Vec<Arc<dyn ConnectCallback<S>>>,
    ctx: CallbackContext<S>,
    limit: Duration,
) {
    for (index, callback) in callbacks.iter().enumerate() {
        match runtime::timeout(limit, callback.call(ctx.clone())).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(callback = index, error = %error, "connect callback failed")
            }
            Err(_) => tracing::error!(callback = index, ?limit, "connect callback timed out"),
        }
    }
}

/// The writer task: writes queued messages until the sink fails, a close frame has been
/// written, every sender is gone, or it is told to stop; then hands the receiver back.
/// A panic while writing (a middleware's, say) ends the connection, not the client.
async fn write_loop<S: AppState>(
    mut sink: MessageSink,
    mut queue: mpsc::Receiver<Message>,
    middleware: Arc<MiddlewareStack<S>>,
    link: Arc<Link>,
    stop: oneshot::Receiver<()>,
) -> (mpsc::Receiver<Message>, Result<(), TransportError>) {
    let writing = AssertUnwindSafe(write_all(&mut sink, &mut queue, &middleware, &link));
    let result = tokio::select! {
        biased;
        // Told to stop (the close took too long): the batch in flight is dropped.
        _ = stop => Ok(()),
        result = writing.catch_unwind() => result.unwrap_or_else(|_| {
            Err(TransportError::new(TransportErrorKind::Other, "the writer panicked"))
        }),
    };
    (queue, result)
}

async fn write_all<S: AppState>(
    sink: &mut MessageSink,
    queue: &mut mpsc::Receiver<Message>,
    middleware: &MiddlewareStack<S>,
    link: &Link,
) -> Result<(), TransportError> {
    // Grows on the first burst; an idle connection keeps it empty.
    let mut batch = Vec::new();
    loop {
        if queue.recv_many(&mut batch, WRITE_BATCH).await == 0 {
            // Every sender is gone: the client is being dropped.
            let _ = sink.close().await;
            return Ok(());
        }
        let mut written = 0;
        let result = async {
            for msg in batch.drain(..) {
                written += 1;
                let msg = if middleware.is_empty() {
                    msg
                } else {
                    match middleware.on_send(msg) {
                        Some(msg) => msg,
                        None => continue,
                    }
                };
                let is_close = matches!(msg, Message::Close(_));
                match sink.feed(msg).await {
                    Ok(()) => {}
                    // Refused before anything was written: drop this message only, the
                    // connection is fine.
                    Err(e) if e.kind == TransportErrorKind::TooLarge => {
                        link.discarded_outbound.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "dropped an outbound message over the size limit");
                        continue;
                    }
                    Err(e) => {
                        written -= 1;
                        return Err(e);
                    }
                }
                if is_close {
                    sink.flush().await?;
                    return Ok(true);
                }
            }
            sink.flush().await.map(|()| false)
        }
        .await;
        match result {
            Ok(false) => {}
            Ok(true) => return Ok(()),
            Err(error) => {
                // What was taken but not written: the failed message and the rest.
                let lost = (batch.len() + 1) as u64;
                let _ = written;
                link.discarded_outbound.fetch_add(lost, Ordering::Relaxed);
                return Err(error);
            }
        }
    }
}
