//! [`Secp256k1Auth`]: the secp256k1 (eth_sign) key scheme of client_ws, moved into the
//! upgrade request so a session's identity is settled before its first frame.
//!
//! # The scheme
//!
//! client_ws's `CircleWsClient` proves its key after connecting (`fetch_nonce` →
//! sign → `authenticate`, see `client_ws::auth`). Here the proof travels in the upgrade
//! itself, with a challenge the client makes and the server bounds:
//!
//! 1. The client builds the challenge `"{realm}:{unix_seconds}:{nonce}"`: the server's realm
//!    (a name the server is configured with, [`Secp256k1Auth::new`]), the client's current
//!    Unix time in seconds, and a fresh random nonce (16 to 128 characters of
//!    `[0-9A-Za-z_-]`; [`SignedChallenge`] uses 32 hex characters from the OS).
//! 2. It signs the challenge string exactly like a server nonce: eth_sign / EIP-191
//!    personal message over the UTF-8 bytes, 65-byte `r‖s‖v` — what
//!    `client_ws::auth::KeyPair::sign_message` returns, and any Ethereum wallet's
//!    `personal_sign`.
//! 3. It sends public key, challenge and signature as headers ([`PUBKEY_HEADER`],
//!    [`CHALLENGE_HEADER`], [`SIGNATURE_HEADER`]) or, from a browser, which cannot set
//!    headers, as query parameters `pubkey`, `challenge`, `signature`.
//!
//! The server accepts when the realm is its own (a signature for another service is
//! useless here), the time is within [`DEFAULT_MAX_SKEW`] (or the configured skew) of its
//! clock, the challenge was not used before in that window (single use: a captured
//! upgrade cannot be replayed), and the signature recovers to the claimed key
//! (`client_ws::auth::verify_signature`); optionally the key must be on an allow-list.
//! The identity's name is the key's Ethereum address (`0x…`, lowercase), with attribute
//! `pubkey` (the key as sent, lowercase, without `0x`).
//!
//! # With a `CircleWsClient`-style key
//!
//! The same [`client_ws::auth::KeyPair`] a `CircleWsClient` is built with signs here:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use client_ws::{WsConfig, auth::KeyPair};
//! use server::{SignedChallenge, SignedConnector};
//!
//! let key = KeyPair::from_hex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")?;
//! // One connection: the three headers on a raw client_ws connection.
//! let signed = SignedChallenge::new(&key, "chat")?;
//! let connection = client_ws::connect(&WsConfig::new("ws://127.0.0.1:9000").with_headers(signed.headers())).await?;
//! // A core-pre client that reconnects: a fresh challenge for every attempt.
//! let connector = SignedConnector::new(WsConfig::new("ws://127.0.0.1:9000"), key, "chat");
//! let client = core_pre::ClientBuilder::new(connector).spawn();
//! # drop((connection, client)); Ok(()) }
//! ```
//!
//! A fixed set of headers works for one connection only (the challenge is single use, and
//! it ages out after the skew): a client that reconnects signs a new challenge each time,
//! which [`SignedConnector`] does.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use client_ws::WsConfig;
use client_ws::auth::{KeyPair, address_of, parse_public_key, verify_signature};
use core_pre::{AppState, BoxFuture, ConnectContext, ConnectError, Connection, Connector};

use super::{Authenticator, Identity, Reject, UpgradeRequest};

/// The header carrying the public key (hex, compressed or uncompressed, optional `0x`).
pub const PUBKEY_HEADER: &str = "x-auth-pubkey";
/// The header carrying the signed challenge `realm:unix_seconds:nonce`.
pub const CHALLENGE_HEADER: &str = "x-auth-challenge";
/// The header carrying the eth_sign signature of the challenge (130 hex characters).
pub const SIGNATURE_HEADER: &str = "x-auth-signature";
/// How far a challenge's time may be from the server's clock by default: 60 s.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(60);
/// Challenges remembered at most (for replay detection); beyond it new upgrades are
/// refused with 503 until old ones age out.
const MAX_REMEMBERED: usize = 100_000;

/// Checks secp256k1 signed challenges (the scheme is in the module documentation).
pub struct Secp256k1Auth {
    realm: String,
    max_skew: Duration,
    allowed: Option<HashSet<String>>,
    /// Challenges already used, by `address ‖ challenge`, with the Unix second after which
    /// they are too old to be accepted anyway.
    used: Mutex<HashMap<String, u64>>,
}

impl Secp256k1Auth {
    /// Accepts any valid key signing for `realm` (no `:` in it; one is cut there).
    pub fn new(realm: impl Into<String>) -> Self {
        let mut realm: String = realm.into();
        if let Some(colon) = realm.find(':') {
            realm.truncate(colon);
        }
        Secp256k1Auth {
            realm,
            max_skew: DEFAULT_MAX_SKEW,
            allowed: None,
            used: Mutex::new(HashMap::new()),
        }
    }

    /// How far the challenge's time may be from the server's clock (default 60 s; kept
    /// between 1 s and a day).
    pub fn with_max_skew(mut self, skew: Duration) -> Self {
        // Between a second and a day: a longer window only keeps replays possible longer.
        self.max_skew = skew.clamp(Duration::from_secs(1), Duration::from_secs(86_400));
        self
    }

    /// Accepts only these keys, given by Ethereum address (`0x…`, any case).
    pub fn with_allowed_addresses<I, A>(mut self, addresses: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: AsRef<str>,
    {
        self.allowed = Some(
            addresses
                .into_iter()
                .map(|a| a.as_ref().trim().to_ascii_lowercase())
                .collect(),
        );
        self
    }

    /// The realm challenges must name.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn check(&self, pubkey: &str, challenge: &str, signature: &str) -> Result<Identity, Reject> {
        let (realm, rest) = challenge.split_once(':').ok_or_else(|| {
            Reject::unauthorized("malformed challenge: expected realm:unix_seconds:nonce")
        })?;
        let (time, nonce) = rest.split_once(':').ok_or_else(|| {
            Reject::unauthorized("malformed challenge: expected realm:unix_seconds:nonce")
        })?;
        if realm != self.realm {
            return Err(Reject::unauthorized(format!(
                "the challenge names another realm; sign for realm \"{}\"",
                self.realm
            )));
        }
        let good_nonce = (16..=128).contains(&nonce.len())
            && nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !good_nonce {
            return Err(Reject::unauthorized(
                "the challenge nonce must be 16 to 128 characters of [0-9A-Za-z_-]",
            ));
        }
        let time: u64 = time.parse().map_err(|_| {
            Reject::unauthorized("the challenge time is not a number of Unix seconds")
        })?;
        let now = unix_now();
        let skew = self.max_skew.as_secs();
        if time.abs_diff(now) > skew {
            return Err(Reject::unauthorized(format!(
                "the challenge time is more than {skew} s from the server's clock; sign a fresh challenge (and check the clock)"
            )));
        }
        verify_signature(pubkey, challenge, signature).map_err(|_| {
            Reject::unauthorized("the signature does not match the public key and challenge")
        })?;
        let key = parse_public_key(pubkey)
            .map_err(|_| Reject::unauthorized("the public key is not a secp256k1 point"))?;
        let address = address_of(&key);
        if let Some(allowed) = &self.allowed {
            if !allowed.contains(&address) {
                return Err(Reject::forbidden("this key may not connect"));
            }
        }
        self.remember(&address, challenge, time.saturating_add(skew), now)?;
        let pubkey = pubkey.trim();
        let pubkey = pubkey
            .strip_prefix("0x")
            .or_else(|| pubkey.strip_prefix("0X"))
            .unwrap_or(pubkey)
            .to_ascii_lowercase();
        Ok(Identity::new(address).with_attribute("pubkey", pubkey))
    }

    /// Records a used challenge; refuses one already used.
    fn remember(
        &self,
        address: &str,
        challenge: &str,
        expires: u64,
        now: u64,
    ) -> Result<(), Reject> {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        if used.len() >= MAX_REMEMBERED {
            used.retain(|_, until| *until >= now);
            if used.len() >= MAX_REMEMBERED {
                return Err(Reject::with_status(
                    503,
                    "too many recent authentications; retry shortly",
                ));
            }
        }
        let key = format!("{address}\n{challenge}");
        if used.contains_key(&key) {
            return Err(Reject::unauthorized(
                "this challenge was already used; sign a fresh one for every connection",
            ));
        }
        used.insert(key, expires);
        Ok(())
    }
}

impl Authenticator for Secp256k1Auth {
    fn authenticate(&self, request: &UpgradeRequest) -> Result<Identity, Reject> {
        let from_headers = (
            request.header(PUBKEY_HEADER),
            request.header(CHALLENGE_HEADER),
            request.header(SIGNATURE_HEADER),
        );
        if let (Some(pubkey), Some(challenge), Some(signature)) = from_headers {
            return self.check(pubkey, challenge, signature);
        }
        match (
            request.query_param("pubkey"),
            request.query_param("challenge"),
            request.query_param("signature"),
        ) {
            (Some(pubkey), Some(challenge), Some(signature)) => {
                self.check(&pubkey, &challenge, &signature)
            }
            _ => Err(Reject::unauthorized(format!(
                "missing key proof: send {PUBKEY_HEADER}, {CHALLENGE_HEADER} and {SIGNATURE_HEADER} (or ?pubkey=&challenge=&signature=)"
            ))),
        }
    }
}

impl fmt::Debug for Secp256k1Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secp256k1Auth")
            .field("realm", &self.realm)
            .field("max_skew", &self.max_skew)
            .field("allowed", &self.allowed.as_ref().map(HashSet::len))
            .finish()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A challenge signed by a key, ready to send (the client side of the scheme).
#[derive(Clone, Debug)]
pub struct SignedChallenge {
    /// The public key, uncompressed, lowercase hex.
    pub pubkey: String,
    /// `realm:unix_seconds:nonce`.
    pub challenge: String,
    /// The eth_sign signature of `challenge`.
    pub signature: String,
}

impl SignedChallenge {
    /// Signs a fresh challenge for `realm`, timed now, with a random nonce.
    pub fn new(key: &KeyPair, realm: &str) -> Result<Self, client_ws::auth::AuthError> {
        Self::at(key, realm, unix_now())
    }

    /// Signs a challenge timed `unix_seconds` (for tests of the clock check).
    pub fn at(
        key: &KeyPair,
        realm: &str,
        unix_seconds: u64,
    ) -> Result<Self, client_ws::auth::AuthError> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce)
            .map_err(|e| client_ws::auth::AuthError::RandomnessUnavailable(e.to_string()))?;
        let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let challenge = format!("{realm}:{unix_seconds}:{nonce}");
        Ok(SignedChallenge {
            pubkey: key.public_key_hex(),
            signature: key.sign_message(&challenge),
            challenge,
        })
    }

    /// The three headers, for `WsConfig::with_headers`.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            (PUBKEY_HEADER, self.pubkey.clone()),
            (CHALLENGE_HEADER, self.challenge.clone()),
            (SIGNATURE_HEADER, self.signature.clone()),
        ]
    }

    /// The query string `pubkey=…&challenge=…&signature=…` (for browsers; every part is
    /// URL-safe as it is).
    pub fn query(&self) -> String {
        format!(
            "pubkey={}&challenge={}&signature={}",
            self.pubkey, self.challenge, self.signature
        )
    }
}

/// A core-pre [`Connector`] that opens a client_ws connection with a freshly signed
/// challenge on every attempt, so reconnects authenticate too.
pub struct SignedConnector {
    config: WsConfig,
    key: Arc<KeyPair>,
    realm: String,
}

impl SignedConnector {
    /// Connects per `config`, proving `key` for `realm`.
    pub fn new(config: WsConfig, key: KeyPair, realm: impl Into<String>) -> Self {
        SignedConnector {
            config,
            key: Arc::new(key),
            realm: realm.into(),
        }
    }
}

impl fmt::Debug for SignedConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedConnector")
            .field("config", &self.config)
            .field("key", &self.key)
            .field("realm", &self.realm)
            .finish()
    }
}

impl<S: AppState> Connector<S> for SignedConnector {
    fn connect<'a>(
        &'a self,
        ctx: ConnectContext<S>,
    ) -> BoxFuture<'a, Result<Connection, ConnectError>> {
        ctx.set_endpoint(client_ws::redacted_url(self.config.url()));
        core_pre::runtime::boxed(async move {
            let signed = SignedChallenge::new(&self.key, &self.realm)
                .map_err(|e| ConnectError::retryable(e.to_string()))?;
            let config = self.config.clone().with_headers(signed.headers());
            client_ws::connect(&config).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with(signed: &SignedChallenge) -> UpgradeRequest {
        let headers = signed.headers();
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        UpgradeRequest::for_test("/", &pairs)
    }

    #[test]
    fn a_signed_challenge_authenticates_once_as_the_keys_address() {
        let key = KeyPair::generate().unwrap();
        let auth = Secp256k1Auth::new("chat");
        let signed = SignedChallenge::new(&key, "chat").unwrap();
        let identity = auth.authenticate(&request_with(&signed)).unwrap();
        assert_eq!(identity.name(), key.address());
        assert_eq!(
            identity.attribute("pubkey"),
            Some(key.public_key_hex().as_str())
        );
        let replay = auth.authenticate(&request_with(&signed)).unwrap_err();
        assert!(replay.reason().contains("already used"), "{replay:?}");
        // The query form works as well.
        let fresh = SignedChallenge::new(&key, "chat").unwrap();
        let query = UpgradeRequest::for_test(&format!("/?{}", fresh.query()), &[]);
        assert_eq!(auth.authenticate(&query).unwrap().name(), key.address());
    }

    #[test]
    fn wrong_realm_old_time_forged_signature_and_unlisted_keys_are_refused() {
        let key = KeyPair::generate().unwrap();
        let other = KeyPair::generate().unwrap();
        let auth = Secp256k1Auth::new("chat");
        let elsewhere = SignedChallenge::new(&key, "bank").unwrap();
        assert!(
            auth.authenticate(&request_with(&elsewhere))
                .unwrap_err()
                .reason()
                .contains("realm")
        );
        let old = SignedChallenge::at(&key, "chat", unix_now() - 3600).unwrap();
        assert!(
            auth.authenticate(&request_with(&old))
                .unwrap_err()
                .reason()
                .contains("clock")
        );
        let mut forged = SignedChallenge::new(&key, "chat").unwrap();
        forged.pubkey = other.public_key_hex();
        assert!(
            auth.authenticate(&request_with(&forged))
                .unwrap_err()
                .reason()
                .contains("signature")
        );
        let listed = Secp256k1Auth::new("chat").with_allowed_addresses([other.address()]);
        let signed = SignedChallenge::new(&key, "chat").unwrap();
        assert_eq!(
            listed
                .authenticate(&request_with(&signed))
                .unwrap_err()
                .status(),
            403
        );
        let none = UpgradeRequest::for_test("/", &[]);
        assert_eq!(auth.authenticate(&none).unwrap_err().status(), 401);
    }
}
