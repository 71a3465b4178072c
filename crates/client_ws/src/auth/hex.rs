//! Lowercase hex, as the wire format uses it (an optional `0x` is accepted on input).

use zeroize::Zeroize;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lowercase hex, without `0x`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[(byte >> 4) as usize] as char);
        out.push(DIGITS[(byte & 0x0f) as usize] as char);
    }
    out
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `text` without a leading `0x`/`0X` and surrounding whitespace.
pub(crate) fn strip_prefix(text: &str) -> &str {
    let text = text.trim();
    text.strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text)
}

/// Decodes hex (optional `0x`) into exactly `N` bytes; `None` for any other input.
///
/// On failure the partly filled buffer is wiped, since the input may be a private key.
pub(crate) fn decode_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = strip_prefix(text).as_bytes();
    if digits.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(hi), Some(lo)) => *slot = (hi << 4) | lo,
            _ => {
                out.zeroize();
                return None;
            }
        }
    }
    Some(out)
}

/// Decodes hex (optional `0x`) of any even length.
pub(crate) fn decode_vec(text: &str) -> Option<Vec<u8>> {
    let digits = strip_prefix(text).as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_accepts_prefix_and_uppercase() {
        assert_eq!(encode(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(decode_array::<3>("0x00ABff"), Some([0x00, 0xab, 0xff]));
        assert_eq!(decode_vec("00abff"), Some(vec![0x00, 0xab, 0xff]));
    }

    #[test]
    fn rejects_bad_lengths_and_digits() {
        assert_eq!(decode_array::<2>("abc"), None);
        assert_eq!(decode_array::<2>("abcdef"), None);
        assert_eq!(decode_array::<2>("zzzz"), None);
        assert_eq!(decode_vec("abc"), None);
        assert_eq!(decode_vec("0g"), None);
    }
}
