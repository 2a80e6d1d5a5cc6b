//! The `outcome_cells` table (see `projections::outcome_cells`), the case-summary projection's
//! companion: kept by it in the transaction of each batch (`CellTable::apply`), written whole by
//! its rebuild (`CellTable::write_all`), read by `GET /api/v1/outcomes` ([`outcomes`]) and by the
//! overdue list's counts (`CellTable::open_overdue`). The SQL is the same on both backends but
//! for how a read begins its snapshot; the functions are generic over the sqlx database so that
//! they run inside either backend's transaction.
//!
//! Reading every summary of a year does not scale (200,000 cases a year), so the cells hold, per
//! dimension (`all`, `kind`, `category`, `jurisdiction`, `department`), month of submission
//! (`YYYY-MM`, UTC) and group, the counters the figures need, every duration sample (seconds to
//! first assignment, to closing), so medians and p90s stay exact, and the deadlines of its open
//! cases, so `open_overdue` (which depends on the moment) is a count of those passed. Samples are
//! kept ascending, stored as the first and then the differences, as varints (about two bytes a
//! sample). Grouping by month reads the `all` cells.
//!
//! **Invariant:** the cells hold exactly the cases of `case_summaries`: each case counts once per
//! dimension, in the cell of its submission month and current group. A live batch keeps it in the
//! transaction that writes the summaries and the checkpoint: for every case the batch changes it
//! removes the contribution of the summary before and adds that of the summary after, netted per
//! cell (a change that moves no figure writes nothing); a cell left empty is deleted. The rebuild
//! writes the cells of all summaries at once. Checked by unit tests of the pure part against
//! `outcome_figures` over random histories, and by
//! `outcome_figures_from_the_cells_equal_those_computed_over_the_case_summaries` (both backends;
//! also a rebuild from zero equals the live cells).
//!
//! A read of `[from, to)` runs in one snapshot (PostgreSQL `REPEATABLE READ`): the cells of every
//! month the period touches; for a month it covers only in part, either its cells less the cases
//! it leaves out or only the cases it covers, read from `case_summaries`, whichever are fewer (a
//! period ending now leaves out none). Medians and p90s are found by bisecting the values over the
//! cells' ascending samples, without merging them.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use domain::Timestamp;
use projections::{
    figures_of_cells, month_span, nanoseconds, CaseSummary, Cell, CellChanges, CellKey, Counter, Counts, Dimension,
    GroupBy, OutcomeFigures, PartialMonth,
};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Transaction, Type};

use crate::read::error::ProjectorError;
use crate::store::{on_pool, Store, StoreError};

/// Cells per statement: 20 parameters a row stays far below both backends' limits.
const CELLS_PER_STATEMENT: usize = 500;

const KEY_COLUMNS: &str = "dimension, month, group_key";
const SAMPLE_COLUMNS: [&str; 3] = ["seconds_to_assign", "seconds_to_close", "open_deadlines"];

fn columns() -> String {
    let counters = Counter::ALL.map(Counter::column).join(", ");
    format!("{KEY_COLUMNS}, {counters}, {}", SAMPLE_COLUMNS.join(", "))
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

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn cell_of<R>(row: &R) -> Result<(CellKey, Cell), StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'a> String: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> i64: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> &'a [u8]: Decode<'a, R::Database> + Type<R::Database>,
{
    let dimension: String = row.try_get(0)?;
    let key = CellKey {
        dimension: Dimension::from_name(&dimension)
            .ok_or_else(|| corrupt(format!("unknown outcome cell dimension `{dimension}`")))?,
        month: row.try_get(1)?,
        group: row.try_get(2)?,
    };
    let mut counts = Counts::default();
    for (index, count) in counts.0.iter_mut().enumerate() {
        *count = row.try_get(3 + index)?;
    }
    let samples = |index: usize| -> Result<Vec<i64>, StoreError> {
        decode(row.try_get::<&[u8], _>(3 + Counter::ALL.len() + index)?)
    };
    Ok((
        key,
        Cell {
            counts,
            to_assign: samples(0)?,
            to_close: samples(1)?,
            open_deadlines: samples(2)?,
        },
    ))
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
    async fn load(connection: &mut DB::Connection, keys: &[&CellKey]) -> Result<BTreeMap<CellKey, Cell>, StoreError> {
        let mut cells = BTreeMap::new();
        for chunk in keys.chunks(CELLS_PER_STATEMENT) {
            let sql = format!(
                "SELECT {} FROM outcome_cells WHERE ({KEY_COLUMNS}) IN (VALUES {})",
                columns(),
                parameter_rows(chunk.len(), 3)
            );
            let mut query = sqlx::query(&sql);
            for key in chunk {
                query = query
                    .bind(key.dimension.as_str().to_owned())
                    .bind(key.month.clone())
                    .bind(key.group.clone());
            }
            for row in query.fetch_all(&mut *connection).await? {
                let (key, cell) = cell_of(&row)?;
                cells.insert(key, cell);
            }
        }
        Ok(cells)
    }

    async fn load_months(
        connection: &mut DB::Connection,
        dimension: Dimension,
        first: &str,
        last: &str,
    ) -> Result<BTreeMap<CellKey, Cell>, StoreError> {
        let sql = format!(
            "SELECT {} FROM outcome_cells WHERE dimension = $1 AND month >= $2 AND month <= $3",
            columns()
        );
        let rows = sqlx::query(&sql)
            .bind(dimension.as_str().to_owned())
            .bind(first.to_owned())
            .bind(last.to_owned())
            .fetch_all(&mut *connection)
            .await?;
        rows.iter().map(cell_of).collect()
    }

    /// Per group of `dimension` (or of the one `group`), how many open cases are past their
    /// deadline at `now`: the deadlines the cells keep of every month, counted without reading a
    /// case. Groups with none are left out.
    pub(crate) async fn open_overdue(
        tx: &mut Transaction<'_, DB>,
        dimension: Dimension,
        group: Option<&str>,
        now: Timestamp,
    ) -> Result<BTreeMap<String, i64>, StoreError> {
        let mut sql = "SELECT group_key, open_deadlines FROM outcome_cells WHERE dimension = $1".to_owned();
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
        let updates = Counter::ALL
            .map(Counter::column)
            .iter()
            .chain(&SAMPLE_COLUMNS)
            .map(|column| format!("{column} = excluded.{column}"))
            .collect::<Vec<_>>()
            .join(", ");
        for chunk in cells.chunks(CELLS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO outcome_cells ({}) VALUES {} ON CONFLICT ({KEY_COLUMNS}) DO UPDATE SET {updates}",
                columns(),
                parameter_rows(chunk.len(), 3 + Counter::ALL.len() + SAMPLE_COLUMNS.len())
            );
            let mut query = sqlx::query(&sql);
            for (key, cell) in chunk {
                query = query
                    .bind(key.dimension.as_str().to_owned())
                    .bind(key.month.clone())
                    .bind(key.group.clone());
                for count in cell.counts.0 {
                    query = query.bind(count);
                }
                query = query
                    .bind(encode(&cell.to_assign))
                    .bind(encode(&cell.to_close))
                    .bind(encode(&cell.open_deadlines));
            }
            query.execute(&mut *connection).await?;
        }
        Ok(())
    }

    async fn delete(connection: &mut DB::Connection, keys: &[&CellKey]) -> Result<(), StoreError> {
        for chunk in keys.chunks(CELLS_PER_STATEMENT) {
            let sql = format!(
                "DELETE FROM outcome_cells WHERE ({KEY_COLUMNS}) IN (VALUES {})",
                parameter_rows(chunk.len(), 3)
            );
            let mut query = sqlx::query(&sql);
            for key in chunk {
                query = query
                    .bind(key.dimension.as_str().to_owned())
                    .bind(key.month.clone())
                    .bind(key.group.clone());
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
    ) -> Result<(), ProjectorError> {
        let connection = &mut **tx;
        let changes = CellChanges::between(changes.iter().copied());
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

    /// Summaries of the cases submitted in any of `ranges`.
    async fn summaries(
        connection: &mut DB::Connection,
        ranges: &[(Timestamp, Timestamp)],
    ) -> Result<Vec<CaseSummary>, StoreError> {
        let sql = format!(
            "SELECT summary FROM case_summaries WHERE {}",
            submitted_in(ranges.len())
        );
        let mut query = sqlx::query_scalar(&sql);
        for (from, to) in ranges {
            query = query.bind(*from).bind(*to);
        }
        let rows: Vec<Json<CaseSummary>> = query.fetch_all(&mut *connection).await?;
        Ok(rows.into_iter().map(|row| row.0).collect())
    }

    async fn count(connection: &mut DB::Connection, ranges: &[(Timestamp, Timestamp)]) -> Result<i64, StoreError> {
        let sql = format!(
            "SELECT COUNT(*) FROM case_summaries WHERE {}",
            submitted_in(ranges.len())
        );
        let mut query = sqlx::query_scalar(&sql);
        for (from, to) in ranges {
            query = query.bind(*from).bind(*to);
        }
        Ok(query.fetch_one(&mut *connection).await?)
    }

    /// Adds the cases of `part` to `cells`: from the cases it covers, or from its month's cells
    /// less the cases it leaves out, whichever are fewer (a period ending now leaves out none).
    async fn cover_part(
        connection: &mut DB::Connection,
        cells: &mut BTreeMap<CellKey, Cell>,
        changes: &mut CellChanges,
        dimension: Dimension,
        part: &PartialMonth,
    ) -> Result<(), StoreError> {
        let in_month: i64 = cells
            .iter()
            .filter(|(key, _)| key.month == part.month)
            .map(|(_, cell)| cell.counts[Counter::Submitted])
            .sum();
        let left_out_ranges = [(part.starts, part.from), (part.to, part.ends)];
        let left_out = Self::count(connection, &left_out_ranges).await?;
        if left_out <= in_month - left_out {
            for case in Self::summaries(connection, &left_out_ranges).await? {
                changes.remove(&case, dimension);
            }
        } else {
            cells.retain(|key, _| key.month != part.month);
            for case in Self::summaries(connection, &[(part.from, part.to)]).await? {
                changes.add(&case, dimension);
            }
        }
        Ok(())
    }

    async fn figures(
        tx: &mut Transaction<'_, DB>,
        from: Timestamp,
        to: Timestamp,
        group_by: Option<GroupBy>,
        now: Timestamp,
    ) -> Result<Vec<OutcomeFigures>, StoreError> {
        let connection = &mut **tx;
        let dimension = Dimension::of(group_by);
        let span = month_span(from, to);
        let mut cells = Self::load_months(connection, dimension, &span.first, &span.last).await?;
        let mut changes = CellChanges::default();
        for part in &span.partial {
            Self::cover_part(connection, &mut cells, &mut changes, dimension, part).await?;
        }
        changes.apply(&mut cells).map_err(corrupt)?;
        Ok(figures_of_cells(&cells, group_by, now))
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

/// A condition on `submitted_at` being in one of `ranges` ranges `[$1, $2)`, `[$3, $4)`, ….
fn submitted_in(ranges: usize) -> String {
    let range = |range: usize| {
        format!(
            "(submitted_at >= ${} AND submitted_at < ${})",
            2 * range + 1,
            2 * range + 2
        )
    };
    (0..ranges).map(range).collect::<Vec<_>>().join(" OR ")
}

/// Outcome figures over the cases submitted in `[from, to)`: the whole months from the cells,
/// the partial months at the edges from their cells or the summaries; in one snapshot, so a
/// batch committing meanwhile is seen whole or not at all.
pub async fn outcomes(
    store: &Store,
    from: Timestamp,
    to: Timestamp,
    group_by: Option<GroupBy>,
    now: Timestamp,
) -> Result<Vec<OutcomeFigures>, StoreError> {
    // PostgreSQL's default isolation takes a snapshot per statement; SQLite's read transaction
    // keeps one already.
    let begin = match store {
        Store::Postgres(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        Store::Sqlite(_) => "BEGIN",
    };
    Ok(on_pool!(store, |pool| {
        let mut tx = pool.begin_with(begin).await?;
        let figures = CellTable::figures(&mut tx, from, to, group_by, now).await?;
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
                Ok(format!(
                    "{key} {:?} {:?} {:?}",
                    cell.counts.0, cell.to_assign, cell.to_close
                ))
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
    fn samples_cut_short_are_refused() {
        let bytes = encode(&[1, 1_000]);
        assert!(matches!(decode(&bytes[..bytes.len() - 1]), Err(StoreError::Corrupt(_))));
        assert!(
            matches!(decode(&[0xff; 11]), Err(StoreError::Corrupt(_))),
            "longer than 64 bits"
        );
    }
}
