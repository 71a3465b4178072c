//! `pocketoption server-time`: the platform's clock.
//!
//! The platform has no "what time is it" call: the client estimates its clock from the
//! timestamps of ticks. So the command subscribes to one asset, waits for a tick, and
//! prints the estimate.

use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;

use binary_options_tools::SubscriptionKind;

use crate::connect::ConnectArgs;
use crate::error::CliError;
use crate::output::{self, JsonFlag};
use crate::time::{format_time, unix};

/// Print the platform's clock and its offset from this machine's
///
/// The platform has no clock request: the time is estimated from tick timestamps (to the
/// millisecond), so the command subscribes to --asset and waits for a tick.
#[derive(Debug, clap::Args)]
pub(crate) struct ServerTimeArgs {
    /// The asset whose ticks carry the time
    #[arg(long, value_name = "ASSET", default_value = "EURUSD_otc")]
    asset: String,

    #[command(flatten)]
    output: JsonFlag,

    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Serialize)]
struct Clock {
    /// RFC 3339, UTC.
    server_time: String,
    /// Unix seconds.
    unix: f64,
    /// Server minus local clock, seconds.
    offset_seconds: f64,
    stale: bool,
}

impl ServerTimeArgs {
    pub(crate) async fn run(self) -> Result<(), CliError> {
        let session = self.connect.connect().await?;
        let result = async {
            let mut ticks = session
                .client
                .subscribe(&self.asset, SubscriptionKind::Ticks)
                .await?;
            // The clock takes its sample just after handing the tick out: look again briefly.
            let fresh = async {
                while ticks.next().await.is_some() {
                    for _ in 0..50 {
                        let time = session.client.server_time();
                        if !time.stale {
                            return Some(time);
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                None
            };
            match tokio::time::timeout(self.connect.timeout, fresh).await {
                Ok(Some(time)) => Ok(time),
                Ok(None) => Err(CliError::failure(format!(
                    "the tick stream of {} ended before the clock could be read",
                    self.asset
                ))),
                Err(_) => Err(CliError::failure(format!(
                    "no tick of {} within {}: the clock cannot be estimated without one; try \
                     another --asset (one open for trading) or a longer --timeout",
                    self.asset,
                    crate::time::format_duration(self.connect.timeout)
                ))),
            }
        }
        .await;
        session.close().await;
        let time = result?;
        let clock = Clock {
            server_time: format_time(time.now),
            unix: (unix(time.now) * 1000.0).round() / 1000.0,
            offset_seconds: (time.offset * 1000.0).round() / 1000.0,
            stale: time.stale,
        };
        if self.output.json {
            return output::json(&clock);
        }
        let direction = if clock.offset_seconds >= 0.0 {
            "ahead of"
        } else {
            "behind"
        };
        output::line(format!(
            "{} (unix {:.3}); {:.3} s {direction} this machine's clock",
            clock.server_time,
            clock.unix,
            clock.offset_seconds.abs()
        ));
        Ok(())
    }
}
