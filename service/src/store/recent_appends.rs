//! The events this process appended lately, as a reader of the log would read them back, for
//! the reader in the same process that would otherwise read every event's payload and metadata
//! again: the Merkle tree, which hashes each event whole. Reading them back was the largest
//! part of the tree's cost (the server turning both JSON columns into text, the service parsing
//! them again: docs/performance.md).
//!
//! Nothing is kept until a reader follows ([`RecentAppends::follow`]), so a process that grows
//! no tree keeps nothing. At most [`MOST`] events are kept, the lowest positions dropped first;
//! an event not found here (dropped, another process's, or appended before this process
//! started) is read from the log as before. So the reader still learns the log's order, and
//! which events it holds, from the log itself: only what it already knows is not sent again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::store::StoredEvent;

/// Events kept at the most: about a second of appends at this machine's rate, far more than a
/// follower lets gather between its reads (100 ms), and about ten megabytes of JSON trees.
const MOST: usize = 4_096;

/// This process's recent appends by position; `None` until a reader follows.
#[derive(Debug, Clone, Default)]
pub struct RecentAppends(Arc<Mutex<Option<BTreeMap<i64, StoredEvent>>>>);

impl RecentAppends {
    /// Starts keeping appends for a reader; returns the handle it takes them by.
    pub fn follow(&self) -> RecentAppends {
        self.kept().get_or_insert_with(BTreeMap::new);
        self.clone()
    }

    /// Keeps a command's events, if a reader follows.
    pub fn keep(&self, events: Vec<StoredEvent>) {
        if let Some(kept) = self.kept().as_mut() {
            kept.extend(events.into_iter().map(|event| (event.position, event)));
            while kept.len() > MOST {
                kept.pop_first();
            }
        }
    }

    /// Takes the events at `positions` out of what is kept: `None` for each one not kept.
    pub fn take(&self, positions: &[i64]) -> Vec<Option<StoredEvent>> {
        match self.kept().as_mut() {
            Some(kept) => positions.iter().map(|position| kept.remove(position)).collect(),
            None => vec![None; positions.len()],
        }
    }

    fn kept(&self) -> MutexGuard<'_, Option<BTreeMap<i64, StoredEvent>>> {
        // A panic while holding the lock cannot leave the map half-changed in a way that
        // matters: every entry is a whole event or absent.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(position: i64) -> StoredEvent {
        StoredEvent {
            aggregate_type: "suggestion".into(),
            aggregate_id: format!("case-{position}"),
            sequence: 1,
            event_type: "submitted".into(),
            event_version: "1".into(),
            payload: json!({ "n": position }),
            metadata: json!({}),
            position,
            recorded_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn nothing_is_kept_until_a_reader_follows() {
        let recent = RecentAppends::default();
        recent.keep(vec![event(1)]);
        let follower = recent.follow();
        assert_eq!(follower.take(&[1]), vec![None]);
        recent.keep(vec![event(2)]);
        assert_eq!(follower.take(&[2]), vec![Some(event(2))]);
    }

    #[test]
    fn an_event_is_taken_once_and_only_those_asked_for() {
        let recent = RecentAppends::default().follow();
        recent.keep(vec![event(3), event(4), event(5)]);
        assert_eq!(recent.take(&[5, 3, 9]), vec![Some(event(5)), Some(event(3)), None]);
        assert_eq!(recent.take(&[3, 4]), vec![None, Some(event(4))]);
    }

    #[test]
    fn past_the_bound_the_lowest_positions_are_dropped() {
        let recent = RecentAppends::default().follow();
        let last = MOST as i64 + 2;
        recent.keep((1..=last).map(event).collect());
        assert_eq!(
            recent.take(&[1, 2, 3, last]),
            vec![None, None, Some(event(3)), Some(event(last))]
        );
    }
}
