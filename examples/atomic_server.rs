//! The server half of atomic_websocket's README example, on our stack: a WebSocket server
//! (the `server` crate) that answers LAN discovery and confirms each client's tagged
//! "startup" message.
//!
//! ```text
//! cargo run -p examples --example atomic_server                       # ws on 0.0.0.0:9300, discovery on UDP 9399
//! cargo run -p examples --example atomic_server -- --listen 127.0.0.1:0 --service my-app
//! cargo run -p examples --example atomic_server -- --mdns             # also advertise over mDNS/DNS-SD
//! ```
//!
//! Run `atomic_client` (no address) on any host of the same network to see it discovered.
//! Sessions are keyed by the server's own session id, never by a name the client sends.

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use atomic_ws::compact;
use atomic_ws::discovery::mdns::MdnsAdvertisement;
use atomic_ws::discovery::{self, Announcement, DiscoveryResponder};
use clap::Parser;
use examples::atomic_demo::{Confirmed, DEFAULT_SERVICE, DEFAULT_WS_PORT, Startup};
use server::{Inbox, Server, ServerEvent};

/// Serves WebSocket clients, answers discovery, confirms startups.
#[derive(Debug, Parser)]
struct Args {
    /// The WebSocket address to listen on (`0.0.0.0` is every interface; discovery then
    /// tells each client the address it reached the server by).
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], DEFAULT_WS_PORT)))]
    listen: SocketAddr,
    /// The UDP address discovery answers on.
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], discovery::DEFAULT_PORT)))]
    discovery: SocketAddr,
    /// The service name clients probe for.
    #[arg(long, default_value = DEFAULT_SERVICE)]
    service: String,
    /// This server's identity in discovery replies and confirmations.
    #[arg(long, default_value = "atomic-server")]
    identity: String,
    /// Also advertise the server over mDNS/DNS-SD (`_atomic-ws._tcp.local.`).
    #[arg(long)]
    mdns: bool,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    for_secs: Option<u64>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => examples::report(&*error),
    }
}

async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let (server, inbox) = Server::builder()
        .with_address(args.listen.to_string())
        // atomic_websocket's automatic ping/pong: the server pings, the client answers.
        .with_ping_interval(Duration::from_secs(10))
        .start()
        .await?;
    let responder =
        DiscoveryResponder::attach(&server, &args.service, &args.identity, args.discovery).await?;
    println!(
        "serving {} as {:?}; answering discovery for service {:?} on udp {}",
        server.url(),
        args.identity,
        args.service,
        responder.local_addr()
    );
    let mdns = if args.mdns {
        let advertisement = MdnsAdvertisement::start(&Announcement {
            service: args.service.clone(),
            identity: args.identity.clone(),
            url: server.url(),
        })?;
        println!("advertised over mDNS as {}", advertisement.fullname());
        Some(advertisement)
    } else {
        None
    };
    let confirm = tokio::spawn(confirm_startups(server.clone(), inbox, args.identity));

    match args.for_secs {
        Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
        None => tokio::signal::ctrl_c().await?,
    }
    responder.shutdown().await;
    drop(mdns);
    let report = server.shutdown(Duration::from_secs(5)).await?;
    println!(
        "shut down: {} sessions, {} closed cleanly",
        report.sessions, report.closed_cleanly
    );
    confirm.await?;
    Ok(())
}

/// Answers each `Startup` with a `Confirmed`; logs sessions coming and going.
async fn confirm_startups(server: Server, mut inbox: Inbox, identity: String) {
    loop {
        tokio::select! {
            Some(event) = inbox.events.recv() => match event {
                ServerEvent::Connected(info) => println!("session {} connected from {}", info.id, info.peer),
                ServerEvent::Disconnected(ended) => println!("session {} left ({})", ended.info.id, ended.reason),
                _ => {}
            },
            Some((id, message)) = inbox.messages.recv() => {
                match compact::from_message::<Startup>(&message) {
                    Ok(startup) => {
                        let answer = Confirmed {
                            name: startup.name.clone(),
                            server: identity.clone(),
                            session: id.to_string(),
                        };
                        let sent = compact::to_message(&answer)
                            .map_err(|e| e.to_string())
                            .and_then(|m| server.send_to(id, m).map_err(|e| e.to_string()));
                        match sent {
                            Ok(()) => println!(
                                "confirmed startup of {:?} (connection {}) as session {id}",
                                startup.name, startup.connection
                            ),
                            Err(error) => println!("could not confirm session {id}: {error}"),
                        }
                    }
                    Err(error) => println!("session {id} sent something else: {error}"),
                }
            },
            else => break,
        }
    }
}
