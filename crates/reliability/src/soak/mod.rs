//! The soak run: many PocketOption clients streaming ticks and trading against the
//! simulator while a [`FaultProxy`] between them cuts connections at random intervals.
//!
//! Each client streams one asset and runs a few trading lanes; a lane places a trade,
//! waits for its result, and starts over. Meanwhile a chaos task picks, at random
//! intervals, one of: reset every connection, reset one connection, refuse new
//! connections for a moment and reset every connection (an outage), or stop forwarding
//! for up to a second and a half with the sockets open (a stall). Memory (RSS) is sampled
//! throughout.
//!
//! At the end the books are settled against the simulator's, the ground truth:
//! * **trades placed** are the deals the platform opened for the soak's accounts;
//! * **results received** are the distinct deals whose settled result reached the client
//!   that placed them (from `result()`, or later from its deal book for an order whose
//!   reply was lost); they must equal the trades placed;
//! * **duplicates** are orders the platform executed twice, or deals confirmed twice;
//! * a **hung call** is one that did not return within its own timeout plus a margin;
//! * **panics** are counted by a panic hook, wherever they happen in the process.
//!
//! [`SoakReport::failures`] lists every broken promise; an empty list is a pass.

mod report;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::time::Duration;

use binary_options_tools::{
    Action, DealId, Decimal, Error, PocketOption, Ssid, SubscriptionKind, Timeouts,
};
use core_pre::{ConnectionState, CoreError, ReconnectPolicy};
use futures::StreamExt;
use pocketoption_sim::Simulator;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::ReliabilityError;
use crate::proxy::FaultProxy;

pub use report::{FaultCounts, OrderCounts, RssSample, SoakReport};

/// The first account id of the soak's clients (client `i` trades as `BASE_UID + i`).
const BASE_UID: u64 = 700_000;
/// Added to every call's own timeout before the call counts as hung.
const HUNG_MARGIN: Duration = Duration::from_secs(5);

/// What a soak run does.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakConfig {
    /// How long the clients trade while faults are injected.
    pub duration: Duration,
    /// How many clients (each its own account and connection).
    pub clients: usize,
    /// Trading lanes per client (trades in flight at once, per client).
    pub lanes: usize,
    /// Seed of the simulator's prices and of the fault schedule.
    pub seed: u64,
    /// The shortest and longest pause between two faults.
    pub fault_interval: (Duration, Duration),
    /// How long an outage refuses new connections.
    pub outage: Duration,
    /// The longest stall (forwarding stopped, sockets open); stalls last half to all of it.
    pub stall: Duration,
    /// How often RSS is sampled.
    pub sample_interval: Duration,
    /// The simulator's tick interval.
    pub tick_interval: Duration,
    /// The simulator's time scale (deals close this many times faster than their expiry).
    pub time_scale: f64,
    /// The expiry of every trade (platform time).
    pub expiry: Duration,
}

impl SoakConfig {
    /// A run of `duration` with 8 clients × 2 lanes and a fault every 0.5–3 s.
    pub fn new(duration: Duration) -> Self {
        SoakConfig {
            duration,
            clients: 8,
            lanes: 2,
            seed: 7,
            fault_interval: (Duration::from_millis(500), Duration::from_secs(3)),
            outage: Duration::from_millis(300),
            stall: Duration::from_millis(1500),
            sample_interval: (duration / 60).max(Duration::from_secs(1)),
            tick_interval: Duration::from_millis(100),
            time_scale: 10.0,
            expiry: Duration::from_secs(5),
        }
    }

    /// A short run for CI and tests: `duration` with 4 clients × 2 lanes, a fault every
    /// 0.4–1.5 s.
    pub fn smoke(duration: Duration) -> Self {
        SoakConfig {
            clients: 4,
            fault_interval: (Duration::from_millis(400), Duration::from_millis(1500)),
            sample_interval: Duration::from_secs(1),
            ..SoakConfig::new(duration)
        }
    }

    fn timeouts(&self) -> Timeouts {
        Timeouts::default()
            .with_connect(Duration::from_secs(10))
            .with_attempt(Duration::from_secs(3))
            .with_handshake(Duration::from_secs(3))
            .with_request(Duration::from_secs(3))
            .with_result_grace(Duration::from_secs(5))
    }

    fn check(&self) -> Result<(), ReliabilityError> {
        let usage = |reason: &str| Err(ReliabilityError::Usage(reason.to_owned()));
        if self.clients == 0 || self.lanes == 0 {
            return usage("at least one client with one lane is needed");
        }
        if self.lanes > 16 {
            return usage("at most 16 lanes per client (the platform limits open deals)");
        }
        if self.fault_interval.0 > self.fault_interval.1 || self.fault_interval.1.is_zero() {
            return usage("the fault interval must be a non-empty range");
        }
        if !(self.time_scale.is_finite() && self.time_scale >= 1.0) {
            return usage("the time scale must be at least 1");
        }
        Ok(())
    }
}

/// A small deterministic generator (SplitMix64) for the fault schedule and pacing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn between(&mut self, low: Duration, high: Duration) -> Duration {
        let span = high.saturating_sub(low).as_micros() as u64;
        low + Duration::from_micros(self.below(span + 1))
    }
}

/// Panics anywhere in the process, since the soak's hook was installed.
static PANICS: AtomicU64 = AtomicU64::new(0);

fn count_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::Relaxed);
            previous(info);
        }));
    });
}

/// A compact key for an id: the books keep 8 bytes per deal, not the deal, so that their
/// growth does not hide (or fake) a leak in the RSS figures. (SipHash with fixed keys: a
/// collision among a run's deals is out of reach.)
fn key(id: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

/// Books the tasks keep while the run goes on.
#[derive(Default)]
struct Books {
    /// Deals confirmed to a lane.
    confirmed: HashSet<u64>,
    /// Deals confirmed more than once.
    confirmed_twice: u64,
    /// Deals whose results reached their client.
    results: HashSet<u64>,
    /// Orders whose outcome was unknown: (client, request id).
    unknown: Vec<(usize, String)>,
    errors: BTreeMap<String, u64>,
    /// When each client last received a tick.
    last_tick: Vec<Option<Instant>>,
}

#[derive(Default)]
struct Tally {
    orders: Mutex<OrderCounts>,
    hung: AtomicU64,
    ticks: AtomicU64,
    books: Mutex<Books>,
}

impl Tally {
    /// An empty tally for `clients` clients.
    fn new(clients: usize) -> Tally {
        let tally = Tally::default();
        lock(&tally.books).last_tick = vec![None; clients];
        tally
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section is a counter bump or a single insert: a panic elsewhere
    // cannot leave it half-done.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Tally {
    fn count(&self, during: &str, kind: &str) {
        *lock(&self.books)
            .errors
            .entry(format!("{during}: {kind}"))
            .or_default() += 1;
    }

    fn error(&self, during: &str, error: &Error) {
        self.count(during, &error_kind(error));
    }

    fn hung(&self, during: &str) {
        self.hung.fetch_add(1, Ordering::Relaxed);
        self.count(during, "HUNG (no answer within its timeout)");
    }
}

/// A short stable label for an error: the variant, with the detail that matters.
pub fn error_kind(error: &Error) -> String {
    match error {
        Error::Core(core) => match core {
            CoreError::ClientClosed => "client closed".into(),
            CoreError::NotConnected { .. } => "not connected".into(),
            CoreError::ConnectionLost => "connection lost".into(),
            CoreError::Timeout { waiting_for, .. } => format!("timeout waiting for {waiting_for}"),
            other => format!("core: {}", variant_name(other)),
        },
        Error::Timeout { waiting_for, .. } => format!("timeout waiting for {waiting_for}"),
        Error::OrderRejected { reason, .. } => format!("order refused ({reason})"),
        Error::OrderOutcomeUnknown { .. } => "order outcome unknown".into(),
        other => variant_name(other),
    }
}

/// The name of an enum variant, from its `Debug` form.
fn variant_name(value: &impl std::fmt::Debug) -> String {
    let shown = format!("{value:?}");
    shown
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Runs `call` with a bound: `None` means it did not return within `limit` (hung).
async fn bounded<T>(limit: Duration, call: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(limit, call).await.ok()
}

/// One soak client.
struct Soaker {
    index: usize,
    client: PocketOption,
    asset: String,
}

/// How long each call may take before it counts as hung (its own timeout plus
/// [`HUNG_MARGIN`]), and the trades' expiry.
struct Limits {
    trade: Duration,
    result: Duration,
    subscribe: Duration,
    expiry: Duration,
}

impl Limits {
    fn new(config: &SoakConfig) -> Limits {
        let timeouts = config.timeouts();
        Limits {
            trade: timeouts.request * 3 + HUNG_MARGIN,
            result: config.expiry + timeouts.result_grace.max(timeouts.request) + HUNG_MARGIN,
            subscribe: timeouts.request * 2 + HUNG_MARGIN,
            expiry: config.expiry,
        }
    }
}

async fn stream_ticks(
    soaker: Arc<Soaker>,
    tally: Arc<Tally>,
    limits: Arc<Limits>,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let subscribe = soaker
            .client
            .subscribe(&soaker.asset, SubscriptionKind::Ticks);
        let mut stream = match bounded(limits.subscribe, subscribe).await {
            None => {
                tally.hung("subscribe");
                continue;
            }
            Some(Ok(stream)) => stream,
            Some(Err(error)) => {
                tally.error("subscribe", &error);
                let _ = soaker.client.wait_connected(Duration::from_secs(2)).await;
                continue;
            }
        };
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                tick = stream.next() => match tick {
                    Some(_) => {
                        tally.ticks.fetch_add(1, Ordering::Relaxed);
                        lock(&tally.books).last_tick[soaker.index] = Some(Instant::now());
                    }
                    None => {
                        // Streams end only at shutdown, which comes after `stop`.
                        *lock(&tally.books).errors.entry("stream: ended early".into()).or_default() += 1;
                        return;
                    }
                },
            }
        }
    }
}

async fn trade_lane(
    soaker: Arc<Soaker>,
    lane: usize,
    seed: u64,
    tally: Arc<Tally>,
    limits: Arc<Limits>,
    stop: watch::Receiver<bool>,
) {
    let mut rng = Rng(seed ^ ((soaker.index as u64) << 16) ^ lane as u64);
    let client = &soaker.client;
    while !*stop.borrow() {
        let action = if rng.below(2) == 0 {
            Action::Call
        } else {
            Action::Put
        };
        lock(&tally.orders).sent += 1;
        let order = client.trade(&soaker.asset, action, Decimal::ONE, limits.expiry);
        match bounded(limits.trade, order).await {
            None => tally.hung("trade"),
            Some(Ok(deal)) => {
                {
                    lock(&tally.orders).opened += 1;
                    let mut books = lock(&tally.books);
                    if !books.confirmed.insert(key(deal.id.as_str())) {
                        books.confirmed_twice += 1;
                    }
                }
                match bounded(limits.result, client.result(&deal.id)).await {
                    Some(Ok(result)) => {
                        lock(&tally.books)
                            .results
                            .insert(key(result.deal.id.as_str()));
                    }
                    // The settlement looks for it in the client's deal book at the end.
                    Some(Err(error)) => tally.error("result", &error),
                    None => tally.hung("result"),
                }
            }
            Some(Err(Error::OrderOutcomeUnknown { request_id, .. })) => {
                lock(&tally.orders).outcome_unknown += 1;
                tally.count("trade", "order outcome unknown");
                lock(&tally.books).unknown.push((soaker.index, request_id));
            }
            Some(Err(error)) => {
                if matches!(error, Error::OrderRejected { .. }) {
                    lock(&tally.orders).refused += 1;
                } else {
                    lock(&tally.orders).not_sent += 1;
                }
                tally.error("trade", &error);
                // A bot waits for the connection rather than hammering a dead one.
                let _ = client.wait_connected(Duration::from_secs(2)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.below(50))).await;
    }
}

async fn inject_faults(
    proxy: Arc<FaultProxy>,
    config: Arc<SoakConfig>,
    mut stop: watch::Receiver<bool>,
) -> (FaultCounts, Option<Instant>) {
    let mut rng = Rng(config.seed.wrapping_mul(31).wrapping_add(1));
    let mut counts = FaultCounts::default();
    let mut last = None;
    loop {
        let pause = rng.between(config.fault_interval.0, config.fault_interval.1);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return (counts, last),
        }
        match rng.below(100) {
            0..45 => {
                counts.connections_reset += proxy.cut_all() as u64;
                counts.cut_all += 1;
            }
            45..70 => {
                let open = proxy.connections();
                if !open.is_empty() {
                    let pick = open[rng.below(open.len() as u64) as usize];
                    counts.connections_reset += u64::from(proxy.cut(pick));
                }
                counts.cut_one += 1;
            }
            70..85 => {
                proxy.refuse_for(config.outage);
                counts.connections_reset += proxy.cut_all() as u64;
                counts.outages += 1;
            }
            _ => {
                // Nothing moves for a moment, sockets open: calls wait or time out.
                proxy.set_stalled(true);
                counts.stalls += 1;
                let stall = rng.between(config.stall / 2, config.stall);
                let stopped = tokio::select! {
                    _ = tokio::time::sleep(stall) => false,
                    _ = stop.changed() => true,
                };
                proxy.set_stalled(false);
                if stopped {
                    return (counts, Some(Instant::now()));
                }
            }
        }
        last = Some(Instant::now());
    }
}

async fn sample_memory(
    started: Instant,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> Vec<RssSample> {
    let mut samples = Vec::new();
    loop {
        // Where /proc/self/status is missing (not Linux), no sample rather than a guess.
        if let Ok(rss) = bench::memory::rss() {
            samples.push(RssSample {
                at: started.elapsed(),
                kib: rss.current_kib,
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return samples,
        }
    }
}

/// Every deal the platform opened for the soak's accounts. The simulator keeps only its
/// most recent closed deals, so the ledger copies its books often enough to miss none. It
/// keeps keys of every deal and request, and in full only the deals whose results have
/// not reached their client yet.
struct Ledger {
    uids: HashSet<u64>,
    books: Mutex<LedgerBooks>,
}

#[derive(Default)]
struct LedgerBooks {
    /// Every deal placed.
    placed: HashSet<u64>,
    /// The request id of every deal placed.
    requests: HashSet<u64>,
    /// Deals placed by a request that had already placed one.
    executed_twice: u64,
    /// Placed deals without a known result: key → (deal id, account).
    pending: HashMap<u64, (DealId, u64)>,
}

/// How often the ledger copies the simulator's books: far less time than the simulator
/// takes to settle as many deals as it keeps.
const LEDGER_EVERY: Duration = Duration::from_millis(250);

impl Ledger {
    /// An empty ledger for the accounts of `clients` clients.
    fn new(clients: usize) -> Ledger {
        Ledger {
            uids: (0..clients).map(|i| BASE_UID + i as u64).collect(),
            books: Mutex::default(),
        }
    }

    /// Copies the simulator's books, and counts the results that reached a client's deal
    /// book without `result()` (an order reported unknown, a `result()` that gave up)
    /// while that book still holds them: it keeps only the most recent closed deals.
    fn record(&self, sim: &Simulator, tally: &Tally, soakers: &[Arc<Soaker>]) {
        let deals: Vec<pocketoption_sim::Deal> = sim
            .open_deals()
            .into_iter()
            .chain(sim.closed_deals())
            .filter(|deal| self.uids.contains(&deal.uid))
            .collect();
        // Lock order: the tally's books, then the ledger's (nothing takes them the other
        // way round).
        let mut tally_books = lock(&tally.books);
        let mut books = lock(&self.books);
        for deal in deals {
            let id = key(&deal.id);
            if !books.placed.insert(id) {
                continue;
            }
            if let Some(request) = request_id_of(&deal) {
                if !books.requests.insert(key(&request)) {
                    books.executed_twice += 1;
                }
            }
            if !tally_books.results.contains(&id) {
                books.pending.insert(id, (DealId::from(deal.id), deal.uid));
            }
        }
        books.pending.retain(|id, (deal, uid)| {
            if tally_books.results.contains(id) {
                return false;
            }
            let book = soakers[owner(*uid)].client.deals().book();
            if book.closed(deal).is_some() {
                tally_books.results.insert(*id);
                return false;
            }
            true
        });
    }
}

/// The index of the client trading as `uid`.
fn owner(uid: u64) -> usize {
    (uid - BASE_UID) as usize
}

async fn keep_ledger(
    sim: Simulator,
    ledger: Arc<Ledger>,
    tally: Arc<Tally>,
    soakers: Vec<Arc<Soaker>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        ledger.record(&sim, &tally, &soakers);
        tokio::select! {
            _ = tokio::time::sleep(LEDGER_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The request id a simulator deal carries, as the client sent it.
fn request_id_of(deal: &pocketoption_sim::Deal) -> Option<String> {
    match &deal.request_id {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

async fn connect_client(
    index: usize,
    url: &str,
    config: &SoakConfig,
    asset: String,
) -> Result<Soaker, ReliabilityError> {
    let uid = BASE_UID + index as u64;
    let policy = ReconnectPolicy::default()
        .with_initial_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(1))
        .with_jitter(0.3);
    let client = PocketOption::builder(Ssid::demo(format!("soak-session-{index}"), uid))
        .with_url(url)
        .only_given_urls()
        .with_reconnect_policy(policy)
        .with_timeouts(config.timeouts())
        .connect()
        .await
        .map_err(|e| ReliabilityError::ClientSetup {
            client: index,
            reason: e.to_string(),
        })?;
    Ok(Soaker {
        index,
        client,
        asset,
    })
}

/// How long, once the faults stop, the clients get to stream again, the platform to close
/// the last deals, and the settlement to find their results.
const SETTLE: Duration = Duration::from_secs(10);

/// Runs a soak (see the module docs) and reports. Errors only when the run cannot be set
/// up; a run whose clients misbehave returns a report with failures.
pub async fn run(config: SoakConfig) -> Result<SoakReport, ReliabilityError> {
    config.check()?;
    count_panics();
    let panics_before = PANICS.load(Ordering::Relaxed);
    let config = Arc::new(config);
    let started = Instant::now();

    let platform = Platform::start(&config).await?;
    let soakers = connect_clients(&config, &platform).await?;
    let limits = Arc::new(Limits::new(&config));
    let tally = Arc::new(Tally::new(config.clients));
    let ledger = Arc::new(Ledger::new(config.clients));
    let mut tasks = Tasks::spawn(
        &config, started, &platform, &soakers, &limits, &tally, &ledger,
    );

    tokio::time::sleep(config.duration).await;

    // Settle: no more faults, no new trades; let the lanes finish their last trade.
    let (faults, last_fault) = tasks.stop_faults().await;
    tasks.stop_trading(&limits, &tally).await;
    let since = last_fault.unwrap_or(started);
    let clients_streaming = wait_for_streams(&tally, since, config.clients).await;
    wait_for_deals_to_close(&platform.sim, &ledger, &config).await;
    ledger.record(&platform.sim, &tally, &soakers);
    let books = reconcile(&ledger, &soakers, &tally, SETTLE).await;
    let rss = tasks.stop_all().await;

    let clients = ClientFigures::of(&soakers);
    let clean_shutdowns = shut_down_clients(&soakers, &tally).await;
    let proxy_stats = platform.proxy.stats();
    drop(soakers);
    platform.shut_down().await;

    let orders = *lock(&tally.orders);
    let errors = std::mem::take(&mut lock(&tally.books).errors);
    Ok(SoakReport {
        config: (*config).clone(),
        elapsed: started.elapsed(),
        rss,
        faults,
        proxy: proxy_stats,
        reconnects: clients.reconnects,
        connect_failures: clients.connect_failures,
        disconnects: clients.disconnects,
        ticks: tally.ticks.load(Ordering::Relaxed),
        clients_streaming_after_faults: clients_streaming,
        orders,
        unknown_that_opened: books.unknown_that_opened,
        trades_placed: books.placed,
        results_received: books.received,
        duplicates: books.duplicates,
        phantom_results: books.phantom,
        missing_results: books.missing,
        hung_calls: tally.hung.load(Ordering::Relaxed),
        panics: PANICS.load(Ordering::Relaxed) - panics_before,
        module_failures: clients.module_failures,
        clean_shutdowns,
        given_up: clients.given_up,
        errors,
    })
}

/// The simulator, and the fault proxy the clients reach it through.
struct Platform {
    sim: Simulator,
    proxy: Arc<FaultProxy>,
    /// The simulator's URL, through the proxy.
    url: String,
    /// The assets the clients stream and trade: open, OTC, and taking the run's expiry.
    assets: Vec<String>,
}

impl Platform {
    async fn start(config: &SoakConfig) -> Result<Platform, ReliabilityError> {
        let sim = Simulator::builder()
            .with_seed(config.seed)
            .with_tick_interval(config.tick_interval)
            .with_time_scale(config.time_scale)
            .start()
            .await?;
        let proxy = Arc::new(FaultProxy::start(sim.addr()).await?);
        let url = proxy.ws_url(&sim.url());
        let expiry_secs = config.expiry.as_secs() as u32;
        let assets: Vec<String> = sim
            .assets()
            .into_iter()
            .filter(|a| a.active && a.otc && a.expiries.contains(&expiry_secs))
            .map(|a| a.symbol)
            .collect();
        if assets.is_empty() {
            return Err(ReliabilityError::Usage(format!(
                "no simulator asset allows an expiry of {expiry_secs} s"
            )));
        }
        Ok(Platform {
            sim,
            proxy,
            url,
            assets,
        })
    }

    /// Stops the proxy (once the fault task has let go of it) and the simulator.
    async fn shut_down(self) {
        if let Ok(proxy) = Arc::try_unwrap(self.proxy) {
            proxy.shutdown().await;
        }
        let _ = self.sim.shutdown().await;
    }
}

/// Connects the run's clients one by one, spreading them over the platform's assets.
async fn connect_clients(
    config: &SoakConfig,
    platform: &Platform,
) -> Result<Vec<Arc<Soaker>>, ReliabilityError> {
    let mut soakers = Vec::with_capacity(config.clients);
    for index in 0..config.clients {
        let asset = platform.assets[index % platform.assets.len()].clone();
        let soaker = connect_client(index, &platform.url, config, asset).await?;
        soakers.push(Arc::new(soaker));
    }
    Ok(soakers)
}

/// The run's tasks and the signals that stop them: the faults first, then the trading,
/// then everything else (streams, ledger, memory samples).
struct Tasks {
    chaos: JoinHandle<(FaultCounts, Option<Instant>)>,
    stop_faults: watch::Sender<bool>,
    lanes: Vec<JoinHandle<()>>,
    stop_trading: watch::Sender<bool>,
    streams: Vec<JoinHandle<()>>,
    bookkeeper: JoinHandle<()>,
    sampler: JoinHandle<Vec<RssSample>>,
    stop_all: watch::Sender<bool>,
}

impl Tasks {
    /// Starts the ledger, the memory sampler, each client's tick stream and trading lanes,
    /// and the fault injector.
    fn spawn(
        config: &Arc<SoakConfig>,
        started: Instant,
        platform: &Platform,
        soakers: &[Arc<Soaker>],
        limits: &Arc<Limits>,
        tally: &Arc<Tally>,
        ledger: &Arc<Ledger>,
    ) -> Tasks {
        let (stop_trading, trading_stopped) = watch::channel(false);
        let (stop_faults, faults_stopped) = watch::channel(false);
        let (stop_all, all_stopped) = watch::channel(false);

        let bookkeeper = tokio::spawn(keep_ledger(
            platform.sim.clone(),
            ledger.clone(),
            tally.clone(),
            soakers.to_vec(),
            all_stopped.clone(),
        ));
        let sampler = tokio::spawn(sample_memory(
            started,
            config.sample_interval,
            all_stopped.clone(),
        ));
        let mut streams = Vec::new();
        let mut lanes = Vec::new();
        for soaker in soakers {
            streams.push(tokio::spawn(stream_ticks(
                soaker.clone(),
                tally.clone(),
                limits.clone(),
                all_stopped.clone(),
            )));
            for lane in 0..config.lanes {
                lanes.push(tokio::spawn(trade_lane(
                    soaker.clone(),
                    lane,
                    config.seed,
                    tally.clone(),
                    limits.clone(),
                    trading_stopped.clone(),
                )));
            }
        }
        let chaos = tokio::spawn(inject_faults(
            platform.proxy.clone(),
            config.clone(),
            faults_stopped,
        ));
        Tasks {
            chaos,
            stop_faults,
            lanes,
            stop_trading,
            streams,
            bookkeeper,
            sampler,
            stop_all,
        }
    }

    /// Stops the fault injector: what it injected, and when the last fault was.
    async fn stop_faults(&mut self) -> (FaultCounts, Option<Instant>) {
        let _ = self.stop_faults.send(true);
        (&mut self.chaos).await.unwrap_or_default()
    }

    /// Stops the trading lanes, letting each finish its last trade; a lane still busy
    /// after a trade's and a result's limits counts as hung.
    async fn stop_trading(&mut self, limits: &Limits, tally: &Tally) {
        let _ = self.stop_trading.send(true);
        let lanes = &mut self.lanes;
        let lanes_done = tokio::time::timeout(limits.trade + limits.result, async {
            // By reference: a timeout must leave the handles here for the aborts below.
            for lane in lanes.iter_mut() {
                let _ = lane.await;
            }
        })
        .await;
        if lanes_done.is_err() {
            tally.hung("lane");
            for lane in &self.lanes {
                lane.abort();
            }
        }
    }

    /// Stops everything else: the memory samples taken.
    async fn stop_all(self) -> Vec<RssSample> {
        let _ = self.stop_all.send(true);
        let _ = self.bookkeeper.await;
        for stream in self.streams {
            let _ = stream.await;
        }
        self.sampler.await.unwrap_or_default()
    }
}

/// Waits up to [`SETTLE`] for every client to receive a tick after `since` (the last
/// fault): no subscription was lost. Returns how many did.
async fn wait_for_streams(tally: &Tally, since: Instant, clients: usize) -> usize {
    let streaming = || {
        lock(&tally.books)
            .last_tick
            .iter()
            .filter(|t| t.is_some_and(|t| t > since))
            .count()
    };
    let deadline = Instant::now() + SETTLE;
    while streaming() < clients && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    streaming()
}

/// Waits until the platform has closed every deal of the soak's accounts, or a deal's
/// expiry (platform time) plus [`SETTLE`] has passed.
async fn wait_for_deals_to_close(sim: &Simulator, ledger: &Ledger, config: &SoakConfig) {
    let deadline = Instant::now() + config.expiry.div_f64(config.time_scale) + SETTLE;
    while sim
        .open_deals()
        .iter()
        .any(|d| ledger.uids.contains(&d.uid))
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the clients' own statistics say, summed over all clients.
struct ClientFigures {
    reconnects: u64,
    connect_failures: u64,
    disconnects: BTreeMap<String, u64>,
    module_failures: u64,
    /// Clients that stopped trying to connect, with their state.
    given_up: Vec<String>,
}

impl ClientFigures {
    fn of(soakers: &[Arc<Soaker>]) -> ClientFigures {
        let mut figures = ClientFigures {
            reconnects: 0,
            connect_failures: 0,
            disconnects: BTreeMap::new(),
            module_failures: 0,
            given_up: Vec::new(),
        };
        for soaker in soakers {
            let stats = soaker.client.statistics();
            figures.reconnects += stats.reconnects;
            figures.connect_failures += stats.connect_failures;
            for (reason, count) in stats.disconnects {
                *figures.disconnects.entry(reason.to_owned()).or_default() += count;
            }
            figures.module_failures += soaker
                .client
                .module_health()
                .iter()
                .map(|m| u64::from(m.failures))
                .sum::<u64>();
        }
        figures.given_up = soakers
            .iter()
            .filter_map(|soaker| match soaker.client.connection_state() {
                state @ ConnectionState::Disconnected(_) => {
                    Some(format!("client {}: {state}", soaker.index))
                }
                _ => None,
            })
            .collect();
        figures
    }
}

/// Shuts every client down, each within a bound; returns how many did so cleanly.
async fn shut_down_clients(soakers: &[Arc<Soaker>], tally: &Tally) -> usize {
    let mut clean_shutdowns = 0;
    for soaker in soakers {
        match bounded(HUNG_MARGIN * 2, soaker.client.shutdown()).await {
            Some(Ok(())) => clean_shutdowns += 1,
            Some(Err(error)) => tally.error("shutdown", &error),
            None => tally.hung("shutdown"),
        }
    }
    clean_shutdowns
}

/// The settled books.
struct Settled {
    placed: u64,
    received: u64,
    duplicates: u64,
    phantom: u64,
    unknown_that_opened: u64,
    missing: Vec<String>,
}

/// Settles the clients' books against the platform's, in `ledger` (see the module docs).
/// Results that did not come through `result()` are looked up in the owning client's deal
/// book, waiting up to `patience` for the platform's closed-deal lists.
async fn reconcile(
    ledger: &Ledger,
    soakers: &[Arc<Soaker>],
    tally: &Tally,
    patience: Duration,
) -> Settled {
    let (mut results, confirmed_twice, unknown) = {
        let books = lock(&tally.books);
        (
            books.results.clone(),
            books.confirmed_twice,
            books.unknown.clone(),
        )
    };
    let (unknown_that_opened, pending, placed, executed_twice) = {
        let books = lock(&ledger.books);
        let unknown_that_opened = unknown
            .iter()
            .filter(|(_, request)| books.requests.contains(&key(request)))
            .count() as u64;
        let pending: Vec<(u64, DealId, u64)> = books
            .pending
            .iter()
            .filter(|(id, _)| !results.contains(*id))
            .map(|(id, (deal, uid))| (*id, deal.clone(), *uid))
            .collect();
        (
            unknown_that_opened,
            pending,
            books.placed.clone(),
            books.executed_twice,
        )
    };

    // Look up every placed deal without a result in its client's book.
    let deadline = Instant::now() + patience;
    loop {
        for (id, deal, uid) in &pending {
            if !results.contains(id)
                && soakers[owner(*uid)]
                    .client
                    .deals()
                    .book()
                    .closed(deal)
                    .is_some()
            {
                results.insert(*id);
            }
        }
        let all_in = pending.iter().all(|(id, _, _)| results.contains(id));
        if all_in || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let received = results.iter().filter(|id| placed.contains(id)).count() as u64;
    let mut missing: Vec<String> = pending
        .iter()
        .filter(|(id, _, _)| !results.contains(id))
        .map(|(_, deal, uid)| format!("{deal} (client {})", owner(*uid)))
        .collect();
    missing.sort();
    Settled {
        placed: placed.len() as u64,
        received,
        duplicates: executed_twice + confirmed_twice,
        phantom: results.len() as u64 - received,
        unknown_that_opened,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_are_short_and_stable() {
        let lost = Error::Core(CoreError::ConnectionLost);
        assert_eq!(error_kind(&lost), "connection lost");
        let unknown = Error::OrderOutcomeUnknown {
            request_id: "17".into(),
            asset: "EURUSD_otc".into(),
            amount: Decimal::ONE,
        };
        assert_eq!(error_kind(&unknown), "order outcome unknown");
        let closed = Error::AssetClosed { asset: "X".into() };
        assert_eq!(error_kind(&closed), "AssetClosed");
    }

    #[test]
    fn the_schedule_is_deterministic_and_within_its_range() {
        let (low, high) = (Duration::from_millis(400), Duration::from_millis(1500));
        let mut a = Rng(7);
        let mut b = Rng(7);
        for _ in 0..1000 {
            let pause = a.between(low, high);
            assert_eq!(pause, b.between(low, high));
            assert!(pause >= low && pause <= high, "{pause:?}");
        }
    }

    #[test]
    fn nonsense_configurations_are_refused() {
        let mut config = SoakConfig::smoke(Duration::from_secs(1));
        assert!(config.check().is_ok());
        config.clients = 0;
        assert!(matches!(config.check(), Err(ReliabilityError::Usage(_))));
    }
}
