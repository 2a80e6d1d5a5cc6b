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
pub use crate::audit::HistoryEntry;
use crate::audit::{self, BrokenLink};
use crate::write::engine::{AsOf, CaseSnapshot, EngineError, Written};

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

#[utoipa::path(post, path = "/api/v1/cases", operation_id = "submit_case", tags = ["staff", "members"], request_body = domain::Submit,
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

/// Every action's operation: one handler, routed once per action by [`super::router`] and
/// described once per action by [`super::openapi`], so the URL names the action and the body
/// is read as that action's input.
pub async fn act(
    action: Action,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Authenticated(principal): Authenticated,
    headers: CommandHeaders,
    request: Request,
) -> Result<(HeaderMap, Json<Written>), ApiError> {
    let case_id = case_id(&id)?;
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

#[utoipa::path(get, path = "/api/v1/cases/{id}", operation_id = "show_case", tags = ["staff", "members"], params(("id" = uuid::Uuid, Path, description = "the case id (a UUID)")),
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

/// `?at=<time>` or `?sequence=<n>`: one of them (documented as the one parameter `as_of`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateQuery {
    /// A moment (RFC 3339): the case as its events recorded up to then left it.
    at: Option<chrono::DateTime<chrono::Utc>>,
    /// A sequence: the case as its first `sequence` events left it.
    sequence: Option<u64>,
}

/// The case as it stood at a moment or after a given event, rebuilt from its events.
#[utoipa::path(get, path = "/api/v1/cases/{id}/state", operation_id = "case_state", tags = ["staff", "members", "audit"], params(("id" = uuid::Uuid, Path, description = "the case id (a UUID)")),
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

#[utoipa::path(get, path = "/api/v1/cases/{id}/history", operation_id = "case_history", tags = ["audit", "staff"], params(("id" = uuid::Uuid, Path, description = "the case id (a UUID)")),
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
