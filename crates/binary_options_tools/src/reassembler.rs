//! [`Reassembler`]: pairs a binary packet's header (`45<n>-[…]`) with the `n` binary frames
//! that follow it, in order, and hands out complete packets.
//!
//! Engine.IO sends a binary packet as one text frame announcing `n` attachments followed by
//! `n` binary WebSocket frames, with nothing in between. The reassembler is the small state
//! machine that enforces that order: a binary frame with no header pending, or a text frame
//! while attachments are still missing, is reported as an error and the broken packet is
//! dropped, so one bad frame never poisons the stream. It is bounded by [`FrameLimits`].

use bytes::Bytes;

use crate::engineio::{Frame, decode_text};
use crate::error::CodecError;
use crate::limits::FrameLimits;
use crate::socketio::Packet;

/// Stateful pairing of binary headers with their attachments.
///
/// Feed it every frame of one connection, in order. [`Reassembler::reset`] it when the
/// connection is replaced.
///
/// ```
/// use binary_options_tools::{Frame, Reassembler};
/// let mut r = Reassembler::default();
///
/// // One-step events come straight out.
/// let Some(Frame::Message(p)) = r.push_text(r#"42["ps"]"#).unwrap() else { panic!() };
/// assert_eq!(p.event_name(), Some("ps"));
///
/// // Two-step events come out with the last attachment.
/// assert!(r.push_text(r#"451-["updateStream",{"_placeholder":true,"num":0}]"#).unwrap().is_none());
/// let tick = r.push_binary(&br#"[["EURUSD_otc",1732288888.123,1.05123]]"#[..]).unwrap().unwrap();
/// assert_eq!(tick.event_name(), Some("updateStream"));
/// assert_eq!(tick.payload().unwrap(), Some(&br#"[["EURUSD_otc",1732288888.123,1.05123]]"#[..]));
///
/// // A binary frame nobody announced is an error, not a panic.
/// assert!(r.push_binary(&b"stray"[..]).is_err());
/// ```
#[derive(Debug, Default)]
pub struct Reassembler {
    limits: FrameLimits,
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    packet: Packet<'static>,
    bytes: usize,
}

impl Reassembler {
    /// A reassembler enforcing `limits`.
    pub fn new(limits: FrameLimits) -> Self {
        Reassembler {
            limits,
            pending: None,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &FrameLimits {
        &self.limits
    }

    /// Whether a binary packet is waiting for attachments.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops any half-received packet (call it when the connection is replaced).
    pub fn reset(&mut self) {
        self.pending = None;
    }

    /// Feeds a text frame given as bytes (UTF-8 is checked). See [`Reassembler::push_text`].
    pub fn push_text_bytes<'a>(
        &mut self,
        frame: &'a [u8],
    ) -> Result<Option<Frame<'a>>, CodecError> {
        let text = match std::str::from_utf8(frame) {
            Ok(text) => text,
            Err(e) => {
                // A text frame, even a broken one, ends any packet still missing attachments.
                self.pending = None;
                return Err(CodecError::InvalidUtf8 {
                    valid_up_to: e.valid_up_to(),
                });
            }
        };
        self.push_text(text)
    }

    /// Feeds a text frame.
    ///
    /// Returns `Ok(Some(frame))` for a complete frame, `Ok(None)` when the frame is a binary
    /// header now waiting for its attachments. If attachments were still pending, the
    /// incomplete packet is dropped and [`CodecError::UnexpectedText`] returned *without*
    /// processing `frame`: push it again to process it.
    pub fn push_text<'a>(&mut self, frame: &'a str) -> Result<Option<Frame<'a>>, CodecError> {
        if let Some(pending) = self.pending.take() {
            return Err(CodecError::UnexpectedText {
                pending: pending.packet.event_name().unwrap_or("ack").to_owned(),
                missing: pending.packet.expected_attachments() - pending.packet.attachments().len(),
            });
        }
        match decode_text(frame, &self.limits)? {
            Frame::Message(packet) if !packet.is_complete() => {
                self.pending = Some(Pending {
                    bytes: frame.len(),
                    packet: packet.into_owned(),
                });
                Ok(None)
            }
            other => Ok(Some(other)),
        }
    }

    /// Feeds a binary frame. Returns the packet once its last attachment arrived.
    ///
    /// A binary frame with no header pending is [`CodecError::UnexpectedBinary`]; a packet
    /// whose total size passes the limit is dropped with [`CodecError::PayloadTooLarge`].
    pub fn push_binary(
        &mut self,
        data: impl Into<Bytes>,
    ) -> Result<Option<Packet<'static>>, CodecError> {
        let Some(mut pending) = self.pending.take() else {
            return Err(CodecError::UnexpectedBinary);
        };
        let data = data.into();
        let size = pending.bytes.saturating_add(data.len());
        if size > self.limits.max_payload_bytes {
            return Err(CodecError::PayloadTooLarge {
                size,
                max: self.limits.max_payload_bytes,
            });
        }
        pending.bytes = size;
        pending.packet.push_attachment(data);
        if pending.packet.is_complete() {
            Ok(Some(pending.packet))
        } else {
            self.pending = Some(pending);
            Ok(None)
        }
    }
}
