//! The `outcome_cells` table (see `projections::outcome_cells`), the case-summary projection's
//! companion: kept by it in the transaction of each batch (`CellTable::apply`), written whole by
//! its rebuild (`CellTable::write_all`), read by `GET /api/v1/outcomes` ([`outcomes`]) and by the
//! overdue list's counts (`CellTable::open_overdue`). The SQL is the same on both backends but
//! for how a read begins its snapshot; the functions are generic over the sqlx database so that
//! they run inside either backend's transaction.
//!
//! Reading every summary of a year does not scale (200,000 cases a year), so the cells hold, per
//! dimension (`all`, `kind`, `category`, `jurisdiction`, `department`, `level`, `member`), day of
//! submission in the deployment's time zone (`span = 'day'`, `YYYY-MM-DD`) and, rolling the same
//! cases up, month (`span = 'month'`, `YYYY-MM`), and group: the counters of the outcome funnel
//! and of the published figures (one varint each, in `counts`), every sample the medians and
//! p90s need (seconds, or whole working days), so they stay exact, and the moments the figures
//! of the moment of reading count (deadlines of open and unanswered cases, the moment an open
//! voice is late from). Samples are kept ascending, stored as the first and then the
//! differences, as varints (about two bytes a sample, one for working days).
//!
//! **Invariant:** the cells of each span hold exactly the cases of `case_summaries`: each case
//! counts once per dimension and span (once under each of its members), in the cell of its
//! submission day or month and current group. A live batch keeps it in the transaction that
//! writes the summaries and the checkpoint: for every case the batch changes it removes the
//! contribution of the summary before and adds that of the summary after, netted per cell (a
//! change that moves no figure writes nothing); a cell left empty is deleted. The rebuild writes
//! the cells of all summaries at once. Checked by unit tests of the pure part against
//! `outcome_figures` and `figures` over random histories, and by
//! `outcome_figures_from_the_cells_equal_those_computed_over_the_case_summaries` (both backends;
//! also a rebuild from zero equals the live cells).
//!
//! A read of `[from, to)` runs in one snapshot (PostgreSQL `REPEATABLE READ`) and reads what
//! `projections::coverage` lays over it: the month roll-ups of the months it covers whole, the
//! day cells of the other whole days (at most about 2 × 31 per group: the days before its first
//! whole month and after its last), and, for a period given to the second, the cases of the
//! parts of days at its edges from `case_summaries`. A year grouped by month reads 12 rows, a
//! year by department 12 per department. Medians and p90s are found by bisecting the values
//! over the cells' ascending samples, without merging them.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use domain::{Policy, Timestamp};
use projections::{
    coverage, figures_of_cells, nanoseconds, outcome_figures_of_cells, CaseSummary, Cell, CellChanges, CellKey, Counts,
    Dimension, Figures, GroupBy, OutcomeFigures, Sample, Span, COUNTERS,
};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Transaction, Type};

use crate::read::error::ProjectorError;
use crate::store::{on_pool, Store, StoreError};

/// Cells per statement: 14 parameters a row stays far below both backends' limits.
const CELLS_PER_STATEMENT: usize = 500;

const KEY_COLUMNS: &str = "dimension, span, period, group_key";
const KEY_WIDTH: usize = 4;
/// The columns after the key: the counts, then one per [`Sample`].
const VALUE_COLUMNS: usize = 1 + Sample::ALL.len();

fn columns() -> String {
    let samples = Sample::ALL.map(Sample::column).join(", ");
    format!("{KEY_COLUMNS}, counts, {samples}")
}

/// Ascending samples as stored: the first, then each one's difference from the one before, as
/// LEB128 varints (zigzag for the first, which may be negative): about two bytes a sample instead
/// of eight, which is most of what a read of a year's cells transfers. Written out rather than
/// taken from a varint crate: decoding is most of a read's CPU time, and one pass over the bytes
/// is several times faster than a call per sample.
fn encode(samples: &[i64]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(samples.len() * 2);
    let mut previous = None;
    for sample in samples {
        let mut value = match previous {
            None => ((sample << 1) ^ (sample >> 63)) as u64,
            Some(previous) => sample.abs_diff(previous),
        };
        while value >= 0x80 {
            bytes.push(value as u8 | 0x80);
            value >>= 7;
        }
        bytes.push(value as u8);
        previous = Some(*sample);
    }
    bytes
}

fn decode(bytes: &[u8]) -> Result<Vec<i64>, StoreError> {
    let malformed = || corrupt("an outcome cell's samples are not ascending varints");
    let mut samples: Vec<i64> = Vec::with_capacity(bytes.len());
    let (mut value, mut shift) = (0u64, 0u32);
    for byte in bytes {
        // Ten bytes at most, the last holding one bit.
        if shift > 63 || (shift == 63 && byte & 0x7e != 0) {
            return Err(malformed());
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 != 0 {
            shift += 7;
            continue;
        }
        let sample = match samples.last() {
            None => (value >> 1) as i64 ^ -((value & 1) as i64),
            Some(last) => last.checked_add_unsigned(value).ok_or_else(malformed)?,
        };
        samples.push(sample);
        (value, shift) = (0, 0);
    }
    if shift > 0 {
        return Err(malformed());
    }
    Ok(samples)
}

/// Counts as stored: each a zigzag LEB128 varint, in the order of `projections::Counter`.
fn encode_counts(counts: &Counts) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(COUNTERS);
    for count in counts.0 {
        let mut value = ((count << 1) ^ (count >> 63)) as u64;
        while value >= 0x80 {
            bytes.push(value as u8 | 0x80);
            value >>= 7;
        }
        bytes.push(value as u8);
    }
    bytes
}

fn decode_counts(bytes: &[u8]) -> Result<Counts, StoreError> {
    let malformed = || corrupt("an outcome cell's counts are not one varint per counter");
    let mut counts = Counts::default();
    let (mut index, mut value, mut shift) = (0, 0u64, 0u32);
    for byte in bytes {
        if shift > 63 || index == COUNTERS {
            return Err(malformed());
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 != 0 {
            shift += 7;
            continue;
        }
        counts.0[index] = (value >> 1) as i64 ^ -((value & 1) as i64);
        (index, value, shift) = (index + 1, 0, 0);
    }
    if index != COUNTERS || shift > 0 {
        return Err(malformed());
    }
    Ok(counts)
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn cell_of<R>(row: &R) -> Result<(CellKey, Cell), StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'a> String: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> &'a [u8]: Decode<'a, R::Database> + Type<R::Database>,
{
    let dimension: String = row.try_get(0)?;
    let span: String = row.try_get(1)?;
    let key = CellKey {
        dimension: Dimension::from_name(&dimension)
            .ok_or_else(|| corrupt(format!("unknown outcome cell dimension `{dimension}`")))?,
        span: Span::from_name(&span).ok_or_else(|| corrupt(format!("unknown outcome cell span `{span}`")))?,
        period: row.try_get(2)?,
        group: row.try_get(3)?,
    };
    let mut cell = Cell {
        counts: decode_counts(row.try_get::<&[u8], _>(KEY_WIDTH)?)?,
        ..Cell::default()
    };
    for (index, samples) in cell.samples.iter_mut().enumerate() {
        *samples = decode(row.try_get::<&[u8], _>(KEY_WIDTH + 1 + index)?)?;
    }
    Ok((key, cell))
}

/// What a read of a period answers: the outcome funnel (`groups`) and the published figures.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodFigures {
    pub groups: Vec<OutcomeFigures>,
    pub figures: Vec<Figures>,
}

/// The cell table's SQL over one backend.
pub(crate) struct CellTable<DB>(PhantomData<DB>);

impl<DB> CellTable<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> DB::Arguments<'a>: IntoArguments<'a, DB>,
    for<'a> String: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
    for<'a> Vec<u8>: Encode<'a, DB> + Type<DB>,
    for<'a> &'a [u8]: Decode<'a, DB> + Type<DB>,
    for<'a> Timestamp: Encode<'a, DB> + Type<DB>,
    for<'a> Json<CaseSummary>: Decode<'a, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    fn bind_key<'q>(
        query: sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
        key: &CellKey,
    ) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>> {
        query
            .bind(key.dimension.as_str().to_owned())
            .bind(key.span.as_str().to_owned())
            .bind(key.period.clone())
            .bind(key.group.clone())
    }

    async fn load(connection: &mut DB::Connection, keys: &[&CellKey]) -> Result<BTreeMap<CellKey, Cell>, StoreError> {
        let mut cells = BTreeMap::new();
        for chunk in keys.chunks(CELLS_PER_STATEMENT) {
            let sql = format!(
                "SELECT {} FROM outcome_cells WHERE ({KEY_COLUMNS}) IN (VALUES {})",
                columns(),
                parameter_rows(chunk.len(), KEY_WIDTH)
            );
            let mut query = sqlx::query(&sql);
            for key in chunk {
                query = Self::bind_key(query, key);
            }
            for row in query.fetch_all(&mut *connection).await? {
                let (key, cell) = cell_of(&row)?;
                cells.insert(key, cell);
            }
        }
        Ok(cells)
    }

    /// The cells of `dimension` and `span` from period `first` to `last`, into `cells`.
    async fn load_periods(
        connection: &mut DB::Connection,
        cells: &mut BTreeMap<CellKey, Cell>,
        (dimension, span): (Dimension, Span),
        (first, last): (&str, &str),
    ) -> Result<(), StoreError> {
        let sql = format!(
            "SELECT {} FROM outcome_cells WHERE dimension = $1 AND span = $2 AND period >= $3 AND period <= $4",
            columns()
        );
        let rows = sqlx::query(&sql)
            .bind(dimension.as_str().to_owned())
            .bind(span.as_str().to_owned())
            .bind(first.to_owned())
            .bind(last.to_owned())
            .fetch_all(&mut *connection)
            .await?;
        for row in &rows {
            let (key, cell) = cell_of(row)?;
            cells.insert(key, cell);
        }
        Ok(())
    }

    /// Per group of `dimension` (or of the one `group`), how many open cases are past their
    /// deadline at `now`: the deadlines the month roll-ups keep, counted without reading a
    /// case. Groups with none are left out.
    pub(crate) async fn open_overdue(
        tx: &mut Transaction<'_, DB>,
        dimension: Dimension,
        group: Option<&str>,
        now: Timestamp,
    ) -> Result<BTreeMap<String, i64>, StoreError> {
        let mut sql = format!(
            "SELECT group_key, {} FROM outcome_cells WHERE dimension = $1 AND span = 'month'",
            Sample::OpenDeadlines.column()
        );
        if group.is_some() {
            sql.push_str(" AND group_key = $2");
        }
        let mut query = sqlx::query(&sql).bind(dimension.as_str().to_owned());
        if let Some(group) = group {
            query = query.bind(group.to_owned());
        }
        let now = nanoseconds(now);
        let mut counts = BTreeMap::new();
        for row in query.fetch_all(&mut **tx).await? {
            let deadlines = decode(row.try_get::<&[u8], _>(1)?)?;
            let passed = deadlines.partition_point(|deadline| *deadline < now) as i64;
            if passed > 0 {
                *counts.entry(row.try_get::<String, _>(0)?).or_default() += passed;
            }
        }
        Ok(counts)
    }

    /// Writes whole `cells` (the rebuild's, into emptied tables), inside the caller's transaction.
    pub(crate) async fn write_all(
        tx: &mut Transaction<'_, DB>,
        cells: &BTreeMap<CellKey, Cell>,
    ) -> Result<(), StoreError> {
        let cells: Vec<(&CellKey, &Cell)> = cells.iter().collect();
        Self::write(&mut **tx, &cells).await
    }

    async fn write(connection: &mut DB::Connection, cells: &[(&CellKey, &Cell)]) -> Result<(), StoreError> {
        let updates = std::iter::once("counts")
            .chain(Sample::ALL.map(Sample::column))
            .map(|column| format!("{column} = excluded.{column}"))
            .collect::<Vec<_>>()
            .join(", ");
        for chunk in cells.chunks(CELLS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO outcome_cells ({}) VALUES {} ON CONFLICT ({KEY_COLUMNS}) DO UPDATE SET {updates}",
                columns(),
                parameter_rows(chunk.len(), KEY_WIDTH + VALUE_COLUMNS)
            );
            let mut query = sqlx::query(&sql);
            for (key, cell) in chunk {
                query = Self::bind_key(query, key).bind(encode_counts(&cell.counts));
                for samples in &cell.samples {
                    query = query.bind(encode(samples));
                }
            }
            query.execute(&mut *connection).await?;
        }
        Ok(())
    }

    async fn delete(connection: &mut DB::Connection, keys: &[&CellKey]) -> Result<(), StoreError> {
        for chunk in keys.chunks(CELLS_PER_STATEMENT) {
            let sql = format!(
                "DELETE FROM outcome_cells WHERE ({KEY_COLUMNS}) IN (VALUES {})",
                parameter_rows(chunk.len(), KEY_WIDTH)
            );
            let mut query = sqlx::query(&sql);
            for key in chunk {
                query = Self::bind_key(query, key);
            }
            query.execute(&mut *connection).await?;
        }
        Ok(())
    }

    /// Applies to the outcome cells the change of each case's summary from before a batch (`None`
    /// for a case new to the cells) to after it: netted per cell, then one read of the cells that
    /// change and one write (plus one delete when cells empty). Runs inside the caller's
    /// transaction, which must also write the summaries and move the checkpoint.
    pub(crate) async fn apply(
        tx: &mut Transaction<'_, DB>,
        changes: &[(Option<&CaseSummary>, &CaseSummary)],
        policy: &Policy,
    ) -> Result<(), ProjectorError> {
        let connection = &mut **tx;
        let changes = CellChanges::between(changes.iter().copied(), policy);
        if changes.is_empty() {
            return Ok(());
        }
        let keys: Vec<&CellKey> = changes.keys().collect();
        let mut cells = Self::load(connection, &keys).await?;
        let changed = changes.apply(&mut cells)?;
        let (kept, emptied): (Vec<&CellKey>, Vec<&CellKey>) = changed.iter().partition(|key| cells.contains_key(key));
        let kept: Vec<(&CellKey, &Cell)> = kept.into_iter().filter_map(|key| cells.get_key_value(key)).collect();
        Self::write(connection, &kept).await?;
        Self::delete(connection, &emptied).await?;
        Ok(())
    }

    /// Summaries of the cases submitted in `[from, to)`.
    async fn summaries(
        connection: &mut DB::Connection,
        (from, to): (Timestamp, Timestamp),
    ) -> Result<Vec<CaseSummary>, StoreError> {
        let rows: Vec<Json<CaseSummary>> =
            sqlx::query_scalar("SELECT summary FROM case_summaries WHERE submitted_at >= $1 AND submitted_at < $2")
                .bind(from)
                .bind(to)
                .fetch_all(&mut *connection)
                .await?;
        Ok(rows.into_iter().map(|row| row.0).collect())
    }

    async fn figures(
        tx: &mut Transaction<'_, DB>,
        (from, to): (Timestamp, Timestamp),
        group_by: Option<GroupBy>,
        now: Timestamp,
        (policy, weight): (&Policy, f64),
    ) -> Result<PeriodFigures, StoreError> {
        let connection = &mut **tx;
        let dimension = Dimension::of(group_by);
        let coverage = coverage(from, to, now, policy.offset);
        let mut cells = BTreeMap::new();
        if let Some((first, last)) = &coverage.months {
            Self::load_periods(connection, &mut cells, (dimension, Span::Month), (first, last)).await?;
        }
        for (first, last) in &coverage.days {
            Self::load_periods(connection, &mut cells, (dimension, Span::Day), (first, last)).await?;
        }
        let mut changes = CellChanges::default();
        for part in &coverage.parts {
            for case in Self::summaries(connection, *part).await? {
                changes.add(&case, dimension, Span::Day, policy);
            }
        }
        changes.apply(&mut cells).map_err(corrupt)?;
        Ok(PeriodFigures {
            groups: outcome_figures_of_cells(&cells, group_by, now),
            figures: figures_of_cells(&cells, group_by, now, weight),
        })
    }
}

/// `rows` rows of `width` numbered parameters: `($1, $2), ($3, $4)`.
fn parameter_rows(rows: usize, width: usize) -> String {
    let row = |row: usize| {
        let parameters: Vec<String> = (1..=width).map(|column| format!("${}", row * width + column)).collect();
        format!("({})", parameters.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// The outcome funnel and the published figures of the cases submitted in `[from, to)` as of
/// `now`, with the deployment's `policy` and the weight of "basically satisfied": whole months
/// and days from the cells, the parts of days at the edges from the summaries; in one snapshot,
/// so a batch committing meanwhile is seen whole or not at all.
pub async fn outcomes(
    store: &Store,
    period: (Timestamp, Timestamp),
    group_by: Option<GroupBy>,
    now: Timestamp,
    settings: (&Policy, f64),
) -> Result<PeriodFigures, StoreError> {
    // PostgreSQL's default isolation takes a snapshot per statement; SQLite's read transaction
    // keeps one already.
    let begin = match store {
        Store::Postgres(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        Store::Sqlite(_) => "BEGIN",
    };
    Ok(on_pool!(store, |pool| {
        let mut tx = pool.begin_with(begin).await?;
        let figures = CellTable::figures(&mut tx, period, group_by, now, settings).await?;
        tx.commit().await?;
        figures
    }))
}

/// Every cell, one line each in key order: two cell tables are equal when these are.
#[cfg(feature = "test-hooks")]
pub async fn dump(store: &Store) -> Result<Vec<String>, StoreError> {
    let sql = format!("SELECT {} FROM outcome_cells ORDER BY {KEY_COLUMNS}", columns());
    on_pool!(store, |pool| {
        let mut connection = pool.acquire().await?;
        let rows = sqlx::query(&sql).fetch_all(&mut *connection).await?;
        rows.iter()
            .map(|row| {
                let (key, cell) = cell_of(row)?;
                Ok(format!("{key} {:?} {:?}", cell.counts.0, cell.samples))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_read_back_as_written() {
        for samples in [
            vec![],
            vec![-5],
            vec![-86_400, 0, 0, 7, 1 << 40],
            vec![i64::MIN, i64::MAX],
        ] {
            assert_eq!(decode(&encode(&samples)).unwrap(), samples);
        }
        assert_eq!(encode(&[3, 4, 300]).len(), 4, "one byte for 3 and 1, two for 296");
    }

    #[test]
    fn counts_read_back_as_written() {
        let mut counts = Counts::default();
        counts.0[0] = 1 << 40;
        counts.0[COUNTERS - 1] = -3;
        assert_eq!(decode_counts(&encode_counts(&counts)).unwrap(), counts);
        let bytes = encode_counts(&counts);
        assert!(decode_counts(&bytes[..bytes.len() - 1]).is_err(), "a counter short");
        assert!(
            decode_counts(&[bytes.clone(), vec![0]].concat()).is_err(),
            "a counter too many"
        );
    }

    #[test]
    fn samples_cut_short_are_refused() {
        let bytes = encode(&[1, 1_000]);
        assert!(matches!(decode(&bytes[..bytes.len() - 1]), Err(StoreError::Corrupt(_))));
        assert!(
            matches!(decode(&[0xff; 11]), Err(StoreError::Corrupt(_))),
            "longer than 64 bits"
        );
    }
}
