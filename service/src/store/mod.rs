//! The event store: one switch between the embedded SQLite store and PostgreSQL, the schema
//! migrations of each, the write path and the reads.
//!
//! Writes go through cqrs-es's `PersistedEventStore::commit` into `EventsTable`, our
//! implementation of its repository trait: the chain is stamped and a command's events are
//! written by one `INSERT … RETURNING position`, a single round trip that is its own
//! transaction. (postgres-es and sqlite-es take three — `BEGIN`, an `INSERT` per event,
//! `COMMIT` — and return no position, which then cost a fourth.) A duplicate
//! `(aggregate_id, sequence)` fails the insert: that is the optimistic lock. Reads are our own
//! queries: one round trip loads a case's kind and events together, with the columns the
//! database adds (`position`, `recorded_at`).
//!
//! SQL text is shared by both backends where it can be: SQLite reads `$1, $2, …` as named
//! parameters numbered in order of first appearance, so they must appear in ascending order.

pub mod copy_text;

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use cqrs_es::persist::{
    EventStoreAggregateContext, PersistedEventRepository, PersistedEventStore, PersistenceError, ReplayStream,
    SerializedEvent, SerializedSnapshot,
};
use cqrs_es::{Aggregate, AggregateError, EventStore};
use domain::Timestamp;
use futures_util::stream::BoxStream;
use projections::{Fact, Payload};
use serde_json::Value;
use sqlx::error::ErrorKind;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, QueryBuilder, Row, Type};

use crate::write::chain;

static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");

/// The file of the embedded store inside the data directory.
pub const SQLITE_FILE: &str = "lianxin.db";

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the case was changed by another writer")]
    Conflict,
    #[error("the store is unreachable")]
    Unavailable(#[source] BoxError),
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
    #[error("the store refused the operation")]
    Database(#[source] BoxError),
    #[error("the schema migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("no event of the log has position {0}")]
    UnknownPosition(i64),
    #[error("the data directory {path} cannot be used")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                StoreError::Unavailable(Box::new(error))
            }
            sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => StoreError::Corrupt(error.to_string()),
            other => StoreError::Database(Box::new(other)),
        }
    }
}

impl<T: std::error::Error + Send + Sync + 'static> From<AggregateError<T>> for StoreError {
    fn from(error: AggregateError<T>) -> Self {
        match error {
            AggregateError::AggregateConflict => StoreError::Conflict,
            AggregateError::DatabaseConnectionError(source) => StoreError::Unavailable(source),
            AggregateError::DeserializationError(source) => StoreError::Corrupt(source.to_string()),
            AggregateError::UnexpectedError(source) => match source.downcast::<sqlx::Error>() {
                Ok(error) => StoreError::from(*error),
                Err(source) => StoreError::Database(source),
            },
            AggregateError::UserError(refusal) => StoreError::Database(Box::new(refusal)),
        }
    }
}

/// One stored event with what the database added to it.
pub use projections::LogEvent as StoredEvent;

/// Where the events live.
#[derive(Debug, Clone)]
pub enum Store {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs one body on whichever pool the store holds: sqlx's calls are generic over the database,
/// but the pool types differ, so a plain `match` would repeat the body for each backend.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Postgres($pool) => $body,
            $crate::store::Store::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// The events table as cqrs-es's repository, for one commit: `persist` records the position of
/// the last event it wrote in `last_position`, since the trait has no way to return it.
struct EventsTable<'a> {
    store: &'a Store,
    last_position: &'a OnceLock<i64>,
}

/// A failed insert as cqrs-es classifies it: a duplicate key is the optimistic lock (or a
/// racing retry's idempotency key, which the engine then answers from the first attempt).
fn persistence_error(error: sqlx::Error) -> PersistenceError {
    match &error {
        sqlx::Error::Database(database) if database.kind() == ErrorKind::UniqueViolation => {
            PersistenceError::OptimisticLockError
        }
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            PersistenceError::ConnectionError(Box::new(error))
        }
        _ => PersistenceError::UnknownError(Box::new(error)),
    }
}

impl PersistedEventRepository for EventsTable<'_> {
    async fn get_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let stored = self
            .store
            .stream_events(aggregate_id)
            .await
            .map_err(|error| PersistenceError::UnknownError(Box::new(error)))?;
        stored
            .into_iter()
            .map(serialized)
            .collect::<Result<_, _>>()
            .map_err(|error| PersistenceError::DeserializationError(Box::new(error)))
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let mut events = self.get_events::<A>(aggregate_id).await?;
        events.retain(|event| event.sequence > last_sequence);
        Ok(events)
    }

    /// The store keeps no snapshots: a case is a few dozen events at most.
    async fn get_snapshot<A: Aggregate>(&self, _: &str) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        _no_snapshot_in_event_store_mode: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        let chained = chain::stamp(events.iter().cloned());
        let positions: Vec<i64> = on_pool!(self.store, |pool| {
            let mut insert = QueryBuilder::new(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, \
                 metadata) ",
            );
            insert.push_values(&chained, |mut row, event| {
                row.push_bind(&event.aggregate_type)
                    .push_bind(&event.aggregate_id)
                    .push_bind(event.sequence as i64)
                    .push_bind(&event.event_type)
                    .push_bind(&event.event_version)
                    .push_bind(Json(&event.payload))
                    .push_bind(Json(&event.metadata));
            });
            insert.push(" RETURNING position");
            insert
                .build_query_scalar()
                .fetch_all(pool)
                .await
                .map_err(persistence_error)?
        });
        if let Some(last) = positions.into_iter().max() {
            let _ = self.last_position.set(last);
        }
        Ok(())
    }

    async fn stream_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<ReplayStream, PersistenceError> {
        let events = self.get_events::<A>(aggregate_id).await?;
        let (mut feed, stream) = ReplayStream::new(events.len().max(1));
        for event in events {
            feed.push(Ok(event)).await?;
        }
        Ok(stream)
    }

    /// The log is followed in its global order through [`Store::log_after`], never per type.
    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        Err(PersistenceError::UnknownError(
            "the log is read in global order with Store::log_after".into(),
        ))
    }
}

/// A stored event as cqrs-es reads it.
pub fn serialized(stored: StoredEvent) -> Result<SerializedEvent, StoreError> {
    let sequence = usize::try_from(stored.sequence).map_err(|_| StoreError::Corrupt("sequence".into()))?;
    Ok(SerializedEvent::new(
        stored.aggregate_id,
        sequence,
        stored.aggregate_type,
        stored.event_type,
        stored.event_version,
        stored.payload,
        stored.metadata,
    ))
}

const CASE_EVENTS_COLUMNS: &str =
    "aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, position, recorded_at";

/// The id below which every transaction that could write this database's log has ended, as
/// the statement's snapshot sees it: the oldest transaction it sees running, leaving out those
/// known to run in another database of the server (they cannot write here; counting them, as
/// `pg_snapshot_xmin` does, let one long transaction anywhere on the server stall every reader
/// of the log). A transaction that ended since the snapshot was taken cannot be placed and still
/// counts, as does every one when the role may not see other sessions' transaction ids: the
/// horizon is then lower than it could be, never higher.
const POSTGRES_HORIZON: &str = "(SELECT LEAST(pg_snapshot_xmax(snapshot), (\
    SELECT min(running) FROM pg_snapshot_xip(snapshot) AS running \
     WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity other \
                        WHERE other.backend_xid = running::xid AND other.datname <> current_database()))) \
    FROM pg_current_snapshot() AS snapshot)";

/// A [`Fact`]'s columns, as macros so that constant queries can be spliced from them.
macro_rules! postgres_fact_columns {
    () => {
        "aggregate_type, aggregate_id, sequence, payload::text, metadata ->> 'status', position"
    };
}
macro_rules! sqlite_fact_columns {
    () => {
        "aggregate_type, aggregate_id, sequence, payload, json_extract(metadata, '$.status'), position"
    };
}

impl Store {
    /// PostgreSQL when a URL is given, else the embedded store in `data_dir`.
    pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        match database_url {
            Some(url) => Ok(Store::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    // sqlx pings a connection before lending it by default: a round trip more
                    // for every query. A connection the server dropped fails its next query
                    // instead, and the pool replaces it.
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(url)
                    .await?,
            )),
            None => {
                std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
                    path: data_dir.display().to_string(),
                    source,
                })?;
                let options = SqliteConnectOptions::new()
                    .filename(data_dir.join(SQLITE_FILE))
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // Durable at commit: nothing acknowledged is lost on power failure.
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true);
                Ok(Store::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(8)
                        .test_before_acquire(false)
                        .acquire_timeout(Duration::from_secs(5))
                        .connect_with(options)
                        .await?,
                ))
            }
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Postgres(_) => "postgres",
            Store::Sqlite(_) => "sqlite",
        }
    }

    fn migrator(&self) -> &'static Migrator {
        match self {
            Store::Postgres(_) => &POSTGRES_MIGRATIONS,
            Store::Sqlite(_) => &SQLITE_MIGRATIONS,
        }
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = self.migrator();
        on_pool!(self, |pool| migrator.run(pool).await?);
        Ok(())
    }

    /// Reachable, and every migration this build knows is applied.
    pub async fn is_ready(&self) -> Result<bool, StoreError> {
        const LATEST: &str = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";
        let applied: i64 = on_pool!(self, |pool| sqlx::query_scalar(LATEST).fetch_one(pool).await?);
        let known = self
            .migrator()
            .iter()
            .map(|migration| migration.version)
            .max()
            .unwrap_or(0);
        Ok(applied >= known)
    }

    /// Every event of one stream (a case, or a member's record), in order; empty when there
    /// is no such stream.
    pub async fn stream_events(&self, id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!("SELECT {CASE_EVENTS_COLUMNS} FROM events WHERE aggregate_id = $1 ORDER BY sequence");
        let rows = on_pool!(self, |pool| {
            let rows = sqlx::query(&sql).bind(id).fetch_all(pool).await?;
            rows.iter().map(stored_event).collect::<Result<Vec<_>, _>>()?
        });
        if let Some(odd) = rows.iter().find(|event| event.aggregate_type != rows[0].aggregate_type) {
            return Err(StoreError::Corrupt(format!(
                "stream {id} has events of two aggregate types ({} and {})",
                rows[0].aggregate_type, odd.aggregate_type
            )));
        }
        Ok(rows)
    }

    /// A page of the global log after the event at `after` (0: from the start), in log order,
    /// holding only events no running transaction can still precede.
    ///
    /// SQLite has one writer at a time, so position order is commit order. PostgreSQL commits
    /// concurrently: a transaction may take a smaller position and commit later. There the log
    /// order is `(transaction_id, position)` and a page stops below the oldest running
    /// transaction that may write to this database (`POSTGRES_HORIZON`): every transaction
    /// still to commit here has a larger id than anything returned, so its events come after
    /// the reader's cursor, never behind it.
    pub async fn log_after(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        self.log_page(after, limit).await
    }

    /// [`Store::log_after`] as the read models read it: [`Fact`]s, decoded straight from the
    /// payload's text, without the metadata.
    pub async fn facts_after(&self, after: i64, limit: i64) -> Result<Vec<Fact>, StoreError> {
        self.log_page(after, limit).await
    }

    async fn log_page<T: LogRow>(&self, after: i64, limit: i64) -> Result<Vec<T>, StoreError> {
        let rows = match self {
            Store::Postgres(pool) => {
                let transaction: String = if after == 0 {
                    "0".to_owned()
                } else {
                    sqlx::query_scalar("SELECT transaction_id::text FROM events WHERE position = $1")
                        .bind(after)
                        .fetch_optional(pool)
                        .await?
                        .ok_or(StoreError::UnknownPosition(after))?
                };
                let sql = format!(
                    "SELECT {} FROM events \
                     WHERE (transaction_id, position) > ($1::text::xid8, $2) \
                       AND transaction_id < {POSTGRES_HORIZON} \
                     ORDER BY transaction_id, position LIMIT $3",
                    T::POSTGRES_COLUMNS
                );
                let rows = sqlx::query(&sql)
                    .bind(transaction)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(T::from_postgres).collect::<Result<Vec<_>, _>>()?
            }
            Store::Sqlite(pool) => {
                if after != 0 {
                    sqlx::query_scalar::<_, i64>("SELECT position FROM events WHERE position = $1")
                        .bind(after)
                        .fetch_optional(pool)
                        .await?
                        .ok_or(StoreError::UnknownPosition(after))?;
                }
                let sql = format!(
                    "SELECT {} FROM events WHERE position > $1 ORDER BY position LIMIT $2",
                    T::SQLITE_COLUMNS
                );
                let rows = sqlx::query(&sql).bind(after).bind(limit).fetch_all(pool).await?;
                rows.iter().map(T::from_sqlite).collect::<Result<Vec<_>, _>>()?
            }
        };
        Ok(rows)
    }

    /// The first fact of a stream (a case's submission), if it has one.
    pub async fn first_fact(&self, stream: &str) -> Result<Option<Fact>, StoreError> {
        let columns = match self {
            Store::Postgres(_) => postgres_fact_columns!(),
            Store::Sqlite(_) => sqlite_fact_columns!(),
        };
        let sql = format!("SELECT {columns} FROM events WHERE aggregate_id = $1 AND sequence = 1");
        Ok(on_pool!(self, |pool| {
            match sqlx::query(&sql).bind(stream).fetch_optional(pool).await? {
                Some(row) => Some(fact(&row)?),
                None => None,
            }
        }))
    }

    /// Every fact up to `bound`, stream by stream, each stream in sequence order, as a stream
    /// of rows: memory stays flat however long the log is.
    pub fn facts_by_stream(&self, bound: &LogBound) -> BoxStream<'_, Result<Fact, StoreError>> {
        use futures_util::StreamExt;
        match (self, bound) {
            (Store::Postgres(pool), LogBound::Postgres { below, .. }) => {
                const SQL: &str = concat!(
                    "SELECT ",
                    postgres_fact_columns!(),
                    " FROM events WHERE transaction_id < $1::text::xid8 ORDER BY aggregate_id, sequence"
                );
                sqlx::query(SQL)
                    .bind(below.clone())
                    .fetch(pool)
                    .map(|row| Fact::from_postgres(&row?))
                    .boxed()
            }
            (Store::Sqlite(pool), LogBound::Sqlite { last }) => {
                const SQL: &str = concat!(
                    "SELECT ",
                    sqlite_fact_columns!(),
                    " FROM events WHERE position <= $1 ORDER BY aggregate_id, sequence"
                );
                sqlx::query(SQL)
                    .bind(*last)
                    .fetch(pool)
                    .map(|row| Fact::from_sqlite(&row?))
                    .boxed()
            }
            _ => futures_util::stream::once(async { Err(StoreError::Corrupt("a bound of the other backend".into())) })
                .boxed(),
        }
    }

    /// The event a command with this idempotency key wrote for this actor, if any.
    pub async fn event_for_idempotency_key(
        &self,
        actor_id: &str,
        key: &str,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let condition = match self {
            Store::Postgres(_) => "metadata ->> 'actor_id' = $1 AND metadata ->> 'idempotency_key' = $2 AND metadata ? 'idempotency_key'",
            Store::Sqlite(_) => "json_extract(metadata, '$.actor_id') = $1 AND json_extract(metadata, '$.idempotency_key') = $2 AND json_extract(metadata, '$.idempotency_key') IS NOT NULL",
        };
        let sql = format!("SELECT {CASE_EVENTS_COLUMNS} FROM events WHERE {condition}");
        let row = on_pool!(self, |pool| {
            match sqlx::query(&sql).bind(actor_id).bind(key).fetch_optional(pool).await? {
                Some(row) => Some(stored_event(&row)?),
                None => None,
            }
        });
        Ok(row)
    }

    /// Every event, case by case in sequence order, handed to `visit` one at a time so that
    /// memory stays flat however long the log is.
    pub async fn for_each_event_by_case(&self, mut visit: impl FnMut(StoredEvent) + Send) -> Result<(), StoreError> {
        use futures_util::TryStreamExt;
        let sql = format!("SELECT {CASE_EVENTS_COLUMNS} FROM events ORDER BY aggregate_id, sequence");
        on_pool!(self, |pool| {
            let mut rows = sqlx::query(&sql).fetch(pool);
            while let Some(row) = rows.try_next().await? {
                visit(stored_event(&row)?);
            }
        });
        Ok(())
    }

    /// The largest position in the log; 0 when it is empty.
    pub async fn head_position(&self) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT COALESCE(MAX(position), 0) FROM events";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(SQL).fetch_one(pool).await?))
    }

    pub async fn count_events(&self) -> Result<u64, StoreError> {
        let count: i64 = on_pool!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(pool)
            .await?);
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// Appends `events` after `version` in one transaction; returns the position of the last.
    /// Fails with [`StoreError::Conflict`] when another writer appended after `version` first.
    pub async fn append<A: Aggregate>(
        &self,
        aggregate_id: &str,
        version: u64,
        events: Vec<A::Event>,
        metadata: HashMap<String, String>,
    ) -> Result<i64, StoreError>
    where
        A::Error: Send + Sync + 'static,
    {
        // In event-store mode cqrs-es reads only the id and sequence from the context: the
        // aggregate in it is never looked at, so a default one saves rebuilding it.
        let context = EventStoreAggregateContext {
            aggregate_id: aggregate_id.to_owned(),
            aggregate: A::default(),
            current_sequence: usize::try_from(version).map_err(|_| StoreError::Corrupt("version".into()))?,
            current_snapshot: None,
        };
        let last_position = OnceLock::new();
        let table = EventsTable {
            store: self,
            last_position: &last_position,
        };
        PersistedEventStore::<_, A>::new_event_store(table)
            .commit(events, context, metadata)
            .await?;
        last_position
            .into_inner()
            .ok_or_else(|| StoreError::Corrupt("an append wrote no event".into()))
    }
}

/// Reads one row of [`CASE_EVENTS_COLUMNS`] on either backend.
fn stored_event<'r, R>(row: &'r R) -> Result<StoredEvent, StoreError>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Json<Value>: Decode<'r, R::Database> + Type<R::Database>,
    Timestamp: Decode<'r, R::Database> + Type<R::Database>,
{
    let sequence: i64 = row.try_get("sequence")?;
    Ok(StoredEvent {
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: u64::try_from(sequence).map_err(|_| StoreError::Corrupt(format!("sequence {sequence}")))?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload: row.try_get::<Json<Value>, _>("payload")?.0,
        metadata: row.try_get::<Json<Value>, _>("metadata")?.0,
        position: row.try_get("position")?,
        recorded_at: row.try_get("recorded_at")?,
    })
}

/// Where a full read of the log stops: every event before it in log order, none after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogBound {
    /// The events of transactions below `below` (the oldest transaction running when the bound
    /// was taken: none of them can still commit); `last` is the last of them in log order.
    Postgres { below: String, last: i64 },
    /// Everything up to `last`: SQLite has one writer, and the bound is taken holding its lock.
    Sqlite { last: i64 },
}

impl LogBound {
    /// The position of the last event inside the bound; 0 when there is none.
    pub fn last(&self) -> i64 {
        match self {
            LogBound::Postgres { last, .. } | LogBound::Sqlite { last } => *last,
        }
    }
}

/// Taking a [`LogBound`] inside a transaction of either backend.
pub(crate) trait TakeLogBound {
    /// On PostgreSQL, as the transaction's snapshot stands; on SQLite, the transaction must
    /// hold the write lock.
    async fn take_log_bound(&mut self) -> Result<LogBound, StoreError>;
}

impl TakeLogBound for sqlx::PgConnection {
    async fn take_log_bound(&mut self) -> Result<LogBound, StoreError> {
        let below: String = sqlx::query_scalar(&format!("SELECT {POSTGRES_HORIZON}::text"))
            .fetch_one(&mut *self)
            .await?;
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT position FROM events WHERE transaction_id < $1::text::xid8 \
             ORDER BY transaction_id DESC, position DESC LIMIT 1",
        )
        .bind(&below)
        .fetch_optional(&mut *self)
        .await?;
        Ok(LogBound::Postgres {
            below,
            last: last.unwrap_or(0),
        })
    }
}

impl TakeLogBound for sqlx::SqliteConnection {
    async fn take_log_bound(&mut self) -> Result<LogBound, StoreError> {
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events")
            .fetch_one(&mut *self)
            .await?;
        Ok(LogBound::Sqlite { last })
    }
}

/// What a page of the log can be read as.
trait LogRow: Sized {
    const POSTGRES_COLUMNS: &'static str;
    const SQLITE_COLUMNS: &'static str;
    fn from_postgres(row: &PgRow) -> Result<Self, StoreError>;
    fn from_sqlite(row: &SqliteRow) -> Result<Self, StoreError>;
}

impl LogRow for StoredEvent {
    const POSTGRES_COLUMNS: &'static str = CASE_EVENTS_COLUMNS;
    const SQLITE_COLUMNS: &'static str = CASE_EVENTS_COLUMNS;

    fn from_postgres(row: &PgRow) -> Result<Self, StoreError> {
        stored_event(row)
    }

    fn from_sqlite(row: &SqliteRow) -> Result<Self, StoreError> {
        stored_event(row)
    }
}

impl LogRow for Fact {
    const POSTGRES_COLUMNS: &'static str = postgres_fact_columns!();
    const SQLITE_COLUMNS: &'static str = sqlite_fact_columns!();

    fn from_postgres(row: &PgRow) -> Result<Self, StoreError> {
        fact(row)
    }

    fn from_sqlite(row: &SqliteRow) -> Result<Self, StoreError> {
        fact(row)
    }
}

/// Reads one row of a [`Fact`]'s columns on either backend.
fn fact<'r, R>(row: &'r R) -> Result<Fact, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    Option<&'r str>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let aggregate_type: &str = row.try_get(0)?;
    let stream: String = row.try_get(1)?;
    let sequence: i64 = row.try_get(2)?;
    let payload = Payload::decode(aggregate_type, &stream, row.try_get(3)?);
    let status: Option<&str> = row.try_get(4)?;
    Ok(Fact {
        kind: aggregate_type.parse().ok(),
        sequence: u64::try_from(sequence).map_err(|_| StoreError::Corrupt(format!("sequence {sequence}")))?,
        position: row.try_get(5)?,
        status_after: status.and_then(|status| status.parse().ok()),
        payload,
        stream,
    })
}
