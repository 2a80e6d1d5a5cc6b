//! The per-case hash chain that lets auditors prove the log was not altered.
//!
//! Each event stores, in its metadata, `prev_hash` (the hash of the case's previous event; for
//! the first event [`GENESIS`], 64 zeros) and
//! `hash = SHA-256(prev_hash ‖ canonical bytes of the event)`, where the canonical bytes are the
//! case id, sequence, event type, event version, payload and metadata (all of it but `hash`),
//! each as a big-endian u64 length followed by its UTF-8 bytes, JSON written with keys sorted
//! and no spaces. The same bytes come back from either backend, whatever order the database
//! keeps JSON keys in.
//!
//! [`link`] computes the chain in one place: the store links each event of a commit to the one
//! before it just before writing them, the first to the stream's last hash that the engine read
//! with the stream. The bulk generator's events go through the same [`crate::store::Commit`].

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::store::EventRow;

/// The `prev_hash` of every case's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The chain's metadata names, shared with the read models that show them.
pub use projections::meta::{HASH, PREV_HASH};

/// Appends `value` as canonical JSON: object keys sorted, no insignificant whitespace.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(fields) => {
            write_object(fields, None, out);
        }
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_json(scalar, out),
    }
}

/// Appends an object with its keys sorted, leaving out the key `skip`: the metadata is hashed
/// without its own `hash`, and leaving it out here spares copying the metadata to remove it.
/// Returns the offset in `out` where the left-out key's entry belongs: just before the `,` or
/// `}` that follows the entries sorted before it.
fn write_object(fields: &Map<String, Value>, skip: Option<&str>, out: &mut Vec<u8>) -> usize {
    let mut entries: Vec<(&String, &Value)> = fields.iter().filter(|(key, _)| Some(key.as_str()) != skip).collect();
    entries.sort_unstable_by_key(|(key, _)| *key);
    out.push(b'{');
    let mut skipped_at = None;
    for (index, (key, value)) in entries.into_iter().enumerate() {
        if skipped_at.is_none() && skip.is_some_and(|skip| key.as_str() > skip) {
            skipped_at = Some(out.len());
        }
        if index > 0 {
            out.push(b',');
        }
        write_json(key, out);
        out.push(b':');
        write_canonical(value, out);
    }
    let skipped_at = skipped_at.unwrap_or(out.len());
    out.push(b'}');
    skipped_at
}

/// Appends a string or scalar as serde_json writes it compactly (escapes included).
fn write_json(value: &(impl serde::Serialize + ?Sized), out: &mut Vec<u8>) {
    // Writing a string or a JSON scalar into a `Vec` cannot fail.
    let _ = serde_json::to_writer(out, value);
}

/// JSON written by [`write_canonical`] as a `String`: it writes only `String`s and serde_json's
/// output, so it is UTF-8 and is taken without a copy.
fn text(json: Vec<u8>) -> String {
    String::from_utf8(json).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// `value` as canonical JSON text.
pub fn canonical(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    text(out)
}

/// The event's hash from its parts; `metadata` may still hold a `hash`, which is left out.
pub fn event_hash(
    prev_hash: &str,
    case_id: &str,
    sequence: u64,
    event_type: &str,
    event_version: &str,
    payload: &Value,
    metadata: &Map<String, Value>,
) -> String {
    let parts = EventParts {
        case_id,
        sequence,
        event_type,
        event_version,
    };
    hashed(prev_hash, &parts, payload, metadata).hash
}

/// What an event's hash covers besides its JSON.
struct EventParts<'a> {
    case_id: &'a str,
    sequence: u64,
    event_type: &'a str,
    event_version: &'a str,
}

/// An event's hash with the canonical bytes it was taken over: the payload's, and the
/// metadata's without `hash`, with the offset where `hash`'s entry belongs in them.
struct Hashed {
    hash: String,
    payload: Vec<u8>,
    metadata: Vec<u8>,
    hash_at: usize,
}

/// `SHA-256(prev_hash ‖ each part as a big-endian u64 length and its bytes)`, in hex, over
/// the case id, sequence, event type, event version, payload and metadata.
fn hashed(prev_hash: &str, parts: &EventParts<'_>, payload: &Value, metadata: &Map<String, Value>) -> Hashed {
    let mut payload_text = Vec::with_capacity(1_024);
    write_canonical(payload, &mut payload_text);
    let mut metadata_text = Vec::with_capacity(512);
    let hash_at = write_object(metadata, Some(HASH), &mut metadata_text);
    let mut digest = Sha256::new();
    digest.update(prev_hash.as_bytes());
    for part in [
        parts.case_id.as_bytes(),
        parts.sequence.to_string().as_bytes(),
        parts.event_type.as_bytes(),
        parts.event_version.as_bytes(),
        &payload_text,
        &metadata_text,
    ] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part);
    }
    Hashed {
        hash: hex::encode(digest.finalize()),
        payload: payload_text,
        metadata: metadata_text,
        hash_at,
    }
}

/// A chained event's hash, and its payload and metadata as the canonical JSON text that was
/// hashed (the metadata's with `hash` put in its place): what the store writes, so that each
/// is written out once.
#[derive(Debug, Clone, PartialEq)]
pub struct Linked {
    pub hash: String,
    pub payload: String,
    pub metadata: String,
}

/// Chains `row` to `prev_hash`, the hash of the event before it in its stream: records
/// `prev_hash` and the row's own `hash` in its metadata, and returns that hash with the texts
/// to write.
pub fn link(prev_hash: &str, row: &mut EventRow) -> Linked {
    row.metadata
        .insert(PREV_HASH.to_owned(), Value::String(prev_hash.to_owned()));
    let parts = EventParts {
        case_id: &row.aggregate_id,
        sequence: row.sequence,
        event_type: &row.event_type,
        event_version: &row.event_version,
    };
    let Hashed {
        hash,
        payload,
        mut metadata,
        hash_at,
    } = hashed(prev_hash, &parts, &row.payload, &row.metadata);
    // Spliced in before the `,` that leads the next entry or before the `}`; as the first of
    // several entries it takes the comma after it instead.
    let first = metadata[hash_at - 1] == b'{';
    let mut entry = Vec::with_capacity(80);
    if !first {
        entry.push(b',');
    }
    write_json(HASH, &mut entry);
    entry.push(b':');
    write_json(&hash, &mut entry);
    if first && metadata[hash_at] != b'}' {
        entry.push(b',');
    }
    metadata.splice(hash_at..hash_at, entry);
    row.metadata.insert(HASH.to_owned(), Value::String(hash.clone()));
    Linked {
        hash,
        payload: text(payload),
        metadata: text(metadata),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn metadata(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn key_order_and_spacing_do_not_change_the_hash() {
        let payload = json!({"b": 1, "a": {"y": [1, 2], "x": "文"}});
        let reordered: Value = serde_json::from_str(r#"{ "a": {"x": "文", "y": [1,2]}, "b": 1 }"#).unwrap();
        let meta = metadata(json!({"actor_id": "s", "prev_hash": GENESIS}));
        assert_eq!(
            event_hash(GENESIS, "c", 1, "t", "1", &payload, &meta),
            event_hash(GENESIS, "c", 1, "t", "1", &reordered, &meta)
        );
    }

    #[test]
    fn every_part_of_the_event_is_covered() {
        let payload = json!({"note": "原文"});
        let meta = metadata(json!({"actor_id": "s"}));
        let base = event_hash(GENESIS, "c", 1, "t", "1", &payload, &meta);
        let variants = [
            event_hash(&"1".repeat(64), "c", 1, "t", "1", &payload, &meta),
            event_hash(GENESIS, "d", 1, "t", "1", &payload, &meta),
            event_hash(GENESIS, "c", 2, "t", "1", &payload, &meta),
            event_hash(GENESIS, "c", 1, "u", "1", &payload, &meta),
            event_hash(GENESIS, "c", 1, "t", "2", &payload, &meta),
            event_hash(GENESIS, "c", 1, "t", "1", &json!({"note": "改文"}), &meta),
            event_hash(GENESIS, "c", 1, "t", "1", &payload, &metadata(json!({"actor_id": "x"}))),
        ];
        for variant in variants {
            assert_ne!(variant, base);
        }
    }

    #[test]
    fn the_stored_hash_itself_is_not_part_of_the_hash() {
        let payload = json!({});
        let without = metadata(json!({"actor_id": "s"}));
        let with = metadata(json!({"actor_id": "s", "hash": "whatever"}));
        assert_eq!(
            event_hash(GENESIS, "c", 1, "t", "1", &payload, &without),
            event_hash(GENESIS, "c", 1, "t", "1", &payload, &with)
        );
    }

    /// What is written is what was hashed: the payload's canonical text, and the metadata's with
    /// `hash` spliced in where its key sorts (first, between others, or after all of them).
    #[test]
    fn a_linked_event_writes_the_text_it_hashed() {
        let payload = json!({"note": "原文\n\"引\"", "b": [1.5, {"z": null, "a": true}], "a": {}});
        for fields in [
            json!({}),
            json!({"actor_id": "s", "kind": "suggestion", "status": "submitted"}),
            json!({"actor_id": "s", "command_id": "c"}),
        ] {
            let mut row = EventRow {
                aggregate_type: "suggestion".into(),
                aggregate_id: "c".into(),
                sequence: 2,
                event_type: "t".into(),
                event_version: "1".into(),
                payload: payload.clone(),
                metadata: metadata(fields),
            };
            let linked = link(&"1".repeat(64), &mut row);
            assert_eq!(linked.payload, canonical(&row.payload));
            assert_eq!(linked.metadata, canonical(&Value::Object(row.metadata.clone())));
            let written: Value = serde_json::from_str(&linked.metadata).unwrap();
            assert_eq!(written, Value::Object(row.metadata.clone()));
            assert_eq!(written[HASH], json!(linked.hash));
            assert_eq!(written[PREV_HASH], json!("1".repeat(64)));
            assert_eq!(
                linked.hash,
                event_hash(&"1".repeat(64), "c", 2, "t", "1", &row.payload, &row.metadata)
            );
        }
    }

    /// Pins the documented byte layout, so that auditors can recompute a hash by hand (this
    /// value was computed independently of this code).
    #[test]
    fn a_known_event_has_a_known_hash() {
        let hash = event_hash(GENESIS, "c", 1, "t", "1", &json!({"a": 1}), &Map::new());
        assert_eq!(hash, "36fbbe079827940eff57d6e2f0d99949ecfa00cbe9dae4c50e8095bf2c75a5c3");
    }
}
