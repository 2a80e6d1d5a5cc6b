//! The chains' half of `audit verify`: recompute every case's hash chain and report each
//! broken link.

use serde::Serialize;
use serde_json::Map;
use sha2::{Digest, Sha256};

use crate::store::chain::{event_hash, GENESIS, PREV_HASH};
use crate::store::{Store, StoreError, StoredEvent};

#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub case_id: String,
    pub sequence: u64,
    pub reason: String,
}

/// What the walk through every chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainsReport {
    pub cases: u64,
    pub events: u64,
    pub broken: Vec<BrokenLink>,
    pub heads_digest: String,
}

/// The state of the walk through one case.
struct CaseWalk {
    case_id: String,
    last_sequence: u64,
    last_hash: String,
}

#[derive(Default)]
struct Verifier {
    report_cases: u64,
    report_events: u64,
    broken: Vec<BrokenLink>,
    current: Option<CaseWalk>,
    heads: Sha256,
}

impl Verifier {
    fn finish_case(&mut self) {
        if let Some(walk) = self.current.take() {
            self.heads.update(format!(
                "{}\n{}\n{}\n",
                walk.case_id, walk.last_sequence, walk.last_hash
            ));
        }
    }

    fn visit(&mut self, event: StoredEvent) {
        self.report_events += 1;
        if self
            .current
            .as_ref()
            .is_none_or(|walk| walk.case_id != event.aggregate_id)
        {
            self.finish_case();
            self.report_cases += 1;
            self.current = Some(CaseWalk {
                case_id: event.aggregate_id.clone(),
                last_sequence: 0,
                last_hash: GENESIS.to_owned(),
            });
        }
        let Some(walk) = self.current.as_mut() else {
            return;
        };
        if let Some(reason) = broken_reason(walk, &event) {
            self.broken.push(BrokenLink {
                case_id: event.aggregate_id.clone(),
                sequence: event.sequence,
                reason,
            });
        }
        walk.last_sequence = event.sequence;
        walk.last_hash = event.hash().unwrap_or_default().to_owned();
    }
}

/// What is wrong with `event` as the successor of the walk so far, if anything.
fn broken_reason(walk: &CaseWalk, event: &StoredEvent) -> Option<String> {
    let expected_sequence = walk.last_sequence + 1;
    if event.sequence != expected_sequence {
        return Some(format!(
            "sequence gap: expected {expected_sequence}, found {}",
            event.sequence
        ));
    }
    let Some(stored_hash) = event.hash() else {
        return Some("no hash recorded".to_owned());
    };
    let Some(prev_hash) = event.metadata_text(PREV_HASH) else {
        return Some("no prev_hash recorded".to_owned());
    };
    if prev_hash != walk.last_hash {
        return Some(format!(
            "prev_hash does not match the hash of event {}",
            walk.last_sequence
        ));
    }
    let no_metadata = Map::new();
    let recomputed = event_hash(
        prev_hash,
        &event.aggregate_id,
        event.sequence,
        &event.event_type,
        &event.event_version,
        &event.payload,
        event.metadata.as_object().unwrap_or(&no_metadata),
    );
    (recomputed != stored_hash).then(|| "the event's content does not match its hash".to_owned())
}

/// The broken links of one case's events (in sequence order), as the full walk would report.
pub fn verify_case(events: &[StoredEvent]) -> Vec<BrokenLink> {
    let mut verifier = Verifier::default();
    events.iter().cloned().for_each(|event| verifier.visit(event));
    verifier.broken
}

/// Walks the whole log case by case; `progress` is told the number of events checked so far.
pub async fn verify_chains(store: &Store, mut progress: impl FnMut(u64) + Send) -> Result<ChainsReport, StoreError> {
    let mut verifier = Verifier::default();
    store
        .for_each_event_by_case(|event| {
            verifier.visit(event);
            if verifier.report_events % 1_000 == 0 {
                progress(verifier.report_events);
            }
        })
        .await?;
    verifier.finish_case();
    progress(verifier.report_events);
    Ok(ChainsReport {
        cases: verifier.report_cases,
        events: verifier.report_events,
        broken: verifier.broken,
        heads_digest: hex::encode(verifier.heads.finalize()),
    })
}
