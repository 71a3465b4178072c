//! The server: the listener and its accept loop, the settlement loop, the state every
//! connection shares, and [`SimulatorHandle`], the steering wheel tests hold.
//!
//! Two long-lived tasks run per simulator: the accept loop (which owns every connection
//! task in a `JoinSet`, so none outlives it) and the settlement loop (which closes deals at
//! expiry whether or not their owner is still connected, as the platform does). Both stop
//! on [`SimulatorHandle::shutdown`] or when the last handle is dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;

use crate::clock::now_ms;
use crate::config::{AuthPolicy, Config, Delivery, SimulatorBuilder};
use crate::connection;
use crate::error::SimError;
use crate::faults::{BalanceReport, Faults, MalformedFrame};
use crate::market::{AssetSpec, Market};
use crate::prng::Sequence;
use crate::trading::{Book, CLOSED_LIST_LEN, Deal, PendingOrder, balance_json};

/// How long shutdown waits for connections to close before aborting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The entry point: [`Simulator::builder`].
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// A builder with the defaults (loopback, any port, seed 1, 500 ms ticks).
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::default()
    }

    pub(crate) async fn start(config: Config) -> Result<SimulatorHandle, SimError> {
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|e| SimError::Bind {
                addr: config.addr,
                source: Arc::new(e),
            })?;
        let addr = listener.local_addr().map_err(|e| SimError::Bind {
            addr: config.addr,
            source: Arc::new(e),
        })?;
        let shared = Arc::new(Shared {
            market: Market::new(
                config.seed,
                config.tick.as_millis().max(1) as u64,
                config.assets.clone(),
            ),
            book: Mutex::new(Book::new(config.seed)),
            faults: Faults::new(),
            auth: Mutex::new(config.auth.clone()),
            registry: Mutex::new(HashMap::new()),
            control: watch::Sender::new(Control::default()),
            settle_wake: Notify::new(),
            active: watch::Sender::new(0),
            accepted: AtomicU64::new(0),
            events: Mutex::new(HashMap::new()),
            ids: Mutex::new(Sequence::new(config.seed, 1)),
            addr,
            config,
        });
        let (commands, command_rx) = mpsc::channel(8);
        let accept = tokio::spawn(accept_loop(shared.clone(), listener, command_rx));
        let settle = tokio::spawn(settlement_loop(shared.clone()));
        tracing::info!(%addr, seed = shared.config.seed, "simulator listening");
        Ok(SimulatorHandle {
            inner: Arc::new(HandleInner {
                shared,
                commands,
                tasks: Mutex::new(Some((accept, settle))),
            }),
        })
    }
}

/// What every connection watches: a generation bumped to drop them all, and shutdown.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Control {
    pub drop_generation: u64,
    pub shutdown: bool,
}

/// A live connection, as the rest of the simulator can reach it.
#[derive(Debug)]
pub(crate) struct ConnEntry {
    pub account: Option<(u64, bool)>,
    pub tx: mpsc::Sender<Vec<Message>>,
    pub kick: Arc<Notify>,
}

/// State shared by the accept loop, the connections, the settlement loop and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    pub market: Market,
    pub book: Mutex<Book>,
    pub faults: Faults,
    pub auth: Mutex<AuthPolicy>,
    pub registry: Mutex<HashMap<u64, ConnEntry>>,
    pub control: watch::Sender<Control>,
    pub settle_wake: Notify,
    pub active: watch::Sender<usize>,
    pub accepted: AtomicU64,
    /// Client events received (after auth, plus `auth` itself), by name.
    pub events: Mutex<HashMap<String, u64>>,
    pub ids: Mutex<Sequence>,
    pub addr: SocketAddr,
}

/// Locks a mutex whose data stays consistent even if a holder panicked (every critical
/// section here either completes its update or makes none).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// The frames of `event` carrying `payload`, one- or two-step as configured.
    pub(crate) fn event_frames(&self, event: &str, payload: &Value) -> Vec<Message> {
        let json = payload.to_string();
        match self.config.delivery_of(event) {
            Delivery::OneStep => vec![Message::text(binary_options_tools::socketio::encode_event(
                event,
                Some(&json),
            ))],
            Delivery::TwoStep => vec![
                Message::text(binary_options_tools::socketio::encode_binary_event_header(
                    event, 1,
                )),
                Message::binary(json.into_bytes()),
            ],
        }
    }

    /// Queues frames on every connection logged into (uid, demo); a connection whose queue
    /// is full is kicked as too slow.
    pub(crate) fn push_to_account(&self, uid: u64, demo: bool, frames: &[Message]) {
        for entry in lock(&self.registry).values() {
            if entry.account == Some((uid, demo)) {
                push_or_kick(entry, frames.to_vec());
            }
        }
    }

    /// The account's state pushes: balance, open deals, closed deals.
    pub(crate) fn account_state_frames(&self, uid: u64, demo: bool) -> Vec<Message> {
        let (balance, opened, closed) = {
            let book = lock(&self.book);
            let balance = book
                .existing_account(uid)
                .map(|a| if demo { a.demo_cents } else { a.real_cents })
                .unwrap_or(0);
            let opened: Vec<Value> = book
                .open_deals(uid, demo)
                .iter()
                .map(|d| d.to_json())
                .collect();
            let closed: Vec<Value> = book
                .closed_deals(uid, demo, CLOSED_LIST_LEN)
                .iter()
                .map(|d| d.to_json())
                .collect();
            (balance, opened, closed)
        };
        let mut frames =
            self.event_frames("successupdateBalance", &balance_json(uid, demo, balance));
        frames.extend(self.event_frames("updateOpenedDeals", &Value::Array(opened)));
        frames.extend(self.event_frames("updateClosedDeals", &Value::Array(closed)));
        frames
    }

    /// The frames of a deal event that changed (uid, demo)'s balance, with the account
    /// state ordered as [`BalanceReport`] says. With a delay, the state is pushed to every
    /// connection of the account later (by a short-lived timer task) and only the deal
    /// frames are returned.
    pub(crate) fn with_account_state(
        self: &Arc<Self>,
        uid: u64,
        demo: bool,
        deal: Vec<Message>,
    ) -> Vec<Message> {
        match self.faults.balance_report() {
            BalanceReport::AfterDeal => {
                let mut frames = deal;
                frames.extend(self.account_state_frames(uid, demo));
                frames
            }
            BalanceReport::BeforeDeal => {
                let mut frames = self.account_state_frames(uid, demo);
                frames.extend(deal);
                frames
            }
            BalanceReport::Delayed(delay) => {
                let shared = self.clone();
                tokio::spawn(async move {
                    sleep(delay).await;
                    let state = shared.account_state_frames(uid, demo);
                    shared.push_to_account(uid, demo, &state);
                });
                deal
            }
        }
    }

    fn set_active(&self) {
        let n = lock(&self.registry).len();
        self.active.send_replace(n);
    }

    pub(crate) fn register(&self, id: u64, entry: ConnEntry) {
        lock(&self.registry).insert(id, entry);
        self.set_active();
    }

    pub(crate) fn unregister(&self, id: u64) {
        lock(&self.registry).remove(&id);
        self.set_active();
    }

    pub(crate) fn set_account(&self, id: u64, account: Option<(u64, bool)>) {
        if let Some(entry) = lock(&self.registry).get_mut(&id) {
            entry.account = account;
        }
    }

    pub(crate) fn next_sid(&self) -> String {
        lock(&self.ids).token(20)
    }

    fn drop_all(&self) {
        self.control.send_modify(|c| c.drop_generation += 1);
    }
}

fn push_or_kick(entry: &ConnEntry, frames: Vec<Message>) -> bool {
    match entry.tx.try_send(frames) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            entry.kick.notify_one();
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

enum Command {
    Restart {
        downtime: Duration,
        done: oneshot::Sender<Result<(), SimError>>,
    },
}

enum AcceptEvent {
    Accepted(std::io::Result<(tokio::net::TcpStream, SocketAddr)>),
    Command(Option<Command>),
    Control,
    Reaped,
}

async fn accept_loop(
    shared: Arc<Shared>,
    mut listener: TcpListener,
    mut commands: mpsc::Receiver<Command>,
) {
    let mut connections = JoinSet::new();
    let mut control = shared.control.subscribe();
    let mut next_id = 0_u64;
    loop {
        if control.borrow_and_update().shutdown {
            break;
        }
        let event = tokio::select! {
            accepted = listener.accept() => AcceptEvent::Accepted(accepted),
            command = commands.recv() => AcceptEvent::Command(command),
            changed = control.changed() => {
                if changed.is_err() { break; }
                AcceptEvent::Control
            }
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = joined {
                    if e.is_panic() {
                        tracing::error!("a connection task panicked: {e}");
                    }
                }
                AcceptEvent::Reaped
            }
        };
        match event {
            AcceptEvent::Accepted(Ok((tcp, peer))) => {
                next_id += 1;
                shared.accepted.fetch_add(1, Ordering::Relaxed);
                connections.spawn(connection::serve(shared.clone(), tcp, peer, next_id));
            }
            AcceptEvent::Accepted(Err(e)) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                sleep(Duration::from_millis(50)).await;
            }
            AcceptEvent::Command(Some(Command::Restart { downtime, done })) => {
                tracing::info!(
                    ?downtime,
                    "restart: closing the listener and every connection"
                );
                drop(listener);
                shared.drop_all();
                let shutdown = tokio::select! {
                    _ = sleep(downtime) => false,
                    _ = wait_shutdown(&mut control) => true,
                };
                if shutdown {
                    let _ = done.send(Err(SimError::ShutDown));
                    break;
                }
                match rebind(shared.addr).await {
                    Ok(l) => {
                        listener = l;
                        tracing::info!(addr = %shared.addr, "restart: listening again");
                        let _ = done.send(Ok(()));
                    }
                    Err(e) => {
                        tracing::error!("restart: could not listen again: {e}");
                        let _ = done.send(Err(e));
                        shared.control.send_modify(|c| c.shutdown = true);
                        break;
                    }
                }
            }
            AcceptEvent::Command(None) | AcceptEvent::Control | AcceptEvent::Reaped => {}
        }
    }
    shared.control.send_modify(|c| c.shutdown = true);
    let drained = timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("connections did not close in time; aborting them");
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    tracing::info!("simulator stopped");
}

async fn wait_shutdown(control: &mut watch::Receiver<Control>) {
    // Returns when shutdown is requested or the sender is gone.
    let _ = control.wait_for(|c| c.shutdown).await;
}

async fn rebind(addr: SocketAddr) -> Result<TcpListener, SimError> {
    let mut last = None;
    for _ in 0..20 {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
        sleep(Duration::from_millis(50)).await;
    }
    Err(SimError::Bind {
        addr,
        source: Arc::new(last.unwrap_or_else(|| std::io::Error::other("bind failed"))),
    })
}

async fn settlement_loop(shared: Arc<Shared>) {
    let mut control = shared.control.subscribe();
    let tick_ms = shared.config.tick.as_millis().max(1) as i64;
    loop {
        let next = {
            let book = lock(&shared.book);
            let pending = book
                .next_pending_check(now_ms(), tick_ms)
                .map(|ms| Instant::now() + Duration::from_millis(ms as u64));
            match (book.next_settlement(), pending) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        tokio::select! {
            _ = sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                execute_pending(&shared);
                settle(&shared);
            }
            _ = shared.settle_wake.notified() => {}
            _ = wait_shutdown(&mut control) => break,
        }
    }
}

/// Turns triggered pending orders into deals, as if their owner had sent `openOrder`.
fn execute_pending(shared: &Arc<Shared>) {
    let fired = lock(&shared.book).take_triggered(&shared.market, now_ms());
    for pending in fired {
        let order = pending.as_order();
        let opened = lock(&shared.book).open_order(
            pending.uid,
            pending.is_demo,
            &order,
            &shared.market,
            &shared.config,
            (now_ms(), Instant::now()),
        );
        let frames = match opened {
            Ok(deal) => {
                tracing::info!(uid = deal.uid, asset = %deal.asset, "pending order executed");
                let frames = shared.event_frames("successopenOrder", &deal.to_json());
                shared.with_account_state(pending.uid, pending.is_demo, frames)
            }
            Err(refusal) => {
                tracing::info!(uid = pending.uid, error = refusal.0, "pending order failed");
                shared.event_frames(
                    "failopenOrder",
                    &json!({ "error": refusal.0, "amount": order.amount, "asset": order.asset }),
                )
            }
        };
        shared.push_to_account(pending.uid, pending.is_demo, &frames);
    }
}

/// Closes due deals and tells their owners: `successcloseOrder`, then the account state.
fn settle(shared: &Arc<Shared>) {
    let closed = lock(&shared.book).settle_due(Instant::now(), &shared.market, &shared.config);
    let mut by_account: HashMap<(u64, bool), Vec<Deal>> = HashMap::new();
    for deal in closed {
        tracing::info!(
            uid = deal.uid,
            asset = %deal.asset,
            outcome = ?deal.outcome,
            profit = deal.profit_cents as f64 / 100.0,
            "deal closed"
        );
        by_account
            .entry((deal.uid, deal.is_demo))
            .or_default()
            .push(deal);
    }
    for ((uid, demo), deals) in by_account {
        let total: i64 = deals.iter().map(|d| d.profit_cents).sum();
        let payload = json!({
            "profit": total as f64 / 100.0,
            "deals": deals.iter().map(Deal::to_json).collect::<Vec<_>>(),
        });
        let frames = shared.event_frames("successcloseOrder", &payload);
        let frames = shared.with_account_state(uid, demo, frames);
        shared.push_to_account(uid, demo, &frames);
    }
}

/// A snapshot of one account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccountSnapshot {
    /// Demo balance.
    pub demo_balance: f64,
    /// Real balance.
    pub real_balance: f64,
}

/// Steers a running simulator: addresses, inspection, market knobs and fault injection.
///
/// Cheap to clone. The simulator stops on [`SimulatorHandle::shutdown`], or when the last
/// clone is dropped.
#[derive(Debug, Clone)]
pub struct SimulatorHandle {
    inner: Arc<HandleInner>,
}

#[derive(Debug)]
struct HandleInner {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
    tasks: Mutex<Option<(JoinHandle<()>, JoinHandle<()>)>>,
}

impl Drop for HandleInner {
    fn drop(&mut self) {
        self.shared.control.send_modify(|c| c.shutdown = true);
    }
}

impl SimulatorHandle {
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
    /// [`unpin_price`]: SimulatorHandle::unpin_price
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
            .filter(|entry| push_or_kick(entry, frames.clone()))
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
