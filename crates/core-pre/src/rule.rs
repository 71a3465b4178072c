//! Routing rules: which inbound messages a module wants.
//!
//! A [`Rule`] looks at each inbound message and says yes or no. Any
//! `FnMut(&Message) -> bool` is a rule; [`RuleExt`] combines rules with `and`, `or` and `not`.
//! Rules may keep state between messages: [`WithAttachments`] matches a header frame and the
//! binary frames that belong to it, the shape Socket.IO uses for binary events.
//!
//! Rules run on the reader's hot path, so keep them cheap: compare a prefix, not a parsed
//! document. A rule that can only match text starting with known prefixes says so with
//! [`Rule::interest`]: the router indexes those prefixes and never asks the rule about
//! other messages, so a module that does not want a frame costs nothing for it (routing
//! stays flat as modules are added).

use crate::message::Message;
use crate::runtime::MaybeSend;

/// Decides whether a module receives a message.
pub trait Rule: MaybeSend + 'static {
    /// True when the module should receive `msg`.
    fn matches(&mut self, msg: &Message) -> bool;

    /// Forgets any state carried between messages. Called when a connection ends, so a
    /// half-seen multi-frame message never continues on the next connection.
    fn reset(&mut self) {}

    /// Which messages this rule can match. The router asks once, when the client is
    /// built, and from then on calls [`matches`](Self::matches) only for messages inside
    /// it: the rule must never match a message outside its interest, and must not need to
    /// see one (a stateful rule that watches every frame keeps the default). The default,
    /// [`Interest::All`], is always correct.
    fn interest(&self) -> Interest {
        Interest::All
    }
}

/// The messages a rule can match, as the router indexes them (see [`Rule::interest`]).
///
/// ```
/// use core_pre::rule::{Interest, Rule, RuleExt, text_starts_with};
///
/// let rule = text_starts_with("42[\"tick\"").or(text_starts_with("42[\"quote\""));
/// assert_eq!(
///     rule.interest(),
///     Interest::text(["42[\"tick\"", "42[\"quote\""])
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Interest {
    /// Any message: the rule is asked about every one.
    #[default]
    All,
    /// Only text messages that start with one of `prefixes`, and, when `outside` is set,
    /// also every text message that does not start with `outside` (for a protocol whose
    /// canonical frames share a head the rule can index, while frames of any other shape
    /// still need a look). Never binary or control messages.
    Text {
        /// Literal prefixes (an empty one means every text message).
        prefixes: Vec<String>,
        /// Text not starting with this is in the interest too.
        outside: Option<String>,
    },
}

impl Interest {
    /// Text messages starting with one of `prefixes`.
    pub fn text<I, P>(prefixes: I) -> Interest
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        Interest::Text {
            prefixes: prefixes.into_iter().map(Into::into).collect(),
            outside: None,
        }
    }

    /// This interest plus every text message that does not start with `head`.
    pub fn or_text_not_starting_with(self, head: impl Into<String>) -> Interest {
        let head = head.into();
        match self {
            Interest::All => Interest::All,
            Interest::Text {
                prefixes,
                outside: None,
            } => Interest::Text {
                prefixes,
                outside: Some(head),
            },
            Interest::Text {
                prefixes,
                outside: Some(other),
            } if other == head => Interest::Text {
                prefixes,
                outside: Some(other),
            },
            // Two different heads: not expressible, so everything.
            Interest::Text { .. } => Interest::All,
        }
    }

    /// The messages either interest covers (never smaller than the truth: when the union
    /// cannot be expressed, [`Interest::All`]).
    pub fn union(self, other: Interest) -> Interest {
        match (self, other) {
            (Interest::All, _) | (_, Interest::All) => Interest::All,
            (
                Interest::Text {
                    mut prefixes,
                    outside,
                },
                Interest::Text {
                    prefixes: more,
                    outside: other_outside,
                },
            ) => {
                prefixes.extend(more);
                let joined = Interest::Text {
                    prefixes,
                    outside: None,
                };
                match (outside, other_outside) {
                    (None, None) => joined,
                    (Some(head), None) | (None, Some(head)) => {
                        joined.or_text_not_starting_with(head)
                    }
                    (Some(a), Some(b)) => joined
                        .or_text_not_starting_with(a)
                        .or_text_not_starting_with(b),
                }
            }
        }
    }

    /// True when `msg` is inside this interest (what the router's index computes).
    pub fn covers(&self, msg: &Message) -> bool {
        match self {
            Interest::All => true,
            Interest::Text { prefixes, outside } => msg.as_text().is_some_and(|text| {
                prefixes.iter().any(|p| text.starts_with(p.as_str()))
                    || outside
                        .as_deref()
                        .is_some_and(|head| !text.starts_with(head))
            }),
        }
    }
}

impl<F> Rule for F
where
    F: FnMut(&Message) -> bool + MaybeSend + 'static,
{
    fn matches(&mut self, msg: &Message) -> bool {
        self(msg)
    }
}

impl Rule for Box<dyn Rule> {
    fn matches(&mut self, msg: &Message) -> bool {
        (**self).matches(msg)
    }
    fn reset(&mut self) {
        (**self).reset()
    }
    fn interest(&self) -> Interest {
        (**self).interest()
    }
}

/// Combinators for rules.
pub trait RuleExt: Rule + Sized {
    /// Matches when both match. `other` only sees messages `self` matched.
    fn and<R: Rule>(self, other: R) -> And<Self, R> {
        And(self, other)
    }

    /// Matches when either matches. `other` only sees messages `self` did not match.
    fn or<R: Rule>(self, other: R) -> Or<Self, R> {
        Or(self, other)
    }

    /// Matches when `self` does not.
    fn not(self) -> Not<Self> {
        Not(self)
    }

    /// Boxes the rule.
    fn boxed(self) -> Box<dyn Rule> {
        Box::new(self)
    }
}

impl<R: Rule> RuleExt for R {}

/// See [`RuleExt::and`].
#[derive(Debug, Clone)]
pub struct And<A, B>(A, B);

impl<A: Rule, B: Rule> Rule for And<A, B> {
    fn matches(&mut self, msg: &Message) -> bool {
        self.0.matches(msg) && self.1.matches(msg)
    }
    fn reset(&mut self) {
        self.0.reset();
        self.1.reset();
    }
    /// The first rule's: it sees every message the pair sees, the second only those the
    /// first matched.
    fn interest(&self) -> Interest {
        self.0.interest()
    }
}

/// See [`RuleExt::or`].
#[derive(Debug, Clone)]
pub struct Or<A, B>(A, B);

impl<A: Rule, B: Rule> Rule for Or<A, B> {
    fn matches(&mut self, msg: &Message) -> bool {
        self.0.matches(msg) || self.1.matches(msg)
    }
    fn reset(&mut self) {
        self.0.reset();
        self.1.reset();
    }
    fn interest(&self) -> Interest {
        self.0.interest().union(self.1.interest())
    }
}

/// See [`RuleExt::not`].
#[derive(Debug, Clone)]
pub struct Not<A>(A);

impl<A: Rule> Rule for Not<A> {
    fn matches(&mut self, msg: &Message) -> bool {
        !self.0.matches(msg)
    }
    fn reset(&mut self) {
        self.0.reset();
    }
}

/// Matches every message.
pub fn any() -> impl Rule {
    |_: &Message| true
}

/// Matches text messages that start with `prefix` (its [`Interest`] is that prefix, so the
/// router skips it for every other message).
pub fn text_starts_with(prefix: impl Into<String>) -> impl Rule {
    TextStartsWith(prefix.into())
}

/// See [`text_starts_with`].
struct TextStartsWith(String);

impl Rule for TextStartsWith {
    fn matches(&mut self, msg: &Message) -> bool {
        msg.as_text()
            .is_some_and(|t| t.starts_with(self.0.as_str()))
    }
    fn interest(&self) -> Interest {
        Interest::text([self.0.clone()])
    }
}

/// Matches text messages that contain `needle`.
pub fn text_contains(needle: impl Into<String>) -> impl Rule {
    let needle = needle.into();
    move |msg: &Message| msg.as_text().is_some_and(|t| t.contains(needle.as_str()))
}

/// Matches binary messages.
pub fn binary() -> impl Rule {
    |msg: &Message| msg.is_binary()
}

/// A stateful rule for two-part messages: a header frame that `header` matches, followed by
/// the binary frames that belong to it (as many as `count` reads off the header).
///
/// If a non-binary frame arrives while attachments are still expected, the partial message
/// is abandoned and that frame is judged as a new header.
///
/// ```
/// use core_pre::rule::{Rule, WithAttachments, text_starts_with};
/// use core_pre::Message;
///
/// // A header like `451-[...]` announces one binary attachment.
/// let mut rule = WithAttachments::new(text_starts_with("451-"), |_header: &Message| 1);
/// assert!(rule.matches(&Message::text("451-[\"tick\"]")));
/// assert!(rule.matches(&Message::binary(vec![1, 2, 3])));
/// assert!(!rule.matches(&Message::binary(vec![4])));
/// ```
pub struct WithAttachments<R, F> {
    header: R,
    count: F,
    remaining: usize,
}

impl<R, F> WithAttachments<R, F>
where
    R: Rule,
    F: FnMut(&Message) -> usize + MaybeSend + 'static,
{
    /// `header` picks the header frames; `count` says how many binary frames follow each.
    pub fn new(header: R, count: F) -> Self {
        WithAttachments {
            header,
            count,
            remaining: 0,
        }
    }
}

impl<R, F> Rule for WithAttachments<R, F>
where
    R: Rule,
    F: FnMut(&Message) -> usize + MaybeSend + 'static,
{
    fn matches(&mut self, msg: &Message) -> bool {
        if self.remaining > 0 {
            if msg.is_binary() {
                self.remaining -= 1;
                return true;
            }
            self.remaining = 0;
        }
        if self.header.matches(msg) {
            self.remaining = (self.count)(msg);
            true
        } else {
            false
        }
    }

    fn reset(&mut self) {
        self.remaining = 0;
        self.header.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Message {
        Message::text(s)
    }

    #[test]
    fn closures_and_combinators_compose() {
        let mut rule = text_starts_with("42")
            .and(text_contains("tick"))
            .or(binary());
        assert!(rule.matches(&text("42[\"tick\"]")));
        assert!(!rule.matches(&text("42[\"balance\"]")));
        assert!(rule.matches(&Message::binary(vec![0])));
        let mut inverted = text_starts_with("2").not();
        assert!(inverted.matches(&text("3")));
        assert!(!inverted.matches(&text("2")));
    }

    #[test]
    fn attachments_follow_their_header_only() {
        let mut rule = WithAttachments::new(text_starts_with("452-"), |_: &Message| 2);
        assert!(!rule.matches(&Message::binary(vec![9])), "no header yet");
        assert!(rule.matches(&text("452-[\"x\"]")));
        assert!(rule.matches(&Message::binary(vec![1])));
        assert!(rule.matches(&Message::binary(vec![2])));
        assert!(!rule.matches(&Message::binary(vec![3])), "only two belong");
    }

    #[test]
    fn interrupted_attachments_are_abandoned_and_reset_clears_state() {
        let mut rule = WithAttachments::new(text_starts_with("451-"), |_: &Message| 1);
        assert!(rule.matches(&text("451-[\"a\"]")));
        assert!(!rule.matches(&text("42[\"other\"]")));
        assert!(
            !rule.matches(&Message::binary(vec![1])),
            "partial message abandoned"
        );
        assert!(rule.matches(&text("451-[\"b\"]")));
        rule.reset();
        assert!(
            !rule.matches(&Message::binary(vec![1])),
            "reset forgets the header"
        );
    }
}
