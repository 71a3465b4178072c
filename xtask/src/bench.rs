//! `cargo xtask bench`: the benchmark suite (`crates/bench`, `benches/suite/main.rs`).
//!
//! * `run` builds the suite in the `bench` profile (optimized) and runs it: full sizes, or
//!   short ones with `--quick`. The suite prints the table and writes
//!   `target/bench/report.json`, which it checks itself (`bench::report::check`, the one
//!   validator): a malformed report fails the suite.
//!   A full run then measures `py_ticks_throughput` and the Python order round trip
//!   (`python::bench`: a release wheel in its own venv, against the Rust client in the same
//!   run); `--quick` leaves it out.
//! * `smoke` (a step of `cargo xtask ci`) runs the suite with tiny sizes under the `test`
//!   profile (unoptimized), which the CI test step has already built: it keeps the suite
//!   compiling and running for a few seconds of CI time instead of an optimized build of
//!   the whole tree. It never judges figures, only that each was produced and the report
//!   is well formed.

use std::path::PathBuf;

use serde_json::Value;

use crate::cmd::{self, cargo, target_dir};

fn bench_dir() -> PathBuf {
    target_dir().join("bench")
}

pub(crate) fn run(quick: bool) -> Result<(), String> {
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
    if quick {
        println!(
            "bench: the Python figures are left out of a quick run (`cargo xtask python --bench`)"
        );
        return Ok(());
    }
    crate::python::bench()
}

/// The short smoke run `cargo xtask ci` makes, to keep the benchmarks compiling and running.
pub(crate) fn smoke() -> Result<(), String> {
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

/// The figure names in a report the suite wrote. The suite checks the report's shape and
/// the required figures itself (`bench::report::check`) and fails when they are wrong;
/// this only confirms the file is there.
fn check_report(path: &std::path::Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "bench: the suite wrote no report at {}: {e}",
            path.display()
        )
    })?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| format!("bench: {} is not JSON: {e}", path.display()))?;
    Ok(value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|figure| figure["name"].as_str().map(str::to_owned))
        .collect())
}
