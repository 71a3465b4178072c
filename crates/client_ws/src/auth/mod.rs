//! Nonce authentication with secp256k1: keys, Ethereum-style signatures, credentials.
//!
//! The protocol (see the crate README): the client asks for a nonce (`fetch_nonce`), signs
//! the nonce string eth_sign-style with its private key, and sends public key + signature
//! (`authenticate`). The server recovers the signer from the signature and compares it
//! with the claimed key. [`crypto_utils`] does the cryptography for both sides; [`types`]
//! holds the credentials and the error type.

pub mod crypto_utils;
pub(crate) mod hex;
pub mod types;

pub use crypto_utils::{
    KeyPair, address_of, derive_public_key, eth_message_hash, generate_private_key, keccak256,
    parse_public_key, recover_public_key, verify_signature,
};
pub use types::{AuthCredentials, AuthError};
