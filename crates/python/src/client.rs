//! `NativeClient`: the PocketOption client for the Python layer. Every waiting method
//! takes `blocking`: false returns an asyncio awaitable (the async API), true blocks with
//! the GIL released (the sync API); and `timeout` in seconds (`None`: the client's own).

use std::sync::Arc;
use std::time::Duration;

use binary_options_tools::{
    Matcher, PendingOrderRequest, PendingTrigger, PocketOption, Ssid, SubscriptionKind, Timeouts,
};
use futures::{FutureExt, StreamExt};
use pyo3::prelude::*;
use tokio::sync::{Mutex, watch};

use crate::candle::PyCandle;
use crate::convert::{self, Out, outs};
use crate::errors::{self, to_py};
use crate::run::{bounded, run, seconds};

/// A connected client.
#[pyclass(frozen, module = "binary_options_tools._native")]
pub(crate) struct NativeClient {
    client: PocketOption,
}

/// A matcher of raw frames, built by the Python layer.
#[pyclass(frozen, module = "binary_options_tools._native")]
#[derive(Clone)]
pub(crate) struct NativeMatcher {
    matcher: Matcher,
}

#[pymethods]
impl NativeMatcher {
    /// `kind` is `starts_with`, `ends_with`, `contains`, `event` or `regex`.
    #[staticmethod]
    fn build(kind: &str, text: String) -> PyResult<NativeMatcher> {
        let matcher = match kind {
            "starts_with" => Matcher::starts_with(text),
            "ends_with" => Matcher::ends_with(text),
            "contains" => Matcher::contains(text),
            "event" => Matcher::event(text),
            "regex" => Matcher::regex(&text).map_err(to_py)?,
            other => {
                return Err(errors::invalid(format!(
                    "a matcher of kind `{other}`: use starts_with, ends_with, contains, event or regex"
                )));
            }
        };
        Ok(NativeMatcher { matcher })
    }

    /// Every matcher matches.
    #[staticmethod]
    fn all(matchers: Vec<PyRef<'_, NativeMatcher>>) -> NativeMatcher {
        NativeMatcher {
            matcher: Matcher::All(matchers.iter().map(|m| m.matcher.clone()).collect()),
        }
    }

    /// At least one matcher matches.
    #[staticmethod]
    fn any(matchers: Vec<PyRef<'_, NativeMatcher>>) -> NativeMatcher {
        NativeMatcher {
            matcher: Matcher::AnyOf(matchers.iter().map(|m| m.matcher.clone()).collect()),
        }
    }

    /// The opposite.
    fn negate(&self) -> NativeMatcher {
        NativeMatcher {
            matcher: self.matcher.clone().not(),
        }
    }

    /// Whether `frame` matches.
    fn matches(&self, frame: &str) -> bool {
        self.matcher.matches(frame)
    }
}

fn candle_list(candles: Vec<binary_options_tools::Candle>) -> Vec<PyCandle> {
    candles.into_iter().map(PyCandle::from).collect()
}

fn map<T>(result: Result<T, binary_options_tools::Error>) -> PyResult<T> {
    result.map_err(to_py)
}

fn subscription_kind(kind: &str, value: Option<f64>) -> PyResult<SubscriptionKind> {
    let need = |what: &str| {
        value.ok_or_else(|| errors::invalid(format!("a `{kind}` subscription needs {what}")))
    };
    let duration = |secs: f64| {
        Duration::try_from_secs_f64(secs)
            .map_err(|_| errors::invalid(format!("a period of {secs} s: use a positive number")))
    };
    Ok(match kind {
        "ticks" => SubscriptionKind::Ticks,
        "candles" => SubscriptionKind::Candles(duration(need("a period in seconds")?)?),
        "window" => SubscriptionKind::Window(duration(need("a window in seconds")?)?),
        "chunks" => {
            let n = need("a chunk size")?;
            if n.fract() != 0.0 || !(1.0..=1e9).contains(&n) {
                return Err(errors::invalid(format!(
                    "chunks of {n} ticks: use a whole number from 1"
                )));
            }
            SubscriptionKind::Chunks(n as usize)
        }
        other => {
            return Err(errors::invalid(format!(
                "a subscription kind of `{other}`: use ticks, candles, window or chunks"
            )));
        }
    })
}

fn whole_seconds(secs: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| errors::invalid(format!("{what} of {secs} s: use a positive number")))
}

#[pymethods]
impl NativeClient {
    /// Connects and returns once authenticated.
    #[staticmethod]
    #[pyo3(signature = (ssid, urls, timeout, request_timeout, result_grace, blocking))]
    fn connect(
        py: Python<'_>,
        ssid: &str,
        urls: Vec<String>,
        timeout: Option<f64>,
        request_timeout: Option<f64>,
        result_grace: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let ssid = Ssid::parse(ssid).map_err(|e| to_py(e.into()))?;
        let mut timeouts = Timeouts::default();
        if let Some(wait) = seconds(timeout, "a connect timeout")? {
            timeouts = timeouts.with_connect(wait);
        }
        if let Some(wait) = seconds(request_timeout, "a request timeout")? {
            timeouts = timeouts.with_request(wait);
        }
        if let Some(grace) = seconds(result_grace, "a result grace")? {
            timeouts = timeouts.with_result_grace(grace);
        }
        let mut builder = PocketOption::builder(ssid).with_timeouts(timeouts);
        if !urls.is_empty() {
            for url in urls {
                builder = builder.with_url(url);
            }
            builder = builder.only_given_urls();
        }
        // Cancelled (or Ctrl-C) while connecting: the half-built client is dropped, and
        // dropping its last clone stops its tasks.
        run(py, blocking, async move {
            Ok(NativeClient {
                client: map(builder.connect().await)?,
            })
        })
    }

    /// True when connected and authenticated.
    fn is_connected(&self) -> bool {
        self.client.is_connected()
    }

    /// True for a demo account.
    fn is_demo(&self) -> bool {
        self.client.is_demo()
    }

    /// The connection state, in words.
    fn connection_state(&self) -> String {
        self.client.connection_state().to_string()
    }

    /// True once shut down.
    fn is_closed(&self) -> bool {
        self.client.connection_state() == core_pre::ConnectionState::Closed
    }

    /// The balance.
    fn balance(&self, py: Python<'_>, timeout: Option<f64>, blocking: bool) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            bounded(
                async { map(client.balance().await) },
                timeout,
                "the balance",
            )
            .await
        })
    }

    /// Every asset, by symbol.
    fn assets(&self, py: Python<'_>, timeout: Option<f64>, blocking: bool) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            bounded(
                async {
                    let assets = map(client.assets().await)?;
                    let mut list: Vec<_> = assets.values().cloned().collect();
                    list.sort_by(|a, b| a.symbol.cmp(&b.symbol));
                    Ok(outs(list))
                },
                timeout,
                "the asset list",
            )
            .await
        })
    }

    /// One asset.
    fn asset(
        &self,
        py: Python<'_>,
        symbol: String,
        timeout: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            bounded(
                async { Ok(Out(map(client.asset(&symbol).await)?)) },
                timeout,
                "the asset list",
            )
            .await
        })
    }

    /// Opens a trade.
    #[pyo3(signature = (asset, action, amount, expiry, timeout, blocking))]
    #[allow(clippy::too_many_arguments)]
    fn trade(
        &self,
        py: Python<'_>,
        asset: String,
        action: &str,
        amount: &Bound<'_, PyAny>,
        expiry: f64,
        timeout: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let action = convert::action(action)?;
        let amount = convert::amount(amount)?;
        let expiry = whole_seconds(expiry, "an expiry")?;
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            // The order runs as its own task: a cancelled or timed-out wait leaves an
            // order already sent to be tracked by the client (never sent twice).
            let order =
                tokio::spawn(async move { client.trade(&asset, action, amount, expiry).await });
            bounded(
                async {
                    let deal = order
                        .await
                        .map_err(|e| errors::raise("InternalError", e.to_string(), vec![]))?;
                    Ok(Out(map(deal)?))
                },
                timeout,
                "the order's reply",
            )
            .await
        })
    }

    /// Waits for a deal's result (default: until its expiry plus the grace).
    fn result(
        &self,
        py: Python<'_>,
        deal_id: String,
        timeout: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            let id = binary_options_tools::DealId::from(deal_id);
            let result = match timeout {
                Some(limit) => client.result_with_timeout(&id, limit).await,
                None => client.result(&id).await,
            };
            Ok(Out(map(result)?))
        })
    }

    /// The last `count` candles of `period` seconds (ending at `end`, unix seconds).
    #[pyo3(signature = (asset, period, count, end, timeout, blocking))]
    #[allow(clippy::too_many_arguments)]
    fn candles(
        &self,
        py: Python<'_>,
        asset: String,
        period: f64,
        count: u32,
        end: Option<f64>,
        timeout: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let period = whole_seconds(period, "a period")?;
        let end = end
            .map(|e| convert::from_unix(e, "an end time"))
            .transpose()?;
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            bounded(
                async {
                    let candles = match end {
                        Some(end) => client.candles_until(&asset, period, count, end).await,
                        None => client.candles(&asset, period, count).await,
                    };
                    Ok(candle_list(map(candles)?))
                },
                timeout,
                "the candles",
            )
            .await
        })
    }

    /// Tick history: the last `count` ticks, or those of the last `span` seconds.
    #[pyo3(signature = (asset, count, span, end, timeout, blocking))]
    #[allow(clippy::too_many_arguments)]
    fn ticks(
        &self,
        py: Python<'_>,
        asset: String,
        count: Option<u32>,
        span: Option<f64>,
        end: Option<f64>,
        timeout: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let range = match (count, span) {
            (Some(n), None) => binary_options_tools::TickRange::Count(n),
            (None, Some(secs)) => {
                binary_options_tools::TickRange::Span(whole_seconds(secs, "a span")?)
            }
            _ => {
                return Err(errors::invalid(
                    "ticks: give either a count or a span in seconds (one of them)",
                ));
            }
        };
        let end = end
            .map(|e| convert::from_unix(e, "an end time"))
            .transpose()?;
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            bounded(
                async {
                    let ticks = match end {
                        Some(end) => client.ticks_until(&asset, range, end).await,
                        None => client.ticks(&asset, range).await,
                    };
                    Ok(outs(map(ticks)?))
                },
                timeout,
                "the tick history",
            )
            .await
        })
    }

    /// One page of history: candles of `period` covering `span` seconds before `end`.
    #[pyo3(signature = (asset, period, end, span, timeout, blocking))]
    #[allow(clippy::too_many_arguments)]
    fn history(
        &self,
        py: Python<'_>,
        asset: String,
        period: f64,
        end: f64,
        span: f64,
        timeout: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let period = whole_seconds(period, "a period")?;
        let end = convert::from_unix(end, "an end time")?;
        let span = whole_seconds(span, "a span")?;
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            bounded(
                async {
                    Ok(candle_list(map(client
                        .history(&asset, period, end, span)
                        .await)?))
                },
                timeout,
                "the history page",
            )
            .await
        })
    }

    /// The server clock as best known.
    fn server_time(&self) -> Out<binary_options_tools::ServerTime> {
        Out(self.client.server_time())
    }

    /// The open deals.
    fn opened_deals(&self) -> Vec<Out<binary_options_tools::Deal>> {
        outs(self.client.opened_deals())
    }

    /// The closed deals the client knows, oldest first.
    fn closed_deals(&self) -> Vec<Out<binary_options_tools::Deal>> {
        outs(self.client.closed_deals())
    }

    /// Takes (and forgets) every closed deal the client knows.
    fn take_closed(&self) -> Vec<Out<binary_options_tools::Deal>> {
        outs(self.client.take_closed())
    }

    /// Subscribes to `asset`.
    fn subscribe(
        &self,
        py: Python<'_>,
        asset: String,
        kind: &str,
        value: Option<f64>,
        timeout: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let kind = subscription_kind(kind, value)?;
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            bounded(
                async {
                    let stream = map(client.subscribe(&asset, kind).await)?;
                    Ok(NativeSubscription::new(client, stream))
                },
                timeout,
                "the subscription",
            )
            .await
        })
    }

    /// Places a pending order (at a unix time, or at a price).
    #[pyo3(signature = (asset, action, amount, expiry, at, price, min_payout, timeout, blocking))]
    #[allow(clippy::too_many_arguments)]
    fn open_pending(
        &self,
        py: Python<'_>,
        asset: String,
        action: &str,
        amount: &Bound<'_, PyAny>,
        expiry: f64,
        at: Option<f64>,
        price: Option<f64>,
        min_payout: Option<u32>,
        timeout: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let action = convert::action(action)?;
        let amount = convert::amount(amount)?;
        let expiry = whole_seconds(expiry, "an expiry")?;
        let trigger = match (at, price) {
            (Some(at), None) => PendingTrigger::AtTime(convert::from_unix(at, "an opening time")?),
            (None, Some(price)) => PendingTrigger::AtPrice(price),
            _ => {
                return Err(errors::invalid(
                    "a pending order opens at a time or at a price: give one of them",
                ));
            }
        };
        let mut request = PendingOrderRequest::new(asset, action, amount, expiry, trigger);
        if let Some(percent) = min_payout {
            request = request.with_min_payout(percent);
        }
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            let order = tokio::spawn(async move { client.open_pending(&request).await });
            bounded(
                async {
                    let order = order
                        .await
                        .map_err(|e| errors::raise("InternalError", e.to_string(), vec![]))?;
                    Ok(Out(map(order)?))
                },
                timeout,
                "the pending order's reply",
            )
            .await
        })
    }

    /// Cancels one pending order.
    fn cancel_pending(
        &self,
        py: Python<'_>,
        ticket: String,
        timeout: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            bounded(
                async { map(client.cancel_pending(&ticket).await) },
                timeout,
                "the cancellation",
            )
            .await
        })
    }

    /// Cancels several pending orders; returns the tickets cancelled.
    fn cancel_pending_orders(
        &self,
        py: Python<'_>,
        tickets: Vec<String>,
        timeout: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            bounded(
                async { map(client.cancel_pending_orders(&tickets).await) },
                timeout,
                "the cancellations",
            )
            .await
        })
    }

    /// The pending orders still waiting for their trigger.
    fn pending_orders(&self) -> Vec<Out<binary_options_tools::PendingOrder>> {
        outs(self.client.pending_orders())
    }

    /// Waits for a pending order to open its deal.
    fn pending_fill(
        &self,
        py: Python<'_>,
        ticket: String,
        timeout: f64,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let timeout = whole_seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            Ok(Out(map(client.pending_fill(&ticket, timeout).await)?))
        })
    }

    /// Sends a text frame as is.
    fn raw_send(
        &self,
        py: Python<'_>,
        frame: String,
        timeout: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            bounded(
                async { map(client.raw().send(frame).await) },
                timeout,
                "room in the outbound queue",
            )
            .await
        })
    }

    /// Sends `frame` and waits for the first frame `matcher` accepts.
    fn raw_send_and_wait(
        &self,
        py: Python<'_>,
        frame: String,
        matcher: PyRef<'_, NativeMatcher>,
        timeout: f64,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let matcher = matcher.matcher.clone();
        let timeout = whole_seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            map(client.raw().send_and_wait(frame, matcher, timeout).await)
        })
    }

    /// Streams every inbound frame `matcher` accepts.
    fn raw_stream(&self, matcher: PyRef<'_, NativeMatcher>) -> NativeRawStream {
        let _entered = crate::run::runtime().enter();
        let stream = self.client.raw().stream(matcher.matcher.clone());
        NativeRawStream {
            client: self.client.clone(),
            stream: Arc::new(Mutex::new(Some(stream))),
            closed: watch::channel(false).0,
        }
    }

    /// Re-sends `frame` after every reconnect.
    fn keep_on_reconnect(&self, frame: String) {
        self.client.raw().keep_on_reconnect(frame);
    }

    /// Makes a fresh connection now.
    fn reconnect(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            bounded(
                async { map(client.reconnect().await) },
                timeout,
                "the new connection",
            )
            .await
        })
    }

    /// Waits until connected (after a drop).
    fn wait_connected(&self, py: Python<'_>, timeout: f64, blocking: bool) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let timeout = whole_seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            map(client.wait_connected(timeout).await)
        })
    }

    /// Shuts the client down; every call afterwards raises `ClientClosedError`.
    fn shutdown(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let client = self.client.clone();
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            if client.connection_state() == core_pre::ConnectionState::Closed {
                return Ok(());
            }
            bounded(
                async { map(client.shutdown().await) },
                timeout,
                "the shutdown",
            )
            .await
        })
    }
}

/// A subscription stream.
#[pyclass(frozen, module = "binary_options_tools._native")]
pub(crate) struct NativeSubscription {
    client: PocketOption,
    asset: String,
    stream: Arc<Mutex<Option<binary_options_tools::SubscriptionStream>>>,
    closed: watch::Sender<bool>,
}

impl NativeSubscription {
    fn new(client: PocketOption, stream: binary_options_tools::SubscriptionStream) -> Self {
        NativeSubscription {
            client,
            asset: stream.asset().to_owned(),
            stream: Arc::new(Mutex::new(Some(stream))),
            closed: watch::channel(false).0,
        }
    }
}

#[pymethods]
impl NativeSubscription {
    /// The asset.
    #[getter]
    fn asset(&self) -> String {
        self.asset.clone()
    }

    /// The next candles: waits for one, then takes those already waiting (up to `max`),
    /// so a busy stream crosses into Python in batches. `None` once closed; raises
    /// `ClientClosedError` when the client shut down.
    fn next_batch(
        &self,
        py: Python<'_>,
        max: usize,
        timeout: Option<f64>,
        blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let stream = self.stream.clone();
        let client = self.client.clone();
        let mut closed = self.closed.subscribe();
        let timeout = seconds(timeout, "a timeout")?;
        let max = max.max(1);
        run(py, blocking, async move {
            bounded(
                async move {
                    let mut guard = stream.lock().await;
                    let Some(live) = guard.as_mut() else {
                        return Ok(None);
                    };
                    let first = tokio::select! {
                        next = live.next() => next,
                        _ = closed.wait_for(|c| *c) => {
                            *guard = None;
                            return Ok(None);
                        }
                    };
                    let Some(first) = first else {
                        *guard = None;
                        if client.connection_state() == core_pre::ConnectionState::Closed {
                            return Err(to_py(core_pre::CoreError::ClientClosed.into()));
                        }
                        return Ok(None);
                    };
                    let mut batch = vec![PyCandle::from(first)];
                    // What is already there, without waiting (the end of the stream, if
                    // it comes now, is seen by the next call).
                    while batch.len() < max {
                        match live.next().now_or_never() {
                            Some(Some(candle)) => batch.push(PyCandle::from(candle)),
                            _ => break,
                        }
                    }
                    Ok(Some(batch))
                },
                timeout,
                "the next candle",
            )
            .await
        })
    }

    /// Ticks dropped because the stream was not read fast enough.
    fn dropped(&self) -> u64 {
        self.stream
            .try_lock()
            .ok()
            .and_then(|s| s.as_ref().map(|s| s.dropped()))
            .unwrap_or(0)
    }

    /// Ends the stream (unsubscribes it); a pending `next` returns `None`.
    fn close(&self) {
        self.closed.send_replace(true);
        if let Ok(mut guard) = self.stream.try_lock() {
            let _entered = crate::run::runtime().enter();
            *guard = None;
        }
    }
}

/// A stream of raw frames.
#[pyclass(frozen, module = "binary_options_tools._native")]
pub(crate) struct NativeRawStream {
    client: PocketOption,
    stream: Arc<Mutex<Option<binary_options_tools::RawStream>>>,
    closed: watch::Sender<bool>,
}

#[pymethods]
impl NativeRawStream {
    /// The next frame; `None` once closed.
    fn next(&self, py: Python<'_>, timeout: Option<f64>, blocking: bool) -> PyResult<Py<PyAny>> {
        let stream = self.stream.clone();
        let client = self.client.clone();
        let mut closed = self.closed.subscribe();
        let timeout = seconds(timeout, "a timeout")?;
        run(py, blocking, async move {
            bounded(
                async move {
                    let mut guard = stream.lock().await;
                    let Some(live) = guard.as_mut() else {
                        return Ok(None);
                    };
                    let next = tokio::select! {
                        next = live.next() => next,
                        _ = closed.wait_for(|c| *c) => {
                            *guard = None;
                            return Ok(None);
                        }
                    };
                    match next {
                        Some(frame) => Ok(Some(frame)),
                        None => {
                            *guard = None;
                            if client.connection_state() == core_pre::ConnectionState::Closed {
                                Err(to_py(core_pre::CoreError::ClientClosed.into()))
                            } else {
                                Ok(None)
                            }
                        }
                    }
                },
                timeout,
                "the next frame",
            )
            .await
        })
    }

    /// Ends the stream; a pending `next` returns `None`.
    fn close(&self) {
        self.closed.send_replace(true);
        if let Ok(mut guard) = self.stream.try_lock() {
            *guard = None;
        }
    }
}

/// The Rust client's tick rate on a flood server at `url` (the `py_ticks_throughput`
/// benchmark's reference, measured like the Python loop it is compared with): subscribes
/// to `asset` and reads until `ticks` were delivered or dropped. Returns (delivered,
/// dropped, seconds).
#[pyfunction]
pub(crate) fn rust_tick_rate(
    py: Python<'_>,
    ssid: &str,
    url: String,
    asset: String,
    ticks: u64,
    limit: f64,
) -> PyResult<(u64, u64, f64)> {
    let ssid = Ssid::parse(ssid).map_err(|e| to_py(e.into()))?;
    let limit = whole_seconds(limit, "a limit")?;
    crate::run::block_on(py, async move {
        let client = map(PocketOption::builder(ssid)
            .with_url(url)
            .only_given_urls()
            .connect()
            .await)?;
        map(client.assets().await)?;
        let started = std::time::Instant::now();
        let mut stream = map(client.subscribe(&asset, SubscriptionKind::Ticks).await)?;
        // The reading loop runs in a task of its own, as an application would spawn it.
        let reader = tokio::spawn(async move {
            let mut delivered = 0u64;
            while delivered + stream.dropped() < ticks {
                match tokio::time::timeout(Duration::from_millis(50), stream.next()).await {
                    Ok(Some(_)) => delivered += 1,
                    Ok(None) => break,
                    Err(_) => {}
                }
            }
            (delivered, stream.dropped(), started.elapsed().as_secs_f64())
        });
        let outcome = tokio::time::timeout(limit, reader).await;
        let _ = client.shutdown().await;
        match outcome {
            Ok(Ok(figures)) => Ok(figures),
            Ok(Err(e)) => Err(errors::raise("InternalError", e.to_string(), vec![])),
            Err(_) => Err(errors::timeout("the tick flood", limit)),
        }
    })
}

/// The Rust client's order round trips (seconds each) against the simulator at `url`: `n`
/// market orders of 1 on `asset` for 60 s, one after the other (the benchmark's reference
/// for the same orders placed from Python).
#[pyfunction]
pub(crate) fn rust_trade_latencies(
    py: Python<'_>,
    ssid: &str,
    url: String,
    asset: String,
    n: u32,
) -> PyResult<Vec<f64>> {
    let ssid = Ssid::parse(ssid).map_err(|e| to_py(e.into()))?;
    crate::run::block_on(py, async move {
        let client = map(PocketOption::builder(ssid)
            .with_url(url)
            .only_given_urls()
            .connect()
            .await)?;
        let mut latencies = Vec::with_capacity(n as usize);
        let outcome = async {
            map(client.balance().await)?;
            for _ in 0..n {
                let started = std::time::Instant::now();
                map(client
                    .trade(
                        &asset,
                        binary_options_tools::Action::Call,
                        rust_decimal::Decimal::ONE,
                        Duration::from_secs(60),
                    )
                    .await)?;
                latencies.push(started.elapsed().as_secs_f64());
            }
            Ok::<(), PyErr>(())
        }
        .await;
        let _ = client.shutdown().await;
        outcome.map(|()| latencies)
    })
}
