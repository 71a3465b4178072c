//! The `json` wire format: the original provider's envelope, spoken between our client and
//! our hub (`shared/protocol/messaging.md`, "Format `json`"). One JSON object per text
//! frame; bodies are standard padded base64.
//!
//! Frames are parsed here without judging their subjects: checking a subject (and answering
//! `subject_invalid` with it) is the receiver's job.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;

/// The hub's default `max_payload`: 1 MiB of decoded body.
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// A frame from a client to the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// `{"subject","body","reply_to"?}`: publish.
    Publish {
        /// Where to.
        subject: String,
        /// The decoded body.
        body: Bytes,
        /// A reply subject, for a request.
        reply_to: Option<String>,
    },
    /// `{"op":"sub","sid","subject","queue"?}`.
    Sub {
        /// The client's id for this subscription, unique per connection.
        sid: String,
        /// The pattern.
        subject: String,
        /// A queue group.
        queue: Option<String>,
    },
    /// `{"op":"unsub","sid"}`.
    Unsub {
        /// The subscription's id.
        sid: String,
    },
    /// `{"op":"ping"}`.
    Ping,
}

/// A frame from the hub to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubFrame {
    /// `{"op":"hello","session","max_payload"}`: the first frame after the upgrade.
    Hello {
        /// The session id the hub assigned.
        session: String,
        /// The largest decoded body the hub accepts.
        max_payload: usize,
    },
    /// `{"op":"msg","sid","subject","body","reply_to"?}`.
    Msg {
        /// The subscription it is for.
        sid: String,
        /// The subject it was published on.
        subject: String,
        /// The decoded body.
        body: Bytes,
        /// Where a reply goes.
        reply_to: Option<String>,
    },
    /// `{"op":"err","code","message","subject"?}`: a refused frame.
    Err {
        /// What kind of refusal.
        code: ErrorCode,
        /// Human words.
        message: String,
        /// The subject concerned, when there is one.
        subject: Option<String>,
    },
    /// `{"op":"pong"}`.
    Pong,
}

/// Why a text frame is not a valid envelope (the reason of a `bad_frame`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not a JSON object of the expected shape.
    #[error("not a JSON envelope: {0}")]
    Json(String),
    /// A field the frame needs is absent.
    #[error("`{op}` frame without `{field}`")]
    Missing {
        /// The frame kind.
        op: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// An `op` this side does not know.
    #[error("unknown op {0:?}")]
    UnknownOp(String),
    /// `body` is not standard padded base64.
    #[error("body is not standard padded base64")]
    Base64,
}

/// The envelope's fields, all optional; which ones a frame needs depends on `op`.
#[derive(Serialize, Deserialize, Default)]
struct Wire<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    op: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    sid: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    subject: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    body: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    reply_to: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    queue: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    session: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_payload: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<ErrorCode>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    message: Option<Cow<'a, str>>,
}

fn need(
    field: Option<Cow<'_, str>>,
    op: &'static str,
    name: &'static str,
) -> Result<String, FrameError> {
    field
        .map(Cow::into_owned)
        .ok_or(FrameError::Missing { op, field: name })
}

fn decode_body(body: Option<Cow<'_, str>>) -> Result<Bytes, FrameError> {
    match body {
        None => Ok(Bytes::new()),
        Some(text) => STANDARD
            .decode(text.as_bytes())
            .map(Bytes::from)
            .map_err(|_| FrameError::Base64),
    }
}

fn parse(text: &str) -> Result<Wire<'_>, FrameError> {
    serde_json::from_str(text).map_err(|e| FrameError::Json(e.to_string()))
}

fn encode(wire: &Wire<'_>) -> String {
    // A struct of strings, numbers and a unit enum always serializes.
    serde_json::to_string(wire).unwrap_or_default()
}

/// How long a text frame may be for its decoded body to fit `max_payload`: base64's 4/3
/// plus room for the other fields. The hub refuses longer frames (`too_large`) before
/// parsing them; the decoded body is then checked exactly.
pub fn max_frame_len(max_payload: usize) -> usize {
    max_payload.div_ceil(3) * 4 + 2048
}

/// The base64 text of a body.
pub fn encode_body(body: &[u8]) -> String {
    STANDARD.encode(body)
}

impl ClientFrame {
    /// Parses a text frame a client sent.
    pub fn decode(text: &str) -> Result<Self, FrameError> {
        let w = parse(text)?;
        match w.op.as_deref() {
            None => Ok(Self::Publish {
                subject: need(w.subject, "publish", "subject")?,
                body: decode_body(w.body)?,
                reply_to: w.reply_to.map(Cow::into_owned),
            }),
            Some("sub") => Ok(Self::Sub {
                sid: need(w.sid, "sub", "sid")?,
                subject: need(w.subject, "sub", "subject")?,
                queue: w.queue.map(Cow::into_owned),
            }),
            Some("unsub") => Ok(Self::Unsub {
                sid: need(w.sid, "unsub", "sid")?,
            }),
            Some("ping") => Ok(Self::Ping),
            Some(other) => Err(FrameError::UnknownOp(other.to_owned())),
        }
    }

    /// The frame's JSON text.
    pub fn encode(&self) -> String {
        let wire = match self {
            Self::Publish {
                subject,
                body,
                reply_to,
            } => Wire {
                subject: Some(Cow::Borrowed(subject)),
                body: Some(Cow::Owned(encode_body(body))),
                reply_to: reply_to.as_deref().map(Cow::Borrowed),
                ..Wire::default()
            },
            Self::Sub {
                sid,
                subject,
                queue,
            } => Wire {
                op: Some(Cow::Borrowed("sub")),
                sid: Some(Cow::Borrowed(sid)),
                subject: Some(Cow::Borrowed(subject)),
                queue: queue.as_deref().map(Cow::Borrowed),
                ..Wire::default()
            },
            Self::Unsub { sid } => Wire {
                op: Some(Cow::Borrowed("unsub")),
                sid: Some(Cow::Borrowed(sid)),
                ..Wire::default()
            },
            Self::Ping => Wire {
                op: Some(Cow::Borrowed("ping")),
                ..Wire::default()
            },
        };
        encode(&wire)
    }
}

impl HubFrame {
    /// Parses a text frame the hub sent.
    pub fn decode(text: &str) -> Result<Self, FrameError> {
        let w = parse(text)?;
        match w.op.as_deref() {
            Some("hello") => Ok(Self::Hello {
                session: need(w.session, "hello", "session")?,
                max_payload: w.max_payload.ok_or(FrameError::Missing {
                    op: "hello",
                    field: "max_payload",
                })?,
            }),
            Some("msg") => Ok(Self::Msg {
                sid: need(w.sid, "msg", "sid")?,
                subject: need(w.subject, "msg", "subject")?,
                body: decode_body(w.body)?,
                reply_to: w.reply_to.map(Cow::into_owned),
            }),
            Some("err") => Ok(Self::Err {
                code: w.code.ok_or(FrameError::Missing {
                    op: "err",
                    field: "code",
                })?,
                message: w.message.map(Cow::into_owned).unwrap_or_default(),
                subject: w.subject.map(Cow::into_owned),
            }),
            Some("pong") => Ok(Self::Pong),
            Some(other) => Err(FrameError::UnknownOp(other.to_owned())),
            None => Err(FrameError::Missing {
                op: "hub frame",
                field: "op",
            }),
        }
    }

    /// The frame's JSON text.
    pub fn encode(&self) -> String {
        let wire = match self {
            Self::Hello {
                session,
                max_payload,
            } => Wire {
                op: Some(Cow::Borrowed("hello")),
                session: Some(Cow::Borrowed(session)),
                max_payload: Some(*max_payload),
                ..Wire::default()
            },
            Self::Msg {
                sid,
                subject,
                body,
                reply_to,
            } => Wire {
                op: Some(Cow::Borrowed("msg")),
                sid: Some(Cow::Borrowed(sid)),
                subject: Some(Cow::Borrowed(subject)),
                body: Some(Cow::Owned(encode_body(body))),
                reply_to: reply_to.as_deref().map(Cow::Borrowed),
                ..Wire::default()
            },
            Self::Err {
                code,
                message,
                subject,
            } => Wire {
                op: Some(Cow::Borrowed("err")),
                code: Some(*code),
                message: Some(Cow::Borrowed(message)),
                subject: subject.as_deref().map(Cow::Borrowed),
                ..Wire::default()
            },
            Self::Pong => Wire {
                op: Some(Cow::Borrowed("pong")),
                ..Wire::default()
            },
        };
        encode(&wire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sheet_frames_parse() {
        assert_eq!(
            ClientFrame::decode(r#"{"subject":"s","body":"aGk=","reply_to":"r"}"#).unwrap(),
            ClientFrame::Publish {
                subject: "s".into(),
                body: Bytes::from_static(b"hi"),
                reply_to: Some("r".into())
            }
        );
        assert_eq!(
            ClientFrame::decode(r#"{"op":"sub","sid":"1","subject":"a.*","queue":"g"}"#).unwrap(),
            ClientFrame::Sub {
                sid: "1".into(),
                subject: "a.*".into(),
                queue: Some("g".into())
            }
        );
        assert_eq!(
            ClientFrame::decode(r#"{"op":"unsub","sid":"1"}"#).unwrap(),
            ClientFrame::Unsub { sid: "1".into() }
        );
        assert_eq!(
            ClientFrame::decode(r#"{"op":"ping"}"#).unwrap(),
            ClientFrame::Ping
        );
        assert_eq!(
            HubFrame::decode(r#"{"op":"hello","session":"abc","max_payload":1048576}"#).unwrap(),
            HubFrame::Hello {
                session: "abc".into(),
                max_payload: 1 << 20
            }
        );
        assert_eq!(
            HubFrame::decode(r#"{"op":"err","code":"no_responders","message":"m","subject":"s"}"#)
                .unwrap(),
            HubFrame::Err {
                code: ErrorCode::NoResponders,
                message: "m".into(),
                subject: Some("s".into())
            }
        );
    }

    #[test]
    fn frames_round_trip() {
        let client = [
            ClientFrame::Publish {
                subject: "a.b".into(),
                body: Bytes::from_static(&[0, 255, 10]),
                reply_to: None,
            },
            ClientFrame::Publish {
                subject: "a\"b".into(),
                body: Bytes::new(),
                reply_to: Some("_INBOX.x".into()),
            },
            ClientFrame::Sub {
                sid: "7".into(),
                subject: "a.>".into(),
                queue: None,
            },
            ClientFrame::Unsub { sid: "7".into() },
            ClientFrame::Ping,
        ];
        for frame in client {
            assert_eq!(ClientFrame::decode(&frame.encode()).unwrap(), frame);
        }
        let hub = [
            HubFrame::Hello {
                session: "s1".into(),
                max_payload: 10,
            },
            HubFrame::Msg {
                sid: "1".into(),
                subject: "a".into(),
                body: Bytes::from_static(b"x"),
                reply_to: Some("r".into()),
            },
            HubFrame::Err {
                code: ErrorCode::TooLarge,
                message: "big".into(),
                subject: None,
            },
            HubFrame::Pong,
        ];
        for frame in hub {
            assert_eq!(HubFrame::decode(&frame.encode()).unwrap(), frame);
        }
    }

    #[test]
    fn bad_frames_say_what_is_wrong() {
        assert!(matches!(
            ClientFrame::decode("not json"),
            Err(FrameError::Json(_))
        ));
        assert!(matches!(
            ClientFrame::decode("[1,2]"),
            Err(FrameError::Json(_))
        ));
        assert!(matches!(
            ClientFrame::decode(r#"{"op":"sub","subject":"a"}"#),
            Err(FrameError::Missing { field: "sid", .. })
        ));
        assert!(matches!(
            ClientFrame::decode(r#"{"body":"aGk="}"#),
            Err(FrameError::Missing {
                field: "subject",
                ..
            })
        ));
        assert!(
            matches!(ClientFrame::decode(r#"{"op":"dance"}"#), Err(FrameError::UnknownOp(op)) if op == "dance")
        );
        assert!(matches!(
            ClientFrame::decode(r#"{"subject":"s","body":"!!"}"#),
            Err(FrameError::Base64)
        ));
        assert!(matches!(
            ClientFrame::decode(r#"{"subject":"s","body":"aGk"}"#),
            Err(FrameError::Base64)
        ));
        assert!(matches!(
            HubFrame::decode(r#"{"op":"err","code":"nope"}"#),
            Err(FrameError::Json(_))
        ));
        assert!(matches!(
            HubFrame::decode(r#"{}"#),
            Err(FrameError::Missing { field: "op", .. })
        ));
    }

    #[test]
    fn a_full_body_fits_the_frame_limit() {
        let body = vec![0xAB; 3000];
        let frame = ClientFrame::Publish {
            subject: "x".repeat(256),
            body: body.into(),
            reply_to: Some("y".repeat(256)),
        }
        .encode();
        assert!(
            frame.len() <= max_frame_len(3000),
            "{} > {}",
            frame.len(),
            max_frame_len(3000)
        );
    }
}
