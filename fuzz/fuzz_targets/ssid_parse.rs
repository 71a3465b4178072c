//! `Ssid::parse` on arbitrary text, and on well-formed SSIDs in every wrapping users paste.
//!
//! Input: a mode byte, then
//! * mode 0..=127 — the rest is the pasted text (invalid UTF-8 is skipped);
//! * mode 128..=255 — a generated SSID: `[wrapping][uid: 4 bytes][cut: 2 bytes]` and the
//!   rest makes the token. The wrapping (auth frame, bare object, single quotes, stripped
//!   quotes, JSON-encoded, quoted, DevTools columns after it) is a form the parser
//!   promises to read; `cut`, when non-zero, truncates the text as a bad copy would.
//!
//! Checks: the token never shows in `Debug` or `Display` of a parsed SSID, nor in any error
//! message; a parsed SSID re-parses from its own `auth_frame` to the same values; an uncut
//! generated SSID parses to exactly its token and uid.

#![no_main]

use binary_options_tools::Ssid;
use libfuzzer_sys::fuzz_target;
use resilient_ws_fuzz::{Cursor, same_json};

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let mode = input.byte();
    if mode < 128 {
        if let Ok(text) = std::str::from_utf8(input.rest())
            && let Ok(ssid) = Ssid::parse(text)
        {
            check_parsed(&ssid);
        }
        return;
    }

    let wrapping = input.byte();
    let uid = u32::from_le_bytes([input.byte(), input.byte(), input.byte(), input.byte()]);
    let cut = usize::from(u16::from_le_bytes([input.byte(), input.byte()]));
    // Letters and digits after a fixed prefix: never a JSON keyword or number, so every
    // wrapping (even with its quotes stripped) must keep it a string.
    let token: String = std::iter::once("tok".to_owned())
        .chain(input.rest().iter().map(|b| {
            let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
            char::from(alphabet[usize::from(*b) % alphabet.len()]).to_string()
        }))
        .collect();
    if token.len() < 8 {
        return;
    }
    let text = wrap(&token, uid, wrapping);
    let pasted = if cut == 0 {
        text.as_str()
    } else {
        let mut end = cut % text.len();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        &text[..end]
    };
    match Ssid::parse(pasted) {
        Ok(ssid) => {
            check_parsed(&ssid);
            if cut == 0 {
                assert_eq!(ssid.session(), token, "wrapping {wrapping}: {pasted}");
                assert_eq!(ssid.uid(), u64::from(uid), "wrapping {wrapping}: {pasted}");
            }
        }
        Err(error) => {
            assert!(
                cut != 0,
                "a well-formed SSID was refused ({error}): {pasted}"
            );
            let shown = format!("{error} {error:?}");
            assert!(
                !shown.contains(&token),
                "the token leaked into an error: {shown}"
            );
        }
    }
});

/// One of the forms the parser documents, for `token` and `uid`.
fn wrap(token: &str, uid: u32, wrapping: u8) -> String {
    let object = format!(r#"{{"session":"{token}","isDemo":1,"uid":{uid},"platform":2}}"#);
    let frame = format!(r#"42["auth",{object}]"#);
    match wrapping % 8 {
        0 => frame,
        1 => object,
        2 => frame.replace('"', "'"),
        3 => format!("{{session:{token},isDemo:1,uid:{uid},platform:2}}"),
        4 => serde_json::to_string(&frame).unwrap_or_default(),
        5 => format!("'{frame}'"),
        6 => format!("{frame}\t12:00:00.123\t84"),
        _ => serde_json::to_string(&object).unwrap_or_default(),
    }
}

/// The fixed text of `Ssid`'s `Debug` and `Display` (field names, punctuation, the
/// redaction marker): a secret made only of these characters could show up by chance.
const SKELETON: &str = "Ssid { session: <redacted, 0123456789 chars>, is_demo: true false, \
    uid: -, platform, current_url: Some(\"\") None, is_fast_history, is_optimized, \
    extra_keys: [], real: RealSession { session_id, ip_address, user_agent, last_activity, \
    signature } demo real session of uid (platform 2, token redacted)";

/// Whether finding `needle` in the output proves a leak: it is long, not part of what may
/// be shown, and has a character that nothing else shown contains.
fn distinctive(needle: &str, public: &str) -> bool {
    needle.chars().count() >= 8
        && !public.contains(needle)
        && needle
            .chars()
            .any(|c| !SKELETON.contains(c) && !public.contains(c))
}

/// Redaction and the `auth_frame` round trip, for any SSID the parser accepted.
fn check_parsed(ssid: &Ssid) {
    let mut secrets = vec![ssid.session()];
    if let Some(real) = ssid.real_session() {
        secrets.push(real.session_id());
        secrets.push(real.signature());
    }
    // What Debug may legitimately show.
    let public = format!(
        "{:?} {:?} {:?} {} {}",
        ssid.current_url(),
        ssid.extra().keys().collect::<Vec<_>>(),
        ssid.real_session()
            .map(|r| (r.ip_address(), r.user_agent(), r.last_activity())),
        ssid.uid(),
        ssid.platform(),
    );
    let shown = format!("{ssid:?} {ssid}");
    for secret in secrets {
        let escaped = format!("{secret:?}");
        for needle in [secret, escaped.trim_matches('"')] {
            if distinctive(needle, &public) {
                assert!(!shown.contains(needle), "a credential leaked: {shown}");
            }
        }
    }

    let frame = ssid.auth_frame();
    let again = match Ssid::parse(&frame) {
        Ok(again) => again,
        Err(error) => panic!("our own auth frame does not parse ({error}): {frame}"),
    };
    assert_eq!(again.session(), ssid.session(), "{frame}");
    assert_eq!(again.is_demo(), ssid.is_demo(), "{frame}");
    assert_eq!(again.uid(), ssid.uid(), "{frame}");
    assert_eq!(again.platform(), ssid.platform(), "{frame}");
    assert_eq!(again.current_url(), ssid.current_url(), "{frame}");
    assert_eq!(again.is_fast_history(), ssid.is_fast_history(), "{frame}");
    assert_eq!(again.is_optimized(), ssid.is_optimized(), "{frame}");
    let extra_kept = again.extra().len() == ssid.extra().len()
        && ssid
            .extra()
            .iter()
            .all(|(key, value)| again.extra().get(key).is_some_and(|v| same_json(v, value)));
    assert!(
        extra_kept,
        "extra keys changed: {:?} -> {:?} via {frame}",
        ssid.extra(),
        again.extra()
    );
    assert_eq!(again.real_session(), ssid.real_session(), "{frame}");
}
