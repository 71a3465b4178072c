//! `cargo xtask bench --instructions`: instructions per frame, counted by callgrind, for
//! the routed, tick and round-trip paths (ours and the bare baseline of each).
//!
//! Wall-clock figures move with the machine's load; instruction counts hardly do. The
//! suite binary serves floods of N1 and N2 units from one process (`--serve`), and runs
//! one path once per size in another (`--count`) under `valgrind --tool=callgrind`; the
//! difference between the two totals, divided by N2 − N1, is the cost of one unit with
//! the set-up (runtime, connection, handshake) cancelled out. Only the client's process
//! is counted.
//!
//! `crates/bench/instructions.json` is the committed baseline: per build profile (`bench`
//! for the optimized suite, `test` for the unoptimized one CI has already built), the CPU
//! it was recorded on and the counts. `--check` (and CI's smoke run, on the `test`
//! profile) fails when one of our paths costs more than 10 % over its baseline; the bare
//! paths are reported, not judged (they are tokio-tungstenite's). Counts depend a little
//! on the CPU (glibc picks its `memset`/`memcpy` by CPU features), so the check judges
//! only on the CPU model the baseline was recorded on, and elsewhere prints the
//! comparison with a note. `--record` writes the current profile's counts as the baseline.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::cmd::{self, cargo, root, target_dir};

/// Allowed growth of one of our paths over its baseline.
const TOLERANCE: f64 = 0.10;

/// Routing with 100 modules whose rules do not match may cost at most this many times
/// routing with one (issue 17's scale target).
const SCALE_LIMIT: f64 = 1.2;

/// One measured path: ours or a baseline, the server it talks to, its unit.
struct CountedPath {
    name: &'static str,
    /// `flood`, `po` or `socketio`: which URL of `--serve` it uses.
    server: &'static str,
    ours: bool,
    unit: &'static str,
}

const PATHS: &[CountedPath] = &[
    CountedPath {
        name: "routed",
        server: "flood",
        ours: true,
        unit: "frame",
    },
    CountedPath {
        name: "bare",
        server: "flood",
        ours: false,
        unit: "frame",
    },
    CountedPath {
        name: "ticks",
        server: "socketio",
        ours: true,
        unit: "tick",
    },
    CountedPath {
        name: "pairs",
        server: "po",
        ours: false,
        unit: "tick",
    },
    CountedPath {
        name: "rtt",
        server: "socketio",
        ours: true,
        unit: "round trip",
    },
    CountedPath {
        name: "rtt-bare",
        server: "po",
        ours: false,
        unit: "round trip",
    },
    // The scale figure: the routed path with 1 and with 100 more modules whose rules
    // match none of the frames; `routed-100` is compared with `routed-1` (target ≤ 1.2).
    CountedPath {
        name: "routed-1",
        server: "flood",
        ours: true,
        unit: "frame",
    },
    CountedPath {
        name: "routed-100",
        server: "flood",
        ours: true,
        unit: "frame",
    },
];

/// The path each of ours is compared with (the bare baseline, or for `routed-100` the
/// same path with one idle module).
const PAIRS: &[(&str, &str)] = &[
    ("routed", "bare"),
    ("ticks", "pairs"),
    ("rtt", "rtt-bare"),
    ("routed-100", "routed-1"),
];

/// How a run is built and sized.
#[derive(Clone, Copy)]
pub(crate) struct Profile {
    /// `bench` (optimized) or `test` (what CI's test step built).
    name: &'static str,
    /// Units of the smaller and the larger run (floods and ticks).
    units: (u64, u64),
    /// Round trips of the smaller and the larger run.
    round_trips: (u64, u64),
}

/// `cargo xtask bench --instructions`: the optimized suite.
pub(crate) const FULL: Profile = Profile {
    name: "bench",
    units: (20_000, 40_000),
    round_trips: (1_000, 2_000),
};

/// CI's smoke run: the unoptimized suite the test step built, small sizes.
pub(crate) const SMOKE: Profile = Profile {
    name: "test",
    units: (2_000, 4_000),
    round_trips: (200, 400),
};

fn baseline_path() -> PathBuf {
    root().join("crates/bench/instructions.json")
}

/// Counts every path, prints the table, writes `target/bench/instructions.json`; with
/// `check`, compares with the baseline; with `record`, writes the baseline.
pub(crate) fn run(profile: Profile, check: bool, record: bool) -> Result<(), String> {
    let started = std::time::Instant::now();
    if !cmd::on_path("valgrind") {
        return Err(
            "instruction counts need valgrind: `cargo xtask setup` installs it \
                    (or: sudo apt-get install -y valgrind)"
                .into(),
        );
    }
    let exe = suite_exe(profile)?;
    println!(
        "\n==> instructions per unit (callgrind, {} profile, {} vs {} units)",
        profile.name, profile.units.0, profile.units.1
    );
    let mut server = Served::start(&exe, profile.units)?;
    let mut counts: BTreeMap<&'static str, f64> = BTreeMap::new();
    for path in PATHS {
        let (small, large) = if path.name.starts_with("rtt") {
            profile.round_trips
        } else {
            profile.units
        };
        let count = |n: u64| -> Result<u64, String> {
            let url = server.url(
                path.server,
                if path.name.starts_with("rtt") {
                    profile.units.0
                } else {
                    n
                },
            )?;
            collected(&exe, path.name, &url, n)
        };
        let (a, b) = (count(small)?, count(large)?);
        let per_unit = b.saturating_sub(a) as f64 / (large - small) as f64;
        println!(
            "    {:<9} {per_unit:>10.0} instructions per {}",
            path.name, path.unit
        );
        counts.insert(path.name, per_unit);
    }
    server.stop();
    let cpu = cpu_model();
    println!("\n| path | ours (instr/unit) | bare | ratio |\n|---|---:|---:|---:|");
    for (ours, bare) in PAIRS {
        println!(
            "| `{ours}` | {:.0} | {:.0} | {:.2} |",
            counts[ours],
            counts[bare],
            counts[ours] / counts[bare]
        );
    }
    println!("CPU: {cpu}");
    let report = json!({ "profile": profile.name, "cpu": cpu, "counts": counts });
    let out = target_dir().join("bench/instructions.json");
    if let Some(dir) = out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&out, format!("{report:#}\n"))
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!("written: {}", out.display());
    if record {
        record_baseline(profile, &cpu, &counts)?;
    }
    let verdict = if check {
        compare(profile, &cpu, &counts)
    } else {
        Ok(())
    };
    let took = started.elapsed().as_secs_f64();
    cmd::record_step(
        &format!("instructions (callgrind, {} profile)", profile.name),
        took,
    );
    println!("    instructions: {took:.0}s");
    verdict
}

/// The suite binary of `profile`, built if needed.
fn suite_exe(profile: Profile) -> Result<PathBuf, String> {
    let mut command = match profile.name {
        "bench" => cargo(&["bench", "-p", "bench", "--bench", "suite", "--no-run"]),
        _ => cargo(&["test", "-p", "bench", "--bench", "suite", "--no-run"]),
    };
    command.args(["--message-format", "json-render-diagnostics"]);
    command.stdout(Stdio::piped());
    let output = command
        .output()
        .map_err(|e| format!("cannot build the bench suite: {e}"))?;
    if !output.status.success() {
        return Err("building the bench suite failed (see above)".into());
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|msg| msg["target"]["name"] == "suite")
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo named no executable for the bench suite".into())
}

/// The suite's `--serve` process and the URLs it printed.
struct Served {
    child: Child,
    urls: BTreeMap<String, String>,
}

impl Served {
    fn start(exe: &Path, (n1, n2): (u64, u64)) -> Result<Served, String> {
        let mut child = Command::new(exe)
            .args(["--serve", &n1.to_string(), &n2.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the bench servers: {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or("the bench servers have no stdout")?;
        let mut urls = BTreeMap::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line == "ready" {
                return Ok(Served { child, urls });
            }
            // `url KIND N URL`
            let mut parts = line.splitn(4, ' ');
            if let (Some("url"), Some(kind), Some(n), Some(url)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            {
                urls.insert(format!("{kind} {n}"), url.to_owned());
            }
        }
        let _ = child.kill();
        Err("the bench servers ended before they were ready".into())
    }

    fn url(&self, kind: &str, n: u64) -> Result<String, String> {
        self.urls
            .get(&format!("{kind} {n}"))
            .cloned()
            .ok_or_else(|| format!("the bench servers printed no {kind} URL for {n}"))
    }

    fn stop(&mut self) {
        // Closing stdin ends it.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Instructions callgrind collected for one `--count PATH URL N` run.
fn collected(exe: &Path, path: &str, url: &str, n: u64) -> Result<u64, String> {
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(exe)
        .args(["--count", path, url, &n.to_string()])
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "`--count {path}` under callgrind failed ({}): {}",
            output.status,
            stderr.lines().rev().take(5).collect::<Vec<_>>().join(" / ")
        ));
    }
    stderr
        .lines()
        .find_map(|line| line.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("callgrind printed no `Collected :` line for {path}"))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn read_baseline() -> Result<Value, String> {
    let path = baseline_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
        }
        Err(_) => Ok(json!({})),
    }
}

fn record_baseline(
    profile: Profile,
    cpu: &str,
    counts: &BTreeMap<&'static str, f64>,
) -> Result<(), String> {
    let mut baseline = read_baseline()?;
    let rounded: BTreeMap<&str, u64> = counts.iter().map(|(k, v)| (*k, v.round() as u64)).collect();
    baseline[profile.name] = json!({ "cpu": cpu, "counts": rounded });
    let path = baseline_path();
    std::fs::write(&path, format!("{baseline:#}\n"))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!(
        "    baseline recorded: {} ({} profile)",
        path.display(),
        profile.name
    );
    Ok(())
}

/// Compares our paths with the baseline of this profile.
fn compare(
    profile: Profile,
    cpu: &str,
    counts: &BTreeMap<&'static str, f64>,
) -> Result<(), String> {
    let baseline = read_baseline()?;
    let Some(recorded) = baseline.get(profile.name) else {
        return Err(format!(
            "no `{}` baseline in {}; record one with `cargo xtask bench --instructions --record`",
            profile.name,
            baseline_path().display()
        ));
    };
    let same_cpu = recorded["cpu"].as_str() == Some(cpu);
    let mut regressions = Vec::new();
    println!(
        "\n    against the baseline ({}):",
        recorded["cpu"].as_str().unwrap_or("?")
    );
    for path in PATHS {
        let Some(before) = recorded["counts"][path.name].as_f64() else {
            continue;
        };
        let now = counts[path.name];
        let change = now / before - 1.0;
        let judged = path.ours && same_cpu;
        let verdict = match (judged, change > TOLERANCE) {
            (true, true) => "REGRESSION",
            (true, false) => "ok",
            (false, _) => "not judged",
        };
        println!(
            "    {:<9} {before:>10.0} → {now:>10.0} ({:+.1} %) {verdict}",
            path.name,
            change * 100.0
        );
        if judged && change > TOLERANCE {
            regressions.push(format!("{} {:+.1} %", path.name, change * 100.0));
        }
    }
    // The scale target holds on any CPU: a ratio of two of our own paths.
    if let (Some(one), Some(hundred)) = (counts.get("routed-1"), counts.get("routed-100")) {
        let ratio = hundred / one;
        println!("    routed-100 / routed-1 = {ratio:.2} (at most {SCALE_LIMIT})");
        if ratio > SCALE_LIMIT {
            regressions.push(format!(
                "routed-100 costs {ratio:.2} × routed-1 (at most {SCALE_LIMIT})"
            ));
        }
    }
    if !same_cpu {
        println!(
            "    note: the baseline was recorded on another CPU ({}); counts differ a little \
             between CPUs (glibc picks its routines by CPU features), so nothing is judged here",
            recorded["cpu"].as_str().unwrap_or("?")
        );
    }
    if regressions.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "instructions per unit grew more than {:.0} % on: {} (if intended, re-record with \
             `cargo xtask bench --instructions --record` and say why in the commit)",
            TOLERANCE * 100.0,
            regressions.join(", ")
        ))
    }
}

/// CI's run: the unoptimized suite, small sizes, judged against the `test` baseline.
pub(crate) fn smoke() -> Result<(), String> {
    run(SMOKE, true, false)
}
