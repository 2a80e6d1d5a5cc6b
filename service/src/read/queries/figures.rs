//! The outcome figures for a reader limited to one jurisdiction ([`outcomes_in_jurisdiction`]).
//! The outcome cells are split by one dimension at a time, so they hold a jurisdiction's totals
//! but not, say, its figures by department: a scoped reader's figures are computed from its
//! jurisdiction's case summaries instead, with the same definition (`projections::outcome_figures`)
//! the cells are checked against. It reads every summary of the period in the jurisdiction
//! (`case_summaries_by_jurisdiction`), so it costs what the period holds, not a fixed few cells.

use domain::Timestamp;
use projections::{outcome_figures, CaseSummary, GroupBy, OutcomeFigures};
use sqlx::types::Json;

use crate::store::{on_pool, Store, StoreError};

/// The figures of the cases submitted in `[from, to)` in `jurisdiction`, as of `now`.
pub async fn outcomes_in_jurisdiction(
    store: &Store,
    jurisdiction: &str,
    from: Timestamp,
    to: Timestamp,
    group_by: Option<GroupBy>,
    now: Timestamp,
) -> Result<Vec<OutcomeFigures>, StoreError> {
    const SQL: &str = "SELECT summary FROM case_summaries \
                       WHERE jurisdiction = $1 AND submitted_at >= $2 AND submitted_at < $3";
    let summaries: Vec<Json<CaseSummary>> = on_pool!(store, |pool| sqlx::query_scalar(SQL)
        .bind(jurisdiction)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?);
    Ok(outcome_figures(
        summaries.iter().map(|summary| &summary.0),
        group_by,
        now,
    ))
}
