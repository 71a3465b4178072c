//! The main demo: connect, show the balance and the best payouts, stream a few candles,
//! place a short demo trade, follow it to expiry, and print the result.
//!
//! ```text
//! cargo run --example quickstart                       # against the built-in simulator
//! POCKET_OPTION_SSID='42["auth",{…}]' cargo run --example quickstart   # the real platform
//! ```
//!
//! With `POCKET_OPTION_SSID` set it talks to the real platform: use a demo-account SSID.

use std::error::Error;
use std::time::Duration;

use binary_options_tools::{Action, Decimal, PocketOption, Ssid, SubscriptionKind};
use futures::StreamExt;
use pocketoption_sim::Simulator;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    let (client, simulator) = match std::env::var("POCKET_OPTION_SSID") {
        Ok(ssid) => {
            println!("Connecting to PocketOption with POCKET_OPTION_SSID...");
            (PocketOption::new(&ssid).await?, None)
        }
        Err(_) => {
            println!("POCKET_OPTION_SSID is not set: starting the built-in simulator.");
            let sim = Simulator::builder()
                .seed(7)
                .tick_interval(Duration::from_millis(100))
                .start()
                .await?;
            println!("Simulator listening on {}", sim.url());
            let client = PocketOption::builder(Ssid::demo("quickstart-demo-session", 12_345_678))
                .with_url(sim.url())
                .only_given_urls()
                .connect()
                .await?;
            (client, Some(sim))
        }
    };
    let account = if client.is_demo() { "demo" } else { "REAL" };
    println!("Connected to the {account} account.");

    let balance = client.balance().await?;
    println!("Balance: {balance}");

    let assets = client.assets().await?;
    let mut open: Vec<_> = assets.values().filter(|a| a.is_active).collect();
    open.sort_by(|a, b| b.payout.cmp(&a.payout).then(a.symbol.cmp(&b.symbol)));
    println!("Top payouts:");
    for asset in open.iter().take(5) {
        println!(
            "  {:<16} {:>3}%  {}",
            asset.symbol, asset.payout, asset.name
        );
    }
    let Some(asset) = open.first() else {
        return Err("no asset is open for trading right now".into());
    };
    let expiry = asset.expiries.iter().copied().min().unwrap_or(60);

    println!("Streaming 5-second candles of {}:", asset.symbol);
    let mut candles = client
        .subscribe(
            &asset.symbol,
            SubscriptionKind::Candles(Duration::from_secs(5)),
        )
        .await?;
    for _ in 0..3 {
        match tokio::time::timeout(Duration::from_secs(30), candles.next()).await {
            Ok(Some(c)) => println!(
                "  {} UTC  open {:.5}  high {:.5}  low {:.5}  close {:.5}  ({} ticks)",
                clock(c.time),
                c.open,
                c.high,
                c.low,
                c.close,
                c.ticks
            ),
            Ok(None) => return Err("the stream ended".into()),
            Err(_) => return Err("no candle within 30 s".into()),
        }
    }

    let amount = Decimal::ONE;
    println!(
        "Placing a {expiry}s call of {amount} on {}...",
        asset.symbol
    );
    let deal = client
        .trade(
            &asset.symbol,
            Action::Call,
            amount,
            Duration::from_secs(expiry.into()),
        )
        .await?;
    println!("Opened deal {} at {}", deal.id, deal.open_price);

    let result = client.result(&deal.id);
    tokio::pin!(result);
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    let result = loop {
        tokio::select! {
            result = &mut result => break result?,
            _ = progress.tick() => {
                println!("  {:>3}s to expiry", client.time_left(&deal).as_secs());
            }
        }
    };
    println!(
        "Result: {:?}, profit {} (closed at {})",
        result.outcome, result.profit, result.deal.close_price
    );
    println!("New balance: {}", client.balance().await?);

    client.shutdown().await?;
    if let Some(sim) = simulator {
        sim.shutdown().await?;
    }
    Ok(())
}

/// `HH:MM:SS` of a unix time.
fn clock(unix: f64) -> String {
    let secs = unix as u64 % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}
