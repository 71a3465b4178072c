//! [`SimulatorBuilder`]: every setting of a simulator, with defaults close to the platform.
//!
//! The builder is the only place settings are chosen; once started, what can still change
//! (auth policy, faults, prices, asset flags) is steered through the
//! [`SimulatorHandle`](crate::SimulatorHandle).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use crate::error::SimError;
use crate::market::{AssetSpec, default_assets};
use crate::server::{Simulator, SimulatorHandle};

/// Which sessions the simulator accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AuthPolicy {
    /// Every well-formed SSID is accepted (the default).
    #[default]
    AcceptAll,
    /// Every auth is answered with `NotAuthorized` then `41`.
    RejectAll,
    /// Only these session tokens are accepted (for real sessions, the full serialized
    /// string, or its `session_id`).
    AcceptOnly(HashSet<String>),
}

/// How an event is delivered: the platform uses both for almost every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// `42["event",payload]`.
    OneStep,
    /// `451-["event",{"_placeholder":true,"num":0}]` + the payload as a binary frame.
    #[default]
    TwoStep,
}

/// The shape of `loadHistoryPeriod` items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HistoryItems {
    /// `{"time","open","close","high","low"}` candles of the requested period (default).
    #[default]
    Candles,
    /// `{"time","price"}` points, one per grid point (`tick_ms`).
    Prices,
}

/// The shape of `successcloseOrder` (the platform has been seen sending both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CloseOrderForm {
    /// `{"profit":<gross return>,"deals":[Deal,…]}` (default).
    #[default]
    Object,
    /// `[Deal,…]`: the deals alone, without the top-level `profit`.
    BareArray,
}

/// The settings of one simulator.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub addr: SocketAddr,
    pub seed: u64,
    pub tick: Duration,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub time_scale: f64,
    pub auth: AuthPolicy,
    pub check_user_agent: bool,
    pub check_origin: bool,
    pub reject_event: String,
    pub demo_balance_cents: i64,
    pub real_balance_cents: i64,
    pub min_amount_cents: i64,
    pub max_amount_cents: i64,
    pub max_open_deals: usize,
    pub default_delivery: Delivery,
    pub delivery: HashMap<String, Delivery>,
    pub history_items: HistoryItems,
    pub close_order_form: CloseOrderForm,
    pub history_points: usize,
    pub max_streams: usize,
    pub push_state_after_auth: bool,
    pub outbound_queue: usize,
    pub write_timeout: Duration,
    pub server_name: String,
    pub assets: Vec<AssetSpec>,
    pub max_message_bytes: usize,
}

impl Config {
    /// The delivery of `event`.
    pub(crate) fn delivery_of(&self, event: &str) -> Delivery {
        self.delivery
            .get(event)
            .copied()
            .unwrap_or(self.default_delivery)
    }
}

/// Builds a [`Simulator`]. Start from [`Simulator::builder`].
///
/// ```no_run
/// # async fn run() -> Result<(), pocketoption_sim::SimError> {
/// use pocketoption_sim::Simulator;
/// use std::time::Duration;
/// let sim = Simulator::builder()
///     .seed(7)
///     .tick_interval(Duration::from_millis(50))
///     .time_scale(10.0)
///     .start()
///     .await?;
/// println!("connect to {}", sim.url());
/// sim.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SimulatorBuilder {
    config: Config,
}

impl Default for SimulatorBuilder {
    fn default() -> Self {
        SimulatorBuilder {
            config: Config {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                seed: 1,
                tick: Duration::from_millis(500),
                ping_interval: Duration::from_millis(25_000),
                ping_timeout: Duration::from_millis(20_000),
                time_scale: 1.0,
                auth: AuthPolicy::AcceptAll,
                check_user_agent: false,
                check_origin: false,
                reject_event: "NotAuthorized".to_owned(),
                demo_balance_cents: 5_000_000, // 50 000.00
                real_balance_cents: 100_000,   // 1 000.00
                min_amount_cents: 100,         // 1.00
                max_amount_cents: 2_000_000,   // 20 000.00
                max_open_deals: 20,
                default_delivery: Delivery::TwoStep,
                delivery: HashMap::new(),
                history_items: HistoryItems::Candles,
                close_order_form: CloseOrderForm::Object,
                history_points: 120,
                max_streams: 4,
                push_state_after_auth: true,
                outbound_queue: 256,
                write_timeout: Duration::from_secs(5),
                server_name: "sim-eu-1".to_owned(),
                assets: default_assets(),
                max_message_bytes: 1024 * 1024,
            },
        }
    }
}

fn cents(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

impl SimulatorBuilder {
    /// The address to listen on (default `127.0.0.1:0`: any free port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.config.addr = addr;
        self
    }

    /// The seed of every random choice (default 1).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// Time between ticks of a subscribed asset, and the grid prices sit on (default 500 ms).
    pub fn tick_interval(mut self, tick: Duration) -> Self {
        self.config.tick = tick;
        self
    }

    /// Engine.IO ping interval announced and used (default 25 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config.ping_interval = interval;
        self
    }

    /// How long a client has to answer a ping with `3` (default 20 s).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.config.ping_timeout = timeout;
        self
    }

    /// Divides the real waiting time of every deal: with 10.0, a `time: 60` deal closes
    /// after 6 s. Deal timestamps stay in platform time (`closeTimestamp = open + time`);
    /// the close price is the price at the real closing instant. Default 1.0.
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.config.time_scale = scale;
        self
    }

    /// Which sessions are accepted (default: all well-formed ones).
    pub fn auth_policy(mut self, policy: AuthPolicy) -> Self {
        self.config.auth = policy;
        self
    }

    /// Rejects real sessions whose `user_agent` differs from the upgrade request's
    /// `User-Agent`, as the platform does (default off).
    pub fn check_user_agent(mut self, check: bool) -> Self {
        self.config.check_user_agent = check;
        self
    }

    /// Refuses upgrades whose `Origin` is not `https://pocketoption.com` (default off).
    pub fn check_origin(mut self, check: bool) -> Self {
        self.config.check_origin = check;
        self
    }

    /// The event a rejected auth gets before `41` (default `NotAuthorized`; the platform
    /// has also been seen sending `notAuthorized` and `auth_error`).
    pub fn reject_event(mut self, event: impl Into<String>) -> Self {
        self.config.reject_event = event.into();
        self
    }

    /// Starting balance of every new demo account (default 50 000.00).
    pub fn demo_balance(mut self, amount: f64) -> Self {
        self.config.demo_balance_cents = cents(amount);
        self
    }

    /// Starting balance of every new real account (default 1 000.00).
    pub fn real_balance(mut self, amount: f64) -> Self {
        self.config.real_balance_cents = cents(amount);
        self
    }

    /// Allowed trade amounts (default 1.00 to 20 000.00).
    pub fn amount_limits(mut self, min: f64, max: f64) -> Self {
        self.config.min_amount_cents = cents(min);
        self.config.max_amount_cents = cents(max);
        self
    }

    /// Open deals allowed per account before `MaxDemoTrades`/`MaxRealTrades` (default 20).
    pub fn max_open_deals(mut self, max: usize) -> Self {
        self.config.max_open_deals = max;
        self
    }

    /// Delivery of every server event without an override (default two-step).
    pub fn delivery(mut self, delivery: Delivery) -> Self {
        self.config.default_delivery = delivery;
        self
    }

    /// Delivery of one event (e.g. `("updateStream", Delivery::OneStep)`).
    pub fn delivery_for(mut self, event: impl Into<String>, delivery: Delivery) -> Self {
        self.config.delivery.insert(event.into(), delivery);
        self
    }

    /// Shape of `loadHistoryPeriod` items (default candles).
    pub fn history_items(mut self, items: HistoryItems) -> Self {
        self.config.history_items = items;
        self
    }

    /// Shape of `successcloseOrder`: an object with the top-level `profit` (default) or a
    /// bare array of deals.
    pub fn close_order_form(mut self, form: CloseOrderForm) -> Self {
        self.config.close_order_form = form;
        self
    }

    /// How many `[ts,price]` points `updateHistoryNewFast` carries (default 120).
    pub fn history_points(mut self, points: usize) -> Self {
        self.config.history_points = points;
        self
    }

    /// Whether `successupdateBalance`, `updateOpenedDeals` and `updateClosedDeals` are pushed
    /// right after `successauth` (default on).
    pub fn push_state_after_auth(mut self, push: bool) -> Self {
        self.config.push_state_after_auth = push;
        self
    }

    /// Frames queued per connection before a slow client is dropped (default 256).
    pub fn outbound_queue(mut self, frames: usize) -> Self {
        self.config.outbound_queue = frames;
        self
    }

    /// How long one write may take before the client is dropped as too slow (default 5 s).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.config.write_timeout = timeout;
        self
    }

    /// The `serverName` sent in `successauth`.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.config.server_name = name.into();
        self
    }

    /// Replaces the asset catalog.
    pub fn assets(mut self, assets: Vec<AssetSpec>) -> Self {
        self.config.assets = assets;
        self
    }

    fn validate(&self) -> Result<(), SimError> {
        let c = &self.config;
        let bad = |m: &str| Err(SimError::Config(m.to_owned()));
        if c.tick.is_zero() {
            return bad("the tick interval must be at least 1 ms");
        }
        if c.ping_interval.is_zero() || c.ping_timeout.is_zero() {
            return bad("the ping interval and timeout must be positive");
        }
        if !(c.time_scale.is_finite() && c.time_scale > 0.0) {
            return bad("the time scale must be a positive number");
        }
        if c.outbound_queue == 0 {
            return bad("the outbound queue needs room for at least one frame");
        }
        if c.min_amount_cents <= 0 || c.min_amount_cents > c.max_amount_cents {
            return bad("the amount limits must satisfy 0 < min <= max");
        }
        Ok(())
    }

    /// Binds the listener and starts serving. The simulator stops on
    /// [`SimulatorHandle::shutdown`] or when every handle is dropped.
    pub async fn start(self) -> Result<SimulatorHandle, SimError> {
        self.validate()?;
        Simulator::start(self.config).await
    }
}
