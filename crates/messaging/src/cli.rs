//! The `msg` command line (native only; its binary is `src/bin/msg.rs`): publish,
//! subscribe, request and reply over the `nats` codec (a nats-server WebSocket listener) or
//! the `json` codec (our hub).
//!
//! ```text
//! msg --url ws://127.0.0.1:4223 --codec nats sub 'orders.*' --count 2
//! msg --url ws://127.0.0.1:4223 pub orders.new 42
//! msg --url ws://127.0.0.1:4223 req prices.get EURUSD --timeout-ms 2000
//! msg --url ws://127.0.0.1:4223 reply prices.get 1.0842 --count 1
//! ```
//!
//! Exit codes: 0 success; 1 any other failure; 2 bad arguments; 3 broker unreachable or
//! connection refused; 4 timeout; 5 no responders; 6 access denied (bad token,
//! permissions); 7 message too large. A bad subject is refused before connecting (exit 2).
//! Failures print one line, `error: <reason>`, on stderr.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use crate::client::{ClientConfig, Codec, MessagingClient};
use crate::error::MessagingError;
use crate::subject::{Pattern, Subject, check_queue_group};
use clap::{Parser, Subcommand};

/// Subject messaging from the command line: publish, subscribe, request, reply.
#[derive(Parser, Debug)]
#[command(name = "msg", version)]
struct Cli {
    /// The broker's WebSocket URL (a nats-server websocket listener, or our hub).
    #[arg(long)]
    url: String,
    /// The wire format: `nats` (nats-server) or `json` (our hub).
    #[arg(long, default_value = "nats", value_parser = parse_codec)]
    codec: Codec,
    /// The broker's auth token.
    #[arg(long)]
    token: Option<String>,
    /// Limit on connecting, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    connect_timeout_ms: u64,
    #[command(subcommand)]
    command: Command,
}

fn parse_codec(text: &str) -> Result<Codec, String> {
    text.parse()
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Publish BODY on SUBJECT.
    Pub {
        /// A concrete subject.
        subject: String,
        /// The body (UTF-8 text).
        body: String,
    },
    /// Print the messages matching PATTERN, one line each: `SUBJECT BODY`.
    Sub {
        /// A pattern (`*` for one token, a final `>` for the rest).
        pattern: String,
        /// Join this queue group.
        #[arg(long)]
        queue: Option<String>,
        /// Exit after this many messages.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Send a request and print the reply's body.
    Req {
        /// A concrete subject.
        subject: String,
        /// The body.
        body: String,
        /// How long to wait for the reply, in milliseconds.
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
    },
    /// Answer requests on SUBJECT with BODY.
    Reply {
        /// The subject (or pattern) to answer on.
        subject: String,
        /// The answer's body.
        body: String,
        /// Join this queue group.
        #[arg(long)]
        queue: Option<String>,
        /// Exit after answering this many requests.
        #[arg(long)]
        count: Option<u64>,
    },
}

/// The exit code for an error.
fn exit_code(error: &MessagingError) -> u8 {
    match error {
        MessagingError::BrokerUnavailable { .. } | MessagingError::NotConnected => 3,
        MessagingError::Timeout { .. } => 4,
        MessagingError::NoResponders { .. } => 5,
        MessagingError::AccessDenied { .. } => 6,
        MessagingError::TooLarge { .. } => 7,
        MessagingError::SubjectInvalid { .. } => 2,
        _ => 1,
    }
}

const FLUSH: Duration = Duration::from_secs(5);

/// Refuses a bad subject, pattern or queue name before connecting.
fn check(command: &Command) -> Result<(), MessagingError> {
    match command {
        Command::Pub { subject, .. } | Command::Req { subject, .. } => {
            Subject::new(subject).map(drop)
        }
        Command::Sub { pattern, queue, .. }
        | Command::Reply {
            subject: pattern,
            queue,
            ..
        } => {
            Pattern::new(pattern)?;
            queue.as_deref().map_or(Ok(()), check_queue_group)
        }
    }
}

async fn run(cli: Cli) -> Result<(), MessagingError> {
    check(&cli.command)?;
    let mut config = ClientConfig::new(cli.url, cli.codec)
        .with_connect_timeout(Duration::from_millis(cli.connect_timeout_ms.max(1)));
    if let Some(token) = cli.token {
        config = config.with_auth_token(token);
    }
    let client = MessagingClient::connect(config).await?;
    let outcome = command(&client, cli.command).await;
    client.shutdown().await;
    outcome
}

async fn command(client: &MessagingClient, command: Command) -> Result<(), MessagingError> {
    let mut stdout = std::io::stdout();
    match command {
        Command::Pub { subject, body } => {
            client.publish(&subject, body).await?;
            // Returns once the broker has it.
            client.flush(FLUSH).await
        }
        Command::Sub {
            pattern,
            queue,
            count,
        } => {
            let mut sub = client.subscribe(&pattern, queue.as_deref()).await?;
            client.flush(FLUSH).await?;
            eprintln!("listening on {pattern}");
            let mut seen = 0u64;
            while count.is_none_or(|n| seen < n) {
                let Some(message) = sub.recv().await else {
                    return Err(MessagingError::NotConnected);
                };
                let line = format!(
                    "{} {}\n",
                    message.subject,
                    String::from_utf8_lossy(&message.body)
                );
                // A closed stdout (`| head`) ends the command quietly.
                if stdout
                    .write_all(line.as_bytes())
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    return Ok(());
                }
                seen += 1;
            }
            Ok(())
        }
        Command::Req {
            subject,
            body,
            timeout_ms,
        } => {
            let reply = client
                .request(&subject, body, Duration::from_millis(timeout_ms))
                .await?;
            let _ = writeln!(stdout, "{}", String::from_utf8_lossy(&reply.body));
            Ok(())
        }
        Command::Reply {
            subject,
            body,
            queue,
            count,
        } => {
            let mut sub = client.subscribe(&subject, queue.as_deref()).await?;
            client.flush(FLUSH).await?;
            eprintln!("answering on {subject}");
            let mut answered = 0u64;
            while count.is_none_or(|n| answered < n) {
                let Some(request) = sub.recv().await else {
                    return Err(MessagingError::NotConnected);
                };
                let Some(reply_to) = request.reply_to else {
                    continue;
                };
                client.publish(&reply_to, body.clone()).await?;
                answered += 1;
            }
            client.flush(FLUSH).await
        }
    }
}

/// Runs the command line (`msg`'s `main`): parses the arguments, runs the command, prints
/// a one-line error and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let text = error.to_string().replace('\n', " ");
            eprintln!("error: {text}");
            ExitCode::from(exit_code(&error))
        }
    }
}
