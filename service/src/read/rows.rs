//! View rows as the two writers write them: the live batches upsert them (multi-row
//! `INSERT … ON CONFLICT`), the rebuild loads them into emptied tables (PostgreSQL `COPY` in its
//! text format, a third of the server's time of multi-row inserts; SQLite plain multi-row
//! inserts). A row type states its table, its columns and the values of a row once
//! ([`ViewRow`]); both writers take those values, so they cannot disagree. An upsert can return
//! the rows it really wrote (`RETURNING`), for a view that keeps sums over them.

use std::borrow::Cow;

use domain::Timestamp;
use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use sqlx::error::BoxDynError;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::types::{Json, JsonRawValue};
use sqlx::{Database, Decode, FromRow, QueryBuilder, Type};

use crate::read::projection::Rows;
use crate::read::tx::{on_tx, Tx};
use crate::store::{copy_text, StoreError};

/// Rows (or keys) per multi-row statement: our widest row (14 columns) stays far below both
/// backends' parameter limits.
const ROWS_PER_STATEMENT: usize = 500;

/// One column's value.
#[derive(Debug)]
pub enum Field<'a> {
    Text(Option<&'a str>),
    Time(Option<Timestamp>),
    Bool(bool),
    Int(i64),
    /// Serialized once, for either writer.
    Json(Box<JsonRawValue>),
    /// JSON the database keeps as text ([`Document`]).
    Document(String),
}

impl Field<'_> {
    /// The value as `COPY`'s text format spells it (`None` for null).
    fn copy_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Field::Text(text) => text.map(Cow::Borrowed),
            Field::Time(at) => at.map(|at| Cow::Owned(copy_text::time(at))),
            Field::Bool(value) => Some(Cow::Borrowed(if *value { "t" } else { "f" })),
            Field::Int(value) => Some(Cow::Owned(value.to_string())),
            Field::Json(json) => Some(Cow::Borrowed(json.get())),
            Field::Document(text) => Some(Cow::Borrowed(text)),
        }
    }
}

/// Serializes `value` for a [`Field::Json`].
pub fn json(value: &impl serde::Serialize) -> Result<Field<'static>, StoreError> {
    serde_json::value::to_raw_value(value)
        .map(Field::Json)
        .map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// Serializes `value` for a [`Field::Document`].
pub fn document(value: &impl serde::Serialize) -> Result<Field<'static>, StoreError> {
    serde_json::to_string(value)
        .map(Field::Document)
        .map_err(|error| StoreError::Corrupt(error.to_string()))
}

/// A JSON document the database keeps as text (a case summary's `summary`): written and read
/// whole, never parsed by the server, so neither a write parses it nor a read prints it again.
#[derive(Debug)]
pub struct Document<T>(pub T);

impl<T, DB: Database> Type<DB> for Document<T>
where
    String: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as Type<DB>>::compatible(ty)
    }
}

impl<'r, T: DeserializeOwned, DB: Database> Decode<'r, DB> for Document<T>
where
    &'r str: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Document(serde_json::from_str(<&str as Decode<DB>>::decode(value)?)?))
    }
}

/// What an upsert does with a row whose key is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Keeps the row there.
    Keep,
    /// Replaces the other columns.
    Replace,
    /// Adds the other columns (counts) to those there.
    Add,
}

/// A row of one view table.
pub trait ViewRow: Sync {
    const TABLE: &'static str;
    /// Every column, the key's first.
    const COLUMNS: &'static [&'static str];
    /// How many of the leading columns are the key.
    const KEY: usize;
    const ON_CONFLICT: OnConflict;
    /// The values, in the order of [`ViewRow::COLUMNS`].
    fn fields(&self) -> Result<Vec<Field<'_>>, StoreError>;
}

/// Inserts `rows`, or updates those already there as `R::ON_CONFLICT` says.
pub async fn upsert<R: ViewRow>(tx: &mut Tx, rows: &[R]) -> Result<(), StoreError> {
    upsert_returning::<R, Nothing>(tx, rows, &[]).await.map(drop)
}

/// [`upsert`], returning `returning` of each row it wrote: a row kept as it was
/// ([`OnConflict::Keep`]) is not returned, so a caller learns what really changed.
pub async fn upsert_returning<R, T>(tx: &mut Tx, rows: &[R], returning: &[&str]) -> Result<Vec<T>, StoreError>
where
    R: ViewRow,
    T: FromEitherRow,
{
    let (key, others) = R::COLUMNS.split_at(R::KEY);
    let update = |set: &dyn Fn(&str) -> String| others.iter().map(|column| set(column)).collect::<Vec<_>>().join(", ");
    let action = match R::ON_CONFLICT {
        OnConflict::Keep => "NOTHING".to_owned(),
        OnConflict::Replace => format!(
            "UPDATE SET {}",
            update(&|column| format!("{column} = excluded.{column}"))
        ),
        OnConflict::Add => format!(
            "UPDATE SET {}",
            update(&|column| format!("{column} = {}.{column} + excluded.{column}", R::TABLE))
        ),
    };
    let mut tail = format!(" ON CONFLICT ({}) DO {action}", key.join(", "));
    if !returning.is_empty() {
        tail.push_str(&format!(" RETURNING {}", returning.join(", ")));
    }
    insert(tx, rows, &tail).await
}

/// A row read back from either backend.
pub trait FromEitherRow: Send + Unpin + for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> {}

impl<T> FromEitherRow for T where T: Send + Unpin + for<'r> FromRow<'r, PgRow> + for<'r> FromRow<'r, SqliteRow> {}

/// What a statement without `RETURNING` gives back: no rows.
struct Nothing;

impl<'r, Row: sqlx::Row> FromRow<'r, Row> for Nothing {
    fn from_row(_: &'r Row) -> Result<Self, sqlx::Error> {
        Ok(Nothing)
    }
}

/// Loads `rows` into a table holding none of their keys (the rebuild's emptied tables).
pub async fn load<R: ViewRow>(tx: &mut Tx, rows: &[R]) -> Result<(), StoreError> {
    let Tx::Postgres(connection) = tx else {
        return insert::<R, Nothing>(tx, rows, "").await.map(drop);
    };
    let mut data = Vec::new();
    for row in rows {
        let fields = row.fields()?;
        let texts: Vec<Option<Cow<'_, str>>> = fields.iter().map(Field::copy_text).collect();
        let texts: Vec<Option<&str>> = texts.iter().map(Option::as_deref).collect();
        copy_text::push_row(&mut data, &texts);
    }
    copy_text::copy_in(connection, &format!("{} ({})", R::TABLE, R::COLUMNS.join(", ")), data).await
}

impl<R: ViewRow + Send + 'static> Rows for Vec<R> {
    fn load(self: Box<Self>, tx: &mut Tx) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { load(tx, &self).await })
    }
}

/// Inserts `rows`, each statement ending with `tail`; the rows it returns. On PostgreSQL one
/// statement takes every row as one array per column (`UNNEST`): its text is the same whatever
/// the number of rows, so it is parsed and planned once per connection, where a multi-row
/// `VALUES` list is a new statement, with thousands of parameters, at every batch size.
async fn insert<R, T>(tx: &mut Tx, rows: &[R], tail: &str) -> Result<Vec<T>, StoreError>
where
    R: ViewRow,
    T: FromEitherRow,
{
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let head = format!("INSERT INTO {} ({}) ", R::TABLE, R::COLUMNS.join(", "));
    if let Tx::Postgres(tx) = tx {
        let rows = rows.iter().map(ViewRow::fields).collect::<Result<Vec<_>, _>>()?;
        let columns = columns(R::TABLE, rows)?;
        let mut query = QueryBuilder::new(head);
        query.push("SELECT * FROM UNNEST(");
        let mut arrays = query.separated(", ");
        for column in columns {
            column.push_bind(&mut arrays);
        }
        query.push(")");
        query.push(tail);
        return Ok(query.build_query_as::<T>().fetch_all(&mut **tx).await?);
    }
    let mut returned = Vec::new();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values = chunk.iter().map(ViewRow::fields).collect::<Result<Vec<_>, _>>()?;
        on_tx!(&mut *tx, |tx| {
            let mut query = QueryBuilder::new(&head);
            query.push_values(values, |mut row, fields| {
                for field in fields {
                    match field {
                        Field::Text(text) => row.push_bind(text),
                        Field::Time(at) => row.push_bind(at),
                        Field::Bool(value) => row.push_bind(value),
                        Field::Int(value) => row.push_bind(value),
                        Field::Json(json) => row.push_bind(Json(json)),
                        Field::Document(text) => row.push_bind(text),
                    };
                }
            });
            query.push(tail);
            returned.extend(query.build_query_as::<T>().fetch_all(&mut **tx).await?);
        });
    }
    Ok(returned)
}

/// One column of rows, as the array `UNNEST` takes; a row type's fields are of one kind per
/// column.
enum Column<'a> {
    Text(Vec<Option<&'a str>>),
    Time(Vec<Option<Timestamp>>),
    Bool(Vec<bool>),
    Int(Vec<i64>),
    Json(Vec<Json<Box<JsonRawValue>>>),
    Document(Vec<String>),
}

/// `rows` (of `table`) turned column by column, in the order of their fields.
fn columns<'a>(table: &str, rows: Vec<Vec<Field<'a>>>) -> Result<Vec<Column<'a>>, StoreError> {
    let mut columns: Vec<Column<'_>> = Vec::new();
    for row in rows {
        for (index, field) in row.into_iter().enumerate() {
            if index == columns.len() {
                columns.push(match field {
                    Field::Text(_) => Column::Text(Vec::new()),
                    Field::Time(_) => Column::Time(Vec::new()),
                    Field::Bool(_) => Column::Bool(Vec::new()),
                    Field::Int(_) => Column::Int(Vec::new()),
                    Field::Json(_) => Column::Json(Vec::new()),
                    Field::Document(_) => Column::Document(Vec::new()),
                });
            }
            match (&mut columns[index], field) {
                (Column::Text(values), Field::Text(text)) => values.push(text),
                (Column::Time(values), Field::Time(at)) => values.push(at),
                (Column::Bool(values), Field::Bool(value)) => values.push(value),
                (Column::Int(values), Field::Int(value)) => values.push(value),
                (Column::Json(values), Field::Json(json)) => values.push(Json(json)),
                (Column::Document(values), Field::Document(text)) => values.push(text),
                _ => {
                    return Err(StoreError::Corrupt(format!(
                        "rows of {table} give column {index} values of two kinds"
                    )))
                }
            }
        }
    }
    Ok(columns)
}

impl<'a> Column<'a> {
    /// Binds the array with its type named: `UNNEST` takes any array, so the type must be said.
    fn push_bind(self, arrays: &mut sqlx::query_builder::Separated<'_, 'a, sqlx::Postgres, &str>) {
        match self {
            Column::Text(values) => arrays.push_bind(values).push_unseparated("::text[]"),
            Column::Time(values) => arrays.push_bind(values).push_unseparated("::timestamptz[]"),
            Column::Bool(values) => arrays.push_bind(values).push_unseparated("::boolean[]"),
            Column::Int(values) => arrays.push_bind(values).push_unseparated("::int8[]"),
            Column::Json(values) => arrays.push_bind(values).push_unseparated("::jsonb[]"),
            Column::Document(values) => arrays.push_bind(values).push_unseparated("::text[]"),
        };
    }
}

/// The rows `select` finds whose `column` is one of `keys`: on PostgreSQL one statement taking
/// the keys as one array (the same text, so the same plan, for any number of keys), on SQLite
/// one `IN` list per few hundred keys.
pub async fn select_in<T>(tx: &mut Tx, select: &str, column: &str, keys: &[&str]) -> Result<Vec<T>, StoreError>
where
    T: FromEitherRow,
{
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    if let Tx::Postgres(tx) = tx {
        return Ok(sqlx::query_as(&format!("{select} WHERE {column} = ANY($1)"))
            .bind(keys)
            .fetch_all(&mut **tx)
            .await?);
    }
    let mut found = Vec::new();
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        on_tx!(&mut *tx, |tx| {
            let mut query = QueryBuilder::new(format!("{select} WHERE {column} IN ("));
            let mut list = query.separated(", ");
            for key in chunk {
                list.push_bind(*key);
            }
            query.push(")");
            found.extend(query.build_query_as::<T>().fetch_all(&mut **tx).await?);
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_turn_into_one_array_a_column_in_the_order_of_their_fields() {
        let rows = vec![
            vec![Field::Text(Some("a")), Field::Int(1), Field::Bool(true)],
            vec![Field::Text(None), Field::Int(2), Field::Bool(false)],
        ];
        let columns = columns("t", rows).unwrap();
        assert!(matches!(&columns[0], Column::Text(values) if values == &[Some("a"), None]));
        assert!(matches!(&columns[1], Column::Int(values) if values == &[1, 2]));
        assert!(matches!(&columns[2], Column::Bool(values) if values == &[true, false]));
    }

    #[test]
    fn a_column_given_two_kinds_of_value_is_refused() {
        let rows = vec![vec![Field::Int(1)], vec![Field::Text(Some("1"))]];
        assert!(matches!(columns("t", rows), Err(StoreError::Corrupt(_))));
    }
}
