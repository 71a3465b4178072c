//! [`HumanDuration`]: durations written for people, in errors and states.

use std::fmt;
use std::time::Duration;

/// A [`Duration`] shown for people: `250 ms`, `1.9 s`, `30 s`, `2 min 5 s`.
///
/// ```
/// use core_pre::HumanDuration;
/// use std::time::Duration;
///
/// assert_eq!(HumanDuration(Duration::from_millis(250)).to_string(), "250 ms");
/// assert_eq!(HumanDuration(Duration::from_millis(1900)).to_string(), "1.9 s");
/// assert_eq!(HumanDuration(Duration::from_secs(30)).to_string(), "30 s");
/// assert_eq!(HumanDuration(Duration::from_secs(125)).to_string(), "2 min 5 s");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let secs = d.as_secs();
        if secs >= 60 {
            let (min, sec) = (secs / 60, secs % 60);
            if sec == 0 {
                write!(f, "{min} min")
            } else {
                write!(f, "{min} min {sec} s")
            }
        } else if secs >= 10 {
            write!(f, "{} s", d.as_secs_f64().round())
        } else if secs >= 1 {
            let tenths = (d.as_secs_f64() * 10.0).round() / 10.0;
            write!(f, "{tenths} s")
        } else if d.as_millis() >= 1 {
            write!(f, "{} ms", d.as_millis())
        } else if d.is_zero() {
            f.write_str("0 ms")
        } else {
            write!(f, "{} µs", d.as_micros())
        }
    }
}
