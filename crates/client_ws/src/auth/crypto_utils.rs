//! secp256k1 keys and Ethereum-style (`eth_sign`, EIP-191 personal message) signatures.
//!
//! The digest of a message `m` is
//! `keccak256("\x19Ethereum Signed Message:\n" ‖ decimal(len(m)) ‖ m)`; the signature is
//! the 65 bytes `r‖s‖v`, deterministic (RFC 6979), low-S, with `v = 27 + recovery id`.
//! That is what wallets and `personal_sign` produce, so any Ethereum library can check a
//! signature made here (recover the address, compare), and we can check theirs.
//!
//! Verification recovers the public key from digest and signature and compares it with
//! the claimed key, accepting the variants other tools produce: `0x` prefixes, `v` in
//! {0, 1, 27, 28}, compressed or uncompressed keys.
//!
//! ```
//! use client_ws::auth::{KeyPair, verify_signature};
//!
//! let key = KeyPair::from_hex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318").unwrap();
//! let signature = key.sign_message("nonce-123");
//! assert!(verify_signature(&key.public_key_hex(), "nonce-123", &signature).is_ok());
//! assert!(verify_signature(&key.public_key_hex(), "nonce-124", &signature).is_err());
//! ```

use std::fmt;

use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, SecretKey};
use tiny_keccak::{Hasher, Keccak};
use zeroize::{Zeroize, Zeroizing};

use super::hex;
use super::types::{AuthCredentials, AuthError};

/// The keccak-256 hash of `data` (Ethereum's hash, not NIST SHA3-256).
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    let mut hasher = Keccak::v256();
    hasher.update(data);
    let mut out = [0u8; 32];
    hasher.finalize(&mut out);
    out
}

/// The EIP-191 personal-message digest of `message`: what `eth_sign` / `personal_sign` sign.
pub fn eth_message_hash(message: &[u8]) -> [u8; 32] {
    let mut hasher = Keccak::v256();
    hasher.update(b"\x19Ethereum Signed Message:\n");
    hasher.update(message.len().to_string().as_bytes());
    hasher.update(message);
    let mut out = [0u8; 32];
    hasher.finalize(&mut out);
    out
}

/// 32 bytes from the operating system's (or the browser's) secure random source.
pub(crate) fn random_bytes() -> Result<Zeroizing<[u8; 32]>, AuthError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).map_err(|e| AuthError::RandomnessUnavailable(e.to_string()))?;
    Ok(bytes)
}

/// A secp256k1 key pair. The private key is never shown by `Debug`, and is wiped from
/// memory when the pair is dropped.
///
/// ```
/// use client_ws::auth::KeyPair;
///
/// let key = KeyPair::generate().unwrap();
/// assert_eq!(key.public_key_hex().len(), 130);
/// assert!(!format!("{key:?}").contains(key.reveal_private_key_hex().as_str()));
/// ```
pub struct KeyPair {
    secret: SecretKey,
    public: PublicKey,
}

impl KeyPair {
    /// Parses a private key given as 64 hex characters (optional `0x`).
    pub fn from_hex(private_key: &str) -> Result<Self, AuthError> {
        let bytes = Zeroizing::new(
            hex::decode_array::<32>(private_key)
                .ok_or(AuthError::InvalidPrivateKey("expected 64 hex characters"))?,
        );
        Self::from_bytes(&bytes)
    }

    /// A key pair from the 32 private key bytes.
    pub fn from_bytes(private_key: &[u8; 32]) -> Result<Self, AuthError> {
        let secret = SecretKey::from_secret_bytes(*private_key)
            .map_err(|_| AuthError::InvalidPrivateKey("zero or not below the curve order"))?;
        let public = PublicKey::from_secret_key(&secret);
        Ok(KeyPair { secret, public })
    }

    /// A fresh random key pair (from the OS random source, or `crypto.getRandomValues` in
    /// the browser).
    pub fn generate() -> Result<Self, AuthError> {
        // A random 32-byte string is a valid key unless it is zero or ≥ the curve order,
        // which happens with probability ~2⁻¹²⁸; retry a few times rather than loop forever.
        for _ in 0..8 {
            let bytes = random_bytes()?;
            if let Ok(pair) = Self::from_bytes(&bytes) {
                return Ok(pair);
            }
        }
        Err(AuthError::RandomnessUnavailable(
            "the random source keeps producing invalid keys".into(),
        ))
    }

    /// The public key, uncompressed SEC1 (`04‖X‖Y`), lowercase hex, 130 characters: the
    /// wire format.
    pub fn public_key_hex(&self) -> String {
        hex::encode(&self.public.serialize_uncompressed())
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// The Ethereum address of the key (`0x` + 40 lowercase hex characters).
    pub fn address(&self) -> String {
        address_of(&self.public)
    }

    /// Signs `message` (its UTF-8 bytes, as given) eth_sign-style; returns the 130-character
    /// lowercase hex signature `r‖s‖v`.
    pub fn sign_message(&self, message: &str) -> String {
        self.sign_bytes(message.as_bytes())
    }

    /// Signs raw message bytes eth_sign-style (see [`sign_message`](Self::sign_message)).
    pub fn sign_bytes(&self, message: &[u8]) -> String {
        let digest = Message::from_digest(eth_message_hash(message));
        let signature = RecoverableSignature::sign_ecdsa_recoverable(digest, &self.secret);
        let (recovery_id, compact) = signature.serialize_compact();
        let mut bytes = [0u8; 65];
        bytes[..64].copy_from_slice(&compact);
        bytes[64] = 27 + recovery_id.to_u8();
        hex::encode(&bytes)
    }

    /// The `authenticate` credentials for `nonce`.
    pub fn credentials(&self, nonce: &str) -> AuthCredentials {
        AuthCredentials {
            pubkey: self.public_key_hex(),
            signature: self.sign_message(nonce),
        }
    }

    /// The private key as 64 lowercase hex characters, for storing a generated key. The
    /// returned string is wiped when dropped; do not log it.
    pub fn reveal_private_key_hex(&self) -> Zeroizing<String> {
        let bytes = Zeroizing::new(self.secret.to_secret_bytes());
        Zeroizing::new(hex::encode(bytes.as_ref()))
    }
}

impl Clone for KeyPair {
    fn clone(&self) -> Self {
        KeyPair {
            secret: self.secret,
            public: self.public,
        }
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public_key", &self.public_key_hex())
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl Drop for KeyPair {
    fn drop(&mut self) {
        // `SecretKey` is `Copy`, so this is best effort: it wipes this pair's copy (the
        // one that lives as long as the client); short-lived copies on the stack during
        // signing are not tracked.
        self.secret.non_secure_erase();
    }
}

/// Derives the wire-format public key (130 hex characters) from a hex private key.
pub fn derive_public_key(private_key: &str) -> Result<String, AuthError> {
    Ok(KeyPair::from_hex(private_key)?.public_key_hex())
}

/// A fresh random private key as 64 hex characters (wiped when dropped).
pub fn generate_private_key() -> Result<Zeroizing<String>, AuthError> {
    Ok(KeyPair::generate()?.reveal_private_key_hex())
}

/// Parses a public key given as hex (optional `0x`), compressed (66 characters) or
/// uncompressed (130 characters).
pub fn parse_public_key(text: &str) -> Result<PublicKey, AuthError> {
    let bytes =
        hex::decode_vec(text).ok_or_else(|| AuthError::InvalidPublicKey("not hex".into()))?;
    PublicKey::from_slice(&bytes).map_err(|_| {
        AuthError::InvalidPublicKey(format!(
            "{} bytes that are not a secp256k1 point",
            bytes.len()
        ))
    })
}

/// The Ethereum address of a public key: `0x` + the last 20 bytes of
/// `keccak256(X‖Y)`, lowercase.
pub fn address_of(public_key: &PublicKey) -> String {
    let uncompressed = public_key.serialize_uncompressed();
    let hash = keccak256(&uncompressed[1..]);
    format!("0x{}", hex::encode(&hash[12..]))
}

/// Recovers the public key that made `signature` over `message` (eth_sign-style).
///
/// Accepts `0x`, and `v` in {0, 1, 27, 28}.
pub fn recover_public_key(message: &[u8], signature: &str) -> Result<PublicKey, AuthError> {
    let mut bytes = hex::decode_array::<65>(signature).ok_or_else(|| {
        AuthError::InvalidSignature("expected 65 bytes as 130 hex characters".into())
    })?;
    let v = bytes[64];
    let recovery = match v {
        0 | 1 => v,
        27 | 28 => v - 27,
        other => {
            return Err(AuthError::InvalidSignature(format!(
                "recovery byte v = {other}"
            )));
        }
    };
    let recovery_id = RecoveryId::try_from(i32::from(recovery))
        .map_err(|_| AuthError::InvalidSignature(format!("recovery byte v = {v}")))?;
    let signature = RecoverableSignature::from_compact(&bytes[..64], recovery_id)
        .map_err(|_| AuthError::InvalidSignature("r or s out of range".into()));
    bytes.zeroize();
    let digest = Message::from_digest(eth_message_hash(message));
    signature?
        .recover_ecdsa(digest)
        .map_err(|_| AuthError::SignatureMismatch)
}

/// Checks that `signature` over `message` was made by `public_key` (hex, compressed or
/// uncompressed), by recovering the signer and comparing.
pub fn verify_signature(public_key: &str, message: &str, signature: &str) -> Result<(), AuthError> {
    let claimed = parse_public_key(public_key)?;
    let recovered = recover_public_key(message.as_bytes(), signature)?;
    if recovered == claimed {
        Ok(())
    } else {
        Err(AuthError::SignatureMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The private key of the web3.js documentation examples.
    const DOC_KEY: &str = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

    #[test]
    fn keccak256_matches_the_published_empty_string_hash() {
        assert_eq!(
            hex::encode(&keccak256(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn key_one_derives_the_generator_point_and_its_known_address() {
        let one = format!("{:064x}", 1);
        let key = KeyPair::from_hex(&one).unwrap();
        assert_eq!(
            key.public_key_hex(),
            "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\
             483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"
        );
        assert_eq!(key.address(), "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf");
    }

    #[test]
    fn signing_matches_the_web3_documentation_known_answer() {
        // web3.js docs: accounts.sign('Some data', DOC_KEY).
        let key = KeyPair::from_hex(&format!("0x{DOC_KEY}")).unwrap();
        assert_eq!(key.address(), "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23");
        assert_eq!(
            hex::encode(&eth_message_hash(b"Some data")),
            "1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655"
        );
        let signature = key.sign_message("Some data");
        assert_eq!(
            signature,
            "b91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd\
             6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a029\
             1c"
        );
        let recovered = recover_public_key(b"Some data", &signature).unwrap();
        assert_eq!(address_of(&recovered), key.address());
    }

    #[test]
    fn signatures_are_deterministic_low_s_and_use_v_27_or_28() {
        let key = KeyPair::from_hex(DOC_KEY).unwrap();
        let half_order = "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0";
        for nonce in ["a", "nonce-1", "ünïcödé", ""] {
            let signature = key.sign_message(nonce);
            assert_eq!(
                signature,
                key.sign_message(nonce),
                "RFC 6979 is deterministic"
            );
            assert_eq!(signature.len(), 130);
            assert!(
                signature[64..128] <= *half_order,
                "s must be low: {signature}"
            );
            assert!(signature.ends_with("1b") || signature.ends_with("1c"));
        }
    }

    #[test]
    fn verification_accepts_other_tools_encodings() {
        let key = KeyPair::from_hex(DOC_KEY).unwrap();
        let signature = key.sign_message("hello");
        let v = u8::from_str_radix(&signature[128..], 16).unwrap();
        let raw_v = format!("{}{:02x}", &signature[..128], v - 27);
        let compressed = hex::encode(&key.public_key().serialize());
        let prefixed = format!("0x{}", key.public_key_hex());
        assert!(verify_signature(&key.public_key_hex(), "hello", &signature).is_ok());
        assert!(verify_signature(&key.public_key_hex(), "hello", &raw_v).is_ok());
        assert!(verify_signature(&compressed, "hello", &format!("0x{signature}")).is_ok());
        assert!(verify_signature(&prefixed, "hello", &signature).is_ok());
    }

    #[test]
    fn verification_rejects_wrong_key_message_and_malformed_input() {
        let key = KeyPair::from_hex(DOC_KEY).unwrap();
        let other = KeyPair::generate().unwrap();
        let signature = key.sign_message("hello");
        assert_eq!(
            verify_signature(&other.public_key_hex(), "hello", &signature),
            Err(AuthError::SignatureMismatch)
        );
        assert_eq!(
            verify_signature(&key.public_key_hex(), "hello!", &signature),
            Err(AuthError::SignatureMismatch)
        );
        let bad_v = format!("{}05", &signature[..128]);
        assert!(matches!(
            verify_signature(&key.public_key_hex(), "hello", &bad_v),
            Err(AuthError::InvalidSignature(_))
        ));
        assert!(matches!(
            verify_signature(&key.public_key_hex(), "hello", "abcd"),
            Err(AuthError::InvalidSignature(_))
        ));
        assert!(matches!(
            verify_signature("04abcd", "hello", &signature),
            Err(AuthError::InvalidPublicKey(_))
        ));
    }

    #[test]
    fn bad_private_keys_are_refused_without_echoing_them() {
        let zero = "0".repeat(64);
        let order = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
        let short = "deadbeef";
        for bad in [zero.as_str(), order, short, "zz"] {
            let error = KeyPair::from_hex(bad).unwrap_err();
            assert!(matches!(error, AuthError::InvalidPrivateKey(_)));
            assert!(!error.to_string().contains(bad), "{error}");
        }
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let key = KeyPair::from_hex(DOC_KEY).unwrap();
        let shown = format!("{key:?} {key:#?}");
        assert!(!shown.contains(DOC_KEY), "{shown}");
        assert!(shown.contains("redacted"));
        assert_eq!(key.reveal_private_key_hex().as_str(), DOC_KEY);
    }

    #[test]
    fn generated_keys_differ_and_round_trip_through_hex() {
        let a = KeyPair::generate().unwrap();
        let b = KeyPair::generate().unwrap();
        assert_ne!(a.public_key_hex(), b.public_key_hex());
        let again = KeyPair::from_hex(&a.reveal_private_key_hex()).unwrap();
        assert_eq!(again.public_key_hex(), a.public_key_hex());
        assert_eq!(
            derive_public_key(&a.reveal_private_key_hex()).unwrap(),
            a.public_key_hex()
        );
        assert_eq!(generate_private_key().unwrap().len(), 64);
    }
}
