//! The member registry and duty years over HTTP: registering and changing members, staff's
//! decisions on duty years, and one member's archive 一人一档 (JSON or CSV).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::member_record::MemberInput;
use projections::MEMBER_RECORDS;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::extract::{read_json, ApiPath, ApiQuery, Authenticated, CommandHeaders};
use super::problem::ApiError;
use super::read_models::{caught_up, lag_tolerant, member_path};
use super::AppState;
use crate::access;
use crate::read::queries::{self, Archive};
use crate::store::StoreError;
use crate::write::engine::Logged;

fn typed<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_json::from_value(body).map_err(|error| ApiError::InvalidBody(error.to_string()))
}

/// The command a path names, read from its body.
fn member_input(command: &str, body: Value) -> Result<MemberInput, ApiError> {
    Ok(match command {
        "register" => MemberInput::Register(typed(body)?),
        "change" => MemberInput::Change(typed(body)?),
        "leave" => MemberInput::Leave(typed(body)?),
        "activities" => MemberInput::RecordActivity(typed(body)?),
        "reminder_talks" => MemberInput::ReminderTalk(typed(body)?),
        "resignations" => MemberInput::StartResignation(typed(body)?),
        "reopened_years" => MemberInput::ReopenYear(typed(body)?),
        other => return Err(ApiError::NotFound(format!("there is no member command `{other}`"))),
    })
}

/// `register`, `change`, `leave`, `activities`, `reminder_talks` (约谈提醒), `resignations`
/// (启动请辞程序), `reopened_years`.
#[utoipa::path(post, path = "/api/v1/members/{id}/{command}", operation_id = "member_command", tags = ["staff"],
    params(("id" = String, Path, description = "the member id"),
           ("command" = String, Path, description = "register, change, leave, activities, reminder_talks, resignations or reopened_years", pattern = "^(register|change|leave|activities|reminder_talks|resignations|reopened_years)$")),
    request_body = Object,
    responses((status = 201, description = "recorded", body = crate::write::engine::Logged)))]
pub async fn command(
    State(state): State<AppState>,
    ApiPath((member, command)): ApiPath<(String, String)>,
    Authenticated(principal): Authenticated,
    headers: CommandHeaders,
    request: Request,
) -> Result<(StatusCode, Json<Logged>), ApiError> {
    let member = member_path(ApiPath(member))?;
    let body = read_json(request, &state).await?;
    let context = headers.context(principal, Some((&format!("member:{member}/{command}"), &body)));
    let input = member_input(&command, body)?;
    let logged = state.engine.member_command(&member, context, input).await?;
    Ok((StatusCode::CREATED, Json(logged)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ArchiveQuery {
    /// `csv` (UTF-8 with a BOM) or `xlsx` for a spreadsheet; `json` (the default) otherwise.
    #[param(pattern = r"^(json|csv|xlsx)$")]
    format: Option<String>,
    /// A log position a write answered with: wait (up to 5 s) until the archive includes it.
    #[param(minimum = 1)]
    min_position: Option<i64>,
}

/// Every year of the member's term so far: registry data, counts against each quota item, the
/// events behind every count (`stream` is the case id), reminders and decisions.
#[utoipa::path(get, path = "/api/v1/members/{id}/archive", operation_id = "member_archive", tags = ["members", "staff", "audit"],
    params(("id" = String, Path, description = "the member id", pattern = r"^[^\x00-\x1f\x7f-\x9f]{1,100}$"), ArchiveQuery),
    responses((status = 200, description = "the member's archive 一人一档: JSON, or with format=csv or format=xlsx a table", content(
        (Archive = "application/json"),
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ))))]
pub async fn archive(
    State(state): State<AppState>,
    path: ApiPath<String>,
    Authenticated(principal): Authenticated,
    ApiQuery(params): ApiQuery<ArchiveQuery>,
) -> Result<Response, ApiError> {
    let member = member_path(path)?;
    caught_up(&state, MEMBER_RECORDS, params.min_position).await?;
    check_record(&state, &principal, &member).await?;
    let now = state.engine.clock().now();
    let offset = state.engine.policy().offset;
    let (member, quotas) = (&member, &state.quotas);
    let archive = lag_tolerant(&state, params.min_position, move |store| async move {
        Ok(queries::archive(&store, member, quotas, now, offset).await?)
    })
    .await?;
    match params.format.as_deref() {
        None | Some("json") => Ok(Json(archive).into_response()),
        Some("csv") => Ok(attachment(
            "text/csv; charset=utf-8",
            "archive.csv",
            queries::archive_csv(&archive),
        )),
        Some("xlsx") => {
            // Written to memory: a failure is the service's own, answered as a 500.
            let workbook = queries::archive_xlsx(&archive)
                .map_err(|error| ApiError::Engine(StoreError::Corrupt(error.to_string()).into()))?;
            Ok(attachment(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "archive.xlsx",
                workbook,
            ))
        }
        Some(_) => Err(ApiError::InvalidQuery("`format` is json, csv or xlsx".to_owned())),
    }
}

/// A file to download.
fn attachment(content_type: &'static str, name: &'static str, body: impl IntoResponse) -> Response {
    let disposition = format!("attachment; filename=\"{name}\"");
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(disposition) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    (headers, body).into_response()
}

/// Who may read `member`'s record: its jurisdiction of record decides for district staff.
pub(super) async fn check_record(
    state: &AppState,
    principal: &crate::access::tokens::Principal,
    member: &str,
) -> Result<(), ApiError> {
    let entry = queries::entries(state.engine.store(), Some(member)).await?.pop();
    let jurisdiction = entry.as_ref().and_then(|entry| entry.jurisdiction.as_deref());
    access::check(principal, access::Operation::ReadMemberRecord { member, jurisdiction })?;
    Ok(())
}
