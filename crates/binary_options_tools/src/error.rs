//! The crate's errors: [`Error`] is the one enum callers match on; the pure layers (the
//! codec and the SSID parser) return their own precise types, [`CodecError`] and
//! [`SsidError`], which convert into it with `?`.
//!
//! The split exists because the codec and the parser are used on their own (by the
//! simulator, by fuzzers) where a narrow type is easier to match than the whole client's
//! error. Every message says what went wrong and what to do about it, and no message ever
//! contains a session token.

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

    /// A wait took longer than allowed.
    #[error("timed out after {after:?} waiting for {waiting_for}")]
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
        "the platform streams at most 4 assets per connection: `{requested}` would be a 5th; drop every stream of one of {active:?} first"
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
    if similar.is_empty() {
        String::new()
    } else {
        format!(" (did you mean one of {similar:?}?)")
    }
}

impl From<core_pre::CoreError> for Error {
    fn from(e: core_pre::CoreError) -> Self {
        match e {
            // Only the platform's refusal of the session is an authentication failure; a
            // bad certificate, URL or HTTP refusal stays a connection error with its reason.
            core_pre::CoreError::Rejected { reason } if *reason == *crate::REJECTED_REASON => {
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
        "the packet announces {announced} binary attachments, more than the limit of {max}; raise `Limits::max_attachments` if the peer is trusted"
    )]
    TooManyAttachments {
        /// The announced count.
        announced: usize,
        /// The configured limit.
        max: usize,
    },

    /// A frame, or a packet with its attachments, is larger than allowed.
    #[error(
        "payload of {size} bytes exceeds the limit of {max} bytes; raise `Limits::max_payload_bytes` if the peer is trusted"
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
