//! [`ConnectionConfig`]: a link's settings from the string map a host hands over, and
//! [`merge`](ConnectionConfig::merge) of a link's map over the provider's defaults.
//!
//! Keys are case-insensitive (`-` and `_` alike). Unknown keys are not an error: they are
//! kept in [`ConnectionConfig::unknown_keys`] and logged, so a typo is visible. A value
//! that does not parse is a [`ConfigError`] naming the key (and never showing a token).
//!
//! | key | value | default |
//! |---|---|---|
//! | `uri` (or `url`) | `ws://…` / `wss://…` | none: required after the merge |
//! | `auth_token` (or `token`) | the broker's token | none |
//! | `connect_timeout_ms` | milliseconds, ≥ 1 | 10 000 |
//! | `enable_session_tracking` | `true`/`false` (`1`/`0`, `yes`/`no`, `on`/`off`) | `true` |
//! | `custom_headers` | JSON object of strings, sent with the WebSocket upgrade | none |
//! | `header.<name>` | one upgrade header | none |
//! | `codec` | `nats` or `json` | `nats` |
//! | `subscriptions` | comma-separated patterns, each optionally `pattern\|queue` | none |
//! | `ping_interval_ms` | milliseconds, ≥ 10 | 20 000 |
//! | `request_timeout_ms` | milliseconds, ≥ 1 | 5 000 |
//! | `max_in_flight` | handler calls at once, ≥ 1 | 64 |
//! | `handler_wait_ms` | how long a message waits for a free handler slot before it is shed | 1 000 |
//! | `subscription_capacity` | messages queued per subscription, ≥ 1 | 1 024 |
//!
//! **Merge**: only the keys a link *set* override the defaults (the original provider and
//! wasmCloud's NATS provider reset every field the link left out). `custom_headers` and
//! `header.*` merge header by header; `subscriptions` set by the link replace the default
//! list.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use crate::client::{ClientConfig, Codec};
use crate::subject::{Pattern, check_queue_group};

/// A setting that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The value of `key` does not parse.
    #[error("config key `{key}`: {reason}")]
    BadValue {
        /// The key, as given.
        key: String,
        /// What is wrong (tokens are never quoted).
        reason: String,
    },
    /// A required key is set neither in the defaults nor in the link.
    #[error("config key `{key}` is required: set it in the provider's defaults or the link")]
    Missing {
        /// The key.
        key: &'static str,
    },
}

/// One configured subscription: a pattern and an optional queue group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSpec {
    /// The pattern.
    pub pattern: Pattern,
    /// The queue group, if any.
    pub queue: Option<String>,
}

/// The settings a key names (its canonical form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    Uri,
    AuthToken,
    ConnectTimeout,
    SessionTracking,
    Headers,
    Codec,
    Subscriptions,
    PingInterval,
    RequestTimeout,
    MaxInFlight,
    HandlerWait,
    SubscriptionCapacity,
}

impl Key {
    fn parse(normalized: &str) -> Option<Key> {
        Some(match normalized {
            "uri" | "url" => Key::Uri,
            "auth_token" | "token" => Key::AuthToken,
            "connect_timeout_ms" => Key::ConnectTimeout,
            "enable_session_tracking" => Key::SessionTracking,
            "custom_headers" => Key::Headers,
            "codec" => Key::Codec,
            "subscriptions" => Key::Subscriptions,
            "ping_interval_ms" => Key::PingInterval,
            "request_timeout_ms" => Key::RequestTimeout,
            "max_in_flight" => Key::MaxInFlight,
            "handler_wait_ms" => Key::HandlerWait,
            "subscription_capacity" => Key::SubscriptionCapacity,
            _ => return None,
        })
    }
}

/// A link's connection settings. Built from a string map with
/// [`from_map`](Self::from_map) (or [`Default`] plus the builder-style fields), merged with
/// [`merge`](Self::merge). `Debug` never shows the token or header values.
///
/// ```
/// use std::collections::HashMap;
/// use messaging::provider::ConnectionConfig;
///
/// let defaults = ConnectionConfig::from_map(&HashMap::from([
///     ("URI".to_string(), "ws://127.0.0.1:4223".to_string()),
///     ("max_in_flight".to_string(), "8".to_string()),
/// ])).unwrap();
/// let link = ConnectionConfig::from_map(&HashMap::from([
///     ("subscriptions".to_string(), "orders.*,jobs|workers".to_string()),
///     ("colour".to_string(), "blue".to_string()),
/// ])).unwrap();
/// assert_eq!(link.unknown_keys(), ["colour"]);
/// let merged = ConnectionConfig::merge(&defaults, &link);
/// assert_eq!(merged.uri, "ws://127.0.0.1:4223"); // the link did not set it
/// assert_eq!(merged.max_in_flight, 8);
/// assert_eq!(merged.subscriptions.len(), 2);
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct ConnectionConfig {
    /// The broker's WebSocket URL.
    pub uri: String,
    /// The broker's token.
    pub auth_token: Option<String>,
    /// Limit on opening a connection.
    pub connect_timeout: Duration,
    /// Whether the link's session is listed by `list_sessions` and reachable with
    /// `send_to_session`.
    pub enable_session_tracking: bool,
    /// Headers for the WebSocket upgrade.
    pub custom_headers: BTreeMap<String, String>,
    /// The wire format.
    pub codec: Codec,
    /// What a source link subscribes to for its handler.
    pub subscriptions: Vec<SubscriptionSpec>,
    /// The keep-alive interval.
    pub ping_interval: Duration,
    /// The default timeout of requests made through the provider.
    pub request_timeout: Duration,
    /// Handler calls running at once, at most.
    pub max_in_flight: usize,
    /// How long a message waits for a free handler slot before it is shed (counted).
    pub handler_wait: Duration,
    /// Messages queued per subscription.
    pub subscription_capacity: usize,
    set: BTreeSet<Key>,
    unknown: Vec<String>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            uri: String::new(),
            auth_token: None,
            connect_timeout: crate::client::DEFAULT_CONNECT_TIMEOUT,
            enable_session_tracking: true,
            custom_headers: BTreeMap::new(),
            codec: Codec::Nats,
            subscriptions: Vec::new(),
            ping_interval: crate::client::DEFAULT_PING_INTERVAL,
            request_timeout: Duration::from_secs(5),
            max_in_flight: 64,
            handler_wait: Duration::from_secs(1),
            subscription_capacity: crate::client::DEFAULT_SUBSCRIPTION_CAPACITY,
            set: BTreeSet::new(),
            unknown: Vec::new(),
        }
    }
}

fn bad(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::BadValue {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(bad(key, format!("{value:?} is not true or false"))),
    }
}

fn parse_count(key: &str, value: &str, min: u64) -> Result<u64, ConfigError> {
    let n: u64 = value
        .trim()
        .parse()
        .map_err(|_| bad(key, format!("{value:?} is not a whole number")))?;
    if n < min {
        return Err(bad(key, format!("{n} is below the minimum of {min}")));
    }
    Ok(n)
}

fn parse_millis(key: &str, value: &str, min: u64) -> Result<Duration, ConfigError> {
    parse_count(key, value, min).map(Duration::from_millis)
}

fn parse_subscriptions(key: &str, value: &str) -> Result<Vec<SubscriptionSpec>, ConfigError> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (pattern, queue) = match item.split_once('|') {
            Some((p, q)) => (p.trim(), Some(q.trim())),
            None => (item, None),
        };
        let pattern = Pattern::new(pattern).map_err(|e| bad(key, e.to_string()))?;
        if let Some(queue) = queue {
            check_queue_group(queue).map_err(|e| bad(key, e.to_string()))?;
        }
        out.push(SubscriptionSpec {
            pattern,
            queue: queue.map(str::to_owned),
        });
    }
    Ok(out)
}

impl ConnectionConfig {
    /// Reads a link's (or the defaults') string map. Keys are case-insensitive; unknown
    /// keys are kept in [`unknown_keys`](Self::unknown_keys) and logged; a bad value is an
    /// error naming its key.
    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut config = ConnectionConfig::default();
        // A stable order, so errors and the unknown list do not depend on hashing.
        let mut entries: Vec<(&String, &String)> = map.iter().collect();
        entries.sort();
        for (raw_key, value) in entries {
            let normalized = raw_key.trim().to_ascii_lowercase().replace('-', "_");
            if let Some(name) = normalized.strip_prefix("header.") {
                if name.is_empty() {
                    return Err(bad(raw_key, "a header key needs a name after `header.`"));
                }
                // The header name keeps the case it was given.
                let name = raw_key.trim()["header.".len()..].to_owned();
                config.custom_headers.insert(name, value.clone());
                config.set.insert(Key::Headers);
                continue;
            }
            let Some(key) = Key::parse(&normalized) else {
                config.unknown.push(raw_key.clone());
                continue;
            };
            config.apply(key, raw_key, value)?;
            config.set.insert(key);
        }
        if !config.unknown.is_empty() {
            tracing::warn!(keys = ?config.unknown, "unknown messaging config keys (ignored)");
        }
        Ok(config)
    }

    fn apply(&mut self, key: Key, raw: &str, value: &str) -> Result<(), ConfigError> {
        match key {
            Key::Uri => {
                let uri = value.trim();
                if !(uri.starts_with("ws://") || uri.starts_with("wss://")) {
                    return Err(bad(
                        raw,
                        format!(
                            "{:?} is not a WebSocket URL (ws://… or wss://…)",
                            client_ws::redacted_url(uri)
                        ),
                    ));
                }
                self.uri = uri.to_owned();
            }
            Key::AuthToken => {
                if value.is_empty() {
                    return Err(bad(raw, "the token is empty"));
                }
                self.auth_token = Some(value.to_owned());
            }
            Key::ConnectTimeout => self.connect_timeout = parse_millis(raw, value, 1)?,
            Key::SessionTracking => self.enable_session_tracking = parse_bool(raw, value)?,
            Key::Headers => {
                let headers: BTreeMap<String, String> =
                    serde_json::from_str(value).map_err(|_| {
                        bad(
                            raw,
                            "expected a JSON object of strings, like {\"X-Key\":\"v\"}",
                        )
                    })?;
                self.custom_headers.extend(headers);
            }
            Key::Codec => self.codec = value.parse().map_err(|e: String| bad(raw, e))?,
            Key::Subscriptions => self.subscriptions = parse_subscriptions(raw, value)?,
            Key::PingInterval => self.ping_interval = parse_millis(raw, value, 10)?,
            Key::RequestTimeout => self.request_timeout = parse_millis(raw, value, 1)?,
            Key::MaxInFlight => {
                self.max_in_flight = usize::try_from(parse_count(raw, value, 1)?)
                    .map_err(|_| bad(raw, "too large"))?
            }
            Key::HandlerWait => self.handler_wait = parse_millis(raw, value, 0)?,
            Key::SubscriptionCapacity => {
                self.subscription_capacity = usize::try_from(parse_count(raw, value, 1)?)
                    .map_err(|_| bad(raw, "too large"))?
            }
        }
        Ok(())
    }

    /// The keys the map held that this crate does not know.
    pub fn unknown_keys(&self) -> &[String] {
        &self.unknown
    }

    /// Whether the map set `key` (any spelling of it).
    pub fn is_set(&self, key: &str) -> bool {
        let normalized = key.trim().to_ascii_lowercase().replace('-', "_");
        if normalized.starts_with("header.") {
            return self.set.contains(&Key::Headers);
        }
        Key::parse(&normalized).is_some_and(|k| self.set.contains(&k))
    }

    /// `link` over `defaults`: each key the link set overrides; everything else comes
    /// from the defaults. Headers merge one by one (the link's win).
    pub fn merge(defaults: &ConnectionConfig, link: &ConnectionConfig) -> ConnectionConfig {
        let mut out = defaults.clone();
        for key in &link.set {
            match key {
                Key::Uri => out.uri = link.uri.clone(),
                Key::AuthToken => out.auth_token = link.auth_token.clone(),
                Key::ConnectTimeout => out.connect_timeout = link.connect_timeout,
                Key::SessionTracking => out.enable_session_tracking = link.enable_session_tracking,
                Key::Headers => out.custom_headers.extend(
                    link.custom_headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone())),
                ),
                Key::Codec => out.codec = link.codec,
                Key::Subscriptions => out.subscriptions = link.subscriptions.clone(),
                Key::PingInterval => out.ping_interval = link.ping_interval,
                Key::RequestTimeout => out.request_timeout = link.request_timeout,
                Key::MaxInFlight => out.max_in_flight = link.max_in_flight,
                Key::HandlerWait => out.handler_wait = link.handler_wait,
                Key::SubscriptionCapacity => out.subscription_capacity = link.subscription_capacity,
            }
            out.set.insert(*key);
        }
        out.unknown.extend(link.unknown.iter().cloned());
        out
    }

    /// The client configuration for this link; fails if no URI is set.
    pub fn client_config(&self) -> Result<ClientConfig, ConfigError> {
        if self.uri.is_empty() {
            return Err(ConfigError::Missing { key: "uri" });
        }
        let mut config = ClientConfig::new(self.uri.clone(), self.codec)
            .with_connect_timeout(self.connect_timeout)
            .with_ping_interval(self.ping_interval)
            .with_subscription_capacity(self.subscription_capacity);
        if let Some(token) = &self.auth_token {
            config = config.with_auth_token(token.clone());
        }
        for (name, value) in &self.custom_headers {
            config = config.with_header(name.clone(), value.clone());
        }
        Ok(config)
    }
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("uri", &client_ws::redacted_url(&self.uri))
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("connect_timeout", &self.connect_timeout)
            .field("enable_session_tracking", &self.enable_session_tracking)
            .field(
                "custom_headers",
                &self.custom_headers.keys().collect::<Vec<_>>(),
            )
            .field("codec", &self.codec)
            .field("subscriptions", &self.subscriptions)
            .field("ping_interval", &self.ping_interval)
            .field("request_timeout", &self.request_timeout)
            .field("max_in_flight", &self.max_in_flight)
            .field("handler_wait", &self.handler_wait)
            .field("subscription_capacity", &self.subscription_capacity)
            .field("unknown_keys", &self.unknown)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_key_is_read_in_any_case() {
        let c = ConnectionConfig::from_map(&map(&[
            ("URI", "wss://broker.example/ws"),
            ("Auth_Token", "t0ken"),
            ("connect-timeout-ms", "1500"),
            ("ENABLE_SESSION_TRACKING", "off"),
            ("custom_headers", r#"{"X-A":"1"}"#),
            ("header.X-B", "2"),
            ("Codec", "JSON"),
            ("subscriptions", " a.* , b.>|grp ,"),
            ("ping_interval_ms", "250"),
            ("request_timeout_ms", "700"),
            ("max_in_flight", "3"),
            ("handler_wait_ms", "0"),
            ("subscription_capacity", "9"),
        ]))
        .unwrap();
        assert_eq!(c.uri, "wss://broker.example/ws");
        assert_eq!(c.auth_token.as_deref(), Some("t0ken"));
        assert_eq!(c.connect_timeout, Duration::from_millis(1500));
        assert!(!c.enable_session_tracking);
        assert_eq!(
            c.custom_headers,
            BTreeMap::from([("X-A".into(), "1".into()), ("X-B".into(), "2".into())])
        );
        assert_eq!(c.codec, Codec::Json);
        assert_eq!(
            c.subscriptions,
            vec![
                SubscriptionSpec {
                    pattern: Pattern::new("a.*").unwrap(),
                    queue: None
                },
                SubscriptionSpec {
                    pattern: Pattern::new("b.>").unwrap(),
                    queue: Some("grp".into())
                },
            ]
        );
        assert_eq!(c.ping_interval, Duration::from_millis(250));
        assert_eq!(c.request_timeout, Duration::from_millis(700));
        assert_eq!(c.max_in_flight, 3);
        assert_eq!(c.handler_wait, Duration::ZERO);
        assert_eq!(c.subscription_capacity, 9);
        assert!(c.unknown_keys().is_empty());
        for key in ["uri", "TOKEN", "codec", "header.anything", "custom-headers"] {
            assert!(c.is_set(key), "{key}");
        }
        // Aliases.
        let c = ConnectionConfig::from_map(&map(&[("url", "ws://h"), ("token", "x")])).unwrap();
        assert_eq!(
            (c.uri.as_str(), c.auth_token.as_deref()),
            ("ws://h", Some("x"))
        );
        // The client configuration carries it all, the token hidden.
        let client = ConnectionConfig::from_map(&map(&[("uri", "ws://h"), ("token", "s3cret")]))
            .unwrap()
            .client_config()
            .unwrap();
        assert!(!format!("{client:?}").contains("s3cret"));
    }

    #[test]
    fn bad_values_name_their_key_and_hide_tokens() {
        for (key, value, needle) in [
            ("uri", "http://x", "not a WebSocket URL"),
            ("connect_timeout_ms", "soon", "not a whole number"),
            ("connect_timeout_ms", "0", "below the minimum"),
            ("enable_session_tracking", "maybe", "not true or false"),
            ("custom_headers", "X-A: 1", "JSON object"),
            ("codec", "xml", "neither"),
            ("subscriptions", "a..b", "invalid"),
            ("subscriptions", "a|bad group", "queue group"),
            ("ping_interval_ms", "5", "below the minimum"),
            ("request_timeout_ms", "-1", "not a whole number"),
            ("max_in_flight", "0", "below the minimum"),
            ("handler_wait_ms", "1.5", "not a whole number"),
            ("subscription_capacity", "", "not a whole number"),
            ("token", "", "empty"),
            ("header.", "x", "needs a name"),
        ] {
            let err = ConnectionConfig::from_map(&map(&[(key, value)])).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(&format!("`{key}`")), "{key}: {text}");
            assert!(text.contains(needle), "{key}={value}: {text}");
        }
        let shown = format!(
            "{:?}",
            ConnectionConfig::from_map(&map(&[
                ("token", "s3cret"),
                ("header.Authorization", "Bearer s3cret")
            ]))
            .unwrap()
        );
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn unknown_keys_are_reported_not_fatal() {
        let c = ConnectionConfig::from_map(&map(&[
            ("uri", "ws://h"),
            ("colour", "blue"),
            ("URIS", "x"),
        ]))
        .unwrap();
        assert_eq!(c.unknown_keys(), ["URIS", "colour"]);
        assert_eq!(c.uri, "ws://h");
    }

    #[test]
    fn merge_overrides_only_what_the_link_set() {
        let defaults = ConnectionConfig::from_map(&map(&[
            ("uri", "ws://default"),
            ("token", "default-token"),
            ("max_in_flight", "8"),
            ("header.X-A", "default"),
            ("header.X-B", "default"),
            ("subscriptions", "d.*"),
            ("codec", "json"),
        ]))
        .unwrap();
        let link = ConnectionConfig::from_map(&map(&[
            ("uri", "ws://link"),
            ("header.X-B", "link"),
            ("enable_session_tracking", "false"),
        ]))
        .unwrap();
        let merged = ConnectionConfig::merge(&defaults, &link);
        assert_eq!(merged.uri, "ws://link");
        assert_eq!(merged.auth_token.as_deref(), Some("default-token"));
        assert_eq!(merged.max_in_flight, 8);
        assert_eq!(merged.codec, Codec::Json);
        assert!(!merged.enable_session_tracking);
        assert_eq!(merged.subscriptions.len(), 1);
        assert_eq!(
            merged.custom_headers,
            BTreeMap::from([
                ("X-A".into(), "default".into()),
                ("X-B".into(), "link".into())
            ])
        );
        // A link that sets a key to the default value still overrides.
        let link = ConnectionConfig::from_map(&map(&[("codec", "nats"), ("max_in_flight", "64")]))
            .unwrap();
        let merged = ConnectionConfig::merge(&defaults, &link);
        assert_eq!((merged.codec, merged.max_in_flight), (Codec::Nats, 64));
        assert_eq!(merged.uri, "ws://default");
        // An empty link changes nothing; an empty default needs the link's uri.
        assert_eq!(
            ConnectionConfig::merge(&defaults, &ConnectionConfig::default()),
            defaults
        );
        let merged =
            ConnectionConfig::merge(&ConnectionConfig::default(), &ConnectionConfig::default());
        assert_eq!(
            merged.client_config().unwrap_err(),
            ConfigError::Missing { key: "uri" }
        );
    }
}
