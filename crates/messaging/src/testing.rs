//! [`NatsServer`]: a local `nats-server` with a WebSocket listener, for tests and
//! benchmarks (Debian's `nats-server` package; `cargo xtask setup` installs it).
//!
//! Each instance runs its own process on free loopback ports with its own configuration
//! file, and is stopped by pid (killed on drop). It can be stopped and started again on the
//! same ports, which is how reconnect tests restart "the broker".

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long [`NatsServer::start`] waits for both listeners to accept.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of a [`NatsServer`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct NatsOptions {
    /// A token clients must present (`authorization { token }`).
    pub auth_token: Option<String>,
    /// The server's `max_payload`, in bytes (its default is 1 MiB).
    pub max_payload: Option<usize>,
    /// Routes: this server joins a cluster on a free port and connects to these route URLs
    /// (`nats-route://127.0.0.1:PORT`, see [`NatsServer::route_url`]).
    pub cluster_routes: Option<Vec<String>>,
}

/// A running `nats-server` process (killed on drop).
pub struct NatsServer {
    binary: PathBuf,
    dir: PathBuf,
    client_port: u16,
    ws_port: u16,
    cluster_port: Option<u16>,
    child: Option<Child>,
}

impl std::fmt::Debug for NatsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsServer")
            .field("client_port", &self.client_port)
            .field("ws_port", &self.ws_port)
            .field("pid", &self.pid())
            .finish()
    }
}

/// Finds the `nats-server` binary: `$NATS_SERVER_BIN`, then `PATH`, then `/usr/sbin` and
/// `/usr/bin` (where Debian puts it).
pub fn find_nats_server() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        return Some(PathBuf::from(path));
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push("/usr/sbin".into());
    dirs.push("/usr/bin".into());
    dirs.into_iter()
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

impl NatsServer {
    /// Starts a server with default options.
    pub fn start() -> io::Result<Self> {
        Self::start_with(NatsOptions::default())
    }

    /// Starts a server; returns once its client and WebSocket ports accept connections.
    pub fn start_with(options: NatsOptions) -> io::Result<Self> {
        let binary = find_nats_server().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "nats-server not found: install it with `sudo apt-get install nats-server` (or run `cargo xtask setup`), or set NATS_SERVER_BIN",
            )
        })?;
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "messaging-nats-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let client_port = free_port()?;
        let ws_port = free_port()?;
        let cluster_port = match options.cluster_routes {
            Some(_) => Some(free_port()?),
            None => None,
        };
        let mut conf = format!(
            "listen: \"127.0.0.1:{client_port}\"\nwebsocket {{\n  host: \"127.0.0.1\"\n  port: {ws_port}\n  no_tls: true\n}}\n"
        );
        if let Some(token) = &options.auth_token {
            conf.push_str(&format!("authorization {{\n  token: \"{token}\"\n}}\n"));
        }
        if let Some(max) = options.max_payload {
            conf.push_str(&format!("max_payload: {max}\n"));
        }
        if let (Some(port), Some(routes)) = (cluster_port, &options.cluster_routes) {
            let routes = routes
                .iter()
                .map(|r| format!("\"{r}\""))
                .collect::<Vec<_>>()
                .join(", ");
            conf.push_str(&format!("cluster {{\n  name: \"test\"\n  listen: \"127.0.0.1:{port}\"\n  routes: [{routes}]\n}}\n"));
        }
        std::fs::write(dir.join("nats.conf"), conf)?;
        let mut server = Self {
            binary,
            dir,
            client_port,
            ws_port,
            cluster_port,
            child: None,
        };
        server.spawn()?;
        Ok(server)
    }

    fn spawn(&mut self) -> io::Result<()> {
        let log = std::fs::File::create(self.dir.join("nats.log"))?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(self.dir.join("nats.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("could not run {}: {e}", self.binary.display()),
                )
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        for port in [self.client_port, self.ws_port] {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    break;
                }
                if let Some(child) = self.child.as_mut()
                    && let Some(status) = child.try_wait()?
                {
                    self.child = None;
                    return Err(io::Error::other(format!(
                        "nats-server exited with {status} at start; its log: {}",
                        self.log()
                    )));
                }
                if Instant::now() > deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "nats-server did not listen on port {port} within {START_TIMEOUT:?}; its log: {}",
                            self.log()
                        ),
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// What the server wrote to its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nats.log")).unwrap_or_default()
    }

    /// `ws://127.0.0.1:PORT`: the WebSocket listener (our `nats` codec connects here).
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.ws_port)
    }

    /// `nats://127.0.0.1:PORT`: the TCP client listener (async-nats connects here).
    pub fn nats_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }

    /// `nats-route://127.0.0.1:PORT`, when the server was started with cluster routes.
    pub fn route_url(&self) -> Option<String> {
        self.cluster_port
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process and waits for it; its ports stop accepting.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same ports (after [`stop`](Self::stop)).
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        self.spawn()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
