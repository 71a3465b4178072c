//! The platform's data, as public types: [`Asset`], [`Action`], [`Deal`] (with [`DealId`]), [`Tick`],
//! [`Candle`], [`DealResult`].
//!
//! All implement serde. Money (amounts, balances, profits) is a [`Decimal`], never a binary
//! float, so `0.1 + 0.2` is `0.3` in a bot's bookkeeping. Prices stay `f64`: they are market
//! data, compared and charted, not added up.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use core_pre::runtime::{SystemTime, UNIX_EPOCH};

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
///
/// Market data keeps the platform's time form, unix seconds as `f64`: candles are cut
/// from it with arithmetic, and charting and data libraries take it as it is.
/// [`at`](Self::at) gives the same instant as a [`SystemTime`], the form every time
/// parameter of the API takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// The asset symbol.
    pub asset: Arc<str>,
    /// Server time of the tick, unix seconds with sub-second precision.
    pub time: f64,
    /// The price.
    pub price: f64,
}

impl Tick {
    /// When the tick was stamped (server time).
    pub fn at(&self) -> SystemTime {
        from_unix_secs(self.time)
    }
}

/// An OHLC candle (times in unix seconds, as [`Tick`]'s).
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
    /// When the candle's period starts (server time); the `SystemTime` form of
    /// [`time`](Self::time).
    pub fn start(&self) -> SystemTime {
        from_unix_secs(self.time)
    }

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

/// A deal's id: the UUID the platform gives a trade when it opens it.
///
/// ```
/// use binary_options_tools::DealId;
///
/// let id = DealId::from("5a3c9e1f-0b7d-4c2a-9e8f-1d2c3b4a5f6e");
/// assert_eq!(id.as_str(), "5a3c9e1f-0b7d-4c2a-9e8f-1d2c3b4a5f6e");
/// assert_eq!(id.to_string(), id.as_str());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DealId(Arc<str>);

impl DealId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DealId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for DealId {
    fn from(id: &str) -> Self {
        DealId(Arc::from(id))
    }
}

impl From<String> for DealId {
    fn from(id: String) -> Self {
        DealId(Arc::from(id))
    }
}

impl AsRef<str> for DealId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for DealId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A trade, opened or closed.
///
/// The platform's JSON (fact sheet §6) is read into domain types: the direction is an
/// [`Action`], times are [`SystemTime`]s (whole seconds plus the platform's milliseconds
/// within the second), and a deal still open has no close price. Serde reads and writes
/// the platform's form, so a deal saved as JSON reads back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "WireDeal", into = "WireDeal")]
pub struct Deal {
    /// The deal id.
    pub id: DealId,
    /// The asset symbol.
    pub asset: String,
    /// Call or put.
    pub action: Action,
    /// The stake.
    pub amount: Decimal,
    /// In an opened deal the potential payout; in a closed deal the net result: negative
    /// (the stake) for a loss, 0 for a draw, positive for a win.
    pub profit: Decimal,
    /// When the deal opened (server time).
    pub opened_at: SystemTime,
    /// When the deal expires, or expired (server time).
    pub closes_at: SystemTime,
    /// Price at opening.
    pub open_price: f64,
    /// Price at closing; `None` while the deal is open.
    pub close_price: Option<f64>,
    /// Payout percent on a win.
    pub payout_percent: u32,
    /// Percent of the stake lost on a loss (usually 100).
    pub loss_percent: u32,
    /// The id of the order that opened the deal, when the platform echoes it.
    pub request_id: Option<String>,
    /// The account id.
    pub uid: u64,
    /// True on the demo account.
    pub is_demo: bool,
    /// The platform's option type (100 for a classic option).
    pub option_type: i64,
    /// The account currency.
    pub currency: String,
}

impl Deal {
    /// Whether the platform has reported a close for this deal.
    pub fn is_closed(&self) -> bool {
        self.close_price.is_some()
    }

    /// The deal's length: from opening to expiry.
    pub fn duration(&self) -> Duration {
        self.closes_at
            .duration_since(self.opened_at)
            .unwrap_or(Duration::ZERO)
    }
}

/// A deal as the platform's JSON has it (camelCase, `command` 0/1, `isDemo` 0/1, unix
/// seconds plus milliseconds within the second, `closePrice` 0 while open).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDeal {
    id: String,
    asset: String,
    #[serde(deserialize_with = "decimal_lenient")]
    amount: Decimal,
    #[serde(default, deserialize_with = "decimal_lenient")]
    profit: Decimal,
    #[serde(default, deserialize_with = "command_of")]
    command: Option<u8>,
    #[serde(default, deserialize_with = "i64_lenient")]
    open_timestamp: i64,
    #[serde(default, deserialize_with = "millis_within_second")]
    open_ms: u32,
    #[serde(default, deserialize_with = "i64_lenient")]
    close_timestamp: i64,
    #[serde(default, deserialize_with = "millis_within_second")]
    close_ms: u32,
    #[serde(default)]
    open_price: f64,
    #[serde(default)]
    close_price: f64,
    #[serde(default, deserialize_with = "u32_lenient")]
    percent_profit: u32,
    #[serde(default, deserialize_with = "u32_lenient")]
    percent_loss: u32,
    #[serde(default, deserialize_with = "string_or_number")]
    request_id: Option<String>,
    #[serde(default, deserialize_with = "u64_lenient")]
    uid: u64,
    #[serde(default, deserialize_with = "flag")]
    is_demo: u8,
    #[serde(default, deserialize_with = "i64_lenient")]
    option_type: i64,
    #[serde(default)]
    currency: String,
}

impl TryFrom<WireDeal> for Deal {
    type Error = String;

    fn try_from(w: WireDeal) -> Result<Deal, String> {
        let action = match w.command {
            Some(command) => Action::from_command(command).ok_or_else(|| {
                format!("deal {}: unknown command {command} (0 call, 1 put)", w.id)
            })?,
            None => return Err(format!("deal {}: no command (0 call, 1 put)", w.id)),
        };
        Ok(Deal {
            id: DealId::from(w.id),
            asset: w.asset,
            action,
            amount: w.amount,
            profit: w.profit,
            opened_at: unix_time(w.open_timestamp, w.open_ms),
            closes_at: unix_time(w.close_timestamp, w.close_ms),
            open_price: w.open_price,
            close_price: (w.close_price != 0.0 && w.close_price.is_finite())
                .then_some(w.close_price),
            payout_percent: w.percent_profit,
            loss_percent: w.percent_loss,
            request_id: w.request_id,
            uid: w.uid,
            is_demo: w.is_demo != 0,
            option_type: w.option_type,
            currency: w.currency,
        })
    }
}

impl From<Deal> for WireDeal {
    fn from(d: Deal) -> WireDeal {
        let (open_timestamp, open_ms) = unix_parts(d.opened_at);
        let (close_timestamp, close_ms) = unix_parts(d.closes_at);
        WireDeal {
            id: d.id.as_str().to_owned(),
            asset: d.asset,
            amount: d.amount,
            profit: d.profit,
            command: Some(match d.action {
                Action::Call => 0,
                Action::Put => 1,
            }),
            open_timestamp,
            open_ms,
            close_timestamp,
            close_ms,
            open_price: d.open_price,
            close_price: d.close_price.unwrap_or(0.0),
            percent_profit: d.payout_percent,
            percent_loss: d.loss_percent,
            request_id: d.request_id,
            uid: d.uid,
            is_demo: u8::from(d.is_demo),
            option_type: d.option_type,
            currency: d.currency,
        }
    }
}

/// A time as unix seconds with sub-second precision (the form ticks, candles and the
/// clock's samples use); 0 for a time before the epoch.
pub(crate) fn unix_secs(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Unix seconds as a time; the epoch itself for a negative, infinite or NaN value.
pub(crate) fn from_unix_secs(seconds: f64) -> SystemTime {
    UNIX_EPOCH + Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO)
}

/// Whole unix seconds plus milliseconds within the second, as a time (the epoch itself
/// for a time before it).
fn unix_time(seconds: i64, millis: u32) -> SystemTime {
    let seconds = u64::try_from(seconds).unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_millis(u64::from(millis))
}

/// The inverse of [`unix_time`].
fn unix_parts(time: SystemTime) -> (i64, u32) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    (
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        since.subsec_millis(),
    )
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

/// `command`: 0 or 1 as a number or a numeric string; anything else is `Some(255)` (an
/// unknown command, refused with the deal's id) and an absent or null field is `None`.
fn command_of<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::Number(n) => Some(
            n.as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .unwrap_or(u8::MAX),
        ),
        Value::String(s) => Some(s.trim().parse().unwrap_or(u8::MAX)),
        _ => Some(u8::MAX),
    })
}

/// `openMs`/`closeMs`: milliseconds within the second (fact sheet §6). A value outside
/// 0–999 or of another type (an epoch in milliseconds, as an old simulator sent) adds
/// nothing: the whole seconds stand.
fn millis_within_second<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_u64()
            .filter(|ms| *ms < 1000)
            .and_then(|ms| u32::try_from(ms).ok())
            .unwrap_or(0),
        _ => 0,
    })
}

/// An integer as a number (a float is truncated) or a numeric string; 0 otherwise.
fn i64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

fn u32_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = i64_lenient(d)?;
    Ok(u32::try_from(n).unwrap_or(0))
}

/// A 0/1 flag as a number, a string or a boolean.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    Ok(u8::from(truthy(&Value::deserialize(d)?)))
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
        assert_eq!(deal.action, Action::Put);
        assert!(deal.is_demo);
        assert!(!deal.is_closed(), "no close price yet");
        let result = DealResult::from_closed(deal);
        assert_eq!(result.outcome, Outcome::Loss);
    }

    #[test]
    fn deal_times_add_the_milliseconds_within_the_second_and_ignore_nonsense() {
        let read = |extra: &str| -> Deal {
            serde_json::from_str(&format!(
                r#"{{"id":"d1","asset":"A","amount":1,"command":0,"openTimestamp":1742583805,"closeTimestamp":1742583865{extra}}}"#
            ))
            .unwrap()
        };
        let at = |s: u64, ms: u64| UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms);
        let deal = read(r#","openMs":370,"closeMs":0"#);
        assert_eq!(deal.opened_at, at(1742583805, 370));
        assert_eq!(deal.closes_at, at(1742583865, 0));
        assert_eq!(deal.duration(), Duration::from_millis(59_630));
        // Epoch milliseconds, negative and non-numeric values add nothing.
        for nonsense in [
            r#","openMs":1795869531899"#,
            r#","openMs":-5"#,
            r#","openMs":"370""#,
        ] {
            assert_eq!(read(nonsense).opened_at, at(1742583805, 0), "{nonsense}");
        }
    }

    #[test]
    fn a_deal_without_a_known_direction_is_refused_with_its_id() {
        for command in [r#""command":2,"#, r#""command":"x","#, ""] {
            let text = format!(r#"{{"id":"d9",{command}"asset":"A","amount":1}}"#);
            let error = serde_json::from_str::<Deal>(&text).unwrap_err().to_string();
            assert!(error.contains("d9") && error.contains("command"), "{error}");
        }
    }

    #[test]
    fn deals_read_back_what_they_write_in_the_platform_form() {
        let deal: Deal = serde_json::from_str(
            r#"{"id":"d2","asset":"EURUSD_otc","amount":"2.5","profit":2.3,"command":1,"openTimestamp":1742583805,"openMs":370,"closeTimestamp":1742583865,"openPrice":1.08234,"closePrice":1.08251,"percentProfit":92,"percentLoss":100,"requestId":"r1","uid":7,"isDemo":true,"optionType":100,"currency":"USD"}"#,
        )
        .unwrap();
        assert_eq!(deal.close_price, Some(1.08251));
        assert_eq!(deal.payout_percent, 92);
        let json = serde_json::to_value(&deal).unwrap();
        assert_eq!(json["command"], 1);
        assert_eq!(json["openTimestamp"], 1742583805);
        assert_eq!(json["openMs"], 370);
        assert_eq!(json["isDemo"], 1);
        let back: Deal = serde_json::from_value(json).unwrap();
        assert_eq!(back, deal);
    }
}
