//! `pocketoption doctor`: tries each endpoint in the order the client would, and reports
//! per endpoint the TCP connect time, the authentication result (with its time) and the
//! round trip of one request, so a user can tell a network problem from a session problem.

use std::time::{Duration, Instant};

use binary_options_tools::{Error as PoError, Matcher, PocketOption, Ssid, platform_regions};
use core_pre::ReconnectPolicy;
use serde::Serialize;

use crate::connect::ConnectArgs;
use crate::error::{CliError, Code};
use crate::output::{self, JsonFlag};

/// Try each server endpoint: connect time, authentication, round trip
///
/// Tries each server endpoint in the client's order (the demo server, or every real-account
/// region; only the simulator with --sim, only the URL with --url) and report, per
/// endpoint: the TCP connect time, whether the session authenticated (and how long
/// connecting and authenticating took), and the round trip of a balance request. Each
/// endpoint gets one attempt of at most --timeout.
///
/// Exit code: 0 when at least one endpoint works; 4 when none works and some rejected the
/// session; 3 when none could be reached.
#[derive(Debug, clap::Args)]
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    output: JsonFlag,

    #[command(flatten)]
    connect: ConnectArgs,
}

/// The outcome of authenticating at one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Auth {
    /// Connected and authenticated.
    Ok,
    /// The platform answered and rejected the session.
    Rejected,
    /// No session was established (the connection failed first).
    Failed,
}

/// One endpoint's report (`--json`: one object per endpoint in `endpoints`).
#[derive(Debug, Serialize)]
struct EndpointReport {
    name: String,
    url: String,
    /// TCP connect time; `None` when it failed (see `tcp_error`).
    tcp_connect_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp_error: Option<String>,
    auth: Auth,
    /// WebSocket + Engine.IO/Socket.IO handshake + authentication.
    auth_ms: Option<f64>,
    /// A `getBalance` request and its reply.
    round_trip_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct DoctorReport {
    account: &'static str,
    uid: u64,
    endpoints: Vec<EndpointReport>,
    working: usize,
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// `host:port` of a ws:// or wss:// URL.
fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme {
        "ws" | "http" => 80,
        "wss" | "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?']).next()?;
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().ok()?,
            None => default_port,
        };
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None => Some((authority.to_owned(), default_port)),
    }
}

/// A URL without its query string (the form reports use).
fn short(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_owned()
}

impl DoctorArgs {
    pub(crate) async fn run(self) -> Result<(), CliError> {
        let ssid = self.connect.ssid()?;
        let sim = self.connect.start_sim().await?;
        let endpoints: Vec<(String, String)> = match (&sim, &self.connect.url) {
            (Some(sim), _) => vec![("sim".to_owned(), sim.url())],
            (None, Some(url)) => vec![("url".to_owned(), url.clone())],
            (None, None) => platform_regions(ssid.is_demo())
                .into_iter()
                .map(|region| (region.name.to_owned(), region.url()))
                .collect(),
        };
        let account = if ssid.is_demo() { "demo" } else { "real" };
        if !self.output.json {
            output::line(format!(
                "Checking {} endpoint{} for a {account} account (uid {}), at most {} each:",
                endpoints.len(),
                if endpoints.len() == 1 { "" } else { "s" },
                ssid.uid(),
                crate::time::format_duration(self.connect.timeout),
            ));
        }
        let mut reports = Vec::new();
        for (name, url) in endpoints {
            let report = self.check(&ssid, name, url).await;
            if !self.output.json {
                print_endpoint(&report);
            }
            reports.push(report);
        }
        if let Some(sim) = sim {
            let _ = sim.shutdown().await;
        }
        let working = reports.iter().filter(|r| r.auth == Auth::Ok).count();
        let rejected = reports.iter().any(|r| r.auth == Auth::Rejected);
        let total = reports.len();
        if self.output.json {
            output::json(&DoctorReport {
                account,
                uid: ssid.uid(),
                endpoints: reports,
                working,
            })?;
        } else if working > 0 {
            output::line(format!("ok: {working} of {total} endpoints work"));
        }
        match (working, rejected) {
            (0, true) => Err(CliError::new(
                Code::Session,
                "the session was rejected: it has expired, or it was issued for another IP \
                 address or browser; log in again and copy a fresh SSID (`pocketoption ssid \
                 check` shows what it was issued for)",
            )),
            (0, false) => Err(CliError::new(
                Code::Connection,
                format!(
                    "none of the {total} endpoints could be reached; check that this machine \
                     is online (and its proxy or firewall), or pass another server with --url"
                ),
            )),
            _ => Ok(()),
        }
    }

    async fn check(&self, ssid: &Ssid, name: String, url: String) -> EndpointReport {
        let timeout = self.connect.timeout;
        let mut report = EndpointReport {
            name,
            url: short(&url),
            tcp_connect_ms: None,
            tcp_error: None,
            auth: Auth::Failed,
            auth_ms: None,
            round_trip_ms: None,
            error: None,
        };
        // The TCP connection alone: name lookup and the network, before any protocol.
        match host_port(&url) {
            Some((host, port)) => {
                let started = Instant::now();
                let connect = tokio::net::TcpStream::connect((host.as_str(), port));
                match tokio::time::timeout(timeout, connect).await {
                    Ok(Ok(_stream)) => report.tcp_connect_ms = Some(millis(started.elapsed())),
                    Ok(Err(e)) => report.tcp_error = Some(e.to_string()),
                    Err(_) => {
                        report.tcp_error = Some(format!(
                            "no answer within {}",
                            crate::time::format_duration(timeout)
                        ))
                    }
                }
            }
            None => report.tcp_error = Some("not a ws:// or wss:// URL".to_owned()),
        }
        // The session: one attempt at this endpoint only.
        let started = Instant::now();
        let client = match PocketOption::builder(ssid.clone())
            .with_url(url)
            .only_given_urls()
            .with_timeouts(self.connect.timeouts())
            .with_reconnect_policy(ReconnectPolicy::default().with_max_attempts(1))
            .connect()
            .await
        {
            Ok(client) => client,
            Err(error) => {
                report.auth = match error {
                    PoError::Authentication { .. } => Auth::Rejected,
                    PoError::Core(core_pre::CoreError::Rejected { .. }) => Auth::Rejected,
                    _ => Auth::Failed,
                };
                report.error = Some(error.to_string());
                return report;
            }
        };
        report.auth = Auth::Ok;
        report.auth_ms = Some(millis(started.elapsed()));
        let started = Instant::now();
        match client
            .raw()
            .send_and_wait(
                r#"42["getBalance"]"#,
                Matcher::event("successupdateBalance"),
                timeout,
            )
            .await
        {
            Ok(_) => report.round_trip_ms = Some(millis(started.elapsed())),
            Err(error) => report.error = Some(format!("no reply to getBalance: {error}")),
        }
        let _ = client.shutdown().await;
        report
    }
}

fn print_endpoint(report: &EndpointReport) {
    output::line(format!("  {}  {}", report.name, report.url));
    let tcp = match (&report.tcp_connect_ms, &report.tcp_error) {
        (Some(ms), _) => format!("{ms} ms"),
        (None, Some(error)) => format!("failed: {error}"),
        (None, None) => "not tried".to_owned(),
    };
    output::line(format!("      tcp connect  {tcp}"));
    let auth = match (report.auth, report.auth_ms) {
        (Auth::Ok, Some(ms)) => format!("authenticated in {ms} ms"),
        (Auth::Ok, None) => "authenticated".to_owned(),
        (Auth::Rejected, _) => "REJECTED".to_owned(),
        (Auth::Failed, _) => "no session".to_owned(),
    };
    output::line(format!("      session      {auth}"));
    if let Some(ms) = report.round_trip_ms {
        output::line(format!("      round trip   {ms} ms (getBalance)"));
    }
    if let Some(error) = &report.error {
        output::line(format!("      error        {error}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_name_their_host_and_port() {
        assert_eq!(
            host_port("wss://api-eu.po.market/socket.io/?EIO=4"),
            Some(("api-eu.po.market".to_owned(), 443))
        );
        assert_eq!(
            host_port("ws://127.0.0.1:8080/socket.io/?EIO=4"),
            Some(("127.0.0.1".to_owned(), 8080))
        );
        assert_eq!(host_port("ws://[::1]:9/x"), Some(("::1".to_owned(), 9)));
        assert_eq!(host_port("ftp://x"), None);
        assert_eq!(host_port("ws://host:port/"), None);
    }
}
