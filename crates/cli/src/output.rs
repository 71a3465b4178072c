//! Writing results: lines on stdout (a closed pipe, as in `| head`, ends the program
//! quietly instead of panicking), aligned tables for people, one-line JSON for scripts, and
//! the `--json` flag every command shares.

use std::io::Write;

use serde::Serialize;

use crate::error::CliError;
use crate::time::format_unix;

/// `--json`: machine-readable output.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct JsonFlag {
    /// Print JSON for scripts (one object or array per line) instead of text for people
    #[arg(long)]
    pub json: bool,
}

/// Writes `text` and a newline to stdout. When stdout's reader has gone (a closed pipe),
/// there is nobody left to tell anything: the process ends with 0, as `grep | head` does.
pub(crate) fn line(text: impl AsRef<str>) {
    let mut stdout = std::io::stdout().lock();
    let written = writeln!(stdout, "{}", text.as_ref()).and_then(|()| stdout.flush());
    if let Err(error) = written {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        // Any other stdout failure (a full disk): say it once on stderr and stop.
        eprintln!("error: could not write to stdout\n  caused by: {error}");
        std::process::exit(1);
    }
}

/// Writes `value` as one line of JSON.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string(value)
        .map_err(|e| CliError::failure(format!("could not write the JSON output: {e}")))?;
    line(text);
    Ok(())
}

/// An aligned text table: a header row, then the rows; columns in `right` are aligned
/// right (numbers), the others left.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let columns = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i > 0 {
                out.push_str("  ");
            }
            if right.contains(&i) {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if i + 1 < cells.len() {
                    out.push_str(&" ".repeat(pad));
                }
            }
        }
        out
    };
    let mut out = render(headers.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&render(row.iter().map(String::as_str).collect()));
    }
    out
}

/// One candle as JSON (`candles --format json`, `stream --json`).
#[derive(Serialize)]
pub(crate) struct CandleRow<'a> {
    asset: &'a str,
    /// Start of the candle, unix seconds.
    time: f64,
    /// Start of the candle, RFC 3339 UTC.
    start: String,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    ticks: u32,
}

impl<'a> From<&'a binary_options_tools::Candle> for CandleRow<'a> {
    fn from(c: &'a binary_options_tools::Candle) -> Self {
        CandleRow {
            asset: &c.asset,
            time: c.time,
            start: format_unix(c.time),
            open: c.open,
            high: c.high,
            low: c.low,
            close: c.close,
            ticks: c.ticks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_text_left_and_numbers_right() {
        let rows = vec![
            vec!["EURUSD_otc".to_owned(), "92".to_owned(), "x".to_owned()],
            vec!["BTC".to_owned(), "8".to_owned(), "long cell".to_owned()],
        ];
        let text = table(&["symbol", "payout", "note"], &rows, &[1]);
        assert_eq!(
            text,
            "symbol      payout  note\nEURUSD_otc      92  x\nBTC              8  long cell"
        );
    }
}
