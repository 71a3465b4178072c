//! Runs the real `pocketoption` binary, each command against the simulator it starts
//! in-process (`--sim`) or a `pocketoption sim` in the background, and checks what it
//! prints (parsed from `--json`), the files it writes and its exit codes.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_pocketoption");
/// No command of these tests should come near this.
const LIMIT: Duration = Duration::from_secs(90);
/// A session token that must never show up in any output.
const TOKEN: &str = "SeCrEtToKeN0123456789abcdefXYZ";

/// The binary with a clean environment (no SSID, no logs).
fn pocketoption(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("POCKET_OPTION_SSID")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for `child` up to [`LIMIT`], killing it (and failing) if it takes longer.
fn finish(mut child: Child, what: &str) -> Output {
    let started = Instant::now();
    // A caller may have taken stdout to read it as it comes.
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut stdout) = stdout {
            let _ = stdout.read_to_end(&mut text);
        }
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut stderr) = stderr {
            let _ = stderr.read_to_end(&mut text);
        }
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("`{what}` did not end within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

fn run(args: &[&str]) -> Output {
    let child = pocketoption(args).spawn().expect("the binary starts");
    finish(child, &args.join(" "))
}

fn run_with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = pocketoption(args)
        .stdin(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    drop(stdin);
    finish(child, &args.join(" "))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command that must succeed; returns its stdout.
fn ok(args: &[&str]) -> String {
    let output = run(args);
    assert!(
        output.status.success(),
        "`{}` failed with {:?}\nstdout: {}\nstderr: {}",
        args.join(" "),
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Runs a `--json` command that must succeed; returns its one JSON document.
fn json(args: &[&str]) -> Value {
    let stdout = ok(args);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("`{}` printed no JSON ({e}): {stdout}", args.join(" ")))
}

fn decimal(value: &Value) -> f64 {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a decimal string"))
        .parse()
        .unwrap_or_else(|_| panic!("{value} is not a decimal"))
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

#[test]
fn ssid_check_describes_a_demo_ssid_without_printing_the_token() {
    let ssid = format!(r#"42["auth",{{"session":"{TOKEN}","isDemo":1,"uid":4242,"platform":2}}]"#);
    let output = run(&["ssid", "check", &ssid]);
    assert!(output.status.success());
    let stdout = text(&output.stdout);
    assert!(stdout.contains("valid demo SSID"), "{stdout}");
    assert!(stdout.contains("4242"), "{stdout}");
    assert!(stdout.contains(&format!("{} characters (not shown)", TOKEN.len())));
    assert!(!stdout.contains(TOKEN) && !text(&output.stderr).contains(TOKEN));

    let report = json(&["ssid", "check", &ssid, "--json"]);
    assert_eq!(report["valid"], true);
    assert_eq!(report["account"], "demo");
    assert_eq!(report["uid"], 4242);
    assert_eq!(report["platform"], 2);
    assert_eq!(report["session_length"], TOKEN.len());
    assert!(!report.to_string().contains(TOKEN));
}

#[test]
fn ssid_check_reads_a_real_session_from_stdin_and_shows_what_it_was_issued_for() {
    let session = binary_options_tools::RealSession::new(
        TOKEN,
        "203.0.113.7",
        "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0",
        1_700_000_000,
        "0123456789abcdef0123456789abcdef",
    );
    let ssid = serde_json::json!({
        "session": session.to_session_string(),
        "isDemo": 0,
        "uid": 99,
        "platform": 2,
    });
    let frame = format!(r#"42["auth",{ssid}]"#);
    let output = run_with_stdin(&["ssid", "check", "-"], &frame);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout} {}", text(&output.stderr));
    assert!(stdout.contains("valid real SSID"), "{stdout}");
    assert!(stdout.contains("TestBrowser/1.0"), "{stdout}");
    assert!(stdout.contains("203.0.113.7"), "{stdout}");
    assert!(stdout.contains("2023-11-14T22:13:20Z"), "{stdout}");
    assert!(stdout.contains("REAL account"), "{stdout}");
    for secret in [TOKEN, "0123456789abcdef0123456789abcdef"] {
        assert!(!stdout.contains(secret) && !text(&output.stderr).contains(secret));
    }
}

#[test]
fn ssid_check_says_what_is_wrong_and_never_prints_the_token() {
    let cases = [
        // Cut off before the uid.
        format!(r#"42["auth",{{"session":"{TOKEN}","isDemo":1,"platform":2}}]"#),
        // Another event.
        format!(r#"42["subfor",{{"session":"{TOKEN}"}}]"#),
        // Not JSON at all.
        format!("session={TOKEN}"),
        // A wrong type.
        format!(r#"{{"session":"{TOKEN}","isDemo":1,"uid":"abc","platform":2}}"#),
    ];
    for ssid in &cases {
        let output = run(&["ssid", "check", ssid]);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(4), "{ssid}: {stderr}");
        assert!(
            stderr.starts_with("error: this SSID cannot be used\n  caused by: "),
            "{stderr}"
        );
        assert!(stderr.contains("copy it again"), "{stderr}");
        assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN), "{ssid}");
        assert!(!stderr.contains("panicked"), "{stderr}");

        let output = run(&["ssid", "check", ssid, "--json"]);
        assert_eq!(output.status.code(), Some(4));
        let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert_eq!(report["valid"], false);
        assert!(report["error"].as_str().is_some_and(|e| !e.is_empty()));
        assert!(!report.to_string().contains(TOKEN));
    }
    // The missing uid is named.
    let output = run(&["ssid", "check", &cases[0]]);
    assert!(text(&output.stderr).contains("no `uid` field"));
}

#[test]
fn a_bad_flag_or_value_exits_2_with_a_usable_message() {
    let output = run(&["balance", "--sim", "--bogus"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("unexpected argument '--bogus'"), "{stderr}");
    assert!(stderr.contains("Usage: pocketoption balance"), "{stderr}");

    let output = run(&["candles", "EURUSD_otc", "--sim", "--period", "5"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("`5` has no unit"));

    let output = run(&["trade", "EURUSD_otc", "sideways", "1", "5s", "--sim"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("use call or put"));

    let output = run(&["stream", "A", "B", "C", "D", "E", "--sim", "--count", "1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("at most 4"));

    let output = run(&["candels"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("similar subcommand exists: 'candles'"));
}

#[test]
fn help_documents_the_exit_codes_without_showing_the_ssid() {
    let output = pocketoption(&["balance", "--help"])
        .env("POCKET_OPTION_SSID", TOKEN)
        .output()
        .expect("runs");
    let stdout = text(&output.stdout);
    assert!(output.status.success());
    assert!(stdout.contains("POCKET_OPTION_SSID"), "{stdout}");
    assert!(!stdout.contains(TOKEN));
    let stdout = ok(&["--help"]);
    for code in ["0  success", "2  usage", "3  the platform", "4  the SSID"] {
        assert!(stdout.contains(code), "{code} missing from --help");
    }
}

#[test]
fn without_an_ssid_or_a_server_the_exit_code_says_which() {
    let output = run(&["balance"]);
    assert_eq!(output.status.code(), Some(4));
    assert!(text(&output.stderr).starts_with("error: no SSID: pass --ssid"));

    // Nothing listens on port 9 of loopback here.
    let output = run(&[
        "balance",
        "--url",
        "ws://127.0.0.1:9/socket.io/?EIO=4&transport=websocket",
        "--timeout",
        "2s",
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("127.0.0.1:9"), "{stderr}");
}

#[test]
fn balance_and_assets_come_from_the_simulator() {
    let balance = json(&["balance", "--sim", "--json"]);
    assert_eq!(balance["demo"], true);
    // The simulator's documented starting demo balance.
    assert_eq!(decimal(&balance["balance"]), 50_000.0);

    let all = json(&["assets", "--sim", "--json"]);
    let all = all.as_array().expect("an array");
    assert!(all.len() > 5);
    let payouts: Vec<u64> = all.iter().map(|a| a["payout"].as_u64().unwrap()).collect();
    assert!(payouts.windows(2).all(|w| w[0] >= w[1]), "{payouts:?}");
    assert!(all.iter().all(|a| a["is_active"] == true));

    let high = json(&["assets", "--sim", "--json", "--min-payout", "85"]);
    let high = high.as_array().unwrap();
    assert!(!high.is_empty() && high.len() < all.len());
    assert!(high.iter().all(|a| a["payout"].as_u64().unwrap() >= 85));

    let otc = json(&["assets", "--sim", "--json", "--otc"]);
    assert!(otc.as_array().unwrap().iter().all(|a| a["is_otc"] == true));
    let crypto = json(&["assets", "--sim", "--json", "--kind", "crypto"]);
    assert!(
        crypto
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["kind"] == "cryptocurrency")
    );

    let table = ok(&["assets", "--sim", "--min-payout", "85"]);
    assert!(table.starts_with("symbol"), "{table}");
    assert_eq!(table.lines().count(), high.len() + 1);
}

#[test]
fn server_time_is_read_from_ticks() {
    let before = now_unix();
    let clock = json(&["server-time", "--sim", "--json"]);
    let after = now_unix();
    assert_eq!(clock["stale"], false);
    let unix = clock["unix"].as_f64().unwrap();
    // The simulator runs on this machine's clock.
    assert!(unix > before - 5.0 && unix < after + 5.0, "{clock}");
    assert!(clock["offset_seconds"].as_f64().unwrap().abs() < 5.0);
    assert!(clock["server_time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn candles_come_as_json_csv_and_a_table_ending_at_the_given_time() {
    let end = now_unix().floor() - 3600.0;
    let end_text = end.to_string();
    let candles = json(&[
        "candles",
        "EURUSD_otc",
        "--sim",
        "--period",
        "1m",
        "--count",
        "30",
        "--end",
        &end_text,
        "--format",
        "json",
    ]);
    let candles = candles.as_array().unwrap();
    assert_eq!(candles.len(), 30);
    let times: Vec<f64> = candles
        .iter()
        .map(|c| c["time"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[1] - w[0] == 60.0), "{times:?}");
    let last = times[29];
    assert!(last <= end && end < last + 60.0, "last {last}, end {end}");
    for c in candles {
        let (o, h, l, cl) = (
            c["open"].as_f64().unwrap(),
            c["high"].as_f64().unwrap(),
            c["low"].as_f64().unwrap(),
            c["close"].as_f64().unwrap(),
        );
        assert!(l <= o.min(cl) && h >= o.max(cl) && l > 0.0, "{c}");
        assert_eq!(c["asset"], "EURUSD_otc");
    }

    // The same range as RFC 3339, in CSV: the same candles (a seeded simulator).
    let rfc3339 = candles[29]["start"].as_str().unwrap().to_owned();
    let csv = ok(&[
        "candles",
        "EURUSD_otc",
        "--sim",
        "--count",
        "30",
        "--end",
        &rfc3339,
        "--format",
        "csv",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "time,start,open,high,low,close,ticks");
    assert_eq!(lines.len(), 31);
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(first[0].parse::<f64>().unwrap(), times[0]);
    assert_eq!(
        first[2].parse::<f64>().unwrap(),
        candles[0]["open"].as_f64().unwrap()
    );

    let table = ok(&["candles", "EURUSD_otc", "--sim", "--count", "5"]);
    assert_eq!(table.lines().count(), 6, "{table}");
    assert!(table.starts_with("start (UTC)"));
}

/// Width and height from a PNG's IHDR, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "too short for a PNG");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "no PNG signature");
    assert_eq!(&bytes[8..12], &13u32.to_be_bytes(), "IHDR length");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (width, height)
}

#[test]
fn candles_png_writes_a_valid_png_of_the_asked_size() {
    let dir = std::env::temp_dir().join(format!("pocketoption-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("candles.png");
    let path_text = path.to_str().unwrap();
    let stdout = ok(&[
        "candles",
        "EURUSD_otc",
        "--sim",
        "--count",
        "40",
        "--png",
        path_text,
        "--width",
        "640",
        "--height",
        "320",
    ]);
    assert!(stdout.contains("40 candles"), "{stdout}");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(png_size(&bytes), (640, 320));
    // A picture, not an empty frame: a blank 640×320 RGB image compresses to far less.
    assert!(bytes.len() > 2_000, "{} bytes", bytes.len());
    assert!(bytes.ends_with(&[0xAE, 0x42, 0x60, 0x82]), "no IEND");

    // With --format too, the candles are printed as well.
    let rows = json(&[
        "candles",
        "EURUSD_otc",
        "--sim",
        "--count",
        "10",
        "--png",
        path_text,
        "--format",
        "json",
    ]);
    assert_eq!(rows.as_array().unwrap().len(), 10);
    assert_eq!(png_size(&std::fs::read(&path).unwrap()), (1200, 600));

    // An unwritable path is an error, not a panic.
    let bad = dir.join("no-such-dir").join("x.png");
    let output = run(&[
        "candles",
        "EURUSD_otc",
        "--sim",
        "--png",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("error: could not write "), "{stderr}");
    assert!(stderr.contains("caused by: "), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stream_count_stops_by_itself() {
    let started = Instant::now();
    let stdout = ok(&[
        "stream",
        "EURUSD_otc",
        "GBPUSD_otc",
        "--sim",
        "--count",
        "8",
        "--json",
    ]);
    assert!(started.elapsed() < Duration::from_secs(30));
    let rows: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(rows.len(), 8);
    for row in &rows {
        let asset = row["asset"].as_str().unwrap();
        assert!(asset == "EURUSD_otc" || asset == "GBPUSD_otc", "{row}");
        assert_eq!(row["open"], row["close"], "a tick row is one price");
    }
    assert!(rows.iter().any(|r| r["asset"] == "GBPUSD_otc"));

    let csv = ok(&[
        "stream",
        "EURUSD_otc",
        "--sim",
        "--kind",
        "chunks:2",
        "--count",
        "2",
        "--csv",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "time,start,asset,open,high,low,close,ticks");
    assert_eq!(lines.len(), 3);
    assert!(lines[1..].iter().all(|l| l.ends_with(",2")), "{csv}");
}

#[test]
fn stream_duration_stops_by_itself() {
    let started = Instant::now();
    let output = run(&["stream", "EURUSD_otc", "--sim", "--duration", "2s"]);
    assert!(output.status.success());
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(30));
    assert!(text(&output.stdout).lines().count() >= 2);
}

#[test]
fn stream_ends_cleanly_on_ctrl_c() {
    let mut child = pocketoption(&["stream", "EURUSD_otc", "--sim"])
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(30));
    // Ctrl-C is SIGINT.
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let output = finish(child, "stream until Ctrl-C");
    let first = first.expect("a row before Ctrl-C");
    assert!(first.contains("EURUSD_otc"), "{first}");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
}

#[test]
fn trade_wait_ends_with_a_result_and_the_balance_after_it() {
    let output = run(&[
        "trade",
        "EURUSD_otc",
        "call",
        "2.5",
        "5s",
        "--wait",
        "--sim",
        "--json",
    ]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let trade: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(trade["deal"]["asset"], "EURUSD_otc");
    assert_eq!(trade["deal"]["action"], "call");
    assert_eq!(decimal(&trade["deal"]["amount"]), 2.5);
    let after_stake = decimal(&trade["balance_after_stake"]);
    assert_eq!(after_stake, 50_000.0 - 2.5);
    let result = &trade["result"];
    let profit = decimal(&result["profit"]);
    match result["outcome"].as_str().unwrap() {
        "win" => assert!(profit > 0.0),
        "loss" => assert_eq!(profit, -2.5),
        "draw" => assert_eq!(profit, 0.0),
        other => panic!("outcome {other}"),
    }
    assert_eq!(decimal(&result["balance"]), after_stake + 2.5 + profit);
    assert!(result["close_price"].as_f64().is_some());
    // Progress went to stderr, as plain lines (stderr is a pipe here).
    assert!(stderr.contains("s to expiry"), "{stderr}");
    assert!(
        stderr.contains("expired, waiting for the result"),
        "{stderr}"
    );

    // Without --wait: the deal and the balance after the stake, no result.
    let opened = json(&["trade", "EURUSD_otc", "put", "1", "1m", "--sim", "--json"]);
    assert_eq!(opened["deal"]["action"], "put");
    assert!(opened.get("result").is_none());

    // An order the client refuses before sending: more than the balance.
    let output = run(&["trade", "EURUSD_otc", "call", "60000", "5s", "--sim"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("error: could not open a call of 60000 on EURUSD_otc"),
        "{stderr}"
    );
    assert!(stderr.contains("caused by: "), "{stderr}");
}

#[test]
fn pending_open_wait_fills_and_settles() {
    let order = json(&[
        "pending",
        "open",
        "EURUSD_otc",
        "put",
        "1",
        "5s",
        "--after",
        "2s",
        "--wait",
        "--sim",
        "--json",
    ]);
    let ticket = order["ticket"].as_str().unwrap();
    assert!(!ticket.is_empty());
    assert!(order["at"].as_str().is_some());
    assert_eq!(order["deal"]["action"], "put");
    assert!(matches!(
        order["result"]["outcome"].as_str(),
        Some("win" | "loss" | "draw")
    ));
}

/// A `pocketoption sim` in the background, killed when dropped.
struct BackgroundSim {
    child: Child,
    url: String,
}

impl BackgroundSim {
    fn start() -> BackgroundSim {
        let mut child = pocketoption(&["sim", "--port", "0", "--seed", "3", "--duration", "80s"])
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = tx.send(first);
        });
        let banner = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the simulator prints its URL");
        let url = banner
            .split_whitespace()
            .find(|w| w.starts_with("ws://"))
            .unwrap_or_else(|| panic!("no URL in {banner:?}"))
            .to_owned();
        BackgroundSim { child, url }
    }
}

impl Drop for BackgroundSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn sim_serves_other_commands_and_pending_orders_cancel_by_ticket() {
    let sim = BackgroundSim::start();
    assert!(sim.url.contains("/socket.io/"));
    let balance = json(&["balance", "--url", &sim.url, "--json"]);
    assert_eq!(decimal(&balance["balance"]), 50_000.0);

    let order = json(&[
        "pending",
        "open",
        "EURUSD_otc",
        "call",
        "3",
        "1m",
        "--after",
        "1h",
        "--url",
        &sim.url,
        "--json",
    ]);
    let ticket = order["ticket"].as_str().unwrap().to_owned();
    // Another run (another connection) cancels it by its ticket.
    let cancelled = json(&["pending", "cancel", &ticket, "--url", &sim.url, "--json"]);
    assert_eq!(cancelled["cancelled"], serde_json::json!([ticket]));
    // Twice is refused: the order is gone.
    let output = run(&["pending", "cancel", &ticket, "--url", &sim.url]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stderr).starts_with("error: "));

    let doctor = json(&["doctor", "--url", &sim.url, "--json"]);
    assert_eq!(doctor["working"], 1);
}

#[test]
fn doctor_reports_each_endpoint_and_exits_by_outcome() {
    let report = json(&["doctor", "--sim", "--json"]);
    assert_eq!(report["working"], 1);
    let endpoint = &report["endpoints"][0];
    assert_eq!(endpoint["name"], "sim");
    assert_eq!(endpoint["auth"], "ok");
    assert!(endpoint["tcp_connect_ms"].as_f64().is_some());
    assert!(endpoint["auth_ms"].as_f64().is_some());
    assert!(endpoint["round_trip_ms"].as_f64().is_some());

    let output = run(&[
        "doctor",
        "--url",
        "ws://127.0.0.1:9/socket.io/?EIO=4&transport=websocket",
        "--timeout",
        "3s",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(3));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["working"], 0);
    assert_eq!(report["endpoints"][0]["auth"], "failed");
    assert!(report["endpoints"][0]["tcp_error"].as_str().is_some());
}

#[test]
fn doctor_tells_a_rejected_session_apart() {
    // A simulator that rejects every session.
    let mut child = pocketoption(&["sim", "--port", "0", "--reject-all", "--duration", "60s"])
        .spawn()
        .expect("starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("ws://"))
        .unwrap()
        .to_owned();
    let ssid = format!(r#"{{"session":"{TOKEN}","isDemo":1,"uid":5,"platform":2}}"#);
    let output = run(&["doctor", "--url", &url, "--ssid", &ssid, "--timeout", "5s"]);
    let _ = child.kill();
    let _ = child.wait();
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(4), "{stdout}\n{stderr}");
    assert!(stdout.contains("REJECTED"), "{stdout}");
    assert!(stderr.contains("the session was rejected"), "{stderr}");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
}

#[test]
fn completions_are_generated_for_the_shells() {
    let bash = ok(&["completions", "bash"]);
    assert!(bash.contains("_pocketoption()"), "not a bash completion");
    for command in ["candles", "stream", "server-time", "--png", "--sim"] {
        assert!(bash.contains(command), "{command} missing");
    }
    assert!(ok(&["completions", "zsh"]).starts_with("#compdef pocketoption"));
    assert!(ok(&["completions", "fish"]).contains("complete -c pocketoption"));
}
