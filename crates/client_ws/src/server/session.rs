//! One connection of the reference server: the WebSocket handshake, the JSON-RPC methods,
//! and the per-connection authentication state.
//!
//! Reading and answering happen in the session task; writes go through a bounded queue
//! to a writer task, so a slow `play` (which runs in its own task) never blocks other
//! calls, and the test hooks can silence or drop the connection at any moment.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::script::{self, Step};
use super::{Hook, RedeemError, SessionEntry, Shared, lock};
use crate::auth::{AuthCredentials, parse_public_key};
use crate::rpc::{self, Incoming, RpcError};

/// How long a client may take to complete the WebSocket handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames waiting for the writer, per connection.
const OUTBOUND_QUEUE: usize = 256;

/// What the writer task sends.
pub(super) enum Outgoing {
    /// A text frame.
    Text(String),
    /// Drop the connection (after everything queued before it).
    Hangup,
    /// Go silent (after everything queued before it), keeping the socket open.
    Freeze,
}

/// Why the writer stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriterEnd {
    /// Asked to hang up, or the socket failed, or the session ended.
    Done,
    /// Asked to go silent.
    Freeze,
}

/// Serves one accepted TCP connection until it ends.
pub(super) async fn serve(tcp: TcpStream, peer: SocketAddr, id: u64, shared: Arc<Shared>) {
    let limit = shared.config.max_message_size;
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit));
    let handshake = tokio_tungstenite::accept_async_with_config(tcp, Some(ws_config));
    let ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "WebSocket handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "WebSocket handshake timed out");
            return;
        }
    };
    let (hook_tx, mut hook_rx) = watch::channel(Hook::Run);
    let (out_tx, mut out_rx) = mpsc::channel(OUTBOUND_QUEUE);
    lock(&shared.sessions).insert(
        id,
        SessionEntry {
            hook: hook_tx,
            outbound: out_tx.clone(),
        },
    );
    shared.stats.send_modify(|stats| {
        stats.accepted += 1;
        stats.live += 1;
    });
    tracing::debug!(%peer, session = id, "connection open");

    let (mut sink, mut stream) = ws.split();
    let mut writer = tokio::spawn(async move {
        while let Some(out) = out_rx.recv().await {
            match out {
                Outgoing::Text(text) => {
                    if sink.send(WsMessage::text(text)).await.is_err() {
                        return WriterEnd::Done;
                    }
                }
                Outgoing::Hangup => return WriterEnd::Done,
                // The read half keeps the socket open once this half is dropped.
                Outgoing::Freeze => return WriterEnd::Freeze,
            }
        }
        WriterEnd::Done
    });

    let mut session = Session {
        shared: shared.clone(),
        out: out_tx,
        authenticated: None,
    };
    loop {
        tokio::select! {
            biased;
            changed = hook_rx.changed() => {
                let hook = *hook_rx.borrow_and_update();
                if changed.is_err() || hook == Hook::Drop {
                    break;
                }
                if hook == Hook::Freeze {
                    // Half-open: stop writing (the writer holds the write half) and stop
                    // reading, but keep the read half, and so the socket, alive.
                    writer.abort();
                    let _ = hook_rx.wait_for(|hook| *hook == Hook::Drop).await;
                    break;
                }
            }
            ended = &mut writer => {
                if ended.ok() == Some(WriterEnd::Freeze) {
                    // Half-open from here on: no reads, no writes, socket open.
                    let _ = hook_rx.wait_for(|hook| *hook == Hook::Drop).await;
                }
                break;
            }
            frame = stream.next() => match frame {
                None | Some(Err(_)) => break,
                Some(Ok(WsMessage::Text(text))) => session.on_text(&text).await,
                Some(Ok(WsMessage::Binary(_))) => {
                    let error = RpcError::new(rpc::INVALID_REQUEST, "binary frames are not JSON-RPC; send text");
                    session.send(rpc::error_response(&Value::Null, &error)).await;
                }
                // Pings are answered by tungstenite; a close is answered on the next read.
                Some(Ok(_)) => {}
            },
        }
    }

    writer.abort();
    lock(&shared.sessions).remove(&id);
    shared.stats.send_modify(|stats| stats.live -= 1);
    tracing::debug!(%peer, session = id, "connection closed");
}

/// The state of one connection.
struct Session {
    shared: Arc<Shared>,
    out: mpsc::Sender<Outgoing>,
    /// The public key this connection authenticated as (uncompressed hex).
    authenticated: Option<String>,
}

impl Session {
    async fn send(&self, frame: String) {
        // Fails only when the writer is gone, and then the session is ending anyway.
        let _ = self.out.send(Outgoing::Text(frame)).await;
    }

    async fn on_text(&mut self, text: &str) {
        match rpc::parse(text) {
            Err(malformed) => {
                let error = RpcError::new(malformed.code, malformed.reason);
                self.send(rpc::error_response(&malformed.id, &error)).await;
            }
            Ok(Incoming::Request { id, method, params }) => {
                self.on_request(id, &method, &params).await
            }
            // Notifications and responses from a client need no answer.
            Ok(Incoming::Notification { .. } | Incoming::Response { .. }) => {}
        }
    }

    async fn on_request(&mut self, id: Value, method: &str, params: &Value) {
        let outcome = match method {
            "ping" => Ok(json!("pong")),
            "fetch_nonce" => self.fetch_nonce(params),
            "authenticate" => self.authenticate(params),
            "play" => return self.play(id, params).await,
            other => Err(RpcError::new(
                rpc::METHOD_NOT_FOUND,
                format!(
                    "unknown method `{other}`; this server offers fetch_nonce, authenticate, ping and play"
                ),
            )),
        };
        let frame = match outcome {
            Ok(result) => rpc::response(&id, &result),
            Err(error) => rpc::error_response(&id, &error),
        };
        self.send(frame).await;
    }

    fn fetch_nonce(&self, params: &Value) -> Result<Value, RpcError> {
        let pubkey = params
            .get("pubkey")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                RpcError::new(
                    rpc::INVALID_PARAMS,
                    "expected {\"pubkey\": \"<hex public key>\"}",
                )
            })?;
        let key = parse_public_key(pubkey)
            .map_err(|e| RpcError::new(rpc::INVALID_PARAMS, e.to_string()))?;
        let issued = lock(&self.shared.nonces)
            .issue(&key)
            .map_err(|e| RpcError::new(rpc::INTERNAL_ERROR, e.to_string()))?;
        Ok(json!({"nonce": issued.nonce, "expires_at": issued.expires_at}))
    }

    fn authenticate(&mut self, params: &Value) -> Result<Value, RpcError> {
        let credentials = params.get("credentials").unwrap_or(params);
        let credentials: AuthCredentials =
            serde_json::from_value(credentials.clone()).map_err(|_| {
                RpcError::new(
                    rpc::INVALID_PARAMS,
                    "expected {\"pubkey\": \"<hex>\", \"signature\": \"<hex>\"}",
                )
            })?;
        let key = parse_public_key(&credentials.pubkey)
            .map_err(|e| RpcError::new(rpc::INVALID_PARAMS, e.to_string()))?;
        if !self.shared.is_allowed(&key) {
            return Err(RpcError::new(
                rpc::INVALID_CREDENTIALS,
                "this public key is not allowed on this server",
            ));
        }
        let redeemed = lock(&self.shared.nonces).redeem(&key, &credentials.signature);
        match redeemed {
            Ok(()) => {
                self.authenticated = Some(crate::auth::hex::encode(&key.serialize_uncompressed()));
                self.shared
                    .stats
                    .send_modify(|stats| stats.authenticated += 1);
                Ok(json!({"authenticated": true}))
            }
            Err(error @ (RedeemError::Unknown | RedeemError::Expired)) => {
                Err(RpcError::new(rpc::NONCE_REJECTED, error.to_string()))
            }
            Err(error) => Err(RpcError::new(rpc::INVALID_CREDENTIALS, error.to_string())),
        }
    }

    async fn play(&self, id: Value, params: &Value) {
        if self.shared.config.require_auth_for_play && self.authenticated.is_none() {
            let error = RpcError::new(rpc::AUTH_REQUIRED, "authenticate before calling play");
            return self.send(rpc::error_response(&id, &error)).await;
        }
        let Some(source) = params.get("script").and_then(Value::as_str) else {
            let error = RpcError::new(rpc::INVALID_PARAMS, "expected {\"script\": \"<text>\"}");
            return self.send(rpc::error_response(&id, &error)).await;
        };
        let steps = match script::parse(source) {
            Ok(steps) => steps,
            Err(reason) => {
                let error = RpcError::new(rpc::EXECUTION_ERROR, reason);
                return self.send(rpc::error_response(&id, &error)).await;
            }
        };
        // Run in its own task so a `sleep` does not hold up other calls.
        let out = self.out.clone();
        let who = self
            .authenticated
            .clone()
            .unwrap_or_else(|| "anonymous".into());
        tokio::spawn(async move {
            let mut lines = Vec::new();
            let mut then = None;
            for step in steps {
                match step {
                    Step::Echo(text) => lines.push(text),
                    Step::WhoAmI => lines.push(who.clone()),
                    Step::Sleep(duration) => tokio::time::sleep(duration).await,
                    Step::Notify { method, params } => {
                        let frame = rpc::notification(&method, &params);
                        if out.send(Outgoing::Text(frame)).await.is_err() {
                            return;
                        }
                    }
                    Step::Disconnect => then = Some(Outgoing::Hangup),
                    Step::Freeze => then = Some(Outgoing::Freeze),
                }
            }
            let answer = rpc::response(&id, &Value::String(lines.join("\n")));
            if out.send(Outgoing::Text(answer)).await.is_ok() {
                if let Some(then) = then {
                    let _ = out.send(then).await;
                }
            }
        });
    }
}
