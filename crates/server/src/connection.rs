//! One connection's task, from accepted TCP socket to closed session: the handshake (with
//! its timeout), registration, the session loop, and the clean-up that always runs.
//!
//! The session loop is one task per session that alone owns the socket: it writes what
//! the session's queue holds (in batches, each write bounded by the send deadline), reads
//! frames and hands data messages to the application, pings a quiet peer and closes a
//! silent one, and carries out close requests. Closing codes: 1001 shutdown and idle,
//! 1008 no first message, 1009 too large, 1002/1007 protocol errors, 1013 too slow,
//! [`REPLACED_CLOSE_CODE`](crate::REPLACED_CLOSE_CODE) replaced.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use core_pre::{Message, Text};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::{sleep_until, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as WsCloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::events::{Disconnected, ServerEvent};
use crate::handshake::{self, Admitted, Socket};
use crate::id::SessionId;
use crate::metrics::{Counters, RejectReason};
use crate::registry::Refused;
use crate::session::{DisconnectReason, REPLACED_CLOSE_CODE, Session, SessionInfo};
use crate::shared::{InboundSender, Shared};

/// Messages written per batch (one flush each).
const BATCH: usize = 64;
/// How long a best-effort close frame to a peer that is not reading may take.
const HOPELESS_CLOSE: Duration = Duration::from_millis(50);

/// What a connection task reports to the listener.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TaskOutcome {
    /// It became a session.
    pub(crate) session: bool,
    /// Its closing handshake completed.
    pub(crate) clean: bool,
}

/// How a session loop ended.
#[derive(Clone, Copy, Debug)]
struct Ending {
    why: DisconnectReason,
    code: Option<u16>,
    clean: bool,
}

/// Counts a live task for [`Metrics::tasks`](crate::Metrics::tasks), also when aborted.
struct TaskCount<'a>(&'a Counters);

impl<'a> TaskCount<'a> {
    fn new(counters: &'a Counters) -> Self {
        counters
            .tasks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TaskCount(counters)
    }
}

impl Drop for TaskCount<'_> {
    fn drop(&mut self) {
        self.0
            .tasks
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Serves one accepted TCP connection to its end. `handshake_slot` is released once the
/// handshake is over.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    handshake_slot: OwnedSemaphorePermit,
) -> TaskOutcome {
    let _task = TaskCount::new(&shared.counters);
    // Small messages should leave at once; batching happens above TCP.
    let _ = tcp.set_nodelay(true);
    let mut signal = shared.shutdown.subscribe();
    let admitted = tokio::select! {
        result = timeout(shared.config.handshake_timeout, handshake::accept(&shared, tcp, peer)) => match result {
            Ok(Some(admitted)) => admitted,
            Ok(None) => return TaskOutcome::default(),
            Err(_) => {
                tracing::debug!(%peer, "handshake timed out");
                shared.counters.reject(RejectReason::HandshakeTimeout);
                return TaskOutcome::default();
            }
        },
        _ = signal.triggered() => return TaskOutcome::default(),
    };
    drop(handshake_slot);
    run_session(&shared, admitted, peer).await
}

/// Removes the session from everything and reports its end, also when the task is
/// aborted at the shutdown deadline.
struct SessionGuard<'a> {
    shared: &'a Shared,
    session: Arc<Session>,
    ending: Ending,
    _slot: OwnedSemaphorePermit,
}

impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        let shared = self.shared;
        let session = &self.session;
        session.end();
        shared.registry.remove(session.id());
        shared.count_session(false);
        let Ending { why, code, clean } = self.ending;
        tracing::debug!(session = %session.id(), reason = %why, ?code, clean, "session ended");
        shared.events.emit(
            ServerEvent::Disconnected(Disconnected {
                info: session.info.clone(),
                reason: why,
                code,
                clean,
            }),
            &shared.counters,
        );
    }
}

async fn run_session(shared: &Shared, admitted: Admitted, peer: SocketAddr) -> TaskOutcome {
    let Admitted {
        mut socket,
        identity,
        metadata,
        slot,
    } = admitted;
    let config = &shared.config;
    let id = shared.next_id();
    let info = SessionInfo {
        id,
        peer,
        connected_at: SystemTime::now(),
        identity,
        metadata,
    };
    let session = Arc::new(Session::new(
        info,
        config.queue_capacity,
        config.overflow,
        config.send_deadline,
    ));
    match shared
        .registry
        .insert(session.clone(), config.duplicate_identity)
    {
        Ok(replaced) => {
            if let Some(old) = replaced {
                // A flag and a wake-up: the old session's own task does the closing.
                old.request_close(
                    REPLACED_CLOSE_CODE,
                    "replaced by a newer session",
                    DisconnectReason::Replaced,
                );
            }
        }
        Err(Refused::DuplicateIdentity) => {
            // Two upgrades of one identity raced past the handshake check; the later loses.
            shared.counters.reject(RejectReason::DuplicateIdentity);
            let _ = timeout(
                config.close_timeout,
                socket.close(Some(close_frame(
                    4009,
                    "this identity is already connected",
                ))),
            )
            .await;
            return TaskOutcome::default();
        }
    }
    Counters::add(&shared.counters.accepted, 1);
    shared.count_session(true);
    tracing::debug!(session = %id, %peer, identity = ?session.info.identity.as_ref().map(|i| i.name()), "session started");
    shared.events.emit(
        ServerEvent::Connected(session.info.clone()),
        &shared.counters,
    );
    let mut guard = SessionGuard {
        shared,
        session: session.clone(),
        // What an aborted task reports: it was still running at the shutdown deadline.
        ending: Ending {
            why: DisconnectReason::Shutdown,
            code: Some(1001),
            clean: false,
        },
        _slot: slot,
    };
    if shared.shutdown.deadline().is_some() {
        // The listener may have asked every session to close just before this one
        // registered.
        session.request_close(1001, "server shutting down", DisconnectReason::Shutdown);
    }
    let ending = SessionLoop {
        shared,
        session: &session,
        inbound: shared.inbound(),
    }
    .run(&mut socket)
    .await;
    guard.ending = ending;
    TaskOutcome {
        session: true,
        clean: ending.clean,
    }
}

fn close_frame(code: u16, reason: &str) -> WsCloseFrame {
    // Close reasons are at most 123 bytes on the wire.
    let mut cut = reason.len().min(123);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    WsCloseFrame {
        code: CloseCode::from(code),
        reason: reason[..cut].into(),
    }
}

/// Waits for room in the inbound stream; never completes without a sender.
async fn reserve(
    tx: Option<&InboundSender>,
) -> Result<mpsc::Permit<'_, (SessionId, Message)>, mpsc::error::SendError<()>> {
    match tx {
        Some(tx) => tx.reserve().await,
        None => std::future::pending().await,
    }
}

struct SessionLoop<'a> {
    shared: &'a Shared,
    session: &'a Session,
    inbound: Option<InboundSender>,
}

impl SessionLoop<'_> {
    async fn run(mut self, socket: &mut Socket) -> Ending {
        let config = &self.shared.config;
        let counters = &self.shared.counters;
        let started = Instant::now();
        let first_deadline = config.first_message_timeout.map(|t| started + t);
        let mut heard_data = false;
        // The last frame from the peer (held at "now" while the inbound stream is full,
        // so backpressure never counts as silence).
        let mut last_heard = started;
        let mut last_ping = started;
        let mut pending: Option<Message> = None;
        let mut batch: Vec<WsMessage> = Vec::new();
        let timer = sleep_until(started.into());
        tokio::pin!(timer);
        loop {
            // Outbound first: whatever is queued, and a close request.
            let (close, more) = self.session.take(&mut batch, BATCH);
            if !batch.is_empty() {
                if let Err(ending) =
                    write_batch(socket, &mut batch, config.send_deadline, counters).await
                {
                    return ending;
                }
            }
            if let Some(close) = close {
                let wait = self.close_wait(close.why);
                return close_with(socket, close.code, &close.reason, close.why, wait).await;
            }

            let now = Instant::now();
            if pending.is_some() {
                last_heard = now;
            }
            let idle_at = last_heard + config.ping_interval + config.idle_timeout;
            let ping_at = last_heard.max(last_ping) + config.ping_interval;
            let first_at = first_deadline.filter(|_| !heard_data);
            let wake_at = [Some(idle_at), Some(ping_at), first_at]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(idle_at);
            timer.as_mut().reset(wake_at.into());
            // Futures in `select!` keep their borrows until the branch body ends: they
            // borrow locals, not `self`, so the bodies may change `self`.
            let session = self.session;
            let reserve_tx = if pending.is_some() {
                self.inbound.clone()
            } else {
                None
            };

            tokio::select! {
                () = session.woken() => {}
                () = std::future::ready(()), if more => {}
                permit = reserve(reserve_tx.as_ref()), if pending.is_some() => {
                    let receiver_gone = match permit {
                        Ok(permit) => {
                            if let Some(msg) = pending.take() {
                                permit.send((session.id(), msg));
                            }
                            false
                        }
                        Err(_) => true,
                    };
                    if receiver_gone {
                        pending = None;
                        self.inbound = None;
                        Counters::add(&counters.inbound_discarded, 1);
                    }
                }
                frame = socket.next(), if pending.is_none() => {
                    last_heard = Instant::now();
                    match frame {
                        None => return Ending { why: DisconnectReason::ConnectionLost, code: None, clean: false },
                        Some(Err(error)) => return self.on_read_error(socket, error).await,
                        Some(Ok(frame)) => {
                            let data = match frame {
                                WsMessage::Text(text) => match Text::from_utf8(Bytes::from(text)) {
                                    Ok(text) => Some(Message::Text(text)),
                                    // tungstenite already checked it; kept as a protocol error.
                                    Err(_) => return self.on_read_error(socket, WsError::Utf8).await,
                                },
                                WsMessage::Binary(bytes) => Some(Message::Binary(bytes)),
                                WsMessage::Close(frame) => {
                                    // tungstenite queued the reply; flush it, then the
                                    // stream ends.
                                    let code = frame.map(|f| u16::from(f.code));
                                    let _ = timeout(config.close_timeout, socket.flush()).await;
                                    return Ending { why: DisconnectReason::PeerClosed, code, clean: true };
                                }
                                // Pings are answered by tungstenite; pongs only prove life.
                                WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => None,
                            };
                            if let Some(msg) = data {
                                heard_data = true;
                                Counters::add(&counters.messages_in, 1);
                                Counters::add(&counters.bytes_in, msg.len() as u64);
                                pending = self.deliver(msg);
                            }
                        }
                    }
                }
                () = &mut timer => {
                    let now = Instant::now();
                    if first_at.is_some_and(|at| now >= at) {
                        let wait = self.close_wait(DisconnectReason::FirstMessageTimeout);
                        return close_with(socket, 1008, "no message in time", DisconnectReason::FirstMessageTimeout, wait).await;
                    }
                    if now >= idle_at {
                        // The peer is silent: a close frame is a courtesy, not awaited.
                        return close_with(socket, 1001, "idle timeout", DisconnectReason::IdleTimeout, Duration::ZERO).await;
                    }
                    if now >= ping_at {
                        last_ping = now;
                        match timeout(config.send_deadline, socket.send(WsMessage::Ping(Bytes::new()))).await {
                            Ok(Ok(())) => Counters::add(&counters.messages_out, 1),
                            Ok(Err(_)) => return Ending { why: DisconnectReason::ConnectionLost, code: None, clean: false },
                            Err(_) => return slow_consumer(socket, counters).await,
                        }
                    }
                }
            }
        }
    }

    /// Hands `msg` to the application; returns it back when the stream is full.
    fn deliver(&mut self, msg: Message) -> Option<Message> {
        let Some(tx) = &self.inbound else {
            Counters::add(&self.shared.counters.inbound_discarded, 1);
            return None;
        };
        match tx.try_send((self.session.id(), msg)) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full((_, msg))) => Some(msg),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.inbound = None;
                Counters::add(&self.shared.counters.inbound_discarded, 1);
                None
            }
        }
    }

    /// How long to wait for the peer's close reply: until the shutdown deadline during a
    /// shutdown, the close timeout otherwise.
    fn close_wait(&self, why: DisconnectReason) -> Duration {
        match (why, self.shared.shutdown.deadline()) {
            (DisconnectReason::Shutdown, Some(deadline)) => {
                deadline.saturating_duration_since(Instant::now())
            }
            _ => self.shared.config.close_timeout,
        }
    }

    async fn on_read_error(&self, socket: &mut Socket, error: WsError) -> Ending {
        let wait = self.close_wait(DisconnectReason::ProtocolError);
        match error {
            WsError::Capacity(error) => {
                tracing::debug!(session = %self.session.id(), %error, "inbound message too large");
                close_with(
                    socket,
                    1009,
                    "message too large",
                    DisconnectReason::MessageTooLarge,
                    wait,
                )
                .await
            }
            WsError::Utf8 => {
                close_with(
                    socket,
                    1007,
                    "invalid UTF-8",
                    DisconnectReason::ProtocolError,
                    wait,
                )
                .await
            }
            WsError::Protocol(error) => {
                tracing::debug!(session = %self.session.id(), %error, "protocol error");
                close_with(
                    socket,
                    1002,
                    "protocol error",
                    DisconnectReason::ProtocolError,
                    wait,
                )
                .await
            }
            _ => Ending {
                why: DisconnectReason::ConnectionLost,
                code: None,
                clean: false,
            },
        }
    }
}

/// Writes `batch` with one flush, all within `deadline`.
async fn write_batch(
    socket: &mut Socket,
    batch: &mut Vec<WsMessage>,
    deadline: Duration,
    counters: &Counters,
) -> Result<(), Ending> {
    let count = batch.len() as u64;
    let bytes: usize = batch.iter().map(WsMessage::len).sum();
    let write = async {
        for msg in batch.drain(..) {
            socket.feed(msg).await?;
        }
        socket.flush().await
    };
    match timeout(deadline, write).await {
        Ok(Ok(())) => {
            Counters::add(&counters.messages_out, count);
            Counters::add(&counters.bytes_out, bytes as u64);
            Ok(())
        }
        Ok(Err(_)) => {
            batch.clear();
            Err(Ending {
                why: DisconnectReason::ConnectionLost,
                code: None,
                clean: false,
            })
        }
        Err(_) => {
            batch.clear();
            Err(slow_consumer(socket, counters).await)
        }
    }
}

/// A write missed the send deadline: count it, try a 1013 close frame, end.
async fn slow_consumer(socket: &mut Socket, counters: &Counters) -> Ending {
    Counters::add(&counters.send_timeouts, 1);
    let _ = timeout(
        HOPELESS_CLOSE,
        socket.close(Some(close_frame(1013, "too slow"))),
    )
    .await;
    Ending {
        why: DisconnectReason::SlowConsumer,
        code: Some(1013),
        clean: false,
    }
}

/// Sends a close frame and waits up to `wait` for the peer's reply (clean when it comes).
async fn close_with(
    socket: &mut Socket,
    code: u16,
    reason: &str,
    why: DisconnectReason,
    wait: Duration,
) -> Ending {
    let deadline = Instant::now() + wait;
    // Sending gets at least a moment even when the wait is zero.
    let send_by = deadline.max(Instant::now() + HOPELESS_CLOSE);
    let sent = matches!(
        timeout_at(
            send_by.into(),
            socket.close(Some(close_frame(code, reason)))
        )
        .await,
        Ok(Ok(()))
    );
    let mut clean = false;
    if sent && !wait.is_zero() {
        let reply = async {
            while let Some(frame) = socket.next().await {
                match frame {
                    Ok(WsMessage::Close(_)) => return true,
                    Ok(_) => {}
                    Err(_) => return false,
                }
            }
            false
        };
        clean = timeout_at(deadline.into(), reply).await.unwrap_or(false);
    }
    Ending {
        why,
        code: Some(code),
        clean,
    }
}
