//! `pocketoption stream ASSET…`: live rows until Ctrl-C (or `--count` rows, or
//! `--duration`), from up to [`MAX_ASSETS`] assets at once.

use std::time::Duration;

use binary_options_tools::{Candle, MAX_ASSETS, SubscriptionKind};
use futures::StreamExt;
use futures::stream::SelectAll;

use crate::connect::ConnectArgs;
use crate::error::CliError;
use crate::output::{self, JsonFlag};
use crate::time::{format_unix, format_unix_millis, parse_duration, parse_positive_duration};

/// Print live prices or candles of up to 4 assets until Ctrl-C
///
/// One to 4 assets (the platform streams at most 4 per connection), until Ctrl-C, --count
/// rows or --duration. Each row is a candle of --kind: with `ticks`
/// one row per price (open = high = low = close).
///
/// --csv prints `time,start,asset,open,high,low,close,ticks` rows (with a header) for
/// recording; --json one object per row.
#[derive(Debug, clap::Args)]
pub(crate) struct StreamArgs {
    /// The asset symbols, e.g. EURUSD_otc (at most 4)
    #[arg(value_name = "ASSET", required = true, num_args = 1..)]
    assets: Vec<String>,

    /// What a row is: `ticks` (every price), `candles:DURATION` (time-aligned candles, e.g.
    /// candles:5s, candles:1m), `chunks:N` (a candle per N ticks) or `window:DURATION` (a
    /// candle per window starting at its first tick)
    #[arg(long, value_name = "KIND", value_parser = parse_kind, default_value = "ticks")]
    kind: SubscriptionKind,

    /// Print CSV rows (with a header) instead of text
    #[arg(long, conflicts_with = "json")]
    csv: bool,

    #[command(flatten)]
    output: JsonFlag,

    /// Stop after N rows (all assets together)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,

    /// Stop after this long (e.g. 30s, 5m)
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    duration: Option<Duration>,

    #[command(flatten)]
    connect: ConnectArgs,
}

/// `ticks`, `candles:5s`, `chunks:10`, `window:30s`.
fn parse_kind(raw: &str) -> Result<SubscriptionKind, String> {
    let usage = "use ticks, candles:DURATION (candles:5s), chunks:N (chunks:10) or window:DURATION";
    let (name, value) = match raw.split_once(':') {
        Some((name, value)) => (name, Some(value)),
        None => (raw, None),
    };
    let kind = match (name, value) {
        ("ticks", None) => SubscriptionKind::Ticks,
        ("candles", Some(d)) => SubscriptionKind::Candles(parse_duration(d)?),
        ("window", Some(d)) => SubscriptionKind::Window(parse_duration(d)?),
        ("chunks", Some(n)) => SubscriptionKind::Chunks(
            n.parse()
                .map_err(|_| format!("`{n}` is not a number of ticks; {usage}"))?,
        ),
        ("candles" | "window" | "chunks", None) => {
            return Err(format!("`{raw}` needs a value after `:`; {usage}"));
        }
        _ => return Err(format!("unknown kind `{raw}`; {usage}")),
    };
    kind.validate().map_err(|e| e.to_string())?;
    Ok(kind)
}

impl StreamArgs {
    pub(crate) async fn run(self) -> Result<(), CliError> {
        if self.assets.len() > MAX_ASSETS {
            return Err(CliError::usage(format!(
                "{} assets: the platform streams at most {MAX_ASSETS} per connection; run \
                 another `pocketoption stream` for the others",
                self.assets.len()
            )));
        }
        let session = self.connect.connect().await?;
        let result = self.stream(&session.client).await;
        session.close().await;
        result
    }

    async fn stream(&self, client: &binary_options_tools::PocketOption) -> Result<(), CliError> {
        let mut streams = SelectAll::new();
        for asset in &self.assets {
            streams.push(client.subscribe(asset, self.kind).await?);
        }
        let ticks_only = matches!(self.kind, SubscriptionKind::Ticks);
        if self.csv {
            output::line("time,start,asset,open,high,low,close,ticks");
        }
        let deadline = async {
            match self.duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let mut rows = 0_u64;
        while self.count.is_none_or(|n| rows < n) {
            tokio::select! {
                candle = streams.next() => match candle {
                    Some(candle) => {
                        self.print(&candle, ticks_only)?;
                        rows += 1;
                    }
                    None => return Err(CliError::failure("every stream ended (the client shut down)")),
                },
                _ = &mut deadline => break,
                _ = &mut ctrl_c => break,
            }
        }
        Ok(())
    }

    fn print(&self, c: &Candle, ticks_only: bool) -> Result<(), CliError> {
        if self.output.json {
            return output::json(&output::CandleRow::from(c));
        }
        if self.csv {
            output::line(format!(
                "{},{},{},{},{},{},{},{}",
                c.time,
                format_unix(c.time),
                c.asset,
                c.open,
                c.high,
                c.low,
                c.close,
                c.ticks
            ));
        } else if ticks_only {
            output::line(format!(
                "{}  {}  {}",
                format_unix_millis(c.time),
                c.asset,
                c.close
            ));
        } else {
            output::line(format!(
                "{}  {}  open {}  high {}  low {}  close {}  ({} ticks)",
                format_unix(c.time),
                c.asset,
                c.open,
                c.high,
                c.low,
                c.close,
                c.ticks
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_their_names() {
        assert_eq!(parse_kind("ticks"), Ok(SubscriptionKind::Ticks));
        assert_eq!(
            parse_kind("candles:5s"),
            Ok(SubscriptionKind::Candles(Duration::from_secs(5)))
        );
        assert_eq!(parse_kind("chunks:10"), Ok(SubscriptionKind::Chunks(10)));
        assert_eq!(
            parse_kind("window:30s"),
            Ok(SubscriptionKind::Window(Duration::from_secs(30)))
        );
        for bad in [
            "candles",
            "chunks:0",
            "chunks:x",
            "ticks:1",
            "minutes:1",
            "candles:7s",
        ] {
            assert!(parse_kind(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
