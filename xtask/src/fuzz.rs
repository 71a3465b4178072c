//! `cargo xtask fuzz --seconds N`: builds the cargo-fuzz targets in `fuzz/` and runs each
//! for N seconds, printing how many inputs each executed; fails on any crash.
//!
//! cargo-fuzz needs a nightly toolchain (for `-Zsanitizer=address`) and the `cargo-fuzz`
//! binary. The nightly toolchain must already be installed (rustup cannot download one
//! everywhere); `cargo-fuzz` is installed from crates.io into `target/tools` on first use.
//! Each target's working corpus is `fuzz/corpus/<target>` (not committed): it is seeded
//! with the small hand-written inputs below, and grows across local runs. A crash leaves
//! its input in `fuzz/artifacts/<target>/`, and the failure message says how to replay it.
//!
//! `cargo xtask ci` calls [`smoke`]: a short run of every target when nightly and
//! cargo-fuzz are available, otherwise a plain compile check of the targets on stable.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cmd::{self, root};

/// Every fuzz target, in the order they run.
pub(crate) const TARGETS: &[&str] = &[
    "codec_decode",
    "reassembler",
    "ssid_parse",
    "jsonrpc_decode",
    "signature_verify",
    "tick_rows",
];

/// The cargo-fuzz release installed into `target/tools`.
const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// Seconds per target in the CI smoke run.
const SMOKE_SECONDS: u64 = 10;
/// How long a target may run past its time budget (start-up, seed loading) before it is
/// killed and reported as hung.
const GRACE: Duration = Duration::from_secs(120);
/// Codegen units for the fuzz build: 16 builds far faster on 2 cores than cargo-fuzz's
/// default of 1, for slightly slower inputs per second.
const CODEGEN_UNITS: &str = "16";

/// What one target's run came to.
struct TargetRun {
    target: &'static str,
    executions: u64,
    /// libFuzzer's own count when it reports one, else the wall time of the run.
    seconds: f64,
    corpus: usize,
    crash: Option<String>,
}

pub(crate) fn run(seconds: u64, targets: &[String], build_only: bool) -> Result<(), String> {
    // clap accepts only names from TARGETS; keep them in TARGETS' order.
    let targets: Vec<&'static str> = if targets.is_empty() {
        TARGETS.to_vec()
    } else {
        TARGETS
            .iter()
            .copied()
            .filter(|t| targets.iter().any(|wanted| wanted == t))
            .collect()
    };
    if !nightly_available() {
        return Err(
            "fuzzing needs a nightly toolchain (cargo-fuzz uses -Zsanitizer); \
                    install it with `rustup toolchain install nightly`"
                .into(),
        );
    }
    ensure_cargo_fuzz()?;
    build()?;
    if build_only {
        return Ok(());
    }
    let runs = run_targets(&targets, seconds)?;
    report(&runs)
}

/// The run `cargo xtask ci` makes: every target for a few seconds when the fuzz toolchain
/// is there (or can be installed), otherwise a compile check of the targets.
pub(crate) fn smoke() -> Result<(), String> {
    let started = Instant::now();
    let missing = if !nightly_available() {
        Some("no nightly toolchain".to_owned())
    } else {
        ensure_cargo_fuzz()
            .err()
            .map(|e| format!("cargo-fuzz could not be installed ({e})"))
    };
    if let Some(missing) = missing {
        println!("\n==> fuzz smoke: {missing}; compiling the targets only");
        cmd::run(
            "fuzz targets compile (stable, no sanitizer)",
            Command::new(stable_cargo())
                .args(["check", "--bins", "--manifest-path"])
                .arg(root().join("fuzz/Cargo.toml"))
                .current_dir(root()),
        )?;
        return Ok(());
    }
    build()?;
    let runs = run_targets(TARGETS, SMOKE_SECONDS)?;
    report(&runs)?;
    println!(
        "    ok: fuzz smoke ({:.1}s in all)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The cargo that runs xtask (stable), for commands that need no nightly.
fn stable_cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn tools_bin() -> PathBuf {
    root().join("target/tools/bin")
}

/// A `cargo +nightly fuzz …` command from the workspace root, with cargo-fuzz on PATH.
///
/// The variables cargo sets for xtask itself (`CARGO`, `RUSTC`, a pinned
/// `RUSTUP_TOOLCHAIN`) are removed: cargo-fuzz would otherwise call the stable cargo.
fn cargo_fuzz(args: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command
        .arg("+nightly")
        .arg("fuzz")
        .args(args)
        .current_dir(root())
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .env_remove("RUSTUP_TOOLCHAIN");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let paths = std::iter::once(tools_bin()).chain(std::env::split_paths(&path));
    if let Ok(joined) = std::env::join_paths(paths) {
        command.env("PATH", joined);
    }
    command
}

fn nightly_available() -> bool {
    Command::new("cargo")
        .args(["+nightly", "--version"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs cargo-fuzz into `target/tools` unless that exact version is there.
fn ensure_cargo_fuzz() -> Result<(), String> {
    let binary = tools_bin().join("cargo-fuzz");
    let installed = Command::new(&binary)
        .arg("--version")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(CARGO_FUZZ_VERSION));
    if installed {
        return Ok(());
    }
    crate::tools::cargo_install("cargo-fuzz", CARGO_FUZZ_VERSION, true)
}

fn build() -> Result<(), String> {
    cmd::run(
        "fuzz targets build (nightly, address sanitizer)",
        &mut cargo_fuzz(&["build", "--codegen-units", CODEGEN_UNITS]),
    )
}

fn run_targets(targets: &[&'static str], seconds: u64) -> Result<Vec<TargetRun>, String> {
    let logs = root().join("target/fuzz-logs");
    fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    targets
        .iter()
        .map(|target| run_target(target, seconds, &logs))
        .collect()
}

/// Runs one target for `seconds`, its output going to `target/fuzz-logs/<target>.log`.
fn run_target(target: &'static str, seconds: u64, logs: &Path) -> Result<TargetRun, String> {
    let corpus = root().join("fuzz/corpus").join(target);
    write_seeds(target, &corpus)?;
    let log_path = logs.join(format!("{target}.log"));
    let log = fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("cannot share {}: {e}", log_path.display()))?;
    let budget = format!("-max_total_time={seconds}");
    let corpus_arg = corpus.to_string_lossy().into_owned();
    println!(
        "\n==> fuzz {target} for {seconds}s (log: {})",
        log_path.display()
    );
    let started = Instant::now();
    let mut child = cargo_fuzz(&[
        "run",
        "--codegen-units",
        CODEGEN_UNITS,
        target,
        &corpus_arg,
        "--",
        &budget,
        "-print_final_stats=1",
    ])
    .stdout(Stdio::from(log))
    .stderr(Stdio::from(log_err))
    .spawn()
    .map_err(|e| format!("could not start cargo fuzz run {target}: {e}"))?;

    let deadline = Duration::from_secs(seconds) + GRACE;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => return Err(format!("waiting for the {target} fuzzer failed: {e}")),
        }
    };
    let mut output = String::new();
    fs::File::open(&log_path)
        .and_then(|mut f| f.read_to_string(&mut output))
        .map_err(|e| format!("cannot read {}: {e}", log_path.display()))?;

    let crash = match status {
        None => Some(format!("did not finish within {deadline:?}; killed")),
        Some(status) if !status.success() || output.contains("ERROR: libFuzzer") => {
            Some(describe_crash(target, &output, status.to_string()))
        }
        Some(_) => None,
    };
    let (executions, fuzz_seconds) = executions(&output);
    let executions = executions.unwrap_or(0);
    if crash.is_none() && executions == 0 {
        return Err(format!(
            "fuzz target {target} finished without reporting executions; see {}",
            log_path.display()
        ));
    }
    Ok(TargetRun {
        target,
        executions,
        seconds: fuzz_seconds
            .map(|s| s as f64)
            .unwrap_or_else(|| started.elapsed().as_secs_f64()),
        corpus: fs::read_dir(&corpus).map(|d| d.count()).unwrap_or(0),
        crash,
    })
}

/// libFuzzer's final count of executed inputs (`stat::number_of_executed_units: N`, else
/// `Done N runs in S second(s)`) and its own count of seconds, which leaves out any
/// compiling `cargo fuzz run` did first.
fn executions(output: &str) -> (Option<u64>, Option<u64>) {
    let done = output.lines().rev().find_map(|line| {
        let rest = line.strip_prefix("Done ")?;
        let mut words = rest.split_whitespace();
        let runs = words.next()?.parse().ok()?;
        let seconds = words.nth(2)?.parse().ok()?;
        Some((runs, seconds))
    });
    let stat = output.lines().find_map(|line| {
        line.strip_prefix("stat::number_of_executed_units:")
            .and_then(|n| n.trim().parse().ok())
    });
    (stat.or(done.map(|d| d.0)), done.map(|d| d.1))
}

/// The panic or sanitizer message, the saved input, and how to replay it.
fn describe_crash(target: &str, output: &str, status: String) -> String {
    let reason = output
        .lines()
        .skip_while(|line| !line.contains("panicked at") && !line.contains("ERROR: "))
        .take(3)
        .collect::<Vec<_>>()
        .join(" | ");
    let artifact = output.lines().find_map(|line| {
        line.split("Test unit written to ")
            .nth(1)
            .map(|path| path.trim().to_owned())
    });
    match artifact {
        Some(path) => format!(
            "{reason} ({status}); input saved to {path}; replay: cargo +nightly fuzz run {target} {path}"
        ),
        None => format!("{reason} ({status})"),
    }
}

fn report(runs: &[TargetRun]) -> Result<(), String> {
    println!("\nfuzz results (libFuzzer, address sanitizer):");
    println!(
        "  {:<18} {:>12} {:>10} {:>8} {:>8}  result",
        "target", "executions", "exec/s", "seconds", "corpus"
    );
    for run in runs {
        println!(
            "  {:<18} {:>12} {:>10.0} {:>8.1} {:>8}  {}",
            run.target,
            run.executions,
            run.executions as f64 / run.seconds.max(0.001),
            run.seconds,
            run.corpus,
            if run.crash.is_some() {
                "CRASH"
            } else {
                "ok, no crash"
            }
        );
    }
    let crashes: Vec<String> = runs
        .iter()
        .filter_map(|run| run.crash.as_ref().map(|c| format!("{}: {c}", run.target)))
        .collect();
    if crashes.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzzing found {} crashing target(s):\n  {}\n(full logs in target/fuzz-logs/)",
            crashes.len(),
            crashes.join("\n  ")
        ))
    }
}

/// Writes the target's seeds into its corpus (only the missing ones).
fn write_seeds(target: &str, corpus: &Path) -> Result<(), String> {
    fs::create_dir_all(corpus).map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
    for (index, seed) in seeds(target).iter().enumerate() {
        let path = corpus.join(format!("seed-{index:02}"));
        if !path.exists() {
            fs::write(&path, seed).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Small real-world inputs per target, in each target's input layout (see the target's
/// docs in `fuzz/fuzz_targets/`).
fn seeds(target: &str) -> Vec<Vec<u8>> {
    const TICK_HEADER: &str = r#"451-["updateStream",{"_placeholder":true,"num":0}]"#;
    const TICK: &str = r#"[["EURUSD_otc",1732288888.123,1.05123]]"#;
    const DOC_SIGNATURE: &str = "b91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd\
        6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c";
    const GENERATOR_KEY: &str = "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\
        483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";
    let text = |s: &str| s.as_bytes().to_vec();
    match target {
        "codec_decode" => [
            r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
            "2",
            "3probe",
            "1",
            "6",
            "40",
            r#"40{"sid":"def"}"#,
            "41",
            r#"44{"message":"not allowed"}"#,
            r#"42["ps"]"#,
            r#"42["changeSymbol",{"asset":"EURUSD_otc","period":60}]"#,
            r#"42/trade,7["openOrder",{"amount":1.5e1,"action":"call"},null]"#,
            r#"430[true]"#,
            r#"431["x",{"y":[1,-2.5,"z"]}]"#,
            TICK_HEADER,
            r#"452-["pair",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#,
            r#"461-[{"_placeholder":true,"num":0}]"#,
            r#"42["a\"b\u00e9",1e400,{}]"#,
        ]
        .iter()
        .map(|s| text(s))
        .collect(),
        "reassembler" => {
            // [limits] then records [kind][len][bytes]: kind 0 text, 1 binary, +2 reset.
            let record = |kind: u8, frame: &[u8]| {
                let mut out = vec![kind, frame.len() as u8];
                out.extend_from_slice(frame);
                out
            };
            let two = r#"452-["pair",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
            vec![
                [
                    vec![0],
                    record(0, TICK_HEADER.as_bytes()),
                    record(1, TICK.as_bytes()),
                    record(0, br#"42["ps"]"#),
                ]
                .concat(),
                [
                    vec![2],
                    record(0, two.as_bytes()),
                    record(1, b"[1]"),
                    record(1, b"{\"a\":2}"),
                ]
                .concat(),
                // A text frame while an attachment is missing, then a stray binary frame.
                [
                    vec![0],
                    record(0, TICK_HEADER.as_bytes()),
                    record(0, b"2"),
                    record(1, TICK.as_bytes()),
                ]
                .concat(),
                // Too large for the 64-byte limit; then a reset while pending.
                [
                    vec![1],
                    record(0, TICK_HEADER.as_bytes()),
                    record(1, TICK.as_bytes()),
                    record(0, TICK_HEADER.as_bytes()),
                    record(3, b"[]"),
                ]
                .concat(),
            ]
        }
        "ssid_parse" => {
            let real = r#"42["auth",{"session":"a:4:{s:10:\"session_id\";s:32:\"0123456789abcdef0123456789abcdef\";s:10:\"ip_address\";s:7:\"1.2.3.4\";s:10:\"user_agent\";s:11:\"Mozilla/5.0\";s:13:\"last_activity\";i:1700000000;}ffffffffffffffffffffffffffffffff","isDemo":0,"uid":87654321,"platform":2}]"#;
            let mut seeds: Vec<Vec<u8>> = [
                r#"42["auth",{"session":"abcdef0123456789","isDemo":1,"uid":12345678,"platform":2}]"#,
                r#"{"session":"token","isDemo":1,"uid":42,"platform":2,"isFastHistory":true,"isOptimized":true}"#,
                r#"42['auth',{'session':'abcdef0123456789','isDemo':1,'uid':12345678,'platform':2,'currentUrl':'cabinet/demo-quick-high-low'}]"#,
                r#"{session:abcdef0123456789,isDemo:1,uid:12345678,platform:2}"#,
                real,
            ]
            .iter()
            .map(|s| [&[0u8][..], s.as_bytes()].concat())
            .collect();
            // Generated mode: [128 + ..][wrapping][uid: 4][cut: 2][token bytes].
            for wrapping in 0..8u8 {
                seeds.push([&[128, wrapping, 1, 2, 3, 4, 0, 0][..], b"secretvalue1"].concat());
            }
            seeds.push([&[200, 0, 9, 9, 9, 9, 30, 0][..], b"cutoffsecret"].concat());
            seeds
        }
        "jsonrpc_decode" => [
            r#"{"jsonrpc":"2.0","id":7,"result":"pong"}"#,
            r#"{"jsonrpc":"2.0","id":8,"result":null}"#,
            r#"{"jsonrpc":"2.0","id":9,"error":{"code":-32002,"message":"bad","data":[1]}}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":5,"method":"fetch_nonce","params":{"pubkey":"04ab"}}"#,
            r#"{"jsonrpc":"2.0","method":"tick","params":{"n":1.25e-3}}"#,
            r#"{"id":3,"method":"ping"}"#,
            "[1,2]",
        ]
        .iter()
        .map(|s| text(s))
        .collect(),
        "signature_verify" => {
            // Odd mode: honest [32-byte key][tweak][message].
            let mut honest = vec![1u8];
            honest.extend(1..=32u8);
            honest.push(7);
            honest.extend_from_slice(b"nonce-123");
            // Even mode: hostile [len][public key][len][signature][message].
            let hostile = |key: &str, signature: &str, message: &str| {
                let mut out = vec![0u8, key.len() as u8];
                out.extend_from_slice(key.as_bytes());
                out.push(signature.len() as u8);
                out.extend_from_slice(signature.as_bytes());
                out.extend_from_slice(message.as_bytes());
                out
            };
            vec![
                honest,
                hostile(GENERATOR_KEY, DOC_SIGNATURE, "Some data"),
                hostile(&format!("0x{GENERATOR_KEY}"), &format!("0x{DOC_SIGNATURE}"), "x"),
                hostile(&format!("02{}", &GENERATOR_KEY[2..66]), DOC_SIGNATURE, ""),
            ]
        }
        "tick_rows" => [
            TICK,
            r##"[["EURUSD_otc",1732288888.123,1.05123], ["#AAPL_otc", 1732288888124, 190.5]]"##,
            "[]",
            r#"[["A\"B",-0,1e2]]"#,
            r#" [ ["A" , -0.5e-3 , 2E+2 ] ] "#,
        ]
        .iter()
        .map(|s| text(s))
        .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executions_come_from_the_final_stats_or_the_done_line() {
        let stats = "#910360\tDONE   cov: 1314\nDone 910360 runs in 21 second(s)\n\
                     stat::number_of_executed_units: 910361\n";
        assert_eq!(executions(stats), (Some(910361), Some(21)));
        assert_eq!(
            executions("Done 42 runs in 3 second(s)"),
            (Some(42), Some(3))
        );
        assert_eq!(
            executions("==1== ERROR: libFuzzer: deadly signal"),
            (None, None)
        );
    }

    #[test]
    fn a_crash_report_names_the_panic_and_how_to_replay_it() {
        let output = "#1 NEW\nthread '<unnamed>' panicked at fuzz_targets/x.rs:3:5:\nboom\n\
                      stack backtrace:\nartifact_prefix='a/'; Test unit written to a/crash-1\n";
        let text = describe_crash("x", output, "exit status: 1".into());
        assert!(text.contains("panicked at fuzz_targets/x.rs:3:5"), "{text}");
        assert!(text.contains("boom"), "{text}");
        assert!(
            text.contains("cargo +nightly fuzz run x a/crash-1"),
            "{text}"
        );
    }

    #[test]
    fn every_target_has_seeds_that_fit_its_input_layout() {
        for target in TARGETS {
            let seeds = seeds(target);
            assert!(!seeds.is_empty(), "{target} has no seeds");
            assert!(
                seeds.iter().all(|s| s.len() <= 4096),
                "{target}: seed over max_len"
            );
        }
        // Reassembler records carry a one-byte length: every frame must fit it.
        for seed in seeds("reassembler") {
            let mut rest = &seed[1..];
            while let [_kind, len, tail @ ..] = rest {
                assert!(
                    usize::from(*len) <= tail.len(),
                    "a record runs past its seed"
                );
                rest = &tail[usize::from(*len)..];
            }
            assert!(
                rest.is_empty(),
                "a reassembler seed ends inside a record header"
            );
        }
    }
}
