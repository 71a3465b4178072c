//! Compact messages: a `u16` category tag and a serde payload in postcard's compact
//! binary format, in one WebSocket binary message.
//!
//! atomic_websocket tags each binary message with a category and encodes the rest with a
//! schema compiler. Here any serde type is a payload, with no IDL: a type says its
//! category by implementing [`Category`]. The frame is
//!
//! ```text
//! +----------------+--------------------------------+
//! | category (u16, | payload: postcard encoding of  |
//! | big-endian)    | the value, nothing after it    |
//! +----------------+--------------------------------+
//! ```
//!
//! Decoding checks everything: a message shorter than the tag, another category than the
//! one asked for, a payload that does not decode, or bytes left over after it are errors
//! ([`AtomicError::Codec`], [`AtomicError::WrongCategory`]), never a panic.
//!
//! ```
//! use atomic_ws::compact::{self, Category};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct Startup { name: String, version: u32 }
//! impl Category for Startup { const CATEGORY: u16 = 1; }
//!
//! let message = compact::to_message(&Startup { name: "kiosk-3".into(), version: 2 }).unwrap();
//! assert_eq!(compact::category_of(&message), Some(1));
//! let back: Startup = compact::from_message(&message).unwrap();
//! assert_eq!(back, Startup { name: "kiosk-3".into(), version: 2 });
//! ```

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use core_pre::runtime::{self, MaybeSend, MaybeSync};
use core_pre::{AppState, BoxError, Client, Inbox, Message, Module, ModuleContext, Rule};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Mutex, mpsc};

use crate::error::AtomicError;

/// The tag's length in bytes.
pub const TAG_LEN: usize = 2;

/// A message type with its category tag.
pub trait Category {
    /// The tag written before the payload.
    const CATEGORY: u16;
}

/// Encodes `value` under `category`.
pub fn encode<T: Serialize + ?Sized>(category: u16, value: &T) -> Result<Vec<u8>, AtomicError> {
    let mut out = Vec::with_capacity(32);
    out.extend_from_slice(&category.to_be_bytes());
    postcard::to_extend(value, out).map_err(|e| AtomicError::Codec(e.to_string()))
}

/// Splits a frame into its category and payload.
pub fn split(frame: &[u8]) -> Result<(u16, &[u8]), AtomicError> {
    match frame {
        [high, low, payload @ ..] => Ok((u16::from_be_bytes([*high, *low]), payload)),
        _ => Err(AtomicError::Codec(format!(
            "{} bytes is shorter than the {TAG_LEN}-byte category tag",
            frame.len()
        ))),
    }
}

/// Decodes a payload (without its tag); bytes left over are an error.
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, AtomicError> {
    let (value, rest) = postcard::take_from_bytes::<T>(payload)
        .map_err(|e| AtomicError::Codec(format!("the payload does not decode: {e}")))?;
    if !rest.is_empty() {
        return Err(AtomicError::Codec(format!(
            "{} bytes left over after the payload",
            rest.len()
        )));
    }
    Ok(value)
}

/// Decodes a frame of category `T::CATEGORY`.
pub fn decode<T: Category + DeserializeOwned>(frame: &[u8]) -> Result<T, AtomicError> {
    let (category, payload) = split(frame)?;
    if category != T::CATEGORY {
        return Err(AtomicError::WrongCategory {
            expected: T::CATEGORY,
            found: category,
        });
    }
    decode_payload(payload)
}

/// `value` as a binary WebSocket message.
pub fn to_message<T: Category + Serialize>(value: &T) -> Result<Message, AtomicError> {
    Ok(Message::binary(encode(T::CATEGORY, value)?))
}

/// The category of a binary message, if it is long enough to have one.
pub fn category_of(message: &Message) -> Option<u16> {
    match message {
        Message::Binary(bytes) => split(bytes).ok().map(|(category, _)| category),
        _ => None,
    }
}

/// Decodes a binary message of category `T::CATEGORY`; any other message is an error.
pub fn from_message<T: Category + DeserializeOwned>(message: &Message) -> Result<T, AtomicError> {
    match message {
        Message::Binary(bytes) => decode(bytes),
        other => Err(AtomicError::Codec(format!(
            "a {} message is not a compact message (they are binary)",
            other.kind()
        ))),
    }
}

/// Encodes `value` and sends it through `client` (see core-pre's `Client::send` for the
/// policy while disconnected).
pub async fn send<S: AppState, T: Category + Serialize>(
    client: &Client<S>,
    value: &T,
) -> Result<(), AtomicError> {
    client.send(to_message(value)?).await?;
    Ok(())
}

/// A core-pre [`Rule`] that lets through the binary messages of `category`, for a module
/// that handles one category.
pub fn rule(category: u16) -> impl Rule {
    move |message: &Message| category_of(message) == Some(category)
}

/// How many decoded messages a [`TypedMessages`] handle holds before the module waits
/// (and the router's slow-module policy applies).
pub const TYPED_CAPACITY: usize = 64;

/// A core-pre module that receives the messages of `T`'s category and decodes them; read
/// them from its handle, [`TypedMessages`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use atomic_ws::compact::{Category, TypedReceiver};
/// use client_ws::{WsConfig, WsConnector};
/// use core_pre::ClientBuilder;
/// use std::time::Duration;
///
/// #[derive(serde::Deserialize)]
/// struct Confirmed { session: String }
/// impl Category for Confirmed { const CATEGORY: u16 = 2; }
///
/// let connector = WsConnector::new(WsConfig::new("ws://127.0.0.1:9300/"));
/// let (client, confirmations) =
///     ClientBuilder::new(connector).spawn_with(|m| m.add::<TypedReceiver<Confirmed>>());
/// if let Some(Ok(confirmed)) = confirmations.recv_timeout(Duration::from_secs(5)).await? {
///     println!("session {}", confirmed.session);
/// }
/// # Ok(()) }
/// ```
pub struct TypedReceiver<T> {
    inbox: Inbox,
    tx: mpsc::Sender<Result<T, AtomicError>>,
}

/// The decoded messages of one category, in arrival order: a malformed one is an `Err`
/// item (the stream goes on). Cheap to clone; clones share the queue.
pub struct TypedMessages<T> {
    rx: Arc<Mutex<mpsc::Receiver<Result<T, AtomicError>>>>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for TypedMessages<T> {
    fn clone(&self) -> Self {
        TypedMessages {
            rx: self.rx.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for TypedMessages<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TypedMessages { .. }")
    }
}

impl<T> TypedMessages<T> {
    /// The next message; `None` once the client has shut down and every message was read.
    pub async fn recv(&self) -> Option<Result<T, AtomicError>> {
        self.rx.lock().await.recv().await
    }

    /// The next message, waiting at most `limit`; `Err` when the time ran out.
    pub async fn recv_timeout(
        &self,
        limit: Duration,
    ) -> Result<Option<Result<T, AtomicError>>, core_pre::CoreError> {
        runtime::timeout(limit, self.recv())
            .await
            .map_err(|_| core_pre::CoreError::Timeout {
                after: limit,
                waiting_for: "a compact message of the expected category",
            })
    }
}

impl<S, T> Module<S> for TypedReceiver<T>
where
    S: AppState,
    T: Category + DeserializeOwned + MaybeSend + MaybeSync + 'static,
{
    type Handle = TypedMessages<T>;
    const NAME: &'static str = "compact_typed_receiver";

    fn new(ctx: ModuleContext<S>) -> (Self, Self::Handle) {
        let (tx, rx) = mpsc::channel(TYPED_CAPACITY);
        let handle = TypedMessages {
            rx: Arc::new(Mutex::new(rx)),
            _type: PhantomData,
        };
        (
            TypedReceiver {
                inbox: ctx.inbox,
                tx,
            },
            handle,
        )
    }

    fn rule(_state: &Arc<S>) -> Box<dyn Rule> {
        Box::new(rule(T::CATEGORY))
    }

    async fn run(&mut self) -> Result<(), BoxError> {
        while let Some(message) = self.inbox.recv().await {
            // Nobody reads any more (every handle dropped): the messages are dropped too.
            let _ = self.tx.send(from_message::<T>(&message)).await;
        }
        Ok(())
    }
}
