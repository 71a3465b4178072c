//! The reference server's tiny `play` language: one command per line.
//!
//! | line | effect |
//! |---|---|
//! | `echo <text>` | outputs `<text>` |
//! | `whoami` | outputs the authenticated public key, or `anonymous` |
//! | `sleep <ms>` | waits (at most 60 s), to exercise client timeouts |
//! | `notify <method> [json]` | sends this connection a notification |
//! | `disconnect` | answers, then drops the connection (no close frame) |
//! | `freeze` | answers, then goes silent with the socket still open (a half-open peer) |
//!
//! Blank lines and lines starting with `#` are skipped. The answer is the outputs joined
//! with `\n`. Parsing is a pure function, tested without sockets.

use std::time::Duration;

use serde_json::Value;

/// The longest `sleep` a script may ask for.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

/// One parsed script line.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Output a line.
    Echo(String),
    /// Output the caller's identity.
    WhoAmI,
    /// Wait.
    Sleep(Duration),
    /// Send a notification to the caller.
    Notify {
        /// The notification method.
        method: String,
        /// Its params.
        params: Value,
    },
    /// Drop the connection after answering.
    Disconnect,
    /// Stop reading and writing after answering, keeping the socket open.
    Freeze,
}

/// Parses a script; the error names the offending line.
pub fn parse(script: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (number, line) in script.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        let step = match command {
            "echo" => Step::Echo(rest.to_string()),
            "whoami" => Step::WhoAmI,
            "sleep" => {
                let millis: u64 = rest
                    .parse()
                    .map_err(|_| format!("line {}: `sleep` takes milliseconds", number + 1))?;
                Step::Sleep(Duration::from_millis(millis).min(MAX_SLEEP))
            }
            "notify" => {
                let (method, params) = rest.split_once(' ').unwrap_or((rest, ""));
                if method.is_empty() {
                    return Err(format!("line {}: `notify` needs a method", number + 1));
                }
                let params = if params.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(params).map_err(|e| {
                        format!("line {}: notify params are not JSON: {e}", number + 1)
                    })?
                };
                Step::Notify {
                    method: method.to_string(),
                    params,
                }
            }
            "disconnect" => Step::Disconnect,
            "freeze" => Step::Freeze,
            other => return Err(format!("line {}: unknown command `{other}`", number + 1)),
        };
        steps.push(step);
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_command_and_skips_comments() {
        let steps = parse("# hi\necho hello world\n\nwhoami\nsleep 25\nnotify tick {\"n\":1}\nnotify bare\ndisconnect\nfreeze").unwrap();
        assert_eq!(
            steps,
            vec![
                Step::Echo("hello world".into()),
                Step::WhoAmI,
                Step::Sleep(Duration::from_millis(25)),
                Step::Notify {
                    method: "tick".into(),
                    params: json!({"n": 1})
                },
                Step::Notify {
                    method: "bare".into(),
                    params: Value::Null
                },
                Step::Disconnect,
                Step::Freeze,
            ]
        );
    }

    #[test]
    fn rejects_unknown_commands_and_bad_arguments_naming_the_line() {
        assert_eq!(
            parse("echo a\nfly").unwrap_err(),
            "line 2: unknown command `fly`"
        );
        assert!(parse("sleep soon").unwrap_err().contains("line 1"));
        assert!(parse("notify").unwrap_err().contains("needs a method"));
        assert!(parse("notify x {bad").unwrap_err().contains("not JSON"));
        assert_eq!(
            parse("sleep 999999999").unwrap(),
            vec![Step::Sleep(MAX_SLEEP)]
        );
    }
}
