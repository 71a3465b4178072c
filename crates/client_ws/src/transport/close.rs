//! Close frames a browser will accept.
//!
//! `WebSocket.close(code, reason)` throws unless the code is 1000 or in 3000–4999, and
//! unless the reason fits in 123 UTF-8 bytes. Code written for the native transport may
//! close with any code (1001 "going away", 1011 "internal error"…), so the browser
//! transport maps such codes to 1000 instead of failing.

// Only the browser transport sends through these; the tests run natively too.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

/// The longest close reason the protocol allows, in bytes.
pub(crate) const MAX_CLOSE_REASON: usize = 123;

/// The code a browser may send for `code`: itself when allowed, 1000 otherwise.
pub(crate) fn browser_close_code(code: u16) -> u16 {
    if code == 1000 || (3000..=4999).contains(&code) {
        code
    } else {
        1000
    }
}

/// `reason` cut to at most 123 bytes, on a character boundary.
pub(crate) fn close_reason(reason: &str) -> &str {
    if reason.len() <= MAX_CLOSE_REASON {
        return reason;
    }
    let mut cut = MAX_CLOSE_REASON;
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    &reason[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_1000_and_application_codes_pass_through() {
        assert_eq!(browser_close_code(1000), 1000);
        assert_eq!(browser_close_code(3000), 3000);
        assert_eq!(browser_close_code(4999), 4999);
        assert_eq!(browser_close_code(1001), 1000);
        assert_eq!(browser_close_code(1011), 1000);
        assert_eq!(browser_close_code(2999), 1000);
        assert_eq!(browser_close_code(5000), 1000);
    }

    #[test]
    fn long_reasons_are_cut_on_a_char_boundary() {
        assert_eq!(close_reason("bye"), "bye");
        let long = "é".repeat(100); // 200 bytes
        let cut = close_reason(&long);
        assert!(cut.len() <= MAX_CLOSE_REASON && cut.len() >= MAX_CLOSE_REASON - 1);
        assert!(long.starts_with(cut));
    }
}
