//! The events this process appended lately, as a reader of the log would read them back, for
//! the readers in the same process that would otherwise read every event's payload (and, for
//! the Merkle tree, which hashes each event whole, its metadata) again: the projections'
//! runners and the tree. Reading them back was most of what reading the log cost (the server
//! turning the JSON columns into text, the service parsing them again: docs/performance.md).
//!
//! Nothing is kept until a reader follows ([`RecentAppends::follow`]), so a process that reads
//! nothing back keeps nothing. Each follower takes an event once (the followers share it, not
//! copies of it), the first time it reads past it; at most [`MOST`] are kept, the lowest
//! positions dropped first. An event not found here (taken already, dropped, another
//! process's, or appended before this process started) is read from the log as before. So a
//! reader still learns the log's order, and which events it holds, from the log itself, and a
//! reader reading the log again (the tree regrown after its tables were emptied, say) reads
//! what the log holds now, not what this process remembers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use crate::store::StoredEvent;

/// Events kept at the most: about a second of appends at this machine's rate, far more than a
/// follower lets gather between its reads (150 ms at the most), and about ten megabytes of JSON
/// trees (about 2.5 kB an event).
const MOST: usize = 4_096;

/// The most followers: one bit each in an event's `waiting`.
const MOST_FOLLOWERS: u32 = u32::BITS;

#[derive(Debug, Default)]
struct Held {
    /// Every follower's bit.
    followers: u32,
    /// Events by position, with the bits of the followers yet to take them.
    events: BTreeMap<i64, (Arc<StoredEvent>, u32)>,
}

/// This process's recent appends, and which follower this handle is (none: the engine's).
#[derive(Debug, Clone, Default)]
pub struct RecentAppends {
    kept: Arc<Mutex<Held>>,
    follower: u32,
}

impl RecentAppends {
    /// Starts keeping appends for one more reader; returns the handle it takes them by. Past
    /// [`MOST_FOLLOWERS`], the reader is handed nothing and reads the log.
    pub fn follow(&self) -> RecentAppends {
        let mut kept = self.kept();
        let count = kept.followers.count_ones();
        let follower = if count < MOST_FOLLOWERS { 1 << count } else { 0 };
        kept.followers |= follower;
        RecentAppends {
            kept: Arc::clone(&self.kept),
            follower,
        }
    }

    /// Keeps a command's events, if a reader follows: those whose JSON the log gives back as
    /// it is held here, so that a reader sees the same event either way.
    pub fn keep(&self, events: Vec<StoredEvent>) {
        let mut kept = self.kept();
        let followers = kept.followers;
        if followers == 0 {
            return;
        }
        let exact = events
            .into_iter()
            .filter(|event| reads_back_as_held(&event.payload) && reads_back_as_held(&event.metadata));
        kept.events
            .extend(exact.map(|event| (event.position, (Arc::new(event), followers))));
        while kept.events.len() > MOST {
            kept.events.pop_first();
        }
    }

    /// Takes this follower's events at `positions`: `None` for each one not kept for it.
    pub fn take(&self, positions: &[i64]) -> Vec<Option<Arc<StoredEvent>>> {
        let mut kept = self.kept();
        positions
            .iter()
            .map(|position| {
                let (event, waiting) = kept.events.get_mut(position)?;
                if *waiting & self.follower == 0 {
                    return None;
                }
                *waiting &= !self.follower;
                let event = Arc::clone(event);
                if *waiting == 0 {
                    kept.events.remove(position);
                }
                Some(event)
            })
            .collect()
    }

    fn kept(&self) -> MutexGuard<'_, Held> {
        // A panic while holding the lock cannot leave the map half-changed in a way that
        // matters: every entry is a whole event or absent.
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Whether `value` comes back from either store as it is held: JSON without fractions.
/// Strings, booleans, nulls and integers come back as they went in (PostgreSQL's `jsonb` keeps
/// numbers as decimals and objects in an order of its own, which a `Map` sorts again); a
/// fraction comes back as the double nearest its decimal text, which is not always the one
/// held.
fn reads_back_as_held(value: &Value) -> bool {
    match value {
        Value::Object(fields) => fields.values().all(reads_back_as_held),
        Value::Array(items) => items.iter().all(reads_back_as_held),
        Value::Number(number) => !number.is_f64(),
        Value::Null | Value::Bool(_) | Value::String(_) => true,
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

    fn taken(recent: &RecentAppends, positions: &[i64]) -> Vec<Option<StoredEvent>> {
        recent
            .take(positions)
            .into_iter()
            .map(|event| event.map(|event| (*event).clone()))
            .collect()
    }

    #[test]
    fn nothing_is_kept_until_a_reader_follows() {
        let recent = RecentAppends::default();
        recent.keep(vec![event(1)]);
        let follower = recent.follow();
        assert_eq!(taken(&follower, &[1]), vec![None]);
        recent.keep(vec![event(2)]);
        assert_eq!(taken(&follower, &[2]), vec![Some(event(2))]);
        assert_eq!(taken(&recent, &[2]), vec![None], "the engine's handle follows nothing");
    }

    #[test]
    fn every_follower_takes_each_event_once_and_only_those_asked_for() {
        let recent = RecentAppends::default();
        let (tree, runners) = (recent.follow(), recent.follow());
        recent.keep(vec![event(3), event(4), event(5)]);
        assert_eq!(taken(&tree, &[5, 3, 9]), vec![Some(event(5)), Some(event(3)), None]);
        assert_eq!(taken(&tree, &[3, 4]), vec![None, Some(event(4))]);
        assert_eq!(
            taken(&runners, &[3, 4, 5]),
            vec![Some(event(3)), Some(event(4)), Some(event(5))]
        );
        assert_eq!(taken(&runners, &[3]), vec![None]);
        assert!(recent.kept().events.is_empty(), "taken by all, kept no longer");
    }

    #[test]
    fn an_event_holding_a_fraction_is_left_to_be_read_back() {
        let recent = RecentAppends::default().follow();
        let mut fraction = event(7);
        fraction.payload = json!({ "share": { "of": [0.1] } });
        let mut large = event(8);
        large.metadata = json!({ "count": u64::MAX, "below": i64::MIN });
        recent.keep(vec![fraction, large.clone()]);
        assert_eq!(taken(&recent, &[7, 8]), vec![None, Some(large)]);
    }

    #[test]
    fn past_the_bound_the_lowest_positions_are_dropped() {
        let recent = RecentAppends::default().follow();
        let last = MOST as i64 + 2;
        recent.keep((1..=last).map(event).collect());
        assert_eq!(
            taken(&recent, &[1, 2, 3, last]),
            vec![None, None, Some(event(3)), Some(event(last))]
        );
    }
}
