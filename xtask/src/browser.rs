//! Headless browser tests: client_ws's wasm tests run inside Chromium (driven by
//! chromedriver through `wasm-bindgen-test-runner`) against the native reference server,
//! then binary_options_tools's against the native PocketOption simulator, then messaging's
//! against a nats-server WebSocket listener.
//!
//! Steps:
//! 1. find Chromium and chromedriver (missing: an error naming the packages on CI, a
//!    skip with a message locally);
//! 2. make sure `wasm-bindgen-test-runner` is the version of `wasm-bindgen` in
//!    `Cargo.lock` (installed once into `target/tools`, then reused);
//! 3. build and start the reference server on a free loopback port; its URL goes to the
//!    wasm build through `CLIENT_WS_TEST_SERVER` (read with `option_env!`), with a closed
//!    loopback port in `CLIENT_WS_TEST_REFUSED_URL`;
//! 4. run `cargo test -p client_ws --target wasm32-unknown-unknown --test browser` with a
//!    generated `webdriver.json` (headless, no sandbox: CI runs as root; a fresh profile);
//! 5. stop the server, whatever happened;
//! 6. the same for the PocketOption client, with the simulator's URL in `PO_SIM_URL`;
//! 7. the same for the messaging client, against a `nats-server` with a WebSocket listener
//!    on free loopback ports (its URL in `MESSAGING_TEST_NATS_WS`), stopped by pid.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cmd::{self, cargo, target_dir};
use crate::tools::{WASM_TARGET, cargo_install, find_program, lock_version, wasm_bindgen_runner};

/// How long the reference server may take to print its address (it is already built).
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to exit once its stdin is closed.
const SERVER_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Chromium's flags for a headless run on a closed network, as root.
pub(crate) const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];

pub(crate) fn run() -> Result<(), String> {
    println!(
        "\n==> browser tests (client_ws, binary_options_tools and messaging in headless Chromium)"
    );
    let started = Instant::now();
    let Some(browser) = find_browser()? else {
        return Ok(());
    };
    let runner = ensure_test_runner()?;

    let server = BackgroundServer::reference_server()?;
    println!("    reference server at {}", server.url);
    // A loopback port with nothing behind it, for the "refused" test (Chromium blocks some
    // well-known ports outright, which would test something else).
    let refused_url = format!("ws://127.0.0.1:{}/", cmd::free_port()?);
    let result = run_tests(
        &browser,
        &runner,
        "client_ws",
        &[
            ("CLIENT_WS_TEST_SERVER", server.url.as_str()),
            ("CLIENT_WS_TEST_REFUSED_URL", refused_url.as_str()),
        ],
    );
    drop(server);
    result?;

    let simulator = BackgroundServer::simulator()?;
    println!("    PocketOption simulator at {}", simulator.url);
    let result = run_tests(
        &browser,
        &runner,
        "binary_options_tools",
        &[("PO_SIM_URL", simulator.url.as_str())],
    );
    drop(simulator);
    result?;

    if let Some(nats) = NatsBackground::start()? {
        println!("    nats-server WebSocket listener at {}", nats.ws_url);
        let result = run_tests(
            &browser,
            &runner,
            "messaging",
            &[("MESSAGING_TEST_NATS_WS", nats.ws_url.as_str())],
        );
        drop(nats);
        result?;
    }
    println!(
        "    ok: browser tests, all steps ({:.1}s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Where Chromium and its driver are.
pub(crate) struct Browser {
    pub(crate) chromium: PathBuf,
    pub(crate) chromedriver: PathBuf,
}

/// Chromium and chromedriver, or `None` (skip) locally when they are missing.
pub(crate) fn find_browser() -> Result<Option<Browser>, String> {
    let chromedriver = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .filter(|path| path.is_file())
        .or_else(|| find_program(&["/usr/bin/chromedriver", "chromedriver"]));
    let chromium = find_program(&[
        "/usr/bin/chromium",
        "chromium",
        "chromium-browser",
        "google-chrome",
    ]);
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Ok(Some(Browser {
            chromium,
            chromedriver,
        })),
        (chromium, chromedriver) => {
            let mut missing = Vec::new();
            if chromium.is_none() {
                missing.push("chromium");
            }
            if chromedriver.is_none() {
                missing.push("chromium-driver");
            }
            let advice = format!(
                "the browser tests need {}: `cargo xtask setup` installs it (as root or with sudo), \
                 or `apt-get install -y chromium chromium-driver`; or set CHROMEDRIVER",
                missing.join(" and ")
            );
            if cmd::in_ci() {
                Err(advice)
            } else {
                println!("    SKIPPED (not on CI): {advice}");
                Ok(None)
            }
        }
    }
}

/// `wasm-bindgen-test-runner` at exactly the Cargo.lock version of wasm-bindgen (the two
/// must match), installed into `target/tools` when missing or outdated.
pub(crate) fn ensure_test_runner() -> Result<PathBuf, String> {
    let version = lock_version("wasm-bindgen")?;
    let tools = target_dir().join("tools");
    let runner = wasm_bindgen_runner();
    let installed = Command::new(&runner)
        .arg("--version")
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string());
    let expected = format!("wasm-bindgen-test-runner {version}");
    if installed.as_deref() == Some(expected.as_str()) {
        println!("    {expected} (cached in {})", tools.display());
        return Ok(runner);
    }
    // Not `--locked`: the CLI's own lock file may pin crates this toolchain rejects.
    cargo_install("wasm-bindgen-cli", &version, false)?;
    Ok(runner)
}

/// A native test server in a child process, running until dropped.
struct BackgroundServer {
    child: Child,
    url: String,
    /// Exits by itself when its stdin closes (otherwise it is killed at once).
    exits_on_stdin_close: bool,
}

impl BackgroundServer {
    /// client_ws's reference JSON-RPC server; it prints `listening on ws://…` and exits when
    /// its stdin closes.
    fn reference_server() -> Result<BackgroundServer, String> {
        Self::start(
            "the reference server",
            &[
                "-p",
                "client_ws",
                "--features",
                "server",
                "--example",
                "reference_server",
            ],
            &["examples", "reference_server"],
            &["--addr", "127.0.0.1:0"],
        )
    }

    /// The PocketOption simulator binary; it prints `PocketOption simulator on ws://… (…)`.
    fn simulator() -> Result<BackgroundServer, String> {
        Self::start(
            "the PocketOption simulator",
            &["-p", "pocketoption_sim", "--bin", "pocketoption_sim"],
            &["pocketoption_sim"],
            &["--addr", "127.0.0.1:0", "--tick-ms", "50"],
        )
    }

    /// Builds with `cargo build <build>`, runs `target/debug/<exe…>` with `args`, and reads
    /// the `ws://` URL off its first line of output.
    fn start(
        what: &str,
        build: &[&str],
        exe: &[&str],
        args: &[&str],
    ) -> Result<BackgroundServer, String> {
        let mut build_args = vec!["build"];
        build_args.extend(build);
        cmd::run(&format!("build {what}"), &mut cargo(&build_args))?;
        let mut path = target_dir().join("debug");
        for part in exe {
            path = path.join(part);
        }
        let path = path.with_extension(std::env::consts::EXE_EXTENSION);
        // stdin stays piped: closing it tells the reference server to exit; the simulator
        // is killed on drop.
        let mut child = Command::new(&path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or("the server's stdout is not piped")?;
        let (line_tx, line_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = line_tx.send(first);
        });
        let mut server = BackgroundServer {
            child,
            url: String::new(),
            exits_on_stdin_close: exe.contains(&"reference_server"),
        };
        let line = line_rx.recv_timeout(SERVER_START_TIMEOUT).map_err(|_| {
            format!("{what} did not report its address within {SERVER_START_TIMEOUT:?}")
        })?;
        server.url = line
            .split_whitespace()
            .find(|word| word.starts_with("ws://"))
            .ok_or_else(|| format!("unexpected first line from {what}: {line:?}"))?
            .to_string();
        Ok(server)
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        if !self.exits_on_stdin_close {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return;
        }
        cmd::stop_child(&mut self.child, SERVER_STOP_TIMEOUT);
    }
}

/// A `nats-server` with a WebSocket listener on free loopback ports, killed on drop.
struct NatsBackground {
    child: Child,
    ws_url: String,
}

impl NatsBackground {
    /// Starts one, or `None` (skip) locally when nats-server is missing (an error on CI).
    fn start() -> Result<Option<NatsBackground>, String> {
        let Some(binary) = find_program(&["nats-server", "/usr/sbin/nats-server"]) else {
            let advice = "the messaging browser test needs nats-server: `cargo xtask setup` \
                          installs it, or `apt-get install -y nats-server`";
            if cmd::in_ci() {
                return Err(advice.into());
            }
            println!("    SKIPPED messaging (not on CI): {advice}");
            return Ok(None);
        };
        let (client_port, ws_port) = (cmd::free_port()?, cmd::free_port()?);
        let dir = target_dir().join("browser-tests");
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let conf = dir.join("nats.conf");
        std::fs::write(
            &conf,
            format!(
                "listen: \"127.0.0.1:{client_port}\"\nwebsocket {{\n  host: \"127.0.0.1\"\n  port: {ws_port}\n  no_tls: true\n}}\n"
            ),
        )
        .map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut server = NatsBackground {
            child,
            ws_url: format!("ws://127.0.0.1:{ws_port}"),
        };
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], ws_port));
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("nats-server exited at start with {status}"));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "nats-server did not listen on {addr} within {SERVER_START_TIMEOUT:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Some(server))
    }
}

impl Drop for NatsBackground {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A webdriver.json for this run: the Chromium binary, its flags, a fresh profile.
fn webdriver_config(browser: &Browser, dir: &Path) -> Result<PathBuf, String> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let profile = dir.join(format!("profile-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&profile)
        .map_err(|e| format!("cannot create {}: {e}", profile.display()))?;
    let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| format!("\"{a}\"")).collect();
    args.push(format!(
        "\"--user-data-dir={}\"",
        json_escape(&profile.display().to_string())
    ));
    let config = format!(
        "{{\n  \"goog:chromeOptions\": {{\n    \"binary\": \"{}\",\n    \"args\": [{}]\n  }}\n}}\n",
        json_escape(&browser.chromium.display().to_string()),
        args.join(", ")
    );
    let path = dir.join("webdriver.json");
    std::fs::write(&path, config).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn json_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Runs `package`'s `browser` test target in Chromium, with `env` (read at compile time by
/// the tests through `option_env!`).
fn run_tests(
    browser: &Browser,
    runner: &Path,
    package: &str,
    env: &[(&str, &str)],
) -> Result<(), String> {
    let dir = target_dir().join("browser-tests");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let webdriver = webdriver_config(browser, &dir)?;
    let tools_bin = runner.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut paths = vec![tools_bin];
    if let Some(existing) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    let path = std::env::join_paths(paths).map_err(|e| format!("bad PATH: {e}"))?;
    let mut command = cargo(&[
        "test",
        "-p",
        package,
        "--target",
        WASM_TARGET,
        "--test",
        "browser",
    ]);
    command
        .envs(env.iter().copied())
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", runner)
        .env("CHROMEDRIVER", &browser.chromedriver)
        .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &webdriver)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
        .env("PATH", path);
    let result = cmd::run(
        &format!("{package} browser tests (wasm-bindgen-test in headless Chromium)"),
        &mut command,
    );
    // The profile is per run; the rest of target/browser-tests is overwritten next time.
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with("profile-") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    result
}
