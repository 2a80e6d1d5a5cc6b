//! The handling units' endpoints: the list of units, a department token's own unit, the names
//! ids are shown by, a unit's queue (the unit itself, staff and auditors) and the units'
//! scorecards (staff and auditors); and the case view's part on handling ([`HandlingView`]).
//! The buckets and the counts are defined where they are computed, in
//! [`crate::read::queries`]; the OpenAPI descriptions repeat the definitions for clients.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use domain::{
    Acknowledged, CaseCore, Contributed, ExtensionGranted, ExtensionRequested, HandlingLevel, Objected, Replied, Role,
    Timestamp, Windows,
};
use projections::CASE_SUMMARIES;
use serde::{Deserialize, Serialize};

use super::extract::{ApiPath, ApiQuery, Authenticated, CommandHeaders, JsonBody};
use super::problem::ApiError;
use super::read_models::{caught_up, id_path, lag_tolerant, period};
use super::AppState;
use crate::access::names;
use crate::access::tokens::Principal;
use crate::access::units::{self, Unit};
use crate::access::{self, Denied, Operation};
use crate::read::queries::{self, Queue, Scorecard};

/// Working days ahead that "due soon" looks by default, and at most.
const DUE_WITHIN_DEFAULT: u32 = 3;
const DUE_WITHIN_MAX: u32 = 30;

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct UnitList {
    units: Vec<Unit>,
}

#[utoipa::path(get, path = "/api/v1/departments", operation_id = "list_units", tags = ["departments", "staff"],
    responses((status = 200, description = "every handling unit staff keep: id (what cases are assigned to and a department token acts as), name, level (city or local), jurisdiction, categories", body = UnitList)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(_principal): Authenticated,
) -> Result<Json<UnitList>, ApiError> {
    Ok(Json(UnitList {
        units: units::list(state.engine.store()).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/departments", operation_id = "add_unit", tags = ["staff"], request_body = Unit,
    responses((status = 201, description = "the unit, added: city staff and admins add any unit, a banner's or district's staff the local units of their own jurisdiction; a city unit names no jurisdiction, a local one names its own (422 otherwise); an id in use is 409, never overwritten", body = Unit)))]
pub async fn add(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    // Read for what it refuses: the document lists the command headers on every POST.
    _headers: CommandHeaders,
    JsonBody(unit): JsonBody<Unit>,
) -> Result<(StatusCode, Json<Unit>), ApiError> {
    access::check(
        &principal,
        Operation::ManageUnits {
            jurisdiction: unit.jurisdiction.as_deref(),
        },
    )?;
    units::add(state.engine.store(), &unit).await?;
    tracing::info!(unit = %unit.id, by = %principal.actor.id, "unit added");
    Ok((StatusCode::CREATED, Json(unit)))
}

/// A unit's new name.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    name: String,
}

#[utoipa::path(patch, path = "/api/v1/departments/{id}", operation_id = "rename_unit", tags = ["staff"],
    params(("id" = String, Path, description = "the unit's id", pattern = r"^[^\x00-\x1f\x7f-\x9f]{1,100}$")), request_body = Rename,
    responses((status = 200, description = "the unit under its new name; its id, and every case assigned to it, stay. Who may: as for adding it", body = Unit)))]
pub async fn rename(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Authenticated(principal): Authenticated,
    JsonBody(Rename { name }): JsonBody<Rename>,
) -> Result<Json<Unit>, ApiError> {
    let store = state.engine.store();
    let unit = units::find(store, &id).await?.ok_or(units::UnitError::Unknown(id))?;
    access::check(
        &principal,
        Operation::ManageUnits {
            jurisdiction: unit.jurisdiction.as_deref(),
        },
    )?;
    units::rename(store, &unit.id, &name).await?;
    tracing::info!(unit = %unit.id, by = %principal.actor.id, "unit renamed");
    Ok(Json(Unit { name, ..unit }))
}

#[utoipa::path(get, path = "/api/v1/departments/me", operation_id = "own_unit", tags = ["departments"],
    responses((status = 200, description = "the calling department token's unit (its id and, when staff list it, its name, level, jurisdiction, categories); 403 for any other role", body = Unit)))]
pub async fn me(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<Unit>, ApiError> {
    let role = principal.actor.role;
    if role != Role::Department {
        return Err(Denied::Forbidden(role).into());
    }
    let id = principal.actor.id;
    let unit = units::find(state.engine.store(), &id).await?.unwrap_or_else(|| Unit {
        name: id.clone(),
        id,
        level: HandlingLevel::City,
        jurisdiction: None,
        categories: Vec::new(),
    });
    Ok(Json(unit))
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct Names {
    /// Unit and member ids with the names people read them by.
    names: BTreeMap<String, String>,
}

#[utoipa::path(get, path = "/api/v1/names", operation_id = "display_names", tags = ["departments", "staff"],
    responses((status = 200, description = "who each unit and member id is, for pages to show names where the API gives ids", body = Names)))]
pub async fn names(
    State(state): State<AppState>,
    Authenticated(_principal): Authenticated,
) -> Result<Json<Names>, ApiError> {
    Ok(Json(Names {
        names: names::display_names(state.engine.store()).await?,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// Working days ahead that `due_soon` looks (default 3, at most 30).
    #[param(maximum = 30)]
    due_within: Option<u32>,
    /// A log position a write answered with: wait (up to 5 s) until the queue includes it.
    #[param(minimum = 1)]
    min_position: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/departments/{id}/queue", operation_id = "unit_queue", tags = ["departments", "staff"],
    params(("id" = String, Path, description = "the unit's id", pattern = r"^[^\x00-\x1f\x7f-\x9f]{1,100}$"), QueueQuery),
    responses((status = 200, description = "the unit's open cases by what they wait for (a case may be in several buckets): \
        to_sign = the unit leads it, has not signed and has no objection pending; \
        to_reply = it leads it, has signed, has not replied, no objection pending; \
        opinions_to_send = it co-handles it and the lead unit has not replied; \
        due_soon = to_reply with the effective deadline between now and due_soon_by (due_within working days ahead); \
        overdue = it leads it, unanswered, past the effective deadline; \
        waiting_on_staff = it leads it and an objection or an extension request awaits staff. \
        Read by the unit itself, staff (a banner's or district's staff: its cases only) and auditors", body = Queue)))]
pub async fn queue(
    State(state): State<AppState>,
    path: ApiPath<String>,
    Authenticated(principal): Authenticated,
    ApiQuery(params): ApiQuery<QueueQuery>,
) -> Result<Json<Queue>, ApiError> {
    let unit = id_path(path, "unit")?;
    access::check(&principal, Operation::ReadUnit(&unit))?;
    let due_within = params.due_within.unwrap_or(DUE_WITHIN_DEFAULT);
    if due_within > DUE_WITHIN_MAX {
        return Err(ApiError::InvalidQuery(format!(
            "`due_within` is at most {DUE_WITHIN_MAX}"
        )));
    }
    caught_up(&state, CASE_SUMMARIES, params.min_position).await?;
    let engine = &state.engine;
    let (policy, unit, now) = (engine.policy(), &unit, engine.clock().now());
    let jurisdiction = access::jurisdiction_scope(&principal);
    let queue = lag_tolerant(&state, params.min_position, move |store| async move {
        Ok(queries::unit_queue(&store, policy, unit, jurisdiction, due_within, now).await?)
    })
    .await?;
    Ok(Json(queue))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ScorecardQuery {
    /// An RFC 3339 time or a date; by default the start of the current year.
    #[param(pattern = r"^[^\x00]*$")]
    from: Option<String>,
    /// An RFC 3339 time or a date (exclusive); by default now.
    #[param(pattern = r"^[^\x00]*$")]
    to: Option<String>,
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct Scorecards {
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    units: Vec<Scorecard>,
}

/// One unit's scorecard.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct UnitScorecard {
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    #[serde(flatten)]
    scorecard: Scorecard,
}

#[utoipa::path(get, path = "/api/v1/departments/{id}/scorecard", operation_id = "unit_scorecard", tags = ["departments", "staff", "audit"],
    params(("id" = String, Path, description = "the unit's id", pattern = r"^[^\x00-\x1f\x7f-\x9f]{1,100}$"), ScorecardQuery),
    responses((status = 200, description = "the unit's steps in [from, to), counted as in /api/v1/departments/scorecards (all zero when it took none); read by the unit itself, staff (a banner's or district's staff: its cases only) and auditors; 404 for a unit staff do not keep that took no step", body = UnitScorecard)))]
pub async fn scorecard(
    State(state): State<AppState>,
    ApiPath(unit): ApiPath<String>,
    Authenticated(principal): Authenticated,
    ApiQuery(params): ApiQuery<ScorecardQuery>,
) -> Result<Json<UnitScorecard>, ApiError> {
    access::check(&principal, Operation::ReadUnit(&unit))?;
    let (from, to, cards) = read_scorecards(&state, &principal, &params).await?;
    let scorecard = match cards.into_iter().find(|card| card.department == unit) {
        Some(card) => card,
        None if units::find(state.engine.store(), &unit).await?.is_some() => Scorecard {
            department: unit,
            ..Scorecard::default()
        },
        None => return Err(units::UnitError::Unknown(unit).into()),
    };
    Ok(Json(UnitScorecard { from, to, scorecard }))
}

#[utoipa::path(get, path = "/api/v1/departments/scorecards", operation_id = "unit_scorecards", tags = ["staff", "audit"], params(ScorecardQuery),
    responses((status = 200, description = "per unit, its steps taken in [from, to), read from the log (each step counts in the period its time lies in; \
        a banner's or district's staff: its cases only): \
        assigned = hand-overs of a case to the unit as lead (assign, reassign, escalate or reopen naming it; a reopening naming no unit hands the case back to its lead); \
        signed = its signatures 签收, signed_on_time = of those, within the window to sign; \
        objected = objections it raised; \
        extensions_requested = its requests for time, extensions_granted / extensions_refused = staff's answers to them; \
        replied = its replies as lead, replied_on_time_first = of those, by the case's first (statutory) deadline, \
        replied_on_time_effective = by the deadline in force when it replied (the first or an extended one); \
        evaluations = the proposers' evaluations of its replies, by grade. Units with no step in the period are absent", body = Scorecards)))]
pub async fn scorecards(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(params): ApiQuery<ScorecardQuery>,
) -> Result<Json<Scorecards>, ApiError> {
    access::check(&principal, Operation::ReadDashboards)?;
    let (from, to, units) = read_scorecards(&state, &principal, &params).await?;
    Ok(Json(Scorecards { from, to, units }))
}

/// The period a scorecard query names and every unit's scorecard for it, as far as the
/// caller's jurisdiction reaches.
async fn read_scorecards(
    state: &AppState,
    principal: &Principal,
    params: &ScorecardQuery,
) -> Result<(Timestamp, Timestamp, Vec<Scorecard>), ApiError> {
    let now = state.engine.clock().now();
    let offset = state.engine.policy().offset;
    let (from, to) = period(params.from.as_deref(), params.to.as_deref(), now, offset)?;
    let jurisdiction = access::jurisdiction_scope(principal);
    let cards = lag_tolerant(state, None, move |store| async move {
        Ok(queries::scorecards(&store, from, to, jurisdiction).await?)
    })
    .await?;
    Ok((from, to, cards))
}

/// How a case is being handled, as the case view shows it (`handling` of `GET
/// /api/v1/cases/{id}`): the units, the deadlines and lateness on record, and each unit step.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct HandlingView {
    /// The co-handling units 协办.
    co_departments: Vec<String>,
    /// Every unit that has handled the case, lead or co-handling, first seen first.
    handlers: Vec<String>,
    level: HandlingLevel,
    /// The first (statutory) deadline, never moved.
    first_due_at: Option<DateTime<Utc>>,
    /// The deadline first missed, once on record; never cleared.
    late_since: Option<DateTime<Utc>>,
    /// The ends of the lead unit's windows to sign (`acknowledge_by`) and to object (`object_by`).
    #[schema(value_type = Object)]
    windows: Windows,
    /// The lead unit's signature: `department`, `late`, `at`.
    #[schema(value_type = Option<Object>)]
    acknowledged: Option<Acknowledged>,
    /// An objection awaiting staff: `department`, `reason`, `at`.
    #[schema(value_type = Option<Object>)]
    objection: Option<Objected>,
    /// An extension request awaiting staff: `department`, `days`, `reason`, `at`.
    #[schema(value_type = Option<Object>)]
    extension_request: Option<ExtensionRequested>,
    /// Extensions granted: `days`, `previous_due_at`, `due_at`, `at`.
    #[schema(value_type = Vec<Object>)]
    extensions: Vec<ExtensionGranted>,
    /// The co-handling units' opinions: `department`, `opinion`, `at`.
    #[schema(value_type = Vec<Object>)]
    contributions: Vec<Contributed>,
    /// The lead unit's reply: `department`, `text`, `proposed_grade`, `measures`, `late` (after
    /// the first deadline), `late_against_effective`, `evaluate_by`, `at`.
    #[schema(value_type = Option<Object>)]
    reply: Option<Replied>,
}

impl From<&CaseCore> for HandlingView {
    fn from(core: &CaseCore) -> Self {
        HandlingView {
            co_departments: core.co_departments.clone(),
            handlers: core.handlers.clone(),
            level: core.level,
            first_due_at: core.first_due_at,
            late_since: core.late_since,
            windows: core.windows.clone(),
            acknowledged: core.acknowledged.clone(),
            objection: core.objection.clone(),
            extension_request: core.extension_request.clone(),
            extensions: core.extensions.clone(),
            contributions: core.contributions.clone(),
            reply: core.reply.clone(),
        }
    }
}
