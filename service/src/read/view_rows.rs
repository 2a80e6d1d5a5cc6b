//! The statements that write the views' rows, shared by the projector's batches (upserts over
//! rows that may exist) and the rebuild (plain inserts into emptied tables). Generic over the
//! sqlx database so that they run inside either backend's transaction.

use std::marker::PhantomData;

use domain::Timestamp;
use projections::{CaseSummary, DutyRecord};
use sqlx::types::Json;
use sqlx::{Database, Encode, Executor, IntoArguments, Transaction, Type};

use crate::store::StoreError;

/// Rows per multi-row statement: 14 parameters a row stays far below both backends' limits.
const ROWS_PER_STATEMENT: usize = 500;

/// Whether a row may already exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Upsert,
    /// Into a table holding no row of these keys: no conflict handling, and no unique index
    /// needed yet.
    Insert,
}

/// The columns of `case_summaries`, in the order the statements here bind them.
pub const CASE_SUMMARIES_COLUMNS: &str =
    "id, kind, status, category, jurisdiction, department, assignee, submitted_at, \
     due_at, is_open, title, body, summary, submitter_id";

const CASE_SUMMARIES_ON_CONFLICT: &str = " \
ON CONFLICT (id) DO UPDATE SET \
    kind = excluded.kind, status = excluded.status, category = excluded.category, \
    jurisdiction = excluded.jurisdiction, department = excluded.department, assignee = excluded.assignee, \
    submitted_at = excluded.submitted_at, due_at = excluded.due_at, is_open = excluded.is_open, \
    title = excluded.title, body = excluded.body, summary = excluded.summary, submitter_id = excluded.submitter_id";

const ADD_TO_MEMBER_YEAR: &str = "\
INSERT INTO member_years (member_id, year, contacts, relays, reports, consultations, solved) \
VALUES ($1, $2, $3, $4, $5, $6, $7) \
ON CONFLICT (member_id, year) DO UPDATE SET \
    contacts = member_years.contacts + excluded.contacts, relays = member_years.relays + excluded.relays, \
    reports = member_years.reports + excluded.reports, \
    consultations = member_years.consultations + excluded.consultations, \
    solved = member_years.solved + excluded.solved";

/// The statements, over one sqlx backend (`ViewRows::write_summaries(&mut tx, …)`).
#[derive(Debug)]
pub struct ViewRows<DB>(PhantomData<DB>);

impl<DB> ViewRows<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> DB::Arguments<'a>: IntoArguments<'a, DB>,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> Option<String>: Encode<'a, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> Timestamp: Encode<'a, DB> + Type<DB>,
    for<'a> Option<Timestamp>: Encode<'a, DB> + Type<DB>,
    for<'a> bool: Encode<'a, DB> + Type<DB>,
    for<'a> Json<CaseSummary>: Encode<'a, DB> + Type<DB>,
{
    /// Writes `rows` of `case_summaries`.
    pub async fn write_summaries(
        tx: &mut Transaction<'_, DB>,
        rows: &[&CaseSummary],
        write: Write,
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let conflict = if write == Write::Upsert {
                CASE_SUMMARIES_ON_CONFLICT
            } else {
                ""
            };
            let sql = format!(
                "INSERT INTO case_summaries ({CASE_SUMMARIES_COLUMNS}) VALUES {}{conflict}",
                parameter_rows(chunk.len(), 14)
            );
            let mut query = sqlx::query(&sql);
            for case in chunk {
                query = query
                    .bind(case.id.clone())
                    .bind(case.kind.as_str())
                    .bind(case.status.as_str())
                    .bind(case.category.clone())
                    .bind(case.jurisdiction.clone())
                    .bind(case.department.clone())
                    .bind(case.assignee().map(str::to_owned))
                    .bind(case.submitted_at)
                    .bind(case.due_at)
                    .bind(case.is_open())
                    .bind(case.title.clone())
                    .bind(case.body.clone())
                    .bind(Json((*case).clone()))
                    .bind(case.submitter_id.clone());
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Writes `(case_id, member_id, submitted_at)` rows of `member_cases`.
    pub async fn write_member_cases(
        tx: &mut Transaction<'_, DB>,
        rows: &[(&str, &str, Timestamp)],
        write: Write,
    ) -> Result<(), StoreError> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let conflict = if write == Write::Upsert {
                " ON CONFLICT DO NOTHING"
            } else {
                ""
            };
            let sql = format!(
                "INSERT INTO member_cases (case_id, member_id, submitted_at) VALUES {}{conflict}",
                parameter_rows(chunk.len(), 3)
            );
            let mut query = sqlx::query(&sql);
            for (case_id, member_id, submitted_at) in chunk {
                query = query
                    .bind((*case_id).to_owned())
                    .bind((*member_id).to_owned())
                    .bind(*submitted_at);
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Adds each record's counts to the member's year, creating it when missing.
    pub async fn add_to_member_years(tx: &mut Transaction<'_, DB>, records: &[DutyRecord]) -> Result<(), StoreError> {
        for record in records {
            sqlx::query(ADD_TO_MEMBER_YEAR)
                .bind(record.member_id.clone())
                .bind(i64::from(record.year))
                .bind(i64::from(record.contacts))
                .bind(i64::from(record.relays))
                .bind(i64::from(record.reports))
                .bind(i64::from(record.consultations))
                .bind(i64::from(record.solved))
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

/// `rows` rows of `width` numbered parameters: `($1, $2), ($3, $4)`.
pub fn parameter_rows(rows: usize, width: usize) -> String {
    let row = |row: usize| {
        let parameters: Vec<String> = (1..=width).map(|column| format!("${}", row * width + column)).collect();
        format!("({})", parameters.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}
