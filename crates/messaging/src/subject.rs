//! Subjects and subscription patterns (`shared/protocol/messaging.md`, "Subjects").
//!
//! A subject is tokens separated by `.`; a token is one or more printable ASCII characters
//! other than space, `.`, `*` and `>`; a whole subject is at most [`MAX_SUBJECT_LEN`] bytes.
//! Publishing needs a concrete [`Subject`]; a subscription takes a [`Pattern`], whose tokens
//! may also be `*` (exactly one token) or, as the last token only, `>` (one or more tokens).

use std::fmt;
use std::sync::Arc;

use crate::error::MessagingError;

/// The longest subject or pattern, in bytes.
pub const MAX_SUBJECT_LEN: usize = 256;

/// The prefix of reply inboxes: `_INBOX.<random>`.
pub const INBOX_PREFIX: &str = "_INBOX.";

/// The prefix under which every hub session can be reached: `_SESSION.<session id>`.
pub const SESSION_PREFIX: &str = "_SESSION.";

/// Why a subject, pattern or queue group name was refused.
fn invalid(subject: &str, reason: &'static str) -> MessagingError {
    MessagingError::SubjectInvalid {
        subject: subject.to_owned(),
        reason,
    }
}

fn is_token_char(byte: u8) -> bool {
    byte.is_ascii_graphic() && !matches!(byte, b'.' | b'*' | b'>')
}

/// Checks the shape shared by subjects and patterns; `wildcards` allows `*` and a final `>`.
fn check(text: &str, wildcards: bool) -> Result<(), MessagingError> {
    if text.is_empty() {
        return Err(invalid(text, "it is empty"));
    }
    if text.len() > MAX_SUBJECT_LEN {
        return Err(invalid(text, "it is longer than 256 bytes"));
    }
    let mut tokens = text.split('.').peekable();
    while let Some(token) = tokens.next() {
        let last = tokens.peek().is_none();
        match token {
            "" => {
                return Err(invalid(
                    text,
                    "it has an empty token (`..`, or a `.` at an end)",
                ));
            }
            "*" | ">" if !wildcards => {
                return Err(invalid(
                    text,
                    "publishing needs a concrete subject, without `*` or `>`",
                ));
            }
            "*" => {}
            ">" if last => {}
            ">" => return Err(invalid(text, "`>` may only be the last token")),
            _ if token.bytes().all(is_token_char) => {}
            _ => {
                return Err(invalid(
                    text,
                    "a token holds a space, a control character, non-ASCII, or `*`/`>` next to other characters",
                ));
            }
        }
    }
    Ok(())
}

/// A concrete subject: valid for publishing. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject(Arc<str>);

impl Subject {
    /// Checks `text` is a concrete subject.
    pub fn new(text: impl AsRef<str>) -> Result<Self, MessagingError> {
        let text = text.as_ref();
        check(text, false)?;
        Ok(Self(Arc::from(text)))
    }

    /// A fresh reply inbox, `_INBOX.` and 22 random base-62 characters (about 131 bits).
    pub fn new_inbox() -> Self {
        Self(Arc::from(format!("{INBOX_PREFIX}{}", random_token(22))))
    }

    /// The subject at which a hub session can always be reached.
    pub fn session(session_id: &str) -> Result<Self, MessagingError> {
        Self::new(format!("{SESSION_PREFIX}{session_id}"))
    }

    /// The subject's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Subject {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl TryFrom<&str> for Subject {
    type Error = MessagingError;
    fn try_from(text: &str) -> Result<Self, Self::Error> {
        Self::new(text)
    }
}

impl TryFrom<String> for Subject {
    type Error = MessagingError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::new(text)
    }
}

/// A subscription pattern: a subject whose tokens may be `*` or, last, `>`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    text: Arc<str>,
    /// Whether any token is a wildcard (a literal pattern matches by string equality).
    wild: bool,
}

impl Pattern {
    /// Checks `text` is a valid pattern.
    pub fn new(text: impl AsRef<str>) -> Result<Self, MessagingError> {
        let text = text.as_ref();
        check(text, true)?;
        let wild = text.split('.').any(|t| t == "*" || t == ">");
        Ok(Self {
            text: Arc::from(text),
            wild,
        })
    }

    /// The pattern's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern has a wildcard token.
    pub fn is_wildcard(&self) -> bool {
        self.wild
    }

    /// Whether `subject` (assumed concrete) matches: `a.*.c` matches `a.b.c`; `a.>`
    /// matches `a.b` and `a.b.c`, not `a`.
    pub fn matches(&self, subject: &str) -> bool {
        if !self.wild {
            return *self.text == *subject;
        }
        let mut wanted = self.text.split('.');
        let mut given = subject.split('.');
        loop {
            match (wanted.next(), given.next()) {
                (Some(">"), Some(_)) => return true,
                (Some("*"), Some(_)) => {}
                (Some(w), Some(g)) if w == g => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text, f)
    }
}

impl From<Subject> for Pattern {
    fn from(subject: Subject) -> Self {
        Self {
            text: subject.0,
            wild: false,
        }
    }
}

impl TryFrom<&str> for Pattern {
    type Error = MessagingError;
    fn try_from(text: &str) -> Result<Self, Self::Error> {
        Self::new(text)
    }
}

/// Checks a queue group name: 1 to 256 printable ASCII characters other than `*` and `>`.
pub fn check_queue_group(name: &str) -> Result<(), MessagingError> {
    if name.is_empty() || name.len() > MAX_SUBJECT_LEN {
        return Err(invalid(name, "a queue group name must be 1 to 256 bytes"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'*' && b != b'>')
    {
        return Err(invalid(
            name,
            "a queue group name is printable ASCII without spaces, `*` or `>`",
        ));
    }
    Ok(())
}

/// `len` random characters from `[0-9A-Za-z]`, from the operating system's generator.
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 32];
    while out.len() < len {
        // getrandom fails only where the platform has no entropy source at all; the
        // clock-mixed fallback keeps inboxes distinct within the process then.
        if getrandom::fill(&mut buf).is_err() {
            fallback_fill(&mut buf);
        }
        for &byte in &buf {
            // Rejection sampling keeps the characters uniform (248 = 4 × 62).
            if byte < 248 && out.len() < len {
                out.push(ALPHABET[usize::from(byte % 62)] as char);
            }
        }
    }
    out
}

fn fallback_fill(buf: &mut [u8]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    for chunk in buf.chunks_mut(8) {
        let mut x = COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^= x >> 33;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_sheet_examples() {
        let p = Pattern::new("a.*.c").unwrap();
        assert!(p.matches("a.b.c"));
        assert!(!p.matches("a.b.d"));
        assert!(!p.matches("a.b"));
        assert!(!p.matches("a.b.c.d"));
        let p = Pattern::new("a.>").unwrap();
        assert!(p.matches("a.b"));
        assert!(p.matches("a.b.c"));
        assert!(!p.matches("a"));
        assert!(!p.matches("b.c"));
        assert!(Pattern::new(">").unwrap().matches("x"));
        assert!(Pattern::new("*").unwrap().matches("x"));
        assert!(!Pattern::new("*").unwrap().matches("x.y"));
    }

    #[test]
    fn refusals_say_why() {
        for (text, why) in [
            ("", "empty"),
            ("a..b", "empty token"),
            (".a", "empty token"),
            ("a.", "empty token"),
            ("a b", "space"),
            ("a.b*", "next to other"),
            ("é", "non-ASCII"),
            ("a.\tb", "control"),
        ] {
            let err = Pattern::new(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text:?}: {err}");
        }
        assert!(
            Pattern::new("a.>.c")
                .unwrap_err()
                .to_string()
                .contains("last token")
        );
        assert!(
            Subject::new("a.*")
                .unwrap_err()
                .to_string()
                .contains("concrete")
        );
        assert!(Subject::new("a.>").is_err());
        assert!(
            Subject::new("x".repeat(257))
                .unwrap_err()
                .to_string()
                .contains("256")
        );
        assert!(Subject::new("x".repeat(256)).is_ok());
        assert!(check_queue_group("workers").is_ok());
        assert!(check_queue_group("a b").is_err());
        assert!(check_queue_group("").is_err());
    }

    #[test]
    fn inboxes_are_concrete_distinct_subjects() {
        let a = Subject::new_inbox();
        let b = Subject::new_inbox();
        assert_ne!(a, b);
        assert!(a.as_str().starts_with(INBOX_PREFIX));
        assert_eq!(a.as_str().len(), INBOX_PREFIX.len() + 22);
        Subject::new(a.as_str()).unwrap();
        assert!(Pattern::new("_INBOX.*").unwrap().matches(a.as_str()));
    }

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-c]{1,2}",
            "[!-~]{1,4}".prop_filter("no separators or wildcards", |t| {
                t.bytes().all(is_token_char)
            }),
        ]
    }

    fn subject() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(token(), 1..6)
    }

    /// A pattern from a subject's tokens: each kept, replaced by `*`, or the tail by `>`.
    fn pattern_of(tokens: &[String], stars: &[bool], tail: Option<usize>) -> String {
        let mut out: Vec<&str> = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            if tail == Some(i) {
                out.push(">");
                break;
            }
            out.push(if stars[i] { "*" } else { t });
        }
        out.join(".")
    }

    /// A straightforward reference matcher over token lists.
    fn reference(pattern: &[&str], subject: &[&str]) -> bool {
        match (pattern.split_first(), subject.split_first()) {
            (None, None) => true,
            (Some((&">", [])), Some(_)) => true,
            (Some((&w, pr)), Some((&g, sr))) if w == "*" || w == g => reference(pr, sr),
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn every_subject_is_a_valid_pattern_matching_itself(tokens in subject()) {
            let text = tokens.join(".");
            prop_assume!(text.len() <= MAX_SUBJECT_LEN);
            let s = Subject::new(&text).unwrap();
            prop_assert!(Pattern::from(s.clone()).matches(&text));
            prop_assert!(Pattern::new(&text).unwrap().matches(&text));
        }

        #[test]
        fn patterns_derived_from_a_subject_match_it(
            tokens in subject(),
            stars in prop::collection::vec(any::<bool>(), 6),
            tail in prop::option::of(0usize..6),
        ) {
            let text = tokens.join(".");
            let tail = tail.filter(|&i| i < tokens.len());
            let pattern = Pattern::new(pattern_of(&tokens, &stars, tail)).unwrap();
            prop_assert!(pattern.matches(&text), "{pattern} vs {text}");
        }

        #[test]
        fn matching_agrees_with_the_reference(
            a in subject(),
            b in subject(),
            stars in prop::collection::vec(any::<bool>(), 6),
            tail in prop::option::of(0usize..6),
        ) {
            let tail = tail.filter(|&i| i < a.len());
            let pattern_text = pattern_of(&a, &stars, tail);
            let pattern = Pattern::new(&pattern_text).unwrap();
            let subject_text = b.join(".");
            let p: Vec<&str> = pattern_text.split('.').collect();
            let s: Vec<&str> = subject_text.split('.').collect();
            prop_assert_eq!(pattern.matches(&subject_text), reference(&p, &s));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = Subject::new(&text);
            if let Ok(p) = Pattern::new(&text) {
                let _ = p.matches("a.b.c");
            }
        }
    }
}
