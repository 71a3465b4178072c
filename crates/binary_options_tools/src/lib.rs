//! # binary_options_tools
//!
//! A resilient PocketOption client, built on [core-pre](core_pre) and the
//! [client_ws] transports, natively and in the browser.
//!
//! * [`PocketOption`] is the client: balance, assets and payouts, subscriptions
//!   ([`SubscriptionStream`] of candles), trades and their results (with the balance
//!   after them), pending orders ([`PendingOrderRequest`]), candle and tick history
//!   ([`compile_candles`] turns ticks into candles), server time, raw access, shutdown.
//!   Every waiting call has a timeout; after shutdown every call fails with a clear
//!   "client is shut down" error.
//! * It is made of core-pre modules (internal), each with a rule picking its events, over
//!   an event layer that normalizes the platform's one-step and two-step events. What
//!   users see of them: [`DealsHandle`] (the [`DealBook`]), [`RawHandle`], the streams, and
//!   the limits ([`MAX_ASSETS`], [`MAX_TICKS`], [`CLOSED_DEALS_KEPT`], …).
//! * The pure layers, shared with the project's simulator: the Engine.IO/Socket.IO codec
//!   ([`engineio`], [`socketio`], [`Reassembler`], the tick payload parser [`ticks`]) and the SSID parser ([`Ssid`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), binary_options_tools::Error> {
//! use binary_options_tools::{Decimal, PocketOption};
//! use std::time::Duration;
//!
//! let client = PocketOption::new(r#"42["auth",{"session":"…","isDemo":1,"uid":1,"platform":2}]"#).await?;
//! println!("balance {}", client.balance().await?);
//! let deal = client.buy("EURUSD_otc", Decimal::ONE, Duration::from_secs(60)).await?;
//! println!("{:?}", client.result(&deal.id).await?.outcome);
//! # Ok(()) }
//! ```
//!
//! The pure layers on their own:
//!
//! ```
//! use binary_options_tools::{Frame, Reassembler, Ssid};
//!
//! let ssid = Ssid::parse(r#"{"session":"token","isDemo":1,"uid":42,"platform":2}"#).unwrap();
//! assert!(ssid.auth_frame().starts_with(r#"42["auth",{"session":"token","isDemo":1"#));
//!
//! let mut frames = Reassembler::default();
//! assert!(frames.push_text(r#"451-["successauth",{"_placeholder":true,"num":0}]"#).unwrap().is_none());
//! let auth = frames.push_binary(&br#"{"id":"42","serverName":"sim"}"#[..]).unwrap().unwrap();
//! assert_eq!(auth.event_name(), Some("successauth"));
//! ```

mod book;
mod client;
mod connector;
pub mod engineio;
mod error;
mod events;
mod limits;
mod modules;
mod php;
mod reassembler;
mod regions;
mod server_time;
pub mod socketio;
mod ssid;
mod state;
pub mod ticks;
mod types;

pub use book::deals::{
    BALANCE_FOLLOW_WAIT, BALANCE_REQUEST_WAIT, CLOSED_DEALS_KEPT, FORGOTTEN_DEALS_KEPT,
};
pub use book::subscriptions::MAX_ASSETS;
pub use client::{PocketOption, PocketOptionBuilder, Timeouts, TradeLimits};
pub use engineio::{Frame, decode, decode_with};
pub use error::{CodecError, ConnectReport, Error, SSID_HOW_TO_COPY, SsidError};
pub use limits::FrameLimits;
pub use modules::deals::{DealBook, DealsHandle};
pub use modules::history::MAX_TICKS;
pub use modules::history::TickRange;
pub use modules::pending::{PendingOrder, PendingOrderRequest, PendingTrigger};
pub use modules::raw::RAW_STREAM_BUFFER;
pub use modules::raw::{Matcher, RawHandle, RawStream};
pub use modules::subscriptions::DEFAULT_STREAM_BUFFER;
pub use modules::subscriptions::{SubscriptionKind, SubscriptionStream, compile_candles};
pub use reassembler::Reassembler;
pub use regions::{Region, platform_regions};
pub use rust_decimal::Decimal;
pub use server_time::ServerTime;
pub use socketio::{Packet, PacketKind, event_name};
pub use ssid::{RealSession, Ssid};
pub use types::{Action, Asset, AssetKind, Candle, Deal, DealId, DealResult, Outcome, Tick};
