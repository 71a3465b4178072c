//! `cargo xtask dashboard`: builds the live browser dashboard (crates/dashboard) and runs
//! it; with `--test`, drives it in headless Chromium and saves `target/dashboard.png`.
//!
//! Build: the app library for wasm32 with cargo, then the pinned wasm-bindgen CLI (the
//! one the browser tests use, installed into `target/tools`) writes the ES module and the
//! wasm into `target/dashboard/pkg`; then the native `dashboard` binary.
//!
//! Test: the `dashboard` binary (simulator + page server) as a child with piped stdin
//! (its fault commands), chromedriver as a child in its own process group, and a minimal
//! W3C WebDriver client over HTTP/JSON (below: a session, navigation, script execution to
//! read the page's `#app` data attributes, an element click, a screenshot). The page must
//! draw candles, show the balance, open a call with a countdown and settle it (the
//! balance moving by the result's profit), show `reconnecting` when the simulator drops
//! every connection and refuses new ones for a while, recover, and keep drawing. Every
//! wait is bounded and says what it waited for; the session is deleted and every child
//! killed on the way out, failure included.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::browser::{Browser, CHROMIUM_ARGS, ensure_test_runner, find_browser};
use crate::cmd::{self, cargo, target_dir};
use crate::tools::WASM_TARGET;

/// How long the server may take to print its URL (it is already built).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long chromedriver may take to answer `/status`.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(30);
/// One WebDriver request (a new session starts Chromium).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Page waits.
const CONNECT_WAIT: Duration = Duration::from_secs(45);
const TRADE_OPEN_WAIT: Duration = Duration::from_secs(15);
const TRADE_RESULT_WAIT: Duration = Duration::from_secs(30);
const RECONNECT_WAIT: Duration = Duration::from_secs(15);
const RECOVER_WAIT: Duration = Duration::from_secs(30);
/// How long the simulator refuses connections after dropping them all: long enough for
/// the page to sit in `reconnecting` for a few attempts.
const OUTAGE_MS: u64 = 2500;

/// Builds the wasm and the binary; returns wasm-bindgen's output directory.
fn build() -> Result<PathBuf, String> {
    cmd::run(
        "dashboard: build the app (wasm32)",
        &mut cargo(&["build", "-p", "dashboard", "--lib", "--target", WASM_TARGET]),
    )?;
    // The test runner and wasm-bindgen come from one install of wasm-bindgen-cli.
    let runner = ensure_test_runner()?;
    let bindgen = runner.with_file_name("wasm-bindgen");
    let pkg = target_dir().join("dashboard/pkg");
    let wasm = target_dir()
        .join(WASM_TARGET)
        .join("debug")
        .join("dashboard.wasm");
    let mut command = Command::new(&bindgen);
    command
        .args(["--target", "web", "--no-typescript", "--out-dir"])
        .arg(&pkg)
        .arg(&wasm);
    cmd::run(
        "dashboard: wasm-bindgen (the page's ES module)",
        &mut command,
    )?;
    cmd::run(
        "dashboard: build the server",
        &mut cargo(&["build", "-p", "dashboard", "--bin", "dashboard"]),
    )?;
    Ok(pkg)
}

fn server_binary() -> PathBuf {
    target_dir()
        .join("debug/dashboard")
        .with_extension(std::env::consts::EXE_EXTENSION)
}

/// `cargo xtask dashboard [--addr A]`: build, then serve until Ctrl-C.
pub(crate) fn run(addr: &str) -> Result<(), String> {
    let pkg = build()?;
    let mut command = Command::new(server_binary());
    command.arg("--addr").arg(addr).arg("--pkg").arg(&pkg);
    cmd::run("dashboard (Ctrl-C stops it)", &mut command)
}

/// `cargo xtask dashboard --test` (and a `cargo xtask ci` step).
pub(crate) fn test() -> Result<(), String> {
    println!("\n==> dashboard in headless Chromium (WebDriver)");
    let started = Instant::now();
    let Some(browser) = find_browser()? else {
        return Ok(());
    };
    let pkg = build()?;
    let drive_started = Instant::now();
    let result = drive(&browser, &pkg);
    let took = drive_started.elapsed().as_secs_f64();
    cmd::record_step("dashboard: drive the page in Chromium", took);
    result?;
    println!(
        "    ok: dashboard in Chromium ({took:.1}s driving, {:.1}s in all); screenshot in {}",
        started.elapsed().as_secs_f64(),
        target_dir().join("dashboard.png").display()
    );
    Ok(())
}

fn drive(browser: &Browser, pkg: &Path) -> Result<(), String> {
    let mut server = DashboardChild::start(pkg)?;
    println!("    page at {}", server.url);
    let driver = Driver::start(browser)?;
    let session = driver.session(browser)?;
    session.post("url", json!({ "url": server.url }))?;

    let state = session.wait_for(
        "the page to connect and draw 3 candles",
        CONNECT_WAIT,
        |s| s.state() == "connected" && s.number("candles") >= 3.0 && s.has("balance"),
    )?;
    let assets = state.number("assets");
    if assets < 1.0 {
        return Err(format!("the page lists no assets: {}", state.describe()));
    }
    let before: f64 = state
        .text("balance")
        .parse()
        .map_err(|_| format!("the balance is not a number: {}", state.describe()))?;
    println!(
        "    connected: {} candles, {assets} assets, balance {before}",
        state.number("candles")
    );

    session.click("#call")?;
    let open = session.wait_for("the call to open (countdown)", TRADE_OPEN_WAIT, |s| {
        s.text("trade") == "open" && s.number("countdown") > 0.0
    })?;
    println!(
        "    call open: deal {}, closes in {} s",
        open.text("dealId"),
        open.text("countdown")
    );
    let settled = session.wait_for("the call's result", TRADE_RESULT_WAIT, |s| {
        s.text("trade") != "open" && s.text("trade") != "idle"
    })?;
    if settled.text("trade") != "result" {
        return Err(format!("the trade failed: {}", settled.describe()));
    }
    let profit: f64 = settled
        .text("profit")
        .parse()
        .map_err(|_| format!("the profit is not a number: {}", settled.describe()))?;
    let after = session.wait_for("the balance to include the result", TRADE_OPEN_WAIT, |s| {
        s.text("balance")
            .parse::<f64>()
            .is_ok_and(|b| (b - (before + profit)).abs() < 1e-6)
    })?;
    println!(
        "    result: {} (profit {profit}), balance {before} -> {}",
        settled.text("result"),
        after.text("balance")
    );

    let last_candle = after.number("lastCandle");
    let reconnects = after.number("reconnects");
    server.command(&format!("outage {OUTAGE_MS}"))?;
    let down = session.wait_for(
        "the page to show reconnecting after the simulator dropped it",
        RECONNECT_WAIT,
        |s| s.state() == "reconnecting" && s.number("reconnects") > reconnects,
    )?;
    println!(
        "    dropped: reconnecting (attempt {}, delay {} ms)",
        down.text("attempt"),
        down.text("delayMs")
    );
    save_screenshot(&session, &target_dir().join("dashboard-reconnecting.png"))?;
    let up = session.wait_for(
        "the page to reconnect and draw new candles",
        RECOVER_WAIT,
        |s| s.state() == "connected" && s.number("lastCandle") > last_candle + 2.0,
    )?;
    println!(
        "    recovered after {} reconnecting states; candles continue ({} drawn)",
        up.text("reconnects"),
        up.text("candles")
    );
    let shot = target_dir().join("dashboard.png");
    save_screenshot(&session, &shot)?;
    drop(session);
    drop(driver);
    server.command("quit")?;
    Ok(())
}

fn save_screenshot(session: &Session, path: &Path) -> Result<(), String> {
    let value = session.get("screenshot")?;
    let encoded = value
        .as_str()
        .ok_or_else(|| format!("the screenshot is not a string: {value}"))?;
    let png = base64_decode(encoded)?;
    if !png.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err("the screenshot is not a PNG".into());
    }
    std::fs::write(path, &png).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("    screenshot {} ({} bytes)", path.display(), png.len());
    Ok(())
}

/// The `dashboard` binary as a child: its URL, its stdin (commands), its stdout lines.
struct DashboardChild {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    url: String,
}

impl DashboardChild {
    fn start(pkg: &Path) -> Result<DashboardChild, String> {
        let binary = server_binary();
        let mut child = Command::new(&binary)
            .args(["--addr", "127.0.0.1:0", "--tick-ms", "100", "--pkg"])
            .arg(pkg)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or("the dashboard's stdout is not piped")?;
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut server = DashboardChild {
            child,
            stdin,
            lines,
            url: String::new(),
        };
        let first = server.line("its URL", START_TIMEOUT)?;
        server.url = first
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .ok_or_else(|| format!("unexpected first line from the dashboard: {first:?}"))?
            .to_string();
        Ok(server)
    }

    fn line(&self, what: &str, within: Duration) -> Result<String, String> {
        self.lines
            .recv_timeout(within)
            .map_err(|_| format!("the dashboard did not print {what} within {within:?}"))
    }

    /// Sends a stdin command and waits for its `ok:` line.
    fn command(&mut self, command: &str) -> Result<(), String> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or("the dashboard's stdin is closed")?;
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("cannot send {command:?} to the dashboard: {e}"))?;
        if command == "quit" {
            return Ok(());
        }
        let answer = self.line(&format!("an answer to {command:?}"), START_TIMEOUT)?;
        if answer.starts_with("ok:") {
            Ok(())
        } else {
            Err(format!("the dashboard refused {command:?}: {answer}"))
        }
    }
}

impl Drop for DashboardChild {
    fn drop(&mut self) {
        drop(self.stdin.take());
        cmd::stop_child(&mut self.child, Duration::from_secs(5));
    }
}

/// chromedriver in its own process group (so the Chromium it starts goes with it).
struct Driver {
    child: Child,
    port: u16,
    profile: PathBuf,
}

impl Driver {
    fn start(browser: &Browser) -> Result<Driver, String> {
        let port = cmd::free_port()?;
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let profile = target_dir().join(format!(
            "browser-tests/dashboard-profile-{}-{stamp}",
            std::process::id()
        ));
        std::fs::create_dir_all(&profile)
            .map_err(|e| format!("cannot create {}: {e}", profile.display()))?;
        let child = Command::new(&browser.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", browser.chromedriver.display()))?;
        let mut driver = Driver {
            child,
            port,
            profile,
        };
        let deadline = Instant::now() + DRIVER_TIMEOUT;
        loop {
            let ready = matches!(
                http(port, "GET", "/status", None, Duration::from_secs(2)),
                Ok((200, ref body)) if body["value"]["ready"] == json!(true)
            );
            if ready {
                return Ok(driver);
            }
            if let Ok(Some(status)) = driver.child.try_wait() {
                return Err(format!("chromedriver exited at start with {status}"));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "chromedriver was not ready on port {port} within {DRIVER_TIMEOUT:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn session(&self, browser: &Browser) -> Result<Session, String> {
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", self.profile.display()));
        args.push("--window-size=1280,760".into());
        args.push("--hide-scrollbars".into());
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": browser.chromium.display().to_string(),
                    "args": args,
                }
            }}
        });
        let (status, body) = http(
            self.port,
            "POST",
            "/session",
            Some(&capabilities),
            REQUEST_TIMEOUT,
        )?;
        let id = body["value"]["sessionId"]
            .as_str()
            .filter(|_| status == 200)
            .ok_or_else(|| {
                format!("chromedriver did not start Chromium (HTTP {status}): {body}")
            })?;
        Ok(Session {
            port: self.port,
            id: id.to_string(),
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium processes it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A WebDriver session; deleted (Chromium closed) on drop.
struct Session {
    port: u16,
    id: String,
}

/// The page's `#app` data attributes at one moment.
struct PageState(serde_json::Map<String, Value>);

impl PageState {
    fn text(&self, key: &str) -> String {
        self.0
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
    fn has(&self, key: &str) -> bool {
        !self.text(key).is_empty()
    }
    fn number(&self, key: &str) -> f64 {
        self.text(key).parse().unwrap_or(0.0)
    }
    fn state(&self) -> String {
        self.text("state")
    }
    fn describe(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }
}

impl Session {
    fn path(&self, command: &str) -> String {
        format!("/session/{}/{command}", self.id)
    }

    fn post(&self, command: &str, body: Value) -> Result<Value, String> {
        let (status, reply) = http(
            self.port,
            "POST",
            &self.path(command),
            Some(&body),
            REQUEST_TIMEOUT,
        )?;
        if status != 200 {
            return Err(format!(
                "WebDriver {command} failed (HTTP {status}): {reply}"
            ));
        }
        Ok(reply["value"].clone())
    }

    fn get(&self, command: &str) -> Result<Value, String> {
        let (status, reply) = http(self.port, "GET", &self.path(command), None, REQUEST_TIMEOUT)?;
        if status != 200 {
            return Err(format!(
                "WebDriver {command} failed (HTTP {status}): {reply}"
            ));
        }
        Ok(reply["value"].clone())
    }

    fn page_state(&self) -> Result<PageState, String> {
        let value = self.post(
            "execute/sync",
            json!({
                "script": "const app = document.getElementById('app'); return app ? Object.assign({}, app.dataset) : null;",
                "args": [],
            }),
        )?;
        match value {
            Value::Object(map) => Ok(PageState(map)),
            other => Err(format!("the page has no #app element (got {other})")),
        }
    }

    /// Polls the page's state until `done` holds; on time out, says what it waited for
    /// and what the page showed last.
    fn wait_for(
        &self,
        what: &str,
        within: Duration,
        done: impl Fn(&PageState) -> bool,
    ) -> Result<PageState, String> {
        let deadline = Instant::now() + within;
        loop {
            let state = self.page_state()?;
            if done(&state) {
                return Ok(state);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "timed out after {within:?} waiting for {what}; the page shows {}",
                    state.describe()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn click(&self, css: &str) -> Result<(), String> {
        let element = self.post("element", json!({ "using": "css selector", "value": css }))?;
        let id = element
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .ok_or_else(|| format!("no element {css}: {element}"))?
            .to_string();
        self.post(&format!("element/{id}/click"), json!({}))?;
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = http(
            self.port,
            "DELETE",
            &format!("/session/{}", self.id),
            None,
            Duration::from_secs(10),
        );
    }
}

/// One HTTP/1.1 request to chromedriver on loopback; the status and the JSON body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> Result<(u16, Value), String> {
    let what = format!("WebDriver {method} {path}");
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("{what}: cannot connect to chromedriver: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("{what}: {e}"))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{what}: cannot send: {e}"))?;
    // chromedriver keeps connections alive whatever the request says: read the head, then
    // exactly Content-Length bytes (or a chunked body to its last chunk).
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let read_more =
        |stream: &mut TcpStream, raw: &mut Vec<u8>, buf: &mut [u8]| match stream.read(buf) {
            Ok(0) => Err(format!("{what}: the connection closed early")),
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                Ok(())
            }
            Err(e) => Err(format!(
                "{what}: no complete answer within {timeout:?}: {e}"
            )),
        };
    let split = loop {
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break split;
        }
        read_more(&mut stream, &mut raw, &mut buf)?;
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{what}: a bad status line in {head:?}"))?;
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_ascii_lowercase())
        })
    };
    let body_start = split + 4;
    let content = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            if let Some(content) = dechunk(&raw[body_start..]) {
                break content;
            }
            read_more(&mut stream, &mut raw, &mut buf)?;
        }
    } else {
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while raw.len() < body_start + length {
            read_more(&mut stream, &mut raw, &mut buf)?;
        }
        raw[body_start..body_start + length].to_vec()
    };
    let value = if content.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&content)
            .map_err(|e| format!("{what}: the answer is not JSON: {e}"))?
    };
    Ok((status, value))
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

/// Standard base64 (WebDriver screenshots), padding and line breaks tolerated.
fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\r' | b'\n' => continue,
            other => return Err(format!("not base64: byte {other:#04x}")),
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode("aGk\n=").unwrap(), b"hi");
        assert!(base64_decode("a*b").is_err());
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(dechunk(b"9\r\nabc").is_none());
    }
}
