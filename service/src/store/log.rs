//! Reading the log in its global order: pages after a position, the bound a full read stops
//! at, and the facts the read models fold.
//!
//! SQLite has one writer at a time, so position order is commit order. PostgreSQL commits
//! concurrently: a transaction may take a smaller position and commit later. There the log
//! order is `(transaction_id, position)`, and a reader only ever sees events below the horizon
//! (`POSTGRES_HORIZON`), the oldest transaction that may still write to this database: every
//! transaction still to commit has a larger id than anything read, so its events come after
//! the reader's cursor, never behind it. The horizon costs a reader some lag behind a long
//! transaction; it never costs an event.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::stream::BoxStream;
use projections::{Fact, Payload, Stored};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::store::{on_pool, stored_event, RecentAppends, Store, StoreError, StoredEvent, CASE_EVENTS_COLUMNS};

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
        "aggregate_type, aggregate_id, sequence, payload::text, metadata ->> 'status', position, event_type, event_version"
    };
}
macro_rules! sqlite_fact_columns {
    () => {
        "aggregate_type, aggregate_id, sequence, payload, json_extract(metadata, '$.status'), position, event_type, event_version"
    };
}

impl Store {
    /// A page of the global log after the event at `after` (0: from the start), in log order,
    /// holding only events no running transaction can still precede (on PostgreSQL, those
    /// below the horizon: see the module's notes).
    pub async fn log_after(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>, StoreError> {
        self.log_page(after, limit).await
    }

    /// [`Store::log_after`] as the read models read it: [`Fact`]s, decoded straight from the
    /// payload's text, without the metadata.
    pub async fn facts_after(&self, after: i64, limit: i64) -> Result<Vec<Fact>, StoreError> {
        self.log_page(after, limit).await
    }

    /// The positions of [`Store::log_after`]'s page, in its order, without the events.
    async fn positions_after(&self, after: i64, limit: i64) -> Result<Vec<i64>, StoreError> {
        let positions: Vec<Position> = self.log_page(after, limit).await?;
        Ok(positions.into_iter().map(|Position(position)| position).collect())
    }

    /// [`Store::log_after`]'s page as `T`s, those of the events `recent` holds made from them
    /// (`from_kept`), only the others read from the log; with how many were read.
    pub(crate) async fn page_after_taking<T: LogRow>(
        &self,
        recent: &RecentAppends,
        after: i64,
        limit: i64,
        from_kept: impl Fn(&Arc<StoredEvent>) -> T,
    ) -> Result<(Vec<T>, usize), StoreError> {
        let positions = self.positions_after(after, limit).await?;
        let page: Vec<Option<T>> = recent
            .take(&positions)
            .iter()
            .map(|kept| kept.as_ref().map(&from_kept))
            .collect();
        let missing: Vec<i64> = positions
            .iter()
            .zip(&page)
            .filter(|(_, row)| row.is_none())
            .map(|(position, _)| *position)
            .collect();
        let mut read: HashMap<i64, T> = self
            .rows_at::<T>(&missing)
            .await?
            .into_iter()
            .map(|row| (row.position(), row))
            .collect();
        let page = positions
            .iter()
            .zip(page)
            .map(|(position, row)| {
                row.or_else(|| read.remove(position))
                    .ok_or(StoreError::UnknownPosition(*position))
            })
            .collect::<Result<Vec<T>, StoreError>>()?;
        Ok((page, missing.len()))
    }

    /// The log's rows at `positions`, as `T`s, in no particular order; a position with no event
    /// is left out.
    async fn rows_at<T: LogRow>(&self, positions: &[i64]) -> Result<Vec<T>, StoreError> {
        if positions.is_empty() {
            return Ok(Vec::new());
        }
        Ok(match self {
            Store::Postgres(pool) => {
                let sql = format!("SELECT {} FROM events WHERE position = ANY($1)", T::POSTGRES_COLUMNS);
                let rows = sqlx::query(&sql).bind(positions).fetch_all(pool).await?;
                rows.iter().map(T::from_postgres).collect::<Result<Vec<_>, _>>()?
            }
            Store::Sqlite(pool) => {
                // One parameter, a JSON array, whatever the number of positions.
                let sql = format!(
                    "SELECT {} FROM events WHERE position IN (SELECT value FROM json_each($1))",
                    T::SQLITE_COLUMNS
                );
                let list = serde_json::to_string(positions).map_err(StoreError::Serialize)?;
                let rows = sqlx::query(&sql).bind(list).fetch_all(pool).await?;
                rows.iter().map(T::from_sqlite).collect::<Result<Vec<_>, _>>()?
            }
        })
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

    /// The largest position in the log; 0 when it is empty.
    pub async fn head_position(&self) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT COALESCE(MAX(position), 0) FROM events";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(SQL).fetch_one(pool).await?))
    }
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
pub(crate) trait LogRow: Sized {
    const POSTGRES_COLUMNS: &'static str;
    const SQLITE_COLUMNS: &'static str;
    fn from_postgres(row: &PgRow) -> Result<Self, StoreError>;
    fn from_sqlite(row: &SqliteRow) -> Result<Self, StoreError>;
    fn position(&self) -> i64;
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

    fn position(&self) -> i64 {
        self.position
    }
}

impl LogRow for Arc<StoredEvent> {
    const POSTGRES_COLUMNS: &'static str = CASE_EVENTS_COLUMNS;
    const SQLITE_COLUMNS: &'static str = CASE_EVENTS_COLUMNS;

    fn from_postgres(row: &PgRow) -> Result<Self, StoreError> {
        stored_event(row).map(Arc::new)
    }

    fn from_sqlite(row: &SqliteRow) -> Result<Self, StoreError> {
        stored_event(row).map(Arc::new)
    }

    fn position(&self) -> i64 {
        self.as_ref().position
    }
}

/// A page of the log as its positions alone.
struct Position(i64);

impl LogRow for Position {
    const POSTGRES_COLUMNS: &'static str = "position";
    const SQLITE_COLUMNS: &'static str = "position";

    fn from_postgres(row: &PgRow) -> Result<Self, StoreError> {
        Ok(Position(row.try_get(0)?))
    }

    fn from_sqlite(row: &SqliteRow) -> Result<Self, StoreError> {
        Ok(Position(row.try_get(0)?))
    }

    fn position(&self) -> i64 {
        self.0
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

    fn position(&self) -> i64 {
        self.position
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
    let stored = Stored {
        aggregate_type,
        stream: &stream,
        event_type: row.try_get(6)?,
        event_version: row.try_get(7)?,
    };
    let payload = Payload::decode(stored, row.try_get(3)?);
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
