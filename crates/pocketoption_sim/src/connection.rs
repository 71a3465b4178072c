//! One client connection: the WebSocket upgrade, the Engine.IO/Socket.IO session, and
//! every platform event the client can send.
//!
//! A connection is one task running one loop. It reads frames, answers them, pings on
//! schedule and closes a client that misses its pong, streams ticks for the last four
//! subscribed assets, and writes what other tasks queued for it (deal results, injected
//! faults). Writes are awaited under a timeout and the queue is bounded, so a client that
//! stops reading is dropped rather than buffered without end.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use binary_options_tools::socketio::{self, PacketKind};
use binary_options_tools::{CodecError, Frame, FrameLimits, Packet, Reassembler, Ssid, engineio};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, MissedTickBehavior, interval, sleep_until, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::clock::now_ms;
use crate::config::{AuthPolicy, HistoryItems};
use crate::lock::lock;
use crate::shared::{ConnEntry, Shared};
use crate::trading::{OrderRequest, PendingRequest, balance_json};

/// How long the HTTP upgrade may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The most candles one history request returns.
const MAX_CANDLES: usize = 5000;
/// The most points one `Prices` history request returns.
const MAX_PRICE_POINTS: i64 = 20_000;
/// The `Origin` the platform expects.
const PLATFORM_ORIGIN: &str = "https://pocketoption.com";

type Sink = SplitSink<WebSocketStream<TcpStream>, Message>;

/// What the upgrade request told us.
#[derive(Debug, Default)]
struct UpgradeInfo {
    user_agent: Option<String>,
}

/// Why a connection ended (logged).
#[derive(Debug)]
enum End {
    ClientClosed,
    ReadError(String),
    PongTimeout,
    Dropped,
    Shutdown,
    Slow,
    WriteFailed,
}

impl End {
    fn describe(&self) -> String {
        match self {
            End::ClientClosed => "the client closed the connection".to_owned(),
            End::ReadError(e) => format!("read error: {e}"),
            End::PongTimeout => "no pong within the ping timeout".to_owned(),
            End::Dropped => "dropped by fault injection".to_owned(),
            End::Shutdown => "simulator shutdown".to_owned(),
            End::Slow => "the client reads too slowly".to_owned(),
            End::WriteFailed => "write failed".to_owned(),
        }
    }
}

pub(crate) async fn serve(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr, id: u64) {
    let _ = tcp.set_nodelay(true);
    let mut info = UpgradeInfo::default();
    let refusing = shared.faults.is_refusing();
    let check_origin = shared.config.check_origin;
    // The error type is tungstenite's `Callback` contract, not ours to shrink.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        check_upgrade(request, refusing, check_origin).map_err(|(status, why)| {
            let mut error = ErrorResponse::new(Some(why.to_owned()));
            *error.status_mut() = status;
            error
        })?;
        info.user_agent = request
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(response)
    };
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(shared.config.max_message_bytes))
        .max_frame_size(Some(shared.config.max_message_bytes));
    let ws = match timeout(
        HANDSHAKE_TIMEOUT,
        tokio_tungstenite::accept_hdr_async_with_config(tcp, callback, Some(ws_config)),
    )
    .await
    {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::info!(%peer, "upgrade refused or failed: {e}");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "upgrade timed out");
            return;
        }
    };
    let (sink, stream) = ws.split();
    let (tx, rx) = mpsc::channel(shared.config.outbound_queue);
    let kick = Arc::new(Notify::new());
    shared.register(
        id,
        ConnEntry {
            account: None,
            tx,
            kick: kick.clone(),
        },
    );
    tracing::info!(%peer, conn = id, user_agent = ?info.user_agent, "client connected");
    let mut conn = Connection {
        sid: shared.next_sid(),
        shared: shared.clone(),
        id,
        user_agent: info.user_agent,
        sink,
        namespace_connected: false,
        account: None,
        subscriptions: VecDeque::new(),
        last_tick_ms: i64::MIN,
        pong_deadline: None,
        next_ping: None,
        delayed: VecDeque::new(),
        frames: Reassembler::new(
            FrameLimits::default().with_max_payload_bytes(shared.config.max_message_bytes),
        ),
    };
    let end = conn.run(stream, rx, kick).await;
    shared.unregister(id);
    tracing::info!(%peer, conn = id, reason = %end.describe(), "client disconnected");
}

fn check_upgrade(
    request: &Request,
    refusing: bool,
    check_origin: bool,
) -> Result<(), (StatusCode, &'static str)> {
    if refusing {
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            "the simulator is refusing connections (fault injection)",
        ));
    }
    let uri = request.uri();
    if uri.path().trim_end_matches('/') != "/socket.io" {
        return Err((
            StatusCode::NOT_FOUND,
            "connect to /socket.io/?EIO=4&transport=websocket",
        ));
    }
    let query = uri.query().unwrap_or("");
    let has = |pair: &str| query.split('&').any(|p| p == pair);
    if !has("EIO=4") {
        return Err((
            StatusCode::BAD_REQUEST,
            "unsupported Engine.IO version; use EIO=4",
        ));
    }
    if !has("transport=websocket") {
        return Err((
            StatusCode::BAD_REQUEST,
            "only transport=websocket is served",
        ));
    }
    if check_origin {
        let origin = request
            .headers()
            .get("origin")
            .and_then(|v| v.to_str().ok());
        if origin != Some(PLATFORM_ORIGIN) {
            return Err((
                StatusCode::FORBIDDEN,
                "send Origin: https://pocketoption.com",
            ));
        }
    }
    Ok(())
}

struct Connection {
    shared: Arc<Shared>,
    id: u64,
    sid: String,
    user_agent: Option<String>,
    sink: Sink,
    namespace_connected: bool,
    account: Option<(u64, bool)>,
    subscriptions: VecDeque<String>,
    last_tick_ms: i64,
    pong_deadline: Option<Instant>,
    next_ping: Option<Instant>,
    delayed: VecDeque<(Instant, Vec<Message>)>,
    frames: Reassembler,
}

/// `changeSymbol` payload.
#[derive(Deserialize)]
struct ChangeSymbol {
    asset: String,
    #[serde(default)]
    period: Option<i64>,
}

/// `loadHistoryPeriod` payload.
#[derive(Deserialize)]
struct HistoryRequest {
    asset: String,
    #[serde(default)]
    period: Option<i64>,
    #[serde(default)]
    time: Option<f64>,
    #[serde(default)]
    index: Value,
    #[serde(default)]
    offset: Option<i64>,
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

impl Connection {
    async fn run(
        &mut self,
        mut stream: SplitStream<WebSocketStream<TcpStream>>,
        mut rx: mpsc::Receiver<Vec<Message>>,
        kick: Arc<Notify>,
    ) -> End {
        let shared = self.shared.clone();
        let mut control = shared.control.subscribe();
        let generation = control.borrow_and_update().drop_generation;
        let mut silent_rx = shared.faults.watch_silent();
        let mut silent = *silent_rx.borrow_and_update();
        let mut ticks = interval(shared.config.tick);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);

        if !silent && self.send_open().await.is_err() {
            return End::WriteFailed;
        }
        loop {
            {
                let c = *control.borrow_and_update();
                if c.shutdown {
                    let _ = timeout(Duration::from_millis(500), self.sink.close()).await;
                    return End::Shutdown;
                }
                if c.drop_generation != generation {
                    // Dropping the socket without a close frame, like a crash.
                    return End::Dropped;
                }
            }
            let streaming = self.account.is_some() && !self.subscriptions.is_empty() && !silent;
            let next_delayed = self.delayed.front().map(|(at, _)| *at);
            let outcome: Result<(), End> = tokio::select! {
                changed = control.changed() => {
                    if changed.is_err() { return End::Shutdown; }
                    Ok(())
                }
                _ = kick.notified() => Err(End::Slow),
                changed = silent_rx.changed() => {
                    if changed.is_ok() {
                        silent = *silent_rx.borrow_and_update();
                        self.pong_deadline = None;
                        self.next_ping = None;
                        if !silent {
                            // Speaking again: resume as if the session had just opened.
                            self.schedule_ping();
                        }
                    }
                    Ok(())
                }
                message = stream.next() => match message {
                    None => Err(End::ClientClosed),
                    Some(Err(e)) => Err(End::ReadError(e.to_string())),
                    Some(Ok(message)) if silent => {
                        if message.is_close() { Err(End::ClientClosed) } else { Ok(()) }
                    }
                    Some(Ok(message)) => self.on_message(message).await,
                },
                Some(frames) = rx.recv() => {
                    if silent { Ok(()) } else { self.write(frames).await }
                }
                _ = sleep_until(self.next_ping.unwrap_or_else(far_future)), if self.next_ping.is_some() && !silent => {
                    self.next_ping = None;
                    self.pong_deadline = Some(Instant::now() + shared.config.ping_timeout);
                    self.write(vec![Message::text(engineio::PING)]).await
                }
                _ = sleep_until(self.pong_deadline.unwrap_or_else(far_future)), if self.pong_deadline.is_some() && !silent => {
                    // Like Node's engine.io: close without a status code (the client sees 1005).
                    let _ = timeout(Duration::from_secs(1), self.sink.send(Message::Close(None))).await;
                    Err(End::PongTimeout)
                }
                _ = ticks.tick(), if streaming => self.send_ticks().await,
                _ = sleep_until(next_delayed.unwrap_or_else(far_future)), if next_delayed.is_some() && !silent => {
                    let mut result = Ok(());
                    while self.delayed.front().is_some_and(|(at, _)| *at <= Instant::now()) {
                        if let Some((_, frames)) = self.delayed.pop_front() {
                            result = self.write(frames).await;
                            if result.is_err() { break; }
                        }
                    }
                    result
                }
            };
            if let Err(end) = outcome {
                return end;
            }
        }
    }

    fn schedule_ping(&mut self) {
        self.next_ping = Some(Instant::now() + self.shared.config.ping_interval);
    }

    async fn send_open(&mut self) -> Result<(), End> {
        let config = &self.shared.config;
        let open = engineio::OpenPayload {
            sid: self.sid.clone(),
            upgrades: Vec::new(),
            ping_interval: config.ping_interval.as_millis() as u64,
            ping_timeout: config.ping_timeout.as_millis() as u64,
            max_payload: Some(config.max_message_bytes as u64),
        };
        self.schedule_ping();
        self.write(vec![Message::text(engineio::encode_open(&open))])
            .await
    }

    /// Writes frames in order and flushes, under the write timeout.
    async fn write(&mut self, frames: Vec<Message>) -> Result<(), End> {
        let sink = &mut self.sink;
        let written = timeout(self.shared.config.write_timeout, async move {
            for frame in frames {
                sink.feed(frame).await?;
            }
            sink.flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::WriteFailed),
            Err(_) => Err(End::Slow),
        }
    }

    /// Sends a reply now, or later when a reply delay is injected.
    async fn reply(&mut self, frames: Vec<Message>) -> Result<(), End> {
        let delay = self.shared.faults.reply_delay();
        if delay.is_zero() && self.delayed.is_empty() {
            self.write(frames).await
        } else {
            self.delayed.push_back((Instant::now() + delay, frames));
            Ok(())
        }
    }

    async fn on_message(&mut self, message: Message) -> Result<(), End> {
        match message {
            Message::Text(text) => {
                let mut pushed = self.frames.push_text(text.as_str());
                if let Err(CodecError::UnexpectedText { .. }) = pushed {
                    // The broken binary packet was dropped; this frame itself is fine.
                    pushed = self.frames.push_text(text.as_str());
                }
                let frame = match pushed {
                    Ok(Some(frame)) => frame,
                    Ok(None) => return Ok(()),
                    Err(e) => {
                        tracing::debug!(conn = self.id, "ignoring malformed frame: {e}");
                        return Ok(());
                    }
                };
                match frame {
                    Frame::Pong(_) => {
                        if self.pong_deadline.take().is_some() {
                            self.schedule_ping();
                        }
                        Ok(())
                    }
                    Frame::Ping(data) => {
                        let pong = format!("{}{data}", engineio::PONG);
                        self.write(vec![Message::text(pong)]).await
                    }
                    Frame::Close => Err(End::ClientClosed),
                    Frame::Message(packet) => self.on_packet(packet).await,
                    Frame::Open(_) | Frame::Upgrade(_) | Frame::Noop => Ok(()),
                }
            }
            Message::Binary(data) => match self.frames.push_binary(data) {
                Ok(Some(packet)) => self.on_packet(packet).await,
                Ok(None) => Ok(()),
                Err(e) => {
                    tracing::debug!(conn = self.id, "ignoring binary frame: {e}");
                    Ok(())
                }
            },
            Message::Close(_) => Err(End::ClientClosed),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(()),
        }
    }

    async fn on_packet(&mut self, packet: Packet<'_>) -> Result<(), End> {
        match packet.kind() {
            PacketKind::Connect => {
                if self.namespace_connected {
                    return Ok(());
                }
                self.namespace_connected = true;
                let ack = socketio::encode_connect(Some(&self.sid));
                self.reply(vec![Message::text(ack)]).await
            }
            PacketKind::Disconnect => {
                self.namespace_connected = false;
                self.logout();
                Ok(())
            }
            PacketKind::Event | PacketKind::BinaryEvent if self.namespace_connected => {
                let name = packet.event_name().unwrap_or_default().to_owned();
                let payload = match packet.payload() {
                    Ok(p) => p.map(|bytes| String::from_utf8_lossy(bytes).into_owned()),
                    Err(e) => {
                        tracing::debug!(conn = self.id, event = %name, "bad payload: {e}");
                        return Ok(());
                    }
                };
                self.on_event(&name, payload.as_deref()).await
            }
            _ => Ok(()),
        }
    }

    fn logout(&mut self) {
        self.account = None;
        self.subscriptions.clear();
        self.shared.set_account(self.id, None);
    }

    async fn on_event(&mut self, name: &str, payload: Option<&str>) -> Result<(), End> {
        if name == "auth" || self.account.is_some() {
            *lock(&self.shared.events)
                .entry(name.to_owned())
                .or_default() += 1;
        }
        if name == "auth" {
            return self.on_auth(payload.unwrap_or("")).await;
        }
        let Some((uid, demo)) = self.account else {
            tracing::debug!(conn = self.id, event = name, "ignoring event before auth");
            return Ok(());
        };
        let shared = self.shared.clone();
        match name {
            "ps" => Ok(()),
            "assets/load" => {
                let frames = shared.event_frames("updateAssets", &shared.market.assets_payload());
                self.reply(frames).await
            }
            "getBalance" => {
                let cents = lock(&shared.book)
                    .account(uid, &shared.config)
                    .balance_mut(demo)
                    .to_owned();
                let frames =
                    shared.event_frames("successupdateBalance", &balance_json(uid, demo, cents));
                self.reply(frames).await
            }
            "changeSymbol" => {
                let Some(request) = parse::<ChangeSymbol>(payload) else {
                    return Ok(());
                };
                if !self.subscribe(&request.asset) {
                    return Ok(());
                }
                let history = self.recent_history(&request.asset, request.period.unwrap_or(60));
                let frames = shared.event_frames("updateHistoryNewFast", &history);
                self.reply(frames).await
            }
            "subfor" => {
                let Some(asset) = parse::<String>(payload) else {
                    return Ok(());
                };
                if !self.subscribe(&asset) {
                    return Ok(());
                }
                // The platform follows `subfor` with the asset's sentiment (`chafor`).
                match shared.market.sentiment_payload(&asset, now_ms()) {
                    Some(sentiment) => {
                        let frames = shared.event_frames("chafor", &sentiment);
                        self.reply(frames).await
                    }
                    None => Ok(()),
                }
            }
            "unsubfor" => {
                if let Some(asset) = parse::<String>(payload) {
                    self.subscriptions.retain(|a| *a != asset);
                }
                Ok(())
            }
            "loadHistoryPeriod" | "loadHistoryPeriodFast" => {
                let Some(request) = parse::<HistoryRequest>(payload) else {
                    return Ok(());
                };
                let reply = self.history_page(&request);
                let frames = shared.event_frames(name, &reply);
                self.reply(frames).await
            }
            "openOrder" => self.on_open_order(uid, demo, payload).await,
            "openPendingOrder" => self.on_pending_order(uid, demo, payload).await,
            "cancelPendingOrder" => {
                let ticket = parse::<Value>(payload)
                    .and_then(|v| v.get("ticket").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_default();
                let cancelled = lock(&shared.book).cancel_pending(uid, demo, &ticket);
                let frames = if cancelled {
                    shared.event_frames("successcancelPendingOrder", &json!({ "ticket": ticket }))
                } else {
                    shared.event_frames(
                        "failcancelPendingOrder",
                        &json!({ "ticket": ticket, "error": "NOT_FOUND" }),
                    )
                };
                self.reply(frames).await
            }
            "cancelPendingOrders" => {
                let tickets: Vec<String> = parse::<Value>(payload)
                    .and_then(|v| v.get("tickets").cloned())
                    .and_then(|t| serde_json::from_value(t).ok())
                    .unwrap_or_default();
                let cancelled: Vec<String> = {
                    let mut book = lock(&shared.book);
                    tickets
                        .into_iter()
                        .filter(|t| book.cancel_pending(uid, demo, t))
                        .collect()
                };
                let frames = shared.event_frames(
                    "successcancelPendingOrders",
                    &json!({ "tickets": cancelled }),
                );
                self.reply(frames).await
            }
            _ => {
                tracing::debug!(conn = self.id, event = name, "ignoring unknown event");
                Ok(())
            }
        }
    }

    async fn on_auth(&mut self, payload: &str) -> Result<(), End> {
        let shared = self.shared.clone();
        let verdict = match Ssid::parse(payload) {
            Ok(ssid) => self.judge(&ssid).map(|()| ssid),
            Err(e) => Err(format!("unreadable SSID: {e}")),
        };
        match verdict {
            Ok(ssid) => {
                let (uid, demo) = (ssid.uid(), ssid.is_demo());
                lock(&shared.book).account(uid, &shared.config);
                self.account = Some((uid, demo));
                shared.set_account(self.id, self.account);
                tracing::info!(conn = self.id, uid, demo, "auth accepted");
                let mut frames = shared.event_frames(
                    "successauth",
                    &json!({ "id": self.sid, "serverName": shared.config.server_name }),
                );
                if shared.config.push_state_after_auth {
                    frames.extend(shared.account_state_frames(uid, demo));
                }
                self.reply(frames).await
            }
            Err(reason) => {
                tracing::info!(conn = self.id, %reason, "auth rejected");
                self.logout();
                self.namespace_connected = false;
                let frames = vec![
                    Message::text(socketio::encode_event(&shared.config.reject_event, None)),
                    Message::text(socketio::DISCONNECT),
                ];
                self.reply(frames).await
            }
        }
    }

    /// Whether the platform would accept this session. Never logs the token.
    fn judge(&self, ssid: &Ssid) -> Result<(), String> {
        let accepted = match &*lock(&self.shared.auth) {
            AuthPolicy::AcceptAll => true,
            AuthPolicy::RejectAll => false,
            AuthPolicy::AcceptOnly(sessions) => {
                sessions.contains(ssid.session())
                    || ssid
                        .real_session()
                        .is_some_and(|r| sessions.contains(r.session_id()))
            }
        };
        if !accepted {
            return Err("session not accepted (expired or unknown)".to_owned());
        }
        if self.shared.config.check_user_agent {
            if let Some(real) = ssid.real_session() {
                if self.user_agent.as_deref() != Some(real.user_agent()) {
                    return Err("the user agent does not match the session".to_owned());
                }
            }
        }
        Ok(())
    }

    /// Adds `asset` to the streamed set (most recent last, at most `max_streams`).
    fn subscribe(&mut self, asset: &str) -> bool {
        if self.shared.market.asset(asset).is_none() {
            tracing::debug!(
                conn = self.id,
                asset,
                "ignoring subscription to an unknown asset"
            );
            return false;
        }
        self.subscriptions.retain(|a| a != asset);
        self.subscriptions.push_back(asset.to_owned());
        while self.subscriptions.len() > self.shared.config.max_streams {
            self.subscriptions.pop_front();
        }
        true
    }

    async fn send_ticks(&mut self) -> Result<(), End> {
        let market = &self.shared.market;
        let t = market.grid(now_ms());
        if t == self.last_tick_ms {
            return Ok(());
        }
        self.last_tick_ms = t;
        let mut frames = Vec::with_capacity(self.subscriptions.len() * 2);
        for asset in &self.subscriptions {
            if let Some(price) = market.price_at(asset, t) {
                let tick = json!([[asset, t as f64 / 1000.0, price]]);
                frames.extend(self.shared.event_frames("updateStream", &tick));
            }
        }
        self.write(frames).await
    }

    fn recent_history(&self, asset: &str, period: i64) -> Value {
        let market = &self.shared.market;
        let now = now_ms();
        let history: Vec<Value> = market
            .recent_ticks(asset, now, self.shared.config.history_points)
            .into_iter()
            .map(|(t, p)| json!([t as f64 / 1000.0, p]))
            .collect();
        let period = period.max(1);
        let now_s = now / 1000;
        let candles: Vec<Value> = market
            .candles(asset, period, now_s - period * 59, now_s, now, 60)
            .into_iter()
            .map(|c| json!([c.time_s, c.open, c.close, c.high, c.low]))
            .collect();
        json!({ "asset": asset, "period": period, "history": history, "candles": candles })
    }

    fn history_page(&self, request: &HistoryRequest) -> Value {
        let market = &self.shared.market;
        let now = now_ms();
        let period = request.period.unwrap_or(60).max(1);
        let end_s = request
            .time
            .map(|t| {
                if t > 1e12 {
                    (t / 1000.0) as i64
                } else {
                    t as i64
                }
            })
            .unwrap_or(now / 1000);
        let offset = request.offset.unwrap_or(period * 100).max(0);
        let data: Vec<Value> = match self.shared.config.history_items {
            HistoryItems::Candles => market
                .candles(
                    &request.asset,
                    period,
                    end_s - offset,
                    end_s,
                    now,
                    MAX_CANDLES,
                )
                .into_iter()
                .map(|c| {
                    json!({
                        "time": c.time_s, "open": c.open, "close": c.close,
                        "high": c.high, "low": c.low, "asset": request.asset,
                    })
                })
                .collect(),
            HistoryItems::Prices => match market.sampler(&request.asset) {
                Some(sampler) => {
                    let step = period * 1000;
                    let end_ms = market.grid((end_s * 1000).min(now));
                    let count = (offset * 1000 / step).clamp(0, MAX_PRICE_POINTS);
                    (0..=count)
                        .rev()
                        .map(|i| {
                            let t = market.grid(end_ms - i * step);
                            json!({ "time": t as f64 / 1000.0, "price": sampler.price(t) })
                        })
                        .collect()
                }
                None => Vec::new(),
            },
        };
        json!({ "asset": request.asset, "index": request.index, "period": period, "data": data })
    }

    async fn on_open_order(
        &mut self,
        uid: u64,
        demo: bool,
        payload: Option<&str>,
    ) -> Result<(), End> {
        let shared = self.shared.clone();
        let Some(raw) = parse::<Value>(payload) else {
            return Ok(());
        };
        let order = match serde_json::from_value::<OrderRequest>(raw.clone()) {
            Ok(order) => order,
            Err(_) => {
                let failure = json!({
                    "error": "INVALID_REQUEST",
                    "amount": raw.get("amount").cloned().unwrap_or(Value::Null),
                    "asset": raw.get("asset").cloned().unwrap_or(Value::Null),
                });
                let frames = shared.event_frames("failopenOrder", &failure);
                return self.reply(frames).await;
            }
        };
        let opened = lock(&shared.book).open_order(
            uid,
            demo,
            &order,
            &shared.market,
            &shared.config,
            (now_ms(), Instant::now()),
        );
        match opened {
            Ok(deal) => {
                shared.settle_wake.notify_one();
                tracing::info!(conn = self.id, uid, asset = %deal.asset, amount = deal.amount(), "deal opened");
                let frames = shared.event_frames("successopenOrder", &deal.to_json());
                let frames = shared.with_account_state(uid, demo, frames);
                // Other sessions of the same account learn about it too, as on the platform.
                let others = shared.account_state_frames(uid, demo);
                for entry in lock(&shared.registry).iter() {
                    if *entry.0 != self.id && entry.1.account == Some((uid, demo)) {
                        let _ = entry.1.tx.try_send(others.clone());
                    }
                }
                self.reply(frames).await
            }
            Err(refusal) => {
                tracing::info!(conn = self.id, uid, asset = %order.asset, error = refusal.0, "order refused");
                let failure =
                    json!({ "error": refusal.0, "amount": order.amount, "asset": order.asset });
                let frames = shared.event_frames("failopenOrder", &failure);
                self.reply(frames).await
            }
        }
    }
}

impl Connection {
    async fn on_pending_order(
        &mut self,
        uid: u64,
        demo: bool,
        payload: Option<&str>,
    ) -> Result<(), End> {
        let shared = self.shared.clone();
        let Some(raw) = parse::<Value>(payload) else {
            return Ok(());
        };
        let placed = match serde_json::from_value::<PendingRequest>(raw.clone()) {
            Ok(request) => lock(&shared.book)
                .place_pending(
                    uid,
                    demo,
                    &request,
                    &shared.market,
                    &shared.config,
                    now_ms(),
                )
                .map_err(|r| r.0),
            Err(_) => Err("INVALID_REQUEST"),
        };
        let frames = match placed {
            Ok(order) => {
                shared.settle_wake.notify_one();
                tracing::info!(conn = self.id, uid, asset = %order.asset, "pending order placed");
                shared.event_frames("successopenPendingOrder", &order.to_json())
            }
            Err(error) => shared.event_frames(
                "failopenPendingOrder",
                &json!({
                    "error": error,
                    "amount": raw.get("amount").cloned().unwrap_or(Value::Null),
                    "asset": raw.get("asset").cloned().unwrap_or(Value::Null),
                }),
            ),
        };
        self.reply(frames).await
    }
}

fn parse<T: for<'de> Deserialize<'de>>(payload: Option<&str>) -> Option<T> {
    serde_json::from_str(payload?).ok()
}
