//! [`TokenAuth`]: bearer-token authentication, from the `Authorization` header or a query
//! parameter.
//!
//! Browsers cannot set headers on a WebSocket, so the token may also come in the query
//! (`?token=…` by default). Tokens are compared in constant time, and never appear in
//! `Debug`, logs or the rejection body.

use std::fmt;
use std::sync::Arc;

use super::{Authenticator, Identity, Reject, UpgradeRequest};

type Lookup = dyn Fn(&str) -> Option<Identity> + Send + Sync;

/// Accepts requests that carry a known token; the token decides the identity.
///
/// ```
/// use server::{Authenticator, Identity, TokenAuth, UpgradeRequest};
///
/// let auth = TokenAuth::new()
///     .with_token("alice-token", Identity::new("alice"))
///     .with_token("bob-token", Identity::new("bob").with_attribute("role", "admin"));
/// let request = UpgradeRequest::for_test("/", &[("Authorization", "Bearer bob-token")]);
/// assert_eq!(auth.authenticate(&request).unwrap().attribute("role"), Some("admin"));
/// let wrong = UpgradeRequest::for_test("/?token=guess", &[]);
/// assert_eq!(auth.authenticate(&wrong).unwrap_err().status(), 401);
/// ```
#[derive(Clone)]
pub struct TokenAuth {
    tokens: Vec<(Arc<str>, Identity)>,
    lookup: Option<Arc<Lookup>>,
    query_param: Option<String>,
}

impl Default for TokenAuth {
    fn default() -> Self {
        TokenAuth::new()
    }
}

impl TokenAuth {
    /// No tokens yet; the token is read from `Authorization: Bearer` or from `?token=`.
    pub fn new() -> Self {
        TokenAuth {
            tokens: Vec::new(),
            lookup: None,
            query_param: Some("token".into()),
        }
    }

    /// Accepts `token` as `identity`.
    pub fn with_token(mut self, token: impl Into<Arc<str>>, identity: Identity) -> Self {
        self.tokens.push((token.into(), identity));
        self
    }

    /// Asks `lookup` about tokens not added with [`with_token`](Self::with_token) (a
    /// session store, a signed-token check). It runs in the handshake: keep it quick.
    pub fn with_lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<Identity> + Send + Sync + 'static,
    ) -> Self {
        self.lookup = Some(Arc::new(lookup));
        self
    }

    /// Reads the query token from parameter `name` (default `token`), or not at all with
    /// `None` (header only).
    pub fn with_query_param(mut self, name: Option<&str>) -> Self {
        self.query_param = name.map(str::to_owned);
        self
    }

    fn token_of(&self, request: &UpgradeRequest) -> Option<String> {
        if let Some(token) = request.bearer_token() {
            return Some(token.to_owned());
        }
        request.query_param(self.query_param.as_deref()?)
    }
}

/// Equality that takes the same time wherever the first difference is (the length still
/// shows: tokens are expected to have a fixed length).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Authenticator for TokenAuth {
    fn authenticate(&self, request: &UpgradeRequest) -> Result<Identity, Reject> {
        let Some(token) = self.token_of(request) else {
            return Err(Reject::unauthorized(
                "missing token: send Authorization: Bearer <token> or ?token=<token>",
            ));
        };
        // Compare against every token so the time does not depend on which one matched.
        let mut found = None;
        for (known, identity) in &self.tokens {
            if constant_time_eq(known.as_bytes(), token.as_bytes()) && found.is_none() {
                found = Some(identity.clone());
            }
        }
        if found.is_none() {
            if let Some(lookup) = &self.lookup {
                found = lookup(&token);
            }
        }
        found.ok_or_else(|| Reject::unauthorized("unknown or expired token"))
    }
}

impl fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuth")
            .field("tokens", &self.tokens.len())
            .field("lookup", &self.lookup.is_some())
            .field("query_param", &self.query_param)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_wins_over_query_and_lookup_covers_the_rest() {
        let auth = TokenAuth::new()
            .with_token("t1", Identity::new("one"))
            .with_lookup(|token| (token == "dyn").then(|| Identity::new("dynamic")));
        let both = UpgradeRequest::for_test("/?token=dyn", &[("Authorization", "Bearer t1")]);
        assert_eq!(auth.authenticate(&both).unwrap().name(), "one");
        let query = UpgradeRequest::for_test("/?token=dyn", &[]);
        assert_eq!(auth.authenticate(&query).unwrap().name(), "dynamic");
        let none = UpgradeRequest::for_test("/", &[]);
        assert_eq!(auth.authenticate(&none).unwrap_err().status(), 401);
    }

    #[test]
    fn query_tokens_can_be_turned_off() {
        let auth = TokenAuth::new()
            .with_token("t1", Identity::new("one"))
            .with_query_param(None);
        let query = UpgradeRequest::for_test("/?token=t1", &[]);
        assert!(auth.authenticate(&query).is_err());
    }

    #[test]
    fn debug_and_rejections_never_show_tokens() {
        let auth = TokenAuth::new().with_token("supersecret", Identity::new("one"));
        assert!(!format!("{auth:?}").contains("supersecret"));
        let wrong = UpgradeRequest::for_test("/?token=guessedsecret", &[]);
        let reject = auth.authenticate(&wrong).unwrap_err();
        assert!(!reject.reason().contains("guessedsecret"));
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd"));
    }
}
