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
fn number(s: &str, i: &mut usize) -> Option<f64> {
    let b = s.as_bytes();
    skip_ws(b, i);
    let start = *i;
    let digits = |i: &mut usize| {
        let from = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > from
    };
    if b.get(*i) == Some(&b'-') {
        *i += 1;
    }
    match b.get(*i) {
        Some(b'0') => *i += 1,
        Some(b'1'..=b'9') => {
            digits(i);
        }
        _ => return None,
    }
    if b.get(*i) == Some(&b'.') {
        *i += 1;
        if !digits(i) {
            return None;
        }
    }
    if matches!(b.get(*i), Some(b'e' | b'E')) {
        *i += 1;
        if matches!(b.get(*i), Some(b'+' | b'-')) {
            *i += 1;
        }
        if !digits(i) {
            return None;
        }
    }
    s[start..*i].parse().ok().filter(|n: &f64| n.is_finite())
}

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
}
