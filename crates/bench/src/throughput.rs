//! Inbound throughput of small text frames: the bare tokio-tungstenite read loop (the
//! baseline) and a core-pre client whose router hands every frame to a counting module.
//!
//! Both connect to the same [`BenchServer`](crate::BenchServer), send `start`, and count
//! text frames until the whole flood has arrived; the clock runs from just before `start`
//! is sent to the last frame counted.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client_ws::{WsConfig, WsConnector};
use core_pre::{AppState, BoxError, ClientBuilder, Message, Module, ModuleContext, Rule};
use futures::{SinkExt, StreamExt};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite;

use crate::error::{BenchError, within};

/// Every connection and handshake of a benchmark is bounded by this.
pub const CONNECT_WAIT: Duration = Duration::from_secs(15);

/// Units received and the time they took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    /// Frames (or tick pairs) counted.
    pub units: u64,
    /// From the request to the last unit.
    pub elapsed: Duration,
}

impl Throughput {
    /// Units per second.
    pub fn per_second(&self) -> f64 {
        self.units as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A tokio-tungstenite client with `TCP_NODELAY`, as the baselines use it.
pub async fn bare_connect(
    url: &str,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    BenchError,
> {
    let (ws, _) = within(
        "the bare client's connection",
        CONNECT_WAIT,
        tokio_tungstenite::connect_async_with_config(url, None, true),
    )
    .await??;
    Ok(ws)
}

/// The baseline: a bare tokio-tungstenite read loop counting `frames` text frames.
pub async fn bare_flood(url: &str, frames: u64, limit: Duration) -> Result<Throughput, BenchError> {
    let mut ws = bare_connect(url).await?;
    let started = Instant::now();
    ws.send(tungstenite::Message::text("start")).await?;
    let mut count = 0u64;
    within("the flood (bare loop)", limit, async {
        while count < frames {
            match ws.next().await {
                Some(Ok(tungstenite::Message::Text(_))) => count += 1,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(BenchError::from(e)),
                None => return Err(BenchError::Protocol("the server closed early".into())),
            }
        }
        Ok(())
    })
    .await??;
    let elapsed = started.elapsed();
    let _ = ws.close(None).await;
    Ok(Throughput {
        units: count,
        elapsed,
    })
}

/// How the counting module takes frames from its inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxUse {
    /// `Inbox::recv_many` with batches of up to 64 (what core-pre recommends under load).
    Batched,
    /// `Inbox::recv`, one frame per wake-up (the simplest module).
    OneByOne,
}

/// The counting client's shared state: the target, and who to tell when it is reached.
pub struct CountState {
    target: u64,
    inbox_use: InboxUse,
    counted: AtomicU64,
    done: Mutex<Option<oneshot::Sender<()>>>,
    /// How many [`Idle`] modules have taken their rule (each gets its own prefix).
    idle_rules: AtomicUsize,
}

impl AppState for CountState {}

impl CountState {
    fn add(&self, n: u64) {
        let total = self.counted.fetch_add(n, Ordering::Relaxed) + n;
        if total >= self.target {
            let done = self.done.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(done) = done {
                let _ = done.send(());
            }
        }
    }
}

/// A module that receives every text frame and counts it.
pub struct Counting {
    ctx: ModuleContext<CountState>,
}

impl Module<CountState> for Counting {
    type Handle = ();
    const NAME: &'static str = "counting";

    fn new(ctx: ModuleContext<CountState>) -> (Self, ()) {
        (Counting { ctx }, ())
    }

    fn rule(_state: &Arc<CountState>) -> Box<dyn Rule> {
        Box::new(|msg: &Message| msg.is_text())
    }

    async fn run(&mut self) -> Result<(), BoxError> {
        let state = self.ctx.state.clone();
        match state.inbox_use {
            InboxUse::Batched => {
                let mut batch = Vec::with_capacity(64);
                loop {
                    let n = self.ctx.inbox.recv_many(&mut batch, 64).await;
                    if n == 0 {
                        return Ok(());
                    }
                    batch.clear();
                    state.add(n as u64);
                }
            }
            InboxUse::OneByOne => {
                while let Some(_msg) = self.ctx.inbox.recv().await {
                    state.add(1);
                }
                Ok(())
            }
        }
    }
}

/// A module whose rule never matches the flood: `text_starts_with("{\"idleN\":")`, a
/// different `N` for each copy. The flood's frames start with `{"seq":`, so the rule shares
/// their first two bytes, as the event rules of one protocol share theirs. It measures
/// what a module that does not want a frame costs the router.
pub struct Idle {
    ctx: ModuleContext<CountState>,
}

impl Module<CountState> for Idle {
    type Handle = ();
    const NAME: &'static str = "idle";

    fn new(ctx: ModuleContext<CountState>) -> (Self, ()) {
        (Idle { ctx }, ())
    }

    fn rule(state: &Arc<CountState>) -> Box<dyn Rule> {
        let n = state.idle_rules.fetch_add(1, Ordering::Relaxed);
        Box::new(core_pre::rule::text_starts_with(format!("{{\"idle{n}\":")))
    }

    async fn run(&mut self) -> Result<(), BoxError> {
        while self.ctx.inbox.recv().await.is_some() {}
        Ok(())
    }
}

/// Ours: a core-pre client over client_ws's native transport; the router delivers each
/// text frame to [`Counting`].
pub async fn routed_flood(
    url: &str,
    frames: u64,
    inbox_use: InboxUse,
    limit: Duration,
) -> Result<Throughput, BenchError> {
    routed_flood_with_idle(url, frames, inbox_use, 0, limit).await
}

/// [`routed_flood`] with `idle` more modules whose rules match none of the frames
/// ([`Idle`]): what routing costs as modules are added.
pub async fn routed_flood_with_idle(
    url: &str,
    frames: u64,
    inbox_use: InboxUse,
    idle: usize,
    limit: Duration,
) -> Result<Throughput, BenchError> {
    let (done, finished) = oneshot::channel();
    let state = CountState {
        target: frames,
        inbox_use,
        counted: AtomicU64::new(0),
        done: Mutex::new(Some(done)),
        idle_rules: AtomicUsize::new(0),
    };
    let mut builder = ClientBuilder::with_state(WsConnector::new(WsConfig::new(url)), state)
        .without_keep_alive()
        .with_read_timeout(None)
        .with_module::<Counting>();
    for _ in 0..idle {
        builder = builder.with_module::<Idle>();
    }
    let (client, runner) = builder.build();
    let runner = runner.spawn();
    client.wait_connected(CONNECT_WAIT).await?;
    let started = Instant::now();
    client.send("start").await?;
    let finished = within("the flood (core-pre client)", limit, finished).await;
    let elapsed = started.elapsed();
    let counted = client.app_state().counted.load(Ordering::Relaxed);
    client.shutdown().await?;
    let _ = within("the runner to stop", CONNECT_WAIT, runner).await;
    finished?.map_err(|_| BenchError::Protocol("the counting module stopped early".into()))?;
    Ok(Throughput {
        units: counted,
        elapsed,
    })
}
