//! The leaf of the Merkle tree is the event exactly as `GET /api/v1/audit/events` exports it:
//! one [`HistoryEntry`], in RFC 8785 (JSON Canonicalization Scheme) form. The export and the
//! leaf are the same struct through the same serializer, so they cannot drift apart; an auditor
//! recomputes every leaf from the export with any JCS implementation and SHA-256.
//!
//! The object's members: `case_id`, `kind`, `sequence`, `position`, `type`, `version`,
//! `payload`, `recorded_at` (RFC 3339 in UTC with a `Z`, with as many fraction digits as the
//! stored time has, 0, 3, 6 or 9: chrono's stable form, a function of the instant alone),
//! `actor`, `request_id`, `hash`, `prev_hash` (`null` when absent) and the whole `metadata`.
//! JCS sorts the members by UTF-16 code units, writes strings with the minimal escapes and
//! numbers in ECMAScript's shortest form; `serde_json_canonicalizer` does this (maintained,
//! with RFC 8785's own test cases, and numbers through `ryu-js`).
//!
//! The per-case hash chain (`store::chain`) keeps its own canonical form, documented there: it
//! is the writer's link between one case's events, computed before the database assigns
//! `position` and `recorded_at`; the leaf covers those too, and the chain's hashes with them.

use domain::Actor;
use serde::Serialize;
use serde_json::Value;

use super::merkle::{leaf_hash, Hash};
use crate::store::StoredEvent;
use projections::meta;

/// One event as auditors read it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub case_id: String,
    /// The case kind, or `member_record` for a member's logged contacts.
    pub kind: String,
    pub sequence: u64,
    pub position: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The version of the event's schema.
    pub version: String,
    pub payload: Value,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    pub actor: Option<Actor>,
    pub request_id: Option<String>,
    pub hash: Option<String>,
    pub prev_hash: Option<String>,
    /// Everything recorded with the event: kind, actor, request, correlation and causation
    /// ids, client time, idempotency key, and the chain's hashes.
    pub metadata: Value,
}

impl From<StoredEvent> for HistoryEntry {
    fn from(event: StoredEvent) -> Self {
        let text = |name: &str| event.metadata_text(name).map(str::to_owned);
        let actor = match (
            text(meta::ACTOR_ID),
            text(meta::ACTOR_ROLE).and_then(|role| role.parse().ok()),
        ) {
            (Some(id), Some(role)) => Some(Actor { id, role }),
            _ => None,
        };
        let request_id = text(meta::REQUEST_ID);
        let hash = text(meta::HASH);
        let prev_hash = text(meta::PREV_HASH);
        HistoryEntry {
            case_id: event.aggregate_id,
            kind: event.aggregate_type,
            hash,
            prev_hash,
            sequence: event.sequence,
            position: event.position,
            event_type: event.event_type,
            version: event.event_version,
            payload: event.payload,
            recorded_at: event.recorded_at,
            actor,
            request_id,
            metadata: event.metadata,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the event cannot be written in canonical JSON: {0}")]
pub struct NotCanonical(String);

impl HistoryEntry {
    /// The leaf's bytes: this object in RFC 8785 form.
    pub fn canonical(&self) -> Result<Vec<u8>, NotCanonical> {
        serde_json_canonicalizer::to_vec(self).map_err(|error| NotCanonical(error.to_string()))
    }

    /// The leaf hash, `SHA-256(0x00 ‖ canonical bytes)`.
    pub fn leaf_hash(&self) -> Result<Hash, NotCanonical> {
        Ok(leaf_hash(&self.canonical()?))
    }
}

/// The leaf hash of an exported event as a client received it (any JSON object): what a
/// witness recomputes, without this service's types.
pub fn exported_leaf_hash(event: &Value) -> Result<Hash, NotCanonical> {
    let bytes = serde_json_canonicalizer::to_vec(event).map_err(|error| NotCanonical(error.to_string()))?;
    Ok(leaf_hash(&bytes))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(payload: Value) -> HistoryEntry {
        HistoryEntry {
            case_id: "c".into(),
            kind: "suggestion".into(),
            sequence: 1,
            position: 7,
            event_type: "Submitted".into(),
            version: "1".into(),
            payload,
            recorded_at: chrono::DateTime::parse_from_rfc3339("2026-11-30T08:00:00.123456Z")
                .unwrap()
                .into(),
            actor: None,
            request_id: None,
            hash: None,
            prev_hash: None,
            metadata: json!({"b": 1, "a": "x"}),
        }
    }

    /// The canonical text, pinned: members sorted, no spaces, shortest numbers, minimal
    /// escapes, non-ASCII text as UTF-8.
    #[test]
    fn the_leaf_is_the_jcs_form_of_the_export() {
        let leaf = entry(json!({"title": "建言 🚌", "n": 1.0, "e": 1e21, "s": "tab\t\"q\"\u{1}"}));
        let text = String::from_utf8(leaf.canonical().unwrap()).unwrap();
        let exported: Value = serde_json::from_str(&serde_json::to_string_pretty(&leaf).unwrap()).unwrap();
        assert_eq!(exported_leaf_hash(&exported).unwrap(), leaf.leaf_hash().unwrap());
        assert_eq!(
            text,
            "{\"actor\":null,\"case_id\":\"c\",\"hash\":null,\"kind\":\"suggestion\",\"metadata\":{\"a\":\"x\",\"b\":1},\
             \"payload\":{\"e\":1e+21,\"n\":1,\"s\":\"tab\\t\\\"q\\\"\\u0001\",\"title\":\"建言 🚌\"},\"position\":7,\
             \"prev_hash\":null,\"recorded_at\":\"2026-11-30T08:00:00.123456Z\",\"request_id\":null,\"sequence\":1,\
             \"type\":\"Submitted\",\"version\":\"1\"}"
        );
    }
}
