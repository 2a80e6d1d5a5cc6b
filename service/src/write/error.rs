//! The ways a command or a read through the engine fails: the domain's refusals, the access
//! rules' denials, a lost race, a reused idempotency key, the store.

use domain::member_record::MemberError;
use domain::CaseError;

use crate::access::Denied;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Refused(#[from] CaseError),
    #[error(transparent)]
    MemberRefused(#[from] MemberError),
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Another writer appended first. With an expected version, the sender's view is stale.
    #[error("the case was changed by another writer")]
    Conflict { expected_version: Option<u64> },
    /// The idempotency key was used before, by this actor, for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for EngineError {
    fn from(error: StoreError) -> Self {
        EngineError::Store(error)
    }
}
