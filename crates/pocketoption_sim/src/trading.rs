//! Trading: accounts (demo and real balances per user), order validation, open deals and
//! their settlement on the market's price path.
//!
//! Money is kept in integer cents so balances stay exact over thousands of trades, and is
//! shown on the wire as the platform's floats (`1234.56`). The [`Book`] is plain data
//! behind one lock; timers and pushes live in the server.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::{Duration, Instant};

use crate::clock::format_utc;
use crate::config::Config;
use crate::market::Market;
use crate::prng::Sequence;

/// The result of a closed deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The price moved the chosen way: amount × payout % is won on top of the stake.
    Win,
    /// The price moved the other way: the stake is lost.
    Loss,
    /// The price did not move: the stake is refunded.
    Draw,
}

/// Call (up) or put (down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Wins if the close price is above the open price (`command` 0).
    Call,
    /// Wins if the close price is below the open price (`command` 1).
    Put,
}

/// A deal, as the simulator's books hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct Deal {
    /// The deal id (a UUID).
    pub id: String,
    /// The owner.
    pub uid: u64,
    /// The `requestId` the order carried, echoed as given.
    pub request_id: Value,
    /// The asset symbol.
    pub asset: String,
    /// Call or put.
    pub direction: Direction,
    /// Whether it was placed on the demo account.
    pub is_demo: bool,
    /// The stake, in cents.
    pub amount_cents: i64,
    /// Payout percent at opening.
    pub payout: u8,
    /// Price at opening.
    pub open_price: f64,
    /// Price at closing (`None` while open).
    pub close_price: Option<f64>,
    /// Unix seconds at opening.
    pub open_timestamp: i64,
    /// Unix seconds at closing in platform time (`open + time`).
    pub close_timestamp: i64,
    /// The order's `optionType`.
    pub option_type: i64,
    /// The result (`None` while open).
    pub outcome: Option<Outcome>,
    /// Net profit in cents once closed: `-amount`, `0` or the winnings.
    pub profit_cents: i64,
    /// Wall-clock unix ms of the opening instant (`openTimestamp` is its second,
    /// `openMs` its millisecond within that second).
    pub(crate) open_unix_ms: i64,
    /// Wall-clock ms of the real closing instant (scaled by `time_scale`).
    pub(crate) settle_ms: i64,
    pub(crate) settle_at: Instant,
}

fn money(cents: i64) -> f64 {
    cents as f64 / 100.0
}

impl Deal {
    /// The stake as the platform shows it.
    pub fn amount(&self) -> f64 {
        money(self.amount_cents)
    }

    /// What a win pays on top of the stake, in cents.
    pub fn potential_profit_cents(&self) -> i64 {
        (self.amount_cents * i64::from(self.payout) + 50) / 100
    }

    /// What the deal paid back to the balance when it closed, in cents: the gross return
    /// (stake + winnings on a win, the stake on a draw, 0 on a loss). `None` while open.
    /// `successcloseOrder`'s top-level `profit` is the sum of these.
    pub fn returned_cents(&self) -> Option<i64> {
        self.outcome.map(|_| self.amount_cents + self.profit_cents)
    }

    /// The Deal object of the wire protocol (fact sheet §6).
    ///
    /// `openMs`/`closeMs` are the milliseconds *within the second* (0–999), as the platform
    /// sends them, never epoch milliseconds: clients in the wild keep them in 32-bit
    /// integers. `closeTimestamp` is whole-second platform time (`open + time`), so
    /// `closeMs` is 0, as in the captured real frame. `amountUSD` appears once closed.
    pub(crate) fn to_json(&self) -> Value {
        let profit = match self.outcome {
            None => self.potential_profit_cents(),
            Some(_) => self.profit_cents,
        };
        let mut deal = json!({
            "id": self.id,
            "openTime": format_utc(self.open_timestamp),
            "closeTime": format_utc(self.close_timestamp),
            "openTimestamp": self.open_timestamp,
            "closeTimestamp": self.close_timestamp,
            "uid": self.uid,
            "requestId": self.request_id,
            "amount": money(self.amount_cents),
            "profit": money(profit),
            "percentProfit": self.payout,
            "percentLoss": 100,
            "openPrice": self.open_price,
            "closePrice": self.close_price.unwrap_or(0.0),
            "command": match self.direction { Direction::Call => 0, Direction::Put => 1 },
            "asset": self.asset,
            "isDemo": u8::from(self.is_demo),
            "copyTicket": "",
            "openMs": self.open_unix_ms.rem_euclid(1000),
            "closeMs": 0,
            "optionType": self.option_type,
            "isCopySignal": false,
            "currency": "USD",
        });
        if self.outcome.is_some() {
            // Every account is in USD here, so the USD amount is the amount.
            deal["amountUSD"] = json!(money(self.amount_cents));
        }
        deal
    }
}

/// A user's two balances, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Account {
    pub demo_cents: i64,
    pub real_cents: i64,
}

impl Account {
    pub(crate) fn balance_mut(&mut self, demo: bool) -> &mut i64 {
        if demo {
            &mut self.demo_cents
        } else {
            &mut self.real_cents
        }
    }
}

/// An `openOrder` request as the client sends it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderRequest {
    pub asset: String,
    pub action: String,
    pub amount: f64,
    #[serde(default)]
    pub option_type: Option<i64>,
    #[serde(default)]
    pub request_id: Option<Value>,
    pub time: i64,
}

/// Why an order was refused: the `error` of `failopenOrder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal(pub &'static str);

/// Accounts and deals of every user.
#[derive(Debug)]
pub(crate) struct Book {
    accounts: HashMap<u64, Account>,
    open: Vec<Deal>,
    closed: Vec<Deal>,
    pending: Vec<PendingOrder>,
    ids: Sequence,
}

/// Closed deals kept per book (oldest dropped first).
const MAX_CLOSED: usize = 2000;
/// Closed deals sent in `updateClosedDeals`.
pub(crate) const CLOSED_LIST_LEN: usize = 50;

impl Book {
    pub(crate) fn new(seed: u64) -> Self {
        Book {
            accounts: HashMap::new(),
            open: Vec::new(),
            closed: Vec::new(),
            pending: Vec::new(),
            ids: Sequence::new(seed, 2),
        }
    }

    /// The account of `uid`, created with the configured balances on first use.
    pub(crate) fn account(&mut self, uid: u64, config: &Config) -> &mut Account {
        self.accounts.entry(uid).or_insert(Account {
            demo_cents: config.demo_balance_cents,
            real_cents: config.real_balance_cents,
        })
    }

    pub(crate) fn existing_account(&self, uid: u64) -> Option<Account> {
        self.accounts.get(&uid).copied()
    }

    pub(crate) fn open_deals(&self, uid: u64, demo: bool) -> Vec<&Deal> {
        self.open
            .iter()
            .filter(|d| d.uid == uid && d.is_demo == demo)
            .collect()
    }

    pub(crate) fn all_open(&self) -> &[Deal] {
        &self.open
    }

    pub(crate) fn all_closed(&self) -> &[Deal] {
        &self.closed
    }

    /// The most recent closed deals of an account, newest first.
    pub(crate) fn closed_deals(&self, uid: u64, demo: bool, max: usize) -> Vec<&Deal> {
        self.closed
            .iter()
            .rev()
            .filter(|d| d.uid == uid && d.is_demo == demo)
            .take(max)
            .collect()
    }

    /// Validates and opens an order; the stake is taken from the balance at once.
    pub(crate) fn open_order(
        &mut self,
        uid: u64,
        demo: bool,
        order: &OrderRequest,
        market: &Market,
        config: &Config,
        (now_ms, now): (i64, Instant),
    ) -> Result<Deal, Refusal> {
        let asset = market
            .asset(&order.asset)
            .ok_or(Refusal("ASSET_NOT_FOUND"))?;
        if !asset.active {
            return Err(Refusal("ASSET_INACTIVE"));
        }
        let direction = match order.action.as_str() {
            "call" => Direction::Call,
            "put" => Direction::Put,
            _ => return Err(Refusal("INVALID_ACTION")),
        };
        let time_ok = u32::try_from(order.time).is_ok_and(|t| asset.expiries.contains(&t));
        if !time_ok {
            return Err(Refusal("OPEN_TIME"));
        }
        if !order.amount.is_finite() {
            return Err(Refusal("MIN_AMOUNT"));
        }
        let amount_cents = (order.amount * 100.0).round() as i64;
        if amount_cents < config.min_amount_cents {
            return Err(Refusal("MIN_AMOUNT"));
        }
        if amount_cents > config.max_amount_cents {
            return Err(Refusal("MAX_AMOUNT"));
        }
        if self.open_deals(uid, demo).len() >= config.max_open_deals {
            return Err(Refusal(if demo {
                "MaxDemoTrades"
            } else {
                "MaxRealTrades"
            }));
        }
        let balance = self.account(uid, config).balance_mut(demo);
        if *balance < amount_cents {
            return Err(Refusal("Not enough money"));
        }
        *balance -= amount_cents;

        let open_ms = market.grid(now_ms);
        let real_ms = ((order.time as f64) * 1000.0 / config.time_scale).round() as i64;
        let open_timestamp = now_ms.div_euclid(1000);
        let deal = Deal {
            id: self.ids.uuid(),
            uid,
            request_id: order.request_id.clone().unwrap_or(Value::Null),
            asset: asset.symbol.clone(),
            direction,
            is_demo: demo,
            amount_cents,
            payout: asset.payout,
            open_price: market.price_at(&asset.symbol, open_ms).unwrap_or(0.0),
            close_price: None,
            open_timestamp,
            close_timestamp: open_timestamp + order.time,
            option_type: order.option_type.unwrap_or(100),
            outcome: None,
            profit_cents: 0,
            open_unix_ms: now_ms,
            settle_ms: now_ms + real_ms,
            settle_at: now + Duration::from_millis(real_ms.max(0) as u64),
        };
        self.open.push(deal.clone());
        Ok(deal)
    }

    /// When the next open deal is due.
    pub(crate) fn next_settlement(&self) -> Option<Instant> {
        self.open.iter().map(|d| d.settle_at).min()
    }

    /// Closes every deal due by `now`, crediting balances. Returns the closed deals.
    pub(crate) fn settle_due(
        &mut self,
        now: Instant,
        market: &Market,
        config: &Config,
    ) -> Vec<Deal> {
        let (due, keep): (Vec<Deal>, Vec<Deal>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|d| d.settle_at <= now);
        self.open = keep;
        let mut closed = Vec::with_capacity(due.len());
        for mut deal in due {
            let close = market
                .price_at(&deal.asset, deal.settle_ms)
                .unwrap_or(deal.open_price);
            let outcome = if close == deal.open_price {
                Outcome::Draw
            } else if (close > deal.open_price) == (deal.direction == Direction::Call) {
                Outcome::Win
            } else {
                Outcome::Loss
            };
            let (credit, profit) = match outcome {
                Outcome::Win => {
                    let win = deal.potential_profit_cents();
                    (deal.amount_cents + win, win)
                }
                Outcome::Draw => (deal.amount_cents, 0),
                Outcome::Loss => (0, -deal.amount_cents),
            };
            *self.account(deal.uid, config).balance_mut(deal.is_demo) += credit;
            deal.close_price = Some(close);
            deal.outcome = Some(outcome);
            deal.profit_cents = profit;
            self.closed.push(deal.clone());
            closed.push(deal);
        }
        if self.closed.len() > MAX_CLOSED {
            let excess = self.closed.len() - MAX_CLOSED;
            self.closed.drain(..excess);
        }
        closed
    }

    pub(crate) fn all_pending(&self) -> &[PendingOrder] {
        &self.pending
    }

    /// Validates and stores a pending order (the stake is taken when it executes).
    pub(crate) fn place_pending(
        &mut self,
        uid: u64,
        demo: bool,
        request: &PendingRequest,
        market: &Market,
        config: &Config,
        now_ms: i64,
    ) -> Result<PendingOrder, Refusal> {
        let asset = market
            .asset(&request.asset)
            .ok_or(Refusal("ASSET_NOT_FOUND"))?;
        if !asset.active {
            return Err(Refusal("ASSET_INACTIVE"));
        }
        if !u32::try_from(request.timeframe).is_ok_and(|t| asset.expiries.contains(&t)) {
            return Err(Refusal("OPEN_TIME"));
        }
        let amount_cents = (request.amount * 100.0).round() as i64;
        if !request.amount.is_finite() || amount_cents < config.min_amount_cents {
            return Err(Refusal("MIN_AMOUNT"));
        }
        if amount_cents > config.max_amount_cents {
            return Err(Refusal("MAX_AMOUNT"));
        }
        if request
            .min_payout
            .is_some_and(|min| min > f64::from(asset.payout))
        {
            return Err(Refusal("MIN_PAYOUT"));
        }
        if !matches!(request.command, 0 | 1) {
            return Err(Refusal("INVALID_ACTION"));
        }
        let trigger = match request.open_type {
            0 => {
                let at = request
                    .open_time
                    .as_ref()
                    .and_then(parse_open_time)
                    .ok_or(Refusal("OPEN_TIME"))?;
                if at * 1000 <= now_ms {
                    return Err(Refusal("OPEN_TIME"));
                }
                PendingTrigger::At { unix_ms: at * 1000 }
            }
            1 => {
                let target = request
                    .open_price
                    .filter(|p| p.is_finite() && *p > 0.0)
                    .ok_or(Refusal("OPEN_PRICE"))?;
                let start = market.price_at(&asset.symbol, now_ms).unwrap_or(target);
                PendingTrigger::Price {
                    target,
                    from_below: start < target,
                }
            }
            _ => return Err(Refusal("INVALID_REQUEST")),
        };
        let order = PendingOrder {
            ticket: self.ids.uuid(),
            uid,
            is_demo: demo,
            asset: asset.symbol.clone(),
            amount_cents,
            timeframe: request.timeframe,
            direction: if request.command == 0 {
                Direction::Call
            } else {
                Direction::Put
            },
            trigger,
            min_payout: request.min_payout,
            created_ms: now_ms,
        };
        self.pending.push(order.clone());
        Ok(order)
    }

    /// Cancels a pending order of (uid, demo); returns whether it existed.
    pub(crate) fn cancel_pending(&mut self, uid: u64, demo: bool, ticket: &str) -> bool {
        let before = self.pending.len();
        self.pending
            .retain(|p| !(p.ticket == ticket && p.uid == uid && p.is_demo == demo));
        self.pending.len() != before
    }

    /// Removes and returns the pending orders whose trigger fired by `now_ms`.
    pub(crate) fn take_triggered(&mut self, market: &Market, now_ms: i64) -> Vec<PendingOrder> {
        let (fired, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| match p.trigger {
                PendingTrigger::At { unix_ms } => now_ms >= unix_ms,
                PendingTrigger::Price { target, from_below } => {
                    market.price_at(&p.asset, now_ms).is_some_and(|price| {
                        if from_below {
                            price >= target
                        } else {
                            price <= target
                        }
                    })
                }
            });
        self.pending = keep;
        fired
    }

    /// How long until a pending order may fire (`None` when there is none).
    pub(crate) fn next_pending_check(&self, now_ms: i64, tick_ms: i64) -> Option<i64> {
        self.pending
            .iter()
            .map(|p| match p.trigger {
                PendingTrigger::At { unix_ms } => (unix_ms - now_ms).max(0),
                PendingTrigger::Price { .. } => tick_ms,
            })
            .min()
    }

    pub(crate) fn set_balance(&mut self, uid: u64, demo: bool, cents: i64, config: &Config) {
        *self.account(uid, config).balance_mut(demo) = cents;
    }
}

/// The `successupdateBalance` payload.
pub(crate) fn balance_json(uid: u64, demo: bool, cents: i64) -> Value {
    json!({ "uid": uid, "isDemo": u8::from(demo), "balance": money(cents), "currency": "USD" })
}

/// What makes a pending order execute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PendingTrigger {
    /// `openType` 0: at a time.
    At {
        /// Unix milliseconds.
        unix_ms: i64,
    },
    /// `openType` 1: when the price reaches `target`.
    Price {
        /// The `openPrice`.
        target: f64,
        /// Whether the price was below the target when the order was placed.
        from_below: bool,
    },
}

/// A pending order waiting for its trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingOrder {
    /// The ticket (a UUID); it becomes the `requestId` of the deal it opens.
    pub ticket: String,
    /// The owner.
    pub uid: u64,
    /// Whether it is on the demo account.
    pub is_demo: bool,
    /// The asset symbol.
    pub asset: String,
    /// The stake, in cents.
    pub amount_cents: i64,
    /// The expiry of the deal it opens, in seconds.
    pub timeframe: i64,
    /// Call or put.
    pub direction: Direction,
    /// When it executes.
    pub trigger: PendingTrigger,
    /// The lowest payout accepted.
    pub min_payout: Option<f64>,
    pub(crate) created_ms: i64,
}

impl PendingOrder {
    /// The `successopenPendingOrder` payload.
    pub(crate) fn to_json(&self) -> Value {
        let (open_type, open_time, open_price) = match self.trigger {
            PendingTrigger::At { unix_ms } => {
                (0, format_utc(unix_ms.div_euclid(1000)), Value::Null)
            }
            PendingTrigger::Price { target, .. } => (1, String::new(), json!(target)),
        };
        json!({
            "ticket": self.ticket,
            "openType": open_type,
            "amount": money(self.amount_cents),
            "asset": self.asset,
            "openTime": open_time,
            "openPrice": open_price,
            "timeframe": self.timeframe,
            "minPayout": self.min_payout,
            "command": match self.direction { Direction::Call => 0, Direction::Put => 1 },
            "uid": self.uid,
            "isDemo": u8::from(self.is_demo),
            "dateCreated": format_utc(self.created_ms.div_euclid(1000)),
        })
    }

    /// The market order it becomes when triggered.
    pub(crate) fn as_order(&self) -> OrderRequest {
        OrderRequest {
            asset: self.asset.clone(),
            action: match self.direction {
                Direction::Call => "call".to_owned(),
                Direction::Put => "put".to_owned(),
            },
            amount: money(self.amount_cents),
            option_type: Some(100),
            request_id: Some(Value::String(self.ticket.clone())),
            time: self.timeframe,
        }
    }
}

/// An `openPendingOrder` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PendingRequest {
    pub open_type: i64,
    pub amount: f64,
    pub asset: String,
    #[serde(default)]
    pub open_time: Option<Value>,
    #[serde(default)]
    pub open_price: Option<f64>,
    pub timeframe: i64,
    #[serde(default)]
    pub min_payout: Option<f64>,
    pub command: i64,
}

/// `openTime` as unix seconds: a number, a numeric string, or `YYYY-MM-DD HH:MM:SS` (UTC).
fn parse_open_time(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok().or_else(|| parse_utc(s.trim())),
        _ => None,
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS` (UTC) into unix seconds.
fn parse_utc(s: &str) -> Option<i64> {
    let (date, time) = s.split_once(' ')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min, sec) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    // Days-from-civil (Howard Hinnant), the inverse of `clock::format_utc`.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + min * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_time_accepts_numbers_and_platform_dates() {
        assert_eq!(parse_open_time(&json!(1_732_288_888)), Some(1_732_288_888));
        assert_eq!(parse_open_time(&json!("1732288888")), Some(1_732_288_888));
        assert_eq!(
            parse_open_time(&json!("2024-11-22 15:21:28")),
            Some(1_732_288_888)
        );
        assert_eq!(
            format_utc(parse_utc("2000-02-29 00:00:00").unwrap()),
            "2000-02-29 00:00:00"
        );
        assert_eq!(parse_open_time(&json!("yesterday")), None);
    }
}
