//! Writing the log: a command's events, and imports of whole logs.
//!
//! A command's events are serialized here (payload and the cqrs-es `DomainEvent` names
//! `event_type` and `event_version`), chained to the stream's last hash that the caller read
//! with the stream, and written by one `INSERT … RETURNING position`: a single round trip that
//! is its own transaction and returns the position the caller answers with. (cqrs-es's
//! repositories take three, `BEGIN`, an `INSERT` per event and `COMMIT`, and return no
//! position.) A duplicate `(aggregate_id, sequence)` fails the insert: that is the optimistic
//! lock, as is a duplicate `(actor_id, idempotency_key)` on the idempotency index; both come
//! back as [`StoreError::Conflict`].
//!
//! An import writes many streams' events at once, with the times they happened at: PostgreSQL
//! takes them by `COPY`, SQLite by multi-row inserts of the same `insert_statement` as an
//! append, in one transaction per batch.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::SecondsFormat;
use domain::member_record::MemberEvent;
use domain::{AnyCaseEvent, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::encode::IsNull;
use sqlx::error::{BoxDynError, ErrorKind};
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo};
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo};
use sqlx::types::Json;
use sqlx::{Arguments, Database, Encode, Postgres, Sqlite, Type};

use crate::store::chain;
use crate::store::{copy_text, on_connection, Connection, Store, StoreError, StoredEvent};

/// Rows per SQLite `INSERT` of an import: eight parameters a row, well below SQLite's limit of
/// 32,766.
const SQLITE_ROWS_PER_INSERT: usize = 1_000;

/// The columns of the events table a writer sets; the database fills in `position`,
/// `transaction_id` and, unless an import gives it, `recorded_at`.
const WRITTEN_COLUMNS: &str = "aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata";

/// An event the store can write: its payload, and the names cqrs-es's `DomainEvent` gives it.
pub trait Appendable: Serialize {
    fn event_type(&self) -> String;
    fn event_version(&self) -> String;
}

impl Appendable for AnyCaseEvent {
    fn event_type(&self) -> String {
        AnyCaseEvent::event_type(self)
    }

    fn event_version(&self) -> String {
        AnyCaseEvent::event_version(self)
    }
}

impl Appendable for MemberEvent {
    fn event_type(&self) -> String {
        cqrs_es::DomainEvent::event_type(self)
    }

    fn event_version(&self) -> String {
        cqrs_es::DomainEvent::event_version(self)
    }
}

/// What one command appends to one stream.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a, E> {
    /// A case kind, or `member_record`.
    pub aggregate_type: &'a str,
    pub stream: &'a str,
    /// The stream's version the command was decided on: its events take the next sequences.
    pub version: u64,
    /// The hash of the stream's last event, read with the stream; [`chain::GENESIS`] for a new
    /// stream.
    pub prev_hash: &'a str,
    /// What every event carries beside its payload; the chain adds `prev_hash` and `hash`.
    pub metadata: &'a Map<String, Value>,
    pub events: &'a [E],
}

impl<E: Appendable> Commit<'_, E> {
    /// The events as they are written, in order: serialized and chained.
    pub fn rows(&self) -> Result<Vec<Chained>, StoreError> {
        let mut prev_hash = self.prev_hash.to_owned();
        self.events
            .iter()
            .zip(self.version + 1..)
            .map(|(event, sequence)| {
                let mut row = EventRow {
                    aggregate_type: self.aggregate_type.to_owned(),
                    aggregate_id: self.stream.to_owned(),
                    sequence,
                    event_type: event.event_type(),
                    event_version: event.event_version(),
                    payload: serde_json::to_value(event).map_err(StoreError::Serialize)?,
                    metadata: self.metadata.clone(),
                };
                let linked = chain::link(&prev_hash, &mut row);
                prev_hash = linked.hash;
                Ok(Chained::new(row, linked.payload, linked.metadata))
            })
            .collect()
    }
}

/// One row of the events table as a writer sets it, its JSON as a tree (`Value`, what the chain
/// hashes) or as text (what is written).
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow<J = Value, M = Map<String, Value>> {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: u64,
    pub event_type: String,
    pub event_version: String,
    pub payload: J,
    pub metadata: M,
}

/// An event chained and ready to write: the row with its JSON as the canonical text the chain
/// hashed, which is what is written (so each is written out once), and the same JSON as trees,
/// as the event is handed to this process's readers.
#[derive(Debug, Clone, PartialEq)]
pub struct Chained {
    pub written: EventRow<String, String>,
    pub payload: Value,
    /// With the chain's `prev_hash` and `hash`.
    pub metadata: Map<String, Value>,
}

impl Chained {
    fn new(row: EventRow, payload: String, metadata: String) -> Self {
        Chained {
            written: EventRow {
                aggregate_type: row.aggregate_type,
                aggregate_id: row.aggregate_id,
                sequence: row.sequence,
                event_type: row.event_type,
                event_version: row.event_version,
                payload,
                metadata,
            },
            payload: row.payload,
            metadata: row.metadata,
        }
    }

    /// The event's own hash, which the stream's next event chains to.
    pub fn hash(&self) -> Option<&str> {
        self.metadata.get(chain::HASH).and_then(Value::as_str)
    }

    /// The event as a reader of the log reads it back, at the position and time it was given.
    fn stored(self, position: i64, recorded_at: Timestamp) -> StoredEvent {
        let row = self.written;
        StoredEvent {
            aggregate_type: row.aggregate_type,
            aggregate_id: row.aggregate_id,
            sequence: row.sequence,
            event_type: row.event_type,
            event_version: row.event_version,
            payload: self.payload,
            metadata: Value::Object(self.metadata),
            position,
            recorded_at,
        }
    }
}

/// An event to import, its JSON already text, with the time it happened at.
#[derive(Debug, Clone)]
pub struct Imported {
    pub row: EventRow<String, String>,
    pub recorded_at: Timestamp,
}

impl Imported {
    /// An event chained elsewhere (an old log's), its JSON written here.
    pub fn new(row: EventRow, recorded_at: Timestamp) -> Result<Self, StoreError> {
        Ok(Imported {
            row: EventRow {
                payload: serde_json::to_string(&row.payload).map_err(StoreError::Serialize)?,
                metadata: serde_json::to_string(&row.metadata).map_err(StoreError::Serialize)?,
                aggregate_type: row.aggregate_type,
                aggregate_id: row.aggregate_id,
                sequence: row.sequence,
                event_type: row.event_type,
                event_version: row.event_version,
            },
            recorded_at,
        })
    }

    /// An event [`Commit::rows`] chained, as it was written out there.
    pub fn chained(chained: Chained, recorded_at: Timestamp) -> Self {
        Imported {
            row: chained.written,
            recorded_at,
        }
    }

    /// The row as one line of PostgreSQL's `COPY … FROM STDIN` text format.
    fn copy_line(&self, out: &mut Vec<u8>) {
        let row = &self.row;
        let fields = [
            row.aggregate_type.as_str(),
            &row.aggregate_id,
            &row.sequence.to_string(),
            &row.event_type,
            &row.event_version,
            &row.payload,
            &row.metadata,
            &copy_text::time(self.recorded_at),
        ];
        copy_text::push_row(out, &fields.map(Some));
    }
}

/// JSON already written out, bound as it is: as `jsonb` on PostgreSQL (whose binary form is a
/// version byte and the text), as text on SQLite. sqlx's `Json` would write the value out again.
struct JsonText<'a>(&'a str);

impl Type<Postgres> for JsonText<'_> {
    fn type_info() -> PgTypeInfo {
        <Json<()> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for JsonText<'_> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        const JSONB_VERSION: u8 = 1;
        buf.push(JSONB_VERSION);
        buf.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
}

impl Type<Sqlite> for JsonText<'_> {
    fn type_info() -> SqliteTypeInfo {
        <&str as Type<Sqlite>>::type_info()
    }
}

impl<'a> Encode<'a, Sqlite> for JsonText<'a> {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'a>>) -> Result<IsNull, BoxDynError> {
        <&str as Encode<'a, Sqlite>>::encode_by_ref(&self.0, buf)
    }
}

/// The one `INSERT` into the events table, for a command's append and an import's batch alike,
/// of `rows` events: `recorded_at` is written only for rows that carry it (an import), else the
/// database sets it. `guarded`: the rows are written only if the stream named by the last two
/// parameters has no event after the sequence they give, as the statement sees the table; else
/// none is. Parameters are numbered (`$n`), which both backends take.
fn insert_statement(rows: usize, with_recorded_at: bool, guarded: bool) -> String {
    let columns = if with_recorded_at { 8 } else { 7 };
    let mut sql = format!("INSERT INTO events ({WRITTEN_COLUMNS}");
    sql.push_str(if with_recorded_at { ", recorded_at) " } else { ") " });
    if guarded {
        sql.push_str("SELECT * FROM (");
    }
    sql.push_str("VALUES ");
    let mut parameter = 0;
    let mut next = || {
        parameter += 1;
        format!("${parameter}")
    };
    let tuples: Vec<String> = (0..rows)
        .map(|_| format!("({})", (0..columns).map(|_| next()).collect::<Vec<_>>().join(", ")))
        .collect();
    sql.push_str(&tuples.join(", "));
    if guarded {
        let (stream, sequence) = (next(), next());
        sql.push_str(&format!(
            ") AS appended WHERE NOT EXISTS (SELECT 1 FROM events WHERE aggregate_id = {stream} AND sequence > {sequence})"
        ));
    }
    sql
}

/// A command's append statement for `events` events, written out once for each count and kind
/// (sqlx then finds its prepared statement by this text).
fn append_statement(events: usize, guarded: bool) -> Arc<str> {
    static WRITTEN: Mutex<BTreeMap<(usize, bool), Arc<str>>> = Mutex::new(BTreeMap::new());
    let mut written = WRITTEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    written
        .entry((events, guarded))
        .or_insert_with(|| {
            let mut sql = insert_statement(events, false, guarded);
            sql.push_str(" RETURNING sequence, position, recorded_at");
            sql.into()
        })
        .clone()
}

/// The parameters of [`insert_statement`] for a statement sent `on` a connection: each row's
/// columns, its recording time when it carries one, then the guard's stream and sequence. (The
/// connection only names the backend, which sqlx cannot infer from the arguments' type.)
fn insert_arguments<'a, C, DB>(
    _on: &C,
    rows: impl IntoIterator<Item = (&'a EventRow<String, String>, Option<String>)>,
    unless_after: Option<(&'a str, i64)>,
) -> Result<DB::Arguments<'a>, StoreError>
where
    C: sqlx::Connection<Database = DB>,
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    JsonText<'a>: Encode<'a, DB> + Type<DB>,
{
    let mut arguments = DB::Arguments::default();
    let add = |added: Result<(), BoxDynError>| added.map_err(|error| StoreError::from(sqlx::Error::Encode(error)));
    for (row, recorded_at) in rows {
        add(arguments.add(row.aggregate_type.as_str()))?;
        add(arguments.add(row.aggregate_id.as_str()))?;
        add(arguments.add(row.sequence as i64))?;
        add(arguments.add(row.event_type.as_str()))?;
        add(arguments.add(row.event_version.as_str()))?;
        add(arguments.add(JsonText(&row.payload)))?;
        add(arguments.add(JsonText(&row.metadata)))?;
        if let Some(recorded_at) = recorded_at {
            add(arguments.add(recorded_at))?;
        }
    }
    if let Some((stream, sequence)) = unless_after {
        add(arguments.add(stream))?;
        add(arguments.add(sequence))?;
    }
    Ok(arguments)
}

/// A failed write: a duplicate key is the optimistic lock (or a racing retry's idempotency key,
/// which the engine then answers from the first attempt).
fn write_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(database) if database.kind() == ErrorKind::UniqueViolation => StoreError::Conflict,
        _ => StoreError::from(error),
    }
}

/// Where a command's events landed.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    /// The log position of the last event.
    pub position: i64,
    /// The last event's hash, which the stream's next event chains to.
    pub last_hash: String,
    /// The events as written, with the position and recording time the database gave them:
    /// what a reader of the log would read back.
    pub events: Vec<StoredEvent>,
}

impl Connection {
    /// [`Store::append`] on this connection, with the hash the stream's next event chains to.
    pub async fn append<E: Appendable>(&mut self, commit: Commit<'_, E>) -> Result<Appended, StoreError> {
        self.insert(commit, false)
            .await?
            .ok_or_else(|| StoreError::Corrupt("an append wrote no event".into()))
    }

    /// [`Connection::append`] for a command decided on a state it did not read: written only if
    /// the stream has no event after `commit.version` (`None`, nothing written, when it has:
    /// the command must be decided again on the stream). A writer racing it still loses on the
    /// optimistic lock ([`StoreError::Conflict`]).
    pub async fn append_unless_behind<E: Appendable>(
        &mut self,
        commit: Commit<'_, E>,
    ) -> Result<Option<Appended>, StoreError> {
        self.insert(commit, true).await
    }

    async fn insert<E: Appendable>(
        &mut self,
        commit: Commit<'_, E>,
        guarded: bool,
    ) -> Result<Option<Appended>, StoreError> {
        let rows = commit.rows()?;
        let last_hash = rows
            .last()
            .and_then(Chained::hash)
            .ok_or_else(|| StoreError::Corrupt("an append chained no event".into()))?
            .to_owned();
        let version =
            i64::try_from(commit.version).map_err(|_| StoreError::Corrupt(format!("version {}", commit.version)))?;
        let guard = guarded.then_some((commit.stream, version));
        let placed: Vec<(i64, i64, Timestamp)> = on_connection!(self, |connection| {
            let arguments = insert_arguments(&*connection, rows.iter().map(|row| (&row.written, None)), guard)?;
            sqlx::query_as_with(&append_statement(rows.len(), guarded), arguments)
                .fetch_all(connection)
                .await
                .map_err(write_error)?
        });
        let Some(position) = placed.iter().map(|(_, position, _)| *position).max() else {
            return Ok(None);
        };
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let sequence = row.written.sequence;
            let (_, position, recorded_at) = placed
                .iter()
                .find(|(placed, _, _)| *placed == sequence as i64)
                .copied()
                .ok_or_else(|| StoreError::Corrupt(format!("no position came back for sequence {sequence}")))?;
            events.push(row.stored(position, recorded_at));
        }
        Ok(Some(Appended {
            position,
            last_hash,
            events,
        }))
    }
}

impl Store {
    /// Appends a command's events in one round trip; returns the position of the last. Fails
    /// with [`StoreError::Conflict`] when another writer appended after `commit.version` first.
    pub async fn append<E: Appendable>(&self, commit: Commit<'_, E>) -> Result<i64, StoreError> {
        Ok(self.connection().await?.append(commit).await?.position)
    }

    /// Writes `batch` in one transaction, each event at the time it gives: for filling a log in
    /// bulk, in log order, where every stream's events are already chained.
    pub async fn import(&self, batch: &[Imported]) -> Result<(), StoreError> {
        match self {
            Store::Postgres(pool) => {
                let mut text = Vec::with_capacity(batch.len() * 1_536);
                batch.iter().for_each(|imported| imported.copy_line(&mut text));
                let mut connection = pool.acquire().await?;
                let target = format!("events ({WRITTEN_COLUMNS}, recorded_at)");
                copy_text::copy_in(&mut connection, &target, text).await?;
            }
            Store::Sqlite(pool) => {
                let mut transaction = pool.begin().await?;
                for chunk in batch.chunks(SQLITE_ROWS_PER_INSERT) {
                    // The column default's own format.
                    let timed = chunk.iter().map(|imported| {
                        let at = imported.recorded_at.to_rfc3339_opts(SecondsFormat::Millis, true);
                        (&imported.row, Some(at))
                    });
                    let arguments = insert_arguments(&*transaction, timed, None)?;
                    sqlx::query_with(&insert_statement(chunk.len(), true, false), arguments)
                        .execute(&mut *transaction)
                        .await
                        .map_err(write_error)?;
                }
                transaction.commit().await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_insert_numbers_each_row_and_then_the_guard() {
        assert_eq!(
            insert_statement(1, false, true),
            format!(
                "INSERT INTO events ({WRITTEN_COLUMNS}) SELECT * FROM (VALUES ($1, $2, $3, $4, $5, $6, $7)) AS appended \
                 WHERE NOT EXISTS (SELECT 1 FROM events WHERE aggregate_id = $8 AND sequence > $9)"
            )
        );
        assert_eq!(
            insert_statement(2, true, false),
            format!(
                "INSERT INTO events ({WRITTEN_COLUMNS}, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8), \
                 ($9, $10, $11, $12, $13, $14, $15, $16)"
            )
        );
        assert!(append_statement(3, false)
            .ends_with("($15, $16, $17, $18, $19, $20, $21) RETURNING sequence, position, recorded_at"));
    }
}
