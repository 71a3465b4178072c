//! The deal book: opened and closed deals, kept from the platform's lists, the account
//! balance, and the waiting for a deal's result.
//!
//! Results are never lost across a reconnect: a deal settles on the server whether or not
//! we are connected, and the platform sends the closed-deal list again after each
//! connection, so a waiter simply keeps waiting (until its timeout) and is woken by
//! whichever list carries the result. Each deal id is recorded once, so a result is never
//! reported twice as two different outcomes.
//!
//! # Results and the balance agree
//!
//! The platform reports a settlement in two events: `successcloseOrder` (the deal), then
//! `successupdateBalance` (the new balance); an opened deal likewise comes before the
//! balance without its stake. This module handles both kinds of event, in the order they
//! arrived, and stamps every deal event with the number of balance reports seen so far. A
//! result (or an opened order) is handed out only once a balance report *later* than the
//! deal's event has been applied, so that right after [`DealsHandle::result`] returns,
//! the client's balance includes the settlement (and right after an order returns, the
//! stake is deducted).
//!
//! That wait is short and bounded: if no balance report follows within
//! [`BALANCE_FOLLOW_WAIT`] (a platform that sends the balance *before* the deal, or none),
//! the client asks for it (`getBalance`, whose reply reflects everything the platform did
//! before) and waits up to [`BALANCE_REQUEST_WAIT`]. If even that fails (the connection
//! is down), the result is returned anyway, with [`DealResult::balance`] `None`.

use std::sync::Arc;
use std::time::Duration;

use core_pre::rule::Rule;
use core_pre::runtime::{self, WaitError};
use core_pre::{BoxError, Module, ModuleContext, Outbound};
use rust_decimal::Decimal;
use serde_json::Value;

pub use crate::book::deals::DealBook;
use crate::book::deals::{BALANCE_FOLLOW_WAIT, BALANCE_REQUEST_WAIT};
use crate::error::Error;
use crate::events::{event_rule, parse_payload};
use crate::modules::account::parse_balance;
use crate::socketio::encode_event;
use crate::state::PocketOptionState;
use crate::types::{Deal, DealId, DealResult, unix_secs};

/// The deals of a deal event (`successopenOrder` aside): a bare array of Deals, or an
/// object carrying them under `deals` (`successcloseOrder`).
///
/// Only each deal's own fields are read. `successcloseOrder`'s top-level `profit` is the
/// gross return of the closed deals (stake + winnings), not a result, so it is ignored
/// whatever it holds; `openMs`/`closeMs` are ignored too (the platform sends milliseconds
/// within the second, which no result depends on). A deal that does not parse is skipped
/// with a warning, so one odd entry never hides the others' results.
fn deals_in(text: &str) -> Result<Vec<Deal>, String> {
    let items = match parse_payload::<Value>(text)? {
        Value::Array(items) => items,
        Value::Object(mut fields) => match fields.remove("deals") {
            Some(Value::Array(items)) => items,
            _ => return Err("the object carries no `deals` array".to_owned()),
        },
        other => return Err(format!("expected deals, found {other}")),
    };
    let mut deals = Vec::with_capacity(items.len());
    for item in items {
        match serde_json::from_value::<Deal>(item) {
            Ok(deal) => deals.push(deal),
            Err(e) => tracing::warn!(error = %e, "skipping a deal that does not parse"),
        }
    }
    Ok(deals)
}

/// Keeps the deal book from the platform's events.
pub(crate) struct DealsModule {
    ctx: ModuleContext<PocketOptionState>,
}

/// Reads the deal book and waits for results.
#[derive(Clone)]
pub struct DealsHandle {
    state: Arc<PocketOptionState>,
    outbound: Outbound,
}

impl DealsHandle {
    /// Waits up to `timeout` for deal `id` to close, and returns its result, once the
    /// balance after it is known (see the module docs: at most [`BALANCE_FOLLOW_WAIT`] +
    /// [`BALANCE_REQUEST_WAIT`] more; [`DealResult::balance`] is `None` if it never came).
    pub async fn result(&self, id: &DealId, timeout: Duration) -> Result<DealResult, Error> {
        let book = &self.state.deals;
        let mut changes = book.watch();
        // The book is re-read at each of its changes (its lock is never held while the
        // version watch is bumped, so reading it here cannot deadlock).
        let mut closed = None;
        let waited = runtime::wait_for(&mut changes, timeout, |_| {
            closed = book.closed(id);
            closed.is_some()
        })
        .await;
        match (closed, waited) {
            (Some(deal), _) => {
                let mut result = DealResult::from_closed(deal);
                result.balance = self.balance_after(id).await;
                Ok(result)
            }
            // A closed watch means the client shut down.
            (None, Err(WaitError::Closed)) => Err(core_pre::CoreError::ClientClosed.into()),
            (None, _) => Err(Error::Timeout {
                waiting_for: "the deal's result",
                after: timeout,
            }),
        }
    }

    /// The balance once the platform has reported it after deal `id`'s last event (its
    /// opening, or its close once closed); `None` if no report came within the bounds of
    /// the module docs.
    pub async fn balance_after(&self, id: &DealId) -> Option<Decimal> {
        let book = &self.state.deals;
        let mut changes = book.watch();
        // The deal event may still be on its way to this module (the trades module
        // answers an order in its own task): wait for it and for the report after it.
        let followed = runtime::wait_for(&mut changes, BALANCE_FOLLOW_WAIT, |_| {
            book.balance_follows(id) == Some(true)
        })
        .await;
        match followed {
            Ok(_) => return *self.state.balance.borrow(),
            // A closed watch means the client shut down.
            Err(WaitError::Closed) => return None,
            Err(WaitError::Elapsed) => {}
        }
        // No report followed: ask. The reply reflects every deal event the platform sent
        // before it, so any report after this point will do.
        let asked_at = book.balance_reports();
        if let Err(e) = self.outbound.send(encode_event("getBalance", None)).await {
            tracing::warn!(error = %e, "could not ask for the balance after a deal");
            return None;
        }
        let reported = runtime::wait_for(&mut changes, BALANCE_REQUEST_WAIT, |_| {
            book.balance_reports() > asked_at
        })
        .await;
        match reported {
            Ok(_) => *self.state.balance.borrow(),
            Err(WaitError::Closed) => None,
            Err(WaitError::Elapsed) => {
                tracing::warn!(
                    deal = id.as_str(),
                    "the platform did not report the balance after a deal; the balance may not include it yet"
                );
                None
            }
        }
    }

    /// The deal book.
    pub fn book(&self) -> &DealBook {
        &self.state.deals
    }
}

impl Module<PocketOptionState> for DealsModule {
    type Handle = DealsHandle;
    const NAME: &'static str = "deals";

    fn new(ctx: ModuleContext<PocketOptionState>) -> (Self, DealsHandle) {
        let handle = DealsHandle {
            state: ctx.state.clone(),
            outbound: ctx.outbound.clone(),
        };
        (DealsModule { ctx }, handle)
    }

    fn rule(_state: &Arc<PocketOptionState>) -> Box<dyn Rule> {
        event_rule(&[
            "successupdateBalance",
            "updateBalance",
            "successopenOrder",
            "updateOpenedDeals",
            "updateClosedDeals",
            "successcloseOrder",
        ])
    }

    async fn run(&mut self) -> Result<(), BoxError> {
        while let Some(msg) = self.ctx.inbox.recv().await {
            let Some(text) = msg.as_text() else { continue };
            let book = &self.ctx.state.deals;
            let result = match crate::event_name(text) {
                Some("successupdateBalance" | "updateBalance") => {
                    parse_balance(text).map(|amount| {
                        // The value first, then the count: a waiter that sees the count
                        // reads this balance or a newer one.
                        self.ctx.state.balance.send_replace(Some(amount));
                        book.on_balance();
                    })
                }
                Some("successopenOrder") => parse_payload::<Deal>(text).map(|d| {
                    self.ctx.state.clock.observe(unix_secs(d.opened_at));
                    book.on_opened(d)
                }),
                Some("updateOpenedDeals") => deals_in(text).map(|d| book.replace_opened(d)),
                Some("updateClosedDeals") | Some("successcloseOrder") => {
                    deals_in(text).map(|d| book.on_closed(d))
                }
                _ => Ok(()),
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "ignoring a malformed deal event");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde_json::json;

    use super::*;
    use crate::types::Outcome;

    /// A closed deal as the platform sends it (fact sheet §6: `openMs` within the second,
    /// `closeMs` 0, `copyTicket`, `isCopySignal`, `amountUSD`), with `profit` its own net
    /// result; `openMs` replaced by `open_ms` (or removed when `None`).
    fn closed_deal(id: &str, amount: f64, profit: f64, open_ms: Option<Value>) -> Value {
        let mut deal = json!({
            "id": id, "openTime": "2025-03-21 19:03:25", "closeTime": "2025-03-21 19:04:25",
            "openTimestamp": 1742583805, "closeTimestamp": 1742583865, "refundTime": null,
            "refundTimestamp": null, "uid": 12345678, "requestId": "7e1d3b2a-5c4f-4e6d-8a9b-0c1d2e3f4a5b",
            "amount": amount, "profit": profit, "percentProfit": 92, "percentLoss": 100,
            "openPrice": 1.08234, "closePrice": 1.08251, "command": 0, "asset": "EURUSD_otc",
            "isDemo": 1, "copyTicket": "", "closeMs": 0, "optionType": 100,
            "isRollover": false, "isCopySignal": false, "isAI": false, "currency": "USD",
            "amountUSD": amount,
        });
        if let Some(ms) = open_ms {
            deal["openMs"] = ms;
        }
        deal
    }

    fn frame(event: &str, payload: &Value) -> String {
        format!(r#"42["{event}",{payload}]"#)
    }

    fn results(text: &str) -> Vec<(String, Outcome, Decimal)> {
        deals_in(text)
            .unwrap()
            .into_iter()
            .map(|d| {
                let r = DealResult::from_closed(d);
                (r.deal.id.to_string(), r.outcome, r.profit)
            })
            .collect()
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn the_real_close_order_is_read_from_each_deals_own_profit() {
        // The captured frame: top-level 1.92 (gross return) for one won deal of 1 at 0.92.
        let won = closed_deal("d-win", 1.0, 0.92, Some(json!(370)));
        let text = frame(
            "successcloseOrder",
            &json!({"profit": 1.92, "deals": [won]}),
        );
        assert_eq!(
            results(&text),
            [("d-win".to_owned(), Outcome::Win, dec("0.92"))]
        );

        // A draw returns the stake (top level 1) and a loss returns nothing (top level 0):
        // a client reading the top level would call the draw a win and the loss a draw.
        let draw = closed_deal("d-draw", 1.0, 0.0, Some(json!(5)));
        let text = frame("successcloseOrder", &json!({"profit": 1, "deals": [draw]}));
        assert_eq!(
            results(&text),
            [("d-draw".to_owned(), Outcome::Draw, Decimal::ZERO)]
        );
        let lost = closed_deal("d-loss", 1.0, -1.0, Some(json!(999)));
        let text = frame("successcloseOrder", &json!({"profit": 0, "deals": [lost]}));
        assert_eq!(
            results(&text),
            [("d-loss".to_owned(), Outcome::Loss, dec("-1"))]
        );
    }

    #[test]
    fn no_value_of_open_ms_changes_a_deal_or_its_result() {
        for open_ms in [
            Some(json!(370)),
            Some(json!(1_795_869_531_899_i64)), // epoch milliseconds
            Some(json!(-1)),
            Some(json!(4_294_967_296_u64)),
            Some(json!(1e300)),
            Some(json!(3.5)),
            Some(json!("370")),
            Some(json!(null)),
            Some(json!({"ms": 370})),
            None,
        ] {
            let deal = closed_deal("d1", 2.5, 2.3, open_ms.clone());
            let list = frame("updateClosedDeals", &json!([deal.clone()]));
            assert_eq!(
                results(&list),
                [("d1".to_owned(), Outcome::Win, dec("2.3"))],
                "openMs {open_ms:?}"
            );
            // The opened deal of `successopenOrder` (read by the trades module) too.
            let opened: Deal = parse_payload(&frame("successopenOrder", &deal))
                .unwrap_or_else(|e| panic!("openMs {open_ms:?}: {e}"));
            assert_eq!((opened.id.as_str(), opened.amount), ("d1", dec("2.5")));
        }
    }

    #[test]
    fn the_top_level_profit_is_never_read_whatever_it_holds() {
        let deal = closed_deal("d1", 10.0, -10.0, Some(json!(0)));
        let expected = [("d1".to_owned(), Outcome::Loss, dec("-10"))];
        for top in [
            json!({"deals": [deal]}),
            json!({"profit": null, "deals": [deal]}),
            json!({"profit": "lots", "deals": [deal]}),
            json!({"profit": {"gross": 0}, "deals": [deal]}),
            json!({"profit": 1e308, "deals": [deal]}),
            json!({"profit": -10, "deals": [deal]}),
            json!([deal]), // the bare-array form
        ] {
            assert_eq!(
                results(&frame("successcloseOrder", &top)),
                expected,
                "{top}"
            );
        }
    }

    #[test]
    fn one_unreadable_deal_does_not_hide_the_others() {
        let good = closed_deal("good", 1.0, 0.92, Some(json!(1)));
        let no_id = json!({"amount": 1, "profit": 0.92});
        let mut bad_amount = closed_deal("bad", 1.0, 0.0, None);
        bad_amount["amount"] = json!("one dollar");
        let text = frame(
            "successcloseOrder",
            &json!({"profit": 1.92, "deals": [no_id, good, 42, bad_amount]}),
        );
        assert_eq!(
            results(&text),
            [("good".to_owned(), Outcome::Win, dec("0.92"))]
        );
    }

    #[test]
    fn payloads_that_hold_no_deals_are_errors() {
        for payload in [
            json!(42),
            json!("deals"),
            json!({"profit": 1.92}),
            json!({"deals": {"id": "d1"}}),
        ] {
            assert!(
                deals_in(&frame("successcloseOrder", &payload)).is_err(),
                "{payload}"
            );
        }
        assert!(deals_in(r#"42["successcloseOrder"]"#).is_err());
        assert_eq!(
            deals_in(&frame("updateOpenedDeals", &json!([]))).unwrap(),
            []
        );
    }

    #[test]
    fn the_book_records_results_from_the_real_frames() {
        let book = DealBook::default();
        let mut open = closed_deal("d1", 1.0, 0.92, Some(json!(370)));
        open["closePrice"] = json!(0);
        book.replace_opened(deals_in(&frame("updateOpenedDeals", &json!([open]))).unwrap());
        assert!(book.opened(&DealId::from("d1")).is_some());
        let won = closed_deal("d1", 1.0, 0.92, Some(json!(370)));
        let text = frame(
            "successcloseOrder",
            &json!({"profit": 1.92, "deals": [won]}),
        );
        book.on_closed(deals_in(&text).unwrap());
        assert!(book.opened(&DealId::from("d1")).is_none());
        let result = DealResult::from_closed(book.closed(&DealId::from("d1")).unwrap());
        assert_eq!((result.outcome, result.profit), (Outcome::Win, dec("0.92")));
    }
}
