//! The full rebuild of projections (`lianxin replay`, `bench scale`): one read of the log,
//! stream by stream, instead of replaying the live path in global order. Every view row depends
//! on one stream only (a case's summary, its outcome cells and the members answering for it; a
//! member's contacts), and the member-year counts are sums, so each stream is folded once, from
//! its own events in sequence order, and its final rows written once.
//!
//! All of it is one transaction: it claims the checkpoints (live batches of any process wait
//! for it, then find their claim stale), takes a [`LogBound`], writes the views and sets the
//! checkpoints to the bound's last event. A crash leaves the old views and checkpoints whole.
//! On PostgreSQL the new rows go into tables of a staging schema, without indexes; the indexes
//! and constraints are copied from the catalog once the rows are in, and the tables swapped in
//! at the end, so that readers keep the old views until the commit. On SQLite the views are
//! emptied in place with their secondary indexes dropped and recreated after the load (readers
//! keep their snapshot; writers wait for the commit: SQLite has one writer).

use std::collections::BTreeMap;
use std::marker::PhantomData;

use domain::Timestamp;
use futures_util::TryStreamExt;
use projections::{
    duty_effects, summarize, CaseSummary, CellChanges, Dimension, DutyTotals, CASE_SUMMARIES, MEMBER_RECORDS,
};
use tokio::sync::mpsc;

use crate::read::outcome_cells::CellTable;
use crate::read::projector::{ProjectorError, MOVE_CHECKPOINT};
use crate::read::view_rows::{ViewRows, Write, CASE_SUMMARIES_COLUMNS};
use crate::store::copy_text;
use crate::store::{on_pool, LogBound, Store, StoreError, TakeLogBound};

/// The schema the PostgreSQL rebuild fills before swapping its tables in.
const STAGING: &str = "lianxin_rebuild";
/// Transaction-level advisory lock: one rebuild at a time.
const REBUILD_LOCK: i64 = 0x6c78_0100;
/// Cases per chunk handed from the fold to the writer.
const CHUNK: usize = 2_000;

/// The tables each projection owns.
fn tables(name: &str) -> &'static [&'static str] {
    match name {
        CASE_SUMMARIES => &["case_summaries", "outcome_cells"],
        _ => &["member_cases", "member_years"],
    }
}

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// Events read (all of them, whichever projections were rebuilt).
    pub events: u64,
    /// The position the checkpoints were set to.
    pub position: i64,
}

/// Final rows of a few thousand streams.
#[derive(Default)]
struct Chunk {
    summaries: Vec<CaseSummary>,
    /// `(case_id, member_id, submitted_at)`, each pair once.
    carried: Vec<(String, String, Timestamp)>,
    events: u64,
}

/// What is only known once every stream is folded.
#[derive(Default)]
struct Totals {
    duty: DutyTotals,
    cells: CellChanges,
}

/// One stream being folded.
#[derive(Default)]
struct StreamFold {
    id: String,
    summary: Option<CaseSummary>,
    carriers: Vec<String>,
}

impl StreamFold {
    fn finish(self, chunk: &mut Chunk, totals: &mut Totals, cells: bool) {
        if let Some(summary) = self.summary {
            for member in self.carriers {
                chunk.carried.push((self.id.clone(), member, summary.submitted_at));
            }
            for dimension in Dimension::ALL.into_iter().filter(|_| cells) {
                totals.cells.add(&summary, dimension);
            }
            chunk.summaries.push(summary);
        }
    }
}

/// Reads every stream up to `bound` and folds it, sending its rows to `chunks`; the outcome
/// cells only when `cells` (they are most of the fold's memory).
async fn fold(store: Store, bound: LogBound, cells: bool, chunks: mpsc::Sender<Chunk>) -> Result<Totals, StoreError> {
    let mut facts = store.facts_by_stream(&bound);
    let mut totals = Totals::default();
    let mut chunk = Chunk::default();
    let mut stream = StreamFold::default();
    while let Some(fact) = facts.try_next().await? {
        if fact.stream != stream.id {
            let done = std::mem::replace(
                &mut stream,
                StreamFold {
                    id: fact.stream.clone(),
                    ..StreamFold::default()
                },
            );
            done.finish(&mut chunk, &mut totals, cells);
            if chunk.summaries.len() >= CHUNK && chunks.send(std::mem::take(&mut chunk)).await.is_err() {
                // The writer failed; its error is the one reported.
                return Ok(totals);
            }
        }
        let effects = duty_effects(&fact, &stream.carriers);
        for member in effects.carried_by {
            if !stream.carriers.contains(&member) {
                stream.carriers.push(member);
            }
        }
        totals.duty.add(effects.increments);
        stream.summary = summarize(stream.summary.take(), fact);
        chunk.events += 1;
    }
    stream.finish(&mut chunk, &mut totals, cells);
    let _ = chunks.send(chunk).await;
    Ok(totals)
}

/// Which projections a rebuild takes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// Only if none of them has applied an event yet (a new database, or a migration that
    /// started one again): otherwise nothing is done.
    NeverApplied,
}

/// Rebuilds the projections `names` from the whole log in one transaction; `progress` is told
/// the number of events read so far. `before_commit` may stop it, as a crash would. `None` when
/// `when` found nothing to do.
pub async fn rebuild(
    store: &Store,
    names: &[&'static str],
    when: When,
    progress: impl Fn(u64) + Send,
    before_commit: impl Fn(i64) -> bool + Send,
) -> Result<Option<Rebuilt>, ProjectorError> {
    let owned: Vec<&str> = names.iter().flat_map(|name| tables(name)).copied().collect();
    let rebuilds = |name: &str| names.contains(&name);
    let postgres = matches!(store, Store::Postgres(_));
    let started = std::time::Instant::now();
    let phase = |phase: &str| tracing::info!(phase, seconds = started.elapsed().as_secs_f64(), "rebuild");
    let rebuilt = on_pool!(store, |pool| {
        let mut tx = pool.begin().await?;
        if postgres {
            for statement in [
                // The views follow from the durable log: a rebuild lost in a crash is done again.
                "SET LOCAL synchronous_commit = off".to_owned(),
                "SET LOCAL maintenance_work_mem = '256MB'".to_owned(),
                format!("SELECT pg_advisory_xact_lock({REBUILD_LOCK})"),
            ] {
                sqlx::query(&statement).execute(&mut *tx).await?;
            }
        }
        // Claiming the checkpoints makes live batches wait, then fail their claim and reload.
        for name in names {
            sqlx::query("UPDATE projection_checkpoints SET position = position WHERE name = $1")
                .bind(*name)
                .execute(&mut *tx)
                .await?;
        }
        if when == When::NeverApplied {
            let applied: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM projection_checkpoints WHERE position <> 0 AND name IN ({})",
                name_list(names)
            ))
            .fetch_one(&mut *tx)
            .await?;
            if applied > 0 {
                return Ok(None);
            }
        }
        let bound = tx.take_log_bound().await?;
        if when == When::NeverApplied && bound.last() == 0 {
            return Ok(None);
        }
        let (schema, restore) = if postgres {
            Tables::stage_postgres(&mut tx, &owned).await?
        } else {
            (String::new(), Tables::empty_sqlite(&mut tx, &owned).await?)
        };

        let (sender, mut receiver) = mpsc::channel(2);
        let folding = tokio::spawn(fold(store.clone(), bound.clone(), rebuilds(CASE_SUMMARIES), sender));
        let mut events = 0;
        while let Some(chunk) = receiver.recv().await {
            if rebuilds(CASE_SUMMARIES) {
                tx.insert_summaries(&chunk.summaries).await?;
            }
            if rebuilds(MEMBER_RECORDS) {
                tx.insert_member_cases(&chunk.carried).await?;
            }
            events += chunk.events;
            progress(events);
        }
        let totals = folding.await.map_err(|error| StoreError::Database(Box::new(error)))??;
        phase("rows written");

        for statement in &restore {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        phase("indexes built");
        if rebuilds(MEMBER_RECORDS) {
            ViewRows::add_to_member_years(&mut tx, &totals.duty.into_records()).await?;
        }
        if rebuilds(CASE_SUMMARIES) {
            let mut cells = BTreeMap::new();
            totals.cells.apply(&mut cells)?;
            CellTable::write_all(&mut tx, &cells).await?;
        }
        phase("totals written");
        if postgres {
            for statement in swap_postgres(&schema, &owned) {
                sqlx::query(&statement).execute(&mut *tx).await?;
            }
        }
        for name in names {
            sqlx::query(MOVE_CHECKPOINT)
                .bind(bound.last())
                .bind(*name)
                .execute(&mut *tx)
                .await?;
        }
        if before_commit(bound.last()) {
            // Dropping the transaction rolls everything back, as a crash would.
            return Err(ProjectorError::InjectedFault(names.join(", ")));
        }
        tx.commit().await?;
        phase("committed");
        if postgres {
            // Marks the new tables' pages all-visible, as autovacuum would in a while: until
            // then PostgreSQL cannot answer from an index alone.
            sqlx::raw_sql(&format!("VACUUM {}", owned.join(", ")))
                .execute(pool)
                .await?;
            phase("vacuumed");
        }
        Rebuilt {
            events,
            position: bound.last(),
        }
    });
    Ok(Some(rebuilt))
}

/// Inserting the rows of the big views into emptied tables.
trait BulkInsert {
    async fn insert_summaries(&mut self, rows: &[CaseSummary]) -> Result<(), StoreError>;
    async fn insert_member_cases(&mut self, rows: &[(String, String, Timestamp)]) -> Result<(), StoreError>;
}

/// PostgreSQL takes them by `COPY`, in its text format: a third of the server's time of
/// multi-row inserts, which parse and bind every parameter.
impl BulkInsert for sqlx::Transaction<'_, sqlx::Postgres> {
    async fn insert_summaries(&mut self, rows: &[CaseSummary]) -> Result<(), StoreError> {
        let mut data = Vec::with_capacity(rows.len() * 2048);
        for case in rows {
            let summary = serde_json::to_string(case).map_err(|error| StoreError::Corrupt(error.to_string()))?;
            let (submitted_at, due_at) = (copy_text::time(case.submitted_at), case.due_at.map(copy_text::time));
            let fields = [
                Some(case.id.as_str()),
                Some(case.kind.as_str()),
                Some(case.status.as_str()),
                Some(&case.category),
                Some(&case.jurisdiction),
                case.department.as_deref(),
                case.assignee(),
                Some(&submitted_at),
                due_at.as_deref(),
                Some(if case.is_open() { "t" } else { "f" }),
                Some(&case.title),
                Some(&case.body),
                Some(&summary),
                Some(&case.submitter_id),
            ];
            copy_text::push_row(&mut data, &fields);
        }
        copy_text::copy_in(self, &format!("case_summaries ({CASE_SUMMARIES_COLUMNS})"), data).await
    }

    async fn insert_member_cases(&mut self, rows: &[(String, String, Timestamp)]) -> Result<(), StoreError> {
        let mut data = Vec::with_capacity(rows.len() * 96);
        for (case_id, member_id, submitted_at) in rows {
            copy_text::push_row(
                &mut data,
                &[Some(case_id), Some(member_id), Some(&copy_text::time(*submitted_at))],
            );
        }
        copy_text::copy_in(self, "member_cases (case_id, member_id, submitted_at)", data).await
    }
}

impl BulkInsert for sqlx::Transaction<'_, sqlx::Sqlite> {
    async fn insert_summaries(&mut self, rows: &[CaseSummary]) -> Result<(), StoreError> {
        let rows: Vec<&CaseSummary> = rows.iter().collect();
        ViewRows::write_summaries(self, &rows, Write::Insert).await
    }

    async fn insert_member_cases(&mut self, rows: &[(String, String, Timestamp)]) -> Result<(), StoreError> {
        let rows: Vec<(&str, &str, Timestamp)> = rows
            .iter()
            .map(|(case_id, member_id, submitted_at)| (case_id.as_str(), member_id.as_str(), *submitted_at))
            .collect();
        ViewRows::write_member_cases(self, &rows, Write::Insert).await
    }
}

/// `'a', 'b'`: our own table names, as SQL literals.
fn name_list(tables: &[&str]) -> String {
    tables
        .iter()
        .map(|table| format!("'{table}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The catalog work around the load, over one sqlx backend.
struct Tables<DB>(PhantomData<DB>);

impl<DB> Tables<DB>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'a> DB::Arguments<'a>: sqlx::IntoArguments<'a, DB>,
    for<'a> String: sqlx::Decode<'a, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    /// Creates empty copies of `tables` in the staging schema and points the transaction's writes
    /// at them. Returns the schema the views live in and the statements that give the copies the
    /// originals' constraints and indexes, to run once the rows are in.
    async fn stage_postgres(
        tx: &mut sqlx::Transaction<'_, DB>,
        tables: &[&str],
    ) -> Result<(String, Vec<String>), StoreError> {
        let schema: String = sqlx::query_scalar("SELECT quote_ident(current_schema())")
            .fetch_one(&mut **tx)
            .await?;
        let names = name_list(tables);
        // Constraints (primary keys) first, then the indexes no constraint owns.
        let restore: Vec<String> = sqlx::query_scalar(&format!(
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
        statements.push(format!("SET LOCAL search_path = {STAGING}, {schema}"));
        for statement in statements {
            sqlx::query(&statement).execute(&mut **tx).await?;
        }
        let mut restore = restore;
        // Fresh statistics, or the first reads after the swap are planned blind.
        restore.extend(tables.iter().map(|table| format!("ANALYZE {STAGING}.{table}")));
        Ok((schema, restore))
    }

    /// Empties `tables` and drops their secondary indexes; returns the statements recreating them.
    async fn empty_sqlite(tx: &mut sqlx::Transaction<'_, DB>, tables: &[&str]) -> Result<Vec<String>, StoreError> {
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
