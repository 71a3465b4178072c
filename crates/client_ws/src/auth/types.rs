//! The authentication vocabulary: [`AuthCredentials`] (what a client proves itself with)
//! and [`AuthError`] (everything that can go wrong while signing or authenticating).
//!
//! No message here ever contains a private key: errors about a key say what is wrong with
//! its shape, never what it was.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The params of an `authenticate` call: a public key and its signature of the nonce.
///
/// Both are lowercase hex without `0x`: the key uncompressed (130 characters), the
/// signature `r‖s‖v` with `v = 27 + recovery id` (130 characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCredentials {
    /// The signer's public key.
    pub pubkey: String,
    /// The signature of the nonce.
    pub signature: String,
}

/// Why signing, verifying or authenticating failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The private key is not 64 hex characters encoding a valid secp256k1 scalar.
    #[error(
        "invalid private key: {0}; give 64 hex characters (optional 0x) of a key in the secp256k1 range"
    )]
    InvalidPrivateKey(&'static str),

    /// A public key is not a valid SEC1 secp256k1 point.
    #[error(
        "invalid public key: {0}; give 130 hex characters (uncompressed, 04…) or 66 (compressed)"
    )]
    InvalidPublicKey(String),

    /// A signature is malformed (length, hex, or recovery byte).
    #[error("invalid signature: {0}; give 130 hex characters r‖s‖v with v in 0, 1, 27 or 28")]
    InvalidSignature(String),

    /// The signature is well formed but was not made by the claimed key over this message.
    #[error(
        "the signature does not match the public key for this message; sign the exact nonce string with the matching key"
    )]
    SignatureMismatch,

    /// The operating system (or browser) random source failed.
    #[error("no secure randomness available ({0}); cannot generate a key or nonce")]
    RandomnessUnavailable(String),

    /// The server refused the credentials (JSON-RPC error -32002).
    #[error(
        "the server rejected the credentials ({code}: {message}); check that the configured key is the one the server expects"
    )]
    Rejected {
        /// The JSON-RPC error code.
        code: i64,
        /// The server's message.
        message: String,
    },

    /// The server did not accept the nonce (JSON-RPC error -32003: expired, unknown or
    /// already used). A fresh connection fetches a fresh nonce.
    #[error(
        "the server refused the nonce ({code}: {message}); it expired or was already used: reconnect to fetch a new one"
    )]
    NonceRejected {
        /// The JSON-RPC error code.
        code: i64,
        /// The server's message.
        message: String,
    },

    /// The server answered the handshake with something this client does not understand.
    #[error(
        "unexpected answer during authentication: {0}; is this server speaking the circle auth protocol?"
    )]
    Protocol(String),

    /// The server did not answer a handshake step in time.
    #[error(
        "the server did not answer `{step}` within {after:?}; check the server, or raise the request timeout"
    )]
    Timeout {
        /// The handshake step (`fetch_nonce` or `authenticate`).
        step: &'static str,
        /// How long the client waited.
        after: Duration,
    },

    /// The connection failed during the handshake.
    #[error("the connection failed during authentication: {0}")]
    Connection(String),
}

impl AuthError {
    /// Whether a fresh connection attempt may succeed where this one failed: true for
    /// refused nonces, timeouts and connection failures; false for rejected credentials,
    /// bad keys and protocol mismatches, which need someone to change something.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            AuthError::NonceRejected { .. } | AuthError::Timeout { .. } | AuthError::Connection(_)
        )
    }
}
