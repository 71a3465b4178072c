//! The time left until a deal expires, on stderr (stdout keeps the result for scripts): a
//! bar redrawn in place when stderr is a terminal, one plain line per second otherwise (a
//! log, a pipe). It ends exactly once, at expiry.

use std::io::{IsTerminal, Write};
use std::time::Duration;

/// A countdown to a deal's expiry.
pub(crate) struct Countdown {
    total: Duration,
    terminal: bool,
    last_second: Option<u64>,
    ended: bool,
}

impl Countdown {
    const WIDTH: usize = 30;

    /// A countdown over `total`.
    pub(crate) fn new(total: Duration) -> Self {
        Countdown {
            total,
            terminal: std::io::stderr().is_terminal(),
            last_second: None,
            ended: false,
        }
    }

    /// How often to call [`show`](Self::show).
    pub(crate) fn redraw_every(&self) -> Duration {
        if self.terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_millis(250)
        }
    }

    /// True once the end was shown.
    pub(crate) fn ended(&self) -> bool {
        self.ended
    }

    /// Shows `left`; at zero, shows the end (once) and nothing after it.
    pub(crate) fn show(&mut self, left: Duration) {
        if self.ended {
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let left = left.min(self.total);
        if left.is_zero() {
            self.ended = true;
            let _ = if self.terminal {
                writeln!(
                    stderr,
                    "\r[{}] expired, waiting for the result",
                    "#".repeat(Self::WIDTH)
                )
            } else {
                writeln!(stderr, "expired, waiting for the result")
            };
            return;
        }
        if self.terminal {
            let done = 1.0 - left.as_secs_f64() / self.total.as_secs_f64().max(f64::EPSILON);
            let filled = ((done * Self::WIDTH as f64).round() as usize).min(Self::WIDTH);
            let _ = write!(
                stderr,
                "\r[{}{}] {:>6.1}s left ",
                "#".repeat(filled),
                "-".repeat(Self::WIDTH - filled),
                left.as_secs_f64()
            );
            let _ = stderr.flush();
        } else {
            // Whole seconds, rounded up: the last line before the end says 1 s.
            let second = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            if self.last_second != Some(second) {
                self.last_second = Some(second);
                let _ = writeln!(stderr, "{second}s to expiry");
            }
        }
    }
}
