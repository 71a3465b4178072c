//! `pocketoption balance`: the account balance.

use serde::Serialize;

use crate::connect::ConnectArgs;
use crate::error::CliError;
use crate::output::{self, JsonFlag};

/// Print the account balance
///
/// An exact decimal; `--json` writes it as a string so no digit is lost.
#[derive(Debug, clap::Args)]
pub(crate) struct BalanceArgs {
    #[command(flatten)]
    output: JsonFlag,

    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Serialize)]
struct Balance {
    balance: String,
    demo: bool,
    uid: u64,
}

impl BalanceArgs {
    pub(crate) async fn run(self) -> Result<(), CliError> {
        let session = self.connect.connect().await?;
        let balance = session.client.balance().await;
        let demo = session.client.is_demo();
        let uid = session.client.ssid().uid();
        session.close().await;
        let balance = balance?;
        if self.output.json {
            return output::json(&Balance {
                balance: balance.normalize().to_string(),
                demo,
                uid,
            });
        }
        let account = if demo { "demo" } else { "REAL" };
        output::line(format!(
            "{} ({account} account, uid {uid})",
            balance.normalize()
        ));
        Ok(())
    }
}
