//! One event of the log as read models see it: the stored event with what the database added.

use std::str::FromStr;

use domain::{Kind, Status, Timestamp};
use serde_json::Value;

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
}
