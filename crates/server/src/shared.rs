//! [`Shared`]: the state every task of one server holds (configuration, registry,
//! counters, the event and message senders, the connection cap, the shutdown trigger).
//!
//! It is the server's one `Arc`: the listener, every connection task and every
//! [`Server`](crate::Server) handle point at it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

use core_pre::Message;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::auth::Authenticator;
use crate::config::ServerConfig;
use crate::events::{EventSender, Phase, ServerStatus};
use crate::id::SessionId;
use crate::metrics::Counters;
use crate::registry::Registry;
use crate::shutdown::ShutdownTrigger;

/// The sending end of the inbound message stream.
pub(crate) type InboundSender = mpsc::Sender<(SessionId, Message)>;

pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) registry: Registry,
    pub(crate) counters: Counters,
    pub(crate) events: EventSender,
    /// Taken when the server stops, so the application's message stream ends.
    inbound: Mutex<Option<InboundSender>>,
    pub(crate) authenticator: Option<Arc<dyn Authenticator>>,
    pub(crate) tls: Option<TlsAcceptor>,
    /// One permit per session: the connection cap.
    pub(crate) slots: Arc<Semaphore>,
    next_id: AtomicU64,
    pub(crate) status: watch::Sender<ServerStatus>,
    pub(crate) shutdown: ShutdownTrigger,
    pub(crate) local_addr: SocketAddr,
}

pub(crate) struct SharedParts {
    pub(crate) config: ServerConfig,
    pub(crate) events: EventSender,
    pub(crate) inbound: InboundSender,
    pub(crate) authenticator: Option<Arc<dyn Authenticator>>,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) shutdown: ShutdownTrigger,
    pub(crate) local_addr: SocketAddr,
}

impl Shared {
    pub(crate) fn new(parts: SharedParts) -> Self {
        let (status, _) = watch::channel(ServerStatus {
            phase: Phase::Running,
            active: 0,
            local_addr: parts.local_addr,
        });
        Shared {
            slots: Arc::new(Semaphore::new(parts.config.max_connections)),
            config: parts.config,
            registry: Registry::default(),
            counters: Counters::default(),
            events: parts.events,
            inbound: Mutex::new(Some(parts.inbound)),
            authenticator: parts.authenticator,
            tls: parts.tls,
            next_id: AtomicU64::new(1),
            status,
            shutdown: parts.shutdown,
            local_addr: parts.local_addr,
        }
    }

    pub(crate) fn next_id(&self) -> SessionId {
        SessionId::new(self.next_id.fetch_add(1, Relaxed))
    }

    /// A sender for one session's inbound messages (`None` once the server stopped).
    pub(crate) fn inbound(&self) -> Option<InboundSender> {
        self.inbound
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Counts a session in (`started`) or out, and publishes the count.
    pub(crate) fn count_session(&self, started: bool) {
        let active = if started {
            self.counters.active.fetch_add(1, Relaxed) + 1
        } else {
            self.counters.active.fetch_sub(1, Relaxed) - 1
        };
        self.status.send_modify(|status| status.active = active);
    }

    pub(crate) fn set_phase(&self, phase: Phase) {
        self.status.send_modify(|status| status.phase = phase);
    }

    /// Closes the application's streams (after the last task finished).
    pub(crate) fn close_streams(&self) {
        self.inbound
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.events.close();
    }
}
