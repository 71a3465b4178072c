//! `hub`: the messaging hub as a program (`src/bin/hub.rs` calls [`main`]).
//!
//! ```text
//! cargo run -p messaging --bin hub -- --listen 127.0.0.1:4280 [--nats nats://127.0.0.1:4222] [--max-payload N]
//! ```
//!
//! Prints `listening on ws://HOST:PORT/` once it accepts connections, serves until Ctrl-C or
//! SIGTERM, then closes every session with 1001 and exits 0. Exit code 1 with an `error:`
//! line when it cannot start (the address is taken, NATS is unreachable, a bad setting).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use super::{DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION, Hub};
use crate::json::DEFAULT_MAX_PAYLOAD;
use clap::Parser;

/// The messaging hub: routes subjects between WebSocket sessions speaking the `json`
/// envelope (publish, subscribe with `*`/`>`, queue groups, request/reply,
/// `_SESSION.<id>`); with `--nats`, bridged to a NATS server so several hubs form one bus.
#[derive(Parser, Debug)]
#[command(name = "hub", version)]
struct Args {
    /// Where to listen, `HOST:PORT` (port 0 picks a free one; the URL is printed).
    #[arg(long, value_name = "HOST:PORT")]
    listen: String,
    /// Bridge to this NATS server (`nats://HOST:PORT`).
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// The largest decoded body a publish may carry, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_PAYLOAD)]
    max_payload: usize,
    /// Subscriptions a session may hold.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION)]
    max_subscriptions: usize,
    /// Seconds sessions get to close at shutdown.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    shutdown_timeout: u64,
}

/// The `hub` program: parses the command line, serves until Ctrl-C or SIGTERM.
pub fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> ExitCode {
    let mut builder = Hub::builder()
        .with_address(args.listen.clone())
        .with_max_payload(args.max_payload)
        .with_max_subscriptions_per_session(args.max_subscriptions);
    if let Some(url) = &args.nats {
        builder = builder.with_nats(url.clone());
    }
    let hub = match builder.start().await {
        Ok(hub) => hub,
        Err(e) => {
            eprintln!("error: the hub could not start on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", hub.url());
    let _ = std::io::stdout().flush();
    if hub.is_bridged() {
        eprintln!("hub {}: bridged to NATS", hub.id());
    }
    let signal = stop_signal().await;
    eprintln!("{signal}: shutting down");
    match hub
        .shutdown(Duration::from_secs(args.shutdown_timeout))
        .await
    {
        Ok(report) => {
            let metrics = hub.metrics();
            eprintln!(
                "stopped: {} sessions ({} closed cleanly), {} published, {} delivered",
                report.sessions, report.closed_cleanly, metrics.published, metrics.delivered
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: shutting down: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Waits for Ctrl-C or (on Unix) SIGTERM; returns its name.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "interrupted",
                _ = term.recv() => "terminated",
            };
        }
    }
    match tokio::signal::ctrl_c().await {
        Ok(()) => "interrupted",
        // No signal handling at all: serve until killed.
        Err(_) => std::future::pending().await,
    }
}
