//! The event layer between the transport and the modules.
//!
//! The platform sends most events either in one step (`42["name",payload]`) or in two
//! (`451-["name",{"_placeholder":true,"num":0}]` followed by a binary frame holding the
//! payload). [`EventStream`] pairs the two-step frames with the [`Reassembler`] and hands the
//! runner one normalized text message per event, `42["name",payload]`, so every module
//! handles both deliveries with one rule and one parser. One-step frames and Engine.IO
//! control frames pass through untouched (no decoding on the fast path).
//!
//! It also turns the server's `41` (namespace disconnect) and Engine.IO `1` (close) into the
//! end of the connection, so the runner reconnects (and the connector then reports a
//! rejected session properly).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use core_pre::{Message, MessageStream, Text, TransportError, TransportErrorKind};
use futures::Stream;
use serde::Deserialize;

use crate::limits::FrameLimits;
use crate::reassembler::Reassembler;
use crate::socketio::{Packet, PacketKind, placeholder_num};

/// Wraps a transport stream, normalizing two-step events (see the module docs).
pub(crate) struct EventStream {
    inner: MessageStream,
    reassembler: Reassembler,
    malformed: Arc<AtomicU64>,
    server_closed: bool,
    /// A canonical header (`451-["name",{placeholder 0}]`) waits for its attachment,
    /// handled without the general decoder: the platform's hot path (every tick).
    fast_pending: bool,
    /// The last canonical header and its normalized frame's head: consecutive ticks share
    /// the header, which is then compared instead of parsed again.
    canonical: Option<CanonicalHeader>,
    /// Where the normalized frames are written (see [`FrameArena`]).
    frames: FrameArena,
    max_payload: usize,
}

impl EventStream {
    /// Normalizes `inner`; malformed frames are dropped, logged, and counted in `malformed`.
    pub(crate) fn new(
        inner: MessageStream,
        limits: FrameLimits,
        malformed: Arc<AtomicU64>,
    ) -> Self {
        EventStream {
            inner,
            reassembler: Reassembler::new(limits),
            malformed,
            server_closed: false,
            fast_pending: false,
            canonical: None,
            frames: FrameArena::default(),
            max_payload: limits.max_payload_bytes,
        }
    }

    /// True once the server itself ended the session (`41` or Engine.IO `1`), as opposed
    /// to the connection failing underneath it.
    pub(crate) fn server_closed(&self) -> bool {
        self.server_closed
    }

    fn reject(&self, what: &str, error: &dyn std::fmt::Display) {
        self.malformed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%error, "dropping a malformed {what} frame");
    }

    /// Handles one frame; `None` means "consumed, nothing to yield yet".
    fn on_message(&mut self, msg: Message) -> Option<Result<Message, TransportError>> {
        match msg {
            Message::Text(text) => self.on_text(text),
            Message::Binary(bytes) if self.fast_pending => {
                self.fast_pending = false;
                if bytes.len() > self.max_payload {
                    self.reject("binary", &"attachment over the payload limit");
                    return None;
                }
                // Tick payloads are ASCII: a word-at-a-time check, std's full one otherwise.
                if !bytes.is_ascii() && std::str::from_utf8(&bytes).is_err() {
                    self.reject("binary", &"attachment is not UTF-8 JSON");
                    return None;
                }
                // `fast_pending` is only set along with `canonical`.
                let head = self.canonical.as_ref().map(|c| &*c.head)?;
                let frame = self.frames.frame(&[head, &bytes, b"]"]);
                // SAFETY: the head is UTF-8 (see `CanonicalHeader::head`) and the
                // attachment was just checked to be: a concatenation of UTF-8 strings is
                // UTF-8, so checking it again would only cost instructions.
                #[allow(unsafe_code)]
                let text = unsafe { Text::from_utf8_unchecked(frame) };
                Some(Ok(Message::Text(text)))
            }
            Message::Binary(bytes) => match self.reassembler.push_binary(bytes) {
                Ok(Some(packet)) => match normalize(&packet) {
                    Some(text) => Some(Ok(Message::text(text))),
                    None => {
                        self.reject("binary", &"attachment is not UTF-8 JSON");
                        None
                    }
                },
                Ok(None) => None,
                Err(e) => {
                    self.reject("binary", &e);
                    None
                }
            },
            other => Some(Ok(other)),
        }
    }

    fn on_text(&mut self, text: Text) -> Option<Result<Message, TransportError>> {
        let s = text.as_str();
        if std::mem::take(&mut self.fast_pending) {
            self.reject("binary", &"attachment missing before the next text frame");
        }
        if !self.reassembler.is_pending() {
            if self
                .canonical
                .as_ref()
                .is_some_and(|c| *c.header == *s.as_bytes())
            {
                self.fast_pending = true;
                return None;
            }
            if let Some(name) = canonical_header(s) {
                self.canonical = Some(CanonicalHeader::new(s, name));
                self.fast_pending = true;
                return None;
            }
            // The fast path: everything but binary headers passes through undecoded.
            if s.starts_with("42") || !s.starts_with('4') {
                if s == "1" {
                    self.server_closed = true;
                    return Some(Err(TransportError::new(
                        TransportErrorKind::Closed,
                        "the server closed the Engine.IO session",
                    )));
                }
                return Some(Ok(Message::Text(text)));
            }
            if s.starts_with("41") {
                self.server_closed = true;
                return Some(Err(TransportError::new(
                    TransportErrorKind::Closed,
                    "the server closed the Socket.IO session (41)",
                )));
            }
        }
        let result = match self.reassembler.push_text(s) {
            Err(crate::CodecError::UnexpectedText { .. }) => {
                self.reject("binary", &"attachments missing before the next text frame");
                // The broken packet is dropped; judge this frame on its own.
                self.reassembler.push_text(s)
            }
            other => other,
        };
        match result {
            Ok(Some(_)) => Some(Ok(Message::Text(text))),
            Ok(None) => None,
            Err(e) => {
                self.reject("text", &e);
                None
            }
        }
    }
}

impl Stream for EventStream {
    type Item = Result<Message, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(msg))) => {
                    if let Some(item) = self.on_message(msg) {
                        return Poll::Ready(Some(item));
                    }
                }
                other => return other,
            }
        }
    }
}

/// A canonical binary header as last seen, and the head of its normalized frames.
struct CanonicalHeader {
    /// The whole header frame.
    header: Box<[u8]>,
    /// `42["name",`: ASCII around the name, a `&str` cut between two ASCII quotes, so
    /// UTF-8 (the fast path relies on it).
    head: Box<[u8]>,
}

impl CanonicalHeader {
    fn new(header: &str, name: &str) -> Self {
        CanonicalHeader {
            header: header.as_bytes().into(),
            head: format!("42[\"{name}\",").into_bytes().into(),
        }
    }
}

/// A buffer the normalized frames are cut from, so a tick costs no allocation.
///
/// Each frame is written at the end of one shared block and split off as its own
/// [`Bytes`] (a reference count, no copy). Once every frame cut from the block has been
/// dropped, the block is reused from its start; while some are still alive (queued for a
/// module), a full block is left to them and a new one started. A frame larger than a
/// quarter of a block gets a buffer of its own, so a rare large event never makes the
/// block grow, and a frame kept for long pins at most one block.
#[derive(Default)]
struct FrameArena {
    block: BytesMut,
}

impl FrameArena {
    /// The size of a block: some 60 tick frames.
    const BLOCK: usize = 4096;

    /// The concatenation of `parts`, as one frame.
    fn frame(&mut self, parts: &[&[u8]]) -> Bytes {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > Self::BLOCK / 4 {
            return Bytes::from(parts.concat());
        }
        if self.block.capacity() < len {
            // Reclaims the block when no frame of it is alive, else starts a new one.
            self.block.reserve(Self::BLOCK);
        }
        for part in parts {
            self.block.extend_from_slice(part);
        }
        self.block.split().freeze()
    }
}

/// What precedes the event name in the platform's usual binary header: the name starts
/// this many bytes into the header (see [`canonical_header`]).
const CANONICAL_PREFIX: &str = "451-[\"";

/// The name in the platform's usual binary header, `451-["name",{"_placeholder":true,"num":0}]`
/// (no namespace, no ack id, one attachment in the only argument). Anything else is left
/// to the general decoder.
fn canonical_header(frame: &str) -> Option<&str> {
    const TAIL: &str = "\",{\"_placeholder\":true,\"num\":0}]";
    let rest = frame.strip_prefix(CANONICAL_PREFIX)?;
    let name = rest.strip_suffix(TAIL)?;
    // Bytes, not chars (both are ASCII), and no early exit: the compiler scans a word at
    // a time.
    let special = name
        .bytes()
        .fold(false, |found, b| found | (b == b'"') | (b == b'\\'));
    let plain = !name.is_empty() && !special;
    plain.then_some(name)
}

/// Rebuilds a complete binary packet as the equivalent one-step text frame, placing each
/// attachment's JSON where its placeholder was.
pub(crate) fn normalize(packet: &Packet<'_>) -> Option<String> {
    let attachments = packet.attachments();
    let size: usize = packet.data().len() + attachments.iter().map(|a| a.len()).sum::<usize>();
    let mut out = String::with_capacity(size + 16);
    out.push_str(match packet.kind() {
        PacketKind::BinaryAck | PacketKind::Ack => "43",
        _ => "42",
    });
    if packet.namespace() != "/" {
        out.push_str(packet.namespace());
        out.push(',');
    }
    if let Some(id) = packet.id() {
        out.push_str(&id.to_string());
    }
    out.push('[');
    let mut first = true;
    if let Some(name) = packet.event_name() {
        out.push_str(&serde_json::to_string(name).ok()?);
        first = false;
    }
    for arg in packet.args() {
        if !first {
            out.push(',');
        }
        first = false;
        match placeholder_num(arg) {
            Some(num) => out.push_str(std::str::from_utf8(attachments.get(num)?).ok()?),
            None => out.push_str(arg),
        }
    }
    out.push(']');
    Some(out)
}

/// The first argument (the payload) of a normalized event frame, as raw JSON.
pub(crate) fn payload(text: &str) -> Option<&str> {
    match crate::engineio::decode_text(text, &FrameLimits::default()) {
        Ok(crate::Frame::Message(packet)) => {
            // `arg` borrows from `packet`, which borrows from `text`: re-slice into `text`.
            let arg = packet.arg(0)?;
            let start = arg.as_ptr() as usize - text.as_ptr() as usize;
            text.get(start..start + arg.len())
        }
        _ => None,
    }
}

/// Everything between the event name and the closing bracket of `42["name",…]`: the
/// payload when the event has one argument, which is how the platform sends events. No
/// decoding; callers parse it and fall back to [`payload`] if that fails.
fn payload_after_name(text: &str) -> Option<&str> {
    let name = crate::event_name(text)?;
    let name_end = name.as_ptr() as usize - text.as_ptr() as usize + name.len();
    text.get(name_end..)?.strip_prefix("\",")?.strip_suffix(']')
}

/// Parses the payload of a normalized event frame into `T` (borrowing from `text` where
/// `T` can). The common one-argument frame is parsed in place, without decoding the frame
/// first.
pub(crate) fn parse_payload<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, String> {
    if let Some(raw) = payload_after_name(text) {
        if let Ok(value) = serde_json::from_str(raw) {
            return Ok(value);
        }
    }
    let raw = payload(text).ok_or_else(|| "the event has no payload".to_owned())?;
    serde_json::from_str(raw).map_err(|e| e.to_string())
}

/// Whether `frame` is the event `name`. The normalized form `42["name",…` is compared in
/// place (a few bytes, no scan); anything else goes through [`crate::event_name`].
pub(crate) fn is_event(frame: &str, name: &str) -> bool {
    match frame.strip_prefix("42[\"") {
        Some(rest) => rest
            .strip_prefix(name)
            .is_some_and(|after| after.starts_with('"')),
        None => crate::event_name(frame) == Some(name),
    }
}

/// A rule matching normalized events whose name is one of `names`. It compares prefixes
/// instead of parsing, and declares them: its [`Interest`](core_pre::Interest) is the
/// canonical heads `42["name"` (plus any frame not in the canonical `42["` shape, which
/// [`is_event`] decodes), so the router asks it only about frames that can be its events
/// — a tick costs the modules that do not want it nothing.
pub(crate) fn event_rule(names: &'static [&'static str]) -> Box<dyn core_pre::Rule> {
    Box::new(EventRule(names))
}

/// See [`event_rule`].
struct EventRule(&'static [&'static str]);

impl core_pre::Rule for EventRule {
    fn matches(&mut self, msg: &Message) -> bool {
        msg.as_text()
            .is_some_and(|text| self.0.iter().any(|name| is_event(text, name)))
    }

    fn interest(&self) -> core_pre::Interest {
        core_pre::Interest::text(self.0.iter().map(|name| format!("42[\"{name}\"")))
            .or_text_not_starting_with("42[\"")
    }
}

/// The payload of the one-argument event `42["name",payload]` when `frame` is exactly that
/// (the normalized shape), sliced in place.
pub(crate) fn payload_of<'a>(frame: &'a str, name: &str) -> Option<&'a str> {
    frame
        .strip_prefix("42[\"")?
        .strip_prefix(name)?
        .strip_prefix("\",")?
        .strip_suffix(']')
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn stream_of(frames: Vec<Message>) -> EventStream {
        let inner: MessageStream = Box::pin(futures::stream::iter(frames.into_iter().map(Ok)));
        EventStream::new(inner, FrameLimits::default(), Arc::default())
    }

    #[test]
    fn event_rules_match_only_inside_their_interest() {
        use core_pre::Rule;
        let mut rule = event_rule(&["updateStream", "updateBalance"]);
        let interest = rule.interest();
        let frames = [
            (r#"42["updateStream",[["EURUSD_otc",1,1.1]]]"#, true),
            (r#"42["updateBalance",{"balance":1}]"#, true),
            (r#"42["updateStreamX",1]"#, false),
            (r#"42["successupdateBalance",1]"#, false),
            (r#"427["updateStream",1]"#, true),
            (r#"42/ns,["updateBalance",1]"#, true),
            (
                r#"451-["updateStream",{"_placeholder":true,"num":0}]"#,
                true,
            ),
            ("2", false),
        ];
        for (frame, want) in frames {
            let msg = Message::text(frame);
            assert_eq!(rule.matches(&msg), want, "{frame}");
            if want {
                assert!(interest.covers(&msg), "{frame} must be in the interest");
            }
        }
        assert!(!interest.covers(&Message::text(r#"42["successopenOrder",{}]"#)));
        assert!(!interest.covers(&Message::binary(vec![1])));
    }

    #[test]
    fn arena_frames_keep_their_bytes_across_reused_and_new_blocks() {
        let mut arena = FrameArena::default();
        let mut kept = Vec::new();
        for i in 0..5_000usize {
            // Small frames (many per block), now and then one larger than a quarter block.
            let body = "x".repeat(if i % 97 == 0 { 2_000 } else { i % 80 });
            let frame = arena.frame(&[b"42[\"e\",", i.to_string().as_bytes(), body.as_bytes()]);
            let want = format!("42[\"e\",{i}{body}");
            assert_eq!(&frame[..], want.as_bytes());
            // Keep some frames alive (their blocks cannot be reused), drop the others.
            if i % 13 == 0 {
                kept.push((frame, want));
            }
        }
        for (frame, want) in &kept {
            assert_eq!(&frame[..], want.as_bytes(), "a kept frame was overwritten");
        }
    }

    #[tokio::test]
    async fn two_step_events_come_out_as_one_step_frames() {
        let mut events = stream_of(vec![
            Message::text("2"),
            Message::text(r#"451-["updateStream",{"_placeholder":true,"num":0}]"#),
            Message::binary(br#"[["EURUSD_otc",1.5,1.1]]"#.to_vec()),
            Message::text(r#"42["successupdateBalance",{"balance":10}]"#),
        ]);
        let got: Vec<String> = (&mut events)
            .map(|m| m.unwrap().as_text().unwrap().to_owned())
            .collect()
            .await;
        assert_eq!(
            got,
            vec![
                "2",
                r#"42["updateStream",[["EURUSD_otc",1.5,1.1]]]"#,
                r#"42["successupdateBalance",{"balance":10}]"#
            ]
        );
    }

    #[tokio::test]
    async fn repeated_and_changing_headers_pair_with_their_own_attachments() {
        let counter = Arc::new(AtomicU64::new(0));
        let header = |name: &str| {
            Message::text(format!(r#"451-["{name}",{{"_placeholder":true,"num":0}}]"#))
        };
        let inner: MessageStream = Box::pin(futures::stream::iter(
            vec![
                header("updateStream"),
                Message::binary(b"[1]".to_vec()),
                header("updateStream"),
                Message::binary(b"[2]".to_vec()),
                header("other"),
                Message::binary(b"{}".to_vec()),
                // Not UTF-8: dropped and counted, the next pair is still read.
                header("updateStream"),
                Message::binary(vec![b'[', 0xff, b']']),
                header("updateStream"),
                Message::binary(b"[3]".to_vec()),
            ]
            .into_iter()
            .map(Ok),
        ));
        let events = EventStream::new(inner, FrameLimits::default(), counter.clone());
        let got: Vec<String> = events
            .map(|m| m.unwrap().as_text().unwrap().to_owned())
            .collect()
            .await;
        assert_eq!(
            got,
            [
                r#"42["updateStream",[1]]"#,
                r#"42["updateStream",[2]]"#,
                r#"42["other",{}]"#,
                r#"42["updateStream",[3]]"#,
            ]
        );
        assert_eq!(counter.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn malformed_frames_are_dropped_and_counted_and_41_ends_the_stream() {
        let counter = Arc::new(AtomicU64::new(0));
        let inner: MessageStream = Box::pin(futures::stream::iter(
            vec![
                Message::binary(vec![1, 2, 3]),
                Message::text(r#"451-["x",{"_placeholder":true,"num":0}]"#),
                Message::text(r#"42["after"]"#),
                Message::text("41"),
            ]
            .into_iter()
            .map(Ok),
        ));
        let mut events = EventStream::new(inner, FrameLimits::default(), counter.clone());
        let first = events.next().await.unwrap().unwrap();
        assert_eq!(first.as_text(), Some(r#"42["after"]"#));
        assert!(events.next().await.unwrap().is_err(), "41 ends the session");
        assert_eq!(counter.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn general_binary_packets_are_normalized_too() {
        let mut events = stream_of(vec![
            // Two attachments, and an ack id: not the canonical shape.
            Message::text(
                r#"452-7["pair",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            ),
            Message::binary(b"[1]".to_vec()),
            Message::binary(br#"{"a":2}"#.to_vec()),
        ]);
        let got = events.next().await.unwrap().unwrap();
        assert_eq!(got.as_text(), Some(r#"427["pair",[1],{"a":2}]"#));
    }

    #[test]
    fn only_the_canonical_header_takes_the_fast_path() {
        assert_eq!(
            canonical_header(r#"451-["updateStream",{"_placeholder":true,"num":0}]"#),
            Some("updateStream")
        );
        assert_eq!(
            canonical_header(r#"451-["a\"b",{"_placeholder":true,"num":0}]"#),
            None
        );
        assert_eq!(
            canonical_header(r#"451-["x",{"_placeholder":true,"num":1}]"#),
            None
        );
        assert_eq!(
            canonical_header(r#"451-/ns,["x",{"_placeholder":true,"num":0}]"#),
            None
        );
    }

    #[test]
    fn payloads_parse_in_place_and_fall_back_for_several_arguments() {
        let one: Vec<u32> = parse_payload(r#"42["e",[1,2]]"#).unwrap();
        assert_eq!(one, [1, 2]);
        // Two arguments: the in-place slice is not one JSON value; the decoder takes over.
        let first: Vec<u32> = parse_payload(r#"42["e",[1],[2]]"#).unwrap();
        assert_eq!(first, [1]);
    }

    #[test]
    fn payload_slices_the_first_argument() {
        assert_eq!(payload(r#"42["e",{"a":[1,2]},3]"#), Some(r#"{"a":[1,2]}"#));
        assert_eq!(payload(r#"42["ps"]"#), None);
        let v: serde_json::Value = parse_payload(r#"42["e",{"a":1}]"#).unwrap();
        assert_eq!(v["a"], 1);
    }
}
