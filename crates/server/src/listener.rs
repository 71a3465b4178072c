//! The accept loop: one task that owns the listening socket and every connection task.
//!
//! Modeled on mini-redis's `Listener`: a semaphore bounds the connections still in their
//! handshake (accepting pauses while it is exhausted, so a flood waits in the kernel's
//! backlog instead of in memory); the session cap is a second semaphore checked inside the
//! handshake, so the connection beyond it is answered with 503. Accept errors (out of file
//! descriptors…) are retried with a doubling back-off up to a second. Connection tasks live
//! in a `JoinSet`, reaped as they finish, and on shutdown drained to the deadline, then
//! aborted: when [`run`] returns no task is left.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};
use tokio::time::{sleep, timeout_at};

use crate::connection::{self, TaskOutcome};
use crate::events::Phase;
use crate::session::DisconnectReason;
use crate::shared::Shared;
use crate::shutdown::ShutdownReport;

/// The longest pause between accept attempts after errors.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Accepts until shutdown, then closes every session; returns the report.
pub(crate) async fn run(shared: Arc<Shared>, listener: TcpListener) -> ShutdownReport {
    let handshakes = Arc::new(Semaphore::new(shared.config.max_pending_handshakes));
    let mut tasks: JoinSet<TaskOutcome> = JoinSet::new();
    let mut signal = shared.shutdown.subscribe();
    let mut backoff = Duration::from_millis(1);
    tracing::info!(address = %shared.local_addr, tls = shared.tls.is_some(), "server listening");
    let deadline = loop {
        let accept = async {
            // Only closed with the semaphore, which this task owns: a permit always comes.
            let permit = handshakes.clone().acquire_owned().await;
            (permit, listener.accept().await)
        };
        tokio::select! {
            deadline = signal.triggered() => break deadline,
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => log_panic(joined),
            (permit, accepted) = accept => match (permit, accepted) {
                (Ok(permit), Ok((tcp, peer))) => {
                    backoff = Duration::from_millis(1);
                    tasks.spawn(connection::serve(shared.clone(), tcp, peer, permit));
                }
                (_, Err(error)) => {
                    tracing::warn!(%error, retry_in = ?backoff, "accept failed");
                    tokio::select! {
                        () = sleep(backoff) => {}
                        deadline = signal.triggered() => break deadline,
                    }
                    backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                }
                (Err(_), Ok(_)) => {}
            },
        }
    };
    drop(listener);
    let started = Instant::now();
    shared.set_phase(Phase::ShuttingDown);
    let sessions = shared.registry.everyone();
    tracing::info!(sessions = sessions.len(), "server shutting down");
    for session in sessions.iter() {
        session.request_close(1001, "server shutting down", DisconnectReason::Shutdown);
    }
    let mut report = ShutdownReport {
        sessions: sessions.len(),
        ..ShutdownReport::default()
    };
    drop(sessions);
    while let Ok(Some(joined)) = timeout_at(deadline.into(), tasks.join_next()).await {
        if let Ok(outcome) = &joined {
            if outcome.session {
                if outcome.clean {
                    report.closed_cleanly += 1;
                } else {
                    report.closed_uncleanly += 1;
                }
            }
        }
        log_panic(joined);
    }
    report.aborted = tasks.len();
    tasks.abort_all();
    // Aborted tasks finish at their next await point; each runs its clean-up as it drops.
    while tasks.join_next().await.is_some() {}
    report.elapsed = started.elapsed();
    shared.set_phase(Phase::Stopped);
    shared.close_streams();
    tracing::info!(?report, "server stopped");
    report
}

fn log_panic(joined: Result<TaskOutcome, JoinError>) {
    if let Err(error) = joined {
        if error.is_panic() {
            tracing::error!(%error, "a connection task panicked");
        }
    }
}
