//! Module supervision: a module whose `run` fails or panics is restarted after a throttled
//! delay, and every failure is recorded and logged, never swallowed.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::watch;

use crate::error::BoxError;
use crate::runtime::{self, Instant, MaybeSend};

/// How a failed module is restarted: after `min_delay`, doubling per consecutive failure up
/// to `max_delay` (the [`ReconnectPolicy`](crate::ReconnectPolicy) formula, without
/// jitter). A module that ran for `reset_after` before failing starts from `min_delay`
/// again.
///
/// ```
/// use std::time::Duration;
/// use core_pre::RestartPolicy;
///
/// let policy = RestartPolicy::default()
///     .with_min_delay(Duration::from_millis(10))
///     .with_max_delay(Duration::from_millis(50));
/// let delays: Vec<u128> = (1..=5).map(|n| policy.delay_for(n).as_millis()).collect();
/// assert_eq!(delays, vec![10, 20, 40, 50, 50]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    min_delay: Duration,
    max_delay: Duration,
    reset_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            reset_after: Duration::from_secs(60),
        }
    }
}

impl RestartPolicy {
    /// Delay after the first failure (default 100 ms).
    pub fn with_min_delay(mut self, delay: Duration) -> Self {
        self.min_delay = delay;
        self
    }

    /// The cap on the delay (default 10 s).
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Running this long counts as healthy again (default 60 s).
    pub fn with_reset_after(mut self, duration: Duration) -> Self {
        self.reset_after = duration;
        self
    }

    /// The delay before restart number `consecutive_failures` (1-based).
    pub fn delay_for(&self, consecutive_failures: u32) -> Duration {
        crate::reconnect::backoff(self.min_delay, self.max_delay, 2.0, consecutive_failures)
    }
}

/// The health of one module, shared between its supervisor and the client.
pub(crate) struct ModuleHealth {
    name: &'static str,
    running: AtomicBool,
    failures: AtomicU32,
    last_error: Mutex<Option<String>>,
}

/// A module's health, as reported by `Client::module_health`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleStatus {
    /// The module's name.
    pub name: &'static str,
    /// True while its task runs.
    pub running: bool,
    /// How many times `run` failed or panicked.
    pub failures: u32,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

impl ModuleHealth {
    pub(crate) fn new(name: &'static str) -> Arc<Self> {
        Arc::new(ModuleHealth {
            name,
            running: AtomicBool::new(false),
            failures: AtomicU32::new(0),
            last_error: Mutex::new(None),
        })
    }

    pub(crate) fn status(&self) -> ModuleStatus {
        ModuleStatus {
            name: self.name,
            running: self.running.load(Ordering::Acquire),
            failures: self.failures.load(Ordering::Acquire),
            last_error: crate::runtime::lock(&self.last_error).clone(),
        }
    }

    fn record_failure(&self, error: String) {
        self.failures.fetch_add(1, Ordering::AcqRel);
        *crate::runtime::lock(&self.last_error) = Some(error);
    }
}

/// Anything the supervisor can run repeatedly.
pub(crate) trait Supervised: MaybeSend + 'static {
    fn run_once(&mut self) -> impl Future<Output = Result<(), BoxError>> + MaybeSend + '_;
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_owned()
    }
}

/// Runs `module` until it returns `Ok(())` or the client shuts down, restarting it after
/// each failure.
pub(crate) async fn supervise<M: Supervised>(
    mut module: M,
    health: Arc<ModuleHealth>,
    policy: RestartPolicy,
    mut shutdown: watch::Receiver<bool>,
) {
    let name = health.name;
    health.running.store(true, Ordering::Release);
    let mut consecutive = 0u32;
    loop {
        let started = Instant::now();
        let outcome = AssertUnwindSafe(module.run_once()).catch_unwind().await;
        let error = match outcome {
            Ok(Ok(())) => {
                if !*shutdown.borrow() {
                    tracing::warn!(
                        module = name,
                        "module returned before shutdown; its handle will report it stopped"
                    );
                }
                break;
            }
            Ok(Err(e)) => e.to_string(),
            Err(panic) => panic_message(panic.as_ref()),
        };
        if *shutdown.borrow() {
            break;
        }
        consecutive = if started.elapsed() >= policy.reset_after {
            1
        } else {
            consecutive + 1
        };
        let delay = policy.delay_for(consecutive);
        tracing::error!(module = name, error = %error, restart_in = ?delay, "module failed; restarting");
        health.record_failure(error);
        tokio::select! {
            _ = runtime::sleep(delay) => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    health.running.store(false, Ordering::Release);
}
