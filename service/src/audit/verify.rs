//! `audit verify`: every case's hash chain, then the whole log against the latest checkpoint.
//!
//! The chains show an event edited by someone who did not recompute its hashes. The tree shows
//! the rest, for every event the latest checkpoint covers: the log is read again in its order,
//! each event's leaf recomputed from its export, and compared with the stored leaf of the same
//! position: a changed event (content, `recorded_at`, chain hashes), an event missing from the
//! log, an event inserted into the checkpointed past, and an event in the table that the log's
//! order never shows, are each named. The stored tree is folded to the checkpoint's root too,
//! and with a verifier key the checkpoint's signature is checked, so that rewriting the tree
//! tables (or the checkpoints) to match a rewritten log is caught as well, here or by a witness
//! that kept an earlier checkpoint.

use std::collections::HashMap;

use serde::Serialize;

use super::chains::{verify_chains, BrokenLink};
use super::leaf::HistoryEntry;
use super::merkle::{append_to_frontier, fold, Hash};
use super::note::LogVerifier;
use super::tree::{TransparencyLog, TreeError};
use crate::store::{on_pool, Store};

/// Events read per page of the log.
const PAGE: i64 = 1_000;

#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub cases: u64,
    pub events: u64,
    pub broken: Vec<BrokenLink>,
    /// SHA-256 over every case's id, last sequence and last hash, in case-id order. A chain
    /// only proves what follows from each event; an auditor who keeps this digest also learns
    /// when a case's last events were removed, which no chain can show by itself.
    pub heads_digest: String,
    /// The log recomputed against the latest signed checkpoint.
    pub tree: TreeReport,
}

impl VerifyReport {
    /// Nothing broken: every chain links, and the log matches its latest checkpoint.
    pub fn intact(&self) -> bool {
        self.broken.is_empty() && self.tree.problems.is_empty()
    }
}

#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TreeReport {
    /// The size of the latest checkpoint; none before the first is cut.
    pub checkpoint_size: Option<u64>,
    /// `verified` when a verifier key was given and the checkpoint's signature holds,
    /// `not_checked` without a key.
    pub signature: SignatureCheck,
    /// Events the log shows in its order, all of them.
    pub events_in_log: u64,
    pub problems: Vec<TreeProblem>,
}

#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureCheck {
    Verified,
    NotChecked,
    Invalid,
}

/// One thing the tree shows was broken, and where.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TreeProblem {
    pub position: Option<i64>,
    pub leaf_index: Option<u64>,
    pub case_id: Option<String>,
    pub sequence: Option<u64>,
    pub reason: String,
}

impl TreeProblem {
    fn about(reason: impl Into<String>) -> Self {
        TreeProblem {
            position: None,
            leaf_index: None,
            case_id: None,
            sequence: None,
            reason: reason.into(),
        }
    }

    fn event(event: &HistoryEntry, leaf_index: Option<u64>, reason: impl Into<String>) -> Self {
        TreeProblem {
            position: Some(event.position),
            leaf_index,
            case_id: Some(event.case_id.clone()),
            sequence: Some(event.sequence),
            reason: reason.into(),
        }
    }
}

/// Every chain, then the log against the latest checkpoint (its signature unchecked).
pub async fn verify(store: &Store, progress: impl FnMut(u64) + Send) -> Result<VerifyReport, TreeError> {
    verify_with_key(store, None, progress).await
}

/// [`verify`], checking the checkpoint's signature with `verifier` when given; `progress` is
/// told the number of events read so far, over both walks (twice the log's length in all).
pub async fn verify_with_key(
    store: &Store,
    verifier: Option<&LogVerifier>,
    mut progress: impl FnMut(u64) + Send,
) -> Result<VerifyReport, TreeError> {
    let chains = verify_chains(store, &mut progress).await?;
    let done = chains.events;
    let tree = verify_tree(store, verifier, |read| progress(done + read)).await?;
    Ok(VerifyReport {
        cases: chains.cases,
        events: chains.events,
        broken: chains.broken,
        heads_digest: chains.heads_digest,
        tree,
    })
}

/// The stored leaves of the first `size`: position to leaf index and hash.
async fn stored_leaves(store: &Store, size: u64) -> Result<HashMap<i64, (u64, Hash)>, TreeError> {
    const SQL: &str = "SELECT leaf_index, position, hash FROM merkle_leaves WHERE leaf_index < $1";
    let rows: Vec<(i64, i64, Vec<u8>)> = on_pool!(store, |pool| sqlx::query_as(SQL)
        .bind(size as i64)
        .fetch_all(pool)
        .await?);
    Ok(rows
        .into_iter()
        .map(|(index, position, hash)| (position, (index as u64, hash.try_into().unwrap_or_default())))
        .collect())
}

async fn verify_tree(
    store: &Store,
    verifier: Option<&LogVerifier>,
    mut progress: impl FnMut(u64) + Send,
) -> Result<TreeReport, TreeError> {
    let log = TransparencyLog::new(store.clone());
    let mut problems = Vec::new();
    let latest = log.latest_checkpoint().await?;
    let mut signature = SignatureCheck::NotChecked;
    let (size, root) = match (&latest, verifier) {
        (None, _) => (0, None),
        (Some(latest), None) => (latest.size, Some(latest.root)),
        (Some(latest), Some(verifier)) => match verifier.open(&latest.note) {
            Ok(signed) => {
                signature = SignatureCheck::Verified;
                if (signed.size, signed.root) != (latest.size, latest.root) {
                    problems.push(TreeProblem::about(
                        "the checkpoint's stored size or root differs from what its note signs",
                    ));
                }
                (signed.size, Some(signed.root))
            }
            Err(error) => {
                signature = SignatureCheck::Invalid;
                problems.push(TreeProblem::about(format!("the latest checkpoint: {error}")));
                (latest.size, Some(latest.root))
            }
        },
    };
    if let Some(root) = root {
        match log.root_at(size).await {
            Ok(stored) if stored == root => {}
            Ok(_) => problems.push(TreeProblem::about(format!(
                "the stored tree's first {size} leaves do not hash to the checkpoint's root: the tree was rewritten"
            ))),
            Err(error) => problems.push(TreeProblem::about(format!("the stored tree: {error}"))),
        }
    }
    let mut stored = stored_leaves(store, size).await?;
    let last_stored = stored
        .iter()
        .find(|(_, (index, _))| *index + 1 == size)
        .map(|(position, _)| *position);
    let max_stored = stored.keys().copied().max().unwrap_or(0);
    let mut in_checkpoint = size > 0;
    let mut frontier = Vec::new();
    let mut walked: Vec<i64> = Vec::new();
    // Events before the last checkpointed one in the log's order, yet in no leaf.
    let mut inserted = Vec::new();
    let mut after = 0;
    loop {
        let page = store.log_after(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for event in page {
            let entry = HistoryEntry::from(event);
            let hash = entry.leaf_hash()?;
            let index = walked.len() as u64;
            walked.push(entry.position);
            if index < size {
                append_to_frontier(&mut frontier, index, hash);
            }
            if !in_checkpoint {
                continue;
            }
            match stored.remove(&entry.position) {
                Some((leaf_index, leaf)) if leaf != hash => problems.push(TreeProblem::event(
                    &entry,
                    Some(leaf_index),
                    "the event does not match its leaf: it was changed after it was logged",
                )),
                Some(_) => {}
                None => inserted.push(TreeProblem::event(
                    &entry,
                    None,
                    "the event is in the log's checkpointed past but in no leaf: it was inserted later",
                )),
            }
            in_checkpoint = Some(entry.position) != last_stored;
        }
        progress(walked.len() as u64);
    }
    // When the last checkpointed event itself is gone, the walk never learns where the
    // checkpoint ends: only events older than every checkpointed position count as inserted.
    let reached_end = !in_checkpoint;
    problems.extend(
        inserted
            .into_iter()
            .filter(|problem| reached_end || problem.position.is_some_and(|position| position <= max_stored)),
    );
    let mut missing: Vec<(i64, u64)> = stored
        .into_iter()
        .map(|(position, (index, _))| (position, index))
        .collect();
    missing.sort_unstable_by_key(|(_, index)| *index);
    for (position, index) in missing {
        problems.push(TreeProblem {
            position: Some(position),
            leaf_index: Some(index),
            case_id: None,
            sequence: None,
            reason: "the event of this leaf is no longer in the log: it was deleted or moved out of its order".into(),
        });
    }
    if let Some(root) = root {
        if (walked.len() as u64) < size {
            problems.push(TreeProblem::about(format!(
                "the log shows {} events, fewer than the checkpoint's {size}",
                walked.len()
            )));
        } else if fold(&frontier) != root && problems.is_empty() {
            problems.push(TreeProblem::about(format!(
                "the log's first {size} events hash to another root than the checkpoint's: they were reordered"
            )));
        }
    }
    let in_table = store.count_events().await?;
    if in_table > walked.len() as u64 {
        walked.sort_unstable();
        store
            .for_each_event_by_case(|event| {
                if walked.binary_search(&event.position).is_err() {
                    problems.push(TreeProblem::event(
                        &HistoryEntry::from(event),
                        None,
                        "the event is in the table but outside the log's order: no reader of the log sees it",
                    ));
                }
            })
            .await?;
    }
    Ok(TreeReport {
        checkpoint_size: latest.map(|_| size),
        signature,
        events_in_log: walked.len() as u64,
        problems,
    })
}
