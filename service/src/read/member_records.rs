//! The member-records projection, members' duty records 一人一档: `member_credits` (one credit
//! per member, activity and subject, with the event behind it: `projections::duty_effects`),
//! `member_year_counts` (the credits counted per member, duty year and activity, so that the
//! assessment reads a few rows per member rather than every credit),
//! `member_cases` (which members answer for which case, with the case's submission time:
//! "problems solved" credits them when the case closes solved, and a member's case list reads
//! them by submission), `members` (the registry as its events leave it) and `member_decisions`
//! (reminder talks, resignations started, years re-opened).
//!
//! Every fact goes through `fold`, in the live batches and in the rebuild alike. A credit's
//! subject belongs to one stream (a case, or the member's own), so a stream's credits are
//! settled by its own facts: the rebuild folds each stream and writes its credits at its end;
//! a live batch applies the changes in order (grants as inserts that keep a credit there, a
//! reopen's take-back as a delete).
//!
//! The year counts always equal the credits counted by `projections::duty_year` (in the
//! deployment's zone). A live batch moves them, in its transaction, by what its statements
//! report they really inserted and deleted (`RETURNING`: a credit granted again inserts
//! nothing), and removes a count that reaches 0; the rebuild counts the final credits while
//! folding and writes the counts at the end.

use std::collections::{BTreeMap, HashMap};

use chrono::{FixedOffset, NaiveDate};
use domain::member_record::{MemberEvent, STREAM_PREFIX};
use domain::member_registry::MemberLevel;
use domain::{Policy, Timestamp};
use futures_util::future::BoxFuture;
use projections::{duty_effects, duty_year, Credit, CreditChange, Fact, Payload, StreamCredits, MEMBER_RECORDS};

use crate::read::error::ProjectorError;
#[cfg(feature = "test-hooks")]
use crate::read::projection::Dump;
use crate::read::projection::{Fold, Projection, Rows};
use crate::read::rows::{self, Field, OnConflict, ViewRow};
use crate::read::tx::{on_tx, Tx};
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

/// A credit; one already there is kept (it counts once).
#[derive(Debug)]
struct CreditRow {
    credit: Credit,
    on_date: Option<String>,
}

impl From<Credit> for CreditRow {
    fn from(credit: Credit) -> Self {
        CreditRow {
            on_date: credit.on_date.map(|date| date.to_string()),
            credit,
        }
    }
}

impl ViewRow for CreditRow {
    const TABLE: &'static str = "member_credits";
    const COLUMNS: &'static [&'static str] = &[
        "member_id",
        "activity",
        "subject",
        "on_date",
        "at",
        "level",
        "stream",
        "position",
    ];
    const KEY: usize = 3;
    const ON_CONFLICT: OnConflict = OnConflict::Keep;

    fn fields(&self) -> Result<Vec<Field<'_>>, StoreError> {
        let credit = &self.credit;
        Ok(vec![
            Field::Text(Some(&credit.member_id)),
            Field::Text(Some(&credit.activity)),
            Field::Text(Some(&credit.subject)),
            Field::Text(self.on_date.as_deref()),
            Field::Time(Some(credit.at)),
            Field::Text(credit.level.as_deref()),
            Field::Text(Some(&credit.stream)),
            Field::Int(credit.position),
        ])
    }
}

/// A member's count of one activity in one duty year. Written as a delta: added to the count
/// there.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
struct YearCount {
    member_id: String,
    year: i64,
    activity: String,
    count: i64,
}

impl ViewRow for YearCount {
    const TABLE: &'static str = "member_year_counts";
    const COLUMNS: &'static [&'static str] = &["member_id", "year", "activity", "count"];
    const KEY: usize = 3;
    const ON_CONFLICT: OnConflict = OnConflict::Add;

    fn fields(&self) -> Result<Vec<Field<'_>>, StoreError> {
        Ok(vec![
            Field::Text(Some(&self.member_id)),
            Field::Int(self.year),
            Field::Text(Some(&self.activity)),
            Field::Int(self.count),
        ])
    }
}

/// Counts by member, duty year and activity: a batch's deltas, or the rebuild's totals.
#[derive(Debug, Default)]
struct YearCounts(BTreeMap<(String, i64, String), i64>);

impl YearCounts {
    fn add(&mut self, member_id: &str, year: i32, activity: &str, delta: i64) {
        *self
            .0
            .entry((member_id.to_owned(), i64::from(year), activity.to_owned()))
            .or_default() += delta;
    }

    /// Moves the counts of `credits` by `delta` each.
    fn count(&mut self, credits: &[Counted], delta: i64, offset: FixedOffset) -> Result<(), StoreError> {
        for credit in credits {
            self.add(&credit.member_id, credit.year(offset)?, &credit.activity, delta);
        }
        Ok(())
    }

    /// The counts that move, as rows.
    fn into_rows(self) -> Vec<YearCount> {
        self.0
            .into_iter()
            .filter(|(_, count)| *count != 0)
            .map(|((member_id, year, activity), count)| YearCount {
                member_id,
                year,
                activity,
                count,
            })
            .collect()
    }
}

/// What a credit inserted or deleted moves: its member's count of its activity in its duty year.
#[derive(Debug, sqlx::FromRow)]
struct Counted {
    member_id: String,
    activity: String,
    on_date: Option<String>,
    at: Timestamp,
}

impl Counted {
    const COLUMNS: &'static [&'static str] = &["member_id", "activity", "on_date", "at"];

    fn year(&self, offset: FixedOffset) -> Result<i32, StoreError> {
        let on_date = self
            .on_date
            .as_deref()
            .map(str::parse::<NaiveDate>)
            .transpose()
            .map_err(|error| StoreError::Corrupt(format!("a credit's date: {error}")))?;
        Ok(duty_year(on_date, self.at, offset))
    }
}

/// A credit as the test dump shows it.
#[cfg(feature = "test-hooks")]
#[derive(Debug, sqlx::FromRow)]
struct CreditLine {
    member_id: String,
    activity: String,
    subject: String,
    on_date: Option<String>,
    level: Option<String>,
    stream: String,
    position: i64,
}

/// A member's registry entry as its events leave it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct MemberRow {
    pub member_id: String,
    pub name: String,
    pub sector: String,
    pub level: String,
    pub jurisdiction: Option<String>,
    pub term_start: String,
    pub term_end: String,
    pub left_on: Option<String>,
}

impl ViewRow for MemberRow {
    const TABLE: &'static str = "members";
    const COLUMNS: &'static [&'static str] = &[
        "member_id",
        "name",
        "sector",
        "level",
        "jurisdiction",
        "term_start",
        "term_end",
        "left_on",
    ];
    const KEY: usize = 1;
    const ON_CONFLICT: OnConflict = OnConflict::Replace;

    fn fields(&self) -> Result<Vec<Field<'_>>, StoreError> {
        Ok(vec![
            Field::Text(Some(&self.member_id)),
            Field::Text(Some(&self.name)),
            Field::Text(Some(&self.sector)),
            Field::Text(Some(&self.level)),
            Field::Text(self.jurisdiction.as_deref()),
            Field::Text(Some(&self.term_start)),
            Field::Text(Some(&self.term_end)),
            Field::Text(self.left_on.as_deref()),
        ])
    }
}

/// A decision staff recorded on a member's duty year.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct DecisionRow {
    pub member_id: String,
    pub position: i64,
    pub kind: String,
    pub year: i64,
    pub reason: String,
    pub by_id: String,
    pub by_role: String,
    pub at: Timestamp,
}

impl ViewRow for DecisionRow {
    const TABLE: &'static str = "member_decisions";
    const COLUMNS: &'static [&'static str] = &[
        "member_id",
        "position",
        "kind",
        "year",
        "reason",
        "by_id",
        "by_role",
        "at",
    ];
    const KEY: usize = 2;
    const ON_CONFLICT: OnConflict = OnConflict::Keep;

    fn fields(&self) -> Result<Vec<Field<'_>>, StoreError> {
        Ok(vec![
            Field::Text(Some(&self.member_id)),
            Field::Int(self.position),
            Field::Text(Some(&self.kind)),
            Field::Int(self.year),
            Field::Text(Some(&self.reason)),
            Field::Text(Some(&self.by_id)),
            Field::Text(Some(&self.by_role)),
            Field::Time(Some(self.at)),
        ])
    }
}

fn level_text(level: MemberLevel) -> String {
    level.as_str().to_owned()
}

/// What the projection knows of one stream while folding it.
#[derive(Debug, Default)]
struct Carried {
    /// The members answering for the case, each once; the first `stored` are in `member_cases`.
    members: Vec<String>,
    stored: usize,
    submitted_at: Option<Timestamp>,
    /// The credit changes of the stream's facts, in order.
    changes: Vec<CreditChange>,
    /// A member stream's registry entry, when its facts touched it.
    entry: Option<MemberRow>,
    entry_changed: bool,
    decisions: Vec<DecisionRow>,
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

/// One fact of `carried`'s stream: its credit changes, the members it makes answer for the
/// case, the registry entry and decisions it leaves.
fn fold(carried: &mut Carried, fact: &Fact) {
    if let Some(submitted_at) = fact.submitted_at() {
        carried.submitted_at = Some(submitted_at);
    }
    let effects = duty_effects(fact, &carried.members);
    for member in effects.carried_by {
        if !carried.members.contains(&member) {
            carried.members.push(member);
        }
    }
    carried.changes.extend(effects.changes);
    let (Payload::Member(event), Some(member_id)) = (&fact.payload, fact.stream.strip_prefix(STREAM_PREFIX)) else {
        return;
    };
    let decision = |kind: &str, decided: &domain::member_record::YearDecided| DecisionRow {
        member_id: member_id.to_owned(),
        position: fact.position,
        kind: kind.to_owned(),
        year: i64::from(decided.year),
        reason: decided.reason.clone(),
        by_id: decided.by.id.clone(),
        by_role: decided.by.role.to_string(),
        at: decided.at,
    };
    match event {
        MemberEvent::MemberRegistered(registered) => {
            let entry = &registered.entry;
            carried.entry = Some(MemberRow {
                member_id: member_id.to_owned(),
                name: entry.name.clone(),
                sector: entry.sector.clone(),
                level: level_text(entry.level),
                jurisdiction: entry.jurisdiction.clone(),
                term_start: entry.term_start.to_string(),
                term_end: entry.term_end.to_string(),
                left_on: None,
            });
            carried.entry_changed = true;
        }
        MemberEvent::MemberChanged(changed) => {
            if let Some(entry) = carried.entry.as_mut() {
                let change = &changed.change;
                if let Some(sector) = &change.sector {
                    entry.sector = sector.clone();
                }
                if let Some(level) = change.level {
                    entry.level = level_text(level);
                }
                if let Some(jurisdiction) = &change.jurisdiction {
                    entry.jurisdiction = Some(jurisdiction.clone());
                }
                carried.entry_changed = true;
            }
        }
        MemberEvent::MemberLeft(left) => {
            if let Some(entry) = carried.entry.as_mut() {
                entry.left_on = Some(left.on.to_string());
                carried.entry_changed = true;
            }
        }
        MemberEvent::ReminderTalkHeld(decided) => carried.decisions.push(decision("reminder_talk_held", decided)),
        MemberEvent::ResignationStarted(decided) => carried.decisions.push(decision("resignation_started", decided)),
        MemberEvent::YearReopened(decided) => carried.decisions.push(decision("year_reopened", decided)),
        MemberEvent::ContactLogged(_) | MemberEvent::ActivityRecorded(_) => {}
    }
}

/// The rows a stream's fold leaves to write.
#[derive(Debug, Default)]
struct Pending {
    cases: Vec<MemberCase>,
    credits: Vec<CreditRow>,
    members: Vec<MemberRow>,
    decisions: Vec<DecisionRow>,
}

impl Pending {
    /// Everything but the credits, which the rebuild settles per stream and a live batch applies
    /// change by change.
    fn take_stream(&mut self, stream: &str, carried: &mut Carried) {
        self.cases.extend(carried.new_rows(stream));
        if carried.entry_changed {
            self.members.extend(carried.entry.take());
        }
        self.decisions.append(&mut carried.decisions);
    }

    async fn write(mut self, tx: &mut Tx, load: bool) -> Result<(), StoreError> {
        self.cases
            .sort_unstable_by(|a, b| (&a.case_id, &a.member_id).cmp(&(&b.case_id, &b.member_id)));
        if load {
            rows::load(tx, &self.cases).await?;
            rows::load(tx, &self.credits).await?;
            rows::load(tx, &self.members).await?;
            rows::load(tx, &self.decisions).await
        } else {
            rows::upsert(tx, &self.cases).await?;
            rows::upsert(tx, &self.credits).await?;
            rows::upsert(tx, &self.members).await?;
            rows::upsert(tx, &self.decisions).await
        }
    }
}

impl Rows for Pending {
    fn load(self: Box<Self>, tx: &mut Tx) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { (*self).write(tx, true).await })
    }
}

impl Projection for MemberRecords {
    fn name(&self) -> &'static str {
        MEMBER_RECORDS
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            MemberCase::TABLE,
            CreditRow::TABLE,
            YearCount::TABLE,
            MemberRow::TABLE,
            DecisionRow::TABLE,
        ]
    }

    fn apply<'a>(
        &'a self,
        tx: &'a mut Tx,
        store: &'a Store,
        policy: &'a Policy,
        batch: &'a [Fact],
    ) -> BoxFuture<'a, Result<(), ProjectorError>> {
        Box::pin(apply(tx, store, policy.offset, batch))
    }

    fn rebuild(&self, policy: &Policy) -> Box<dyn Fold> {
        Box::new(MemberFold {
            offset: policy.offset,
            stream: Carried::default(),
            pending: Pending::default(),
            counts: YearCounts::default(),
        })
    }

    #[cfg(feature = "test-hooks")]
    fn dump<'a>(&'a self, store: &'a Store) -> BoxFuture<'a, Result<Dump, StoreError>> {
        Box::pin(async move {
            let credits: Vec<CreditLine> = on_pool!(store, |pool| sqlx::query_as(
                "SELECT member_id, activity, subject, on_date, level, stream, position \
                     FROM member_credits ORDER BY member_id, activity, subject"
            )
            .fetch_all(pool)
            .await?);
            let carried: Vec<MemberCase> = on_pool!(store, |pool| sqlx::query_as(
                "SELECT case_id, member_id, submitted_at FROM member_cases ORDER BY case_id, member_id"
            )
            .fetch_all(pool)
            .await?);
            let members: Vec<MemberRow> =
                on_pool!(store, |pool| sqlx::query_as("SELECT * FROM members ORDER BY member_id")
                    .fetch_all(pool)
                    .await?);
            let decisions: Vec<DecisionRow> = on_pool!(store, |pool| sqlx::query_as(
                "SELECT * FROM member_decisions ORDER BY member_id, position"
            )
            .fetch_all(pool)
            .await?);
            let counts: Vec<YearCount> = on_pool!(store, |pool| sqlx::query_as(
                "SELECT * FROM member_year_counts ORDER BY member_id, year, activity"
            )
            .fetch_all(pool)
            .await?);
            Ok(vec![
                (
                    MEMBER_RECORDS,
                    credits
                        .into_iter()
                        .map(|row| {
                            format!(
                                "{} {} {} {:?} {:?} {} {}",
                                row.member_id,
                                row.activity,
                                row.subject,
                                row.on_date,
                                row.level,
                                row.stream,
                                row.position
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
                (
                    MemberRow::TABLE,
                    members.into_iter().map(|row| format!("{row:?}")).collect(),
                ),
                (
                    DecisionRow::TABLE,
                    decisions.into_iter().map(|row| format!("{row:?}")).collect(),
                ),
                (
                    YearCount::TABLE,
                    counts.into_iter().map(|row| format!("{row:?}")).collect(),
                ),
            ])
        })
    }
}

async fn apply(tx: &mut Tx, store: &Store, offset: FixedOffset, batch: &[Fact]) -> Result<(), ProjectorError> {
    let mut streams: Vec<&str> = batch.iter().map(|fact| fact.stream.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    let (members, cases): (Vec<&str>, Vec<&str>) = streams.iter().partition(|stream| stream.starts_with(STREAM_PREFIX));
    let stored: Vec<MemberCase> = rows::select_in(
        tx,
        "SELECT case_id, member_id, submitted_at FROM member_cases",
        "case_id",
        &cases,
    )
    .await?;
    let member_ids: Vec<&str> = members
        .iter()
        .filter_map(|stream| stream.strip_prefix(STREAM_PREFIX))
        .collect();
    let entries: Vec<MemberRow> = rows::select_in(tx, "SELECT * FROM members", "member_id", &member_ids).await?;
    let mut carried: HashMap<&str, Carried> = streams.iter().map(|stream| (*stream, Carried::default())).collect();
    for row in stored {
        if let Some(stream) = carried.get_mut(row.case_id.as_str()) {
            stream.members.push(row.member_id);
            stream.stored += 1;
            stream.submitted_at = Some(row.submitted_at);
        }
    }
    for entry in entries {
        if let Some(stream) = carried.get_mut(format!("{STREAM_PREFIX}{}", entry.member_id).as_str()) {
            stream.entry = Some(entry);
        }
    }
    let mut changes = Vec::new();
    for fact in batch {
        let stream = carried.entry(fact.stream.as_str()).or_default();
        fold(stream, fact);
        changes.append(&mut stream.changes);
    }
    let mut pending = Pending::default();
    for (stream_id, stream) in &mut carried {
        // A case whose first member comes after the batch of its submission: the log's first
        // event of the case states when it was submitted.
        if stream.submitted_at.is_none() && stream.members.len() > stream.stored {
            stream.submitted_at = store
                .first_fact(stream_id)
                .await?
                .and_then(|first| first.submitted_at());
        }
        pending.take_stream(stream_id, stream);
    }
    apply_changes(tx, changes, offset).await?;
    pending.write(tx, false).await?;
    Ok(())
}

/// The credit changes of a batch, in log order: grants gathered into multi-row inserts, each
/// take-back after the grants before it; then the year counts, moved by the credits really
/// inserted and deleted.
async fn apply_changes(tx: &mut Tx, changes: Vec<CreditChange>, offset: FixedOffset) -> Result<(), StoreError> {
    let mut counts = YearCounts::default();
    let mut grants: Vec<CreditRow> = Vec::new();
    for change in changes {
        match change {
            CreditChange::Grant(credit) => grants.push(credit.into()),
            CreditChange::Revoke { activity, subject } => {
                let granted = rows::upsert_returning(tx, &std::mem::take(&mut grants), Counted::COLUMNS).await?;
                counts.count(&granted, 1, offset)?;
                let revoked: Vec<Counted> = on_tx!(&mut *tx, |tx| {
                    sqlx::query_as(&format!(
                        "DELETE FROM member_credits WHERE activity = $1 AND subject = $2 RETURNING {}",
                        Counted::COLUMNS.join(", ")
                    ))
                    .bind(activity)
                    .bind(subject)
                    .fetch_all(&mut **tx)
                    .await?
                });
                counts.count(&revoked, -1, offset)?;
            }
        }
    }
    let granted = rows::upsert_returning(tx, &grants, Counted::COLUMNS).await?;
    counts.count(&granted, 1, offset)?;
    let moved: Vec<YearCount> = rows::upsert_returning(tx, &counts.into_rows(), YearCount::COLUMNS).await?;
    // A member-year-activity with no credit left has no row, as in the rebuild.
    for emptied in moved.iter().filter(|row| row.count == 0) {
        on_tx!(&mut *tx, |tx| {
            sqlx::query("DELETE FROM member_year_counts WHERE member_id = $1 AND year = $2 AND activity = $3")
                .bind(&emptied.member_id)
                .bind(emptied.year)
                .bind(&emptied.activity)
                .execute(&mut **tx)
                .await?;
        });
    }
    Ok(())
}

/// The rebuild's fold: the stream being folded, the rows of those done and not yet written, and
/// the year counts of every credit so far.
struct MemberFold {
    offset: FixedOffset,
    stream: Carried,
    pending: Pending,
    counts: YearCounts,
}

impl Fold for MemberFold {
    fn fact(&mut self, fact: &Fact) {
        fold(&mut self.stream, fact);
    }

    fn end_stream(&mut self, stream: &str) {
        let mut done = std::mem::take(&mut self.stream);
        let mut credits = StreamCredits::default();
        for change in std::mem::take(&mut done.changes) {
            credits.change(change);
        }
        for credit in credits.into_credits() {
            self.counts
                .add(&credit.member_id, credit.duty_year(self.offset), &credit.activity, 1);
            self.pending.credits.push(credit.into());
        }
        self.pending.take_stream(stream, &mut done);
    }

    fn take_rows(&mut self) -> Box<dyn Rows> {
        Box::new(std::mem::take(&mut self.pending))
    }

    fn finish(self: Box<Self>, tx: &mut Tx) -> BoxFuture<'_, Result<(), ProjectorError>> {
        Box::pin(async move { Ok(rows::load(tx, &self.counts.into_rows()).await?) })
    }
}
