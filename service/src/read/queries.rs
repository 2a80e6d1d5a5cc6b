//! Queries over the projections' tables: the filtered case list, outcome figures (in
//! `outcome_cells`), duty records and assessment, the overdue list. Read-only; the projector owns the writes.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use domain::{Kind, Status, Timestamp};
use projections::{nanoseconds, CaseSummary, Dimension, DutyRecord, Quotas, Shortfall, Standing, UNASSIGNED};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{QueryBuilder, Row};

use crate::access::ListScope;
pub use crate::read::outcome_cells::outcomes;
use crate::read::outcome_cells::CellTable;
use crate::store::{on_pool, Store, StoreError};

/// What the case list may be narrowed to.
#[derive(Debug, Clone)]
pub struct CaseFilter {
    pub kind: Option<Kind>,
    pub status: Option<Status>,
    pub category: Option<String>,
    pub jurisdiction: Option<String>,
    pub department: Option<String>,
    pub assignee: Option<String>,
    pub overdue: Option<bool>,
    pub text: Option<String>,
    pub submitted_from: Option<Timestamp>,
    pub submitted_to: Option<Timestamp>,
    pub after: Option<Cursor>,
    pub limit: i64,
    /// How far the caller's list reaches (its role decides).
    pub scope: ListScope,
}

/// Where a page ends: the last case's time (its submission in the case list, its deadline in the
/// overdue list) and id. Written as `<nanoseconds since 1970>_<id>`, which needs no escaping in
/// a URL: the whole resolution SQLite keeps (cut to microseconds, the next page skipped a case
/// of the same microsecond whose id sorts lower, or showed its own case again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at: Timestamp,
    pub id: String,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        let (since_1970, id) = text.split_once('_')?;
        let since_1970: i64 = since_1970.parse().ok()?;
        // Cursors handed out before they carried nanoseconds carry microseconds: below 10^17 a
        // count of nanoseconds would be before 1974, of microseconds before 5138.
        let at = if since_1970 < 100_000_000_000_000_000 {
            Utc.timestamp_micros(since_1970).single()?
        } else {
            Utc.timestamp_nanos(since_1970)
        };
        (!id.is_empty()).then(|| Cursor { at, id: id.to_owned() })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", nanoseconds(self.at), self.id)
    }
}

/// `%` and `_` match themselves in a text search.
fn like_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// The columns a list is ordered by, `(submitted_at, id)`: the submission range and the cursor
/// apply to them, so that a walk along their index stops at the page's end.
const SUMMARY_ORDER: (&str, &str) = ("submitted_at", "id");

/// Appends the list's filters and the cursor to a `WHERE` clause, on the columns of the
/// `case_summaries` named `table` (`""` when it is the only table of the query), and the
/// submission range and cursor on the `order` columns.
fn push_filters<'args, DB>(
    query: &mut QueryBuilder<'args, DB>,
    filter: &CaseFilter,
    now: Timestamp,
    table: &str,
    (submitted_at, id): (&str, &str),
) where
    DB: sqlx::Database,
    String: sqlx::Encode<'args, DB> + sqlx::Type<DB>,
    Timestamp: sqlx::Encode<'args, DB> + sqlx::Type<DB>,
{
    let equal = [
        ("kind", filter.kind.map(|kind| kind.as_str().to_owned())),
        ("status", filter.status.map(|status| status.as_str().to_owned())),
        ("category", filter.category.clone()),
        ("jurisdiction", filter.jurisdiction.clone()),
        ("department", filter.department.clone()),
        ("assignee", filter.assignee.clone()),
    ];
    for (column, value) in equal {
        if let Some(value) = value {
            query.push(format!(" AND {table}{column} = ")).push_bind(value);
        }
    }
    match filter.overdue {
        Some(true) => {
            query
                .push(format!(" AND {table}is_open AND {table}due_at < "))
                .push_bind(now);
        }
        Some(false) => {
            query
                .push(format!(
                    " AND NOT ({table}is_open AND {table}due_at IS NOT NULL AND {table}due_at < "
                ))
                .push_bind(now)
                .push(")");
        }
        None => {}
    }
    if let Some(text) = &filter.text {
        let pattern = like_pattern(text);
        query
            .push(format!(" AND ({table}title LIKE "))
            .push_bind(pattern.clone())
            .push(format!(" ESCAPE '\\' OR {table}body LIKE "))
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }
    if let Some(from) = filter.submitted_from {
        query.push(format!(" AND {submitted_at} >= ")).push_bind(from);
    }
    if let Some(to) = filter.submitted_to {
        query.push(format!(" AND {submitted_at} < ")).push_bind(to);
    }
    if let Some(after) = &filter.after {
        query
            // A row comparison, which both databases take as a range of the ordering index (an
            // `OR` of the two cases is only a filter, and each page walked from the first).
            .push(format!(" AND ({submitted_at}, {id}) < ("))
            .push_bind(after.at)
            .push(", ")
            .push_bind(after.id.clone())
            .push(")");
    }
}

/// One page of cases, newest submission first, and the cursor of the next page if any.
pub async fn list_cases(
    store: &Store,
    filter: &CaseFilter,
    now: Timestamp,
) -> Result<(Vec<CaseSummary>, Option<Cursor>), StoreError> {
    let page = filter.limit + 1;
    let mut rows: Vec<Json<CaseSummary>> = on_pool!(store, |pool| {
        let mut query = QueryBuilder::new("SELECT summary FROM case_summaries WHERE ");
        match &filter.scope {
            ListScope::CarriedBy(member) => {
                // A member's cases are those it submitted and those it carries (`member_cases`).
                // As one condition (`submitter_id = … OR id IN (…)`) they fit no index, and
                // PostgreSQL walked the whole list by submission time. So each half takes its own
                // first page through its index (`case_summaries_by_submitter`; and
                // `member_cases_by_member`, which keeps the cases' submission times), and the page
                // is cut from the two: a case among the first n of the union is among the first n
                // of each half that holds it.
                query
                    .push("id IN (SELECT id FROM (SELECT id FROM case_summaries WHERE submitter_id = ")
                    .push_bind(member.clone());
                push_filters(&mut query, filter, now, "", SUMMARY_ORDER);
                query
                    .push(" ORDER BY submitted_at DESC, id DESC LIMIT ")
                    .push_bind(page)
                    .push(
                        ") AS submitted UNION ALL SELECT id FROM (SELECT m.case_id AS id FROM member_cases AS m \
                         JOIN case_summaries AS c ON c.id = m.case_id WHERE m.member_id = ",
                    )
                    .push_bind(member.clone());
                push_filters(&mut query, filter, now, "c.", ("m.submitted_at", "m.case_id"));
                query
                    .push(" ORDER BY m.submitted_at DESC, m.case_id DESC LIMIT ")
                    .push_bind(page)
                    .push(") AS carried)");
            }
            ListScope::All => {
                query.push("1 = 1");
                push_filters(&mut query, filter, now, "", SUMMARY_ORDER);
            }
            ListScope::SubmittedBy(submitter) => {
                query.push("submitter_id = ").push_bind(submitter.clone());
                push_filters(&mut query, filter, now, "", SUMMARY_ORDER);
            }
            ListScope::Jurisdiction(jurisdiction) => {
                query.push("jurisdiction = ").push_bind(jurisdiction.clone());
                push_filters(&mut query, filter, now, "", SUMMARY_ORDER);
            }
        }
        query
            .push(" ORDER BY submitted_at DESC, id DESC LIMIT ")
            .push_bind(page);
        query.build_query_scalar().fetch_all(pool).await?
    });
    let more = rows.len() as i64 > filter.limit;
    rows.truncate(usize::try_from(filter.limit).unwrap_or_default());
    let cases: Vec<CaseSummary> = rows.into_iter().map(|row| row.0).collect();
    let next = more.then(|| cases.last()).flatten().map(|last| Cursor {
        at: last.submitted_at,
        id: last.id.clone(),
    });
    Ok((cases, next))
}

/// A member's duty record for a year, measured against the quotas.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct MemberStanding {
    #[serde(flatten)]
    pub record: DutyRecord,
    pub quotas: Quotas,
    pub shortfalls: Vec<Shortfall>,
    pub standing: Standing,
}

async fn duty_records(store: &Store, member: Option<&str>, years: [i32; 2]) -> Result<Vec<DutyRecord>, StoreError> {
    let rows = on_pool!(store, |pool| {
        let mut query = QueryBuilder::new(
            "SELECT member_id, year, contacts, relays, reports, consultations, solved FROM member_years WHERE year IN (",
        );
        query
            .push_bind(i64::from(years[0]))
            .push(", ")
            .push_bind(i64::from(years[1]))
            .push(")");
        if let Some(member) = member {
            query.push(" AND member_id = ").push_bind(member.to_owned());
        }
        let mut records = Vec::new();
        for row in query.build().fetch_all(pool).await? {
            let count = |index: usize| -> Result<u32, sqlx::Error> {
                Ok(u32::try_from(row.try_get::<i64, _>(index)?).unwrap_or_default())
            };
            records.push(DutyRecord {
                member_id: row.try_get(0)?,
                year: i32::try_from(row.try_get::<i64, _>(1)?).unwrap_or_default(),
                contacts: count(2)?,
                relays: count(3)?,
                reports: count(4)?,
                consultations: count(5)?,
                solved: count(6)?,
            });
        }
        records
    });
    Ok(rows)
}

fn standing_of(member_id: &str, year: i32, records: &[DutyRecord], quotas: &Quotas, now: Timestamp) -> MemberStanding {
    let find = |year: i32| {
        records
            .iter()
            .find(|record| record.member_id == member_id && record.year == year)
    };
    let record = find(year).cloned().unwrap_or_else(|| DutyRecord {
        member_id: member_id.to_owned(),
        year,
        ..DutyRecord::default()
    });
    MemberStanding {
        shortfalls: quotas.shortfalls(&record),
        standing: quotas.standing(&record, find(year - 1), now.date_naive()),
        quotas: *quotas,
        record,
    }
}

pub async fn member_record(
    store: &Store,
    member_id: &str,
    year: i32,
    quotas: &Quotas,
    now: Timestamp,
) -> Result<MemberStanding, StoreError> {
    let records = duty_records(store, Some(member_id), [year, year - 1]).await?;
    Ok(standing_of(member_id, year, &records, quotas, now))
}

#[derive(utoipa::ToSchema, Debug, Clone, Default, Serialize)]
pub struct Assessment {
    pub year: i32,
    pub on_track: u32,
    pub at_risk: u32,
    pub below_quota: u32,
    pub below_two_years_running: u32,
    pub members: Vec<MemberStanding>,
}

/// Every known member (with a member token, or a duty record this year or last) for `year`.
pub async fn assessment(store: &Store, year: i32, quotas: &Quotas, now: Timestamp) -> Result<Assessment, StoreError> {
    let records = duty_records(store, None, [year, year - 1]).await?;
    const MEMBERS: &str = "SELECT DISTINCT member_id FROM tokens WHERE role = 'member' AND member_id IS NOT NULL";
    let mut members: Vec<String> = on_pool!(store, |pool| sqlx::query_scalar(MEMBERS).fetch_all(pool).await?);
    members.extend(records.iter().map(|record| record.member_id.clone()));
    members.sort();
    members.dedup();
    let mut assessment = Assessment {
        year,
        ..Assessment::default()
    };
    for member in members {
        let standing = standing_of(&member, year, &records, quotas, now);
        match standing.standing {
            Standing::OnTrack => assessment.on_track += 1,
            Standing::AtRisk => assessment.at_risk += 1,
            Standing::BelowQuota => assessment.below_quota += 1,
            Standing::BelowTwoYearsRunning => assessment.below_two_years_running += 1,
        }
        assessment.members.push(standing);
    }
    Ok(assessment)
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct OverdueCase {
    pub id: String,
    pub kind: Kind,
    pub title: String,
    pub status: Status,
    pub due_at: chrono::DateTime<chrono::Utc>,
    pub days_overdue: f64,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct OverdueByDepartment {
    /// Empty for the cases no department was assigned.
    pub department: String,
    /// Every open case of the department past its deadline.
    pub count: usize,
    /// The most overdue of them, most overdue first, up to the `limit`.
    pub cases: Vec<OverdueCase>,
    /// Pass as `cursor` (with this `department`) for the department's next cases; absent after
    /// its last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// What the overdue list may be narrowed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverdueFilter {
    /// One department only; `""` for the cases no department was assigned.
    pub department: Option<String>,
    /// Within that department, the cases after this one.
    pub after: Option<Cursor>,
    /// Cases per department.
    pub limit: i64,
}

impl OverdueFilter {
    pub const DEFAULT_LIMIT: i64 = 10;
    pub const MAX_LIMIT: i64 = 100;
}

impl Default for OverdueFilter {
    /// Every department, the default number of cases each: `GET /api/v1/overdue` with no
    /// parameters.
    fn default() -> Self {
        OverdueFilter {
            department: None,
            after: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

/// Departments per statement of the overdue list's cases: each is one `SELECT` of a
/// `UNION ALL`, and SQLite takes at most 500.
const DEPARTMENTS_PER_STATEMENT: usize = 100;

/// Open cases past their deadline by department: each department's count (from the outcome
/// cells' open deadlines) and its most overdue cases up to `filter.limit` (one index range each,
/// on `case_summaries_open_by_department`, all in one `UNION ALL`), departments in name order.
/// Reads the filter columns only, never the summaries, in one snapshot, so that the counts and
/// the cases agree.
pub async fn overdue_by_department(
    store: &Store,
    filter: &OverdueFilter,
    now: Timestamp,
) -> Result<Vec<OverdueByDepartment>, StoreError> {
    // The cases of no department are the group `""`; no department is named "" (assign refuses
    // a blank one), so it names them in the filter too.
    fn push_department<'args, DB>(query: &mut QueryBuilder<'args, DB>, department: Option<&str>)
    where
        DB: sqlx::Database,
        String: sqlx::Encode<'args, DB> + sqlx::Type<DB>,
    {
        match department {
            Some(department) => {
                query.push(" AND department = ").push_bind(department.to_owned());
            }
            None => {
                query.push(" AND department IS NULL");
            }
        }
    }
    let begin = match store {
        Store::Postgres(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        Store::Sqlite(_) => "BEGIN",
    };
    let wanted = filter
        .department
        .as_deref()
        .map(|name| (!name.is_empty()).then_some(name));
    let page = filter.limit + 1;
    let (counts, rows) = on_pool!(store, |pool| {
        let mut tx = pool.begin_with(begin).await?;
        // The counts from the outcome cells, which keep every open case's deadline per
        // department and month: counting the cases themselves read an index entry per overdue case.
        let group = wanted.map(|department| department.unwrap_or(UNASSIGNED));
        let counts: Vec<(Option<String>, i64)> = CellTable::open_overdue(&mut tx, Dimension::Department, group, now)
            .await?
            .into_iter()
            .map(|(department, count)| ((department != UNASSIGNED).then_some(department), count))
            .collect();
        let mut rows: Vec<(Option<String>, String, String, String, String, Timestamp)> = Vec::new();
        for departments in counts.chunks(DEPARTMENTS_PER_STATEMENT) {
            let mut query = QueryBuilder::new("");
            for (index, (department, _)) in departments.iter().enumerate() {
                if index > 0 {
                    query.push(" UNION ALL ");
                }
                query.push(
                    "SELECT * FROM (SELECT department, id, kind, title, status, due_at FROM case_summaries \
                     WHERE is_open AND due_at < ",
                );
                query.push_bind(now);
                push_department(&mut query, department.as_deref());
                if let Some(after) = &filter.after {
                    query
                        .push(" AND (due_at, id) > (")
                        .push_bind(after.at)
                        .push(", ")
                        .push_bind(after.id.clone())
                        .push(")");
                }
                query
                    .push(" ORDER BY due_at, id LIMIT ")
                    .push_bind(page)
                    .push(format!(") AS department_{index}"));
            }
            // Most overdue first within each department, as the database orders them: the
            // cursor compares in the database's order too.
            query.push(" ORDER BY due_at, id");
            rows.extend(query.build_query_as().fetch_all(&mut *tx).await?);
        }
        tx.commit().await?;
        (counts, rows)
    });
    let mut departments: BTreeMap<String, OverdueByDepartment> = counts
        .into_iter()
        .map(|(department, count)| {
            let department = department.unwrap_or_default();
            let group = OverdueByDepartment {
                department: department.clone(),
                count: usize::try_from(count).unwrap_or_default(),
                cases: Vec::new(),
                next_cursor: None,
            };
            (department, group)
        })
        .collect();
    let limit = usize::try_from(filter.limit).unwrap_or_default();
    for (department, id, kind, title, status, due_at) in rows {
        let Some(group) = departments.get_mut(department.as_deref().unwrap_or_default()) else {
            continue;
        };
        if group.cases.len() == limit {
            let last = group.cases.last().map(|case| Cursor {
                at: case.due_at,
                id: case.id.clone(),
            });
            group.next_cursor = last.map(|cursor| cursor.to_string());
            continue;
        }
        let corrupt = |what: &str, name: &str| StoreError::Corrupt(format!("case {id}: {what} `{name}`"));
        group.cases.push(OverdueCase {
            kind: kind.parse().map_err(|_| corrupt("kind", &kind))?,
            status: status.parse().map_err(|_| corrupt("status", &status))?,
            days_overdue: (now - due_at).num_seconds() as f64 / 86_400.0,
            id,
            title,
            due_at,
        });
    }
    Ok(departments.into_values().collect())
}

/// The first moment of `year`, UTC.
pub fn year_start(year: i32) -> Option<DateTime<Utc>> {
    Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).single()
}

pub fn current_year(now: Timestamp) -> i32 {
    now.year()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_written_and_an_older_microsecond_one_still_reads() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap() + chrono::Duration::nanoseconds(1_234_567);
        let cursor = Cursor {
            at,
            id: "case-1".to_owned(),
        };
        assert_eq!(Cursor::parse(&cursor.to_string()), Some(cursor));
        let micros = format!("{}_case-1", at.timestamp_micros());
        assert_eq!(
            Cursor::parse(&micros).map(|cursor| cursor.at),
            Some(at - chrono::Duration::nanoseconds(567))
        );
        assert_eq!(Cursor::parse("12_"), None);
        assert_eq!(Cursor::parse("x_case-1"), None);
    }
}
