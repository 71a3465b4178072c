//! [`WsConfig`]: everything needed to open one WebSocket, on either platform.
//!
//! One struct serves the native and the browser transport, so code that builds a
//! configuration never needs a `cfg`. A few settings only mean something natively (the
//! browser owns its headers, TLS and buffers); they are accepted everywhere and documented
//! as ignored in browsers.

use std::fmt;
use std::time::Duration;

/// Default limit on one inbound message: 16 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;
/// Default size the native write buffer reaches before it is written out: 128 KiB.
pub const DEFAULT_WRITE_BUFFER_SIZE: usize = 128 << 10;
/// Default read buffer: small, so idle connections stay cheap (tungstenite's own default is
/// 128 KiB, resident per connection).
pub const DEFAULT_READ_BUFFER_SIZE: usize = 4 * 1024;
/// Default time allowed for TCP + TLS + WebSocket handshake: 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An extra trusted root certificate, as given by the user (parsed when connecting).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum RootCertificate {
    /// One DER-encoded certificate.
    Der(Vec<u8>),
    /// One or more PEM `CERTIFICATE` blocks.
    Pem(Vec<u8>),
}

/// How to open a WebSocket: URL, headers, limits and TLS roots. Builder-style.
///
/// ```
/// use client_ws::WsConfig;
/// use std::time::Duration;
///
/// let config = WsConfig::new("wss://example.invalid/socket")
///     .with_origin("https://example.invalid")
///     .with_user_agent("my-bot/1.0")
///     .with_header("X-Request-Id", "42")
///     .with_connect_timeout(Duration::from_secs(5))
///     .with_max_message_size(1 << 20);
/// assert_eq!(config.url(), "wss://example.invalid/socket");
/// // Header values never appear in Debug output (they may carry tokens).
/// let shown = format!("{config:?}");
/// assert!(shown.contains("X-Request-Id") && !shown.contains("42"));
/// ```
#[derive(Clone)]
pub struct WsConfig {
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_message_size: usize,
    pub(crate) write_buffer_size: usize,
    pub(crate) max_write_buffer_size: usize,
    pub(crate) read_buffer_size: usize,
    pub(crate) root_certificates: Vec<RootCertificate>,
    pub(crate) webpki_roots: bool,
}

impl WsConfig {
    /// A configuration for `url` (`ws://` or `wss://`) with the defaults: no extra headers,
    /// 10 s connect timeout, 16 MiB message limit, 128 KiB write buffer bounded at
    /// 128 KiB + the message limit, a 4 KiB read buffer, and the Mozilla (webpki) root
    /// certificates.
    pub fn new(url: impl Into<String>) -> Self {
        WsConfig {
            url: url.into(),
            headers: Vec::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            write_buffer_size: DEFAULT_WRITE_BUFFER_SIZE,
            max_write_buffer_size: DEFAULT_WRITE_BUFFER_SIZE + DEFAULT_MAX_MESSAGE_SIZE,
            read_buffer_size: DEFAULT_READ_BUFFER_SIZE,
            root_certificates: Vec::new(),
            webpki_roots: true,
        }
    }

    /// Replaces the URL.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// Adds a header to the opening handshake (any name; repeated names are all sent).
    ///
    /// Browsers do not let pages set WebSocket headers: there the headers are ignored (the
    /// browser sends its own `Origin` and `User-Agent`; pass tokens in the URL or in the
    /// first message instead).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds many headers at once (see [`with_header`](Self::with_header)).
    pub fn with_headers<I, K, V>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.headers
            .extend(headers.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Sets the `Origin` header (native only; see [`with_header`](Self::with_header)).
    pub fn with_origin(self, origin: impl Into<String>) -> Self {
        self.with_header("Origin", origin)
    }

    /// Sets the `User-Agent` header (native only; see [`with_header`](Self::with_header)).
    pub fn with_user_agent(self, user_agent: impl Into<String>) -> Self {
        self.with_header("User-Agent", user_agent)
    }

    /// Sends `Authorization: Bearer <token>` (native only; see
    /// [`with_header`](Self::with_header)). The token never appears in `Debug` output.
    pub fn with_bearer_token(self, token: impl AsRef<str>) -> Self {
        let value = format!("Bearer {}", token.as_ref());
        self.with_header("Authorization", value)
    }

    /// Limits the time for the TCP connection, the TLS handshake and the WebSocket
    /// handshake together (default 10 s). Exceeding it is a retryable error.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Limits the size of one inbound message, and of one outbound message (default
    /// 16 MiB). A bigger inbound message ends the connection with
    /// [`TransportErrorKind::TooLarge`](core_pre::TransportErrorKind::TooLarge); a bigger
    /// outbound one fails its send with the same kind.
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes.clamp(1, usize::MAX / 4);
        self.max_write_buffer_size = self
            .max_write_buffer_size
            .max(self.write_buffer_size + self.max_message_size);
        self
    }

    /// Sets how much outbound data is gathered before it is written to the socket, and
    /// the bound on the write buffer (native only). `max` is raised to at least
    /// `target + max_message_size` so any allowed message fits. Writes beyond the bound
    /// fail instead of growing memory without limit.
    pub fn with_write_buffer(mut self, target: usize, max: usize) -> Self {
        // Keep `target + max_message_size` far from overflowing.
        self.write_buffer_size = target.min(usize::MAX / 4);
        self.max_write_buffer_size = max.max(self.write_buffer_size + self.max_message_size);
        self
    }

    /// Sets how much is read from the socket at once (native only; default 4 KiB). The
    /// buffer stays resident for the connection's life, so a small one keeps thousands of
    /// idle connections cheap; large messages still arrive whole, over several reads.
    pub fn with_read_buffer(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes.clamp(512, 16 << 20);
        self
    }

    /// Trusts one more root certificate (DER), for servers with a private CA or a
    /// self-signed certificate (native only; browsers use their own trust store).
    pub fn with_root_certificate_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.root_certificates
            .push(RootCertificate::Der(der.into()));
        self
    }

    /// Trusts every `CERTIFICATE` in a PEM document (native only). A document without a
    /// usable certificate makes `connect` fail with a fatal error naming the problem.
    pub fn with_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates
            .push(RootCertificate::Pem(pem.into()));
        self
    }

    /// Whether the built-in public (webpki / Mozilla) roots are trusted (default true).
    /// Turn it off to trust only the certificates added above.
    pub fn with_webpki_roots(mut self, enabled: bool) -> Self {
        self.webpki_roots = enabled;
        self
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The extra headers, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The message size limit in bytes.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// The write buffer target and bound in bytes.
    pub fn write_buffer(&self) -> (usize, usize) {
        (self.write_buffer_size, self.max_write_buffer_size)
    }
}

impl fmt::Debug for WsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: show names only.
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("WsConfig")
            .field("url", &redacted_url(&self.url))
            .field("headers", &header_names)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_message_size", &self.max_message_size)
            .field("write_buffer_size", &self.write_buffer_size)
            .field("read_buffer_size", &self.read_buffer_size)
            .field("max_write_buffer_size", &self.max_write_buffer_size)
            .field("extra_root_certificates", &self.root_certificates.len())
            .field("webpki_roots", &self.webpki_roots)
            .finish()
    }
}

/// The URL without credentials, query string or fragment (any of which may carry a
/// token): safe for logs and error messages.
///
/// ```
/// assert_eq!(
///     client_ws::redacted_url("wss://user:secret@host/path?token=abc"),
///     "wss://host/path"
/// );
/// ```
pub fn redacted_url(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..end];
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &url[..scheme_end + 3], &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_url_drops_credentials_query_and_fragment() {
        assert_eq!(
            redacted_url("wss://user:secret@host:1/path?token=abc#frag"),
            "wss://host:1/path"
        );
        assert_eq!(redacted_url("ws://127.0.0.1:80/"), "ws://127.0.0.1:80/");
        assert_eq!(redacted_url("not a url?x"), "not a url");
    }

    #[test]
    fn write_buffer_bound_always_fits_one_message() {
        let config = WsConfig::new("ws://x")
            .with_max_message_size(1000)
            .with_write_buffer(10, 0);
        assert_eq!(config.write_buffer(), (10, 1010));
        let huge = WsConfig::new("ws://x").with_write_buffer(usize::MAX, usize::MAX);
        assert!(huge.write_buffer().1 > huge.write_buffer().0);
    }
}
