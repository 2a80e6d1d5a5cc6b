//! The member-records projection, members' duty records 一人一档: `member_years` (per member and
//! year, the counts of `projections::duty_effects`) and `member_cases` (which members answer for
//! which case, with the case's submission time: "problems solved" counts them when the case
//! closes solved, and a member's case list reads them by submission).
//!
//! Every fact goes through `fold`, in the live batches and in the rebuild alike: it adds the
//! fact's counts to the totals and the members it makes answer for its case to the case's
//! `Carried`. A live batch reads the members of every case it touches in one query, folds the
//! facts in memory, then writes the new `member_cases` rows in one multi-row upsert and adds the
//! totals to `member_years` in another. The rebuild folds each stream once and loads the sums at
//! the end: member-year counts are sums, so the order of streams does not matter.

use std::collections::HashMap;

use domain::Timestamp;
use futures_util::future::BoxFuture;
use projections::{duty_effects, DutyRecord, DutyTotals, Fact, MEMBER_RECORDS};

use crate::read::error::ProjectorError;
#[cfg(feature = "test-hooks")]
use crate::read::projection::Dump;
use crate::read::projection::{Fold, Projection, Rows};
use crate::read::rows::{self, Field, OnConflict, ViewRow};
use crate::read::tx::Tx;
#[cfg(feature = "test-hooks")]
use crate::store::on_pool;
use crate::store::{Store, StoreError};

#[derive(Debug)]
pub struct MemberRecords;

/// A member answering for a case.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
struct MemberCase {
    case_id: String,
    member_id: String,
    /// The case's submission: a member's list is ordered by it.
    submitted_at: Timestamp,
}

impl ViewRow for MemberCase {
    const TABLE: &'static str = "member_cases";
    const COLUMNS: &'static [&'static str] = &["case_id", "member_id", "submitted_at"];
    const KEY: usize = 2;
    const ON_CONFLICT: OnConflict = OnConflict::Keep;

    fn fields(&self) -> Result<Vec<Field<'_>>, StoreError> {
        Ok(vec![
            Field::Text(Some(&self.case_id)),
            Field::Text(Some(&self.member_id)),
            Field::Time(Some(self.submitted_at)),
        ])
    }
}

/// A member's counts for a year; an upsert adds them to those there.
impl ViewRow for DutyRecord {
    const TABLE: &'static str = "member_years";
    const COLUMNS: &'static [&'static str] = &[
        "member_id",
        "year",
        "contacts",
        "relays",
        "reports",
        "consultations",
        "solved",
    ];
    const KEY: usize = 2;
    const ON_CONFLICT: OnConflict = OnConflict::Add;

    fn fields(&self) -> Result<Vec<Field<'_>>, StoreError> {
        Ok(vec![
            Field::Text(Some(&self.member_id)),
            Field::Int(i64::from(self.year)),
            Field::Int(i64::from(self.contacts)),
            Field::Int(i64::from(self.relays)),
            Field::Int(i64::from(self.reports)),
            Field::Int(i64::from(self.consultations)),
            Field::Int(i64::from(self.solved)),
        ])
    }
}

/// What the projection knows of one stream while folding it.
#[derive(Debug, Default)]
struct Carried {
    /// The members answering for the case, each once; the first `stored` are in `member_cases`.
    members: Vec<String>,
    stored: usize,
    submitted_at: Option<Timestamp>,
}

impl Carried {
    /// The `member_cases` rows of the members not stored yet, once the case's submission is known.
    fn new_rows<'a>(&'a self, case_id: &'a str) -> impl Iterator<Item = MemberCase> + 'a {
        let submitted_at = self.submitted_at;
        self.members[self.stored..].iter().filter_map(move |member| {
            submitted_at.map(|submitted_at| MemberCase {
                case_id: case_id.to_owned(),
                member_id: member.clone(),
                submitted_at,
            })
        })
    }
}

/// One fact of `carried`'s stream: its counts added to `totals`, the members it makes answer for
/// the case added to `carried`.
fn fold(carried: &mut Carried, fact: &Fact, totals: &mut DutyTotals) {
    if let Some(submitted_at) = fact.submitted_at() {
        carried.submitted_at = Some(submitted_at);
    }
    let effects = duty_effects(fact, &carried.members);
    for member in effects.carried_by {
        if !carried.members.contains(&member) {
            carried.members.push(member);
        }
    }
    totals.add(effects.increments);
}

impl Projection for MemberRecords {
    fn name(&self) -> &'static str {
        MEMBER_RECORDS
    }

    fn tables(&self) -> &'static [&'static str] {
        &[MemberCase::TABLE, DutyRecord::TABLE]
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut Tx,
        store: &'a Store,
        batch: &'a [Fact],
    ) -> BoxFuture<'a, Result<(), ProjectorError>> {
        Box::pin(apply(tx, store, batch))
    }

    fn rebuild(&self) -> Box<dyn Fold> {
        Box::new(MemberFold::default())
    }

    #[cfg(feature = "test-hooks")]
    fn dump<'a>(&'a self, store: &'a Store) -> BoxFuture<'a, Result<Dump, StoreError>> {
        Box::pin(async move {
            let years: Vec<(String, i64, i64, i64, i64, i64, i64)> = on_pool!(store, |pool| sqlx::query_as(
                "SELECT member_id, year, contacts, relays, reports, consultations, solved \
                 FROM member_years ORDER BY member_id, year"
            )
            .fetch_all(pool)
            .await?);
            let carried: Vec<MemberCase> = on_pool!(store, |pool| sqlx::query_as(
                "SELECT case_id, member_id, submitted_at FROM member_cases ORDER BY case_id, member_id"
            )
            .fetch_all(pool)
            .await?);
            Ok(vec![
                (
                    MEMBER_RECORDS,
                    years
                        .into_iter()
                        .map(|(member, year, contacts, relays, reports, consultations, solved)| {
                            format!(
                                "{member} {:?}",
                                [year, contacts, relays, reports, consultations, solved]
                            )
                        })
                        .collect(),
                ),
                (
                    MemberCase::TABLE,
                    carried
                        .into_iter()
                        .map(|row| format!("{} {} {:?}", row.case_id, row.member_id, row.submitted_at))
                        .collect(),
                ),
            ])
        })
    }
}

async fn apply(tx: &mut Tx, store: &Store, batch: &[Fact]) -> Result<(), ProjectorError> {
    let mut cases: Vec<&str> = batch
        .iter()
        .filter(|fact| fact.kind.is_some())
        .map(|fact| fact.stream.as_str())
        .collect();
    cases.sort_unstable();
    cases.dedup();
    let stored: Vec<MemberCase> = rows::select_in(
        tx,
        "SELECT case_id, member_id, submitted_at FROM member_cases WHERE case_id IN ",
        &cases,
    )
    .await?;
    let mut streams: HashMap<&str, Carried> = cases.iter().map(|case| (*case, Carried::default())).collect();
    for row in stored {
        if let Some(carried) = streams.get_mut(row.case_id.as_str()) {
            carried.members.push(row.member_id);
            carried.stored += 1;
            carried.submitted_at = Some(row.submitted_at);
        }
    }
    let mut totals = DutyTotals::default();
    for fact in batch {
        fold(streams.entry(fact.stream.as_str()).or_default(), fact, &mut totals);
    }
    let mut carried = Vec::new();
    for (case_id, stream) in &mut streams {
        // A case whose first member comes after the batch of its submission: the log's first
        // event of the case states when it was submitted.
        if stream.submitted_at.is_none() && stream.members.len() > stream.stored {
            stream.submitted_at = store.first_fact(case_id).await?.and_then(|first| first.submitted_at());
        }
        carried.extend(stream.new_rows(case_id));
    }
    carried.sort_unstable_by(|a, b| (&a.case_id, &a.member_id).cmp(&(&b.case_id, &b.member_id)));
    rows::upsert(tx, &carried).await?;
    rows::upsert(tx, &totals.into_records()).await?;
    Ok(())
}

/// The rebuild's fold: the stream being folded, the rows of those done and not yet written, and
/// the counts of all.
#[derive(Default)]
struct MemberFold {
    stream: Carried,
    pending: Vec<MemberCase>,
    totals: DutyTotals,
}

impl Fold for MemberFold {
    fn fact(&mut self, fact: &Fact) {
        fold(&mut self.stream, fact, &mut self.totals);
    }

    fn end_stream(&mut self, stream: &str) {
        let done = std::mem::take(&mut self.stream);
        self.pending.extend(done.new_rows(stream));
    }

    fn take_rows(&mut self) -> Box<dyn Rows> {
        Box::new(std::mem::take(&mut self.pending))
    }

    fn finish(self: Box<Self>, tx: &mut Tx) -> BoxFuture<'_, Result<(), ProjectorError>> {
        Box::pin(async move { Ok(rows::load(tx, &self.totals.into_records()).await?) })
    }
}
