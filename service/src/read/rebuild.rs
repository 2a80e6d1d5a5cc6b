//! The full rebuild of projections from the whole log (`Projector::rebuild`, behind
//! `lianxin replay` and `lianxin bench scale`; and at a service's start for a projection that has
//! never applied an event), driven here for any projection of the registry through its
//! [`Fold`]: nothing in this module knows one projection from another.
//!
//! It does not replay the live path in global order. Every view row depends on one stream only
//! (a case's summary, its outcome cells and the members answering for it; a member's contacts)
//! and the rest are sums over streams (member-year counts, outcome cells), so it reads the log
//! once with `Store::facts_by_stream` (`ORDER BY aggregate_id, sequence`, streamed), folds each
//! stream once and writes its final rows once; the sums are written at the end. One
//! transaction:
//!
//! 1. claim the checkpoint rows of the projections rebuilt (live batches of any process block on
//!    their claim, then find it stale and reload) and, on PostgreSQL, a transaction-level
//!    advisory lock (one rebuild at a time);
//! 2. take a [`LogBound`] (PostgreSQL: the oldest transaction still running; SQLite: the last
//!    position, the transaction holding the write lock) and read everything below it on a second
//!    connection, in a task of its own that folds and hands the rows over in chunks of a few
//!    thousand streams;
//! 3. PostgreSQL: create the projections' tables empty in the schema `lianxin_rebuild` (`LIKE`,
//!    with the originals' storage parameters, no indexes), point the transaction's
//!    `search_path` at them and `COPY` the rows in (text format); then add the originals' keys
//!    and indexes, read from the catalog, `ANALYZE`, drop the old tables and move the new ones
//!    into place. Readers keep the old views until the commit. SQLite: empty the tables in
//!    place, drop their secondary indexes, insert, recreate them (readers keep their snapshot;
//!    writers wait for the commit: SQLite has one writer);
//! 4. write the sums (`Fold::finish`), set the checkpoints to the bound's last event, commit. A
//!    crash or error leaves the old views and checkpoints whole (tested with a fault injected
//!    before the commit);
//! 5. PostgreSQL: `VACUUM` the new tables, so that index-only scans work at once rather than
//!    after autovacuum's next visit.
//!
//! A projection whose checkpoint is 0 while the log is not empty (a migration that adds to its
//! tables empties them and sets it back to 0) is rebuilt this way when a service starts
//! ([`When::NeverApplied`]: checked again inside the transaction, so of two processes starting
//! together one rebuilds and the other finds it done); the live path then continues from the
//! bound.
//!
//! Memory holds one stream, one chunk of rows and the sums (member years and, when the case
//! summaries are rebuilt, the outcome cells' samples). Grants on the views are not copied: the
//! service owns them. The rebuild logs how long each phase took.

use domain::Policy;
use futures_util::TryStreamExt;
use tokio::sync::mpsc;

use crate::read::checkpoints;
use crate::read::error::ProjectorError;
use crate::read::faults::Faults;
use crate::read::projection::{Fold, Projection, Rows};
use crate::read::tx::{on_tx, Tx};
use crate::store::{LogBound, Store, StoreError, TakeLogBound};

/// The schema the PostgreSQL rebuild fills before swapping its tables in.
const STAGING: &str = "lianxin_rebuild";
/// Transaction-level advisory lock: one rebuild at a time.
const REBUILD_LOCK: i64 = 0x6c78_0100;
/// Streams per chunk handed from the fold to the writer.
const CHUNK: u64 = 2_000;

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// Events read (all of them, whichever projections were rebuilt).
    pub events: u64,
    /// The position the checkpoints were set to.
    pub position: i64,
}

/// Which projections a rebuild takes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// Only if none of them has applied an event yet (a new database, or a migration that
    /// started one again): otherwise nothing is done.
    NeverApplied,
}

/// The rows of every fold for a few thousand streams, and the events they came from.
struct Chunk {
    rows: Vec<Box<dyn Rows>>,
    events: u64,
}

/// Rebuilds `projections` from the whole log in one transaction; `progress` is told the number
/// of events read so far. `None` when `when` found nothing to do.
pub(crate) async fn rebuild(
    store: &Store,
    projections: &[&'static dyn Projection],
    policy: &Policy,
    when: When,
    progress: impl Fn(u64) + Send,
    faults: &Faults,
) -> Result<Option<Rebuilt>, ProjectorError> {
    let names: Vec<&str> = projections.iter().map(|projection| projection.name()).collect();
    let tables: Vec<&str> = projections
        .iter()
        .flat_map(|projection| projection.tables())
        .copied()
        .collect();
    let started = std::time::Instant::now();
    let phase = |phase: &str| tracing::info!(phase, seconds = started.elapsed().as_secs_f64(), "rebuild");
    let mut tx = Tx::begin(store).await?;
    // A rebuild lost in a crash is done again.
    tx.without_flush().await?;
    if let Tx::Postgres(_) = tx {
        tx.execute("SET LOCAL maintenance_work_mem = '256MB'").await?;
        tx.execute(&format!("SELECT pg_advisory_xact_lock({REBUILD_LOCK})"))
            .await?;
    }
    for name in &names {
        checkpoints::claim(&mut tx, name, None).await?;
    }
    if when == When::NeverApplied && checkpoints::any_applied(&mut tx, &names).await? {
        return Ok(None);
    }
    let bound = on_tx!(&mut tx, |tx| tx.take_log_bound().await?);
    if when == When::NeverApplied && bound.last() == 0 {
        return Ok(None);
    }
    let (schema, restore) = match &mut tx {
        Tx::Postgres(tx) => {
            let (schema, restore) = stage_postgres(tx, &tables).await?;
            (Some(schema), restore)
        }
        Tx::Sqlite(tx) => (None, empty_sqlite(tx, &tables).await?),
    };

    let (sender, mut receiver) = mpsc::channel(2);
    let folds = projections
        .iter()
        .map(|projection| projection.rebuild(policy))
        .collect();
    let folding = tokio::spawn(fold(store.clone(), bound.clone(), folds, sender));
    let mut events = 0;
    while let Some(chunk) = receiver.recv().await {
        for rows in chunk.rows {
            rows.load(&mut tx).await?;
        }
        events += chunk.events;
        progress(events);
    }
    let folds = folding.await.map_err(|error| StoreError::Database(Box::new(error)))??;
    phase("rows written");

    for statement in &restore {
        tx.execute(statement).await?;
    }
    phase("indexes built");
    for fold in folds {
        fold.finish(&mut tx).await?;
    }
    phase("totals written");
    if let Some(schema) = &schema {
        for statement in swap_postgres(schema, &tables) {
            tx.execute(&statement).await?;
        }
    }
    for name in &names {
        checkpoints::move_to(&mut tx, name, bound.last()).await?;
    }
    faults.check(&names, bound.last())?;
    tx.commit().await?;
    phase("committed");
    if let Store::Postgres(pool) = store {
        // Marks the new tables' pages all-visible, as autovacuum would in a while: until then
        // PostgreSQL cannot answer from an index alone.
        sqlx::raw_sql(&format!("VACUUM {}", tables.join(", ")))
            .execute(pool)
            .await
            .map_err(StoreError::from)?;
        phase("vacuumed");
    }
    Ok(Some(Rebuilt {
        events,
        position: bound.last(),
    }))
}

/// Reads every stream up to `bound` and feeds it to `folds`, sending their rows to `chunks`;
/// returns the folds, which still hold their sums.
async fn fold(
    store: Store,
    bound: LogBound,
    mut folds: Vec<Box<dyn Fold>>,
    chunks: mpsc::Sender<Chunk>,
) -> Result<Vec<Box<dyn Fold>>, StoreError> {
    let take = |folds: &mut Vec<Box<dyn Fold>>, events: &mut u64| Chunk {
        rows: folds.iter_mut().map(|fold| fold.take_rows()).collect(),
        events: std::mem::take(events),
    };
    let mut facts = store.facts_by_stream(&bound);
    let mut stream = String::new();
    let (mut streams, mut events) = (0u64, 0u64);
    while let Some(fact) = facts.try_next().await? {
        if fact.stream != stream {
            if streams > 0 {
                folds.iter_mut().for_each(|fold| fold.end_stream(&stream));
            }
            if streams > 0 && streams % CHUNK == 0 && chunks.send(take(&mut folds, &mut events)).await.is_err() {
                // The writer failed; its error is the one reported.
                return Ok(folds);
            }
            stream.clone_from(&fact.stream);
            streams += 1;
        }
        folds.iter_mut().for_each(|fold| fold.fact(&fact));
        events += 1;
    }
    if streams > 0 {
        folds.iter_mut().for_each(|fold| fold.end_stream(&stream));
    }
    let _ = chunks.send(take(&mut folds, &mut events)).await;
    Ok(folds)
}

/// `'a', 'b'`: our own table names, as SQL literals.
fn name_list(tables: &[&str]) -> String {
    tables
        .iter()
        .map(|table| format!("'{table}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Creates empty copies of `tables` in the staging schema and points the transaction's writes at
/// them. Returns the schema the views live in and the statements that give the copies the
/// originals' constraints and indexes, to run once the rows are in.
async fn stage_postgres(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    tables: &[&str],
) -> Result<(String, Vec<String>), StoreError> {
    let schema: String = sqlx::query_scalar("SELECT quote_ident(current_schema())")
        .fetch_one(&mut **tx)
        .await?;
    let names = name_list(tables);
    // Constraints (primary keys) first, then the indexes no constraint owns.
    let mut restore: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT statement FROM (\
           SELECT 0 AS step, t.relname, 'ALTER TABLE {STAGING}.' || quote_ident(t.relname) || ' ADD CONSTRAINT ' \
                  || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid) AS statement \
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
            WHERE t.relnamespace = current_schema()::regnamespace AND t.relname IN ({names}) \
              AND c.contype IN ('p', 'u', 'x') \
           UNION ALL \
           SELECT 1, t.relname, regexp_replace(pg_get_indexdef(i.indexrelid), ' ON \\S+ USING ', \
                  ' ON {STAGING}.' || quote_ident(t.relname) || ' USING ') \
             FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid \
            WHERE t.relnamespace = current_schema()::regnamespace AND t.relname IN ({names}) \
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) \
         ) s ORDER BY step, relname, statement"
    ))
    .fetch_all(&mut **tx)
    .await?;
    // Storage parameters (`LIKE` copies none), before the rows go in: they decide how rows are
    // stored (case_summaries' toast_tuple_target).
    let parameters: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT 'ALTER TABLE {STAGING}.' || quote_ident(relname) || ' SET (' || array_to_string(reloptions, ', ') || ')' \
           FROM pg_class \
          WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' AND relname IN ({names}) \
            AND reloptions IS NOT NULL \
          ORDER BY relname"
    ))
    .fetch_all(&mut **tx)
    .await?;
    let mut statements = vec![
        format!("DROP SCHEMA IF EXISTS {STAGING} CASCADE"),
        format!("CREATE SCHEMA {STAGING}"),
    ];
    for table in tables {
        statements.push(format!(
            "CREATE TABLE {STAGING}.{table} (LIKE {schema}.{table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS \
             INCLUDING STORAGE INCLUDING COMMENTS)"
        ));
    }
    statements.extend(parameters);
    statements.push(format!("SET LOCAL search_path = {STAGING}, {schema}"));
    for statement in statements {
        sqlx::query(&statement).execute(&mut **tx).await?;
    }
    // Fresh statistics, or the first reads after the swap are planned blind.
    restore.extend(tables.iter().map(|table| format!("ANALYZE {STAGING}.{table}")));
    Ok((schema, restore))
}

/// Empties `tables` and drops their secondary indexes; returns the statements recreating them.
async fn empty_sqlite(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    tables: &[&str],
) -> Result<Vec<String>, StoreError> {
    // Indexes the schema declares have their SQL; those behind PRIMARY KEY and UNIQUE do not.
    let indexes: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({}) \
         ORDER BY name",
        name_list(tables)
    ))
    .fetch_all(&mut **tx)
    .await?;
    for (name, _) in &indexes {
        sqlx::query(&format!("DROP INDEX \"{name}\""))
            .execute(&mut **tx)
            .await?;
    }
    for table in tables {
        sqlx::query(&format!("DELETE FROM {table}")).execute(&mut **tx).await?;
    }
    Ok(indexes.into_iter().map(|(_, sql)| sql).collect())
}

/// The statements that put the staged tables in place of the old ones.
fn swap_postgres(schema: &str, tables: &[&str]) -> Vec<String> {
    let mut statements = vec![format!("SET LOCAL search_path = {schema}")];
    for table in tables {
        statements.push(format!("DROP TABLE {schema}.{table}"));
        statements.push(format!("ALTER TABLE {STAGING}.{table} SET SCHEMA {schema}"));
    }
    statements.push(format!("DROP SCHEMA {STAGING}"));
    statements
}
