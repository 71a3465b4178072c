//! Fault injection: the ways a real server misbehaves, switchable at run time.
//!
//! Clients are judged by how they survive a bad server, so the simulator can go silent
//! (TCP open, nothing said), refuse upgrades for a while, delay its replies, and send
//! malformed frames. Dropping every connection and restarting live in the server, which
//! owns the sockets; this module holds the switches the connections read.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::lock::lock;

/// A malformed (or merely unexpected) frame sequence the simulator can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedFrame {
    /// A text frame that is not Engine.IO at all.
    GarbageText,
    /// An event whose JSON is cut off: `42["updateStream",{`.
    InvalidJson,
    /// A binary frame with no `451-` header before it.
    BinaryWithoutHeader,
    /// A `451-` header whose attachment never comes (a text frame follows instead).
    HeaderWithoutAttachment,
    /// A header announcing 99 attachments (more than any sane limit).
    TooManyAttachments,
    /// A well-formed event nobody knows: clients must ignore it.
    UnknownEvent,
}

impl MalformedFrame {
    /// Every kind, in declaration order.
    pub const ALL: [MalformedFrame; 6] = [
        MalformedFrame::GarbageText,
        MalformedFrame::InvalidJson,
        MalformedFrame::BinaryWithoutHeader,
        MalformedFrame::HeaderWithoutAttachment,
        MalformedFrame::TooManyAttachments,
        MalformedFrame::UnknownEvent,
    ];

    /// The kebab-case name used by the CLI.
    pub fn name(self) -> &'static str {
        match self {
            MalformedFrame::GarbageText => "garbage-text",
            MalformedFrame::InvalidJson => "invalid-json",
            MalformedFrame::BinaryWithoutHeader => "binary-without-header",
            MalformedFrame::HeaderWithoutAttachment => "header-without-attachment",
            MalformedFrame::TooManyAttachments => "too-many-attachments",
            MalformedFrame::UnknownEvent => "unknown-event",
        }
    }

    /// Parses a [`MalformedFrame::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The frames to send.
    pub(crate) fn frames(self) -> Vec<Message> {
        match self {
            MalformedFrame::GarbageText => vec![Message::text("\u{1}this is not engine.io")],
            MalformedFrame::InvalidJson => vec![Message::text(r#"42["updateStream",{"#)],
            MalformedFrame::BinaryWithoutHeader => {
                vec![Message::binary(&br#"[["EURUSD_otc",1,1]]"#[..])]
            }
            MalformedFrame::HeaderWithoutAttachment => vec![
                Message::text(r#"451-["updateStream",{"_placeholder":true,"num":0}]"#),
                Message::text(r#"42["unknownAfterHeader",{}]"#),
            ],
            MalformedFrame::TooManyAttachments => {
                vec![Message::text(
                    r#"4599-["updateStream",{"_placeholder":true,"num":0}]"#,
                )]
            }
            MalformedFrame::UnknownEvent => {
                vec![Message::text(r#"42["simulatorUnknownEvent",{"x":1}]"#)]
            }
        }
    }
}

/// When the account's balance report goes out, relative to the deal event that changed
/// the balance (an opened deal, a settlement). Real platforms are not known to agree on
/// it, and a client must show a balance consistent with its results either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BalanceReport {
    /// Right after the deal event, in the same write (the default).
    #[default]
    AfterDeal,
    /// After the deal event, this much later.
    Delayed(Duration),
    /// Before the deal event.
    BeforeDeal,
}

/// The switches every connection reads.
#[derive(Debug)]
pub(crate) struct Faults {
    silent: watch::Sender<bool>,
    refuse_until: Mutex<Option<Instant>>,
    reply_delay_ms: AtomicU64,
    balance_report: Mutex<BalanceReport>,
}

impl Faults {
    pub(crate) fn new() -> Self {
        Faults {
            silent: watch::Sender::new(false),
            refuse_until: Mutex::new(None),
            reply_delay_ms: AtomicU64::new(0),
            balance_report: Mutex::new(BalanceReport::AfterDeal),
        }
    }

    pub(crate) fn set_balance_report(&self, report: BalanceReport) {
        *lock(&self.balance_report) = report;
    }

    pub(crate) fn balance_report(&self) -> BalanceReport {
        *lock(&self.balance_report)
    }

    pub(crate) fn set_silent(&self, silent: bool) {
        self.silent.send_replace(silent);
    }

    pub(crate) fn watch_silent(&self) -> watch::Receiver<bool> {
        self.silent.subscribe()
    }

    pub(crate) fn refuse_for(&self, duration: Duration) {
        *lock(&self.refuse_until) = Some(Instant::now() + duration);
    }

    pub(crate) fn is_refusing(&self) -> bool {
        lock(&self.refuse_until).is_some_and(|until| Instant::now() < until)
    }

    pub(crate) fn set_reply_delay(&self, delay: Duration) {
        self.reply_delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    pub(crate) fn reply_delay(&self) -> Duration {
        Duration::from_millis(self.reply_delay_ms.load(Ordering::Relaxed))
    }
}
