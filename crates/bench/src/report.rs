//! The report: one [`Figure`] per measurement, printed as a table and written as JSON
//! (`target/bench/report.json`, a list of `{"name","value","unit","baseline","ratio"}`
//! objects, plus the target and whether it was met where there is one).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::error::BenchError;

/// The figures every run produces, by their stable names.
pub const REQUIRED: &[&str] = &[
    "routed_throughput",
    "ezsockets_throughput",
    "po_ticks_throughput",
    "rtt_p50",
    "rtt_p99",
    "stalled_rss_growth",
    "idle_client_rss",
    "reconnect_delay",
    "server_broadcast",
    "server_isolation",
    "server_echo_rtt_p99",
    "server_idle_rss",
    "hub_fanout",
];

/// One measured figure and its baseline from the same run.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Stable name (see [`REQUIRED`]).
    pub name: String,
    /// Ours.
    pub value: f64,
    /// `frames/s`, `us`, `MiB`, `KiB`, `ms`…
    pub unit: String,
    /// The baseline, in the same unit.
    pub baseline: f64,
    /// `value / baseline`.
    pub ratio: f64,
    /// The target, in words (`None` for figures without one).
    pub target: Option<String>,
    /// Whether the target holds.
    pub met: Option<bool>,
    /// What the baseline is.
    pub baseline_is: String,
    /// The lowest and highest per-round ratio, when the figure is the median of several
    /// interleaved rounds (ours and the baseline alternating).
    pub ratio_spread: Option<(f64, f64)>,
}

impl Figure {
    /// A figure with `ratio = value / baseline` and no target yet.
    pub fn new(name: &str, value: f64, unit: &str, baseline: f64, baseline_is: &str) -> Figure {
        let ratio = if baseline != 0.0 {
            value / baseline
        } else {
            0.0
        };
        Figure {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            baseline,
            ratio,
            target: None,
            met: None,
            baseline_is: baseline_is.to_owned(),
            ratio_spread: None,
        }
    }

    /// Records the spread of the per-round ratios (`ours[i] / baseline[i]`).
    pub fn with_rounds(mut self, ours: &[f64], baseline: &[f64]) -> Figure {
        let ratios: Vec<f64> = ours
            .iter()
            .zip(baseline)
            .filter(|(_, b)| **b != 0.0)
            .map(|(o, b)| o / b)
            .collect();
        if ratios.len() > 1 {
            let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            let high = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            self.ratio_spread = Some((low, high));
        }
        self
    }

    /// Sets the target and whether it holds.
    pub fn with_target(mut self, target: impl Into<String>, met: bool) -> Figure {
        self.target = Some(target.into());
        self.met = Some(met);
        self
    }

    fn to_json(&self) -> Value {
        // Non-finite numbers are not JSON; they never come from a finished measurement.
        let number = |x: f64| {
            if x.is_finite() {
                json!(round(x))
            } else {
                Value::Null
            }
        };
        json!({
            "name": self.name,
            "value": number(self.value),
            "unit": self.unit,
            "baseline": number(self.baseline),
            "ratio": number(self.ratio),
            "baseline_is": self.baseline_is,
            "target": self.target,
            "met": self.met,
            "ratio_spread": self.ratio_spread.map(|(low, high)| json!([number(low), number(high)])),
        })
    }
}

/// Four significant decimals are plenty for any of these figures.
fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The JSON text of a report.
pub fn to_json(figures: &[Figure]) -> String {
    let list: Vec<Value> = figures.iter().map(Figure::to_json).collect();
    // Serializing a `Value` cannot fail.
    serde_json::to_string_pretty(&Value::Array(list)).unwrap_or_default()
}

/// Writes the report to `path`, creating its directory.
pub fn write(path: &Path, figures: &[Figure]) -> Result<(), BenchError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, to_json(figures) + "\n")?;
    Ok(())
}

/// Checks a report's JSON: a list of objects with a string `name` and `unit` and numeric
/// `value`, `baseline` and `ratio`, holding every [`REQUIRED`] name. Returns the names.
pub fn check(json: &str) -> Result<Vec<String>, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let list = value.as_array().ok_or("the report is not a list")?;
    let mut names = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let name = item["name"]
            .as_str()
            .ok_or(format!("entry {i} has no string name"))?;
        if item["unit"].as_str().is_none() {
            return Err(format!("{name}: no string unit"));
        }
        for key in ["value", "baseline", "ratio"] {
            if !item[key].is_number() {
                return Err(format!("{name}: {key} is not a number"));
            }
        }
        names.push(name.to_owned());
    }
    if let Some(missing) = REQUIRED.iter().find(|r| !names.iter().any(|n| n == *r)) {
        return Err(format!("figure `{missing}` is missing"));
    }
    Ok(names)
}

fn show(x: f64) -> String {
    if x.abs() >= 10_000.0 {
        // Thousands separators for rates.
        let digits = format!("{:.0}", x);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

/// The report as a Markdown table (printed, and pasted into the README).
pub fn table(figures: &[Figure]) -> String {
    let mut out = String::new();
    out.push_str("| figure | ours | baseline | ratio (per-round spread) | target | met |\n");
    out.push_str("|---|---:|---:|---:|---|---|\n");
    for f in figures {
        let met = match f.met {
            Some(true) => "yes",
            Some(false) => "**MISSED**",
            None => "",
        };
        let spread = f
            .ratio_spread
            .map(|(low, high)| format!(" ({low:.2}–{high:.2})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| `{}` | {} {} | {} ({}) | {:.2}{spread} | {} | {} |",
            f.name,
            show(f.value),
            f.unit,
            show(f.baseline),
            f.baseline_is,
            f.ratio,
            f.target.as_deref().unwrap_or(""),
            met
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_required() -> Vec<Figure> {
        REQUIRED
            .iter()
            .map(|name| Figure::new(name, 2.0, "ms", 4.0, "bare").with_target("≤ 1", true))
            .collect()
    }

    #[test]
    fn a_report_with_every_figure_passes_the_check_and_the_ratio_is_value_over_baseline() {
        let figures = all_required();
        assert_eq!(figures[0].ratio, 0.5);
        let json = to_json(&figures);
        assert_eq!(check(&json).unwrap().len(), REQUIRED.len());
        let parsed: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed[0]["name"], "routed_throughput");
        assert_eq!(parsed[0]["ratio"], 0.5);
        assert_eq!(parsed[0]["met"], true);
    }

    #[test]
    fn the_check_names_a_missing_figure_or_a_malformed_entry() {
        let mut figures = all_required();
        figures.retain(|f| f.name != "rtt_p99");
        assert_eq!(
            check(&to_json(&figures)).unwrap_err(),
            "figure `rtt_p99` is missing"
        );
        let mut figures = all_required();
        figures[1].value = f64::NAN;
        assert!(
            check(&to_json(&figures))
                .unwrap_err()
                .contains("value is not a number")
        );
        assert!(check("{").is_err());
        assert!(check("{}").is_err());
    }

    #[test]
    fn the_table_flags_a_missed_target() {
        let figures = vec![
            Figure::new("rtt_p50", 30.0, "us", 20.0, "bare").with_target("≤ bare + 10 us", true),
            Figure::new("rtt_p99", 90.0, "us", 40.0, "bare").with_target("≤ 1.3 × bare", false),
        ];
        let table = table(&figures);
        assert!(
            table.contains("| `rtt_p50` | 30.0 us | 20.0 (bare) | 1.50 |"),
            "{table}"
        );
        assert!(table.contains("**MISSED**"));
        assert_eq!(show(1_234_567.0), "1,234,567");
    }
}
