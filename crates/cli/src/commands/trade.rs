//! `pocketoption trade ASSET call|put AMOUNT EXPIRY [--wait]`: opens a trade, and with
//! `--wait` follows it to expiry (progress on stderr) and prints the result and the balance
//! after it.

use std::time::Duration;

use binary_options_tools::{Action, Deal, DealResult, Decimal, Outcome, PocketOption};
use serde::Serialize;

use crate::connect::ConnectArgs;
use crate::error::CliError;
use crate::output::{self, JsonFlag};
use crate::progress::Countdown;
use crate::time::{format_duration, format_time, parse_positive_duration};

/// Open a trade (call or put), and with --wait follow it to its result
///
/// A call (the price ends higher) or a put (lower) of AMOUNT on ASSET,
/// expiring after EXPIRY. It is checked first (asset open, expiry allowed, amount within
/// the limits and the balance), so most mistakes fail before anything is sent.
///
/// Prints the deal and the balance after the stake; with --wait, a countdown to expiry on
/// stderr (a bar on a terminal, a line per second otherwise), then the result (win, loss
/// or draw, the profit, the closing price) and the balance after it. An order whose reply
/// was lost is never sent twice: the error says so, with the id to look for.
#[derive(Debug, clap::Args)]
pub(crate) struct TradeArgs {
    /// The asset symbol, e.g. EURUSD_otc
    #[arg(value_name = "ASSET")]
    asset: String,

    /// call (a bet that the price ends higher; also: buy, up) or put (lower; also: sell,
    /// down)
    #[arg(value_name = "call|put", value_parser = parse_action)]
    action: Action,

    /// The stake, e.g. 1 or 2.50
    #[arg(value_name = "AMOUNT", value_parser = parse_amount)]
    amount: Decimal,

    /// The expiry: 5s, 1m, 5m, 1h... (the ones the asset allows: see `pocketoption assets`)
    #[arg(value_name = "EXPIRY", value_parser = parse_positive_duration)]
    expiry: Duration,

    /// Wait for the result (a countdown on stderr) and print it with the balance after it
    #[arg(long)]
    wait: bool,

    #[command(flatten)]
    output: JsonFlag,

    #[command(flatten)]
    connect: ConnectArgs,
}

/// `call`/`put` and their aliases.
pub(crate) fn parse_action(raw: &str) -> Result<Action, String> {
    match raw.to_ascii_lowercase().as_str() {
        "call" | "buy" | "up" => Ok(Action::Call),
        "put" | "sell" | "down" => Ok(Action::Put),
        _ => Err(format!("`{raw}` is not a direction; use call or put")),
    }
}

/// A positive decimal amount.
pub(crate) fn parse_amount(raw: &str) -> Result<Decimal, String> {
    let amount: Decimal = raw
        .parse()
        .map_err(|_| format!("`{raw}` is not an amount; use a number such as 1 or 2.50"))?;
    if amount <= Decimal::ZERO {
        return Err(format!("`{raw}`: the amount must be more than zero"));
    }
    Ok(amount)
}

/// A deal as `--json` prints it.
#[derive(Serialize)]
pub(crate) struct DealJson {
    id: String,
    asset: String,
    action: &'static str,
    amount: String,
    open_price: f64,
    opened_at: String,
    closes_at: String,
    payout_percent: u32,
    demo: bool,
}

impl From<&Deal> for DealJson {
    fn from(deal: &Deal) -> Self {
        DealJson {
            id: deal.id.to_string(),
            asset: deal.asset.clone(),
            action: deal.action.as_str(),
            amount: deal.amount.normalize().to_string(),
            open_price: deal.open_price,
            opened_at: format_time(deal.opened_at),
            closes_at: format_time(deal.closes_at),
            payout_percent: deal.payout_percent,
            demo: deal.is_demo,
        }
    }
}

/// A result as `--json` prints it.
#[derive(Serialize)]
pub(crate) struct ResultJson {
    outcome: &'static str,
    profit: String,
    close_price: Option<f64>,
    /// The balance after the settlement (`null` when the platform did not report it).
    balance: Option<String>,
}

impl From<&DealResult> for ResultJson {
    fn from(result: &DealResult) -> Self {
        ResultJson {
            outcome: outcome_name(result.outcome),
            profit: result.profit.normalize().to_string(),
            close_price: result.deal.close_price,
            balance: result.balance.map(|b| b.normalize().to_string()),
        }
    }
}

#[derive(Serialize)]
struct TradeJson {
    deal: DealJson,
    balance_after_stake: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<ResultJson>,
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Win => "win",
        Outcome::Loss => "loss",
        Outcome::Draw => "draw",
    }
}

/// Prints an opened deal for people.
pub(crate) fn print_deal(deal: &Deal) {
    output::line(format!(
        "opened {} {} of {} on {} at {} (expires {}, payout {}%)",
        if deal.is_demo { "demo" } else { "REAL" },
        deal.action,
        deal.amount.normalize(),
        deal.asset,
        deal.open_price,
        format_time(deal.closes_at),
        deal.payout_percent
    ));
    output::line(format!("deal id {}", deal.id));
}

/// Prints a result for people.
pub(crate) fn print_result(result: &DealResult) {
    let closed_at = result
        .deal
        .close_price
        .map_or_else(|| "an unreported price".to_owned(), |p| p.to_string());
    let outcome = match result.outcome {
        Outcome::Win => "WIN",
        Outcome::Loss => "LOSS",
        Outcome::Draw => "DRAW",
    };
    output::line(format!(
        "{outcome}: profit {} (closed at {closed_at})",
        result.profit.normalize()
    ));
    match result.balance {
        Some(balance) => output::line(format!("balance {}", balance.normalize())),
        None => output::line("balance not reported after the settlement"),
    }
}

/// Waits for `deal`'s result with a countdown on stderr.
pub(crate) async fn follow(client: &PocketOption, deal: &Deal) -> Result<DealResult, CliError> {
    let result = client.result(&deal.id);
    tokio::pin!(result);
    let mut countdown = Countdown::new(deal.duration().max(client.time_left(deal)));
    let mut redraw = tokio::time::interval(countdown.redraw_every());
    let result = loop {
        tokio::select! {
            result = &mut result => break result,
            _ = redraw.tick(), if !countdown.ended() => countdown.show(client.time_left(deal)),
        }
    };
    // Settled a little before our clock said: end the countdown now.
    countdown.show(Duration::ZERO);
    Ok(result?)
}

impl TradeArgs {
    pub(crate) async fn run(self) -> Result<(), CliError> {
        let session = self.connect.connect().await?;
        let outcome = self.trade(&session.client).await;
        session.close().await;
        outcome
    }

    async fn trade(&self, client: &PocketOption) -> Result<(), CliError> {
        let deal = client
            .trade(&self.asset, self.action, self.amount, self.expiry)
            .await
            .map_err(|e| {
                CliError::from(e).context(format!(
                    "could not open a {} of {} on {} for {}",
                    self.action,
                    self.amount.normalize(),
                    self.asset,
                    format_duration(self.expiry)
                ))
            })?;
        let balance = client.balance().await.ok();
        if !self.output.json {
            print_deal(&deal);
            if let Some(balance) = balance {
                output::line(format!("balance after the stake {}", balance.normalize()));
            }
        }
        let result = if self.wait {
            Some(follow(client, &deal).await?)
        } else {
            None
        };
        if self.output.json {
            return output::json(&TradeJson {
                deal: DealJson::from(&deal),
                balance_after_stake: balance.map(|b| b.normalize().to_string()),
                result: result.as_ref().map(ResultJson::from),
            });
        }
        match &result {
            Some(result) => print_result(result),
            None => output::line(format!(
                "not waiting for the result (--wait does); it comes in {}",
                format_duration(Duration::from_secs(client.time_left(&deal).as_secs()))
            )),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_and_amounts_parse_or_say_why_not() {
        assert_eq!(parse_action("call"), Ok(Action::Call));
        assert_eq!(parse_action("PUT"), Ok(Action::Put));
        assert_eq!(parse_action("buy"), Ok(Action::Call));
        assert!(parse_action("long").is_err());
        assert_eq!(parse_amount("2.50"), Ok(Decimal::new(250, 2)));
        assert!(parse_amount("0").is_err());
        assert!(parse_amount("-1").is_err());
        assert!(parse_amount("one").is_err());
    }
}
