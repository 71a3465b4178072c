//! The deal book: opened and closed deals, kept from the platform's lists, and the waiting
//! for a deal's result.
//!
//! Results are never lost across a reconnect: a deal settles on the server whether or not
//! we are connected, and the platform sends the closed-deal list again after each
//! connection, so a waiter simply keeps waiting (until its timeout) and is woken by
//! whichever list carries the result. Each deal id is recorded once, so a result is never
//! reported twice as two different outcomes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use core_pre::rule::Rule;
use core_pre::runtime::{self, Instant};
use core_pre::{ApiModule, BoxError, HandleContext, ModuleContext};
use serde::Deserialize;
use tokio::sync::watch;

use crate::error::Error;
use crate::events::{event_rule, parse_payload};
use crate::state::PocketOptionState;
use crate::types::{Deal, DealResult};

/// Closed deals kept in memory (the oldest are forgotten first).
pub const CLOSED_DEALS_KEPT: usize = 1000;

#[derive(Default)]
struct Book {
    opened: HashMap<String, Deal>,
    closed: HashMap<String, Deal>,
    closed_order: VecDeque<String>,
    /// How many full opened-deal lists arrived (to know a list is fresh).
    opened_lists: u64,
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
        book.opened.remove(&deal.id);
        if !book.closed.contains_key(&deal.id) {
            book.closed_order.push_back(deal.id.clone());
            while book.closed_order.len() > CLOSED_DEALS_KEPT {
                if let Some(old) = book.closed_order.pop_front() {
                    book.closed.remove(&old);
                }
            }
        }
        book.closed.insert(deal.id.clone(), deal);
    }

    pub(crate) fn on_opened(&self, deal: Deal) {
        {
            let mut book = self.lock();
            if !book.closed.contains_key(&deal.id) {
                book.opened.insert(deal.id.clone(), deal);
            }
        }
        self.changed();
    }

    pub(crate) fn replace_opened(&self, deals: Vec<Deal>) {
        {
            let mut book = self.lock();
            book.opened = deals
                .into_iter()
                .filter(|d| !d.is_closed())
                .map(|d| (d.id.clone(), d))
                .collect();
            book.opened_lists += 1;
        }
        self.changed();
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

#[derive(Deserialize)]
#[serde(untagged)]
enum CloseOrder {
    Wrapped { deals: Vec<Deal> },
    Bare(Vec<Deal>),
}

/// Keeps the deal book from the platform's events.
pub struct DealsModule {
    ctx: ModuleContext<PocketOptionState>,
}

/// Reads the deal book and waits for results.
#[derive(Clone)]
pub struct DealsHandle {
    state: Arc<PocketOptionState>,
}

impl DealsHandle {
    /// Waits up to `timeout` for deal `id` to close, and returns its result.
    pub async fn result(&self, id: &str, timeout: Duration) -> Result<DealResult, Error> {
        let book = &self.state.deals;
        let mut changes = book.watch();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(deal) = book.closed(id) {
                return Ok(DealResult::from_closed(deal));
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

    /// The deal book.
    pub fn book(&self) -> &DealBook {
        &self.state.deals
    }
}

impl ApiModule<PocketOptionState> for DealsModule {
    type Command = ();
    type CommandResponse = ();
    type Handle = DealsHandle;
    const NAME: &'static str = "deals";

    fn new(ctx: ModuleContext<PocketOptionState>) -> Self {
        DealsModule { ctx }
    }

    fn create_handle(ctx: HandleContext<PocketOptionState, (), ()>) -> DealsHandle {
        DealsHandle { state: ctx.state }
    }

    fn rule(_state: &Arc<PocketOptionState>) -> Box<dyn Rule> {
        event_rule(&[
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
                Some("successopenOrder") => parse_payload::<Deal>(text).map(|d| {
                    if d.open_timestamp > 0 {
                        self.ctx.state.clock.observe(d.open_timestamp as f64);
                    }
                    book.on_opened(d)
                }),
                Some("updateOpenedDeals") => {
                    parse_payload::<Vec<Deal>>(text).map(|d| book.replace_opened(d))
                }
                Some("updateClosedDeals") => {
                    parse_payload::<Vec<Deal>>(text).map(|d| book.on_closed(d))
                }
                Some("successcloseOrder") => parse_payload::<CloseOrder>(text).map(|c| {
                    book.on_closed(match c {
                        CloseOrder::Wrapped { deals } | CloseOrder::Bare(deals) => deals,
                    })
                }),
                _ => Ok(()),
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "ignoring a malformed deal event");
            }
        }
        Ok(())
    }
}
