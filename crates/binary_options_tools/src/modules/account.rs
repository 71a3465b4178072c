//! The account: the asset list (`updateAssets`), kept in the shared state for the client to
//! read, and the parser of the balance events.
//!
//! The balance itself (`successupdateBalance`) is kept by the [deals
//! module](super::deals): it must see balance reports and deal events in the order the
//! platform sent them, so that a deal's result and the balance after it agree.

use std::collections::HashMap;
use std::sync::Arc;

use core_pre::rule::Rule;
use core_pre::{BoxError, Module, ModuleContext};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::events::{event_rule, parse_payload};
use crate::state::PocketOptionState;
use crate::types::Asset;

#[derive(Deserialize)]
struct Balance {
    balance: Value,
}

/// Reads the amount of a `successupdateBalance` (or `updateBalance`) frame, exactly.
pub(crate) fn parse_balance(text: &str) -> Result<Decimal, String> {
    let balance: Balance = parse_payload(text)?;
    crate::types::decimal_from_json(&balance.balance)
        .ok_or_else(|| format!("balance is not a number: {}", balance.balance))
}

/// Keeps the asset list.
pub(crate) struct AccountModule {
    ctx: ModuleContext<PocketOptionState>,
}

impl AccountModule {
    fn on_event(&self, text: &str) -> Result<(), String> {
        // The rule lets only `updateAssets` through.
        let rows: Vec<Vec<Value>> = parse_payload(text)?;
        let assets: HashMap<String, Asset> = rows
            .iter()
            .filter_map(|row| Asset::from_row(row))
            .map(|a| (a.symbol.clone(), a))
            .collect();
        if rows.len() != assets.len() {
            tracing::debug!(
                rows = rows.len(),
                parsed = assets.len(),
                "some asset rows were not understood"
            );
        }
        self.ctx.state.assets.send_replace(Some(Arc::new(assets)));
        Ok(())
    }
}

impl Module<PocketOptionState> for AccountModule {
    type Handle = ();
    const NAME: &'static str = "account";

    fn new(ctx: ModuleContext<PocketOptionState>) -> (Self, ()) {
        (AccountModule { ctx }, ())
    }

    fn rule(_state: &Arc<PocketOptionState>) -> Box<dyn Rule> {
        event_rule(&["updateAssets"])
    }

    async fn run(&mut self) -> Result<(), BoxError> {
        while let Some(msg) = self.ctx.inbox.recv().await {
            if let Some(text) = msg.as_text() {
                if let Err(e) = self.on_event(text) {
                    tracing::warn!(error = %e, "ignoring a malformed account event");
                }
            }
        }
        Ok(())
    }
}
