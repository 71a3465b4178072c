//! Helpers shared by the integration suites: bounded waits, a fast simulator, clients
//! wired through a [`FaultProxy`], and checks that recur in every scenario.

#![allow(dead_code)] // each test binary uses its own subset

pub(crate) mod tls;

use std::future::Future;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use binary_options_tools::{
    Candle, PocketOption, PocketOptionBuilder, Ssid, SubscriptionStream, Timeouts,
};
use core_pre::{ConnectionState, ReconnectPolicy};
use futures::StreamExt;
use pocketoption_sim::{Simulator, SimulatorBuilder};
use reliability::FaultProxy;
use tokio::sync::watch;

/// Every wait in the suites is bounded by this.
pub(crate) const WAIT: Duration = Duration::from_secs(15);
/// The asset most scenarios stream and trade.
pub(crate) const ASSET: &str = "EURUSD_otc";
/// The account the PocketOption scenarios trade on.
pub(crate) const UID: u64 = 77_001;

/// Panics raised outside the test files (in the libraries under test), in this process.
static LIBRARY_PANICS: AtomicU64 = AtomicU64::new(0);

/// Starts counting panics raised by library code (a test's own failed assertions do not
/// count: they are raised in `tests/`). A supervised module that panics is restarted and
/// the test might never notice otherwise.
pub(crate) fn count_library_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_tests = info
                .location()
                .is_some_and(|at| at.file().replace('\\', "/").contains("reliability/tests/"));
            if !in_tests {
                LIBRARY_PANICS.fetch_add(1, Ordering::Relaxed);
            }
            previous(info);
        }));
    });
}

/// Fails the test if library code panicked anywhere in this process.
pub(crate) fn assert_no_library_panic() {
    let panics = LIBRARY_PANICS.load(Ordering::Relaxed);
    assert_eq!(
        panics, 0,
        "library code panicked {panics} time(s); see the output above"
    );
}

/// Awaits `future`, failing the test if it takes longer than [`WAIT`].
pub(crate) async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {WAIT:?} waiting for {what}"))
}

/// Polls `condition` every 10 ms until it holds, failing the test after [`WAIT`]. For
/// state that offers nothing to await (the simulator's books, counters).
pub(crate) async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    within(what, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// A simulator with fast ticks (20 ms) and fast deals (20× time scale: a 5 s deal closes
/// after 250 ms).
pub(crate) fn fast_sim() -> SimulatorBuilder {
    Simulator::builder()
        .with_seed(17)
        .with_tick_interval(Duration::from_millis(20))
        .with_time_scale(20.0)
}

/// Short reconnect delays, so scenarios with several reconnects stay fast.
pub(crate) fn quick_reconnects() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .with_initial_delay(Duration::from_millis(20))
        .with_max_delay(Duration::from_millis(200))
}

/// A PocketOption client for `url` with short timeouts.
pub(crate) fn po_builder(url: &str, session: &str) -> PocketOptionBuilder {
    PocketOption::builder(Ssid::demo(session, UID))
        .with_url(url)
        .only_given_urls()
        .with_reconnect_policy(quick_reconnects())
        .with_timeouts(
            Timeouts::default()
                .with_connect(Duration::from_secs(10))
                .with_attempt(Duration::from_secs(2))
                .with_handshake(Duration::from_secs(2))
                .with_request(Duration::from_secs(2))
                .with_result_grace(Duration::from_secs(5)),
        )
}

/// A simulator, a proxy in front of it, and a PocketOption client connected through it.
pub(crate) struct PoRig {
    pub sim: Simulator,
    pub proxy: FaultProxy,
    pub client: PocketOption,
}

impl PoRig {
    pub(crate) async fn start() -> PoRig {
        Self::with(fast_sim(), |builder| builder).await
    }

    pub(crate) async fn with(
        sim: SimulatorBuilder,
        configure: impl FnOnce(PocketOptionBuilder) -> PocketOptionBuilder,
    ) -> PoRig {
        count_library_panics();
        let sim = sim.start().await.expect("the simulator starts");
        let proxy = FaultProxy::start(sim.addr())
            .await
            .expect("the proxy starts");
        let builder = configure(po_builder(&proxy.ws_url(&sim.url()), "fault-session"));
        let client = within("the first connection", builder.connect())
            .await
            .expect("the client connects");
        PoRig { sim, proxy, client }
    }

    /// Waits until the client has reconnected `n` times in all and is connected.
    pub(crate) async fn reconnected(&self, n: u64) {
        let client = &self.client;
        until(&format!("reconnect #{n}"), || {
            client.statistics().reconnects >= n && client.is_connected()
        })
        .await;
    }

    /// Shuts the client down and checks that it let go of everything: `shutdown` is Ok,
    /// the state is `Closed`, `streams` end, no module failed, the server sees no
    /// connection left, and no library code panicked.
    pub(crate) async fn shut_down_cleanly(self, streams: Vec<SubscriptionStream>) {
        let PoRig { sim, proxy, client } = self;
        let health = client.module_health();
        assert!(
            health.iter().all(|m| m.failures == 0),
            "no module failed or panicked: {health:?}"
        );
        within("shutdown", client.shutdown())
            .await
            .expect("shutdown succeeds");
        assert_eq!(client.connection_state(), ConnectionState::Closed);
        for mut stream in streams {
            within("the stream to end", async {
                while stream.next().await.is_some() {}
            })
            .await;
        }
        sim.wait_for_connections(0, WAIT)
            .await
            .expect("the client's connection is gone");
        proxy.shutdown().await;
        sim.shutdown().await.expect("the simulator stops");
        assert_no_library_panic();
    }
}

/// The next candle of `stream`.
pub(crate) async fn next_candle(stream: &mut SubscriptionStream) -> Candle {
    within("a candle", stream.next())
        .await
        .expect("the stream does not end")
}

/// Reads `stream` until `n` ticks stamped after `since` (server time) arrived; returns how
/// many older, buffered ticks were skipped on the way.
pub(crate) async fn fresh_ticks(stream: &mut SubscriptionStream, since: f64, n: usize) -> usize {
    let mut fresh = 0;
    let mut stale = 0;
    while fresh < n {
        if next_candle(stream).await.time > since {
            fresh += 1;
        } else {
            stale += 1;
        }
    }
    stale
}

/// Records every connection state a client passes through, from now on.
pub(crate) struct StateLog {
    states: watch::Receiver<Vec<ConnectionState>>,
    task: tokio::task::JoinHandle<()>,
}

impl StateLog {
    pub(crate) fn start(mut rx: watch::Receiver<ConnectionState>) -> StateLog {
        let (tx, states) = watch::channel(Vec::new());
        let task = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let state = rx.borrow_and_update().clone();
                tx.send_modify(|log| log.push(state));
            }
        });
        StateLog { states, task }
    }

    /// Waits until the log satisfies `done`; returns the log.
    pub(crate) async fn wait(
        &mut self,
        what: &str,
        done: impl Fn(&[ConnectionState]) -> bool,
    ) -> Vec<ConnectionState> {
        within(what, self.states.wait_for(|log| done(log)))
            .await
            .expect("the recorder runs")
            .clone()
    }
}

impl Drop for StateLog {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `(attempt, delay)` of every `Reconnecting` state in `log`.
pub(crate) fn reconnect_delays(log: &[ConnectionState]) -> Vec<(u32, Duration)> {
    log.iter()
        .filter_map(|state| match state {
            ConnectionState::Reconnecting { attempt, delay, .. } => Some((*attempt, *delay)),
            _ => None,
        })
        .collect()
}

/// Checks that observed reconnect delays follow an exponential backoff from `initial`,
/// doubling, capped at `cap`, shortened by jitter of at most `jitter`; that they grew
/// and reached the cap; and that jitter actually varied them.
pub(crate) fn assert_backoff(
    delays: &[(u32, Duration)],
    initial: Duration,
    cap: Duration,
    jitter: f64,
) {
    assert!(
        delays.len() >= 4,
        "several retries were observed: {delays:?}"
    );
    assert!(
        delays.windows(2).all(|w| w[0].0 < w[1].0),
        "attempt numbers increase: {delays:?}"
    );
    for &(attempt, delay) in delays {
        let base = (initial.as_secs_f64() * 2f64.powi(attempt as i32 - 1)).min(cap.as_secs_f64());
        let shortest = base * (1.0 - jitter) - 1e-6;
        let secs = delay.as_secs_f64();
        assert!(
            secs <= base + 1e-6 && secs >= shortest,
            "attempt {attempt}: {delay:?} is outside [{shortest:.4} s, {base:.4} s]"
        );
        assert!(
            delay <= cap,
            "attempt {attempt}: {delay:?} exceeds the cap {cap:?}"
        );
    }
    let first = delays[0].1;
    let last = delays[delays.len() - 1];
    assert!(
        last.1 > first,
        "delays grow: first {first:?}, last {:?}",
        last.1
    );
    let capped_base =
        |attempt: u32| initial.as_secs_f64() * 2f64.powi(attempt as i32 - 1) >= cap.as_secs_f64();
    assert!(
        delays.iter().any(|&(attempt, _)| capped_base(attempt)),
        "the backoff reached its cap: {delays:?}"
    );
    let unjittered = delays.iter().all(|&(attempt, delay)| {
        let base = (initial.as_secs_f64() * 2f64.powi(attempt as i32 - 1)).min(cap.as_secs_f64());
        (delay.as_secs_f64() - base).abs() < 1e-6
    });
    assert!(!unjittered, "jitter varied the delays: {delays:?}");
}
