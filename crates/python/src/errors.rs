//! Rust errors as Python exceptions: each [`Error`] variant becomes the class of
//! `binary_options_tools._errors` that mirrors it (each also a subclass of the matching
//! builtin), with the variant's fields as attributes. A Rust panic becomes `InternalError`.

use binary_options_tools::Error;
use core_pre::CoreError;
use pyo3::BoundObject;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// The module that defines the exception classes.
const ERRORS_MODULE: &str = "binary_options_tools._errors";

/// Builds an instance of `class` (a name in `_errors`) with `message` and `attrs`.
pub(crate) fn raise(class: &str, message: String, attrs: Vec<(&str, Py<PyAny>)>) -> PyErr {
    Python::attach(|py| {
        let build = || -> PyResult<PyErr> {
            let cls = py.import(ERRORS_MODULE)?.getattr(class)?;
            let instance = cls.call1((message.clone(),))?;
            for (name, value) in attrs {
                instance.setattr(name, value)?;
            }
            Ok(PyErr::from_value(instance))
        };
        // The classes ship with the package; if they cannot be loaded (a broken install)
        // the message still reaches the caller.
        build().unwrap_or_else(|e| {
            PyRuntimeError::new_err(format!("{message} (and {ERRORS_MODULE} failed: {e})"))
        })
    })
}

fn obj<'py, T: IntoPyObject<'py>>(py: Python<'py>, value: T) -> Py<PyAny> {
    match value.into_pyobject(py) {
        Ok(bound) => bound.into_any().unbind(),
        Err(_) => py.None(),
    }
}

/// The exception for a client error.
pub(crate) fn to_py(error: Error) -> PyErr {
    let message = error.to_string();
    let (class, attrs): (&str, Vec<(&str, Py<PyAny>)>) = Python::attach(|py| match &error {
        Error::Codec(_) => ("ProtocolError", vec![]),
        Error::Ssid(_) => ("SsidError", vec![]),
        Error::Authentication { reason } => {
            ("AuthenticationError", vec![("reason", obj(py, reason))])
        }
        Error::Core(core) => (core_class(core), vec![]),
        Error::ConnectFailed(_) => ("ConnectFailedError", vec![]),
        Error::Timeout { waiting_for, after } => (
            "PocketOptionTimeoutError",
            vec![
                ("waiting_for", obj(py, *waiting_for)),
                ("after", obj(py, after.as_secs_f64())),
            ],
        ),
        Error::UnknownAsset { asset, similar } => (
            "UnknownAssetError",
            vec![("asset", obj(py, asset)), ("similar", obj(py, similar))],
        ),
        Error::AssetClosed { asset } => ("AssetClosedError", vec![("asset", obj(py, asset))]),
        Error::ExpiryNotAllowed {
            asset,
            expiry,
            allowed,
        } => (
            "ExpiryNotAllowedError",
            vec![
                ("asset", obj(py, asset)),
                ("expiry", obj(py, expiry.as_secs_f64())),
                ("allowed", obj(py, allowed)),
            ],
        ),
        Error::InvalidAmount { amount, min, max } => (
            "InvalidAmountError",
            vec![
                ("amount", obj(py, amount)),
                ("min", obj(py, min)),
                ("max", obj(py, max)),
            ],
        ),
        Error::InsufficientBalance { amount, balance } => (
            "InsufficientBalanceError",
            vec![("amount", obj(py, amount)), ("balance", obj(py, balance))],
        ),
        Error::OrderRejected {
            reason,
            asset,
            amount,
        } => (
            "OrderRejectedError",
            vec![
                ("reason", obj(py, reason)),
                ("asset", obj(py, asset)),
                ("amount", obj(py, amount)),
            ],
        ),
        Error::OrderOutcomeUnknown {
            request_id,
            asset,
            amount,
        } => (
            "OrderOutcomeUnknownError",
            vec![
                ("request_id", obj(py, request_id)),
                ("asset", obj(py, asset)),
                ("amount", obj(py, amount)),
            ],
        ),
        Error::TooManySubscriptions { requested, active } => (
            "TooManySubscriptionsError",
            vec![
                ("requested", obj(py, requested)),
                ("active", obj(py, active)),
            ],
        ),
        Error::InvalidSubscription { .. } => ("InvalidSubscriptionError", vec![]),
        Error::InvalidHistoryRequest { .. } => ("InvalidHistoryRequestError", vec![]),
        Error::InvalidMatcher { .. } => ("InvalidMatcherError", vec![]),
        Error::InvalidPendingOrder { .. } => ("InvalidPendingOrderError", vec![]),
        Error::PendingCancelRejected { ticket, reason } => (
            "PendingCancelRejectedError",
            vec![("ticket", obj(py, ticket)), ("reason", obj(py, reason))],
        ),
        _ => ("PocketOptionError", vec![]),
    });
    raise(class, message, attrs)
}

/// The class of a connection-layer error.
fn core_class(error: &CoreError) -> &'static str {
    match error {
        CoreError::ClientClosed => "ClientClosedError",
        CoreError::NotConnected { .. } => "NotConnectedError",
        CoreError::ConnectionLost => "ConnectionLostError",
        CoreError::Timeout { .. } => "PocketOptionTimeoutError",
        CoreError::ConnectTimeout { .. } | CoreError::GaveUp { .. } => "ConnectFailedError",
        CoreError::Rejected { .. } => "AuthenticationError",
        _ => "PocketOptionConnectionError",
    }
}

/// A wait that ran out at the binding's own `timeout=`.
pub(crate) fn timeout(waiting_for: &str, after: std::time::Duration) -> PyErr {
    let message = format!(
        "timed out after {:.3} s waiting for {waiting_for}",
        after.as_secs_f64()
    );
    let attrs = Python::attach(|py| {
        vec![
            ("waiting_for", obj(py, waiting_for)),
            ("after", obj(py, after.as_secs_f64())),
        ]
    });
    raise("PocketOptionTimeoutError", message, attrs)
}

/// Invalid arguments found by the binding itself.
pub(crate) fn invalid(message: impl Into<String>) -> PyErr {
    raise("InvalidInputError", message.into(), vec![])
}

/// A caught panic.
pub(crate) fn panic(payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    raise(
        "InternalError",
        format!("internal error (a bug, please report it): {what}"),
        vec![],
    )
}
