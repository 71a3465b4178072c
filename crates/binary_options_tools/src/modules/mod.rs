//! The client's modules, each a core-pre module with a rule selecting its events.
//!
//! | module | kind | events | job |
//! |---|---|---|---|
//! | [`account::AccountModule`] | lightweight | `updateAssets` | asset list into the shared state |
//! | [`subscriptions::SubscriptionsModule`] | api | `updateStream` | fan ticks out to subscription streams; feed the server clock |
//! | [`trades::TradesModule`] | api | `successopenOrder`, `failopenOrder`, the [`pending`] events (`successopenPendingOrder`, `failopenPendingOrder`, `success`/`failcancelPendingOrder`, `successcancelPendingOrders`) | answer waiting market and pending orders and cancellations |
//! | [`deals::DealsModule`] | api | `successupdateBalance`, `updateOpenedDeals`, `updateClosedDeals`, `successcloseOrder`, `successopenOrder` | keep the balance and the deal book, in arrival order; wake result waiters once the balance after a deal is known |
//! | [`history::HistoryModule`] | api | `loadHistoryPeriod(Fast)`, `updateHistory*` | answer history requests by index; keep pushed history |
//! | [`raw::RawModule`] | api | whatever a raw matcher wants | send any frame, wait for or stream matching frames |

pub(crate) mod account;
pub(crate) mod deals;
pub(crate) mod history;
pub(crate) mod pending;
pub(crate) mod raw;
pub(crate) mod subscriptions;
pub(crate) mod trades;
