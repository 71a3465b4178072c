//! Runnable examples for the workspace; see `README.md`. Each example is an `[[example]]`
//! target of this package; this library holds what they share: printing an error for
//! people.

use std::error::Error;
use std::process::ExitCode;

/// Prints `error` for people on stderr: `Error: <sentence>`, then one `caused by: …` line
/// per source in its chain. Returns the exit code for a failure (1).
pub fn report(error: &dyn Error) -> ExitCode {
    eprintln!("Error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
    ExitCode::FAILURE
}
