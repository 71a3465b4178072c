//! Just enough of RFC 6455 for the bench servers: the HTTP upgrade, unmasked server frames
//! encoded ahead of time, and masked client frames parsed from a buffer.
//!
//! The servers write pre-encoded bytes straight to the socket so that, in a throughput
//! figure, the server is never the bottleneck: sending a million frames is a handful of
//! `write_all` calls over one buffer. Parsing is a pure function over bytes, testable
//! without sockets.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::error::BenchError;

/// The opcode of a text frame.
pub const TEXT: u8 = 0x1;
/// The opcode of a binary frame.
pub const BINARY: u8 = 0x2;
/// The opcode of a close frame.
pub const CLOSE: u8 = 0x8;
/// The opcode of a ping frame.
pub const PING: u8 = 0x9;
/// The opcode of a pong frame.
pub const PONG: u8 = 0xA;

/// The largest upgrade request accepted (they are a few hundred bytes).
const MAX_REQUEST: usize = 16 * 1024;

/// Appends one unmasked, final server frame with `opcode` and `payload` to `out`.
pub fn encode_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => out.push(len as u8),
        len @ 126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// One frame from a client, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFrame {
    /// The opcode (continuation frames keep opcode 0).
    pub opcode: u8,
    /// The FIN bit.
    pub fin: bool,
    /// The unmasked payload.
    pub payload: Bytes,
}

/// Takes one complete frame off the front of `buf`, or `None` if more bytes are needed.
/// Client frames must be masked (RFC 6455 §5.1); anything else is a protocol error.
pub fn parse_client_frame(
    buf: &mut BytesMut,
    max_payload: usize,
) -> Result<Option<ClientFrame>, BenchError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let fin = buf[0] & 0x80 != 0;
    let opcode = buf[0] & 0x0F;
    if buf[1] & 0x80 == 0 {
        return Err(BenchError::Protocol("a client frame was not masked".into()));
    }
    let (len, header) = match buf[1] & 0x7F {
        126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(raw), 10)
        }
        126 | 127 => return Ok(None),
        short => (u64::from(short), 2),
    };
    let len = usize::try_from(len)
        .ok()
        .filter(|len| *len <= max_payload)
        .ok_or_else(|| BenchError::Protocol(format!("a client frame of {len} bytes")))?;
    if buf.len() < header + 4 + len {
        return Ok(None);
    }
    let mut mask = [0u8; 4];
    mask.copy_from_slice(&buf[header..header + 4]);
    buf.advance(header + 4);
    let mut payload = buf.split_to(len);
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
    Ok(Some(ClientFrame {
        opcode,
        fin,
        payload: payload.freeze(),
    }))
}

/// Completes the server side of the opening handshake on `tcp`: reads the upgrade request
/// and answers `101 Switching Protocols`. Bytes read past the request stay in `buf`.
pub async fn accept_upgrade(tcp: &mut TcpStream, buf: &mut BytesMut) -> Result<(), BenchError> {
    let end = loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() > MAX_REQUEST {
            return Err(BenchError::Protocol(
                "the upgrade request is too long".into(),
            ));
        }
        if tcp.read_buf(buf).await? == 0 {
            return Err(BenchError::Protocol(
                "the client closed during the upgrade".into(),
            ));
        }
    };
    let request = buf.split_to(end);
    let request = std::str::from_utf8(&request)
        .map_err(|_| BenchError::Protocol("the upgrade request is not UTF-8".into()))?;
    let key = request
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, value)| value.trim())
        .ok_or_else(|| BenchError::Protocol("no Sec-WebSocket-Key in the upgrade".into()))?;
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    tcp.write_all(response.as_bytes()).await?;
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(opcode: u8, payload: &[u8]) -> BytesMut {
        let mask = [1u8, 2, 3, 4];
        let mut out = BytesMut::new();
        out.extend_from_slice(&[0x80 | opcode]);
        match payload.len() {
            len @ 0..=125 => out.extend_from_slice(&[0x80 | len as u8]),
            len => {
                out.extend_from_slice(&[0x80 | 126]);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[test]
    fn masked_frames_are_unmasked_and_taken_off_the_buffer_one_at_a_time() {
        let long = vec![b'x'; 300];
        let mut buf = masked(TEXT, b"hello");
        buf.extend_from_slice(&masked(BINARY, &long));
        let first = parse_client_frame(&mut buf, 1 << 20).unwrap().unwrap();
        assert_eq!(
            (first.opcode, first.fin, &first.payload[..]),
            (TEXT, true, &b"hello"[..])
        );
        let second = parse_client_frame(&mut buf, 1 << 20).unwrap().unwrap();
        assert_eq!((second.opcode, second.payload.len()), (BINARY, 300));
        assert!(buf.is_empty());
        assert_eq!(parse_client_frame(&mut buf, 1 << 20).unwrap(), None);
    }

    #[test]
    fn a_partial_frame_waits_for_more_bytes_and_an_unmasked_one_is_refused() {
        let full = masked(TEXT, b"hello");
        let mut partial = BytesMut::from(&full[..full.len() - 1]);
        assert_eq!(parse_client_frame(&mut partial, 1 << 20).unwrap(), None);
        assert_eq!(partial.len(), full.len() - 1, "nothing consumed");
        let mut unmasked = BytesMut::from(&[0x81u8, 0x01, b'a'][..]);
        assert!(parse_client_frame(&mut unmasked, 1 << 20).is_err());
    }

    #[test]
    fn server_frames_use_the_shortest_length_encoding() {
        let mut out = Vec::new();
        encode_frame(&mut out, TEXT, b"abc");
        assert_eq!(out, [0x81, 3, b'a', b'b', b'c']);
        out.clear();
        encode_frame(&mut out, BINARY, &[0u8; 200]);
        assert_eq!(&out[..4], &[0x82, 126, 0, 200]);
        assert_eq!(out.len(), 4 + 200);
    }
}
