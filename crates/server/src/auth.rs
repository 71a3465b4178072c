//! Authentication at the upgrade: [`UpgradeRequest`], [`Identity`], [`Reject`] and the
//! [`Authenticator`] hook, plus two ready hooks ([`TokenAuth`], [`Secp256k1Auth`]).
//!
//! A session's identity comes only from its upgrade request (path, query, headers), checked
//! before the `101 Switching Protocols` answer: a refused request gets an HTTP status and no
//! WebSocket at all, and no frame a peer sends can change who it is. The hook runs inline
//! in the handshake (bounded by the handshake timeout), so it must not block; both ready
//! hooks are pure computations.
//!
//! Nothing here shows a header value or the query in `Debug`, logs or errors: they may be
//! credentials.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio_tungstenite::tungstenite::http::{HeaderMap, Uri};

mod secp256k1;
mod token;

pub use secp256k1::{
    CHALLENGE_HEADER, DEFAULT_MAX_SKEW, PUBKEY_HEADER, SIGNATURE_HEADER, Secp256k1Auth,
    SignedChallenge, SignedConnector,
};
pub use token::TokenAuth;

/// String attributes attached to an identity or a session (sorted by key).
pub type Metadata = BTreeMap<String, String>;

/// The parts of an HTTP upgrade request an authenticator may look at.
///
/// `Debug` shows the path and header names only: header values and the query string may
/// carry credentials.
pub struct UpgradeRequest {
    peer: SocketAddr,
    uri: Uri,
    headers: HeaderMap,
}

impl UpgradeRequest {
    pub(crate) fn new(peer: SocketAddr, uri: Uri, headers: HeaderMap) -> Self {
        UpgradeRequest { peer, uri, headers }
    }

    /// A request for tests of an authenticator: `target` is a path with an optional query
    /// (`/chat?token=abc`); header names that are not valid are skipped.
    ///
    /// ```
    /// use server::{Authenticator, TokenAuth, Identity, UpgradeRequest};
    ///
    /// let auth = TokenAuth::new().with_token("s3cret", Identity::new("alice"));
    /// let request = UpgradeRequest::for_test("/chat?token=s3cret", &[]);
    /// assert_eq!(auth.authenticate(&request).unwrap().name(), "alice");
    /// ```
    pub fn for_test(target: &str, headers: &[(&str, &str)]) -> Self {
        let uri = target.parse().unwrap_or_else(|_| Uri::from_static("/"));
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()),
                value.parse(),
            ) {
                map.append(name, value);
            }
        }
        UpgradeRequest::new(SocketAddr::from(([127, 0, 0, 1], 0)), uri, map)
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The request path (`/chat`).
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The raw query string, without `?` (may hold credentials: never log it).
    pub fn query(&self) -> Option<&str> {
        self.uri.query()
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query()?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key)? == name).then(|| percent_decode(value))?
        })
    }

    /// The first value of header `name` (case-insensitive), if it is visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// Every header.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `Origin` header.
    pub fn origin(&self) -> Option<&str> {
        self.header("origin")
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.header("authorization")?.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }

    /// The facts about the request that are safe to keep and show: the path, and the
    /// `Origin` and `User-Agent` headers when present.
    pub(crate) fn public_metadata(&self) -> Metadata {
        let mut metadata = Metadata::new();
        metadata.insert("path".into(), self.path().to_owned());
        for name in ["origin", "user-agent"] {
            if let Some(value) = self.header(name) {
                metadata.insert(name.into(), value.to_owned());
            }
        }
        metadata
    }
}

impl fmt::Debug for UpgradeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(|k| k.as_str()).collect();
        f.debug_struct("UpgradeRequest")
            .field("peer", &self.peer)
            .field("path", &self.path())
            .field("has_query", &self.query().is_some())
            .field("headers", &names)
            .finish()
    }
}

/// Decodes `%XX` escapes and `+` (a space in forms); `None` for bad escapes or non-UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Who a session is: a name the application chose (a user id, an address) and attributes.
///
/// Two sessions have the same identity when their names are equal; that is what
/// [`DuplicateIdentity`](crate::DuplicateIdentity) compares.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    name: Arc<str>,
    attributes: Metadata,
}

impl Identity {
    /// An identity called `name`, without attributes.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Identity {
            name: name.into(),
            attributes: Metadata::new(),
        }
    }

    /// Adds an attribute (a role, a public key…). Do not put secrets here: identities
    /// appear in `Debug` output and events.
    pub fn with_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn shared_name(&self) -> Arc<str> {
        self.name.clone()
    }

    /// The attributes.
    pub fn attributes(&self) -> &Metadata {
        &self.attributes
    }

    /// One attribute.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.attributes.is_empty() {
            write!(f, "Identity({:?})", self.name)
        } else {
            write!(f, "Identity({:?}, {:?})", self.name, self.attributes)
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A refused upgrade: the HTTP status and a short public reason (sent as the body, so it
/// must not reveal secrets or which part of a credential was wrong).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    status: u16,
    reason: String,
}

impl Reject {
    /// 401 Unauthorized: no credentials, or unusable ones.
    pub fn unauthorized(reason: impl Into<String>) -> Self {
        Reject::with_status(401, reason)
    }

    /// 403 Forbidden: valid credentials that may not connect.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Reject::with_status(403, reason)
    }

    /// Any 4xx or 5xx status (others become 403).
    pub fn with_status(status: u16, reason: impl Into<String>) -> Self {
        let status = if (400..600).contains(&status) {
            status
        } else {
            403
        };
        Reject {
            status,
            reason: reason.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The public reason.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Decides who an upgrade request is, or refuses it.
///
/// Any `Fn(&UpgradeRequest) -> Result<Identity, Reject>` is an authenticator. It runs in
/// the handshake, before the connection counts as a session; it must be quick and must not
/// block (do slow lookups before, e.g. into a map the closure reads).
///
/// ```
/// use server::{Identity, Reject, Server, UpgradeRequest};
///
/// let builder = Server::builder().with_authenticator(|request: &UpgradeRequest| {
///     match request.query_param("user") {
///         Some(user) if !user.is_empty() => Ok(Identity::new(user)),
///         _ => Err(Reject::unauthorized("add ?user=NAME")),
///     }
/// });
/// # drop(builder);
/// ```
pub trait Authenticator: Send + Sync + 'static {
    /// The identity of the peer that sent `request`, or why it may not connect.
    fn authenticate(&self, request: &UpgradeRequest) -> Result<Identity, Reject>;
}

impl<F> Authenticator for F
where
    F: Fn(&UpgradeRequest) -> Result<Identity, Reject> + Send + Sync + 'static,
{
    fn authenticate(&self, request: &UpgradeRequest) -> Result<Identity, Reject> {
        self(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_percent_decoded_and_the_first_wins() {
        let request = UpgradeRequest::for_test("/x?a=1&name=al%20ice+b&a=2&flag", &[]);
        assert_eq!(request.query_param("a").as_deref(), Some("1"));
        assert_eq!(request.query_param("name").as_deref(), Some("al ice b"));
        assert_eq!(request.query_param("flag").as_deref(), Some(""));
        assert_eq!(request.query_param("missing"), None);
        assert_eq!(request.path(), "/x");
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let request = UpgradeRequest::for_test("/", &[("Authorization", "bearer  tok en")]);
        assert_eq!(request.bearer_token(), Some("tok en"));
        let basic = UpgradeRequest::for_test("/", &[("Authorization", "Basic abc")]);
        assert_eq!(basic.bearer_token(), None);
    }

    #[test]
    fn debug_shows_neither_header_values_nor_the_query() {
        let request = UpgradeRequest::for_test(
            "/chat?token=topsecret",
            &[("Authorization", "Bearer alsosecret")],
        );
        let shown = format!("{request:?}");
        assert!(
            !shown.contains("topsecret") && !shown.contains("alsosecret"),
            "{shown}"
        );
        assert!(
            shown.contains("authorization") && shown.contains("/chat"),
            "{shown}"
        );
    }

    #[test]
    fn reject_keeps_error_statuses_only() {
        assert_eq!(Reject::unauthorized("x").status(), 401);
        assert_eq!(Reject::with_status(200, "x").status(), 403);
        assert_eq!(Reject::with_status(429, "x").status(), 429);
    }
}
