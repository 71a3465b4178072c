//! `cargo xtask bench`: the benchmark suite (`crates/bench`, `benches/suite/main.rs`).
//!
//! * `run` builds the suite in the `bench` profile (optimized) and runs it: full sizes, or
//!   short ones with `--quick`. The suite prints the table and writes
//!   `target/bench/report.json`; this checks that the report is well formed.
//! * `smoke` (a step of `cargo xtask ci`) runs the suite with tiny sizes under the `test`
//!   profile (unoptimized), which the CI test step has already built: it keeps the suite
//!   compiling and running for a few seconds of CI time instead of an optimized build of
//!   the whole tree. It never judges figures, only that each was produced and the report
//!   is well formed.

use std::path::PathBuf;

use serde_json::Value;

use crate::cmd::{self, cargo, target_dir};

/// The figures every run must produce (the suite's `report::REQUIRED`).
const REQUIRED: &[&str] = &[
    "routed_throughput",
    "ezsockets_throughput",
    "po_ticks_throughput",
    "rtt_p50",
    "rtt_p99",
    "stalled_rss_growth",
    "idle_client_rss",
    "reconnect_delay",
];

fn bench_dir() -> PathBuf {
    target_dir().join("bench")
}

pub fn run(quick: bool) -> Result<(), String> {
    let out = bench_dir().join("report.json");
    let out_arg = out.to_string_lossy().into_owned();
    let mut suite_args = vec!["bench", "-p", "bench", "--bench", "suite", "--"];
    if quick {
        suite_args.push("--quick");
    }
    suite_args.extend(["--out", &out_arg]);
    cmd::run(
        if quick {
            "benchmarks (quick)"
        } else {
            "benchmarks"
        },
        &mut cargo(&suite_args),
    )?;
    let figures = check_report(&out)?;
    println!(
        "\nbench: {} figures in {} (README: crates/bench/README.md)",
        figures.len(),
        out.display()
    );
    Ok(())
}

/// The short smoke run `cargo xtask ci` makes, to keep the benchmarks compiling and running.
pub fn smoke() -> Result<(), String> {
    let out = bench_dir().join("smoke.json");
    let out_arg = out.to_string_lossy().into_owned();
    let _ = std::fs::remove_file(&out);
    cmd::run(
        "bench smoke (tiny sizes, unoptimized; figures not judged)",
        &mut cargo(&[
            "test", "-p", "bench", "--bench", "suite", "--", "--smoke", "--out", &out_arg,
        ]),
    )?;
    let figures = check_report(&out)?;
    println!(
        "    bench smoke: {} figures, report well formed",
        figures.len()
    );
    Ok(())
}

/// Reads a report and checks its shape; returns the figure names.
fn check_report(path: &std::path::Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "bench: the suite wrote no report at {}: {e}",
            path.display()
        )
    })?;
    check_figures(&text).map_err(|e| format!("bench: {} is malformed: {e}", path.display()))
}

/// A report is a JSON list of objects, each with a string `name` and `unit` and numbers
/// `value`, `baseline` and `ratio`; every required figure is there.
fn check_figures(text: &str) -> Result<Vec<String>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Value::Array(items) = value else {
        return Err("the report is not a list".into());
    };
    let mut names = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(name) = item.get("name").and_then(Value::as_str) else {
            return Err(format!("entry {i} has no string `name`"));
        };
        if item.get("unit").and_then(Value::as_str).is_none() {
            return Err(format!("`{name}` has no string `unit`"));
        }
        for key in ["value", "baseline", "ratio"] {
            if !item
                .get(key)
                .and_then(Value::as_f64)
                .is_some_and(f64::is_finite)
            {
                return Err(format!("`{name}`: `{key}` is not a number"));
            }
        }
        names.push(name.to_owned());
    }
    if let Some(missing) = REQUIRED.iter().find(|r| !names.iter().any(|n| n == *r)) {
        return Err(format!("figure `{missing}` is missing"));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(names: &[&str]) -> String {
        let items: Vec<String> = names
            .iter()
            .map(|n| {
                format!(
                    r#"{{"name": "{n}", "value": 1.5e3, "unit": "ms", "baseline": 2, "ratio": 0.75, "target": null, "met": true}}"#
                )
            })
            .collect();
        format!("[\n  {}\n]\n", items.join(",\n  "))
    }

    #[test]
    fn a_report_with_every_figure_is_accepted() {
        let names = check_figures(&report(REQUIRED)).unwrap();
        assert_eq!(names.len(), REQUIRED.len());
    }

    #[test]
    fn a_missing_figure_or_a_broken_report_is_refused() {
        let err = check_figures(&report(&REQUIRED[1..])).unwrap_err();
        assert!(err.contains("routed_throughput"), "{err}");
        assert!(check_figures("[").is_err());
        assert!(check_figures("{}").is_err());
        let text = report(REQUIRED).replacen("1.5e3", "\"fast\"", 1);
        assert!(
            check_figures(&text)
                .unwrap_err()
                .contains("`value` is not a number")
        );
    }
}
