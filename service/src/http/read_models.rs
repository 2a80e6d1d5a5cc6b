//! Read-model endpoints: the case list, outcome figures, duty records and assessment, the
//! overdue list, contacts, and the projections' own state. Every read takes `min_position`:
//! it waits (briefly) until the projection has applied that position, so a client reads its
//! own writes.

use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use domain::member_record::LogContact;
use domain::{HandlingLevel, Kind, Status, Timestamp};
use projections::{CaseSummary, FigureSettings, Figures, GroupBy, OutcomeFigures, CASE_SUMMARIES, MEMBER_RECORDS};
use serde::{Deserialize, Serialize};

use super::exports::{self, Form};
use super::extract::{ApiPath, ApiQuery, Authenticated, CommandHeaders, JsonBody};
use super::problem::ApiError;
use super::AppState;
use crate::access::{self, ListScope, Operation};
use crate::read::queries::{self, Assessment, CaseFilter, Cursor, MemberStanding, OverdueByDepartment, OverdueFilter};
use crate::read::Checkpoint;
use crate::store::Store;
use crate::write::engine::Logged;

/// How long a read waits for a projection to reach `min_position`.
const READ_YOUR_WRITES: Duration = Duration::from_secs(5);
const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 200;

pub(super) async fn caught_up(
    state: &AppState,
    projection: &'static str,
    min_position: Option<i64>,
) -> Result<(), ApiError> {
    let Some(position) = min_position else {
        return Ok(());
    };
    if state.projector.wait_for(projection, position, READ_YOUR_WRITES).await? {
        Ok(())
    } else {
        Err(ApiError::ProjectionBehind { projection, position })
    }
}

/// Runs a read that tolerates lag on the read standby when it may answer (see
/// [`crate::read::standby`]: with `min_position`, once it has replayed the primary's writes), on
/// the primary when not, or when the standby fails to answer. Call after [`caught_up`].
pub(super) async fn lag_tolerant<T, F, Fut>(state: &AppState, min_position: Option<i64>, read: F) -> Result<T, ApiError>
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let picked = state.reads.pick(min_position.is_some()).await;
    match read(picked.store).await {
        Err(error)
            if picked.standby
                && error
                    .store_error()
                    .is_some_and(|error| state.reads.retry_on_primary(error)) =>
        {
            read(state.reads.primary().clone()).await
        }
        answer => answer,
    }
}

/// A moment given as an RFC 3339 time or a date (its first moment, UTC).
fn moment(name: &str, text: &str) -> Result<Timestamp, ApiError> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    text.parse::<NaiveDate>()
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|moment| Utc.from_utc_datetime(&moment))
        .ok_or_else(|| ApiError::InvalidQuery(format!("`{name}` is an RFC 3339 time or a YYYY-MM-DD date")))
}

/// `[from, to)` from the query's texts: by default from the start of the current year (the
/// deployment's 1 January) to now.
pub(super) fn period(
    from: Option<&str>,
    to: Option<&str>,
    now: Timestamp,
    offset: FixedOffset,
) -> Result<(Timestamp, Timestamp), ApiError> {
    let from = match from {
        Some(text) => local_moment("from", text, offset)?,
        None => {
            let year = now.with_timezone(&offset).year();
            let new_year = NaiveDate::from_ymd_opt(year, 1, 1).map(|date| date.to_string());
            match new_year {
                Some(text) => local_moment("from", &text, offset)?,
                None => now,
            }
        }
    };
    let to = match to {
        Some(text) => local_moment("to", text, offset)?,
        None => now + chrono::Duration::seconds(1),
    };
    if to <= from {
        return Err(ApiError::InvalidQuery("`to` must be after `from`".to_owned()));
    }
    Ok((from, to))
}

fn optional_moment(name: &str, text: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    text.map(|text| moment(name, text)).transpose()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    kind: Option<Kind>,
    status: Option<Status>,
    #[param(pattern = r"^[^\x00]*$")]
    category: Option<String>,
    #[param(pattern = r"^[^\x00]*$")]
    jurisdiction: Option<String>,
    #[param(pattern = r"^[^\x00]*$")]
    department: Option<String>,
    #[param(pattern = r"^[^\x00]*$")]
    assignee: Option<String>,
    overdue: Option<bool>,
    /// Words to look for in title and body; blank searches nothing.
    #[param(pattern = r"^[^\x00]*$", max_length = 200)]
    q: Option<String>,
    /// An RFC 3339 time or a YYYY-MM-DD date.
    submitted_from: Option<String>,
    /// An RFC 3339 time or a YYYY-MM-DD date.
    submitted_to: Option<String>,
    /// The `next_cursor` of the page before.
    #[param(pattern = r"^[0-9]{1,18}_[\x21-\x7e]{1,200}$")]
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// A log position a write answered with: wait (up to 5 s) until the list includes it.
    #[param(minimum = 1)]
    min_position: Option<i64>,
    /// `json` (the default), `csv` or `xlsx`; without it, an `Accept` of `text/csv` or the xlsx
    /// type asks for that form. An export holds every matching case from `cursor` on, newest
    /// first, up to 10,000 (`limit` pages the JSON list only); `X-Next-Cursor` gives the cursor
    /// for the rest.
    #[param(pattern = r"^(json|csv|xlsx)$")]
    format: Option<String>,
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct CasePage {
    cases: Vec<CaseSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/cases", operation_id = "list_cases", tags = ["staff", "members"], params(ListQuery),
    responses((status = 200, description = "a page of cases, newest first; as CSV (UTF-8 with a BOM) or a workbook, every case the filters select that the caller may read, up to 10,000, with Chinese headers, units and members by name", content(
        (CasePage = "application/json"),
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ), headers(("X-Next-Cursor" = String, description = "an export that stopped at 10,000 cases: the `cursor` that exports the rest")))))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    access::check(&principal, Operation::ListCases)?;
    let form = Form::negotiate(params.format.as_deref(), &headers)?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::InvalidQuery(format!("`limit` is from 1 to {MAX_PAGE}")));
    }
    let after = match params.cursor.as_deref() {
        Some(text) => Some(
            Cursor::parse(text)
                .ok_or_else(|| ApiError::InvalidQuery("`cursor` is not one this list gave".to_owned()))?,
        ),
        None => None,
    };
    let text = params.q.filter(|text| !text.trim().is_empty());
    if text.as_ref().is_some_and(|text| text.chars().count() > 200) {
        return Err(ApiError::InvalidQuery("`q` is at most 200 characters".to_owned()));
    }
    let filter = CaseFilter {
        kind: params.kind,
        status: params.status,
        category: params.category,
        jurisdiction: params.jurisdiction,
        department: params.department,
        assignee: params.assignee,
        overdue: params.overdue,
        text,
        submitted_from: optional_moment("submitted_from", params.submitted_from.as_deref())?,
        submitted_to: optional_moment("submitted_to", params.submitted_to.as_deref())?,
        after,
        limit,
        scope: access::list_scope(&principal),
    };
    caught_up(&state, CASE_SUMMARIES, params.min_position).await?;
    if matches!(filter.scope, ListScope::CarriedBy(_)) {
        // Which cases a member carries is kept by the duty-record projection.
        caught_up(&state, MEMBER_RECORDS, params.min_position).await?;
    }
    if form != Form::Json {
        return exports::cases(&state, filter, form).await;
    }
    let now = state.engine.clock().now();
    let filter = &filter;
    let (cases, next) = lag_tolerant(&state, params.min_position, move |store| async move {
        Ok(queries::list_cases(&store, filter, now).await?)
    })
    .await?;
    Ok(Json(CasePage {
        cases,
        next_cursor: next.map(|cursor| cursor.to_string()),
    })
    .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutcomesQuery {
    /// An RFC 3339 time, or a `YYYY-MM-DD` date: its first moment in the deployment's time zone.
    from: Option<String>,
    /// As `from`; the period ends before it.
    to: Option<String>,
    /// `kind`, `category`, `jurisdiction`, `department` (the lead unit now), `month` (of
    /// submission), `level` (the handling level now: `local` or `city`) or `member` (each member
    /// who submitted, led or relayed a case; a case counts under each of them).
    group_by: Option<GroupBy>,
    /// `false` leaves the published figures out of the answer; they are in it by default.
    figures: Option<bool>,
    /// The weight of "basically satisfied" in 满意率, from 0 to 1; 1 by default.
    #[param(minimum = 0, maximum = 1)]
    basically_satisfied_weight: Option<f64>,
    /// A log position a write answered with: wait (up to 5 s) until the figures include it.
    #[param(minimum = 1)]
    min_position: Option<i64>,
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct Outcomes {
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    /// The moment the figures are taken at: what is open, late or answered is as of then.
    as_of: chrono::DateTime<chrono::Utc>,
    group_by: Option<GroupBy>,
    groups: Vec<OutcomeFigures>,
    /// The published figures (docs/figures.md), one row per group; absent with `figures=false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    figures: Option<Vec<Figures>>,
}

/// A moment given as an RFC 3339 time or a date: the date's first moment in the deployment's
/// time zone, as a CPPCC office counts its days.
fn local_moment(name: &str, text: &str, offset: FixedOffset) -> Result<Timestamp, ApiError> {
    match text.parse::<NaiveDate>() {
        Ok(date) => offset
            .from_local_datetime(&date.and_time(NaiveTime::MIN))
            .single()
            .map(|moment| moment.with_timezone(&Utc))
            .ok_or_else(|| ApiError::InvalidQuery(format!("`{name}` is out of range"))),
        Err(_) => moment(name, text),
    }
}

/// The weight of "basically satisfied" a query asks for, 1 by default.
fn satisfaction_weight(weight: Option<f64>) -> Result<f64, ApiError> {
    match weight {
        None => Ok(1.0),
        Some(weight) if (0.0..=1.0).contains(&weight) => Ok(weight),
        Some(_) => Err(ApiError::InvalidQuery(
            "`basically_satisfied_weight` is from 0 to 1".to_owned(),
        )),
    }
}

/// Figures over the cases submitted in `[from, to)`; by default the current year so far: the
/// funnel (`groups`) and the published figures (`figures`, docs/figures.md), both summed from
/// the day cells of the period.
#[utoipa::path(get, path = "/api/v1/outcomes", operation_id = "outcomes", tags = ["staff", "audit"], params(OutcomesQuery),
    responses((status = 200, description = "the funnel, rates and times (definitions: resolution = closed A / closed; adoption = adopted / (adopted + declined); satisfaction = satisfied or basically satisfied / rated; on time = closed by the deadline / closed with one; days: median and nearest-rank p90; every rate is {numerator, denominator, value}, value null when nothing to divide by; dates are days of the deployment's time zone), and the published figures, each rate with its numerator and denominator, as docs/figures.md defines them (left out with figures=false)", body = Outcomes)))]
pub async fn outcomes(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(params): ApiQuery<OutcomesQuery>,
) -> Result<Json<Outcomes>, ApiError> {
    access::check(&principal, Operation::ReadDashboards)?;
    let now = state.engine.clock().now();
    let policy = state.engine.policy();
    let (from, to) = period(params.from.as_deref(), params.to.as_deref(), now, policy.offset)?;
    let weight = satisfaction_weight(params.basically_satisfied_weight)?;
    caught_up(&state, CASE_SUMMARIES, params.min_position).await?;
    let jurisdiction = access::jurisdiction_scope(&principal);
    let group_by = params.group_by;
    let read = lag_tolerant(&state, params.min_position, |store| async move {
        Ok::<_, ApiError>(match jurisdiction {
            None => queries::outcomes(&store, (from, to), group_by, now, (policy, weight)).await?,
            Some(jurisdiction) => {
                let settings = FigureSettings {
                    policy,
                    basically_satisfied_weight: weight,
                };
                queries::outcomes_in_jurisdiction(&store, jurisdiction, (from, to), group_by, now, settings).await?
            }
        })
    })
    .await?;
    Ok(Json(Outcomes {
        from,
        to,
        as_of: now,
        group_by: params.group_by,
        groups: read.groups,
        figures: (params.figures != Some(false)).then_some(read.figures),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct YearQuery {
    /// The current year by default.
    #[param(minimum = 2000, maximum = 2200)]
    year: Option<i32>,
    /// A log position a write answered with: wait (up to 5 s) until the record includes it.
    #[param(minimum = 1)]
    min_position: Option<i64>,
}

fn year(state: &AppState, year: Option<i32>) -> Result<i32, ApiError> {
    let year = year.unwrap_or_else(|| queries::current_year(state.engine.clock().now()));
    if (2000..=2200).contains(&year) {
        Ok(year)
    } else {
        Err(ApiError::InvalidQuery("`year` is from 2000 to 2200".to_owned()))
    }
}

pub(super) fn member_path(path: ApiPath<String>) -> Result<String, ApiError> {
    id_path(path, "member")
}

/// A member's or a unit's id from the path, as the document's pattern allows it (1 to 100
/// characters, none a control character); any other names no `holder`: 404.
pub(super) fn id_path(ApiPath(id): ApiPath<String>, holder: &str) -> Result<String, ApiError> {
    let valid = !id.is_empty() && id.chars().count() <= 100 && !id.chars().any(char::is_control);
    if valid {
        Ok(id)
    } else {
        Err(ApiError::NotFound(format!("no {holder} has the id `{id}`")))
    }
}

#[utoipa::path(get, path = "/api/v1/members/{id}/record", operation_id = "member_record", tags = ["members", "staff", "audit"], params(("id" = String, Path, description = "the member id", pattern = r"^[^\x00-\x1f\x7f-\x9f]{1,100}$"), YearQuery),
    responses((status = 200, description = "the member's duty record and standing", body = MemberStanding)))]
pub async fn member_record(
    State(state): State<AppState>,
    path: ApiPath<String>,
    Authenticated(principal): Authenticated,
    ApiQuery(params): ApiQuery<YearQuery>,
) -> Result<Json<MemberStanding>, ApiError> {
    let member = member_path(path)?;
    let year = year(&state, params.year)?;
    caught_up(&state, MEMBER_RECORDS, params.min_position).await?;
    super::members::check_record(&state, &principal, &member).await?;
    let now = state.engine.clock().now();
    let offset = state.engine.policy().offset;
    let (member, quotas) = (&member, &state.quotas);
    Ok(Json(
        lag_tolerant(&state, params.min_position, move |store| async move {
            Ok(queries::member_record(&store, member, year, quotas, now, offset).await?)
        })
        .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/members/assessment", operation_id = "assessment", tags = ["members", "staff", "audit"], params(YearQuery),
    responses((status = 200, description = "every member's standing (district staff: their district's members of record)", body = Assessment)))]
pub async fn assessment(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(params): ApiQuery<YearQuery>,
) -> Result<Json<Assessment>, ApiError> {
    access::check(&principal, Operation::ReadAssessment)?;
    let year = year(&state, params.year)?;
    caught_up(&state, MEMBER_RECORDS, params.min_position).await?;
    let now = state.engine.clock().now();
    let offset = state.engine.policy().offset;
    let jurisdiction = access::jurisdiction_scope(&principal);
    let quotas = &state.quotas;
    Ok(Json(
        lag_tolerant(&state, params.min_position, move |store| async move {
            Ok(queries::assessment(&store, year, quotas, now, offset, jurisdiction).await?)
        })
        .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/members/{id}/contacts", operation_id = "log_contact", tags = ["members", "staff"], params(("id" = String, Path, description = "the member id", pattern = r"^[^\x00-\x1f\x7f-\x9f]{1,100}$")),
    request_body = domain::member_record::LogContact,
    responses((status = 201, description = "logged", body = crate::write::engine::Logged)))]
pub async fn log_contact(
    State(state): State<AppState>,
    path: ApiPath<String>,
    Authenticated(principal): Authenticated,
    headers: CommandHeaders,
    JsonBody(input): JsonBody<LogContact>,
) -> Result<(StatusCode, Json<Logged>), ApiError> {
    let member = member_path(path)?;
    let context = headers.context(principal, None);
    let logged = state.engine.log_contact(&member, context, input).await?;
    Ok((StatusCode::CREATED, Json(logged)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OverdueQuery {
    /// Only this department; empty for the cases no department was assigned.
    #[param(pattern = r"^[^\x00-\x1f\x7f-\x9f]*$", max_length = 100)]
    department: Option<String>,
    /// Cases per department, most overdue first: 1 to 100, by default 10.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// A department's `next_cursor`, for its next cases; needs `department`.
    #[param(pattern = r"^[0-9]{1,18}_[\x21-\x7e]{1,200}$")]
    cursor: Option<String>,
    /// Only the cases handled at this level now: `local` (the banner or district) or `city`
    /// (escalated by 市旗联动).
    level: Option<HandlingLevel>,
    /// A log position a write answered with: wait (up to 5 s) until the list includes it.
    #[param(minimum = 1)]
    min_position: Option<i64>,
}

/// As long as a department name `assign` accepts.
const DEPARTMENT_MAX: usize = 100;

#[utoipa::path(get, path = "/api/v1/overdue", operation_id = "overdue", tags = ["staff", "audit"], params(OverdueQuery),
    responses((status = 200, description = "open cases past their deadline (at one handling `level` when given), by department in name order: how many, and the most overdue of them (`limit` each, most overdue first)", body = [OverdueByDepartment])))]
pub async fn overdue(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(params): ApiQuery<OverdueQuery>,
) -> Result<Json<Vec<OverdueByDepartment>>, ApiError> {
    access::check(&principal, Operation::ReadDashboards)?;
    let limit = params.limit.unwrap_or(OverdueFilter::DEFAULT_LIMIT);
    if !(1..=OverdueFilter::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidQuery(format!(
            "`limit` is from 1 to {}",
            OverdueFilter::MAX_LIMIT
        )));
    }
    if params.department.as_ref().is_some_and(|department| {
        department.chars().count() > DEPARTMENT_MAX || department.chars().any(char::is_control)
    }) {
        return Err(ApiError::InvalidQuery(format!(
            "`department` is one line of at most {DEPARTMENT_MAX} characters"
        )));
    }
    let after = match params.cursor.as_deref() {
        Some(_) if params.department.is_none() => {
            return Err(ApiError::InvalidQuery(
                "`cursor` pages within one department: name it in `department`".to_owned(),
            ))
        }
        Some(text) => Some(
            Cursor::parse(text)
                .ok_or_else(|| ApiError::InvalidQuery("`cursor` is not one this list gave".to_owned()))?,
        ),
        None => None,
    };
    let filter = OverdueFilter {
        department: params.department,
        after,
        limit,
        jurisdiction: access::jurisdiction_scope(&principal).map(str::to_owned),
        level: params.level,
    };
    caught_up(&state, CASE_SUMMARIES, params.min_position).await?;
    let now = state.engine.clock().now();
    let filter = &filter;
    Ok(Json(
        lag_tolerant(&state, params.min_position, move |store| async move {
            Ok(queries::overdue_by_department(&store, filter, now).await?)
        })
        .await?,
    ))
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct Projections {
    projections: Vec<Checkpoint>,
}

#[utoipa::path(get, path = "/api/v1/projections", operation_id = "projections", tag = "operations",
    responses((status = 200, description = "each projection's checkpoint and lag", body = Projections)))]
pub async fn projections(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<Projections>, ApiError> {
    access::check(&principal, Operation::ReadProjections)?;
    Ok(Json(Projections {
        projections: state.projector.checkpoints().await?,
    }))
}
