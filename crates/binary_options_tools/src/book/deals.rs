//! [`DealBook`]: opened and closed deals as the platform reported them, and the balance
//! reports seen since (the deals module fills it, the client and the trades module read it).

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::types::{Deal, DealId};

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
pub(crate) struct Book {
    pub(crate) opened: HashMap<DealId, Deal>,
    pub(crate) closed: HashMap<DealId, Deal>,
    pub(crate) closed_order: VecDeque<DealId>,
    /// How many full opened-deal lists arrived (to know a list is fresh).
    pub(crate) opened_lists: u64,
    /// Balance reports applied so far.
    pub(crate) balance_reports: u64,
    /// Created with the first deal (boxed: an idle client pays one pointer for it).
    pub(crate) marks: Option<Box<Marks>>,
}

#[derive(Default)]
pub(crate) struct Marks {
    /// For each known deal, `balance_reports` when it was first seen open or closed: a
    /// report numbered higher came after that event.
    pub(crate) stamps: HashMap<DealId, u64>,
    /// Deals a bot has forgotten, kept out of later lists (bounded, oldest dropped).
    pub(crate) forgotten: HashSet<DealId>,
    pub(crate) forgotten_order: VecDeque<DealId>,
}

impl Book {
    pub(crate) fn marks(&mut self) -> &mut Marks {
        self.marks.get_or_insert_with(Box::default)
    }

    pub(crate) fn is_forgotten(&self, id: &DealId) -> bool {
        self.marks
            .as_ref()
            .is_some_and(|m| m.forgotten.contains(id))
    }

    /// Stamps deal `id` with the current report count, unless it already has a stamp.
    pub(crate) fn stamp_once(&mut self, id: &DealId) {
        let now = self.balance_reports;
        self.marks().stamps.entry(id.clone()).or_insert(now);
    }

    pub(crate) fn unstamp(&mut self, id: &DealId) {
        if let Some(marks) = self.marks.as_mut() {
            marks.stamps.remove(id);
        }
    }
}

/// Opened and closed deals.
pub struct DealBook {
    pub(crate) book: Mutex<Book>,
    pub(crate) version: watch::Sender<u64>,
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
    pub(crate) fn lock(&self) -> MutexGuard<'_, Book> {
        // Each update is a handful of map operations; a poisoned lock still holds a usable
        // book.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    pub(crate) fn record_closed(book: &mut Book, deal: Deal) {
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
            let opened: HashMap<DealId, Deal> = deals
                .into_iter()
                .filter(|d| !d.is_closed() && !book.is_forgotten(&d.id))
                .map(|d| (d.id.clone(), d))
                .collect();
            book.opened = opened;
            let ids: Vec<DealId> = book.opened.keys().cloned().collect();
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
    pub(crate) fn balance_reports(&self) -> u64 {
        self.lock().balance_reports
    }

    /// Whether a balance report came after deal `id`'s last event (`None`: deal unknown).
    pub(crate) fn balance_follows(&self, id: &DealId) -> Option<bool> {
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
        S: Borrow<DealId>,
    {
        let mut book = self.lock();
        let mut forgotten = 0;
        for id in ids {
            let id = id.borrow();
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
        let ids: Vec<DealId> = book.closed_order.drain(..).collect();
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

    pub(crate) fn remember_forgotten(book: &mut Book, id: &DealId) {
        let marks = book.marks();
        if marks.forgotten.insert(id.clone()) {
            marks.forgotten_order.push_back(id.clone());
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
    pub fn closed(&self, id: &DealId) -> Option<Deal> {
        self.lock().closed.get(id).cloned()
    }

    /// An open deal.
    pub fn opened(&self, id: &DealId) -> Option<Deal> {
        self.lock().opened.get(id).cloned()
    }

    /// Every open deal.
    pub fn opened_list(&self) -> Vec<Deal> {
        let mut deals: Vec<Deal> = self.lock().opened.values().cloned().collect();
        deals.sort_by_key(|d| d.opened_at);
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
