//! What a command returns when it fails: an error for people plus the exit code scripts
//! read, and [`report`], which prints it as `error: <sentence>` and one `caused by:` line
//! per source (never a `Debug` dump, never a panic).
//!
//! Exit codes (also in `--help` and the crate README):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the command failed (an order refused, no data in time, a file not written…) |
//! | 2 | usage: an unknown flag, a bad value, a missing argument |
//! | 3 | the platform (or `--url`, or the simulator) could not be reached |
//! | 4 | the SSID is missing, malformed, or rejected by the platform |

use std::error::Error as StdError;
use std::fmt;
use std::process::ExitCode;

use binary_options_tools::Error as PoError;

/// The exit codes, as documented in `--help`.
pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the command failed (an order refused, no data in time, a file not written...)
  2  usage: an unknown flag, a bad value, a missing argument
  3  the platform (or --url, or the simulator) could not be reached
  4  the SSID is missing, malformed, or rejected by the platform";

/// Why a command failed, as far as a script cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    /// 1: the command itself failed.
    Failure = 1,
    /// 2: the command line was wrong.
    Usage = 2,
    /// 3: no connection.
    Connection = 3,
    /// 4: the session is the problem.
    Session = 4,
}

/// A failed command: the error chain to print and the exit code.
pub(crate) struct CliError {
    code: Code,
    error: Box<dyn StdError + Send + Sync>,
}

/// A sentence with an optional cause: the links [`CliError::context`] adds to a chain.
#[derive(Debug)]
struct Message {
    text: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl StdError for Message {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl CliError {
    /// A failure with exit code `code`, described by `text`.
    pub(crate) fn new(code: Code, text: impl Into<String>) -> Self {
        CliError {
            code,
            error: Box::new(Message {
                text: text.into(),
                source: None,
            }),
        }
    }

    /// Exit code 1, caused by `error`.
    pub(crate) fn from_error(error: impl StdError + Send + Sync + 'static) -> Self {
        CliError {
            code: Code::Failure,
            error: Box::new(error),
        }
    }

    /// Exit code 1.
    pub(crate) fn failure(text: impl Into<String>) -> Self {
        Self::new(Code::Failure, text)
    }

    /// Exit code 2.
    pub(crate) fn usage(text: impl Into<String>) -> Self {
        Self::new(Code::Usage, text)
    }

    /// Puts `text` in front of the chain (it becomes the `error:` line, the old message the
    /// first `caused by:`); the exit code stays.
    pub(crate) fn context(self, text: impl Into<String>) -> Self {
        CliError {
            code: self.code,
            error: Box::new(Message {
                text: text.into(),
                source: Some(self.error),
            }),
        }
    }

    /// The top sentence (for `--json` error objects).
    pub(crate) fn message(&self) -> String {
        self.error.to_string()
    }
}

impl fmt::Debug for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CliError({:?}: {})", self.code, self.error)
    }
}

/// The exit code of a client error: connection problems 3, session problems 4, the rest 1.
fn code_of(error: &PoError) -> Code {
    match error {
        PoError::Ssid(_) | PoError::Authentication { .. } => Code::Session,
        PoError::ConnectFailed(_) => Code::Connection,
        PoError::Core(core) => match core {
            core_pre::CoreError::NotConnected { .. }
            | core_pre::CoreError::ConnectionLost
            | core_pre::CoreError::ConnectTimeout { .. }
            | core_pre::CoreError::GaveUp { .. }
            | core_pre::CoreError::Transport(_) => Code::Connection,
            core_pre::CoreError::Rejected { .. } => Code::Session,
            _ => Code::Failure,
        },
        _ => Code::Failure,
    }
}

impl From<PoError> for CliError {
    fn from(error: PoError) -> Self {
        CliError {
            code: code_of(&error),
            error: Box::new(error),
        }
    }
}

impl From<pocketoption_sim::SimError> for CliError {
    fn from(error: pocketoption_sim::SimError) -> Self {
        CliError {
            code: Code::Failure,
            error: Box::new(error),
        }
        .context("the simulator failed")
    }
}

/// A std I/O error, with what was being done.
pub(crate) fn io(doing: impl Into<String>, error: std::io::Error) -> CliError {
    CliError {
        code: Code::Failure,
        error: Box::new(error),
    }
    .context(doing)
}

/// Prints `error` on stderr as `error: <sentence>` plus one `  caused by: …` line per source,
/// and returns its exit code.
pub(crate) fn report(error: &CliError) -> ExitCode {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {}", error.error);
    let mut source = error.error.source();
    while let Some(cause) = source {
        let _ = writeln!(stderr, "  caused by: {cause}");
        source = cause.source();
    }
    ExitCode::from(error.code as u8)
}
