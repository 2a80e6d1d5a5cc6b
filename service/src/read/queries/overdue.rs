//! The overdue list (`GET /api/v1/overdue`, [`overdue_by_department`]): per department in name
//! order, how many open cases are past their deadline and the `limit` most overdue of them
//! (default 10, at most 100), optionally for one `department`, whose cases a cursor
//! (`<nanoseconds>_<id>` of the last one) pages through.
//!
//! The counts come from the outcome cells by department, which keep every open case's deadline
//! (`CellTable::open_overdue`: no case read). The cases come from
//! `case_summaries_open_by_department` (`department, due_at, id`, open cases only), one index
//! range per department, all in one `UNION ALL`: the filter columns, never the summaries. Counts
//! and cases are read in one snapshot. An answer grows with the number of departments, not with
//! the cases.
//!
//! A reader limited to one jurisdiction gets only its cases, and `level` narrows the list to the
//! cases handled at one level (`local`: the banner or district; `city`: escalated by 市旗联动):
//! the cells are not split by jurisdiction or level within a department, so those counts are
//! counted from `case_summaries` (`case_summaries_open_by_jurisdiction` and
//! `case_summaries_open_by_level` hold the open cases with their deadlines).

use std::collections::BTreeMap;

use domain::{HandlingLevel, Kind, Status, Timestamp};
use projections::{level_name, Dimension, UNASSIGNED};
use serde::Serialize;
use sqlx::QueryBuilder;

use crate::read::outcome_cells::CellTable;
use crate::read::queries::cursor::Cursor;
use crate::store::{on_pool, Store, StoreError};

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
    /// Only the cases of this jurisdiction: the reader's scope, never the caller's choice.
    pub jurisdiction: Option<String>,
    /// Only the cases handled at this level now.
    pub level: Option<HandlingLevel>,
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
            jurisdiction: None,
            level: None,
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
    // The jurisdiction and level conditions, the same on the counts and on the cases.
    fn push_scope<'args, DB>(query: &mut QueryBuilder<'args, DB>, filter: &OverdueFilter)
    where
        DB: sqlx::Database,
        String: sqlx::Encode<'args, DB> + sqlx::Type<DB>,
    {
        if let Some(jurisdiction) = &filter.jurisdiction {
            query.push(" AND jurisdiction = ").push_bind(jurisdiction.clone());
        }
        if let Some(level) = filter.level {
            query.push(" AND level = ").push_bind(level_name(level).to_owned());
        }
    }
    let scoped = filter.jurisdiction.is_some() || filter.level.is_some();
    let (counts, rows) = on_pool!(store, |pool| {
        let mut tx = pool.begin_with(begin).await?;
        // The counts from the outcome cells, which keep every open case's deadline per
        // department and month: counting the cases themselves read an index entry per overdue case.
        let counts: Vec<(Option<String>, i64)> = if !scoped {
            let group = wanted.map(|department| department.unwrap_or(UNASSIGNED));
            CellTable::open_overdue(&mut tx, Dimension::Department, group, now)
                .await?
                .into_iter()
                .map(|(department, count)| ((department != UNASSIGNED).then_some(department), count))
                .collect()
        } else {
            let mut query =
                QueryBuilder::new("SELECT department, COUNT(*) FROM case_summaries WHERE is_open AND due_at < ");
            query.push_bind(now);
            push_scope(&mut query, filter);
            if let Some(department) = wanted {
                push_department(&mut query, department);
            }
            query.push(" GROUP BY department ORDER BY department");
            query.build_query_as().fetch_all(&mut *tx).await?
        };
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
                push_scope(&mut query, filter);
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
