//! The case-summary projection: one row per case in `case_summaries` (the filter columns of the
//! lists, the handling units as a JSON array for a unit's list, and the whole summary as a JSON
//! document the database keeps as text, [`Document`]), and its companion, the outcome cells
//! ([`crate::read::outcome_cells`]), which always hold exactly the cases of `case_summaries`.
//!
//! Every fact of a case goes through `fold` (the pure `projections::summarize`), in the live
//! batches and in the rebuild alike. A live batch reads every summary it touches in one query,
//! folds the facts in memory and writes the rows that changed in one multi-row upsert; in the same
//! transaction it moves the outcome cells from the summaries before the batch to those after
//! (`CellTable::apply`). The rebuild folds each case once, from its own events, loads the final
//! rows and writes the cells of all of them at the end.

use std::collections::{BTreeMap, HashMap};

use domain::{Policy, Timestamp};
use futures_util::future::BoxFuture;
use projections::{
    level_name, local_month_of, roll_up, summarize, CaseSummary, CellChanges, Dimension, Fact, Span, CASE_SUMMARIES,
};

use crate::read::error::ProjectorError;
use crate::read::outcome_cells::CellTable;
#[cfg(feature = "test-hooks")]
use crate::read::projection::Dump;
use crate::read::projection::{Fold, Projection, Rows};
use crate::read::rows::{self, document, json, Document, Field, OnConflict, ViewRow};
use crate::read::tx::{on_tx, Tx};
#[cfg(feature = "test-hooks")]
use crate::store::on_pool;
use crate::store::{Store, StoreError};

#[derive(Debug)]
pub struct CaseSummaries;

/// A case's summary after `fact`, from the one before it (`None` before its submission).
fn fold(summary: &mut Option<CaseSummary>, fact: &Fact) {
    *summary = summarize(summary.take(), fact.clone());
}

impl ViewRow for CaseSummary {
    const TABLE: &'static str = "case_summaries";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "kind",
        "status",
        "category",
        "jurisdiction",
        "department",
        "assignee",
        "submitted_at",
        "due_at",
        "is_open",
        "title",
        "body",
        "summary",
        "submitter_id",
        "level",
        "handlers",
    ];
    const KEY: usize = 1;
    const ON_CONFLICT: OnConflict = OnConflict::Replace;

    fn fields(&self) -> Result<Vec<Field<'_>>, StoreError> {
        Ok(vec![
            Field::Text(Some(&self.id)),
            Field::Text(Some(self.kind.as_str())),
            Field::Text(Some(self.status.as_str())),
            Field::Text(Some(&self.category)),
            Field::Text(Some(&self.jurisdiction)),
            Field::Text(self.department.as_deref()),
            Field::Text(self.assignee()),
            Field::Time(Some(self.submitted_at)),
            Field::Time(self.due_at),
            Field::Bool(self.is_open()),
            Field::Text(Some(&self.title)),
            Field::Text(Some(&self.body)),
            document(self)?,
            Field::Text(Some(&self.submitter_id)),
            Field::Text(Some(level_name(self.level))),
            json(&self.handlers)?,
        ])
    }
}

impl Projection for CaseSummaries {
    fn name(&self) -> &'static str {
        CASE_SUMMARIES
    }

    fn tables(&self) -> &'static [&'static str] {
        &[CaseSummary::TABLE, "outcome_cells"]
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut Tx,
        _store: &'a Store,
        policy: &'a Policy,
        batch: &'a [Fact],
    ) -> BoxFuture<'a, Result<(), ProjectorError>> {
        Box::pin(apply(tx, policy, batch))
    }

    fn settle<'a>(
        &'a self,
        tx: &'a mut Tx,
        policy: &'a Policy,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<usize, ProjectorError>> {
        Box::pin(async move {
            let month = local_month_of(now, policy.offset);
            let months = on_tx!(tx, |tx| CellTable::settle(tx, &month).await?);
            if months > 0 {
                tracing::debug!(
                    projection = CASE_SUMMARIES,
                    months,
                    "rolled up the outcome cells' months"
                );
            }
            Ok(months)
        })
    }

    fn rebuild(&self, policy: &Policy) -> Box<dyn Fold> {
        Box::new(SummaryFold {
            policy: policy.clone(),
            summary: None,
            pending: Vec::new(),
            cells: CellChanges::default(),
        })
    }

    #[cfg(feature = "test-hooks")]
    fn dump<'a>(&'a self, store: &'a Store) -> BoxFuture<'a, Result<Dump, StoreError>> {
        Box::pin(async move {
            let cases: Vec<Document<CaseSummary>> = on_pool!(store, |pool| sqlx::query_scalar(
                "SELECT summary FROM case_summaries ORDER BY id"
            )
            .fetch_all(pool)
            .await?);
            let cases = cases
                .into_iter()
                .map(|case| serde_json::to_string(&case.0).unwrap_or_default())
                .collect();
            Ok(vec![
                (CASE_SUMMARIES, cases),
                ("outcome_cells", crate::read::outcome_cells::dump(store).await?),
            ])
        })
    }
}

async fn apply(tx: &mut Tx, policy: &Policy, batch: &[Fact]) -> Result<(), ProjectorError> {
    let facts: Vec<&Fact> = batch.iter().filter(|fact| fact.kind.is_some()).collect();
    let mut ids: Vec<&str> = facts.iter().map(|fact| fact.stream.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let stored: Vec<(String, Document<CaseSummary>)> =
        rows::select_in(tx, "SELECT id, summary FROM case_summaries", "id", &ids).await?;
    let before: HashMap<String, CaseSummary> = stored.into_iter().map(|(id, summary)| (id, summary.0)).collect();
    let mut after: HashMap<&str, Option<CaseSummary>> = ids.iter().map(|id| (*id, before.get(*id).cloned())).collect();
    for fact in facts {
        if let Some(summary) = after.get_mut(fact.stream.as_str()) {
            fold(summary, fact);
        }
    }
    let changed: Vec<CaseSummary> = ids
        .iter()
        .filter_map(|id| after.remove(id).flatten())
        .filter(|summary| before.get(&summary.id) != Some(summary))
        .collect();
    rows::upsert(tx, &changed).await?;
    let changes: Vec<(Option<&CaseSummary>, &CaseSummary)> = changed
        .iter()
        .map(|summary| (before.get(&summary.id), summary))
        .collect();
    on_tx!(tx, |tx| CellTable::apply(tx, &changes, policy).await?);
    Ok(())
}

/// The rebuild's fold: the summary of the case being folded, the final summaries not yet
/// written, and the day cells of every case folded so far (they are most of the fold's memory:
/// a few 8-byte samples per case and dimension), rolled up into months at the end.
struct SummaryFold {
    policy: Policy,
    summary: Option<CaseSummary>,
    pending: Vec<CaseSummary>,
    cells: CellChanges,
}

impl Fold for SummaryFold {
    fn fact(&mut self, fact: &Fact) {
        fold(&mut self.summary, fact);
    }

    fn end_stream(&mut self, _stream: &str) {
        if let Some(summary) = self.summary.take() {
            for dimension in Dimension::ALL {
                self.cells.add(&summary, dimension, Span::Day, &self.policy);
            }
            self.pending.push(summary);
        }
    }

    fn take_rows(&mut self) -> Box<dyn Rows> {
        Box::new(std::mem::take(&mut self.pending))
    }

    fn finish(self: Box<Self>, tx: &mut Tx) -> BoxFuture<'_, Result<(), ProjectorError>> {
        Box::pin(async move {
            let mut cells = BTreeMap::new();
            self.cells.apply(&mut cells)?;
            let months = roll_up(&cells);
            cells.extend(months);
            on_tx!(tx, |tx| CellTable::write_all(tx, &cells).await?);
            Ok(())
        })
    }
}
