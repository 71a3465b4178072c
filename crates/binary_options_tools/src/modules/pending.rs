//! Pending orders: deals the platform opens later, at a time or when the price reaches a
//! level (`openPendingOrder`), and their cancellation (`cancelPendingOrder`,
//! `cancelPendingOrders`).
//!
//! The platform's replies carry no request id: `successopenPendingOrder` (with the order's
//! `ticket`) and `failopenPendingOrder` are matched to the oldest waiting request with the
//! same asset and amount, like `failopenOrder` for market orders, so one reply never
//! reaches two callers. Cancellations are matched by ticket (a bulk cancellation, whose
//! reply lists the tickets cancelled, by order of submission).
//!
//! When the trigger fires, the platform opens a deal whose `requestId` is the ticket and
//! sends it like any opened deal: the deal book records it, [`PendingBook::list`] stops
//! listing the order, and the deal's result is waited for like any other.
//!
//! The events are handled by the [trades module](super::trades) (no extra task: most
//! clients never place a pending order), and the state lives in [`PendingBook`].
//!
//! Known limit: when the platform cannot open the deal at the trigger, it answers with a
//! `failopenOrder`, which carries no request id or ticket. The client cannot tell it from
//! the refusal of a market order of the same asset and amount placed at that very moment
//! (it goes to that order's caller, if there is one); the pending order then simply never
//! fills ([`PendingHandle::pending_fill`] times out).

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use core_pre::runtime::{self, Instant};
use core_pre::{ConnectionWatch, CoreError, Outbound, PendingRequests};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::events::parse_payload;
use crate::socketio::encode_event;
use crate::state::PocketOptionState;
use crate::types::{Action, Deal};

/// What makes a pending order open its deal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PendingTrigger {
    /// At this server time, as time since the unix epoch (`openType` 0). Sub-second parts
    /// are rounded up to the next whole second; it must be in the future. Build it from
    /// the server clock, e.g. `client.server_time().since_epoch() + Duration::from_secs(30)`.
    AtTime(Duration),
    /// When the price reaches this level, from either side (`openType` 1). It must be
    /// positive and finite.
    AtPrice(f64),
}

impl PendingTrigger {
    /// Checks the trigger against the server clock `now` (unix seconds).
    pub(crate) fn validate(&self, now: f64) -> Result<(), Error> {
        let invalid = |reason: String| Err(Error::InvalidPendingOrder { reason });
        match *self {
            PendingTrigger::AtTime(at) if whole_seconds(at) as f64 <= now => invalid(format!(
                "an opening time of {} (unix seconds) is not after the server time {now:.0}",
                whole_seconds(at)
            )),
            PendingTrigger::AtTime(_) => Ok(()),
            PendingTrigger::AtPrice(price) if !price.is_finite() || price <= 0.0 => {
                invalid(format!("an opening price of {price}: use a positive price"))
            }
            PendingTrigger::AtPrice(_) => Ok(()),
        }
    }
}

/// Whole unix seconds of a time, rounded up.
fn whole_seconds(at: Duration) -> u64 {
    at.as_secs() + u64::from(at.subsec_nanos() > 0)
}

/// A pending order to place with [`PocketOption::open_pending`](crate::PocketOption::open_pending).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingOrderRequest {
    /// The asset symbol.
    pub asset: String,
    /// Call or put.
    pub action: Action,
    /// The stake (taken from the balance when the deal opens).
    pub amount: Decimal,
    /// The expiry of the deal it opens.
    pub expiry: Duration,
    /// When the deal opens.
    pub trigger: PendingTrigger,
    /// The lowest payout (percent) the deal may open with; `None` accepts any.
    pub min_payout: Option<u32>,
}

impl PendingOrderRequest {
    /// A request accepting any payout.
    pub fn new(
        asset: impl Into<String>,
        action: Action,
        amount: Decimal,
        expiry: Duration,
        trigger: PendingTrigger,
    ) -> Self {
        PendingOrderRequest {
            asset: asset.into(),
            action,
            amount,
            expiry,
            trigger,
            min_payout: None,
        }
    }

    /// The deal opens only if the payout is at least `percent` then.
    pub fn with_min_payout(mut self, percent: u32) -> Self {
        self.min_payout = Some(percent);
        self
    }

    /// The `openPendingOrder` frame (`expiry` already validated as whole seconds).
    pub(crate) fn frame(&self) -> String {
        let (open_type, open_time, open_price) = match self.trigger {
            PendingTrigger::AtTime(at) => (0, whole_seconds(at), 0.0),
            PendingTrigger::AtPrice(price) => (1, 0, price),
        };
        let payload = format!(
            "{{\"openType\":{open_type},\"amount\":{},\"asset\":{},\"openTime\":{open_time},\"openPrice\":{},\"timeframe\":{},\"minPayout\":{},\"command\":{}}}",
            self.amount.normalize(),
            Value::String(self.asset.clone()),
            // `Value` writes the shortest exact form of a finite f64 (checked in validate).
            serde_json::Number::from_f64(open_price).map_or(Value::from(0), Value::Number),
            self.expiry.as_secs(),
            self.min_payout.unwrap_or(0),
            match self.action {
                Action::Call => 0,
                Action::Put => 1,
            },
        );
        encode_event("openPendingOrder", Some(&payload))
    }
}

/// A pending order the platform accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingOrder {
    /// The platform's ticket: it identifies the order (to cancel it), and becomes the
    /// `request_id` of the deal it opens.
    pub ticket: String,
    /// The asset symbol.
    pub asset: String,
    /// Call or put.
    pub action: Action,
    /// The stake.
    pub amount: Decimal,
    /// The expiry of the deal it opens.
    pub expiry: Duration,
    /// When the deal opens.
    pub trigger: PendingTrigger,
    /// The lowest payout accepted, if any.
    pub min_payout: Option<u32>,
}

/// Identifies a waiting `openPendingOrder`: by a local id, carrying asset and amount for
/// the reply (which carries no id).
#[derive(Debug, Clone)]
pub(crate) struct PendingKey {
    id: u64,
    asset: String,
    amount: Decimal,
}

impl PartialEq for PendingKey {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for PendingKey {}

impl Hash for PendingKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

/// The ticket, or the platform's refusal reason.
type OpenReply = Result<String, String>;

/// How many requests of one kind may wait for replies at once.
const WAITING_LIMIT: usize = 256;
/// Tickets of fills seen before their order was listed (a race between the reply's
/// waiter and the trades module), remembered so the order is never listed.
const EARLY_FILLS_KEPT: usize = 64;

#[derive(Default)]
struct Listed {
    orders: Vec<PendingOrder>,
    early_fills: VecDeque<String>,
}

/// Pending orders placed by this client, and the requests waiting for the platform.
pub struct PendingBook {
    listed: Mutex<Listed>,
    opens: PendingRequests<PendingKey, OpenReply>,
    cancels: PendingRequests<String, Result<(), String>>,
    bulk_cancels: PendingRequests<u64, Vec<String>>,
}

impl PendingBook {
    /// An empty book whose requests fail when `connection` drops.
    pub(crate) fn new(connection: ConnectionWatch) -> Self {
        PendingBook {
            listed: Mutex::default(),
            opens: PendingRequests::new(connection.clone(), WAITING_LIMIT),
            cancels: PendingRequests::new(connection.clone(), WAITING_LIMIT),
            bulk_cancels: PendingRequests::new(connection, WAITING_LIMIT),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Listed> {
        // Each update is a push or a retain; a poisoned lock still holds a usable list.
        core_pre::runtime::lock(&self.listed)
    }

    /// The pending orders this client placed that have neither opened their deal nor
    /// been cancelled (as far as the client has heard), oldest first.
    pub fn list(&self) -> Vec<PendingOrder> {
        self.lock().orders.clone()
    }

    fn add(&self, order: PendingOrder) {
        let mut listed = self.lock();
        if let Some(at) = listed.early_fills.iter().position(|t| *t == order.ticket) {
            listed.early_fills.remove(at);
            return;
        }
        listed.orders.push(order);
    }

    fn remove(&self, tickets: &[String]) {
        self.lock().orders.retain(|o| !tickets.contains(&o.ticket));
    }

    /// A deal opened with `request_id`: if it is a pending order's ticket, the order has
    /// been filled.
    pub(crate) fn on_deal_opened(&self, request_id: &str) {
        let waiting = !self.opens.is_empty();
        self.note_fill(request_id, waiting);
    }

    fn note_fill(&self, request_id: &str, requests_waiting: bool) {
        let mut listed = self.lock();
        let before = listed.orders.len();
        listed.orders.retain(|o| o.ticket != request_id);
        if listed.orders.len() == before && requests_waiting {
            // Perhaps the fill of an order whose reply is still on its way to its waiter.
            listed.early_fills.push_back(request_id.to_owned());
            while listed.early_fills.len() > EARLY_FILLS_KEPT {
                listed.early_fills.pop_front();
            }
        }
    }

    /// Drops listed orders whose deal the deal book already knows (filled while the
    /// client was away: the platform's deal lists carry it, not `successopenOrder`).
    fn prune(&self, state: &PocketOptionState) {
        self.lock()
            .orders
            .retain(|o| state.deals.find_by_request(&o.ticket).is_none());
    }
}

#[derive(Deserialize)]
struct Opened {
    #[serde(default)]
    ticket: Value,
    #[serde(default)]
    asset: Option<String>,
    #[serde(default)]
    amount: Value,
}

#[derive(Deserialize)]
struct Failed {
    #[serde(default)]
    error: Value,
    #[serde(default)]
    asset: Option<String>,
    #[serde(default)]
    amount: Value,
    #[serde(default)]
    ticket: Value,
}

#[derive(Deserialize)]
struct Cancelled {
    #[serde(default)]
    tickets: Vec<Value>,
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The pending-order events, for the trades module's rule.
pub(crate) const EVENTS: [&str; 5] = [
    "successopenPendingOrder",
    "failopenPendingOrder",
    "successcancelPendingOrder",
    "failcancelPendingOrder",
    "successcancelPendingOrders",
];

/// Handles one pending-order event (called by the trades module).
pub(crate) fn on_event(state: &PocketOptionState, name: &str, text: &str) -> Result<(), String> {
    let book = state.pending();
    match name {
        "successopenPendingOrder" | "failopenPendingOrder" => {
            let (asset, amount, reply) = if name == "successopenPendingOrder" {
                let opened: Opened = parse_payload(text)?;
                let ticket = text_of(&opened.ticket);
                if ticket.is_empty() {
                    return Err("successopenPendingOrder without a ticket".to_owned());
                }
                (
                    opened.asset,
                    crate::types::decimal_from_json(&opened.amount),
                    Ok(ticket),
                )
            } else {
                let failed: Failed = parse_payload(text)?;
                (
                    failed.asset,
                    crate::types::decimal_from_json(&failed.amount),
                    Err(text_of(&failed.error)),
                )
            };
            let asset = asset.unwrap_or_default();
            let matched = book
                .opens
                .resolve_oldest(|k| k.asset == asset && Some(k.amount) == amount, reply);
            if !matched {
                tracing::warn!(%asset, event = name, "a pending-order reply matched no waiting request");
            }
        }
        "successcancelPendingOrder" | "failcancelPendingOrder" => {
            let failed: Failed = parse_payload(text)?;
            let ticket = text_of(&failed.ticket);
            let reply = if name == "successcancelPendingOrder" {
                book.remove(std::slice::from_ref(&ticket));
                Ok(())
            } else {
                Err(text_of(&failed.error))
            };
            if !book.cancels.resolve(&ticket, reply) {
                tracing::debug!(%ticket, "a cancellation reply matched no waiting request");
            }
        }
        "successcancelPendingOrders" => {
            let cancelled: Cancelled = parse_payload(text)?;
            let tickets: Vec<String> = cancelled.tickets.iter().map(text_of).collect();
            book.remove(&tickets);
            if !book.bulk_cancels.resolve_oldest(|_| true, tickets) {
                tracing::debug!("a bulk cancellation reply matched no waiting request");
            }
        }
        _ => {}
    }
    Ok(())
}

/// Local ids of `openPendingOrder` requests.
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Places, cancels and lists pending orders: the client's `open_pending` and friends. The
/// platform's answers reach it through the trades module, which reads the pending-order
/// events with the market-order ones.
#[derive(Clone)]
pub struct PendingHandle {
    pub(crate) state: Arc<PocketOptionState>,
    pub(crate) outbound: Outbound,
}

impl PendingHandle {
    /// Sends a validated pending order and waits up to `timeout` for the platform's
    /// ticket. A lost reply is reported as it is (the order is never re-sent: check
    /// [`list_pending`](Self::list_pending) or the platform before placing it again).
    pub async fn open_pending(
        &self,
        request: &PendingOrderRequest,
        timeout: Duration,
    ) -> Result<PendingOrder, Error> {
        let book = self.state.pending();
        let waiter = book.opens.register(PendingKey {
            id: next_id(),
            asset: request.asset.clone(),
            amount: request.amount,
        })?;
        self.outbound.send(request.frame()).await?;
        match waiter.wait(timeout).await? {
            Ok(ticket) => {
                let order = PendingOrder {
                    ticket,
                    asset: request.asset.clone(),
                    action: request.action,
                    amount: request.amount,
                    expiry: request.expiry,
                    trigger: request.trigger,
                    min_payout: request.min_payout,
                };
                book.add(order.clone());
                Ok(order)
            }
            Err(reason) => Err(Error::OrderRejected {
                reason,
                asset: request.asset.clone(),
                amount: request.amount,
            }),
        }
    }

    /// Cancels one pending order, waiting up to `timeout` for the platform.
    pub async fn cancel_pending(&self, ticket: &str, timeout: Duration) -> Result<(), Error> {
        let waiter = self.state.pending().cancels.register(ticket.to_owned())?;
        let payload = format!("{{\"ticket\":{}}}", Value::String(ticket.to_owned()));
        self.outbound
            .send(encode_event("cancelPendingOrder", Some(&payload)))
            .await?;
        waiter
            .wait(timeout)
            .await?
            .map_err(|reason| Error::PendingCancelRejected {
                ticket: ticket.to_owned(),
                reason,
            })
    }

    /// Cancels several pending orders at once; returns the tickets the platform
    /// cancelled (an unknown or already filled ticket is simply not among them).
    pub async fn cancel_pendings(
        &self,
        tickets: &[String],
        timeout: Duration,
    ) -> Result<Vec<String>, Error> {
        let waiter = self.state.pending().bulk_cancels.register(next_id())?;
        let payload = format!(
            "{{\"tickets\":{}}}",
            Value::from(
                tickets
                    .iter()
                    .map(|t| Value::String(t.clone()))
                    .collect::<Vec<_>>()
            )
        );
        self.outbound
            .send(encode_event("cancelPendingOrders", Some(&payload)))
            .await?;
        Ok(waiter.wait(timeout).await?)
    }

    /// The pending orders this client placed that are still waiting for their trigger.
    pub fn list_pending(&self) -> Vec<PendingOrder> {
        let Some(book) = self.state.pending_if_used() else {
            return Vec::new();
        };
        book.prune(&self.state);
        book.list()
    }

    /// Waits up to `timeout` for pending order `ticket` to open its deal, and returns the
    /// deal (then wait for its result like any deal's).
    pub async fn pending_fill(&self, ticket: &str, timeout: Duration) -> Result<Deal, Error> {
        let deals = &self.state.deals;
        let mut changes = deals.watch();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(deal) = deals.find_by_request(ticket) {
                return Ok(deal);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout {
                    waiting_for: "the pending order to open its deal",
                    after: timeout,
                });
            }
            if runtime::timeout(left, changes.changed())
                .await
                .is_ok_and(|r| r.is_err())
            {
                return Err(CoreError::ClientClosed.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_frames_follow_the_fact_sheet() {
        let at = PendingOrderRequest::new(
            "EURUSD_otc",
            Action::Put,
            Decimal::new(250, 2),
            Duration::from_secs(60),
            PendingTrigger::AtTime(Duration::from_millis(1_732_288_888_200)),
        )
        .with_min_payout(80);
        assert_eq!(
            at.frame(),
            r#"42["openPendingOrder",{"openType":0,"amount":2.5,"asset":"EURUSD_otc","openTime":1732288889,"openPrice":0.0,"timeframe":60,"minPayout":80,"command":1}]"#
        );
        let price = PendingOrderRequest::new(
            "EURUSD_otc",
            Action::Call,
            Decimal::ONE,
            Duration::from_secs(5),
            PendingTrigger::AtPrice(1.08512),
        );
        assert_eq!(
            price.frame(),
            r#"42["openPendingOrder",{"openType":1,"amount":1,"asset":"EURUSD_otc","openTime":0,"openPrice":1.08512,"timeframe":5,"minPayout":0,"command":0}]"#
        );
    }

    #[test]
    fn triggers_are_checked_against_the_server_clock() {
        let now = 1_000.0;
        assert!(
            PendingTrigger::AtTime(Duration::from_secs(1_001))
                .validate(now)
                .is_ok()
        );
        assert!(
            PendingTrigger::AtTime(Duration::from_millis(999_500))
                .validate(now)
                .is_err(),
            "rounded up to 1000, not after now"
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(PendingTrigger::AtPrice(bad).validate(now).is_err(), "{bad}");
        }
        assert!(PendingTrigger::AtPrice(1.1).validate(now).is_ok());
    }

    #[test]
    fn a_fill_seen_before_its_order_is_listed_keeps_it_off_the_list() {
        let (client, _runner) =
            core_pre::ClientBuilder::new(core_pre::memory::MemoryServer::new().connector()).build();
        let book = PendingBook::new(client.connection_watch());
        let order = |ticket: &str| PendingOrder {
            ticket: ticket.to_owned(),
            asset: "A".into(),
            action: Action::Call,
            amount: Decimal::ONE,
            expiry: Duration::from_secs(5),
            trigger: PendingTrigger::AtPrice(1.0),
            min_payout: None,
        };
        book.add(order("t1"));
        book.on_deal_opened("t1");
        assert!(book.list().is_empty());
        // With a request waiting, an unknown fill is remembered for its order.
        book.note_fill("t2", true);
        book.add(order("t2"));
        book.add(order("t3"));
        let tickets: Vec<String> = book.list().into_iter().map(|o| o.ticket).collect();
        assert_eq!(tickets, ["t3"]);
    }
}
