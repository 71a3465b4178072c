//! `pocketoption candles ASSET`: historical candles as a table, CSV or JSON, and as a
//! candlestick PNG with `--png FILE`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::chart;
use crate::connect::ConnectArgs;
use crate::error::CliError;
use crate::output;
use crate::time::{format_duration, format_unix, parse_positive_duration, parse_time};

/// Fetch historical candles: a table, CSV, JSON, or a candlestick PNG
///
/// The --count candles of ASSET of --period ending at --end (the last one contains it),
/// oldest first.
///
/// Without --png the candles are printed (--format, a table by default); with --png FILE
/// they are drawn as a candlestick chart (no text: green rising, red falling candles, the
/// last close as a blue line, a light grid at tenths of the time and price ranges), and
/// printed only when --format is given too.
#[derive(Debug, clap::Args)]
pub(crate) struct CandlesArgs {
    /// The asset symbol, e.g. EURUSD_otc (see `pocketoption assets`)
    #[arg(value_name = "ASSET")]
    asset: String,

    /// The candle length: 5s, 15s, 30s, 1m, 5m, 15m, 30m, 1h, 4h, 1d...
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration, default_value = "1m")]
    period: Duration,

    /// How many candles
    #[arg(long, value_name = "N", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    count: u32,

    /// The end of the range: unix seconds or RFC 3339 (2025-03-21T18:23:25Z) [default: now,
    /// by the server's clock]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    end: Option<SystemTime>,

    /// How to print the candles [default: table, or nothing with --png]
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,

    /// Draw the candles as a candlestick chart into this PNG file
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,

    /// The chart's width in pixels
    #[arg(long, value_name = "PX", default_value_t = 1200, value_parser = clap::value_parser!(u32).range(50..=8000))]
    width: u32,

    /// The chart's height in pixels
    #[arg(long, value_name = "PX", default_value_t = 600, value_parser = clap::value_parser!(u32).range(50..=8000))]
    height: u32,

    #[command(flatten)]
    connect: ConnectArgs,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

impl CandlesArgs {
    pub(crate) async fn run(self) -> Result<(), CliError> {
        let session = self.connect.connect().await?;
        let end = self.end.unwrap_or_else(|| session.client.server_time().now);
        let candles = session
            .client
            .candles_until(&self.asset, self.period, self.count, end)
            .await;
        session.close().await;
        let candles = candles?;
        if let Some(path) = &self.png {
            let failed = |e: chart::ChartError| {
                CliError::from_error(e).context(format!("could not write {}", path.display()))
            };
            let rgb = chart::render(&candles, self.period.as_secs_f64(), self.width, self.height)
                .map_err(failed)?;
            chart::write_png(path, &rgb, self.width, self.height).map_err(failed)?;
            if self.format.is_none() {
                output::line(format!(
                    "wrote {}: {} candles of {} {}, {}×{} PNG",
                    path.display(),
                    candles.len(),
                    format_duration(self.period),
                    self.asset,
                    self.width,
                    self.height
                ));
                return Ok(());
            }
        }
        match self.format.unwrap_or(Format::Table) {
            Format::Json => {
                let rows: Vec<output::CandleRow<'_>> =
                    candles.iter().map(output::CandleRow::from).collect();
                output::json(&rows)?;
            }
            Format::Csv => {
                output::line("time,start,open,high,low,close,ticks");
                for c in &candles {
                    output::line(format!(
                        "{},{},{},{},{},{},{}",
                        c.time,
                        format_unix(c.time),
                        c.open,
                        c.high,
                        c.low,
                        c.close,
                        c.ticks
                    ));
                }
            }
            Format::Table => {
                if candles.is_empty() {
                    output::line(format!("no candles of {} in that range", self.asset));
                    return Ok(());
                }
                let rows: Vec<Vec<String>> = candles
                    .iter()
                    .map(|c| {
                        vec![
                            format_unix(c.time),
                            c.open.to_string(),
                            c.high.to_string(),
                            c.low.to_string(),
                            c.close.to_string(),
                            c.ticks.to_string(),
                        ]
                    })
                    .collect();
                output::line(output::table(
                    &["start (UTC)", "open", "high", "low", "close", "ticks"],
                    &rows,
                    &[1, 2, 3, 4, 5],
                ));
            }
        }
        Ok(())
    }
}
