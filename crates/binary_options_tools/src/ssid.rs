//! [`Ssid`]: the session a user pastes to log in, parsed from every form it comes in.
//!
//! Users copy the browser's auth frame (`42["auth",{…}]`) or only its JSON object, and
//! what reaches us is messy: single quotes, quotes stripped by a shell, the whole thing
//! wrapped in quotes or JSON-encoded twice, DevTools columns trailing after it. The parser
//! peels those layers, repairs what it can, and otherwise says what is wrong and how to
//! copy the SSID correctly. Real-account sessions are PHP-serialized arrays plus a
//! signature ([`RealSession`]); they are bound to the IP and user agent they were issued
//! for, which the client and the simulator both need to know.
//!
//! The session token is a credential: it is redacted in `Debug` and `Display`, and no error
//! message contains it.

use std::fmt;
use std::str::FromStr;
use zeroize::Zeroize;

use serde_json::{Map, Value};

use crate::error::SsidError;
use crate::php::{self, PhpValue};

/// How deep quoting/encoding layers are peeled before giving up.
const MAX_LAYERS: usize = 6;

/// A parsed PocketOption SSID.
///
/// ```
/// use binary_options_tools::Ssid;
/// let ssid = Ssid::parse(r#"42["auth",{"session":"abcdef0123456789","isDemo":1,"uid":12345678,"platform":2}]"#).unwrap();
/// assert!(ssid.is_demo());
/// assert_eq!(ssid.uid(), 12345678);
/// assert!(!format!("{ssid:?}").contains("abcdef0123456789"));
/// assert_eq!(
///     ssid.auth_frame(),
///     r#"42["auth",{"session":"abcdef0123456789","isDemo":1,"uid":12345678,"platform":2}]"#
/// );
/// ```
#[derive(Clone, PartialEq)]
pub struct Ssid {
    session: String,
    is_demo_flag: bool,
    uid: u64,
    platform: i64,
    current_url: Option<String>,
    is_fast_history: Option<bool>,
    is_optimized: Option<bool>,
    extra: Map<String, Value>,
    real: Option<RealSession>,
}

/// The fields of a real-account session (PHP-serialized, followed by a signature).
#[derive(Clone, PartialEq, Eq)]
pub struct RealSession {
    session_id: String,
    ip_address: String,
    user_agent: String,
    last_activity: i64,
    signature: String,
}

impl RealSession {
    /// Assembles a real session (used by tests and the simulator to mint sessions).
    pub fn new(
        session_id: impl Into<String>,
        ip_address: impl Into<String>,
        user_agent: impl Into<String>,
        last_activity: i64,
        signature: impl Into<String>,
    ) -> Self {
        RealSession {
            session_id: session_id.into(),
            ip_address: ip_address.into(),
            user_agent: user_agent.into(),
            last_activity,
            signature: signature.into(),
        }
    }

    /// The PHP session id (a credential: do not log it).
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The IP address the session was issued for.
    pub fn ip_address(&self) -> &str {
        &self.ip_address
    }

    /// The browser user agent the session was issued for; send the same one when connecting.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// Unix seconds of the session's last activity.
    pub fn last_activity(&self) -> i64 {
        self.last_activity
    }

    /// The 32-hex-character signature after the array (a credential: do not log it).
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// The serialized form the platform expects as `session`.
    ///
    /// ```
    /// use binary_options_tools::RealSession;
    /// let s = RealSession::new("0123456789abcdef0123456789abcdef", "1.2.3.4", "UA", 1700000000, "f".repeat(32));
    /// assert!(s.to_session_string().starts_with(r#"a:4:{s:10:"session_id";s:32:"0123456789abcdef0123456789abcdef";"#));
    /// ```
    pub fn to_session_string(&self) -> String {
        let s = |v: &str| PhpValue::Str(v.to_owned());
        let array = PhpValue::Array(vec![
            (s("session_id"), s(&self.session_id)),
            (s("ip_address"), s(&self.ip_address)),
            (s("user_agent"), s(&self.user_agent)),
            (s("last_activity"), PhpValue::Int(self.last_activity)),
        ]);
        let mut out = String::new();
        php::serialize(&array, &mut out);
        out.push_str(&self.signature);
        out
    }
}

/// The session token is a credential: wipe it when the SSID goes away (best effort: the
/// auth frame built from it is a short-lived copy handed to the transport).
impl Drop for Ssid {
    fn drop(&mut self) {
        self.session.zeroize();
    }
}

impl Drop for RealSession {
    fn drop(&mut self) {
        self.session_id.zeroize();
        self.signature.zeroize();
    }
}

impl fmt::Debug for RealSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RealSession")
            .field("session_id", &Redacted(self.session_id.len()))
            .field("ip_address", &self.ip_address)
            .field("user_agent", &self.user_agent)
            .field("last_activity", &self.last_activity)
            .field("signature", &Redacted(self.signature.len()))
            .finish()
    }
}

struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted, {} chars>", self.0)
    }
}

impl fmt::Debug for Ssid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ssid")
            .field("session", &Redacted(self.session.len()))
            .field("is_demo", &self.is_demo())
            .field("uid", &self.uid)
            .field("platform", &self.platform)
            .field("current_url", &self.current_url)
            .field("is_fast_history", &self.is_fast_history)
            .field("is_optimized", &self.is_optimized)
            .field("extra_keys", &self.extra.keys().collect::<Vec<_>>())
            .field("real", &self.real)
            .finish()
    }
}

impl fmt::Display for Ssid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} session of uid {} (platform {}, token redacted)",
            if self.is_demo() { "demo" } else { "real" },
            self.uid,
            self.platform
        )
    }
}

impl FromStr for Ssid {
    type Err = SsidError;
    fn from_str(s: &str) -> Result<Self, SsidError> {
        Ssid::parse(s)
    }
}

impl Ssid {
    /// A demo session with the web client's defaults (`platform` 2, fast history on).
    pub fn demo(session: impl Into<String>, uid: u64) -> Self {
        Ssid {
            session: session.into(),
            is_demo_flag: true,
            uid,
            platform: 2,
            current_url: None,
            is_fast_history: Some(true),
            is_optimized: Some(true),
            extra: Map::new(),
            real: None,
        }
    }

    /// A real-account session.
    pub fn real(session: RealSession, uid: u64) -> Self {
        Ssid {
            session: session.to_session_string(),
            is_demo_flag: false,
            uid,
            platform: 2,
            current_url: None,
            is_fast_history: Some(true),
            is_optimized: Some(true),
            extra: Map::new(),
            real: Some(session),
        }
    }

    /// Parses what a user pasted: the auth frame, its JSON object, or any of the messy
    /// variants (see the module docs). Errors say what is wrong and how to copy it again.
    pub fn parse(input: &str) -> Result<Ssid, SsidError> {
        let object = read_auth_object(input, 0)?;
        Ssid::from_object(object)
    }

    fn from_object(mut obj: Map<String, Value>) -> Result<Ssid, SsidError> {
        let session = match obj.remove("session").or_else(|| obj.remove("sessionToken")) {
            None => return Err(SsidError::MissingField { field: "session" }),
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            Some(Value::String(_)) => {
                return Err(SsidError::InvalidField {
                    field: "session",
                    reason: "it is empty",
                });
            }
            Some(_) => {
                return Err(SsidError::InvalidField {
                    field: "session",
                    reason: "it is not a string",
                });
            }
        };
        let is_demo_flag = match obj.remove("isDemo") {
            None | Some(Value::Null) => false,
            Some(v) => flag(&v).ok_or(SsidError::InvalidField {
                field: "isDemo",
                reason: "it must be 0 or 1",
            })?,
        };
        let uid =
            match obj.remove("uid") {
                None | Some(Value::Null) => return Err(SsidError::MissingField { field: "uid" }),
                Some(v) => integer(&v).and_then(|n| u64::try_from(n).ok()).ok_or(
                    SsidError::InvalidField {
                        field: "uid",
                        reason: "it must be a whole positive number",
                    },
                )?,
            };
        let platform = match obj.remove("platform") {
            None | Some(Value::Null) => 2,
            Some(v) => integer(&v).ok_or(SsidError::InvalidField {
                field: "platform",
                reason: "it must be a number (2 for the web platform)",
            })?,
        };
        let current_url = match obj.remove("currentUrl") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                return Err(SsidError::InvalidField {
                    field: "currentUrl",
                    reason: "it is not a string",
                });
            }
        };
        let mut optional_flag = |field: &'static str| match obj.remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => flag(&v).map(Some).ok_or(SsidError::InvalidField {
                field,
                reason: "it must be true or false",
            }),
        };
        let is_fast_history = optional_flag("isFastHistory")?;
        let is_optimized = optional_flag("isOptimized")?;

        let (session, real) = if session.starts_with("a:") {
            let (real, canonical) = parse_real_session(&session)?;
            (canonical.unwrap_or(session), Some(real))
        } else {
            (session, None)
        };

        Ok(Ssid {
            session,
            is_demo_flag,
            uid,
            platform,
            current_url,
            is_fast_history,
            is_optimized,
            extra: obj,
            real,
        })
    }

    /// The session token to send (a credential: never log it).
    pub fn session(&self) -> &str {
        &self.session
    }

    /// Whether this is a demo account: `isDemo == 1`, or `currentUrl` contains `demo`.
    pub fn is_demo(&self) -> bool {
        self.is_demo_flag
            || self
                .current_url
                .as_deref()
                .is_some_and(|url| url.contains("demo"))
    }

    /// The user id.
    pub fn uid(&self) -> u64 {
        self.uid
    }

    /// The platform code (2 = web).
    pub fn platform(&self) -> i64 {
        self.platform
    }

    /// The page the SSID was copied from, if it said.
    pub fn current_url(&self) -> Option<&str> {
        self.current_url.as_deref()
    }

    /// The `isFastHistory` flag, if present.
    pub fn is_fast_history(&self) -> Option<bool> {
        self.is_fast_history
    }

    /// The `isOptimized` flag, if present.
    pub fn is_optimized(&self) -> Option<bool> {
        self.is_optimized
    }

    /// Keys this parser does not know, kept to be sent back unchanged.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// The parsed fields of a real-account session (`None` for demo tokens).
    pub fn real_session(&self) -> Option<&RealSession> {
        self.real.as_ref()
    }

    /// Sets the `currentUrl` (builder style).
    pub fn with_current_url(mut self, url: impl Into<String>) -> Self {
        self.current_url = Some(url.into());
        self
    }

    /// The JSON object of the auth frame, as the platform expects it.
    pub fn auth_payload(&self) -> String {
        let mut out = String::with_capacity(self.session.len() + 128);
        out.push_str("{\"session\":");
        push_json(&mut out, &Value::String(self.session.clone()));
        out.push_str(if self.is_demo() {
            ",\"isDemo\":1"
        } else {
            ",\"isDemo\":0"
        });
        out.push_str(&format!(
            ",\"uid\":{},\"platform\":{}",
            self.uid, self.platform
        ));
        if let Some(url) = &self.current_url {
            out.push_str(",\"currentUrl\":");
            push_json(&mut out, &Value::String(url.clone()));
        }
        for (key, value) in [
            ("isFastHistory", self.is_fast_history),
            ("isOptimized", self.is_optimized),
        ] {
            if let Some(v) = value {
                out.push_str(&format!(",\"{key}\":{v}"));
            }
        }
        for (key, value) in &self.extra {
            out.push(',');
            push_json(&mut out, &Value::String(key.clone()));
            out.push(':');
            push_json(&mut out, value);
        }
        out.push('}');
        out
    }

    /// The full auth frame: `42["auth",{…}]`.
    pub fn auth_frame(&self) -> String {
        let mut out = String::from("42[\"auth\",");
        out.push_str(&self.auth_payload());
        out.push(']');
        out
    }
}

fn push_json(out: &mut String, value: &Value) {
    // Serializing a `Value` cannot fail (its map keys are strings).
    out.push_str(&serde_json::to_string(value).unwrap_or_default());
}

/// 0/1, true/false, "0"/"1", "true"/"false".
fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.trim() {
            "0" | "false" => Some(false),
            "1" | "true" => Some(true),
            _ => None,
        },
        _ => None,
    }
}

/// An integer given as a number or a numeric string.
fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Parses a real session; returns it and, when its quotes had to be recovered, the
/// canonical serialized string to send instead of the damaged one.
fn parse_real_session(session: &str) -> Result<(RealSession, Option<String>), SsidError> {
    let invalid = |reason: String| SsidError::InvalidRealSession { reason };
    let (value, used, strict) = php::parse_prefix(session).map_err(invalid)?;
    let PhpValue::Array(entries) = &value else {
        return Err(invalid("it is not a PHP array".to_owned()));
    };
    let signature = session[used..].trim();
    if signature.len() != 32 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(format!(
            "it must end with a 32-hex-character signature after `}}`, found {} characters",
            signature.len()
        )));
    }
    let find = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| matches!(k, PhpValue::Str(s) if s == key))
            .map(|(_, v)| v)
    };
    let text = |key: &'static str| match find(key) {
        Some(PhpValue::Str(s)) => Ok(s.clone()),
        Some(_) => Err(invalid(format!("`{key}` is not a string"))),
        None => Err(invalid(format!("`{key}` is missing"))),
    };
    let last_activity = match find("last_activity") {
        Some(PhpValue::Int(i)) => *i,
        Some(PhpValue::Str(s)) => s
            .parse()
            .map_err(|_| invalid("`last_activity` is not a number".to_owned()))?,
        Some(_) => return Err(invalid("`last_activity` is not a number".to_owned())),
        None => return Err(invalid("`last_activity` is missing".to_owned())),
    };
    let real = RealSession {
        session_id: text("session_id")?,
        ip_address: text("ip_address")?,
        user_agent: text("user_agent")?,
        last_activity,
        signature: signature.to_owned(),
    };
    let canonical = if strict && used + signature.len() == session.len() {
        None
    } else {
        let mut out = String::new();
        php::serialize(&value, &mut out);
        out.push_str(signature);
        Some(out)
    };
    Ok((real, canonical))
}

/// Peels quoting layers and the frame wrapper; returns the auth object.
fn read_auth_object(input: &str, depth: usize) -> Result<Map<String, Value>, SsidError> {
    if depth > MAX_LAYERS {
        return Err(SsidError::Malformed {
            reason: "too many layers of quotes or encoding".to_owned(),
        });
    }
    let s = input.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let Some(first) = s.chars().next() else {
        return Err(SsidError::Empty);
    };
    if let Some(rest) = s.strip_prefix("42") {
        return read_frame_array(rest, depth);
    }
    match first {
        '[' => read_frame_array(s, depth),
        '{' => match parse_lenient(s, 0)? {
            Value::Object(obj) => Ok(obj),
            _ => Err(SsidError::Malformed {
                reason: "it is not a JSON object".to_owned(),
            }),
        },
        '"' | '\'' | '`' => {
            if first == '"' {
                if let Ok(inner) = serde_json::from_str::<String>(s) {
                    return read_auth_object(&inner, depth + 1);
                }
            }
            if s.len() >= 2 && s.ends_with(first) {
                read_auth_object(&s[1..s.len() - 1], depth + 1)
            } else {
                Err(SsidError::Malformed {
                    reason: "it starts with a quote but does not end with one, so it was probably cut off".to_owned(),
                })
            }
        }
        '\\' if s.starts_with("\\\"") => {
            // An escaped string without its outer quotes: `\"session\":…`.
            match serde_json::from_str::<String>(&format!("\"{s}\"")) {
                Ok(inner) => read_auth_object(&inner, depth + 1),
                Err(e) => Err(SsidError::Malformed {
                    reason: e.to_string(),
                }),
            }
        }
        _ => Err(SsidError::Malformed {
            reason: "it should start with `42[\"auth\",` or `{`".to_owned(),
        }),
    }
}

/// `["auth",{…}]` (the `42` already removed) → the object.
fn read_frame_array(s: &str, depth: usize) -> Result<Map<String, Value>, SsidError> {
    let s = s.trim_start();
    if !s.starts_with('[') {
        return Err(SsidError::Malformed {
            reason: "`42` must be followed by `[\"auth\",{…}]`".to_owned(),
        });
    }
    let Value::Array(mut items) = parse_lenient(s, 0)? else {
        return Err(SsidError::Malformed {
            reason: "the frame is not a JSON array".to_owned(),
        });
    };
    if items.is_empty() {
        return Err(SsidError::Malformed {
            reason: "the frame's array is empty".to_owned(),
        });
    }
    match items.remove(0) {
        Value::String(event) if event == "auth" => {}
        Value::String(event) => {
            let event: String = event.chars().take(40).collect();
            return Err(SsidError::NotAuthFrame { event });
        }
        _ => {
            return Err(SsidError::Malformed {
                reason: "the frame does not start with the event name \"auth\"".to_owned(),
            });
        }
    }
    match items.into_iter().next() {
        Some(Value::Object(obj)) => Ok(obj),
        Some(Value::String(inner)) => read_auth_object(&inner, depth + 1),
        Some(_) => Err(SsidError::Malformed {
            reason: "the auth frame's second element is not an object".to_owned(),
        }),
        None => Err(SsidError::Malformed {
            reason: "the auth frame has no payload object, so it was probably cut off".to_owned(),
        }),
    }
}

/// Strict JSON first, then the repairs: escaped quotes, single quotes, stripped quotes.
fn parse_lenient(s: &str, depth: usize) -> Result<Value, SsidError> {
    let strict_err = match first_json_value(s) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let malformed = || SsidError::Malformed {
        reason: strict_err.clone(),
    };
    if depth > 2 {
        return Err(malformed());
    }
    if s.contains("\\\"") {
        if let Ok(unescaped) = serde_json::from_str::<String>(&format!("\"{s}\"")) {
            if let Ok(v) = parse_lenient(&unescaped, depth + 1) {
                return Ok(v);
            }
        }
    }
    if s.contains('\'') {
        if let Ok(v) = first_json_value(&single_to_double_quotes(s)) {
            return Ok(v);
        }
    }
    let mut relaxed = Relaxed {
        text: s,
        pos: 0,
        depth: 0,
    };
    relaxed.value().map_err(|_| malformed())
}

/// The first JSON value in `s`; anything after it (DevTools columns) is ignored.
fn first_json_value(s: &str) -> Result<Value, String> {
    let mut stream = serde_json::Deserializer::from_str(s).into_iter::<Value>();
    match stream.next() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("nothing to read".to_owned()),
    }
}

/// Rewrites single-quoted strings as JSON strings; double-quoted ones pass unchanged.
fn single_to_double_quotes(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let mut chars = s.chars().peekable();
    let (mut in_double, mut in_single, mut escaped) = (false, false, false);
    while let Some(c) = chars.next() {
        if in_double {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_double = false;
            }
        } else if in_single {
            match c {
                '\\' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    out.push('\'');
                }
                '"' => out.push_str("\\\""),
                '\'' => {
                    out.push('"');
                    in_single = false;
                }
                _ => out.push(c),
            }
        } else {
            match c {
                '"' => {
                    in_double = true;
                    out.push(c);
                }
                '\'' => {
                    in_single = true;
                    out.push('"');
                }
                _ => out.push(c),
            }
        }
    }
    out
}

/// A forgiving reader for JSON whose quotes were stripped (`{session:abc,uid:1}`).
/// PHP-serialized sessions are read by their length prefixes, so their `,` `{` `}` and `;`
/// survive.
struct Relaxed<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Relaxed<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Value, ()> {
        self.depth += 1;
        if self.depth > 32 {
            return Err(());
        }
        self.skip_ws();
        let rest = self.rest();
        let value = if rest.starts_with('{') {
            self.pos += 1;
            let mut map = Map::new();
            if !self.eat('}') {
                loop {
                    self.skip_ws();
                    let key = self.key()?;
                    if !self.eat(':') {
                        return Err(());
                    }
                    let value = self.value()?;
                    map.insert(key, value);
                    if self.eat('}') {
                        break;
                    }
                    if !self.eat(',') {
                        return Err(());
                    }
                }
            }
            Value::Object(map)
        } else if rest.starts_with('[') {
            self.pos += 1;
            let mut items = Vec::new();
            if !self.eat(']') {
                loop {
                    items.push(self.value()?);
                    if self.eat(']') {
                        break;
                    }
                    if !self.eat(',') {
                        return Err(());
                    }
                }
            }
            Value::Array(items)
        } else if rest.starts_with('"') {
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
            let value = stream.next().ok_or(())?.map_err(|_| ())?;
            self.pos += stream.byte_offset();
            value
        } else if let Some(session) = self.php_session() {
            Value::String(session)
        } else {
            let end = rest.find([',', '}', ']']).unwrap_or(rest.len());
            let token = rest[..end].trim();
            self.pos += end;
            if token.is_empty() {
                return Err(());
            }
            scalar(token)
        };
        self.depth -= 1;
        Ok(value)
    }

    fn key(&mut self) -> Result<String, ()> {
        let rest = self.rest();
        if rest.starts_with('"') {
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<String>();
            let key = stream.next().ok_or(())?.map_err(|_| ())?;
            self.pos += stream.byte_offset();
            return Ok(key);
        }
        let end = rest.find(':').ok_or(())?;
        let key = rest[..end].trim().trim_matches(['\'', '"']).to_owned();
        self.pos += end;
        if key.is_empty() { Err(()) } else { Ok(key) }
    }

    /// A PHP-serialized session (quotes possibly stripped) and its hex signature.
    fn php_session(&mut self) -> Option<String> {
        let rest = self.rest();
        if !rest.starts_with("a:") {
            return None;
        }
        let (value, used, _) = php::parse_prefix(rest).ok()?;
        let sig_len = rest[used..]
            .bytes()
            .take_while(u8::is_ascii_hexdigit)
            .count();
        let mut out = String::new();
        php::serialize(&value, &mut out);
        out.push_str(&rest[used..used + sig_len]);
        self.pos += used + sig_len;
        Some(out)
    }
}

fn scalar(token: &str) -> Value {
    match token {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ => serde_json::from_str::<serde_json::Number>(token)
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(token.to_owned())),
    }
}
