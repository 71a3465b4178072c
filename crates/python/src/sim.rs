//! `Simulator`: the project's PocketOption simulator, started and stopped from Python,
//! for paper trading and for testing bots (`binary_options_tools.testing` has the pytest
//! fixture). It runs on the package's tokio runtime, in this process, on loopback.

use std::collections::HashSet;
use std::time::Duration;

use pocketoption_sim::{AuthPolicy, HistoryItems, MalformedFrame, SimError, Simulator};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors;
use crate::run::{block_on, runtime, seconds as to_duration};

fn sim_error(error: SimError) -> PyErr {
    errors::raise("SimulatorError", error.to_string(), vec![])
}

fn need(value: Option<Duration>, what: &str) -> PyResult<Duration> {
    value.ok_or_else(|| errors::invalid(format!("{what} is required")))
}

/// A running simulator.
#[pyclass(
    frozen,
    module = "binary_options_tools._native",
    name = "NativeSimulator"
)]
pub(crate) struct NativeSimulator {
    sim: Simulator,
}

#[pymethods]
impl NativeSimulator {
    /// Starts a simulator on a free loopback port (blocks until it listens).
    #[new]
    #[pyo3(signature = (
        seed = 1,
        tick_interval = 0.5,
        time_scale = 1.0,
        demo_balance = None,
        max_open_deals = None,
        ping_interval = None,
        ping_timeout = None,
        reject_sessions = false,
        history_prices = false,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        seed: u64,
        tick_interval: f64,
        time_scale: f64,
        demo_balance: Option<f64>,
        max_open_deals: Option<usize>,
        ping_interval: Option<f64>,
        ping_timeout: Option<f64>,
        reject_sessions: bool,
        history_prices: bool,
    ) -> PyResult<NativeSimulator> {
        let mut builder = Simulator::builder()
            .with_seed(seed)
            .with_tick_interval(need(
                to_duration(Some(tick_interval), "a tick interval")?,
                "",
            )?)
            .with_time_scale(time_scale);
        if let Some(balance) = demo_balance {
            builder = builder.with_demo_balance(balance);
        }
        if let Some(max) = max_open_deals {
            builder = builder.with_max_open_deals(max);
        }
        if let Some(interval) = to_duration(ping_interval, "a ping interval")? {
            builder = builder.with_ping_interval(interval);
        }
        if let Some(timeout) = to_duration(ping_timeout, "a ping timeout")? {
            builder = builder.with_ping_timeout(timeout);
        }
        if history_prices {
            builder = builder.with_history_items(HistoryItems::Prices);
        }
        if reject_sessions {
            builder = builder.with_auth_policy(AuthPolicy::RejectAll);
        }
        let sim = block_on(py, async move {
            runtime()
                .spawn(builder.start())
                .await
                .map_err(|e| errors::raise("InternalError", e.to_string(), vec![]))?
                .map_err(sim_error)
        })?;
        Ok(NativeSimulator { sim })
    }

    /// The WebSocket URL to connect to.
    #[getter]
    fn url(&self) -> String {
        self.sim.url()
    }

    /// The port it listens on.
    #[getter]
    fn port(&self) -> u16 {
        self.sim.addr().port()
    }

    /// The seed.
    #[getter]
    fn seed(&self) -> u64 {
        self.sim.seed()
    }

    /// Open client connections.
    fn active_connections(&self) -> usize {
        self.sim.active_connections()
    }

    /// Connections accepted so far.
    fn connections_accepted(&self) -> u64 {
        self.sim.connections_accepted()
    }

    /// How many `event` frames clients sent.
    fn events_received(&self, event: &str) -> u64 {
        self.sim.events_received(event)
    }

    /// Waits until at least `n` clients are connected.
    fn wait_for_connections(&self, py: Python<'_>, n: usize, timeout: f64) -> PyResult<()> {
        let sim = self.sim.clone();
        let within = need(to_duration(Some(timeout), "a timeout")?, "a timeout")?;
        block_on(py, async move {
            sim.wait_for_connections(n, within).await.map_err(sim_error)
        })
    }

    /// Every asset symbol of the catalog.
    fn asset_symbols(&self) -> Vec<String> {
        self.sim.assets().into_iter().map(|a| a.symbol).collect()
    }

    /// The price of `asset` now.
    fn current_price(&self, asset: &str) -> PyResult<f64> {
        self.sim.current_price(asset).map_err(sim_error)
    }

    /// Pins `asset`'s price (forces trade outcomes).
    fn pin(&self, asset: &str, price: f64) -> PyResult<()> {
        if !price.is_finite() || price <= 0.0 {
            return Err(errors::invalid(format!(
                "a price of {price}: use a positive number"
            )));
        }
        self.sim.pin_price(asset, price).map_err(sim_error)
    }

    /// Lets `asset`'s price move again.
    fn unpin(&self, asset: &str) {
        self.sim.unpin_price(asset);
    }

    /// Opens or closes `asset` for trading.
    fn set_asset_active(&self, asset: &str, active: bool) -> PyResult<()> {
        self.sim.set_asset_active(asset, active).map_err(sim_error)
    }

    /// Sets `asset`'s payout percent.
    fn set_payout(&self, asset: &str, payout: u8) -> PyResult<()> {
        self.sim.set_payout(asset, payout).map_err(sim_error)
    }

    /// Accepts every session (`None`), rejects every one (empty list), or only these tokens.
    fn set_accepted_sessions(&self, sessions: Option<Vec<String>>) {
        self.sim.set_auth_policy(match sessions {
            None => AuthPolicy::AcceptAll,
            Some(list) if list.is_empty() => AuthPolicy::RejectAll,
            Some(list) => AuthPolicy::AcceptOnly(list.into_iter().collect::<HashSet<_>>()),
        });
    }

    /// The account's demo and real balances (`None` before its first auth).
    fn account<'py>(&self, py: Python<'py>, uid: u64) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(account) = self.sim.account(uid) else {
            return Ok(None);
        };
        let dict = PyDict::new(py);
        dict.set_item("demo_balance", account.demo_balance)?;
        dict.set_item("real_balance", account.real_balance)?;
        Ok(Some(dict))
    }

    /// Sets a balance.
    fn set_balance(&self, uid: u64, demo: bool, amount: f64) {
        self.sim.set_balance(uid, demo, amount);
    }

    /// How many deals are open.
    fn open_deal_count(&self) -> usize {
        self.sim.open_deals().len()
    }

    /// How many deals closed.
    fn closed_deal_count(&self) -> usize {
        self.sim.closed_deals().len()
    }

    /// Fault: drops every connection now, without a close frame.
    fn drop_connections(&self) {
        let _entered = runtime().enter();
        self.sim.drop_all_connections();
    }

    /// Fault: while on, the server says nothing at all but keeps connections open.
    fn set_silent(&self, silent: bool) {
        self.sim.set_silent(silent);
    }

    /// Fault: refuses upgrades with HTTP 503 for `seconds`.
    fn refuse_connections_for(&self, seconds: f64) -> PyResult<()> {
        let duration = need(to_duration(Some(seconds), "a duration")?, "a duration")?;
        self.sim.refuse_connections_for(duration);
        Ok(())
    }

    /// Fault: delays every reply by `seconds` (0 switches it off).
    fn set_reply_delay(&self, seconds: f64) -> PyResult<()> {
        let delay = need(to_duration(Some(seconds), "a delay")?, "a delay")?;
        self.sim.set_reply_delay(delay);
        Ok(())
    }

    /// Fault: sends a malformed frame of `kind` to every connection; returns how many got it.
    fn send_malformed(&self, kind: &str) -> PyResult<usize> {
        let kind = MalformedFrame::from_name(kind).ok_or_else(|| {
            let names: Vec<&str> = MalformedFrame::ALL.iter().map(|k| k.name()).collect();
            errors::invalid(format!(
                "a malformed frame of kind `{kind}`: use one of {}",
                names.join(", ")
            ))
        })?;
        let _entered = runtime().enter();
        Ok(self.sim.send_malformed(kind))
    }

    /// Fault: a restart with `downtime` seconds down (blocks until it listens again).
    fn restart(&self, py: Python<'_>, downtime: f64) -> PyResult<()> {
        let sim = self.sim.clone();
        let downtime = need(to_duration(Some(downtime), "a downtime")?, "a downtime")?;
        block_on(py, async move {
            runtime()
                .spawn(async move { sim.restart(downtime).await })
                .await
                .map_err(|e| errors::raise("InternalError", e.to_string(), vec![]))?
                .map_err(sim_error)
        })
    }

    /// Stops the simulator (harmless twice).
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let sim = self.sim.clone();
        block_on(py, async move {
            runtime()
                .spawn(async move { sim.shutdown().await })
                .await
                .map_err(|e| errors::raise("InternalError", e.to_string(), vec![]))?
                .map_err(sim_error)
        })
    }
}
