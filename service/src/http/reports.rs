//! Published reports: staff publish the figures of a year, a quarter or a month
//! (`POST /api/v1/reports`); anyone who reads dashboards lists them and reads one beside today's
//! recomputation of the same period, with the cases that changed since.
//!
//! Publishing waits until the case summaries have applied the whole log as it stood when the
//! request came (the position recorded), computes the figures of the period (all cases, and
//! grouped by kind, category, jurisdiction, handling unit and month) and the version each case
//! stood at, and appends them as the report's one event (`domain::report`). A report is read
//! back from that event alone: no projection, so no rebuild or later event changes it.
//!
//! `format=csv` answers a report as CSV for Excel and WPS: UTF-8 with a byte-order mark (without
//! it both read the text as the local code page), one row per figure of each group, Chinese
//! headers, numbers as plain numbers. `format=xlsx` answers a workbook: the report's period
//! (dates as dates, in the deployment's time zone), a sheet of its figures, one per grouping and
//! one of the cases it counted; numbers are numbers.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::FixedOffset;
use domain::report::{self, Computed, CountedCase, Publish, Published, ReportPeriod};
use domain::{CaseError, Role};
use projections::{Durations, FigureSettings, Figures, GroupBy, Rate, CASE_SUMMARIES};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{ApiPath, ApiQuery, Authenticated, CommandHeaders, JsonBody};
use super::problem::ApiError;
use super::AppState;
use crate::access::{self, Denied, Operation};
use crate::read::queries::Cohort;
use crate::store::{on_pool, Store, StoreError};
use crate::write::engine::{EngineError, ReportPublished};

/// How long publishing waits for the case summaries to apply the log.
const CATCH_UP: Duration = Duration::from_secs(10);

/// The groupings a report holds beside its totals.
const GROUPINGS: [GroupBy; 5] = [
    GroupBy::Kind,
    GroupBy::Category,
    GroupBy::Jurisdiction,
    GroupBy::Department,
    GroupBy::Month,
];

/// The figures a report freezes: the period's totals and each grouping's rows.
#[derive(utoipa::ToSchema, Debug, Serialize, Deserialize)]
pub struct ReportFigures {
    pub all: Figures,
    /// By `kind`, `category`, `jurisdiction`, `department` and `month`.
    pub by: BTreeMap<String, Vec<Figures>>,
}

fn group_name(group_by: GroupBy) -> String {
    serde_json::to_value(group_by)
        .ok()
        .and_then(|name| name.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The figures of `cohort` as of `now`, with the deployment's settings and a full weight for
/// "basically satisfied".
fn report_figures(state: &AppState, cohort: &Cohort, now: domain::Timestamp) -> ReportFigures {
    let settings = FigureSettings {
        policy: state.engine.policy(),
        basically_satisfied_weight: 1.0,
    };
    let mut all = cohort.figures(None, now, settings);
    ReportFigures {
        all: all.pop().unwrap_or_default(),
        by: GROUPINGS
            .into_iter()
            .map(|group_by| (group_name(group_by), cohort.figures(Some(group_by), now, settings)))
            .collect(),
    }
}

fn invalid_period(reason: &str) -> ApiError {
    ApiError::Engine(EngineError::Refused(CaseError::invalid("period", reason)))
}

#[utoipa::path(post, path = "/api/v1/reports", operation_id = "publish_report", tags = ["staff"], request_body = domain::report::Publish,
    responses((status = 201, description = "published: the report's id and the log position of its event", body = ReportPublished)))]
pub async fn publish(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    headers: CommandHeaders,
    JsonBody(input): JsonBody<Publish>,
) -> Result<(StatusCode, Json<ReportPublished>), ApiError> {
    if principal.actor.role != Role::Staff {
        return Err(ApiError::Engine(EngineError::Denied(Denied::Forbidden(
            principal.actor.role,
        ))));
    }
    let period = ReportPeriod::parse(&input.period).ok_or_else(|| invalid_period("YYYY, YYYY-Qn or YYYY-MM"))?;
    let (from, to) = period.bounds(state.engine.policy().offset);
    let store = state.engine.store();
    let position = store.head_position().await?;
    if position > 0 && !state.projector.wait_for(CASE_SUMMARIES, position, CATCH_UP).await? {
        return Err(ApiError::ProjectionBehind {
            projection: CASE_SUMMARIES,
            position,
        });
    }
    let now = state.engine.clock().now();
    let cohort = Cohort::read(store, None, (from, to)).await?;
    let figures = report_figures(&state, &cohort, now);
    let computed = Computed {
        from,
        to,
        position,
        figures: serde_json::to_value(&figures).map_err(|error| StoreError::Corrupt(error.to_string()))?,
        cases: counted(&cohort),
    };
    let context = headers.context(principal, None);
    let published = state.engine.publish(context, input.period, computed).await?;
    Ok((StatusCode::CREATED, Json(published)))
}

fn counted(cohort: &Cohort) -> Vec<CountedCase> {
    cohort
        .summaries
        .iter()
        .map(|case| CountedCase {
            id: case.id.clone(),
            version: case.version,
        })
        .collect()
}

/// A report as listed: what it covers, without its figures.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct ReportEntry {
    pub id: String,
    pub period: String,
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    pub position: i64,
    pub by: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The published event of report `id`, as stored; `None` when there is no such report.
async fn published(store: &Store, id: &str) -> Result<Option<Published>, ApiError> {
    let events = store.stream_events(&format!("{}{id}", report::STREAM_PREFIX)).await?;
    let Some(event) = events.first() else {
        return Ok(None);
    };
    let published = serde_json::from_value(event.payload.clone())
        .map_err(|error| StoreError::Corrupt(format!("report {id}: {error}")))?;
    Ok(Some(published))
}

async fn report_ids(store: &Store) -> Result<Vec<String>, StoreError> {
    const SQL: &str = "SELECT aggregate_id FROM events WHERE aggregate_type = $1 AND sequence = 1 ORDER BY position";
    let streams: Vec<String> = on_pool!(store, |pool| sqlx::query_scalar(SQL)
        .bind(<domain::report::Report as cqrs_es::Aggregate>::TYPE)
        .fetch_all(pool)
        .await?);
    Ok(streams
        .into_iter()
        .filter_map(|stream| stream.strip_prefix(report::STREAM_PREFIX).map(str::to_owned))
        .collect())
}

#[utoipa::path(get, path = "/api/v1/reports", operation_id = "list_reports", tags = ["staff", "audit"],
    responses((status = 200, description = "the published reports, first published first", body = [ReportEntry])))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<Vec<ReportEntry>>, ApiError> {
    access::check(&principal, Operation::ReadDashboards)?;
    let store = state.engine.store();
    let mut entries = Vec::new();
    for id in report_ids(store).await? {
        if let Some(report) = published(store, &id).await? {
            entries.push(ReportEntry {
                id,
                period: report.period,
                from: report.from,
                to: report.to,
                position: report.position,
                by: report.by,
                at: report.at,
            });
        }
    }
    Ok(Json(entries))
}

/// How today's cases of a report's period differ from those it counted.
#[derive(utoipa::ToSchema, Debug, Default, Serialize, PartialEq)]
pub struct Changes {
    /// Cases with events since the report counted them.
    pub changed: Vec<String>,
    /// Cases of the period the report did not count.
    pub added: Vec<String>,
    /// Cases the report counted that are no longer of the period.
    pub removed: Vec<String>,
}

impl Changes {
    fn between(counted: &[CountedCase], today: &[CountedCase]) -> Changes {
        let before: BTreeMap<&str, u64> = counted.iter().map(|case| (case.id.as_str(), case.version)).collect();
        let now: BTreeMap<&str, u64> = today.iter().map(|case| (case.id.as_str(), case.version)).collect();
        let mut changes = Changes::default();
        for (id, version) in &now {
            match before.get(id) {
                None => changes.added.push((*id).to_owned()),
                Some(counted) if counted != version => changes.changed.push((*id).to_owned()),
                Some(_) => {}
            }
        }
        changes.removed = before
            .keys()
            .filter(|id| !now.contains_key(*id))
            .map(|id| (*id).to_owned())
            .collect();
        changes
    }
}

/// A report as published, beside today's recomputation of its period.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct ReportReading {
    pub id: String,
    /// The report exactly as published.
    pub report: Published,
    /// The same period's figures as of now.
    pub today: ReportFigures,
    pub changes: Changes,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `json` (the default), `csv` (the published figures, UTF-8 with a BOM) or `xlsx` (a
    /// workbook: the period, the figures, one sheet per grouping, the cases counted).
    #[param(pattern = r"^(json|csv|xlsx)$")]
    format: Option<String>,
}

/// The forms a report is answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Json,
    Csv,
    Xlsx,
}

#[utoipa::path(get, path = "/api/v1/reports/{id}", operation_id = "show_report", tags = ["staff", "audit"], params(("id" = uuid::Uuid, Path, description = "the report id (a UUID)"), ReportQuery),
    responses((status = 200, description = "the report as published, today's figures of its period and the cases that changed; with format=csv or format=xlsx, the published figures as CSV (UTF-8 with a BOM) or as a workbook", content(
        (ReportReading = "application/json"),
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ))))]
pub async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Authenticated(principal): Authenticated,
    ApiQuery(params): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    access::check(&principal, Operation::ReadDashboards)?;
    let form = match params.format.as_deref() {
        None | Some("json") => Form::Json,
        Some("csv") => Form::Csv,
        Some("xlsx") => Form::Xlsx,
        Some(_) => return Err(ApiError::InvalidQuery("`format` is `json`, `csv` or `xlsx`".to_owned())),
    };
    let not_found = || ApiError::NotFound(format!("no report has the id `{id}`"));
    let id = Uuid::parse_str(&id).map_err(|_| not_found())?.to_string();
    let store = state.engine.store();
    let report = published(store, &id).await?.ok_or_else(not_found)?;
    if form != Form::Json {
        let figures: ReportFigures = serde_json::from_value(report.figures.clone())
            .map_err(|error| StoreError::Corrupt(format!("report {id}: {error}")))?;
        let (content_type, extension, body) = match form {
            Form::Csv => ("text/csv; charset=utf-8", "csv", figures_csv(&figures).into_bytes()),
            _ => (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
                report_xlsx(&report, &figures, state.engine.policy().offset)
                    .map_err(|error| StoreError::Corrupt(format!("report {id} as xlsx: {error}")))?,
            ),
        };
        let headers = [
            (CONTENT_TYPE, content_type.to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"report-{}.{extension}\"", report.period),
            ),
        ];
        return Ok((headers, body).into_response());
    }
    let now = state.engine.clock().now();
    let cohort = Cohort::read(store, None, (report.from, report.to)).await?;
    let changes = Changes::between(&report.cases, &counted(&cohort));
    Ok(Json(ReportReading {
        id,
        today: report_figures(&state, &cohort, now),
        report,
        changes,
    })
    .into_response())
}

/// One figure as a row: its name, numerator, denominator and value (or a count alone).
struct FigureRow {
    name: String,
    numerator: Option<f64>,
    denominator: Option<u64>,
    value: Option<f64>,
}

fn count(name: &str, count: u64) -> FigureRow {
    FigureRow {
        name: name.to_owned(),
        numerator: None,
        denominator: None,
        value: Some(count as f64),
    }
}

fn rate(name: &str, rate: &Rate) -> FigureRow {
    FigureRow {
        name: name.to_owned(),
        numerator: Some(rate.numerator as f64),
        denominator: Some(rate.denominator),
        value: rate.value,
    }
}

fn times(name: &str, durations: &Durations) -> [FigureRow; 3] {
    let value = |suffix: &str, value: Option<f64>| FigureRow {
        name: format!("{name}{suffix}"),
        numerator: None,
        denominator: None,
        value,
    };
    [
        value("（件数）", Some(durations.count as f64)),
        value("（中位数）", durations.median),
        value("（P90）", durations.p90),
    ]
}

/// Every figure of a group as rows, in the order docs/figures.md gives them.
fn figure_rows(figures: &Figures) -> Vec<FigureRow> {
    let mut rows = vec![
        count("提交件数", figures.submitted),
        count("合并件数", figures.merged),
        count("撤回件数", figures.withdrawn),
        count("有效件数", figures.voices),
        rate("交办率", &figures.assigned),
        rate("按时签收率", &figures.signed_on_time),
        rate("办复率", &figures.answered),
        rate("按时办复率（首次期限）", &figures.answered_on_time),
        rate("按时办复率（有效期限）", &figures.answered_on_time_effective),
        rate("解决率（占全部）", &figures.resolved),
        rate("解决率（占办结）", &figures.resolved_of_closed),
        rate("A类占比", &figures.outcome_shares.a),
        rate("B类占比", &figures.outcome_shares.b),
        rate("C类占比", &figures.outcome_shares.c),
    ];
    for (kind, adoption) in &figures.adoption {
        rows.push(rate(&format!("采纳率（{kind}）"), &adoption.adopted));
        rows.push(rate(&format!("全部采纳率（{kind}）"), &adoption.fully));
    }
    let satisfaction = &figures.satisfaction;
    rows.extend([
        rate("调研建议采纳率", &figures.recommendations_adopted),
        FigureRow {
            name: "满意率".to_owned(),
            numerator: Some(satisfaction.numerator),
            denominator: Some(satisfaction.denominator),
            value: satisfaction.value,
        },
        count("代为评价件数", satisfaction.staff_recorded.total()),
        count("未评价件数", satisfaction.no_evaluation),
        rate("重办率", &figures.reopened),
        rate("在办逾期率", &figures.open_late),
        rate("办结逾期率", &figures.closed_late),
    ]);
    rows.extend(times("签收用时（工作日）", &figures.working_days_to_sign));
    rows.extend(times("办复用时（工作日）", &figures.working_days_to_answer));
    rows.extend(times("办结用时（工作日）", &figures.working_days_to_close));
    rows
}

/// A CSV field, quoted when it must be.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn number(value: Option<f64>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}

/// The figures of a report as CSV: UTF-8 with a byte-order mark, CRLF line ends.
fn figures_csv(figures: &ReportFigures) -> String {
    let mut csv = String::from("\u{feff}分组方式,分组,指标,分子,分母,数值\r\n");
    let groups = std::iter::once(("全部", &figures.all)).chain(
        figures
            .by
            .iter()
            .flat_map(|(grouping, rows)| rows.iter().map(move |figures| (grouping.as_str(), figures))),
    );
    for (grouping, group) in groups {
        for row in figure_rows(group) {
            let line = [
                field(grouping),
                field(&group.group),
                field(&row.name),
                number(row.numerator),
                row.denominator
                    .map(|denominator| denominator.to_string())
                    .unwrap_or_default(),
                number(row.value),
            ];
            csv.push_str(&line.join(","));
            csv.push_str("\r\n");
        }
    }
    csv
}

/// The sheet of a grouping, by its `group_by` name.
fn sheet_name(grouping: &str) -> String {
    let name = match grouping {
        "kind" => "按类型",
        "category" => "按领域",
        "jurisdiction" => "按属地",
        "department" => "按承办单位",
        "month" => "按月份",
        other => other,
    };
    name.to_owned()
}

/// Writes `rows` of figures of `groups` under a header, from the sheet's first row.
fn write_figures<'a>(
    sheet: &mut Worksheet,
    groups: impl IntoIterator<Item = &'a Figures>,
    bold: &Format,
) -> Result<(), XlsxError> {
    for (column, header) in ["分组", "指标", "分子", "分母", "数值"].into_iter().enumerate() {
        sheet.write_string_with_format(0, column as u16, header, bold)?;
    }
    let mut row = 1;
    for group in groups {
        for figure in figure_rows(group) {
            sheet.write_string(row, 0, &group.group)?;
            sheet.write_string(row, 1, &figure.name)?;
            if let Some(numerator) = figure.numerator {
                sheet.write_number(row, 2, numerator)?;
            }
            if let Some(denominator) = figure.denominator {
                sheet.write_number(row, 3, denominator as f64)?;
            }
            if let Some(value) = figure.value {
                sheet.write_number(row, 4, value)?;
            }
            row += 1;
        }
    }
    sheet.set_column_width(1, 24)?;
    Ok(())
}

/// A report as a workbook: 报告 (the period), 指标 (the figures of all cases), one sheet per
/// grouping, 案件 (the cases counted).
fn report_xlsx(report: &Published, figures: &ReportFigures, offset: FixedOffset) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let moment = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let local = |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&offset).naive_local();
    let sheet = workbook.add_worksheet().set_name("报告")?;
    let labels = ["期间", "起始日", "截止日", "发布时间", "日志位置", "发布人"];
    for (row, label) in labels.into_iter().enumerate() {
        sheet.write_string_with_format(row as u32, 0, label, &bold)?;
    }
    sheet.write_string(0, 1, &report.period)?;
    sheet.write_datetime_with_format(1, 1, local(report.from).date(), &date)?;
    let last_day = local(report.to).date() - chrono::Days::new(1);
    sheet.write_datetime_with_format(2, 1, last_day, &date)?;
    sheet.write_datetime_with_format(3, 1, local(report.at), &moment)?;
    sheet.write_number(4, 1, report.position as f64)?;
    sheet.write_string(5, 1, &report.by)?;
    sheet.set_column_width(1, 20)?;
    write_figures(workbook.add_worksheet().set_name("指标")?, [&figures.all], &bold)?;
    for (grouping, groups) in &figures.by {
        write_figures(workbook.add_worksheet().set_name(sheet_name(grouping))?, groups, &bold)?;
    }
    let sheet = workbook.add_worksheet().set_name("案件")?;
    sheet.write_string_with_format(0, 0, "案件编号", &bold)?;
    sheet.write_string_with_format(0, 1, "计入时事件数", &bold)?;
    for (row, case) in report.cases.iter().enumerate() {
        sheet.write_string(row as u32 + 1, 0, &case.id)?;
        sheet.write_number(row as u32 + 1, 1, case.version as f64)?;
    }
    sheet.set_column_width(0, 38)?;
    workbook.save_to_buffer()
}
