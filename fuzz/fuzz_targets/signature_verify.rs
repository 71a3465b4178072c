//! `client_ws::auth` signature checks on arbitrary keys, signatures and messages.
//!
//! Input: a mode byte, then
//! * even mode — hostile input: `[len][public key text][len][signature text]`, the rest is
//!   the message; when the signature text has no hex in it, the 65 raw bytes after it are
//!   hex-encoded instead, so the curve code sees real-looking signatures;
//! * odd mode — honest input: `[32-byte private key][tweak]`, the rest is the message.
//!
//! Checks: nothing panics; a recovered key verifies its own signature; an honest signature
//! verifies in every accepted spelling (`0x`, upper case, `v` as 0/1 or 27/28, compressed
//! key), and fails for another message, another key or a changed signature.

#![no_main]

use client_ws::auth::{self, KeyPair};
use libfuzzer_sys::fuzz_target;
use resilient_ws_fuzz::{Cursor, hex};

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    if input.byte().is_multiple_of(2) {
        hostile(&mut input);
    } else {
        honest(&mut input);
    }
});

fn hostile(input: &mut Cursor<'_>) {
    let public_key = String::from_utf8_lossy(input.chunk()).into_owned();
    let mut signature = String::from_utf8_lossy(input.chunk()).into_owned();
    if !signature.bytes().any(|b| b.is_ascii_hexdigit()) {
        signature = hex(input.take(65));
    }
    let message = input.rest();
    let text = String::from_utf8_lossy(message);

    let _ = auth::parse_public_key(&public_key);
    let verified = auth::verify_signature(&public_key, &text, &signature);
    if let Ok(recovered) = auth::recover_public_key(text.as_bytes(), &signature) {
        let recovered_hex = hex(&recovered.serialize_uncompressed());
        assert!(
            auth::verify_signature(&recovered_hex, &text, &signature).is_ok(),
            "the recovered key does not verify its own signature"
        );
        if verified.is_ok() {
            let claimed = auth::parse_public_key(&public_key).ok();
            assert_eq!(claimed, Some(recovered), "verified against a different key");
        }
    } else {
        assert!(
            verified.is_err(),
            "verified a signature nothing can be recovered from"
        );
    }
}

fn honest(input: &mut Cursor<'_>) {
    let mut secret = [0u8; 32];
    secret.copy_from_slice(&{
        let mut padded = input.take(32).to_vec();
        padded.resize(32, 0);
        padded
    });
    // Zero and values past the curve order are not keys; that must be an error.
    let Ok(key) = KeyPair::from_bytes(&secret) else {
        return;
    };
    let tweak = input.byte();
    let message = String::from_utf8_lossy(input.rest()).into_owned();
    let public = key.public_key_hex();
    let signature = key.sign_message(&message);
    assert_eq!(signature.len(), 130);

    let ok = |public: &str, message: &str, signature: &str| {
        auth::verify_signature(public, message, signature).is_ok()
    };
    assert!(ok(&public, &message, &signature), "own signature refused");
    let recovered = auth::recover_public_key(message.as_bytes(), &signature);
    assert_eq!(recovered.ok(), Some(key.public_key()));

    // Every spelling the verifier promises to accept.
    let compressed = hex(&key.public_key().serialize());
    assert!(
        ok(&compressed, &message, &signature),
        "compressed key refused"
    );
    assert!(ok(
        &format!("0x{public}"),
        &message,
        &format!("0x{signature}")
    ));
    assert!(ok(
        &public.to_uppercase(),
        &message,
        &signature.to_uppercase()
    ));
    let v = u8::from_str_radix(&signature[128..], 16).unwrap_or(0);
    let low_v = format!("{}{:02x}", &signature[..128], v.wrapping_sub(27));
    assert!(ok(&public, &message, &low_v), "v as 0/1 refused");

    // And what it must refuse.
    let other_message = format!("{message}{}", char::from(b'a' + tweak % 26));
    assert!(
        !ok(&public, &other_message, &signature),
        "another message verified"
    );
    let mut changed = signature.clone().into_bytes();
    let at = usize::from(tweak) % 128; // r and s only: v is checked separately
    changed[at] = if changed[at] == b'0' { b'1' } else { b'0' };
    let changed = String::from_utf8(changed).unwrap_or_default();
    assert!(
        !ok(&public, &message, &changed),
        "a changed signature verified"
    );
    let mut other_secret = secret;
    other_secret[31] ^= 1;
    if let Ok(other) = KeyPair::from_bytes(&other_secret) {
        assert!(
            !ok(&other.public_key_hex(), &message, &signature),
            "another key verified"
        );
    }
}
