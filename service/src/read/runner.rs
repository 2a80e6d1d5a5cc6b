//! The projection engine: one runner per projection of the registry follows the global log from
//! the projection's checkpoint and applies events in batches. The runner owns the lease, the
//! wake-ups and the checkpoints; what a batch writes is the projection's own
//! ([`Projection::apply`]), and nothing here knows one projection from another. Its guarantees:
//!
//! - **Never half an event, never twice.** A batch (up to 500 events) is one transaction: claim
//!   the checkpoint row with a compare-and-set on the position the batch started from, write the
//!   view changes, move the checkpoint, commit. A crash anywhere leaves the projection before or
//!   after the batch. A second runner (another process) or a rebuild (`lianxin replay` beside a
//!   running service) makes the batch lose its claim and roll back. Tested by
//!   `a_projector_stopped_before_its_checkpoint_loses_and_repeats_nothing` (a fault injected
//!   between view writes and checkpoint, feature `test-hooks`) and
//!   `two_processes_on_one_database_build_the_views_a_rebuild_builds`.
//! - **In log order, skipping nothing.** Batches come from `Store::facts_after` (the order and
//!   horizon of `log_after`), so PostgreSQL's late commits are never passed over.
//! - **Read once for every projection.** The runners wake together and start their batches
//!   from the same checkpoint, so a process keeps its last few pages ([`Pages`]): the second
//!   runner to want the page after a position takes the one the first read. A page read
//!   earlier may be shorter than the log is now, never wrong: below the horizon nothing can
//!   join the log before its last event.
//! - **One process at a time.** On PostgreSQL a runner holds `pg_try_advisory_lock` on a
//!   connection for as long as it lives; other processes wait and take over if it dies.
//! - **Derived, so not flushed.** On PostgreSQL a batch commits with `synchronous_commit = off`:
//!   its view rows and checkpoint are lost or kept together, and what a crash loses is applied
//!   again from the durable log. Readers may then briefly see a view step back to the checkpoint.
//! - **Prompt.** Runners wake on the engine's in-process notification after each append, on
//!   `NOTIFY lianxin_events`, and at least once a second; after a batch, a runner lets 10 to
//!   40 ms of appends gather before it looks again (a millisecond an event it just applied), so
//!   batches grow with the load. Each process announces its own appends with one `NOTIFY` per
//!   burst and at most one every 10 ms, sent after the commits: a notify inside the appending
//!   transaction (a trigger, at first) makes PostgreSQL serialize those commits behind one
//!   lock, which undid group commit under concurrent writers.
//! - **Read your writes.** Every command answers the `position` it wrote; read-model endpoints
//!   take `?min_position=` and wait ([`Projector::wait_for`]) until the projection has applied
//!   it (by log order, not by number).
//! - **Rebuildable.** [`Projector::rebuild`] rebuilds projections from the whole log in one pass
//!   and one transaction ([`crate::read::rebuild`]); a projection that has never applied an event
//!   is rebuilt so when its runner starts. [`Projector::checkpoints`] shows each checkpoint, the
//!   log head and the lag.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use domain::Policy;
use projections::Fact;
use serde::Serialize;
use tokio::sync::{watch, Mutex};

use crate::read::checkpoints;
use crate::read::error::ProjectorError;
#[cfg(feature = "test-hooks")]
use crate::read::faults::Fault;
use crate::read::faults::Faults;
use crate::read::projection::Projection;
use crate::read::rebuild::{self, Rebuilt, When};
use crate::read::registry::{lease_key, named, PROJECTIONS};
use crate::read::tx::Tx;
use crate::store::{on_pool, Store, StoreError};

/// Events per transaction.
const BATCH: i64 = 500;
/// Pages kept for the other runners: one per projection covers runners in step.
const PAGES_KEPT: usize = 4;
/// How often a runner looks at the log when nothing woke it.
const POLL: Duration = Duration::from_secs(1);
/// How long a runner that has just applied events lets more gather before it looks again:
/// from `GATHER`, a millisecond an event applied, up to `GATHER_MAX`.
const GATHER: Duration = Duration::from_millis(10);
const GATHER_MAX: Duration = Duration::from_millis(40);
/// How long a catch-up sleeps while the head is not yet readable, and when it says so.
const STALL_STEP: Duration = Duration::from_millis(20);
const STALL_WARNING: Duration = Duration::from_secs(10);

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
    /// The deployment's calendar and time zone, as the projections keep days and working days.
    policy: Arc<Policy>,
    /// Bumped after every committed batch, so readers waiting for a position re-check.
    applied: Arc<watch::Sender<u64>>,
    pages: Pages,
    faults: Faults,
}

/// The pages of the log read last, each by the position it follows; the lock is held while a
/// page is read, so runners asking for the same page together read it once.
#[derive(Clone, Default)]
struct Pages(Arc<Mutex<VecDeque<Page>>>);

/// The position a page of the log follows, and its facts.
type Page = (i64, Arc<[Fact]>);

impl Pages {
    /// The facts after `from` (up to [`BATCH`]), from a page kept or from the log.
    async fn after(&self, store: &Store, from: i64) -> Result<Arc<[Fact]>, StoreError> {
        let mut kept = self.0.lock().await;
        if let Some((_, page)) = kept.iter().find(|(after, _)| *after == from) {
            return Ok(Arc::clone(page));
        }
        let page: Arc<[Fact]> = store.facts_after(from, BATCH).await?.into();
        // An empty page says only that nothing was there yet: not worth keeping.
        if !page.is_empty() {
            if kept.len() == PAGES_KEPT {
                kept.pop_front();
            }
            kept.push_back((from, Arc::clone(&page)));
        }
        Ok(page)
    }
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projector")
            .field("store", &self.store.backend())
            .finish()
    }
}

impl Projector {
    pub fn new(store: Store, policy: Policy) -> Self {
        Projector {
            store,
            policy: Arc::new(policy),
            applied: Arc::new(watch::channel(0).0),
            pages: Pages::default(),
            faults: Faults::default(),
        }
    }

    /// A projector whose batches and rebuilds `fault` may stop before their commit.
    #[cfg(feature = "test-hooks")]
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.faults = Faults::new(fault);
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
        for projection in PROJECTIONS {
            let projector = self.clone();
            let appended = appended.clone();
            tokio::spawn(async move { projector.run(projection, appended).await });
        }
    }

    /// Runs one projection. Wake-ups come through watch channels, which remember a change
    /// made while the runner was busy, so no append goes unnoticed until the next poll.
    async fn run(self, projection: &'static dyn Projection, mut appended: watch::Receiver<u64>) {
        let name = projection.name();
        let (notified, mut wake) = watch::channel(0u64);
        if let Store::Postgres(pool) = &self.store {
            listen(pool.clone(), notified);
        }
        loop {
            // Held for as long as this runner lives: other processes wait for it.
            let _lease = match self.lease(projection).await {
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
                match self.advance(projection).await {
                    // Under a stream of appends, waking on each one would make a transaction
                    // of every few events: a moment's wait gathers them into bigger batches,
                    // longer the more came (each batch's fixed statements and the outcome
                    // cells' rewrite are then shared by more events). Then look again at once.
                    Ok(applied) if applied > 0 => {
                        tokio::time::sleep(gather(applied)).await;
                        continue;
                    }
                    Ok(_) => match self.behind(name).await {
                        // The log's end is hidden behind an older transaction still running.
                        Ok(true) => {
                            tokio::time::sleep(STALL_STEP).await;
                            continue;
                        }
                        Ok(false) => {}
                        Err(error) => tracing::warn!(projection = name, %error, "cannot read the log's head"),
                    },
                    Err(error) => {
                        tracing::error!(projection = name, %error, "projection batch failed; retrying");
                        tokio::time::sleep(POLL).await;
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

    /// Waits until this process may advance `projection` (PostgreSQL); SQLite has one process.
    async fn lease(
        &self,
        projection: &dyn Projection,
    ) -> Result<Option<sqlx::pool::PoolConnection<sqlx::Postgres>>, StoreError> {
        let Store::Postgres(pool) = &self.store else {
            return Ok(None);
        };
        let mut connection = pool.acquire().await?;
        loop {
            let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(lease_key(projection))
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
        let projection = named(name)?;
        let name = projection.name();
        let target = self.store.head_position().await?;
        let mut applied = 0;
        let mut waited = Duration::ZERO;
        let mut from = checkpoints::position(&self.store, name).await?;
        loop {
            let batch = self.pages.after(&self.store, from).await?;
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
            match self.apply_batch(projection, from, &batch).await? {
                Some(last) => {
                    applied += batch.len() as u64;
                    from = last;
                    progress(from);
                    // A batch in log order that held the target has applied it: no statement
                    // more to find that out.
                    if batch.iter().any(|fact| fact.position == target) {
                        return Ok(applied);
                    }
                }
                // Another runner (or a rebuild) moved the checkpoint.
                None => from = checkpoints::position(&self.store, name).await?,
            }
        }
    }

    /// The live runner's step: applies the pages there are, until one comes back short (the
    /// log's readable end when that page was read). It has no target to reach, so a page another
    /// runner read a moment ago serves as well as a fresh one; what came since is the next
    /// step's. Returns the number of events applied.
    async fn advance(&self, projection: &dyn Projection) -> Result<u64, ProjectorError> {
        let mut applied = 0;
        let mut from = checkpoints::position(&self.store, projection.name()).await?;
        loop {
            let batch = self.pages.after(&self.store, from).await?;
            if batch.is_empty() {
                return Ok(applied);
            }
            match self.apply_batch(projection, from, &batch).await? {
                Some(last) => {
                    applied += batch.len() as u64;
                    from = last;
                }
                // Another runner (or a rebuild) moved the checkpoint.
                None => from = checkpoints::position(&self.store, projection.name()).await?,
            }
            if batch.len() < BATCH as usize {
                return Ok(applied);
            }
        }
    }

    /// Whether the log holds an event `name` has not applied (on PostgreSQL, one an older
    /// transaction may still hide from the log's readers).
    async fn behind(&self, name: &str) -> Result<bool, ProjectorError> {
        let head = self.store.head_position().await?;
        Ok(head != 0 && !self.has_applied(name, head).await?)
    }

    /// One transaction: claim the checkpoint at `from`, apply `batch`, move the checkpoint;
    /// then tell the readers waiting for a position. The new checkpoint, or `None` when another
    /// runner moved the checkpoint first (nothing is written) or there was nothing to apply.
    async fn apply_batch(
        &self,
        projection: &dyn Projection,
        from: i64,
        batch: &[Fact],
    ) -> Result<Option<i64>, ProjectorError> {
        let Some(last) = batch.last().map(|fact| fact.position) else {
            return Ok(None);
        };
        let name = projection.name();
        let mut tx = Tx::begin(&self.store).await?;
        tx.without_flush().await?;
        if !checkpoints::claim(&mut tx, name, Some(from)).await? {
            return Ok(None);
        }
        projection.apply(&mut tx, &self.store, &self.policy, batch).await?;
        self.faults.check(&[name], last)?;
        checkpoints::move_to(&mut tx, name, last).await?;
        tx.commit().await?;
        self.applied.send_modify(|generation| *generation += 1);
        metrics::gauge!("lianxin_projection_position", "projection" => name).set(last as f64);
        metrics::counter!("lianxin_projection_events_total", "projection" => name).increment(batch.len() as u64);
        Ok(Some(last))
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
        let projections = names.iter().map(|name| named(name)).collect::<Result<Vec<_>, _>>()?;
        let rebuilt = rebuild::rebuild(&self.store, &projections, &self.policy, when, progress, &self.faults).await?;
        if let Some(rebuilt) = &rebuilt {
            self.applied.send_modify(|generation| *generation += 1);
            for projection in &projections {
                metrics::gauge!("lianxin_projection_position", "projection" => projection.name())
                    .set(rebuilt.position as f64);
            }
        }
        Ok(rebuilt)
    }

    /// Every projection's checkpoint, the log's head and the lag between them.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, ProjectorError> {
        let head = self.store.head_position().await?;
        let mut all = Vec::new();
        for projection in PROJECTIONS {
            let position = checkpoints::position(&self.store, projection.name()).await?;
            all.push(Checkpoint {
                name: projection.name(),
                position,
                head,
                lag: checkpoints::lag(&self.store, position).await?,
            });
        }
        Ok(all)
    }

    /// Whether `name` has applied the event at `position` (and so everything before it in
    /// log order).
    pub async fn has_applied(&self, name: &str, position: i64) -> Result<bool, ProjectorError> {
        let name = named(name)?.name();
        Ok(checkpoints::has_applied(&self.store, name, position).await?)
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

    /// Every row of every projection's tables, per table, in a stable order: two sets of
    /// views are equal when these are.
    #[cfg(feature = "test-hooks")]
    pub async fn dump(&self) -> Result<std::collections::HashMap<&'static str, Vec<String>>, ProjectorError> {
        let mut dump = std::collections::HashMap::new();
        for projection in PROJECTIONS {
            dump.extend(projection.dump(&self.store).await?);
        }
        Ok(dump)
    }
}

fn gather(applied: u64) -> Duration {
    Duration::from_millis(applied).clamp(GATHER, GATHER_MAX)
}

/// Sends `NOTIFY lianxin_events` after this process's appends: one per burst, at most one
/// every [`GATHER`] (appends made meanwhile are announced by the next), from outside the
/// appending transactions, because PostgreSQL serializes the commits of notifying transactions.
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
            // At most one a `GATHER`: the appends meanwhile are announced by the next, and
            // the other processes' runners would gather them into one batch anyway.
            tokio::time::sleep(GATHER).await;
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
