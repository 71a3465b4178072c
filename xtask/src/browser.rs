//! Headless browser tests: client_ws's wasm tests run inside Chromium (driven by
//! chromedriver through `wasm-bindgen-test-runner`) against the native reference server.
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
//! 5. stop the server, whatever happened.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cmd::{self, cargo, root};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// How long the reference server may take to print its address (it is already built).
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to exit once its stdin is closed.
const SERVER_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Chromium's flags for a headless run on a closed network, as root.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];

pub fn run() -> Result<(), String> {
    println!("\n==> browser tests (client_ws in headless Chromium)");
    let started = Instant::now();
    let Some(browser) = find_browser()? else {
        return Ok(());
    };
    let runner = ensure_test_runner()?;
    let server = ReferenceServer::start()?;
    println!("    reference server at {}", server.url);
    let result = run_tests(&browser, &runner, &server.url);
    drop(server);
    result?;
    println!(
        "    ok: browser tests, all steps ({:.1}s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Where Chromium and its driver are.
struct Browser {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

fn which(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

fn first_existing(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().find_map(|name| {
        let path = Path::new(name);
        if path.is_absolute() {
            path.is_file().then(|| path.to_path_buf())
        } else if cmd::on_path(name) {
            which(name)
        } else {
            None
        }
    })
}

/// Chromium and chromedriver, or `None` (skip) locally when they are missing.
fn find_browser() -> Result<Option<Browser>, String> {
    let chromedriver = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .filter(|path| path.is_file())
        .or_else(|| first_existing(&["/usr/bin/chromedriver", "chromedriver"]));
    let chromium = first_existing(&[
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
                "the browser tests need {}: install with `apt-get install -y chromium chromium-driver` \
                 (Debian; .ci/run does this), or set CHROMEDRIVER to a chromedriver",
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

/// The version of `package` recorded in Cargo.lock.
fn lock_version(package: &str) -> Result<String, String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let wanted = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            if let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|l| l.strip_suffix('"'))
            {
                return Ok(version.to_string());
            }
        }
    }
    Err(format!(
        "{package} is not in Cargo.lock; build client_ws for {WASM_TARGET} first"
    ))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        })
        .unwrap_or_else(|| root().join("target"))
}

/// `wasm-bindgen-test-runner` at exactly the Cargo.lock version of wasm-bindgen (the two
/// must match), installed into `target/tools` when missing or outdated.
fn ensure_test_runner() -> Result<PathBuf, String> {
    let version = lock_version("wasm-bindgen")?;
    let tools = target_dir().join("tools");
    let runner = tools.join("bin").join("wasm-bindgen-test-runner");
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
    let exact = format!("={version}");
    let root_dir = tools.display().to_string();
    cmd::run(
        &format!("install wasm-bindgen-cli {version} (once; cached in target/tools)"),
        &mut cargo(&[
            "install",
            "wasm-bindgen-cli",
            "--version",
            &exact,
            "--root",
            &root_dir,
            "--force",
        ]),
    )?;
    Ok(runner)
}

/// The reference server, running until dropped.
struct ReferenceServer {
    child: Child,
    url: String,
}

impl ReferenceServer {
    fn start() -> Result<ReferenceServer, String> {
        cmd::run(
            "build the reference server",
            &mut cargo(&[
                "build",
                "-p",
                "client_ws",
                "--features",
                "server",
                "--example",
                "reference_server",
            ]),
        )?;
        let exe = target_dir()
            .join("debug")
            .join("examples")
            .join(format!("reference_server{}", std::env::consts::EXE_SUFFIX));
        // stdin stays piped: closing it tells the server to exit, even if we crash.
        let mut child = Command::new(&exe)
            .args(["--addr", "127.0.0.1:0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
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
        let mut server = ReferenceServer {
            child,
            url: String::new(),
        };
        let line = line_rx.recv_timeout(SERVER_START_TIMEOUT).map_err(|_| {
            format!(
                "the reference server did not report its address within {SERVER_START_TIMEOUT:?}"
            )
        })?;
        server.url = line
            .trim()
            .strip_prefix("listening on ")
            .filter(|url| url.starts_with("ws://"))
            .ok_or_else(|| format!("unexpected first line from the reference server: {line:?}"))?
            .to_string();
        Ok(server)
    }
}

impl Drop for ReferenceServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + SERVER_STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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

fn run_tests(browser: &Browser, runner: &Path, url: &str) -> Result<(), String> {
    let dir = target_dir().join("browser-tests");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let webdriver = webdriver_config(browser, &dir)?;
    let tools_bin = runner.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut paths = vec![tools_bin];
    if let Some(existing) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    let path = std::env::join_paths(paths).map_err(|e| format!("bad PATH: {e}"))?;
    // A loopback port with nothing behind it, for the "refused" test (Chromium blocks some
    // well-known ports outright, which would test something else).
    let refused_url = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("cannot bind a loopback port: {e}"))?;
        let port = probe.local_addr().map_err(|e| e.to_string())?.port();
        format!("ws://127.0.0.1:{port}/")
    };
    let mut command = cargo(&[
        "test",
        "-p",
        "client_ws",
        "--target",
        WASM_TARGET,
        "--test",
        "browser",
    ]);
    command
        .env("CLIENT_WS_TEST_SERVER", url)
        .env("CLIENT_WS_TEST_REFUSED_URL", &refused_url)
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", runner)
        .env("CHROMEDRIVER", &browser.chromedriver)
        .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &webdriver)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
        .env("PATH", path);
    let result = cmd::run(
        "browser tests (wasm-bindgen-test in headless Chromium)",
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
