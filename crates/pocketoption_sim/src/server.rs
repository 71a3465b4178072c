//! The server: the listener and its accept loop, and the settlement loop.
//!
//! Two long-lived tasks run per simulator: the accept loop (which owns every connection
//! task in a `JoinSet`, so none outlives it) and the settlement loop (which closes deals at
//! expiry whether or not their owner is still connected, as the platform does). [`start`]
//! binds the listener and spawns both; the `Simulator` built from what it returns stops them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep, sleep_until, timeout};

use crate::clock::now_ms;
use crate::config::{CloseOrderForm, Config};
use crate::connection;
use crate::error::SimError;
use crate::lock::lock;
use crate::shared::{Control, Shared};
use crate::trading::Deal;

/// How long shutdown waits for connections to close before aborting them.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A started simulator: its state, the accept loop's command queue and its two tasks.
pub(crate) struct Running {
    pub shared: Arc<Shared>,
    pub commands: mpsc::Sender<Command>,
    pub accept: JoinHandle<()>,
    pub settle: JoinHandle<()>,
}

/// Binds the listener and spawns the accept and settlement loops.
pub(crate) async fn start(config: Config) -> Result<Running, SimError> {
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|e| SimError::Bind {
            addr: config.addr,
            source: Arc::new(e),
        })?;
    let addr = listener.local_addr().map_err(|e| SimError::Bind {
        addr: config.addr,
        source: Arc::new(e),
    })?;
    let shared = Arc::new(Shared::new(config, addr));
    let (commands, command_rx) = mpsc::channel(8);
    let accept = tokio::spawn(accept_loop(shared.clone(), listener, command_rx));
    let settle = tokio::spawn(settlement_loop(shared.clone()));
    tracing::info!(%addr, seed = shared.config.seed, "simulator listening");
    Ok(Running {
        shared,
        commands,
        accept,
        settle,
    })
}

/// A request to the accept loop.
pub(crate) enum Command {
    Restart {
        downtime: Duration,
        done: oneshot::Sender<Result<(), SimError>>,
    },
}

enum AcceptEvent {
    Accepted(std::io::Result<(tokio::net::TcpStream, SocketAddr)>),
    Command(Option<Command>),
    Control,
    Reaped,
}

async fn accept_loop(
    shared: Arc<Shared>,
    mut listener: TcpListener,
    mut commands: mpsc::Receiver<Command>,
) {
    let mut connections = JoinSet::new();
    let mut control = shared.control.subscribe();
    let mut next_id = 0_u64;
    loop {
        if control.borrow_and_update().shutdown {
            break;
        }
        let event = tokio::select! {
            accepted = listener.accept() => AcceptEvent::Accepted(accepted),
            command = commands.recv() => AcceptEvent::Command(command),
            changed = control.changed() => {
                if changed.is_err() { break; }
                AcceptEvent::Control
            }
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = joined {
                    if e.is_panic() {
                        tracing::error!("a connection task panicked: {e}");
                    }
                }
                AcceptEvent::Reaped
            }
        };
        match event {
            AcceptEvent::Accepted(Ok((tcp, peer))) => {
                next_id += 1;
                shared.accepted.fetch_add(1, Ordering::Relaxed);
                connections.spawn(connection::serve(shared.clone(), tcp, peer, next_id));
            }
            AcceptEvent::Accepted(Err(e)) => {
                // Usually out of file descriptors: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                sleep(Duration::from_millis(50)).await;
            }
            AcceptEvent::Command(Some(Command::Restart { downtime, done })) => {
                tracing::info!(
                    ?downtime,
                    "restart: closing the listener and every connection"
                );
                drop(listener);
                shared.drop_all();
                let shutdown = tokio::select! {
                    _ = sleep(downtime) => false,
                    _ = wait_shutdown(&mut control) => true,
                };
                if shutdown {
                    let _ = done.send(Err(SimError::ShutDown));
                    break;
                }
                match rebind(shared.addr).await {
                    Ok(l) => {
                        listener = l;
                        tracing::info!(addr = %shared.addr, "restart: listening again");
                        let _ = done.send(Ok(()));
                    }
                    Err(e) => {
                        tracing::error!("restart: could not listen again: {e}");
                        let _ = done.send(Err(e));
                        shared.control.send_modify(|c| c.shutdown = true);
                        break;
                    }
                }
            }
            AcceptEvent::Command(None) | AcceptEvent::Control | AcceptEvent::Reaped => {}
        }
    }
    shared.control.send_modify(|c| c.shutdown = true);
    let drained = timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("connections did not close in time; aborting them");
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    tracing::info!("simulator stopped");
}

async fn wait_shutdown(control: &mut watch::Receiver<Control>) {
    // Returns when shutdown is requested or the sender is gone.
    let _ = control.wait_for(|c| c.shutdown).await;
}

async fn rebind(addr: SocketAddr) -> Result<TcpListener, SimError> {
    let mut last = None;
    for _ in 0..20 {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
        sleep(Duration::from_millis(50)).await;
    }
    Err(SimError::Bind {
        addr,
        source: Arc::new(last.unwrap_or_else(|| std::io::Error::other("bind failed"))),
    })
}

async fn settlement_loop(shared: Arc<Shared>) {
    let mut control = shared.control.subscribe();
    let tick_ms = shared.config.tick.as_millis().max(1) as i64;
    loop {
        let next = {
            let book = lock(&shared.book);
            let pending = book
                .next_pending_check(now_ms(), tick_ms)
                .map(|ms| Instant::now() + Duration::from_millis(ms as u64));
            match (book.next_settlement(), pending) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        tokio::select! {
            _ = sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                execute_pending(&shared);
                settle(&shared);
            }
            _ = shared.settle_wake.notified() => {}
            _ = wait_shutdown(&mut control) => break,
        }
    }
}

/// Turns triggered pending orders into deals, as if their owner had sent `openOrder`.
fn execute_pending(shared: &Arc<Shared>) {
    let fired = lock(&shared.book).take_triggered(&shared.market, now_ms());
    for pending in fired {
        let order = pending.as_order();
        let opened = lock(&shared.book).open_order(
            pending.uid,
            pending.is_demo,
            &order,
            &shared.market,
            &shared.config,
            (now_ms(), Instant::now()),
        );
        let frames = match opened {
            Ok(deal) => {
                tracing::info!(uid = deal.uid, asset = %deal.asset, "pending order executed");
                let frames = shared.event_frames("successopenOrder", &deal.to_json());
                shared.with_account_state(pending.uid, pending.is_demo, frames)
            }
            Err(refusal) => {
                tracing::info!(uid = pending.uid, error = refusal.0, "pending order failed");
                shared.event_frames(
                    "failopenOrder",
                    &json!({ "error": refusal.0, "amount": order.amount, "asset": order.asset }),
                )
            }
        };
        shared.push_to_account(pending.uid, pending.is_demo, &frames);
    }
}

/// Closes due deals and tells their owners: `successcloseOrder`, then the account state.
fn settle(shared: &Arc<Shared>) {
    let closed = lock(&shared.book).settle_due(Instant::now(), &shared.market, &shared.config);
    let mut by_account: HashMap<(u64, bool), Vec<Deal>> = HashMap::new();
    for deal in closed {
        tracing::info!(
            uid = deal.uid,
            asset = %deal.asset,
            outcome = ?deal.outcome,
            profit = deal.profit_cents as f64 / 100.0,
            "deal closed"
        );
        by_account
            .entry((deal.uid, deal.is_demo))
            .or_default()
            .push(deal);
    }
    for ((uid, demo), deals) in by_account {
        let payload = close_order_payload(&deals, shared.config.close_order_form);
        let frames = shared.event_frames("successcloseOrder", &payload);
        let frames = shared.with_account_state(uid, demo, frames);
        shared.push_to_account(uid, demo, &frames);
    }
}

/// The `successcloseOrder` payload. The top-level `profit` is the gross return of the
/// closed deals (stake + winnings: a won deal of 1 at 92 % gives 1.92, a lost one 0), not
/// their net sum; each deal carries its own net `profit` (fact sheet §6).
fn close_order_payload(deals: &[Deal], form: CloseOrderForm) -> Value {
    let list: Vec<Value> = deals.iter().map(Deal::to_json).collect();
    match form {
        CloseOrderForm::Object => {
            let gross: i64 = deals.iter().filter_map(Deal::returned_cents).sum();
            json!({ "profit": gross as f64 / 100.0, "deals": list })
        }
        CloseOrderForm::BareArray => Value::Array(list),
    }
}
