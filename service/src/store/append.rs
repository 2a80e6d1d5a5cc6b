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
//! takes them by `COPY`, SQLite by multi-row inserts built by the same `insert_events` as an
//! append, in one transaction per batch.

use chrono::SecondsFormat;
use domain::member_record::MemberEvent;
use domain::{AnyCaseEvent, Timestamp};
use serde::Serialize;
use serde_json::value::{to_raw_value, RawValue};
use serde_json::{Map, Value};
use sqlx::error::ErrorKind;
use sqlx::types::Json;
use sqlx::{Database, Encode, QueryBuilder, Type};

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
    /// The events as rows of the log, in order: serialized and chained.
    pub fn rows(&self) -> Result<Vec<EventRow>, StoreError> {
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
                prev_hash = chain::link(&prev_hash, &mut row);
                Ok(row)
            })
            .collect()
    }
}

/// One row of the events table as a writer sets it, its JSON as a tree (`Value`, what the chain
/// hashes) or as text ([`Imported`], lighter to hold).
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

impl EventRow {
    /// The event's own hash, once [`Commit::rows`] has chained it.
    pub fn hash(&self) -> Option<&str> {
        self.metadata.get(chain::HASH).and_then(Value::as_str)
    }
}

/// An event to import, its JSON already text, with the time it happened at.
#[derive(Debug, Clone)]
pub struct Imported {
    pub row: EventRow<Box<RawValue>, Box<RawValue>>,
    pub recorded_at: Timestamp,
}

impl Imported {
    pub fn new(row: EventRow, recorded_at: Timestamp) -> Result<Self, StoreError> {
        Ok(Imported {
            row: EventRow {
                payload: to_raw_value(&row.payload).map_err(StoreError::Serialize)?,
                metadata: to_raw_value(&row.metadata).map_err(StoreError::Serialize)?,
                aggregate_type: row.aggregate_type,
                aggregate_id: row.aggregate_id,
                sequence: row.sequence,
                event_type: row.event_type,
                event_version: row.event_version,
            },
            recorded_at,
        })
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
            row.payload.get(),
            row.metadata.get(),
            &copy_text::time(self.recorded_at),
        ];
        copy_text::push_row(out, &fields.map(Some));
    }
}

/// The one `INSERT` into the events table, for a command's append and an import's batch alike:
/// `recorded_at` is written only for rows that carry it (an import), else the database sets it.
/// With `unless_after` (a stream and a sequence), the rows are written only if that stream has
/// no event after that sequence, as the statement sees the table; else none is.
fn insert_events<'a, DB, J, M>(
    rows: impl IntoIterator<Item = (&'a EventRow<J, M>, Option<String>)>,
    with_recorded_at: bool,
    unless_after: Option<(&'a str, i64)>,
) -> QueryBuilder<'a, DB>
where
    DB: Database,
    DB::Arguments<'a>: Default,
    J: Serialize + Sync + 'a,
    M: Serialize + Sync + 'a,
    &'a str: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    Json<&'a J>: Encode<'a, DB> + Type<DB>,
    Json<&'a M>: Encode<'a, DB> + Type<DB>,
{
    let mut insert = QueryBuilder::new(format!("INSERT INTO events ({WRITTEN_COLUMNS}"));
    insert.push(if with_recorded_at { ", recorded_at) " } else { ") " });
    if unless_after.is_some() {
        insert.push("SELECT * FROM (");
    }
    insert.push_values(rows, |mut values, (row, recorded_at)| {
        values
            .push_bind(row.aggregate_type.as_str())
            .push_bind(row.aggregate_id.as_str())
            .push_bind(row.sequence as i64)
            .push_bind(row.event_type.as_str())
            .push_bind(row.event_version.as_str())
            .push_bind(Json(&row.payload))
            .push_bind(Json(&row.metadata));
        if let Some(recorded_at) = recorded_at {
            values.push_bind(recorded_at);
        }
    });
    if let Some((stream, sequence)) = unless_after {
        insert
            .push(") AS appended WHERE NOT EXISTS (SELECT 1 FROM events WHERE aggregate_id = ")
            .push_bind(stream)
            .push(" AND sequence > ")
            .push_bind(sequence)
            .push(")");
    }
    insert
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
            .and_then(EventRow::hash)
            .ok_or_else(|| StoreError::Corrupt("an append chained no event".into()))?
            .to_owned();
        let version =
            i64::try_from(commit.version).map_err(|_| StoreError::Corrupt(format!("version {}", commit.version)))?;
        let guard = guarded.then_some((commit.stream, version));
        let placed: Vec<(i64, i64, Timestamp)> = on_connection!(self, |connection| {
            insert_events(rows.iter().map(|row| (row, None)), false, guard)
                .push(" RETURNING sequence, position, recorded_at")
                .build_query_as()
                .fetch_all(connection)
                .await
                .map_err(write_error)?
        });
        let Some(position) = placed.iter().map(|(_, position, _)| *position).max() else {
            return Ok(None);
        };
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let (_, position, recorded_at) = placed
                .iter()
                .find(|(sequence, _, _)| *sequence == row.sequence as i64)
                .copied()
                .ok_or_else(|| StoreError::Corrupt(format!("no position came back for sequence {}", row.sequence)))?;
            events.push(StoredEvent {
                aggregate_type: row.aggregate_type,
                aggregate_id: row.aggregate_id,
                sequence: row.sequence,
                event_type: row.event_type,
                event_version: row.event_version,
                payload: row.payload,
                metadata: Value::Object(row.metadata),
                position,
                recorded_at,
            });
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
                    insert_events(timed, true, None)
                        .build()
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
