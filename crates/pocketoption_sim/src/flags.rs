//! The simulator's command-line flags, declared once with their help text, and how they
//! become a [`SimulatorBuilder`] and a fault schedule.
//!
//! The `pocketoption_sim` binary flattens [`SimulatorFlags`] into its command line, and so
//! does the `pocketoption sim` command of the CLI crate: one declaration, one `--help`.
//! clap generates the help and the error messages from these declarations; nothing else
//! lists the flags.
//!
//! ```
//! use clap::Parser;
//! use pocketoption_sim::flags::SimulatorFlags;
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     sim: SimulatorFlags,
//! }
//!
//! let cli = Cli::parse_from(["sim", "--seed", "7", "--drop-every-secs", "30"]);
//! assert_eq!(cli.sim.seed(), 7);
//! let _builder = cli.sim.builder(); // then `.start().await?` and `cli.sim.faults.start(&sim)`
//! ```

pub mod schedule;
pub mod values;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use clap::ValueEnum;

use crate::builder::SimulatorBuilder;
use crate::config::{AuthPolicy, CloseOrderForm, Delivery, HistoryItems};
use crate::simulator::Simulator;

pub use self::schedule::FaultSchedule;
use self::values::millis;

/// Every flag of the simulator: server, auth and fault schedule (three help headings).
#[derive(Debug, Clone, clap::Args)]
pub struct SimulatorFlags {
    #[command(flatten)]
    server: ServerArgs,

    #[command(flatten)]
    auth: AuthArgs,

    /// The faults to inject at launch or on a schedule ([`FaultSchedule::start`]).
    #[command(flatten)]
    pub faults: FaultSchedule,
}

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Server")]
struct ServerArgs {
    /// Address to listen on (127.0.0.1:0 = any free port, printed in the banner)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    /// Seed of the price paths and ids
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,

    /// Tick interval of subscribed assets (and the price grid)
    #[arg(long = "tick-ms", value_name = "MS", value_parser = millis, default_value = "500")]
    tick: Duration,

    /// Engine.IO ping interval
    #[arg(long = "ping-interval-ms", value_name = "MS", value_parser = millis, default_value = "25000")]
    ping_interval: Duration,

    /// Time a client has to answer a ping
    #[arg(long = "ping-timeout-ms", value_name = "MS", value_parser = millis, default_value = "20000")]
    ping_timeout: Duration,

    /// Deals close X times faster than their expiry
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    time_scale: f64,

    /// Starting demo balance of new accounts
    #[arg(long, value_name = "AMOUNT", default_value_t = 50_000.0)]
    demo_balance: f64,

    /// Starting real balance of new accounts
    #[arg(long, value_name = "AMOUNT", default_value_t = 1_000.0)]
    real_balance: f64,

    /// Shape of loadHistoryPeriod items: OHLC candles or {time, price} points
    #[arg(long, value_name = "KIND", value_enum, default_value_t = HistoryItemsArg::Candles)]
    history_items: HistoryItemsArg,

    /// Shape of successcloseOrder: {"profit", "deals"} or a bare array of deals
    #[arg(long = "close-order", value_name = "FORM", value_enum, default_value_t = CloseOrderArg::Object)]
    close_order: CloseOrderArg,

    /// Delivery of every server event: 42["event",payload] or 451- + a binary frame
    #[arg(long, value_name = "MODE", value_enum, default_value_t = DeliveryArg::TwoStep)]
    delivery: DeliveryArg,

    /// Delivery of one event, e.g. updateStream=one-step (repeatable)
    #[arg(long = "delivery-for", value_name = "EVENT=MODE", value_parser = event_delivery)]
    delivery_for: Vec<(String, DeliveryArg)>,
}

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Auth")]
struct AuthArgs {
    /// Accept only this session (repeatable) [default: accept all]
    #[arg(long = "accept-session", value_name = "TOKEN")]
    accept_sessions: Vec<String>,

    /// Reject every auth with the rejection event + 41
    #[arg(long)]
    reject_all: bool,

    /// Event sent on rejection (notAuthorized and auth_error are also seen)
    #[arg(long, value_name = "NAME", default_value = "NotAuthorized")]
    reject_event: String,

    /// Reject real sessions whose user agent differs from the request's
    #[arg(long)]
    check_user_agent: bool,

    /// Refuse upgrades without Origin: https://pocketoption.com
    #[arg(long)]
    check_origin: bool,
}

// The value enums below carry no doc comments on purpose: a described value switches
// `--help` to the long one-flag-per-paragraph layout. Their flags describe them instead.

/// `--history-items`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum HistoryItemsArg {
    Candles,
    Prices,
}

/// `--close-order`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum CloseOrderArg {
    Object,
    Array,
}

/// `--delivery` and the mode of `--delivery-for` (`one`, `42`, `two` and `451` also work).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum DeliveryArg {
    #[value(alias = "one", alias = "42")]
    OneStep,
    #[value(alias = "two", alias = "451")]
    TwoStep,
}

impl From<DeliveryArg> for Delivery {
    fn from(arg: DeliveryArg) -> Self {
        match arg {
            DeliveryArg::OneStep => Delivery::OneStep,
            DeliveryArg::TwoStep => Delivery::TwoStep,
        }
    }
}

/// `EVENT=MODE` of `--delivery-for`.
fn event_delivery(raw: &str) -> Result<(String, DeliveryArg), String> {
    let usage = "use EVENT=one-step or EVENT=two-step";
    let (event, mode) = raw
        .split_once('=')
        .ok_or_else(|| format!("`{raw}` has no `=`; {usage}"))?;
    if event.is_empty() {
        return Err(format!("`{raw}` names no event; {usage}"));
    }
    let mode = DeliveryArg::from_str(mode, false)
        .map_err(|_| format!("unknown delivery `{mode}`; {usage}"))?;
    Ok((event.to_owned(), mode))
}

impl SimulatorFlags {
    /// The address to listen on (`--addr`).
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The seed of the price paths and ids (`--seed`).
    pub fn seed(&self) -> u64 {
        self.server.seed
    }

    /// The builder these flags describe.
    pub fn builder(&self) -> SimulatorBuilder {
        let s = &self.server;
        let mut builder = Simulator::builder()
            .with_addr(s.addr)
            .with_seed(s.seed)
            .with_tick_interval(s.tick)
            .with_ping_interval(s.ping_interval)
            .with_ping_timeout(s.ping_timeout)
            .with_time_scale(s.time_scale)
            .with_demo_balance(s.demo_balance)
            .with_real_balance(s.real_balance)
            .with_history_items(match s.history_items {
                HistoryItemsArg::Candles => HistoryItems::Candles,
                HistoryItemsArg::Prices => HistoryItems::Prices,
            })
            .with_close_order_form(match s.close_order {
                CloseOrderArg::Object => CloseOrderForm::Object,
                CloseOrderArg::Array => CloseOrderForm::BareArray,
            })
            .with_delivery(s.delivery.into());
        for (event, mode) in &s.delivery_for {
            builder = builder.with_delivery_for(event.clone(), (*mode).into());
        }
        let a = &self.auth;
        builder = builder
            .with_reject_event(a.reject_event.clone())
            .with_user_agent_check(a.check_user_agent)
            .with_origin_check(a.check_origin);
        if a.reject_all {
            builder = builder.with_auth_policy(AuthPolicy::RejectAll);
        } else if !a.accept_sessions.is_empty() {
            let sessions: HashSet<String> = a.accept_sessions.iter().cloned().collect();
            builder = builder.with_auth_policy(AuthPolicy::AcceptOnly(sessions));
        }
        builder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_for_takes_an_event_and_a_mode() {
        assert!(matches!(
            event_delivery("updateStream=one-step"),
            Ok((event, DeliveryArg::OneStep)) if event == "updateStream"
        ));
        assert!(matches!(
            event_delivery("a=451"),
            Ok((_, DeliveryArg::TwoStep))
        ));
        assert!(event_delivery("updateStream").is_err());
        assert!(event_delivery("=one-step").is_err());
        assert!(event_delivery("updateStream=three").is_err());
    }

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimulatorFlags,
    }

    #[test]
    fn the_declarations_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_reach_the_accessors() {
        use clap::Parser;
        let cli = Cli::try_parse_from(["sim", "--addr", "127.0.0.1:0", "--seed", "9"]).unwrap();
        assert_eq!(cli.sim.seed(), 9);
        assert_eq!(cli.sim.addr().port(), 0);
        assert!(Cli::try_parse_from(["sim", "--seed", "x"]).is_err());
    }
}
