//! [`SubscriptionIndex`]: which subscriptions a subject reaches, without looking at all of
//! them.
//!
//! Literal patterns (most subscriptions: inboxes, `_SESSION.<id>`, plain subjects) sit in a
//! hash map keyed by their text, so a publish to a literal subject costs one lookup whatever
//! the number of subscriptions. Wildcard patterns sit in a trie of tokens with `*` and `>`
//! edges, walked once per publish along the subject's tokens. Each subscription is also
//! filed under its exact `(pattern, queue)` key, which is what the NATS bridge subscribes
//! (refcounted: the first subscription of a key opens it, the last one closes it).
//!
//! Pure data, no I/O: the router owns one and the unit tests below check it against a
//! linear scan.

use std::collections::HashMap;
use std::sync::Arc;

use crate::subject::Pattern;

/// The index's handle of one subscription.
pub(crate) type EntryId = u64;

/// What a subscription is filed under at NATS: its pattern and queue group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct BridgeKey {
    /// The pattern's text.
    pub(crate) pattern: Arc<str>,
    /// The queue group, if any.
    pub(crate) queue: Option<Arc<str>>,
}

/// One subscription: who gets the messages and under which `sid`.
#[derive(Clone, Debug)]
pub(crate) struct Entry<S> {
    /// The subscriber (a session id in the hub).
    pub(crate) owner: S,
    /// The subscriber's `sid`, already as a JSON string literal (quoted and escaped).
    pub(crate) sid_json: Arc<str>,
    /// The pattern.
    pub(crate) pattern: Pattern,
    /// The queue group, if any.
    pub(crate) queue: Option<Arc<str>>,
}

/// A node of the wildcard trie.
#[derive(Default, Debug)]
struct Node {
    /// Literal next tokens.
    children: HashMap<Box<str>, Node>,
    /// The `*` edge.
    star: Option<Box<Node>>,
    /// Patterns ending in `>` at this point.
    rest: Vec<EntryId>,
    /// Patterns ending exactly here.
    here: Vec<EntryId>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.star.is_none()
            && self.rest.is_empty()
            && self.here.is_empty()
    }

    fn insert(&mut self, tokens: &[&str], id: EntryId) {
        match tokens.split_first() {
            None => self.here.push(id),
            Some((&">", _)) => self.rest.push(id),
            Some((&"*", tail)) => self.star.get_or_insert_with(Box::default).insert(tail, id),
            Some((token, tail)) => self
                .children
                .entry(Box::from(*token))
                .or_default()
                .insert(tail, id),
        }
    }

    /// Removes `id` filed under `tokens`; prunes nodes left empty.
    fn remove(&mut self, tokens: &[&str], id: EntryId) {
        match tokens.split_first() {
            None => self.here.retain(|&e| e != id),
            Some((&">", _)) => self.rest.retain(|&e| e != id),
            Some((&"*", tail)) => {
                if let Some(star) = self.star.as_mut() {
                    star.remove(tail, id);
                    if star.is_empty() {
                        self.star = None;
                    }
                }
            }
            Some((token, tail)) => {
                if let Some(child) = self.children.get_mut(*token) {
                    child.remove(tail, id);
                    if child.is_empty() {
                        self.children.remove(*token);
                    }
                }
            }
        }
    }

    fn collect(&self, tokens: &[&str], out: &mut Vec<EntryId>) {
        match tokens.split_first() {
            None => out.extend_from_slice(&self.here),
            Some((token, tail)) => {
                // `>` needs at least one more token, which `token` is.
                out.extend_from_slice(&self.rest);
                if let Some(child) = self.children.get(*token) {
                    child.collect(tail, out);
                }
                if let Some(star) = &self.star {
                    star.collect(tail, out);
                }
            }
        }
    }
}

/// Every subscription of a hub, found by subject.
#[derive(Debug)]
pub(crate) struct SubscriptionIndex<S> {
    entries: HashMap<EntryId, Entry<S>>,
    literal: HashMap<Arc<str>, Vec<EntryId>>,
    wild: Node,
    by_key: HashMap<BridgeKey, Vec<EntryId>>,
    next: EntryId,
}

impl<S> Default for SubscriptionIndex<S> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            literal: HashMap::new(),
            wild: Node::default(),
            by_key: HashMap::new(),
            next: 1,
        }
    }
}

/// What [`SubscriptionIndex::insert`] and [`remove`](SubscriptionIndex::remove) did to the
/// bridge keys.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyChange {
    /// The first subscription under this key: open it at NATS.
    Opened(BridgeKey),
    /// The last one left: close it at NATS.
    Closed(BridgeKey),
    /// Other subscriptions share the key.
    Shared,
}

impl<S> SubscriptionIndex<S> {
    /// How many subscriptions there are.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Files a subscription; returns its id and what happened to its bridge key.
    pub(crate) fn insert(&mut self, entry: Entry<S>) -> (EntryId, KeyChange) {
        let id = self.next;
        self.next += 1;
        let text: Arc<str> = Arc::from(entry.pattern.as_str());
        if entry.pattern.is_wildcard() {
            let tokens: Vec<&str> = text.split('.').collect();
            self.wild.insert(&tokens, id);
        } else {
            self.literal.entry(text.clone()).or_default().push(id);
        }
        let key = BridgeKey {
            pattern: text,
            queue: entry.queue.clone(),
        };
        let members = self.by_key.entry(key.clone()).or_default();
        members.push(id);
        let change = if members.len() == 1 {
            KeyChange::Opened(key)
        } else {
            KeyChange::Shared
        };
        self.entries.insert(id, entry);
        (id, change)
    }

    /// Removes a subscription; `None` if there is no such id.
    pub(crate) fn remove(&mut self, id: EntryId) -> Option<(Entry<S>, KeyChange)> {
        let entry = self.entries.remove(&id)?;
        let text = entry.pattern.as_str();
        if entry.pattern.is_wildcard() {
            let tokens: Vec<&str> = text.split('.').collect();
            self.wild.remove(&tokens, id);
        } else if let Some(ids) = self.literal.get_mut(text) {
            ids.retain(|&e| e != id);
            if ids.is_empty() {
                self.literal.remove(text);
            }
        }
        let key = BridgeKey {
            pattern: Arc::from(text),
            queue: entry.queue.clone(),
        };
        let mut change = KeyChange::Shared;
        if let Some(ids) = self.by_key.get_mut(&key) {
            ids.retain(|&e| e != id);
            if ids.is_empty() {
                self.by_key.remove(&key);
                change = KeyChange::Closed(key);
            }
        }
        Some((entry, change))
    }

    /// The subscription `id`.
    pub(crate) fn get(&self, id: EntryId) -> Option<&Entry<S>> {
        self.entries.get(&id)
    }

    /// Appends the ids of every subscription whose pattern matches `subject` (concrete).
    pub(crate) fn matches(&self, subject: &str, out: &mut Vec<EntryId>) {
        if let Some(ids) = self.literal.get(subject) {
            out.extend_from_slice(ids);
        }
        if !self.wild.is_empty() {
            let tokens: Vec<&str> = subject.split('.').collect();
            self.wild.collect(&tokens, out);
        }
    }

    /// The subscriptions filed under exactly `key`.
    pub(crate) fn under_key(&self, key: &BridgeKey) -> &[EntryId] {
        self.by_key.get(key).map_or(&[], Vec::as_slice)
    }

    /// Every bridge key in use.
    #[cfg(test)]
    pub(crate) fn keys(&self) -> impl Iterator<Item = &BridgeKey> {
        self.by_key.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(owner: u32, pattern: &str, queue: Option<&str>) -> Entry<u32> {
        Entry {
            owner,
            sid_json: Arc::from("\"1\""),
            pattern: Pattern::new(pattern).unwrap(),
            queue: queue.map(Arc::from),
        }
    }

    fn matched(index: &SubscriptionIndex<u32>, subject: &str) -> Vec<EntryId> {
        let mut out = Vec::new();
        index.matches(subject, &mut out);
        out.sort_unstable();
        out
    }

    #[test]
    fn literal_and_wildcard_patterns_are_found() {
        let mut index = SubscriptionIndex::default();
        let (a, _) = index.insert(entry(1, "a.b.c", None));
        let (star, _) = index.insert(entry(2, "a.*.c", None));
        let (tail, _) = index.insert(entry(3, "a.>", None));
        let (all, _) = index.insert(entry(4, ">", None));
        let (other, _) = index.insert(entry(5, "b.*", None));
        assert_eq!(matched(&index, "a.b.c"), vec![a, star, tail, all]);
        assert_eq!(matched(&index, "a.b"), vec![tail, all]);
        assert_eq!(matched(&index, "a"), vec![all]);
        assert_eq!(matched(&index, "b.x"), vec![all, other]);
        assert_eq!(matched(&index, "b.x.y"), vec![all]);
    }

    #[test]
    fn keys_are_refcounted_and_removal_prunes() {
        let mut index = SubscriptionIndex::default();
        let (a, change) = index.insert(entry(1, "a.*", None));
        assert!(
            matches!(change, KeyChange::Opened(ref k) if &*k.pattern == "a.*" && k.queue.is_none())
        );
        let (b, change) = index.insert(entry(2, "a.*", None));
        assert_eq!(change, KeyChange::Shared);
        let (q, change) = index.insert(entry(3, "a.*", Some("g")));
        assert!(matches!(change, KeyChange::Opened(ref k) if k.queue.as_deref() == Some("g")));
        assert_eq!(index.keys().count(), 2);
        assert_eq!(index.remove(a).unwrap().1, KeyChange::Shared);
        assert!(matches!(index.remove(b).unwrap().1, KeyChange::Closed(_)));
        assert!(matches!(index.remove(q).unwrap().1, KeyChange::Closed(_)));
        assert!(index.remove(q).is_none());
        assert!(index.wild.is_empty());
        assert_eq!(index.len(), 0);
        assert!(matched(&index, "a.b").is_empty());
    }

    proptest! {
        /// The index finds exactly what a linear scan over every pattern finds, also after
        /// removing some of them.
        #[test]
        fn agrees_with_a_linear_scan(
            patterns in prop::collection::vec("(a|b|\\*)(\\.(a|b|\\*)){0,2}(\\.>)?", 1..20),
            subjects in prop::collection::vec("(a|b|c)(\\.(a|b|c)){0,3}", 1..10),
            removed in prop::collection::vec(any::<bool>(), 20),
        ) {
            let mut index = SubscriptionIndex::default();
            let mut live = Vec::new();
            for (i, p) in patterns.iter().enumerate() {
                let (id, _) = index.insert(entry(i as u32, p, None));
                live.push((id, Pattern::new(p).unwrap()));
            }
            let mut kept = Vec::new();
            for (i, (id, p)) in live.into_iter().enumerate() {
                if removed[i] {
                    index.remove(id).unwrap();
                } else {
                    kept.push((id, p));
                }
            }
            for s in &subjects {
                let mut want: Vec<EntryId> =
                    kept.iter().filter(|(_, p)| p.matches(s)).map(|(id, _)| *id).collect();
                want.sort_unstable();
                prop_assert_eq!(matched(&index, s), want, "subject {}", s);
            }
        }
    }
}
