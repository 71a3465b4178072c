//! Python bindings of `binary_options_tools`: the extension module
//! `binary_options_tools._native`, wrapped by the Python package of the same name
//! (`python/binary_options_tools/`), which holds the public API, the result classes and
//! the exception tree.
//!
//! * `run`: Rust futures as asyncio awaitables or as blocking calls with the GIL released
//!   (Ctrl-C honoured); panics become `InternalError`.
//! * `errors`: `binary_options_tools::Error` as the package's exceptions.
//! * `convert`: results as dicts of exact values (the Python layer builds its classes).
//! * `candle`: `Candle`, the result class streams hand out (defined in Rust for speed).
//! * `client`: `NativeClient`, `NativeSubscription`, `NativeRawStream`, `NativeMatcher`.
//! * `sim`: `NativeSimulator`.
//! * `logging`: `tracing` into Python's `logging`.

use pyo3::prelude::*;

mod candle;
mod client;
mod convert;
mod errors;
mod logging;
mod run;
mod sim;

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<candle::PyCandle>()?;
    m.add_class::<client::NativeClient>()?;
    m.add_class::<client::NativeSubscription>()?;
    m.add_class::<client::NativeRawStream>()?;
    m.add_class::<client::NativeMatcher>()?;
    m.add_class::<sim::NativeSimulator>()?;
    m.add_function(wrap_pyfunction!(logging::refresh_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(client::rust_tick_rate, m)?)?;
    m.add_function(wrap_pyfunction!(run::panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(client::rust_trade_latencies, m)?)?;
    logging::install();
    Ok(())
}
