//! `pocketoption sim`: the PocketOption simulator in the foreground, with the very flags of
//! the `pocketoption_sim` binary (`pocketoption_sim::flags::SimulatorFlags`, flattened).

use std::time::Duration;

use pocketoption_sim::flags::SimulatorFlags;

use crate::error::CliError;
use crate::output;
use crate::time::parse_positive_duration;

/// Run the PocketOption simulator in the foreground until Ctrl-C
///
/// Prices from a seed, demo and real accounts,
/// trading, history, and faults on a schedule. Point any client at the URL it prints, e.g.
/// `pocketoption balance --url URL`. (The `pocketoption_sim` binary takes the same flags
/// and also reads fault commands on stdin.)
#[derive(Debug, clap::Args)]
#[command(allow_negative_numbers = true)]
pub(crate) struct SimArgs {
    /// Listen on 127.0.0.1 at this port (0: any free port); overrides the port of --addr
    #[arg(long, value_name = "N")]
    port: Option<u16>,

    /// Stop by itself after this long (e.g. 10m) instead of running until Ctrl-C
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    duration: Option<Duration>,

    #[command(flatten)]
    flags: SimulatorFlags,
}

impl SimArgs {
    pub(crate) async fn run(self) -> Result<(), CliError> {
        let mut builder = self.flags.builder();
        if let Some(port) = self.port {
            let mut addr = self.flags.addr();
            addr.set_port(port);
            builder = builder.with_addr(addr);
        }
        let sim = builder.start().await.map_err(|e| {
            CliError::from(e)
                .context("could not start the simulator (is the port taken? try --port 0)")
        })?;
        self.flags.faults.start(&sim);
        output::line(format!(
            "PocketOption simulator on {} (seed {}; Ctrl-C stops it)",
            sim.url(),
            self.flags.seed()
        ));
        let deadline = async {
            match self.duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = deadline => {}
        }
        output::line("stopping");
        sim.shutdown().await?;
        Ok(())
    }
}
