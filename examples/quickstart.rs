//! The main demo: connect, show the balance and the best payouts, stream a few candles,
//! place a short demo trade, follow it to expiry (a progress bar on a terminal, plain
//! lines otherwise), and print the result and the balance after it.
//!
//! ```text
//! cargo run --example quickstart                       # against the built-in simulator
//! POCKET_OPTION_SSID='42["auth",{…}]' cargo run --example quickstart   # the real platform
//! cargo run --example quickstart -- --url ws://127.0.0.1:8080/socket.io/?EIO=4&transport=websocket
//! ```
//!
//! With `POCKET_OPTION_SSID` set it talks to the real platform: use a demo-account SSID.
//!
//! Options: `--url URL` connects to that URL only (with the SSID, or with a demo session
//! when none is set), instead of the platform's servers or the built-in simulator;
//! `--connect-timeout SECONDS` sets how long to wait for the connection (default 30).
//! Errors are printed as a sentence and its causes, and the exit code is 1.

use std::error::Error;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use binary_options_tools::{Action, Decimal, PocketOption, Ssid, SubscriptionKind, Timeouts};
use futures::StreamExt;
use pocketoption_sim::Simulator;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => examples::report(&*error),
    }
}

/// The command line: `[--url URL] [--connect-timeout SECONDS]`.
#[derive(Default)]
struct Args {
    url: Option<String>,
    connect_timeout: Option<Duration>,
}

impl Args {
    fn parse() -> Result<Args, Box<dyn Error>> {
        const USAGE: &str = "usage: quickstart [--url URL] [--connect-timeout SECONDS]";
        let mut parsed = Args::default();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| format!("`{name}` needs a value; {USAGE}"))
            };
            match name.as_str() {
                "--url" => parsed.url = Some(value()?),
                "--connect-timeout" => {
                    let text = value()?;
                    let seconds: f64 = text
                        .parse()
                        .ok()
                        .filter(|s: &f64| s.is_finite() && *s > 0.0)
                        .ok_or_else(|| {
                            format!(
                                "`--connect-timeout {text}` is not a positive number of seconds"
                            )
                        })?;
                    parsed.connect_timeout = Some(Duration::from_secs_f64(seconds));
                }
                _ => return Err(format!("unknown argument `{name}`; {USAGE}").into()),
            }
        }
        Ok(parsed)
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let args = Args::parse()?;
    let ssid = std::env::var("POCKET_OPTION_SSID").ok();
    let (client, simulator) = match (ssid, args.url) {
        (ssid, url) if ssid.is_some() || url.is_some() => {
            let mut builder = PocketOption::builder(match ssid {
                Some(ssid) => Ssid::parse(&ssid)?,
                None => Ssid::demo("quickstart-demo-session", 12_345_678),
            });
            match url {
                Some(url) => {
                    println!("Connecting to {url}...");
                    builder = builder.with_url(url).only_given_urls();
                }
                None => println!("Connecting to PocketOption with POCKET_OPTION_SSID..."),
            }
            if let Some(connect) = args.connect_timeout {
                builder = builder.with_timeouts(Timeouts::default().with_connect(connect));
            }
            (builder.connect().await?, None)
        }
        _ => {
            println!("POCKET_OPTION_SSID is not set: starting the built-in simulator.");
            let sim = Simulator::builder()
                .with_seed(7)
                .with_tick_interval(Duration::from_millis(100))
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
    // `trade` returns once the platform has taken the stake.
    println!("Balance after the stake: {}", client.balance().await?);

    let result = client.result(&deal.id);
    tokio::pin!(result);
    let mut countdown = Countdown::new(Duration::from_secs(expiry.into()));
    let mut redraw = tokio::time::interval(countdown.redraw_every());
    let result = loop {
        tokio::select! {
            result = &mut result => break result?,
            _ = redraw.tick(), if !countdown.ended() => countdown.show(client.time_left(&deal)),
        }
    };
    // Settled early (a platform may close a little before our clock says): end it now.
    countdown.show(Duration::ZERO);
    let closed_at = result
        .deal
        .close_price
        .map_or_else(|| "an unreported price".to_owned(), |p| p.to_string());
    println!(
        "Result: {:?}, profit {} (closed at {closed_at})",
        result.outcome, result.profit
    );
    // `result` returns once the balance includes the settlement.
    println!("New balance: {}", client.balance().await?);

    client.shutdown().await?;
    if let Some(sim) = simulator {
        sim.shutdown().await?;
    }
    Ok(())
}

/// The time left until a deal expires: a progress bar redrawn in place on a terminal,
/// one plain line per second otherwise (a log, a pipe). It ends exactly once, at expiry.
struct Countdown {
    total: Duration,
    terminal: bool,
    last_second: Option<u64>,
    ended: bool,
}

impl Countdown {
    const WIDTH: usize = 30;

    fn new(total: Duration) -> Self {
        Countdown {
            total,
            terminal: std::io::stdout().is_terminal(),
            last_second: None,
            ended: false,
        }
    }

    fn redraw_every(&self) -> Duration {
        if self.terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_millis(250)
        }
    }

    fn ended(&self) -> bool {
        self.ended
    }

    /// Shows `left`; at zero, shows the end (once) and nothing after it.
    fn show(&mut self, left: Duration) {
        if self.ended {
            return;
        }
        let left = left.min(self.total);
        if left.is_zero() {
            self.ended = true;
            if self.terminal {
                println!(
                    "\r  [{}] expired, waiting for the result",
                    "#".repeat(Self::WIDTH)
                );
            } else {
                println!("  expired, waiting for the result");
            }
            return;
        }
        if self.terminal {
            let done = 1.0 - left.as_secs_f64() / self.total.as_secs_f64().max(f64::EPSILON);
            let filled = ((done * Self::WIDTH as f64).round() as usize).min(Self::WIDTH);
            print!(
                "\r  [{}{}] {:>5.1}s left ",
                "#".repeat(filled),
                "-".repeat(Self::WIDTH - filled),
                left.as_secs_f64()
            );
            let _ = std::io::stdout().flush();
        } else {
            // Whole seconds, rounded up: the last line before the end says 1 s.
            let second = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            if self.last_second != Some(second) {
                self.last_second = Some(second);
                println!("  {second:>3}s to expiry");
            }
        }
    }
}

/// `HH:MM:SS` of a unix time.
fn clock(unix: f64) -> String {
    let secs = unix as u64 % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}
