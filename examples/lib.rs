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

/// What the `atomic_server` and `atomic_client` examples say to each other: two compact
/// (category-tagged) message types.
pub mod atomic_demo {
    use atomic_ws::compact::Category;
    use serde::{Deserialize, Serialize};

    /// The service name both sides use unless told otherwise.
    pub const DEFAULT_SERVICE: &str = "atomic-demo";
    /// The WebSocket port the server listens on unless told otherwise.
    pub const DEFAULT_WS_PORT: u16 = 9300;

    /// The client announces itself with this, on every connection.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Startup {
        /// The client's name.
        pub name: String,
        /// How many connections this client process has made so far (1 on the first).
        pub connection: u32,
    }

    impl Category for Startup {
        const CATEGORY: u16 = 1;
    }

    /// The server's answer to a [`Startup`].
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Confirmed {
        /// The name the client gave.
        pub name: String,
        /// The server's identity (as announced by discovery).
        pub server: String,
        /// The session the server gave the connection.
        pub session: String,
    }

    impl Category for Confirmed {
        const CATEGORY: u16 = 2;
    }
}
