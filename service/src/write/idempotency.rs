//! Retries under an `Idempotency-Key`: a command sent again by the same actor under the same
//! key writes nothing and answers with what its first attempt wrote; the same key for a
//! different request is refused.
//!
//! The key and a digest of the request travel in the first attempt's event metadata
//! ([`crate::write::metadata`]); nothing else is stored. A unique index over (actor, key) in
//! both schemas makes a retry that races its first attempt lose the append with a conflict,
//! after which it finds the first attempt here and replays it.

use crate::store::{Store, StoredEvent};
use crate::write::context::CommandContext;
use crate::write::error::EngineError;
use crate::write::metadata::REQUEST_DIGEST;

/// The event the command that first used this context's idempotency key wrote, if any; refused
/// when that key was first used for another request.
pub(super) async fn first_attempt(store: &Store, context: &CommandContext) -> Result<Option<StoredEvent>, EngineError> {
    let Some(idempotency) = &context.idempotency else {
        return Ok(None);
    };
    let Some(first) = store
        .event_for_idempotency_key(&context.principal.actor.id, &idempotency.key)
        .await?
    else {
        return Ok(None);
    };
    if first.metadata_text(REQUEST_DIGEST) != Some(idempotency.request_digest.as_str()) {
        return Err(EngineError::IdempotencyKeyReused);
    }
    Ok(Some(first))
}
