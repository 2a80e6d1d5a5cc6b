//! Retries under an `Idempotency-Key`: a command sent again by the same actor under the same
//! key writes nothing and answers with what its first attempt wrote; the same key for a
//! different request is refused.
//!
//! The key and a digest of the request travel in the first attempt's event metadata
//! ([`crate::write::metadata`]); nothing else is stored. A unique index over (actor, key) in
//! both schemas makes a retry that races its first attempt lose the append with a conflict,
//! after which it finds the first attempt here and replays it.

use uuid::Uuid;

use crate::store::StoreError;
use crate::write::engine::{AsOf, CommandContext, Engine, EngineError, Written};
use crate::write::metadata::REQUEST_DIGEST;

/// A retry key and a digest of the request it was first used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub request_digest: String,
}

impl Engine {
    /// The result of the command that first used this context's idempotency key, if any.
    pub(super) async fn replay(&self, context: &CommandContext) -> Result<Option<Written>, EngineError> {
        let Some(idempotency) = &context.idempotency else {
            return Ok(None);
        };
        let Some(first) = self
            .store()
            .event_for_idempotency_key(&context.principal.actor.id, &idempotency.key)
            .await?
        else {
            return Ok(None);
        };
        if first.metadata_text(REQUEST_DIGEST) != Some(idempotency.request_digest.as_str()) {
            return Err(EngineError::IdempotencyKeyReused);
        }
        let case_id = Uuid::parse_str(&first.aggregate_id).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let snapshot = self
            .case(case_id, &context.principal, AsOf::Sequence(first.sequence))
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("case {case_id} lost its events")))?;
        tracing::info!(%case_id, key = %idempotency.key, "replayed an idempotent command");
        Ok(Some(Written {
            id: case_id,
            kind: snapshot.kind,
            status: snapshot.status,
            version: snapshot.version,
            position: first.position,
        }))
    }
}
