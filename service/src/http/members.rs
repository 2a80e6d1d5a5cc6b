//! The member registry and duty years over HTTP: registering and changing members, staff's
//! decisions on duty years, and one member's archive 一人一档 (JSON, or CSV and xlsx through
//! `exports`).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::member_record::MemberInput;
use domain::member_registry::{MemberLevel, Register};
use projections::MEMBER_RECORDS;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::exports::{self, Form};
use super::extract::{read_json, ApiPath, ApiQuery, Authenticated, CommandHeaders};
use super::problem::ApiError;
use super::read_models::{caught_up, lag_tolerant, member_path};
use super::AppState;
use crate::access;
use crate::access::names::display_names;
use crate::read::queries::{self, Archive, MemberEntry};
use crate::write::engine::Logged;

fn typed<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_json::from_value(body).map_err(|error| ApiError::InvalidBody(error.to_string()))
}

/// The registry's and the duty years' commands, each a route of its own
/// (`POST /api/v1/members/{id}/<command>`), all served by [`command`]; the OpenAPI document
/// describes each (`openapi::member_command_doc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberCommand {
    Register,
    Change,
    Leave,
    Activities,
    /// 约谈提醒
    ReminderTalks,
    /// 启动请辞程序
    Resignations,
    ReopenedYears,
}

impl MemberCommand {
    pub const ALL: [MemberCommand; 7] = [
        MemberCommand::Register,
        MemberCommand::Change,
        MemberCommand::Leave,
        MemberCommand::Activities,
        MemberCommand::ReminderTalks,
        MemberCommand::Resignations,
        MemberCommand::ReopenedYears,
    ];

    /// The command's last path segment.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberCommand::Register => "register",
            MemberCommand::Change => "change",
            MemberCommand::Leave => "leave",
            MemberCommand::Activities => "activities",
            MemberCommand::ReminderTalks => "reminder_talks",
            MemberCommand::Resignations => "resignations",
            MemberCommand::ReopenedYears => "reopened_years",
        }
    }

    /// The command's input, read from its body.
    fn input(self, body: Value) -> Result<MemberInput, ApiError> {
        Ok(match self {
            MemberCommand::Register => MemberInput::Register(typed(body)?),
            MemberCommand::Change => MemberInput::Change(typed(body)?),
            MemberCommand::Leave => MemberInput::Leave(typed(body)?),
            MemberCommand::Activities => MemberInput::RecordActivity(typed(body)?),
            MemberCommand::ReminderTalks => MemberInput::ReminderTalk(typed(body)?),
            MemberCommand::Resignations => MemberInput::StartResignation(typed(body)?),
            MemberCommand::ReopenedYears => MemberInput::ReopenYear(typed(body)?),
        })
    }
}

/// Runs `command` on the member the path names.
pub async fn command(
    command: MemberCommand,
    State(state): State<AppState>,
    path: ApiPath<String>,
    Authenticated(principal): Authenticated,
    headers: CommandHeaders,
    request: Request,
) -> Result<(StatusCode, Json<Logged>), ApiError> {
    let member = member_path(path)?;
    let body = read_json(request, &state).await?;
    let name = command.as_str();
    let context = headers.context(principal, Some((&format!("member:{member}/{name}"), &body)));
    let input = command.input(body)?;
    let logged = state.engine.member_command(&member, context, input).await?;
    Ok((StatusCode::CREATED, Json(logged)))
}

/// A registration with the member's id in the body: the document states the body as
/// `Registration`: `Register`'s fields and `id` (`openapi::add_member_commands`).
#[utoipa::path(post, path = "/api/v1/members", operation_id = "register_member", tags = ["staff"], request_body = Register,
    responses((status = 201, description = "registered: the member's stream, version and the event's log position (city staff and admins; an id registered already is 409)", body = crate::write::engine::Logged)))]
pub async fn register(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    headers: CommandHeaders,
    request: Request,
) -> Result<(StatusCode, Json<Logged>), ApiError> {
    let body = read_json(request, &state).await?;
    let context = headers.context(principal, Some(("members/register", &body)));
    let mut body = body;
    let id = body.as_object_mut().and_then(|fields| fields.remove("id"));
    let id: String = typed(id.ok_or_else(|| ApiError::InvalidBody("missing field `id`".to_owned()))?)?;
    let register: Register = typed(body)?;
    // In a body, a malformed id is an invalid field, not a member that is not there.
    let member = member_path(ApiPath(id))
        .map_err(|_| ApiError::InvalidBody("`id` is 1 to 100 characters, none a control character".to_owned()))?;
    let logged = state
        .engine
        .member_command(&member, context, MemberInput::Register(register))
        .await?;
    Ok((StatusCode::CREATED, Json(logged)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RegistryQuery {
    /// Only the members of this sector 界别.
    #[param(pattern = r"^[^\x00]*$")]
    sector: Option<String>,
    level: Option<MemberLevel>,
    /// Only the members of record of this banner or district.
    #[param(pattern = r"^[^\x00]*$")]
    jurisdiction: Option<String>,
    /// A log position a write answered with: wait (up to 5 s) until the registry includes it.
    #[param(minimum = 1)]
    min_position: Option<i64>,
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct Registry {
    members: Vec<MemberEntry>,
}

#[utoipa::path(get, path = "/api/v1/members", operation_id = "list_members", tags = ["members", "staff", "audit"], params(RegistryQuery),
    responses((status = 200, description = "the registry, by member id: staff and auditors (a banner's or district's staff: its members of record)", body = Registry)))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(params): ApiQuery<RegistryQuery>,
) -> Result<Json<Registry>, ApiError> {
    access::check(&principal, access::Operation::ReadAssessment)?;
    caught_up(&state, MEMBER_RECORDS, params.min_position).await?;
    let scope = access::jurisdiction_scope(&principal);
    let wanted = |entry: &MemberEntry| {
        let jurisdiction = entry.jurisdiction.as_deref();
        scope.is_none_or(|own| jurisdiction == Some(own))
            && params
                .jurisdiction
                .as_deref()
                .is_none_or(|wanted| jurisdiction == Some(wanted))
            && params.sector.as_deref().is_none_or(|wanted| entry.sector == wanted)
            && params.level.is_none_or(|wanted| entry.level == wanted.as_str())
    };
    let mut members = queries::entries(state.engine.store(), None).await?;
    members.retain(wanted);
    Ok(Json(Registry { members }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ArchiveQuery {
    /// `csv` (UTF-8 with a BOM) or `xlsx` for a spreadsheet, as an `Accept` of either asks
    /// too; `json` (the default) otherwise.
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
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<ArchiveQuery>,
) -> Result<Response, ApiError> {
    let member = member_path(path)?;
    let form = Form::negotiate(params.format.as_deref(), &headers)?;
    caught_up(&state, MEMBER_RECORDS, params.min_position).await?;
    check_record(&state, &principal, &member).await?;
    let now = state.engine.clock().now();
    let offset = state.engine.policy().offset;
    let (member, quotas) = (&member, &state.quotas);
    let archive = lag_tolerant(&state, params.min_position, move |store| async move {
        Ok(queries::archive(&store, member, quotas, now, offset).await?)
    })
    .await?;
    let table = match form {
        Form::Json => return Ok(Json(archive).into_response()),
        _ => exports::archive_table(&archive, &display_names(state.engine.store()).await?),
    };
    let body = match form {
        Form::Xlsx => exports::workbook([("一人一档".to_owned(), &table)], offset)
            .map_err(|error| ApiError::Export(format!("the archive of {member} as xlsx: {error}")))?,
        _ => table.csv(offset),
    };
    Ok(exports::attachment(form, "archive", body))
}

#[utoipa::path(get, path = "/api/v1/members/{id}", operation_id = "show_member", tags = ["members", "staff", "audit"],
    params(("id" = String, Path, description = "the member id", pattern = r"^[^\x00-\x1f\x7f-\x9f]{1,100}$"), ArchiveQuery),
    responses((status = 200, description = "the member's archive 一人一档, as `/api/v1/members/{id}/archive` answers it", content(
        (Archive = "application/json"),
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ))))]
pub async fn show(
    state: State<AppState>,
    path: ApiPath<String>,
    principal: Authenticated,
    headers: HeaderMap,
    query: ApiQuery<ArchiveQuery>,
) -> Result<Response, ApiError> {
    archive(state, path, principal, headers, query).await
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
