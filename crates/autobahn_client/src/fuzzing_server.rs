//! [`FuzzingServer`]: the Autobahn fuzzing-server protocol, from the client's side.
//!
//! The server exposes three kinds of URL, each a one-shot WebSocket conversation:
//!
//! * `/getCaseCount` sends one text message, the number of cases, and closes;
//! * `/runCase?case=N&agent=A` runs case `N` (1-based) against the client, which must
//!   echo every message back; the server judges the exchange and the closing handshake;
//! * `/updateReports?agent=A` makes the server write its reports, and closes.
//!
//! A run is: the case count first, every case in order, the report update last.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use core_pre::{HandlerContext, Message};

use crate::connection::{ConnectionSettings, Ended, run_connection};
use crate::echo::Echo;
use crate::error::AutobahnError;

/// A fuzzing server to run the cases of.
///
/// ```
/// use autobahn_client::FuzzingServer;
/// let server = FuzzingServer::new("ws://127.0.0.1:9001/", "core-pre").unwrap();
/// assert_eq!(server.case_url(7), "ws://127.0.0.1:9001/runCase?case=7&agent=core-pre");
/// assert!(FuzzingServer::new("ws://127.0.0.1:9001", "bad agent").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct FuzzingServer {
    base: String,
    agent: String,
    settings: ConnectionSettings,
}

/// What happened in one case, as seen from the client (the verdict is the server's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseOutcome {
    /// The case number (1-based, the server's order).
    pub case: u32,
    /// The connection's end and counters.
    pub connection: Ended,
}

/// A whole run, as seen from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// How many cases the server announced and the client ran.
    pub cases: u32,
    /// How the case connections ended (core-pre's labels), with counts.
    pub ends: BTreeMap<&'static str, u32>,
    /// Messages written over all cases: the echoes, plus any close frames the client sent.
    pub sent: u64,
    /// The whole run, case count and report update included.
    pub took: Duration,
}

impl FuzzingServer {
    /// A server at `base_url` (`ws://host:port`), reporting results under `agent`
    /// (letters, digits, `-`, `_`, `.`).
    pub fn new(base_url: &str, agent: &str) -> Result<Self, AutobahnError> {
        if agent.is_empty()
            || !agent
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(AutobahnError::Usage(format!(
                "agent {agent:?} must be letters, digits, `-`, `_` or `.` (it goes into URLs and report file names)"
            )));
        }
        if !base_url.starts_with("ws://") && !base_url.starts_with("wss://") {
            return Err(AutobahnError::Usage(format!(
                "server URL {base_url:?} must start with ws:// or wss://"
            )));
        }
        Ok(FuzzingServer {
            base: base_url.trim_end_matches('/').to_owned(),
            agent: agent.to_owned(),
            settings: ConnectionSettings::default(),
        })
    }

    /// Replaces the connection settings.
    pub fn with_settings(mut self, settings: ConnectionSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The connection settings.
    pub fn settings(&self) -> &ConnectionSettings {
        &self.settings
    }

    /// The URL of case `case`.
    pub fn case_url(&self, case: u32) -> String {
        format!("{}/runCase?case={case}&agent={}", self.base, self.agent)
    }

    /// Asks the server how many cases it has.
    pub async fn case_count(&self) -> Result<u32, AutobahnError> {
        let answer: Arc<Mutex<Option<String>>> = Arc::default();
        let slot = answer.clone();
        let url = format!("{}/getCaseCount", self.base);
        run_connection("getCaseCount", &url, &self.settings, move |builder| {
            builder.with_inline_handler(move |msg: &Message, _: &HandlerContext<()>| {
                if let Some(text) = msg.as_text() {
                    // A poisoned lock only means a panic in another handler call.
                    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
                    slot.get_or_insert_with(|| text.to_owned());
                }
            })
        })
        .await?;
        let answer = answer.lock().unwrap_or_else(|e| e.into_inner()).take();
        match answer.as_deref().map(str::trim).map(str::parse::<u32>) {
            Some(Ok(count)) => Ok(count),
            _ => Err(AutobahnError::BadCaseCount { answer }),
        }
    }

    /// Runs case `case`: connects, echoes until the server closes, reports how it went.
    pub async fn run_case(&self, case: u32) -> Result<CaseOutcome, AutobahnError> {
        let connection = run_connection(
            &format!("case {case}"),
            &self.case_url(case),
            &self.settings,
            |builder| builder.with_module::<Echo>(),
        )
        .await?;
        Ok(CaseOutcome { case, connection })
    }

    /// Tells the server the run is over, so it writes its reports.
    pub async fn update_reports(&self) -> Result<(), AutobahnError> {
        let url = format!("{}/updateReports?agent={}", self.base, self.agent);
        run_connection("updateReports", &url, &self.settings, |builder| builder).await?;
        Ok(())
    }

    /// The whole run: case count, every case in order, report update. `progress` sees each
    /// case's outcome and the total.
    pub async fn run_all(
        &self,
        mut progress: impl FnMut(&CaseOutcome, u32),
    ) -> Result<RunSummary, AutobahnError> {
        let started = Instant::now();
        let cases = self.case_count().await?;
        let mut ends = BTreeMap::new();
        let mut sent = 0;
        for case in 1..=cases {
            let outcome = self.run_case(case).await?;
            *ends.entry(outcome.connection.end).or_insert(0) += 1;
            sent += outcome.connection.stats.messages_out;
            progress(&outcome, cases);
        }
        self.update_reports().await?;
        Ok(RunSummary {
            cases,
            ends,
            sent,
            took: started.elapsed(),
        })
    }
}
