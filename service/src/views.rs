//! Queries over the projections' tables: the filtered case list, outcome figures (in
//! `outcome_cells`), duty records and assessment, the overdue list. Read-only; the projector owns the writes.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use domain::{Kind, Status, Timestamp};
use projections::{CaseSummary, DutyRecord, Quotas, Shortfall, Standing};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{QueryBuilder, Row};

use crate::access::ListScope;
pub use crate::outcome_cells::outcomes;
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

/// Where a page of the list ends: the last case's submission time and id. Written as
/// `<microseconds since 1970>_<id>`, which needs no escaping in a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub submitted_at: Timestamp,
    pub id: String,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        let (micros, id) = text.split_once('_')?;
        let submitted_at = Utc.timestamp_micros(micros.parse().ok()?).single()?;
        (!id.is_empty()).then(|| Cursor {
            submitted_at,
            id: id.to_owned(),
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.submitted_at.timestamp_micros(), self.id)
    }
}

/// `%` and `_` match themselves in a text search.
fn like_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// Appends the list's filters and the cursor to a `WHERE` clause, on the columns of the
/// `case_summaries` named `table` (`""` when it is the only table of the query).
fn push_filters<'args, DB>(query: &mut QueryBuilder<'args, DB>, filter: &CaseFilter, now: Timestamp, table: &str)
where
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
        query.push(format!(" AND {table}submitted_at >= ")).push_bind(from);
    }
    if let Some(to) = filter.submitted_to {
        query.push(format!(" AND {table}submitted_at < ")).push_bind(to);
    }
    if let Some(after) = &filter.after {
        query
            .push(format!(" AND ({table}submitted_at < "))
            .push_bind(after.submitted_at)
            .push(format!(" OR ({table}submitted_at = "))
            .push_bind(after.submitted_at)
            .push(format!(" AND {table}id < "))
            .push_bind(after.id.clone())
            .push("))");
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
                // `member_cases_by_member` with the primary key, which holds `submitted_at`), and
                // the page is cut from the two: a case among the first n of the union is among
                // the first n of each half that holds it.
                query
                    .push("id IN (SELECT id FROM (SELECT id FROM case_summaries WHERE submitter_id = ")
                    .push_bind(member.clone());
                push_filters(&mut query, filter, now, "");
                query
                    .push(" ORDER BY submitted_at DESC, id DESC LIMIT ")
                    .push_bind(page)
                    .push(
                        ") AS submitted UNION ALL SELECT id FROM (SELECT c.id FROM member_cases AS m \
                         JOIN case_summaries AS c ON c.id = m.case_id WHERE m.member_id = ",
                    )
                    .push_bind(member.clone());
                push_filters(&mut query, filter, now, "c.");
                query
                    .push(" ORDER BY c.submitted_at DESC, c.id DESC LIMIT ")
                    .push_bind(page)
                    .push(") AS carried)");
            }
            ListScope::All => {
                query.push("1 = 1");
                push_filters(&mut query, filter, now, "");
            }
            ListScope::SubmittedBy(submitter) => {
                query.push("submitter_id = ").push_bind(submitter.clone());
                push_filters(&mut query, filter, now, "");
            }
            ListScope::Jurisdiction(jurisdiction) => {
                query.push("jurisdiction = ").push_bind(jurisdiction.clone());
                push_filters(&mut query, filter, now, "");
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
        submitted_at: last.submitted_at,
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
    pub due_at: Option<chrono::DateTime<chrono::Utc>>,
    pub days_overdue: f64,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct OverdueByDepartment {
    pub department: String,
    pub count: usize,
    pub cases: Vec<OverdueCase>,
}

/// Open cases past their deadline, grouped by department, most overdue first.
pub async fn overdue(store: &Store, now: Timestamp) -> Result<Vec<OverdueByDepartment>, StoreError> {
    const SQL: &str = "SELECT summary FROM case_summaries WHERE is_open AND due_at < $1 ORDER BY due_at, id";
    let rows: Vec<Json<CaseSummary>> =
        on_pool!(store, |pool| sqlx::query_scalar(SQL).bind(now).fetch_all(pool).await?);
    let mut departments: BTreeMap<String, Vec<OverdueCase>> = BTreeMap::new();
    for Json(case) in rows {
        let days_overdue = case
            .due_at
            .map_or(0.0, |due| (now - due).num_seconds() as f64 / 86_400.0);
        departments
            .entry(case.department.clone().unwrap_or_default())
            .or_default()
            .push(OverdueCase {
                id: case.id,
                kind: case.kind,
                title: case.title,
                status: case.status,
                due_at: case.due_at,
                days_overdue,
            });
    }
    Ok(departments
        .into_iter()
        .map(|(department, cases)| OverdueByDepartment {
            department,
            count: cases.len(),
            cases,
        })
        .collect())
}

/// The first moment of `year`, UTC.
pub fn year_start(year: i32) -> Option<DateTime<Utc>> {
    Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).single()
}

pub fn current_year(now: Timestamp) -> i32 {
    now.year()
}
