//! The connection flags every connecting command shares (`--sim`, `--seed`, `--ssid`,
//! `--url`, `--timeout`), and [`Session`]: a connected client plus the in-process
//! simulator it may be talking to, shut down together.

use std::io::Read;
use std::time::Duration;

use binary_options_tools::{PocketOption, PocketOptionBuilder, Ssid, Timeouts};
use pocketoption_sim::Simulator;

use crate::error::{CliError, Code};
use crate::time::parse_positive_duration;

/// The demo session the CLI uses against its in-process simulator.
const SIM_SESSION: &str = "pocketoption-cli-sim";
/// The user id of that session.
const SIM_UID: u64 = 1;

/// Where to connect and as whom.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Connection")]
pub(crate) struct ConnectArgs {
    /// Start the simulator in-process and use it (no account, no network needed)
    #[arg(long)]
    pub sim: bool,

    /// Seed of the in-process simulator's prices and ids (with --sim)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// The SSID: the `42["auth",{…}]` message copied from the browser, or `-` to read it
    /// from stdin (with --sim: optional, a demo session by default)
    #[arg(
        long,
        env = "POCKET_OPTION_SSID",
        hide_env_values = true,
        value_name = "SSID"
    )]
    pub ssid: Option<String>,

    /// Connect to this URL only (a simulator elsewhere, a proxy) instead of the platform's
    /// servers
    #[arg(long, value_name = "URL", conflicts_with = "sim")]
    pub url: Option<String>,

    /// How long to wait for the connection, and for each reply
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration, default_value = "30s")]
    pub timeout: Duration,
}

/// Reads an SSID given as `-` from stdin (the whole input, trimmed).
pub(crate) fn read_ssid_arg(raw: &str) -> Result<String, CliError> {
    if raw != "-" {
        return Ok(raw.to_owned());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| crate::error::io("could not read the SSID from stdin", e))?;
    Ok(text.trim().to_owned())
}

impl ConnectArgs {
    /// The SSID to authenticate with: `--ssid`/`POCKET_OPTION_SSID`, else (with `--sim` or
    /// `--url`) a demo session; without any, an error that says how to give one.
    pub(crate) fn ssid(&self) -> Result<Ssid, CliError> {
        match &self.ssid {
            Some(raw) => Ssid::parse(&read_ssid_arg(raw)?)
                .map_err(|e| CliError::from(binary_options_tools::Error::from(e))),
            None if self.sim || self.url.is_some() => Ok(Ssid::demo(SIM_SESSION, SIM_UID)),
            None => Err(CliError::new(
                Code::Session,
                "no SSID: pass --ssid '42[\"auth\",{…}]' (or `--ssid -` to read it from stdin), \
                 set POCKET_OPTION_SSID, or use --sim to try the command against the built-in \
                 simulator",
            )),
        }
    }

    /// The client timeouts these flags ask for.
    pub(crate) fn timeouts(&self) -> Timeouts {
        Timeouts::default()
            .with_connect(self.timeout)
            .with_request(self.timeout)
    }

    /// Starts the in-process simulator when `--sim` is given.
    pub(crate) async fn start_sim(&self) -> Result<Option<Simulator>, CliError> {
        if !self.sim {
            return Ok(None);
        }
        let sim = Simulator::builder()
            .with_addr(([127, 0, 0, 1], 0).into())
            .with_seed(self.seed)
            .with_tick_interval(Duration::from_millis(250))
            .start()
            .await?;
        Ok(Some(sim))
    }

    /// A builder for `ssid` pointed where these flags say (`url`: the simulator's, if any).
    pub(crate) fn builder(&self, ssid: Ssid, sim_url: Option<String>) -> PocketOptionBuilder {
        let mut builder = PocketOption::builder(ssid).with_timeouts(self.timeouts());
        if let Some(url) = sim_url.or_else(|| self.url.clone()) {
            builder = builder.with_url(url).only_given_urls();
        }
        builder
    }

    /// Connects (starting the simulator first with `--sim`).
    pub(crate) async fn connect(&self) -> Result<Session, CliError> {
        let ssid = self.ssid()?;
        let sim = self.start_sim().await?;
        let builder = self.builder(ssid, sim.as_ref().map(Simulator::url));
        match builder.connect().await {
            Ok(client) => Ok(Session { client, sim }),
            Err(error) => {
                if let Some(sim) = sim {
                    let _ = sim.shutdown().await;
                }
                Err(error.into())
            }
        }
    }
}

/// A connected client, and the simulator it talks to with `--sim`.
pub(crate) struct Session {
    /// The client.
    pub client: PocketOption,
    sim: Option<Simulator>,
}

impl Session {
    /// Shuts the client down, then the simulator. Failures here are not worth an error
    /// after a command that worked: the process ends anyway.
    pub(crate) async fn close(self) {
        let _ = self.client.shutdown().await;
        if let Some(sim) = self.sim {
            let _ = sim.shutdown().await;
        }
    }
}
