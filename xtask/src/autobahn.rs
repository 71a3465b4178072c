//! `cargo xtask autobahn`: the Autobahn WebSocket conformance cases against our client.
//!
//! The fuzzing server is the PyPI package `kosoku` (Autobahn's own case files, run by a
//! Rust runner; Python ≥ 3.10), installed into a virtual environment in
//! `target/autobahn-venv`. It listens on a free loopback port and serves cases 1–10 (the
//! 12.x and 13.x compression cases are excluded: our transport does not negotiate
//! permessage-deflate). The client is `crates/autobahn_client`: core-pre over the
//! client_ws native transport, echoing every message. kosoku writes Autobahn's report
//! (`index.json` + HTML) to `target/autobahn/reports/`; this command summarizes it and
//! fails unless every case's behavior and closing behavior are OK, NON-STRICT or
//! INFORMATIONAL.
//!
//! `--cases 1.*,9.7.*` runs a subset. `cargo xtask ci` runs the full set (about 15 s).

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::cmd::{self, target_dir};

/// The kosoku release the run is pinned to.
const KOSOKU_VERSION: &str = "0.1.0";
/// The agent name the client reports under.
const AGENT: &str = "core-pre";
/// Cases never run: permessage-deflate (our transport does not offer it).
const EXCLUDED: &[&str] = &["12.*", "13.*"];
/// Verdicts that pass, for both the exchange and the closing handshake.
const PASSING: &[&str] = &["OK", "NON-STRICT", "INFORMATIONAL"];
/// Bound on the fuzzing server's start-up (it imports ~500 case files).
const SERVER_START: Duration = Duration::from_secs(60);
/// Bound on the client's whole run (the full set takes seconds; each case has its own
/// 120 s limit in the client).
const CLIENT_RUN: Duration = Duration::from_secs(900);
/// Bound on the server writing its report after the client is done.
const REPORT_WRITE: Duration = Duration::from_secs(120);

/// Reads kosoku's `index.json` and prints `case<TAB>behavior<TAB>close<TAB>ms` lines.
const SUMMARIZE: &str = r#"
import json, sys
index = json.load(open(sys.argv[1]))
for agent, cases in index.items():
    for case, entry in cases.items():
        print(f"{case}\t{entry['behavior']}\t{entry['behaviorClose']}\t{entry.get('duration') or 0}")
"#;

pub(crate) fn run(cases: &[String]) -> Result<(), String> {
    conformance(cases)
}

/// The run `cargo xtask ci` makes: the full set (cases 1–10) takes about 15 s.
pub(crate) fn smoke() -> Result<(), String> {
    conformance(&[])
}

fn conformance(cases: &[String]) -> Result<(), String> {
    let started = Instant::now();
    let kosoku = ensure_kosoku()?;
    cmd::run(
        "build the Autobahn client",
        &mut cmd::cargo(&["build", "-p", "autobahn_client"]),
    )?;
    let client_binary = target_dir().join("debug/autobahn_client");

    let reports = target_dir().join("autobahn/reports");
    if reports.exists() {
        fs::remove_dir_all(&reports)
            .map_err(|e| format!("cannot clear {}: {e}", reports.display()))?;
    }
    let mut server_args: Vec<String> = vec![
        "-m".into(),
        "fuzzingserver".into(),
        "127.0.0.1:0".into(),
        "-o".into(),
        reports.to_string_lossy().into_owned(),
    ];
    for case in cases {
        server_args.extend(["-i".into(), case.clone()]);
    }
    for case in EXCLUDED {
        server_args.extend(["-x".into(), (*case).to_owned()]);
    }
    println!(
        "\n==> autobahn: kosoku fuzzing server (cases {}, excluding {})",
        if cases.is_empty() {
            "1-10".to_owned()
        } else {
            cases.join(",")
        },
        EXCLUDED.join(",")
    );
    let mut server = Server::start(&kosoku, &server_args)?;
    println!("    listening on {}", server.url);

    let mut client = Command::new(&client_binary);
    client.args(["--server", &server.url, "--agent", AGENT]);
    println!("\n==> autobahn: client");
    let client_status = wait_with_deadline(
        client
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", client_binary.display()))?,
        CLIENT_RUN,
    )
    .map_err(|e| format!("the Autobahn client {e}"))?;
    if !client_status.success() {
        return Err(format!(
            "the Autobahn client failed ({client_status}); server log:\n{}",
            server.log()
        ));
    }
    let server_status = server.finish()?;

    let index = reports.join("index.json");
    let results = read_report(&kosoku, &index)?;
    let verdict = summarize(&results, &reports);
    println!(
        "    autobahn took {:.1}s in all (kosoku exit: {server_status})",
        started.elapsed().as_secs_f64()
    );
    verdict?;
    if !server_status.success() {
        return Err(format!(
            "kosoku reported failure ({server_status}) although every case passed:\n{}",
            server.log()
        ));
    }
    Ok(())
}

/// The venv with kosoku; returns its `bin` directory.
fn ensure_kosoku() -> Result<PathBuf, String> {
    crate::venv::ensure(
        "autobahn-venv",
        &format!("kosoku=={KOSOKU_VERSION}"),
        "the Autobahn run (kosoku, the fuzzing server)",
    )
}

/// The running fuzzing server, its output collected by two reader threads. Dropping it
/// kills the process if it is still running.
struct Server {
    child: Child,
    url: String,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    fn start(bin: &Path, args: &[String]) -> Result<Server, String> {
        let mut child = Command::new(bin.join("kosoku"))
            .args(args)
            .current_dir(target_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start kosoku: {e}"))?;
        let (tx, lines) = mpsc::channel();
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut server = Server {
            child,
            url: String::new(),
            lines,
            seen: Vec::new(),
        };
        let deadline = Instant::now() + SERVER_START;
        while server.url.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match server.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.split("listening on ").nth(1) {
                        server.url = url.trim().to_owned();
                    }
                    server.seen.push(line);
                }
                Err(_) => {
                    return Err(format!(
                        "kosoku did not start listening within {SERVER_START:?}:\n{}",
                        server.log()
                    ));
                }
            }
        }
        Ok(server)
    }

    /// Everything the server printed so far.
    fn log(&mut self) -> String {
        self.seen.extend(self.lines.try_iter());
        self.seen.join("\n")
    }

    /// Waits for the server to write its report and exit.
    fn finish(&mut self) -> Result<std::process::ExitStatus, String> {
        let deadline = Instant::now() + REPORT_WRITE;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    // Let the reader threads pass on the last lines.
                    std::thread::sleep(Duration::from_millis(100));
                    let log = self.log();
                    let tail: Vec<&str> = log.lines().rev().take(3).collect();
                    for line in tail.iter().rev() {
                        println!("    kosoku: {line}");
                    }
                    return Ok(status);
                }
                Ok(None) if Instant::now() > deadline => {
                    return Err(format!(
                        "kosoku did not finish its report within {REPORT_WRITE:?} after the client was done:\n{}",
                        self.log()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => return Err(format!("waiting for kosoku failed: {e}")),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for `child`, killing it after `limit`.
fn wait_with_deadline(
    mut child: Child,
    limit: Duration,
) -> Result<std::process::ExitStatus, String> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("did not finish within {limit:?}; killed"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("could not be waited for: {e}")),
        }
    }
}

/// One case's verdicts from the report.
struct CaseResult {
    case: String,
    behavior: String,
    close: String,
    millis: u64,
}

fn read_report(bin: &Path, index: &Path) -> Result<Vec<CaseResult>, String> {
    let out = Command::new(bin.join("python"))
        .arg("-c")
        .arg(SUMMARIZE)
        .arg(index)
        .output()
        .map_err(|e| format!("could not run the venv's python: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "could not read the Autobahn report {}: {}",
            index.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut results: Vec<CaseResult> = text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            Some(CaseResult {
                case: fields.next()?.to_owned(),
                behavior: fields.next()?.to_owned(),
                close: fields.next()?.to_owned(),
                millis: fields.next()?.parse().unwrap_or(0),
            })
        })
        .collect();
    results.sort_by_key(|r| {
        r.case
            .split('.')
            .map(|part| part.parse::<u32>().unwrap_or(u32::MAX))
            .collect::<Vec<_>>()
    });
    if results.is_empty() {
        return Err(format!(
            "the Autobahn report {} lists no case",
            index.display()
        ));
    }
    Ok(results)
}

/// Prints counts by verdict and per case group; fails on any case that did not pass.
fn summarize(results: &[CaseResult], reports: &Path) -> Result<(), String> {
    let mut by_verdict: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut by_group: BTreeMap<u32, (usize, u64)> = BTreeMap::new();
    for r in results {
        *by_verdict.entry((&r.behavior, &r.close)).or_default() += 1;
        let group = r
            .case
            .split('.')
            .next()
            .and_then(|g| g.parse().ok())
            .unwrap_or(0);
        let entry = by_group.entry(group).or_default();
        entry.0 += 1;
        entry.1 += r.millis;
    }
    println!("\nautobahn results ({} cases):", results.len());
    println!("  {:<15} {:<15} {:>6}", "behavior", "close", "cases");
    for ((behavior, close), count) in &by_verdict {
        println!("  {behavior:<15} {close:<15} {count:>6}");
    }
    let groups: Vec<String> = by_group
        .iter()
        .map(|(group, (count, millis))| format!("{group}.*: {count} in {millis} ms"))
        .collect();
    println!("  by group (server-side time): {}", groups.join("; "));
    println!("  report: {}", reports.join("index.html").display());

    // The first few by name; the report has them all.
    const SHOWN: usize = 20;
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !PASSING.contains(&r.behavior.as_str()) || !PASSING.contains(&r.close.as_str()))
        .map(|r| format!("{} ({} / {})", r.case, r.behavior, r.close))
        .collect();
    if failed.is_empty() {
        println!("  every case is OK, NON-STRICT or INFORMATIONAL");
        Ok(())
    } else {
        let more = failed.len().saturating_sub(SHOWN);
        Err(format!(
            "{} of {} Autobahn cases failed: {}{}; details per case in {}",
            failed.len(),
            results.len(),
            failed[..failed.len().min(SHOWN)].join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
            reports.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(case: &str, behavior: &str, close: &str) -> CaseResult {
        CaseResult {
            case: case.into(),
            behavior: behavior.into(),
            close: close.into(),
            millis: 1,
        }
    }

    #[test]
    fn ok_non_strict_and_informational_pass() {
        let results = [
            case("1.1.1", "OK", "OK"),
            case("6.4.3", "NON-STRICT", "OK"),
            case("7.1.6", "INFORMATIONAL", "INFORMATIONAL"),
        ];
        assert!(summarize(&results, Path::new("reports")).is_ok());
    }

    #[test]
    fn an_unclean_close_or_a_failed_exchange_fails_the_run_by_name() {
        let results = [
            case("1.1.1", "OK", "UNCLEAN"),
            case("2.1", "FAILED", "OK"),
            case("3.1", "OK", "OK"),
        ];
        let error = summarize(&results, Path::new("reports")).unwrap_err();
        assert!(error.starts_with("2 of 3 Autobahn cases failed"), "{error}");
        assert!(error.contains("1.1.1 (OK / UNCLEAN)") && error.contains("2.1 (FAILED / OK)"));
    }
}
