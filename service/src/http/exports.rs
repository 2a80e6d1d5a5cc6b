//! What an office opens in Excel or WPS: the case list, the published reports and a member's
//! archive as `.csv` and `.xlsx`, asked for by a `format=` parameter or an `Accept` header ([`Form::negotiate`]).
//!
//! Both forms are written from one [`Table`] of typed [`Cell`]s, so a column means the same in
//! each: CSV is UTF-8 with a byte-order mark (without it both programs read the text as the
//! local code page), CRLF line ends, fields quoted when they hold a comma, a quote or a line
//! break; moments are the deployment's local time. In a workbook numbers are numbers and
//! moments are date cells in the deployment's time zone. Headers are Chinese; an actor or a unit
//! is shown by its display name (`access::names`), its id in a column of its own.
//!
//! The case list's export holds every case matching the filters that the caller may read,
//! newest first, from `cursor` on, up to [`EXPORT_CAP`] rows; when more match, the
//! `X-Next-Cursor` header gives the cursor to export the rest.

use std::collections::BTreeMap;

use axum::http::header::{ACCEPT, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{FixedOffset, NaiveDate};
use domain::{Channel, Kind, Outcome, Rating, Status, Timestamp};
use projections::CaseSummary;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::problem::ApiError;
use super::AppState;
use crate::access::names::display_names;
use crate::read::queries::{self, CaseFilter};

/// The most cases one export holds.
pub const EXPORT_CAP: i64 = 10_000;

pub const CSV: &str = "text/csv";
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The header naming the cursor to export the cases after a capped export.
pub static NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");

/// The forms a list or a report is answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Json,
    Csv,
    Xlsx,
}

impl Form {
    /// `format=` when given (`json`, `csv` or `xlsx`; anything else is refused), else the first
    /// of CSV and xlsx the `Accept` header names, else JSON.
    pub fn negotiate(format: Option<&str>, headers: &HeaderMap) -> Result<Form, ApiError> {
        match format {
            Some("json") => return Ok(Form::Json),
            Some("csv") => return Ok(Form::Csv),
            Some("xlsx") => return Ok(Form::Xlsx),
            Some(_) => return Err(ApiError::InvalidQuery("`format` is `json`, `csv` or `xlsx`".to_owned())),
            None => {}
        }
        let accepted = headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter(|range| !refused(range))
            .filter_map(|range| range.split(';').next())
            .map(|media| media.trim().to_ascii_lowercase());
        for media in accepted {
            match media.as_str() {
                CSV => return Ok(Form::Csv),
                XLSX => return Ok(Form::Xlsx),
                _ => {}
            }
        }
        Ok(Form::Json)
    }
}

/// A media range with `q=0`: the client refuses it.
fn refused(range: &str) -> bool {
    range.split(';').skip(1).any(|parameter| {
        parameter
            .split_once('=')
            .is_some_and(|(name, value)| name.trim() == "q" && value.trim().parse::<f64>() == Ok(0.0))
    })
}

/// One cell of an export.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    /// A day, as a date cell.
    Date(NaiveDate),
    /// A moment, shown in the deployment's time zone.
    Moment(Timestamp),
    Empty,
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Cell {
        Cell::Text(text.into())
    }

    pub fn number(value: Option<f64>) -> Cell {
        value.map_or(Cell::Empty, Cell::Number)
    }

    pub fn moment(at: Option<Timestamp>) -> Cell {
        at.map_or(Cell::Empty, Cell::Moment)
    }

    fn csv(&self, offset: FixedOffset) -> String {
        match self {
            Cell::Text(text) => quoted(text),
            Cell::Number(value) => value.to_string(),
            Cell::Date(day) => day.format("%Y-%m-%d").to_string(),
            Cell::Moment(at) => at.with_timezone(&offset).format("%Y-%m-%d %H:%M:%S").to_string(),
            Cell::Empty => String::new(),
        }
    }
}

/// A CSV field, quoted when it must be.
fn quoted(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Rows under Chinese headers (none for a sheet of labels and values).
#[derive(Debug, Default)]
pub struct Table {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The table as CSV: UTF-8 with a byte-order mark, CRLF line ends.
    pub fn csv(&self, offset: FixedOffset) -> Vec<u8> {
        let mut csv = String::from("\u{feff}");
        let headers = self.headers.iter().map(|header| quoted(header));
        let rows = self
            .rows
            .iter()
            .map(|row| row.iter().map(|cell| cell.csv(offset)).collect::<Vec<_>>());
        for line in std::iter::once(headers.collect::<Vec<_>>()).chain(rows) {
            if !line.is_empty() {
                csv.push_str(&line.join(","));
                csv.push_str("\r\n");
            }
        }
        csv.into_bytes()
    }

    /// Writes the table from the sheet's first row: headers in bold, dates as date cells in the
    /// deployment's time zone, text columns as wide as their text (within reason).
    pub fn write(&self, sheet: &mut Worksheet, offset: FixedOffset) -> Result<(), XlsxError> {
        let bold = Format::new().set_bold();
        let date = Format::new().set_num_format("yyyy-mm-dd");
        let moment = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        let mut widths: BTreeMap<u16, usize> = BTreeMap::new();
        let mut widen = |column: u16, text: &str| {
            // A CJK character takes about two columns.
            let width = text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum::<usize>();
            let entry = widths.entry(column).or_insert(8);
            *entry = (*entry).max(width.min(60));
        };
        for (column, header) in self.headers.iter().enumerate() {
            sheet.write_string_with_format(0, column as u16, *header, &bold)?;
            widen(column as u16, header);
        }
        let first = u32::from(!self.headers.is_empty());
        for (index, cells) in self.rows.iter().enumerate() {
            let row = first + index as u32;
            for (column, cell) in cells.iter().enumerate() {
                let column = column as u16;
                match cell {
                    Cell::Text(text) => {
                        sheet.write_string(row, column, text)?;
                        widen(column, text);
                    }
                    Cell::Number(value) => {
                        sheet.write_number(row, column, *value)?;
                    }
                    Cell::Date(day) => {
                        sheet.write_datetime_with_format(row, column, *day, &date)?;
                        widen(column, "yyyy-mm-dd");
                    }
                    Cell::Moment(at) => {
                        sheet.write_datetime_with_format(
                            row,
                            column,
                            at.with_timezone(&offset).naive_local(),
                            &moment,
                        )?;
                        widen(column, "yyyy-mm-dd hh:mm:ss");
                    }
                    Cell::Empty => {}
                }
            }
        }
        for (column, width) in widths {
            sheet.set_column_width(column, width as f64 + 1.0)?;
        }
        Ok(())
    }
}

/// A workbook of named sheets.
pub fn workbook<'a>(
    sheets: impl IntoIterator<Item = (String, &'a Table)>,
    offset: FixedOffset,
) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    for (name, table) in sheets {
        table.write(workbook.add_worksheet().set_name(name)?, offset)?;
    }
    workbook.save_to_buffer()
}

/// An export as a download named `{stem}.csv` or `{stem}.xlsx`.
pub fn attachment(form: Form, stem: &str, body: Vec<u8>) -> Response {
    let (content_type, extension) = match form {
        Form::Xlsx => (XLSX, "xlsx"),
        _ => ("text/csv; charset=utf-8", "csv"),
    };
    let headers = [
        (CONTENT_TYPE, content_type.to_owned()),
        (
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{stem}.{extension}\""),
        ),
    ];
    (headers, body).into_response()
}

pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Suggestion => "建言",
        Kind::MicroConsultation => "微协商",
        Kind::JointResearch => "联合调研",
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Submitted => "已提交",
        Status::Assigned => "已交办",
        Status::Preparing => "调研准备",
        Status::Researching => "调研中",
        Status::Consulting => "协商中",
        Status::Reporting => "报告待采纳",
        Status::Adopted => "已采纳",
        Status::Declined => "未采纳",
        Status::Closed => "已办结",
        Status::Withdrawn => "已撤回",
        Status::Merged => "已合并",
    }
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Online => "网上建言",
        Channel::ContactPoint => "联络点",
        Channel::MemberReport => "委员反映",
    }
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::A => "A 已解决",
        Outcome::B => "B 列入计划",
        Outcome::C => "C 暂不能解决",
    }
}

fn rating_name(rating: Rating) -> &'static str {
    match rating {
        Rating::Satisfied => "满意",
        Rating::BasicallySatisfied => "基本满意",
        Rating::Unsatisfied => "不满意",
    }
}

/// The case list's columns; [`case_row`] fills them in this order.
const CASE_COLUMNS: [&str; 26] = [
    "案件编号",
    "类型",
    "状态",
    "标题",
    "领域",
    "旗区",
    "渠道",
    "提交时间",
    "提交人",
    "提交人编号",
    "反映委员",
    "承办单位",
    "承办单位编号",
    "协办单位",
    "首次交办时间",
    "首次期限",
    "办理期限",
    "签收时间",
    "答复时间",
    "办结时间",
    "办结结果",
    "评价",
    "超期",
    "重办次数",
    "协商次数",
    "事件数",
];

fn case_row(case: &CaseSummary, names: &BTreeMap<String, String>, now: Timestamp) -> Vec<Cell> {
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let named_list = |ids: &[String]| Cell::Text(ids.iter().map(|id| name(id)).collect::<Vec<_>>().join("、"));
    let flag = |yes: bool| Cell::text(if yes { "是" } else { "否" });
    vec![
        Cell::text(&case.id),
        Cell::text(kind_name(case.kind)),
        Cell::text(status_name(case.status)),
        Cell::text(&case.title),
        Cell::text(&case.category),
        Cell::text(&case.jurisdiction),
        Cell::text(channel_name(case.channel)),
        Cell::Moment(case.submitted_at),
        // Only a known name: a citizen's id names no one a reader knows.
        names.get(&case.submitter_id).map_or(Cell::Empty, Cell::text),
        Cell::text(&case.submitter_id),
        named_list(&case.relayed_by),
        case.department
            .as_deref()
            .map_or(Cell::Empty, |unit| Cell::Text(name(unit))),
        case.department.as_deref().map_or(Cell::Empty, Cell::text),
        named_list(&case.co_departments),
        Cell::moment(case.first_assigned_at),
        Cell::moment(case.first_due_at),
        Cell::moment(case.due_at),
        Cell::moment(case.acknowledged_at),
        Cell::moment(case.replied_at),
        Cell::moment(case.closed_at),
        case.outcome
            .map_or(Cell::Empty, |outcome| Cell::text(outcome_name(outcome))),
        case.rating
            .map_or(Cell::Empty, |rating| Cell::text(rating_name(rating))),
        flag(case.is_overdue(now)),
        Cell::Number(f64::from(case.reopened)),
        Cell::Number(f64::from(case.consultations)),
        Cell::Number(case.version as f64),
    ]
}

/// The cases `filter` selects (its `limit` replaced by the cap) as a CSV or a workbook.
pub async fn cases(state: &AppState, mut filter: CaseFilter, form: Form) -> Result<Response, ApiError> {
    filter.limit = EXPORT_CAP;
    let store = state.engine.store();
    let now = state.engine.clock().now();
    let offset = state.engine.policy().offset;
    let (cases, next) = queries::list_cases(store, &filter, now).await?;
    let names = display_names(store).await?;
    let table = Table {
        headers: CASE_COLUMNS.to_vec(),
        rows: cases.iter().map(|case| case_row(case, &names, now)).collect(),
    };
    // Thousands of rows take a while to write: not on the workers that answer other requests.
    let body = tokio::task::spawn_blocking(move || match form {
        Form::Xlsx => workbook([("案件".to_owned(), &table)], offset),
        _ => Ok(table.csv(offset)),
    })
    .await
    .map_err(|error| ApiError::Export(error.to_string()))?
    .map_err(|error| ApiError::Export(format!("the case list as xlsx: {error}")))?;
    let mut response = attachment(form, "cases", body);
    if let Some(cursor) = next {
        let value = HeaderValue::from_str(&cursor.to_string())
            .map_err(|error| ApiError::Export(format!("cursor {cursor}: {error}")))?;
        response.headers_mut().insert(NEXT_CURSOR.clone(), value);
    }
    Ok(response)
}

/// A member's archive 一人一档 as a table: per year, a row per quota item (required, actual,
/// the year's standing), then a row per credit and per decision behind it (the event's stream
/// and log position, its time, who recorded a decision, by name).
pub fn archive_table(archive: &queries::Archive, names: &BTreeMap<String, String>) -> Table {
    let mut rows = Vec::new();
    for year in &archive.years {
        let standing = &year.standing;
        let number = || Cell::number(Some(f64::from(standing.year)));
        let standing_name = serde_json::to_value(standing.standing)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();
        for item in &standing.items {
            rows.push(vec![
                number(),
                Cell::text("指标"),
                Cell::text(item.quota.clone()),
                Cell::number(Some(f64::from(item.required))),
                Cell::number(Some(f64::from(item.actual))),
                Cell::text(standing_name.clone()),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
            ]);
        }
        let credits = year.credits.iter().map(|credit| {
            (
                "履职记录",
                &credit.activity,
                &credit.stream,
                None,
                credit.position,
                credit.at,
            )
        });
        let decisions = standing.decisions.iter().map(|decision| {
            let by = names.get(&decision.by).unwrap_or(&decision.by);
            (
                "决定",
                &decision.kind,
                &decision.by,
                Some(by),
                decision.position,
                decision.at,
            )
        });
        for (line, name, stream, by, position, at) in credits.chain(decisions) {
            rows.push(vec![
                number(),
                Cell::text(line),
                Cell::text(name.clone()),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                by.map_or(Cell::Empty, |by| Cell::text(by.clone())),
                Cell::text(stream.clone()),
                Cell::number(Some(position as f64)),
                Cell::moment(Some(at)),
            ]);
        }
    }
    Table {
        headers: vec![
            "年度",
            "类别",
            "名称",
            "应达",
            "实际",
            "履职状态",
            "记录人",
            "事件流",
            "日志位置",
            "时间",
        ],
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn format_wins_over_accept_and_accept_picks_the_first_spreadsheet() {
        let csv = accepting("text/csv");
        assert_eq!(Form::negotiate(Some("xlsx"), &csv).unwrap(), Form::Xlsx);
        assert_eq!(Form::negotiate(None, &csv).unwrap(), Form::Csv);
        assert_eq!(
            Form::negotiate(None, &accepting(&format!("{XLSX};q=0.9, text/csv"))).unwrap(),
            Form::Xlsx
        );
        assert_eq!(
            Form::negotiate(None, &accepting("text/csv;q=0, */*")).unwrap(),
            Form::Json
        );
        assert_eq!(
            Form::negotiate(None, &accepting("application/json")).unwrap(),
            Form::Json
        );
        assert_eq!(Form::negotiate(None, &HeaderMap::new()).unwrap(), Form::Json);
        assert!(Form::negotiate(Some("pdf"), &csv).is_err());
    }

    #[test]
    fn csv_quotes_commas_quotes_and_line_breaks() {
        let table = Table {
            headers: vec!["标题", "数"],
            rows: vec![vec![Cell::text("a,\"b\"\nc"), Cell::Number(2.5)]],
        };
        let csv = String::from_utf8(table.csv(FixedOffset::east_opt(8 * 3600).unwrap())).unwrap();
        assert_eq!(csv, "\u{feff}标题,数\r\n\"a,\"\"b\"\"\nc\",2.5\r\n");
    }
}
