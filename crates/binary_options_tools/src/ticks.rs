//! The `updateStream` tick payload, `[["EURUSD_otc",1732288888.123,1.05123],…]`: a fast
//! parser for the usual form and the general one it falls back to.
//!
//! Ticks are the hot path (hundreds per second per asset), so the usual payload is read
//! by hand into reused rows without allocating. Anything the fast parser does not
//! recognise (an escaped symbol, an extra field, a number as a string) makes it say no,
//! and the caller uses [`parse_rows_general`] (serde_json). The fast parser accepts only
//! strict JSON, so whatever it accepts the general parser reads the same way; the
//! `tick_rows` fuzz target checks exactly that.

use std::borrow::Cow;
use std::ops::Range;

use serde::Deserialize;

/// One tick row as the general parser reads it: symbol, unix time, price.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TickRow<'a>(#[serde(borrow)] pub Cow<'a, str>, pub f64, pub f64);

/// One row of the fast parser: the symbol's byte range in the payload, time, price.
pub type RowSpan = (Range<usize>, f64, f64);

/// Parses the usual tick payload into `rows` (cleared first, then reused: no allocation
/// once it has grown). Returns false for anything it does not recognise; `rows` is then
/// meaningless and the caller uses [`parse_rows_general`].
///
/// ```
/// use binary_options_tools::ticks::parse_rows;
///
/// let payload = r#"[["EURUSD_otc",1732288888.123,1.05123]]"#;
/// let mut rows = Vec::new();
/// assert!(parse_rows(payload, &mut rows));
/// assert_eq!(&payload[rows[0].0.clone()], "EURUSD_otc");
/// assert_eq!((rows[0].1, rows[0].2), (1732288888.123, 1.05123));
/// assert!(!parse_rows(r#"[["EUR\"USD",1,2]]"#, &mut rows)); // escapes: the general parser's job
/// ```
pub fn parse_rows(payload: &str, rows: &mut Vec<RowSpan>) -> bool {
    rows.clear();
    rows_of(payload, rows).is_some()
}

/// Parses any JSON form of the payload (escaped symbols, numbers in any JSON form).
pub fn parse_rows_general(payload: &str) -> Result<Vec<TickRow<'_>>, serde_json::Error> {
    serde_json::from_str(payload)
}

fn rows_of(s: &str, rows: &mut Vec<RowSpan>) -> Option<()> {
    let b = s.as_bytes();
    let mut i = 0;
    expect(b, &mut i, b'[')?;
    skip_ws(b, &mut i);
    if b.get(i) == Some(&b']') {
        i += 1;
    } else {
        loop {
            expect(b, &mut i, b'[')?;
            expect(b, &mut i, b'"')?;
            let start = i;
            // A plain symbol: no escape, no control character (JSON forbids them raw).
            let len = b[start..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
            if b[start + len] != b'"' {
                return None;
            }
            i = start + len + 1;
            expect(b, &mut i, b',')?;
            let time = number(s, &mut i)?;
            expect(b, &mut i, b',')?;
            let price = number(s, &mut i)?;
            expect(b, &mut i, b']')?;
            rows.push((start..start + len, time, price));
            skip_ws(b, &mut i);
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b']') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    skip_ws(b, &mut i);
    (i == b.len()).then_some(())
}

/// JSON whitespace (RFC 8259: space, tab, line feed, carriage return).
fn skip_ws(b: &[u8], i: &mut usize) {
    while b
        .get(*i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    {
        *i += 1;
    }
}

fn expect(b: &[u8], i: &mut usize, byte: u8) -> Option<()> {
    skip_ws(b, i);
    (b.get(*i) == Some(&byte)).then(|| *i += 1)
}

/// A JSON number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`), finite as an f64.
///
/// Prices and timestamps (`1.05123`, `1732288888.123`) have few significant digits, so
/// they are converted exactly with Clinger's fast path: the digits as an integer mantissa
/// `w` (exact in an f64 when at most 2^53) and one multiplication or division by an exact
/// power of ten (10^0..=10^22 are exact f64s). One correctly rounded IEEE operation on
/// two exact operands gives the correctly rounded result, the very value std's parser
/// returns. Anything else (more digits, a larger exponent) goes to std's parser.
fn number(s: &str, i: &mut usize) -> Option<f64> {
    let b = s.as_bytes();
    skip_ws(b, i);
    let start = *i;
    let mut at = start;
    let negative = b.get(at) == Some(&b'-');
    at += usize::from(negative);
    // The digits read as one integer (wrapping past 19 digits: then std decides).
    let mut mantissa: u64 = 0;
    let int_digits = match b.get(at) {
        Some(b'0') => {
            at += 1;
            1
        }
        Some(b'1'..=b'9') => digits(b, &mut at, &mut mantissa),
        _ => return None,
    };
    let mut fraction = 0;
    if b.get(at) == Some(&b'.') {
        at += 1;
        fraction = digits(b, &mut at, &mut mantissa);
        if fraction == 0 {
            return None;
        }
    }
    let mut exponent: i64 = 0;
    if matches!(b.get(at), Some(b'e' | b'E')) {
        at += 1;
        let negative_exponent = b.get(at) == Some(&b'-');
        at += usize::from(matches!(b.get(at), Some(b'+' | b'-')));
        let from = at;
        while let Some(d) = b.get(at).map(|c| c.wrapping_sub(b'0')).filter(|d| *d <= 9) {
            exponent = exponent.saturating_mul(10).saturating_add(i64::from(d));
            at += 1;
        }
        if at == from {
            return None;
        }
        if negative_exponent {
            exponent = -exponent;
        }
    }
    *i = at;
    // At most 19 digits cannot wrap a u64.
    if int_digits + fraction <= 19 && mantissa <= MAX_EXACT_MANTISSA {
        // `fraction` is at most 19 here.
        let exponent = exponent.saturating_sub(fraction as i64);
        if (-22..=22).contains(&exponent) {
            // Both operands are exact: one correctly rounded operation.
            let w = mantissa as f64;
            let power = POWERS_OF_TEN[exponent.unsigned_abs() as usize];
            let value = if exponent < 0 { w / power } else { w * power };
            return Some(if negative { -value } else { value });
        }
    }
    s[start..at].parse().ok().filter(|n: &f64| n.is_finite())
}

/// Reads ASCII digits from `b[*at..]` into `mantissa` (times ten per digit, wrapping);
/// returns how many there were.
fn digits(b: &[u8], at: &mut usize, mantissa: &mut u64) -> usize {
    let from = *at;
    let mut m = *mantissa;
    let mut j = from;
    while let Some(&c) = b.get(j) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        m = m.wrapping_mul(10).wrapping_add(u64::from(d));
        j += 1;
    }
    *mantissa = m;
    *at = j;
    j - from
}

/// The largest integer up to which every integer is exact in an f64 (2^53).
const MAX_EXACT_MANTISSA: u64 = 1 << 53;

/// 10^0 to 10^22: the powers of ten an f64 holds exactly.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_payloads_parse_by_hand_and_odd_ones_fall_back() {
        let mut rows = Vec::new();
        let payload =
            r##"[["EURUSD_otc",1732288888.123,1.05123], ["#AAPL_otc", 1732288888124, 190.5]]"##;
        assert!(parse_rows(payload, &mut rows));
        assert_eq!(rows.len(), 2);
        assert_eq!(&payload[rows[0].0.clone()], "EURUSD_otc");
        assert_eq!((rows[0].1, rows[0].2), (1732288888.123, 1.05123));
        assert_eq!(&payload[rows[1].0.clone()], "#AAPL_otc");
        assert!(parse_rows("[]", &mut rows) && rows.is_empty());
        assert!(parse_rows(r#" [ ["A" , -0.5e-3 , 2E+2 ] ] "#, &mut rows));
        assert_eq!((rows[0].1, rows[0].2), (-0.0005, 200.0));
        for odd in [
            r#"[["A\"B",1,2]]"#,
            r#"[["A",1,2,null]]"#,
            r#"[["A",1,"2"]]"#,
            r#"[["A",1,2]"#,
            r#"[["A",1,2]] x"#,
            r#"{"a":1}"#,
            "",
            // Not JSON numbers, though Rust would parse them.
            r#"[["A",+1,2]]"#,
            r#"[["A",1.,2]]"#,
            r#"[["A",.5,2]]"#,
            r#"[["A",01,2]]"#,
            r#"[["A",1e,2]]"#,
            r#"[["A",1,inf]]"#,
            r#"[["A",1,1e400]]"#,
            "[[\"A\u{1}\",1,2]]",
            "[[\"A\",1,2]\u{b}]",
        ] {
            assert!(!parse_rows(odd, &mut rows), "{odd}");
        }
    }

    /// The number as the fast parser reads it alone, or None when it refuses it.
    fn fast(text: &str) -> Option<f64> {
        let mut i = 0;
        let n = number(text, &mut i)?;
        (i == text.len()).then_some(n)
    }

    /// What std reads for a JSON number (finite only, as the parser demands).
    fn std_parse(text: &str) -> Option<f64> {
        text.parse().ok().filter(|n: &f64| n.is_finite())
    }

    /// Same value and same sign (`-0` is not `0`).
    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits()
    }

    #[test]
    fn numbers_read_exactly_as_std_reads_them() {
        for text in [
            "0",
            "-0",
            "-0.0",
            "0.000",
            "1",
            "-1",
            "1.05123",
            "1732288888.123",
            "1732288888123",
            "190.5",
            "0.1",
            "0.2",
            "0.3",
            "9007199254740992", // 2^53: the last exact mantissa
            "9007199254740993", // 2^53 + 1: std rounds it
            "9007199254740993.0",
            "900719925474099.3",
            "12345678901234567890", // 20 digits: past a u64's safe range
            "123456789012345678901234567890.5",
            "0.00000000000000000000001", // 10^-23: past the exact powers
            "1e22",
            "1e23",
            "1.5e-22",
            "1.5e-23",
            "4.9e-324",
            "2.2250738585072014e-308",
            "1.7976931348623157e308",
            "-1.7976931348623157e308",
            "1e-400",
            "0e999999999999999999999",
            "1E+2",
            "1e-0",
            "123.456e2",
            "0.000000000000000000000000000000001e30",
            "00000",
        ] {
            let want = std_parse(text);
            let got = fast(text);
            match (got, want) {
                (Some(g), Some(w)) => assert!(same(g, w), "{text}: {g:e} vs std {w:e}"),
                // `00000` is not JSON; std takes it.
                (None, Some(_)) => assert_eq!(text, "00000"),
                (g, w) => assert_eq!(g.is_some(), w.is_some(), "{text}: {g:?} vs {w:?}"),
            }
        }
    }

    #[test]
    fn malformed_numbers_are_refused_without_panicking() {
        for text in [
            "", "-", "+1", ".5", "1.", "1.e5", "01", "-01", "1e", "1e+", "1e-", "--1", "1..2",
            "0x10", "inf", "NaN", "1e400", "-1e400", "1_0", " ", "1 ",
        ] {
            assert_eq!(fast(text), None, "{text:?}");
        }
        // A number stops at the first byte that cannot continue it.
        let mut i = 0;
        assert_eq!(number("12,3", &mut i), Some(12.0));
        assert_eq!(i, 2);
    }

    #[test]
    fn many_prices_and_timestamps_read_as_std_reads_them() {
        // A small deterministic generator (xorshift64*): the same inputs on every run.
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        for _ in 0..200_000 {
            let r = next();
            let int_digits = (r % 20) as usize;
            let frac_digits = ((r >> 8) % 20) as usize;
            let digits = next();
            let mut text = String::new();
            if r >> 63 == 1 {
                text.push('-');
            }
            let digit = |k: usize| char::from(b'0' + ((digits >> (k % 60)) ^ k as u64) as u8 % 10);
            if int_digits == 0 {
                text.push('0');
            } else {
                text.push(char::from(b'1' + (digits % 9) as u8));
                (1..int_digits).for_each(|k| text.push(digit(k)));
            }
            if frac_digits > 0 {
                text.push('.');
                (0..frac_digits).for_each(|k| text.push(digit(k + 7)));
            }
            if (r >> 16) % 4 == 0 {
                let exponent = ((r >> 20) % 61) as i64 - 30;
                text.push_str(&format!("e{exponent}"));
            }
            let want = std_parse(&text).unwrap();
            let got = fast(&text).unwrap_or_else(|| panic!("{text} refused"));
            assert!(same(got, want), "{text}: {got:e} vs std {want:e}");
        }
    }

    #[test]
    fn formatted_floats_read_back_as_std_reads_them() {
        // Every price / timestamp shape the platform sends: fixed decimals of a float.
        let mut value = 1.000_01_f64;
        for step in 0..100_000 {
            value = value * 1.000_37 + 1e-7;
            let decimals = step % 12;
            for text in [
                format!("{value:.decimals$}"),
                format!("{:.3}", 1_732_288_888.0 + value),
                format!("{value}"),
                format!("{}", 1.0 / value),
            ] {
                let want = std_parse(&text).unwrap();
                let got = fast(&text).unwrap();
                assert!(same(got, want), "{text}: {got:e} vs std {want:e}");
            }
        }
    }

    #[test]
    fn what_the_fast_parser_reads_the_general_one_reads_alike() {
        let payload = r#"[["EURUSD_otc",1732288888.123,1.05123],["B",-0,1e2]]"#;
        let mut rows = Vec::new();
        assert!(parse_rows(payload, &mut rows));
        let general = parse_rows_general(payload).unwrap();
        assert_eq!(rows.len(), general.len());
        for ((span, time, price), row) in rows.iter().zip(&general) {
            assert_eq!(
                (&payload[span.clone()], *time, *price),
                (&*row.0, row.1, row.2)
            );
        }
        assert_eq!(
            parse_rows_general(r#"[["A\"B",1,2]]"#).unwrap()[0].0,
            "A\"B"
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::{fast, same, std_parse};
        use proptest::prelude::*;

        proptest! {
            /// Every JSON number reads as std reads it (or is refused only when std gives
            /// no finite value).
            #[test]
            fn json_numbers_read_as_std_reads_them(
                text in "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,24})?([eE][+-]?[0-9]{1,4})?"
            ) {
                match (fast(&text), std_parse(&text)) {
                    (Some(got), Some(want)) => prop_assert!(same(got, want), "{} {} {}", text, got, want),
                    (got, want) => prop_assert_eq!(got.is_some(), want.is_some()),
                }
            }

            /// Any text: an answer or a refusal, never a panic; an answer is std's (the
            /// parser skips the JSON whitespace before a number, std does not).
            #[test]
            fn any_text_is_read_or_refused(text in "[-+0-9.eE ]{0,30}") {
                if let Some(got) = fast(&text) {
                    let want = std_parse(text.trim_start());
                    prop_assert!(want.is_some_and(|want| same(got, want)), "{}", text);
                }
            }
        }
    }
}
