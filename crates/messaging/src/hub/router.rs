//! The router: one task that owns every session's subscriptions and routes each frame.
//!
//! It reads the server's inbound stream and events (and, when bridged, what NATS sends),
//! so the subscription index needs no lock and a session's frames are handled in the
//! order it sent them. It never waits for a session: deliveries are pushed into the
//! server's bounded per-session queues (`Server::send_to`), and a session that stops
//! reading is closed by the server with 1013 once its queue stays full past the send
//! deadline, which the router counts from the server's `Disconnected` event.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use core_pre::Message;
use server::{DisconnectReason, Inbox, Server, ServerEvent, SessionId};
use tokio::sync::mpsc;
use tracing::debug;

use super::bridge::{BridgeEvent, Command};
use super::index::{BridgeKey, Entry, EntryId, KeyChange, SubscriptionIndex};
use super::metrics::Counters;
use crate::error::ErrorCode;
use crate::json::{self, ClientFrame, HubFrame};
use crate::subject::{self, Pattern, Subject};

/// The `sid` of every session's implicit `_SESSION.<id>` subscription.
pub const SESSION_SID: &str = "_session";

/// The longest `sid` a client may choose, in bytes.
pub const MAX_SID_LEN: usize = 128;

/// Malformed frames in a row (within [`BAD_FRAME_WINDOW`]) that close a session with 1008.
pub const BAD_FRAMES_TO_CLOSE: u32 = 3;

/// The window of [`BAD_FRAMES_TO_CLOSE`].
pub const BAD_FRAME_WINDOW: Duration = Duration::from_secs(1);

/// How often the router checks its sessions against the server's (in case an event was
/// dropped because the event stream was full).
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// The router's settings.
#[derive(Clone, Debug)]
pub(crate) struct RouterConfig {
    pub(crate) hub_id: Arc<str>,
    pub(crate) max_payload: usize,
    pub(crate) max_subscriptions: usize,
}

/// One session as the router knows it.
struct SessionState {
    /// Its subscriptions by `sid` (the implicit one included).
    subs: HashMap<Arc<str>, EntryId>,
    /// Malformed frames in a row, and when the streak began.
    bad: u32,
    bad_since: Instant,
    /// Closed by the hub (bad frames): its remaining frames are ignored until it is gone.
    closing: bool,
}

/// A message ready to be delivered: the frame's text around the subscriber's `sid`.
struct Prepared {
    head: &'static str,
    tail: String,
}

impl Prepared {
    fn new(subject: &str, body: &[u8], reply_to: Option<&str>) -> Self {
        let mut tail = String::with_capacity(subject.len() + body.len() * 4 / 3 + 64);
        tail.push_str(",\"subject\":");
        tail.push_str(&json_string(subject));
        tail.push_str(",\"body\":\"");
        tail.push_str(&json::encode_body(body));
        tail.push('"');
        if let Some(reply) = reply_to {
            tail.push_str(",\"reply_to\":");
            tail.push_str(&json_string(reply));
        }
        tail.push('}');
        Self {
            head: "{\"op\":\"msg\",\"sid\":",
            tail,
        }
    }

    fn frame(&self, sid_json: &str) -> String {
        let mut out = String::with_capacity(self.head.len() + sid_json.len() + self.tail.len());
        out.push_str(self.head);
        out.push_str(sid_json);
        out.push_str(&self.tail);
        out
    }
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    // Serializing a `str` cannot fail.
    serde_json::to_string(text).unwrap_or_default()
}

/// The router task's state.
pub(crate) struct Router {
    server: Server,
    config: RouterConfig,
    counters: Arc<Counters>,
    index: SubscriptionIndex<SessionId>,
    sessions: HashMap<SessionId, SessionState>,
    bridge: Option<mpsc::Sender<Command>>,
    rng: u64,
    scratch: Vec<EntryId>,
    /// Whether the frame being handled was answered `bad_frame`.
    flagged: bool,
}

impl Router {
    pub(crate) fn new(
        server: Server,
        config: RouterConfig,
        counters: Arc<Counters>,
        bridge: Option<mpsc::Sender<Command>>,
    ) -> Self {
        let mut seed = [0u8; 8];
        if getrandom::fill(&mut seed).is_err() {
            seed = 0x9E37_79B9_7F4A_7C15u64.to_le_bytes();
        }
        Self {
            server,
            config,
            counters,
            index: SubscriptionIndex::default(),
            sessions: HashMap::new(),
            bridge,
            rng: u64::from_le_bytes(seed) | 1,
            scratch: Vec::new(),
            flagged: false,
        }
    }

    /// Runs until the server's streams end (at shutdown).
    pub(crate) async fn run(
        mut self,
        mut inbox: Inbox,
        mut from_bridge: Option<mpsc::Receiver<BridgeEvent>>,
    ) {
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // Events first: a session's `Connected` is emitted before any of its frames.
                biased;
                event = inbox.events.recv() => match event {
                    Some(event) => self.on_event(event).await,
                    None => break,
                },
                message = inbox.messages.recv() => match message {
                    Some((id, message)) => self.on_message(id, message).await,
                    None => break,
                },
                Some(event) = recv_bridge(&mut from_bridge) => self.on_bridge(event).await,
                _ = sweep.tick() => self.sweep().await,
            }
        }
        // Shutdown: every session is gone; close the bridge's subscriptions.
        let ids: Vec<SessionId> = self.sessions.keys().copied().collect();
        for id in ids {
            self.forget(id).await;
        }
    }

    async fn on_event(&mut self, event: ServerEvent) {
        match event {
            ServerEvent::Connected(info) => {
                self.register(info.id).await;
            }
            ServerEvent::Disconnected(ended) => {
                if ended.reason == DisconnectReason::SlowConsumer {
                    Counters::add(&self.counters.slow_consumers, 1);
                }
                self.forget(ended.info.id).await;
            }
            _ => {}
        }
    }

    /// The session's id as clients see it: unique across hubs (`<hub id>-<n>`).
    fn session_name(&self, id: SessionId) -> String {
        format!("{}-{}", self.config.hub_id, id.as_u64())
    }

    /// Adds a session: its `_SESSION.<id>` subscription, then `hello`.
    async fn register(&mut self, id: SessionId) {
        if self.sessions.contains_key(&id) {
            return;
        }
        self.sessions.insert(
            id,
            SessionState {
                subs: HashMap::new(),
                bad: 0,
                bad_since: Instant::now(),
                closing: false,
            },
        );
        let name = self.session_name(id);
        // The hub id and a number always make a valid token.
        if let Ok(subject) = Subject::session(&name) {
            self.subscribe(id, SESSION_SID, Pattern::from(subject), None)
                .await;
        }
        let hello = HubFrame::Hello {
            session: name,
            max_payload: self.config.max_payload,
        };
        let _ = self.server.send_to(id, hello.encode());
        self.update_gauges();
    }

    /// Removes a session and its subscriptions.
    async fn forget(&mut self, id: SessionId) {
        let Some(state) = self.sessions.remove(&id) else {
            return;
        };
        for (_, entry) in state.subs {
            self.unindex(entry).await;
        }
        self.update_gauges();
    }

    fn update_gauges(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.counters
            .subscriptions
            .store(self.index.len() as u64, Relaxed);
        self.counters
            .sessions
            .store(self.sessions.len() as u64, Relaxed);
    }

    /// Drops sessions the server no longer has (their `Disconnected` event was lost).
    async fn sweep(&mut self) {
        let gone: Vec<SessionId> = self
            .sessions
            .keys()
            .copied()
            .filter(|&id| self.server.session(id).is_none())
            .collect();
        for id in gone {
            self.forget(id).await;
        }
    }

    async fn on_message(&mut self, id: SessionId, message: Message) {
        if let Some(state) = self.sessions.get(&id) {
            if state.closing {
                return;
            }
        } else {
            // Its `Connected` event was dropped (event stream full): register it now, unless
            // it already ended.
            if self.server.session(id).is_none() {
                return;
            }
            self.register(id).await;
        }
        let text = match &message {
            Message::Text(text) => text.as_str(),
            Message::Binary(_) => {
                self.bad_frame(id, "the json format uses text frames, not binary ones")
                    .await;
                return;
            }
            _ => return,
        };
        let limit = json::max_frame_len(self.config.max_payload);
        if text.len() > limit {
            // Refused before parsing: the length says the body cannot fit.
            self.refuse(
                id,
                ErrorCode::TooLarge,
                format!(
                    "frame of {} bytes is longer than {limit}, the most a body of max_payload {} bytes needs",
                    text.len(),
                    self.config.max_payload
                ),
                None,
            );
            return;
        }
        let frame = match ClientFrame::decode(text) {
            Ok(frame) => frame,
            Err(e) => {
                self.bad_frame(id, &e.to_string()).await;
                return;
            }
        };
        self.flagged = false;
        match frame {
            ClientFrame::Publish {
                subject,
                body,
                reply_to,
            } => self.on_publish(id, subject, body, reply_to).await,
            ClientFrame::Sub {
                sid,
                subject,
                queue,
            } => self.on_sub(id, sid, subject, queue).await,
            // The implicit subscription stays, like an unknown sid's unsub is ignored.
            ClientFrame::Unsub { sid } if sid == SESSION_SID => {}
            ClientFrame::Unsub { sid } => {
                let entry = self
                    .sessions
                    .get_mut(&id)
                    .and_then(|s| s.subs.remove(sid.as_str()));
                if let Some(entry) = entry {
                    self.unindex(entry).await;
                    self.update_gauges();
                }
            }
            ClientFrame::Ping => match &self.bridge {
                // Bridged, `pong` also says every earlier subscription reached NATS.
                Some(bridge) => {
                    let _ = bridge.send(Command::Flush(id)).await;
                }
                None => {
                    let _ = self.server.send_to(id, HubFrame::Pong.encode());
                }
            },
        }
        // A frame handled without a `bad_frame` (a sid problem is one) ends the streak.
        if !self.flagged
            && let Some(state) = self.sessions.get_mut(&id)
        {
            state.bad = 0;
        }
    }

    fn refuse(&self, id: SessionId, code: ErrorCode, message: String, subject: Option<String>) {
        self.counters.refuse(code);
        let frame = HubFrame::Err {
            code,
            message,
            subject,
        };
        let _ = self.server.send_to(id, frame.encode());
    }

    /// Answers a malformed frame; the third in a row within a second closes with 1008.
    async fn bad_frame(&mut self, id: SessionId, reason: &str) {
        self.flagged = true;
        self.refuse(id, ErrorCode::BadFrame, reason.to_owned(), None);
        let Some(state) = self.sessions.get_mut(&id) else {
            return;
        };
        let now = Instant::now();
        if state.bad == 0 || now.duration_since(state.bad_since) > BAD_FRAME_WINDOW {
            state.bad = 1;
            state.bad_since = now;
        } else {
            state.bad += 1;
        }
        if state.bad >= BAD_FRAMES_TO_CLOSE {
            Counters::add(&self.counters.bad_frame_closes, 1);
            let _ = self
                .server
                .close_session(id, 1008, "three malformed frames within a second");
            // Its subscriptions go now: nothing more is delivered to a closing session.
            state.closing = true;
            let subs: Vec<EntryId> = state.subs.drain().map(|(_, e)| e).collect();
            for entry in subs {
                self.unindex(entry).await;
            }
            self.update_gauges();
        }
    }

    async fn on_sub(&mut self, id: SessionId, sid: String, subject: String, queue: Option<String>) {
        if sid.is_empty() || sid.len() > MAX_SID_LEN {
            self.bad_frame(id, "sid must be 1 to 128 bytes").await;
            return;
        }
        if sid == SESSION_SID {
            self.bad_frame(
                id,
                "sid \"_session\" is the hub's (the implicit _SESSION.<id> subscription)",
            )
            .await;
            return;
        }
        let pattern = match Pattern::new(&subject) {
            Ok(p) => p,
            Err(e) => {
                self.refuse(id, ErrorCode::SubjectInvalid, e.to_string(), Some(subject));
                return;
            }
        };
        if let Some(group) = &queue
            && let Err(e) = subject::check_queue_group(group)
        {
            self.refuse(id, ErrorCode::SubjectInvalid, e.to_string(), Some(subject));
            return;
        }
        let Some(state) = self.sessions.get(&id) else {
            return;
        };
        if state.subs.contains_key(sid.as_str()) {
            self.bad_frame(
                id,
                &format!("sid {sid:?} is already in use on this connection"),
            )
            .await;
            return;
        }
        // The implicit subscription does not count against the cap.
        if state.subs.len() > self.config.max_subscriptions {
            self.refuse(
                id,
                ErrorCode::QuotaExceeded,
                format!(
                    "this session already has {} subscriptions, the most the hub allows; unsubscribe first",
                    self.config.max_subscriptions
                ),
                Some(subject),
            );
            return;
        }
        self.subscribe(id, &sid, pattern, queue.map(Arc::from))
            .await;
        self.update_gauges();
    }

    async fn subscribe(
        &mut self,
        id: SessionId,
        sid: &str,
        pattern: Pattern,
        queue: Option<Arc<str>>,
    ) {
        let (entry, change) = self.index.insert(Entry {
            owner: id,
            sid_json: Arc::from(json_string(sid)),
            pattern,
            queue,
        });
        if let Some(state) = self.sessions.get_mut(&id) {
            state.subs.insert(Arc::from(sid), entry);
        }
        if let (KeyChange::Opened(key), Some(bridge)) = (change, &self.bridge) {
            let _ = bridge.send(Command::Subscribe(key)).await;
        }
    }

    async fn unindex(&mut self, entry: EntryId) {
        if let Some((_, KeyChange::Closed(key))) = self.index.remove(entry)
            && let Some(bridge) = &self.bridge
        {
            let _ = bridge.send(Command::Unsubscribe(key)).await;
        }
    }

    async fn on_publish(
        &mut self,
        id: SessionId,
        subject: String,
        body: Bytes,
        reply_to: Option<String>,
    ) {
        if let Err(e) = Subject::new(&subject) {
            self.refuse(id, ErrorCode::SubjectInvalid, e.to_string(), Some(subject));
            return;
        }
        if let Some(reply) = &reply_to
            && let Err(e) = Subject::new(reply)
        {
            self.refuse(
                id,
                ErrorCode::SubjectInvalid,
                format!("reply_to: {e}"),
                Some(reply.clone()),
            );
            return;
        }
        if body.len() > self.config.max_payload {
            self.refuse(
                id,
                ErrorCode::TooLarge,
                format!(
                    "body of {} bytes is larger than max_payload, {} bytes",
                    body.len(),
                    self.config.max_payload
                ),
                Some(subject),
            );
            return;
        }
        Counters::add(&self.counters.published, 1);
        let reached = self.deliver_local(&subject, &body, reply_to.as_deref());
        match (&self.bridge, reply_to) {
            (Some(bridge), Some(reply_to)) if !reached => {
                // Nobody here: NATS says at once whether anybody elsewhere is.
                let request = Command::Request {
                    session: id,
                    subject,
                    body,
                    reply_to,
                };
                if bridge.try_send(request).is_err() {
                    // The bridge is behind: the request is lost, the requester times out.
                    Counters::add(&self.counters.nats_errors, 1);
                }
            }
            (Some(bridge), reply_to) => self.to_nats(bridge, subject, body, reply_to),
            (None, Some(_)) if !reached => {
                self.refuse(
                    id,
                    ErrorCode::NoResponders,
                    format!("no responders: nothing is subscribed to {subject:?}"),
                    Some(subject),
                );
            }
            (None, _) => {}
        }
    }

    fn to_nats(
        &self,
        bridge: &mpsc::Sender<Command>,
        subject: String,
        body: Bytes,
        reply_to: Option<String>,
    ) {
        let command = Command::Publish {
            subject,
            body,
            reply_to,
        };
        if bridge.try_send(command).is_err() {
            // The bridge is behind (NATS slow or away): local routing goes on.
            Counters::add(&self.counters.nats_errors, 1);
        }
    }

    /// Delivers a local publish to this hub's subscribers: every plain one, and one member
    /// of each queue group (unless bridged: then NATS picks the group member, possibly on
    /// another hub, and the message comes back through the bridge). Returns whether any
    /// subscription matched (queue members included).
    fn deliver_local(&mut self, subject: &str, body: &[u8], reply_to: Option<&str>) -> bool {
        let mut matched = std::mem::take(&mut self.scratch);
        matched.clear();
        self.index.matches(subject, &mut matched);
        if matched.is_empty() {
            self.scratch = matched;
            return false;
        }
        let prepared = Prepared::new(subject, body, reply_to);
        let bridged = self.bridge.is_some();
        // Queue groups seen in this delivery: (name, members).
        let mut groups: Vec<(Arc<str>, Vec<EntryId>)> = Vec::new();
        for &entry_id in &matched {
            let Some(entry) = self.index.get(entry_id) else {
                continue;
            };
            match &entry.queue {
                None => self.send(entry.owner, &prepared, &entry.sid_json.clone()),
                Some(_) if bridged => {}
                Some(group) => match groups.iter_mut().find(|(g, _)| g == group) {
                    Some((_, members)) => members.push(entry_id),
                    None => groups.push((group.clone(), vec![entry_id])),
                },
            }
        }
        for (_, members) in groups {
            let chosen = members[self.pick(members.len())];
            if let Some(entry) = self.index.get(chosen) {
                let (owner, sid) = (entry.owner, entry.sid_json.clone());
                self.send(owner, &prepared, &sid);
            }
        }
        self.scratch = matched;
        true
    }

    fn send(&self, owner: SessionId, prepared: &Prepared, sid_json: &str) {
        match self.server.send_to(owner, prepared.frame(sid_json)) {
            Ok(()) => Counters::add(&self.counters.delivered, 1),
            Err(e) => {
                debug!("hub: delivery to {owner} failed: {e}");
                Counters::add(&self.counters.undeliverable, 1);
            }
        }
    }

    /// A uniform index below `n` (xorshift; fairness, not secrecy).
    fn pick(&mut self, n: usize) -> usize {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % n as u64) as usize
    }

    async fn on_bridge(&mut self, event: BridgeEvent) {
        match event {
            BridgeEvent::Message {
                key,
                subject,
                body,
                reply_to,
            } => self.deliver_bridged(&key, &subject, &body, reply_to.as_deref()),
            BridgeEvent::Reply { reply_to, body } => {
                if !self.deliver_local(&reply_to, &body, None)
                    && let Some(bridge) = &self.bridge
                {
                    self.to_nats(bridge, reply_to, body, None);
                }
            }
            BridgeEvent::NoResponders { session, subject } => {
                self.refuse(
                    session,
                    ErrorCode::NoResponders,
                    format!("no responders: nothing is subscribed to {subject:?} on any hub"),
                    Some(subject),
                );
            }
        }
    }

    /// Delivers a message NATS sent on the subscription `key`: to every local subscription
    /// filed under it, or to one of them for a queue group.
    fn deliver_bridged(
        &mut self,
        key: &BridgeKey,
        subject: &str,
        body: &[u8],
        reply_to: Option<&str>,
    ) {
        let members = self.index.under_key(key);
        if members.is_empty() {
            return;
        }
        let prepared = Prepared::new(subject, body, reply_to);
        let chosen: Vec<EntryId> = if key.queue.is_some() {
            let n = members.len();
            let members = members.to_vec();
            vec![members[self.pick(n)]]
        } else {
            members.to_vec()
        };
        for entry_id in chosen {
            if let Some(entry) = self.index.get(entry_id) {
                self.send(entry.owner, &prepared, &entry.sid_json);
            }
        }
    }
}

async fn recv_bridge(rx: &mut Option<mpsc::Receiver<BridgeEvent>>) -> Option<BridgeEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
