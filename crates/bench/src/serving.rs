//! The server crate's figures, each against a bare tokio-tungstenite server doing the
//! same job in the same run:
//!
//! * **broadcast**: 1 KiB messages broadcast to many sessions, deliveries per second. The
//!   baseline is a bare fan-out loop: a task per connection with a bounded queue, and a
//!   broadcast that clones the message (the payload is shared) into every queue.
//! * **isolation**: p99 latency of paced broadcasts to the readers while one session has
//!   stopped reading (its queue already full), against the same with none stalled.
//! * **echo**: round trips through the server (the application echoes each message back
//!   with `send_to`) against a bare per-connection echo loop, interleaved in blocks.
//! * **idle RSS** (with the suite's child processes): memory per idle session, against a
//!   bare accept loop holding as many connections; the clients are core-pre clients in
//!   another process, whose memory per client is reported too.
//!
//! The servers run on the suite's server thread; the clients are raw tokio-tungstenite
//! connections on the caller's runtime, so both servers are measured by the same clients.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use server::{Server, SessionId};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{BenchError, within};
use crate::latency::LatencySummary;
use crate::throughput::{CONNECT_WAIT, Throughput, bare_connect};

/// A broadcast message's size.
pub const BROADCAST_BYTES: usize = 1024;
/// One measured run (a flood, a paced series) must finish within this.
const RUN_LIMIT: Duration = Duration::from_secs(120);
/// Connections opened at once.
const CONNECT_BATCH: usize = 100;
/// The bare servers' read buffer: the same as the `server` crate's default.
const BARE_READ_BUFFER: usize = server::DEFAULT_READ_BUFFER_SIZE;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Which server a figure measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The `server` crate, with its application loop echoing messages back.
    Ours,
    /// The bare tokio-tungstenite baseline.
    Bare,
}

/// A server under test, started on the current runtime (the suite's server thread).
#[derive(Clone)]
pub enum Hub {
    /// Ours.
    Ours(Server),
    /// The baseline.
    Bare(BareHub),
}

impl Hub {
    /// Starts one, on loopback, with room for `queue` messages per session.
    pub async fn start(side: Side, queue: usize) -> Result<Hub, BenchError> {
        match side {
            Side::Ours => {
                let (server, mut inbox) = Server::builder()
                    .with_address("127.0.0.1:0")
                    .with_max_connections(20_000)
                    .with_max_pending_handshakes(1_000)
                    .with_queue_capacity(queue)
                    .start()
                    .await
                    .map_err(|e| BenchError::Protocol(format!("the server did not start: {e}")))?;
                // The application: echo every message to its sender.
                let echo = server.clone();
                tokio::spawn(async move {
                    while let Some((id, message)) = inbox.messages.recv().await {
                        let _ = echo.send_to(id, message);
                    }
                });
                Ok(Hub::Ours(server))
            }
            Side::Bare => Ok(Hub::Bare(BareHub::start(queue).await?)),
        }
    }

    /// The `ws://` URL.
    pub fn url(&self) -> String {
        match self {
            Hub::Ours(server) => server.url(),
            Hub::Bare(bare) => bare.url(),
        }
    }

    /// Sessions connected now.
    pub fn sessions(&self) -> usize {
        match self {
            Hub::Ours(server) => server.sessions().len(),
            Hub::Bare(bare) => bare.sessions(),
        }
    }

    /// The session that connected first.
    fn first_session(&self) -> Option<Session> {
        match self {
            Hub::Ours(server) => server
                .sessions()
                .iter()
                .min_by_key(|s| s.connected_at)
                .map(|s| Session::Ours(s.id)),
            Hub::Bare(bare) => bare.first().map(Session::Bare),
        }
    }

    /// Queues `payload` for every session; returns how many it was queued for.
    pub fn broadcast(&self, payload: Bytes) -> usize {
        match self {
            Hub::Ours(server) => server
                .broadcast(core_pre::Message::binary(payload))
                .map_or(0, |d| d.queued),
            Hub::Bare(bare) => bare.broadcast(WsMessage::Binary(payload)),
        }
    }

    fn send_to(&self, session: &Session, payload: Bytes) {
        match (self, session) {
            (Hub::Ours(server), Session::Ours(id)) => {
                let _ = server.send_to(*id, core_pre::Message::binary(payload));
            }
            (Hub::Bare(_), Session::Bare(tx)) => {
                let _ = tx.try_send(WsMessage::Binary(payload));
            }
            _ => {}
        }
    }

    /// Stops it.
    pub async fn stop(self) {
        match self {
            Hub::Ours(server) => {
                let _ = server.shutdown(Duration::from_secs(2)).await;
            }
            Hub::Bare(bare) => bare.stop(),
        }
    }
}

enum Session {
    Ours(SessionId),
    Bare(mpsc::Sender<WsMessage>),
}

/// The baseline: an accept loop and one task per connection that writes what its bounded
/// queue holds and echoes what it reads, with nothing else on the way.
#[derive(Clone)]
pub struct BareHub {
    addr: std::net::SocketAddr,
    senders: Arc<Mutex<Vec<mpsc::Sender<WsMessage>>>>,
    accept: Arc<tokio::task::AbortHandle>,
}

impl BareHub {
    async fn start(queue: usize) -> Result<BareHub, BenchError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let senders: Arc<Mutex<Vec<mpsc::Sender<WsMessage>>>> = Arc::default();
        let registry = senders.clone();
        let accept = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let registry = registry.clone();
                tokio::spawn(async move {
                    let _ = tcp.set_nodelay(true);
                    // The server's read buffer (4 KiB), not tungstenite's 128 KiB default:
                    // the idle figure compares the frameworks, not their buffer sizes.
                    let config = WebSocketConfig::default().read_buffer_size(BARE_READ_BUFFER);
                    let Ok(mut ws) =
                        tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await
                    else {
                        return;
                    };
                    let (tx, mut rx) = mpsc::channel::<WsMessage>(queue.max(1));
                    lock(&registry).push(tx);
                    loop {
                        tokio::select! {
                            frame = ws.next() => match frame {
                                Some(Ok(m @ (WsMessage::Binary(_) | WsMessage::Text(_)))) => {
                                    if ws.send(m).await.is_err() { break }
                                }
                                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
                                Some(Ok(_)) => {}
                            },
                            Some(m) = rx.recv() => {
                                // Everything queued, then one flush: what a careful
                                // hand-written fan-out does.
                                let mut fed = ws.feed(m).await;
                                while let (Ok(()), Ok(m)) = (&fed, rx.try_recv()) {
                                    fed = ws.feed(m).await;
                                }
                                if fed.is_err() || ws.flush().await.is_err() { break }
                            }
                        }
                    }
                });
            }
        });
        Ok(BareHub {
            addr,
            senders,
            accept: Arc::new(accept.abort_handle()),
        })
    }

    fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    fn sessions(&self) -> usize {
        lock(&self.senders)
            .iter()
            .filter(|s| !s.is_closed())
            .count()
    }

    fn first(&self) -> Option<mpsc::Sender<WsMessage>> {
        lock(&self.senders).first().cloned()
    }

    fn broadcast(&self, message: WsMessage) -> usize {
        let senders = lock(&self.senders);
        senders
            .iter()
            .filter(|tx| tx.try_send(message.clone()).is_ok())
            .count()
    }

    fn stop(&self) {
        self.accept.abort();
        lock(&self.senders).clear();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Opens `count` plain clients of `url`, in batches.
async fn connect_all(url: &str, count: usize) -> Result<Vec<Ws>, BenchError> {
    let mut clients = Vec::with_capacity(count);
    while clients.len() < count {
        let batch = CONNECT_BATCH.min(count - clients.len());
        for client in futures::future::join_all((0..batch).map(|_| bare_connect(url))).await {
            clients.push(client?);
        }
    }
    Ok(clients)
}

/// Waits until `hub` counts `count` sessions.
async fn sessions_reach(
    thread: &crate::ServerThread,
    hub: &Hub,
    count: usize,
) -> Result<(), BenchError> {
    let deadline = Instant::now() + CONNECT_WAIT;
    loop {
        let hub = hub.clone();
        if thread.run(async move { hub.sessions() }).await? >= count {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(BenchError::Timeout {
                what: format!("{count} sessions on the server"),
                after: CONNECT_WAIT,
            });
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A client that reads `count` data messages (answering pings on the way), and the
/// latency of each from the send time stamped in its first 8 bytes (0 when unstamped).
async fn read_messages(
    mut ws: Ws,
    count: usize,
    stamped: bool,
) -> Result<Vec<Duration>, BenchError> {
    let mut latencies = Vec::with_capacity(if stamped { count } else { 0 });
    let mut seen = 0;
    while seen < count {
        match ws.next().await {
            Some(Ok(WsMessage::Binary(data))) => {
                seen += 1;
                if stamped {
                    latencies.push(since_stamp(&data));
                }
            }
            Some(Ok(WsMessage::Close(_))) | None => {
                return Err(BenchError::Protocol(format!(
                    "a reader was closed after {seen} of {count} messages"
                )));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
    let _ = ws.close(None).await;
    Ok(latencies)
}

/// The process-wide origin of the send stamps (server thread and clients share it).
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// A `size`-byte payload stamped with the time since [`epoch`] in its first 8 bytes.
fn stamped_payload(size: usize) -> Bytes {
    let mut payload = vec![0u8; size.max(8)];
    let nanos = epoch().elapsed().as_nanos() as u64;
    payload[..8].copy_from_slice(&nanos.to_le_bytes());
    Bytes::from(payload)
}

fn since_stamp(data: &[u8]) -> Duration {
    let Some(stamp) = data.get(..8).and_then(|s| <[u8; 8]>::try_from(s).ok()) else {
        return Duration::ZERO;
    };
    let sent = Duration::from_nanos(u64::from_le_bytes(stamp));
    epoch().elapsed().saturating_sub(sent)
}

/// Broadcast throughput: `messages` 1 KiB broadcasts to `sessions` readers, counted once
/// every reader has all of them (none may be dropped: the queues hold them all).
pub async fn broadcast_flood(
    thread: &crate::ServerThread,
    side: Side,
    sessions: usize,
    messages: usize,
) -> Result<Throughput, BenchError> {
    let hub = thread.run(Hub::start(side, messages + 16)).await??;
    let url = hub.url();
    let readers = connect_all(&url, sessions).await?;
    sessions_reach(thread, &hub, sessions).await?;
    let tasks: Vec<_> = readers
        .into_iter()
        .map(|ws| tokio::spawn(read_messages(ws, messages, false)))
        .collect();
    let payload = Bytes::from(vec![7u8; BROADCAST_BYTES]);
    let started = Instant::now();
    let sender = hub.clone();
    let queued = thread
        .run(async move {
            (0..messages)
                .map(|_| sender.broadcast(payload.clone()))
                .sum::<usize>()
        })
        .await?;
    if queued != sessions * messages {
        return Err(BenchError::Protocol(format!(
            "{side:?}: {queued} of {} broadcast deliveries queued",
            sessions * messages
        )));
    }
    for task in tasks {
        within("every reader's broadcasts", RUN_LIMIT, task)
            .await?
            .map_err(|e| BenchError::Protocol(format!("a reader failed: {e}")))??;
    }
    let elapsed = started.elapsed();
    thread.run(hub.stop()).await?;
    Ok(Throughput {
        units: (sessions * messages) as u64,
        elapsed,
    })
}

/// Latency of paced broadcasts (one every `interval`, `messages` of them, 1 KiB) to
/// `readers` readers; with `stalled`, one more session first fills its queue and then
/// never reads. Our server only (the figure compares it with itself).
pub async fn broadcast_latency(
    thread: &crate::ServerThread,
    readers: usize,
    messages: usize,
    interval: Duration,
    stalled: bool,
) -> Result<LatencySummary, BenchError> {
    let queue = 64;
    let hub = thread.run(Hub::start(Side::Ours, queue)).await??;
    let url = hub.url();
    // The stalled session connects first (so it is the first session), with a small
    // receive buffer, and is never read.
    let _stalled = if stalled {
        let socket = TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(4096)?;
        let tcp = socket.connect(hub_addr(&url)?).await?;
        let (ws, _) = within(
            "the stalled client's upgrade",
            CONNECT_WAIT,
            tokio_tungstenite::client_async(url.clone(), MaybeTlsStream::Plain(tcp)),
        )
        .await??;
        sessions_reach(thread, &hub, 1).await?;
        // Fill its socket buffers and its queue with large messages (one shared payload).
        let filler = hub.clone();
        thread
            .run(async move {
                let big = Bytes::from(vec![0u8; 256 * 1024]);
                if let Some(first) = filler.first_session() {
                    for _ in 0..(queue * 2 + 64) {
                        filler.send_to(&first, big.clone());
                        tokio::task::yield_now().await;
                    }
                }
            })
            .await?;
        Some(ws)
    } else {
        None
    };
    let clients = connect_all(&url, readers).await?;
    sessions_reach(thread, &hub, readers + usize::from(stalled)).await?;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|ws| tokio::spawn(read_messages(ws, messages, true)))
        .collect();
    let pacer = hub.clone();
    thread
        .run(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for _ in 0..messages {
                tick.tick().await;
                pacer.broadcast(stamped_payload(BROADCAST_BYTES));
            }
        })
        .await?;
    let mut samples = Vec::with_capacity(readers * messages);
    for task in tasks {
        samples.extend(
            within("every reader's paced broadcasts", RUN_LIMIT, task)
                .await?
                .map_err(|e| BenchError::Protocol(format!("a reader failed: {e}")))??,
        );
    }
    thread.run(hub.stop()).await?;
    LatencySummary::of(&mut samples).ok_or_else(|| BenchError::Measurement {
        what: "broadcast latency",
        reason: "no samples".into(),
    })
}

fn hub_addr(url: &str) -> Result<std::net::SocketAddr, BenchError> {
    url.trim_start_matches("ws://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| BenchError::Protocol(format!("bad hub URL {url}: {e}")))
}

/// Echo round trips through ours and the bare echo, interleaved in blocks of `block`:
/// (ours, bare).
pub async fn echo_round_trips(
    thread: &crate::ServerThread,
    warmup: usize,
    rounds: usize,
    block: usize,
) -> Result<(LatencySummary, LatencySummary), BenchError> {
    let ours = thread.run(Hub::start(Side::Ours, 64)).await??;
    let bare = thread.run(Hub::start(Side::Bare, 64)).await??;
    let mut ours_ws = bare_connect(&ours.url()).await?;
    let mut bare_ws = bare_connect(&bare.url()).await?;
    let payload = Bytes::from_static(b"echo-0123456789");
    for _ in 0..warmup {
        echo_once(&mut ours_ws, &payload).await?;
        echo_once(&mut bare_ws, &payload).await?;
    }
    let (mut ours_samples, mut bare_samples) = (Vec::new(), Vec::new());
    let block = block.max(1);
    while ours_samples.len() < rounds {
        let n = block.min(rounds - ours_samples.len());
        for _ in 0..n {
            ours_samples.push(echo_once(&mut ours_ws, &payload).await?);
        }
        for _ in 0..n {
            bare_samples.push(echo_once(&mut bare_ws, &payload).await?);
        }
    }
    let _ = ours_ws.close(None).await;
    let _ = bare_ws.close(None).await;
    thread.run(ours.stop()).await?;
    thread.run(bare.stop()).await?;
    let summary = |samples: &mut Vec<Duration>| {
        LatencySummary::of(samples).ok_or_else(|| BenchError::Measurement {
            what: "echo round trips",
            reason: "no samples".into(),
        })
    };
    Ok((summary(&mut ours_samples)?, summary(&mut bare_samples)?))
}

async fn echo_once(ws: &mut Ws, payload: &Bytes) -> Result<Duration, BenchError> {
    let started = Instant::now();
    ws.send(WsMessage::Binary(payload.clone())).await?;
    loop {
        match within("an echo", CONNECT_WAIT, ws.next()).await? {
            Some(Ok(WsMessage::Binary(data))) if data == *payload => return Ok(started.elapsed()),
            Some(Ok(WsMessage::Close(_))) | None => {
                return Err(BenchError::Protocol("the echo server closed".into()));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// The server side of the idle-RSS figure, in a child process: starts `side` on loopback,
/// prints `url URL`, waits for `sessions` sessions, lets them settle, and returns the
/// memory growth since before the first one (per session: `per_unit_kib`). The caller
/// keeps the process alive until the clients are done.
pub async fn idle_sessions(
    side: Side,
    sessions: usize,
    announce: impl FnOnce(&str),
) -> Result<(Hub, crate::memory::Growth), BenchError> {
    let hub = Hub::start(side, 64).await?;
    tokio::time::sleep(crate::memory::IDLE_SETTLE).await;
    let before = crate::memory::rss()?;
    announce(&hub.url());
    let deadline = Instant::now() + RUN_LIMIT;
    while hub.sessions() < sessions {
        if Instant::now() >= deadline {
            return Err(BenchError::Timeout {
                what: format!("{sessions} idle sessions (have {})", hub.sessions()),
                after: RUN_LIMIT,
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(crate::memory::IDLE_SETTLE).await;
    let growth = crate::memory::Growth::measure_from(before, sessions as u64)?;
    Ok((hub, growth))
}

/// Raises this process's open-file limit to its hard limit (10,000 sessions need 10,000
/// descriptors on each side); returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}
