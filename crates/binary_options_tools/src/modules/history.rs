//! Price history: paged `loadHistoryPeriod` requests correlated by `index`, and the history
//! the platform pushes after `changeSymbol` (`updateHistoryNewFast` and its older names).
//!
//! A page holds either OHLC items or price items (ticks). Candles are built from price
//! items with the subscription streams' own aggregation
//! ([`compile_candles`](crate::compile_candles)); [`HistoryHandle::ticks`] hands the price
//! items out as [`Tick`]s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use core_pre::rule::Rule;
use core_pre::{BoxError, Module, ModuleContext, Outbound};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::book::history::HistoryPage;
use crate::error::Error;
use crate::events::{event_rule, parse_payload};
use crate::modules::subscriptions::aligned_candles;
use crate::server_time::unix_seconds;
use crate::socketio::encode_event_json;
use crate::state::PocketOptionState;
use crate::types::{Candle, Tick};

/// The most ticks one [`PocketOption::ticks`](crate::PocketOption::ticks) call returns.
pub const MAX_TICKS: u32 = 100_000;
/// The most pages one [`HistoryHandle::ticks`] call requests to gather its count.
const MAX_TICK_PAGES: u32 = 10;

/// How much tick history to load: the last `n` ticks, or every tick of a time span. Both
/// end at the given end time (now, for [`PocketOption::ticks`](crate::PocketOption::ticks)).
///
/// A count or a span converts into it, so `client.ticks(asset, 100)` and
/// `client.ticks(asset, Duration::from_secs(60))` both work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickRange {
    /// The last `n` ticks (1 to [`MAX_TICKS`]).
    Count(u32),
    /// Every tick of this span (whole seconds are requested, rounded up).
    Span(Duration),
}

impl From<u32> for TickRange {
    fn from(count: u32) -> Self {
        TickRange::Count(count)
    }
}

/// So that a plain literal works (`client.ticks(asset, 100)`); a negative count is
/// refused like zero.
impl From<i32> for TickRange {
    fn from(count: i32) -> Self {
        TickRange::Count(u32::try_from(count).unwrap_or(0))
    }
}

impl From<usize> for TickRange {
    fn from(count: usize) -> Self {
        TickRange::Count(u32::try_from(count).unwrap_or(u32::MAX))
    }
}

impl From<Duration> for TickRange {
    fn from(span: Duration) -> Self {
        TickRange::Span(span)
    }
}

/// Candles of pushed history kept per asset.
const PUSHED_KEPT: usize = 1000;

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    index: Value,
    #[serde(default)]
    asset: String,
    #[serde(default)]
    data: Vec<Value>,
}

#[derive(Deserialize)]
struct Pushed {
    asset: String,
    #[serde(default)]
    period: Option<u32>,
    #[serde(default)]
    history: Vec<Value>,
    #[serde(default)]
    candles: Vec<Value>,
}

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

/// Parses a `loadHistoryPeriod` reply: OHLC items and price items.
fn page_data(page: &Page) -> HistoryPage {
    let asset: Arc<str> = Arc::from(page.asset.as_str());
    let mut data = HistoryPage::default();
    for item in &page.data {
        let Some(time) = num(item.get("time")).map(unix_seconds) else {
            continue;
        };
        let ohlc = (|| {
            Some(Candle {
                asset: asset.clone(),
                time,
                open: num(item.get("open"))?,
                high: num(item.get("high"))?,
                low: num(item.get("low"))?,
                close: num(item.get("close"))?,
                ticks: 0,
            })
        })();
        if let Some(candle) = ohlc {
            data.candles.push(candle);
        } else if let Some(price) = num(item.get("price")) {
            data.ticks.push(Tick {
                asset: asset.clone(),
                time,
                price,
            });
        }
    }
    data
}

/// Parses pushed history: `candles` rows `[time, open, close, high, low, volume?]` (note
/// the order), or, when absent, candles built from `history` rows `[time, price, …]`.
fn pushed_candles(pushed: &Pushed) -> Vec<Candle> {
    let asset: Arc<str> = Arc::from(pushed.asset.as_str());
    let rows: Vec<Candle> = pushed
        .candles
        .iter()
        .filter_map(|row| {
            let row = row.as_array()?;
            Some(Candle {
                asset: asset.clone(),
                time: unix_seconds(num(row.first())?),
                open: num(row.get(1))?,
                close: num(row.get(2))?,
                high: num(row.get(3))?,
                low: num(row.get(4))?,
                ticks: 0,
            })
        })
        .collect();
    if !rows.is_empty() {
        return rows;
    }
    let ticks: Vec<Tick> = pushed
        .history
        .iter()
        .filter_map(|row| {
            let row = row.as_array()?;
            Some(Tick {
                asset: asset.clone(),
                time: unix_seconds(num(row.first())?),
                price: num(row.get(1))?,
            })
        })
        .collect();
    aligned_candles(ticks, pushed.period.unwrap_or(60))
}

fn index_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A fresh correlation index: unix seconds then two digits, like the web client (a
/// sequence rather than random digits, so concurrent requests never collide).
fn next_index() -> u64 {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let secs = crate::server_time::local_unix() as u64;
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    (secs + seq / 100) * 100 + seq % 100
}

/// The payload of `loadHistoryPeriod` / `loadHistoryPeriodFast` (fields in the platform's
/// order).
#[derive(Serialize)]
struct HistoryRequest<'a> {
    asset: &'a str,
    period: u32,
    time: i64,
    index: u64,
    offset: u64,
}

/// Answers history requests and keeps pushed history.
pub(crate) struct HistoryModule {
    ctx: ModuleContext<PocketOptionState>,
}

/// Requests history.
#[derive(Clone)]
pub(crate) struct HistoryHandle {
    state: Arc<PocketOptionState>,
    outbound: Outbound,
}

impl HistoryHandle {
    /// Loads the candles of `period` seconds covering `span` seconds before `end` (unix
    /// seconds), waiting up to `timeout`. A page of price items is compiled into candles.
    pub(crate) async fn load(
        &self,
        asset: &str,
        period: u32,
        end: f64,
        span: u64,
        timeout: Duration,
    ) -> Result<Vec<Candle>, Error> {
        let page = self.request(asset, period, end, span, timeout).await?;
        if page.candles.is_empty() {
            Ok(aligned_candles(page.ticks, period))
        } else {
            Ok(page.candles)
        }
    }

    /// Loads the ticks of `range` ending at `end` (unix seconds) from the price items of
    /// `loadHistoryPeriod`, oldest first, waiting up to `timeout` per page. A count may
    /// take several pages (at most 10), each reaching further back.
    pub(crate) async fn ticks(
        &self,
        asset: &str,
        range: TickRange,
        end: f64,
        timeout: Duration,
    ) -> Result<Vec<Tick>, Error> {
        let invalid = |reason: String| Err(Error::InvalidHistoryRequest { reason });
        let (span, count) = match range {
            TickRange::Count(n) if n == 0 || n > MAX_TICKS => {
                return invalid(format!("{n} ticks: ask for 1 to {MAX_TICKS}"));
            }
            TickRange::Count(n) => (u64::from(n), Some(n as usize)),
            TickRange::Span(d) if d.is_zero() => {
                return invalid("a tick span of zero: ask for a positive span".to_owned());
            }
            TickRange::Span(d) => (d.as_secs() + u64::from(d.subsec_nanos() > 0), None),
        };
        if !end.is_finite() || end <= 0.0 {
            return invalid(format!("an end time of {end}: use unix seconds"));
        }
        let mut ticks: Vec<Tick> = Vec::new();
        let mut page_end = end;
        for _ in 0..MAX_TICK_PAGES {
            // Ticks come one or more per second: one second per tick asked for.
            let page = self.request(asset, 1, page_end, span, timeout).await?;
            if page.ticks.is_empty() && !page.candles.is_empty() {
                return invalid(format!(
                    "the platform answered the tick history of `{asset}` with candles, not ticks; use `candles` instead"
                ));
            }
            let start = page_end - span as f64;
            let mut fresh: Vec<Tick> = page
                .ticks
                .into_iter()
                .filter(|t| t.time <= page_end && (count.is_some() || t.time >= start))
                .filter(|t| ticks.first().is_none_or(|first| t.time < first.time))
                .collect();
            if fresh.is_empty() {
                break;
            }
            fresh.sort_by(|a, b| a.time.total_cmp(&b.time));
            fresh.append(&mut ticks);
            ticks = fresh;
            match count {
                Some(n) if ticks.len() < n => page_end = ticks[0].time,
                _ => break,
            }
        }
        if let Some(n) = count {
            let excess = ticks.len().saturating_sub(n);
            ticks.drain(..excess);
        }
        Ok(ticks)
    }

    /// Sends one `loadHistoryPeriod` request and waits for its page.
    async fn request(
        &self,
        asset: &str,
        period: u32,
        end: f64,
        span: u64,
        timeout: Duration,
    ) -> Result<HistoryPage, Error> {
        if period == 0 || span == 0 {
            return Err(Error::InvalidHistoryRequest {
                reason: "period and span must be positive".into(),
            });
        }
        let history = &self.state.history;
        let (index, waiter) = loop {
            let index = next_index();
            match history.register(index) {
                Ok(waiter) => break (index, waiter),
                Err(core_pre::CoreError::DuplicateRequest) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let event = if span <= 100 {
            "loadHistoryPeriodFast"
        } else {
            "loadHistoryPeriod"
        };
        let request = HistoryRequest {
            asset,
            period,
            time: end.floor() as i64,
            index,
            offset: span,
        };
        self.outbound
            .send(encode_event_json(event, &request)?)
            .await?;
        Ok(waiter.wait(timeout).await?)
    }

    /// The candles the platform pushed for `asset` after it was last subscribed.
    pub(crate) fn pushed(&self, asset: &str) -> Vec<Candle> {
        self.state
            .pushed_history
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(asset)
            .cloned()
            .unwrap_or_default()
    }
}

impl Module<PocketOptionState> for HistoryModule {
    type Handle = HistoryHandle;
    const NAME: &'static str = "history";

    fn new(ctx: ModuleContext<PocketOptionState>) -> (Self, HistoryHandle) {
        let handle = HistoryHandle {
            state: ctx.state.clone(),
            outbound: ctx.outbound.clone(),
        };
        (HistoryModule { ctx }, handle)
    }

    fn rule(_state: &Arc<PocketOptionState>) -> Box<dyn Rule> {
        event_rule(&[
            "loadHistoryPeriod",
            "loadHistoryPeriodFast",
            "updateHistoryNewFast",
            "updateHistoryNew",
            "updateHistory",
            "history",
        ])
    }

    async fn run(&mut self) -> Result<(), BoxError> {
        while let Some(msg) = self.ctx.inbox.recv().await {
            let Some(text) = msg.as_text() else { continue };
            match crate::event_name(text) {
                Some("loadHistoryPeriod" | "loadHistoryPeriodFast") => {
                    match parse_payload::<Page>(text) {
                        Ok(page) => {
                            let Some(index) = index_of(&page.index) else {
                                tracing::warn!("a history page without an index was ignored");
                                continue;
                            };
                            let data = page_data(&page);
                            let history = &self.ctx.state.history;
                            if !history.resolve(&index, data) {
                                tracing::debug!(
                                    index,
                                    "a history page arrived for nobody (timed out?)"
                                );
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "ignoring a malformed history page"),
                    }
                }
                Some(_) => match parse_payload::<Pushed>(text) {
                    Ok(pushed) => {
                        let mut candles = pushed_candles(&pushed);
                        if candles.len() > PUSHED_KEPT {
                            candles.drain(..candles.len() - PUSHED_KEPT);
                        }
                        self.ctx
                            .state
                            .pushed_history
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(pushed.asset, candles);
                    }
                    Err(e) => tracing::warn!(error = %e, "ignoring malformed pushed history"),
                },
                None => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_candles_use_time_open_close_high_low_order() {
        let pushed: Pushed = serde_json::from_str(
            r#"{"asset":"A","period":60,"candles":[[120,1.0,2.0,3.0,0.5,7]],"history":[]}"#,
        )
        .unwrap();
        let c = &pushed_candles(&pushed)[0];
        assert_eq!(
            (c.time, c.open, c.close, c.high, c.low),
            (120.0, 1.0, 2.0, 3.0, 0.5)
        );
    }

    #[test]
    fn price_pages_and_pushed_ticks_become_candles() {
        let page: Page = serde_json::from_str(
            r#"{"asset":"A","index":5,"data":[{"time":61,"price":2},{"time":60,"price":1},{"time":125,"price":3}]}"#,
        )
        .unwrap();
        let data = page_data(&page);
        assert_eq!(data.ticks.len(), 3);
        assert!(data.candles.is_empty());
        let candles = aligned_candles(data.ticks, 60);
        assert_eq!(candles.len(), 2);
        assert_eq!(
            (candles[0].time, candles[0].open, candles[0].close),
            (60.0, 1.0, 2.0)
        );
        let pushed: Pushed =
            serde_json::from_str(r#"{"asset":"A","history":[[1.5,1.0,null],[2.5,2.0]]}"#).unwrap();
        assert_eq!(pushed_candles(&pushed).len(), 1);
    }

    #[test]
    fn indexes_are_unique() {
        let a: Vec<u64> = (0..500).map(|_| next_index()).collect();
        let set: std::collections::HashSet<_> = a.iter().collect();
        assert_eq!(set.len(), a.len());
    }
}
