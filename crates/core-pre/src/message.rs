//! [`Message`]: the transport-neutral WebSocket message every layer speaks.
//!
//! Payloads are reference-counted [`Bytes`], so cloning a message for fan-out to several
//! modules copies a pointer, not the payload. Transports convert their own frame type into
//! this one without copying where they can (tungstenite's payloads are `Bytes` too).

use std::fmt;
use std::ops::Deref;
use std::str::Utf8Error;

use bytes::Bytes;

/// A UTF-8 string backed by [`Bytes`]: cheap to clone and to slice.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(Bytes);

impl Text {
    /// A text from a static string, without allocating.
    pub const fn from_static(text: &'static str) -> Self {
        Text(Bytes::from_static(text.as_bytes()))
    }

    /// Checks that `bytes` are UTF-8 and wraps them without copying.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Text(bytes))
    }

    /// Wraps `bytes` without checking them.
    ///
    /// # Safety
    ///
    /// `bytes` must be valid UTF-8 (for example, a transport's text payload that its own
    /// library already validated). Everything else in this crate relies on it.
    #[allow(unsafe_code)] // An unsafe constructor: the caller vouches for UTF-8 (above).
    pub unsafe fn from_utf8_unchecked(bytes: Bytes) -> Self {
        Text(bytes)
    }

    /// The text as a string slice.
    #[allow(unsafe_code)] // SAFETY below.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor checks UTF-8 or starts from a `str`/`String`, and the
        // bytes are immutable afterwards.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes (no copy).
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Gives up the UTF-8 guarantee and returns the bytes (no copy).
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Bytes::from(s))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The code and reason of a WebSocket close frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The close code (1000 normal, 1001 going away, 3000–4999 application-defined...).
    pub code: u16,
    /// A short human-readable reason (at most 123 bytes on the wire).
    pub reason: Text,
}

impl CloseFrame {
    /// A normal closure (code 1000) with a reason.
    pub fn normal(reason: &'static str) -> Self {
        CloseFrame {
            code: 1000,
            reason: Text::from_static(reason),
        }
    }
}

/// A WebSocket message, independent of the transport that carried it.
#[derive(Clone, PartialEq, Eq)]
pub enum Message {
    /// A text frame (always valid UTF-8).
    Text(Text),
    /// A binary frame.
    Binary(Bytes),
    /// A ping control frame (native transports only; browsers cannot send pings).
    Ping(Bytes),
    /// A pong control frame.
    Pong(Bytes),
    /// A close frame, with an optional code and reason.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Text>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(bytes: impl Into<Bytes>) -> Self {
        Message::Binary(bytes.into())
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text.as_str()),
            _ => None,
        }
    }

    /// The payload bytes of any kind of message (empty for a close without a frame).
    pub fn payload(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(bytes) | Message::Ping(bytes) | Message::Pong(bytes) => bytes,
            Message::Close(Some(frame)) => frame.reason.as_bytes(),
            Message::Close(None) => &[],
        }
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        self.payload().len()
    }

    /// True when the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.payload().is_empty()
    }

    /// True for text messages.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// True for binary messages.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// True for ping, pong and close frames.
    pub fn is_control(&self) -> bool {
        matches!(
            self,
            Message::Ping(_) | Message::Pong(_) | Message::Close(_)
        )
    }

    /// A short name of the message kind, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Text(_) => "text",
            Message::Binary(_) => "binary",
            Message::Ping(_) => "ping",
            Message::Pong(_) => "pong",
            Message::Close(_) => "close",
        }
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::Text(s.into())
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::Text(s.into())
    }
}

impl From<Text> for Message {
    fn from(t: Text) -> Self {
        Message::Text(t)
    }
}

impl From<Vec<u8>> for Message {
    fn from(v: Vec<u8>) -> Self {
        Message::Binary(v.into())
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Message::Binary(b)
    }
}

/// Debug output shows at most this many bytes of a payload, so a huge frame never floods a log.
const DEBUG_PREVIEW: usize = 96;

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Text(text) => {
                let s = text.as_str();
                if s.len() <= DEBUG_PREVIEW {
                    write!(f, "Text({s:?})")
                } else {
                    let mut cut = DEBUG_PREVIEW;
                    while !s.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    write!(f, "Text({:?}… {} bytes)", &s[..cut], s.len())
                }
            }
            Message::Binary(b) => write!(f, "Binary({} bytes)", b.len()),
            Message::Ping(b) => write!(f, "Ping({} bytes)", b.len()),
            Message::Pong(b) => write!(f, "Pong({} bytes)", b.len()),
            Message::Close(frame) => write!(f, "Close({frame:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_payload() {
        let msg = Message::text("x".repeat(1000));
        let copy = msg.clone();
        assert_eq!(msg.payload().as_ptr(), copy.payload().as_ptr());
    }

    #[test]
    fn text_rejects_invalid_utf8() {
        assert!(Text::from_utf8(Bytes::from_static(&[0xff, 0xfe])).is_err());
        assert_eq!(Text::from_utf8(Bytes::from_static(b"ok")).unwrap(), "ok");
    }

    #[test]
    fn debug_truncates_long_text_on_a_char_boundary() {
        let msg = Message::text("é".repeat(200));
        let shown = format!("{msg:?}");
        assert!(shown.contains("400 bytes"), "{shown}");
        assert!(shown.len() < 200);
    }
}
