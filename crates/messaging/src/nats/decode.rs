//! The streaming parser of what a NATS server sends.
//!
//! Two steps, both pure: [`frame_len`] says whether a buffer starts with a whole protocol
//! message and how long it is (reading only its control line), and [`parse_frame`] turns
//! one whole message into a [`ServerOp`]. [`Decoder`] keeps the bytes between WebSocket
//! frames and runs both. Splitting the steps lets a transport cut the byte stream into
//! whole messages (one per `core_pre::Message`) and a handler parse each one later.

use bytes::{Bytes, BytesMut};
use serde::Deserialize;

/// nats-server's own limit on a control line (`max_control_line`), in bytes.
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;

/// The largest payload nats-server can be configured for (64 MiB): the limit until the
/// server's `INFO` says its own `max_payload`.
pub const DEFAULT_MAX_PAYLOAD: usize = 64 << 20;

/// Bounds on what the parser accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest control line (`MSG …`, `INFO {…}`), without its `\r\n`.
    pub max_control_line: usize,
    /// The largest message body, headers included.
    pub max_payload: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_payload: DEFAULT_MAX_PAYLOAD,
        }
    }
}

/// Why bytes from the server are not the NATS protocol. The connection cannot continue
/// after one (the stream has lost its framing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// No `\r\n` within the control line limit.
    #[error("the server sent a control line longer than {limit} bytes")]
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// A message announced a payload over the limit.
    #[error("the server announced a {size}-byte payload, over the {limit}-byte limit")]
    PayloadTooLarge {
        /// The announced size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not a protocol message a server sends.
    #[error("the server sent something that is not the NATS protocol: {0:?}")]
    UnknownOp(String),
    /// A known message with a broken shape.
    #[error("the server sent a malformed {op}: {reason}")]
    Malformed {
        /// The message kind.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
}

fn malformed(op: &'static str, reason: impl Into<String>) -> ProtocolError {
    ProtocolError::Malformed {
        op,
        reason: reason.into(),
    }
}

/// At most 40 characters of `bytes`, for an error message.
fn excerpt(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(40)];
    let mut text: String = String::from_utf8_lossy(shown)
        .chars()
        .map(|c| if c.is_control() { '·' } else { c })
        .collect();
    if bytes.len() > 40 {
        text.push('…');
    }
    text
}

/// What the server's `INFO` says (the fields a client uses; the rest is ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The server's id.
    pub server_id: String,
    /// The server's name.
    pub server_name: String,
    /// The server's version.
    pub version: String,
    /// The protocol level.
    pub proto: i64,
    /// The largest message (headers and body) the server accepts.
    pub max_payload: usize,
    /// Whether it understands `HPUB`/`HMSG`.
    pub headers: bool,
    /// Whether it wants credentials in `CONNECT`.
    pub auth_required: bool,
    /// The id it gave this client.
    pub client_id: Option<u64>,
}

/// The header block of an `HMSG`: the status line and the headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// The status code after `NATS/1.0`, if any (`503` means "no responders").
    pub status: Option<u16>,
    /// The words after the status code.
    pub description: String,
    /// The headers, in order.
    pub entries: Vec<(String, String)>,
}

impl Headers {
    /// The status `503`: a request found nobody subscribed to its subject.
    pub fn is_no_responders(&self) -> bool {
        self.status == Some(503)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One protocol message from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOp {
    /// `INFO {…}`.
    Info(Box<ServerInfo>),
    /// `MSG` or `HMSG`: a message for subscription `sid`.
    Msg {
        /// The subject it was published on.
        subject: String,
        /// The subscription it is for.
        sid: u64,
        /// Where a reply goes.
        reply_to: Option<String>,
        /// The headers, for an `HMSG`.
        headers: Option<Headers>,
        /// The body.
        payload: Bytes,
    },
    /// `PING`: answer `PONG`.
    Ping,
    /// `PONG`: the answer to our `PING`.
    Pong,
    /// `+OK` (only in verbose mode).
    Ok,
    /// `-ERR 'text'`: the text without its quotes.
    Err(String),
}

/// A control line, read.
enum Line<'a> {
    Info(&'a str),
    Msg {
        subject: &'a str,
        sid: u64,
        reply_to: Option<&'a str>,
        header_len: Option<usize>,
        total_len: usize,
    },
    Ping,
    Pong,
    Ok,
    Err(&'a str),
}

const VERBS: [&[u8]; 7] = [b"INFO", b"MSG", b"HMSG", b"PING", b"PONG", b"+OK", b"-ERR"];

/// Fails at once when the first bytes cannot begin any server verb, so garbage is
/// refused without waiting for a line end that may never come.
fn check_start(buf: &[u8]) -> Result<(), ProtocolError> {
    let head = &buf[..buf.len().min(4)];
    let plausible = VERBS.iter().any(|verb| {
        let n = head.len().min(verb.len());
        head[..n].eq_ignore_ascii_case(&verb[..n])
    });
    if plausible {
        Ok(())
    } else {
        Err(ProtocolError::UnknownOp(excerpt(buf)))
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

fn parse_size(op: &'static str, what: &str, text: &str) -> Result<usize, ProtocolError> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(op, format!("{what} {text:?} is not a number")));
    }
    text.parse()
        .map_err(|_| malformed(op, format!("{what} {text:?} is not a number")))
}

fn parse_line<'a>(line: &'a [u8], limits: &Limits) -> Result<Line<'a>, ProtocolError> {
    let verb_end = line
        .iter()
        .position(|b| *b == b' ' || *b == b'\t')
        .unwrap_or(line.len());
    let verb = &line[..verb_end];
    let rest = &line[verb_end..];
    let text = |op: &'static str| {
        std::str::from_utf8(rest).map_err(|_| malformed(op, "the line is not UTF-8"))
    };
    let bare = |op: &'static str, line: Line<'static>| {
        if rest.iter().all(|b| *b == b' ' || *b == b'\t') {
            Ok(line)
        } else {
            Err(malformed(op, "unexpected arguments"))
        }
    };
    if verb.eq_ignore_ascii_case(b"MSG") || verb.eq_ignore_ascii_case(b"HMSG") {
        let headers = verb.len() == 4;
        let op = if headers { "HMSG" } else { "MSG" };
        let args: Vec<&str> = text(op)?
            .split([' ', '\t'])
            .filter(|a| !a.is_empty())
            .collect();
        let (subject, sid, reply_to, sizes) = match (headers, args.as_slice()) {
            (false, [s, id, n]) => (*s, *id, None, [*n, *n]),
            (false, [s, id, r, n]) => (*s, *id, Some(*r), [*n, *n]),
            (true, [s, id, h, n]) => (*s, *id, None, [*h, *n]),
            (true, [s, id, r, h, n]) => (*s, *id, Some(*r), [*h, *n]),
            _ => {
                return Err(malformed(
                    op,
                    format!(
                        "{} arguments where the protocol has {}",
                        args.len(),
                        if headers { "4 or 5" } else { "3 or 4" }
                    ),
                ));
            }
        };
        let sid = parse_size(op, "sid", sid)? as u64;
        let total_len = parse_size(op, "size", sizes[1])?;
        let header_len = if headers {
            let h = parse_size(op, "header size", sizes[0])?;
            if h > total_len {
                return Err(malformed(op, "header size larger than the total size"));
            }
            Some(h)
        } else {
            None
        };
        if total_len > limits.max_payload {
            return Err(ProtocolError::PayloadTooLarge {
                size: total_len,
                limit: limits.max_payload,
            });
        }
        return Ok(Line::Msg {
            subject,
            sid,
            reply_to,
            header_len,
            total_len,
        });
    }
    if verb.eq_ignore_ascii_case(b"PING") {
        return bare("PING", Line::Ping);
    }
    if verb.eq_ignore_ascii_case(b"PONG") {
        return bare("PONG", Line::Pong);
    }
    if verb.eq_ignore_ascii_case(b"+OK") {
        return bare("+OK", Line::Ok);
    }
    if verb.eq_ignore_ascii_case(b"INFO") {
        return Ok(Line::Info(text("INFO")?.trim()));
    }
    if verb.eq_ignore_ascii_case(b"-ERR") {
        let t = text("-ERR")?.trim();
        let t = t
            .strip_prefix('\'')
            .and_then(|t| t.strip_suffix('\''))
            .unwrap_or(t);
        return Ok(Line::Err(t.trim()));
    }
    Err(ProtocolError::UnknownOp(excerpt(line)))
}

/// The length of the whole protocol message at the start of `buf`, `None` when more bytes
/// are needed, or why `buf` is not the protocol.
pub fn frame_len(buf: &[u8], limits: &Limits) -> Result<Option<usize>, ProtocolError> {
    if buf.is_empty() {
        return Ok(None);
    }
    check_start(buf)?;
    let window = &buf[..buf.len().min(limits.max_control_line + 2)];
    let Some(line_end) = find_crlf(window) else {
        if buf.len() >= limits.max_control_line + 2 {
            return Err(ProtocolError::LineTooLong {
                limit: limits.max_control_line,
            });
        }
        return Ok(None);
    };
    let line_len = line_end + 2;
    let total = match parse_line(&buf[..line_end], limits)? {
        Line::Msg { total_len, .. } => line_len + total_len + 2,
        _ => line_len,
    };
    Ok((buf.len() >= total).then_some(total))
}

fn parse_headers(block: &[u8]) -> Result<Headers, ProtocolError> {
    const OP: &str = "HMSG";
    let text = std::str::from_utf8(block).map_err(|_| malformed(OP, "headers are not UTF-8"))?;
    let Some(body) = text.strip_suffix("\r\n\r\n") else {
        return Err(malformed(
            OP,
            "the header block does not end with an empty line",
        ));
    };
    let mut lines = body.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let Some(after) = status_line.strip_prefix("NATS/1.0") else {
        return Err(malformed(
            OP,
            "the header block does not start with NATS/1.0",
        ));
    };
    let after = after.trim();
    let mut headers = Headers::default();
    if !after.is_empty() {
        let (code, description) = after.split_once(' ').unwrap_or((after, ""));
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed(
                OP,
                format!("status {code:?} is not a 3-digit code"),
            ));
        }
        headers.status = code.parse().ok();
        headers.description = description.trim().to_owned();
    }
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(malformed(OP, "a header line without `:`"));
        };
        headers
            .entries
            .push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(headers)
}

/// Parses one whole protocol message (as cut by [`frame_len`]).
pub fn parse_frame(frame: Bytes) -> Result<ServerOp, ProtocolError> {
    let limits = Limits {
        max_control_line: frame.len(),
        max_payload: usize::MAX,
    };
    let Some(line_end) = find_crlf(&frame) else {
        return Err(malformed("message", "no line end"));
    };
    match parse_line(&frame[..line_end], &limits)? {
        Line::Ping => Ok(ServerOp::Ping),
        Line::Pong => Ok(ServerOp::Pong),
        Line::Ok => Ok(ServerOp::Ok),
        Line::Err(text) => Ok(ServerOp::Err(text.to_owned())),
        Line::Info(json) => serde_json::from_str::<ServerInfo>(json)
            .map(|info| ServerOp::Info(Box::new(info)))
            .map_err(|e| malformed("INFO", format!("not the expected JSON: {e}"))),
        Line::Msg {
            subject,
            sid,
            reply_to,
            header_len,
            total_len,
        } => {
            let op = if header_len.is_some() { "HMSG" } else { "MSG" };
            let start = line_end + 2;
            let end = start + total_len;
            if frame.len() != end + 2 || &frame[end..] != b"\r\n" {
                return Err(malformed(
                    op,
                    "the payload does not end with \\r\\n where its size says",
                ));
            }
            let subject = subject.to_owned();
            let reply_to = reply_to.map(str::to_owned);
            let (headers, payload) = match header_len {
                Some(h) => (
                    Some(parse_headers(&frame[start..start + h])?),
                    frame.slice(start + h..end),
                ),
                None => (None, frame.slice(start..end)),
            };
            Ok(ServerOp::Msg {
                subject,
                sid,
                reply_to,
                headers,
                payload,
            })
        }
    }
}

/// Keeps the bytes received so far and hands out whole protocol messages.
///
/// ```
/// use messaging::nats::{Decoder, ServerOp};
///
/// let mut decoder = Decoder::default();
/// decoder.extend(b"PING\r\nMSG a.b 1 5\r\nhel");
/// assert_eq!(decoder.next_op().unwrap(), Some(ServerOp::Ping));
/// assert_eq!(decoder.next_op().unwrap(), None); // the MSG is not whole yet
/// decoder.extend(b"lo\r\n");
/// assert!(matches!(decoder.next_op().unwrap(), Some(ServerOp::Msg { sid: 1, .. })));
/// ```
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
    limits: Limits,
}

impl Decoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Self {
        Decoder {
            buf: BytesMut::new(),
            limits,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Sets the payload limit (from the server's `INFO`).
    pub fn set_max_payload(&mut self, max_payload: usize) {
        self.limits.max_payload = max_payload;
    }

    /// Appends received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held that do not make a whole message yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next whole protocol message, as bytes, or `None` until more arrive.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, ProtocolError> {
        Ok(frame_len(&self.buf, &self.limits)?.map(|n| self.buf.split_to(n).freeze()))
    }

    /// The next whole protocol message, parsed, or `None` until more bytes arrive.
    pub fn next_op(&mut self) -> Result<Option<ServerOp>, ProtocolError> {
        match self.next_frame()? {
            Some(frame) => parse_frame(frame).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &[u8] = b"INFO {\"server_id\":\"S1\",\"max_payload\":1048576,\"headers\":true,\"client_id\":7}\r\n\
+OK\r\nPING\r\npong\r\nMSG a.b 1 5\r\nhello\r\nMSG a.c  2\t_INBOX.x 0\r\n\r\n\
HMSG _INBOX.p.1 3 16 16\r\nNATS/1.0 503\r\n\r\n\r\n\
HMSG s 4 r 30 33\r\nNATS/1.0\r\nX-A: 1\r\nX-B: two\r\n\r\nabc\r\n-ERR 'Authorization Violation'\r\n";

    fn all_ops(decoder: &mut Decoder) -> Vec<ServerOp> {
        let mut out = Vec::new();
        while let Some(op) = decoder.next_op().unwrap() {
            out.push(op);
        }
        out
    }

    fn expected() -> Vec<ServerOp> {
        vec![
            ServerOp::Info(Box::new(ServerInfo {
                server_id: "S1".into(),
                max_payload: 1 << 20,
                headers: true,
                client_id: Some(7),
                ..ServerInfo::default()
            })),
            ServerOp::Ok,
            ServerOp::Ping,
            ServerOp::Pong,
            ServerOp::Msg {
                subject: "a.b".into(),
                sid: 1,
                reply_to: None,
                headers: None,
                payload: Bytes::from_static(b"hello"),
            },
            ServerOp::Msg {
                subject: "a.c".into(),
                sid: 2,
                reply_to: Some("_INBOX.x".into()),
                headers: None,
                payload: Bytes::new(),
            },
            ServerOp::Msg {
                subject: "_INBOX.p.1".into(),
                sid: 3,
                reply_to: None,
                headers: Some(Headers {
                    status: Some(503),
                    ..Headers::default()
                }),
                payload: Bytes::new(),
            },
            ServerOp::Msg {
                subject: "s".into(),
                sid: 4,
                reply_to: Some("r".into()),
                headers: Some(Headers {
                    status: None,
                    description: String::new(),
                    entries: vec![("X-A".into(), "1".into()), ("X-B".into(), "two".into())],
                }),
                payload: Bytes::from_static(b"abc"),
            },
            ServerOp::Err("Authorization Violation".into()),
        ]
    }

    #[test]
    fn one_buffer_with_every_kind_of_message() {
        let mut decoder = Decoder::default();
        decoder.extend(SAMPLE);
        assert_eq!(all_ops(&mut decoder), expected());
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn split_at_every_byte_gives_the_same_messages() {
        for cut in 0..=SAMPLE.len() {
            let mut decoder = Decoder::default();
            decoder.extend(&SAMPLE[..cut]);
            let mut ops = all_ops(&mut decoder);
            decoder.extend(&SAMPLE[cut..]);
            ops.extend(all_ops(&mut decoder));
            assert_eq!(ops, expected(), "cut at {cut}");
        }
        // And one byte at a time.
        let mut decoder = Decoder::default();
        let mut ops = Vec::new();
        for byte in SAMPLE {
            decoder.extend(std::slice::from_ref(byte));
            ops.extend(all_ops(&mut decoder));
        }
        assert_eq!(ops, expected());
    }

    #[test]
    fn the_no_responders_status_is_recognised() {
        let ops = expected();
        let ServerOp::Msg {
            headers: Some(h), ..
        } = &ops[6]
        else {
            panic!("not an HMSG")
        };
        assert!(h.is_no_responders());
        let ServerOp::Msg {
            headers: Some(h), ..
        } = &ops[7]
        else {
            panic!("not an HMSG")
        };
        assert!(!h.is_no_responders());
        assert_eq!(h.get("x-b"), Some("two"));
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_control_line: 16,
            max_payload: 4,
        };
        let mut decoder = Decoder::new(limits);
        decoder.extend(b"MSG a 1 5\r\nhello\r\n");
        assert_eq!(
            decoder.next_op(),
            Err(ProtocolError::PayloadTooLarge { size: 5, limit: 4 })
        );
        let mut decoder = Decoder::new(limits);
        decoder.extend(b"MSG a.very.long.subject.name 1 1\r\n");
        assert_eq!(
            decoder.next_op(),
            Err(ProtocolError::LineTooLong { limit: 16 })
        );
        // A line of exactly the limit passes.
        let mut decoder = Decoder::new(limits);
        decoder.extend(b"MSG abcdefgh 1 1\r\nx\r\n");
        assert!(matches!(decoder.next_op(), Ok(Some(ServerOp::Msg { .. }))));
        let mut decoder = Decoder::default();
        decoder.set_max_payload(3);
        decoder.extend(b"HMSG a 1 2 4\r\n");
        assert!(matches!(
            decoder.next_op(),
            Err(ProtocolError::PayloadTooLarge { size: 4, limit: 3 })
        ));
    }

    #[test]
    fn garbage_is_refused_at_once_with_a_readable_reason() {
        for garbage in [
            &b"HTTP/1.1 200 OK"[..],
            b"\x00\x01",
            b"{\"op\":\"hello\"}",
            b"MSGX a 1 1\r\n",
        ] {
            let mut decoder = Decoder::default();
            decoder.extend(garbage);
            let err = decoder.next_op().unwrap_err();
            assert!(
                matches!(err, ProtocolError::UnknownOp(_)),
                "{garbage:?}: {err}"
            );
            assert!(err.to_string().contains("not the NATS protocol"));
        }
    }

    #[test]
    fn malformed_messages_say_what_is_wrong() {
        for (input, needle) in [
            (&b"MSG a 1\r\n"[..], "arguments"),
            (b"MSG a x 1\r\nx\r\n", "sid"),
            (b"MSG a 1 -1\r\n", "size"),
            (b"MSG a 1 99999999999999999999\r\n", "size"),
            (b"MSG a 1 1\r\nxy\r\n", "does not end"),
            (b"HMSG a 1 5 3\r\n", "header size larger"),
            (b"HMSG a 1 3 3\r\nabc\r\n", "header block"),
            (b"HMSG a 1 15 15\r\nNATS/1.0 5x\r\n\r\n\r\n", "status"),
            (b"INFO nope\r\n", "JSON"),
            (b"PING now\r\n", "arguments"),
        ] {
            let mut decoder = Decoder::default();
            decoder.extend(input);
            let err = decoder.next_op().unwrap_err().to_string();
            assert!(
                err.contains(needle),
                "{:?}: {err}",
                String::from_utf8_lossy(input)
            );
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let mut decoder = Decoder::new(Limits { max_control_line: 64, max_payload: 64 });
            decoder.extend(&bytes);
            for _ in 0..300 {
                match decoder.next_op() {
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }

        #[test]
        fn mutated_valid_streams_never_panic(
            index in 0usize..SAMPLE.len(),
            byte in any::<u8>(),
            cut in 0usize..SAMPLE.len(),
        ) {
            let mut input = SAMPLE.to_vec();
            input[index] = byte;
            let mut decoder = Decoder::default();
            decoder.extend(&input[..cut]);
            let _ = all_ops_lenient(&mut decoder);
            decoder.extend(&input[cut..]);
            let _ = all_ops_lenient(&mut decoder);
        }

        #[test]
        fn any_split_of_the_sample_decodes_the_same(cuts in prop::collection::vec(0usize..SAMPLE.len(), 0..8)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let mut decoder = Decoder::default();
            let mut ops = Vec::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([SAMPLE.len()]) {
                decoder.extend(&SAMPLE[from..cut]);
                from = cut;
                ops.extend(all_ops(&mut decoder));
            }
            prop_assert_eq!(ops, expected());
        }
    }

    fn all_ops_lenient(decoder: &mut Decoder) -> Result<usize, ProtocolError> {
        let mut n = 0;
        while decoder.next_op()?.is_some() {
            n += 1;
        }
        Ok(n)
    }
}
