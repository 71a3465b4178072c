//! The opening handshake of one connection: TLS (when configured), then the HTTP upgrade
//! with the admission checks, in this order:
//!
//! 1. the server is shutting down → 503;
//! 2. the connection cap is reached → 503 with `Retry-After` (never a silent TCP drop);
//! 3. the `Origin` is not allowed → 403;
//! 4. the authenticator refuses → its status (401/403…), with its public reason as body;
//! 5. the identity is connected and duplicates are refused → 409.
//!
//! The checks run inside tungstenite's handshake callback, so a refused request gets a real
//! HTTP answer and never becomes a WebSocket. A session slot taken in step 2 travels with
//! the session and is released when it ends.

use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::auth::{Identity, Metadata, UpgradeRequest};
use crate::config::DuplicateIdentity;
use crate::metrics::RejectReason;
use crate::shared::Shared;
use crate::tls::MaybeTls;

/// The WebSocket a session runs over.
pub(crate) type Socket = WebSocketStream<MaybeTls>;

/// A connection that passed every check.
pub(crate) struct Admitted {
    pub(crate) socket: Socket,
    pub(crate) identity: Option<Identity>,
    pub(crate) metadata: Metadata,
    /// The session's place under the connection cap.
    pub(crate) slot: OwnedSemaphorePermit,
}

/// What the callback decided, read after the handshake.
struct Verdict {
    identity: Option<Identity>,
    metadata: Metadata,
    slot: OwnedSemaphorePermit,
}

/// TLS and upgrade for `tcp`. `None` when the connection was refused or failed (counted).
/// The caller bounds the time.
pub(crate) async fn accept(shared: &Shared, tcp: TcpStream, peer: SocketAddr) -> Option<Admitted> {
    let stream = match &shared.tls {
        None => MaybeTls::Plain(tcp),
        Some(acceptor) => match acceptor.accept(tcp).await {
            Ok(tls) => MaybeTls::Tls(Box::new(tls)),
            Err(error) => {
                tracing::debug!(%peer, %error, "TLS handshake failed");
                shared.counters.reject(RejectReason::Tls);
                return None;
            }
        },
    };
    let mut verdict: Option<Verdict> = None;
    let mut refused: Option<RejectReason> = None;
    // The error type is tungstenite's, large by design.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| match admit(shared, peer, request) {
        Ok(admitted) => {
            verdict = Some(admitted);
            Ok(response)
        }
        Err((reason, error_response)) => {
            refused = Some(reason);
            Err(error_response)
        }
    };
    let config = ws_config(shared);
    match tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await {
        Ok(socket) => {
            let Some(verdict) = verdict else {
                // The callback always runs before the upgrade succeeds; without a verdict
                // there is nothing to admit.
                shared.counters.reject(RejectReason::Handshake);
                return None;
            };
            Some(Admitted {
                socket,
                identity: verdict.identity,
                metadata: verdict.metadata,
                slot: verdict.slot,
            })
        }
        Err(error) => {
            let reason = refused.unwrap_or(RejectReason::Handshake);
            shared.counters.reject(reason);
            match error {
                WsError::Http(response) => {
                    tracing::debug!(%peer, status = %response.status(), %reason, "upgrade refused")
                }
                other => tracing::debug!(%peer, error = %other, "handshake failed"),
            }
            None
        }
    }
}

fn ws_config(shared: &Shared) -> WebSocketConfig {
    let config = &shared.config;
    WebSocketConfig::default()
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_frame_size))
        .read_buffer_size(config.read_buffer_size)
}

/// The admission checks (see the module documentation), in order.
#[allow(clippy::result_large_err)]
fn admit(
    shared: &Shared,
    peer: SocketAddr,
    request: &Request,
) -> Result<Verdict, (RejectReason, ErrorResponse)> {
    if shared.shutdown.deadline().is_some() {
        return Err((
            RejectReason::ShuttingDown,
            refusal(
                503,
                "the server is shutting down",
                Some(shared.config.retry_after.as_secs()),
            ),
        ));
    }
    let Ok(slot) = shared.slots.clone().try_acquire_owned() else {
        return Err((
            RejectReason::Capacity,
            refusal(
                503,
                "the server is at its connection limit; retry later",
                Some(shared.config.retry_after.as_secs()),
            ),
        ));
    };
    let upgrade = UpgradeRequest::new(peer, request.uri().clone(), request.headers().clone());
    if !shared.config.origin.allows(upgrade.origin()) {
        return Err((
            RejectReason::Origin,
            refusal(403, "origin not allowed", None),
        ));
    }
    let identity = match &shared.authenticator {
        None => None,
        Some(authenticator) => match authenticator.authenticate(&upgrade) {
            Ok(identity) => Some(identity),
            Err(reject) => {
                return Err((
                    RejectReason::Unauthorized,
                    refusal(reject.status(), reject.reason(), None),
                ));
            }
        },
    };
    if let Some(identity) = &identity {
        if shared.config.duplicate_identity == DuplicateIdentity::RejectNew
            && shared.registry.has_identity(identity.name())
        {
            return Err((
                RejectReason::DuplicateIdentity,
                refusal(409, "this identity is already connected", None),
            ));
        }
    }
    Ok(Verdict {
        identity,
        metadata: upgrade.public_metadata(),
        slot,
    })
}

/// An HTTP error answer with a short text body.
fn refusal(status: u16, reason: &str, retry_after: Option<u64>) -> ErrorResponse {
    let body = format!("{reason}\n");
    let mut response = ErrorResponse::new(Some(body.clone()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
