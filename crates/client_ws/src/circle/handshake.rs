//! [`CircleConnector`]: opens the WebSocket and, with a key, authenticates on it before
//! the runner sees the connection.
//!
//! Because authentication happens inside the connector, core-pre reports `Connected` only
//! once the connection is authenticated, and every reconnect re-authenticates by itself
//! before any call can use the new connection.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};

use core_pre::{
    BoxFuture, ConnectContext, ConnectError, ConnectErrorKind, Connection, Connector, Message,
    runtime,
};

use super::state::CircleState;
use crate::auth::{AuthError, KeyPair};
use crate::error::ClientWsError;
use crate::rpc::{self, Incoming, RpcError};
use crate::transport::{self, WsConfig};

pub(crate) struct CircleConnector {
    pub(crate) ws: WsConfig,
    pub(crate) key: Option<Arc<KeyPair>>,
    /// Limit on each handshake step (`fetch_nonce`, `authenticate`).
    pub(crate) step_timeout: Duration,
}

impl Connector<CircleState> for CircleConnector {
    fn connect<'a>(
        &'a self,
        ctx: ConnectContext<CircleState>,
    ) -> BoxFuture<'a, Result<Connection, ConnectError>> {
        ctx.set_endpoint(transport::redacted_url(&self.ws.url));
        runtime::boxed(async move {
            match self.open(&ctx.state).await {
                Ok(connection) => {
                    ctx.state.record_error(None);
                    Ok(connection)
                }
                Err((error, connect_error)) => {
                    ctx.state.record_error(Some(error));
                    Err(connect_error)
                }
            }
        })
    }
}

impl CircleConnector {
    async fn open(&self, state: &CircleState) -> Result<Connection, (ClientWsError, ConnectError)> {
        let mut connection = transport::connect(&self.ws)
            .await
            .map_err(|e| (ClientWsError::Connect(e.message().to_string()), e))?;
        if let Some(key) = &self.key {
            if let Err(error) = authenticate(&mut connection, key, state, self.step_timeout).await {
                tracing::warn!(%error, "authentication failed");
                let connect_error = if error.is_retryable() {
                    ConnectError::retryable(error.to_string())
                        .with_kind(ConnectErrorKind::Handshake)
                } else {
                    ConnectError::fatal(error.to_string()).with_kind(ConnectErrorKind::Rejected)
                };
                return Err((ClientWsError::Auth(error), connect_error));
            }
            tracing::debug!(pubkey = %key.public_key_hex(), "authenticated");
        }
        Ok(connection)
    }
}

/// fetch_nonce → sign → authenticate, on a raw connection.
async fn authenticate(
    connection: &mut Connection,
    key: &KeyPair,
    state: &CircleState,
    step_timeout: Duration,
) -> Result<(), AuthError> {
    let pubkey = key.public_key_hex();
    let issued = exchange(
        connection,
        state.next_id(),
        "fetch_nonce",
        json!({ "pubkey": pubkey }),
        step_timeout,
    )
    .await?;
    let nonce = issued.get("nonce").and_then(Value::as_str).ok_or_else(|| {
        AuthError::Protocol(format!(
            "fetch_nonce answered {issued}, without a \"nonce\" string"
        ))
    })?;
    let credentials = key.credentials(nonce);
    let answer = exchange(
        connection,
        state.next_id(),
        "authenticate",
        json!({ "pubkey": credentials.pubkey, "signature": credentials.signature }),
        step_timeout,
    )
    .await?;
    if answer.get("authenticated") == Some(&Value::Bool(true)) {
        Ok(())
    } else {
        Err(AuthError::Protocol(format!(
            "authenticate answered {answer}, not {{\"authenticated\": true}}"
        )))
    }
}

/// Sends one request and waits for its response, skipping anything else that arrives.
async fn exchange(
    connection: &mut Connection,
    id: u64,
    method: &'static str,
    params: Value,
    limit: Duration,
) -> Result<Value, AuthError> {
    let frame = rpc::request(id, method, &params);
    let wait = async {
        connection
            .sink
            .send(Message::text(frame))
            .await
            .map_err(|e| AuthError::Connection(e.to_string()))?;
        loop {
            match connection.stream.next().await {
                None => {
                    return Err(AuthError::Connection(
                        "the server closed the connection".into(),
                    ));
                }
                Some(Err(e)) => return Err(AuthError::Connection(e.to_string())),
                Some(Ok(Message::Close(frame))) => {
                    let code = frame
                        .map(|f| format!(" (code {}: {})", f.code, f.reason))
                        .unwrap_or_default();
                    return Err(AuthError::Connection(format!(
                        "the server closed the connection{code}"
                    )));
                }
                Some(Ok(Message::Text(text))) => match rpc::parse(&text) {
                    Ok(Incoming::Response {
                        id: answered,
                        outcome,
                    }) if answered == id => {
                        return outcome.map_err(|error| classify(method, error));
                    }
                    _ => tracing::debug!(
                        method,
                        "skipping a frame that arrived during authentication"
                    ),
                },
                Some(Ok(_)) => {}
            }
        }
    };
    runtime::timeout(limit, wait)
        .await
        .map_err(|_| AuthError::Timeout {
            step: method,
            after: limit,
        })?
}

fn classify(method: &str, error: RpcError) -> AuthError {
    match error.code {
        rpc::INVALID_CREDENTIALS => AuthError::Rejected {
            code: error.code,
            message: error.message,
        },
        rpc::NONCE_REJECTED => AuthError::NonceRejected {
            code: error.code,
            message: error.message,
        },
        code => AuthError::Protocol(format!(
            "{method} failed with error {code}: {}",
            error.message
        )),
    }
}
