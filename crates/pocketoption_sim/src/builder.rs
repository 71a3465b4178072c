//! The entry point: [`Simulator::builder`] and the [`SimulatorBuilder`] it returns.
//!
//! The builder is the only place settings are chosen. It fills a [`Config`], validates it
//! and starts the server; what can still change once running is steered through the
//! [`Simulator`] that `start` returns. This module sits at the top of the crate: it uses
//! the config, the server and the `simulator` module (whose type gets its `builder()` here),
//! and nothing below uses it.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::{AuthPolicy, CloseOrderForm, Config, Delivery, HistoryItems};
use crate::error::SimError;
use crate::market::AssetSpec;
use crate::server;
use crate::simulator::Simulator;

impl Simulator {
    /// The entry point: a builder with the defaults (loopback, any port, seed 1, 500 ms
    /// ticks). [`SimulatorBuilder::start`] then starts a simulator.
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::default()
    }
}

/// Builds a [`Simulator`]. Start from [`Simulator::builder`].
///
/// ```no_run
/// # async fn run() -> Result<(), pocketoption_sim::SimError> {
/// use pocketoption_sim::Simulator;
/// use std::time::Duration;
/// let sim = Simulator::builder()
///     .with_seed(7)
///     .with_tick_interval(Duration::from_millis(50))
///     .with_time_scale(10.0)
///     .start()
///     .await?;
/// println!("connect to {}", sim.url());
/// sim.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct SimulatorBuilder {
    config: Config,
}

/// Dollars to the integer cents the book keeps.
fn cents(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

impl SimulatorBuilder {
    /// The address to listen on (default `127.0.0.1:0`: any free port).
    pub fn with_addr(mut self, addr: SocketAddr) -> Self {
        self.config.addr = addr;
        self
    }

    /// The seed of every random choice (default 1).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// Time between ticks of a subscribed asset, and the grid prices sit on (default 500 ms).
    pub fn with_tick_interval(mut self, tick: Duration) -> Self {
        self.config.tick = tick;
        self
    }

    /// Engine.IO ping interval announced and used (default 25 s).
    pub fn with_ping_interval(mut self, interval: Duration) -> Self {
        self.config.ping_interval = interval;
        self
    }

    /// How long a client has to answer a ping with `3` (default 20 s).
    pub fn with_ping_timeout(mut self, timeout: Duration) -> Self {
        self.config.ping_timeout = timeout;
        self
    }

    /// Divides the real waiting time of every deal: with 10.0, a `time: 60` deal closes
    /// after 6 s. Deal timestamps stay in platform time (`closeTimestamp = open + time`);
    /// the close price is the price at the real closing instant. Default 1.0.
    pub fn with_time_scale(mut self, scale: f64) -> Self {
        self.config.time_scale = scale;
        self
    }

    /// Which sessions are accepted (default: all well-formed ones).
    pub fn with_auth_policy(mut self, policy: AuthPolicy) -> Self {
        self.config.auth = policy;
        self
    }

    /// Rejects real sessions whose `user_agent` differs from the upgrade request's
    /// `User-Agent`, as the platform does (default off).
    pub fn with_user_agent_check(mut self, check: bool) -> Self {
        self.config.check_user_agent = check;
        self
    }

    /// Refuses upgrades whose `Origin` is not `https://pocketoption.com` (default off).
    pub fn with_origin_check(mut self, check: bool) -> Self {
        self.config.check_origin = check;
        self
    }

    /// The event a rejected auth gets before `41` (default `NotAuthorized`; the platform
    /// has also been seen sending `notAuthorized` and `auth_error`).
    pub fn with_reject_event(mut self, event: impl Into<String>) -> Self {
        self.config.reject_event = event.into();
        self
    }

    /// Starting balance of every new demo account (default 50 000.00).
    pub fn with_demo_balance(mut self, amount: f64) -> Self {
        self.config.demo_balance_cents = cents(amount);
        self
    }

    /// Starting balance of every new real account (default 1 000.00).
    pub fn with_real_balance(mut self, amount: f64) -> Self {
        self.config.real_balance_cents = cents(amount);
        self
    }

    /// Allowed trade amounts (default 1.00 to 20 000.00).
    pub fn with_amount_limits(mut self, min: f64, max: f64) -> Self {
        self.config.min_amount_cents = cents(min);
        self.config.max_amount_cents = cents(max);
        self
    }

    /// Open deals allowed per account before `MaxDemoTrades`/`MaxRealTrades` (default 20).
    pub fn with_max_open_deals(mut self, max: usize) -> Self {
        self.config.max_open_deals = max;
        self
    }

    /// Delivery of every server event without an override (default two-step).
    pub fn with_delivery(mut self, delivery: Delivery) -> Self {
        self.config.default_delivery = delivery;
        self
    }

    /// Delivery of one event (e.g. `("updateStream", Delivery::OneStep)`).
    pub fn with_delivery_for(mut self, event: impl Into<String>, delivery: Delivery) -> Self {
        self.config.delivery.insert(event.into(), delivery);
        self
    }

    /// Shape of `loadHistoryPeriod` items (default candles).
    pub fn with_history_items(mut self, items: HistoryItems) -> Self {
        self.config.history_items = items;
        self
    }

    /// Shape of `successcloseOrder`: an object with the top-level `profit` (default) or a
    /// bare array of deals.
    pub fn with_close_order_form(mut self, form: CloseOrderForm) -> Self {
        self.config.close_order_form = form;
        self
    }

    /// How many `[ts,price]` points `updateHistoryNewFast` carries (default 120).
    pub fn with_history_points(mut self, points: usize) -> Self {
        self.config.history_points = points;
        self
    }

    /// Whether `successupdateBalance`, `updateOpenedDeals` and `updateClosedDeals` are pushed
    /// right after `successauth` (default on).
    pub fn with_state_push_after_auth(mut self, push: bool) -> Self {
        self.config.push_state_after_auth = push;
        self
    }

    /// Frames queued per connection before a slow client is dropped (default 256).
    pub fn with_outbound_queue(mut self, frames: usize) -> Self {
        self.config.outbound_queue = frames;
        self
    }

    /// How long one write may take before the client is dropped as too slow (default 5 s).
    pub fn with_write_timeout(mut self, timeout: Duration) -> Self {
        self.config.write_timeout = timeout;
        self
    }

    /// The `serverName` sent in `successauth`.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.config.server_name = name.into();
        self
    }

    /// Replaces the asset catalog.
    pub fn with_assets(mut self, assets: Vec<AssetSpec>) -> Self {
        self.config.assets = assets;
        self
    }

    /// Binds the listener and starts serving. The simulator stops on
    /// [`Simulator::shutdown`] or when every clone of it is dropped.
    pub async fn start(self) -> Result<Simulator, SimError> {
        self.config.validate()?;
        let running = server::start(self.config).await?;
        Ok(Simulator::new(running))
    }
}
