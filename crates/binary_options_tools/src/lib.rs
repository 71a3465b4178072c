//! # binary_options_tools
//!
//! The PocketOption client toolkit. Today it holds the pure layers the client and the
//! project's simulator share; both sides use the same code, so a protocol misunderstanding
//! cannot hide in one of them.
//!
//! * [`engineio`] and [`socketio`]: the Engine.IO v4 / Socket.IO v5 codec — [`decode`] a
//!   text frame into a borrowed [`Frame`], read an event's name without parsing its payload
//!   ([`event_name`]), and encode every frame the platform uses.
//! * [`Reassembler`]: pairs binary packet headers (`451-[…]`) with their attachments.
//! * [`Ssid`]: parses every form of the session users paste, and re-encodes the auth frame.
//!
//! Everything here is pure (no I/O, no clock, no randomness), never panics on input, and
//! builds for `wasm32-unknown-unknown`.
//!
//! ```
//! use binary_options_tools::{Frame, Reassembler, Ssid};
//!
//! let ssid = Ssid::parse(r#"{"session":"token","isDemo":1,"uid":42,"platform":2}"#).unwrap();
//! assert!(ssid.auth_frame().starts_with(r#"42["auth",{"session":"token","isDemo":1"#));
//!
//! let mut frames = Reassembler::default();
//! assert!(frames.push_text(r#"451-["successauth",{"_placeholder":true,"num":0}]"#).unwrap().is_none());
//! let auth = frames.push_binary(&br#"{"id":"42","serverName":"sim"}"#[..]).unwrap().unwrap();
//! assert_eq!(auth.event_name(), Some("successauth"));
//! ```

#![warn(missing_docs)]

pub mod engineio;
mod error;
mod limits;
mod php;
mod reassembler;
pub mod socketio;
mod ssid;

pub use engineio::{Frame, decode, decode_with};
pub use error::{CodecError, Error, SSID_HOW_TO_COPY, SsidError};
pub use limits::Limits;
pub use reassembler::Reassembler;
pub use socketio::{Packet, PacketKind, event_name};
pub use ssid::{RealSession, Ssid};
