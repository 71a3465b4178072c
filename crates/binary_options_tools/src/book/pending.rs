//! [`PendingBook`]: the pending orders this client placed, and the requests waiting for the
//! platform's replies (the trades module fills it, the pending handle adds to it).

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use core_pre::runtime::{SystemTime, UNIX_EPOCH};
use core_pre::{ConnectionWatch, PendingRequests};
use rust_decimal::Decimal;

use crate::book::deals::DealBook;
use crate::error::Error;
use crate::types::Action;

/// What makes a pending order open its deal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PendingTrigger {
    /// At this server time (`openType` 0). Sub-second parts are rounded up to the next
    /// whole second; it must be in the future. Build it from the server clock, e.g.
    /// `client.server_time().now + Duration::from_secs(30)`.
    AtTime(SystemTime),
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

/// Whole unix seconds of a time, rounded up (0 before the epoch).
pub(crate) fn whole_seconds(at: SystemTime) -> u64 {
    let at = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    at.as_secs() + u64::from(at.subsec_nanos() > 0)
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
    pub(crate) id: u64,
    pub(crate) asset: String,
    pub(crate) amount: Decimal,
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
pub(crate) type OpenReply = Result<String, String>;

/// How many requests of one kind may wait for replies at once.
pub(crate) const WAITING_LIMIT: usize = 256;
/// Tickets of fills seen before their order was listed (a race between the reply's
/// waiter and the trades module), remembered so the order is never listed.
pub(crate) const EARLY_FILLS_KEPT: usize = 64;

#[derive(Default)]
pub(crate) struct Listed {
    pub(crate) orders: Vec<PendingOrder>,
    pub(crate) early_fills: VecDeque<String>,
}

/// Pending orders placed by this client, and the requests waiting for the platform.
pub(crate) struct PendingBook {
    pub(crate) listed: Mutex<Listed>,
    pub(crate) opens: PendingRequests<PendingKey, OpenReply>,
    pub(crate) cancels: PendingRequests<String, Result<(), String>>,
    pub(crate) bulk_cancels: PendingRequests<u64, Vec<String>>,
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

    pub(crate) fn lock(&self) -> MutexGuard<'_, Listed> {
        // Each update is a push or a retain; a poisoned lock still holds a usable list.
        core_pre::runtime::lock(&self.listed)
    }

    /// The pending orders this client placed that have neither opened their deal nor
    /// been cancelled (as far as the client has heard), oldest first.
    pub(crate) fn list(&self) -> Vec<PendingOrder> {
        self.lock().orders.clone()
    }

    pub(crate) fn add(&self, order: PendingOrder) {
        let mut listed = self.lock();
        if let Some(at) = listed.early_fills.iter().position(|t| *t == order.ticket) {
            listed.early_fills.remove(at);
            return;
        }
        listed.orders.push(order);
    }

    pub(crate) fn remove(&self, tickets: &[String]) {
        self.lock().orders.retain(|o| !tickets.contains(&o.ticket));
    }

    /// A deal opened with `request_id`: if it is a pending order's ticket, the order has
    /// been filled.
    pub(crate) fn on_deal_opened(&self, request_id: &str) {
        let waiting = !self.opens.is_empty();
        self.note_fill(request_id, waiting);
    }

    pub(crate) fn note_fill(&self, request_id: &str, requests_waiting: bool) {
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
    pub(crate) fn prune(&self, deals: &DealBook) {
        self.lock()
            .orders
            .retain(|o| deals.find_by_request(&o.ticket).is_none());
    }
}
