//! [`FaultProxy`]: a TCP proxy on loopback that sits between a client and its server and
//! breaks the link on command.
//!
//! The servers' own fault knobs (the simulator's, the reference server's) act inside the
//! server. This proxy acts on the network between the two, which is where real links fail:
//! it cuts every connection with a TCP reset, stalls forwarding while keeping both sockets
//! open (a half-open peer, seen from either side), delays each chunk, corrupts or truncates
//! what the server sends, injects raw bytes (an oversized frame header, say) at a frame
//! boundary, and refuses new connections for a while (accept, then reset at once).
//!
//! Every knob acts on the connections open now and on later ones. Counters
//! ([`ProxyStats`]) say what happened, and [`FaultProxy::wait_for`] waits on them, so tests
//! synchronize on events rather than on sleeps.
//!
//! ```no_run
//! # async fn demo() -> Result<(), reliability::ReliabilityError> {
//! use reliability::{Corruption, FaultProxy};
//! use std::time::Duration;
//!
//! let target = "127.0.0.1:9000".parse().unwrap();
//! let proxy = FaultProxy::start(target).await?;
//! let url = proxy.ws_url("ws://127.0.0.1:9000/socket.io/?EIO=4&transport=websocket");
//! // ... connect a client to `url` ...
//! proxy.cut_all(); // every connection gets a TCP reset
//! proxy.refuse_for(Duration::from_secs(1)); // new connections are reset at once
//! proxy.set_stalled(true); // nothing moves, sockets stay open
//! proxy.set_stalled(false);
//! proxy.corrupt_next(Corruption::flip_bits("updateStream", 0, 0x80));
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::ReliabilityError;
use crate::frames::FrameCursor;

/// Bytes read at once in each direction.
const CHUNK: usize = 16 * 1024;
/// The limit on reaching the target for each accepted connection.
const TARGET_CONNECT_LIMIT: Duration = Duration::from_secs(5);
/// Injections queued per connection at most (more are refused).
const INJECT_QUEUE: usize = 16;

/// What the proxy's counters say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted and forwarded to the target.
    pub accepted: u64,
    /// Connections reset at once because the proxy was refusing.
    pub refused: u64,
    /// Connections whose target could not be reached (reset at once).
    pub target_unreachable: u64,
    /// Connections open now.
    pub live: usize,
    /// Connections ended by a cut (a knob or a truncation).
    pub cut: u64,
    /// Server-to-client chunks corrupted or truncated.
    pub corrupted: u64,
    /// Byte strings injected towards a client.
    pub injected: u64,
    /// Bytes forwarded to the target.
    pub bytes_to_server: u64,
    /// Bytes forwarded to clients.
    pub bytes_to_client: u64,
}

/// Knobs every pump reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Knobs {
    stalled: bool,
    delay: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Damage {
    /// XOR this mask into one byte.
    Flip(u8),
    /// Forward the bytes before the position, then cut the connection.
    Truncate,
}

/// A one-shot corruption of the server-to-client stream: it applies to the next chunk that
/// contains its pattern (on any connection), at `offset` bytes from the pattern's start
/// (negative offsets reach into the frame header before a payload).
///
/// ```
/// use reliability::Corruption;
/// // Make the next tick frame's event name invalid UTF-8.
/// let bad_utf8 = Corruption::flip_bits("updateStream", 0, 0x80);
/// // Cut the next tick frame in the middle.
/// let truncated = Corruption::truncate("updateStream", 4);
/// # let _ = (bad_utf8, truncated);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    pattern: Vec<u8>,
    offset: isize,
    damage: Damage,
}

impl Corruption {
    /// Flips the bits of `mask` in the byte at `offset` from the start of `pattern`.
    pub fn flip_bits(pattern: impl AsRef<[u8]>, offset: isize, mask: u8) -> Self {
        Corruption {
            pattern: pattern.as_ref().to_vec(),
            offset,
            damage: Damage::Flip(mask),
        }
    }

    /// Forwards the chunk only up to `offset` from the start of `pattern`, then cuts the
    /// connection: the client gets a truncated frame and a reset.
    pub fn truncate(pattern: impl AsRef<[u8]>, offset: isize) -> Self {
        Corruption {
            pattern: pattern.as_ref().to_vec(),
            offset,
            damage: Damage::Truncate,
        }
    }

    /// Where in `chunk` this corruption applies, if it does.
    fn position_in(&self, chunk: &[u8]) -> Option<usize> {
        let start = if self.pattern.is_empty() {
            0
        } else {
            chunk
                .windows(self.pattern.len())
                .position(|window| window == self.pattern.as_slice())?
        };
        let at = start as isize + self.offset;
        (0..chunk.len() as isize)
            .contains(&at)
            .then_some(at as usize)
    }
}

/// One live connection, as the registry knows it.
struct Link {
    cut: Arc<Cut>,
    inject: mpsc::Sender<Vec<u8>>,
}

/// The order to cut one connection. The flag takes effect at once: a pump checks it before
/// every write, so bytes held by a stall are never forwarded after `cut_all` returned,
/// even if the stall ends before the connection's task has run again.
#[derive(Default)]
struct Cut {
    ordered: AtomicBool,
    wake: Notify,
}

impl Cut {
    fn order(&self) {
        self.ordered.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    fn ordered(&self) -> bool {
        self.ordered.load(Ordering::SeqCst)
    }
}

struct Shared {
    target: SocketAddr,
    knobs: watch::Sender<Knobs>,
    refuse_until: Mutex<Option<Instant>>,
    corruption: Mutex<Option<Corruption>>,
    links: Mutex<HashMap<u64, Link>>,
    next_id: AtomicU64,
    stats: watch::Sender<ProxyStats>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is a single insert, remove, take or read: a panic elsewhere
    // cannot leave the data half-changed.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn count(&self, f: impl FnOnce(&mut ProxyStats)) {
        self.stats.send_modify(f);
    }

    fn refusing(&self) -> bool {
        lock(&self.refuse_until).is_some_and(|until| Instant::now() < until)
    }

    /// Takes the pending corruption if it applies to `chunk`, with its position.
    fn corruption_for(&self, chunk: &[u8]) -> Option<(usize, Damage)> {
        let mut pending = lock(&self.corruption);
        let at = pending.as_ref()?.position_in(chunk)?;
        pending.take().map(|c| (at, c.damage))
    }
}

/// A fault-injecting TCP proxy (see the module docs). Dropping it stops accepting and
/// resets every connection.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on `127.0.0.1:0` and forwards every connection to `target`.
    pub async fn start(target: SocketAddr) -> Result<FaultProxy, ReliabilityError> {
        let bind_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let listener =
            TcpListener::bind(bind_addr)
                .await
                .map_err(|source| ReliabilityError::Bind {
                    addr: bind_addr,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ReliabilityError::Bind {
                addr: bind_addr,
                source,
            })?;
        let shared = Arc::new(Shared {
            target,
            knobs: watch::Sender::new(Knobs::default()),
            refuse_until: Mutex::new(None),
            corruption: Mutex::new(None),
            links: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            stats: watch::Sender::new(ProxyStats::default()),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        tracing::debug!(%addr, %target, "fault proxy listening");
        Ok(FaultProxy {
            addr,
            shared,
            accept,
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address connections are forwarded to.
    pub fn target(&self) -> SocketAddr {
        self.shared.target
    }

    /// `url` with its `host:port` replaced by the proxy's (scheme, path and query kept).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let proxy = reliability::FaultProxy::start("127.0.0.1:9".parse().unwrap()).await.unwrap();
    /// let url = proxy.ws_url("ws://127.0.0.1:9/socket.io/?EIO=4");
    /// assert_eq!(url, format!("ws://{}/socket.io/?EIO=4", proxy.addr()));
    /// # }
    /// ```
    pub fn ws_url(&self, url: &str) -> String {
        let Some(scheme_end) = url.find("://") else {
            return format!("ws://{}", self.addr);
        };
        let rest = &url[scheme_end + 3..];
        let path = rest.find(['/', '?']).map_or("", |at| &rest[at..]);
        format!("{}{}{}", &url[..scheme_end + 3], self.addr, path)
    }

    /// Resets every open connection now (both sides get a TCP RST, no close frame).
    /// Returns how many were cut.
    pub fn cut_all(&self) -> usize {
        let links = lock(&self.shared.links);
        for link in links.values() {
            link.cut.order();
        }
        links.len()
    }

    /// Resets one connection (an id from [`connections`](Self::connections)); false when
    /// it is gone already.
    pub fn cut(&self, id: u64) -> bool {
        lock(&self.shared.links)
            .get(&id)
            .map(|link| link.cut.order())
            .is_some()
    }

    /// The ids of the open connections, oldest first.
    pub fn connections(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = lock(&self.shared.links).keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Stops (or resumes) forwarding in both directions on every connection, new ones
    /// included, while keeping the sockets open: each side sees a peer that went silent.
    pub fn set_stalled(&self, stalled: bool) {
        tracing::debug!(stalled, "fault proxy: stall");
        self.shared.knobs.send_modify(|k| k.stalled = stalled);
    }

    /// Delays every forwarded chunk, both directions, by `delay` (zero switches it off).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.knobs.send_modify(|k| k.delay = delay);
    }

    /// Resets every new connection as soon as it is accepted, for `duration`. Open
    /// connections are left alone (combine with [`cut_all`](Self::cut_all)).
    pub fn refuse_for(&self, duration: Duration) {
        tracing::debug!(?duration, "fault proxy: refusing");
        *lock(&self.shared.refuse_until) = Some(Instant::now() + duration);
    }

    /// Arms a one-shot corruption of the server-to-client stream (replacing any armed one).
    pub fn corrupt_next(&self, corruption: Corruption) {
        *lock(&self.shared.corruption) = Some(corruption);
    }

    /// True while an armed corruption has not yet found its chunk.
    pub fn corruption_pending(&self) -> bool {
        lock(&self.shared.corruption).is_some()
    }

    /// Sends `bytes` to every connected client, as they are, at the next frame boundary of
    /// each server-to-client stream. Returns how many connections queued them.
    pub fn inject(&self, bytes: &[u8]) -> usize {
        lock(&self.shared.links)
            .values()
            .filter(|link| link.inject.try_send(bytes.to_vec()).is_ok())
            .count()
    }

    /// The counters now.
    pub fn stats(&self) -> ProxyStats {
        *self.shared.stats.borrow()
    }

    /// Waits until `predicate` holds for the counters, for at most `timeout`; returns the
    /// counters then, or `None` on timeout.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut predicate: impl FnMut(&ProxyStats) -> bool,
    ) -> Option<ProxyStats> {
        let mut stats = self.shared.stats.subscribe();
        let wait = async { stats.wait_for(|s| predicate(s)).await.map(|s| *s).ok() };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
    }

    /// Stops accepting and resets every connection; waits (up to 5 s) until all are gone.
    pub async fn shutdown(self) {
        self.accept.abort();
        self.cut_all();
        let _ = self
            .wait_for(Duration::from_secs(5), |stats| stats.live == 0)
            .await;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_all();
    }
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("target", &self.shared.target)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Closes `stream` with a TCP reset rather than an orderly FIN.
fn reset(stream: TcpStream) {
    // Zero linger makes the close a reset; if it cannot be set, a FIN will do.
    let _ = stream.set_zero_linger();
    drop(stream);
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (client, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "fault proxy: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if shared.refusing() {
            shared.count(|s| s.refused += 1);
            reset(client);
            continue;
        }
        let _ = client.set_nodelay(true);
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let cut = Arc::new(Cut::default());
        let (inject, injections) = mpsc::channel(INJECT_QUEUE);
        lock(&shared.links).insert(
            id,
            Link {
                cut: cut.clone(),
                inject,
            },
        );
        shared.count(|s| {
            s.accepted += 1;
            s.live += 1;
        });
        let shared = shared.clone();
        tokio::spawn(async move {
            serve(&shared, client, cut, injections).await;
            lock(&shared.links).remove(&id);
            shared.count(|s| s.live -= 1);
        });
    }
}

/// How one direction of a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// The sender closed its side; the close was passed on.
    Eof,
    /// Reading or writing failed (a reset, usually).
    Broken,
    /// The proxy cut the connection (a truncation).
    Cut,
}

async fn serve(
    shared: &Shared,
    mut client: TcpStream,
    cut: Arc<Cut>,
    mut injections: mpsc::Receiver<Vec<u8>>,
) {
    let mut server =
        match tokio::time::timeout(TARGET_CONNECT_LIMIT, TcpStream::connect(shared.target)).await {
            Ok(Ok(server)) => server,
            _ => {
                shared.count(|s| s.target_unreachable += 1);
                reset(client);
                return;
            }
        };
    let _ = server.set_nodelay(true);
    let abrupt = {
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        let mut up = std::pin::pin!(pump_up(shared, &cut, client_read, server_write));
        let mut down = std::pin::pin!(pump_down(
            shared,
            &cut,
            server_read,
            client_write,
            &mut injections
        ));
        let (mut up_done, mut down_done) = (false, false);
        loop {
            tokio::select! {
                biased;
                () = cut.wake.notified() => {
                    shared.count(|s| s.cut += 1);
                    break true;
                }
                flow = &mut up, if !up_done => {
                    up_done = true;
                    if flow == Flow::Cut {
                        shared.count(|s| s.cut += 1);
                    }
                    if flow != Flow::Eof {
                        break true;
                    }
                }
                flow = &mut down, if !down_done => {
                    down_done = true;
                    if flow == Flow::Cut {
                        shared.count(|s| s.cut += 1);
                    }
                    if flow != Flow::Eof {
                        break true;
                    }
                }
            }
            if up_done && down_done {
                break false;
            }
        }
    };
    if abrupt {
        reset(client);
        reset(server);
    }
}

/// Waits until forwarding is allowed; returns the delay to apply.
async fn wait_running(knobs: &mut watch::Receiver<Knobs>) -> Duration {
    // The sender lives in `Shared`, which this connection's task holds: it cannot close.
    knobs
        .wait_for(|k| !k.stalled)
        .await
        .map(|k| k.delay)
        .unwrap_or_default()
}

async fn pump_up(
    shared: &Shared,
    cut: &Cut,
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
) -> Flow {
    let mut knobs = shared.knobs.subscribe();
    let mut buf = vec![0u8; CHUNK];
    loop {
        wait_running(&mut knobs).await;
        let n = match from.read(&mut buf).await {
            Ok(0) => {
                let _ = to.shutdown().await;
                return Flow::Eof;
            }
            Ok(n) => n,
            Err(_) => return Flow::Broken,
        };
        // The stall may have begun while this chunk was being read: hold it until it ends.
        let delay = wait_running(&mut knobs).await;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if cut.ordered() {
            return Flow::Cut;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return Flow::Broken;
        }
        shared.count(|s| s.bytes_to_server += n as u64);
    }
}

async fn pump_down(
    shared: &Shared,
    cut: &Cut,
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    injections: &mut mpsc::Receiver<Vec<u8>>,
) -> Flow {
    let mut knobs = shared.knobs.subscribe();
    let mut buf = vec![0u8; CHUNK];
    let mut cursor = FrameCursor::default();
    let mut pending: Vec<Vec<u8>> = Vec::new();
    loop {
        wait_running(&mut knobs).await;
        if cut.ordered() {
            return Flow::Cut;
        }
        if cursor.at_boundary() {
            for bytes in pending.drain(..) {
                if to.write_all(&bytes).await.is_err() {
                    return Flow::Broken;
                }
                shared.count(|s| s.injected += 1);
            }
        }
        let n = tokio::select! {
            biased;
            Some(bytes) = injections.recv() => {
                pending.push(bytes);
                continue;
            }
            read = from.read(&mut buf) => match read {
                Ok(0) => {
                    let _ = to.shutdown().await;
                    return Flow::Eof;
                }
                Ok(n) => n,
                Err(_) => return Flow::Broken,
            },
        };
        let chunk = &mut buf[..n];
        let mut forward = n;
        let mut then_cut = false;
        if let Some((at, damage)) = shared.corruption_for(chunk) {
            shared.count(|s| s.corrupted += 1);
            match damage {
                Damage::Flip(mask) => chunk[at] ^= mask,
                Damage::Truncate => {
                    forward = at;
                    then_cut = true;
                }
            }
        }
        let chunk = &chunk[..forward];
        let delay = wait_running(&mut knobs).await;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if cut.ordered() {
            return Flow::Cut;
        }
        // Injections go in at the first frame start of this chunk, when there is one.
        let starts = cursor.advance(chunk);
        let split = match starts.first() {
            Some(&at) if !pending.is_empty() && !then_cut => at,
            _ => chunk.len(),
        };
        if to.write_all(&chunk[..split]).await.is_err() {
            return Flow::Broken;
        }
        if split < chunk.len() {
            for bytes in pending.drain(..) {
                if to.write_all(&bytes).await.is_err() {
                    return Flow::Broken;
                }
                shared.count(|s| s.injected += 1);
            }
            if to.write_all(&chunk[split..]).await.is_err() {
                return Flow::Broken;
            }
        }
        shared.count(|s| s.bytes_to_client += chunk.len() as u64);
        if then_cut {
            let _ = to.flush().await;
            return Flow::Cut;
        }
    }
}
