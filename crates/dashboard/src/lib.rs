//! The live browser dashboard of the PocketOption client.
//!
//! Two halves in one package:
//!
//! * **the page's app** (wasm32, `app`): the real `binary_options_tools` client compiled
//!   to `wasm32-unknown-unknown`, over client_ws's browser (gloo-net) transport. Rust owns
//!   the client, the state and the candles; it hands the page one JSON event per change
//!   (`state`, `balance`, `assets`, `candles`, `trade`) and the page's small hand-written
//!   script only draws them (DOM text and a `<canvas>` candlestick chart);
//! * **the server** (native, [`server`] and the `dashboard` binary): starts the
//!   PocketOption simulator in-process, serves the page and the wasm-bindgen output over a
//!   small HTTP server on loopback, and takes simulator commands on stdin (`drop`,
//!   `outage MS`) so a person or a test can make the connection fail.
//!
//! `cargo xtask dashboard` builds the wasm (cargo + the pinned wasm-bindgen CLI) and runs
//! the server; `cargo xtask dashboard --test` drives the page in headless Chromium.
//!
//! [`candles`] (tick → candle bucketing) is pure and builds on both targets.

pub mod candles;

#[cfg(target_arch = "wasm32")]
pub mod app;

#[cfg(not(target_arch = "wasm32"))]
pub mod server;
