//! The event store: one switch between the embedded SQLite store and PostgreSQL, the schema
//! migrations of each, and the reads of one stream. The writes are in [`append`], the reads in
//! log order in [`log`].
//!
//! SQL text is shared by both backends where it can be: SQLite reads `$1, $2, …` as named
//! parameters numbered in order of first appearance, so they must appear in ascending order.
//! Reads are our own queries: one round trip loads a stream's kind and events together, with
//! the columns the database adds (`position`, `recorded_at`).
//!
//! PostgreSQL may be given as several addresses, of which the store writes to the primary and
//! follows it across a promotion ([`failover`]). Reads that tolerate lag may use a second store
//! opened on a standby ([`Store::open_replica`]); [`Store::caught_up_with`] waits until it has
//! replayed what the primary had written, for a read that must see a given write.

pub mod append;
pub mod chain;
pub mod copy_text;
pub mod failover;
pub mod kept;
pub mod log;
pub mod recent_appends;

use std::path::Path;
use std::time::Duration;

use domain::Timestamp;
use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, PgPool, Row, SqlitePool, Type};

pub use append::{Appendable, Appended, Chained, Commit, EventRow, Imported};
pub use kept::{Kept, Lent};
pub use log::LogBound;
pub(crate) use log::TakeLogBound;
pub use recent_appends::RecentAppends;

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
    #[error("an event cannot be serialized")]
    Serialize(#[source] serde_json::Error),
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

/// PostgreSQL's error classes that mean "not now" rather than "not this": connection
/// exceptions (08), too many connections or out of resources (53), and operator intervention
/// (57: a shutdown, a restart, a cancelled backend). A restart under load raises them.
const TRANSIENT_SQLSTATE_CLASSES: [&str; 3] = ["08", "53", "57"];

/// A lock waited for longer than the connection's `lock_timeout`: try again later.
const LOCK_NOT_AVAILABLE: &str = "55P03";

fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            code == LOCK_NOT_AVAILABLE || TRANSIENT_SQLSTATE_CLASSES.iter().any(|class| code.starts_with(class))
        }),
        _ => false,
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            transient if is_transient(&transient) => StoreError::Unavailable(Box::new(transient)),
            sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => StoreError::Corrupt(error.to_string()),
            other => StoreError::Database(Box::new(other)),
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

/// One connection taken from the store's pool, for statements the store runs on it.
#[derive(Debug)]
pub enum Connection {
    Postgres(PoolConnection<sqlx::Postgres>),
    Sqlite(PoolConnection<sqlx::Sqlite>),
}

/// [`on_pool!`] for one connection: the body sees `&mut` the backend's connection.
macro_rules! on_connection {
    ($connection:expr, |$raw:ident| $body:expr) => {
        match $connection {
            $crate::store::Connection::Postgres(pooled) => {
                let $raw = &mut **pooled;
                $body
            }
            $crate::store::Connection::Sqlite(pooled) => {
                let $raw = &mut **pooled;
                $body
            }
        }
    };
}
pub(crate) use on_connection;

const CASE_EVENTS_COLUMNS: &str =
    "aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, position, recorded_at";

/// The pool settings of every PostgreSQL store, on a primary or a standby.
fn postgres_pool() -> PgPoolOptions {
    PgPoolOptions::new()
        // 16 for the projections, the reads and the background tasks, and up to 8 more the
        // command path keeps between commands (a third: see `kept`).
        .max_connections(24)
        // sqlx pings a connection before lending it by default: a round trip more for every
        // query. A connection the server dropped fails its next query instead, and the pool
        // replaces it.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(5))
}

/// Creates the data directory and the store's file readable by their owner alone (0700, 0600)
/// when they do not exist yet. SQLite gives the WAL and shared-memory files beside it the file's
/// own permissions, so the log and every token hash stay private to the service's user.
fn private_store_file(data_dir: &Path, file: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if !data_dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)
        .map(drop)
}

/// How long a read on a standby waits for a connection (sqlx retries a refused one until then).
const REPLICA_ACQUIRE: Duration = Duration::from_secs(1);

/// How often [`Store::caught_up_with`] looks at the standby's replay position.
const REPLAY_POLL: Duration = Duration::from_millis(5);

impl Store {
    /// PostgreSQL when a URL is given (or several, comma-separated: see [`failover`]), else
    /// the embedded store in `data_dir`.
    pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        match database_url {
            Some(urls) => Ok(Store::Postgres(
                failover::primary_pool(postgres_pool(), failover::addresses(urls)?).await?,
            )),
            None => {
                let file = data_dir.join(SQLITE_FILE);
                private_store_file(data_dir, &file).map_err(|source| StoreError::DataDir {
                    path: data_dir.display().to_string(),
                    source,
                })?;
                let options = SqliteConnectOptions::new()
                    .filename(&file)
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

    /// A store for reads that tolerate lag, on a standby (or any server) at `url`: never
    /// written to, never migrated. What it answers is what the standby has replayed. Connected
    /// lazily, so that the service starts while its standby is down; a read waits at most a
    /// second for a connection, then may go to the primary instead.
    pub fn open_replica(url: &str) -> Result<Self, StoreError> {
        Ok(Store::Postgres(
            postgres_pool().acquire_timeout(REPLICA_ACQUIRE).connect_lazy(url)?,
        ))
    }

    /// Waits until this store, on a standby, has replayed everything `primary` had written
    /// when called: after it, every write acknowledged before the call is visible here.
    /// `false` when `within` passed first. At once `true` when either store is not a
    /// PostgreSQL one, or this one is a primary.
    pub async fn caught_up_with(&self, primary: &Store, within: Duration) -> Result<bool, StoreError> {
        let (Store::Postgres(replica), Store::Postgres(primary)) = (self, primary) else {
            return Ok(true);
        };
        let deadline = tokio::time::Instant::now() + within;
        // The insert position, not the write position: the projections commit without waiting
        // for the flush, and their last commit must be inside what the standby replays.
        let written: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
            .fetch_one(primary)
            .await?;
        loop {
            // A server out of recovery (a primary, or a promoted standby) writes for itself.
            let replayed: bool =
                sqlx::query_scalar("SELECT NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= $1::pg_lsn")
                    .bind(&written)
                    .fetch_one(replica)
                    .await?;
            if replayed {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(REPLAY_POLL).await;
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

    /// Reachable, and every migration this build knows is applied: each one, not only the
    /// latest (a migration merged with an older version than one applied already is missing).
    pub async fn is_ready(&self) -> Result<bool, StoreError> {
        const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success";
        let applied: Vec<i64> = on_pool!(self, |pool| sqlx::query_scalar(APPLIED).fetch_all(pool).await?);
        Ok(self
            .migrator()
            .iter()
            .all(|migration| applied.contains(&migration.version)))
    }

    /// A connection of the pool, returned to it when dropped.
    pub async fn connection(&self) -> Result<Connection, StoreError> {
        Ok(match self {
            Store::Postgres(pool) => Connection::Postgres(pool.acquire().await?),
            Store::Sqlite(pool) => Connection::Sqlite(pool.acquire().await?),
        })
    }

    /// The most connections the pool opens.
    pub fn max_connections(&self) -> u32 {
        on_pool!(self, |pool| pool.options().get_max_connections())
    }

    /// Every connection the pool may open is open and none is idle: a caller may be waiting.
    pub fn exhausted(&self) -> bool {
        on_pool!(self, |pool| pool.size() >= self.max_connections()
            && pool.num_idle() == 0)
    }

    /// Every event of one stream (a case, or a member's record), in order; empty when there
    /// is no such stream.
    pub async fn stream_events(&self, id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.connection().await?.stream_events(id).await
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

    pub async fn count_events(&self) -> Result<u64, StoreError> {
        let count: i64 = on_pool!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(pool)
            .await?);
        Ok(u64::try_from(count).unwrap_or_default())
    }
}

impl Connection {
    /// [`Store::stream_events`] on this connection.
    pub async fn stream_events(&mut self, id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.stream_events_after(id, 0).await
    }

    /// The events of one stream after its first `after`, in order: what a reader who holds the
    /// stream's first `after` events has not seen yet.
    pub async fn stream_events_after(&mut self, id: &str, after: u64) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT {CASE_EVENTS_COLUMNS} FROM events WHERE aggregate_id = $1 AND sequence > $2 ORDER BY sequence"
        );
        let after = i64::try_from(after).map_err(|_| StoreError::Corrupt(format!("sequence {after}")))?;
        let rows = on_connection!(self, |connection| {
            let rows = sqlx::query(&sql).bind(id).bind(after).fetch_all(connection).await?;
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
