//! Durations (`5s`, `1m`, `1h30m`) and instants (unix seconds or RFC 3339) on the command
//! line, and instants written back as RFC 3339 in UTC.
//!
//! Hand-written rather than a date crate: the CLI needs exactly two grammars and UTC
//! output, which is the civil-from-days arithmetic below (about 60 lines), while `chrono`,
//! `time` or `jiff` would each add a crate tree for features (time zones, calendars,
//! formatting languages) nothing here uses.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The units a duration may use, longest name first (so `ms` is not read as `m`).
const UNITS: &[(&str, f64)] = &[
    ("ms", 0.001),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
    ("d", 86_400.0),
];

/// Parses a duration: one or more `<number><unit>` parts, units `ms`, `s`, `m`, `h`, `d`
/// (`5s`, `1m`, `1h30m`, `1.5s`, `250ms`). A bare number is refused: its unit would be a
/// guess.
pub(crate) fn parse_duration(raw: &str) -> Result<Duration, String> {
    let text = raw.trim();
    let usage = "use a number and a unit: 500ms, 5s, 1m, 1h, 1d (or parts like 1m30s)";
    if text.is_empty() {
        return Err(format!("an empty duration; {usage}"));
    }
    let mut total = 0.0_f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(format!("`{raw}` is not a duration; {usage}"));
        }
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| format!("`{raw}` is not a duration; {usage}"))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        if unit.is_empty() {
            return Err(format!("`{raw}` has no unit; {usage}"));
        }
        let Some((_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(format!("`{unit}` in `{raw}` is not a unit; {usage}"));
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| format!("`{raw}` is too long a duration"))
}

/// Like [`parse_duration`], but zero is refused.
pub(crate) fn parse_positive_duration(raw: &str) -> Result<Duration, String> {
    match parse_duration(raw)? {
        d if d.is_zero() => Err(format!("`{raw}`: the duration must be more than zero")),
        d => Ok(d),
    }
}

/// A duration the way people write it: `5s`, `1m`, `1m30s`, `1h`, `250ms`.
pub(crate) fn format_duration(d: Duration) -> String {
    let millis = d.as_millis();
    if millis < 1000 && !d.is_zero() && millis * 1_000_000 == d.as_nanos() {
        return format!("{millis}ms");
    }
    let secs = d.as_secs();
    let parts = [
        (secs / 86_400, "d"),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
    ];
    let mut out = String::new();
    for (n, unit) in parts {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// Parses an instant: unix seconds (`1742583805`, fractions allowed) or RFC 3339
/// (`2025-03-21T18:23:25Z`, `2025-03-21 18:23:25.5+01:00`).
pub(crate) fn parse_time(raw: &str) -> Result<SystemTime, String> {
    let text = raw.trim();
    let usage = "use unix seconds (1742583805) or RFC 3339 (2025-03-21T18:23:25Z)";
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let secs: f64 = text
            .parse()
            .map_err(|_| format!("`{raw}` is not a time; {usage}"))?;
        return Duration::try_from_secs_f64(secs)
            .map(|d| UNIX_EPOCH + d)
            .map_err(|_| format!("`{raw}` is out of range; {usage}"));
    }
    let secs = rfc3339_secs(text).ok_or_else(|| format!("`{raw}` is not a time; {usage}"))?;
    if secs < 0.0 {
        return Err(format!("`{raw}` is before 1970; {usage}"));
    }
    Duration::try_from_secs_f64(secs)
        .map(|d| UNIX_EPOCH + d)
        .map_err(|_| format!("`{raw}` is out of range; {usage}"))
}

/// Unix seconds of an RFC 3339 date-time, or `None` when it is not one.
fn rfc3339_secs(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut fraction = 0.0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let len = after_dot
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_dot.len());
        if len == 0 {
            return None;
        }
        fraction = format!("0.{}", &after_dot[..len]).parse().ok()?;
        rest = &after_dot[len..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let zone = rest.get(1..)?;
            if zone.len() != 5 || zone.as_bytes()[2] != b':' {
                return None;
            }
            let hours: i64 = zone[..2].parse().ok()?;
            let minutes: i64 = zone[3..].parse().ok()?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(secs as f64 + fraction)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Unix seconds as RFC 3339 in UTC, with milliseconds when there are any
/// (`2025-03-21T18:23:25Z`, `2025-03-21T18:23:25.370Z`).
pub(crate) fn format_unix(unix: f64) -> String {
    format_unix_with(unix, false)
}

/// Like [`format_unix`], always with milliseconds (rows that line up in a live stream).
pub(crate) fn format_unix_millis(unix: f64) -> String {
    format_unix_with(unix, true)
}

fn format_unix_with(unix: f64, always_millis: bool) -> String {
    let millis_total = (unix * 1000.0).round() as i64;
    let secs = millis_total.div_euclid(1000);
    let millis = millis_total.rem_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    let (h, m, s) = (of_day / 3600, of_day / 60 % 60, of_day % 60);
    if millis == 0 && !always_millis {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
    }
}

/// A `SystemTime` as unix seconds (negative before 1970).
pub(crate) fn unix(at: SystemTime) -> f64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// A `SystemTime` as RFC 3339 in UTC.
pub(crate) fn format_time(at: SystemTime) -> String {
    format_unix(unix(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_parts() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        for bad in ["", "5", "s", "5x", "1m5", "-1s", "1e3s", "5 s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_positive_duration("0s").is_err());
    }

    #[test]
    fn durations_print_the_way_they_are_typed() {
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(format_duration(Duration::from_secs(90_061)), "1d1h1m1s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn times_are_unix_seconds_or_rfc3339() {
        let at = |secs: f64| UNIX_EPOCH + Duration::from_secs_f64(secs);
        assert_eq!(parse_time("1742583805"), Ok(at(1_742_583_805.0)));
        assert_eq!(parse_time("2025-03-21T18:23:25Z"), Ok(at(1_742_581_405.0)));
        assert_eq!(
            parse_time("2025-03-21 19:23:25.5+01:00"),
            Ok(at(1_742_581_405.5))
        );
        assert_eq!(
            parse_time("2024-02-29T00:00:00-00:30"),
            Ok(at(1_709_166_600.0))
        );
        for bad in [
            "",
            "yesterday",
            "2025-02-29T00:00:00Z",
            "2025-03-21T18:23:25",
            "2025-13-01T00:00:00Z",
            "2025-03-21T18:23:25+1",
            "1960-01-01T00:00:00Z",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn times_print_as_rfc3339_utc_and_read_back() {
        assert_eq!(format_unix(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(1_742_581_405.0), "2025-03-21T18:23:25Z");
        assert_eq!(format_unix(1_709_164_800.25), "2024-02-29T00:00:00.250Z");
        assert_eq!(format_unix_millis(0.0), "1970-01-01T00:00:00.000Z");
        for secs in [0.0, 951_782_400.0, 1_742_581_405.0, 4_102_444_800.0] {
            assert_eq!(parse_time(&format_unix(secs)).map(unix), Ok(secs));
        }
    }
}
