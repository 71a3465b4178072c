//! Socket.IO v5 packets (the part after the Engine.IO `4`): decoding into a borrowed
//! [`Packet`], a fast path that reads only an event's name, and the encoders both the
//! client and the simulator use.
//!
//! A packet is `<type>[<n>-][/<namespace>,][<ack id>][<json>]`. Decoding validates the JSON
//! once and records where each argument lies, so reading an argument later is a slice, not
//! a parse: the PocketOption tick stream sits on this path. Binary packets (`45<n>-`) carry
//! `{"_placeholder":true,"num":k}` where attachment `k` goes; the
//! [`Reassembler`](crate::Reassembler) fills in the attachments, and [`Packet::payload`] /
//! [`Packet::resolved_args`] read through the placeholders.

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::CodecError;
use crate::limits::FrameLimits;

/// The Socket.IO packet type (the digit after the Engine.IO `4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// `0`: connect to a namespace (client) / connect ack with `{"sid":…}` (server).
    Connect,
    /// `1`: disconnect from a namespace.
    Disconnect,
    /// `2`: an event `["name",args…]`.
    Event,
    /// `3`: an ack reply `[args…]`.
    Ack,
    /// `4`: the server refused the namespace connection.
    ConnectError,
    /// `5`: an event with binary attachments.
    BinaryEvent,
    /// `6`: an ack reply with binary attachments.
    BinaryAck,
}

impl PacketKind {
    fn from_digit(c: u8) -> Option<Self> {
        Some(match c {
            b'0' => PacketKind::Connect,
            b'1' => PacketKind::Disconnect,
            b'2' => PacketKind::Event,
            b'3' => PacketKind::Ack,
            b'4' => PacketKind::ConnectError,
            b'5' => PacketKind::BinaryEvent,
            b'6' => PacketKind::BinaryAck,
            _ => return None,
        })
    }

    /// Whether this kind carries binary attachments.
    pub fn is_binary(self) -> bool {
        matches!(self, PacketKind::BinaryEvent | PacketKind::BinaryAck)
    }

    /// Whether this kind is an event (plain or binary).
    pub fn is_event(self) -> bool {
        matches!(self, PacketKind::Event | PacketKind::BinaryEvent)
    }
}

/// A decoded Socket.IO packet, borrowed from the frame (or owned after
/// [`Packet::into_owned`], as the reassembler hands out binary packets).
#[derive(Debug, Clone, PartialEq)]
pub struct Packet<'a> {
    kind: PacketKind,
    namespace: Cow<'a, str>,
    id: Option<u64>,
    data: Cow<'a, str>,
    name: Option<Cow<'a, str>>,
    /// Byte ranges in `data` of each argument (after the event name, for events).
    args: Vec<Range<usize>>,
    expected_attachments: usize,
    attachments: Vec<Bytes>,
}

impl<'a> Packet<'a> {
    /// The packet type.
    pub fn kind(&self) -> PacketKind {
        self.kind
    }

    /// The namespace (`/` unless the packet named another).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The ack id, if the sender wants an ack (or this is an ack).
    pub fn id(&self) -> Option<u64> {
        self.id
    }

    /// The raw JSON that follows the header (empty when there is none).
    pub fn data(&self) -> &str {
        &self.data
    }

    /// The event name, for event packets.
    pub fn event_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The raw JSON of each argument (after the name, for events), in order.
    ///
    /// ```
    /// let frame = binary_options_tools::decode(br#"42["changeSymbol",{"asset":"EURUSD_otc","period":60}]"#).unwrap();
    /// let binary_options_tools::Frame::Message(packet) = frame else { panic!() };
    /// assert_eq!(packet.args().collect::<Vec<_>>(), [r#"{"asset":"EURUSD_otc","period":60}"#]);
    /// ```
    pub fn args(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.args.iter().map(|r| &self.data[r.clone()])
    }

    /// The raw JSON of argument `index`.
    pub fn arg(&self, index: usize) -> Option<&str> {
        self.args.get(index).map(|r| &self.data[r.clone()])
    }

    /// How many attachments the header announced (0 for non-binary packets).
    pub fn expected_attachments(&self) -> usize {
        self.expected_attachments
    }

    /// The attachments received so far, in order.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Whether every announced attachment is present.
    pub fn is_complete(&self) -> bool {
        self.attachments.len() == self.expected_attachments
    }

    pub(crate) fn push_attachment(&mut self, data: Bytes) {
        self.attachments.push(data);
    }

    /// The first argument as JSON bytes, read through a placeholder: for
    /// `451-["e",{"_placeholder":true,"num":0}]` + attachment, the attachment's bytes; for
    /// `42["e",{…}]`, the inline JSON. `None` when the event has no argument.
    ///
    /// This is how the platform's events are read: one payload, delivered either way.
    ///
    /// ```
    /// use binary_options_tools::{Frame, Reassembler};
    /// let mut r = Reassembler::default();
    /// assert!(r.push_text(r#"451-["successauth",{"_placeholder":true,"num":0}]"#).unwrap().is_none());
    /// let packet = r.push_binary(r#"{"id":"1","serverName":"x"}"#.as_bytes().to_vec()).unwrap().unwrap();
    /// assert_eq!(packet.payload().unwrap(), Some(&br#"{"id":"1","serverName":"x"}"#[..]));
    /// ```
    pub fn payload(&self) -> Result<Option<&[u8]>, CodecError> {
        let Some(first) = self.arg(0) else {
            return Ok(None);
        };
        match placeholder_num(first) {
            Some(num) => self.attachments.get(num).map(|b| Some(&b[..])).ok_or(
                CodecError::MissingAttachment {
                    num,
                    available: self.attachments.len(),
                },
            ),
            None => Ok(Some(first.as_bytes())),
        }
    }

    /// Every argument parsed as JSON, with each placeholder replaced by its attachment parsed
    /// as JSON (the platform's attachments are UTF-8 JSON).
    pub fn resolved_args(&self) -> Result<Vec<serde_json::Value>, CodecError> {
        let mut parsed: Vec<Option<serde_json::Value>> = vec![None; self.attachments.len()];
        self.args()
            .map(|raw| {
                let mut value: serde_json::Value =
                    serde_json::from_str(raw).map_err(|e| CodecError::InvalidJson {
                        what: "an event argument",
                        reason: e.to_string(),
                    })?;
                self.replace_placeholders(&mut value, &mut parsed, 0)?;
                Ok(value)
            })
            .collect()
    }

    fn replace_placeholders(
        &self,
        value: &mut serde_json::Value,
        parsed: &mut [Option<serde_json::Value>],
        depth: usize,
    ) -> Result<(), CodecError> {
        // serde_json itself refuses nesting deeper than 128, so this bound is never the
        // binding one; it keeps the recursion obviously finite.
        if depth > 256 {
            return Ok(());
        }
        use serde_json::Value;
        if let Value::Object(map) = value {
            if map.get("_placeholder") == Some(&Value::Bool(true)) {
                if let Some(num) = map.get("num").and_then(Value::as_u64) {
                    let num = usize::try_from(num).unwrap_or(usize::MAX);
                    let Some(bytes) = self.attachments.get(num) else {
                        return Err(CodecError::MissingAttachment {
                            num,
                            available: self.attachments.len(),
                        });
                    };
                    let slot = &mut parsed[num];
                    if slot.is_none() {
                        *slot = Some(serde_json::from_slice(bytes).map_err(|e| {
                            CodecError::AttachmentNotJson {
                                num,
                                reason: e.to_string(),
                            }
                        })?);
                    }
                    *value = slot.clone().unwrap_or(Value::Null);
                    return Ok(());
                }
            }
            for v in map.values_mut() {
                self.replace_placeholders(v, parsed, depth + 1)?;
            }
        } else if let Value::Array(items) = value {
            for v in items {
                self.replace_placeholders(v, parsed, depth + 1)?;
            }
        }
        Ok(())
    }

    /// Converts into a packet that owns its data.
    pub fn into_owned(self) -> Packet<'static> {
        Packet {
            kind: self.kind,
            // The default namespace needs no allocation (this runs for every binary tick).
            namespace: if self.namespace == "/" {
                Cow::Borrowed("/")
            } else {
                Cow::Owned(self.namespace.into_owned())
            },
            id: self.id,
            data: Cow::Owned(self.data.into_owned()),
            name: self.name.map(|n| Cow::Owned(n.into_owned())),
            args: self.args,
            expected_attachments: self.expected_attachments,
            attachments: self.attachments,
        }
    }
}

/// If `arg` is a `{"_placeholder":true,"num":k}` object, returns `k`.
///
/// ```
/// use binary_options_tools::socketio::placeholder_num;
/// assert_eq!(placeholder_num(r#"{"_placeholder":true,"num":2}"#), Some(2));
/// assert_eq!(placeholder_num(r#"{"asset":"EURUSD_otc"}"#), None);
/// ```
pub fn placeholder_num(arg: &str) -> Option<usize> {
    let trimmed = arg.trim_start();
    // Cheap rejection first: most arguments are not placeholders.
    if !trimmed.starts_with('{') || !trimmed.contains("\"_placeholder\"") {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Placeholder {
        #[serde(rename = "_placeholder")]
        placeholder: bool,
        num: usize,
    }
    match serde_json::from_str::<Placeholder>(arg) {
        Ok(p) if p.placeholder => Some(p.num),
        _ => None,
    }
}

/// Decodes a Socket.IO packet (the frame without its Engine.IO `4`).
pub fn decode_packet<'a>(packet: &'a str, limits: &FrameLimits) -> Result<Packet<'a>, CodecError> {
    let bytes = packet.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err(CodecError::UnknownSocketType { found: None });
    };
    let Some(kind) = PacketKind::from_digit(first) else {
        return Err(CodecError::UnknownSocketType {
            found: packet.chars().next(),
        });
    };
    let mut pos = 1;

    let mut expected_attachments = 0;
    if kind.is_binary() {
        let start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == start {
            return Err(CodecError::InvalidAttachmentHeader {
                reason: "no attachment count after the packet type",
            });
        }
        if bytes.get(pos) != Some(&b'-') {
            return Err(CodecError::InvalidAttachmentHeader {
                reason: "the attachment count is not followed by `-`",
            });
        }
        // Digits only, so parsing fails only on overflow: then it is absurd anyway.
        let n: usize = packet[start..pos].parse().unwrap_or(usize::MAX);
        if n > limits.max_attachments {
            return Err(CodecError::TooManyAttachments {
                announced: n,
                max: limits.max_attachments,
            });
        }
        expected_attachments = n;
        pos += 1;
    }

    let mut namespace = Cow::Borrowed("/");
    if bytes.get(pos) == Some(&b'/') {
        let start = pos;
        while pos < bytes.len() && bytes[pos] != b',' {
            pos += 1;
        }
        namespace = Cow::Borrowed(&packet[start..pos]);
        if pos < bytes.len() {
            pos += 1; // the comma
        }
    }

    let mut id = None;
    let id_start = pos;
    while pos < bytes.len() && bytes[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos > id_start {
        id = Some(
            packet[id_start..pos]
                .parse::<u64>()
                .map_err(|_| CodecError::InvalidAckId)?,
        );
    }

    // `pos` only ever advanced over ASCII bytes, so it is a char boundary.
    let data = &packet[pos..];
    let mut name = None;
    let mut args = Vec::new();
    match kind {
        PacketKind::Event | PacketKind::BinaryEvent => {
            let items = split_array(data, "an event")?;
            let Some(first) = items.first() else {
                return Err(CodecError::InvalidEvent {
                    reason: "the event array is empty",
                });
            };
            name = Some(
                json_string(&data[first.clone()]).ok_or(CodecError::InvalidEvent {
                    reason: "the first element is not the event name string",
                })?,
            );
            args = items[1..].to_vec();
        }
        PacketKind::Ack | PacketKind::BinaryAck => {
            args = split_array(data, "an ack")?;
        }
        PacketKind::Connect | PacketKind::ConnectError => {
            if !data.is_empty() {
                let raw: &RawValue =
                    serde_json::from_str(data).map_err(|e| CodecError::InvalidJson {
                        what: "a connect packet",
                        reason: e.to_string(),
                    })?;
                args.push(offset_of(data, raw.get()));
            }
        }
        PacketKind::Disconnect => {}
    }

    Ok(Packet {
        kind,
        namespace,
        id,
        data: Cow::Borrowed(data),
        name,
        args,
        expected_attachments,
        attachments: Vec::new(),
    })
}

/// Parses `data` as a JSON array and returns the byte range of each element.
fn split_array(data: &str, what: &'static str) -> Result<Vec<Range<usize>>, CodecError> {
    let items: Vec<&RawValue> =
        serde_json::from_str(data).map_err(|e| CodecError::InvalidJson {
            what,
            reason: e.to_string(),
        })?;
    Ok(items.iter().map(|raw| offset_of(data, raw.get())).collect())
}

/// The range `inner` occupies in `outer` (`inner` is a sub-slice borrowed from `outer`).
fn offset_of(outer: &str, inner: &str) -> Range<usize> {
    let start = (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize);
    start..start + inner.len()
}

/// Decodes a JSON string literal, borrowing when it has no escapes.
fn json_string(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
}

/// The fast path: an event frame's name, read without parsing the payload.
///
/// Accepts full frames (`42["name",…]`, `451-["name",…]`, `42/ns,7["name",…]`); returns
/// `None` for anything else, including names with JSON escapes (decode those fully).
///
/// ```
/// use binary_options_tools::event_name;
/// assert_eq!(event_name(r#"451-["updateStream",{"_placeholder":true,"num":0}]"#), Some("updateStream"));
/// assert_eq!(event_name(r#"42["successopenOrder",{"id":"x"}]"#), Some("successopenOrder"));
/// assert_eq!(event_name("2"), None);
/// ```
pub fn event_name(frame: &str) -> Option<&str> {
    let bytes = frame.as_bytes();
    let mut pos = match bytes.get(..2)? {
        b"42" => 2,
        b"45" => {
            let mut p = 2;
            while bytes.get(p)?.is_ascii_digit() {
                p += 1;
            }
            if p == 2 || bytes.get(p)? != &b'-' {
                return None;
            }
            p + 1
        }
        _ => return None,
    };
    if bytes.get(pos) == Some(&b'/') {
        while *bytes.get(pos)? != b',' {
            pos += 1;
        }
        pos += 1;
    }
    while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    if bytes.get(pos..pos + 2)? != b"[\"" {
        return None;
    }
    let start = pos + 2;
    let len = bytes[start..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\')?;
    if bytes[start + len] != b'"' {
        return None;
    }
    // Both ends sit next to ASCII quote bytes, so they are char boundaries.
    frame.get(start..start + len)
}

fn push_json_string(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b != 0x7f)
    {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        // Serializing a `str` cannot fail.
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
}

/// Encodes `42["name",payload]` from a payload that is already JSON (or `42["name"]` for
/// `None`).
///
/// ```
/// use binary_options_tools::socketio::encode_event;
/// assert_eq!(encode_event("ps", None), r#"42["ps"]"#);
/// assert_eq!(encode_event("subfor", Some(r#""EURUSD_otc""#)), r#"42["subfor","EURUSD_otc"]"#);
/// ```
pub fn encode_event(name: &str, payload_json: Option<&str>) -> String {
    let mut out = String::with_capacity(6 + name.len() + payload_json.map_or(0, str::len));
    out.push_str("42[");
    push_json_string(&mut out, name);
    if let Some(payload) = payload_json {
        out.push(',');
        out.push_str(payload);
    }
    out.push(']');
    out
}

/// Encodes `42["name",payload]`, serializing `payload`.
pub fn encode_event_json<T: Serialize + ?Sized>(
    name: &str,
    payload: &T,
) -> Result<String, CodecError> {
    let json = serde_json::to_string(payload).map_err(|e| CodecError::Encode {
        reason: e.to_string(),
    })?;
    Ok(encode_event(name, Some(&json)))
}

/// Encodes the header of a binary event whose arguments are `attachments` placeholders:
/// `451-["name",{"_placeholder":true,"num":0}]` for one. Send the attachments as binary
/// frames right after it, in order.
///
/// ```
/// use binary_options_tools::socketio::encode_binary_event_header;
/// assert_eq!(
///     encode_binary_event_header("updateStream", 1),
///     r#"451-["updateStream",{"_placeholder":true,"num":0}]"#
/// );
/// ```
pub fn encode_binary_event_header(name: &str, attachments: usize) -> String {
    let mut out = format!("45{attachments}-[");
    push_json_string(&mut out, name);
    for num in 0..attachments {
        out.push_str(",{\"_placeholder\":true,\"num\":");
        out.push_str(&num.to_string());
        out.push('}');
    }
    out.push(']');
    out
}

/// Encodes a two-step event carrying `payload` as one JSON attachment: returns the
/// `451-[…]` header and the attachment bytes.
pub fn encode_binary_event_json<T: Serialize + ?Sized>(
    name: &str,
    payload: &T,
) -> Result<(String, Vec<u8>), CodecError> {
    let bytes = serde_json::to_vec(payload).map_err(|e| CodecError::Encode {
        reason: e.to_string(),
    })?;
    Ok((encode_binary_event_header(name, 1), bytes))
}

/// Encodes a namespace connect: `40` (client) or `40{"sid":"…"}` (server ack).
///
/// ```
/// use binary_options_tools::socketio::encode_connect;
/// assert_eq!(encode_connect(None), "40");
/// assert_eq!(encode_connect(Some("def")), r#"40{"sid":"def"}"#);
/// ```
pub fn encode_connect(sid: Option<&str>) -> String {
    match sid {
        None => "40".to_owned(),
        Some(sid) => {
            let mut out = String::from("40{\"sid\":");
            push_json_string(&mut out, sid);
            out.push('}');
            out
        }
    }
}

/// The namespace disconnect `41`.
pub const DISCONNECT: &str = "41";

/// Encodes an ack reply `43<id>[args…]` from arguments that are already JSON.
///
/// ```
/// use binary_options_tools::socketio::encode_ack;
/// assert_eq!(encode_ack(0, &["true"]), "430[true]");
/// ```
pub fn encode_ack(id: u64, args_json: &[&str]) -> String {
    let mut out = format!("43{id}[");
    for (i, arg) in args_json.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(arg);
    }
    out.push(']');
    out
}
