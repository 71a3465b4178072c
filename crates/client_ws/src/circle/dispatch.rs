//! [`RpcDispatch`]: the module that receives the server's JSON-RPC frames.
//!
//! Responses resolve the waiting call by id; notifications go to every
//! [`Notifications`](super::Notifications) receiver. In the browser, where pages cannot
//! send ping frames, it also sends a `ping` call at the keep-alive interval so that the
//! read timeout always has something to hear from a live server.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use core_pre::runtime::{self, Instant};
use core_pre::{BoxError, Inbox, Message, Module, ModuleContext, Outbound, PendingRequests, Rule};
use serde_json::Value;

use super::state::{CircleState, Notification, Reply};
use crate::rpc::{self, Incoming};

/// Keep-alive ids remembered, so their answers are dropped quietly.
const KEEP_ALIVE_MEMORY: usize = 16;
/// A sleep that never ends in practice (no keep-alive configured).
const IDLE: Duration = Duration::from_secs(3600);

pub(crate) struct RpcDispatch {
    state: Arc<CircleState>,
    inbox: Inbox,
    outbound: Outbound,
    keep_alive_ids: VecDeque<u64>,
}

impl Module<CircleState> for RpcDispatch {
    type Handle = ();
    const NAME: &'static str = "circle_rpc";

    fn new(ctx: ModuleContext<CircleState>) -> (Self, ()) {
        let dispatch = RpcDispatch {
            state: ctx.state,
            inbox: ctx.inbox,
            outbound: ctx.outbound,
            keep_alive_ids: VecDeque::with_capacity(KEEP_ALIVE_MEMORY),
        };
        (dispatch, ())
    }

    fn rule(_state: &Arc<CircleState>) -> Box<dyn Rule> {
        Box::new(|msg: &Message| msg.is_text())
    }

    async fn run(&mut self) -> Result<(), BoxError> {
        let pending = self.state.pending.clone();
        let interval = self.state.settings.app_keep_alive;
        let mut next_ping = interval.map(|every| Instant::now() + every);
        loop {
            let until_ping = next_ping
                .map(|due| due.saturating_duration_since(Instant::now()))
                .unwrap_or(IDLE);
            tokio::select! {
                msg = self.inbox.recv() => match msg {
                    Some(msg) => self.dispatch(&pending, &msg),
                    None => return Ok(()),
                },
                () = runtime::sleep(until_ping) => {
                    if let Some(every) = interval {
                        self.send_keep_alive();
                        next_ping = Some(Instant::now() + every);
                    }
                }
            }
        }
    }
}

impl RpcDispatch {
    fn dispatch(&mut self, pending: &PendingRequests<u64, Reply>, msg: &Message) {
        let Some(text) = msg.as_text() else { return };
        match rpc::parse(text) {
            Ok(Incoming::Response { id, outcome }) => {
                if pending.resolve(&id, outcome) {
                    return;
                }
                if let Some(at) = self.keep_alive_ids.iter().position(|k| *k == id) {
                    self.keep_alive_ids.remove(at);
                } else {
                    tracing::debug!(
                        id,
                        "dropping a response nobody waits for (the call timed out?)"
                    );
                }
            }
            Ok(Incoming::Notification { method, params }) => {
                // No receiver is fine: nobody asked for notifications.
                let _ = self
                    .state
                    .notifications
                    .send(Notification { method, params });
            }
            Ok(Incoming::Request { method, .. }) => {
                tracing::debug!(%method, "ignoring a request from the server (not supported)");
            }
            Err(malformed) => {
                tracing::warn!(reason = %malformed.reason, "ignoring a malformed frame")
            }
        }
    }

    fn send_keep_alive(&mut self) {
        if !self.outbound.is_up() {
            return;
        }
        let id = self.state.next_id();
        let frame = rpc::request(id, "ping", &Value::Null);
        if self.outbound.try_send(frame).is_ok() {
            if self.keep_alive_ids.len() == KEEP_ALIVE_MEMORY {
                self.keep_alive_ids.pop_front();
            }
            self.keep_alive_ids.push_back(id);
        }
    }
}
