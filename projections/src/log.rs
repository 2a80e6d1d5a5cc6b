//! One event of the log as read models see it: the stored event with what the database added.

use std::borrow::Cow;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use domain::member_record::{MemberEvent, STREAM_PREFIX};
use domain::{upcast, Kind, Status, Timestamp};
use serde_json::Value;

use crate::CaseFact;

#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    /// The aggregate: a case kind, or `member_record`.
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: u64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    pub position: i64,
    pub recorded_at: Timestamp,
}

/// Metadata names every command's events carry.
pub mod meta {
    pub const KIND: &str = "kind";
    pub const ACTOR_ID: &str = "actor_id";
    pub const ACTOR_ROLE: &str = "actor_role";
    pub const REQUEST_ID: &str = "request_id";
    /// The case's status once the event is applied, as the domain decided it.
    pub const STATUS: &str = "status";
    pub const HASH: &str = "hash";
    pub const PREV_HASH: &str = "prev_hash";
}

impl LogEvent {
    /// The case kind, for events of a case.
    pub fn kind(&self) -> Option<Kind> {
        Kind::from_str(&self.aggregate_type).ok()
    }

    pub fn metadata_text(&self, name: &str) -> Option<&str> {
        self.metadata.get(name).and_then(Value::as_str)
    }

    pub fn hash(&self) -> Option<&str> {
        self.metadata_text(meta::HASH)
    }

    /// The case's status after this event, as recorded when it was written.
    pub fn status_after(&self) -> Option<Status> {
        self.metadata_text(meta::STATUS).and_then(|status| status.parse().ok())
    }

    /// The payload in the shape this release reads: upcast when it was stored at an older
    /// schema version, as stored otherwise.
    pub fn current_payload(&self) -> Cow<'_, Value> {
        if upcast::is_outdated(&self.event_type, &self.event_version) {
            Cow::Owned(upcast::upcast_payload(
                &self.event_type,
                &self.event_version,
                self.payload.clone(),
            ))
        } else {
            Cow::Borrowed(&self.payload)
        }
    }
}

/// What the read models use of one event: where it stands, and its payload decoded once, straight
/// into its type. Reading these instead of [`LogEvent`]s skips the metadata and the untyped JSON
/// tree, which is most of the cost of following the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// The stream: a case id, or a member's record (`member:<id>`).
    pub stream: String,
    pub sequence: u64,
    pub position: i64,
    /// The case kind, for events of a case.
    pub kind: Option<Kind>,
    /// The case's status after this event, as recorded when it was written.
    pub status_after: Option<Status>,
    pub payload: Payload,
}

impl Fact {
    /// When the case was submitted, if this is its submission.
    pub fn submitted_at(&self) -> Option<Timestamp> {
        match &self.payload {
            Payload::Case(CaseFact::Submitted(submitted)) => Some(submitted.at),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Case(CaseFact),
    Member(MemberEvent),
    /// A payload no read model reads (or cannot read): it changes nothing.
    Other,
}

/// Where a stored event stands: its aggregate, stream, and schema name and version.
#[derive(Debug, Clone, Copy)]
pub struct Stored<'a> {
    pub aggregate_type: &'a str,
    pub stream: &'a str,
    pub event_type: &'a str,
    pub event_version: &'a str,
}

impl Payload {
    /// The payload of a stored event, from its JSON text: read straight into its type when it
    /// is of the current schema, through its upcaster when it is older.
    pub fn decode(stored: Stored<'_>, json: &str) -> Payload {
        let Stored {
            aggregate_type, stream, ..
        } = stored;
        if !upcast::is_outdated(stored.event_type, stored.event_version) {
            return Payload::read(aggregate_type, stream, &mut serde_json::Deserializer::from_str(json));
        }
        match serde_json::from_str(json) {
            Ok(old) => {
                let current = upcast::upcast_payload(stored.event_type, stored.event_version, old);
                Payload::read(aggregate_type, stream, &current)
            }
            Err(_) => Payload::Other,
        }
    }

    fn read<'de>(aggregate_type: &str, stream: &str, json: impl Deserializer<'de>) -> Payload {
        if Kind::from_str(aggregate_type).is_ok() {
            CaseFact::deserialize(json).map_or(Payload::Other, Payload::Case)
        } else if stream.starts_with(STREAM_PREFIX) {
            MemberEvent::deserialize(json).map_or(Payload::Other, Payload::Member)
        } else {
            Payload::Other
        }
    }
}

impl From<&LogEvent> for Fact {
    fn from(event: &LogEvent) -> Fact {
        Fact {
            stream: event.aggregate_id.clone(),
            sequence: event.sequence,
            position: event.position,
            kind: event.kind(),
            status_after: event.status_after(),
            payload: Payload::read(&event.aggregate_type, &event.aggregate_id, &*event.current_payload()),
        }
    }
}
