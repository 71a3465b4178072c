//! # pocketoption_sim
//!
//! A PocketOption server that runs on loopback and speaks the platform's real protocol
//! (Engine.IO v4 + Socket.IO over a bare WebSocket, as in `shared/protocol/pocketoption.md`),
//! so the PocketOption client can be tested, demonstrated and benchmarked without the real
//! servers.
//!
//! * [`Simulator::builder`] configures it (address, seed, tick rate, ping timing, time
//!   scale, auth policy, one-/two-step delivery, assets, balances) and starts it.
//! * The running [`Simulator`] inspects accounts and deals, moves the market (pin prices,
//!   open or close assets) and injects faults (drop everything, go silent, refuse
//!   connections, malformed frames, reply delays, restart), and sets when a balance report
//!   follows a deal event ([`BalanceReport`]).
//! * Prices are a deterministic function of the seed, the asset and the instant, so ticks,
//!   history and settlement agree and runs repeat.
//!
//! The codec and the SSID parser are `binary_options_tools`'s, shared with the client.
//!
//! Modules, lowest first; each uses only modules listed before it (no cycles):
//!
//! 1. `prng`, `clock`, `error`, `lock`: use nothing.
//! 2. `market`: `prng`, `lock`.
//! 3. `faults`: `lock`.
//! 4. `config`: `error`, `market`.
//! 5. `trading`: `clock`, `config`, `market`, `prng`.
//! 6. `shared`: `config`, `faults`, `lock`, `market`, `prng`, `trading`.
//! 7. `connection`: `clock`, `config`, `lock`, `shared`, `trading`.
//! 8. `server`: `clock`, `config`, `connection`, `error`, `lock`, `shared`, `trading`.
//! 9. `simulator`: `clock`, `config`, `error`, `faults`, `lock`, `market`, `server`, `shared`,
//!    `trading`.
//! 10. `builder`: `config`, `error`, `market`, `server`, `simulator`.
//! 11. `flags` (public: the command-line flags, shared by the simulator's binary and the
//!     `pocketoption sim` command): `builder`, `config`, `faults`, `simulator`.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), pocketoption_sim::SimError> {
//! use pocketoption_sim::Simulator;
//! use std::time::Duration;
//!
//! let sim = Simulator::builder()
//!     .with_seed(42)
//!     .with_tick_interval(Duration::from_millis(100))
//!     .with_time_scale(10.0) // a 60 s deal closes after 6 s
//!     .start()
//!     .await?;
//! println!("{}", sim.url()); // ws://127.0.0.1:PORT/socket.io/?EIO=4&transport=websocket
//! sim.pin_price("EURUSD_otc", 1.1)?; // force prices to decide trade outcomes
//! sim.shutdown().await?;
//! # Ok(()) }
//! ```

mod builder;
mod clock;
mod config;
mod connection;
mod error;
mod faults;
pub mod flags;
mod lock;
mod market;
mod prng;
mod server;
mod shared;
mod simulator;
mod trading;

pub use builder::SimulatorBuilder;
pub use config::{AuthPolicy, CloseOrderForm, Delivery, HistoryItems};
pub use error::SimError;
pub use faults::{BalanceReport, MalformedFrame};
pub use market::{AssetKind, AssetSpec, DEFAULT_EXPIRIES, default_assets};
pub use simulator::{AccountSnapshot, Simulator};
pub use trading::{Deal, Direction, Outcome, PendingOrder, PendingTrigger};
