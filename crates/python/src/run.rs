//! Running a Rust future for Python: as an asyncio awaitable (cancelling it drops the
//! future), or blocking the calling thread with the GIL released, waking every
//! [`SIGNAL_POLL`] to let Python handle signals (Ctrl-C raises `KeyboardInterrupt` and
//! drops the future). A panic inside the future becomes `InternalError`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use pyo3::BoundObject;
use pyo3::prelude::*;

use crate::errors;

/// How often a blocking call wakes to check for signals.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// The one tokio runtime every client and simulator of the process runs on.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Runs `fut` with its panics turned into `InternalError`.
pub(crate) async fn guarded<F, T>(fut: F) -> PyResult<T>
where
    F: Future<Output = PyResult<T>>,
{
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => Err(errors::panic(payload)),
    }
}

/// Bounds `fut` by `timeout` (when given), naming what it waited for.
pub(crate) async fn bounded<F, T>(
    fut: F,
    timeout: Option<Duration>,
    waiting_for: &'static str,
) -> PyResult<T>
where
    F: Future<Output = PyResult<T>>,
{
    match timeout {
        None => fut.await,
        Some(limit) => match tokio::time::timeout(limit, fut).await {
            Ok(result) => result,
            Err(_) => Err(errors::timeout(waiting_for, limit)),
        },
    }
}

/// Blocks the calling thread on `fut` with the GIL released; checks for signals every
/// [`SIGNAL_POLL`] (a signal handler's exception, e.g. `KeyboardInterrupt`, drops the
/// future and is raised).
pub(crate) fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = PyResult<T>> + Send,
    T: Send,
{
    let rt = runtime();
    let mut fut = Box::pin(guarded(fut));
    loop {
        let step =
            py.detach(|| rt.block_on(async { tokio::time::timeout(SIGNAL_POLL, &mut fut).await }));
        match step {
            Ok(result) => return result,
            Err(_) => {
                if let Err(interrupted) = py.check_signals() {
                    // Dropped inside the runtime: its timers and tasks deregister cleanly.
                    let _entered = rt.enter();
                    drop(fut);
                    return Err(interrupted);
                }
            }
        }
    }
}

/// Runs `fut` for Python: blocking (the sync API) or as an awaitable (the async API).
pub(crate) fn run<F, T>(py: Python<'_>, blocking: bool, fut: F) -> PyResult<Py<PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    if blocking {
        let value = block_on(py, fut)?;
        Ok(value
            .into_pyobject(py)
            .map_err(Into::into)?
            .into_any()
            .unbind())
    } else {
        Ok(pyo3_async_runtimes::tokio::future_into_py(py, guarded(fut))?.unbind())
    }
}

/// A number of seconds from Python as a duration (`None` stays `None`); negative, NaN
/// and infinite values are refused.
pub(crate) fn seconds(value: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(secs) => Duration::try_from_secs_f64(secs).map(Some).map_err(|_| {
            errors::invalid(format!(
                "{what} of {secs} s: use a number of seconds of zero or more"
            ))
        }),
    }
}

/// Panics inside a call, to show (and test) that a panic reaches Python as
/// `InternalError`, never as a crash. Private (`_native.panic_for_tests`).
#[pyfunction]
pub(crate) fn panic_for_tests(py: Python<'_>, blocking: bool) -> PyResult<Py<PyAny>> {
    run(py, blocking, async {
        let nothing: Option<u8> = None;
        // The point of this function: a Rust panic inside a call.
        #[allow(clippy::unnecessary_literal_unwrap)]
        let value = nothing.expect("a deliberate panic (panic_for_tests)");
        Ok(value)
    })
}
