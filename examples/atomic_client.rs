//! The client half of atomic_websocket's README example, on our stack: with no address it
//! discovers a server on the local network, connects, announces itself with a tagged
//! "startup" message, prints its status transitions and the server's confirmation, and
//! remembers the endpoint for the next run.
//!
//! ```text
//! cargo run -p examples --example atomic_client -- --once                 # discover, connect, confirm, exit
//! cargo run -p examples --example atomic_client -- --once                 # again: uses the remembered endpoint
//! cargo run -p examples --example atomic_client -- ws://10.0.0.5:9300/    # a configured address
//! cargo run -p examples --example atomic_client -- --once --mdns          # discover over mDNS instead
//! ```
//!
//! Exit codes: 0 once confirmed with `--once` (or after Ctrl-C); 1 with the reason when no
//! server was found or confirmed within `--timeout-secs`.

use std::error::Error;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use atomic_ws::JsonFileStore;
use atomic_ws::compact::{self, TypedReceiver};
use atomic_ws::discovery::mdns::MdnsBrowser;
use atomic_ws::discovery::{self, Prober};
use atomic_ws::endpoint::EndpointResolver;
use clap::Parser;
use core_pre::{CallbackContext, ClientBuilder, DisconnectReason, ReconnectPolicy, StatusEvent};
use examples::atomic_demo::{Confirmed, DEFAULT_SERVICE, Startup};
use futures::StreamExt;

/// Finds an atomic_server, connects, announces itself and waits for the confirmation.
#[derive(Debug, Parser)]
struct Args {
    /// The server's WebSocket URL; without it (and without a remembered endpoint) the
    /// client discovers one.
    url: Option<String>,
    /// The service name to discover.
    #[arg(long, default_value = DEFAULT_SERVICE)]
    service: String,
    /// The UDP port the servers answer discovery on.
    #[arg(long, default_value_t = discovery::DEFAULT_PORT)]
    discovery_port: u16,
    /// Probe these addresses (IP:PORT, repeatable) instead of every interface's broadcast
    /// address.
    #[arg(long = "probe")]
    probes: Vec<SocketAddr>,
    /// Also probe up to this many hosts of the local subnets one by one (for networks that
    /// drop broadcasts; off by default).
    #[arg(long, default_value_t = 0)]
    sweep: usize,
    /// Discover over mDNS/DNS-SD instead of the UDP probe.
    #[arg(long)]
    mdns: bool,
    /// The settings file (the remembered endpoint lives there).
    #[arg(long, default_value = "atomic_client_settings.json")]
    settings: PathBuf,
    /// The name this client announces.
    #[arg(long, default_value = "atomic-client")]
    name: String,
    /// Exit right after the confirmation.
    #[arg(long)]
    once: bool,
    /// Give up when nothing is found or confirmed within this many seconds.
    #[arg(long, default_value_t = 20)]
    timeout_secs: u64,
    /// atomic_websocket's `retry_seconds`: the interval between attempts (jittered).
    #[arg(long, default_value_t = 1)]
    retry_seconds: u64,
    /// atomic_websocket's `max_retry_count`: give up after this many retries.
    #[arg(long)]
    max_retry_count: Option<u32>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => examples::report(&*error),
    }
}

async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let (store, warning) = JsonFileStore::open_or_reset(&args.settings).await;
    if let Some(warning) = warning {
        println!("warning: {warning}");
    }
    let store = Arc::new(store);

    let resolver = EndpointResolver::new(store.clone());
    let mut resolver = if args.mdns {
        resolver.with_discovery(MdnsBrowser::new(&args.service, Duration::from_secs(3)))
    } else {
        let mut prober = Prober::new(&args.service)
            .with_port(args.discovery_port)
            .with_sweep(args.sweep);
        if !args.probes.is_empty() {
            prober = prober.with_targets(args.probes.iter().copied());
        }
        resolver.with_discovery(prober)
    };
    match (resolver.remembered().await?, &args.url) {
        (Some(remembered), _) => println!(
            "using the remembered endpoint {remembered} (from {})",
            args.settings.display()
        ),
        (None, Some(url)) => println!("using the configured endpoint {url}"),
        (None, None) if args.mdns => println!(
            "no address given: discovering service {:?} over mDNS",
            args.service
        ),
        (None, None) => println!(
            "no address given: discovering service {:?} on UDP port {}",
            args.service, args.discovery_port
        ),
    }
    if let Some(url) = &args.url {
        resolver = resolver.with_configured(url.clone());
    }
    let mut endpoint = resolver.watch();

    let mut policy = ReconnectPolicy::fixed(Duration::from_secs(args.retry_seconds.max(1)));
    if let Some(retries) = args.max_retry_count {
        policy = policy.with_max_retries(retries);
    }
    let name = args.name.clone();
    let connections = Arc::new(AtomicU32::new(0));
    let (client, runner, confirmed) = ClientBuilder::new(resolver)
        .with_reconnect_policy(policy)
        // Announce ourselves on every connection, before anything else is read.
        .on_connect(move |ctx: CallbackContext<()>| {
            let startup = Startup {
                name: name.clone(),
                connection: connections.fetch_add(1, Ordering::Relaxed) + 1,
            };
            async move {
                ctx.outbound.send(compact::to_message(&startup)?).await?;
                Ok(())
            }
        })
        .build_with(|modules| modules.add::<TypedReceiver<Confirmed>>());
    // Taken before the runner starts: every transition is printed.
    let mut status = client.status_events();
    let printer = tokio::spawn(async move {
        while let Some(event) = status.next().await {
            // The state before the runner started says nothing a user needs.
            if event != StatusEvent::Disconnected(DisconnectReason::NotStarted) {
                println!("status: {event}");
            }
        }
    });
    let runner = runner.spawn();

    let left = deadline.saturating_duration_since(Instant::now());
    if let Err(error) = client.wait_connected(left).await {
        let _ = client.shutdown().await;
        return Err(format!(
            "no server found or reachable within {} s: {error}",
            args.timeout_secs
        )
        .into());
    }
    if let Some(endpoint) = endpoint.borrow_and_update().as_ref() {
        println!(
            "connected to {} ({} endpoint)",
            endpoint.url, endpoint.source
        );
    }

    let left = deadline.saturating_duration_since(Instant::now());
    match confirmed.recv_timeout(left).await {
        Ok(Some(Ok(answer))) => println!(
            "confirmed by {:?}: {:?} is session {}",
            answer.server, answer.name, answer.session
        ),
        Ok(Some(Err(error))) => {
            let _ = client.shutdown().await;
            return Err(format!("the server's answer is unreadable: {error}").into());
        }
        Ok(None) | Err(_) => {
            let _ = client.shutdown().await;
            return Err(format!(
                "connected, but no confirmation within {} s",
                args.timeout_secs
            )
            .into());
        }
    }

    if !args.once {
        println!("staying connected; Ctrl-C stops");
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                answer = confirmed.recv() => match answer {
                    Some(Ok(answer)) => println!("confirmed again by {:?} as session {}", answer.server, answer.session),
                    Some(Err(error)) => println!("an unreadable message: {error}"),
                    None => break,
                },
            }
        }
    }
    client.shutdown().await?;
    let _ = tokio::time::timeout(Duration::from_secs(5), runner).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), printer).await;
    Ok(())
}
