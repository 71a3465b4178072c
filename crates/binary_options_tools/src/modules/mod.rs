//! The client's modules, each a core-pre module with a rule selecting its events.
//!
//! | module | kind | events | job |
//! |---|---|---|---|
//! | [`account::AccountModule`] | lightweight | `successupdateBalance`, `updateAssets` | balance and asset list into the shared state |
//! | [`subscriptions::SubscriptionsModule`] | api | `updateStream` | fan ticks out to subscription streams; feed the server clock |
//! | [`trades::TradesModule`] | api | `successopenOrder`, `failopenOrder` | answer waiting orders |
//! | [`deals::DealsModule`] | api | `updateOpenedDeals`, `updateClosedDeals`, `successcloseOrder`, `successopenOrder` | keep the deal book; wake result waiters |
//! | [`history::HistoryModule`] | api | `loadHistoryPeriod(Fast)`, `updateHistory*` | answer history requests by index; keep pushed history |
//! | [`raw::RawModule`] | api | whatever a raw matcher wants | send any frame, wait for or stream matching frames |

pub mod account;
pub mod deals;
pub mod history;
pub mod raw;
pub mod subscriptions;
pub mod trades;
