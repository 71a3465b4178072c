//! Memory figures, read from `/proc/self/status` (Linux).
//!
//! * A stalled module: a core-pre client whose only module never reads its inbox, while a
//!   flood of frames arrives. The router must keep memory bounded (the inbox is bounded;
//!   a stalled module's excess is dropped and counted). Baseline: the bare read loop
//!   discarding the same flood.
//! * Idle connections: many PocketOption clients connected to the simulator in one
//!   process, doing nothing. Baseline: as many bare tokio-tungstenite connections, each
//!   with a task waiting on its next frame; in between, plain core-pre clients (the
//!   framework without the PocketOption modules).
//!
//! Each figure is taken in a fresh child process (see the suite's `--child`), so the peak
//! (`VmHWM`) and the allocator's state belong to that figure alone; the servers run in the
//! parent.
//!
//! [`rss`] and [`parse_status`] are the workspace's one reader of `/proc/self/status`: the
//! soak (`reliability::soak`) samples its memory with them too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use client_ws::{WsConfig, WsConnector};
use core_pre::{BoxError, ClientBuilder, Message, Module, ModuleContext, Rule};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite;

use crate::error::{BenchError, within};
use crate::throughput::{CONNECT_WAIT, bare_connect};
use crate::ticks::pocketoption_builder;

/// Resident memory of this process, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rss {
    /// `VmRSS`: resident now.
    pub current_kib: u64,
    /// `VmHWM`: the peak since start (or since [`reset_peak`]).
    pub peak_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` from `/proc/self/status`.
pub fn rss() -> Result<Rss, BenchError> {
    let status =
        std::fs::read_to_string("/proc/self/status").map_err(|e| BenchError::Measurement {
            what: "resident memory",
            reason: format!("/proc/self/status: {e} (the memory figures need Linux)"),
        })?;
    parse_status(&status).ok_or(BenchError::Measurement {
        what: "resident memory",
        reason: "no VmRSS/VmHWM lines in /proc/self/status".into(),
    })
}

/// `VmRSS` and `VmHWM` of a `/proc/<pid>/status` text, in KiB; `None` when either line is
/// missing or not in kB.
///
/// ```
/// let status = "Name:\tsoak\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
/// let rss = bench::memory::parse_status(status).unwrap();
/// assert_eq!((rss.current_kib, rss.peak_kib), (1024, 2048));
/// ```
pub fn parse_status(status: &str) -> Option<Rss> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some(Rss {
        current_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

/// Resets `VmHWM` to the current RSS (writes `5` to `/proc/self/clear_refs`); false where
/// the kernel does not allow it, in which case the peak includes what came before.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// What a memory figure measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Growth {
    /// RSS before the load, KiB.
    pub before_kib: u64,
    /// Peak RSS during the load, KiB.
    pub peak_kib: u64,
    /// RSS after the load, KiB.
    pub after_kib: u64,
    /// How many units (frames, connections) the load had.
    pub units: u64,
}

impl Growth {
    pub(crate) fn measure_from(before: Rss, units: u64) -> Result<Growth, BenchError> {
        let after = rss()?;
        Ok(Growth {
            before_kib: before.current_kib,
            peak_kib: after.peak_kib.max(after.current_kib),
            after_kib: after.current_kib,
            units,
        })
    }

    /// Peak growth over the load, in KiB.
    pub fn peak_growth_kib(&self) -> u64 {
        self.peak_kib.saturating_sub(self.before_kib)
    }

    /// Growth that stayed after the load, per unit, in KiB.
    pub fn per_unit_kib(&self) -> f64 {
        self.after_kib.saturating_sub(self.before_kib) as f64 / self.units.max(1) as f64
    }
}

/// A module that takes every text frame and never reads its inbox.
pub struct Stalled {
    _ctx: ModuleContext<()>,
}

impl Module<()> for Stalled {
    type Handle = ();
    const NAME: &'static str = "stalled";

    fn new(ctx: ModuleContext<()>) -> (Self, ()) {
        (Stalled { _ctx: ctx }, ())
    }

    fn rule(_state: &Arc<()>) -> Box<dyn Rule> {
        Box::new(|msg: &Message| msg.is_text())
    }

    async fn run(&mut self) -> Result<(), BoxError> {
        std::future::pending::<()>().await;
        Ok(())
    }
}

/// Ours: a core-pre client with a [`Stalled`] module while `frames` arrive; the peak RSS
/// growth is the figure. Returns once the router has delivered or dropped every frame.
pub async fn stalled_module(url: &str, frames: u64, limit: Duration) -> Result<Growth, BenchError> {
    let (client, runner) = ClientBuilder::new(WsConnector::new(WsConfig::new(url)))
        .without_keep_alive()
        .with_read_timeout(None)
        .with_module::<Stalled>()
        .build();
    let runner = runner.spawn();
    client.wait_connected(CONNECT_WAIT).await?;
    let before = rss()?;
    reset_peak();
    client.send("start").await?;
    let routed = || {
        client
            .route_stats()
            .iter()
            .find(|s| s.module == Stalled::NAME)
            .map_or(0, |s| s.delivered + s.dropped)
    };
    within("the stalled module's frames to be routed", limit, async {
        while routed() < frames {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await?;
    let growth = Growth::measure_from(before, frames)?;
    client.shutdown().await?;
    let _ = within("the runner to stop", CONNECT_WAIT, runner).await;
    Ok(growth)
}

/// The baseline: the bare read loop discarding `frames` text frames.
pub async fn bare_discard(url: &str, frames: u64, limit: Duration) -> Result<Growth, BenchError> {
    let mut ws = bare_connect(url).await?;
    let before = rss()?;
    reset_peak();
    ws.send(tungstenite::Message::text("start")).await?;
    let mut count = 0u64;
    within("the flood (bare loop)", limit, async {
        while count < frames {
            match ws.next().await {
                Some(Ok(tungstenite::Message::Text(_))) => count += 1,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(BenchError::from(e)),
                None => return Err(BenchError::Protocol("the server closed early".into())),
            }
        }
        Ok(())
    })
    .await??;
    let growth = Growth::measure_from(before, frames)?;
    let _ = ws.close(None).await;
    Ok(growth)
}

/// How long idle connections sit before the memory is read, so lazy buffers settle.
pub(crate) const IDLE_SETTLE: Duration = Duration::from_millis(300);
/// Connections opened at once.
const CONNECT_BATCH: usize = 50;

/// Ours: `count` PocketOption clients connected to the simulator at `url`, idle. One extra
/// client is connected first, so one-time costs (lazy statics, runtime growth) are not
/// charged to the others.
pub async fn idle_pocketoption(url: &str, count: usize) -> Result<Growth, BenchError> {
    let warm = connect_pocketoption(url).await?;
    tokio::time::sleep(IDLE_SETTLE).await;
    let before = rss()?;
    let mut clients = Vec::with_capacity(count);
    let started = Instant::now();
    while clients.len() < count {
        let batch = CONNECT_BATCH.min(count - clients.len());
        let connected =
            futures::future::join_all((0..batch).map(|_| connect_pocketoption(url))).await;
        for client in connected {
            clients.push(client?);
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err(BenchError::Timeout {
                what: format!("{count} idle clients to connect"),
                after: Duration::from_secs(120),
            });
        }
    }
    tokio::time::sleep(IDLE_SETTLE).await;
    let growth = Growth::measure_from(before, count as u64)?;
    for client in clients.iter().chain(std::iter::once(&warm)) {
        let _ = client.shutdown().await;
    }
    Ok(growth)
}

async fn connect_pocketoption(url: &str) -> Result<binary_options_tools::PocketOption, BenchError> {
    Ok(within(
        "an idle PocketOption client to connect",
        CONNECT_WAIT,
        pocketoption_builder(url).connect(),
    )
    .await??)
}

/// Framework overhead alone: `count` plain core-pre clients (client_ws transport, no
/// modules) connected to the same simulator, idle.
pub async fn idle_core(url: &str, count: usize) -> Result<Growth, BenchError> {
    idle_core_holding(url, count, |_| async {}).await
}

/// [`idle_core`], keeping the clients connected until `hold` (given the growth) returns:
/// the load generator of the server's idle-RSS figure, which measures the server while
/// the clients are still there.
pub async fn idle_core_holding<H, F>(url: &str, count: usize, hold: H) -> Result<Growth, BenchError>
where
    H: FnOnce(Growth) -> F,
    F: std::future::Future<Output = ()>,
{
    let open = || async move {
        let (client, runner) = ClientBuilder::new(WsConnector::new(WsConfig::new(url))).build();
        let runner = runner.spawn();
        client.wait_connected(CONNECT_WAIT).await?;
        Ok::<_, BenchError>((client, runner))
    };
    let warm = open().await?;
    tokio::time::sleep(IDLE_SETTLE).await;
    let before = rss()?;
    let mut clients = Vec::with_capacity(count);
    while clients.len() < count {
        let batch = CONNECT_BATCH.min(count - clients.len());
        for client in futures::future::join_all((0..batch).map(|_| open())).await {
            clients.push(client?);
        }
    }
    tokio::time::sleep(IDLE_SETTLE).await;
    let growth = Growth::measure_from(before, count as u64)?;
    hold(growth).await;
    for (client, runner) in clients.into_iter().chain(std::iter::once(warm)) {
        let _ = client.shutdown().await;
        let _ = within("an idle client's runner to stop", CONNECT_WAIT, runner).await;
    }
    Ok(growth)
}

/// The baseline: `count` bare tokio-tungstenite connections to the same simulator, each
/// with a task waiting for its next frame.
pub async fn idle_bare(url: &str, count: usize) -> Result<Growth, BenchError> {
    idle_bare_holding(url, count, |_| async {}).await
}

/// [`idle_bare`], keeping the connections open until `hold` (given the growth) returns.
pub async fn idle_bare_holding<H, F>(url: &str, count: usize, hold: H) -> Result<Growth, BenchError>
where
    H: FnOnce(Growth) -> F,
    F: std::future::Future<Output = ()>,
{
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let open = |stopped: tokio::sync::watch::Receiver<bool>| async move {
        let mut ws = bare_connect(url).await?;
        Ok::<_, BenchError>(async move {
            let mut stopped = stopped;
            loop {
                tokio::select! {
                    frame = ws.next() => if frame.is_none() { break },
                    _ = stopped.changed() => break,
                }
            }
            let _ = ws.close(None).await;
        })
    };
    let warm = tokio::spawn(open(stopped.clone()).await?);
    tokio::time::sleep(IDLE_SETTLE).await;
    let before = rss()?;
    let mut tasks = Vec::with_capacity(count);
    while tasks.len() < count {
        let batch = CONNECT_BATCH.min(count - tasks.len());
        let opened = futures::future::join_all((0..batch).map(|_| open(stopped.clone()))).await;
        for task in opened {
            tasks.push(tokio::spawn(task?));
        }
    }
    tokio::time::sleep(IDLE_SETTLE).await;
    let growth = Growth::measure_from(before, count as u64)?;
    hold(growth).await;
    let _ = stop.send(true);
    for task in tasks.into_iter().chain(std::iter::once(warm)) {
        let _ = within("an idle connection to close", CONNECT_WAIT, task).await;
    }
    Ok(growth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_parsed_in_kib() {
        let status = "Name:\tsuite\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t2\n";
        assert_eq!(
            parse_status(status),
            Some(Rss {
                current_kib: 10240,
                peak_kib: 20480
            })
        );
        assert_eq!(parse_status("Name:\tx\n"), None);
        assert_eq!(parse_status("VmHWM:\t12 kB\nVmRSS:\t12 MB\n"), None);
        assert_eq!(parse_status("VmHWM:\t12 kB\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_a_resident_size_and_a_peak() {
        let rss = rss().expect("Linux reports VmRSS and VmHWM");
        assert!(rss.current_kib > 100, "{rss:?}");
        assert!(rss.peak_kib >= rss.current_kib, "{rss:?}");
    }
}
