//! [`ClientRunner`]: the background task that owns the connection.
//!
//! It connects through the [`Connector`], reads inline (routing every inbound message),
//! writes from a separate task (so a slow socket never stops reading), detects dead peers
//! by read timeout, reconnects per the [`ReconnectPolicy`](crate::ReconnectPolicy), and runs
//! connect/reconnect callbacks, in order, before modules see the new connection's traffic.
//!
//! Lightweight handlers and middleware see every frame from the first one, even while
//! callbacks run: a protocol ping that arrives during a resubscription is answered at once.
//! Frames for modules are held (bounded) until the callbacks finish.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::sync::{Mutex, mpsc, oneshot};
use tracing::Instrument;

use crate::builder::{ClientConfig, MaybeSendStarter};
use crate::connector::{ConnectContext, Connection, Connector, MessageSink, MessageStream};
use crate::error::{
    ConnectError, ConnectErrorKind, HumanDuration, TransportError, TransportErrorKind,
};
use crate::link::{Link, Outbound};
use crate::message::{CloseFrame, Message};
use crate::middleware::MiddlewareStack;
use crate::reconnect::{CallbackContext, ReconnectCallback};
use crate::router::Router;
use crate::runtime::{self, BoxFuture, Instant, TaskHandle};
use crate::state::{AppState, ConnectionEnd, ConnectionState, DisconnectReason};

/// How many ready frames the reader takes at once before checking its other duties.
const READ_BATCH: usize = 64;
/// How many queued messages the writer takes at once.
const WRITE_BATCH: usize = 64;
/// A timer period that never fires in practice.
const IDLE_TICK: Duration = Duration::from_secs(3600);

/// Commands from `Client` to the runner; each carries an acknowledgement.
pub(crate) enum Control {
    Connect(oneshot::Sender<()>),
    Disconnect(oneshot::Sender<()>),
    Reconnect(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

type Ack = Option<oneshot::Sender<()>>;

fn ack(ack: Ack) {
    if let Some(ack) = ack {
        // The caller may have timed out; nothing to do then.
        let _ = ack.send(());
    }
}

/// What a control command means for a connection attempt in progress.
enum Interrupt {
    Shutdown(Ack),
    Disconnect(Ack),
    /// Connect or reconnect: already doing that; acknowledged.
    Proceed,
}

fn interrupt(cmd: Option<Control>) -> Interrupt {
    match cmd {
        None => Interrupt::Shutdown(None),
        Some(Control::Shutdown(a)) => Interrupt::Shutdown(Some(a)),
        Some(Control::Disconnect(a)) => Interrupt::Disconnect(Some(a)),
        Some(Control::Connect(a) | Control::Reconnect(a)) => {
            ack(Some(a));
            Interrupt::Proceed
        }
    }
}

/// How one connection ended.
struct Served {
    end: ConnectionEnd,
    ack: Ack,
    uptime: Duration,
}

/// Drives a client: connects, reads, writes, reconnects. Spawn [`run`](ClientRunner::run)
/// (or call [`spawn`](ClientRunner::spawn)); it returns after shutdown.
pub struct ClientRunner<S: AppState> {
    connector: Box<dyn Connector<S>>,
    state: Arc<S>,
    link: Arc<Link>,
    config: ClientConfig,
    control: futures::channel::mpsc::Receiver<Control>,
    outbound: Outbound,
    outbound_rx: Arc<Mutex<mpsc::Receiver<Message>>>,
    router: Router<S>,
    middleware: Arc<MiddlewareStack<S>>,
    connect_callbacks: Vec<Arc<dyn ReconnectCallback<S>>>,
    reconnect_callbacks: Vec<Arc<dyn ReconnectCallback<S>>>,
    starters: Vec<MaybeSendStarter>,
    reconnects: u64,
}

impl<S: AppState> std::fmt::Debug for ClientRunner<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRunner").finish_non_exhaustive()
    }
}

impl<S: AppState> ClientRunner<S> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        connector: Box<dyn Connector<S>>,
        state: Arc<S>,
        link: Arc<Link>,
        config: ClientConfig,
        control: futures::channel::mpsc::Receiver<Control>,
        outbound: Outbound,
        outbound_rx: mpsc::Receiver<Message>,
        router: Router<S>,
        middleware: MiddlewareStack<S>,
        connect_callbacks: Vec<Arc<dyn ReconnectCallback<S>>>,
        reconnect_callbacks: Vec<Arc<dyn ReconnectCallback<S>>>,
        starters: Vec<MaybeSendStarter>,
    ) -> Self {
        ClientRunner {
            connector,
            state,
            link,
            config,
            control,
            outbound,
            outbound_rx: Arc::new(Mutex::new(outbound_rx)),
            router,
            middleware: Arc::new(middleware),
            connect_callbacks,
            reconnect_callbacks,
            starters,
            reconnects: 0,
        }
    }

    /// Spawns [`run`](ClientRunner::run) on the current runtime.
    pub fn spawn(self) -> TaskHandle<()> {
        runtime::spawn(self.run())
    }

    /// Runs the client until it is shut down (by `Client::shutdown` or by dropping every
    /// `Client`).
    pub async fn run(self) {
        let span = tracing::info_span!("client_runner");
        self.run_inner().instrument(span).await
    }

    async fn run_inner(mut self) {
        let tasks: Vec<TaskHandle<()>> = self.starters.drain(..).map(|start| start()).collect();
        let mut idle: Option<(DisconnectReason, Ack)> =
            (!self.config.connect_on_start).then_some((DisconnectReason::Requested, None));
        let mut failures: u32 = 0;
        let mut last_error: Arc<str> = Arc::from("none");
        let mut connected_before = false;

        let shutdown_ack: Ack = 'life: loop {
            // Disconnected: wait to be asked to connect.
            if let Some((reason, pending_ack)) = idle.take() {
                self.link.set_state(ConnectionState::Disconnected(reason));
                ack(pending_ack);
                match self.control.next().await {
                    None => break 'life None,
                    Some(Control::Shutdown(a)) => break 'life Some(a),
                    Some(Control::Disconnect(a)) => {
                        idle = Some((DisconnectReason::Requested, Some(a)));
                        continue;
                    }
                    Some(Control::Connect(a) | Control::Reconnect(a)) => {
                        failures = 0;
                        self.link.reset_attempts();
                        self.link.set_state(ConnectionState::Connecting);
                        ack(Some(a));
                    }
                }
            }

            // Back off before a retry.
            if failures > 0 {
                if self
                    .config
                    .reconnect
                    .max_attempts()
                    .is_some_and(|max| failures >= max)
                {
                    tracing::error!(attempts = failures, error = %last_error, "giving up reconnecting");
                    idle = Some((
                        DisconnectReason::GaveUp {
                            attempts: failures,
                            last_error: last_error.clone(),
                        },
                        None,
                    ));
                    continue;
                }
                let delay = self.config.reconnect.delay_for(failures);
                tracing::info!(attempt = failures, ?delay, "reconnecting after delay");
                self.link.set_state(ConnectionState::Reconnecting {
                    attempt: failures,
                    delay,
                    last_error: last_error.clone(),
                });
                tokio::select! {
                    // Boxed, like the other cold paths below: the runner's future stays as
                    // small as serving a connection needs (it lives as long as the client).
                    _ = runtime::boxed(runtime::sleep(delay)) => {}
                    cmd = self.control.next() => match interrupt(cmd) {
                        Interrupt::Shutdown(a) => break 'life a,
                        Interrupt::Disconnect(a) => {
                            idle = Some((DisconnectReason::Requested, a));
                            continue 'life;
                        }
                        // Asked to connect: skip the rest of the delay.
                        Interrupt::Proceed => {}
                    },
                }
            } else {
                self.link.set_state(ConnectionState::Connecting);
            }

            // Connect.
            tracing::debug!(attempt = failures, "connecting");
            self.link.attempt_started();
            let ctx = ConnectContext::new(self.state.clone(), failures);
            let connect_timeout = self.config.connect_timeout;
            let result = {
                let mut attempt = runtime::boxed(runtime::timeout(
                    connect_timeout,
                    self.connector.connect(ctx.clone()),
                ));
                loop {
                    tokio::select! {
                        result = &mut attempt => break result,
                        cmd = self.control.next() => match interrupt(cmd) {
                            Interrupt::Shutdown(a) => break 'life a,
                            Interrupt::Disconnect(a) => {
                                idle = Some((DisconnectReason::Requested, a));
                                continue 'life;
                            }
                            Interrupt::Proceed => {}
                        },
                    }
                }
            };
            let connection = match result {
                Ok(Ok(connection)) => {
                    self.link.reset_attempts();
                    connection
                }
                Ok(Err(error)) => {
                    self.middleware.on_connect_failed(&error);
                    self.link.attempt_failed(ctx.endpoint(), error.clone());
                    if !error.is_retryable() {
                        tracing::error!(error = %error, "connection rejected; not retrying");
                        idle = Some((DisconnectReason::Rejected(error.message().clone()), None));
                        continue;
                    }
                    tracing::warn!(error = %error, "connection attempt failed");
                    last_error = error.message().clone();
                    failures = failures.saturating_add(1);
                    continue;
                }
                Err(_) => {
                    let endpoint = ctx.endpoint();
                    let error = ConnectError::retryable(match &endpoint {
                        Some(endpoint) => format!(
                            "the attempt to connect to {endpoint} did not finish within {}",
                            HumanDuration(connect_timeout)
                        ),
                        None => format!(
                            "the connection attempt did not finish within {}",
                            HumanDuration(connect_timeout)
                        ),
                    })
                    .with_kind(ConnectErrorKind::TimedOut);
                    self.middleware.on_connect_failed(&error);
                    self.link.attempt_failed(endpoint, error.clone());
                    tracing::warn!(error = %error, "connection attempt failed");
                    last_error = error.message().clone();
                    failures = failures.saturating_add(1);
                    continue;
                }
            };

            // Serve the connection until it ends.
            let read_timeout = ctx
                .read_timeout_override()
                .unwrap_or(self.config.read_timeout);
            let served = self.serve(connection, connected_before, read_timeout).await;
            connected_before = true;
            match served.end {
                ConnectionEnd::Shutdown => break 'life served.ack,
                ConnectionEnd::Requested => idle = Some((DisconnectReason::Requested, served.ack)),
                ConnectionEnd::Reconnect => {
                    failures = 0;
                    self.link.set_state(ConnectionState::Connecting);
                    ack(served.ack);
                }
                lost => {
                    failures = if served.uptime >= self.config.reconnect.stable_after() {
                        1
                    } else {
                        failures.saturating_add(1)
                    };
                    last_error = Arc::from(format!("the connection was lost ({lost})"));
                }
            }
        };

        runtime::boxed(self.shut_down(tasks, shutdown_ack)).await;
    }

    /// Stops modules, joins every task, and marks the client closed.
    async fn shut_down(self, tasks: Vec<TaskHandle<()>>, shutdown_ack: Ack) {
        tracing::info!("shutting down");
        self.link.mark_closed();
        self.link.end_epoch();
        // Dropping the router closes every module inbox.
        drop(self.router);
        let deadline = self.config.shutdown_timeout;
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
        self.link.set_state(ConnectionState::Closed);
        ack(shutdown_ack);
    }

    fn tick_period(&self, read_timeout: Option<Duration>) -> Duration {
        let read = read_timeout.map(|t| t / 4);
        let keep_alive = self.config.keep_alive.as_ref().map(|k| k.interval);
        match (read, keep_alive) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => IDLE_TICK,
        }
        .max(Duration::from_millis(1))
    }

    /// Drives one connection until it ends; then tears it down.
    async fn serve(
        &mut self,
        connection: Connection,
        is_reconnect: bool,
        read_timeout: Option<Duration>,
    ) -> Served {
        let Connection { mut stream, sink } = connection;
        let started = Instant::now();
        self.link.set_up(true);
        let mut writer = runtime::spawn(write_loop(
            sink,
            self.outbound_rx.clone(),
            self.middleware.clone(),
            self.link.clone(),
        ));
        let mut writer_done = false;
        self.middleware.on_connect();
        if is_reconnect {
            self.reconnects += 1;
        }
        tracing::info!(reconnects = self.reconnects, "connected");

        let mut callbacks: Vec<Arc<dyn ReconnectCallback<S>>> = self.connect_callbacks.clone();
        if is_reconnect {
            callbacks.extend(self.reconnect_callbacks.iter().cloned());
        }
        let mut gate: Option<BoxFuture<'static, ()>> = if callbacks.is_empty() {
            self.link.set_state(ConnectionState::Connected);
            None
        } else {
            let ctx = CallbackContext {
                state: self.state.clone(),
                outbound: self.outbound.clone(),
                reconnects: self.reconnects,
            };
            Some(runtime::boxed(run_callbacks(
                callbacks,
                ctx,
                self.config.callback_timeout,
            )))
        };
        let mut held: VecDeque<Message> = VecDeque::new();
        // Grows on the first burst; an idle connection keeps it empty.
        let mut batch: Vec<Option<Result<Message, TransportError>>> = Vec::new();

        let tick_period = self.tick_period(read_timeout);
        let mut tick = pin!(runtime::sleep(tick_period));
        let mut last_frame = Instant::now();
        let mut next_keep_alive = self
            .config
            .keep_alive
            .as_ref()
            .map(|k| Instant::now() + k.interval);

        let (end, pending_ack): (ConnectionEnd, Ack) = 'conn: loop {
            tokio::select! {
                biased;
                cmd = self.control.next() => match cmd {
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
                    match result {
                        // The writer sent a close frame on the user's request: keep reading
                        // until the peer answers and the stream ends.
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => break 'conn (ConnectionEnd::TransportError(e.message), None),
                        Err(e) => break 'conn (ConnectionEnd::TransportError(Arc::from(format!("writer {e}"))), None),
                    }
                },
                () = read_batch(&mut stream, &mut batch) => {
                    last_frame = Instant::now();
                    for frame in batch.drain(..) {
                        if let Some(end) = self.on_frame(frame, &mut held, &mut gate).await {
                            break 'conn (end, None);
                        }
                    }
                },
                () = &mut tick => {
                    let now = Instant::now();
                    if let Some(limit) = read_timeout {
                        if now.duration_since(last_frame) >= limit {
                            break 'conn (ConnectionEnd::ReadTimeout, None);
                        }
                    }
                    if let (Some(due), Some(keep_alive)) = (next_keep_alive, &self.config.keep_alive) {
                        if now >= due {
                            if !self.outbound.push(keep_alive.message.clone()) {
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
        self.link.set_up(false);
        let discarded = runtime::boxed(self.close_link(stream, writer, writer_done, &end)).await;
        if discarded > 0 {
            self.link
                .discarded_outbound
                .fetch_add(discarded, Ordering::Relaxed);
            tracing::warn!(
                discarded,
                "discarded messages queued for the lost connection"
            );
        }
        self.link.end_epoch();
        self.router.reset();
        self.state.clear_connection_data();
        self.middleware.on_disconnect(&end);
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

    /// Lets a graceful close or the peer's close finish (bounded by the close timeout),
    /// stops the writer, and empties the outbound queue; returns how many queued messages
    /// were discarded.
    async fn close_link(
        &mut self,
        mut stream: MessageStream,
        mut writer: TaskHandle<Result<(), TransportError>>,
        mut writer_done: bool,
        end: &ConnectionEnd,
    ) -> u64 {
        if !end.is_unexpected() && !writer_done {
            // A graceful close: let the writer flush what is queued, then a close frame.
            self.outbound
                .push(Message::Close(Some(CloseFrame::normal("client closing"))));
            writer_done = runtime::timeout(self.config.close_timeout, &mut writer)
                .await
                .is_ok();
        }
        if matches!(end, ConnectionEnd::PeerClosed(_)) {
            // The transport queued its reply to the peer's close frame; it goes out as the
            // stream is read to its end. Finish the closing handshake, briefly.
            let _ = runtime::timeout(self.config.close_timeout, async {
                while let Some(Ok(_)) = stream.next().await {}
            })
            .await;
        }
        if !writer_done {
            writer.abort();
            let _ = writer.await;
        }
        drop(stream);
        let mut rx = self.outbound_rx.lock().await;
        let mut discarded = 0u64;
        while rx.try_recv().is_ok() {
            discarded += 1;
        }
        discarded
    }

    /// Callbacks are done: release held frames to modules, and announce readiness.
    async fn open_gate(&mut self, held: &mut VecDeque<Message>) {
        while let Some(msg) = held.pop_front() {
            if let Some(wait) = self.router.route(msg) {
                wait.await;
            }
        }
        self.link.set_state(ConnectionState::Connected);
    }

    /// Handles one inbound frame; returns why the connection ended, if it did.
    async fn on_frame(
        &mut self,
        frame: Option<Result<Message, TransportError>>,
        held: &mut VecDeque<Message>,
        gate: &mut Option<BoxFuture<'static, ()>>,
    ) -> Option<ConnectionEnd> {
        let msg = match frame {
            None => return Some(ConnectionEnd::StreamEnded),
            Some(Err(e)) => return Some(ConnectionEnd::TransportError(e.message)),
            Some(Ok(msg)) => msg,
        };
        if !self.middleware.is_empty() {
            self.middleware.on_receive(&msg);
        }
        self.router.run_handlers(&msg);
        let end = match &msg {
            Message::Close(frame) => {
                Some(ConnectionEnd::PeerClosed(frame.as_ref().map(|f| f.code)))
            }
            _ => None,
        };
        match gate {
            None => {
                if let Some(wait) = self.router.route(msg) {
                    wait.await;
                }
            }
            Some(pending) => {
                held.push_back(msg);
                if held.len() >= self.config.inbox_capacity {
                    // Too much held: wait for the callbacks (they have a timeout) rather
                    // than hold without bound.
                    pending.await;
                    *gate = None;
                    self.open_gate(held).await;
                }
            }
        }
        end
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
    callbacks: Vec<Arc<dyn ReconnectCallback<S>>>,
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

/// Writes queued messages to the sink, in batches, until the sink fails or a close frame
/// has been written. Messages of a batch that could not be written are counted as
/// discarded.
async fn write_loop<S: AppState>(
    mut sink: MessageSink,
    queue: Arc<Mutex<mpsc::Receiver<Message>>>,
    middleware: Arc<MiddlewareStack<S>>,
    link: Arc<Link>,
) -> Result<(), TransportError> {
    let mut queue = queue.lock_owned().await;
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
            for msg in &batch {
                if !middleware.is_empty() {
                    middleware.on_send(msg);
                }
                match sink.feed(msg.clone()).await {
                    Ok(()) => {}
                    // Refused before anything was written: drop this message only, the
                    // connection is fine.
                    Err(e) if e.kind == TransportErrorKind::TooLarge => {
                        link.discarded_outbound.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "dropped an outbound message over the size limit");
                        written += 1;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
                written += 1;
                if matches!(msg, Message::Close(_)) {
                    sink.flush().await?;
                    return Ok(true);
                }
            }
            sink.flush().await.map(|()| false)
        }
        .await;
        match result {
            Ok(false) => batch.clear(),
            Ok(true) => return Ok(()),
            Err(error) => {
                let lost = (batch.len() - written) as u64;
                link.discarded_outbound.fetch_add(lost, Ordering::Relaxed);
                return Err(error);
            }
        }
    }
}
