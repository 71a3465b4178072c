//! Price history: paged `loadHistoryPeriod` requests correlated by `index`, and the history
//! the platform pushes after `changeSymbol` (`updateHistoryNewFast` and its older names).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use core_pre::rule::Rule;
use core_pre::{ApiModule, BoxError, ConnectionWatch, HandleContext, ModuleContext, Outbound};
use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::events::{event_rule, parse_payload};
use crate::server_time::unix_seconds;
use crate::socketio::encode_event;
use crate::state::PocketOptionState;
use crate::types::Candle;

/// Candles of pushed history kept per asset.
const PUSHED_KEPT: usize = 1000;

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    index: Value,
    #[serde(default)]
    asset: String,
    #[serde(default)]
    period: Option<u32>,
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

/// Groups `(time, price)` points into candles of `period` seconds.
pub fn candles_from_prices(asset: &Arc<str>, period: u32, points: &[(f64, f64)]) -> Vec<Candle> {
    let period = f64::from(period.max(1));
    let mut by_start: BTreeMap<i64, Candle> = BTreeMap::new();
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (time, price) in sorted {
        let start = (time / period).floor() * period;
        by_start
            .entry(start as i64)
            .and_modify(|c| c.update(price))
            .or_insert_with(|| Candle::open_at(asset.clone(), start, price));
    }
    by_start.into_values().collect()
}

/// Parses a `loadHistoryPeriod` reply: OHLC items, or price points grouped by `period`.
fn page_candles(page: &Page, period: u32) -> Vec<Candle> {
    let asset: Arc<str> = Arc::from(page.asset.as_str());
    let ohlc: Vec<Candle> = page
        .data
        .iter()
        .filter_map(|item| {
            Some(Candle {
                asset: asset.clone(),
                time: unix_seconds(num(item.get("time"))?),
                open: num(item.get("open"))?,
                high: num(item.get("high"))?,
                low: num(item.get("low"))?,
                close: num(item.get("close"))?,
                ticks: 0,
            })
        })
        .collect();
    if !ohlc.is_empty() {
        return ohlc;
    }
    let points: Vec<(f64, f64)> = page
        .data
        .iter()
        .filter_map(|item| {
            Some((
                unix_seconds(num(item.get("time"))?),
                num(item.get("price"))?,
            ))
        })
        .collect();
    candles_from_prices(&asset, page.period.unwrap_or(period), &points)
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
    let points: Vec<(f64, f64)> = pushed
        .history
        .iter()
        .filter_map(|row| {
            let row = row.as_array()?;
            Some((unix_seconds(num(row.first())?), num(row.get(1))?))
        })
        .collect();
    candles_from_prices(&asset, pushed.period.unwrap_or(60), &points)
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

/// Answers history requests and keeps pushed history.
pub struct HistoryModule {
    ctx: ModuleContext<PocketOptionState>,
}

/// Requests history.
#[derive(Clone)]
pub struct HistoryHandle {
    state: Arc<PocketOptionState>,
    outbound: Outbound,
    connection: ConnectionWatch,
}

impl HistoryHandle {
    /// Loads the candles of `period` seconds covering `span` seconds before `end` (unix
    /// seconds), waiting up to `timeout`.
    pub async fn load(
        &self,
        asset: &str,
        period: u32,
        end: f64,
        span: u64,
        timeout: Duration,
    ) -> Result<Vec<Candle>, Error> {
        if period == 0 || span == 0 {
            return Err(Error::InvalidHistoryRequest {
                reason: "period and span must be positive".into(),
            });
        }
        let history = self.state.history(&self.connection);
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
        let payload = format!(
            "{{\"asset\":{},\"period\":{period},\"time\":{},\"index\":{index},\"offset\":{span}}}",
            Value::String(asset.to_owned()),
            end.floor() as i64,
        );
        self.outbound
            .send(encode_event(event, Some(&payload)))
            .await?;
        Ok(waiter.wait(timeout).await?)
    }

    /// The candles the platform pushed for `asset` after it was last subscribed.
    pub fn pushed(&self, asset: &str) -> Vec<Candle> {
        self.state
            .pushed_history
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(asset)
            .cloned()
            .unwrap_or_default()
    }
}

impl ApiModule<PocketOptionState> for HistoryModule {
    type Command = ();
    type CommandResponse = ();
    type Handle = HistoryHandle;
    const NAME: &'static str = "history";

    fn new(ctx: ModuleContext<PocketOptionState>) -> Self {
        ctx.state.history(&ctx.connection);
        HistoryModule { ctx }
    }

    fn create_handle(ctx: HandleContext<PocketOptionState, (), ()>) -> HistoryHandle {
        HistoryHandle {
            state: ctx.state,
            outbound: ctx.outbound,
            connection: ctx.connection,
        }
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
                            let candles = page_candles(&page, page.period.unwrap_or(60));
                            let history = self.ctx.state.history(&self.ctx.connection);
                            if !history.resolve(&index, candles) {
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
        let candles = page_candles(&page, 60);
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
