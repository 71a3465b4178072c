//! `dashboard`: serves the live browser dashboard with the PocketOption simulator behind it.
//!
//! Prints `dashboard on http://127.0.0.1:PORT/ (simulator ws://…)` once ready, then reads
//! commands on stdin (unless `--no-stdin`): `drop` (the simulator drops every connection),
//! `outage MS` (it refuses new connections for MS milliseconds and drops every open one),
//! `quit`. Each command is answered with one `ok: …` or `error: …` line. Ctrl-C stops it.
//!
//! The page's wasm comes from `--pkg` (wasm-bindgen's output): `cargo xtask dashboard`
//! builds it and runs this.

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::process::ExitCode;
    use std::time::Duration;

    use clap::Parser;
    use dashboard::server::{DashboardServer, ServerConfig};
    use tokio::io::{AsyncBufReadExt, BufReader};

    /// Serves the live browser dashboard, with the PocketOption simulator in-process.
    #[derive(Parser, Debug)]
    #[command(name = "dashboard", version)]
    struct Flags {
        /// Where to serve the page (port 0: any free port)
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// wasm-bindgen's output for the page (dashboard.js, dashboard_bg.wasm)
        #[arg(long, value_name = "DIR")]
        pkg: PathBuf,
        /// The simulator's price seed
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Milliseconds between the simulator's ticks
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(10..=10_000))]
        tick_ms: u64,
        /// Do not read commands from stdin (run until Ctrl-C)
        #[arg(long)]
        no_stdin: bool,
    }

    pub(crate) fn main() -> ExitCode {
        let flags = Flags::parse();
        let runtime = match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime,
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        runtime.block_on(run(flags))
    }

    async fn run(flags: Flags) -> ExitCode {
        let config = ServerConfig {
            addr: flags.addr,
            pkg_dir: flags.pkg,
            seed: flags.seed,
            tick: Duration::from_millis(flags.tick_ms),
        };
        let server = match DashboardServer::start(config).await {
            Ok(server) => server,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "dashboard on {} (simulator {})",
            server.url(),
            server.simulator().url()
        );
        if flags.no_stdin {
            let _ = tokio::signal::ctrl_c().await;
        } else {
            let mut lines = BufReader::new(tokio::io::stdin()).lines();
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => break,
                    line = lines.next_line() => match line {
                        Ok(Some(line)) => {
                            if !command(&server, line.trim()) {
                                break;
                            }
                        }
                        // stdin closed: keep serving until Ctrl-C.
                        Ok(None) | Err(_) => {
                            let _ = tokio::signal::ctrl_c().await;
                            break;
                        }
                    },
                }
            }
        }
        server.shutdown().await;
        ExitCode::SUCCESS
    }

    /// Runs one stdin command; false on `quit`.
    fn command(server: &DashboardServer, line: &str) -> bool {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (None, _) => {}
            (Some("drop"), None) => {
                server.simulator().drop_all_connections();
                println!("ok: dropped every connection");
            }
            (Some("outage"), Some(ms)) => match ms.parse::<u64>() {
                Ok(ms) if ms <= 600_000 => {
                    server
                        .simulator()
                        .refuse_connections_for(Duration::from_millis(ms));
                    server.simulator().drop_all_connections();
                    println!("ok: refusing connections for {ms} ms, dropped every connection");
                }
                _ => println!("error: outage takes milliseconds, 0 to 600000"),
            },
            (Some("quit"), None) => return false,
            _ => println!("error: unknown command {line:?}: use drop, outage MS or quit"),
        }
        true
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    native::main()
}

/// The page's app is the library; this binary is native only.
#[cfg(target_arch = "wasm32")]
fn main() {}
