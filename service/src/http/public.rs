//! The public channel 我要建言: anonymous submission with a tracking code, the status and
//! answer for whoever holds the code, and the submitter's rating. No token; rate limited per
//! client address (see [`ClientAddress`] for which address that is). A wrong code and an unknown case get the same 404.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use domain::{Action, ActionInput, Actor, Channel, Kind, Outcome, Rating, Role, Status, Submit};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::client::ClientAddress;
use super::extract::{ApiPath, ApiQuery, CommandHeaders, JsonBody};
use super::problem::ApiError;
use super::AppState;
use crate::access::public::{self, PersonalData};
use crate::access::tokens::Principal;
use crate::write::engine::{AsOf, Written};

/// What an anonymous citizen sends.
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicSuggestion {
    pub title: String,
    pub body: String,
    pub category: String,
    pub jurisdiction: String,
    /// For staff to call back; never shown publicly.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// Accepted for clients that send the full case shape: only `suggestion` is taken here.
    #[serde(default)]
    pub kind: Option<Kind>,
    /// Accepted likewise: the public channel is always `online`.
    #[serde(default)]
    pub channel: Option<Channel>,
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct Tracked {
    id: Uuid,
    /// Keep it: it is shown once, and it is the only way to follow the case.
    tracking_code: String,
    status: Status,
    position: i64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CodeQuery {
    /// The tracking code the submission answered with.
    #[param(pattern = r"^[^\x00]*$")]
    code: String,
}

/// What the holder of a tracking code sees.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct PublicStatus {
    id: Uuid,
    title: String,
    category: String,
    jurisdiction: String,
    status: Status,
    submitted_at: Option<chrono::DateTime<chrono::Utc>>,
    department: Option<String>,
    /// The answer given at closing.
    answer: Option<String>,
    outcome: Option<Outcome>,
    closed_at: Option<chrono::DateTime<chrono::Utc>>,
    rating: Option<Rating>,
}

/// The anonymous citizen behind a public case: one identity per case.
pub(super) fn public_principal(case_id: Uuid) -> Principal {
    Principal {
        actor: Actor {
            id: format!("public:{case_id}"),
            role: Role::Citizen,
        },
        jurisdiction: None,
        department: None,
    }
}

fn check_personal(data: &PersonalData) -> Result<(), ApiError> {
    let invalid = |field: &str, reason: &str| Err(ApiError::InvalidBody(format!("`{field}` {reason}")));
    if let Some(name) = &data.name {
        if name.trim().is_empty() || name.chars().count() > 50 || name.chars().any(char::is_control) {
            return invalid("name", "is 1 to 50 characters on one line");
        }
    }
    if let Some(phone) = &data.phone {
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        let allowed = phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '));
        if !allowed || !(5..=20).contains(&digits) {
            return invalid("phone", "is 5 to 20 digits, with + - or spaces");
        }
    }
    Ok(())
}

/// Whatever is wrong with the id or the code, the answer is the same 404, so that nothing
/// tells a guesser which half was wrong; only a character no store can hold is its own 422.
pub(super) fn case_and_code(
    path: Result<ApiPath<String>, ApiError>,
    query: Result<ApiQuery<CodeQuery>, ApiError>,
) -> Result<(Uuid, String), ApiError> {
    let uniform = |error: ApiError| match error {
        ApiError::Unstorable { .. } => error,
        _ => no_match(),
    };
    let ApiPath(id) = path.map_err(uniform)?;
    let ApiQuery(CodeQuery { code }) = query.map_err(uniform)?;
    let case_id = Uuid::parse_str(&id).map_err(|_| no_match())?;
    Ok((case_id, code))
}

fn no_match() -> ApiError {
    ApiError::NotFound("no suggestion matches this id and code".to_owned())
}

pub(super) async fn verified(state: &AppState, case_id: Uuid, code: &str) -> Result<(), ApiError> {
    if public::verify(state.engine.store(), case_id, code).await? {
        Ok(())
    } else {
        Err(no_match())
    }
}

#[utoipa::path(post, path = "/api/v1/public/suggestions", operation_id = "submit_suggestion", tag = "public", security(()), request_body = PublicSuggestion,
    responses((status = 201, description = "submitted; keep the tracking code", body = Tracked)))]
pub async fn submit(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: CommandHeaders,
    JsonBody(input): JsonBody<PublicSuggestion>,
) -> Result<(StatusCode, Json<Tracked>), ApiError> {
    state.limits.submission(client)?;
    if input.kind.is_some_and(|kind| kind != Kind::Suggestion) {
        return Err(ApiError::InvalidBody(
            "the public channel takes suggestions only".to_owned(),
        ));
    }
    if input.channel.is_some_and(|channel| channel != Channel::Online) {
        return Err(ApiError::InvalidBody(
            "the public channel is the online channel".to_owned(),
        ));
    }
    let personal = PersonalData {
        name: input.name,
        phone: input.phone,
    };
    check_personal(&personal)?;
    let submit = Submit {
        kind: Kind::Suggestion,
        title: input.title,
        body: input.body,
        category: input.category,
        jurisdiction: input.jurisdiction,
        channel: Some(Channel::Online),
        lead_member: None,
        team: Vec::new(),
    };
    submit.validate()?;
    let case_id = Uuid::now_v7();
    let code = public::new_tracking_code().map_err(|error| ApiError::NoRandomness(error.to_string()))?;
    public::register(state.engine.store(), case_id, &code, &personal).await?;
    let context = headers.context(public_principal(case_id), None);
    let written = state.engine.submit_as(case_id, context, submit).await?;
    Ok((
        StatusCode::CREATED,
        Json(Tracked {
            id: written.id,
            tracking_code: code,
            status: written.status,
            position: written.position,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/public/suggestions/{id}", operation_id = "suggestion_status", tag = "public", security(()),
    params(("id" = uuid::Uuid, Path, description = "the case id"), CodeQuery),
    responses((status = 200, description = "status and answer", body = PublicStatus)))]
pub async fn status(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    path: Result<ApiPath<String>, ApiError>,
    query: Result<ApiQuery<CodeQuery>, ApiError>,
) -> Result<Json<PublicStatus>, ApiError> {
    state.limits.lookup(client)?;
    let (case_id, code) = case_and_code(path, query)?;
    verified(&state, case_id, &code).await?;
    let snapshot = state
        .engine
        .case(case_id, &public_principal(case_id), AsOf::Now)
        .await?
        .ok_or_else(no_match)?;
    let core = snapshot.core;
    Ok(Json(PublicStatus {
        id: case_id,
        title: core.title,
        category: core.category,
        jurisdiction: core.jurisdiction,
        status: snapshot.status,
        submitted_at: core.submitted_at,
        department: core.department,
        answer: core.closure.as_ref().map(|closure| closure.summary.clone()),
        outcome: core.closure.as_ref().map(|closure| closure.outcome),
        closed_at: core.closure.as_ref().map(|closure| closure.at),
        rating: core.feedback.as_ref().map(|feedback| feedback.rating),
    }))
}

#[utoipa::path(post, path = "/api/v1/public/suggestions/{id}/feedback", operation_id = "suggestion_feedback", tag = "public", security(()),
    params(("id" = uuid::Uuid, Path, description = "the case id"), CodeQuery), request_body = domain::Feedback,
    responses((status = 200, description = "rated: the evaluation of the unit's reply while one is on record and its window to evaluate is open, else the rating of the closed case", body = crate::write::engine::Written)))]
pub async fn feedback(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    path: Result<ApiPath<String>, ApiError>,
    query: Result<ApiQuery<CodeQuery>, ApiError>,
    headers: CommandHeaders,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Written>, ApiError> {
    state.limits.lookup(client)?;
    let (case_id, code) = case_and_code(path, query)?;
    verified(&state, case_id, &code).await?;
    let snapshot = state
        .engine
        .case(case_id, &public_principal(case_id), AsOf::Now)
        .await?
        .ok_or_else(no_match)?;
    // A unit's reply on record is evaluated (评价), within the window to evaluate it; without
    // one, or after that window, the closed case is rated as before.
    let now = state.engine.clock().now();
    let action = match &snapshot.core.reply {
        Some(reply) if now <= reply.evaluate_by => Action::Evaluate,
        _ => Action::Feedback,
    };
    let input = ActionInput::from_json(action, body).map_err(|error| ApiError::InvalidBody(error.to_string()))?;
    let context = headers.context(public_principal(case_id), None);
    Ok(Json(state.engine.act(case_id, context, input).await?))
}
