//! [`Registry`]: the live sessions, the rooms they joined and the identity index.
//!
//! Senders work on snapshots: a broadcast takes the read lock only long enough to clone
//! an `Arc` of the current member list (rebuilt lazily after a change), then queues to each
//! session outside any lock. Closing a replaced session is a flag and a wake-up, done after
//! the lock is released; nothing here ever awaits.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::config::DuplicateIdentity;
use crate::id::SessionId;
use crate::session::Session;

/// A list of sessions taken at one moment.
pub(crate) type Snapshot = Arc<[Arc<Session>]>;

struct Entry {
    session: Arc<Session>,
    rooms: HashSet<Arc<str>>,
}

#[derive(Default)]
struct Room {
    members: HashMap<SessionId, Arc<Session>>,
    snapshot: Option<Snapshot>,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<SessionId, Entry>,
    everyone: Option<Snapshot>,
    rooms: HashMap<Arc<str>, Room>,
    by_identity: HashMap<Arc<str>, SessionId>,
}

/// Sessions, rooms and identities of one server.
#[derive(Default)]
pub(crate) struct Registry {
    inner: RwLock<Inner>,
}

/// Why a session could not be registered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Another live session has the identity and the policy keeps the first.
    DuplicateIdentity,
}

impl Registry {
    // Nothing panics while these locks are held; a poisoned lock still holds valid maps.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a live session has identity `name`.
    pub(crate) fn has_identity(&self, name: &str) -> bool {
        self.read().by_identity.contains_key(name)
    }

    /// Adds `session`; returns the session it replaces (the caller closes it, outside the
    /// lock) under [`DuplicateIdentity::ReplaceOld`].
    pub(crate) fn insert(
        &self,
        session: Arc<Session>,
        policy: DuplicateIdentity,
    ) -> Result<Option<Arc<Session>>, Refused> {
        let id = session.id();
        let name = session.info.identity.as_ref().map(|i| i.shared_name());
        let mut inner = self.write();
        let mut replaced = None;
        if let Some(name) = &name {
            if let Some(&old) = inner.by_identity.get(name) {
                match policy {
                    DuplicateIdentity::Allow => {}
                    DuplicateIdentity::RejectNew => return Err(Refused::DuplicateIdentity),
                    DuplicateIdentity::ReplaceOld => {
                        replaced = inner.sessions.get(&old).map(|e| e.session.clone());
                    }
                }
            }
            // The index points at the newest session of each identity.
            inner.by_identity.insert(name.clone(), id);
        }
        inner.sessions.insert(
            id,
            Entry {
                session,
                rooms: HashSet::new(),
            },
        );
        inner.everyone = None;
        Ok(replaced)
    }

    /// Removes a session from everything; returns whether it was there.
    pub(crate) fn remove(&self, id: SessionId) -> bool {
        let mut inner = self.write();
        let Some(entry) = inner.sessions.remove(&id) else {
            return false;
        };
        inner.everyone = None;
        for room in &entry.rooms {
            let empty = inner.rooms.get_mut(room).is_some_and(|r| {
                r.members.remove(&id);
                r.snapshot = None;
                r.members.is_empty()
            });
            if empty {
                inner.rooms.remove(room);
            }
        }
        if let Some(identity) = &entry.session.info.identity {
            if inner.by_identity.get(identity.name()) == Some(&id) {
                inner.by_identity.remove(identity.name());
            }
        }
        true
    }

    pub(crate) fn get(&self, id: SessionId) -> Option<Arc<Session>> {
        self.read().sessions.get(&id).map(|e| e.session.clone())
    }

    pub(crate) fn len(&self) -> usize {
        self.read().sessions.len()
    }

    /// Every live session.
    pub(crate) fn everyone(&self) -> Snapshot {
        if let Some(snapshot) = &self.read().everyone {
            return snapshot.clone();
        }
        let mut inner = self.write();
        let snapshot: Snapshot = inner.sessions.values().map(|e| e.session.clone()).collect();
        inner.everyone = Some(snapshot.clone());
        snapshot
    }

    /// The members of `room` (empty for a room nobody is in).
    pub(crate) fn room(&self, room: &str) -> Snapshot {
        {
            let inner = self.read();
            match inner.rooms.get(room) {
                None => return Arc::from(Vec::new()),
                Some(Room {
                    snapshot: Some(snapshot),
                    ..
                }) => return snapshot.clone(),
                Some(_) => {}
            }
        }
        let mut inner = self.write();
        match inner.rooms.get_mut(room) {
            None => Arc::from(Vec::new()),
            Some(r) => r
                .snapshot
                .get_or_insert_with(|| r.members.values().cloned().collect())
                .clone(),
        }
    }

    /// Puts session `id` in `room`; `None` if there is no such session, else whether it was
    /// newly added.
    pub(crate) fn join(&self, id: SessionId, room: &str) -> Option<bool> {
        let mut inner = self.write();
        let inner = &mut *inner;
        let entry = inner.sessions.get_mut(&id)?;
        if entry.rooms.contains(room) {
            return Some(false);
        }
        let name: Arc<str> = Arc::from(room);
        entry.rooms.insert(name.clone());
        let r = inner.rooms.entry(name).or_default();
        r.members.insert(id, entry.session.clone());
        r.snapshot = None;
        Some(true)
    }

    /// Takes session `id` out of `room`; whether it was in it.
    pub(crate) fn leave(&self, id: SessionId, room: &str) -> bool {
        let mut inner = self.write();
        let Some(entry) = inner.sessions.get_mut(&id) else {
            return false;
        };
        if !entry.rooms.remove(room) {
            return false;
        }
        let empty = inner.rooms.get_mut(room).is_some_and(|r| {
            r.members.remove(&id);
            r.snapshot = None;
            r.members.is_empty()
        });
        if empty {
            inner.rooms.remove(room);
        }
        true
    }

    /// The rooms session `id` is in (sorted).
    pub(crate) fn rooms_of(&self, id: SessionId) -> Vec<String> {
        let mut rooms: Vec<String> = self
            .read()
            .sessions
            .get(&id)
            .map(|e| e.rooms.iter().map(|r| r.to_string()).collect())
            .unwrap_or_default();
        rooms.sort();
        rooms
    }

    /// Every room with at least one member (sorted).
    pub(crate) fn rooms(&self) -> Vec<String> {
        let mut rooms: Vec<String> = self.read().rooms.keys().map(|r| r.to_string()).collect();
        rooms.sort();
        rooms
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::auth::{Identity, Metadata};
    use crate::config::OverflowPolicy;
    use crate::session::SessionInfo;

    fn session(id: u64, identity: Option<&str>) -> Arc<Session> {
        let info = SessionInfo {
            id: SessionId::new(id),
            peer: SocketAddr::from(([127, 0, 0, 1], 1)),
            connected_at: SystemTime::now(),
            identity: identity.map(Identity::new),
            metadata: Metadata::new(),
        };
        Arc::new(Session::new(
            info,
            4,
            OverflowPolicy::Disconnect,
            Duration::from_secs(1),
        ))
    }

    fn ids(snapshot: &Snapshot) -> Vec<u64> {
        let mut ids: Vec<u64> = snapshot.iter().map(|s| s.id().as_u64()).collect();
        ids.sort();
        ids
    }

    #[test]
    fn rooms_follow_joins_leaves_and_removal() {
        let registry = Registry::default();
        for id in 1..=3 {
            registry
                .insert(session(id, None), DuplicateIdentity::Allow)
                .unwrap();
        }
        assert_eq!(registry.join(SessionId::new(1), "a"), Some(true));
        assert_eq!(registry.join(SessionId::new(1), "a"), Some(false));
        registry.join(SessionId::new(2), "a");
        assert_eq!(registry.join(SessionId::new(9), "a"), None);
        assert_eq!(ids(&registry.room("a")), [1, 2]);
        assert!(registry.leave(SessionId::new(1), "a"));
        assert_eq!(ids(&registry.room("a")), [2]);
        registry.remove(SessionId::new(2));
        assert!(registry.room("a").is_empty());
        assert!(registry.rooms().is_empty());
        assert_eq!(ids(&registry.everyone()), [1, 3]);
    }

    #[test]
    fn identities_replace_or_refuse_per_policy() {
        let registry = Registry::default();
        registry
            .insert(session(1, Some("alice")), DuplicateIdentity::ReplaceOld)
            .unwrap();
        let replaced = registry
            .insert(session(2, Some("alice")), DuplicateIdentity::ReplaceOld)
            .unwrap();
        assert_eq!(replaced.map(|s| s.id().as_u64()), Some(1));
        assert_eq!(
            registry
                .insert(session(3, Some("alice")), DuplicateIdentity::RejectNew)
                .err(),
            Some(Refused::DuplicateIdentity)
        );
        // Removing the replaced session keeps the index on the newer one.
        registry.remove(SessionId::new(1));
        assert!(registry.has_identity("alice"));
        registry.remove(SessionId::new(2));
        assert!(!registry.has_identity("alice"));
    }
}
