//! The small subset of PHP's `serialize()` format that real-account PocketOption sessions
//! use: `a:4:{s:10:"session_id";s:32:"…";…;s:13:"last_activity";i:1700000000;}` followed by
//! a 32-hex-character signature.
//!
//! Real sessions are bound to the IP and user agent they were issued for, so the client and
//! the simulator need to read those fields. Users often paste sessions whose quotes a shell
//! stripped (`s:10:session_id;`); PHP strings are length-prefixed, so the parser recovers
//! them in a lenient mode and [`serialize`] rebuilds the canonical form.

/// A PHP scalar or array value (the subset sessions use).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PhpValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Array(Vec<(PhpValue, PhpValue)>),
}

/// What went wrong, for the SSID error message. Never contains the input.
pub(crate) type PhpError = String;

/// Parses a serialized array at the start of `input`. Returns the value, the number of
/// bytes consumed, and whether every string was properly quoted (`false` when quotes were
/// missing and recovered from the length prefixes).
pub(crate) fn parse_prefix(input: &str) -> Result<(PhpValue, usize, bool), PhpError> {
    let mut parser = Parser {
        input: input.as_bytes(),
        text: input,
        pos: 0,
        strict: true,
        depth: 0,
    };
    let value = parser.value()?;
    Ok((value, parser.pos, parser.strict))
}

struct Parser<'a> {
    input: &'a [u8],
    text: &'a str,
    pos: usize,
    strict: bool,
    depth: usize,
}

impl Parser<'_> {
    fn expect(&mut self, byte: u8, what: &str) -> Result<(), PhpError> {
        if self.input.get(self.pos) == Some(&byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!(
                "expected `{}` {what} at position {}",
                byte as char, self.pos
            ))
        }
    }

    /// Reads up to (not including) `end`, returning the text in between.
    fn until(&mut self, end: u8) -> Result<&str, PhpError> {
        let start = self.pos;
        let len = self.input[start..]
            .iter()
            .position(|&b| b == end)
            .ok_or_else(|| format!("unterminated value at position {start}"))?;
        self.pos = start + len + 1;
        // `end` is ASCII, so both ends are char boundaries.
        self.text
            .get(start..start + len)
            .ok_or_else(|| "invalid text".to_owned())
    }

    fn number<T: std::str::FromStr>(&mut self, end: u8, what: &str) -> Result<T, PhpError> {
        let at = self.pos;
        self.until(end)?
            .trim()
            .parse()
            .map_err(|_| format!("{what} at position {at} is not a number"))
    }

    fn value(&mut self) -> Result<PhpValue, PhpError> {
        self.depth += 1;
        if self.depth > 16 {
            return Err("arrays nested too deeply".to_owned());
        }
        let tag = *self
            .input
            .get(self.pos)
            .ok_or_else(|| "the session ends too early (it was cut off)".to_owned())?;
        self.pos += 1;
        let value = match tag {
            b'N' => {
                self.expect(b';', "after N")?;
                PhpValue::Null
            }
            b'b' => {
                self.expect(b':', "after b")?;
                PhpValue::Bool(self.number::<u8>(b';', "a boolean")? != 0)
            }
            b'i' => {
                self.expect(b':', "after i")?;
                PhpValue::Int(self.number(b';', "an integer")?)
            }
            b'd' => {
                self.expect(b':', "after d")?;
                PhpValue::Float(self.number(b';', "a float")?)
            }
            b's' => {
                self.expect(b':', "after s")?;
                let len: usize = self.number(b':', "a string length")?;
                let quoted = self.input.get(self.pos) == Some(&b'"');
                if quoted {
                    self.pos += 1;
                } else {
                    self.strict = false;
                }
                let start = self.pos;
                let end = start
                    .checked_add(len)
                    .filter(|&end| end <= self.input.len())
                    .ok_or_else(|| {
                        format!("a string at position {start} is shorter than its length prefix says (it was cut off or edited)")
                    })?;
                let s = self.text.get(start..end).ok_or_else(|| {
                    format!("a string at position {start} does not match its length prefix")
                })?;
                self.pos = end;
                if quoted {
                    self.expect(b'"', "closing a string (its length prefix does not match)")?;
                }
                self.expect(b';', "after a string")?;
                PhpValue::Str(s.to_owned())
            }
            b'a' => {
                self.expect(b':', "after a")?;
                let count: usize = self.number(b':', "an array length")?;
                self.expect(b'{', "opening an array")?;
                let mut entries = Vec::with_capacity(count.min(16));
                for _ in 0..count {
                    let key = self.value()?;
                    let value = self.value()?;
                    entries.push((key, value));
                }
                self.expect(b'}', "closing the array (its length prefix does not match)")?;
                PhpValue::Array(entries)
            }
            other => {
                return Err(format!(
                    "unknown PHP type `{}` at position {}",
                    other.escape_ascii(),
                    self.pos - 1
                ));
            }
        };
        self.depth -= 1;
        Ok(value)
    }
}

/// Serializes a value in PHP's format (the canonical, quoted form).
pub(crate) fn serialize(value: &PhpValue, out: &mut String) {
    match value {
        PhpValue::Str(s) => {
            out.push_str(&format!("s:{}:\"{s}\";", s.len()));
        }
        PhpValue::Int(i) => out.push_str(&format!("i:{i};")),
        PhpValue::Float(f) => out.push_str(&format!("d:{f};")),
        PhpValue::Bool(b) => out.push_str(if *b { "b:1;" } else { "b:0;" }),
        PhpValue::Null => out.push_str("N;"),
        PhpValue::Array(entries) => {
            out.push_str(&format!("a:{}:{{", entries.len()));
            for (k, v) in entries {
                serialize(k, out);
                serialize(v, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_and_unquoted_strings_alike() {
        let quoted = r#"a:2:{s:1:"k";s:3:"a;b";s:1:"n";i:5;}"#;
        let (v1, used, strict) = parse_prefix(quoted).unwrap();
        assert_eq!(used, quoted.len());
        assert!(strict);
        let (v2, _, strict2) = parse_prefix("a:2:{s:1:k;s:3:a;b;s:1:n;i:5;}").unwrap();
        assert!(!strict2);
        assert_eq!(v1, v2);
        let mut out = String::new();
        serialize(&v2, &mut out);
        assert_eq!(out, quoted);
    }

    #[test]
    fn refuses_truncated_or_lying_length_prefixes() {
        assert!(parse_prefix(r#"a:1:{s:10:"session_id";s:32:"abc"#).is_err());
        assert!(parse_prefix(r#"a:1:{s:5:"ab";i:1;}"#).is_err());
        assert!(parse_prefix("a:99999999999999999999:{").is_err());
        assert!(parse_prefix("").is_err());
    }
}
