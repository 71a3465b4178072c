//! Value parsers the flags and the stdin commands share: durations and malformed-frame
//! kinds.
//!
//! Each parser turns one word into a typed value or into a sentence clap prints after
//! `error:`, so a bad value never reaches the simulator.

use std::time::Duration;

use crate::faults::MalformedFrame;
use clap::builder::{PossibleValuesParser, TypedValueParser};

/// A whole number of milliseconds.
pub fn millis(raw: &str) -> Result<Duration, String> {
    raw.parse()
        .map(Duration::from_millis)
        .map_err(|_| format!("`{raw}` is not a whole number of milliseconds"))
}

/// A positive, finite number of seconds (fractions allowed).
pub fn positive_secs(raw: &str) -> Result<Duration, String> {
    seconds(raw, false)
}

/// A number of seconds that may be zero.
pub fn secs(raw: &str) -> Result<Duration, String> {
    seconds(raw, true)
}

fn seconds(raw: &str, zero_ok: bool) -> Result<Duration, String> {
    let s: f64 = raw
        .parse()
        .map_err(|_| format!("`{raw}` is not a number of seconds"))?;
    let in_range = if zero_ok { s >= 0.0 } else { s > 0.0 };
    if !in_range {
        let bound = if zero_ok {
            "zero or more"
        } else {
            "more than zero"
        };
        return Err(format!("`{raw}`: the number of seconds must be {bound}"));
    }
    Duration::try_from_secs_f64(s).map_err(|_| format!("`{raw}` seconds is too long"))
}

/// One malformed-frame kind by its name (`garbage-text`, …), the names listed in the help.
pub fn malformed_kind() -> impl TypedValueParser<Value = MalformedFrame> {
    PossibleValuesParser::new(MalformedFrame::ALL.map(MalformedFrame::name)).try_map(|name| {
        // The possible values above are exactly the names, so this finds one.
        MalformedFrame::from_name(&name).ok_or_else(|| format!("unknown malformed kind `{name}`"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_reject_what_they_cannot_represent() {
        assert_eq!(millis("250"), Ok(Duration::from_millis(250)));
        assert!(millis("1.5").is_err());
        assert_eq!(positive_secs("0.5"), Ok(Duration::from_millis(500)));
        assert!(positive_secs("0").is_err());
        assert!(positive_secs("-3").is_err());
        assert!(positive_secs("inf").is_err());
        assert!(positive_secs("NaN").is_err());
        assert_eq!(secs("0"), Ok(Duration::ZERO));
        assert!(secs("1e300").is_err());
    }
}
