//! The cases the engine wrote lately, held in memory as their events left them, so that the
//! next command on one reads nothing before it appends, and decodes and applies none of the
//! events it has applied already.
//!
//! An entry is a case folded over the first `version` events of its stream. The log is
//! append-only and each sequence of a stream is written once, so such a prefix stays true for
//! good: an entry may be behind its stream (another process appended to it, or an append
//! succeeded whose answer was lost), never ahead of it and never different.
//!
//! The engine decides a command on a held case without reading its stream, and appends only if
//! the stream has no event after the held version, in the statement that writes (as that
//! statement sees the table): so the command was decided on the stream as it stood when it was
//! written, as if read then. Otherwise, or when the held state refused the command (the stream
//! may allow it), it is decided again on the events read after the held version. A writer that
//! races the append loses on the optimistic lock, as before.

use std::sync::{Arc, Mutex, MutexGuard};

use domain::AnyCase;
use hashlink::LruCache;
use uuid::Uuid;

/// Cases held at most. An entry is one case's state: a few kilobytes for most cases, up to
/// about a hundred for one with a 20,000-character body and many handling units' texts; so a
/// few megabytes as a rule, a hundred at worst. The next command on a case often comes days
/// and many other cases later, and then reads the case's whole stream, as without this cache.
const HELD: usize = 1_024;

/// A case as the first [`AnyCase::version`] events of its stream leave it.
#[derive(Debug, Clone)]
pub struct Folded {
    pub case: AnyCase,
    /// The hash of the stream's last event folded in, which the next event chains to.
    pub last_hash: String,
}

/// The most recently written cases, least recently used dropped first.
#[derive(Debug, Clone)]
pub struct RecentCases {
    held: Arc<Mutex<LruCache<Uuid, Arc<Folded>>>>,
}

impl Default for RecentCases {
    fn default() -> Self {
        RecentCases {
            held: Arc::new(Mutex::new(LruCache::new(HELD))),
        }
    }
}

impl RecentCases {
    /// The case as held, to fold the stream's later events into.
    pub fn get(&self, id: Uuid) -> Option<Folded> {
        let held = self.held().get(&id).cloned();
        held.map(Arc::unwrap_or_clone)
    }

    /// Holds `folded` unless a later state of the case is held already (a command on it that
    /// completed meanwhile).
    pub fn remember(&self, id: Uuid, folded: Folded) {
        let mut held = self.held();
        if held
            .get(&id)
            .is_some_and(|known| known.case.version() > folded.case.version())
        {
            return;
        }
        held.insert(id, Arc::new(folded));
    }

    fn held(&self) -> MutexGuard<'_, LruCache<Uuid, Arc<Folded>>> {
        // Each call leaves the map whole, so a panic while it was held leaves nothing to repair.
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use domain::{Actor, CaseCommand, CommandInput, Kind, Policy, Role, Submit};

    use super::*;

    fn held(case: &AnyCase, last_hash: &str) -> Folded {
        Folded {
            case: case.clone(),
            last_hash: last_hash.to_owned(),
        }
    }

    /// A suggestion as its submission leaves it: version 1.
    fn submitted() -> AnyCase {
        let mut case = AnyCase::new(Kind::Suggestion);
        let submission = Submit {
            kind: Kind::Suggestion,
            title: "路灯不亮".to_owned(),
            body: "东胜区某小区门前路灯已坏两周。".to_owned(),
            category: "市政".to_owned(),
            jurisdiction: "东胜区".to_owned(),
            channel: None,
            lead_member: None,
            team: Vec::new(),
        };
        let command = CaseCommand {
            case_id: Uuid::now_v7(),
            actor: Actor {
                id: "citizen-1".to_owned(),
                role: Role::Citizen,
            },
            at: "2026-11-30T08:00:00Z".parse().unwrap(),
            expected_version: None,
            input: CommandInput::Submit(submission),
        };
        case.handle(command, &Policy::default()).unwrap();
        case
    }

    #[test]
    fn a_case_is_held_as_last_remembered_unless_that_was_an_earlier_state() {
        let recent = RecentCases::default();
        let id = Uuid::now_v7();
        assert!(recent.get(id).is_none());
        let (empty, later) = (AnyCase::new(Kind::Suggestion), submitted());
        assert_eq!(later.version(), 1);

        recent.remember(id, held(&empty, "genesis"));
        recent.remember(id, held(&empty, "same version"));
        assert_eq!(recent.get(id).unwrap().last_hash, "same version");

        recent.remember(id, held(&later, "version 1"));
        recent.remember(id, held(&empty, "version 0, remembered late"));
        let kept = recent.get(id).unwrap();
        assert_eq!((kept.case.version(), kept.last_hash.as_str()), (1, "version 1"));
        assert_eq!(kept.case, later);
    }

    #[test]
    fn the_least_recently_used_case_is_dropped_first() {
        let recent = RecentCases::default();
        let ids: Vec<Uuid> = (0..=HELD).map(|_| Uuid::now_v7()).collect();
        let empty = AnyCase::new(Kind::Suggestion);
        recent.remember(ids[0], held(&empty, "first"));
        for id in &ids[1..HELD] {
            recent.remember(*id, held(&empty, "other"));
        }
        assert!(
            recent.get(ids[0]).is_some(),
            "used now, so no longer the least recently used"
        );
        recent.remember(ids[HELD], held(&empty, "one too many"));
        assert!(recent.get(ids[0]).is_some());
        assert!(recent.get(ids[1]).is_none(), "dropped");
        assert!(recent.get(ids[HELD]).is_some());
    }
}
