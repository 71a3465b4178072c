//! What the end-to-end tests share: a bound on every wait, the asset they trade, and a fast
//! simulator.

// Each test binary uses a different part of this.
#![allow(dead_code)]

use std::time::Duration;

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
