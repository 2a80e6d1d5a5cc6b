//! The projection engine: one runner per projection of the registry follows the global log from
//! the projection's checkpoint and applies events in batches. The runner owns the lease, the
//! wake-ups and the checkpoints; what a batch writes is the projection's own
//! ([`Projection::apply`]), and nothing here knows one projection from another. Its guarantees:
//!
//! - **Never half an event, never twice.** A batch (up to 2,000 events) is one transaction: claim
//!   the checkpoint row with a compare-and-set on the position the batch started from, write the
//!   view changes, move the checkpoint, commit. A crash anywhere leaves the projection before or
//!   after the batch. A second runner (another process) or a rebuild (`lianxin replay` beside a
//!   running service) makes the batch lose its claim and roll back. Tested by
//!   `a_projector_stopped_before_its_checkpoint_loses_and_repeats_nothing` (a fault injected
//!   between view writes and checkpoint, feature `test-hooks`) and
//!   `two_processes_on_one_database_build_the_views_a_rebuild_builds`.
//! - **In log order, skipping nothing.** Batches come from `Store::facts_after` (the order and
//!   horizon of `log_after`), so PostgreSQL's late commits are never passed over.
//! - **Read once for every projection.** The runners follow the same log, so a process keeps
//!   its last pages ([`Pages`]): a runner wanting the facts after a position takes them from
//!   the pages another runner read, joined up to a batch, and reads the log only past them. A
//!   page read earlier may be shorter than the log is now, never wrong: below the horizon
//!   nothing can join the log before its last event. In a service the runners read a page's
//!   positions only, and take the events this process's engine appended from memory
//!   ([`RecentAppends`]), reading whole only the others (another process's, say).
//! - **One process at a time.** On PostgreSQL a runner holds `pg_try_advisory_lock` on a
//!   connection for as long as it lives; other processes wait and take over if it dies.
//! - **Derived, so not flushed.** On PostgreSQL a batch commits with `synchronous_commit = off`:
//!   its view rows and checkpoint are lost or kept together, and what a crash loses is applied
//!   again from the durable log. Readers may then briefly see a view step back to the checkpoint.
//! - **Prompt.** Runners wake on the engine's in-process notification after each append, on
//!   `NOTIFY lianxin_events`, and at least once a second; after a batch, a runner lets 10 to
//!   150 ms of appends gather before it looks again (a millisecond an event it just applied), so
//!   batches grow with the load, and each batch's fixed work (its statements, the outcome cells'
//!   day rows rewritten) is shared by more events. It looks sooner once appends have stopped for
//!   20 ms (the burst is over) or when a reader waits for a position. Each process announces
//!   its own appends with one `NOTIFY` per burst and at most one every 10 ms, sent after the
//!   commits: a notify inside the appending transaction (a trigger, at first) makes PostgreSQL
//!   serialize those commits behind one lock, which undid group commit under concurrent
//!   writers.
//! - **Read your writes.** Every command answers the `position` it wrote; read-model endpoints
//!   take `?min_position=` and wait ([`Projector::wait_for`]) until the projection has applied
//!   it (by log order, not by number), on whichever process its runner runs: a waiting reader
//!   stops the runners' gathering (`NOTIFY lianxin_reads` for another process's) and looks
//!   again every 10 ms for a batch another process committed. Tested by
//!   `a_write_is_read_back_at_once_on_either_of_two_processes`.
//! - **Rebuildable.** [`Projector::rebuild`] rebuilds projections from the whole log in one pass
//!   and one transaction ([`crate::read::rebuild`]); a projection that has never applied an event
//!   is rebuilt so when its runner starts. [`Projector::checkpoints`] shows each checkpoint, the
//!   log head and the lag.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
use crate::store::{on_pool, RecentAppends, Store, StoreError};

/// Events per transaction: what a runner gathers at the most under load (`GATHER_MAX` of
/// appends at over 10,000 a second), so that a gathering is applied in one batch.
const BATCH: i64 = 2_000;
/// Pages kept for the other runners: enough for one whose batches take longer to catch up.
const PAGES_KEPT: usize = 4;
/// How often a runner looks at the log when nothing woke it.
const POLL: Duration = Duration::from_secs(1);
/// How long a runner that has just applied events lets more gather before it looks again:
/// from `GATHER`, a millisecond an event applied, up to `GATHER_MAX`; sooner once no append
/// has come for `QUIET` (longer than `GATHER`, the most other processes' announcements are
/// apart under load).
const GATHER: Duration = Duration::from_millis(10);
const GATHER_MAX: Duration = Duration::from_millis(150);
const QUIET: Duration = Duration::from_millis(20);
/// How often a reader waiting for a position looks whether another process's runner applied it.
const RECHECK: Duration = Duration::from_millis(10);
/// How often a runner at most does the work its projection's batches leave for later (rolling
/// up the outcome cells' months): reads of a month changed since read its days meanwhile. The
/// builds with test hooks settle soon, so that the end-to-end tests see it happen.
const SETTLE_EVERY: Duration = if cfg!(feature = "test-hooks") {
    Duration::from_millis(200)
} else {
    Duration::from_secs(10)
};
/// How long a catch-up sleeps while the head is not yet readable, and when it says so.
const STALL_STEP: Duration = Duration::from_millis(20);
const STALL_WARNING: Duration = Duration::from_secs(10);

/// The PostgreSQL notification channels between the processes on one database, as macros so
/// that the statements that notify on them are constants spliced with their names: appended
/// events, and readers waiting for a position.
macro_rules! events_channel {
    () => {
        "lianxin_events"
    };
}
macro_rules! reads_channel {
    () => {
        "lianxin_reads"
    };
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
    /// The deployment's calendar and time zone, as the projections keep days and working days.
    policy: Arc<Policy>,
    /// Bumped after every committed batch, so readers waiting for a position re-check.
    applied: Arc<watch::Sender<u64>>,
    /// How many runners of this process hold their lease and have made their start-up rebuild.
    started: Arc<watch::Sender<usize>>,
    /// How many readers of this process wait for a position: runners then gather nothing.
    readers: Arc<watch::Sender<usize>>,
    pages: Pages,
    faults: Faults,
}

/// The pages of the log read last, each by the position it follows; the lock is held while a
/// page is read, so runners asking for the same page together read it once. Given this
/// process's recent appends, a page is read as positions, and only the events not found there
/// are read whole.
#[derive(Clone, Default)]
struct Pages {
    kept: Arc<Mutex<VecDeque<Page>>>,
    recent: Option<RecentAppends>,
    /// Events read whole from the log for want of them in `recent`.
    read_back: Arc<AtomicU64>,
}

/// A page of the log as read: the position it follows, its facts, and when it was read.
struct Page {
    after: i64,
    facts: Arc<[Fact]>,
    read_at: Instant,
}

impl Pages {
    /// The facts after `from` (up to [`BATCH`]), from the pages kept and, past them, from the
    /// log; and whether more are known to follow (a full batch, or pages kept beyond it).
    /// Pages kept are taken as they are while the last was read within [`GATHER`]; older, the
    /// log is read on from their end and the batch joined, so no runner lags a round behind.
    async fn after(&self, store: &Store, from: i64) -> Result<(Arc<[Fact]>, bool), StoreError> {
        let mut kept = self.kept.lock().await;
        let found = kept_after(&kept, from, Instant::now());
        let prefix = match found {
            Some(Kept { facts, more, fresh }) if more || fresh => return Ok((facts, more)),
            Some(Kept { facts, .. }) => facts,
            None => Arc::from([]),
        };
        let at = prefix.last().map_or(from, |fact| fact.position);
        let page: Arc<[Fact]> = self.read(store, at, BATCH - prefix.len() as i64).await?.into();
        // An empty page says only that nothing was there yet: not worth keeping.
        if !page.is_empty() {
            if kept.len() == PAGES_KEPT {
                kept.pop_front();
            }
            kept.push_back(Page {
                after: at,
                facts: Arc::clone(&page),
                read_at: Instant::now(),
            });
        }
        let facts: Arc<[Fact]> = if prefix.is_empty() {
            page
        } else {
            prefix.iter().chain(page.iter()).cloned().collect()
        };
        let more = facts.len() == BATCH as usize;
        Ok((facts, more))
    }

    /// The log's facts after `after`, those of this process's recent appends made from them.
    async fn read(&self, store: &Store, after: i64, limit: i64) -> Result<Vec<Fact>, StoreError> {
        let Some(recent) = &self.recent else {
            return store.facts_after(after, limit).await;
        };
        let (facts, read_back) = store
            .page_after_taking(recent, after, limit, |event| Fact::from(&**event))
            .await?;
        self.read_back.fetch_add(read_back as u64, Ordering::Relaxed);
        metrics::counter!("lianxin_projection_events_read_back_total").increment(read_back as u64);
        Ok(facts)
    }
}

/// What the pages kept hold after a position.
struct Kept {
    facts: Arc<[Fact]>,
    /// A batch is full, or more pages are kept past it.
    more: bool,
    /// The last page was read within [`GATHER`] before the time asked about.
    fresh: bool,
}

/// The facts after `from` that the pages kept hold, up to [`BATCH`]: from the page that follows
/// `from` or holds it, joined with the pages after it. A runner slower than another (its
/// batches cost more) so catches up on the other's pages in large batches rather than falling
/// behind them.
fn kept_after(kept: &VecDeque<Page>, from: i64, now: Instant) -> Option<Kept> {
    let mut parts: Vec<(&Page, usize)> = Vec::new();
    let mut at = from;
    let mut count = 0;
    let mut more = false;
    loop {
        let next = kept.iter().find_map(|page| {
            let start = if page.after == at {
                0
            } else {
                page.facts.iter().position(|fact| fact.position == at)? + 1
            };
            (start < page.facts.len()).then_some((page, start))
        });
        let Some((page, start)) = next else { break };
        if count + page.facts.len() - start > BATCH as usize {
            more = true;
            break;
        }
        count += page.facts.len() - start;
        at = page.facts[page.facts.len() - 1].position;
        parts.push((page, start));
    }
    let (last, _) = parts.last()?;
    let fresh = now.duration_since(last.read_at) <= GATHER;
    let facts = match parts.as_slice() {
        [(page, 0)] => Arc::clone(&page.facts),
        _ => parts
            .iter()
            .flat_map(|(page, start)| page.facts[*start..].iter().cloned())
            .collect(),
    };
    Some(Kept {
        facts,
        more: more || count == BATCH as usize,
        fresh,
    })
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
            started: Arc::new(watch::channel(0).0),
            readers: Arc::new(watch::channel(0).0),
            pages: Pages::default(),
            faults: Faults::default(),
        }
    }

    /// Takes the events `recent` holds from it rather than reading them back from the log.
    pub fn with_recent_appends(mut self, recent: RecentAppends) -> Self {
        self.pages.recent = Some(recent);
        self
    }

    /// How many events the runners, given recent appends, read whole from the log for want of
    /// them there.
    pub fn events_read_back(&self) -> u64 {
        self.pages.read_back.load(Ordering::Relaxed)
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

    /// Waits until every runner [`Projector::spawn`] started holds its lease and has made its
    /// start-up rebuild (of a projection that never applied an event): from then on appends are
    /// applied batch by batch. Only a process whose runners hold the leases gets there.
    pub async fn running(&self) {
        let mut started = self.started.subscribe();
        // The sender lives as long as `self`.
        let _ = started.wait_for(|count| *count >= PROJECTIONS.len()).await;
    }

    /// Runs one projection. Wake-ups come through watch channels, which remember a change
    /// made while the runner was busy, so no append goes unnoticed until the next poll.
    async fn run(self, projection: &'static dyn Projection, mut appended: watch::Receiver<u64>) {
        let name = projection.name();
        let (notified, mut wake) = watch::channel(0u64);
        let (reading, mut read_elsewhere) = watch::channel(0u64);
        if let Store::Postgres(pool) = &self.store {
            listen(pool.clone(), notified, reading);
        }
        let mut readers = self.readers.subscribe();
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
            // Once: the loop below runs for as long as the process.
            self.started.send_modify(|count| *count += 1);
            let mut stalled = Duration::ZERO;
            // What an earlier runner left unsettled is settled first.
            let (mut unsettled, mut settle_at) = (true, Instant::now());
            loop {
                if unsettled && Instant::now() >= settle_at {
                    match self.settle(projection).await {
                        Ok(()) => unsettled = false,
                        Err(error) => tracing::warn!(projection = name, %error, "cannot settle; trying later"),
                    }
                    settle_at = Instant::now() + SETTLE_EVERY;
                }
                match self.advance(projection).await {
                    // Under a stream of appends, waking on each one would make a transaction
                    // of every few events: a moment's wait gathers them into bigger batches.
                    // Then look again at once.
                    Ok(applied) if applied > 0 => {
                        stalled = Duration::ZERO;
                        unsettled = true;
                        gather(applied, [&mut appended, &mut wake], &mut readers, &mut read_elsewhere).await;
                        continue;
                    }
                    Ok(_) => match self.behind(name).await {
                        // The log's end is hidden behind an older transaction still running.
                        Ok(true) => {
                            stall(name, &mut stalled).await;
                            continue;
                        }
                        Ok(false) => stalled = Duration::ZERO,
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
            let (batch, _) = self.pages.after(&self.store, from).await?;
            if batch.is_empty() {
                if target == 0 || self.has_applied(name, target).await? {
                    return Ok(applied);
                }
                stall(name, &mut waited).await;
                continue;
            }
            let (next, count) = self.apply_batch(projection, from, &batch).await?;
            from = next;
            applied += count;
            // A batch in log order that held the target has applied it: no statement more to
            // find that out.
            if count > 0 {
                progress(from);
                if batch.iter().any(|fact| fact.position == target) {
                    return Ok(applied);
                }
            }
        }
    }

    /// The live runner's step: applies the pages there are, until one comes back short (the
    /// log's readable end when that page was read) with nothing kept after it. It has no target
    /// to reach, so a page another runner read a moment ago serves as well as a fresh one; what
    /// came since is the next step's. Returns the number of events applied.
    async fn advance(&self, projection: &dyn Projection) -> Result<u64, ProjectorError> {
        let mut applied = 0;
        let mut from = checkpoints::position(&self.store, projection.name()).await?;
        loop {
            let (batch, more) = self.pages.after(&self.store, from).await?;
            if batch.is_empty() {
                return Ok(applied);
            }
            let (next, count) = self.apply_batch(projection, from, &batch).await?;
            from = next;
            applied += count;
            if !more {
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
    /// then tell the readers waiting for a position. Returns the checkpoint after it and the
    /// number of events applied: when another runner (or a rebuild) moved the checkpoint first,
    /// nothing is written and the checkpoint is where that one left it.
    async fn apply_batch(
        &self,
        projection: &dyn Projection,
        from: i64,
        batch: &[Fact],
    ) -> Result<(i64, u64), ProjectorError> {
        let name = projection.name();
        let last = batch.last().map_or(from, |fact| fact.position);
        let mut tx = Tx::begin(&self.store).await?;
        tx.without_flush().await?;
        if !checkpoints::claim(&mut tx, name, Some(from)).await? {
            drop(tx);
            return Ok((checkpoints::position(&self.store, name).await?, 0));
        }
        projection.apply(&mut tx, &self.store, &self.policy, batch).await?;
        self.faults.check(&[name], last)?;
        checkpoints::move_to(&mut tx, name, last).await?;
        tx.commit().await?;
        self.applied.send_modify(|generation| *generation += 1);
        metrics::gauge!("lianxin_projection_position", "projection" => name).set(last as f64);
        metrics::counter!("lianxin_projection_events_total", "projection" => name).increment(batch.len() as u64);
        // With the events, the batches' count tells how large the load made them.
        metrics::counter!("lianxin_projection_batches_total", "projection" => name).increment(1);
        Ok((last, batch.len() as u64))
    }

    /// Does the work `projection`'s batches left for later, in a transaction holding its
    /// checkpoint where it is. When a rebuild moved the checkpoint meanwhile there is none left.
    async fn settle(&self, projection: &dyn Projection) -> Result<(), ProjectorError> {
        let name = projection.name();
        let at = checkpoints::position(&self.store, name).await?;
        let mut tx = Tx::begin(&self.store).await?;
        tx.without_flush().await?;
        if !checkpoints::claim(&mut tx, name, Some(at)).await? {
            return Ok(());
        }
        let rows = projection.settle(&mut tx, &self.policy, chrono::Utc::now()).await?;
        if rows > 0 {
            tx.commit().await?;
            metrics::counter!("lianxin_projection_settled_rows_total", "projection" => name).increment(rows as u64);
        }
        Ok(())
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
    /// A position no event holds (beyond the head, or a gap) is refused at once. The runner that
    /// applies it may be this process's or another's (several processes on one database): a
    /// batch of this process's wakes the wait at once; where another's may be the one, it is
    /// looked for every [`RECHECK`]. The runners stop gathering appends, this process's as it
    /// counts its waiting readers, the others' on `NOTIFY lianxin_reads`.
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
        if self.has_applied(name, position).await? {
            return Ok(true);
        }
        let mut applied = self.applied();
        let _waiting = Waiting::on(&self.readers);
        // Another process's batch wakes nothing here: it is looked for.
        let elsewhere = !self.applies_every_projection();
        if elsewhere {
            self.hurry_other_processes().await;
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let look = if elsewhere {
                deadline.min(tokio::time::Instant::now() + RECHECK)
            } else {
                deadline
            };
            tokio::select! {
                // The sender lives as long as `self`.
                _ = applied.changed() => {}
                () = tokio::time::sleep_until(look) => {}
            }
            if self.has_applied(name, position).await? {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
        }
    }

    /// Whether no other process's runner can apply what a reader here waits for: on PostgreSQL,
    /// once this process's runners hold every lease (SQLite takes none, so another process on
    /// the same file may apply batches too).
    fn applies_every_projection(&self) -> bool {
        matches!(self.store, Store::Postgres(_)) && *self.started.borrow() == PROJECTIONS.len()
    }

    /// Tells the other processes on the database that a reader waits, so that their runners stop
    /// gathering appends (PostgreSQL). A failure costs only the gathering: it is logged.
    async fn hurry_other_processes(&self) {
        let Store::Postgres(pool) = &self.store else {
            return;
        };
        if let Err(error) = sqlx::query(concat!("SELECT pg_notify('", reads_channel!(), "', '')"))
            .execute(pool)
            .await
        {
            tracing::warn!(%error, "cannot tell the other processes that a reader waits");
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

/// Waits a moment for an older transaction that hides the log's end, saying so once it has
/// been waited for a while; `stalled` counts the time waited.
async fn stall(name: &str, stalled: &mut Duration) {
    if *stalled == STALL_WARNING {
        tracing::warn!(projection = name, "waiting for an older transaction to end");
    }
    tokio::time::sleep(STALL_STEP).await;
    *stalled += STALL_STEP;
}

/// After a batch of `applied` events, lets appends gather before the runner looks again: for a
/// millisecond an applied event (the more came, the more will: batches grow with the load),
/// from [`GATHER`] to [`GATHER_MAX`]. It stops sooner once no append has been announced (by
/// `appends`: this process's, other processes') for [`QUIET`], as a burst's last events are
/// better applied at once than after a gathering, and as soon as a reader waits for a position
/// (`readers`: how many of this process wait; `read_elsewhere`: another process's announced),
/// as read-your-writes must not wait for batching (an announcement made while the batch ran
/// counts: its reader may still wait). Quiet is checked every `QUIET`, not at every append,
/// which under load would wake the runner thousands of times a second.
async fn gather(
    applied: u64,
    mut appends: [&mut watch::Receiver<u64>; 2],
    readers: &mut watch::Receiver<usize>,
    read_elsewhere: &mut watch::Receiver<u64>,
) {
    let until = tokio::time::Instant::now() + Duration::from_millis(applied).clamp(GATHER, GATHER_MAX);
    // What came during the batch is the next batch's, whatever comes now.
    for announced in appends.iter_mut() {
        announced.borrow_and_update();
    }
    loop {
        let look = until.min(tokio::time::Instant::now() + QUIET);
        // A channel whose sender is gone (an `Err`) has nothing to say: its branch is left out.
        tokio::select! {
            () = tokio::time::sleep_until(look) => {}
            Ok(_) = readers.wait_for(|waiting| *waiting > 0) => return,
            Ok(()) = read_elsewhere.changed() => return,
        }
        let came = appends.iter().any(|announced| announced.has_changed().unwrap_or(false));
        if !came || tokio::time::Instant::now() >= until {
            return;
        }
        for announced in appends.iter_mut() {
            announced.borrow_and_update();
        }
    }
}

/// A reader waiting for a position, counted for as long as it waits.
struct Waiting<'a>(&'a watch::Sender<usize>);

impl<'a> Waiting<'a> {
    fn on(readers: &'a watch::Sender<usize>) -> Self {
        readers.send_modify(|waiting| *waiting += 1);
        Waiting(readers)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|waiting| *waiting -= 1);
    }
}

/// Sends `NOTIFY lianxin_events` after this process's appends: one per burst, at most one
/// every [`GATHER`] (appends made meanwhile are announced by the next), from outside the
/// appending transactions, because PostgreSQL serializes the commits of notifying transactions.
fn announce(pool: sqlx::PgPool, mut appended: watch::Receiver<u64>) {
    tokio::spawn(async move {
        while appended.changed().await.is_ok() {
            if let Err(error) = sqlx::query(concat!("SELECT pg_notify('", events_channel!(), "', '')"))
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

/// Forwards PostgreSQL notifications of appended events to `wake` and of readers waiting on
/// other processes to `reading`, reconnecting when needed.
fn listen(pool: sqlx::PgPool, wake: watch::Sender<u64>, reading: watch::Sender<u64>) {
    tokio::spawn(async move {
        loop {
            match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if listener.listen_all([events_channel!(), reads_channel!()]).await.is_ok() {
                        while let Ok(notification) = listener.recv().await {
                            let heard = if notification.channel() == reads_channel!() {
                                &reading
                            } else {
                                &wake
                            };
                            heard.send_modify(|count| *count += 1);
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot listen for appended events"),
            }
            tokio::time::sleep(POLL).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use projections::Payload;

    use super::*;

    /// When the tests' pages were read.
    static READ_AT: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

    /// A page following `after` holding the events at `positions`, in log order.
    fn page(after: i64, positions: &[i64]) -> Page {
        let facts = positions
            .iter()
            .map(|&position| Fact {
                stream: format!("case-{position}"),
                sequence: 1,
                position,
                kind: None,
                status_after: None,
                payload: Payload::Other,
            })
            .collect();
        Page {
            after,
            facts,
            read_at: *READ_AT,
        }
    }

    /// The positions the pages kept hold after `from`, right after they were read.
    fn positions(kept: &VecDeque<Page>, from: i64) -> Option<Vec<i64>> {
        kept_after(kept, from, *READ_AT).map(|found| found.facts.iter().map(|fact| fact.position).collect())
    }

    /// How many facts the pages kept hold after `from`, and whether more are known to follow.
    fn counted(kept: &VecDeque<Page>, from: i64) -> (usize, bool) {
        kept_after(kept, from, *READ_AT).map_or((0, false), |found| (found.facts.len(), found.more))
    }

    #[test]
    fn a_page_kept_serves_the_position_it_follows_whole_and_shared() {
        let kept = VecDeque::from([page(0, &[1, 2, 3])]);
        let found = kept_after(&kept, 0, *READ_AT).unwrap();
        assert!(Arc::ptr_eq(&found.facts, &kept[0].facts));
        assert!(!found.more);
        assert!(found.fresh);
    }

    #[test]
    fn a_position_inside_a_page_is_served_the_rest_of_it_and_the_pages_after() {
        // Log order is not position order on PostgreSQL: 9 committed before 4.
        let kept = VecDeque::from([page(0, &[1, 9, 4]), page(4, &[5, 6]), page(6, &[8])]);
        assert_eq!(positions(&kept, 9), Some(vec![4, 5, 6, 8]));
        assert_eq!(positions(&kept, 0), Some(vec![1, 9, 4, 5, 6, 8]));
        assert_eq!(positions(&kept, 4), Some(vec![5, 6, 8]));
    }

    #[test]
    fn nothing_kept_past_a_position_sends_the_reader_to_the_log() {
        let kept = VecDeque::from([page(0, &[1, 2]), page(2, &[3])]);
        assert_eq!(positions(&kept, 3), None);
        assert_eq!(positions(&kept, 7), None);
        assert_eq!(positions(&VecDeque::new(), 0), None);
    }

    #[test]
    fn a_page_read_longer_ago_than_a_gathering_is_not_fresh() {
        let kept = VecDeque::from([page(0, &[1, 2])]);
        assert!(kept_after(&kept, 0, *READ_AT + GATHER).unwrap().fresh);
        assert!(
            !kept_after(&kept, 1, *READ_AT + GATHER + Duration::from_millis(1))
                .unwrap()
                .fresh
        );
    }

    #[test]
    fn pages_are_joined_up_to_a_batch_and_no_further() {
        let run = |from: i64, to: i64| (from..=to).collect::<Vec<i64>>();
        let (first, second, tenth) = (BATCH * 3 / 5, BATCH * 2 / 5, BATCH / 10);
        // Three fifths and two fifths fill a batch; the page after waits for the next one.
        let kept = VecDeque::from([
            page(0, &run(1, first)),
            page(first, &run(first + 1, first + second)),
            page(first + second, &[first + second + 1]),
        ]);
        assert_eq!(counted(&kept, 0), (BATCH as usize, true));
        assert_eq!(positions(&kept, first + second), Some(vec![first + second + 1]));
        // A second page a tenth longer would pass a batch: the first page alone, and more is
        // known to follow.
        let longer = second + tenth;
        let kept = VecDeque::from([page(0, &run(1, first)), page(first, &run(first + 1, first + longer))]);
        assert_eq!(counted(&kept, 0), (first as usize, true));
        // From a tenth in, the two fill a batch; from two tenths in, they fit, and nothing more
        // is kept.
        assert_eq!(counted(&kept, tenth), (BATCH as usize, true));
        assert_eq!(counted(&kept, 2 * tenth), ((BATCH - tenth) as usize, false));
    }

    /// Where a reader waits for a position.
    #[derive(Clone, Copy)]
    enum Reader {
        Here(Duration),
        Elsewhere(Duration),
    }

    /// How long [`gather`] gathers after a batch of `applied` events, on tokio's paused clock,
    /// while this process appends every millisecond for `appending` and a reader starts to wait
    /// for a position (if any).
    async fn gathered(applied: u64, appending: Duration, reader: Option<Reader>) -> Duration {
        let (appends, mut appended) = watch::channel(0u64);
        let (_notifications, mut notified) = watch::channel(0u64);
        let readers = Arc::new(watch::channel(0usize).0);
        let (reading, mut read_elsewhere) = watch::channel(0u64);
        let mut waiting_readers = readers.subscribe();
        let started = tokio::time::Instant::now();
        tokio::spawn(async move {
            while started.elapsed() < appending {
                tokio::time::sleep(Duration::from_millis(1)).await;
                appends.send_modify(|count| *count += 1);
            }
            // Appends stop; the sender, as a process's, lives on.
            std::future::pending::<()>().await;
        });
        match reader {
            Some(Reader::Here(after)) => {
                let readers = Arc::clone(&readers);
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let _waiting = Waiting::on(&readers);
                    std::future::pending::<()>().await;
                });
            }
            Some(Reader::Elsewhere(after)) => {
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    reading.send_modify(|count| *count += 1);
                    std::future::pending::<()>().await;
                });
            }
            None => {}
        }
        gather(
            applied,
            [&mut appended, &mut notified],
            &mut waiting_readers,
            &mut read_elsewhere,
        )
        .await;
        started.elapsed()
    }

    const LONG: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn under_a_stream_of_appends_a_runner_gathers_a_millisecond_an_event_applied_within_bounds() {
        assert_eq!(gathered(100, LONG, None).await, Duration::from_millis(100));
        assert_eq!(gathered(1, LONG, None).await, GATHER);
        assert_eq!(gathered(100_000, LONG, None).await, GATHER_MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn a_runner_stops_gathering_once_appends_have_stopped_for_a_while() {
        assert_eq!(gathered(100_000, Duration::ZERO, None).await, QUIET);
        // Appends until 50 ms: the look at 60 ms sees some since 40, the one at 80 none.
        assert_eq!(gathered(100_000, Duration::from_millis(50), None).await, 4 * QUIET);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_waiting_for_a_position_here_or_on_another_process_ends_the_gathering_at_once() {
        let waited = Duration::from_millis(33);
        assert_eq!(gathered(100_000, LONG, Some(Reader::Here(waited))).await, waited);
        assert_eq!(gathered(100_000, LONG, Some(Reader::Elsewhere(waited))).await, waited);
    }
}
