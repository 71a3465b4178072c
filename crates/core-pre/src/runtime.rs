//! The runtime shim: spawning, sleeping, timeouts and a monotonic clock, on every platform.
//!
//! Natively this is tokio; in the browser (`wasm32-unknown-unknown`) it is
//! `wasm-bindgen-futures` for spawning and the browser's timers for sleeping. The choice is
//! made here, once, so the rest of the crate (and every crate built on it) never writes a
//! `cfg` for the runtime.
//!
//! [`MaybeSend`] and [`MaybeSync`] mean `Send`/`Sync` natively and nothing in the browser,
//! where everything runs on one thread and JavaScript handles are not `Send`. Bounds written
//! with them serve both targets from one trait definition.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{AbortHandle, Abortable};
use tokio::sync::oneshot;

pub use web_time::{Instant, SystemTime, UNIX_EPOCH};

cfg_if::cfg_if! {
    if #[cfg(target_arch = "wasm32")] {
        #[path = "runtime/wasm.rs"]
        mod imp;

        /// `Send` natively; no bound in the browser, where everything shares one thread.
        pub trait MaybeSend {}
        impl<T: ?Sized> MaybeSend for T {}

        /// `Sync` natively; no bound in the browser, where everything shares one thread.
        pub trait MaybeSync {}
        impl<T: ?Sized> MaybeSync for T {}

        /// A boxed future: `Send` natively, unbounded in the browser.
        pub type BoxFuture<'a, T> = futures::future::LocalBoxFuture<'a, T>;
        /// A boxed stream: `Send` natively, unbounded in the browser.
        pub type BoxStream<'a, T> = Pin<Box<dyn futures::Stream<Item = T> + 'a>>;
        /// A boxed sink: `Send` natively, unbounded in the browser.
        pub type BoxSink<'a, T, E> = Pin<Box<dyn futures::Sink<T, Error = E> + 'a>>;
        /// A boxed one-shot function: `Send` natively, unbounded in the browser.
        pub type BoxFnOnce<T> = Box<dyn FnOnce() -> T>;
        /// True in the browser build: no threads, no WebSocket pings, no custom headers.
        pub const IN_BROWSER: bool = true;
    } else {
        #[path = "runtime/native.rs"]
        mod imp;

        /// `Send` natively; no bound in the browser, where everything shares one thread.
        pub trait MaybeSend: Send {}
        impl<T: ?Sized + Send> MaybeSend for T {}

        /// `Sync` natively; no bound in the browser, where everything shares one thread.
        pub trait MaybeSync: Sync {}
        impl<T: ?Sized + Sync> MaybeSync for T {}

        /// A boxed future: `Send` natively, unbounded in the browser.
        pub type BoxFuture<'a, T> = futures::future::BoxFuture<'a, T>;
        /// A boxed stream: `Send` natively, unbounded in the browser.
        pub type BoxStream<'a, T> = Pin<Box<dyn futures::Stream<Item = T> + Send + 'a>>;
        /// A boxed sink: `Send` natively, unbounded in the browser.
        pub type BoxSink<'a, T, E> = Pin<Box<dyn futures::Sink<T, Error = E> + Send + 'a>>;
        /// A boxed one-shot function: `Send` natively, unbounded in the browser.
        pub type BoxFnOnce<T> = Box<dyn FnOnce() -> T + Send>;
        /// True in the browser build: no threads, no WebSocket pings, no custom headers.
        pub const IN_BROWSER: bool = false;
    }
}

/// Locks `mutex`, taking the data even if a holder panicked. Use it where every critical
/// section leaves the data consistent (it completes its update or makes none), which is
/// how every lock in this workspace is written: a panic elsewhere must not turn into a
/// second panic here.
pub fn lock<T: ?Sized>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Why [`wait_for`] returned without a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// The deadline passed first.
    #[error("deadline elapsed")]
    Elapsed,
    /// The sender is gone: the value can no longer change.
    #[error("the watched value can no longer change")]
    Closed,
}

/// Waits until the value in `rx` satisfies `done`, for at most `within`; returns a clone
/// of that value. Checks the current value first.
pub async fn wait_for<T: Clone>(
    rx: &mut tokio::sync::watch::Receiver<T>,
    within: Duration,
    mut done: impl FnMut(&T) -> bool,
) -> Result<T, WaitError> {
    match timeout(within, rx.wait_for(|value| done(value))).await {
        Ok(Ok(value)) => Ok(value.clone()),
        Ok(Err(_)) => Err(WaitError::Closed),
        Err(Elapsed) => Err(WaitError::Elapsed),
    }
}

/// Boxes a future as a [`BoxFuture`] on either platform.
pub fn boxed<'a, F>(future: F) -> BoxFuture<'a, F::Output>
where
    F: Future + MaybeSend + 'a,
{
    Box::pin(future)
}

/// Waits for `duration`.
pub async fn sleep(duration: Duration) {
    imp::sleep(duration).await
}

/// Lets other tasks run before continuing. A loop that always finds work ready (a busy
/// inbox) calls it between batches so the tasks it feeds get their turn.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

/// The error returned by [`timeout`] when the deadline passes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline elapsed")]
pub struct Elapsed;

/// Runs `future` for at most `duration`.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    imp::timeout(duration, future).await
}

/// Why a task did not produce its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// [`TaskHandle::abort`] stopped the task.
    #[error("task was aborted")]
    Aborted,
    /// The task panicked (or its runtime went away) before finishing.
    #[error("task panicked or its runtime shut down")]
    Panicked,
}

/// A handle to a spawned task: it can be aborted and awaited on every platform.
///
/// Dropping the handle detaches the task (it keeps running).
#[derive(Debug)]
pub struct TaskHandle<T> {
    abort: AbortHandle,
    output: oneshot::Receiver<Result<T, JoinError>>,
}

impl<T> TaskHandle<T> {
    /// Stops the task at its next `.await` point.
    pub fn abort(&self) {
        self.abort.abort();
    }

    /// True once the task has stopped (finished, aborted or panicked).
    pub fn is_finished(&self) -> bool {
        self.output.is_terminated() || self.abort.is_aborted()
    }
}

impl<T> Future for TaskHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.output).poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            // The sender was dropped without a value: the task unwound.
            Poll::Ready(Err(_)) => Poll::Ready(Err(JoinError::Panicked)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Spawns `future` on the current runtime and returns a handle to abort or await it.
///
/// Natively this needs a tokio runtime; in the browser it runs on the page's event loop.
pub fn spawn<F>(future: F) -> TaskHandle<F::Output>
where
    F: Future + MaybeSend + 'static,
    F::Output: MaybeSend + 'static,
{
    let (abort, registration) = AbortHandle::new_pair();
    let (tx, output) = oneshot::channel();
    // A combinator rather than an `async` block: a block would keep `future` both as its
    // captured value and as the value it awaits, doubling every task's size.
    let task = Abortable::new(future, registration).map(move |result| {
        let _ = tx.send(result.map_err(|_| JoinError::Aborted));
    });
    imp::spawn_detached(task);
    TaskHandle { abort, output }
}

/// A small, fast, non-cryptographic random source for jitter. Seeded from the clock and a
/// per-process counter; good enough to spread reconnect storms, never use it for secrets.
pub(crate) fn jitter_unit() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut seed = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    if seed == 0 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x2545_F491_4F6C_DD1D);
        seed = nanos | 1;
        STATE.store(seed, Ordering::Relaxed);
    }
    // splitmix64 finaliser.
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spawned_task_output_is_joined() {
        let handle = spawn(async { 41 + 1 });
        assert_eq!(handle.await, Ok(42));
    }

    #[tokio::test]
    async fn aborted_task_reports_aborted() {
        let handle = spawn(async {
            sleep(Duration::from_secs(3600)).await;
        });
        handle.abort();
        assert_eq!(handle.await, Err(JoinError::Aborted));
    }

    #[tokio::test]
    async fn timeout_elapses_for_a_slow_future() {
        let slow = timeout(Duration::from_millis(10), sleep(Duration::from_secs(5))).await;
        assert_eq!(slow, Err(Elapsed));
        let fast = timeout(Duration::from_secs(5), async { 7 }).await;
        assert_eq!(fast, Ok(7));
    }

    #[test]
    fn jitter_samples_stay_in_unit_interval_and_vary() {
        let samples: Vec<f64> = (0..1000).map(|_| jitter_unit()).collect();
        assert!(samples.iter().all(|s| (0.0..1.0).contains(s)));
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
    }
}
