//! The platform's data, as public types: [`Asset`], [`Action`], [`Deal`], [`Tick`],
//! [`Candle`], [`DealResult`].
//!
//! All implement serde. Money (amounts, balances, profits) is a [`Decimal`], never a binary
//! float, so `0.1 + 0.2` is `0.3` in a bot's bookkeeping. Prices stay `f64`: they are market
//! data, compared and charted, not added up.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The direction of a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The price will be higher at expiry ("buy", "up").
    Call,
    /// The price will be lower at expiry ("sell", "down").
    Put,
}

impl Action {
    /// The wire name: `call` or `put`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Call => "call",
            Action::Put => "put",
        }
    }

    /// The platform's `command` field: 0 call, 1 put.
    pub fn from_command(command: u8) -> Option<Action> {
        match command {
            0 => Some(Action::Call),
            1 => Some(Action::Put),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of instrument an asset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssetKind {
    /// A currency pair.
    Currency,
    /// A company's stock.
    Stock,
    /// A commodity (gold, oil...).
    Commodity,
    /// A cryptocurrency.
    Cryptocurrency,
    /// A stock index.
    Index,
    /// Anything the platform adds later.
    Other,
}

impl AssetKind {
    fn parse(s: &str) -> AssetKind {
        match s {
            "currency" => AssetKind::Currency,
            "stock" => AssetKind::Stock,
            "commodity" => AssetKind::Commodity,
            "cryptocurrency" => AssetKind::Cryptocurrency,
            "index" => AssetKind::Index,
            _ => AssetKind::Other,
        }
    }
}

/// A tradable asset, from the platform's `updateAssets` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    /// The platform's numeric id.
    pub id: i64,
    /// The symbol used on the wire (`EURUSD_otc`, `#AAPL_otc`).
    pub symbol: String,
    /// The display name.
    pub name: String,
    /// The instrument kind.
    pub kind: AssetKind,
    /// The payout in percent of the amount, paid on a win on top of the stake.
    pub payout: u32,
    /// Whether this is an over-the-counter (weekend/synthetic) market.
    pub is_otc: bool,
    /// Whether trading is open now.
    pub is_active: bool,
    /// Allowed expiries, in seconds.
    pub expiries: Vec<u32>,
}

impl Asset {
    /// Parses one 19-element row of `updateAssets` (positions per the fact sheet: 0 id,
    /// 1 symbol, 2 name, 3 type, 5 payout, 9 OTC flag, 14 active, 15 expiries).
    pub fn from_row(row: &[Value]) -> Option<Asset> {
        let expiries = row
            .get(15)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|e| e.get("time").and_then(Value::as_u64))
                    .filter_map(|t| u32::try_from(t).ok())
                    .collect()
            })
            .unwrap_or_default();
        Some(Asset {
            id: row.first()?.as_i64()?,
            symbol: row.get(1)?.as_str()?.to_owned(),
            name: row.get(2).and_then(Value::as_str).unwrap_or("").to_owned(),
            kind: AssetKind::parse(row.get(3).and_then(Value::as_str).unwrap_or("")),
            payout: row
                .get(5)
                .and_then(Value::as_f64)
                .map(|p| p.clamp(0.0, 1000.0) as u32)
                .unwrap_or(0),
            is_otc: row.get(9).is_some_and(truthy),
            is_active: row.get(14).is_some_and(truthy),
            expiries,
        })
    }

    /// Whether `seconds` is one of the allowed expiries.
    pub fn allows_expiry(&self, seconds: u32) -> bool {
        self.expiries.contains(&seconds)
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => s == "1" || s == "true",
        _ => false,
    }
}

/// One price tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// The asset symbol.
    pub asset: Arc<str>,
    /// Server time of the tick, unix seconds with sub-second precision.
    pub time: f64,
    /// The price.
    pub price: f64,
}

/// An OHLC candle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candle {
    /// The asset symbol.
    pub asset: Arc<str>,
    /// Start of the candle's period, unix seconds.
    pub time: f64,
    /// First price of the period.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Last price of the period.
    pub close: f64,
    /// Number of ticks that made the candle (0 when the platform did not say).
    pub ticks: u32,
}

impl Candle {
    /// A candle opened by one price.
    pub fn open_at(asset: Arc<str>, time: f64, price: f64) -> Candle {
        Candle {
            asset,
            time,
            open: price,
            high: price,
            low: price,
            close: price,
            ticks: 1,
        }
    }

    /// Adds a later price to the candle.
    pub fn update(&mut self, price: f64) {
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.close = price;
        self.ticks = self.ticks.saturating_add(1);
    }
}

/// A trade, opened or closed, as the platform reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deal {
    /// The deal id (a UUID).
    pub id: String,
    /// The asset symbol.
    pub asset: String,
    /// The stake.
    #[serde(deserialize_with = "decimal_lenient")]
    pub amount: Decimal,
    /// In an opened deal the potential payout; in a closed deal the net result: negative
    /// (the stake) for a loss, 0 for a draw, positive for a win.
    #[serde(default, deserialize_with = "decimal_lenient")]
    pub profit: Decimal,
    /// 0 for call, 1 for put.
    #[serde(default)]
    pub command: u8,
    /// Open time, unix seconds.
    #[serde(default)]
    pub open_timestamp: i64,
    /// Close (expiry) time, unix seconds.
    #[serde(default)]
    pub close_timestamp: i64,
    /// Open time as the platform formats it ("YYYY-MM-DD HH:MM:SS").
    #[serde(default)]
    pub open_time: String,
    /// Close time as the platform formats it.
    #[serde(default)]
    pub close_time: String,
    /// Price at opening.
    #[serde(default)]
    pub open_price: f64,
    /// Price at closing (0 while open).
    #[serde(default)]
    pub close_price: f64,
    /// Payout percent on a win.
    #[serde(default)]
    pub percent_profit: i64,
    /// Percent lost on a loss (usually 100).
    #[serde(default)]
    pub percent_loss: i64,
    /// The id of the order that opened the deal, when the platform echoes it.
    #[serde(default, deserialize_with = "string_or_number")]
    pub request_id: Option<String>,
    /// The account id.
    #[serde(default, deserialize_with = "u64_lenient")]
    pub uid: u64,
    /// 1 on the demo account.
    #[serde(default)]
    pub is_demo: u8,
    /// The platform's option type (100 for a classic option).
    #[serde(default)]
    pub option_type: i64,
    /// The account currency.
    #[serde(default)]
    pub currency: String,
}

impl Deal {
    /// The direction, from `command`.
    pub fn action(&self) -> Option<Action> {
        Action::from_command(self.command)
    }

    /// Whether the platform has reported a close for this deal.
    pub fn is_closed(&self) -> bool {
        self.close_price != 0.0
    }
}

/// How a closed deal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Paid out: profit > 0.
    Win,
    /// Stake lost: profit < 0.
    Loss,
    /// Stake refunded: profit = 0.
    Draw,
}

/// A settled deal and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DealResult {
    /// The closed deal.
    pub deal: Deal,
    /// Win, loss or draw.
    pub outcome: Outcome,
    /// Net profit (negative on a loss).
    pub profit: Decimal,
    /// The account balance after the settlement, as the platform reported it (it may
    /// include other deals settled at the same time); `None` when no report came in time.
    /// When it is `Some`, the client's `balance()` already includes this settlement.
    #[serde(default)]
    pub balance: Option<Decimal>,
}

impl DealResult {
    /// Reads the outcome off a closed deal's net profit.
    pub fn from_closed(deal: Deal) -> DealResult {
        let profit = deal.profit;
        let outcome = if profit > Decimal::ZERO {
            Outcome::Win
        } else if profit < Decimal::ZERO {
            Outcome::Loss
        } else {
            Outcome::Draw
        };
        DealResult {
            deal,
            outcome,
            profit,
            balance: None,
        }
    }
}

/// Money from the platform's JSON, exactly: a number (plain or scientific) or a numeric
/// string. The one lenient decimal reader of the crate (deals, balances, order failures).
pub(crate) fn decimal_from_json(value: &Value) -> Option<Decimal> {
    let parse = |text: &str| {
        Decimal::from_str(text)
            .or_else(|_| Decimal::from_scientific(text))
            .ok()
    };
    match value {
        Value::Number(n) => parse(&n.to_string()),
        Value::String(s) => parse(s.trim()),
        _ => None,
    }
}

fn decimal_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(Decimal::ZERO),
        other => decimal_from_json(&other)
            .ok_or_else(|| serde::de::Error::custom(format!("expected a number, found {other}"))),
    }
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_rows_parse_by_position() {
        let row: Vec<Value> = serde_json::from_str(
            r#"[5,"EURUSD_otc","EUR/USD OTC","currency",2,92,60,30,3,1,170,0,[],[],true,[{"time":5},{"time":60}],-1,60,1700000000]"#,
        )
        .unwrap();
        let asset = Asset::from_row(&row).unwrap();
        assert_eq!(asset.symbol, "EURUSD_otc");
        assert_eq!(asset.kind, AssetKind::Currency);
        assert_eq!(asset.payout, 92);
        assert!(asset.is_otc && asset.is_active);
        assert_eq!(asset.expiries, vec![5, 60]);
        assert!(Asset::from_row(&[Value::Null]).is_none());
    }

    #[test]
    fn deals_parse_money_exactly_and_tolerate_loose_types() {
        let deal: Deal = serde_json::from_str(
            r#"{"id":"d1","asset":"EURUSD_otc","amount":1.1,"profit":"-1.1","command":1,"requestId":42,"uid":"7","isDemo":1}"#,
        )
        .unwrap();
        assert_eq!(deal.amount, Decimal::new(11, 1));
        assert_eq!(deal.request_id.as_deref(), Some("42"));
        assert_eq!(deal.uid, 7);
        assert_eq!(deal.action(), Some(Action::Put));
        let result = DealResult::from_closed(deal);
        assert_eq!(result.outcome, Outcome::Loss);
    }
}
