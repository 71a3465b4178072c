//! The settings of a simulator: [`Config`], its defaults (close to the platform) and its
//! validation, plus the public choices it holds ([`AuthPolicy`], [`Delivery`],
//! [`HistoryItems`], [`CloseOrderForm`]).
//!
//! `Config` is plain data: the builder fills it, the server, the connections and the
//! trading book read it. Once started, what can still change (auth policy, faults, prices,
//! asset flags) is steered through the running `Simulator`, not through the config.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use crate::error::SimError;
use crate::market::{AssetSpec, default_assets};

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

impl Default for Config {
    fn default() -> Self {
        Config {
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
        }
    }
}

impl Config {
    /// Checks the values a simulator cannot run with.
    pub(crate) fn validate(&self) -> Result<(), SimError> {
        let bad = |m: &str| Err(SimError::Config(m.to_owned()));
        if self.tick.is_zero() {
            return bad("the tick interval must be at least 1 ms");
        }
        if self.ping_interval.is_zero() || self.ping_timeout.is_zero() {
            return bad("the ping interval and timeout must be positive");
        }
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return bad("the time scale must be a positive number");
        }
        if self.outbound_queue == 0 {
            return bad("the outbound queue needs room for at least one frame");
        }
        if self.min_amount_cents <= 0 || self.min_amount_cents > self.max_amount_cents {
            return bad("the amount limits must satisfy 0 < min <= max");
        }
        Ok(())
    }

    /// The delivery of `event`.
    pub(crate) fn delivery_of(&self, event: &str) -> Delivery {
        self.delivery
            .get(event)
            .copied()
            .unwrap_or(self.default_delivery)
    }
}
