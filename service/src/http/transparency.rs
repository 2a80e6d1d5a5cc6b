//! The transparency log over HTTP: the latest signed checkpoint, a checkpoint cut on demand,
//! inclusion and consistency proofs in RFC 9162's shapes (hashes in base64) for auditors, and
//! for the holder of a public case's tracking code the proofs of that citizen's own events.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, StatusCode};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::client::ClientAddress;
use super::extract::{ApiPath, ApiQuery, Authenticated};
use super::problem::ApiError;
use super::public::{case_and_code, public_principal, verified, CodeQuery};
use super::AppState;
use crate::access::{self, Operation};
use crate::audit::merkle::{Hash, ProofError};
use crate::audit::tree::{Inclusion, StoredCheckpoint};
use crate::audit::{HistoryEntry, TransparencyLog, TreeError};
use crate::store::StoreError;

impl From<TreeError> for ApiError {
    fn from(error: TreeError) -> Self {
        match error {
            TreeError::Store(error) => error.into(),
            TreeError::NotInTree(_)
            | TreeError::TooLarge { .. }
            | TreeError::NoSigningKey
            | TreeError::NoCheckpoint
            | TreeError::Proof(ProofError::LeafOutOfRange { .. }) => ApiError::NotFound(error.to_string()),
            TreeError::Proof(ProofError::SizesOutOfOrder { .. }) => ApiError::InvalidQuery(error.to_string()),
            other => StoreError::Corrupt(other.to_string()).into(),
        }
    }
}

type Note = ([(HeaderName, &'static str); 1], String);

fn note(checkpoint: StoredCheckpoint) -> Note {
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], checkpoint.note)
}

fn base64(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|hash| STANDARD.encode(hash)).collect()
}

fn log(state: &AppState) -> &TransparencyLog {
    &state.transparency
}

#[utoipa::path(get, path = "/api/v1/audit/checkpoint", tag = "audit",
    responses(
        (status = 200, description = "the latest signed checkpoint: a C2SP tlog-checkpoint in a signed note", body = String, content_type = "text/plain"),
        (status = 404, description = "no checkpoint has been cut yet", body = super::openapi::ProblemDocument, content_type = "application/problem+json"),
    ))]
pub async fn latest(State(state): State<AppState>, Authenticated(principal): Authenticated) -> Result<Note, ApiError> {
    access::check(&principal, Operation::ReadAuditLog)?;
    Ok(note(
        log(&state).latest_checkpoint().await?.ok_or(TreeError::NoCheckpoint)?,
    ))
}

#[utoipa::path(post, path = "/api/v1/audit/checkpoint", tag = "audit",
    responses(
        (status = 201, description = "the tree brought up to the log and a checkpoint of it signed (the latest, when it covers the tree already)", body = String, content_type = "text/plain"),
        (status = 404, description = "this service has no signing key", body = super::openapi::ProblemDocument, content_type = "application/problem+json"),
    ))]
pub async fn cut(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<(StatusCode, Note), ApiError> {
    access::check(&principal, Operation::ReadAuditLog)?;
    Ok((StatusCode::CREATED, note(log(&state).cut().await?)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The event's position in the log.
    position: i64,
    /// The tree the proof is for; the latest checkpoint's size by default.
    tree_size: Option<u64>,
}

/// RFC 9162's inclusion proof, with the event it proves as the export writes it: its leaf
/// hash is `SHA-256(0x00 ‖ JCS(event))`.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct InclusionProof {
    leaf_index: u64,
    tree_size: u64,
    /// Base64 SHA-256 hashes, nearest sibling first.
    inclusion_path: Vec<String>,
    event: HistoryEntry,
}

impl From<Inclusion> for InclusionProof {
    fn from(inclusion: Inclusion) -> Self {
        InclusionProof {
            leaf_index: inclusion.leaf_index,
            tree_size: inclusion.tree_size,
            inclusion_path: base64(&inclusion.path),
            event: inclusion.event,
        }
    }
}

async fn checkpoint_size(log: &TransparencyLog) -> Result<(u64, StoredCheckpoint), ApiError> {
    let latest = log.latest_checkpoint().await?.ok_or(TreeError::NoCheckpoint)?;
    Ok((latest.size, latest))
}

#[utoipa::path(get, path = "/api/v1/audit/proof/inclusion", tag = "audit", params(InclusionQuery),
    responses(
        (status = 200, description = "the event and its audit path in the tree of `tree_size` leaves", body = InclusionProof),
        (status = 404, description = "no such event in that tree, a tree larger than the log's, or no checkpoint yet", body = super::openapi::ProblemDocument, content_type = "application/problem+json"),
    ))]
pub async fn inclusion(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(query): ApiQuery<InclusionQuery>,
) -> Result<Json<InclusionProof>, ApiError> {
    access::check(&principal, Operation::ReadAuditLog)?;
    let tree_size = match query.tree_size {
        Some(size) => size,
        None => checkpoint_size(log(&state)).await?.0,
    };
    Ok(Json(log(&state).inclusion(query.position, tree_size).await?.into()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older tree's size.
    first: u64,
    /// The newer tree's size, up to the tree's.
    second: u64,
}

/// RFC 9162's consistency proof: the tree of `tree_size_1` leaves is a prefix of the tree of
/// `tree_size_2`. Empty when the sizes are equal or the first is 0.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct ConsistencyProof {
    tree_size_1: u64,
    tree_size_2: u64,
    /// Base64 SHA-256 hashes.
    consistency_path: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/audit/proof/consistency", tag = "audit", params(ConsistencyQuery),
    responses(
        (status = 200, description = "the proof that the older tree is a prefix of the newer", body = ConsistencyProof),
        (status = 400, description = "`first` is larger than `second`", body = super::openapi::ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "`second` is larger than the tree", body = super::openapi::ProblemDocument, content_type = "application/problem+json"),
    ))]
pub async fn consistency(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    access::check(&principal, Operation::ReadAuditLog)?;
    let path = log(&state).consistency(query.first, query.second).await?;
    Ok(Json(ConsistencyProof {
        tree_size_1: query.first,
        tree_size_2: query.second,
        consistency_path: base64(&path),
    }))
}

/// What the holder of a tracking code can check: their own events (the submission, their
/// rating) in the latest checkpoint. Staff's events are the auditors' to check.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct PublicProof {
    /// The latest signed checkpoint (a C2SP signed note); its key is published by the log.
    checkpoint: String,
    proofs: Vec<InclusionProof>,
    /// The citizen's events written after that checkpoint: provable from the next one.
    pending: u64,
}

#[utoipa::path(get, path = "/api/v1/public/suggestions/{id}/proof", tag = "public", security(()),
    params(("id" = String, Path, description = "the case id"), CodeQuery),
    responses(
        (status = 200, description = "the citizen's own events with their inclusion proofs in the latest checkpoint", body = PublicProof),
        (status = 404, description = "no suggestion matches this id and code, or no checkpoint yet", body = super::openapi::ProblemDocument, content_type = "application/problem+json"),
    ))]
pub async fn public_proof(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    path: Result<ApiPath<String>, ApiError>,
    query: Result<ApiQuery<CodeQuery>, ApiError>,
) -> Result<Json<PublicProof>, ApiError> {
    state.limits.lookup(client)?;
    let (case_id, code) = case_and_code(path, query)?;
    verified(&state, case_id, &code).await?;
    let (size, checkpoint) = checkpoint_size(log(&state)).await?;
    let citizen = public_principal(case_id).actor.id;
    let mut proofs = Vec::new();
    let mut pending = 0;
    for event in state.engine.store().stream_events(&case_id.to_string()).await? {
        if event.metadata_text(projections::meta::ACTOR_ID) != Some(citizen.as_str()) {
            continue;
        }
        match log(&state).inclusion(event.position, size).await {
            Ok(inclusion) => proofs.push(inclusion.into()),
            Err(TreeError::NotInTree(_)) => pending += 1,
            Err(error) => return Err(error.into()),
        }
    }
    Ok(Json(PublicProof {
        checkpoint: checkpoint.note,
        proofs,
        pending,
    }))
}
