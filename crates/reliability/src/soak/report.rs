//! [`SoakReport`]: the figures a soak run produces, its verdict, and how it is printed.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde_json::{Value, json};

use super::SoakConfig;
use crate::proxy::ProxyStats;

/// One memory sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RssSample {
    /// Time since the run started.
    pub at: Duration,
    /// Resident set size of the whole process (clients, simulator and proxy), in KiB.
    pub kib: u64,
}

/// The faults the chaos task injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Times every connection was reset at once.
    pub cut_all: u64,
    /// Times one connection was reset.
    pub cut_one: u64,
    /// Outages: new connections refused for a moment, and every connection reset.
    pub outages: u64,
    /// Stalls: nothing forwarded for a moment, sockets kept open.
    pub stalls: u64,
    /// Connections reset, in all.
    pub connections_reset: u64,
}

/// What happened to the orders the lanes placed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderCounts {
    /// Calls to `trade`.
    pub sent: u64,
    /// Answered with the opened deal.
    pub opened: u64,
    /// Refused by the platform.
    pub refused: u64,
    /// Sent, but the reply was lost and the deal lists did not show it.
    pub outcome_unknown: u64,
    /// Failed before anything was sent (not connected, mostly).
    pub not_sent: u64,
}

/// The figures of a soak run (see the [module docs](super)).
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// What was run.
    pub config: SoakConfig,
    /// How long the whole run took, settling included.
    pub elapsed: Duration,
    /// Memory over time.
    pub rss: Vec<RssSample>,
    /// Faults injected.
    pub faults: FaultCounts,
    /// The proxy's counters.
    pub proxy: ProxyStats,
    /// Reconnections, all clients.
    pub reconnects: u64,
    /// Failed connection attempts, all clients.
    pub connect_failures: u64,
    /// Ended connections by reason, all clients.
    pub disconnects: BTreeMap<String, u64>,
    /// Ticks received, all clients.
    pub ticks: u64,
    /// Clients that received ticks after the last fault.
    pub clients_streaming_after_faults: usize,
    /// Orders by outcome.
    pub orders: OrderCounts,
    /// Orders reported as unknown that the platform did open.
    pub unknown_that_opened: u64,
    /// Deals the platform opened for the soak's accounts.
    pub trades_placed: u64,
    /// Distinct placed deals whose results reached their client.
    pub results_received: u64,
    /// Orders executed twice, or deals confirmed twice.
    pub duplicates: u64,
    /// Results for deals the platform never opened for the soak.
    pub phantom_results: u64,
    /// Placed deals without a result (at most a few are listed).
    pub missing_results: Vec<String>,
    /// Calls that did not return within their own timeout plus a margin.
    pub hung_calls: u64,
    /// Panics anywhere in the process during the run.
    pub panics: u64,
    /// Module failures or panics recorded by the clients' supervisors.
    pub module_failures: u64,
    /// Clients whose `shutdown()` returned Ok.
    pub clean_shutdowns: usize,
    /// Clients that stopped trying to connect before the end, with their state.
    pub given_up: Vec<String>,
    /// Errors returned to callers, by call and kind.
    pub errors: BTreeMap<String, u64>,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl SoakReport {
    /// Every promise the run broke; empty means it passed.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        if self.trades_placed == 0 {
            failures.push("no trade was placed: the run proved nothing".to_owned());
        }
        if self.trades_placed != self.results_received {
            failures.push(format!(
                "trades placed ({}) != results received ({}); missing: {:?}",
                self.trades_placed,
                self.results_received,
                self.missing_results.iter().take(5).collect::<Vec<_>>()
            ));
        }
        if self.duplicates > 0 {
            failures.push(format!("{} duplicated orders or deals", self.duplicates));
        }
        if self.phantom_results > 0 {
            failures.push(format!(
                "{} results for deals the platform never opened",
                self.phantom_results
            ));
        }
        if self.hung_calls > 0 {
            failures.push(format!("{} calls hung", self.hung_calls));
        }
        if self.panics > 0 {
            failures.push(format!("{} panics", self.panics));
        }
        if self.module_failures > 0 {
            failures.push(format!("{} module failures", self.module_failures));
        }
        if self.clients_streaming_after_faults < self.config.clients {
            failures.push(format!(
                "only {} of {} clients streamed ticks after the last fault (lost subscription)",
                self.clients_streaming_after_faults, self.config.clients
            ));
        }
        if !self.given_up.is_empty() {
            failures.push(format!(
                "clients stopped reconnecting: {}",
                self.given_up.join("; ")
            ));
        }
        if self.clean_shutdowns < self.config.clients {
            failures.push(format!(
                "only {} of {} clients shut down cleanly",
                self.clean_shutdowns, self.config.clients
            ));
        }
        failures
    }

    /// True when no promise was broken.
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    /// The report as JSON (for dashboards and comparisons between runs).
    pub fn to_json(&self) -> Value {
        json!({
            "config": {
                "duration_s": self.config.duration.as_secs_f64(),
                "clients": self.config.clients,
                "lanes": self.config.lanes,
                "seed": self.config.seed,
                "fault_interval_s": [
                    self.config.fault_interval.0.as_secs_f64(),
                    self.config.fault_interval.1.as_secs_f64()
                ],
            },
            "elapsed_s": self.elapsed.as_secs_f64(),
            "rss_kib": self.rss.iter().map(|s| json!([s.at.as_secs_f64(), s.kib])).collect::<Vec<_>>(),
            "faults": {
                "cut_all": self.faults.cut_all,
                "cut_one": self.faults.cut_one,
                "outages": self.faults.outages,
                "stalls": self.faults.stalls,
                "connections_reset": self.faults.connections_reset,
            },
            "reconnects": self.reconnects,
            "connect_failures": self.connect_failures,
            "disconnects": self.disconnects,
            "ticks": self.ticks,
            "clients_streaming_after_faults": self.clients_streaming_after_faults,
            "orders": {
                "sent": self.orders.sent,
                "opened": self.orders.opened,
                "refused": self.orders.refused,
                "outcome_unknown": self.orders.outcome_unknown,
                "unknown_that_opened": self.unknown_that_opened,
                "not_sent": self.orders.not_sent,
            },
            "trades_placed": self.trades_placed,
            "results_received": self.results_received,
            "duplicates": self.duplicates,
            "phantom_results": self.phantom_results,
            "hung_calls": self.hung_calls,
            "panics": self.panics,
            "module_failures": self.module_failures,
            "given_up": self.given_up,
            "errors": self.errors,
            "failures": self.failures(),
        })
    }
}

/// At most this many RSS rows are printed (evenly spread, first and last included).
const RSS_ROWS: usize = 24;

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "soak: {} clients × {} lanes for {:.0} s (seed {}), a fault every {:.1}–{:.1} s; {:.1} s in all",
            c.clients,
            c.lanes,
            c.duration.as_secs_f64(),
            c.seed,
            c.fault_interval.0.as_secs_f64(),
            c.fault_interval.1.as_secs_f64(),
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "\nmemory (RSS of the whole process: clients + simulator + proxy; the soak's own books add ~50 bytes per trade)"
        )?;
        if self.rss.is_empty() {
            writeln!(f, "  not reported on this system")?;
        } else {
            writeln!(f, "  {:>8}  {:>9}", "t (s)", "RSS (MiB)")?;
            let step = self.rss.len().div_ceil(RSS_ROWS).max(1);
            let last = self.rss.len() - 1;
            for (index, sample) in self.rss.iter().enumerate() {
                if index % step == 0 || index == last {
                    writeln!(
                        f,
                        "  {:>8.1}  {:>9.1}",
                        sample.at.as_secs_f64(),
                        mib(sample.kib)
                    )?;
                }
            }
            let peak = self.rss.iter().map(|s| s.kib).max().unwrap_or(0);
            writeln!(
                f,
                "  first {:.1} MiB, peak {:.1} MiB, last {:.1} MiB",
                mib(self.rss[0].kib),
                mib(peak),
                mib(self.rss[last].kib)
            )?;
        }
        let faults = &self.faults;
        writeln!(
            f,
            "\nfaults: {} × reset all, {} × reset one, {} × outage, {} × stall ({} connections reset)",
            faults.cut_all, faults.cut_one, faults.outages, faults.stalls, faults.connections_reset
        )?;
        writeln!(
            f,
            "connections: {} reconnects, {} failed attempts ({} refused by the proxy); ended by: {}",
            self.reconnects,
            self.connect_failures,
            self.proxy.refused,
            if self.disconnects.is_empty() {
                "nothing".to_owned()
            } else {
                self.disconnects
                    .iter()
                    .map(|(reason, n)| format!("{reason} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )?;
        writeln!(
            f,
            "streams: {} ticks; {}/{} clients streaming after the last fault",
            self.ticks, self.clients_streaming_after_faults, c.clients
        )?;
        let o = &self.orders;
        writeln!(
            f,
            "orders: {} sent → {} opened, {} refused, {} outcome unknown ({} of them opened on the platform), {} not sent",
            o.sent, o.opened, o.refused, o.outcome_unknown, self.unknown_that_opened, o.not_sent
        )?;
        writeln!(
            f,
            "trades placed (platform's books): {}; results received: {}; duplicates: {}; results for unknown deals: {}",
            self.trades_placed, self.results_received, self.duplicates, self.phantom_results
        )?;
        writeln!(
            f,
            "calls hung: {}; panics: {}; module failures: {}; clean shutdowns: {}/{}",
            self.hung_calls, self.panics, self.module_failures, self.clean_shutdowns, c.clients
        )?;
        writeln!(f, "\nerrors returned to callers, by kind:")?;
        if self.errors.is_empty() {
            writeln!(f, "  none")?;
        }
        for (kind, count) in &self.errors {
            writeln!(f, "  {count:>7}  {kind}")?;
        }
        let failures = self.failures();
        if failures.is_empty() {
            writeln!(f, "\nverdict: PASS")
        } else {
            writeln!(f, "\nverdict: FAIL")?;
            for failure in failures {
                writeln!(f, "  - {failure}")?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(placed: u64, received: u64) -> SoakReport {
        SoakReport {
            config: SoakConfig::smoke(Duration::from_secs(1)),
            elapsed: Duration::from_secs(2),
            rss: vec![RssSample {
                at: Duration::ZERO,
                kib: 2048,
            }],
            faults: FaultCounts::default(),
            proxy: ProxyStats::default(),
            reconnects: 3,
            connect_failures: 0,
            disconnects: BTreeMap::new(),
            ticks: 10,
            clients_streaming_after_faults: 4,
            orders: OrderCounts::default(),
            unknown_that_opened: 0,
            trades_placed: placed,
            results_received: received,
            duplicates: 0,
            phantom_results: 0,
            missing_results: Vec::new(),
            hung_calls: 0,
            panics: 0,
            module_failures: 0,
            clean_shutdowns: 4,
            given_up: Vec::new(),
            errors: BTreeMap::new(),
        }
    }

    #[test]
    fn a_run_passes_only_when_every_placed_trade_got_its_result() {
        assert!(report(10, 10).passed());
        assert!(report(10, 10).to_string().contains("verdict: PASS"));
        let lost = report(10, 9);
        assert!(!lost.passed());
        assert!(lost.to_string().contains("verdict: FAIL"));
        assert!(
            !report(0, 0).passed(),
            "a run without trades proves nothing"
        );
    }

    #[test]
    fn hung_calls_panics_duplicates_and_lost_streams_fail_the_run() {
        let mut hung = report(5, 5);
        hung.hung_calls = 1;
        let mut panicked = report(5, 5);
        panicked.panics = 1;
        let mut duplicated = report(5, 5);
        duplicated.duplicates = 1;
        let mut lost_stream = report(5, 5);
        lost_stream.clients_streaming_after_faults = 3;
        for failed in [hung, panicked, duplicated, lost_stream] {
            assert_eq!(failed.failures().len(), 1, "{:?}", failed.failures());
        }
    }
}
