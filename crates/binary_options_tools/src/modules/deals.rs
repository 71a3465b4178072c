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

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use core_pre::rule::Rule;
use core_pre::runtime::{self, Instant};
use core_pre::{BoxError, Module, ModuleContext, Outbound};
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::sync::watch;

use crate::error::Error;
use crate::events::{event_rule, parse_payload};
use crate::modules::account::parse_balance;
use crate::socketio::encode_event;
use crate::state::PocketOptionState;
use crate::types::{Deal, DealResult};

/// Closed deals kept in memory (the oldest are forgotten first).
pub const CLOSED_DEALS_KEPT: usize = 1000;
/// Ids of deals forgotten with [`DealBook::forget_closed`] that are remembered, so that
/// the platform's later deal lists (which repeat recent deals) do not bring them back.
pub const FORGOTTEN_DEALS_KEPT: usize = 1000;
/// How long a result or an opened order waits for the balance report that follows its
/// deal event before the client asks for the balance (see the module docs).
pub const BALANCE_FOLLOW_WAIT: Duration = Duration::from_secs(1);
/// How long the client then waits for the reply to its `getBalance`.
pub const BALANCE_REQUEST_WAIT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Book {
    opened: HashMap<String, Deal>,
    closed: HashMap<String, Deal>,
    closed_order: VecDeque<String>,
    /// How many full opened-deal lists arrived (to know a list is fresh).
    opened_lists: u64,
    /// Balance reports applied so far.
    balance_reports: u64,
    /// Created with the first deal (boxed: an idle client pays one pointer for it).
    marks: Option<Box<Marks>>,
}

#[derive(Default)]
struct Marks {
    /// For each known deal, `balance_reports` when it was first seen open or closed: a
    /// report numbered higher came after that event.
    stamps: HashMap<String, u64>,
    /// Deals a bot has forgotten, kept out of later lists (bounded, oldest dropped).
    forgotten: HashSet<String>,
    forgotten_order: VecDeque<String>,
}

impl Book {
    fn marks(&mut self) -> &mut Marks {
        self.marks.get_or_insert_with(Box::default)
    }

    fn is_forgotten(&self, id: &str) -> bool {
        self.marks
            .as_ref()
            .is_some_and(|m| m.forgotten.contains(id))
    }

    /// Stamps deal `id` with the current report count, unless it already has a stamp.
    fn stamp_once(&mut self, id: &str) {
        let now = self.balance_reports;
        self.marks().stamps.entry(id.to_owned()).or_insert(now);
    }

    fn unstamp(&mut self, id: &str) {
        if let Some(marks) = self.marks.as_mut() {
            marks.stamps.remove(id);
        }
    }
}

/// Opened and closed deals.
pub struct DealBook {
    book: Mutex<Book>,
    version: watch::Sender<u64>,
}

impl Default for DealBook {
    fn default() -> Self {
        DealBook {
            book: Mutex::default(),
            version: watch::channel(0).0,
        }
    }
}

impl DealBook {
    fn lock(&self) -> MutexGuard<'_, Book> {
        // Each update is a handful of map operations; a poisoned lock still holds a usable
        // book.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    fn record_closed(book: &mut Book, deal: Deal) {
        if book.is_forgotten(&deal.id) {
            return;
        }
        book.opened.remove(&deal.id);
        if !book.closed.contains_key(&deal.id) {
            // A close seen for the first time: the balance after it is a later report.
            let now = book.balance_reports;
            book.marks().stamps.insert(deal.id.clone(), now);
            book.closed_order.push_back(deal.id.clone());
            while book.closed_order.len() > CLOSED_DEALS_KEPT {
                if let Some(old) = book.closed_order.pop_front() {
                    book.closed.remove(&old);
                    book.unstamp(&old);
                }
            }
        }
        book.closed.insert(deal.id.clone(), deal);
    }

    pub(crate) fn on_opened(&self, deal: Deal) {
        {
            let mut book = self.lock();
            if !book.closed.contains_key(&deal.id) && !book.is_forgotten(&deal.id) {
                book.stamp_once(&deal.id);
                book.opened.insert(deal.id.clone(), deal);
            }
        }
        self.changed();
    }

    pub(crate) fn replace_opened(&self, deals: Vec<Deal>) {
        {
            let mut book = self.lock();
            let opened: HashMap<String, Deal> = deals
                .into_iter()
                .filter(|d| !d.is_closed() && !book.is_forgotten(&d.id))
                .map(|d| (d.id.clone(), d))
                .collect();
            book.opened = opened;
            let ids: Vec<String> = book.opened.keys().cloned().collect();
            for id in &ids {
                book.stamp_once(id);
            }
            // Deals neither open nor closed any more are not waited for.
            let book = &mut *book;
            if let Some(marks) = book.marks.as_mut() {
                let (opened, closed) = (&book.opened, &book.closed);
                marks
                    .stamps
                    .retain(|id, _| opened.contains_key(id) || closed.contains_key(id));
            }
            book.opened_lists += 1;
        }
        self.changed();
    }

    /// Records that a balance report was applied (after `state.balance` was updated).
    pub(crate) fn on_balance(&self) {
        self.lock().balance_reports += 1;
        self.changed();
    }

    /// Balance reports applied so far.
    fn balance_reports(&self) -> u64 {
        self.lock().balance_reports
    }

    /// Whether a balance report came after deal `id`'s last event (`None`: deal unknown).
    fn balance_follows(&self, id: &str) -> Option<bool> {
        let book = self.lock();
        let stamp = book.marks.as_ref()?.stamps.get(id)?;
        Some(book.balance_reports > *stamp)
    }

    /// Forgets closed deals a bot has processed, so the book keeps only what is still
    /// of interest. Returns how many were forgotten (ids that are not closed deals are
    /// ignored: an open deal cannot be forgotten).
    ///
    /// A forgotten deal is not brought back by the platform's later deal lists (the last
    /// [`FORGOTTEN_DEALS_KEPT`] forgotten ids are remembered), and waiting for its result
    /// afterwards times out.
    pub fn forget_closed<I, S>(&self, ids: I) -> usize
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut book = self.lock();
        let mut forgotten = 0;
        for id in ids {
            let id = id.as_ref();
            if book.closed.remove(id).is_some() {
                book.unstamp(id);
                Self::remember_forgotten(&mut book, id);
                forgotten += 1;
            }
        }
        if forgotten > 0 {
            let Book {
                closed,
                closed_order,
                ..
            } = &mut *book;
            closed_order.retain(|id| closed.contains_key(id));
        }
        forgotten
    }

    /// Takes every closed deal out of the book, oldest first (see
    /// [`forget_closed`](Self::forget_closed): they will not come back).
    pub fn take_closed(&self) -> Vec<Deal> {
        let mut book = self.lock();
        let ids: Vec<String> = book.closed_order.drain(..).collect();
        let mut deals = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(deal) = book.closed.remove(&id) {
                deals.push(deal);
            }
            book.unstamp(&id);
            Self::remember_forgotten(&mut book, &id);
        }
        deals
    }

    fn remember_forgotten(book: &mut Book, id: &str) {
        let marks = book.marks();
        if marks.forgotten.insert(id.to_owned()) {
            marks.forgotten_order.push_back(id.to_owned());
            while marks.forgotten_order.len() > FORGOTTEN_DEALS_KEPT {
                if let Some(old) = marks.forgotten_order.pop_front() {
                    marks.forgotten.remove(&old);
                }
            }
        }
    }

    pub(crate) fn on_closed(&self, deals: Vec<Deal>) {
        {
            let mut book = self.lock();
            for deal in deals {
                Self::record_closed(&mut book, deal);
            }
        }
        self.changed();
    }

    /// The deal opened by order `request_id`, opened or closed, if the platform listed it.
    pub fn find_by_request(&self, request_id: &str) -> Option<Deal> {
        let book = self.lock();
        book.opened
            .values()
            .chain(book.closed.values())
            .find(|d| d.request_id.as_deref() == Some(request_id))
            .cloned()
    }

    /// A closed deal.
    pub fn closed(&self, id: &str) -> Option<Deal> {
        self.lock().closed.get(id).cloned()
    }

    /// An open deal.
    pub fn opened(&self, id: &str) -> Option<Deal> {
        self.lock().opened.get(id).cloned()
    }

    /// Every open deal.
    pub fn opened_list(&self) -> Vec<Deal> {
        let mut deals: Vec<Deal> = self.lock().opened.values().cloned().collect();
        deals.sort_by_key(|d| d.open_timestamp);
        deals
    }

    /// Closed deals, oldest first (at most [`CLOSED_DEALS_KEPT`]).
    pub fn closed_list(&self) -> Vec<Deal> {
        let book = self.lock();
        book.closed_order
            .iter()
            .filter_map(|id| book.closed.get(id).cloned())
            .collect()
    }

    pub(crate) fn opened_lists_seen(&self) -> u64 {
        self.lock().opened_lists
    }

    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}

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
pub struct DealsModule {
    ctx: ModuleContext<PocketOptionState>,
}

/// Reads the deal book and waits for results.
#[derive(Clone)]
pub struct DealsHandle {
    state: Arc<PocketOptionState>,
    outbound: Outbound,
}

/// How a wait on the book's changes ended.
enum Woken {
    Changed,
    TimedOut,
    Closed,
}

async fn wait_change(changes: &mut watch::Receiver<u64>, deadline: Instant) -> Woken {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Woken::TimedOut;
    }
    match runtime::timeout(left, changes.changed()).await {
        Ok(Ok(())) => Woken::Changed,
        // A closed watch means the client shut down.
        Ok(Err(_)) => Woken::Closed,
        Err(_) => Woken::TimedOut,
    }
}

impl DealsHandle {
    /// Waits up to `timeout` for deal `id` to close, and returns its result, once the
    /// balance after it is known (see the module docs: at most [`BALANCE_FOLLOW_WAIT`] +
    /// [`BALANCE_REQUEST_WAIT`] more; [`DealResult::balance`] is `None` if it never came).
    pub async fn result(&self, id: &str, timeout: Duration) -> Result<DealResult, Error> {
        let book = &self.state.deals;
        let mut changes = book.watch();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(deal) = book.closed(id) {
                let mut result = DealResult::from_closed(deal);
                result.balance = self.balance_after(id).await;
                return Ok(result);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout {
                    waiting_for: "the deal's result",
                    after: timeout,
                });
            }
            // A closed watch means the client shut down.
            if runtime::timeout(left, changes.changed())
                .await
                .is_ok_and(|r| r.is_err())
            {
                return Err(core_pre::CoreError::ClientClosed.into());
            }
        }
    }

    /// The balance once the platform has reported it after deal `id`'s last event (its
    /// opening, or its close once closed); `None` if no report came within the bounds of
    /// the module docs.
    pub async fn balance_after(&self, id: &str) -> Option<Decimal> {
        let book = &self.state.deals;
        let mut changes = book.watch();
        // The deal event may still be on its way to this module (the trades module
        // answers an order in its own task): wait for it and for the report after it.
        let deadline = Instant::now() + BALANCE_FOLLOW_WAIT;
        loop {
            if book.balance_follows(id) == Some(true) {
                return *self.state.balance.borrow();
            }
            match wait_change(&mut changes, deadline).await {
                Woken::Changed => {}
                Woken::TimedOut => break,
                Woken::Closed => return None,
            }
        }
        // No report followed: ask. The reply reflects every deal event the platform sent
        // before it, so any report after this point will do.
        let asked_at = book.balance_reports();
        if let Err(e) = self.outbound.send(encode_event("getBalance", None)).await {
            tracing::warn!(error = %e, "could not ask for the balance after a deal");
            return None;
        }
        let deadline = Instant::now() + BALANCE_REQUEST_WAIT;
        loop {
            if book.balance_reports() > asked_at {
                return *self.state.balance.borrow();
            }
            match wait_change(&mut changes, deadline).await {
                Woken::Changed => {}
                Woken::TimedOut => {
                    tracing::warn!(
                        deal = id,
                        "the platform did not report the balance after a deal; the balance may not include it yet"
                    );
                    return None;
                }
                Woken::Closed => return None,
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
                    if d.open_timestamp > 0 {
                        self.ctx.state.clock.observe(d.open_timestamp as f64);
                    }
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
                (r.deal.id.clone(), r.outcome, r.profit)
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
        assert!(book.opened("d1").is_some());
        let won = closed_deal("d1", 1.0, 0.92, Some(json!(370)));
        let text = frame(
            "successcloseOrder",
            &json!({"profit": 1.92, "deals": [won]}),
        );
        book.on_closed(deals_in(&text).unwrap());
        assert!(book.opened("d1").is_none());
        let result = DealResult::from_closed(book.closed("d1").unwrap());
        assert_eq!((result.outcome, result.profit), (Outcome::Win, dec("0.92")));
    }
}
