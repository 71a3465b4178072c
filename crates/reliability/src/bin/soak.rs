//! `soak`: many PocketOption clients streaming and trading against the simulator while a
//! fault proxy cuts their connections at random; prints the report and exits non-zero if
//! any promise was broken (see `reliability::soak`). Run by `cargo xtask soak`.

use std::process::ExitCode;
use std::time::Duration;

use reliability::SoakConfig;

const USAGE: &str = "\
usage: soak (--minutes N | --seconds N) [options]

  --minutes N        trade for N minutes (fractions allowed)
  --seconds N        trade for N seconds
  --clients N        clients, each with its own account and connection (default 8)
  --lanes N          trades in flight per client (default 2)
  --seed N           seed of prices and of the fault schedule (default 7)
  --fault-every A-B  seconds between faults, at random in A..B (default 0.5-3)
  --smoke            the CI settings: 4 clients, a fault every 0.4-1.5 s
  --json PATH        also write the report as JSON to PATH

Exits with 1 when trades placed != results received, a call hung, something panicked,
a subscription was lost, or a client did not shut down cleanly; 2 on bad options.
RUST_LOG=info (or debug) shows the clients' logs.";

struct Options {
    config: SoakConfig,
    json: Option<String>,
}

fn number(flag: &str, value: Option<&String>) -> Result<f64, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("{flag}: `{value}` is not a non-negative number"))
}

fn count(flag: &str, value: Option<&String>) -> Result<usize, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    value
        .parse()
        .map_err(|_| format!("{flag}: `{value}` is not a whole number"))
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut duration = None;
    let mut smoke = false;
    let mut clients = None;
    let mut lanes = None;
    let mut seed = None;
    let mut faults = None;
    let mut json = None;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--minutes" => {
                duration = Some(Duration::from_secs_f64(number(flag, args.next())? * 60.0))
            }
            "--seconds" => duration = Some(Duration::from_secs_f64(number(flag, args.next())?)),
            "--clients" => clients = Some(count(flag, args.next())?),
            "--lanes" => lanes = Some(count(flag, args.next())?),
            "--seed" => seed = Some(count(flag, args.next())? as u64),
            "--smoke" => smoke = true,
            "--fault-every" => {
                let value = args
                    .next()
                    .ok_or("--fault-every needs a value like 0.5-3")?;
                let (low, high) = value
                    .split_once('-')
                    .ok_or_else(|| format!("--fault-every: `{value}` is not a range like 0.5-3"))?;
                let low = number("--fault-every", Some(&low.to_owned()))?;
                let high = number("--fault-every", Some(&high.to_owned()))?;
                faults = Some((Duration::from_secs_f64(low), Duration::from_secs_f64(high)));
            }
            "--json" => json = Some(args.next().ok_or("--json needs a path")?.clone()),
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    let duration = duration.ok_or("say how long: --minutes N or --seconds N")?;
    let mut config = if smoke {
        SoakConfig::smoke(duration)
    } else {
        SoakConfig::new(duration)
    };
    config.clients = clients.unwrap_or(config.clients);
    config.lanes = lanes.unwrap_or(config.lanes);
    config.seed = seed.unwrap_or(config.seed);
    config.fault_interval = faults.unwrap_or(config.fault_interval);
    Ok(Options { config, json })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("soak: {message}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("soak: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let config = options.config;
    println!(
        "soak: {} clients × {} lanes for {:.0} s against the simulator through a fault proxy...",
        config.clients,
        config.lanes,
        config.duration.as_secs_f64()
    );
    let report = match runtime.block_on(reliability::soak::run(config)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("soak: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("\n{report}");
    if let Some(path) = options.json {
        let text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
        if let Err(error) = std::fs::write(&path, text) {
            eprintln!("soak: could not write {path}: {error}");
            return ExitCode::FAILURE;
        }
        println!("report written to {path}");
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
