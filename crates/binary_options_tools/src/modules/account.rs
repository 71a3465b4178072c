//! The account: balance (`successupdateBalance`) and the asset list (`updateAssets`), kept
//! in the shared state for the client to read.

use std::collections::HashMap;
use std::sync::Arc;

use core_pre::rule::Rule;
use core_pre::{BoxError, LightweightContext, LightweightModule};
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

/// Keeps the balance and the asset list.
pub struct AccountModule {
    ctx: LightweightContext<PocketOptionState>,
}

impl AccountModule {
    fn on_event(&self, text: &str) -> Result<(), String> {
        match crate::event_name(text) {
            Some("successupdateBalance" | "updateBalance") => {
                let balance: Balance = parse_payload(text)?;
                let amount: Decimal = match &balance.balance {
                    Value::Number(n) => n.to_string().parse().map_err(|e| format!("{e}"))?,
                    Value::String(s) => s.trim().parse().map_err(|e| format!("{e}"))?,
                    other => return Err(format!("balance is not a number: {other}")),
                };
                self.ctx.state.balance.send_replace(Some(amount));
            }
            Some("updateAssets") => {
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
            }
            _ => {}
        }
        Ok(())
    }
}

impl LightweightModule<PocketOptionState> for AccountModule {
    const NAME: &'static str = "account";

    fn new(ctx: LightweightContext<PocketOptionState>) -> Self {
        AccountModule { ctx }
    }

    fn rule(_state: &Arc<PocketOptionState>) -> Box<dyn Rule> {
        event_rule(&["successupdateBalance", "updateBalance", "updateAssets"])
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
