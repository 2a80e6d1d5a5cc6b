//! Figures read from the case summaries of a period, with the same definitions the outcome
//! cells are checked against:
//! - [`outcomes_in_jurisdiction`]: the outcome figures for a reader limited to one
//!   jurisdiction. The outcome cells are split by one dimension at a time, so they hold a
//!   jurisdiction's totals but not, say, its figures by department: a scoped reader's figures
//!   are computed from its jurisdiction's case summaries instead (`projections::outcome_figures`).
//! - [`Cohort`]: the published figures (`docs/figures.md`, `projections::figures`), which also
//!   need what each case's events keep beyond its summary (`projections::CaseHistory`): the
//!   summaries of the period, then each case's events up to the position its summary stands at,
//!   so that a case's history never runs ahead of its summary.
//!
//! Both read every summary of the period (`case_summaries_by_submission`, or
//! `case_summaries_by_jurisdiction`), so they cost what the period holds, not a fixed few cells;
//! [`Cohort`] also reads each case's events.

use domain::Timestamp;
use projections::{
    figures as figures_of, outcome_figures, CaseHistory, CaseSummary, Fact, FigureSettings, Figures, GroupBy,
    OutcomeFigures, Payload,
};
use sqlx::types::Json;

use crate::store::{on_pool, Store, StoreError};

/// The summaries of the cases submitted in `[from, to)`, in `jurisdiction` when one is given.
async fn summaries(
    store: &Store,
    jurisdiction: Option<&str>,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<CaseSummary>, StoreError> {
    const ALL: &str = "SELECT summary FROM case_summaries \
                       WHERE submitted_at >= $1 AND submitted_at < $2 ORDER BY submitted_at, id";
    const IN_JURISDICTION: &str = "SELECT summary FROM case_summaries \
                       WHERE submitted_at >= $1 AND submitted_at < $2 AND jurisdiction = $3 \
                       ORDER BY submitted_at, id";
    let sql = if jurisdiction.is_some() { IN_JURISDICTION } else { ALL };
    let summaries: Vec<Json<CaseSummary>> = on_pool!(store, |pool| {
        let mut query = sqlx::query_scalar(sql).bind(from).bind(to);
        if let Some(jurisdiction) = jurisdiction {
            query = query.bind(jurisdiction);
        }
        query.fetch_all(pool).await?
    });
    Ok(summaries.into_iter().map(|summary| summary.0).collect())
}

/// The outcome figures of the cases submitted in `[from, to)` in `jurisdiction`, as of `now`.
pub async fn outcomes_in_jurisdiction(
    store: &Store,
    jurisdiction: &str,
    from: Timestamp,
    to: Timestamp,
    group_by: Option<GroupBy>,
    now: Timestamp,
) -> Result<Vec<OutcomeFigures>, StoreError> {
    let summaries = summaries(store, Some(jurisdiction), from, to).await?;
    Ok(outcome_figures(&summaries, group_by, now))
}

/// The history of `case` from its events, up to the event its summary stands at.
async fn history(store: &Store, case: &CaseSummary) -> Result<CaseHistory, StoreError> {
    let mut history = CaseHistory::default();
    for event in store.stream_events(&case.id).await? {
        if event.position > case.position {
            break;
        }
        if let Payload::Case(fact) = Fact::from(&event).payload {
            history.record(&fact);
        }
    }
    Ok(history)
}

/// The cases submitted in a period, each with its history: what the published figures are
/// computed from, once for any number of groupings.
#[derive(Debug, Clone, Default)]
pub struct Cohort {
    pub summaries: Vec<CaseSummary>,
    pub histories: Vec<CaseHistory>,
}

impl Cohort {
    /// The cases submitted in `[from, to)` (in `jurisdiction` when one is given).
    pub async fn read(
        store: &Store,
        jurisdiction: Option<&str>,
        (from, to): (Timestamp, Timestamp),
    ) -> Result<Cohort, StoreError> {
        let summaries = summaries(store, jurisdiction, from, to).await?;
        let mut histories = Vec::with_capacity(summaries.len());
        for case in &summaries {
            histories.push(history(store, case).await?);
        }
        Ok(Cohort { summaries, histories })
    }

    /// The published figures of the cohort, as of `now`.
    pub fn figures(&self, group_by: Option<GroupBy>, now: Timestamp, settings: FigureSettings<'_>) -> Vec<Figures> {
        figures_of(self.summaries.iter().zip(&self.histories), group_by, now, settings)
    }
}
