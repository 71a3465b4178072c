//! The state every task of a simulator shares: [`Shared`], the registry of live
//! connections ([`ConnEntry`]) and the [`Control`] signal they all watch.
//!
//! The accept loop, the settlement loop, each connection and the `Simulator` hold one
//! `Arc<Shared>`. It owns the market, the trading book, the fault switches and the auth
//! policy, and knows how to frame an event (one- or two-step, as configured) and push it to
//! every connection of an account. It sits below the server and the connections, which both
//! use it and never each other through it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::{Notify, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::config::{AuthPolicy, Config, Delivery};
use crate::faults::{BalanceReport, Faults};
use crate::lock::lock;
use crate::market::Market;
use crate::prng::Sequence;
use crate::trading::{Book, CLOSED_LIST_LEN, balance_json};

/// What every connection watches: a generation bumped to drop them all, and shutdown.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Control {
    pub drop_generation: u64,
    pub shutdown: bool,
}

/// A live connection, as the rest of the simulator can reach it.
#[derive(Debug)]
pub(crate) struct ConnEntry {
    pub account: Option<(u64, bool)>,
    pub tx: mpsc::Sender<Vec<Message>>,
    pub kick: Arc<Notify>,
}

impl ConnEntry {
    /// Queues `frames` on this connection; a full queue kicks it as too slow. Returns
    /// whether the frames were queued.
    pub(crate) fn push_or_kick(&self, frames: Vec<Message>) -> bool {
        match self.tx.try_send(frames) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.kick.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// State shared by the accept loop, the connections, the settlement loop and the
/// `Simulator`.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    pub market: Market,
    pub book: Mutex<Book>,
    pub faults: Faults,
    pub auth: Mutex<AuthPolicy>,
    pub registry: Mutex<HashMap<u64, ConnEntry>>,
    pub control: watch::Sender<Control>,
    pub settle_wake: Notify,
    pub active: watch::Sender<usize>,
    pub accepted: AtomicU64,
    /// Client events received (after auth, plus `auth` itself), by name.
    pub events: Mutex<HashMap<String, u64>>,
    pub ids: Mutex<Sequence>,
    pub addr: SocketAddr,
}

impl Shared {
    /// The state of a simulator listening on `addr` with `config`.
    pub(crate) fn new(config: Config, addr: SocketAddr) -> Self {
        Shared {
            market: Market::new(
                config.seed,
                config.tick.as_millis().max(1) as u64,
                config.assets.clone(),
            ),
            book: Mutex::new(Book::new(config.seed)),
            faults: Faults::new(),
            auth: Mutex::new(config.auth.clone()),
            registry: Mutex::new(HashMap::new()),
            control: watch::Sender::new(Control::default()),
            settle_wake: Notify::new(),
            active: watch::Sender::new(0),
            accepted: AtomicU64::new(0),
            events: Mutex::new(HashMap::new()),
            ids: Mutex::new(Sequence::new(config.seed, 1)),
            addr,
            config,
        }
    }

    /// The frames of `event` carrying `payload`, one- or two-step as configured.
    pub(crate) fn event_frames(&self, event: &str, payload: &Value) -> Vec<Message> {
        let json = payload.to_string();
        match self.config.delivery_of(event) {
            Delivery::OneStep => vec![Message::text(binary_options_tools::socketio::encode_event(
                event,
                Some(&json),
            ))],
            Delivery::TwoStep => vec![
                Message::text(binary_options_tools::socketio::encode_binary_event_header(
                    event, 1,
                )),
                Message::binary(json.into_bytes()),
            ],
        }
    }

    /// Queues frames on every connection logged into (uid, demo); a connection whose queue
    /// is full is kicked as too slow.
    pub(crate) fn push_to_account(&self, uid: u64, demo: bool, frames: &[Message]) {
        for entry in lock(&self.registry).values() {
            if entry.account == Some((uid, demo)) {
                entry.push_or_kick(frames.to_vec());
            }
        }
    }

    /// The account's state pushes: balance, open deals, closed deals.
    pub(crate) fn account_state_frames(&self, uid: u64, demo: bool) -> Vec<Message> {
        let (balance, opened, closed) = {
            let book = lock(&self.book);
            let balance = book
                .existing_account(uid)
                .map(|a| if demo { a.demo_cents } else { a.real_cents })
                .unwrap_or(0);
            let opened: Vec<Value> = book
                .open_deals(uid, demo)
                .iter()
                .map(|d| d.to_json())
                .collect();
            let closed: Vec<Value> = book
                .closed_deals(uid, demo, CLOSED_LIST_LEN)
                .iter()
                .map(|d| d.to_json())
                .collect();
            (balance, opened, closed)
        };
        let mut frames =
            self.event_frames("successupdateBalance", &balance_json(uid, demo, balance));
        frames.extend(self.event_frames("updateOpenedDeals", &Value::Array(opened)));
        frames.extend(self.event_frames("updateClosedDeals", &Value::Array(closed)));
        frames
    }

    /// The frames of a deal event that changed (uid, demo)'s balance, with the account
    /// state ordered as [`BalanceReport`] says. With a delay, the state is pushed to every
    /// connection of the account later (by a short-lived timer task) and only the deal
    /// frames are returned.
    pub(crate) fn with_account_state(
        self: &Arc<Self>,
        uid: u64,
        demo: bool,
        deal: Vec<Message>,
    ) -> Vec<Message> {
        match self.faults.balance_report() {
            BalanceReport::AfterDeal => {
                let mut frames = deal;
                frames.extend(self.account_state_frames(uid, demo));
                frames
            }
            BalanceReport::BeforeDeal => {
                let mut frames = self.account_state_frames(uid, demo);
                frames.extend(deal);
                frames
            }
            BalanceReport::Delayed(delay) => {
                let shared = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let state = shared.account_state_frames(uid, demo);
                    shared.push_to_account(uid, demo, &state);
                });
                deal
            }
        }
    }

    fn set_active(&self) {
        let n = lock(&self.registry).len();
        self.active.send_replace(n);
    }

    pub(crate) fn register(&self, id: u64, entry: ConnEntry) {
        lock(&self.registry).insert(id, entry);
        self.set_active();
    }

    pub(crate) fn unregister(&self, id: u64) {
        lock(&self.registry).remove(&id);
        self.set_active();
    }

    pub(crate) fn set_account(&self, id: u64, account: Option<(u64, bool)>) {
        if let Some(entry) = lock(&self.registry).get_mut(&id) {
            entry.account = account;
        }
    }

    pub(crate) fn next_sid(&self) -> String {
        lock(&self.ids).token(20)
    }

    /// Bumps the drop generation: every connection closes without a close frame.
    pub(crate) fn drop_all(&self) {
        self.control.send_modify(|c| c.drop_generation += 1);
    }
}
