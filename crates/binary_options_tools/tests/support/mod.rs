//! What the end-to-end tests share: a bound on every wait, the asset they trade, and a fast
//! simulator.

// Each test binary uses a different part of this.
#![allow(dead_code)]

use std::time::Duration;

use binary_options_tools::{PocketOption, PocketOptionBuilder, Ssid, Timeouts};
use core_pre::ReconnectPolicy;
use pocketoption_sim::{Simulator, SimulatorBuilder};

/// The bound on every wait in these tests (generous: CI machines are slow and shared).
pub(crate) const WAIT: Duration = Duration::from_secs(15);
/// The asset the tests stream and trade.
pub(crate) const ASSET: &str = "EURUSD_otc";

/// Awaits `f`, failing the test with `what` if it takes longer than [`WAIT`].
pub(crate) async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A simulator with fast ticks and a fast clock (expiries pass ten times faster).
pub(crate) fn fast_sim(seed: u64) -> SimulatorBuilder {
    Simulator::builder()
        .with_seed(seed)
        .with_tick_interval(Duration::from_millis(50))
        .with_time_scale(10.0)
}

/// A demo client of `sim` only (no other URL), with quick reconnects and short timeouts.
pub(crate) fn fast_client(sim: &Simulator, session: &str, uid: u64) -> PocketOptionBuilder {
    PocketOption::builder(Ssid::demo(session, uid))
        .with_url(sim.url())
        .only_given_urls()
        .with_reconnect_policy(
            ReconnectPolicy::default()
                .with_initial_delay(Duration::from_millis(50))
                .with_max_delay(Duration::from_millis(400)),
        )
        .with_timeouts(
            Timeouts::default()
                .with_request(Duration::from_secs(3))
                .with_connect(Duration::from_secs(10)),
        )
}
