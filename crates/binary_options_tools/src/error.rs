//! The crate's errors: [`Error`] is the one enum callers match on; the pure layers (the
//! codec and the SSID parser) return their own precise types, [`CodecError`] and
//! [`SsidError`], which convert into it with `?`.
//!
//! The split exists because the codec and the parser are used on their own (by the
//! simulator, by fuzzers) where a narrow type is easier to match than the whole client's
//! error. Every message says what went wrong and what to do about it, and no message ever
//! contains a session token.
//!
//! `Display` is written for people (print errors with `{}`, and their
//! [`source`](std::error::Error::source) chain); `Debug` is for developers.

use std::fmt;
use std::time::Duration;

use core_pre::{ConnectErrorKind, ConnectFailure, HumanDuration};

use crate::regions;

/// The reason given to users when the platform rejects a session.
pub(crate) const REJECTED_REASON: &str = "the platform rejected the session: it has expired, or it was issued for another IP address or browser (user agent). Log in again and copy a fresh SSID; for a real account, connect from the same IP and send the same User-Agent";

/// The crate-wide error: every failure of this crate converts into it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A frame could not be decoded or encoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The SSID could not be parsed.
    #[error(transparent)]
    Ssid(#[from] SsidError),

    /// The platform rejected the session (it is not retried: get a fresh SSID).
    #[error("authentication failed: {reason}")]
    Authentication {
        /// Why, in words (never containing the session).
        reason: String,
    },

    /// The connection layer failed (closed client, not connected, connection lost...).
    #[error(transparent)]
    Core(core_pre::CoreError),

    /// The platform could not be reached: no connection within the wait, or the reconnect
    /// policy gave up. The report says what was tried, what went wrong and what to do.
    #[error("{0}")]
    ConnectFailed(Box<ConnectReport>),

    /// A wait took longer than allowed.
    #[error("timed out after {} waiting for {waiting_for}", HumanDuration(*.after))]
    Timeout {
        /// What the call waited for.
        waiting_for: &'static str,
        /// How long it waited.
        after: std::time::Duration,
    },

    /// The asset is not in the platform's list.
    #[error("unknown asset `{asset}`{}; symbols are case-sensitive, e.g. `EURUSD_otc`", suggest(.similar))]
    UnknownAsset {
        /// The symbol asked for.
        asset: String,
        /// Listed symbols that look alike.
        similar: Vec<String>,
    },

    /// Trading on the asset is closed right now.
    #[error("asset `{asset}` is closed for trading right now; pick an open one (see `assets()`)")]
    AssetClosed {
        /// The asset.
        asset: String,
    },

    /// The expiry is not one the asset allows.
    #[error("an expiry of {expiry:?} is not allowed for `{asset}`; allowed (seconds): {allowed:?}")]
    ExpiryNotAllowed {
        /// The asset.
        asset: String,
        /// The expiry asked for.
        expiry: std::time::Duration,
        /// The allowed expiries in seconds.
        allowed: Vec<u32>,
    },

    /// The amount is outside the limits.
    #[error("an amount of {amount} is outside the allowed range {min}..={max}")]
    InvalidAmount {
        /// The amount asked for.
        amount: rust_decimal::Decimal,
        /// The smallest allowed.
        min: rust_decimal::Decimal,
        /// The largest allowed.
        max: rust_decimal::Decimal,
    },

    /// The balance does not cover the amount.
    #[error("an amount of {amount} is more than the balance of {balance}")]
    InsufficientBalance {
        /// The amount asked for.
        amount: rust_decimal::Decimal,
        /// The balance.
        balance: rust_decimal::Decimal,
    },

    /// The platform refused the order (`failopenOrder`).
    #[error("the platform refused the order ({amount} on `{asset}`): {reason}")]
    OrderRejected {
        /// The platform's reason (`MaxDemoTrades`, `OPEN_TIME`, not enough money...).
        reason: String,
        /// The asset.
        asset: String,
        /// The amount.
        amount: rust_decimal::Decimal,
    },

    /// The order was sent but its reply was lost, and the deal lists do not show it.
    #[error(
        "the order ({amount} on `{asset}`, request id {request_id}) was sent but its outcome is unknown; check the open deals before placing it again"
    )]
    OrderOutcomeUnknown {
        /// The request id the order carried (deals opened by it carry it too).
        request_id: String,
        /// The asset.
        asset: String,
        /// The amount.
        amount: rust_decimal::Decimal,
    },

    /// A 5th distinct asset was subscribed while 4 are streaming.
    #[error(
        "the platform streams at most 4 assets per connection: `{requested}` would be a 5th; drop every stream of one of {} first", ticked(.active)
    )]
    TooManySubscriptions {
        /// The asset asked for.
        requested: String,
        /// The assets streaming now.
        active: Vec<String>,
    },

    /// The subscription parameters are invalid.
    #[error("invalid subscription: {reason}")]
    InvalidSubscription {
        /// What is wrong.
        reason: String,
    },

    /// The history request parameters are invalid.
    #[error("invalid history request: {reason}")]
    InvalidHistoryRequest {
        /// What is wrong.
        reason: String,
    },

    /// A raw matcher could not be built.
    #[error("invalid matcher: {reason}")]
    InvalidMatcher {
        /// What is wrong.
        reason: String,
    },

    /// A pending order's trigger is invalid (an opening time not in the future, a price
    /// that is not positive).
    #[error("invalid pending order: {reason}")]
    InvalidPendingOrder {
        /// What is wrong.
        reason: String,
    },

    /// The platform refused to cancel a pending order (`failcancelPendingOrder`).
    #[error(
        "the platform did not cancel pending order {ticket}: {reason}; it may have opened its deal already (see `pending_orders()` and the open deals)"
    )]
    PendingCancelRejected {
        /// The order's ticket.
        ticket: String,
        /// The platform's reason.
        reason: String,
    },
}

fn suggest(similar: &[String]) -> String {
    match similar {
        [] => String::new(),
        [one] => format!(" (did you mean `{one}`?)"),
        more => format!(" (did you mean one of {}?)", ticked(more)),
    }
}

/// `` `a`, `b`, `c` ``.
fn ticked(items: &[String]) -> String {
    let ticked: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
    ticked.join(", ")
}

/// What a [`PocketOption`](crate::PocketOption) client tried before it gave up waiting
/// for a connection, and what to do about it: the `Display` of
/// [`Error::ConnectFailed`].
///
/// A typical message (the network is down):
///
/// ```text
/// could not connect to PocketOption (demo account) within 30 s: 5 attempts over 29 s to
/// wss://demo-api-eu.po.market/socket.io/ failed; the last one: could not resolve the host
/// name demo-api-eu.po.market: failed to lookup address information: … . The server's name
/// did not resolve: check that this machine is online and that DNS works (or your proxy,
/// if you use one). To connect to another server, pass its URL (`--url` in the examples,
/// `PocketOptionBuilder::with_url` in code).
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectReport {
    /// How long the caller waited.
    pub waited: Duration,
    /// True when the reconnect policy gave up (rather than the wait running out).
    pub gave_up: bool,
    /// True when the client goes on trying in the background.
    pub still_trying: bool,
    /// True for a demo account.
    pub demo: bool,
    /// The URLs the client was set to try, in order, without query strings.
    pub urls: Vec<String>,
    /// The failed attempts (`None` when the first attempt had not finished yet).
    pub failure: Option<ConnectFailure>,
}

impl ConnectReport {
    /// The kind of the last attempt's failure, if an attempt failed.
    pub fn last_error_kind(&self) -> Option<ConnectErrorKind> {
        self.failure.as_ref().map(|f| f.last_error.kind())
    }
}

/// Names an endpoint: a documented region by its name, anything else by its URL.
fn region_name(endpoint: &str) -> Option<&'static str> {
    let host = endpoint
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())?;
    regions::REAL
        .iter()
        .chain(std::iter::once(&regions::DEMO))
        .find(|region| region.host == host)
        .map(|region| region.name)
}

/// `a, b and c`.
fn listing(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// What to do about a failure of this kind, as a sentence.
fn advice(kind: ConnectErrorKind) -> String {
    match kind {
        ConnectErrorKind::Unresolved => "The server's name did not resolve: check that this machine is online and that DNS works (or your proxy, if you use one).".into(),
        ConnectErrorKind::Refused => "Nothing accepted the connection at that address: check the URL and port, and that the server (or your proxy) is running.".into(),
        ConnectErrorKind::Unreachable => "The network is unreachable: check that this machine is online (and your VPN or proxy, if you use one).".into(),
        ConnectErrorKind::TimedOut => "No answer in time: the network may be down or slow, or a firewall may drop the traffic; check the network or proxy, or raise `Timeouts::attempt`.".into(),
        ConnectErrorKind::Tls => "The secure (TLS) connection failed: a proxy or antivirus may intercept TLS, or the system clock may be wrong; to trust a proxy's certificate, add it with `WsConfig::with_root_certificate_pem`.".into(),
        ConnectErrorKind::HttpStatus(status @ (403 | 451)) => format!("The server refused the connection with HTTP {status}: the platform or a proxy blocks this network or country; try another network, or another region for a real account."),
        ConnectErrorKind::HttpStatus(status @ (408 | 429 | 500..=599)) => format!("The server is overloaded or down (HTTP {status}); try again later, or another region for a real account."),
        ConnectErrorKind::HttpStatus(status) => format!("The address answered HTTP {status} instead of opening a WebSocket: check the URL (the platform's ends in `/socket.io/?EIO=4&transport=websocket`)."),
        ConnectErrorKind::Handshake => "A server answered but did not complete the platform's handshake: check that the URL points at PocketOption's WebSocket API (or the simulator), and the proxy if you use one.".into(),
        _ => "Check the network or proxy.".into(),
    }
}

impl fmt::Display for ConnectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let account = if self.demo { "demo" } else { "real" };
        if self.gave_up {
            write!(f, "gave up connecting to PocketOption ({account} account)")?;
        } else {
            write!(
                f,
                "could not connect to PocketOption ({account} account) within {}",
                HumanDuration(self.waited)
            )?;
        }
        let Some(failure) = &self.failure else {
            write!(
                f,
                ": the first attempt (to {}) has not finished yet. Wait longer, or check the network or proxy.",
                self.urls.first().map(String::as_str).unwrap_or("no URL")
            )?;
            return Ok(());
        };
        let attempts = match failure.attempts {
            1 => "1 attempt".to_owned(),
            n => format!("{n} attempts"),
        };
        write!(f, ": {attempts} over {}", HumanDuration(failure.trying_for))?;
        // Regions by name, other endpoints by URL.
        let mut regions_tried = Vec::new();
        let mut others = Vec::new();
        for endpoint in &failure.endpoints {
            match region_name(endpoint) {
                Some(name) if !self.demo => regions_tried.push(name.to_owned()),
                _ => others.push(endpoint.to_string()),
            }
        }
        if !others.is_empty() || !regions_tried.is_empty() {
            f.write_str(" to ")?;
            let mut parts = others;
            if !regions_tried.is_empty() {
                let noun = if regions_tried.len() == 1 {
                    "region"
                } else {
                    "regions"
                };
                parts.push(format!("the {noun} {}", regions_tried.join(", ")));
            }
            f.write_str(&listing(&parts))?;
        }
        let last = if failure.attempts == 1 {
            "failed"
        } else {
            "failed; the last one"
        };
        write!(
            f,
            " {last}: {}.",
            failure.last_error.message().trim_end_matches('.')
        )?;
        write!(f, " {}", advice(failure.last_error.kind()))?;
        f.write_str(" To connect to another server, pass its URL (`--url` in the examples, `PocketOptionBuilder::with_url` in code).")?;
        if !self.demo && !regions_tried.is_empty() {
            let total = self
                .urls
                .iter()
                .filter(|url| region_name(url).is_some())
                .count();
            if regions_tried.len() < total {
                write!(
                    f,
                    " A real account is served by {total} regions, tried in turn: {} of them were tried so far.",
                    regions_tried.len()
                )?;
            } else {
                write!(
                    f,
                    " Every one of the {total} regions for real accounts was tried."
                )?;
            }
        }
        if self.still_trying {
            f.write_str(" The client keeps trying in the background.")?;
        }
        Ok(())
    }
}

impl From<core_pre::CoreError> for Error {
    fn from(e: core_pre::CoreError) -> Self {
        match e {
            // Only the platform's refusal of the session is an authentication failure; a
            // bad certificate, URL or HTTP refusal stays a connection error with its reason.
            core_pre::CoreError::Rejected { reason } if *reason == *REJECTED_REASON => {
                Error::Authentication {
                    reason: reason.to_string(),
                }
            }
            other => Error::Core(other),
        }
    }
}

impl Error {
    /// True when the client was shut down.
    pub fn is_client_closed(&self) -> bool {
        matches!(self, Error::Core(core_pre::CoreError::ClientClosed))
    }
}

/// An Engine.IO / Socket.IO frame could not be decoded, reassembled or encoded.
///
/// Decoding never panics: every malformed input ends up here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The frame was empty.
    #[error(
        "empty frame: an Engine.IO text frame starts with a packet type digit (0-6); the peer is not speaking Engine.IO v4"
    )]
    Empty,

    /// A text frame was not valid UTF-8.
    #[error(
        "the text frame is not valid UTF-8 (at byte {valid_up_to}); the peer is not speaking Engine.IO"
    )]
    InvalidUtf8 {
        /// How many leading bytes were valid.
        valid_up_to: usize,
    },

    /// The Engine.IO packet type is unknown.
    #[error(
        "unknown Engine.IO packet type {found:?} (expected a digit 0-6); check that the URL has `EIO=4&transport=websocket`"
    )]
    UnknownEngineType {
        /// The first character of the frame.
        found: char,
    },

    /// The Socket.IO packet type is unknown.
    #[error(
        "unknown Socket.IO packet type {found:?} (expected a digit 0-6); the peer may speak a different Socket.IO version"
    )]
    UnknownSocketType {
        /// The character after the Engine.IO `4`.
        found: Option<char>,
    },

    /// A binary packet header is malformed (`45<n>-` expected).
    #[error(
        "malformed binary packet header: {reason}; a binary event looks like `451-[\"name\",{{\"_placeholder\":true,\"num\":0}}]`"
    )]
    InvalidAttachmentHeader {
        /// What was wrong.
        reason: &'static str,
    },

    /// A binary packet announced more attachments than allowed.
    #[error(
        "the packet announces {announced} binary attachments, more than the limit of {max}; raise `FrameLimits::max_attachments` if the peer is trusted"
    )]
    TooManyAttachments {
        /// The announced count.
        announced: usize,
        /// The configured limit.
        max: usize,
    },

    /// A frame, or a packet with its attachments, is larger than allowed.
    #[error(
        "payload of {size} bytes exceeds the limit of {max} bytes; raise `FrameLimits::max_payload_bytes` if the peer is trusted"
    )]
    PayloadTooLarge {
        /// The size seen so far.
        size: usize,
        /// The configured limit.
        max: usize,
    },

    /// The ack id is not a number that fits in 64 bits.
    #[error("the Socket.IO ack id is not a valid 64-bit number")]
    InvalidAckId,

    /// The JSON part of a packet is not valid JSON of the expected shape.
    #[error("invalid JSON in {what}: {reason}")]
    InvalidJson {
        /// Which part of the packet.
        what: &'static str,
        /// The parser's message (never includes the input itself).
        reason: String,
    },

    /// An event packet is not an array starting with the event name.
    #[error("invalid event: {reason}; an event looks like `42[\"name\",payload]`")]
    InvalidEvent {
        /// What was wrong.
        reason: &'static str,
    },

    /// A binary frame arrived without a preceding `45<n>-` header.
    #[error(
        "binary frame without a preceding binary packet header (`45<n>-…`); the frame was discarded"
    )]
    UnexpectedBinary,

    /// A text frame arrived while a binary packet was still waiting for attachments.
    #[error(
        "text frame while the binary packet `{pending}` still waits for {missing} attachment(s); the incomplete packet was discarded, push the text frame again to process it"
    )]
    UnexpectedText {
        /// The name of the pending event (or `ack`).
        pending: String,
        /// How many attachments were still missing.
        missing: usize,
    },

    /// A placeholder refers to an attachment that is not there.
    #[error("placeholder refers to attachment #{num} but the packet has {available}")]
    MissingAttachment {
        /// The placeholder's `num`.
        num: usize,
        /// How many attachments the packet has.
        available: usize,
    },

    /// An attachment was expected to hold JSON but does not.
    #[error(
        "attachment #{num} is not UTF-8 JSON ({reason}); read it as bytes with `Packet::attachments` instead"
    )]
    AttachmentNotJson {
        /// The attachment's index.
        num: usize,
        /// The parser's message.
        reason: String,
    },

    /// A payload could not be serialized.
    #[error("could not encode the payload as JSON: {reason}")]
    Encode {
        /// The serializer's message.
        reason: String,
    },
}

/// How to copy an SSID correctly; appended to every [`SsidError`] message.
pub const SSID_HOW_TO_COPY: &str = "copy it again: log in on pocketoption.com, open DevTools \
(F12) → Network → WS, select the `socket.io` connection, open Messages, find the sent \
message that starts with 42[\"auth\", and copy the whole message (right-click → Copy message); \
when passing it on a command line, wrap it in single quotes";

/// The SSID a user pasted could not be understood.
///
/// Messages never contain the session token; each ends with how to copy the SSID correctly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SsidError {
    /// Nothing was pasted.
    #[error("the SSID is empty; {SSID_HOW_TO_COPY}")]
    Empty,

    /// The input is not a JSON object nor an auth frame, even after repairs.
    #[error("the SSID is not an auth frame nor a JSON object ({reason}); {SSID_HOW_TO_COPY}")]
    Malformed {
        /// What the parser found (never the input itself).
        reason: String,
    },

    /// The input is a Socket.IO frame for another event.
    #[error("the pasted frame is a `{event}` event, not `auth`; {SSID_HOW_TO_COPY}")]
    NotAuthFrame {
        /// The event found instead.
        event: String,
    },

    /// A required field is absent.
    #[error(
        "the SSID has no `{field}` field; it was probably cut off while copying; {SSID_HOW_TO_COPY}"
    )]
    MissingField {
        /// The missing field.
        field: &'static str,
    },

    /// A field has the wrong type or value.
    #[error("the SSID field `{field}` is invalid: {reason}; {SSID_HOW_TO_COPY}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A real-account session (PHP-serialized) is malformed.
    #[error("the real-account session is damaged: {reason}; {SSID_HOW_TO_COPY}")]
    InvalidRealSession {
        /// What is wrong with it.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_pre::ConnectError;

    fn report(demo: bool, failure: Option<ConnectFailure>) -> ConnectReport {
        let urls = regions::urls_for(demo, &[], false)
            .iter()
            .map(|u| client_ws::redacted_url(u))
            .collect();
        ConnectReport {
            waited: Duration::from_secs(30),
            gave_up: false,
            still_trying: true,
            demo,
            urls,
            failure,
        }
    }

    fn failure(endpoints: &[&str], error: ConnectError) -> ConnectFailure {
        ConnectFailure {
            attempts: 3,
            trying_for: Duration::from_millis(29_600),
            endpoints: endpoints.iter().map(|e| (*e).into()).collect(),
            last_endpoint: endpoints.last().map(|e| (*e).into()),
            last_error: error,
        }
    }

    #[test]
    fn a_real_account_report_names_the_regions_tried_and_how_many_there_are() {
        let error = ConnectError::retryable(
            "connecting to wss://api-spb.po.market/socket.io/ timed out after 10 s",
        )
        .with_kind(ConnectErrorKind::TimedOut);
        let text = report(
            false,
            Some(failure(
                &[
                    "wss://api-eu.po.market/socket.io/",
                    "wss://api-msk.po.market/socket.io/",
                    "wss://api-spb.po.market/socket.io/",
                ],
                error,
            )),
        )
        .to_string();
        assert_eq!(
            text,
            format!(
                "could not connect to PocketOption (real account) within 30 s: 3 attempts over 30 s to \
                 the regions eu, msk, spb failed; the last one: connecting to \
                 wss://api-spb.po.market/socket.io/ timed out after 10 s. {} To connect to another \
                 server, pass its URL (`--url` in the examples, `PocketOptionBuilder::with_url` in \
                 code). A real account is served by {} regions, tried in turn: 3 of them were tried \
                 so far. The client keeps trying in the background.",
                advice(ConnectErrorKind::TimedOut),
                regions::REAL.len()
            )
        );
    }

    #[test]
    fn the_advice_fits_the_kind_of_failure() {
        let blocked = ConnectError::fatal(
            "the server at wss://x/ refused the WebSocket upgrade with HTTP 403 Forbidden",
        )
        .with_kind(ConnectErrorKind::HttpStatus(403));
        let text = report(true, Some(failure(&["wss://x/"], blocked))).to_string();
        assert!(text.contains("blocks this network or country"), "{text}");
        assert!(text.contains("to wss://x/ failed"), "{text}");
        let down = advice(ConnectErrorKind::HttpStatus(503));
        assert!(down.contains("overloaded or down (HTTP 503)"), "{down}");
        let wrong = advice(ConnectErrorKind::HttpStatus(404));
        assert!(wrong.contains("check the URL"), "{wrong}");
        assert!(advice(ConnectErrorKind::Tls).contains("proxy"));
        assert!(advice(ConnectErrorKind::Unresolved).contains("DNS"));
    }

    #[test]
    fn a_report_before_any_attempt_failed_says_the_first_one_is_still_running() {
        let text = report(true, None).to_string();
        assert_eq!(
            text,
            "could not connect to PocketOption (demo account) within 30 s: the first attempt (to \
             wss://demo-api-eu.po.market/socket.io/) has not finished yet. Wait longer, or check \
             the network or proxy."
        );
    }

    #[test]
    fn suggestions_and_lists_read_as_text() {
        assert_eq!(suggest(&[]), "");
        assert_eq!(suggest(&["EURUSD".into()]), " (did you mean `EURUSD`?)");
        assert_eq!(
            suggest(&["A".into(), "B".into()]),
            " (did you mean one of `A`, `B`?)"
        );
    }
}
