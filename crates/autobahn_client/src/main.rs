//! `autobahn_client`: runs every case of an Autobahn fuzzing server through core-pre and
//! the client_ws native transport. See the crate docs; `cargo xtask autobahn` runs it.

use std::process::ExitCode;
use std::time::Duration;

use autobahn_client::{AutobahnError, ConnectionSettings, FuzzingServer};

const USAGE: &str = "\
usage: autobahn_client [--server ws://127.0.0.1:9001] [--agent core-pre] [--case-timeout SECS]

Runs getCaseCount, every case, then updateReports against an Autobahn fuzzing server,
echoing each text and binary message. The server's report holds the verdicts.
Logs: RUST_LOG (default: warnings, without the per-connection runner logs).
";

struct Args {
    server: String,
    agent: String,
    case_timeout: Duration,
}

fn parse_args(args: &[String]) -> Result<Option<Args>, AutobahnError> {
    let mut parsed = Args {
        server: "ws://127.0.0.1:9001".to_owned(),
        agent: "core-pre".to_owned(),
        case_timeout: ConnectionSettings::default().case_timeout,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| AutobahnError::Usage(format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--server" => parsed.server = value("--server")?,
            "--agent" => parsed.agent = value("--agent")?,
            "--case-timeout" => {
                let secs = value("--case-timeout")?;
                let secs: u64 = secs.parse().map_err(|_| {
                    AutobahnError::Usage(format!("--case-timeout {secs:?} is not whole seconds"))
                })?;
                parsed.case_timeout = Duration::from_secs(secs.max(1));
            }
            "--help" | "-h" => return Ok(None),
            other => return Err(AutobahnError::Usage(format!("unknown argument {other:?}"))),
        }
    }
    Ok(Some(parsed))
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // Every case ends with the server closing, which the runner logs as a lost
        // connection: expected here, and 500 lines of it would hide real problems.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,core_pre::runner=off"));
    tracing_subscriber::fmt().with_env_filter(filter).init();

    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("autobahn_client: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), AutobahnError> {
    let Some(args) = parse_args(args)? else {
        print!("{USAGE}");
        return Ok(());
    };
    let settings = ConnectionSettings {
        case_timeout: args.case_timeout,
        ..ConnectionSettings::default()
    };
    let server = FuzzingServer::new(&args.server, &args.agent)?.with_settings(settings);
    let summary = server
        .run_all(|outcome, total| {
            let ended = &outcome.connection;
            // A progress line every 50 cases, and one for each slow case.
            if outcome.case % 50 == 0 || outcome.case == total || ended.took.as_secs() >= 2 {
                println!(
                    "case {}/{total}: {} messages in, {} out, ended {} after {:.2}s",
                    outcome.case,
                    ended.stats.messages_in,
                    ended.stats.messages_out,
                    ended.end,
                    ended.took.as_secs_f64()
                );
            }
        })
        .await?;
    let ends: Vec<String> = summary
        .ends
        .iter()
        .map(|(end, count)| format!("{end} {count}"))
        .collect();
    println!(
        "ran {} cases in {:.1}s as agent {:?}; {} messages sent; connections ended: {}",
        summary.cases,
        summary.took.as_secs_f64(),
        args.agent,
        summary.sent,
        ends.join(", ")
    );
    Ok(())
}
