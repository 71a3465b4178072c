//! The simulator as a program: `cargo run -p pocketoption_sim -- --addr 127.0.0.1:PORT`.
//!
//! Runs until Ctrl-C, logs every connection (filter with `RUST_LOG`), injects faults on a
//! schedule given by flags, and takes commands on stdin (`help` lists them) so a person can
//! poke a client by hand. Arguments are parsed by hand to keep the build small.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use pocketoption_sim::{
    AuthPolicy, CloseOrderForm, Delivery, HistoryItems, MalformedFrame, Simulator, SimulatorHandle,
};
use tokio::sync::mpsc;

const HELP: &str = "\
pocketoption_sim: a PocketOption server simulator for tests and demos

USAGE:
    pocketoption_sim [OPTIONS]

Clients connect to ws://ADDR/socket.io/?EIO=4&transport=websocket

SERVER:
    --addr ADDR                  Address to listen on [default: 127.0.0.1:8080]
    --seed N                     Seed of the price paths and ids [default: 1]
    --tick-ms MS                 Tick interval of subscribed assets (and price grid) [default: 500]
    --ping-interval-ms MS        Engine.IO ping interval [default: 25000]
    --ping-timeout-ms MS         Time a client has to answer a ping [default: 20000]
    --time-scale X               Deals close X times faster than their expiry [default: 1]
    --demo-balance AMOUNT        Starting demo balance of new accounts [default: 50000]
    --real-balance AMOUNT        Starting real balance of new accounts [default: 1000]
    --history-items KIND         loadHistoryPeriod items: candles | prices [default: candles]
    --close-order FORM           successcloseOrder shape: object | array [default: object]
    --delivery MODE              Delivery of every event: one-step | two-step [default: two-step]
    --delivery-for EVENT=MODE    Delivery of one event (repeatable)

AUTH:
    --accept-session TOKEN       Accept only this session (repeatable; default: accept all)
    --reject-all                 Reject every auth with NotAuthorized + 41
    --reject-event NAME          Event sent on rejection [default: NotAuthorized]
    --check-user-agent           Reject real sessions whose user agent differs from the request's
    --check-origin               Refuse upgrades without Origin: https://pocketoption.com

FAULTS (schedules start counting at launch):
    --reply-delay-ms MS          Delay every reply by MS
    --refuse-for-secs S          Answer upgrades with 503 for the first S seconds
    --drop-every-secs S          Drop every connection every S seconds
    --silent-every-secs S        Go silent every S seconds ...
    --silent-for-secs S          ... for S seconds each time [default: 5]
    --malformed-every-secs S     Send malformed frames every S seconds ...
    --malformed-kind KIND        ... of this kind [default: all kinds in turn]
                                 (garbage-text, invalid-json, binary-without-header,
                                  header-without-attachment, too-many-attachments, unknown-event)
    --restart-every-secs S       Restart (close listener and connections) every S seconds ...
    --restart-downtime-ms MS     ... staying down MS each time [default: 1000]

OTHER:
    --no-stdin                   Do not read commands from stdin
    -h, --help                   Print this help

STDIN COMMANDS (one per line; `help` lists them):
    status | drop | silent on|off | refuse SECS | malformed KIND|all | delay MS
    restart [MS] | pin ASSET PRICE | unpin ASSET | active ASSET on|off | payout ASSET N
    balance UID demo|real AMOUNT | accept-all | reject-all

LOGGING:
    RUST_LOG=debug for every frame decision; session tokens are never logged.
";

#[derive(Debug, Default)]
struct Schedule {
    refuse_for: Option<Duration>,
    drop_every: Option<Duration>,
    silent_every: Option<Duration>,
    silent_for: Option<Duration>,
    malformed_every: Option<Duration>,
    malformed_kind: Option<MalformedFrame>,
    restart_every: Option<Duration>,
    restart_downtime: Option<Duration>,
    reply_delay: Option<Duration>,
    stdin: bool,
}

/// Prints a line; a closed stdout (a pipe whose reader left) is not worth a panic.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn value<T: FromStr>(flag: &str, raw: Option<String>) -> Result<T, String> {
    let raw = raw.ok_or_else(|| format!("{flag} needs a value; see --help"))?;
    raw.parse()
        .map_err(|_| format!("{flag}: `{raw}` is not a valid value; see --help"))
}

fn secs(flag: &str, raw: Option<String>) -> Result<Duration, String> {
    let s: f64 = value(flag, raw)?;
    if s.is_finite() && s > 0.0 {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(format!("{flag} must be a positive number of seconds"))
    }
}

fn millis(flag: &str, raw: Option<String>) -> Result<Duration, String> {
    Ok(Duration::from_millis(value(flag, raw)?))
}

fn delivery(raw: &str) -> Result<Delivery, String> {
    match raw {
        "one-step" | "one" | "42" => Ok(Delivery::OneStep),
        "two-step" | "two" | "451" => Ok(Delivery::TwoStep),
        other => Err(format!(
            "unknown delivery `{other}`: use one-step or two-step"
        )),
    }
}

fn parse_args(
    args: impl Iterator<Item = String>,
) -> Result<Option<(pocketoption_sim::SimulatorBuilder, Schedule)>, String> {
    let mut builder = Simulator::builder().addr(SocketAddr::from(([127, 0, 0, 1], 8080)));
    let mut schedule = Schedule {
        stdin: true,
        ..Schedule::default()
    };
    let mut sessions = HashSet::new();
    let mut reject_all = false;
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        // Accept `--flag=value` as well as `--flag value`.
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (flag, None),
        };
        let mut next = || inline.clone().or_else(|| args.next());
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--addr" => builder = builder.addr(value("--addr", next())?),
            "--seed" => builder = builder.seed(value("--seed", next())?),
            "--tick-ms" => builder = builder.tick_interval(millis("--tick-ms", next())?),
            "--ping-interval-ms" => {
                builder = builder.ping_interval(millis("--ping-interval-ms", next())?)
            }
            "--ping-timeout-ms" => {
                builder = builder.ping_timeout(millis("--ping-timeout-ms", next())?)
            }
            "--time-scale" => builder = builder.time_scale(value("--time-scale", next())?),
            "--demo-balance" => builder = builder.demo_balance(value("--demo-balance", next())?),
            "--real-balance" => builder = builder.real_balance(value("--real-balance", next())?),
            "--history-items" => {
                builder = builder.history_items(match next().as_deref() {
                    Some("candles") => HistoryItems::Candles,
                    Some("prices") => HistoryItems::Prices,
                    _ => return Err("--history-items takes candles or prices".to_owned()),
                })
            }
            "--close-order" => {
                builder = builder.close_order_form(match next().as_deref() {
                    Some("object") => CloseOrderForm::Object,
                    Some("array") => CloseOrderForm::BareArray,
                    _ => return Err("--close-order takes object or array".to_owned()),
                })
            }
            "--delivery" => {
                let raw: String = value("--delivery", next())?;
                builder = builder.delivery(delivery(&raw)?);
            }
            "--delivery-for" => {
                let raw: String = value("--delivery-for", next())?;
                let (event, mode) = raw
                    .split_once('=')
                    .ok_or("--delivery-for takes EVENT=one-step|two-step")?;
                builder = builder.delivery_for(event, delivery(mode)?);
            }
            "--accept-session" => {
                sessions.insert(value::<String>("--accept-session", next())?);
            }
            "--reject-all" => reject_all = true,
            "--reject-event" => {
                builder = builder.reject_event(value::<String>("--reject-event", next())?)
            }
            "--check-user-agent" => builder = builder.check_user_agent(true),
            "--check-origin" => builder = builder.check_origin(true),
            "--reply-delay-ms" => schedule.reply_delay = Some(millis("--reply-delay-ms", next())?),
            "--refuse-for-secs" => schedule.refuse_for = Some(secs("--refuse-for-secs", next())?),
            "--drop-every-secs" => schedule.drop_every = Some(secs("--drop-every-secs", next())?),
            "--silent-every-secs" => {
                schedule.silent_every = Some(secs("--silent-every-secs", next())?)
            }
            "--silent-for-secs" => schedule.silent_for = Some(secs("--silent-for-secs", next())?),
            "--malformed-every-secs" => {
                schedule.malformed_every = Some(secs("--malformed-every-secs", next())?)
            }
            "--malformed-kind" => {
                let raw: String = value("--malformed-kind", next())?;
                schedule.malformed_kind = Some(
                    MalformedFrame::from_name(&raw)
                        .ok_or_else(|| format!("unknown malformed kind `{raw}`; see --help"))?,
                );
            }
            "--restart-every-secs" => {
                schedule.restart_every = Some(secs("--restart-every-secs", next())?)
            }
            "--restart-downtime-ms" => {
                schedule.restart_downtime = Some(millis("--restart-downtime-ms", next())?)
            }
            "--no-stdin" => schedule.stdin = false,
            other => return Err(format!("unknown argument `{other}`; see --help")),
        }
    }
    if reject_all {
        builder = builder.auth_policy(AuthPolicy::RejectAll);
    } else if !sessions.is_empty() {
        builder = builder.auth_policy(AuthPolicy::AcceptOnly(sessions));
    }
    Ok(Some((builder, schedule)))
}

/// Runs `action` every `period` until the simulator stops.
fn every<F, Fut>(period: Option<Duration>, sim: &SimulatorHandle, mut action: F)
where
    F: FnMut(SimulatorHandle, u64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let Some(period) = period else { return };
    let sim = sim.clone();
    tokio::spawn(async move {
        let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        for round in 0.. {
            timer.tick().await;
            action(sim.clone(), round).await;
        }
    });
}

fn start_schedule(sim: &SimulatorHandle, schedule: &Schedule) {
    if let Some(d) = schedule.reply_delay {
        sim.set_reply_delay(d);
    }
    if let Some(d) = schedule.refuse_for {
        sim.refuse_connections_for(d);
    }
    every(schedule.drop_every, sim, |sim, _| async move {
        sim.drop_all_connections();
    });
    let silent_for = schedule.silent_for.unwrap_or(Duration::from_secs(5));
    every(schedule.silent_every, sim, move |sim, _| async move {
        sim.set_silent(true);
        tokio::time::sleep(silent_for).await;
        sim.set_silent(false);
    });
    let kind = schedule.malformed_kind;
    every(
        schedule.malformed_every,
        sim,
        move |sim, round| async move {
            let kind =
                kind.unwrap_or(MalformedFrame::ALL[(round as usize) % MalformedFrame::ALL.len()]);
            sim.send_malformed(kind);
        },
    );
    let downtime = schedule.restart_downtime.unwrap_or(Duration::from_secs(1));
    every(schedule.restart_every, sim, move |sim, _| async move {
        if let Err(e) = sim.restart(downtime).await {
            tracing::error!("scheduled restart failed: {e}");
        }
    });
}

/// Reads stdin on a plain thread (a blocking read must not hold up the runtime's exit).
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

async fn command(sim: &SimulatorHandle, line: &str) -> Result<String, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize| -> Result<f64, String> {
        words
            .get(i)
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| format!("`{}` needs a number; type help", words[0]))
    };
    let word = |i: usize| {
        words
            .get(i)
            .copied()
            .ok_or("missing argument; type help".to_owned())
    };
    match words.first().copied() {
        None => Ok(String::new()),
        Some("help") => Ok(HELP
            .split("STDIN COMMANDS")
            .nth(1)
            .unwrap_or_default()
            .to_owned()),
        Some("status") => Ok(format!(
            "{} connection(s) open, {} accepted, {} open deal(s), url {}",
            sim.active_connections(),
            sim.connections_accepted(),
            sim.open_deals().len(),
            sim.url()
        )),
        Some("drop") => {
            sim.drop_all_connections();
            Ok("dropped every connection".into())
        }
        Some("silent") => {
            let on = word(1)? == "on";
            sim.set_silent(on);
            Ok(format!("silent {}", if on { "on" } else { "off" }))
        }
        Some("refuse") => {
            sim.refuse_connections_for(Duration::from_secs_f64(num(1)?.max(0.0)));
            Ok("refusing connections".into())
        }
        Some("malformed") => {
            let kinds: Vec<MalformedFrame> = match word(1)? {
                "all" => MalformedFrame::ALL.to_vec(),
                name => vec![MalformedFrame::from_name(name).ok_or("unknown kind; see --help")?],
            };
            let sent: usize = kinds.into_iter().map(|k| sim.send_malformed(k)).sum();
            Ok(format!("sent {sent} malformed sequence(s)"))
        }
        Some("delay") => {
            sim.set_reply_delay(Duration::from_millis(num(1)?.max(0.0) as u64));
            Ok("reply delay set".into())
        }
        Some("restart") => {
            let ms = if words.len() > 1 { num(1)? } else { 1000.0 };
            sim.restart(Duration::from_millis(ms.max(0.0) as u64))
                .await
                .map_err(|e| e.to_string())?;
            Ok("restarted".into())
        }
        Some("pin") => {
            sim.pin_price(word(1)?, num(2)?)
                .map_err(|e| e.to_string())?;
            Ok("pinned".into())
        }
        Some("unpin") => {
            sim.unpin_price(word(1)?);
            Ok("unpinned".into())
        }
        Some("active") => {
            sim.set_asset_active(word(1)?, word(2)? == "on")
                .map_err(|e| e.to_string())?;
            Ok("asset updated".into())
        }
        Some("payout") => {
            sim.set_payout(word(1)?, num(2)?.clamp(0.0, 255.0) as u8)
                .map_err(|e| e.to_string())?;
            Ok("payout updated".into())
        }
        Some("balance") => {
            let uid = num(1)? as u64;
            let demo = word(2)? == "demo";
            sim.set_balance(uid, demo, num(3)?);
            Ok("balance set".into())
        }
        Some("accept-all") => {
            sim.set_auth_policy(AuthPolicy::AcceptAll);
            Ok("accepting every session".into())
        }
        Some("reject-all") => {
            sim.set_auth_policy(AuthPolicy::RejectAll);
            Ok("rejecting every session".into())
        }
        Some(other) => Err(format!("unknown command `{other}`; type help")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let (builder, schedule) = match parse_args(std::env::args().skip(1)) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            say(HELP.trim_end());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr: stdout carries the banner and the replies to stdin commands.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let sim = match builder.start().await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    say(&format!(
        "PocketOption simulator on {} (Ctrl-C to stop; type `help` for commands)",
        sim.url()
    ));
    start_schedule(&sim, &schedule);

    let mut lines = schedule.stdin.then(stdin_lines);
    loop {
        let next_line = async {
            match lines.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            line = next_line => match line {
                Some(line) => match command(&sim, line.trim()).await {
                    Ok(reply) if reply.is_empty() => {}
                    Ok(reply) => say(&reply),
                    Err(e) => say(&format!("error: {e}")),
                },
                // Stdin closed: keep serving until Ctrl-C.
                None => lines = None,
            },
        }
    }
    say("stopping");
    match sim.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
