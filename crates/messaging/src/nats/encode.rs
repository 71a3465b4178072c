//! What a NATS client sends: `CONNECT`, `PUB`, `HPUB`, `SUB`, `UNSUB`, `PING`, `PONG`.
//!
//! Subjects, patterns and queue names reach these functions already checked (the
//! [`Subject`](crate::Subject) and [`Pattern`](crate::Pattern) types, and
//! [`check_queue_group`](crate::subject::check_queue_group)): none holds a space or a line
//! end, so nothing can be smuggled into a control line. Header names and values are checked
//! here.

use std::fmt;

use bytes::{BufMut, BytesMut};
use serde_json::json;

/// `PING\r\n`.
pub const PING: &[u8] = b"PING\r\n";
/// `PONG\r\n`.
pub const PONG: &[u8] = b"PONG\r\n";

/// What `CONNECT` says besides the fixed settings (`verbose:false, pedantic:false,
/// headers:true, no_responders:true`).
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// The token, for servers with `authorization { token }`.
    pub auth_token: Option<String>,
    /// A client name the server shows in its monitoring.
    pub name: Option<String>,
}

impl ConnectOptions {
    /// Options with a token (or none) and a name (or none).
    pub fn new(auth_token: Option<String>, name: Option<String>) -> Self {
        ConnectOptions { auth_token, name }
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a secret: only whether there is one.
        f.debug_struct("ConnectOptions")
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("name", &self.name)
            .finish()
    }
}

/// Appends `CONNECT {…}\r\n`.
pub fn connect(buf: &mut BytesMut, options: &ConnectOptions) {
    let mut fields = json!({
        "verbose": false,
        "pedantic": false,
        "tls_required": false,
        "headers": true,
        "no_responders": true,
        "lang": "rust",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": 1,
        "echo": true,
    });
    if let Some(token) = &options.auth_token {
        fields["auth_token"] = json!(token);
    }
    if let Some(name) = &options.name {
        fields["name"] = json!(name);
    }
    buf.put_slice(b"CONNECT ");
    buf.put_slice(fields.to_string().as_bytes());
    buf.put_slice(b"\r\n");
}

fn put_usize(buf: &mut BytesMut, n: usize) {
    buf.put_slice(n.to_string().as_bytes());
}

/// Appends `PUB subject [reply] size\r\npayload\r\n`.
pub fn publish(buf: &mut BytesMut, subject: &str, reply_to: Option<&str>, payload: &[u8]) {
    buf.reserve(subject.len() + payload.len() + 32);
    buf.put_slice(b"PUB ");
    buf.put_slice(subject.as_bytes());
    if let Some(reply) = reply_to {
        buf.put_u8(b' ');
        buf.put_slice(reply.as_bytes());
    }
    buf.put_u8(b' ');
    put_usize(buf, payload.len());
    buf.put_slice(b"\r\n");
    buf.put_slice(payload);
    buf.put_slice(b"\r\n");
}

/// Why a header cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("header {name:?} cannot be sent: {reason}")]
pub struct HeaderError {
    /// The header's name.
    pub name: String,
    /// What is wrong.
    pub reason: &'static str,
}

/// The header block `NATS/1.0\r\nName: value\r\n…\r\n`.
pub fn header_block(headers: &[(String, String)]) -> Result<Vec<u8>, HeaderError> {
    let mut out = b"NATS/1.0\r\n".to_vec();
    for (name, value) in headers {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return Err(HeaderError {
                name: name.clone(),
                reason: "a name is printable ASCII without `:` or spaces",
            });
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(HeaderError {
                name: name.clone(),
                reason: "a value cannot hold a line end",
            });
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// Appends `HPUB subject [reply] header_size total_size\r\nheaders payload\r\n`.
pub fn hpublish(
    buf: &mut BytesMut,
    subject: &str,
    reply_to: Option<&str>,
    headers: &[(String, String)],
    payload: &[u8],
) -> Result<(), HeaderError> {
    let block = header_block(headers)?;
    buf.put_slice(b"HPUB ");
    buf.put_slice(subject.as_bytes());
    if let Some(reply) = reply_to {
        buf.put_u8(b' ');
        buf.put_slice(reply.as_bytes());
    }
    buf.put_u8(b' ');
    put_usize(buf, block.len());
    buf.put_u8(b' ');
    put_usize(buf, block.len() + payload.len());
    buf.put_slice(b"\r\n");
    buf.put_slice(&block);
    buf.put_slice(payload);
    buf.put_slice(b"\r\n");
    Ok(())
}

/// Appends `SUB pattern [queue] sid\r\n`.
pub fn subscribe(buf: &mut BytesMut, pattern: &str, queue: Option<&str>, sid: u64) {
    buf.put_slice(b"SUB ");
    buf.put_slice(pattern.as_bytes());
    if let Some(queue) = queue {
        buf.put_u8(b' ');
        buf.put_slice(queue.as_bytes());
    }
    buf.put_u8(b' ');
    buf.put_slice(sid.to_string().as_bytes());
    buf.put_slice(b"\r\n");
}

/// Appends `UNSUB sid [max]\r\n`.
pub fn unsubscribe(buf: &mut BytesMut, sid: u64, max: Option<u64>) {
    buf.put_slice(b"UNSUB ");
    buf.put_slice(sid.to_string().as_bytes());
    if let Some(max) = max {
        buf.put_u8(b' ');
        buf.put_slice(max.to_string().as_bytes());
    }
    buf.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nats::{Decoder, ServerOp};

    fn text(f: impl FnOnce(&mut BytesMut)) -> String {
        let mut buf = BytesMut::new();
        f(&mut buf);
        String::from_utf8(buf.to_vec()).unwrap()
    }

    #[test]
    fn connect_says_what_the_sheet_requires_and_hides_the_token() {
        let line = text(|b| connect(b, &ConnectOptions::new(Some("s3cret".into()), None)));
        assert!(line.starts_with("CONNECT {") && line.ends_with("}\r\n"));
        let json: serde_json::Value = serde_json::from_str(&line[8..line.len() - 2]).unwrap();
        assert_eq!(json["verbose"], false);
        assert_eq!(json["pedantic"], false);
        assert_eq!(json["headers"], true);
        assert_eq!(json["no_responders"], true);
        assert_eq!(json["auth_token"], "s3cret");
        let line = text(|b| connect(b, &ConnectOptions::default()));
        assert!(!line.contains("auth_token"));
        let shown = format!("{:?}", ConnectOptions::new(Some("s3cret".into()), None));
        assert!(!shown.contains("s3cret") && shown.contains("redacted"));
    }

    #[test]
    fn commands_have_the_protocol_shape() {
        assert_eq!(
            text(|b| publish(b, "a.b", None, b"hi")),
            "PUB a.b 2\r\nhi\r\n"
        );
        assert_eq!(
            text(|b| publish(b, "a.b", Some("_INBOX.x"), b"")),
            "PUB a.b _INBOX.x 0\r\n\r\n"
        );
        assert_eq!(
            text(|b| hpublish(b, "a", None, &[("X-A".into(), "1".into())], b"xy").unwrap()),
            "HPUB a 20 22\r\nNATS/1.0\r\nX-A: 1\r\n\r\nxy\r\n"
        );
        assert_eq!(text(|b| subscribe(b, "a.*", None, 3)), "SUB a.* 3\r\n");
        assert_eq!(
            text(|b| subscribe(b, "a.>", Some("g"), 4)),
            "SUB a.> g 4\r\n"
        );
        assert_eq!(text(|b| unsubscribe(b, 4, None)), "UNSUB 4\r\n");
        assert_eq!(text(|b| unsubscribe(b, 4, Some(1))), "UNSUB 4 1\r\n");
    }

    #[test]
    fn bad_headers_are_refused() {
        assert!(header_block(&[("a b".into(), "1".into())]).is_err());
        assert!(header_block(&[("a:".into(), "1".into())]).is_err());
        assert!(header_block(&[("a".into(), "1\r\nPUB x 0".into())]).is_err());
    }

    #[test]
    fn an_hpub_reads_back_as_the_hmsg_a_server_would_send() {
        // The server relays HPUB as HMSG with the same sizes: swap the verb and add a sid.
        let out =
            text(|b| hpublish(b, "s", Some("r"), &[("K".into(), "v".into())], b"body").unwrap());
        let relayed = out.replacen("HPUB s r", "HMSG s 9 r", 1);
        let mut decoder = Decoder::default();
        decoder.extend(relayed.as_bytes());
        let Some(ServerOp::Msg {
            headers: Some(h),
            payload,
            sid,
            ..
        }) = decoder.next_op().unwrap()
        else {
            panic!("not an HMSG")
        };
        assert_eq!(
            (sid, &payload[..], h.get("k")),
            (9, &b"body"[..], Some("v"))
        );
    }
}
