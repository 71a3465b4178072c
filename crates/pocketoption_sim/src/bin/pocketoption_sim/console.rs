//! The stdin console: one command per line, parsed by clap like the flags, so `help` lists
//! the commands from their declarations.
//!
//! Each line is split on whitespace and parsed as a multicall command line whose first word
//! names the command. A reply (or clap's error or help text) goes back to stdout.

use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use pocketoption_sim::{AuthPolicy, MalformedFrame, Simulator};

use pocketoption_sim::flags::values::{millis, secs};

/// One stdin line.
#[derive(Debug, Parser)]
#[command(multicall = true, subcommand_value_name = "COMMAND")]
struct Line {
    #[command(subcommand)]
    command: Command,
}

/// The stdin commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Connections open and accepted, open deals, the URL
    Status,
    /// Drop every connection without a close frame
    Drop,
    /// Go silent (TCP open, nothing said) or speak again
    Silent {
        /// on: silent; off: speak again
        #[arg(value_enum, value_name = "on|off")]
        state: Switch,
    },
    /// Answer upgrades with 503 for SECS seconds
    Refuse {
        /// How long, in seconds (fractions allowed)
        #[arg(value_name = "SECS", value_parser = secs)]
        duration: Duration,
    },
    /// Send malformed frames of one KIND (or all kinds) to every connection
    Malformed {
        /// A kind, or all of them
        #[arg(value_name = "KIND|all", value_parser = kind_or_all())]
        kinds: Kinds,
    },
    /// Delay every reply by MS (0 = no delay)
    Delay {
        /// The delay, in milliseconds
        #[arg(value_name = "MS", value_parser = millis)]
        delay: Duration,
    },
    /// Close the listener and every connection, listen again after MS
    Restart {
        /// The downtime, in milliseconds
        #[arg(value_name = "MS", value_parser = millis, default_value = "1000")]
        downtime: Duration,
    },
    /// Force ASSET's price from now on
    Pin {
        /// The asset symbol, e.g. EURUSD_otc
        #[arg(value_name = "ASSET")]
        asset: String,
        /// The price ticks, history and settlement will see
        #[arg(value_name = "PRICE")]
        price: f64,
    },
    /// Let ASSET's price follow its path again
    Unpin {
        /// The asset symbol
        #[arg(value_name = "ASSET")]
        asset: String,
    },
    /// Open or close ASSET for trading
    Active {
        /// The asset symbol
        #[arg(value_name = "ASSET")]
        asset: String,
        /// on: open for trading; off: closed
        #[arg(value_enum, value_name = "on|off")]
        state: Switch,
    },
    /// Set ASSET's payout percent
    Payout {
        /// The asset symbol
        #[arg(value_name = "ASSET")]
        asset: String,
        /// The payout, in percent
        #[arg(value_name = "N")]
        percent: u8,
    },
    /// Set a balance of account UID (created if needed)
    Balance {
        /// The user id
        #[arg(value_name = "UID")]
        uid: u64,
        /// Which of its two balances
        #[arg(value_enum, value_name = "demo|real")]
        account: Account,
        /// The new balance
        #[arg(value_name = "AMOUNT")]
        amount: f64,
    },
    /// Accept every session from now on
    AcceptAll,
    /// Reject every session from now on
    RejectAll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Account {
    Demo,
    Real,
}

/// The argument of `malformed`: one kind, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kinds {
    One(MalformedFrame),
    All,
}

/// A malformed-frame kind by name, or `all`.
fn kind_or_all() -> impl TypedValueParser<Value = Kinds> {
    let names = MalformedFrame::ALL.map(MalformedFrame::name);
    PossibleValuesParser::new(names.into_iter().chain(["all"])).map(|name| {
        // Every possible value but `all` is a kind's name.
        MalformedFrame::from_name(&name).map_or(Kinds::All, Kinds::One)
    })
}

/// The commands, one line each with its arguments and what it does: what `help` prints,
/// rendered from the declarations above.
pub(crate) fn summary() -> String {
    let mut line = Line::command();
    line.build();
    let rows: Vec<(String, String)> = line
        .get_subcommands()
        .map(|command| {
            let usage = command.clone().render_usage().to_string();
            let usage = usage.trim().trim_start_matches("Usage:").trim().to_owned();
            let about = command
                .get_about()
                .map(|about| about.to_string())
                .unwrap_or_default();
            (usage, about)
        })
        .collect();
    let width = rows.iter().map(|(usage, _)| usage.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(usage, about)| format!("  {usage:<width$}  {about}\n"))
        .collect()
}

/// The line parser; its `help` prints [`summary`]. A negative number is taken as a value
/// (and refused by its parser with a reason), not as an unknown flag.
fn parser() -> clap::Command {
    Line::command()
        .mut_subcommands(|command| command.allow_negative_numbers(true))
        .help_template("{after-help}")
        .after_help(format!(
            "Commands (`COMMAND --help` explains one):\n{}",
            summary()
        ))
}

/// Runs one stdin line and returns the text to print back (empty for a blank line). A bad
/// line gets clap's error, which says what was expected.
pub(crate) async fn run(sim: &Simulator, line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.is_empty() {
        return String::new();
    }
    let parsed = parser()
        .try_get_matches_from(words)
        .and_then(|matches| Line::from_arg_matches(&matches));
    let command = match parsed {
        Ok(line) => line.command,
        // `help` and `COMMAND --help` arrive here too, as clap's "error" of showing help.
        Err(e) => return e.to_string().trim().to_owned(),
    };
    match execute(sim, command).await {
        Ok(reply) => reply,
        Err(e) => format!("error: {e}"),
    }
}

async fn execute(sim: &Simulator, command: Command) -> Result<String, String> {
    let reply = match command {
        Command::Status => format!(
            "{} connection(s) open, {} accepted, {} open deal(s), url {}",
            sim.active_connections(),
            sim.connections_accepted(),
            sim.open_deals().len(),
            sim.url()
        ),
        Command::Drop => {
            sim.drop_all_connections();
            "dropped every connection".into()
        }
        Command::Silent { state } => {
            let on = state == Switch::On;
            sim.set_silent(on);
            format!("silent {}", if on { "on" } else { "off" })
        }
        Command::Refuse { duration } => {
            sim.refuse_connections_for(duration);
            "refusing connections".into()
        }
        Command::Malformed { kinds } => {
            let kinds = match kinds {
                Kinds::One(kind) => vec![kind],
                Kinds::All => MalformedFrame::ALL.to_vec(),
            };
            let sent: usize = kinds.into_iter().map(|k| sim.send_malformed(k)).sum();
            format!("sent {sent} malformed sequence(s)")
        }
        Command::Delay { delay } => {
            sim.set_reply_delay(delay);
            "reply delay set".into()
        }
        Command::Restart { downtime } => {
            sim.restart(downtime).await.map_err(|e| e.to_string())?;
            "restarted".into()
        }
        Command::Pin { asset, price } => {
            sim.pin_price(&asset, price).map_err(|e| e.to_string())?;
            "pinned".into()
        }
        Command::Unpin { asset } => {
            sim.unpin_price(&asset);
            "unpinned".into()
        }
        Command::Active { asset, state } => {
            sim.set_asset_active(&asset, state == Switch::On)
                .map_err(|e| e.to_string())?;
            "asset updated".into()
        }
        Command::Payout { asset, percent } => {
            sim.set_payout(&asset, percent).map_err(|e| e.to_string())?;
            "payout updated".into()
        }
        Command::Balance {
            uid,
            account,
            amount,
        } => {
            sim.set_balance(uid, account == Account::Demo, amount);
            "balance set".into()
        }
        Command::AcceptAll => {
            sim.set_auth_policy(AuthPolicy::AcceptAll);
            "accepting every session".into()
        }
        Command::RejectAll => {
            sim.set_auth_policy(AuthPolicy::RejectAll);
            "rejecting every session".into()
        }
    };
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command, clap::Error> {
        let matches = parser().try_get_matches_from(line.split_whitespace())?;
        Line::from_arg_matches(&matches).map(|l| l.command)
    }

    #[test]
    fn commands_parse_with_their_arguments() {
        assert!(matches!(parse("status"), Ok(Command::Status)));
        assert!(matches!(
            parse("pin EURUSD_otc 1.25"),
            Ok(Command::Pin { asset, price }) if asset == "EURUSD_otc" && price == 1.25
        ));
        assert!(matches!(
            parse("restart"),
            Ok(Command::Restart { downtime }) if downtime == Duration::from_millis(1000)
        ));
        assert!(matches!(
            parse("malformed all"),
            Ok(Command::Malformed { kinds: Kinds::All })
        ));
        assert!(matches!(
            parse("malformed invalid-json"),
            Ok(Command::Malformed {
                kinds: Kinds::One(MalformedFrame::InvalidJson)
            })
        ));
        assert!(matches!(
            parse("balance 7 real 12.5"),
            Ok(Command::Balance { uid: 7, account: Account::Real, amount }) if amount == 12.5
        ));
        assert!(matches!(parse("accept-all"), Ok(Command::AcceptAll)));
    }

    #[test]
    fn bad_lines_are_errors_not_defaults() {
        for line in [
            "bogus",
            "pin EURUSD_otc",
            "pin EURUSD_otc cheap",
            "silent maybe",
            "malformed nonsense",
            "malformed",
            "refuse -1",
            "payout EURUSD_otc 300",
        ] {
            assert!(parse(line).is_err(), "{line}");
        }
    }

    #[test]
    fn help_lists_every_command_with_its_arguments() {
        let help = match parse("help") {
            Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => e.to_string(),
            other => panic!("`help` did not show help: {other:?}"),
        };
        for name in Line::command().get_subcommands().map(|c| c.get_name()) {
            assert!(
                help.contains(&format!("\n  {name}")),
                "{name} missing from {help}"
            );
        }
        assert!(help.contains("pin <ASSET> <PRICE>"), "{help}");
        assert!(help.contains("restart [MS]"), "{help}");
    }

    #[test]
    fn the_declarations_are_consistent() {
        parser().debug_assert();
    }
}
