//! The dashboard's server (native): the simulator in-process and a small HTTP server on
//! loopback for the page, its script and its wasm.
//!
//! The HTTP side is deliberately tiny: `GET` only, one request per connection
//! (`Connection: close`), a bounded request head read under a deadline, and a fixed set of
//! paths — `/` (the page, with the simulator's URL written in), and `/pkg/<file>` for
//! wasm-bindgen's output (plain file names only, so nothing outside that directory can be
//! named).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pocketoption_sim::Simulator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The page, with `{{SIM_URL}}` where the simulator's WebSocket URL goes.
const PAGE: &str = include_str!("../www/index.html");
/// The longest request head read (a browser's is well under 2 KiB).
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the page is served (port 0: any free port).
    pub addr: SocketAddr,
    /// wasm-bindgen's output directory (`dashboard.js`, `dashboard_bg.wasm`).
    pub pkg_dir: PathBuf,
    /// The simulator's seed.
    pub seed: u64,
    /// The simulator's tick interval.
    pub tick: Duration,
}

/// Why the server could not start.
#[derive(Debug)]
pub enum ServerError {
    /// wasm-bindgen's output is not where the config says.
    MissingPkg(PathBuf),
    /// The simulator did not start.
    Simulator(pocketoption_sim::SimError),
    /// The HTTP port could not be bound.
    Bind(SocketAddr, std::io::Error),
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerError::MissingPkg(dir) => write!(
                f,
                "no dashboard.js in {}: build the page first (`cargo xtask dashboard` does)",
                dir.display()
            ),
            ServerError::Simulator(e) => write!(f, "the simulator did not start: {e}"),
            ServerError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// The running dashboard: simulator + page server. Stopped by [`DashboardServer::shutdown`].
pub struct DashboardServer {
    addr: SocketAddr,
    simulator: Simulator,
    http: JoinHandle<()>,
}

impl DashboardServer {
    /// Starts the simulator, then the page server.
    pub async fn start(config: ServerConfig) -> Result<DashboardServer, ServerError> {
        if !config.pkg_dir.join("dashboard.js").is_file() {
            return Err(ServerError::MissingPkg(config.pkg_dir));
        }
        let simulator = Simulator::builder()
            .with_seed(config.seed)
            .with_tick_interval(config.tick)
            .start()
            .await
            .map_err(ServerError::Simulator)?;
        let listener = match TcpListener::bind(config.addr).await {
            Ok(listener) => listener,
            Err(e) => {
                let _ = simulator.shutdown().await;
                return Err(ServerError::Bind(config.addr, e));
            }
        };
        let addr = listener.local_addr().unwrap_or(config.addr);
        let page = PAGE.replace("{{SIM_URL}}", &simulator.url());
        let http = tokio::spawn(serve(listener, page, config.pkg_dir));
        Ok(DashboardServer {
            addr,
            simulator,
            http,
        })
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The simulator behind the page (its fault switches included).
    pub fn simulator(&self) -> &Simulator {
        &self.simulator
    }

    /// Stops the page server and the simulator.
    pub async fn shutdown(self) {
        self.http.abort();
        let _ = self.simulator.shutdown().await;
    }
}

async fn serve(listener: TcpListener, page: String, pkg_dir: PathBuf) {
    let page: std::sync::Arc<str> = page.into();
    let pkg_dir: std::sync::Arc<Path> = pkg_dir.into();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors and the like: wait a little rather than spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (page, pkg_dir) = (page.clone(), pkg_dir.clone());
        tokio::spawn(async move {
            let _ = handle(stream, &page, &pkg_dir).await;
        });
    }
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// The page.
    Page,
    /// A file of wasm-bindgen's output, by plain name.
    Pkg(String),
    /// Nothing to see (the favicon).
    Empty,
    /// Not found.
    NotFound,
    /// Not a `GET`.
    BadMethod,
}

/// Reads the request line: `GET /path?query HTTP/1.1`.
pub fn route(request_line: &str) -> Route {
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Route::NotFound;
    };
    if method != "GET" {
        return Route::BadMethod;
    }
    let path = target.split(['?', '#']).next().unwrap_or("");
    match path {
        "/" | "/index.html" => Route::Page,
        "/favicon.ico" => Route::Empty,
        _ => match path.strip_prefix("/pkg/") {
            Some(name)
                if !name.is_empty()
                    && !name.starts_with('.')
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) =>
            {
                Route::Pkg(name.to_owned())
            }
            _ => Route::NotFound,
        },
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("html") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn handle(mut stream: TcpStream, page: &str, pkg_dir: &Path) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let read = tokio::time::timeout(HEAD_TIMEOUT, async {
        let mut buf = [0u8; 2048];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            if head.len() > MAX_HEAD {
                return false;
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    if read != Ok(true) {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().next().unwrap_or("");
    let (status, kind, body): (&str, &str, Vec<u8>) = match route(line) {
        Route::Page => ("200 OK", content_type("x.html"), page.as_bytes().to_vec()),
        Route::Empty => ("204 No Content", "text/plain", Vec::new()),
        Route::Pkg(name) => match tokio::fs::read(pkg_dir.join(&name)).await {
            Ok(bytes) => ("200 OK", content_type(&name), bytes),
            Err(_) => ("404 Not Found", "text/plain", b"not found\n".to_vec()),
        },
        Route::NotFound => ("404 Not Found", "text/plain", b"not found\n".to_vec()),
        Route::BadMethod => (
            "405 Method Not Allowed",
            "text/plain",
            b"GET only\n".to_vec(),
        ),
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_the_page_and_plain_pkg_names_only() {
        assert_eq!(route("GET / HTTP/1.1"), Route::Page);
        assert_eq!(route("GET /?x=1 HTTP/1.1"), Route::Page);
        assert_eq!(
            route("GET /pkg/dashboard_bg.wasm HTTP/1.1"),
            Route::Pkg("dashboard_bg.wasm".into())
        );
        assert_eq!(route("GET /pkg/../Cargo.toml HTTP/1.1"), Route::NotFound);
        assert_eq!(route("GET /pkg/.hidden HTTP/1.1"), Route::NotFound);
        assert_eq!(route("GET /pkg/a/b.js HTTP/1.1"), Route::NotFound);
        assert_eq!(route("GET /etc/passwd HTTP/1.1"), Route::NotFound);
        assert_eq!(route("POST / HTTP/1.1"), Route::BadMethod);
        assert_eq!(route(""), Route::NotFound);
    }

    #[tokio::test]
    async fn serves_the_page_with_the_simulator_url_and_the_pkg_files_over_loopback() {
        let dir = std::env::temp_dir().join(format!("dashboard-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dashboard.js"), "export default 1;").unwrap();
        let server = DashboardServer::start(ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            pkg_dir: dir.clone(),
            seed: 7,
            tick: Duration::from_millis(100),
        })
        .await
        .unwrap();
        let get = |path: &'static str| {
            let addr = server.addr;
            async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                stream
                    .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                    .await
                    .unwrap();
                let mut out = String::new();
                tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut out))
                    .await
                    .unwrap()
                    .unwrap();
                out
            }
        };
        let page = get("/").await;
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
        assert!(
            page.contains(&server.simulator().url()),
            "the page names the simulator"
        );
        assert!(!page.contains("{{SIM_URL}}"));
        let script = get("/pkg/dashboard.js").await;
        assert!(script.contains("text/javascript"), "{script}");
        assert!(script.ends_with("export default 1;"));
        assert!(get("/pkg/missing.wasm").await.starts_with("HTTP/1.1 404"));
        assert!(get("/nothing").await.starts_with("HTTP/1.1 404"));
        server.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);

        let missing = DashboardServer::start(ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            pkg_dir: PathBuf::from("/no/such/dir"),
            seed: 7,
            tick: Duration::from_millis(100),
        })
        .await;
        let error = missing
            .err()
            .expect("a missing pkg dir is refused")
            .to_string();
        assert!(error.contains("cargo xtask dashboard"), "{error}");
    }
}
