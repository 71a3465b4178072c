//! [`Simulator`], the running simulator tests hold: addresses, inspection of accounts and
//! deals, market knobs, fault injection, restart and shutdown.
//!
//! A `Simulator` wraps what `server::start` returned. Its clones share one inner value whose
//! drop signals shutdown, so a simulator never outlives every clone. One is made by
//! [`Simulator::builder`] and `SimulatorBuilder::start`; both live in the `builder` module,
//! which comes after this one.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::timeout;

use crate::clock::now_ms;
use crate::config::AuthPolicy;
use crate::error::SimError;
use crate::faults::{BalanceReport, MalformedFrame};
use crate::lock::lock;
use crate::market::AssetSpec;
use crate::server::{Command, Running, SHUTDOWN_GRACE};
use crate::shared::Shared;
use crate::trading::{Deal, PendingOrder};

/// A snapshot of one account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccountSnapshot {
    /// Demo balance.
    pub demo_balance: f64,
    /// Real balance.
    pub real_balance: f64,
}

/// A running simulator: addresses, inspection, market knobs and fault injection.
///
/// Start one with [`Simulator::builder`], then [`start`](crate::SimulatorBuilder::start).
/// Cheap to clone. The simulator stops on [`Simulator::shutdown`], or when the last clone
/// is dropped.
#[derive(Debug, Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
    tasks: Mutex<Option<(JoinHandle<()>, JoinHandle<()>)>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.control.send_modify(|c| c.shutdown = true);
    }
}

impl Simulator {
    /// Takes over a started simulator; it stops when the last clone is dropped.
    pub(crate) fn new(running: Running) -> Self {
        let Running {
            shared,
            commands,
            accept,
            settle,
        } = running;
        Simulator {
            inner: Arc::new(Inner {
                shared,
                commands,
                tasks: Mutex::new(Some((accept, settle))),
            }),
        }
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared().addr
    }

    /// The WebSocket URL a client connects to:
    /// `ws://<addr>/socket.io/?EIO=4&transport=websocket`.
    pub fn url(&self) -> String {
        format!("ws://{}/socket.io/?EIO=4&transport=websocket", self.addr())
    }

    /// The seed in use.
    pub fn seed(&self) -> u64 {
        self.shared().config.seed
    }

    /// The tick interval (also the price grid).
    pub fn tick_interval(&self) -> Duration {
        self.shared().config.tick
    }

    /// Connections open right now (WebSocket established).
    pub fn active_connections(&self) -> usize {
        *self.shared().active.borrow()
    }

    /// TCP connections accepted since start.
    pub fn connections_accepted(&self) -> u64 {
        self.shared().accepted.load(Ordering::Relaxed)
    }

    /// How many `event` frames clients have sent (all connections, since start). Counts
    /// `auth` and every event of an authenticated session, e.g. `changeSymbol`, `subfor`,
    /// `openOrder`.
    pub fn events_received(&self, event: &str) -> u64 {
        lock(&self.shared().events).get(event).copied().unwrap_or(0)
    }

    /// Waits until exactly `n` connections are open.
    pub async fn wait_for_connections(&self, n: usize, within: Duration) -> Result<(), SimError> {
        let mut rx = self.shared().active.subscribe();
        timeout(within, rx.wait_for(|&active| active == n))
            .await
            .map_err(|_| SimError::Timeout {
                after: within,
                waiting_for: "the number of open connections",
            })?
            .map(|_| ())
            .map_err(|_| SimError::ShutDown)
    }

    /// The asset catalog as configured now.
    pub fn assets(&self) -> Vec<AssetSpec> {
        self.shared().market.assets()
    }

    /// The price of `asset` at the grid point at or before `unix_ms`.
    pub fn price_at(&self, asset: &str, unix_ms: i64) -> Result<f64, SimError> {
        self.shared()
            .market
            .price_at(asset, unix_ms)
            .ok_or_else(|| SimError::UnknownAsset(asset.to_owned()))
    }

    /// The current price of `asset`.
    pub fn current_price(&self, asset: &str) -> Result<f64, SimError> {
        self.price_at(asset, now_ms())
    }

    /// Forces `asset`'s price from the current grid point on, until [`unpin_price`]
    /// (ticks, history and settlement all see it). This is how tests force trade outcomes:
    /// pin, open a deal, pin higher/lower/equal, and the deal wins, loses or draws.
    ///
    /// [`unpin_price`]: Simulator::unpin_price
    pub fn pin_price(&self, asset: &str, price: f64) -> Result<(), SimError> {
        if self.shared().market.pin(asset, price, now_ms()) {
            Ok(())
        } else {
            Err(SimError::UnknownAsset(asset.to_owned()))
        }
    }

    /// Lets `asset` follow its seeded path again from the current grid point.
    pub fn unpin_price(&self, asset: &str) {
        self.shared().market.unpin(asset, now_ms());
    }

    /// Opens or closes `asset` for trading.
    pub fn set_asset_active(&self, asset: &str, active: bool) -> Result<(), SimError> {
        self.update_asset(asset, |a| a.active = active)
    }

    /// Changes `asset`'s payout percent.
    pub fn set_payout(&self, asset: &str, payout: u8) -> Result<(), SimError> {
        self.update_asset(asset, |a| a.payout = payout)
    }

    fn update_asset(&self, asset: &str, f: impl FnOnce(&mut AssetSpec)) -> Result<(), SimError> {
        if self.shared().market.update_asset(asset, f) {
            Ok(())
        } else {
            Err(SimError::UnknownAsset(asset.to_owned()))
        }
    }

    /// Replaces the auth policy (for auths from now on).
    pub fn set_auth_policy(&self, policy: AuthPolicy) {
        *lock(&self.shared().auth) = policy;
    }

    /// Both balances of `uid`, if the account exists (it is created at first auth).
    pub fn account(&self, uid: u64) -> Option<AccountSnapshot> {
        lock(&self.shared().book)
            .existing_account(uid)
            .map(|a| AccountSnapshot {
                demo_balance: a.demo_cents as f64 / 100.0,
                real_balance: a.real_cents as f64 / 100.0,
            })
    }

    /// Sets a balance (creating the account if needed). Connected clients are not told
    /// until they ask (`getBalance`) or a deal changes it.
    pub fn set_balance(&self, uid: u64, demo: bool, amount: f64) {
        let shared = self.shared();
        lock(&shared.book).set_balance(uid, demo, (amount * 100.0).round() as i64, &shared.config);
    }

    /// Every open deal.
    pub fn open_deals(&self) -> Vec<Deal> {
        lock(&self.shared().book).all_open().to_vec()
    }

    /// Every pending order waiting for its trigger.
    pub fn pending_orders(&self) -> Vec<PendingOrder> {
        lock(&self.shared().book).all_pending().to_vec()
    }

    /// Every closed deal (oldest first; the most recent 2000 are kept).
    pub fn closed_deals(&self) -> Vec<Deal> {
        lock(&self.shared().book).all_closed().to_vec()
    }

    /// Fault: drops every open connection now, without a close frame (like a crashed
    /// server or a cut cable). New connections are accepted as usual.
    pub fn drop_all_connections(&self) {
        tracing::info!("fault: dropping every connection");
        self.shared().drop_all();
    }

    /// Fault: while on, the server says nothing at all (no open packet, pings, replies,
    /// ticks or deal results) and ignores what it receives, but keeps every TCP connection
    /// open. Ping deadlines are suspended and restart from zero when it is switched off.
    pub fn set_silent(&self, silent: bool) {
        tracing::info!(silent, "fault: silence");
        self.shared().faults.set_silent(silent);
    }

    /// Fault: answers every WebSocket upgrade with HTTP 503 for `duration`.
    pub fn refuse_connections_for(&self, duration: Duration) {
        tracing::info!(?duration, "fault: refusing connections");
        self.shared().faults.refuse_for(duration);
    }

    /// Fault: sends `kind` to every open connection; returns how many got it.
    pub fn send_malformed(&self, kind: MalformedFrame) -> usize {
        tracing::info!(kind = kind.name(), "fault: sending malformed frames");
        let frames = kind.frames();
        lock(&self.shared().registry)
            .values()
            .filter(|entry| entry.push_or_kick(frames.clone()))
            .count()
    }

    /// Fault: delays every reply to a client request by `delay` (pings, ticks and pushes
    /// are not delayed). Zero switches it off.
    pub fn set_reply_delay(&self, delay: Duration) {
        tracing::info!(?delay, "fault: reply delay");
        self.shared().faults.set_reply_delay(delay);
    }

    /// Platform behaviour: when the balance report (with the deal lists) goes out
    /// relative to the deal event that changed the balance — an opened deal, a pending
    /// order executed, a settlement. The default is right after it.
    pub fn set_balance_report(&self, report: BalanceReport) {
        tracing::info!(?report, "balance report timing");
        self.shared().faults.set_balance_report(report);
    }

    /// Fault: a restart. Closes the listener and drops every connection, stays down for
    /// `downtime` (connection attempts are refused by the OS), then listens again on the
    /// same address. Accounts, deals and prices survive, as on the platform.
    pub async fn restart(&self, downtime: Duration) -> Result<(), SimError> {
        let (done, result) = oneshot::channel();
        self.inner
            .commands
            .send(Command::Restart { downtime, done })
            .await
            .map_err(|_| SimError::ShutDown)?;
        let within = downtime + Duration::from_secs(5);
        timeout(within, result)
            .await
            .map_err(|_| SimError::Timeout {
                after: within,
                waiting_for: "the simulator to restart",
            })?
            .map_err(|_| SimError::ShutDown)?
    }

    /// Stops everything: the listener, every connection, the settlement loop. Waits (at most
    /// a few seconds) until every task has ended. Calling it twice is harmless.
    pub async fn shutdown(&self) -> Result<(), SimError> {
        self.shared().control.send_modify(|c| c.shutdown = true);
        let tasks = lock(&self.inner.tasks).take();
        let Some((accept, settle)) = tasks else {
            return Ok(());
        };
        let within = SHUTDOWN_GRACE + Duration::from_secs(2);
        let joined = timeout(within, async {
            let _ = accept.await;
            let _ = settle.await;
        })
        .await;
        joined.map_err(|_| SimError::Timeout {
            after: within,
            waiting_for: "the simulator's tasks to stop",
        })
    }
}
