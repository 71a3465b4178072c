//! The NATS client protocol (`shared/protocol/messaging.md`, "Format `nats`"): pure
//! functions over bytes, no I/O, so they are testable without sockets and fuzzable.
//!
//! * [`Decoder`] is the streaming parser of what a server sends (`INFO`, `MSG`, `HMSG`,
//!   `PING`, `PONG`, `+OK`, `-ERR`). Bytes go in as they arrive, in any cut (a WebSocket
//!   frame may hold several protocol messages or part of one); whole messages come out.
//!   Control lines and payloads are bounded; malformed input is a [`ProtocolError`], never
//!   a panic.
//! * [`encode`] writes what a client sends (`CONNECT`, `PUB`, `HPUB`, `SUB`, `UNSUB`,
//!   `PING`, `PONG`).

mod decode;
pub mod encode;

pub use decode::{
    DEFAULT_MAX_CONTROL_LINE, DEFAULT_MAX_PAYLOAD, Decoder, Headers, Limits, ProtocolError,
    ServerInfo, ServerOp, frame_len, parse_frame,
};
pub use encode::{ConnectOptions, HeaderError};
