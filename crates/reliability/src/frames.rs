//! [`FrameCursor`]: where WebSocket frames start in a server-to-client byte stream.
//!
//! The proxy forwards raw TCP chunks, and a chunk boundary is not a frame boundary. To
//! inject a crafted frame (an oversized one, say) the proxy must place it where a frame
//! starts, or the client would read it as the middle of another frame and fail for the
//! wrong reason. The cursor follows the stream: first the HTTP upgrade response (up to the
//! blank line), then frame after frame (header, then payload), and says where each frame
//! begins. It only reads lengths; it never buffers.

const END_OF_HEADERS: &[u8; 4] = b"\r\n\r\n";
/// The longest frame header: 2 bytes, 8 bytes of extended length, 4 bytes of mask key.
const MAX_HEADER: usize = 14;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The HTTP upgrade response: how many bytes of the blank line matched so far.
    Http { matched: usize },
    /// A frame header: the bytes seen so far (none at a frame boundary).
    Header { seen: [u8; MAX_HEADER], len: usize },
    /// A frame payload: bytes still to come.
    Payload { left: u64 },
}

/// Follows a server-to-client WebSocket byte stream (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct FrameCursor {
    phase: Phase,
}

impl Default for FrameCursor {
    fn default() -> Self {
        FrameCursor {
            phase: Phase::Http { matched: 0 },
        }
    }
}

/// The header length once its first two bytes are known.
fn header_len(seen: &[u8]) -> Option<usize> {
    let second = *seen.get(1)?;
    let extended = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    Some(2 + extended + mask)
}

/// The payload length of a complete header.
fn payload_len(header: &[u8]) -> u64 {
    match header[1] & 0x7f {
        126 => u64::from(u16::from_be_bytes([header[2], header[3]])),
        127 => header[2..10]
            .iter()
            .fold(0u64, |len, byte| (len << 8) | u64::from(*byte)),
        short => u64::from(short),
    }
}

impl FrameCursor {
    fn fresh_header() -> Phase {
        Phase::Header {
            seen: [0; MAX_HEADER],
            len: 0,
        }
    }

    /// True when the next byte of the stream starts a frame.
    pub(crate) fn at_boundary(&self) -> bool {
        matches!(self.phase, Phase::Header { len: 0, .. })
    }

    /// Follows `bytes`; returns the offsets in `bytes` at which a frame starts.
    pub(crate) fn advance(&mut self, bytes: &[u8]) -> Vec<usize> {
        let mut starts = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            match &mut self.phase {
                Phase::Http { matched } => {
                    let byte = bytes[at];
                    at += 1;
                    *matched = if byte == END_OF_HEADERS[*matched] {
                        *matched + 1
                    } else if byte == b'\r' {
                        1
                    } else {
                        0
                    };
                    if *matched == END_OF_HEADERS.len() {
                        self.phase = Self::fresh_header();
                    }
                }
                Phase::Header { seen, len } => {
                    if *len == 0 {
                        starts.push(at);
                    }
                    seen[*len] = bytes[at];
                    *len += 1;
                    at += 1;
                    if header_len(&seen[..*len]) == Some(*len) {
                        let payload = payload_len(&seen[..*len]);
                        self.phase = if payload == 0 {
                            Self::fresh_header()
                        } else {
                            Phase::Payload { left: payload }
                        };
                    }
                }
                Phase::Payload { left } => {
                    let available = (bytes.len() - at) as u64;
                    let take = available.min(*left);
                    // `take` is at most `available`, which came from a usize.
                    at += take as usize;
                    *left -= take;
                    if *left == 0 {
                        self.phase = Self::fresh_header();
                    }
                }
            }
        }
        starts
    }
}

/// The header of an unmasked, final binary frame announcing `len` payload bytes, with the
/// 64-bit length form: injected alone, it makes a client decide on the frame's size before
/// any payload arrives.
pub fn binary_frame_header(len: u64) -> Vec<u8> {
    let mut header = vec![0x82, 127];
    header.extend_from_slice(&len.to_be_bytes());
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0x81];
        match payload.len() {
            len @ 0..=125 => out.push(len as u8),
            len @ 126..=65535 => {
                out.push(126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                out.push(127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn finds_every_frame_start_after_the_upgrade_response() {
        let response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        let mut stream = response.to_vec();
        let first = stream.len();
        stream.extend(frame(b"hello"));
        let second = stream.len();
        stream.extend(frame(&[7u8; 300]));
        let third = stream.len();
        stream.extend(frame(&[1u8; 70_000]));
        let fourth = stream.len();
        stream.extend(frame(b""));

        let mut cursor = FrameCursor::default();
        assert!(!cursor.at_boundary());
        assert_eq!(cursor.advance(&stream), vec![first, second, third, fourth]);
        assert!(cursor.at_boundary());
    }

    #[test]
    fn frame_starts_survive_any_chunking() {
        let mut stream = b"HTTP/1.1 101 OK\r\n\r\n".to_vec();
        let mut expected = Vec::new();
        for size in [0usize, 1, 125, 126, 127, 4000] {
            expected.push(stream.len());
            stream.extend(frame(&vec![b'x'; size]));
        }
        for chunk in [1, 2, 3, 7, 64, 1000] {
            let mut cursor = FrameCursor::default();
            let mut found = Vec::new();
            for (index, piece) in stream.chunks(chunk).enumerate() {
                found.extend(
                    cursor
                        .advance(piece)
                        .into_iter()
                        .map(|at| at + index * chunk),
                );
            }
            assert_eq!(found, expected, "chunks of {chunk}");
            assert!(cursor.at_boundary());
        }
    }

    #[test]
    fn masked_headers_and_the_injected_header_have_the_right_length() {
        assert_eq!(header_len(&[0x81, 0x85]), Some(6));
        assert_eq!(header_len(&[0x81, 0xfe]), Some(8));
        let header = binary_frame_header(1 << 30);
        assert_eq!(header_len(&header), Some(header.len()));
        assert_eq!(payload_len(&header), 1 << 30);
    }
}
