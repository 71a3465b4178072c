//! [`Shared`]: the state a client's handles, its connector and its inline handler share —
//! the subscription registry, the requests waiting for replies, the pong waiters, what the
//! server said about itself — and the dispatch of every inbound frame.
//!
//! Dispatch runs inline in core-pre's reader (one place, no extra task): a message goes
//! straight into its subscription's bounded queue (full → the message is dropped and
//! counted for that subscription, nobody else waits), a reply straight to its waiter.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
// `std::time::SystemTime` natively; the browser clock in wasm32 (std's panics there).
use core_pre::runtime::SystemTime;

use bytes::{Bytes, BytesMut};
use core_pre::{AppState, ConnectionWatch, Message, Outbound, PendingRequests, runtime};
use tokio::sync::{mpsc, oneshot};

use super::config::Codec;
use crate::error::{ErrorCode, MessagingError};
use crate::json::{ClientFrame, HubFrame};
use crate::message::BrokerMessage;
use crate::nats::{self, ServerOp, encode};
use crate::subject::{Pattern, Subject};

/// The start of the reason of a connection refused for its credentials (so the client can
/// report [`MessagingError::AccessDenied`]).
pub(crate) const CREDENTIALS_REFUSED: &str = "the broker refused the credentials";

/// A [`core_pre::CoreError`] in this crate's words.
pub(crate) fn from_core(error: core_pre::CoreError) -> MessagingError {
    match error {
        core_pre::CoreError::ClientClosed => MessagingError::Shutdown,
        core_pre::CoreError::NotConnected { .. } | core_pre::CoreError::ConnectionLost => {
            MessagingError::NotConnected
        }
        core_pre::CoreError::QueueFull => MessagingError::QuotaExceeded {
            message: "the outbound queue is full".into(),
        },
        core_pre::CoreError::Timeout { after, waiting_for } => MessagingError::QuotaExceeded {
            message: format!("waited {after:?} for {waiting_for}"),
        },
        core_pre::CoreError::TooManyPending(n) => MessagingError::QuotaExceeded {
            message: format!("{n} requests already wait for replies"),
        },
        core_pre::CoreError::Rejected { reason } if reason.starts_with(CREDENTIALS_REFUSED) => {
            MessagingError::AccessDenied {
                subject: String::new(),
                message: reason.to_string(),
            }
        }
        other => MessagingError::BrokerUnavailable {
            message: other.to_string(),
        },
    }
}

/// The sid of the wildcard inbox subscription every connection makes for replies.
pub(crate) const INBOX_SID: u64 = 0;

/// One subscription as the registry keeps it.
pub(crate) struct SubEntry {
    pub(crate) pattern: Pattern,
    pub(crate) queue: Option<String>,
    tx: mpsc::Sender<BrokerMessage>,
    pub(crate) dropped: Arc<AtomicU64>,
    /// The registry generation whose connection was sent this SUB (0: not sent yet).
    sent_in: u64,
    /// The hub's implicit `_SESSION.<id>` subscription (`json`): never sent, never
    /// unsubscribed; receives what the hub sends to this session.
    implicit: bool,
}

/// Every live subscription, by sid.
#[derive(Default)]
pub(crate) struct Registry {
    next_sid: u64,
    /// Bumped by the connector each time it writes the SUBs for a new connection.
    generation: u64,
    entries: HashMap<u64, SubEntry>,
    closed: bool,
}

/// This connection's reply inbox: `_INBOX.<random>.` and the epoch it belongs to.
#[derive(Default, Clone)]
pub(crate) struct InboxPrefix {
    pub(crate) prefix: String,
    pub(crate) epoch: Option<u64>,
}

/// What the server told us about the current connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct SessionView {
    pub(crate) id: String,
    pub(crate) connected_at: Option<SystemTime>,
    pub(crate) server: String,
}

/// What [`Shared::add_subscription`] hands back.
pub(crate) struct NewSubscription {
    pub(crate) sid: u64,
    pub(crate) rx: mpsc::Receiver<BrokerMessage>,
    pub(crate) dropped: Arc<AtomicU64>,
    /// The SUB frame still to send (the outbound queue was full).
    pub(crate) later: Option<Message>,
}

pub(crate) type ReplyResult = Result<BrokerMessage, MessagingError>;

/// State shared by a client's handles, its connector and its inline handler.
pub(crate) struct Shared {
    pub(crate) codec: Codec,
    pub(crate) connection: ConnectionWatch,
    pub(crate) registry: Mutex<Registry>,
    pub(crate) pending: PendingRequests<u64, ReplyResult>,
    /// The subject of each waiting request, by token (for `no_responders` and permission
    /// errors that name the subject, not the inbox).
    pub(crate) request_subjects: Mutex<HashMap<u64, String>>,
    pub(crate) inbox: Mutex<InboxPrefix>,
    pub(crate) next_token: AtomicU64,
    pongs: Mutex<VecDeque<oneshot::Sender<()>>>,
    pub(crate) session: Mutex<SessionView>,
    /// A generated session id for `nats` (the hub assigns one in `json`).
    pub(crate) own_session_id: String,
    pub(crate) max_payload: AtomicUsize,
    pub(crate) last_publish_size: AtomicUsize,
    pub(crate) last_error: Mutex<Option<MessagingError>>,
    pub(crate) server_errors: AtomicU64,
    subscription_capacity: usize,
}

impl AppState for Shared {
    fn clear_connection_data(&self) {
        // Every flush waiting for a PONG learns at once that it will not come.
        runtime::lock(&self.pongs).clear();
        *runtime::lock(&self.inbox) = InboxPrefix::default();
    }
}

impl Shared {
    pub(crate) fn new(
        codec: Codec,
        connection: ConnectionWatch,
        subscription_capacity: usize,
        max_pending: usize,
    ) -> Self {
        Shared {
            codec,
            pending: PendingRequests::new(connection.clone(), max_pending),
            connection,
            registry: Mutex::default(),
            request_subjects: Mutex::default(),
            inbox: Mutex::default(),
            next_token: AtomicU64::new(1),
            pongs: Mutex::default(),
            session: Mutex::default(),
            own_session_id: crate::subject::random_token(16),
            max_payload: AtomicUsize::new(crate::json::DEFAULT_MAX_PAYLOAD),
            last_publish_size: AtomicUsize::new(0),
            last_error: Mutex::default(),
            server_errors: AtomicU64::new(0),
            subscription_capacity,
        }
    }

    // ----- encoding -----

    /// The SUB frame for a subscription (`nats`: binary; `json`: text).
    pub(crate) fn sub_frame(&self, sid: u64, pattern: &str, queue: Option<&str>) -> Message {
        match self.codec {
            Codec::Nats => {
                let mut buf = BytesMut::new();
                encode::subscribe(&mut buf, pattern, queue, sid);
                Message::binary(buf.freeze())
            }
            Codec::Json => Message::text(
                ClientFrame::Sub {
                    sid: sid.to_string(),
                    subject: pattern.to_owned(),
                    queue: queue.map(str::to_owned),
                }
                .encode(),
            ),
        }
    }

    /// The UNSUB frame.
    pub(crate) fn unsub_frame(&self, sid: u64) -> Message {
        match self.codec {
            Codec::Nats => {
                let mut buf = BytesMut::new();
                encode::unsubscribe(&mut buf, sid, None);
                Message::binary(buf.freeze())
            }
            Codec::Json => Message::text(
                ClientFrame::Unsub {
                    sid: sid.to_string(),
                }
                .encode(),
            ),
        }
    }

    /// The publish frame.
    pub(crate) fn pub_frame(&self, subject: &str, reply_to: Option<&str>, body: &Bytes) -> Message {
        match self.codec {
            Codec::Nats => {
                let mut buf = BytesMut::new();
                encode::publish(&mut buf, subject, reply_to, body);
                Message::binary(buf.freeze())
            }
            Codec::Json => Message::text(
                ClientFrame::Publish {
                    subject: subject.to_owned(),
                    body: body.clone(),
                    reply_to: reply_to.map(str::to_owned),
                }
                .encode(),
            ),
        }
    }

    /// The keep-alive / flush ping.
    pub(crate) fn ping_frame(&self) -> Message {
        match self.codec {
            Codec::Nats => Message::binary(Bytes::from_static(encode::PING)),
            Codec::Json => Message::text(ClientFrame::Ping.encode()),
        }
    }

    // ----- subscriptions -----

    /// Registers a subscription and tries to send its SUB now (with the registry locked,
    /// so the connector's resubscription and this send never both send it). Returns the
    /// sid, the receiving end and the drop counter.
    pub(crate) fn add_subscription(
        &self,
        pattern: Pattern,
        queue: Option<String>,
        outbound: &Outbound,
        implicit: bool,
    ) -> Result<NewSubscription, MessagingError> {
        let (tx, rx) = mpsc::channel(self.subscription_capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let mut registry = runtime::lock(&self.registry);
        if registry.closed {
            return Err(MessagingError::Shutdown);
        }
        registry.next_sid += 1;
        let sid = registry.next_sid;
        let frame = self.sub_frame(sid, pattern.as_str(), queue.as_deref());
        let mut sent_in = 0;
        let mut later = None;
        let attempt = if implicit {
            Err(core_pre::CoreError::NotConnected {
                state: String::new(),
            })
        } else {
            outbound.try_send(frame.clone())
        };
        match attempt {
            Ok(()) => sent_in = registry.generation,
            // Not connected: the connector (or the connect callback) sends it.
            Err(core_pre::CoreError::NotConnected { .. }) => {}
            Err(core_pre::CoreError::QueueFull) => {
                sent_in = registry.generation;
                later = Some(frame);
            }
            Err(core_pre::CoreError::ClientClosed) => return Err(MessagingError::Shutdown),
            Err(_) => {}
        }
        registry.entries.insert(
            sid,
            SubEntry {
                pattern,
                queue,
                tx,
                dropped: dropped.clone(),
                sent_in,
                implicit,
            },
        );
        Ok(NewSubscription {
            sid,
            rx,
            dropped,
            later,
        })
    }

    /// Forgets a subscription; the UNSUB frame to send, if the server knows it.
    pub(crate) fn remove_subscription(&self, sid: u64) -> Option<Message> {
        let mut registry = runtime::lock(&self.registry);
        let entry = registry.entries.remove(&sid)?;
        (entry.sent_in != 0 && !entry.implicit && !registry.closed).then(|| self.unsub_frame(sid))
    }

    /// The connector's resubscription: a new generation, and the SUB frames of the inbox
    /// and of every subscription, marked as sent on it.
    pub(crate) fn resubscribe_frames(&self, inbox_pattern: &str) -> Vec<Message> {
        let mut registry = runtime::lock(&self.registry);
        registry.generation += 1;
        let generation = registry.generation;
        let mut frames = vec![self.sub_frame(INBOX_SID, inbox_pattern, None)];
        let mut sids: Vec<u64> = registry.entries.keys().copied().collect();
        sids.sort_unstable();
        for sid in sids {
            if let Some(entry) = registry.entries.get_mut(&sid).filter(|e| !e.implicit) {
                frames.push(self.sub_frame(sid, entry.pattern.as_str(), entry.queue.as_deref()));
                entry.sent_in = generation;
            }
        }
        frames
    }

    /// After the connection is up: sends the SUBs of subscriptions added while the
    /// connector was already past its resubscription.
    pub(crate) fn send_missed_subscriptions(&self, outbound: &Outbound) {
        let mut registry = runtime::lock(&self.registry);
        let generation = registry.generation;
        let missed: Vec<u64> = registry
            .entries
            .iter()
            .filter(|(_, e)| e.sent_in != generation && !e.implicit)
            .map(|(sid, _)| *sid)
            .collect();
        for sid in missed {
            if let Some(entry) = registry.entries.get_mut(&sid) {
                let frame = self.sub_frame(sid, entry.pattern.as_str(), entry.queue.as_deref());
                if outbound.try_send(frame).is_ok() {
                    entry.sent_in = generation;
                }
            }
        }
    }

    /// Ends every subscription stream (the client is gone).
    pub(crate) fn close_subscriptions(&self) {
        let mut registry = runtime::lock(&self.registry);
        registry.closed = true;
        registry.entries.clear();
    }

    // ----- flush -----

    /// Queues a ping and a waiter for its pong, in the same order as every other ping.
    pub(crate) fn queue_ping(
        &self,
        outbound: &Outbound,
    ) -> Result<oneshot::Receiver<()>, MessagingError> {
        let (tx, rx) = oneshot::channel();
        let mut pongs = runtime::lock(&self.pongs);
        outbound.try_send(self.ping_frame()).map_err(from_core)?;
        pongs.push_back(tx);
        Ok(rx)
    }

    fn pong(&self) {
        if let Some(waiter) = runtime::lock(&self.pongs).pop_front() {
            let _ = waiter.send(());
        }
    }

    // ----- errors -----

    pub(crate) fn record_error(&self, error: MessagingError) {
        self.server_errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%error, "the broker reported an error");
        *runtime::lock(&self.last_error) = Some(error);
    }

    /// Fails the oldest request on `subject` with `error`; true if there was one.
    fn fail_request_on(&self, subject: &str, error: &MessagingError) -> bool {
        let subjects = runtime::lock(&self.request_subjects);
        let tokens: Vec<u64> = subjects
            .iter()
            .filter(|(_, s)| s.as_str() == subject)
            .map(|(t, _)| *t)
            .collect();
        drop(subjects);
        self.pending
            .resolve_oldest(|token| tokens.contains(token), Err(error.clone()))
    }

    /// The [`MessagingError`] of a NATS `-ERR`.
    pub(crate) fn nats_error(&self, text: &str) -> MessagingError {
        let lower = text.to_ascii_lowercase();
        let quoted = text
            .split('"')
            .nth(1)
            .map(str::to_owned)
            .unwrap_or_default();
        if lower.contains("authorization violation") || lower.contains("authentication") {
            MessagingError::AccessDenied {
                subject: String::new(),
                message: text.to_owned(),
            }
        } else if lower.contains("permissions violation") {
            MessagingError::AccessDenied {
                subject: quoted,
                message: text.to_owned(),
            }
        } else if lower.contains("maximum payload") {
            MessagingError::TooLarge {
                size: self.last_publish_size.load(Ordering::Relaxed),
                max: self.max_payload.load(Ordering::Relaxed),
            }
        } else {
            MessagingError::Protocol {
                message: format!("the server said: {text}"),
            }
        }
    }

    // ----- dispatch -----

    /// Handles one inbound frame (inline, in core-pre's reader: never blocks).
    pub(crate) fn dispatch(&self, msg: &Message, outbound: &Outbound) {
        match (self.codec, msg) {
            (Codec::Nats, Message::Binary(frame)) => match nats::parse_frame(frame.clone()) {
                Ok(op) => self.on_nats(op, outbound),
                Err(error) => self.record_error(MessagingError::Protocol {
                    message: error.to_string(),
                }),
            },
            (Codec::Json, Message::Text(text)) => match HubFrame::decode(text.as_str()) {
                Ok(frame) => self.on_hub(frame),
                Err(error) => self.record_error(MessagingError::Protocol {
                    message: format!("the hub sent a bad frame: {error}"),
                }),
            },
            // WebSocket control frames are the transport's business.
            _ => {}
        }
    }

    fn on_nats(&self, op: ServerOp, outbound: &Outbound) {
        match op {
            ServerOp::Msg {
                subject,
                sid,
                reply_to,
                headers,
                payload,
            } => {
                let no_responders = headers
                    .as_ref()
                    .is_some_and(nats::Headers::is_no_responders);
                self.deliver(sid, &subject, reply_to.as_deref(), payload, no_responders);
            }
            ServerOp::Ping => {
                if outbound
                    .try_send(Message::binary(Bytes::from_static(encode::PONG)))
                    .is_err()
                {
                    tracing::debug!("could not queue a PONG (queue full or disconnected)");
                }
            }
            ServerOp::Pong => self.pong(),
            ServerOp::Info(info) => {
                if info.max_payload > 0 {
                    self.max_payload.store(info.max_payload, Ordering::Relaxed);
                }
            }
            ServerOp::Ok => {}
            ServerOp::Err(text) => {
                let error = self.nats_error(&text);
                if let MessagingError::AccessDenied { subject, .. } = &error {
                    if !subject.is_empty() {
                        self.fail_request_on(subject, &error);
                    }
                }
                self.record_error(error);
            }
        }
    }

    fn on_hub(&self, frame: HubFrame) {
        match frame {
            HubFrame::Msg {
                sid,
                subject,
                body,
                reply_to,
            } => {
                if self.is_own_session(&subject) {
                    // The hub's implicit subscription, whatever sid it gave it.
                    if let Some(message) = self.message(&subject, reply_to.as_deref(), body) {
                        let registry = runtime::lock(&self.registry);
                        for (sid, entry) in registry.entries.iter().filter(|(_, e)| e.implicit) {
                            push(*sid, entry, message.clone());
                        }
                    }
                    return;
                }
                match sid.parse::<u64>() {
                    Ok(sid) => self.deliver(sid, &subject, reply_to.as_deref(), body, false),
                    Err(_) => tracing::debug!(sid, "message for a sid this client never uses"),
                }
            }
            HubFrame::Pong => self.pong(),
            HubFrame::Hello {
                session,
                max_payload,
            } => {
                self.max_payload.store(max_payload, Ordering::Relaxed);
                runtime::lock(&self.session).id = session;
            }
            HubFrame::Err {
                code,
                message,
                subject,
            } => {
                let subject = subject.unwrap_or_default();
                let error = match code {
                    ErrorCode::NoResponders => MessagingError::NoResponders {
                        subject: subject.clone(),
                    },
                    ErrorCode::AccessDenied => MessagingError::AccessDenied {
                        subject: subject.clone(),
                        message,
                    },
                    ErrorCode::TooLarge => MessagingError::TooLarge {
                        size: self.last_publish_size.load(Ordering::Relaxed),
                        max: self.max_payload.load(Ordering::Relaxed),
                    },
                    ErrorCode::QuotaExceeded => MessagingError::QuotaExceeded { message },
                    ErrorCode::SubjectInvalid => MessagingError::SubjectInvalid {
                        subject: subject.clone(),
                        reason: "the hub refused it",
                    },
                    ErrorCode::BadFrame => MessagingError::Protocol {
                        message: format!("the hub refused a frame: {message}"),
                    },
                };
                // A refusal naming a subject a request waits on answers that request.
                let answered = !subject.is_empty() && self.answer_refusal(&subject, &error);
                if !answered || code != ErrorCode::NoResponders {
                    self.record_error(error);
                }
            }
        }
    }

    /// A refusal about `subject`: the request it concerns (by its inbox or its subject).
    fn answer_refusal(&self, subject: &str, error: &MessagingError) -> bool {
        if let Some(token) = self.inbox_token(subject) {
            runtime::lock(&self.request_subjects).remove(&token);
            return self.pending.resolve(&token, Err(error.clone()));
        }
        self.fail_request_on(subject, error)
    }

    /// The token of a reply subject on this connection's inbox.
    fn inbox_token(&self, subject: &str) -> Option<u64> {
        let inbox = runtime::lock(&self.inbox);
        if inbox.prefix.is_empty() {
            return None;
        }
        subject.strip_prefix(inbox.prefix.as_str())?.parse().ok()
    }

    fn deliver(
        &self,
        sid: u64,
        subject: &str,
        reply_to: Option<&str>,
        body: Bytes,
        no_responders: bool,
    ) {
        if sid == INBOX_SID {
            let Some(token) = self.inbox_token(subject) else {
                return;
            };
            let request_subject = runtime::lock(&self.request_subjects).remove(&token);
            let outcome = if no_responders {
                Err(MessagingError::NoResponders {
                    subject: request_subject.unwrap_or_default(),
                })
            } else {
                match self.message(subject, reply_to, body) {
                    Some(message) => Ok(message),
                    None => return,
                }
            };
            self.pending.resolve(&token, outcome);
            return;
        }
        let Some(message) = self.message(subject, reply_to, body) else {
            return;
        };
        let registry = runtime::lock(&self.registry);
        let Some(entry) = registry.entries.get(&sid) else {
            // Unsubscribed while the message was on its way.
            return;
        };
        push(sid, entry, message);
    }

    /// Whether `subject` is this connection's `_SESSION.<id>`.
    fn is_own_session(&self, subject: &str) -> bool {
        let session = runtime::lock(&self.session);
        !session.id.is_empty()
            && subject
                .strip_prefix(crate::subject::SESSION_PREFIX)
                .is_some_and(|id| id == session.id)
    }

    /// A [`BrokerMessage`] from wire strings (a subject the broker should never have sent
    /// is logged and skipped).
    fn message(&self, subject: &str, reply_to: Option<&str>, body: Bytes) -> Option<BrokerMessage> {
        let subject = match Subject::new(subject) {
            Ok(s) => s,
            Err(error) => {
                tracing::debug!(%error, "skipping a message with an invalid subject");
                return None;
            }
        };
        let reply_to = match reply_to.map(Subject::new).transpose() {
            Ok(r) => r,
            Err(error) => {
                tracing::debug!(%error, "skipping a message with an invalid reply subject");
                return None;
            }
        };
        Some(BrokerMessage {
            subject,
            body,
            reply_to,
        })
    }
}

/// Puts `message` into a subscription's queue: when it is full the message is dropped and
/// counted for that subscription (logged once per overflow), and nobody waits.
fn push(sid: u64, entry: &SubEntry, message: BrokerMessage) {
    match entry.tx.try_send(message) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            let before = entry.dropped.fetch_add(1, Ordering::Relaxed);
            if before == 0 {
                tracing::warn!(
                    sid,
                    pattern = entry.pattern.as_str(),
                    "subscription queue full: dropping its new messages (counted)"
                );
            }
        }
        // The subscription's owner is going away; its UNSUB follows.
        Err(mpsc::error::TrySendError::Closed(_)) => {}
    }
}
