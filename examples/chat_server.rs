//! A chat server on the `server` crate: sessions with names, rooms, broadcast, graceful
//! shutdown.
//!
//! ```text
//! cargo run -p examples --example chat_server                          # a short demo with three bots
//! cargo run -p examples --example chat_server -- --listen 127.0.0.1:9001   # serve until Ctrl-C
//! ```
//!
//! Clients connect to `ws://HOST:PORT/?name=NAME` (no name: HTTP 401). Everyone starts in
//! room `lobby`. A text line is said to the sender's room; `/join ROOM` moves to another
//! room; `/who` lists the room. Joins, moves and departures are announced to the room.
//! Without `--listen` the example starts on a free port, runs three core-pre clients
//! (alice, bob, carol) through a scripted conversation, prints what each one heard, and
//! shuts down. Errors are printed as a sentence and its causes, with exit code 1.

use std::collections::HashMap;
use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use client_ws::{WsConfig, WsConnector};
use core_pre::{Client, ClientBuilder, HandlerContext, Message};
use server::{Identity, Inbox, Reject, Server, ServerEvent, SessionId, UpgradeRequest};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => examples::report(&*error),
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let listen = match (args.next().as_deref(), args.next()) {
        (None, _) => None,
        (Some("--listen"), Some(address)) => Some(address),
        _ => return Err("usage: chat_server [--listen HOST:PORT]".into()),
    };

    // Who a session is comes from its upgrade request: here the `name` query parameter.
    let (server, inbox) = Server::builder()
        .with_address(listen.clone().unwrap_or_else(|| "127.0.0.1:0".into()))
        .with_authenticator(
            |request: &UpgradeRequest| match request.query_param("name") {
                Some(name) if !name.trim().is_empty() && name.len() <= 32 => {
                    Ok(Identity::new(name.trim()))
                }
                _ => Err(Reject::unauthorized(
                    "connect with ?name=YOUR_NAME (1 to 32 characters)",
                )),
            },
        )
        .with_ping_interval(Duration::from_secs(15))
        .start()
        .await?;
    println!("chat server at {}", server.url());
    let chat = tokio::spawn(serve(server.clone(), inbox));

    // The demo's bots still connected at the end, to see the shutdown close them.
    let mut remaining = Vec::new();
    match listen {
        Some(_) => {
            println!(
                "connect with ws://{}/?name=YOU; Ctrl-C stops",
                server.local_addr()
            );
            tokio::signal::ctrl_c().await?;
        }
        None => remaining = demo(&server).await?,
    }

    let report = server.shutdown(Duration::from_secs(5)).await?;
    println!(
        "shut down: {} of {} sessions closed cleanly, {} aborted, in {:?}",
        report.closed_cleanly, report.sessions, report.aborted, report.elapsed
    );
    let metrics = server.metrics();
    println!(
        "served {} sessions; {} messages in, {} out; {} dropped for slow readers",
        metrics.accepted, metrics.messages_in, metrics.messages_out, metrics.dropped
    );
    // The streams end once the server has stopped, and with them the chat loop.
    chat.await?;
    for bot in remaining {
        bot.shutdown().await?;
    }
    Ok(())
}

/// The chat itself: one loop over the server's events and messages.
async fn serve(server: Server, mut inbox: Inbox) {
    // Each session's name and room (one room at a time).
    let mut people: HashMap<SessionId, (String, String)> = HashMap::new();
    loop {
        tokio::select! {
            Some(event) = inbox.events.recv() => match event {
                ServerEvent::Connected(info) => {
                    let name = info.identity.as_ref().map_or("?", |i| i.name()).to_owned();
                    let _ = server.join(info.id, "lobby");
                    announce(&server, "lobby", &format!("* {name} joined lobby"));
                    people.insert(info.id, (name, "lobby".into()));
                }
                ServerEvent::Disconnected(ended) => {
                    if let Some((name, room)) = people.remove(&ended.info.id) {
                        announce(&server, &room, &format!("* {name} left ({})", ended.reason));
                    }
                }
                _ => {}
            },
            Some((id, message)) = inbox.messages.recv() => {
                let (Some(text), Some((name, room))) = (message.as_text(), people.get_mut(&id)) else {
                    continue;
                };
                if let Some(next) = text.strip_prefix("/join ") {
                    let next = next.trim().to_owned();
                    server.leave(id, room);
                    announce(&server, room, &format!("* {name} went to {next}"));
                    let _ = server.join(id, &next);
                    announce(&server, &next, &format!("* {name} joined {next}"));
                    *room = next;
                } else if text == "/who" {
                    let names: Vec<&str> = server
                        .members(room)
                        .iter()
                        .filter_map(|member| people.get(member).map(|(n, _)| n.as_str()))
                        .collect();
                    let _ = server.send_to(id, format!("* in {}: {}", people[&id].1, names.join(", ")));
                } else {
                    // Everyone in the room but the speaker; a slow reader only loses its own
                    // messages.
                    let _ = server.to(room).except(id).send(format!("{name}: {text}"));
                }
            },
            else => break,
        }
    }
}

fn announce(server: &Server, room: &str, line: &str) {
    let _ = server.to(room).send(line.to_owned());
}

/// A chat client on core-pre (reconnects by itself), printing what it hears.
fn bot(server: &Server, name: &'static str, heard: mpsc::Sender<String>) -> Client {
    let url = format!("ws://{}/?name={name}", server.local_addr());
    ClientBuilder::new(WsConnector::new(WsConfig::new(url)))
        .with_inline_handler(move |msg: &Message, _ctx: &HandlerContext<()>| {
            if let Some(text) = msg.as_text() {
                let _ = heard.try_send(format!("{name:>5} hears  {text}"));
            }
        })
        .spawn()
}

/// Three bots talk; everything they hear is printed in order. Returns the bots still
/// connected.
async fn demo(server: &Server) -> Result<Vec<Client>, Box<dyn Error>> {
    let (heard_tx, mut heard) = mpsc::channel(64);
    let printer = tokio::spawn(async move {
        while let Some(line) = heard.recv().await {
            println!("{line}");
        }
    });
    let pause = || tokio::time::sleep(Duration::from_millis(150));
    let wait = Duration::from_secs(5);

    let alice = bot(server, "alice", heard_tx.clone());
    alice.wait_connected(wait).await?;
    pause().await;
    let bob = bot(server, "bob", heard_tx.clone());
    bob.wait_connected(wait).await?;
    pause().await;
    alice.send("hi bob").await?;
    pause().await;
    bob.send("hi alice! anyone else here?").await?;
    pause().await;
    let carol = bot(server, "carol", heard_tx.clone());
    carol.wait_connected(wait).await?;
    pause().await;
    carol.send("/join rust").await?;
    pause().await;
    alice.send("/join rust").await?;
    pause().await;
    carol.send("only the rust room hears this").await?;
    pause().await;
    bob.send("/who").await?;
    pause().await;
    bob.shutdown().await?;
    pause().await;
    drop(heard_tx);
    // The printer ends when the bots' handlers, which hold the last senders, are gone.
    tokio::spawn(async move {
        let _ = tokio::time::timeout(wait, printer).await;
    });
    Ok(vec![alice, carol])
}
