//! `pocketoption ssid check [SSID|-]`: parses a pasted SSID and says what it is, or exactly
//! what is wrong with it. The session token (and a real session's signature) is never
//! printed: only its length.

use std::time::{Duration, SystemTime};

use binary_options_tools::Ssid;
use serde::Serialize;

use crate::connect::read_ssid_arg;
use crate::error::{CliError, Code};
use crate::output::{self, JsonFlag};
use crate::time::{format_duration, format_unix};

/// SSID commands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum SsidCommand {
    /// Parse an SSID and say what it is, or exactly what is wrong with it
    ///
    /// What it is: demo or real, uid, platform, and the user agent and IP a real session
    /// was issued for. The session token is
    /// never printed. Exit code 0 when it parses, 4 when it does not.
    Check(CheckArgs),
}

/// `ssid check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The SSID as copied from the browser (`42["auth",{…}]`, its JSON object, or any form
    /// a shell left of it); `-` reads it from stdin, which keeps it out of the shell history
    /// [default: POCKET_OPTION_SSID]
    #[arg(value_name = "SSID|-")]
    ssid: Option<String>,

    #[command(flatten)]
    output: JsonFlag,
}

/// What `ssid check --json` prints for a valid SSID.
#[derive(Serialize)]
struct Report {
    valid: bool,
    account: &'static str,
    uid: u64,
    platform: i64,
    session_length: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_activity: Option<String>,
}

impl SsidCommand {
    pub(crate) fn run(self) -> Result<(), CliError> {
        match self {
            SsidCommand::Check(args) => args.run(),
        }
    }
}

impl CheckArgs {
    fn run(self) -> Result<(), CliError> {
        let raw = match self.ssid {
            Some(raw) => read_ssid_arg(&raw)?,
            None => std::env::var("POCKET_OPTION_SSID").map_err(|_| {
                CliError::new(
                    Code::Session,
                    "no SSID to check: pass it as an argument (in single quotes), `-` to read \
                     it from stdin, or set POCKET_OPTION_SSID",
                )
            })?,
        };
        let ssid = match Ssid::parse(&raw) {
            Ok(ssid) => ssid,
            Err(error) => {
                let error = CliError::from(binary_options_tools::Error::from(error));
                if self.output.json {
                    output::json(&serde_json::json!({
                        "valid": false,
                        "error": error.message(),
                    }))?;
                }
                return Err(error.context("this SSID cannot be used"));
            }
        };
        let report = describe(&ssid);
        if self.output.json {
            return output::json(&report);
        }
        output::line(format!("valid {} SSID", report.account));
        let mut rows = vec![
            ("account", report.account.to_owned()),
            ("uid", report.uid.to_string()),
            ("platform", platform_name(report.platform)),
            (
                "session",
                format!("present, {} characters (not shown)", report.session_length),
            ),
        ];
        if let Some(url) = &report.current_url {
            rows.push(("copied from", url.clone()));
        }
        if let Some(real) = ssid.real_session() {
            rows.push(("user agent", real.user_agent().to_owned()));
            rows.push(("issued for IP", real.ip_address().to_owned()));
            rows.push(("last activity", activity(real.last_activity())));
        }
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in rows {
            output::line(format!("  {key:<width$}  {value}"));
        }
        if !ssid.is_demo() {
            output::line(
                "note: a REAL account: orders spend real money. Connect from the IP and with \
                 the user agent above, or the platform rejects the session.",
            );
        }
        Ok(())
    }
}

fn describe(ssid: &Ssid) -> Report {
    let real = ssid.real_session();
    Report {
        valid: true,
        account: if ssid.is_demo() { "demo" } else { "real" },
        uid: ssid.uid(),
        platform: ssid.platform(),
        session_length: ssid.session().chars().count(),
        current_url: ssid.current_url().map(str::to_owned),
        user_agent: real.map(|r| r.user_agent().to_owned()),
        ip_address: real.map(|r| r.ip_address().to_owned()),
        last_activity: real.map(|r| format_unix(r.last_activity() as f64)),
    }
}

fn platform_name(code: i64) -> String {
    match code {
        2 => "2 (web)".to_owned(),
        other => other.to_string(),
    }
}

/// `2025-03-21T18:23:25Z (3d ago)`.
fn activity(unix: i64) -> String {
    let at = format_unix(unix as f64);
    let now = crate::time::unix(SystemTime::now());
    let ago = now - unix as f64;
    if ago >= 0.0 {
        let ago = Duration::from_secs(ago as u64);
        format!("{at} ({} ago)", format_duration(ago))
    } else {
        at
    }
}
