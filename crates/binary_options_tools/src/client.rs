//! [`PocketOption`]: the high-level client a bot author uses.
//!
//! ```no_run
//! # async fn demo() -> Result<(), binary_options_tools::Error> {
//! use std::time::Duration;
//! use binary_options_tools::{Action, Decimal, PocketOption, SubscriptionKind};
//! use futures::StreamExt;
//!
//! let client = PocketOption::new(r#"42["auth",{"session":"…","isDemo":1,"uid":1,"platform":2}]"#).await?;
//! println!("balance: {}", client.balance().await?);
//! let mut candles = client.subscribe("EURUSD_otc", SubscriptionKind::Candles(Duration::from_secs(5))).await?;
//! if let Some(candle) = candles.next().await {
//!     println!("{candle:?}");
//! }
//! let deal = client.trade("EURUSD_otc", Action::Call, Decimal::from(1), Duration::from_secs(60)).await?;
//! let result = client.result(&deal.id).await?;
//! println!("{:?}: {}", result.outcome, result.profit);
//! client.shutdown().await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use client_ws::WsConfig;
use core_pre::runtime::{self, SystemTime};
use core_pre::{
    Client, ClientBuilder, ConnectionState, Message, ModuleStatus, ReconnectPolicy,
    RouteStatsSnapshot, Statistics, StatisticsSnapshot,
};
use rust_decimal::Decimal;
use tokio::sync::watch;

use crate::connector::{DEFAULT_USER_AGENT, PocketOptionConnector, platform_ws_config};
use crate::engineio;
use crate::error::{ConnectReport, Error};
use crate::limits::FrameLimits;
use crate::modules::account::AccountModule;
use crate::modules::deals::{DealsHandle, DealsModule};
use crate::modules::history::{HistoryHandle, HistoryModule, TickRange};
use crate::modules::pending::{PendingHandle, PendingOrder, PendingOrderRequest};
use crate::modules::raw::{RawHandle, RawModule};
use crate::modules::subscriptions::{
    DEFAULT_STREAM_BUFFER, SubscriptionKind, SubscriptionStream, SubscriptionsHandle,
    SubscriptionsModule, resubscribe,
};
use crate::modules::trades::{Order, TradesHandle, TradesModule};
use crate::regions;
use crate::server_time::ServerTime;
use crate::ssid::Ssid;
use crate::state::PocketOptionState;
use crate::types::{Action, Asset, Candle, Deal, DealId, DealResult, Tick, unix_secs};

/// Timeouts of a [`PocketOption`] client.
///
/// Start from the defaults and change what you need (new fields may be added, so the
/// struct cannot be built literally outside this crate):
///
/// ```
/// use std::time::Duration;
/// use binary_options_tools::Timeouts;
///
/// let timeouts = Timeouts::default()
///     .with_connect(Duration::from_secs(60))
///     .with_request(Duration::from_secs(20));
/// assert_eq!(timeouts.request, Duration::from_secs(20));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Waiting for the first connection in [`PocketOptionBuilder::connect`] (default 30 s).
    pub connect: Duration,
    /// Opening the WebSocket in one connection attempt: name lookup, TCP, TLS and the
    /// upgrade (default 10 s; applies to the default transport settings, not to a
    /// [`with_ws_config`](PocketOptionBuilder::with_ws_config) template).
    pub attempt: Duration,
    /// The handshake and authentication after the WebSocket opened (default 10 s).
    pub handshake: Duration,
    /// Orders, history pages and data the platform sends on connect (default 10 s).
    pub request: Duration,
    /// Added to a deal's expiry when waiting for its result (default 15 s).
    pub result_grace: Duration,
    /// How often the client tells the platform it is alive with `42["ps"]` (default 20 s;
    /// the platform expects one about every 20 s).
    pub keep_alive: Duration,
    /// A connection that delivers nothing for this long is taken for dead and replaced
    /// (default 50 s: the platform pings about every 25 s, so two missed pings).
    pub read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            attempt: Duration::from_secs(10),
            handshake: Duration::from_secs(10),
            request: Duration::from_secs(10),
            result_grace: Duration::from_secs(15),
            keep_alive: Duration::from_secs(20),
            read: Duration::from_secs(50),
        }
    }
}

impl Timeouts {
    /// Sets [`connect`](Self::connect).
    pub fn with_connect(mut self, wait: Duration) -> Self {
        self.connect = wait;
        self
    }

    /// Sets [`attempt`](Self::attempt).
    pub fn with_attempt(mut self, wait: Duration) -> Self {
        self.attempt = wait;
        self
    }

    /// Sets [`handshake`](Self::handshake).
    pub fn with_handshake(mut self, wait: Duration) -> Self {
        self.handshake = wait;
        self
    }

    /// Sets [`request`](Self::request).
    pub fn with_request(mut self, wait: Duration) -> Self {
        self.request = wait;
        self
    }

    /// Sets [`result_grace`](Self::result_grace).
    pub fn with_result_grace(mut self, grace: Duration) -> Self {
        self.result_grace = grace;
        self
    }

    /// Sets [`keep_alive`](Self::keep_alive).
    pub fn with_keep_alive(mut self, interval: Duration) -> Self {
        self.keep_alive = interval;
        self
    }

    /// Sets [`read`](Self::read).
    pub fn with_read(mut self, silence: Duration) -> Self {
        self.read = silence;
        self
    }
}

/// Limits checked before an order is sent.
///
/// ```
/// use binary_options_tools::{Decimal, TradeLimits};
///
/// let limits = TradeLimits::default().with_max_amount(Decimal::from(100));
/// assert_eq!(limits.min_amount, Decimal::ONE);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TradeLimits {
    /// The smallest stake (default 1).
    pub min_amount: Decimal,
    /// The largest stake (default 50 000).
    pub max_amount: Decimal,
}

impl Default for TradeLimits {
    fn default() -> Self {
        TradeLimits {
            min_amount: Decimal::ONE,
            max_amount: Decimal::from(50_000),
        }
    }
}

impl TradeLimits {
    /// Sets [`min_amount`](Self::min_amount).
    pub fn with_min_amount(mut self, amount: Decimal) -> Self {
        self.min_amount = amount;
        self
    }

    /// Sets [`max_amount`](Self::max_amount).
    pub fn with_max_amount(mut self, amount: Decimal) -> Self {
        self.max_amount = amount;
        self
    }
}

/// Configures and connects a [`PocketOption`] client.
pub struct PocketOptionBuilder {
    ssid: Ssid,
    urls: Vec<String>,
    user_urls_only: bool,
    ws: Option<WsConfig>,
    user_agent: Option<String>,
    reconnect: ReconnectPolicy,
    timeouts: Timeouts,
    trade_limits: TradeLimits,
    stream_buffer: usize,
    limits: FrameLimits,
}

impl PocketOptionBuilder {
    /// A builder for `ssid`.
    pub fn new(ssid: Ssid) -> Self {
        PocketOptionBuilder {
            ssid,
            urls: Vec::new(),
            user_urls_only: false,
            ws: None,
            user_agent: None,
            reconnect: ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(500))
                .with_max_delay(Duration::from_secs(30)),
            timeouts: Timeouts::default(),
            trade_limits: TradeLimits::default(),
            stream_buffer: DEFAULT_STREAM_BUFFER,
            limits: FrameLimits::default(),
        }
    }

    /// Tries `url` before the region list (call several times for several URLs).
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.urls.push(url.into());
        self
    }

    /// Connects only to the URLs given with [`with_url`](Self::with_url), never to the
    /// platform's region list (for the simulator, proxies and closed networks).
    pub fn only_given_urls(mut self) -> Self {
        self.user_urls_only = true;
        self
    }

    /// The User-Agent sent to the platform (default: the one a real session was issued
    /// for, else a desktop Chrome's).
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Replaces the transport template (headers, TLS roots, sizes); its URL is ignored.
    pub fn with_ws_config(mut self, ws: WsConfig) -> Self {
        self.ws = Some(ws);
        self
    }

    /// Sets the reconnect policy.
    pub fn with_reconnect_policy(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// Sets the timeouts.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Sets the limits checked before an order is sent.
    pub fn with_trade_limits(mut self, limits: TradeLimits) -> Self {
        self.trade_limits = limits;
        self
    }

    /// Ticks buffered per subscription stream (default 4096).
    pub fn with_stream_buffer(mut self, ticks: usize) -> Self {
        self.stream_buffer = ticks.max(1);
        self
    }

    /// Limits on inbound frames (attachment count, payload size).
    pub fn with_frame_limits(mut self, limits: FrameLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Builds the client and starts connecting in the background; returns at once. Calls
    /// made before the connection is up wait for it (within their timeouts) or fail with
    /// a reason; [`PocketOption::wait_connected`] waits for it explicitly.
    // In the browser nothing is `Send`, and the client is shared on one thread.
    #[cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]
    pub fn spawn(self) -> PocketOption {
        let demo = self.ssid.is_demo();
        let urls = regions::urls_for(demo, &self.urls, self.user_urls_only);
        let user_agent = self
            .user_agent
            .or_else(|| {
                self.ssid
                    .real_session()
                    .map(|real| real.user_agent().to_owned())
            })
            .unwrap_or_else(|| DEFAULT_USER_AGENT.to_owned());
        let ws = self.ws.unwrap_or_else(|| {
            platform_ws_config(&user_agent).with_connect_timeout(self.timeouts.attempt)
        });
        // For error reports: where the client connects (without query strings).
        let report_urls: Vec<String> = urls.iter().map(|u| client_ws::redacted_url(u)).collect();
        let connector = PocketOptionConnector::new(urls, ws, self.timeouts.handshake, self.limits);
        let statistics = Statistics::new();
        let ssid = self.ssid;
        let (client, (subscriptions, trades, deals, history, raw)) =
            ClientBuilder::with_state_fn(connector, |watch| PocketOptionState::new(ssid, watch))
                .with_reconnect_policy(self.reconnect)
                .with_connect_timeout(self.timeouts.attempt + self.timeouts.handshake)
                .with_wait_timeout(self.timeouts.connect)
                .with_keep_alive(self.timeouts.keep_alive, Message::text(r#"42["ps"]"#))
                .with_read_timeout(Some(self.timeouts.read))
                .with_inline_handler(
                    |msg: &Message, ctx: &core_pre::HandlerContext<PocketOptionState>| {
                        // Engine.IO ping: answer inline, from the first frame.
                        if msg.as_text() == Some(engineio::PING) {
                            let _ = ctx.outbound.try_send(engineio::PONG);
                        }
                    },
                )
                .with_middleware(statistics.clone())
                .with_module::<AccountModule>()
                .on_connect(resubscribe)
                .spawn_with(|modules| {
                    (
                        modules.add::<SubscriptionsModule>(),
                        modules.add::<TradesModule>(),
                        modules.add::<DealsModule>(),
                        modules.add::<HistoryModule>(),
                        modules.add::<RawModule>(),
                    )
                });
        let pending = PendingHandle {
            state: trades.state.clone(),
            outbound: trades.outbound.clone(),
        };
        let inner = Inner {
            subscriptions,
            pending,
            trades,
            deals,
            history,
            raw,
            client,
            statistics,
            urls: report_urls,
            timeouts: self.timeouts,
            trade_limits: self.trade_limits,
            stream_buffer: self.stream_buffer,
        };
        PocketOption {
            inner: Arc::new(inner),
        }
    }

    /// Builds, starts the runner, and waits until authenticated (up to the connect
    /// timeout). A rejected session fails at once with [`Error::Authentication`].
    pub async fn connect(self) -> Result<PocketOption, Error> {
        let client = self.spawn();
        let wait = client.inner.timeouts.connect;
        if let Err(e) = client.inner.client.wait_connected(wait).await {
            let error = client.connect_error(e, false);
            let _ = client.shutdown().await;
            return Err(error);
        }
        Ok(client)
    }
}

struct Inner {
    client: Client<PocketOptionState>,
    subscriptions: SubscriptionsHandle,
    trades: TradesHandle,
    pending: PendingHandle,
    deals: DealsHandle,
    history: HistoryHandle,
    raw: RawHandle,
    statistics: Statistics,
    /// The URLs the connector tries (redacted), for error reports.
    urls: Vec<String>,
    timeouts: Timeouts,
    trade_limits: TradeLimits,
    stream_buffer: usize,
}

/// A PocketOption client. Cheap to clone; clones share one connection.
#[derive(Clone)]
pub struct PocketOption {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PocketOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PocketOption")
            .field("state", &self.connection_state())
            .field("demo", &self.is_demo())
            .finish_non_exhaustive()
    }
}

/// Waits for the first `Some` in a watch, up to `timeout`.
async fn first_value<T: Clone>(
    rx: &mut watch::Receiver<Option<T>>,
    timeout: Duration,
    waiting_for: &'static str,
) -> Result<T, Error> {
    match runtime::wait_for(rx, timeout, Option::is_some).await {
        Ok(Some(value)) => Ok(value),
        Err(runtime::WaitError::Closed) => Err(core_pre::CoreError::ClientClosed.into()),
        Ok(None) | Err(runtime::WaitError::Elapsed) => Err(Error::Timeout {
            waiting_for,
            after: timeout,
        }),
    }
}

impl PocketOption {
    /// Connects with an SSID in any form users paste (see [`Ssid::parse`]), to the
    /// platform's servers for the account type.
    pub async fn new(ssid: &str) -> Result<PocketOption, Error> {
        PocketOptionBuilder::new(Ssid::parse(ssid)?).connect().await
    }

    /// A builder for more control (URLs, timeouts, limits).
    pub fn builder(ssid: Ssid) -> PocketOptionBuilder {
        PocketOptionBuilder::new(ssid)
    }

    fn state_ref(&self) -> &PocketOptionState {
        self.inner.client.app_state()
    }

    /// Turns a failed wait for the connection into a report of what was tried, with
    /// advice (`still_trying`: whether the client goes on trying afterwards).
    fn connect_error(&self, error: core_pre::CoreError, still_trying: bool) -> Error {
        let (waited, gave_up) = match &error {
            core_pre::CoreError::ConnectTimeout { after, .. } => (*after, false),
            core_pre::CoreError::GaveUp { .. } => (Duration::ZERO, true),
            _ => return error.into(),
        };
        let failure = error.connect_failure().cloned();
        let waited = if gave_up {
            failure.as_ref().map(|f| f.trying_for).unwrap_or_default()
        } else {
            waited
        };
        Error::ConnectFailed(Box::new(ConnectReport {
            waited,
            gave_up,
            still_trying: still_trying && !gave_up,
            demo: self.is_demo(),
            urls: self.inner.urls.clone(),
            failure,
        }))
    }

    /// A wait for data the platform sends once connected that timed out while there was
    /// no connection: the real cause is the connection, so say that (with the state: the
    /// next attempt and why the last one failed).
    fn explain_timeout(&self, error: Error) -> Error {
        let state = self.connection_state();
        match error {
            Error::Timeout { .. } if !state.is_connected() && state != ConnectionState::Closed => {
                core_pre::CoreError::NotConnected {
                    state: state.to_string(),
                }
                .into()
            }
            other => other,
        }
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.connection_state() == ConnectionState::Closed {
            return Err(core_pre::CoreError::ClientClosed.into());
        }
        Ok(())
    }

    /// True for a demo account.
    pub fn is_demo(&self) -> bool {
        self.state_ref().ssid.is_demo()
    }

    /// The account balance (waits for the platform's first report, up to the request
    /// timeout).
    pub async fn balance(&self) -> Result<Decimal, Error> {
        self.check_open()?;
        let mut rx = self.state_ref().balance.subscribe();
        first_value(&mut rx, self.inner.timeouts.request, "the balance")
            .await
            .map_err(|e| self.explain_timeout(e))
    }

    /// Watches the balance: `None` until the platform's first report, then each report.
    ///
    /// A plain [`tokio::sync::watch::Receiver`] on purpose: like
    /// [`watch_connection_state`](Self::watch_connection_state), it gives `borrow()`,
    /// `changed().await` and `wait_for` without a wrapper to learn, and works in the
    /// browser too (tokio's `sync` feature has no runtime dependency).
    pub fn watch_balance(&self) -> watch::Receiver<Option<Decimal>> {
        self.state_ref().balance.subscribe()
    }

    /// Every asset (waits for the platform's list, up to the request timeout).
    pub async fn assets(&self) -> Result<Arc<HashMap<String, Asset>>, Error> {
        self.check_open()?;
        let mut rx = self.state_ref().assets.subscribe();
        first_value(&mut rx, self.inner.timeouts.request, "the asset list")
            .await
            .map_err(|e| self.explain_timeout(e))
    }

    /// One asset.
    pub async fn asset(&self, symbol: &str) -> Result<Asset, Error> {
        let assets = self.assets().await?;
        assets.get(symbol).cloned().ok_or_else(|| {
            let mut similar: Vec<&str> = assets
                .keys()
                .filter(|k| {
                    k.to_lowercase()
                        .contains(&symbol.to_lowercase().replace("_otc", ""))
                })
                .map(String::as_str)
                .collect();
            similar.sort_unstable();
            similar.truncate(5);
            Error::UnknownAsset {
                asset: symbol.to_owned(),
                similar: similar.into_iter().map(str::to_owned).collect(),
            }
        })
    }

    /// The payout of `symbol`, in percent.
    pub async fn payout(&self, symbol: &str) -> Result<u32, Error> {
        Ok(self.asset(symbol).await?.payout)
    }

    /// Streams `asset` as candles of `kind` (see [`SubscriptionKind`]; the platform streams
    /// at most [`MAX_ASSETS`](crate::MAX_ASSETS) assets per connection, and a 5th fails with
    /// [`Error::TooManySubscriptions`]).
    pub async fn subscribe(
        &self,
        asset: &str,
        kind: SubscriptionKind,
    ) -> Result<SubscriptionStream, Error> {
        self.check_open()?;
        self.asset(asset).await?;
        self.inner
            .subscriptions
            .subscribe(asset, kind, self.inner.stream_buffer)
            .await
    }

    /// Opens a call (price goes up).
    pub async fn buy(&self, asset: &str, amount: Decimal, expiry: Duration) -> Result<Deal, Error> {
        self.trade(asset, Action::Call, amount, expiry).await
    }

    /// Opens a put (price goes down).
    pub async fn sell(
        &self,
        asset: &str,
        amount: Decimal,
        expiry: Duration,
    ) -> Result<Deal, Error> {
        self.trade(asset, Action::Put, amount, expiry).await
    }

    /// Opens a trade and returns the opened deal. The order is checked first (asset known
    /// and open, expiry allowed, amount within limits and covered by the balance), so most
    /// mistakes fail here, without a round trip.
    ///
    /// When it returns, [`balance`](Self::balance) no longer includes the stake: the call
    /// also waits (briefly: at most [`BALANCE_FOLLOW_WAIT`](crate::BALANCE_FOLLOW_WAIT) +
    /// [`BALANCE_REQUEST_WAIT`](crate::BALANCE_REQUEST_WAIT)) for the platform's balance
    /// report that follows the opened deal.
    pub async fn trade(
        &self,
        asset: &str,
        action: Action,
        amount: Decimal,
        expiry: Duration,
    ) -> Result<Deal, Error> {
        self.check_open()?;
        let order = self.validate(asset, action, amount, expiry).await?;
        let deal = self
            .inner
            .trades
            .place(&order, self.inner.timeouts.request)
            .await?;
        self.inner.deals.balance_after(&deal.id).await;
        Ok(deal)
    }

    /// Places a pending order: the platform opens the deal later, at a time or when the
    /// price reaches a level (see [`PendingTrigger`](crate::PendingTrigger)). It is checked like a market order
    /// first (asset, expiry, amount, balance), and its trigger too.
    ///
    /// The returned order's `ticket` cancels it ([`cancel_pending`](Self::cancel_pending))
    /// and becomes the `request_id` of the deal it opens: [`pending_fill`](Self::pending_fill)
    /// waits for that deal, whose result is then waited for like any deal's.
    ///
    /// ```no_run
    /// # async fn demo(client: binary_options_tools::PocketOption) -> Result<(), binary_options_tools::Error> {
    /// use std::time::Duration;
    /// use binary_options_tools::{Action, Decimal, PendingOrderRequest, PendingTrigger};
    ///
    /// // A call of 5 for 60 s, opened in 30 s (server time)...
    /// let at = client.server_time().now + Duration::from_secs(30);
    /// let request = PendingOrderRequest::new("EURUSD_otc", Action::Call, Decimal::from(5),
    ///     Duration::from_secs(60), PendingTrigger::AtTime(at));
    /// let timed = client.open_pending(&request).await?;
    /// // ...and a put opened when the price reaches 1.0850, if the payout is 80 % or more.
    /// let request = PendingOrderRequest::new("EURUSD_otc", Action::Put, Decimal::ONE,
    ///     Duration::from_secs(60), PendingTrigger::AtPrice(1.0850)).with_min_payout(80);
    /// let level = client.open_pending(&request).await?;
    /// assert_eq!(client.pending_orders().len(), 2);
    ///
    /// client.cancel_pending(&level.ticket).await?;          // or several at once:
    /// let cancelled = client.cancel_pending_orders(&[level.ticket.clone()]).await?;
    ///
    /// let deal = client.pending_fill(&timed.ticket, Duration::from_secs(40)).await?;
    /// let result = client.result(&deal.id).await?;         // like any deal
    /// # Ok(()) }
    /// ```
    pub async fn open_pending(&self, request: &PendingOrderRequest) -> Result<PendingOrder, Error> {
        self.check_open()?;
        self.validate(
            &request.asset,
            request.action,
            request.amount,
            request.expiry,
        )
        .await?;
        request.trigger.validate(self.server_time().unix())?;
        self.inner
            .pending
            .open_pending(request, self.inner.timeouts.request)
            .await
    }

    /// Cancels pending order `ticket`. Fails with [`Error::PendingCancelRejected`] when
    /// the platform does not know it (any more: it may have opened its deal).
    pub async fn cancel_pending(&self, ticket: &str) -> Result<(), Error> {
        self.check_open()?;
        self.inner
            .pending
            .cancel_pending(ticket, self.inner.timeouts.request)
            .await
    }

    /// Cancels several pending orders at once; returns the tickets the platform cancelled.
    pub async fn cancel_pending_orders(&self, tickets: &[String]) -> Result<Vec<String>, Error> {
        self.check_open()?;
        self.inner
            .pending
            .cancel_pendings(tickets, self.inner.timeouts.request)
            .await
    }

    /// The pending orders this client placed that are still waiting for their trigger
    /// (neither filled nor cancelled, as far as the client has heard), oldest first.
    pub fn pending_orders(&self) -> Vec<PendingOrder> {
        self.inner.pending.list_pending()
    }

    /// Waits up to `timeout` for pending order `ticket` to open its deal. A cancelled
    /// order, or one whose deal the platform could not open at the trigger (money ran
    /// out, the asset closed), opens none: the wait then times out.
    pub async fn pending_fill(&self, ticket: &str, timeout: Duration) -> Result<Deal, Error> {
        self.check_open()?;
        self.inner.pending.pending_fill(ticket, timeout).await
    }

    async fn validate(
        &self,
        asset: &str,
        action: Action,
        amount: Decimal,
        expiry: Duration,
    ) -> Result<Order, Error> {
        let info = self.asset(asset).await?;
        if !info.is_active {
            return Err(Error::AssetClosed {
                asset: asset.to_owned(),
            });
        }
        let seconds = u32::try_from(expiry.as_secs()).unwrap_or(u32::MAX);
        if expiry.subsec_nanos() != 0
            || seconds == 0
            || (!info.expiries.is_empty() && !info.allows_expiry(seconds))
        {
            return Err(Error::ExpiryNotAllowed {
                asset: asset.to_owned(),
                expiry,
                allowed: info.expiries.clone(),
            });
        }
        let limits = &self.inner.trade_limits;
        if amount < limits.min_amount || amount > limits.max_amount {
            return Err(Error::InvalidAmount {
                amount,
                min: limits.min_amount,
                max: limits.max_amount,
            });
        }
        if let Some(balance) = *self.state_ref().balance.borrow() {
            if amount > balance {
                return Err(Error::InsufficientBalance { amount, balance });
            }
        }
        Ok(Order {
            asset: asset.to_owned(),
            action,
            amount,
            expiry: seconds,
        })
    }

    /// Waits for deal `id` to settle. The wait lasts until the deal's expiry plus a grace
    /// period (or the request timeout for a deal the client has not seen open).
    ///
    /// When it returns, [`balance`](Self::balance) includes the settlement and
    /// [`DealResult::balance`] holds the balance after it: the call also waits (briefly,
    /// at most [`BALANCE_FOLLOW_WAIT`](crate::BALANCE_FOLLOW_WAIT) +
    /// [`BALANCE_REQUEST_WAIT`](crate::BALANCE_REQUEST_WAIT)) for the platform's balance report that follows the
    /// close. Only if none comes, even when asked for, is `DealResult::balance` `None`.
    ///
    /// ```no_run
    /// # async fn demo(client: binary_options_tools::PocketOption) -> Result<(), binary_options_tools::Error> {
    /// use std::time::Duration;
    /// use binary_options_tools::Decimal;
    ///
    /// let before = client.balance().await?;
    /// let deal = client.buy("EURUSD_otc", Decimal::ONE, Duration::from_secs(60)).await?;
    /// assert_eq!(client.balance().await?, before - Decimal::ONE); // the stake is taken
    /// let result = client.result(&deal.id).await?;
    /// assert_eq!(client.balance().await?, before + result.profit); // and settled
    /// assert_eq!(result.balance, Some(before + result.profit));
    /// # Ok(()) }
    /// ```
    pub async fn result(&self, id: &DealId) -> Result<DealResult, Error> {
        let timeout = match self.state_ref().deals.opened(id) {
            Some(deal) => self.time_left(&deal) + self.inner.timeouts.result_grace,
            None => self
                .inner
                .timeouts
                .request
                .max(self.inner.timeouts.result_grace),
        };
        self.result_with_timeout(id, timeout).await
    }

    /// Waits up to `timeout` for deal `id` to settle.
    pub async fn result_with_timeout(
        &self,
        id: &DealId,
        timeout: Duration,
    ) -> Result<DealResult, Error> {
        self.check_open()?;
        self.inner.deals.result(id, timeout).await
    }

    /// The open deals.
    pub fn opened_deals(&self) -> Vec<Deal> {
        self.state_ref().deals.opened_list()
    }

    /// The closed deals the client knows (most recent 1000), oldest first.
    pub fn closed_deals(&self) -> Vec<Deal> {
        self.state_ref().deals.closed_list()
    }

    /// Forgets closed deals a bot has processed; returns how many were forgotten. They do
    /// not come back with the platform's later deal lists (see
    /// [`DealBook::forget_closed`](crate::modules::deals::DealBook::forget_closed)).
    pub fn forget_closed<I, S>(&self, ids: I) -> usize
    where
        I: IntoIterator<Item = S>,
        S: std::borrow::Borrow<DealId>,
    {
        self.state_ref().deals.forget_closed(ids)
    }

    /// Takes every closed deal the client knows, oldest first, and forgets them: each
    /// call returns only the deals closed since the previous one.
    ///
    /// ```no_run
    /// # fn demo(client: binary_options_tools::PocketOption) {
    /// use binary_options_tools::DealId;
    ///
    /// // A bot's bookkeeping loop: each closed deal is handled exactly once.
    /// for deal in client.take_closed() {
    ///     println!("{} closed with {}", deal.id, deal.profit);
    /// }
    /// // Or keep the book and forget only what was handled:
    /// let handled: Vec<DealId> = client.closed_deals().into_iter().map(|d| d.id).collect();
    /// client.forget_closed(&handled);
    /// # }
    /// ```
    pub fn take_closed(&self) -> Vec<Deal> {
        self.state_ref().deals.take_closed()
    }

    /// The last `count` candles of `period` for `asset`, ending now (server time).
    pub async fn candles(
        &self,
        asset: &str,
        period: Duration,
        count: u32,
    ) -> Result<Vec<Candle>, Error> {
        self.candles_until(asset, period, count, self.server_time().now)
            .await
    }

    /// The `count` candles of `period` for `asset` ending at `end` (e.g. from
    /// [`ServerTime::now`]). The last candle is the one that contains `end`.
    ///
    /// ```no_run
    /// # async fn demo(client: binary_options_tools::PocketOption) -> Result<(), binary_options_tools::Error> {
    /// use std::time::Duration;
    ///
    /// // The 60 one-minute candles of the hour that ended a day ago.
    /// let end = client.server_time().now - Duration::from_secs(86_400);
    /// let candles = client.candles_until("EURUSD_otc", Duration::from_secs(60), 60, end).await?;
    /// # Ok(()) }
    /// ```
    pub async fn candles_until(
        &self,
        asset: &str,
        period: Duration,
        count: u32,
        end: SystemTime,
    ) -> Result<Vec<Candle>, Error> {
        if count == 0 {
            return Err(Error::InvalidHistoryRequest {
                reason: format!("{count} candles: ask for at least one"),
            });
        }
        // A span of `count` periods ending inside a candle touches `count + 1` of them:
        // keep the last `count` (the oldest one is only partly inside the span).
        let mut candles = self
            .history(asset, period, end, period.saturating_mul(count))
            .await?;
        let extra = candles.len().saturating_sub(count as usize);
        candles.drain(..extra);
        Ok(candles)
    }

    /// Tick history of `asset` ending now (server time): the last `n` ticks
    /// (`client.ticks(asset, 100)`) or every tick of a span
    /// (`client.ticks(asset, Duration::from_secs(60))`), oldest first, from the price
    /// items of `loadHistoryPeriod`. [`compile_candles`](crate::compile_candles) turns
    /// them into candles of any period.
    ///
    /// ```no_run
    /// # async fn demo(client: binary_options_tools::PocketOption) -> Result<(), binary_options_tools::Error> {
    /// use std::time::Duration;
    /// use binary_options_tools::{SubscriptionKind, compile_candles};
    ///
    /// let last_100 = client.ticks("EURUSD_otc", 100).await?;
    /// let last_minute = client.ticks("EURUSD_otc", Duration::from_secs(60)).await?;
    /// // 10-second candles, aggregated exactly like a live `Candles` stream's.
    /// let candles = compile_candles(last_minute, SubscriptionKind::Candles(Duration::from_secs(10)))?;
    /// # Ok(()) }
    /// ```
    pub async fn ticks(
        &self,
        asset: &str,
        range: impl Into<TickRange>,
    ) -> Result<Vec<Tick>, Error> {
        self.ticks_until(asset, range, self.server_time().now).await
    }

    /// Tick history of `asset` ending at `end`.
    pub async fn ticks_until(
        &self,
        asset: &str,
        range: impl Into<TickRange>,
        end: SystemTime,
    ) -> Result<Vec<Tick>, Error> {
        self.check_open()?;
        let end = history_end(end)?;
        self.inner
            .history
            .ticks(asset, range.into(), end, self.inner.timeouts.request)
            .await
    }

    /// One page of history: candles of `period` (whole seconds) covering `span` before
    /// `end`.
    pub async fn history(
        &self,
        asset: &str,
        period: Duration,
        end: SystemTime,
        span: Duration,
    ) -> Result<Vec<Candle>, Error> {
        self.check_open()?;
        let period_secs = u32::try_from(period.as_secs()).unwrap_or(0);
        if period.subsec_nanos() != 0 || period_secs == 0 {
            return Err(Error::InvalidHistoryRequest {
                reason: format!("candles of {period:?}: use a whole number of seconds"),
            });
        }
        let end = history_end(end)?;
        self.inner
            .history
            .load(
                asset,
                period_secs,
                end,
                span.as_secs(),
                self.inner.timeouts.request,
            )
            .await
    }

    /// The candles the platform pushed for `asset` when it was last subscribed.
    pub fn pushed_history(&self, asset: &str) -> Vec<Candle> {
        self.inner.history.pushed(asset)
    }

    /// The platform's clock as best known (see [`ServerTime::stale`]).
    pub fn server_time(&self) -> ServerTime {
        self.state_ref().clock.now()
    }

    /// Raw access: send any frame, wait for or stream matching frames.
    pub fn raw(&self) -> &RawHandle {
        &self.inner.raw
    }

    /// Connection statistics.
    pub fn statistics(&self) -> StatisticsSnapshot {
        self.inner.statistics.snapshot()
    }

    /// Frames dropped because they were malformed.
    pub fn malformed_frames(&self) -> u64 {
        self.state_ref()
            .malformed
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The connection state.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.client.connection_state()
    }

    /// True when connected and authenticated.
    pub fn is_connected(&self) -> bool {
        self.inner.client.is_connected()
    }

    /// Waits until connected and authenticated. If the time runs out, the error
    /// ([`Error::ConnectFailed`]) says what the attempts ran into and what to do; the
    /// client keeps trying.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), Error> {
        self.inner
            .client
            .wait_connected(timeout)
            .await
            .map_err(|e| self.connect_error(e, true))
    }

    /// Connects again after [`disconnect`](Self::disconnect).
    pub async fn connect(&self) -> Result<(), Error> {
        self.inner
            .client
            .connect()
            .await
            .map_err(|e| self.connect_error(e, true))
    }

    /// Closes the connection and stays disconnected until [`connect`](Self::connect).
    pub async fn disconnect(&self) -> Result<(), Error> {
        Ok(self.inner.client.disconnect().await?)
    }

    /// Makes a fresh connection now.
    pub async fn reconnect(&self) -> Result<(), Error> {
        self.inner
            .client
            .reconnect()
            .await
            .map_err(|e| self.connect_error(e, true))
    }

    /// Shuts down: closes the connection, ends every stream, stops every task. Every call
    /// afterwards fails with `ClientClosed`.
    pub async fn shutdown(&self) -> Result<(), Error> {
        // Joins every task, the runner's included, within the shutdown timeout.
        self.inner.client.shutdown().await?;
        Ok(())
    }

    /// Watches the connection state (each change, from any task).
    pub fn watch_connection_state(&self) -> watch::Receiver<ConnectionState> {
        self.inner.client.watch_connection_state()
    }

    /// The health of each module task: restarts, failures, whether it still runs.
    pub fn module_health(&self) -> Vec<ModuleStatus> {
        self.inner.client.module_health()
    }

    /// Per-route statistics: frames each module's rule matched, and how many its inbox
    /// dropped.
    pub fn route_stats(&self) -> Vec<RouteStatsSnapshot> {
        self.inner.client.route_stats()
    }

    /// The SSID this client authenticates with (its `Debug` and `Display` hide the
    /// session token).
    pub fn ssid(&self) -> &Ssid {
        &self.state_ref().ssid
    }

    /// The deal book and result waiting.
    pub fn deals(&self) -> &DealsHandle {
        &self.inner.deals
    }

    /// How long until `deal` expires, by the server clock (zero once expired).
    pub fn time_left(&self, deal: &Deal) -> Duration {
        deal.closes_at
            .duration_since(self.server_time().now)
            .unwrap_or(Duration::ZERO)
    }
}

/// A history request's end as unix seconds; the epoch itself is refused (it is what a
/// zeroed or unset time reads as).
fn history_end(end: SystemTime) -> Result<f64, Error> {
    match unix_secs(end) {
        secs if secs > 0.0 => Ok(secs),
        _ => Err(Error::InvalidHistoryRequest {
            reason: "an end time at or before the unix epoch: use the server time (`server_time().now`) or a time after it".to_owned(),
        }),
    }
}
