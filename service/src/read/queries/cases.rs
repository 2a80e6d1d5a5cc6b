//! The case list: [`list_cases`] pages newest first (`submitted_at DESC, id DESC`; the cursor is
//! the last case's time and id), with the list's filters and the caller's scope.
//!
//! A member's list is the cases it submitted and those it carries (`member_cases`). As one
//! condition they fit no index, so each half takes its own first page through its own index
//! (`case_summaries_by_submitter`; and `member_cases_by_member`, `(member_id, submitted_at DESC,
//! case_id DESC)`: `member_cases` keeps each carried case's submission time, so the carried half
//! reads one page of one index), and the page is cut from the two: a case among the first n of
//! the union is among the first n of each half that holds it.
//!
//! The submission range and the cursor (a row comparison `(submitted_at, id) < (…)`, which both
//! databases take as a range of the ordering index) apply to the ordering columns of each half,
//! so a walk along either index starts at the cursor and stops at the page's end.
//! `overdue=true` in a jurisdiction walks `case_summaries_open_by_jurisdiction` (open cases only,
//! newest first, with their deadlines), which skips the cases not yet due inside the index.
//!
//! A unit's list (`ListScope::HandledBy`) tests the row's `handlers` (every unit that led or
//! co-handled the case, a JSON array) with the database's own JSON operators ([`handled_by`]).
//! No index holds them: the walk along the submission index filters row by row, which is fine
//! for a city's few thousand cases a year and is the first thing to index (a unit–case table)
//! if it grows.

use domain::{Kind, Status, Timestamp};
use projections::CaseSummary;
use sqlx::QueryBuilder;

use crate::access::ListScope;
use crate::read::queries::cursor::Cursor;
use crate::read::rows::Document;
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

impl CaseFilter {
    /// A page of `limit` cases as `scope` sees them, unfiltered, after `after` if given.
    pub fn unfiltered(scope: ListScope, limit: i64, after: Option<Cursor>) -> Self {
        CaseFilter {
            kind: None,
            status: None,
            category: None,
            jurisdiction: None,
            department: None,
            assignee: None,
            overdue: None,
            text: None,
            submitted_from: None,
            submitted_to: None,
            after,
            limit,
            scope,
        }
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

/// The opening of the condition "the row's `handlers` hold the bound unit", closed by
/// [`HANDLED_BY_END`] after the bind.
pub(crate) fn handled_by(store: &Store) -> &'static str {
    match store {
        Store::Postgres(_) => "handlers @> jsonb_build_array(CAST(",
        Store::Sqlite(_) => "EXISTS (SELECT 1 FROM json_each(handlers) WHERE value = CAST(",
    }
}

pub(crate) const HANDLED_BY_END: &str = " AS text))";

/// One page of cases, newest submission first, and the cursor of the next page if any.
pub async fn list_cases(
    store: &Store,
    filter: &CaseFilter,
    now: Timestamp,
) -> Result<(Vec<CaseSummary>, Option<Cursor>), StoreError> {
    let page = filter.limit + 1;
    let handled_by = handled_by(store);
    let mut rows: Vec<Document<CaseSummary>> = on_pool!(store, |pool| {
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
            ListScope::HandledBy(unit) => {
                query.push(handled_by).push_bind(unit.clone()).push(HANDLED_BY_END);
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
