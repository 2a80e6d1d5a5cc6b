//! Case endpoints: submit, act, read the current state, read the audit trail.

use axum::extract::{Request, State};
use axum::http::header::{ETAG, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use domain::{Action, ActionInput, Actor, Adopted, CaseError, Channel, Closed, FeedbackGiven, Kind, Status, Submit};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use uuid::Uuid;

use super::extract::{read_json, ApiPath, ApiQuery, Authenticated, CommandHeaders, JsonBody};
use super::problem::ApiError;
use super::AppState;
use crate::access;
use crate::access::public::{self, PersonalData};
use crate::audit::{self, BrokenLink};
use crate::store::StoredEvent;
use crate::write::engine::{AsOf, CaseSnapshot, EngineError, Written};
use projections::meta;

/// `ETag` for a case version: a strong validator, quoted as RFC 9110 wants.
fn etag(version: u64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{version}\"")) {
        headers.insert(ETAG, value);
    }
    headers
}

/// The answer for a case that does not exist, one the caller may not read, and a malformed id
/// alike, to the byte: none of them tells whether a case exists.
fn no_case() -> ApiError {
    ApiError::Engine(EngineError::Refused(CaseError::NotFound))
}

/// An unknown or malformed id names no case: both are 404.
fn case_id(path: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(path).map_err(|_| no_case())
}

#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = domain::Submit,
    responses((status = 201, description = "submitted", body = crate::write::engine::Written)))]
pub async fn submit(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    headers: CommandHeaders,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, HeaderMap, Json<Written>), ApiError> {
    let context = headers.context(principal, Some(("submit", &body)));
    let input: Submit = serde_json::from_value(body).map_err(|error| ApiError::InvalidBody(error.to_string()))?;
    let written = state.engine.submit(context, input).await?;
    let mut headers = etag(written.version);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/cases/{}", written.id)) {
        headers.insert(LOCATION, location);
    }
    Ok((StatusCode::CREATED, headers, Json(written)))
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/{action}", tag = "cases",
    params(("id" = String, Path, description = "the case id (a UUID)"), ("action" = domain::Action, Path, description = "the action; its body is the schema of the same name")),
    responses((status = 200, description = "done", body = crate::write::engine::Written)))]
pub async fn act(
    State(state): State<AppState>,
    ApiPath((id, action)): ApiPath<(String, String)>,
    Authenticated(principal): Authenticated,
    headers: CommandHeaders,
    request: Request,
) -> Result<(HeaderMap, Json<Written>), ApiError> {
    let case_id = case_id(&id)?;
    let action: Action = action
        .parse()
        .map_err(|_| ApiError::NotFound(format!("there is no action `{action}`")))?;
    let body = read_json(request, &state).await?;
    let context = headers.context(principal, Some((&format!("{case_id}/{action}"), &body)));
    let input = ActionInput::from_json(action, body).map_err(|error| ApiError::InvalidBody(error.to_string()))?;
    let written = state.engine.act(case_id, context, input).await?;
    Ok((etag(written.version), Json(written)))
}

/// A case as the caller sees it now.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct CaseView {
    id: Uuid,
    kind: Kind,
    status: Status,
    version: u64,
    allowed_actions: Vec<Action>,
    overdue: bool,
    title: String,
    body: String,
    category: String,
    jurisdiction: String,
    channel: Option<Channel>,
    submitted_by: Option<Actor>,
    submitted_at: Option<chrono::DateTime<chrono::Utc>>,
    department: Option<String>,
    assigned_at: Option<chrono::DateTime<chrono::Utc>>,
    due_at: Option<chrono::DateTime<chrono::Utc>>,
    consultations: u32,
    adoption: Option<Adopted>,
    closure: Option<Closed>,
    feedback: Option<FeedbackGiven>,
    /// The units' work: co-handling units, first deadline, lateness, signature, objection,
    /// extensions, opinions and reply.
    handling: super::departments::HandlingView,
    /// What only this kind of case has: relays and escalation, sessions, research phases.
    details: Value,
    /// The submitter's name and phone, when left on the public channel: staff and auditors only.
    #[serde(skip_serializing_if = "Option::is_none")]
    submitter_contact: Option<PersonalData>,
}

impl From<CaseSnapshot> for CaseView {
    fn from(snapshot: CaseSnapshot) -> Self {
        let core = snapshot.core;
        let handling = super::departments::HandlingView::from(&core);
        CaseView {
            id: snapshot.id,
            kind: snapshot.kind,
            status: snapshot.status,
            version: snapshot.version,
            allowed_actions: snapshot.allowed_actions,
            overdue: snapshot.overdue,
            title: core.title,
            body: core.body,
            category: core.category,
            jurisdiction: core.jurisdiction,
            channel: core.channel,
            submitted_by: core.submitter,
            submitted_at: core.submitted_at,
            department: core.department,
            assigned_at: core.assigned_at,
            due_at: core.due_at,
            consultations: core.consultations,
            adoption: core.adoption,
            closure: core.closure,
            feedback: core.feedback,
            handling,
            details: snapshot.details,
            submitter_contact: None,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", params(("id" = String, Path, description = "the case id (a UUID)")),
    responses((status = 200, description = "the case as it stands, with the actions the caller may take", body = CaseView)))]
pub async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Authenticated(principal): Authenticated,
) -> Result<(HeaderMap, Json<CaseView>), ApiError> {
    let case_id = case_id(&id)?;
    let snapshot = state
        .engine
        .case(case_id, &principal, AsOf::Now)
        .await?
        .ok_or_else(no_case)?;
    let version = snapshot.version;
    let mut view = CaseView::from(snapshot);
    if access::sees_personal_data(&principal) {
        view.submitter_contact = public::personal_data(state.engine.store(), case_id).await?;
    }
    Ok((etag(version), Json(view)))
}

/// `?at=<time>` or `?sequence=<n>`: one of them.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StateQuery {
    /// A moment (RFC 3339): the case as its events recorded up to then left it.
    at: Option<chrono::DateTime<chrono::Utc>>,
    /// A sequence: the case as its first `sequence` events left it.
    sequence: Option<u64>,
}

/// The case as it stood at a moment or after a given event, rebuilt from its events.
#[utoipa::path(get, path = "/api/v1/cases/{id}/state", tag = "cases", params(("id" = String, Path, description = "the case id (a UUID)"), StateQuery),
    responses((status = 200, description = "the case as it stood then, rebuilt from its events", body = CaseView)))]
pub async fn state_as_of(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Authenticated(principal): Authenticated,
    ApiQuery(query): ApiQuery<StateQuery>,
) -> Result<Json<CaseView>, ApiError> {
    let case_id = case_id(&id)?;
    let as_of = match (query.at, query.sequence) {
        (Some(at), None) => AsOf::Time(at),
        (None, Some(sequence)) if sequence >= 1 => AsOf::Sequence(sequence),
        (None, Some(_)) => return Err(ApiError::InvalidQuery("`sequence` starts at 1".to_owned())),
        _ => {
            return Err(ApiError::InvalidQuery(
                "give exactly one of `at` (an RFC 3339 time) or `sequence`".to_owned(),
            ))
        }
    };
    let snapshot = state.engine.case(case_id, &principal, as_of).await?;
    let snapshot = match (snapshot, as_of) {
        (Some(snapshot), AsOf::Sequence(sequence)) if snapshot.version < sequence => {
            return Err(ApiError::NotFound(format!(
                "case {case_id} has {} events, not {sequence}",
                snapshot.version
            )))
        }
        (Some(snapshot), _) => snapshot,
        (None, _) => return Err(no_case()),
    };
    Ok(Json(snapshot.into()))
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct History {
    id: Uuid,
    kind: Kind,
    /// Whether this case's hash chain verifies, recomputed for this answer.
    chain_intact: bool,
    broken: Vec<BrokenLink>,
    events: Vec<HistoryEntry>,
}

/// One event as auditors read it.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct HistoryEntry {
    case_id: String,
    /// The case kind, or `member_record` for a member's logged contacts.
    kind: String,
    sequence: u64,
    position: i64,
    #[serde(rename = "type")]
    event_type: String,
    /// The version of the event's schema.
    version: String,
    payload: Value,
    recorded_at: chrono::DateTime<chrono::Utc>,
    actor: Option<Actor>,
    request_id: Option<String>,
    hash: Option<String>,
    prev_hash: Option<String>,
    /// Everything recorded with the event: kind, actor, request, correlation and causation
    /// ids, client time, idempotency key, and the chain's hashes.
    metadata: Value,
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

#[utoipa::path(get, path = "/api/v1/cases/{id}/history", tag = "audit", params(("id" = String, Path, description = "the case id (a UUID)")),
    responses((status = 200, description = "every event of the case, with metadata and hash chain", body = History)))]
pub async fn history(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Authenticated(principal): Authenticated,
) -> Result<Json<History>, ApiError> {
    let case_id = case_id(&id)?;
    let events = state.engine.history(case_id, &principal).await?;
    let kind = events.first().and_then(|event| event.kind()).ok_or_else(no_case)?;
    let broken = audit::verify_case(&events);
    Ok(Json(History {
        id: case_id,
        kind,
        chain_intact: broken.is_empty(),
        broken,
        events: events.into_iter().map(HistoryEntry::from).collect(),
    }))
}
