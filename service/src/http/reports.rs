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
//! As CSV (`format=csv` or `Accept: text/csv`) a report is one row per figure of each group; as
//! a workbook (`format=xlsx` or its `Accept`), the report's period, a sheet of its figures, one
//! per grouping and one of the cases it counted (`exports` writes both; a unit is shown by its
//! name, its id beside). `print` renders it as a page to print.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::FixedOffset;
use domain::report::{self, Computed, CountedCase, Publish, Published, ReportPeriod};
use domain::{CaseError, Role};
use projections::{CaseSummary, Durations, FigureSettings, Figures, GroupBy, Rate, CASE_SUMMARIES};
use rust_xlsxwriter::XlsxError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::exports::{self, Cell, Form, Table, EXPORT_CAP};
use super::extract::{ApiPath, ApiQuery, Authenticated, CommandHeaders, JsonBody};
use super::problem::ApiError;
use super::AppState;
use crate::access::names::display_names;
use crate::access::{self, Denied, ListScope, Operation};
use crate::read::queries::{self, CaseFilter, Cohort};
use crate::store::{on_pool, Store, StoreError};
use crate::write::engine::{EngineError, ReportPublished};

/// How long publishing waits for the case summaries to apply the log.
const CATCH_UP: Duration = Duration::from_secs(10);

/// The figures a report freezes: the period's totals and each grouping's rows.
#[derive(utoipa::ToSchema, Debug, Serialize, Deserialize)]
pub struct ReportFigures {
    pub all: Figures,
    /// By `kind`, `category`, `jurisdiction`, `department`, `level` (handling level), `member`
    /// and `month` (reports published before levels and members were added hold the others).
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
        by: GroupBy::ALL
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
    /// workbook: the period, the figures, one sheet per grouping, the cases counted); without
    /// it, an `Accept` of `text/csv` or the xlsx type asks for that form.
    #[param(pattern = r"^(json|csv|xlsx)$")]
    format: Option<String>,
}

/// The published report `id` (as the path gives it), or the problem for a missing one.
pub(super) async fn find(store: &Store, id: &str) -> Result<(String, Published, ReportFigures), ApiError> {
    let not_found = || ApiError::NotFound(format!("no report has the id `{id}`"));
    let id = Uuid::parse_str(id).map_err(|_| not_found())?.to_string();
    let report = published(store, &id).await?.ok_or_else(not_found)?;
    let figures = serde_json::from_value(report.figures.clone())
        .map_err(|error| StoreError::Corrupt(format!("report {id}: {error}")))?;
    Ok((id, report, figures))
}

#[utoipa::path(get, path = "/api/v1/reports/{id}", operation_id = "show_report", tags = ["staff", "audit"], params(("id" = uuid::Uuid, Path, description = "the report id (a UUID)"), ReportQuery),
    responses((status = 200, description = "the report as published, today's figures of its period and the cases that changed; as CSV (UTF-8 with a BOM) or a workbook, the published figures, units and the publisher by name", content(
        (ReportReading = "application/json"),
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ))))]
pub async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Authenticated(principal): Authenticated,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    access::check(&principal, Operation::ReadDashboards)?;
    let form = Form::negotiate(params.format.as_deref(), &headers)?;
    let store = state.engine.store();
    let (id, report, figures) = find(store, &id).await?;
    if form != Form::Json {
        let names = display_names(store).await?;
        let offset = state.engine.policy().offset;
        let body = match form {
            Form::Xlsx => {
                let mut period = CaseFilter::unfiltered(ListScope::All, report.cases.len() as i64 + EXPORT_CAP, None);
                (period.submitted_from, period.submitted_to) = (Some(report.from), Some(report.to));
                let (today, _) = queries::list_cases(store, &period, state.engine.clock().now()).await?;
                report_xlsx(&report, &figures, &today, &names, offset)
                    .map_err(|error| ApiError::Export(format!("report {id} as xlsx: {error}")))?
            }
            _ => figure_table(&groupings(&figures), &names, true).csv(offset),
        };
        return Ok(exports::attachment(form, &format!("report-{}", report.period), body));
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
pub(super) struct FigureRow {
    pub name: String,
    pub numerator: Option<f64>,
    pub denominator: Option<u64>,
    pub value: Option<f64>,
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
pub(super) fn figure_rows(figures: &Figures) -> Vec<FigureRow> {
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
        let kind = group_label("kind", kind, &BTreeMap::new());
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

/// How a grouping is named to a reader, by its `group_by` name.
pub(super) fn grouping_name(grouping: &str) -> &str {
    match grouping {
        "all" => "全部",
        "kind" => "按类型",
        "category" => "按领域",
        "jurisdiction" => "按属地",
        "department" => "按承办单位",
        "level" => "按办理层级",
        "member" => "按委员",
        "month" => "按月份",
        other => other,
    }
}

/// A group's key as a reader reads it: a kind in Chinese, a unit by its name.
pub(super) fn group_label(grouping: &str, key: &str, names: &BTreeMap<String, String>) -> String {
    let kind = serde_json::from_value(serde_json::Value::String(key.to_owned())).ok();
    match (grouping, kind) {
        ("all", _) => "全部".to_owned(),
        ("kind", Some(kind)) => exports::kind_name(kind).to_owned(),
        ("department", _) if key == projections::UNASSIGNED => "未交办".to_owned(),
        ("department" | "member", _) => names.get(key).cloned().unwrap_or_else(|| key.to_owned()),
        ("level", _) if key == "city" => "市级".to_owned(),
        ("level", _) if key == "local" => "旗区级".to_owned(),
        _ => key.to_owned(),
    }
}

/// Every figure of `groups` of a grouping, one row each: the grouping's name (when `with_grouping`),
/// the group as read, the figure, numerator, denominator, value, and the group's key.
fn figure_table(groupings: &[(&str, &[Figures])], names: &BTreeMap<String, String>, with_grouping: bool) -> Table {
    let mut headers = if with_grouping { vec!["分组方式"] } else { vec![] };
    headers.extend(["分组", "指标", "分子", "分母", "数值", "分组编号"]);
    let mut rows = Vec::new();
    for (grouping, groups) in groupings {
        for group in *groups {
            for figure in figure_rows(group) {
                let mut row = if with_grouping {
                    vec![Cell::text(grouping_name(grouping))]
                } else {
                    vec![]
                };
                row.extend([
                    Cell::Text(group_label(grouping, &group.group, names)),
                    Cell::Text(figure.name),
                    Cell::number(figure.numerator),
                    Cell::number(figure.denominator.map(|denominator| denominator as f64)),
                    Cell::number(figure.value),
                    Cell::text(&group.group),
                ]);
                rows.push(row);
            }
        }
    }
    Table { headers, rows }
}

/// The report's groupings with their figures, totals first.
fn groupings(figures: &ReportFigures) -> Vec<(&str, &[Figures])> {
    std::iter::once(("all", std::slice::from_ref(&figures.all)))
        .chain(
            figures
                .by
                .iter()
                .map(|(grouping, groups)| (grouping.as_str(), groups.as_slice())),
        )
        .collect()
}

/// A report as a workbook: 报告 (the period), 指标 (the figures of all cases), one sheet per
/// grouping, 案件 (the cases counted).
fn report_xlsx(
    report: &Published,
    figures: &ReportFigures,
    today: &[CaseSummary],
    names: &BTreeMap<String, String>,
    offset: FixedOffset,
) -> Result<Vec<u8>, XlsxError> {
    let local_day = |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&offset).date_naive();
    let label = |label: &str, value: Cell| vec![Cell::text(label), value];
    let about = Table {
        headers: vec![],
        rows: vec![
            label("期间", Cell::text(&report.period)),
            label("起始日", Cell::Date(local_day(report.from))),
            label("截止日", Cell::Date(local_day(report.to) - chrono::Days::new(1))),
            label("发布时间", Cell::Moment(report.at)),
            label("日志位置", Cell::Number(report.position as f64)),
            label("发布人", Cell::text(names.get(&report.by).unwrap_or(&report.by))),
            label("发布人编号", Cell::text(&report.by)),
        ],
    };
    let groupings = groupings(figures);
    let sheets: Vec<(String, Table)> = groupings
        .iter()
        .map(|grouping| {
            let name = match grouping.0 {
                "all" => "指标",
                other => grouping_name(other),
            };
            (
                name.to_owned(),
                figure_table(std::slice::from_ref(grouping), names, false),
            )
        })
        .collect();
    // What each counted case is today, so a reader sees its title and unit, not an id alone.
    let today: BTreeMap<&str, &CaseSummary> = today.iter().map(|case| (case.id.as_str(), case)).collect();
    let cases = Table {
        headers: vec!["案件编号", "计入时事件数", "标题", "承办单位（今日）", "承办单位编号"],
        rows: report
            .cases
            .iter()
            .map(|case| {
                let now = today.get(case.id.as_str());
                let unit = now.and_then(|now| now.department.as_deref());
                vec![
                    Cell::text(&case.id),
                    Cell::Number(case.version as f64),
                    now.map_or(Cell::Empty, |now| Cell::text(&now.title)),
                    unit.map_or(Cell::Empty, |unit| {
                        Cell::text(names.get(unit).map_or(unit, String::as_str))
                    }),
                    unit.map_or(Cell::Empty, Cell::text),
                ]
            })
            .collect(),
    };
    let all = std::iter::once(("报告".to_owned(), &about))
        .chain(sheets.iter().map(|(name, table)| (name.clone(), table)))
        .chain(std::iter::once(("案件".to_owned(), &cases)));
    exports::workbook(all, offset)
}
