//! `pocketoption pending open|cancel`: pending orders, which the platform opens later, at a
//! time or when the price reaches a level.
//!
//! There is no `list`: the platform has no event that lists pending orders, so a new
//! connection (every CLI run is one) cannot learn the orders placed before it. `open`
//! prints the ticket to keep; `cancel` takes it.

use std::time::{Duration, SystemTime};

use binary_options_tools::{
    Action, Decimal, PendingOrder, PendingOrderRequest, PendingTrigger, PocketOption,
};
use serde::Serialize;

use crate::commands::trade::{
    DealJson, ResultJson, follow, parse_action, parse_amount, print_deal, print_result,
};
use crate::connect::ConnectArgs;
use crate::error::CliError;
use crate::output::{self, JsonFlag};
use crate::time::{format_duration, format_time, parse_positive_duration, parse_time};

/// Pending orders. The platform cannot list them to a new connection, so keep the ticket
/// `open` prints: `cancel` takes it.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum PendingCommand {
    /// Place a pending order: a trade opened later, at a time or a price
    ///
    /// The platform opens the trade at a time (--at, --after) or when the price reaches a
    /// level (--price). Prints its ticket; with --wait, also waits for it to open and for
    /// the deal's result.
    Open(OpenArgs),
    /// Cancel pending orders by ticket
    Cancel(CancelArgs),
}

/// `pending open`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("trigger").required(true).args(["at", "after", "price"]))]
pub(crate) struct OpenArgs {
    /// The asset symbol, e.g. EURUSD_otc
    #[arg(value_name = "ASSET")]
    asset: String,

    /// call (the price ends higher) or put (lower)
    #[arg(value_name = "call|put", value_parser = parse_action)]
    action: Action,

    /// The stake, taken when the deal opens
    #[arg(value_name = "AMOUNT", value_parser = parse_amount)]
    amount: Decimal,

    /// The expiry of the deal it opens: 5s, 1m, 5m...
    #[arg(value_name = "EXPIRY", value_parser = parse_positive_duration)]
    expiry: Duration,

    /// Open the deal at this time (server clock): unix seconds or RFC 3339
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    at: Option<SystemTime>,

    /// Open the deal this long from now (server clock), e.g. 30s
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    after: Option<Duration>,

    /// Open the deal when the price reaches this level
    #[arg(long, value_name = "PRICE")]
    price: Option<f64>,

    /// Open only if the payout is at least this percent then
    #[arg(long, value_name = "PERCENT")]
    min_payout: Option<u32>,

    /// Wait for the order to open its deal (for a price trigger: at most --timeout) and for
    /// the deal's result
    #[arg(long)]
    wait: bool,

    #[command(flatten)]
    output: JsonFlag,

    #[command(flatten)]
    connect: ConnectArgs,
}

/// `pending cancel`.
#[derive(Debug, clap::Args)]
pub(crate) struct CancelArgs {
    /// The tickets `pending open` printed
    #[arg(value_name = "TICKET", required = true, num_args = 1..)]
    tickets: Vec<String>,

    #[command(flatten)]
    output: JsonFlag,

    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Serialize)]
struct OpenJson {
    ticket: String,
    asset: String,
    action: &'static str,
    amount: String,
    expiry_seconds: u64,
    /// RFC 3339, for a time trigger.
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<String>,
    /// The level, for a price trigger.
    #[serde(skip_serializing_if = "Option::is_none")]
    price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deal: Option<DealJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<ResultJson>,
}

impl PendingCommand {
    pub(crate) async fn run(self) -> Result<(), CliError> {
        match self {
            PendingCommand::Open(args) => {
                let session = args.connect.connect().await?;
                let outcome = args.open(&session.client).await;
                session.close().await;
                outcome
            }
            PendingCommand::Cancel(args) => {
                let session = args.connect.connect().await?;
                let outcome = args.cancel(&session.client).await;
                session.close().await;
                outcome
            }
        }
    }
}

impl OpenArgs {
    fn trigger(&self, client: &PocketOption) -> PendingTrigger {
        match (self.at, self.after, self.price) {
            (Some(at), _, _) => PendingTrigger::AtTime(at),
            (None, Some(after), _) => PendingTrigger::AtTime(client.server_time().now + after),
            // clap's `trigger` group requires one of the three.
            (None, None, price) => PendingTrigger::AtPrice(price.unwrap_or_default()),
        }
    }

    async fn open(&self, client: &PocketOption) -> Result<(), CliError> {
        let trigger = self.trigger(client);
        let mut request =
            PendingOrderRequest::new(&self.asset, self.action, self.amount, self.expiry, trigger);
        if let Some(percent) = self.min_payout {
            request = request.with_min_payout(percent);
        }
        let order = client.open_pending(&request).await.map_err(|e| {
            CliError::from(e).context(format!(
                "could not place a pending {} of {} on {}",
                self.action,
                self.amount.normalize(),
                self.asset
            ))
        })?;
        if !self.output.json {
            print_order(&order);
        }
        let mut json = OpenJson {
            ticket: order.ticket.clone(),
            asset: order.asset.clone(),
            action: order.action.as_str(),
            amount: order.amount.normalize().to_string(),
            expiry_seconds: order.expiry.as_secs(),
            at: match order.trigger {
                PendingTrigger::AtTime(at) => Some(format_time(at)),
                _ => None,
            },
            price: match order.trigger {
                PendingTrigger::AtPrice(price) => Some(price),
                _ => None,
            },
            deal: None,
            result: None,
        };
        if self.wait {
            let wait = match order.trigger {
                PendingTrigger::AtTime(at) => {
                    at.duration_since(client.server_time().now)
                        .unwrap_or_default()
                        + self.connect.timeout
                }
                _ => self.connect.timeout,
            };
            if !self.output.json {
                output::line(format!(
                    "waiting up to {} for it to open...",
                    format_duration(Duration::from_secs(wait.as_secs()))
                ));
            }
            let deal = client
                .pending_fill(&order.ticket, wait)
                .await
                .map_err(|e| {
                    CliError::from(e).context(format!(
                        "pending order {} did not open its deal (it stays placed unless cancelled)",
                        order.ticket
                    ))
                })?;
            if !self.output.json {
                print_deal(&deal);
            }
            let result = follow(client, &deal).await?;
            if !self.output.json {
                print_result(&result);
            }
            json.deal = Some(DealJson::from(&deal));
            json.result = Some(ResultJson::from(&result));
        }
        if self.output.json {
            output::json(&json)?;
        }
        Ok(())
    }
}

fn print_order(order: &PendingOrder) {
    let trigger = match order.trigger {
        PendingTrigger::AtTime(at) => format!("at {}", format_time(at)),
        PendingTrigger::AtPrice(price) => format!("when the price reaches {price}"),
    };
    output::line(format!(
        "placed a pending {} of {} on {} for {}, opening {trigger}",
        order.action,
        order.amount.normalize(),
        order.asset,
        format_duration(order.expiry)
    ));
    output::line(format!(
        "ticket {} (keep it: `pocketoption pending cancel {}` cancels it)",
        order.ticket, order.ticket
    ));
}

impl CancelArgs {
    async fn cancel(&self, client: &PocketOption) -> Result<(), CliError> {
        let cancelled = if let [ticket] = self.tickets.as_slice() {
            client.cancel_pending(ticket).await?;
            vec![ticket.clone()]
        } else {
            client.cancel_pending_orders(&self.tickets).await?
        };
        let refused: Vec<&String> = self
            .tickets
            .iter()
            .filter(|t| !cancelled.contains(t))
            .collect();
        if self.output.json {
            output::json(&serde_json::json!({
                "cancelled": cancelled,
                "not_cancelled": refused,
            }))?;
        } else {
            for ticket in &cancelled {
                output::line(format!("cancelled {ticket}"));
            }
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(CliError::failure(format!(
                "the platform did not cancel {}: unknown tickets, or orders that already \
                 opened their deal",
                refused
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
}
