//! [`PocketOptionState`]: what the PocketOption modules share.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};

use core_pre::{AppState, ConnectionWatch, PendingRequests};
use rust_decimal::Decimal;
use tokio::sync::watch;

use crate::book::deals::DealBook;
use crate::book::history::HistoryPage;
use crate::book::orders::{OrderKey, OrderReply};
use crate::book::pending::PendingBook;
use crate::book::raw::RawRegistry;
use crate::book::subscriptions::SubscriptionRegistry;
use crate::server_time::ServerClock;
use crate::ssid::Ssid;
use crate::types::{Asset, Candle};

/// The loaded asset list, by symbol.
pub(crate) type AssetMap = HashMap<String, Asset>;

/// State shared by every module of one PocketOption client.
pub(crate) struct PocketOptionState {
    pub(crate) ssid: Ssid,
    pub(crate) balance: watch::Sender<Option<Decimal>>,
    pub(crate) assets: watch::Sender<Option<Arc<AssetMap>>>,
    pub(crate) clock: ServerClock,
    pub(crate) subscriptions: SubscriptionRegistry,
    pub(crate) deals: DealBook,
    pub(crate) raw: RawRegistry,
    /// Orders waiting for the platform's answer.
    pub(crate) orders: PendingRequests<OrderKey, OrderReply>,
    /// History requests waiting for their page, by index.
    pub(crate) history: PendingRequests<u64, HistoryPage>,
    /// The client's connection (for what is created on first use).
    connection: ConnectionWatch,
    /// Pending orders placed by this client, and the requests waiting for their replies
    /// (created on first use: most clients never place one).
    pending: OnceLock<Box<PendingBook>>,
    /// Candles the platform pushed after `changeSymbol`, by asset.
    pub(crate) pushed_history: Mutex<HashMap<String, Vec<Candle>>>,
    /// Frames dropped by the event layer because they were malformed.
    pub(crate) malformed: Arc<AtomicU64>,
}

/// How many requests of one kind may wait for replies at once.
const PENDING_LIMIT: usize = 1024;

impl PocketOptionState {
    pub(crate) fn new(ssid: Ssid, connection: ConnectionWatch) -> Self {
        PocketOptionState {
            ssid,
            balance: watch::channel(None).0,
            assets: watch::channel(None).0,
            clock: ServerClock::default(),
            subscriptions: SubscriptionRegistry::default(),
            deals: DealBook::default(),
            raw: RawRegistry::default(),
            orders: PendingRequests::new(connection.clone(), PENDING_LIMIT),
            history: PendingRequests::new(connection.clone(), PENDING_LIMIT),
            connection,
            pending: OnceLock::new(),
            pushed_history: Mutex::new(HashMap::new()),
            malformed: Arc::default(),
        }
    }

    /// The pending-order book.
    pub(crate) fn pending(&self) -> &PendingBook {
        self.pending
            .get_or_init(|| Box::new(PendingBook::new(self.connection.clone())))
    }

    /// The pending-order book if anything created it.
    pub(crate) fn pending_if_used(&self) -> Option<&PendingBook> {
        self.pending.get().map(|b| &**b)
    }
}

impl AppState for PocketOptionState {}

impl std::fmt::Debug for PocketOptionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PocketOptionState")
            .field("ssid", &self.ssid)
            .finish_non_exhaustive()
    }
}
