//! LAN discovery (native only): a [`DiscoveryResponder`] beside a server answers UDP
//! probes with its service name, identity and WebSocket URL; a client's [`Prober`]
//! broadcasts a probe on every local IPv4 interface, collects the replies for a bounded
//! time, keeps those of its service and returns them in order.
//!
//! atomic_websocket's "discovery" learns its own address from a public service and then
//! dials one port on every host of an assumed /24. Here nothing leaves the local networks:
//! the interfaces come from the system (getifaddrs), the probe goes to each one's
//! broadcast address, and only servers that run a responder answer. A bounded sweep of
//! unicast probes over the local subnets exists for networks that drop broadcasts, but
//! only when asked for ([`Prober::with_sweep`]). The datagram format is in [`wire`].

#[cfg(feature = "mdns")]
pub mod mdns;
pub mod wire;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use core_pre::runtime::BoxFuture;
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::endpoint::Discover;
use crate::error::AtomicError;
use wire::{MAX_DATAGRAM, Probe, Reply};

/// The UDP port discovery uses unless told otherwise.
pub const DEFAULT_PORT: u16 = 9399;
/// How long a prober collects replies (default).
pub const DEFAULT_WINDOW: Duration = Duration::from_millis(1500);
/// The most unicast probes a sweep sends, whatever it is asked.
pub const MAX_SWEEP: usize = 4096;
/// The most replies a responder sends per second (probes past it are ignored).
pub const MAX_REPLIES_PER_SECOND: u32 = 64;

/// What a responder announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The service name probes must ask for.
    pub service: String,
    /// Which server this is.
    pub identity: String,
    /// The WebSocket URL to connect to. A host of `0.0.0.0` (a server listening on every
    /// interface) is completed by the prober with the address the reply came from.
    pub url: String,
}

/// Answers discovery probes until shut down or dropped.
#[derive(Debug)]
pub struct DiscoveryResponder {
    local_addr: SocketAddr,
    /// `None` only once `shutdown` took it.
    task: Option<JoinHandle<()>>,
}

impl DiscoveryResponder {
    /// Binds `addr` (use `0.0.0.0:PORT` to hear broadcasts) and answers probes for
    /// `announcement.service`.
    pub async fn bind(addr: SocketAddr, announcement: Announcement) -> Result<Self, AtomicError> {
        DiscoveryResponder::start(addr, announcement, None).await
    }

    /// Answers for a running [`server::Server`]: announces its URL under `service` and
    /// `identity`, and stops when the server shuts down.
    pub async fn attach(
        server: &server::Server,
        service: impl Into<String>,
        identity: impl Into<String>,
        addr: SocketAddr,
    ) -> Result<Self, AtomicError> {
        let announcement = Announcement {
            service: service.into(),
            identity: identity.into(),
            url: server.url(),
        };
        DiscoveryResponder::start(addr, announcement, Some(server.status())).await
    }

    async fn start(
        addr: SocketAddr,
        announcement: Announcement,
        server: Option<watch::Receiver<server::ServerStatus>>,
    ) -> Result<Self, AtomicError> {
        wire::check_fields(
            &announcement.service,
            &announcement.identity,
            &announcement.url,
        )
        .map_err(AtomicError::Discovery)?;
        let socket = UdpSocket::bind(addr).await.map_err(|e| {
            AtomicError::Discovery(format!("could not bind the responder to {addr}: {e}"))
        })?;
        let local_addr = socket
            .local_addr()
            .map_err(|e| AtomicError::Discovery(e.to_string()))?;
        tracing::info!(%local_addr, service = %announcement.service, "discovery responder listening");
        let task = tokio::spawn(async move {
            let answering = respond(socket, announcement);
            match server {
                None => answering.await,
                Some(mut status) => {
                    // Until the server stops (or is gone).
                    let stopped = status.wait_for(|s| s.phase != server::Phase::Running);
                    tokio::select! {
                        () = answering => {}
                        _ = stopped => {}
                    }
                }
            }
        });
        Ok(DiscoveryResponder {
            local_addr,
            task: Some(task),
        })
    }

    /// The address the responder listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops answering and waits for the task to end.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for DiscoveryResponder {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The responder's loop: one reply per valid probe of its service, rate-limited.
async fn respond(socket: UdpSocket, announcement: Announcement) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut window_start = Instant::now();
    let mut sent_in_window = 0u32;
    loop {
        let (len, from) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(error) => {
                // ICMP errors of earlier replies surface here on some systems: go on.
                tracing::debug!(%error, "discovery responder receive error");
                continue;
            }
        };
        let probe = match Probe::decode(&buf[..len]) {
            Ok(probe) => probe,
            Err(reason) => {
                tracing::debug!(%from, %reason, "ignoring a datagram that is not a probe");
                continue;
            }
        };
        if probe.service != announcement.service {
            continue;
        }
        if window_start.elapsed() >= Duration::from_secs(1) {
            window_start = Instant::now();
            sent_in_window = 0;
        }
        if sent_in_window >= MAX_REPLIES_PER_SECOND {
            continue;
        }
        sent_in_window += 1;
        let reply = Reply {
            nonce: probe.nonce,
            service: announcement.service.clone(),
            identity: announcement.identity.clone(),
            url: announcement.url.clone(),
        };
        // Checked when the responder was bound.
        let Ok(bytes) = reply.encode() else { continue };
        if let Err(error) = socket.send_to(&bytes, from).await {
            tracing::debug!(%from, %error, "could not answer a probe");
        }
    }
}

/// A server found by discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its service name.
    pub service: String,
    /// Its identity.
    pub identity: String,
    /// Where to connect (with an unspecified host completed from `from`).
    pub url: String,
    /// Where its reply came from.
    pub from: SocketAddr,
}

/// Looks for servers of one service on the local networks.
///
/// ```no_run
/// # async fn demo() -> Result<(), atomic_ws::AtomicError> {
/// use atomic_ws::discovery::Prober;
///
/// for server in Prober::new("kiosk").find().await? {
///     println!("{} at {}", server.identity, server.url);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Prober {
    service: String,
    port: u16,
    window: Duration,
    targets: Option<Vec<SocketAddr>>,
    sweep: usize,
    bind: SocketAddr,
}

impl Prober {
    /// A prober for `service` on [`DEFAULT_PORT`], collecting for [`DEFAULT_WINDOW`],
    /// probing the broadcast address of every local IPv4 interface and this host.
    pub fn new(service: impl Into<String>) -> Self {
        Prober {
            service: service.into(),
            port: DEFAULT_PORT,
            window: DEFAULT_WINDOW,
            targets: None,
            sweep: 0,
            bind: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        }
    }

    /// The responders' UDP port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// How long to collect replies (bounded: at most a minute).
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window.min(Duration::from_secs(60));
        self
    }

    /// Probes exactly these addresses instead of the interfaces' broadcast addresses
    /// (tests, or a known list of hosts).
    pub fn with_targets(mut self, targets: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.targets = Some(targets.into_iter().collect());
        self
    }

    /// Also sends a unicast probe to up to `max_hosts` addresses of the local subnets
    /// (at most [`MAX_SWEEP`]), for networks that drop broadcasts. Off by default.
    pub fn with_sweep(mut self, max_hosts: usize) -> Self {
        self.sweep = max_hosts.min(MAX_SWEEP);
        self
    }

    /// The local address the probing socket binds (default `0.0.0.0:0`).
    pub fn with_bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// The service probed for.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Where the probes go: the configured targets, or this host and the broadcast address
    /// of each local IPv4 interface (plus the sweep, when asked for).
    pub fn targets(&self) -> Result<Vec<SocketAddr>, AtomicError> {
        if let Some(targets) = &self.targets {
            return Ok(targets.clone());
        }
        let interfaces = if_addrs::get_if_addrs().map_err(|e| {
            AtomicError::Discovery(format!("could not list the network interfaces: {e}"))
        })?;
        let mut targets = vec![SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))];
        let mut sweep_left = self.sweep;
        for interface in interfaces {
            let if_addrs::IfAddr::V4(v4) = interface.addr else {
                continue;
            };
            if v4.ip.is_loopback() || v4.prefixlen >= 31 {
                continue;
            }
            let broadcast = v4
                .broadcast
                .unwrap_or_else(|| Ipv4Addr::from(u32::from(v4.ip) | !u32::from(v4.netmask)));
            push_unique(&mut targets, SocketAddr::from((broadcast, self.port)));
            if sweep_left > 0 {
                let network = u32::from(v4.ip) & u32::from(v4.netmask);
                let last = u32::from(broadcast);
                for host in (network + 1)..last {
                    if sweep_left == 0 {
                        break;
                    }
                    if host != u32::from(v4.ip) {
                        targets.push(SocketAddr::from((Ipv4Addr::from(host), self.port)));
                        sweep_left -= 1;
                    }
                }
            }
        }
        Ok(targets)
    }

    /// Probes and collects replies for the window: the servers of the service, each once
    /// (by identity), in the order they answered. May be empty.
    pub async fn probe(&self) -> Result<Vec<Candidate>, AtomicError> {
        let targets = self.targets()?;
        let nonce = getrandom::u64()
            .map_err(|e| AtomicError::Discovery(format!("no random nonce: {e}")))?;
        let probe = Probe {
            nonce,
            service: self.service.clone(),
        }
        .encode()
        .map_err(AtomicError::Discovery)?;
        let socket = UdpSocket::bind(self.bind).await.map_err(|e| {
            AtomicError::Discovery(format!(
                "could not bind the probing socket to {}: {e}",
                self.bind
            ))
        })?;
        socket
            .set_broadcast(true)
            .map_err(|e| AtomicError::Discovery(format!("broadcast refused: {e}")))?;
        let mut sent = 0usize;
        let mut last_error = None;
        for target in &targets {
            match socket.send_to(&probe, target).await {
                Ok(_) => sent += 1,
                Err(error) => {
                    tracing::debug!(%target, %error, "probe not sent");
                    last_error = Some(format!("{target}: {error}"));
                }
            }
        }
        if sent == 0 {
            return Err(AtomicError::Discovery(format!(
                "no probe could be sent ({})",
                last_error.unwrap_or_else(|| "no targets".into())
            )));
        }
        let deadline = tokio::time::Instant::now() + self.window;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        loop {
            let received = match tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
            {
                Err(_) => break,
                Ok(Err(error)) => {
                    // An ICMP "unreachable" for one target; the others may answer.
                    tracing::debug!(%error, "discovery receive error");
                    continue;
                }
                Ok(Ok(received)) => received,
            };
            let (len, from) = received;
            let reply = match Reply::decode(&buf[..len]) {
                Ok(reply) => reply,
                Err(reason) => {
                    tracing::debug!(%from, %reason, "ignoring a datagram that is not a reply");
                    continue;
                }
            };
            if reply.nonce != nonce || reply.service != self.service {
                continue;
            }
            if !seen.insert(reply.identity.clone()) {
                continue;
            }
            found.push(Candidate {
                url: complete_host(&reply.url, from.ip()),
                service: reply.service,
                identity: reply.identity,
                from,
            });
        }
        Ok(found)
    }

    /// Like [`probe`](Self::probe), but no server is an error
    /// ([`AtomicError::NothingFound`]) that says where the probes went.
    pub async fn find(&self) -> Result<Vec<Candidate>, AtomicError> {
        let found = self.probe().await?;
        if found.is_empty() {
            let targets = self.targets()?;
            let shown: Vec<String> = targets.iter().take(8).map(|t| t.ip().to_string()).collect();
            let more = targets.len().saturating_sub(shown.len());
            return Err(AtomicError::NothingFound {
                service: self.service.clone(),
                waited: self.window,
                probed: if more > 0 {
                    format!("{} and {more} more", shown.join(", "))
                } else {
                    shown.join(", ")
                },
                port: self.port,
            });
        }
        Ok(found)
    }
}

impl Discover for Prober {
    fn discover(&self) -> BoxFuture<'_, Result<Vec<String>, AtomicError>> {
        Box::pin(async move {
            let found = self.find().await?;
            for candidate in &found {
                tracing::info!(identity = %candidate.identity, url = %candidate.url, "discovered");
            }
            Ok(found.into_iter().map(|c| c.url).collect())
        })
    }
}

impl Discover for Arc<Prober> {
    fn discover(&self) -> BoxFuture<'_, Result<Vec<String>, AtomicError>> {
        (**self).discover()
    }
}

fn push_unique(targets: &mut Vec<SocketAddr>, target: SocketAddr) {
    if !targets.contains(&target) {
        targets.push(target);
    }
}

/// Replaces an unspecified host (`0.0.0.0`, `[::]`) in `url` with `from`.
fn complete_host(url: &str, from: IpAddr) -> String {
    let host = match from {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    for unspecified in ["0.0.0.0", "[::]"] {
        for scheme in ["ws://", "wss://"] {
            let prefix = format!("{scheme}{unspecified}");
            if let Some(rest) = url.strip_prefix(&prefix) {
                if rest.is_empty() || rest.starts_with(':') || rest.starts_with('/') {
                    return format!("{scheme}{host}{rest}");
                }
            }
        }
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_host_is_completed_from_the_reply() {
        let from: IpAddr = "10.0.0.7".parse().unwrap();
        assert_eq!(
            complete_host("ws://0.0.0.0:9300/", from),
            "ws://10.0.0.7:9300/"
        );
        assert_eq!(complete_host("wss://[::]:1/x", from), "wss://10.0.0.7:1/x");
        assert_eq!(complete_host("ws://0.0.0.01:9/", from), "ws://0.0.0.01:9/");
        assert_eq!(
            complete_host("ws://192.168.1.2:9300/", from),
            "ws://192.168.1.2:9300/"
        );
    }
}
