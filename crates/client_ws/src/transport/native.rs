//! The native transport: tokio-tungstenite over a TCP socket with `TCP_NODELAY`, and rustls
//! (ring provider) for `wss://`.
//!
//! The adapters are deliberately thin: the inbound half is a small `Stream` over the
//! split tungstenite stream that converts each frame as it is taken, and the outbound half
//! a small `Sink` wrapper, so no task, channel or payload copy sits between the socket and
//! the runner. Tungstenite payloads are already `Bytes`, and so are core-pre's.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::stream::{SplitSink, SplitStream, Stream, StreamExt};
use futures::{Sink, SinkExt};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError, UrlError};
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame as WsCloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::{Connector as TlsConnector, MaybeTlsStream, WebSocketStream};

use core_pre::{
    CloseFrame, ConnectError, ConnectErrorKind, Connection, HumanDuration, Message, Text,
    TransportError, TransportErrorKind, runtime,
};

use super::config::{RootCertificate, WsConfig, redacted_url};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket per `config`. See [`crate::connect`].
pub(crate) async fn connect(config: &WsConfig) -> Result<Connection, ConnectError> {
    let limit = config.connect_timeout;
    match runtime::timeout(limit, open(config)).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::retryable(format!(
            "connecting to {} timed out after {}; check that the server is up, or raise the connect timeout",
            redacted_url(&config.url),
            HumanDuration(limit)
        ))
        .with_kind(ConnectErrorKind::TimedOut)),
    }
}

async fn open(config: &WsConfig) -> Result<Connection, ConnectError> {
    let request = build_request(config)?;
    let uri = request.uri();
    let secure = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => {
            return Err(ConnectError::fatal(format!(
                "unsupported URL scheme in {}; use ws:// or wss://",
                redacted_url(&config.url)
            ))
            .with_kind(ConnectErrorKind::Config));
        }
    };
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            ConnectError::fatal(format!(
                "no host in {}; use ws://host:port/path",
                redacted_url(&config.url)
            ))
            .with_kind(ConnectErrorKind::Config)
        })?;
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });

    // TLS settings are checked before dialling: a bad root certificate is a configuration
    // error, whatever the network does.
    let tls = if secure {
        TlsConnector::Rustls(tls_config(config).map_err(|e| e.with_kind(ConnectErrorKind::Config))?)
    } else {
        TlsConnector::Plain
    };
    let addresses = resolve(&host, port).await?;
    let tcp = dial(&addresses, &host, port).await?;
    tcp.set_nodelay(true).map_err(|e| {
        ConnectError::retryable(format!("could not set TCP_NODELAY on {host}:{port}: {e}"))
    })?;

    let (socket, _response) = tokio_tungstenite::client_async_tls_with_config(
        request,
        tcp,
        Some(ws_config(config)),
        Some(tls),
    )
    .await
    .map_err(|e| handshake_error(e, config))?;
    Ok(into_connection(socket, config.max_message_size))
}

/// Resolves `host` (an IP literal resolves to itself, without a lookup).
///
/// Names under the reserved `.invalid` top-level domain fail at once, without asking any
/// resolver, as RFC 6761 §6.4 recommends: they never exist, and tests rely on them to fail
/// without touching the network.
async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ConnectError> {
    let unresolved = |why: String| {
        ConnectError::retryable(format!("could not resolve the host name {host}: {why}"))
            .with_kind(ConnectErrorKind::Unresolved)
    };
    let lower = host.trim_end_matches('.').to_ascii_lowercase();
    if lower == "invalid" || lower.ends_with(".invalid") {
        return Err(unresolved(
            "names under .invalid never exist (RFC 6761)".to_owned(),
        ));
    }
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| unresolved(e.to_string()))?
        .collect();
    if addresses.is_empty() {
        return Err(unresolved("the lookup returned no address".to_owned()));
    }
    Ok(addresses)
}

/// Opens a TCP connection to the first of `addresses` that accepts; the error of the last
/// one otherwise, with its kind (refused, unreachable, timed out).
async fn dial(addresses: &[SocketAddr], host: &str, port: u16) -> Result<TcpStream, ConnectError> {
    let mut last = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    // `resolve` never returns an empty list, so `last` is set; the fallback is for safety.
    let error = last.unwrap_or_else(|| std::io::Error::other("no address to connect to"));
    let kind = match error.kind() {
        std::io::ErrorKind::ConnectionRefused => ConnectErrorKind::Refused,
        std::io::ErrorKind::TimedOut => ConnectErrorKind::TimedOut,
        std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::NetworkUnreachable => {
            ConnectErrorKind::Unreachable
        }
        _ => ConnectErrorKind::Other,
    };
    Err(ConnectError::retryable(format!("could not reach {host}:{port}: {error}")).with_kind(kind))
}

/// The handshake request: URL plus the configured headers. Every failure here is a
/// configuration mistake, so it is fatal.
fn build_request(config: &WsConfig) -> Result<Request, ConnectError> {
    let mut request = config.url.as_str().into_client_request().map_err(|e| {
        ConnectError::fatal(format!(
            "invalid WebSocket URL {}: {e}; use ws://host:port/path or wss://…",
            redacted_url(&config.url)
        ))
        .with_kind(ConnectErrorKind::Config)
    })?;
    for (name, value) in &config.headers {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ConnectError::fatal(format!(
                "invalid header name {name:?}; fix the WsConfig headers"
            ))
            .with_kind(ConnectErrorKind::Config)
        })?;
        // The value is not echoed: it may be a credential.
        let value = HeaderValue::from_str(value).map_err(|_| {
            ConnectError::fatal(format!(
                "invalid value for header {name:?} (control characters?); fix the WsConfig headers"
            ))
            .with_kind(ConnectErrorKind::Config)
        })?;
        request.headers_mut().append(header, value);
    }
    Ok(request)
}

fn ws_config(config: &WsConfig) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_message_size))
        .write_buffer_size(config.write_buffer_size)
        .max_write_buffer_size(config.max_write_buffer_size)
        .read_buffer_size(config.read_buffer_size)
}

/// The rustls client configuration: the ring provider, webpki roots (unless disabled) and
/// the extra roots from the configuration.
fn tls_config(config: &WsConfig) -> Result<Arc<rustls::ClientConfig>, ConnectError> {
    let mut roots = rustls::RootCertStore::empty();
    if config.webpki_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for (index, cert) in config.root_certificates.iter().enumerate() {
        match cert {
            RootCertificate::Der(der) => {
                roots.add(CertificateDer::from(der.clone())).map_err(|e| {
                    ConnectError::fatal(format!(
                        "extra root certificate #{index} is not a usable DER certificate: {e}"
                    ))
                })?;
            }
            RootCertificate::Pem(pem) => {
                let mut added = 0usize;
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|e| {
                        ConnectError::fatal(format!(
                            "extra root certificate #{index}: bad PEM: {e}"
                        ))
                    })?;
                    roots.add(cert).map_err(|e| {
                        ConnectError::fatal(format!(
                            "extra root certificate #{index} is not a usable certificate: {e}"
                        ))
                    })?;
                    added += 1;
                }
                if added == 0 {
                    return Err(ConnectError::fatal(format!(
                        "extra root certificate #{index}: the PEM document has no CERTIFICATE block"
                    )));
                }
            }
        }
    }
    if roots.is_empty() {
        return Err(ConnectError::fatal(
            "no trusted root certificates: keep the webpki roots or add a root certificate",
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError::fatal(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(tls))
}

/// The rustls error inside an I/O error, if there is one.
fn rustls_error(error: &std::io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

/// Classifies a failed opening handshake.
///
/// Fatal (retrying cannot help until someone changes something): malformed URLs and
/// headers, a server certificate that does not verify (wrong host, unknown CA, expired:
/// add the CA or fix the server), and HTTP refusals other than 408/429/5xx (a 401 or 404
/// will not change by itself). Everything else (refused, reset, timeouts, overloaded
/// servers) is retryable.
fn handshake_error(error: WsError, config: &WsConfig) -> ConnectError {
    let url = redacted_url(&config.url);
    match error {
        WsError::Io(io) => match rustls_error(&io) {
            Some(rustls::Error::InvalidCertificate(cert)) => ConnectError::fatal(format!(
                "the TLS certificate of {url} was rejected ({cert:?}); if the server uses a private CA, \
                 add it with WsConfig::with_root_certificate_der/pem"
            ))
            .with_kind(ConnectErrorKind::Tls),
            Some(tls) => ConnectError::retryable(format!("TLS handshake with {url} failed: {tls}"))
                .with_kind(ConnectErrorKind::Tls),
            None => ConnectError::retryable(format!(
                "connection to {url} failed during the handshake: {io}"
            ))
            .with_kind(ConnectErrorKind::Handshake),
        },
        WsError::Tls(tls) => ConnectError::fatal(format!("TLS setup for {url} failed: {tls}"))
            .with_kind(ConnectErrorKind::Tls),
        WsError::Url(UrlError::TlsFeatureNotEnabled) => ConnectError::fatal(format!(
            "{url}: wss:// needs TLS support, which this build lacks"
        ))
        .with_kind(ConnectErrorKind::Config),
        WsError::Url(e) => ConnectError::fatal(format!("invalid WebSocket URL {url}: {e}"))
            .with_kind(ConnectErrorKind::Config),
        WsError::Http(response) => {
            let status = response.status();
            let kind = ConnectErrorKind::HttpStatus(status.as_u16());
            let message =
                format!("the server at {url} refused the WebSocket upgrade with HTTP {status}");
            if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
                ConnectError::retryable(message).with_kind(kind)
            } else {
                ConnectError::fatal(format!("{message}; check the URL, headers and credentials"))
                    .with_kind(kind)
            }
        }
        WsError::HttpFormat(e) => {
            ConnectError::fatal(format!("could not build the request for {url}: {e}"))
                .with_kind(ConnectErrorKind::Config)
        }
        other => ConnectError::retryable(format!("WebSocket handshake with {url} failed: {other}"))
            .with_kind(ConnectErrorKind::Handshake),
    }
}

/// Splits the socket into core-pre's halves.
fn into_connection(socket: Socket, max_message_size: usize) -> Connection {
    let (sink, stream) = socket.split();
    let stream = WsStream { inner: stream };
    let sink = WsSink {
        inner: sink,
        max_message_size,
    };
    Connection::new(stream, sink)
}

/// The inbound half: tungstenite's split stream, each frame converted as it is taken.
struct WsStream {
    inner: SplitStream<Socket>,
}

impl Stream for WsStream {
    type Item = Result<Message, TransportError>;

    #[inline]
    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, TransportError>>> {
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(Some(inbound(item))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// One inbound frame, converted without copying its payload.
#[allow(unsafe_code)] // SAFETY at the text arm.
#[inline]
fn inbound(item: Result<WsMessage, WsError>) -> Result<Message, TransportError> {
    match item {
        // SAFETY: tungstenite's `Utf8Bytes` is valid UTF-8 by construction (it validated
        // the frame), so checking again would only cost time on every frame.
        Ok(WsMessage::Text(text)) => Ok(Message::Text(unsafe {
            Text::from_utf8_unchecked(text.into())
        })),
        Ok(WsMessage::Binary(bytes)) => Ok(Message::Binary(bytes)),
        Ok(WsMessage::Ping(bytes)) => Ok(Message::Ping(bytes)),
        Ok(WsMessage::Pong(bytes)) => Ok(Message::Pong(bytes)),
        Ok(WsMessage::Close(frame)) => Ok(Message::Close(frame.map(|frame| CloseFrame {
            code: frame.code.into(),
            reason: Text::from_utf8(frame.reason.into()).unwrap_or_default(),
        }))),
        // Tungstenite only yields raw frames to writers, never to readers.
        Ok(WsMessage::Frame(_)) => Err(TransportError::new(
            TransportErrorKind::Protocol,
            "unexpected raw frame from the WebSocket reader",
        )),
        Err(error) => Err(transport_error(error)),
    }
}

/// One outbound message, converted without copying its payload.
#[allow(unsafe_code)] // SAFETY at the text and close arms.
fn outbound(msg: Message) -> WsMessage {
    match msg {
        // SAFETY: `core_pre::Text` is valid UTF-8 by construction (every constructor checks
        // or starts from a `str`), which is exactly `Utf8Bytes`'s requirement.
        Message::Text(text) => {
            WsMessage::Text(unsafe { Utf8Bytes::from_bytes_unchecked(text.into_bytes()) })
        }
        Message::Binary(bytes) => WsMessage::Binary(bytes),
        Message::Ping(bytes) => WsMessage::Ping(bytes),
        Message::Pong(bytes) => WsMessage::Pong(bytes),
        Message::Close(frame) => WsMessage::Close(frame.map(|frame| WsCloseFrame {
            code: CloseCode::from(frame.code),
            // SAFETY: as above, `Text` is valid UTF-8.
            reason: unsafe { Utf8Bytes::from_bytes_unchecked(frame.reason.into_bytes()) },
        })),
    }
}

/// Maps a tungstenite error to core-pre's transport error, with a kind and a hint.
pub(crate) fn transport_error(error: WsError) -> TransportError {
    use TransportErrorKind as Kind;
    match error {
        WsError::ConnectionClosed | WsError::AlreadyClosed => TransportError::closed(),
        WsError::Io(io) => match rustls_error(&io) {
            Some(tls) => TransportError::new(Kind::Tls, format!("TLS error: {tls}")),
            None => TransportError::new(Kind::Io, format!("I/O error: {io}")),
        },
        WsError::Tls(tls) => TransportError::new(Kind::Tls, format!("TLS error: {tls}")),
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => TransportError::new(
            Kind::TooLarge,
            format!(
                "inbound message of {size} bytes exceeds the {max_size}-byte limit; \
                 raise WsConfig::with_max_message_size if the peer legitimately sends this much"
            ),
        ),
        WsError::Capacity(other) => {
            TransportError::new(Kind::Other, format!("capacity exceeded: {other}"))
        }
        WsError::WriteBufferFull(_) => TransportError::new(
            Kind::Io,
            "the write buffer is full: the peer is not reading fast enough",
        ),
        WsError::Protocol(e) => {
            TransportError::new(Kind::Protocol, format!("WebSocket protocol error: {e}"))
        }
        WsError::Utf8 => TransportError::new(Kind::Protocol, "text frame is not UTF-8"),
        WsError::AttackAttempt => {
            TransportError::new(Kind::Protocol, "the peer's frames look like an attack")
        }
        other => TransportError::new(Kind::Other, other.to_string()),
    }
}

/// The outbound half: tungstenite's split sink plus the message size check.
struct WsSink {
    inner: SplitSink<Socket, WsMessage>,
    max_message_size: usize,
}

impl Sink<Message> for WsSink {
    type Error = TransportError;

    fn poll_ready(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        self.inner.poll_ready_unpin(cx).map_err(transport_error)
    }

    fn start_send(mut self: Pin<&mut Self>, msg: Message) -> Result<(), TransportError> {
        super::check_outbound_size(&msg, self.max_message_size)?;
        self.inner
            .start_send_unpin(outbound(msg))
            .map_err(transport_error)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        self.inner.poll_flush_unpin(cx).map_err(transport_error)
    }

    fn poll_close(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TransportError>> {
        self.inner.poll_close_unpin(cx).map_err(transport_error)
    }
}
