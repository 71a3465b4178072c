//! Placing market orders: `openOrder` → `successopenOrder` (matched by `requestId`) or
//! `failopenOrder` (which carries no `requestId`: matched to the oldest waiting order with
//! the same asset and amount, so one failure never reaches two waiters).
//!
//! When the reply is lost (the connection drops after the order was sent, or the platform
//! goes silent), the order is **never re-sent**. The client looks for it in the deal lists
//! the platform sends after reconnecting; if it is there, the caller gets the deal; if not,
//! the caller gets [`Error::OrderOutcomeUnknown`] with the request id to check, never a
//! silent duplicate.
//!
//! The module also handles the pending-order events (see [`super::pending`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use core_pre::rule::Rule;
use core_pre::runtime::{self, WaitError};
use core_pre::{BoxError, CoreError, Module, ModuleContext, Outbound};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::book::orders::OrderKey;
use crate::error::{CodecError, Error};
use crate::events::{event_rule, parse_payload};
use crate::modules::pending;
use crate::socketio::encode_event_json;
use crate::state::PocketOptionState;
use crate::types::{Action, Deal};

/// An order to open.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Order {
    /// The asset symbol.
    pub asset: String,
    /// Call or put.
    pub action: Action,
    /// The stake.
    pub amount: Decimal,
    /// The expiry in seconds.
    pub expiry: u32,
}

impl Order {
    /// The `openOrder` frame. The amount and the (numeric) request id go out as JSON
    /// numbers, written exactly (not through a float).
    fn frame(&self, request_id: &str, demo: bool) -> Result<String, CodecError> {
        let number = |text: String| {
            RawValue::from_string(text).map_err(|e| CodecError::Encode {
                reason: e.to_string(),
            })
        };
        let amount = number(self.amount.normalize().to_string())?;
        let request_id = number(request_id.to_owned())?;
        let payload = OpenOrder {
            asset: &self.asset,
            action: self.action.as_str(),
            amount: &amount,
            is_demo: u8::from(demo),
            option_type: 100,
            request_id: &request_id,
            time: self.expiry,
        };
        encode_event_json("openOrder", &payload)
    }
}

/// The payload of `openOrder` (fields in the platform's order).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OpenOrder<'a> {
    asset: &'a str,
    action: &'a str,
    amount: &'a RawValue,
    is_demo: u8,
    option_type: u32,
    request_id: &'a RawValue,
    time: u32,
}

/// A request id: unique per process, numeric (the platform accepts an int).
fn next_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seq = NEXT.fetch_add(1, Ordering::Relaxed);
    // Seconds since the epoch, then a sequence: unique across restarts of this process too.
    let secs = crate::server_time::local_unix() as u64;
    format!("{}{:06}", secs, seq % 1_000_000)
}

#[derive(Deserialize)]
struct Failure {
    #[serde(default)]
    error: serde_json::Value,
    #[serde(default)]
    asset: Option<String>,
    #[serde(default)]
    amount: serde_json::Value,
}

/// Answers waiting orders.
pub(crate) struct TradesModule {
    ctx: ModuleContext<PocketOptionState>,
}

/// Places orders (market orders here, pending orders in [`super::pending`]).
#[derive(Clone)]
pub(crate) struct TradesHandle {
    pub(crate) state: Arc<PocketOptionState>,
    pub(crate) outbound: Outbound,
}

impl TradesHandle {
    /// Sends `order` and waits up to `timeout` for the opened deal (see the module docs for
    /// what happens when the reply is lost). Validation happens in the caller.
    pub(crate) async fn place(&self, order: &Order, timeout: Duration) -> Result<Deal, Error> {
        let request_id = next_request_id();
        let orders = &self.state.orders;
        let waiter = orders.register(OrderKey {
            request_id: request_id.clone(),
            asset: order.asset.clone(),
            amount: order.amount,
        })?;
        // If this fails nothing was sent: report it as it is.
        self.outbound
            .send(order.frame(&request_id, self.state.ssid.is_demo())?)
            .await?;
        match waiter.wait(timeout).await {
            Ok(Ok(deal)) => Ok(deal),
            Ok(Err(reason)) => Err(Error::OrderRejected {
                reason,
                asset: order.asset.clone(),
                amount: order.amount,
            }),
            Err(CoreError::ConnectionLost | CoreError::Timeout { .. }) => {
                self.recover(&request_id, order, timeout).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Looks for the order for up to `patience` (for a deal list made after the failure).
    async fn recover(
        &self,
        request_id: &str,
        order: &Order,
        patience: Duration,
    ) -> Result<Deal, Error> {
        tracing::warn!(
            request_id,
            "order reply lost; looking for the order in the deal lists"
        );
        let deals = &self.state.deals;
        // A list that arrives after this point was made after the order was processed (if
        // it ever was): its absence there is telling.
        let lists_before = deals.opened_lists_seen();
        let mut changes = deals.watch();
        let mut found = None;
        let waited = runtime::wait_for(&mut changes, patience, |_| {
            found = deals.find_by_request(request_id);
            found.is_some() || deals.opened_lists_seen() > lists_before
        })
        .await;
        match (found, waited) {
            (Some(deal), _) => Ok(deal),
            // A closed watch means the client shut down.
            (None, Err(WaitError::Closed)) => Err(CoreError::ClientClosed.into()),
            // A fresh list without it, or no list in time.
            (None, _) => Err(Error::OrderOutcomeUnknown {
                request_id: request_id.to_owned(),
                asset: order.asset.clone(),
                amount: order.amount,
            }),
        }
    }
}

impl Module<PocketOptionState> for TradesModule {
    type Handle = TradesHandle;
    const NAME: &'static str = "trades";

    fn new(ctx: ModuleContext<PocketOptionState>) -> (Self, TradesHandle) {
        let handle = TradesHandle {
            state: ctx.state.clone(),
            outbound: ctx.outbound.clone(),
        };
        (TradesModule { ctx }, handle)
    }

    fn rule(_state: &Arc<PocketOptionState>) -> Box<dyn Rule> {
        event_rule(&[
            "successopenOrder",
            "failopenOrder",
            pending::EVENTS[0],
            pending::EVENTS[1],
            pending::EVENTS[2],
            pending::EVENTS[3],
            pending::EVENTS[4],
        ])
    }

    async fn run(&mut self) -> Result<(), BoxError> {
        while let Some(msg) = self.ctx.inbox.recv().await {
            let Some(text) = msg.as_text() else { continue };
            let orders = &self.ctx.state.orders;
            match crate::event_name(text) {
                Some("successopenOrder") => match parse_payload::<Deal>(text) {
                    Ok(deal) => {
                        if let (Some(request_id), Some(pending)) =
                            (&deal.request_id, self.ctx.state.pending_if_used())
                        {
                            pending.on_deal_opened(request_id);
                        }
                        let key = OrderKey {
                            request_id: deal.request_id.clone().unwrap_or_default(),
                            asset: deal.asset.clone(),
                            amount: deal.amount,
                        };
                        if !orders.resolve(&key, Ok(deal)) {
                            tracing::debug!(
                                "an opened deal matched no waiting order (placed elsewhere?)"
                            );
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "ignoring a malformed successopenOrder"),
                },
                Some("failopenOrder") => match parse_payload::<Failure>(text) {
                    Ok(failure) => {
                        let reason = match &failure.error {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        let amount = crate::types::decimal_from_json(&failure.amount);
                        let asset = failure.asset.unwrap_or_default();
                        let matched = orders.resolve_oldest(
                            |k| k.asset == asset && Some(k.amount) == amount,
                            Err(reason.clone()),
                        );
                        if !matched {
                            tracing::warn!(%reason, %asset, "a failopenOrder matched no waiting order");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "ignoring a malformed failopenOrder"),
                },
                Some(name) => {
                    if let Err(e) = pending::on_event(&self.ctx.state, name, text) {
                        tracing::warn!(error = %e, event = name, "ignoring a malformed pending-order event");
                    }
                }
                None => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_frames_carry_exact_amounts_and_the_request_id() {
        let order = Order {
            asset: "EURUSD_otc".into(),
            action: Action::Put,
            amount: Decimal::new(1500, 3),
            expiry: 60,
        };
        assert_eq!(
            order.frame("17000000001", true).unwrap(),
            r#"42["openOrder",{"asset":"EURUSD_otc","action":"put","amount":1.5,"isDemo":1,"optionType":100,"requestId":17000000001,"time":60}]"#
        );
        assert_ne!(next_request_id(), next_request_id());
    }
}
