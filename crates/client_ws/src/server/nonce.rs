//! [`NonceBook`]: the server's record of the nonces it handed out.
//!
//! Nonces are random (128 bits from the OS), bound to the public key that asked for them,
//! single-use, and expire. Expired nonces are kept for one more lifetime so that a late
//! `authenticate` is told "expired" rather than "unknown"; after that they are forgotten.
//! The book is bounded: a key holds at most [`MAX_PER_KEY`] outstanding nonces (the oldest
//! is dropped) and the whole book at most [`MAX_OUTSTANDING`].

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use secp256k1::PublicKey;

use crate::auth::{AuthError, crypto_utils};

/// Outstanding nonces one key may hold; asking for more drops the oldest.
pub const MAX_PER_KEY: usize = 8;
/// Outstanding nonces the whole book may hold.
pub const MAX_OUTSTANDING: usize = 100_000;

/// A nonce as handed to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedNonce {
    /// The string the client must sign.
    pub nonce: String,
    /// When it expires, in Unix seconds.
    pub expires_at: u64,
}

/// Why a signature did not redeem a nonce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedeemError {
    /// The key holds no nonce (never asked, already used, or long expired).
    #[error("no outstanding nonce for this key (unknown or already used); call fetch_nonce first")]
    Unknown,
    /// The signature is for a nonce that has expired.
    #[error("the nonce expired; call fetch_nonce again")]
    Expired,
    /// The signature does not sign any of the key's nonces with that key.
    #[error("the signature does not match the public key for any outstanding nonce")]
    Mismatch,
    /// The signature is malformed.
    #[error(transparent)]
    Invalid(AuthError),
}

struct Outstanding {
    nonce: String,
    expires: Instant,
}

/// Nonces handed out and not yet used, by public key.
pub struct NonceBook {
    ttl: Duration,
    by_key: HashMap<[u8; 65], Vec<Outstanding>>,
    count: usize,
}

impl NonceBook {
    /// An empty book whose nonces live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        NonceBook {
            ttl,
            by_key: HashMap::new(),
            count: 0,
        }
    }

    /// How long a nonce lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Outstanding nonces (expired ones included until they are forgotten).
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when no nonce is outstanding.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Forgets nonces that expired more than one lifetime ago.
    fn forget_stale(&mut self, now: Instant) {
        let ttl = self.ttl;
        let mut count = 0;
        self.by_key.retain(|_, list| {
            list.retain(|entry| entry.expires + ttl > now);
            count += list.len();
            !list.is_empty()
        });
        self.count = count;
    }

    /// Hands out a fresh nonce for `key`.
    pub fn issue(&mut self, key: &PublicKey) -> Result<IssuedNonce, AuthError> {
        let now = Instant::now();
        if self.count >= MAX_OUTSTANDING {
            self.forget_stale(now);
            if self.count >= MAX_OUTSTANDING {
                return Err(AuthError::Protocol(
                    "the server holds too many outstanding nonces; try again later".into(),
                ));
            }
        }
        let nonce = crypto_utils::random_bytes()?;
        let nonce = crate::auth::hex::encode(&nonce[..16]);
        let list = self.by_key.entry(key.serialize_uncompressed()).or_default();
        if list.len() >= MAX_PER_KEY {
            list.remove(0);
            self.count -= 1;
        }
        list.push(Outstanding {
            nonce: nonce.clone(),
            expires: now + self.ttl,
        });
        self.count += 1;
        let expires_at = (SystemTime::now() + self.ttl)
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(IssuedNonce { nonce, expires_at })
    }

    /// Uses up the nonce of `key` that `signature` signs (eth_sign-style), if it is still
    /// valid. A nonce, once matched, is gone whether it was valid or expired.
    pub fn redeem(&mut self, key: &PublicKey, signature: &str) -> Result<(), RedeemError> {
        let now = Instant::now();
        let slot = key.serialize_uncompressed();
        let Some(list) = self.by_key.get_mut(&slot) else {
            return Err(RedeemError::Unknown);
        };
        let mut matched = None;
        for (index, entry) in list.iter().enumerate() {
            match crypto_utils::recover_public_key(entry.nonce.as_bytes(), signature) {
                Ok(signer) if signer == *key => {
                    matched = Some(index);
                    break;
                }
                Ok(_) | Err(AuthError::SignatureMismatch) => {}
                Err(other) => return Err(RedeemError::Invalid(other)),
            }
        }
        let Some(index) = matched else {
            return Err(RedeemError::Mismatch);
        };
        let entry = list.remove(index);
        if list.is_empty() {
            self.by_key.remove(&slot);
        }
        self.count -= 1;
        if entry.expires <= now {
            Err(RedeemError::Expired)
        } else {
            Ok(())
        }
    }
}

impl std::fmt::Debug for NonceBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceBook")
            .field("ttl", &self.ttl)
            .field("outstanding", &self.count)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::KeyPair;

    #[test]
    fn a_signed_nonce_redeems_once() {
        let mut book = NonceBook::new(Duration::from_secs(60));
        let key = KeyPair::generate().unwrap();
        let issued = book.issue(&key.public_key()).unwrap();
        assert_eq!(issued.nonce.len(), 32);
        let signature = key.sign_message(&issued.nonce);
        assert_eq!(book.redeem(&key.public_key(), &signature), Ok(()));
        assert_eq!(
            book.redeem(&key.public_key(), &signature),
            Err(RedeemError::Unknown)
        );
        assert!(book.is_empty());
    }

    #[test]
    fn nonces_are_random_and_bound_to_their_key() {
        let mut book = NonceBook::new(Duration::from_secs(60));
        let alice = KeyPair::generate().unwrap();
        let mallory = KeyPair::generate().unwrap();
        let a = book.issue(&alice.public_key()).unwrap();
        let b = book.issue(&alice.public_key()).unwrap();
        assert_ne!(a.nonce, b.nonce);
        // Mallory signs Alice's nonce with her own key and claims Alice's key.
        let forged = mallory.sign_message(&a.nonce);
        assert_eq!(
            book.redeem(&alice.public_key(), &forged),
            Err(RedeemError::Mismatch)
        );
        // Mallory has no nonce of her own.
        assert_eq!(
            book.redeem(&mallory.public_key(), &forged),
            Err(RedeemError::Unknown)
        );
        assert_eq!(book.len(), 2);
    }

    #[test]
    fn an_expired_nonce_is_refused_as_expired() {
        let mut book = NonceBook::new(Duration::ZERO);
        let key = KeyPair::generate().unwrap();
        let issued = book.issue(&key.public_key()).unwrap();
        let signature = key.sign_message(&issued.nonce);
        assert_eq!(
            book.redeem(&key.public_key(), &signature),
            Err(RedeemError::Expired)
        );
    }

    #[test]
    fn each_key_holds_a_bounded_number_of_nonces() {
        let mut book = NonceBook::new(Duration::from_secs(60));
        let key = KeyPair::generate().unwrap();
        let first = book.issue(&key.public_key()).unwrap();
        for _ in 0..MAX_PER_KEY {
            book.issue(&key.public_key()).unwrap();
        }
        assert_eq!(book.len(), MAX_PER_KEY);
        let signature = key.sign_message(&first.nonce);
        assert_eq!(
            book.redeem(&key.public_key(), &signature),
            Err(RedeemError::Mismatch)
        );
    }
}
