//! The projection engine: each projection follows the global log from its checkpoint and
//! applies events in batches. A batch is one transaction that claims the checkpoint row
//! (compare-and-set on the position the batch started from), writes the view changes and moves
//! the checkpoint: a crash at any point leaves the projection before or after the batch, and
//! two runners can never apply the same event twice (the loser's claim fails and it rolls
//! back). On PostgreSQL an advisory lock, held on a connection for as long as the runner lives,
//! keeps the work with one process at a time; the others wait and take over if it dies.
//!
//! Runners wake on the engine's in-process notification, on PostgreSQL `NOTIFY lianxin_events`
//! (sent by every process after its appends), and at least once a second.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use domain::Timestamp;
use projections::{
    duty_effects, summarize, CaseFact, CaseSummary, CellError, DutyTotals, Fact, Payload, CASE_SUMMARIES,
    MEMBER_RECORDS, PROJECTIONS,
};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{QueryBuilder, Row};
use tokio::sync::watch;

use crate::read::outcome_cells::{self, CellTable};
use crate::read::rebuild::{self, Rebuilt, When};
use crate::read::view_rows::{ViewRows, Write};
use crate::store::{on_pool, Store, StoreError};

/// Events per transaction.
const BATCH: i64 = 500;
/// How often a runner looks at the log when nothing woke it.
const POLL: Duration = Duration::from_secs(1);
/// How long a runner that has just applied events lets more gather before it looks again.
const GATHER: Duration = Duration::from_millis(10);
/// How long a catch-up sleeps while the head is not yet readable, and when it says so.
const STALL_STEP: Duration = Duration::from_millis(20);
const STALL_WARNING: Duration = Duration::from_secs(10);
/// Advisory-lock keys, one per projection.
fn lease_key(name: &str) -> i64 {
    0x6c78_0000 + PROJECTIONS.iter().position(|known| *known == name).unwrap_or(0) as i64
}

/// A test's way to stop a batch between its view writes and its checkpoint, as a crash would.
/// It is given the projection and the position of the batch's last fact.
pub type Fault = Arc<dyn Fn(&str, i64) -> bool + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no projection is named `{0}`")]
    UnknownProjection(String),
    #[error("injected fault in `{0}` before its checkpoint")]
    InjectedFault(String),
    #[error(transparent)]
    Cells(#[from] CellError),
}

impl From<sqlx::Error> for ProjectorError {
    fn from(error: sqlx::Error) -> Self {
        ProjectorError::Store(error.into())
    }
}

/// A projection's place in the log.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    pub name: &'static str,
    /// The position of the last event applied; 0 before the first.
    pub position: i64,
    /// The log's last position.
    pub head: i64,
    /// Events appended after the checkpoint, not yet applied.
    pub lag: i64,
}

#[derive(Clone)]
pub struct Projector {
    store: Store,
    /// Bumped after every committed batch, so readers waiting for a position re-check.
    applied: Arc<watch::Sender<u64>>,
    fault: Option<Fault>,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("store", &self.store.backend())
            .finish()
    }
}

fn known(name: &str) -> Result<&'static str, ProjectorError> {
    PROJECTIONS
        .iter()
        .find(|known| **known == name)
        .copied()
        .ok_or_else(|| ProjectorError::UnknownProjection(name.to_owned()))
}

impl Projector {
    pub fn new(store: Store) -> Self {
        Projector {
            store,
            applied: Arc::new(watch::channel(0).0),
            fault: None,
        }
    }

    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = Some(fault);
        self
    }

    /// Changes whenever a batch commits.
    pub fn applied(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// Runs every projection until the process ends, and tells other processes on the same
    /// database of this one's appends.
    pub fn spawn(&self, appended: watch::Receiver<u64>) {
        if let Store::Postgres(pool) = &self.store {
            announce(pool.clone(), appended.clone());
        }
        for name in PROJECTIONS {
            let projector = self.clone();
            let appended = appended.clone();
            tokio::spawn(async move { projector.run(name, appended).await });
        }
    }

    /// Runs one projection. Wake-ups come through watch channels, which remember a change
    /// made while the runner was busy, so no append goes unnoticed until the next poll.
    async fn run(self, name: &'static str, mut appended: watch::Receiver<u64>) {
        let (notified, mut wake) = watch::channel(0u64);
        if let Store::Postgres(pool) = &self.store {
            listen(pool.clone(), notified);
        }
        loop {
            // Held for as long as this runner lives: other processes wait for it.
            let _lease = match self.lease(name).await {
                Ok(lease) => lease,
                Err(error) => {
                    tracing::warn!(projection = name, %error, "cannot take the projection lease");
                    tokio::time::sleep(POLL).await;
                    continue;
                }
            };
            // A projection that has never applied an event (a new database, or one a migration
            // started again) is built in one pass rather than replayed batch by batch.
            match self.rebuild_if_never_applied(name).await {
                Ok(Some(rebuilt)) => {
                    tracing::info!(projection = name, events = rebuilt.events, "rebuilt from the whole log")
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(projection = name, %error, "cannot rebuild; catching up instead"),
            }
            loop {
                match self.catch_up(name, |_| {}).await {
                    // Under a stream of appends, waking on each one would make a transaction
                    // of every few events: a moment's wait gathers them into bigger batches.
                    Ok(applied) if applied > 0 => tokio::time::sleep(GATHER).await,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::error!(projection = name, %error, "projection batch failed; retrying");
                        tokio::time::sleep(POLL).await;
                        if matches!(error, ProjectorError::InjectedFault(_)) {
                            return;
                        }
                    }
                }
                tokio::select! {
                    changed = appended.changed(), if appended.has_changed().is_ok() => drop(changed),
                    changed = wake.changed(), if wake.has_changed().is_ok() => drop(changed),
                    () = tokio::time::sleep(POLL) => {},
                }
            }
        }
    }

    /// Waits until this process may advance `name` (PostgreSQL); SQLite has one process.
    async fn lease(&self, name: &str) -> Result<Option<sqlx::pool::PoolConnection<sqlx::Postgres>>, StoreError> {
        let Store::Postgres(pool) = &self.store else {
            return Ok(None);
        };
        let mut connection = pool.acquire().await?;
        loop {
            let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(lease_key(name))
                .fetch_one(&mut *connection)
                .await?;
            if held {
                return Ok(Some(connection));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Applies every event up to the log's head as it stood when called, batch by batch;
    /// `progress` is told the checkpoint after each batch. Returns the number of events applied.
    ///
    /// On PostgreSQL the head may not be readable yet while an older transaction (of any
    /// database on the server) is still open; it then waits for it, saying so after a while.
    pub async fn catch_up(&self, name: &str, mut progress: impl FnMut(i64) + Send) -> Result<u64, ProjectorError> {
        let name = known(name)?;
        let target = self.store.head_position().await?;
        let mut applied = 0;
        let mut waited = Duration::ZERO;
        loop {
            let from = self.position(name).await?;
            let batch = self.store.facts_after(from, BATCH).await?;
            if batch.is_empty() {
                if target == 0 || self.has_applied(name, target).await? {
                    return Ok(applied);
                }
                if waited == STALL_WARNING {
                    tracing::warn!(projection = name, target, "waiting for an older transaction to end");
                }
                tokio::time::sleep(STALL_STEP).await;
                waited += STALL_STEP;
                continue;
            }
            if self.apply_batch(name, from, &batch).await? {
                applied += batch.len() as u64;
                self.applied.send_modify(|generation| *generation += 1);
                let position = batch.last().map_or(from, |fact| fact.position);
                metrics::gauge!("lianxin_projection_position", "projection" => name).set(position as f64);
                metrics::counter!("lianxin_projection_events_total", "projection" => name)
                    .increment(batch.len() as u64);
                progress(position);
            }
        }
    }

    async fn position(&self, name: &str) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT position FROM projection_checkpoints WHERE name = $1";
        Ok(on_pool!(&self.store, |pool| sqlx::query_scalar(SQL)
            .bind(name)
            .fetch_one(pool)
            .await?))
    }

    /// One transaction: claim the checkpoint at `from`, apply `batch`, move the checkpoint.
    /// `false` when another runner moved the checkpoint first (nothing is written).
    async fn apply_batch(&self, name: &'static str, from: i64, batch: &[Fact]) -> Result<bool, ProjectorError> {
        const CLAIM: &str = "UPDATE projection_checkpoints SET position = position WHERE name = $1 AND position = $2";
        let last = batch.last().map_or(from, |fact| fact.position);
        on_pool!(&self.store, |pool| {
            let mut tx = pool.begin().await?;
            if let Store::Postgres(_) = &self.store {
                // The views follow from the durable log, and the checkpoint commits with them:
                // a batch lost in a crash is applied again, so it need not wait for the disk.
                sqlx::query("SET LOCAL synchronous_commit = off")
                    .execute(&mut *tx)
                    .await?;
            }
            let claimed = sqlx::query(CLAIM).bind(name).bind(from).execute(&mut *tx).await?;
            if claimed.rows_affected() != 1 {
                return Ok(false);
            }
            match name {
                CASE_SUMMARIES => {
                    // One read of every summary the batch touches, the facts applied in memory,
                    // one multi-row upsert of those that changed.
                    let mut ids: Vec<&str> = batch
                        .iter()
                        .filter(|fact| fact.kind.is_some())
                        .map(|fact| fact.stream.as_str())
                        .collect();
                    ids.sort_unstable();
                    ids.dedup();
                    let mut summaries: HashMap<String, CaseSummary> = HashMap::new();
                    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                        let mut query = QueryBuilder::new("SELECT id, summary FROM case_summaries WHERE id IN (");
                        let mut list = query.separated(", ");
                        for id in chunk {
                            list.push_bind(*id);
                        }
                        query.push(")");
                        let rows: Vec<(String, Json<CaseSummary>)> = query.build_query_as().fetch_all(&mut *tx).await?;
                        summaries.extend(rows.into_iter().map(|(id, summary)| (id, summary.0)));
                    }
                    let before_batch = summaries.clone();
                    let mut changed: Vec<String> = Vec::new();
                    for fact in batch.iter().filter(|fact| fact.kind.is_some()) {
                        let before = summaries.remove(&fact.stream);
                        let after = summarize(before.clone(), fact.clone());
                        if after != before && !changed.contains(&fact.stream) {
                            changed.push(fact.stream.clone());
                        }
                        if let Some(after) = after {
                            summaries.insert(fact.stream.clone(), after);
                        }
                    }
                    let rows: Vec<&CaseSummary> = changed.iter().filter_map(|id| summaries.get(id)).collect();
                    ViewRows::write_summaries(&mut tx, &rows, Write::Upsert).await?;
                    let changes: Vec<_> = rows.iter().map(|after| (before_batch.get(&after.id), *after)).collect();
                    CellTable::apply(&mut tx, &changes).await?;
                }
                MEMBER_RECORDS => {
                    let mut totals = DutyTotals::default();
                    for fact in batch {
                        let carriers: Vec<String> = if matches!(fact.payload, Payload::Case(CaseFact::Closed(_))) {
                            sqlx::query_scalar(
                                "SELECT member_id FROM member_cases WHERE case_id = $1 ORDER BY member_id",
                            )
                            .bind(&fact.stream)
                            .fetch_all(&mut *tx)
                            .await?
                        } else {
                            Vec::new()
                        };
                        let effects = duty_effects(fact, &carriers);
                        if !effects.carried_by.is_empty() {
                            // The members' case lists are ordered by the case's submission,
                            // which the log's first event of the case states.
                            let submitted_at = match fact.submitted_at() {
                                Some(at) => Some(at),
                                None => self
                                    .store
                                    .first_fact(&fact.stream)
                                    .await?
                                    .and_then(|first| first.submitted_at()),
                            };
                            if let Some(submitted_at) = submitted_at {
                                let carried: Vec<(&str, &str, Timestamp)> = effects
                                    .carried_by
                                    .iter()
                                    .map(|member| (fact.stream.as_str(), member.as_str(), submitted_at))
                                    .collect();
                                ViewRows::write_member_cases(&mut tx, &carried, Write::Upsert).await?;
                            }
                        }
                        totals.add(effects.increments);
                    }
                    ViewRows::add_to_member_years(&mut tx, &totals.into_records()).await?;
                }
                other => return Err(ProjectorError::UnknownProjection(other.to_owned())),
            }
            if let Some(fault) = &self.fault {
                if fault(name, last) {
                    // Dropping the transaction rolls back the view writes, as a crash would.
                    return Err(ProjectorError::InjectedFault(name.to_owned()));
                }
            }
            sqlx::query(MOVE_CHECKPOINT)
                .bind(last)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Rebuilds the projections `names` from the whole log in one pass and one transaction
    /// (see [`crate::read::rebuild`]); `progress` is told the number of events read so far.
    pub async fn rebuild(&self, names: &[&str], progress: impl Fn(u64) + Send) -> Result<Rebuilt, ProjectorError> {
        // `Always` rebuilds whatever the checkpoints say, so there is always a result.
        Ok(self
            .rebuild_when(names, When::Always, progress)
            .await?
            .unwrap_or_default())
    }

    /// Rebuilds `name` if it has never applied an event while the log holds some; `None` when
    /// there was nothing to do.
    pub async fn rebuild_if_never_applied(&self, name: &str) -> Result<Option<Rebuilt>, ProjectorError> {
        self.rebuild_when(&[name], When::NeverApplied, |_| {}).await
    }

    async fn rebuild_when(
        &self,
        names: &[&str],
        when: When,
        progress: impl Fn(u64) + Send,
    ) -> Result<Option<Rebuilt>, ProjectorError> {
        let names = names.iter().map(|name| known(name)).collect::<Result<Vec<_>, _>>()?;
        let rebuilt = rebuild::rebuild(&self.store, &names, when, progress, |position| {
            self.fault
                .as_ref()
                .is_some_and(|fault| names.iter().any(|name| fault(name, position)))
        })
        .await?;
        if let Some(rebuilt) = &rebuilt {
            self.applied.send_modify(|generation| *generation += 1);
            for name in &names {
                metrics::gauge!("lianxin_projection_position", "projection" => *name).set(rebuilt.position as f64);
            }
        }
        Ok(rebuilt)
    }

    /// Every projection's checkpoint, the log's head and the lag between them.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, ProjectorError> {
        const LAG: &str = "SELECT COUNT(*) FROM events WHERE position > $1";
        let head = self.store.head_position().await?;
        let mut checkpoints = Vec::new();
        for name in PROJECTIONS {
            let position = self.position(name).await?;
            let lag: i64 = on_pool!(&self.store, |pool| sqlx::query_scalar(LAG)
                .bind(position)
                .fetch_one(pool)
                .await?);
            checkpoints.push(Checkpoint {
                name,
                position,
                head,
                lag,
            });
        }
        Ok(checkpoints)
    }

    /// Whether `name` has applied the event at `position` (and so everything before it in
    /// log order).
    pub async fn has_applied(&self, name: &str, position: i64) -> Result<bool, ProjectorError> {
        let name = known(name)?;
        let covered: bool = match &self.store {
            Store::Postgres(pool) => sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM projection_checkpoints c \
                   JOIN events applied ON applied.position = c.position \
                   JOIN events wanted ON wanted.position = $2 \
                  WHERE c.name = $1 \
                    AND (wanted.transaction_id, wanted.position) <= (applied.transaction_id, applied.position))",
            )
            .bind(name)
            .bind(position)
            .fetch_one(pool)
            .await
            .map_err(StoreError::from)?,
            Store::Sqlite(pool) => sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM projection_checkpoints WHERE name = $1 AND position >= $2)",
            )
            .bind(name)
            .bind(position)
            .fetch_one(pool)
            .await
            .map_err(StoreError::from)?,
        };
        Ok(covered)
    }

    /// Waits (up to `limit`) until `name` has applied `position`; `false` if it has not by then.
    /// A position no event holds (beyond the head, or a gap) is refused at once.
    pub async fn wait_for(&self, name: &str, position: i64, limit: Duration) -> Result<bool, ProjectorError> {
        const EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM events WHERE position = $1)";
        let exists: bool = on_pool!(&self.store, |pool| sqlx::query_scalar(EXISTS)
            .bind(position)
            .fetch_one(pool)
            .await
            .map_err(StoreError::from)?);
        if !exists {
            return Err(ProjectorError::Store(StoreError::UnknownPosition(position)));
        }
        let mut applied = self.applied();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.has_applied(name, position).await? {
                return Ok(true);
            }
            let changed = tokio::time::timeout_at(deadline, applied.changed()).await;
            if changed.is_err() {
                return self.has_applied(name, position).await;
            }
        }
    }

    /// Every row of every view, in a stable order: two projections are equal when these are.
    pub async fn dump(&self) -> Result<HashMap<&'static str, Vec<String>>, ProjectorError> {
        let mut dump = HashMap::new();
        let cases: Vec<Json<CaseSummary>> = on_pool!(&self.store, |pool| sqlx::query_scalar(
            "SELECT summary FROM case_summaries ORDER BY id"
        )
        .fetch_all(pool)
        .await
        .map_err(StoreError::from)?);
        dump.insert(
            CASE_SUMMARIES,
            cases
                .into_iter()
                .map(|case| serde_json::to_string(&case.0).unwrap_or_default())
                .collect(),
        );
        let members: Vec<String> = on_pool!(&self.store, |pool| {
            let rows = sqlx::query(
                "SELECT member_id, year, contacts, relays, reports, consultations, solved \
                 FROM member_years ORDER BY member_id, year",
            )
            .fetch_all(pool)
            .await
            .map_err(StoreError::from)?;
            let mut lines = Vec::new();
            for row in rows {
                let member: String = row.try_get(0)?;
                let numbers: Vec<i64> = (1..7).map(|index| row.try_get(index)).collect::<Result<_, _>>()?;
                lines.push(format!("{member} {numbers:?}"));
            }
            lines
        });
        let carried: Vec<(String, String, Timestamp)> = on_pool!(&self.store, |pool| sqlx::query_as(
            "SELECT case_id, member_id, submitted_at FROM member_cases ORDER BY case_id, member_id"
        )
        .fetch_all(pool)
        .await
        .map_err(StoreError::from)?);
        dump.insert(
            "member_cases",
            carried
                .into_iter()
                .map(|(case_id, member_id, submitted_at)| format!("{case_id} {member_id} {submitted_at:?}"))
                .collect(),
        );
        dump.insert(MEMBER_RECORDS, members);
        dump.insert("outcome_cells", outcome_cells::dump(&self.store).await?);
        Ok(dump)
    }
}

/// Sets a projection's checkpoint (`$2`) to a position (`$1`), inside the transaction that
/// wrote the views up to it.
pub(crate) const MOVE_CHECKPOINT: &str =
    "UPDATE projection_checkpoints SET position = $1, updated_at = CURRENT_TIMESTAMP WHERE name = $2";

/// Ids per `IN (…)` list when a batch reads the summaries it touches.
const ROWS_PER_STATEMENT: usize = 500;

/// Sends `NOTIFY lianxin_events` after this process's appends: one per burst (appends made
/// while one is on its way are announced by the next), from outside the appending
/// transactions, because PostgreSQL serializes the commits of notifying transactions.
fn announce(pool: sqlx::PgPool, mut appended: watch::Receiver<u64>) {
    tokio::spawn(async move {
        while appended.changed().await.is_ok() {
            if let Err(error) = sqlx::query("SELECT pg_notify('lianxin_events', '')")
                .execute(&pool)
                .await
            {
                tracing::warn!(%error, "cannot announce appended events");
                tokio::time::sleep(POLL).await;
            }
        }
    });
}

/// Forwards PostgreSQL notifications of appended events to `wake`, reconnecting when needed.
fn listen(pool: sqlx::PgPool, wake: watch::Sender<u64>) {
    tokio::spawn(async move {
        loop {
            match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if listener.listen("lianxin_events").await.is_ok() {
                        while listener.recv().await.is_ok() {
                            wake.send_modify(|count| *count += 1);
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot listen for appended events"),
            }
            tokio::time::sleep(POLL).await;
        }
    });
}
