//! Market-data subscriptions: [`SubscriptionStream`]s of ticks or candles.
//!
//! The platform streams at most **4** assets per connection (the last 4 subscribed). This
//! client never lets that starve a stream silently: subscribing a 5th distinct asset while
//! 4 have live streams fails with [`Error::TooManySubscriptions`], naming the active ones.
//! Several streams may share an asset (one platform subscription, fanned out here), and
//! dropping one stream never ends another. The platform has no unsubscribe: when the last
//! stream of an asset is dropped, its slot is freed here and the remaining assets are
//! re-announced (`subfor`) with the next new subscription so the server's "last 4" are
//! exactly the live ones.
//!
//! Subscriptions survive reconnects: after every (re)connection each live asset is
//! re-subscribed exactly once, before the modules see the new connection's traffic.
//!
//! Each stream has a bounded buffer. When it is full, the module waits up to the client's
//! stall timeout (core-pre's `ClientConfig::stall_timeout`, 100 ms by default: the one
//! slow-consumer bound, also applied by the router to module inboxes) for the reader (a slow reader gets backpressure and loses nothing); a reader that makes no
//! room in that time counts as stalled and loses its own new ticks (counted in
//! [`SubscriptionStream::dropped`]) until it reads again — never anyone else's ticks,
//! never the connection.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use core_pre::rule::Rule;
use core_pre::runtime::{self, BoxFuture};
use core_pre::{BoxError, CallbackContext, Module, ModuleContext, Outbound};
use futures::Stream;
use serde::Serialize;

pub(crate) use crate::book::subscriptions::SubscriptionRegistry;
use crate::book::subscriptions::{Added, Announce, Blocked};
use crate::book::tick_queue::TickReceiver;
use crate::error::{CodecError, Error};
use crate::events::{event_rule, parse_payload, payload_of};
use crate::socketio::encode_event_json;
use crate::state::PocketOptionState;
use crate::ticks::{self, TickRow};
use crate::types::{Candle, Tick};

/// Ticks buffered per stream; when full, the stream gets up to the stall timeout (100 ms)
/// of backpressure, then
/// its new ticks are dropped (counted) until it frees room.
pub const DEFAULT_STREAM_BUFFER: usize = 4096;
/// How long after a time-based candle's end it is emitted if no later tick closed it.
const CANDLE_GRACE: f64 = 0.5;

/// What a subscription stream yields. Every kind yields [`Candle`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionKind {
    /// Every tick, as a one-tick candle (open = high = low = close = the price).
    Ticks,
    /// One candle per `n` ticks.
    Chunks(usize),
    /// One candle per window of this length, starting at the first tick of each window.
    Window(Duration),
    /// Time-aligned candles of this period (whole seconds dividing a day: 5 s, 1 min, 1 h...).
    Candles(Duration),
}

impl SubscriptionKind {
    /// Checks the parameters (see each variant).
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Err(Error::InvalidSubscription { reason });
        match *self {
            SubscriptionKind::Ticks => Ok(()),
            SubscriptionKind::Chunks(n) if n == 0 || n > 100_000 => {
                invalid(format!("chunks of {n} ticks: use 1 to 100000"))
            }
            SubscriptionKind::Chunks(_) => Ok(()),
            SubscriptionKind::Window(d) if d.is_zero() || d > Duration::from_secs(86_400) => {
                invalid(format!(
                    "a window of {d:?}: use more than zero and at most a day"
                ))
            }
            SubscriptionKind::Window(_) => Ok(()),
            SubscriptionKind::Candles(d) => {
                let secs = d.as_secs();
                if d.subsec_nanos() != 0 || secs == 0 || 86_400 % secs != 0 {
                    invalid(format!(
                        "candles of {d:?}: use whole seconds that divide a day (5 s, 15 s, 1 min, 5 min, 1 h...)"
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// The chart period sent with `changeSymbol`.
    fn period(&self) -> u32 {
        match *self {
            SubscriptionKind::Candles(d) => d.as_secs().min(86_400) as u32,
            _ => 60,
        }
    }
}

/// Delivers the blocked ticks, waiting up to `stall_timeout` (the client's slow-consumer
/// bound, the same the router applies to module inboxes) for room; a stream that makes
/// none in time is marked stalled and loses the rest of its blocked ticks.
async fn deliver_blocked(
    registry: &SubscriptionRegistry,
    blocked: &mut Vec<Blocked>,
    stall_timeout: Duration,
) {
    let mut stalled: Vec<u64> = Vec::new();
    for b in blocked.drain(..) {
        if stalled.contains(&b.id) {
            b.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        match runtime::timeout(stall_timeout, b.tx.send(b.tick)).await {
            Ok(Ok(())) => {}
            // The stream was dropped meanwhile.
            Ok(Err(_)) => {}
            Err(_) => {
                b.dropped.fetch_add(1, Ordering::Relaxed);
                registry.mark_stalled(b.id);
                stalled.push(b.id);
            }
        }
    }
}

/// `changeSymbol` + `subfor` frames for an announcement.
fn announce_frames(
    asset: &str,
    period: u32,
    subfor: &[Arc<str>],
) -> Result<Vec<String>, CodecError> {
    let mut frames = vec![encode_event_json(
        "changeSymbol",
        &ChangeSymbol { asset, period },
    )?];
    for a in subfor {
        frames.push(encode_event_json("subfor", &**a)?);
    }
    Ok(frames)
}

/// The payload of `changeSymbol`.
#[derive(Serialize)]
struct ChangeSymbol<'a> {
    asset: &'a str,
    period: u32,
}

/// Re-subscribes every live asset once (run after each connection).
pub(crate) async fn resubscribe(ctx: CallbackContext<PocketOptionState>) -> Result<(), BoxError> {
    for (asset, period) in ctx.state.subscriptions.active() {
        for frame in announce_frames(&asset, period, std::slice::from_ref(&asset))? {
            ctx.outbound.send(frame).await?;
        }
    }
    Ok(())
}

/// Fans `updateStream` ticks out to the streams and feeds the server clock.
pub(crate) struct SubscriptionsModule {
    ctx: ModuleContext<PocketOptionState>,
}

/// Opens subscription streams.
#[derive(Clone)]
pub(crate) struct SubscriptionsHandle {
    state: Arc<PocketOptionState>,
    outbound: Outbound,
}

impl SubscriptionsHandle {
    /// Subscribes to `asset` (see the module docs for the 4-asset limit and reconnects).
    pub(crate) async fn subscribe(
        &self,
        asset: &str,
        kind: SubscriptionKind,
        buffer: usize,
    ) -> Result<SubscriptionStream, Error> {
        kind.validate()?;
        let Added {
            id,
            rx,
            dropped,
            asset: shared,
            announce,
        } = self.state.subscriptions.add(asset, kind.period(), buffer)?;
        let guard = SubscriberGuard {
            state: self.state.clone(),
            asset: shared.clone(),
            id,
        };
        if let Announce::New {
            asset,
            period,
            subfor,
        } = announce
        {
            for frame in announce_frames(&asset, period, &subfor)? {
                match self.outbound.send(frame).await {
                    Ok(()) => {}
                    // Not connected: the subscription is registered and will be sent by the
                    // resubscribe callback as soon as a connection is up.
                    Err(core_pre::CoreError::NotConnected { .. }) => break,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(SubscriptionStream {
            asset: shared,
            rx,
            aggregator: Aggregator::new(kind),
            dropped,
            state: self.state.clone(),
            timer: None,
            _guard: guard,
        })
    }
}

impl Module<PocketOptionState> for SubscriptionsModule {
    type Handle = SubscriptionsHandle;
    const NAME: &'static str = "subscriptions";

    fn new(ctx: ModuleContext<PocketOptionState>) -> (Self, SubscriptionsHandle) {
        let handle = SubscriptionsHandle {
            state: ctx.state.clone(),
            outbound: ctx.outbound.clone(),
        };
        (SubscriptionsModule { ctx }, handle)
    }

    fn rule(_state: &Arc<PocketOptionState>) -> Box<dyn Rule> {
        event_rule(&["updateStream"])
    }

    async fn run(&mut self) -> Result<(), BoxError> {
        let mut batch = Vec::new();
        let mut rows = Vec::new();
        let mut blocked = Vec::new();
        let registry = &self.ctx.state.subscriptions;
        loop {
            if self.ctx.inbox.recv_many(&mut batch, 64).await == 0 {
                registry.close();
                return Ok(());
            }
            let mut newest: Option<f64> = None;
            for msg in batch.drain(..) {
                let Some(text) = msg.as_text() else {
                    continue;
                };
                let seen = match payload_of(text, "updateStream") {
                    // The usual shape, parsed by hand without allocating.
                    Some(payload) if ticks::parse_rows(payload, &mut rows) => registry.dispatch(
                        rows.iter()
                            .map(|(symbol, time, price)| (&payload[symbol.clone()], *time, *price)),
                        &mut blocked,
                    ),
                    _ => match parse_payload::<Vec<TickRow<'_>>>(text) {
                        Ok(parsed) => registry
                            .dispatch(parsed.iter().map(|r| (&*r.0, r.1, r.2)), &mut blocked),
                        Err(e) => {
                            tracing::warn!(error = %e, "ignoring a malformed updateStream payload");
                            None
                        }
                    },
                };
                newest = match (newest, seen) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                if !blocked.is_empty() {
                    // A full stream: wait for its reader (briefly), in order.
                    deliver_blocked(registry, &mut blocked, self.ctx.stall_timeout()).await;
                }
            }
            // One clock sample per batch is plenty, and keeps the clock off the hot path.
            if let Some(newest) = newest {
                self.ctx.state.clock.observe(newest);
            }
            // Let the streams' readers run before the next batch: a burst must not starve
            // them into dropping ticks.
            runtime::yield_now().await;
        }
    }
}

/// Removes a stream's subscriber when the stream is dropped.
struct SubscriberGuard {
    state: Arc<PocketOptionState>,
    asset: Arc<str>,
    id: u64,
}

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.state.subscriptions.remove(&self.asset, self.id);
    }
}

enum Aggregator {
    Ticks,
    Chunks {
        size: usize,
        current: Option<Candle>,
    },
    Window {
        length: f64,
        current: Option<(Candle, f64)>,
    },
    Aligned {
        period: f64,
        current: Option<Candle>,
        last_start: f64,
    },
}

impl Aggregator {
    fn new(kind: SubscriptionKind) -> Self {
        match kind {
            SubscriptionKind::Ticks => Aggregator::Ticks,
            SubscriptionKind::Chunks(size) => Aggregator::Chunks {
                size,
                current: None,
            },
            SubscriptionKind::Window(d) => Aggregator::Window {
                length: d.as_secs_f64(),
                current: None,
            },
            SubscriptionKind::Candles(d) => Aggregator::Aligned {
                period: d.as_secs_f64(),
                current: None,
                last_start: f64::NEG_INFINITY,
            },
        }
    }

    /// Adds a tick; returns a candle when one completes.
    fn push(&mut self, tick: Tick) -> Option<Candle> {
        match self {
            Aggregator::Ticks => Some(Candle::open_at(tick.asset, tick.time, tick.price)),
            Aggregator::Chunks { size, current } => {
                match current {
                    Some(candle) => candle.update(tick.price),
                    None => *current = Some(Candle::open_at(tick.asset, tick.time, tick.price)),
                }
                if current.as_ref().is_some_and(|c| c.ticks as usize >= *size) {
                    current.take()
                } else {
                    None
                }
            }
            Aggregator::Window { length, current } => match current {
                Some((candle, end)) if tick.time < *end => {
                    candle.update(tick.price);
                    None
                }
                _ => {
                    let end = tick.time + *length;
                    let open = Candle::open_at(tick.asset, tick.time, tick.price);
                    current.replace((open, end)).map(|(c, _)| c)
                }
            },
            Aggregator::Aligned {
                period,
                current,
                last_start,
            } => {
                let start = (tick.time / *period).floor() * *period;
                if start < *last_start {
                    return None; // a late tick for a candle already emitted
                }
                match current {
                    Some(candle) if candle.time == start => {
                        candle.update(tick.price);
                        None
                    }
                    _ => {
                        *last_start = start;
                        current.replace(Candle::open_at(tick.asset, start, tick.price))
                    }
                }
            }
        }
    }

    /// When the current time-based candle is due (server time), if there is one.
    fn deadline(&self) -> Option<f64> {
        match self {
            Aggregator::Window {
                current: Some((_, end)),
                ..
            } => Some(*end),
            Aggregator::Aligned {
                period,
                current: Some(candle),
                ..
            } => Some(candle.time + *period),
            _ => None,
        }
    }

    /// Takes whatever candle is unfinished, of any kind (the end of a finite series).
    fn finish(&mut self) -> Option<Candle> {
        match self {
            Aggregator::Chunks { current, .. } => current.take(),
            _ => self.flush(),
        }
    }

    /// Takes the current time-based candle (its period is over).
    fn flush(&mut self) -> Option<Candle> {
        match self {
            Aggregator::Window { current, .. } => current.take().map(|(c, _)| c),
            Aggregator::Aligned {
                current,
                last_start,
                period,
            } => {
                let candle = current.take()?;
                *last_start = candle.time + *period;
                Some(candle)
            }
            _ => None,
        }
    }
}

/// Compiles a series of ticks of one asset into candles of `kind`, with exactly the
/// aggregation a [`SubscriptionStream`] of that kind applies to live ticks (so candles
/// built from [tick history](crate::PocketOption::ticks) match the streamed ones).
///
/// The ticks are taken in time order (they are sorted first; equal times keep their
/// order). The last candle is included even when its period or chunk is not complete:
/// its [`ticks`](Candle::ticks) says how many ticks made it.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use binary_options_tools::{SubscriptionKind, Tick, compile_candles};
///
/// let asset: Arc<str> = Arc::from("EURUSD_otc");
/// let ticks = [(60.5, 1.10), (61.0, 1.12), (119.9, 1.09), (120.0, 1.11)]
///     .map(|(time, price)| Tick { asset: asset.clone(), time, price });
/// let candles = compile_candles(ticks, SubscriptionKind::Candles(Duration::from_secs(60)))?;
/// assert_eq!(candles.len(), 2);
/// let first = &candles[0];
/// assert_eq!((first.time, first.open, first.high, first.low, first.close, first.ticks),
///            (60.0, 1.10, 1.12, 1.09, 1.09, 3));
/// assert_eq!((candles[1].time, candles[1].ticks), (120.0, 1));
/// # Ok::<(), binary_options_tools::Error>(())
/// ```
pub fn compile_candles<I>(ticks: I, kind: SubscriptionKind) -> Result<Vec<Candle>, Error>
where
    I: IntoIterator<Item = Tick>,
{
    kind.validate()?;
    Ok(compile(ticks, Aggregator::new(kind)))
}

/// Time-aligned candles of `period` seconds (any positive period: platform data is not
/// validated like a user's subscription).
pub(crate) fn aligned_candles(ticks: Vec<Tick>, period: u32) -> Vec<Candle> {
    let period = Duration::from_secs(u64::from(period.max(1)));
    compile(ticks, Aggregator::new(SubscriptionKind::Candles(period)))
}

fn compile<I: IntoIterator<Item = Tick>>(ticks: I, mut aggregator: Aggregator) -> Vec<Candle> {
    let mut ticks: Vec<Tick> = ticks.into_iter().collect();
    ticks.sort_by(|a, b| a.time.total_cmp(&b.time));
    let mut candles: Vec<Candle> = ticks
        .into_iter()
        .filter_map(|tick| aggregator.push(tick))
        .collect();
    candles.extend(aggregator.finish());
    candles
}

/// A stream of [`Candle`]s for one asset (see [`SubscriptionKind`]).
///
/// Ends only when the client shuts down. Dropping it unsubscribes this stream only.
pub struct SubscriptionStream {
    asset: Arc<str>,
    rx: TickReceiver,
    aggregator: Aggregator,
    dropped: Arc<AtomicU64>,
    state: Arc<PocketOptionState>,
    timer: Option<(f64, BoxFuture<'static, ()>)>,
    _guard: SubscriberGuard,
}

impl SubscriptionStream {
    /// The asset.
    pub fn asset(&self) -> &str {
        &self.asset
    }

    /// Ticks dropped because this stream was not read fast enough.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for SubscriptionStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionStream")
            .field("asset", &self.asset)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl Stream for SubscriptionStream {
    type Item = Candle;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Candle>> {
        let this = &mut *self;
        loop {
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(tick)) => {
                    if let Some(candle) = this.aggregator.push(tick) {
                        return Poll::Ready(Some(candle));
                    }
                }
                // Shut down: hand out the unfinished candle, then end.
                Poll::Ready(None) => return Poll::Ready(this.aggregator.flush()),
                Poll::Pending => break,
            }
        }
        let Some(deadline) = this.aggregator.deadline() else {
            this.timer = None;
            return Poll::Pending;
        };
        let due_in = deadline + CANDLE_GRACE - this.state.clock.now().unix();
        if due_in <= 0.0 {
            this.timer = None;
            return Poll::Ready(this.aggregator.flush());
        }
        if this.timer.as_ref().is_none_or(|(d, _)| *d != deadline) {
            let sleep: BoxFuture<'static, ()> =
                runtime::boxed(runtime::sleep(Duration::from_secs_f64(due_in)));
            this.timer = Some((deadline, sleep));
        }
        if let Some((_, timer)) = this.timer.as_mut() {
            if timer.as_mut().poll(cx).is_ready() {
                this.timer = None;
                return Poll::Ready(this.aggregator.flush());
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(time: f64, price: f64) -> Tick {
        Tick {
            asset: Arc::from("X"),
            time,
            price,
        }
    }

    #[test]
    fn kinds_are_validated() {
        assert!(
            SubscriptionKind::Candles(Duration::from_secs(60))
                .validate()
                .is_ok()
        );
        assert!(
            SubscriptionKind::Candles(Duration::from_secs(7))
                .validate()
                .is_err()
        );
        assert!(
            SubscriptionKind::Candles(Duration::from_millis(1500))
                .validate()
                .is_err()
        );
        assert!(SubscriptionKind::Chunks(0).validate().is_err());
        assert!(SubscriptionKind::Window(Duration::ZERO).validate().is_err());
    }

    #[test]
    fn chunks_emit_every_n_ticks() {
        let mut agg = Aggregator::new(SubscriptionKind::Chunks(3));
        assert!(agg.push(tick(1.0, 5.0)).is_none());
        assert!(agg.push(tick(2.0, 7.0)).is_none());
        let c = agg.push(tick(3.0, 4.0)).unwrap();
        assert_eq!(
            (c.open, c.high, c.low, c.close, c.ticks),
            (5.0, 7.0, 4.0, 4.0, 3)
        );
    }

    #[test]
    fn aligned_candles_start_on_period_boundaries_and_skip_late_ticks() {
        let mut agg = Aggregator::new(SubscriptionKind::Candles(Duration::from_secs(5)));
        assert!(agg.push(tick(101.0, 1.0)).is_none());
        assert!(agg.push(tick(104.9, 3.0)).is_none());
        assert_eq!(agg.deadline(), Some(105.0));
        let c = agg.push(tick(105.2, 2.0)).unwrap();
        assert_eq!((c.time, c.open, c.close, c.high), (100.0, 1.0, 3.0, 3.0));
        assert!(agg.push(tick(104.0, 9.0)).is_none(), "late tick ignored");
        let flushed = agg.flush().unwrap();
        assert_eq!(flushed.time, 105.0);
    }

    #[test]
    fn compiled_series_match_the_stream_aggregation_and_keep_the_last_candle() {
        let shuffled = [tick(104.9, 3.0), tick(101.0, 1.0), tick(105.2, 2.0)];
        let candles =
            compile_candles(shuffled, SubscriptionKind::Candles(Duration::from_secs(5))).unwrap();
        assert_eq!(candles.len(), 2);
        assert_eq!(
            (
                candles[0].time,
                candles[0].open,
                candles[0].close,
                candles[0].ticks
            ),
            (100.0, 1.0, 3.0, 2)
        );
        assert_eq!((candles[1].time, candles[1].ticks), (105.0, 1));
        let chunks = compile_candles(
            (0..5).map(|i| tick(f64::from(i), f64::from(i))),
            SubscriptionKind::Chunks(2),
        )
        .unwrap();
        let sizes: Vec<u32> = chunks.iter().map(|c| c.ticks).collect();
        assert_eq!(sizes, [2, 2, 1], "a partial last chunk is kept");
        assert!(compile_candles([], SubscriptionKind::Candles(Duration::from_secs(7))).is_err());
        assert!(
            compile_candles([], SubscriptionKind::Ticks)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn windows_start_at_the_first_tick() {
        let mut agg = Aggregator::new(SubscriptionKind::Window(Duration::from_secs(2)));
        assert!(agg.push(tick(10.5, 1.0)).is_none());
        assert!(agg.push(tick(12.4, 2.0)).is_none());
        let c = agg.push(tick(12.5, 3.0)).unwrap();
        assert_eq!((c.time, c.close), (10.5, 2.0));
    }

    #[test]
    fn a_fifth_asset_is_refused_and_a_released_slot_reannounces_all() {
        let registry = SubscriptionRegistry::default();
        let mut keep = Vec::new();
        for asset in ["A", "B", "C", "D"] {
            keep.push(registry.add(asset, 60, 8).unwrap());
        }
        let shared = registry.add("A", 60, 8).unwrap();
        assert!(matches!(shared.announce, Announce::Nothing));
        match registry.add("E", 60, 8) {
            Err(Error::TooManySubscriptions { active, .. }) => {
                assert_eq!(active, ["A", "B", "C", "D"])
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        registry.remove("B", keep[1].id);
        match registry.add("E", 60, 8).unwrap().announce {
            Announce::New { subfor, .. } => {
                let names: Vec<&str> = subfor.iter().map(|a| &**a).collect();
                assert_eq!(names, ["A", "C", "D", "E"]);
            }
            Announce::Nothing => panic!("E is new"),
        }
    }
}
