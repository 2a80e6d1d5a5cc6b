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
//! It does so by buffering every member and parsing its key again to sort it, a sixth of what
//! the service spends on an HTTP command. So an event whose JSON serde_json already writes in
//! JCS form is written by serde_json directly ([`plain`]): its objects' keys come in ascending
//! order and hold no character from U+E000 on (below it, UTF-8's byte order is UTF-16's), and
//! its numbers are integers a double holds exactly (which ECMAScript writes as serde_json
//! does); serde_json's escapes are JCS's. Any other event goes through the canonicalizer.
//! Tests check that both give the same bytes.
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

/// The members a leaf takes from the event's metadata.
struct FromMetadata {
    actor: Option<Actor>,
    request_id: Option<String>,
    hash: Option<String>,
    prev_hash: Option<String>,
}

impl FromMetadata {
    fn of(event: &StoredEvent) -> Self {
        let text = |name: &str| event.metadata_text(name).map(str::to_owned);
        let actor = match (
            text(meta::ACTOR_ID),
            text(meta::ACTOR_ROLE).and_then(|role| role.parse().ok()),
        ) {
            (Some(id), Some(role)) => Some(Actor { id, role }),
            _ => None,
        };
        FromMetadata {
            actor,
            request_id: text(meta::REQUEST_ID),
            hash: text(meta::HASH),
            prev_hash: text(meta::PREV_HASH),
        }
    }
}

impl From<StoredEvent> for HistoryEntry {
    fn from(event: StoredEvent) -> Self {
        let FromMetadata {
            actor,
            request_id,
            hash,
            prev_hash,
        } = FromMetadata::of(&event);
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

/// The largest integer below which every integer is a double: JCS writes numbers as doubles.
const EXACT: u64 = 1 << 53;

/// Whether serde_json's compact text of `value` is its RFC 8785 form (see the module's note).
fn plain(value: &Value) -> bool {
    match value {
        Value::Object(fields) => {
            let mut previous: Option<&str> = None;
            fields.iter().all(|(key, item)| {
                let in_order = previous.is_none_or(|previous| previous < key.as_str());
                previous = Some(key);
                in_order && key.chars().all(|c| c < '\u{E000}') && plain(item)
            })
        }
        Value::Array(items) => items.iter().all(plain),
        Value::Number(number) => number
            .as_i64()
            .map(i64::unsigned_abs)
            .or_else(|| number.as_u64())
            .is_some_and(|magnitude| magnitude <= EXACT),
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

/// `value` in RFC 8785 form.
fn jcs(value: &impl Serialize) -> Result<Vec<u8>, NotCanonical> {
    serde_json_canonicalizer::to_vec(value).map_err(|error| NotCanonical(error.to_string()))
}

/// `value` as serde_json writes it: its RFC 8785 form when it is [`plain`].
fn compact(value: &impl Serialize) -> Result<Vec<u8>, NotCanonical> {
    serde_json::to_vec(value).map_err(|error| NotCanonical(error.to_string()))
}

/// A [`HistoryEntry`] with its members declared in JCS order, so that serde_json writes them so.
#[derive(Serialize)]
struct InKeyOrder<'a> {
    actor: &'a Option<Actor>,
    case_id: &'a str,
    hash: &'a Option<String>,
    kind: &'a str,
    metadata: &'a Value,
    payload: &'a Value,
    position: i64,
    prev_hash: &'a Option<String>,
    recorded_at: &'a chrono::DateTime<chrono::Utc>,
    request_id: &'a Option<String>,
    sequence: u64,
    #[serde(rename = "type")]
    event_type: &'a str,
    version: &'a str,
}

impl InKeyOrder<'_> {
    /// The object's RFC 8785 form: serde_json's own where it is [`plain`], else `whole`'s.
    fn canonical(&self, whole: impl FnOnce() -> Result<Vec<u8>, NotCanonical>) -> Result<Vec<u8>, NotCanonical> {
        let exact = self.sequence <= EXACT && self.position.unsigned_abs() <= EXACT;
        if exact && plain(self.payload) && plain(self.metadata) {
            compact(self)
        } else {
            whole()
        }
    }
}

impl HistoryEntry {
    /// The leaf's bytes: this object in RFC 8785 form.
    pub fn canonical(&self) -> Result<Vec<u8>, NotCanonical> {
        let in_key_order = InKeyOrder {
            actor: &self.actor,
            case_id: &self.case_id,
            hash: &self.hash,
            kind: &self.kind,
            metadata: &self.metadata,
            payload: &self.payload,
            position: self.position,
            prev_hash: &self.prev_hash,
            recorded_at: &self.recorded_at,
            request_id: &self.request_id,
            sequence: self.sequence,
            event_type: &self.event_type,
            version: &self.version,
        };
        in_key_order.canonical(|| jcs(self))
    }

    /// The leaf hash, `SHA-256(0x00 ‖ canonical bytes)`.
    pub fn leaf_hash(&self) -> Result<Hash, NotCanonical> {
        Ok(leaf_hash(&self.canonical()?))
    }

    /// The leaf hash of `event`, as of the entry made from it, without copying its JSON.
    pub fn leaf_hash_of(event: &StoredEvent) -> Result<Hash, NotCanonical> {
        let named = FromMetadata::of(event);
        let in_key_order = InKeyOrder {
            actor: &named.actor,
            case_id: &event.aggregate_id,
            hash: &named.hash,
            kind: &event.aggregate_type,
            metadata: &event.metadata,
            payload: &event.payload,
            position: event.position,
            prev_hash: &named.prev_hash,
            recorded_at: &event.recorded_at,
            request_id: &named.request_id,
            sequence: event.sequence,
            event_type: &event.event_type,
            version: &event.event_version,
        };
        let bytes = in_key_order.canonical(|| jcs(&HistoryEntry::from(event.clone())))?;
        Ok(leaf_hash(&bytes))
    }
}

/// The leaf hash of an exported event as a client received it (any JSON object): what a
/// witness recomputes, without this service's types.
pub fn exported_leaf_hash(event: &Value) -> Result<Hash, NotCanonical> {
    let bytes = if plain(event) { compact(event)? } else { jcs(event)? };
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

    /// A stored event's leaf hash, taken without copying it, is the hash of the entry made
    /// from it, plain or not, with the members the metadata names or without them.
    #[test]
    fn a_stored_events_leaf_hash_is_its_entrys() {
        let metadata = json!({"actor_id": "s-1", "actor_role": "staff", "request_id": "r-1",
                              "hash": "ab", "prev_hash": "cd", "status": "submitted"});
        for (payload, metadata) in [
            (json!({"note": "现场协调 🚧 \"第2次\""}), metadata.clone()),
            (json!({"ratio": 0.5, "big": 18_446_744_073_709_551_615_u64}), metadata),
            (json!({"z": 1, "a": [true, null]}), json!({})),
        ] {
            let event = StoredEvent {
                aggregate_type: "suggestion".into(),
                aggregate_id: "c-1".into(),
                sequence: 2,
                event_type: "consulted".into(),
                event_version: "1".into(),
                payload,
                metadata,
                position: 42,
                recorded_at: chrono::DateTime::UNIX_EPOCH,
            };
            let whole = HistoryEntry::from(event.clone()).leaf_hash().unwrap();
            assert_eq!(HistoryEntry::leaf_hash_of(&event).unwrap(), whole, "{event:?}");
        }
    }

    /// Every shape of payload gives the canonicalizer's own bytes, whichever way it is written:
    /// plain ones by serde_json, the others (floats, integers past 2^53, keys whose UTF-16
    /// order is not their bytes' order) by the canonicalizer.
    #[test]
    fn both_ways_of_writing_a_leaf_give_the_canonicalizers_bytes() {
        let payloads = [
            (
                json!({"type": "consulted", "note": "现场协调 🚌", "members": ["m-1"], "n": -3, "nested": {"z": [1, {"b": null, "a": true}]}}),
                true,
            ),
            (
                json!({"max": 9_007_199_254_740_992_u64, "min": -9_007_199_254_740_992_i64}),
                true,
            ),
            (json!({"escapes": "tab\t\"q\"\u{1}\u{7f}\u{2028}/\\"}), true),
            (json!({"ratio": 0.5}), false),
            (json!({"whole": 1.0}), false),
            (json!({"big": 9_007_199_254_740_993_u64}), false),
            (json!({"\u{e000}": 1, "\u{1f68c}": 2}), false),
            (json!({"a": {"\u{ffff}": 1, "\u{10000}": 2}}), false),
        ];
        for (payload, plain_text) in payloads {
            assert_eq!(plain(&payload), plain_text, "{payload}");
            let leaf = entry(payload.clone());
            assert_eq!(leaf.canonical().unwrap(), jcs(&leaf).unwrap(), "{payload}");
            let exported = serde_json::to_value(&leaf).unwrap();
            assert_eq!(
                exported_leaf_hash(&exported).unwrap(),
                leaf_hash(&jcs(&exported).unwrap())
            );
        }
        let full = HistoryEntry {
            actor: Some(Actor {
                id: "staff-1".into(),
                role: domain::Role::Staff,
            }),
            request_id: Some("r-1".into()),
            hash: Some("ab".into()),
            prev_hash: Some("cd".into()),
            ..entry(json!({"type": "assigned"}))
        };
        assert_eq!(full.canonical().unwrap(), jcs(&full).unwrap());
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
