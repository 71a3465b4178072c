//! One module per command, each with its clap struct (whose doc comments are its `--help`)
//! and a `run` method.

pub(crate) mod assets;
pub(crate) mod balance;
pub(crate) mod candles;
pub(crate) mod completions;
pub(crate) mod doctor;
pub(crate) mod pending;
pub(crate) mod server_time;
pub(crate) mod sim;
pub(crate) mod ssid;
pub(crate) mod stream;
pub(crate) mod trade;
