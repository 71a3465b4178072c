//! Rust values as the dicts the Python layer turns into its frozen classes, and Python
//! arguments as Rust values. Money stays exact (`decimal.Decimal`), instants travel as
//! unix seconds (the Python layer makes UTC `datetime`s of them).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use binary_options_tools::{
    Action, Asset, Deal, DealResult, Outcome, PendingOrder, PendingTrigger, ServerTime, Tick,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rust_decimal::Decimal;

use crate::errors;

/// Unix seconds of a time (0 before the epoch).
pub(crate) fn unix(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A time from unix seconds; refuses negative, NaN and infinite values.
pub(crate) fn from_unix(seconds: f64, what: &str) -> PyResult<SystemTime> {
    Duration::try_from_secs_f64(seconds)
        .map(|d| UNIX_EPOCH + d)
        .map_err(|_| errors::invalid(format!("{what} of {seconds}: use a time after 1970")))
}

/// `call`/`buy`/`up` or `put`/`sell`/`down`.
pub(crate) fn action(name: &str) -> PyResult<Action> {
    match name.to_ascii_lowercase().as_str() {
        "call" | "buy" | "up" => Ok(Action::Call),
        "put" | "sell" | "down" => Ok(Action::Put),
        other => Err(errors::invalid(format!(
            "an action of `{other}`: use \"call\" (buy, up) or \"put\" (sell, down)"
        ))),
    }
}

/// A value the Python layer fills a dict from.
pub(crate) trait ToDict {
    /// Puts the fields into `dict`.
    fn fill(&self, dict: &Bound<'_, PyDict>) -> PyResult<()>;
}

/// A Rust value on its way to Python as a dict.
pub(crate) struct Out<T>(pub(crate) T);

impl<'py, T: ToDict> IntoPyObject<'py> for Out<T> {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        self.0.fill(&dict)?;
        Ok(dict)
    }
}

/// Wraps each item of a list.
pub(crate) fn outs<T>(items: Vec<T>) -> Vec<Out<T>> {
    items.into_iter().map(Out).collect()
}

impl ToDict for Deal {
    fn fill(&self, d: &Bound<'_, PyDict>) -> PyResult<()> {
        d.set_item("id", self.id.as_str())?;
        d.set_item("asset", &self.asset)?;
        d.set_item("action", self.action.as_str())?;
        d.set_item("amount", self.amount)?;
        d.set_item("profit", self.profit)?;
        d.set_item("opened_at", unix(self.opened_at))?;
        d.set_item("closes_at", unix(self.closes_at))?;
        d.set_item("open_price", self.open_price)?;
        d.set_item("close_price", self.close_price)?;
        d.set_item("payout_percent", self.payout_percent)?;
        d.set_item("loss_percent", self.loss_percent)?;
        d.set_item("request_id", self.request_id.as_deref())?;
        d.set_item("uid", self.uid)?;
        d.set_item("is_demo", self.is_demo)?;
        d.set_item("option_type", self.option_type)?;
        d.set_item("currency", &self.currency)?;
        Ok(())
    }
}

fn outcome(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Win => "win",
        Outcome::Loss => "loss",
        Outcome::Draw => "draw",
    }
}

impl ToDict for DealResult {
    fn fill(&self, d: &Bound<'_, PyDict>) -> PyResult<()> {
        let deal = PyDict::new(d.py());
        self.deal.fill(&deal)?;
        d.set_item("deal", deal)?;
        d.set_item("outcome", outcome(self.outcome))?;
        d.set_item("profit", self.profit)?;
        d.set_item("balance", self.balance)?;
        Ok(())
    }
}

impl ToDict for Tick {
    fn fill(&self, d: &Bound<'_, PyDict>) -> PyResult<()> {
        d.set_item("asset", &*self.asset)?;
        d.set_item("time", self.time)?;
        d.set_item("price", self.price)?;
        Ok(())
    }
}

impl ToDict for Asset {
    fn fill(&self, d: &Bound<'_, PyDict>) -> PyResult<()> {
        d.set_item("id", self.id)?;
        d.set_item("symbol", &self.symbol)?;
        d.set_item("name", &self.name)?;
        let kind = format!("{:?}", self.kind).to_ascii_lowercase();
        d.set_item("kind", kind)?;
        d.set_item("payout", self.payout)?;
        d.set_item("is_otc", self.is_otc)?;
        d.set_item("is_active", self.is_active)?;
        d.set_item("expiries", &self.expiries)?;
        Ok(())
    }
}

impl ToDict for ServerTime {
    fn fill(&self, d: &Bound<'_, PyDict>) -> PyResult<()> {
        d.set_item("now", unix(self.now))?;
        d.set_item("offset", self.offset)?;
        d.set_item("age", self.age.map(|a| a.as_secs_f64()))?;
        d.set_item("stale", self.stale)?;
        Ok(())
    }
}

impl ToDict for PendingOrder {
    fn fill(&self, d: &Bound<'_, PyDict>) -> PyResult<()> {
        d.set_item("ticket", &self.ticket)?;
        d.set_item("asset", &self.asset)?;
        d.set_item("action", self.action.as_str())?;
        d.set_item("amount", self.amount)?;
        d.set_item("expiry", self.expiry.as_secs_f64())?;
        match self.trigger {
            PendingTrigger::AtTime(at) => {
                d.set_item("open_at", unix(at))?;
                d.set_item("open_price", None::<f64>)?;
            }
            PendingTrigger::AtPrice(price) => {
                d.set_item("open_at", None::<f64>)?;
                d.set_item("open_price", price)?;
            }
        }
        d.set_item("min_payout", self.min_payout)?;
        Ok(())
    }
}

/// An amount of money from Python: `Decimal`, `int`, `str`, or `float` (read through its
/// shortest text, so `0.1` is exactly 0.1). `bool`, NaN and infinities are refused.
pub(crate) fn amount(value: &Bound<'_, PyAny>) -> PyResult<Decimal> {
    if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(errors::invalid("an amount of True/False: use a number"));
    }
    let text = if value.is_instance_of::<pyo3::types::PyFloat>() {
        value.repr()?.to_string()
    } else {
        value.str()?.to_string()
    };
    let text = text.trim();
    text.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| errors::invalid(format!("an amount of {text}: use a finite number")))
}
