//! What a witness checks, apart from fetching: `lianxin audit witness` keeps the last
//! checkpoint it accepted (the signed note, verbatim, in its state file) and accepts a new one
//! only if its signature holds and it extends the kept one by a valid consistency proof. A
//! smaller tree is a rollback; the same size with another root, or a proof that fails, is a
//! fork: someone rewrote what the kept checkpoint covered. With an event, its inclusion is
//! checked from the event as exported, recanonicalized here.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

use super::leaf::{exported_leaf_hash, NotCanonical};
use super::merkle::{self, Hash, ProofError};
use super::note::{Checkpoint, LogVerifier, NoteError};

#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("the log's checkpoint is not acceptable: {0}")]
    Signature(#[source] NoteError),
    #[error("the kept checkpoint is not acceptable: {0}")]
    KeptState(#[source] NoteError),
    #[error("ROLLBACK: the log now shows a tree of {now} leaves, smaller than the {kept} of the checkpoint kept")]
    Rollback { kept: u64, now: u64 },
    #[error(
        "FORK: the log's tree of {new_size} leaves (root {new_root}) does not extend the kept tree of {kept_size} \
         leaves (root {kept_root}): {reason}; what the kept checkpoint covered was rewritten"
    )]
    Fork {
        kept_size: u64,
        kept_root: String,
        new_size: u64,
        new_root: String,
        reason: ProofError,
    },
    #[error("the proof is malformed: {0}")]
    Malformed(String),
    #[error("the event at position {position} is not proven in the tree of {tree_size} leaves: {reason}")]
    NotIncluded {
        position: i64,
        tree_size: u64,
        reason: ProofError,
    },
    #[error(transparent)]
    Leaf(#[from] NotCanonical),
}

fn show(hash: &Hash) -> String {
    STANDARD.encode(hash)
}

/// Base64 hashes, as the proofs carry them.
pub fn decode_hashes(path: &[String]) -> Result<Vec<Hash>, WitnessError> {
    path.iter()
        .map(|hash| {
            STANDARD
                .decode(hash)
                .ok()
                .and_then(|bytes| Hash::try_from(bytes).ok())
                .ok_or_else(|| WitnessError::Malformed(format!("`{hash}` is not a base64 SHA-256 hash")))
        })
        .collect()
}

/// The checkpoint a signed note from the log carries, once its signature verifies.
pub fn open_new(verifier: &LogVerifier, note: &str) -> Result<Checkpoint, WitnessError> {
    verifier.open(note).map_err(WitnessError::Signature)
}

/// The checkpoint of the kept note.
pub fn open_kept(verifier: &LogVerifier, note: &str) -> Result<Checkpoint, WitnessError> {
    verifier.open(note).map_err(WitnessError::KeptState)
}

/// Whether `new` extends `kept`, by `proof` (from the log's consistency endpoint).
pub fn check_extends(kept: &Checkpoint, new: &Checkpoint, proof: &[Hash]) -> Result<(), WitnessError> {
    if new.size < kept.size {
        return Err(WitnessError::Rollback {
            kept: kept.size,
            now: new.size,
        });
    }
    merkle::verify_consistency(kept.size, new.size, &kept.root, &new.root, proof).map_err(|reason| WitnessError::Fork {
        kept_size: kept.size,
        kept_root: show(&kept.root),
        new_size: new.size,
        new_root: show(&new.root),
        reason,
    })
}

/// Whether `event` (as exported) is leaf `leaf_index` of `checkpoint`'s tree, by `path`.
pub fn check_inclusion(
    checkpoint: &Checkpoint,
    leaf_index: u64,
    path: &[Hash],
    event: &Value,
) -> Result<(), WitnessError> {
    let position = event.get("position").and_then(Value::as_i64).unwrap_or_default();
    let leaf = exported_leaf_hash(event)?;
    merkle::verify_inclusion(leaf_index, checkpoint.size, &leaf, path, &checkpoint.root).map_err(|reason| {
        WitnessError::NotIncluded {
            position,
            tree_size: checkpoint.size,
            reason,
        }
    })
}
