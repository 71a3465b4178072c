//! Faults on a schedule: the `--…-every-secs` family of flags and the tasks that carry
//! them out.
//!
//! The flags are declared here, on [`FaultSchedule`] itself, so the help text and the
//! behaviour come from one place. Schedules start counting at launch and run until the
//! simulator stops.

use std::future::Future;
use std::time::Duration;

use super::values::{malformed_kind, millis, positive_secs};
use crate::faults::MalformedFrame;
use crate::simulator::Simulator;

/// Faults injected at launch or on a schedule.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Faults (schedules start counting at launch)")]
pub struct FaultSchedule {
    /// Delay every reply to a client request by MS
    #[arg(long = "reply-delay-ms", value_name = "MS", value_parser = millis)]
    reply_delay: Option<Duration>,

    /// Answer upgrades with 503 for the first S seconds
    #[arg(long = "refuse-for-secs", value_name = "S", value_parser = positive_secs)]
    refuse_for: Option<Duration>,

    /// Drop every connection every S seconds
    #[arg(long = "drop-every-secs", value_name = "S", value_parser = positive_secs)]
    drop_every: Option<Duration>,

    /// Go silent (TCP open, nothing said) every S seconds ...
    #[arg(long = "silent-every-secs", value_name = "S", value_parser = positive_secs)]
    silent_every: Option<Duration>,

    /// ... for S seconds each time
    #[arg(long = "silent-for-secs", value_name = "S", value_parser = positive_secs, default_value = "5")]
    silent_for: Duration,

    /// Send malformed frames to every connection every S seconds ...
    #[arg(long = "malformed-every-secs", value_name = "S", value_parser = positive_secs)]
    malformed_every: Option<Duration>,

    /// ... of this kind [default: all kinds in turn]
    #[arg(long = "malformed-kind", value_name = "KIND", value_parser = malformed_kind())]
    malformed_kind: Option<MalformedFrame>,

    /// Restart (close the listener and every connection) every S seconds ...
    #[arg(long = "restart-every-secs", value_name = "S", value_parser = positive_secs)]
    restart_every: Option<Duration>,

    /// ... staying down MS each time
    #[arg(long = "restart-downtime-ms", value_name = "MS", value_parser = millis, default_value = "1000")]
    restart_downtime: Duration,
}

impl FaultSchedule {
    /// Applies the one-off faults and spawns a task per schedule (on the current tokio
    /// runtime; the tasks end with it).
    pub fn start(&self, sim: &Simulator) {
        if let Some(delay) = self.reply_delay {
            sim.set_reply_delay(delay);
        }
        if let Some(duration) = self.refuse_for {
            sim.refuse_connections_for(duration);
        }
        every(self.drop_every, sim, |sim, _| async move {
            sim.drop_all_connections();
        });
        let silent_for = self.silent_for;
        every(self.silent_every, sim, move |sim, _| async move {
            sim.set_silent(true);
            tokio::time::sleep(silent_for).await;
            sim.set_silent(false);
        });
        let kind = self.malformed_kind;
        every(self.malformed_every, sim, move |sim, round| async move {
            let kind =
                kind.unwrap_or(MalformedFrame::ALL[(round as usize) % MalformedFrame::ALL.len()]);
            sim.send_malformed(kind);
        });
        let downtime = self.restart_downtime;
        every(self.restart_every, sim, move |sim, _| async move {
            if let Err(e) = sim.restart(downtime).await {
                tracing::error!("scheduled restart failed: {e}");
            }
        });
    }
}

/// Runs `action` every `period` until the runtime stops.
fn every<F, Fut>(period: Option<Duration>, sim: &Simulator, mut action: F)
where
    F: FnMut(Simulator, u64) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
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
