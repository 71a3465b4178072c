//! `Candle`: the one result class defined in Rust, because streams hand out many of them
//! (a Python dataclass cost most of a tick's time in `py_ticks_throughput`). Frozen, with
//! the same fields as the other result classes' style: `time` is an aware UTC `datetime`
//! (made when read), `timestamp` the same instant in unix seconds.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use pyo3::basic::CompareOp;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// An OHLC candle; `time` is the start of its period.
#[pyclass(frozen, module = "binary_options_tools._native", name = "Candle")]
pub(crate) struct PyCandle {
    inner: binary_options_tools::Candle,
}

impl From<binary_options_tools::Candle> for PyCandle {
    fn from(inner: binary_options_tools::Candle) -> Self {
        PyCandle { inner }
    }
}

/// An aware UTC datetime of unix seconds.
fn utc<'py>(py: Python<'py>, unix: f64) -> PyResult<Bound<'py, PyAny>> {
    let datetime = py.import("datetime")?;
    let utc = datetime.getattr("timezone")?.getattr("utc")?;
    datetime
        .getattr("datetime")?
        .call_method1("fromtimestamp", (unix, utc))
}

#[pymethods]
impl PyCandle {
    /// The asset symbol.
    #[getter]
    fn asset(&self) -> &str {
        &self.inner.asset
    }

    /// The start of the candle's period (UTC).
    #[getter]
    fn time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        utc(py, self.inner.time)
    }

    /// `time` as unix seconds.
    #[getter]
    fn timestamp(&self) -> f64 {
        self.inner.time
    }

    /// The first price of the period.
    #[getter]
    fn open(&self) -> f64 {
        self.inner.open
    }

    /// The highest price.
    #[getter]
    fn high(&self) -> f64 {
        self.inner.high
    }

    /// The lowest price.
    #[getter]
    fn low(&self) -> f64 {
        self.inner.low
    }

    /// The last price of the period.
    #[getter]
    fn close(&self) -> f64 {
        self.inner.close
    }

    /// How many ticks made it (0 when the platform did not say).
    #[getter]
    fn ticks(&self) -> u32 {
        self.inner.ticks
    }

    /// The fields as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("asset", &*self.inner.asset)?;
        d.set_item("time", utc(py, self.inner.time)?)?;
        d.set_item("open", self.inner.open)?;
        d.set_item("high", self.inner.high)?;
        d.set_item("low", self.inner.low)?;
        d.set_item("close", self.inner.close)?;
        d.set_item("ticks", self.inner.ticks)?;
        d.set_item("timestamp", self.inner.time)?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let time = utc(py, self.inner.time)?.repr()?;
        let c = &self.inner;
        let asset = pyo3::types::PyString::new(py, &c.asset).repr()?;
        Ok(format!(
            "Candle(asset={asset}, time={time}, open={:?}, high={:?}, low={:?}, close={:?}, ticks={}, timestamp={:?})",
            c.open, c.high, c.low, c.close, c.ticks, c.time
        ))
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Ok(other) = other.cast::<PyCandle>() else {
            return Ok(py.NotImplemented());
        };
        let same = self.inner == other.get().inner;
        match op {
            CompareOp::Eq => Ok(same.into_pyobject(py)?.to_owned().into_any().unbind()),
            CompareOp::Ne => Ok((!same).into_pyobject(py)?.to_owned().into_any().unbind()),
            _ => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self) -> u64 {
        let c = &self.inner;
        let mut hasher = DefaultHasher::new();
        c.asset.hash(&mut hasher);
        for value in [c.time, c.open, c.high, c.low, c.close] {
            value.to_bits().hash(&mut hasher);
        }
        c.ticks.hash(&mut hasher);
        hasher.finish()
    }

    /// For pickling and copying: the constructor's arguments.
    fn __getnewargs__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let c = &self.inner;
        (&*c.asset, c.time, c.open, c.high, c.low, c.close, c.ticks).into_pyobject(py)
    }

    /// A candle (for tests and for your own data): `Candle(asset, timestamp, open, high,
    /// low, close, ticks)`.
    #[new]
    #[pyo3(signature = (asset, timestamp, open, high, low, close, ticks = 0))]
    fn new(
        asset: &str,
        timestamp: f64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        ticks: u32,
    ) -> PyCandle {
        PyCandle {
            inner: binary_options_tools::Candle {
                asset: asset.into(),
                time: timestamp,
                open,
                high,
                low,
                close,
                ticks,
            },
        }
    }
}
