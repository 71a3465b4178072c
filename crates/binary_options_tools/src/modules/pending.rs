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

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use core_pre::runtime::{self, Instant};
use core_pre::{CoreError, Outbound};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::book::pending::{PendingKey, whole_seconds};
pub use crate::book::pending::{PendingOrder, PendingTrigger};
use crate::error::Error;
use crate::events::parse_payload;
use crate::socketio::encode_event;
use crate::state::PocketOptionState;
use crate::types::{Action, Deal};

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
pub(crate) struct PendingHandle {
    pub(crate) state: Arc<PocketOptionState>,
    pub(crate) outbound: Outbound,
}

impl PendingHandle {
    /// Sends a validated pending order and waits up to `timeout` for the platform's
    /// ticket. A lost reply is reported as it is (the order is never re-sent: check
    /// [`list_pending`](Self::list_pending) or the platform before placing it again).
    pub(crate) async fn open_pending(
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
    pub(crate) async fn cancel_pending(
        &self,
        ticket: &str,
        timeout: Duration,
    ) -> Result<(), Error> {
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
    pub(crate) async fn cancel_pendings(
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
    pub(crate) fn list_pending(&self) -> Vec<PendingOrder> {
        let Some(book) = self.state.pending_if_used() else {
            return Vec::new();
        };
        book.prune(&self.state.deals);
        book.list()
    }

    /// Waits up to `timeout` for pending order `ticket` to open its deal, and returns the
    /// deal (then wait for its result like any deal's).
    pub(crate) async fn pending_fill(
        &self,
        ticket: &str,
        timeout: Duration,
    ) -> Result<Deal, Error> {
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
    use crate::book::pending::PendingBook;
    use core_pre::runtime::UNIX_EPOCH;

    #[test]
    fn pending_frames_follow_the_fact_sheet() {
        let at = PendingOrderRequest::new(
            "EURUSD_otc",
            Action::Put,
            Decimal::new(250, 2),
            Duration::from_secs(60),
            PendingTrigger::AtTime(UNIX_EPOCH + Duration::from_millis(1_732_288_888_200)),
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
            PendingTrigger::AtTime(UNIX_EPOCH + Duration::from_secs(1_001))
                .validate(now)
                .is_ok()
        );
        assert!(
            PendingTrigger::AtTime(UNIX_EPOCH + Duration::from_millis(999_500))
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
