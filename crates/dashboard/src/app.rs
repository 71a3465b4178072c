//! The page's app (wasm32): the PocketOption client in the browser.
//!
//! The page calls [`start`] with the simulator's URL and a callback; the app connects, and
//! from then on calls the callback with one JSON string per change:
//!
//! | `type` | fields |
//! |---|---|
//! | `state` | `state` (`connecting`, `connected`, `reconnecting`, `disconnected`, `closed`), `attempt`, `delay_ms`, `error` (reconnecting), `text` |
//! | `balance` | `balance` (a decimal string) |
//! | `assets` | `assets`: `[{symbol, name, payout, active}]`, highest payout first; `selected` |
//! | `candles` | `asset`, `period`, `candles`: `[[start, open, high, low, close]…]`, `price` |
//! | `trade` | `phase`: `open` (`id`, `action`, `asset`, `amount`, `expires_in_ms`), `result` (`id`, `outcome`, `profit`, `balance`) or `error` (`message`) |
//! | `error` | `message` |
//!
//! Rust owns the client and the candles; the page only draws. Buttons call
//! [`Dashboard::trade`] and the asset list calls [`Dashboard::select`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use binary_options_tools::{
    Action, Asset, Decimal, Outcome, PocketOption, Ssid, SubscriptionKind, Timeouts,
};
use core_pre::{ConnectionState, ReconnectPolicy};
use futures::StreamExt;
use serde_json::{Value, json};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::candles::LiveCandles;

/// Seconds per candle on the chart.
pub const CANDLE_SECONDS: u32 = 1;
/// Candles kept and drawn.
pub const CANDLES_KEPT: usize = 60;
/// The demo stake of the call/put buttons.
const STAKE: i64 = 10;
/// How long the first connection may take before the page says so.
const CONNECT_WAIT: Duration = Duration::from_secs(30);
/// The demo session the page signs in with (the simulator accepts any demo session).
const SESSION: &str = "dashboard-demo-session";
const UID: u64 = 4242;

/// The running app, held by the page.
#[wasm_bindgen]
pub struct Dashboard {
    inner: Rc<Inner>,
}

struct Inner {
    client: PocketOption,
    emit: js_sys::Function,
    assets: RefCell<Vec<Asset>>,
    /// The chart's asset, and a number that changes with it (a stream of an older
    /// selection stops when it sees a newer number).
    selected: RefCell<String>,
    selection: Cell<u64>,
}

impl Inner {
    /// Hands one event to the page (a failing callback is the page's bug: logged there).
    fn emit(&self, event: Value) {
        let _ = self
            .emit
            .call1(&JsValue::NULL, &JsValue::from_str(&event.to_string()));
    }
}

/// Connects to the simulator at `url` and starts feeding `on_event` (see the module docs).
/// Returns at once; the connection state arrives as events.
#[wasm_bindgen]
pub fn start(url: String, on_event: js_sys::Function) -> Dashboard {
    let client = PocketOption::builder(Ssid::demo(SESSION, UID))
        .with_url(url)
        .only_given_urls()
        .with_timeouts(Timeouts::default().with_request(Duration::from_secs(5)))
        // A steady, visible retry rhythm: the page shows each attempt and its delay.
        .with_reconnect_policy(ReconnectPolicy::doubling(
            Duration::from_millis(500),
            Duration::from_secs(4),
        ))
        .spawn();
    let inner = Rc::new(Inner {
        client,
        emit: on_event,
        assets: RefCell::new(Vec::new()),
        selected: RefCell::new(String::new()),
        selection: Cell::new(0),
    });
    spawn_local(watch_state(inner.clone()));
    spawn_local(watch_balance(inner.clone()));
    spawn_local(load_assets(inner.clone()));
    Dashboard { inner }
}

#[wasm_bindgen]
impl Dashboard {
    /// Charts `asset` from now on (the previous stream is dropped, which unsubscribes).
    pub fn select(&self, asset: String) {
        select(&self.inner, asset);
    }

    /// Places a demo trade on the charted asset: `action` is `call` or `put`. The opened
    /// deal, then its result (or an error), arrive as `trade` events.
    pub fn trade(&self, action: String) {
        let inner = self.inner.clone();
        spawn_local(async move {
            let action = match action.as_str() {
                "call" => Action::Call,
                "put" => Action::Put,
                other => {
                    inner.emit(json!({"type": "trade", "phase": "error",
                        "message": format!("unknown action {other:?}: use call or put")}));
                    return;
                }
            };
            place_trade(&inner, action).await;
        });
    }

    /// The charted asset.
    pub fn selected(&self) -> String {
        self.inner.selected.borrow().clone()
    }
}

async fn place_trade(inner: &Inner, action: Action) {
    let asset = inner.selected.borrow().clone();
    let expiry = inner
        .assets
        .borrow()
        .iter()
        .find(|a| a.symbol == asset)
        .and_then(|a| a.expiries.iter().copied().min())
        .unwrap_or(60);
    let opened = inner
        .client
        .trade(
            &asset,
            action,
            Decimal::from(STAKE),
            Duration::from_secs(u64::from(expiry)),
        )
        .await;
    let deal = match opened {
        Ok(deal) => deal,
        Err(error) => {
            inner.emit(json!({"type": "trade", "phase": "error", "message": error.to_string()}));
            return;
        }
    };
    inner.emit(json!({
        "type": "trade", "phase": "open", "id": deal.id.to_string(),
        "action": deal.action.to_string(), "asset": deal.asset, "amount": deal.amount.normalize().to_string(),
        "expires_in_ms": inner.client.time_left(&deal).as_millis() as u64,
    }));
    match inner.client.result(&deal.id).await {
        Ok(result) => {
            let outcome = match result.outcome {
                Outcome::Win => "win",
                Outcome::Loss => "loss",
                Outcome::Draw => "draw",
            };
            inner.emit(json!({
                "type": "trade", "phase": "result", "id": deal.id.to_string(), "outcome": outcome,
                "profit": result.profit.normalize().to_string(),
                "balance": result.balance.map(|b| b.normalize().to_string()),
            }));
        }
        Err(error) => inner.emit(json!({
            "type": "trade", "phase": "error", "id": deal.id.to_string(), "message": error.to_string(),
        })),
    }
}

fn state_event(state: &ConnectionState) -> Value {
    let text = state.to_string();
    match state {
        ConnectionState::Connecting => {
            json!({"type": "state", "state": "connecting", "text": text})
        }
        ConnectionState::Connected => json!({"type": "state", "state": "connected", "text": text}),
        ConnectionState::Reconnecting {
            attempt,
            delay,
            last_error,
        } => json!({
            "type": "state", "state": "reconnecting", "attempt": attempt,
            "delay_ms": delay.as_millis() as u64, "error": &**last_error, "text": text,
        }),
        ConnectionState::Disconnected(_) => {
            json!({"type": "state", "state": "disconnected", "text": text})
        }
        ConnectionState::Closed => json!({"type": "state", "state": "closed", "text": text}),
    }
}

async fn watch_state(inner: Rc<Inner>) {
    let mut states = inner.client.watch_connection_state();
    loop {
        let event = state_event(&states.borrow_and_update());
        inner.emit(event);
        if states.changed().await.is_err() {
            return;
        }
    }
}

async fn watch_balance(inner: Rc<Inner>) {
    let mut balance = inner.client.watch_balance();
    loop {
        let value = *balance.borrow_and_update();
        if let Some(value) = value {
            inner.emit(json!({"type": "balance", "balance": value.normalize().to_string()}));
        }
        if balance.changed().await.is_err() {
            return;
        }
    }
}

async fn load_assets(inner: Rc<Inner>) {
    if let Err(error) = inner.client.wait_connected(CONNECT_WAIT).await {
        inner.emit(json!({"type": "error", "message": error.to_string()}));
        return;
    }
    let assets = match inner.client.assets().await {
        Ok(assets) => assets,
        Err(error) => {
            inner.emit(json!({"type": "error", "message": error.to_string()}));
            return;
        }
    };
    let mut list: Vec<Asset> = assets.values().cloned().collect();
    list.sort_by(|a, b| b.payout.cmp(&a.payout).then(a.symbol.cmp(&b.symbol)));
    let first = list
        .iter()
        .find(|a| a.symbol == "EURUSD_otc" && a.is_active)
        .or_else(|| list.iter().find(|a| a.is_active))
        .map(|a| a.symbol.clone());
    let rows: Vec<Value> = list
        .iter()
        .map(|a| json!({"symbol": a.symbol, "name": a.name, "payout": a.payout, "active": a.is_active}))
        .collect();
    *inner.assets.borrow_mut() = list;
    inner.emit(json!({"type": "assets", "assets": rows, "selected": first}));
    if let Some(first) = first {
        select(&inner, first);
    }
}

fn select(inner: &Rc<Inner>, asset: String) {
    let number = inner.selection.get() + 1;
    inner.selection.set(number);
    *inner.selected.borrow_mut() = asset.clone();
    spawn_local(chart(inner.clone(), asset, number));
}

/// Streams `asset`'s ticks into candles until another asset is selected.
async fn chart(inner: Rc<Inner>, asset: String, number: u64) {
    let mut stream = match inner
        .client
        .subscribe(&asset, SubscriptionKind::Ticks)
        .await
    {
        Ok(stream) => stream,
        Err(error) => {
            inner.emit(
                json!({"type": "error", "message": format!("cannot chart {asset}: {error}")}),
            );
            return;
        }
    };
    let mut live = LiveCandles::new(CANDLE_SECONDS, CANDLES_KEPT);
    while let Some(tick) = stream.next().await {
        if inner.selection.get() != number {
            return;
        }
        if live.push(tick.time, tick.close) {
            inner.emit(json!({
                "type": "candles", "asset": asset, "period": CANDLE_SECONDS,
                "candles": live.to_json(), "price": tick.close,
            }));
        }
    }
}
