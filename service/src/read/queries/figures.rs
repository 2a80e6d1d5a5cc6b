//! Figures read from the case summaries of a period, with the same definitions the outcome
//! cells are checked against (`projections::outcome_figures`, `projections::figures`):
//! - [`outcomes_in_jurisdiction`]: the figures for a reader limited to one jurisdiction. The
//!   outcome cells are split by one dimension at a time, so they hold a jurisdiction's totals but
//!   not, say, its figures by department: a scoped reader's figures are computed from its
//!   jurisdiction's case summaries instead.
//! - [`Cohort`]: the cases of a period as a published report freezes them: their figures and
//!   which cases, at which version, they count.
//!
//! Both read every summary of the period (`case_summaries_by_submission`, or
//! `case_summaries_by_jurisdiction`), so they cost what the period holds, not a few cells; each
//! summary keeps what the published figures need of its case's history, so no event is read.

use domain::Timestamp;
use projections::{figures as figures_of, outcome_figures, CaseSummary, FigureSettings, Figures, GroupBy};

use crate::read::outcome_cells::PeriodFigures;
use crate::read::rows::Document;
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
    let summaries: Vec<Document<CaseSummary>> = on_pool!(store, |pool| {
        let mut query = sqlx::query_scalar(sql).bind(from).bind(to);
        if let Some(jurisdiction) = jurisdiction {
            query = query.bind(jurisdiction);
        }
        query.fetch_all(pool).await?
    });
    Ok(summaries.into_iter().map(|summary| summary.0).collect())
}

/// The figures of the cases submitted in `[from, to)` in `jurisdiction`, as of `now`.
pub async fn outcomes_in_jurisdiction(
    store: &Store,
    jurisdiction: &str,
    (from, to): (Timestamp, Timestamp),
    group_by: Option<GroupBy>,
    now: Timestamp,
    settings: FigureSettings<'_>,
) -> Result<PeriodFigures, StoreError> {
    let cohort = Cohort::read(store, Some(jurisdiction), (from, to)).await?;
    Ok(PeriodFigures {
        groups: outcome_figures(&cohort.summaries, group_by, now, settings.policy.offset),
        figures: cohort.figures(group_by, now, settings),
    })
}

/// The cases submitted in a period: what the published figures are computed from, once for any
/// number of groupings.
#[derive(Debug, Clone, Default)]
pub struct Cohort {
    pub summaries: Vec<CaseSummary>,
}

impl Cohort {
    /// The cases submitted in `[from, to)` (in `jurisdiction` when one is given).
    pub async fn read(
        store: &Store,
        jurisdiction: Option<&str>,
        (from, to): (Timestamp, Timestamp),
    ) -> Result<Cohort, StoreError> {
        Ok(Cohort {
            summaries: summaries(store, jurisdiction, from, to).await?,
        })
    }

    /// The published figures of the cohort, as of `now`.
    pub fn figures(&self, group_by: Option<GroupBy>, now: Timestamp, settings: FigureSettings<'_>) -> Vec<Figures> {
        figures_of(&self.summaries, group_by, now, settings)
    }
}
