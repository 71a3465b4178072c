//! Engine.IO v4 over a bare WebSocket: decoding a text frame into a [`Frame`] and encoding
//! the transport-level packets (open, ping, pong, close).
//!
//! Engine.IO is the layer under Socket.IO: every text frame starts with one type digit
//! (`0` open, `1` close, `2` ping, `3` pong, `4` message, `5` upgrade, `6` noop). A message
//! carries a Socket.IO packet, decoded by [`crate::socketio`]. Binary WebSocket frames carry
//! no Engine.IO prefix at all: they are attachments, paired with their header by the
//! [`Reassembler`](crate::Reassembler).
//!
//! Everything here is a pure function over borrowed input: no I/O, no panics, no copies of
//! the payload.

use serde::{Deserialize, Serialize};

use crate::error::CodecError;
use crate::limits::FrameLimits;
use crate::socketio::{self, Packet};

/// The Engine.IO ping the server sends.
pub const PING: &str = "2";
/// The Engine.IO pong a client answers with.
pub const PONG: &str = "3";
/// The Engine.IO close packet.
pub const CLOSE: &str = "1";
/// The Engine.IO noop packet.
pub const NOOP: &str = "6";

/// One decoded Engine.IO text frame. Borrowed from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame<'a> {
    /// `0{…}`: the handshake; parse it with [`OpenPayload::parse`].
    Open(&'a str),
    /// `1`: the peer closes the Engine.IO session.
    Close,
    /// `2…`: a ping (with its optional probe data).
    Ping(&'a str),
    /// `3…`: a pong (with its optional probe data).
    Pong(&'a str),
    /// `4…`: a Socket.IO packet.
    Message(Packet<'a>),
    /// `5…`: a transport upgrade (not used over a bare WebSocket).
    Upgrade(&'a str),
    /// `6`: noop.
    Noop,
}

/// The JSON of the Engine.IO open packet (`0{…}`).
///
/// ```
/// use binary_options_tools::engineio::OpenPayload;
/// let open = OpenPayload::parse(r#"{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#).unwrap();
/// assert_eq!(open.ping_interval, 25000);
/// assert_eq!(open.max_payload, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenPayload {
    /// The Engine.IO session id.
    pub sid: String,
    /// Transports the server could upgrade to (empty over a bare WebSocket).
    #[serde(default)]
    pub upgrades: Vec<String>,
    /// Milliseconds between the server's pings.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong before closing.
    pub ping_timeout: u64,
    /// The largest payload the server accepts, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_payload: Option<u64>,
}

impl OpenPayload {
    /// Parses the JSON that follows the `0` of an open frame.
    pub fn parse(json: &str) -> Result<Self, CodecError> {
        serde_json::from_str(json).map_err(|e| CodecError::InvalidJson {
            what: "the Engine.IO open packet",
            reason: e.to_string(),
        })
    }
}

/// Decodes one WebSocket text frame given as bytes (UTF-8 is checked).
///
/// Uses [`FrameLimits::default`]; see [`decode_with`]. Never panics, whatever the input.
///
/// ```
/// use binary_options_tools::{decode, Frame};
/// let frame = decode(br#"42["ps"]"#).unwrap();
/// let Frame::Message(packet) = frame else { panic!() };
/// assert_eq!(packet.event_name(), Some("ps"));
/// assert!(decode(b"9nonsense").is_err());
/// ```
pub fn decode(frame: &[u8]) -> Result<Frame<'_>, CodecError> {
    decode_with(frame, &FrameLimits::default())
}

/// [`decode`] with explicit limits.
pub fn decode_with<'a>(frame: &'a [u8], limits: &FrameLimits) -> Result<Frame<'a>, CodecError> {
    let text = std::str::from_utf8(frame).map_err(|e| CodecError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    decode_text(text, limits)
}

/// Decodes one WebSocket text frame.
pub fn decode_text<'a>(frame: &'a str, limits: &FrameLimits) -> Result<Frame<'a>, CodecError> {
    if frame.len() > limits.max_payload_bytes {
        return Err(CodecError::PayloadTooLarge {
            size: frame.len(),
            max: limits.max_payload_bytes,
        });
    }
    let mut chars = frame.chars();
    let Some(kind) = chars.next() else {
        return Err(CodecError::Empty);
    };
    let rest = chars.as_str();
    Ok(match kind {
        '0' => Frame::Open(rest),
        '1' => Frame::Close,
        '2' => Frame::Ping(rest),
        '3' => Frame::Pong(rest),
        '4' => Frame::Message(socketio::decode_packet(rest, limits)?),
        '5' => Frame::Upgrade(rest),
        '6' => Frame::Noop,
        found => return Err(CodecError::UnknownEngineType { found }),
    })
}

/// Encodes the open packet: `0{"sid":…,"upgrades":[],"pingInterval":…,"pingTimeout":…}`.
///
/// ```
/// use binary_options_tools::engineio::{encode_open, OpenPayload};
/// let frame = encode_open(&OpenPayload {
///     sid: "abc".into(), upgrades: vec![], ping_interval: 25000, ping_timeout: 20000, max_payload: None,
/// });
/// assert_eq!(frame, r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000}"#);
/// ```
pub fn encode_open(open: &OpenPayload) -> String {
    let mut out = String::from("0");
    // Serializing a struct of strings and integers cannot fail.
    out.push_str(&serde_json::to_string(open).unwrap_or_default());
    out
}
