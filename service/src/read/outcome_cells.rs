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
//! and of the published figures, every sample the medians and p90s need (seconds, or whole
//! working days), so they stay exact, and the moments the figures of the moment of reading count
//! (deadlines of open and unanswered cases, the moment an open voice is late from).
//!
//! **One row per dimension, span and period**, holding the cells of all its groups: a read costs
//! per row far more than per byte (a year by member was ~26,000 rows of one member's day or
//! month each, 30–50 ms; it is now at most ~60 rows), so a period's figures are the same few
//! rows however many groups the dimension has. `cells` holds each group's name, counters (a
//! mask of those not zero, then each) and samples (but the open cases' deadlines); `open_deadlines` the deadlines of each group's open
//! cases apart, so that the overdue list counts them over five years of months without reading
//! the rest. Numbers are LEB128 varints (zigzag where they may be negative); samples are kept
//! ascending and stored as their count, the first, then the differences (about two bytes a
//! sample, one for working days).
//!
//! **Invariant:** the day cells hold exactly the cases of `case_summaries`: each case counts once
//! per dimension (once under each of its members), in the cell of its submission day and
//! current group; and a month row, where there is one, holds exactly the sum of its days' cells
//! (`projections::roll_up`). A month with day rows and no month row is read from its days.
//!
//! A live batch keeps the days in the transaction that writes the summaries and the checkpoint:
//! for every case the batch changes it removes the contribution of the summary before and adds
//! that of the summary after, netted per cell (a change that moves no figure writes nothing),
//! and rewrites the day rows of the cells that changed (a row left without cells is deleted);
//! it deletes the month rows of those days. It does not rewrite them: a month row holds every
//! case of its month, so rewriting it cost each batch more as the month filled (at 16,000
//! cases in a month, 3.6 ms and 789 kB a batch for the cells; a 12345 centre takes ~170,000 a
//! month). The projection's runner rolls the months that ended (in the deployment's time zone)
//! and have no row up from their days at most every 10 seconds (`CellTable::settle`, in a
//! transaction holding the checkpoint), so an ended month is read from its days only while
//! batches change it, and the month in progress always is (a read of the year so far reads
//! its days anyway). The rebuild writes the day rows of all summaries and their months at
//! once.
//!
//! Checked by unit tests of the pure part against `outcome_figures` and `figures` over random
//! histories (and the roll-up against month cells kept directly), and by
//! `outcome_figures_from_the_cells_equal_those_computed_over_the_case_summaries` (both backends:
//! reads with every month rolled up and with none, the overdue counts both ways, the months
//! rolled up again after a batch, a rebuild from zero equal to the live cells, the month in
//! progress left to its days).
//!
//! A read of `[from, to)` runs in one snapshot (PostgreSQL `REPEATABLE READ`) and reads what
//! `projections::coverage` lays over it: the month roll-ups of the months it covers whole, the
//! day cells of the other whole days (at most about 2 × 31 rows: the days before its first whole
//! month and after its last), and, for a period given to the second, the cases of the parts of
//! days at its edges from `case_summaries`. Medians and p90s are found by bisecting the values
//! over the cells' ascending samples, or, for few samples in many cells, by gathering them and
//! selecting the ranks. A large read (a year by member: ~1.7 MB of cells, 500 groups) is
//! decoded, and its figures computed, on two threads; the parts decoded apart are never merged,
//! the figures read each group's samples where they lie.
//!
//! **Decoded months are kept.** Decoding is most of a read's time, and month rows, rewritten
//! only when settled, change at most every 10 seconds. Every write of a row stores a fresh
//! random `revision`; a read first asks for the revisions of its months (in its snapshot) and
//! decodes only the month rows this process does not hold at that revision (`DecodedMonths`,
//! least recently read evicted beyond 64 MB). Day rows are always decoded: a period has at most
//! ~60 of them, and kept one by one they cost the figures more to gather than they save.
//! Checked by the same both-backend test, which reads every month, submits a case into one of
//! them and reads again.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use domain::{Policy, Timestamp};
use hashlink::LruCache;
use projections::{
    coverage, figures_of_cells, nanoseconds, outcome_figures_of_cells, roll_up, CaseSummary, Cell, CellChanges,
    CellKey, Counts, Dimension, Figures, GroupBy, Groups, OutcomeFigures, Sample, Span, COUNTERS,
};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Transaction, Type};

use crate::read::error::ProjectorError;
use crate::read::rows::Document;
use crate::store::{on_pool, Store, StoreError};
use uuid::Uuid;

/// Rows per statement: 6 parameters a row stays far below both backends' limits.
const ROWS_PER_STATEMENT: usize = 500;

const KEY_COLUMNS: &str = "dimension, span, period";
const KEY_WIDTH: usize = 3;
const COLUMNS: &str = "dimension, span, period, cells, open_deadlines, revision";

/// The condition that a row `cell` is a day row whose month has no roll-up (yet): a live batch
/// deletes the month rows of the days it changes, and [`CellTable::settle`] writes them again.
const UNROLLED: &str = "cell.span = 'day' AND NOT EXISTS (SELECT 1 FROM outcome_cells AS month \
                        WHERE month.dimension = cell.dimension AND month.span = 'month' \
                        AND month.period = substr(cell.period, 1, 7))";

/// The key of a row: the cells of one dimension, span and period.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    dimension: Dimension,
    span: Span,
    period: String,
}

impl RowKey {
    fn of(key: &CellKey) -> Self {
        RowKey {
            dimension: key.dimension,
            span: key.span,
            period: key.period.clone(),
        }
    }

    fn cell(&self, group: &str) -> CellKey {
        CellKey {
            dimension: self.dimension,
            span: self.span,
            period: self.period.clone(),
            group: group.to_owned(),
        }
    }

    /// The month row rolling up this day row.
    fn month(&self) -> RowKey {
        RowKey {
            dimension: self.dimension,
            span: Span::Month,
            period: self.period[..7].to_owned(),
        }
    }
}

/// LEB128 varints, written out (a dozen lines) rather than taken from a varint crate: the format
/// around them (counter masks, counted runs of differences) is this module's own anyway, and
/// decoding, most of a read's CPU time, takes the one-byte numbers that dominate at once.
fn put_varint(bytes: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        bytes.push(value as u8 | 0x80);
        value >>= 7;
    }
    bytes.push(value as u8);
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    (value >> 1) as i64 ^ -((value & 1) as i64)
}

/// Ascending samples: their count, the first, then each one's difference from the one before.
fn put_samples(bytes: &mut Vec<u8>, samples: &[i64]) {
    put_varint(bytes, samples.len() as u64);
    let mut previous = None;
    for sample in samples {
        put_varint(
            bytes,
            match previous {
                None => zigzag(*sample),
                Some(previous) => sample.abs_diff(previous),
            },
        );
        previous = Some(*sample);
    }
}

// The counters present are a bit mask of one `u64`.
const _: () = assert!(COUNTERS <= 64);

/// The counters, sparse: a mask of those not zero, then each of them. Most of a small group's
/// counters are zero (a member's day holds a case or two), and a read decodes every one.
fn put_counts(bytes: &mut Vec<u8>, counts: &Counts) {
    let present = counts
        .0
        .iter()
        .enumerate()
        .filter(|(_, count)| **count != 0)
        .fold(0u64, |mask, (index, _)| mask | 1 << index);
    put_varint(bytes, present);
    for count in counts.0.iter().filter(|count| **count != 0) {
        put_varint(bytes, zigzag(*count));
    }
}

fn put_text(bytes: &mut Vec<u8>, text: &str) {
    put_varint(bytes, text.len() as u64);
    bytes.extend_from_slice(text.as_bytes());
}

/// The samples stored in `cells`: every one but the open cases' deadlines.
fn stored_in_cells() -> impl Iterator<Item = Sample> {
    Sample::ALL
        .into_iter()
        .filter(|sample| *sample != Sample::OpenDeadlines)
}

/// Encodes a row's cells, in group order: `cells` (group, counters, samples) and
/// `open_deadlines` (group, deadlines; groups without open deadlines left out).
fn encode_row<'a>(cells: impl Iterator<Item = (&'a str, &'a Cell)>) -> (Vec<u8>, Vec<u8>) {
    let (mut encoded, mut deadlines) = (Vec::new(), Vec::new());
    for (group, cell) in cells {
        put_text(&mut encoded, group);
        put_counts(&mut encoded, &cell.counts);
        for sample in stored_in_cells() {
            put_samples(&mut encoded, cell.samples(sample));
        }
        let open = cell.samples(Sample::OpenDeadlines);
        if !open.is_empty() {
            put_text(&mut deadlines, group);
            put_samples(&mut deadlines, open);
        }
    }
    (encoded, deadlines)
}

/// Reads what [`encode_row`] wrote.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn is_done(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next number; `None` when cut short or longer than 64 bits. (An `Option`, which two
    /// registers return, rather than a `Result` of the store's error, which goes through memory:
    /// a read decodes half a million of them.)
    #[inline]
    fn varint(&mut self) -> Option<u64> {
        // Most numbers (counts, differences of working days) take one byte.
        if let Some((&byte, rest)) = self.bytes.split_first() {
            if byte < 0x80 {
                self.bytes = rest;
                return Some(u64::from(byte));
            }
        }
        self.long_varint()
    }

    fn long_varint(&mut self) -> Option<u64> {
        let (mut value, mut shift) = (0u64, 0u32);
        for (index, byte) in self.bytes.iter().enumerate() {
            // Ten bytes at most, the last holding one bit.
            if shift > 63 || (shift == 63 && byte & 0x7e != 0) {
                break;
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                self.bytes = &self.bytes[index + 1..];
                return Some(value);
            }
            shift += 7;
        }
        None
    }

    fn number(&mut self) -> Result<u64, StoreError> {
        self.varint().ok_or_else(cut_short)
    }

    fn text(&mut self) -> Result<&'a str, StoreError> {
        let length = usize::try_from(self.number()?).unwrap_or(usize::MAX);
        let malformed = || corrupt("an outcome cell's group is cut short or not UTF-8");
        let text = self.bytes.get(..length).ok_or_else(malformed)?;
        self.bytes = &self.bytes[length..];
        std::str::from_utf8(text).map_err(|_| malformed())
    }

    /// How many samples the next run holds. Each sample takes a byte at least: a count beyond
    /// the bytes left is corrupt.
    fn sample_count(&mut self) -> Result<usize, StoreError> {
        let count = usize::try_from(self.number()?).unwrap_or(usize::MAX);
        if count > self.bytes.len() {
            return Err(corrupt("an outcome cell holds fewer samples than it counts"));
        }
        Ok(count)
    }

    /// The `count` samples of a run, pushed onto `samples`.
    fn samples_onto(&mut self, count: usize, samples: &mut Vec<i64>) -> Result<(), StoreError> {
        if count == 0 {
            return Ok(());
        }
        let mut sample = unzigzag(self.number()?);
        samples.push(sample);
        for _ in 1..count {
            sample = sample
                .checked_add_unsigned(self.varint().ok_or_else(cut_short)?)
                .ok_or_else(|| corrupt("an outcome cell's samples are not ascending"))?;
            samples.push(sample);
        }
        Ok(())
    }

    /// The next samples, into `samples` (emptied first: a read reuses one buffer for them all).
    fn samples_into(&mut self, samples: &mut Vec<i64>) -> Result<(), StoreError> {
        samples.clear();
        let count = self.sample_count()?;
        samples.reserve(count);
        self.samples_onto(count, samples)
    }

    /// The next sparse counters, each given to `each` with its index.
    fn counts(&mut self, mut each: impl FnMut(usize, i64)) -> Result<(), StoreError> {
        let mut present = self.number()?;
        if present >> COUNTERS != 0 {
            return Err(corrupt("an outcome cell has counters that do not exist"));
        }
        while present != 0 {
            each(present.trailing_zeros() as usize, unzigzag(self.number()?));
            present &= present - 1;
        }
        Ok(())
    }

    /// The next cell of `cells`, into `cell`; its group.
    fn cell(&mut self, cell: &mut Cell) -> Result<&'a str, StoreError> {
        let group = self.text()?;
        cell.counts = Counts::default();
        self.counts(|index, count| cell.counts.0[index] = count)?;
        for sample in stored_in_cells() {
            self.samples_into(&mut cell.samples[sample as usize])?;
        }
        Ok(group)
    }

    /// The next cell of `cells`, of `period`, added to its group's sum as it is decoded: no
    /// sample is copied twice (a year by member decodes about 400,000).
    fn add_cell(&mut self, period: &str, groups: &mut Groups) -> Result<(), StoreError> {
        let sum = groups.sum(period, self.text()?);
        let counts = sum.counts_mut();
        self.counts(|index, count| counts.0[index] += count)?;
        for sample in stored_in_cells() {
            let count = self.sample_count()?;
            self.samples_onto(count, sum.samples_to_fill(sample, count))?;
        }
        Ok(())
    }

    /// The next group's deadlines of `open_deadlines`, into `deadlines`; the group.
    fn deadlines(&mut self, deadlines: &mut Vec<i64>) -> Result<&'a str, StoreError> {
        let group = self.text()?;
        self.samples_into(deadlines)?;
        Ok(group)
    }
}

/// The cells of a row, by group, with the open cases' deadlines put back in.
fn decode_row(cells: &[u8], open_deadlines: &[u8]) -> Result<Vec<(String, Cell)>, StoreError> {
    let mut decoded = Vec::new();
    let mut reader = Reader { bytes: cells };
    while !reader.is_done() {
        let mut cell = Cell::default();
        let group = reader.cell(&mut cell)?;
        decoded.push((group.to_owned(), cell));
    }
    let mut reader = Reader { bytes: open_deadlines };
    while !reader.is_done() {
        let mut deadlines = Vec::new();
        let group = reader.deadlines(&mut deadlines)?;
        let index = decoded
            .binary_search_by(|(cell_group, _)| cell_group.as_str().cmp(group))
            .map_err(|_| corrupt(format!("open deadlines of `{group}`, a group without a cell")))?;
        decoded[index].1.samples[Sample::OpenDeadlines as usize] = deadlines;
    }
    Ok(decoded)
}

fn cut_short() -> StoreError {
    corrupt("an outcome cell's number is cut short or longer than 64 bits")
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn row_key_of<R>(row: &R) -> Result<RowKey, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'a> &'a str: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> String: Decode<'a, R::Database> + Type<R::Database>,
{
    let dimension: &str = row.try_get(0)?;
    let span: &str = row.try_get(1)?;
    Ok(RowKey {
        dimension: Dimension::from_name(dimension)
            .ok_or_else(|| corrupt(format!("unknown outcome cell dimension `{dimension}`")))?,
        span: Span::from_name(span).ok_or_else(|| corrupt(format!("unknown outcome cell span `{span}`")))?,
        period: row.try_get(2)?,
    })
}

/// The cells of a row read with [`COLUMNS`], by key.
fn cells_of<R>(row: &R) -> Result<Vec<(CellKey, Cell)>, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'a> &'a str: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> String: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> &'a [u8]: Decode<'a, R::Database> + Type<R::Database>,
{
    let key = row_key_of(row)?;
    let cells = decode_row(row.try_get(KEY_WIDTH)?, row.try_get(KEY_WIDTH + 1)?)?;
    Ok(cells
        .into_iter()
        .map(|(group, cell)| (key.cell(&group), cell))
        .collect())
}

/// What a read of a period answers: the outcome funnel (`groups`) and the published figures.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodFigures {
    pub groups: Vec<OutcomeFigures>,
    pub figures: Vec<Figures>,
}

/// Reads of more bytes of cells than this are decoded on two threads, and the figures of this
/// many groups or more computed on two threads; in builds with the test hooks every read but an
/// empty one is, so that the end-to-end tests of the figures go through the split.
const PARALLEL_BYTES: usize = if cfg!(feature = "test-hooks") { 1 } else { 64 * 1024 };
const PARALLEL_GROUPS: usize = if cfg!(feature = "test-hooks") { 1 } else { 64 };

/// `there` on a blocking thread while `here` runs on this one; both results.
async fn beside<T, U>(
    there: impl FnOnce() -> T + Send + 'static,
    here: impl FnOnce() -> U,
) -> Result<(T, U), StoreError>
where
    T: Send + 'static,
{
    let there = tokio::task::spawn_blocking(there);
    let here = here();
    match there.await {
        Ok(there) => Ok((there, here)),
        Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
        Err(cancelled) => Err(StoreError::Unavailable(Box::new(cancelled))),
    }
}

/// A fresh revision for a row written: random, so that no two writes of a row (in this
/// database or another) share one.
fn new_revision() -> i64 {
    Uuid::now_v7().as_u64_pair().1 as i64
}

/// A month row decoded for a grouping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct MonthKey {
    group_by: Option<GroupBy>,
    period: String,
}

/// How much memory the decoded months may hold: about the last year of every grouping at a
/// million cases (a month by member decodes to ~0.8 MB).
const DECODED_MONTHS_BYTES: usize = 64 << 20;

/// A month row as decoded: the revision it was read at, its groups, their footprint.
#[derive(Debug)]
struct DecodedMonth {
    revision: i64,
    groups: Arc<Groups>,
    bytes: usize,
}

/// The month rows this process decoded, least recently read evicted first. A read asks the
/// database for the revisions of its months (in its snapshot) and decodes only the rows it
/// does not hold at that revision: every write of a row draws a new random revision, so a row
/// held at the revision stored is exactly the row stored, and, revisions not being shared
/// between databases, one process serving several (the tests) never mistakes one's row for
/// another's. Months before the current one rarely change, so a read of a year decodes the days
/// at its edges and the month a batch last touched.
#[derive(Debug)]
struct DecodedMonths {
    months: LruCache<MonthKey, DecodedMonth>,
    bytes: usize,
    budget: usize,
}

static DECODED_MONTHS: LazyLock<Mutex<DecodedMonths>> =
    LazyLock::new(|| Mutex::new(DecodedMonths::new(DECODED_MONTHS_BYTES)));

impl DecodedMonths {
    fn new(budget: usize) -> Self {
        DecodedMonths {
            months: LruCache::new_unbounded(),
            bytes: 0,
            budget,
        }
    }

    fn lock() -> MutexGuard<'static, DecodedMonths> {
        // A panic while holding the lock leaves the map whole: nothing to repair.
        DECODED_MONTHS.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The month `key` as decoded at `revision`, if held.
    fn get(&mut self, key: &MonthKey, revision: i64) -> Option<Arc<Groups>> {
        self.months
            .get(key)
            .filter(|month| month.revision == revision)
            .map(|month| Arc::clone(&month.groups))
    }

    /// Holds `groups` as the month `key` at `revision`, in place of any earlier revision.
    fn insert(&mut self, key: MonthKey, revision: i64, groups: Arc<Groups>) {
        let bytes = groups.footprint();
        let month = DecodedMonth {
            revision,
            groups,
            bytes,
        };
        if let Some(replaced) = self.months.insert(key, month) {
            self.bytes -= replaced.bytes;
        }
        self.bytes += bytes;
        while self.bytes > self.budget {
            let Some((_, evicted)) = self.months.remove_lru() else {
                break;
            };
            self.bytes -= evicted.bytes;
        }
    }
}

/// Each of `rows` (period, revision, cells, open deadlines) decoded into groups of its own.
fn decode_months<R>(group_by: Option<GroupBy>, rows: &[R]) -> Result<Vec<(MonthKey, i64, Groups)>, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'a> &'a str: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> String: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> i64: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> &'a [u8]: Decode<'a, R::Database> + Type<R::Database>,
{
    rows.iter()
        .map(|row| {
            let period: String = row.try_get(0)?;
            let mut groups = Groups::new(group_by);
            add_cells(&mut groups, &period, (row.try_get(2)?, row.try_get(3)?))?;
            groups.shrink_to_fit();
            Ok((MonthKey { group_by, period }, row.try_get(1)?, groups))
        })
        .collect()
}

/// Adds the cells of one row of `period` (its `cells` and `open_deadlines`) to their groups.
fn add_cells(groups: &mut Groups, period: &str, (cells, open_deadlines): (&[u8], &[u8])) -> Result<(), StoreError> {
    let mut cells = Reader { bytes: cells };
    while !cells.is_done() {
        cells.add_cell(period, groups)?;
    }
    let (mut open_deadlines, mut deadlines) = (Reader { bytes: open_deadlines }, Vec::new());
    while !open_deadlines.is_done() {
        let group = open_deadlines.deadlines(&mut deadlines)?;
        groups.add_samples(period, group, Sample::OpenDeadlines, &deadlines);
    }
    Ok(())
}

/// Adds the cells of `rows` (period, cells, open deadlines) to their groups.
fn add_rows<R>(groups: &mut Groups, rows: &[R]) -> Result<(), StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'a> &'a str: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> &'a [u8]: Decode<'a, R::Database> + Type<R::Database>,
{
    for row in rows {
        add_cells(groups, row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?))?;
    }
    Ok(())
}

/// What a read decoded: the groups the cases of the parts of days at its edges are added to,
/// and the parts decoded from rows (days, halves of a large read, months decoded by an earlier
/// read), which the figures read where they are.
struct Parts {
    own: Groups,
    apart: Vec<Arc<Groups>>,
}

/// The bytes of cells of `rows`, column `column`.
fn cells_bytes<R>(rows: &[R], column: usize) -> usize
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'a> &'a [u8]: Decode<'a, R::Database> + Type<R::Database>,
{
    rows.iter()
        .map(|row| row.try_get::<&[u8], _>(column).map_or(0, <[u8]>::len))
        .sum()
}

/// `decode` over `rows`, whose column `cells` holds their cells: at once, or, for more than
/// [`PARALLEL_BYTES`] of cells, half on a blocking thread while this one decodes the other half.
/// One result per part decoded.
async fn decoded<R, T>(
    mut rows: Vec<R>,
    cells: usize,
    decode: impl Fn(&[R]) -> Result<T, StoreError> + Clone + Send + 'static,
) -> Result<Vec<T>, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'a> &'a [u8]: Decode<'a, R::Database> + Type<R::Database>,
    T: Send + 'static,
{
    if cells_bytes(&rows, cells) < PARALLEL_BYTES {
        return Ok(vec![decode(&rows)?]);
    }
    let half = rows.split_off(rows.len() / 2);
    let decode_there = decode.clone();
    let (there, here) = beside(move || decode_there(&half), || decode(&rows)).await?;
    Ok(vec![here?, there?])
}

/// The cells of the row `key` among `cells` (in key order, a row's cells are contiguous).
fn cells_in_row<'a>(cells: &'a BTreeMap<CellKey, Cell>, key: &'a RowKey) -> impl Iterator<Item = (&'a str, &'a Cell)> {
    cells
        .range(key.cell("")..)
        .take_while(move |(cell, _)| RowKey::of(cell) == *key)
        .map(|(cell, value)| (cell.group.as_str(), value))
}

/// The cell table's SQL over one backend.
pub(crate) struct CellTable<DB>(PhantomData<DB>);

impl<DB> CellTable<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> DB::Arguments<'a>: IntoArguments<'a, DB>,
    for<'a> String: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
    for<'a> &'a str: Decode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Decode<'a, DB> + Type<DB>,
    for<'a> Vec<u8>: Encode<'a, DB> + Type<DB>,
    for<'a> &'a [u8]: Decode<'a, DB> + Type<DB>,
    for<'a> Timestamp: Encode<'a, DB> + Type<DB>,
    for<'a> Document<CaseSummary>: Decode<'a, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    fn bind_key<'q>(
        query: sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
        key: &RowKey,
    ) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>> {
        query
            .bind(key.dimension.as_str().to_owned())
            .bind(key.span.as_str().to_owned())
            .bind(key.period.clone())
    }

    /// The cells of the rows `keys`.
    async fn load(connection: &mut DB::Connection, keys: &[RowKey]) -> Result<BTreeMap<CellKey, Cell>, StoreError> {
        let mut cells = BTreeMap::new();
        for chunk in keys.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT {COLUMNS} FROM outcome_cells WHERE ({KEY_COLUMNS}) IN (VALUES {})",
                parameter_rows(chunk.len(), KEY_WIDTH)
            );
            let mut query = sqlx::query(&sql);
            for key in chunk {
                query = Self::bind_key(query, key);
            }
            for row in query.fetch_all(&mut *connection).await? {
                cells.extend(cells_of(&row)?);
            }
        }
        Ok(cells)
    }

    /// The day cells of `dimension` from day `first` to `last`, into `parts`.
    async fn load_days(
        connection: &mut DB::Connection,
        parts: &mut Parts,
        dimension: Dimension,
        (first, last): (&str, &str),
    ) -> Result<(), StoreError> {
        let sql = "SELECT period, cells, open_deadlines FROM outcome_cells \
                   WHERE dimension = $1 AND span = 'day' AND period >= $2 AND period <= $3";
        Self::load_day_rows(connection, parts, sql, dimension, (first, last)).await
    }

    /// The day cells of `dimension` of the months from `first` to `last` that have no roll-up,
    /// into `parts`: a month a live batch changed since it was last rolled up is read from its
    /// days.
    async fn load_unrolled_days(
        connection: &mut DB::Connection,
        parts: &mut Parts,
        dimension: Dimension,
        (first, last): (&str, &str),
    ) -> Result<(), StoreError> {
        // Bounds of the days' own shape, which sort alike in every collation.
        let sql = format!(
            "SELECT period, cells, open_deadlines FROM outcome_cells AS cell \
             WHERE dimension = $1 AND period >= $2 AND period <= $3 AND {UNROLLED}"
        );
        let (first, last) = (format!("{first}-01"), format!("{last}-31"));
        Self::load_day_rows(connection, parts, &sql, dimension, (&first, &last)).await
    }

    /// The day rows `sql` selects (period, cells, open deadlines) with `dimension` and `bounds`,
    /// into `parts`. Decoding them is most of their read's time: a read of many bytes (two
    /// months of every member's days are ~0.8 MB) is decoded in two parts on two threads (the
    /// figures read the parts where they are).
    async fn load_day_rows(
        connection: &mut DB::Connection,
        parts: &mut Parts,
        sql: &str,
        dimension: Dimension,
        (first, last): (&str, &str),
    ) -> Result<(), StoreError> {
        let rows = sqlx::query(sql)
            .bind(dimension.as_str().to_owned())
            .bind(first.to_owned())
            .bind(last.to_owned())
            .fetch_all(&mut *connection)
            .await?;
        let group_by = parts.own.group_by();
        let decode = move |rows: &[DB::Row]| {
            let mut groups = Groups::new(group_by);
            add_rows(&mut groups, rows).map(|()| groups)
        };
        for groups in decoded(rows, 1, decode).await? {
            parts.apart.push(Arc::new(groups));
        }
        Ok(())
    }

    /// The month roll-ups of `dimension` from month `first` to `last`, into `parts`: those this
    /// process decoded already at the revision stored, the others read and decoded (on two
    /// threads when large) and kept for the next read; the months without a roll-up from their
    /// days.
    async fn load_months(
        connection: &mut DB::Connection,
        parts: &mut Parts,
        dimension: Dimension,
        (first, last): (&str, &str),
    ) -> Result<(), StoreError> {
        let group_by = parts.own.group_by();
        let revisions: Vec<(String, i64)> = sqlx::query_as(
            "SELECT period, revision FROM outcome_cells \
             WHERE dimension = $1 AND span = 'month' AND period >= $2 AND period <= $3",
        )
        .bind(dimension.as_str().to_owned())
        .bind(first.to_owned())
        .bind(last.to_owned())
        .fetch_all(&mut *connection)
        .await?;
        Self::load_unrolled_days(connection, parts, dimension, (first, last)).await?;
        let mut missing = Vec::new();
        {
            let mut decoded = DecodedMonths::lock();
            for (period, revision) in revisions {
                let key = MonthKey { group_by, period };
                match decoded.get(&key, revision) {
                    Some(groups) => parts.apart.push(groups),
                    None => missing.push(key.period),
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        // The periods are parameters 2 onwards (a century of months binds 1,201: far below
        // either backend's limit).
        let periods: Vec<String> = (2..missing.len() + 2).map(|number| format!("(${number})")).collect();
        let sql = format!(
            "SELECT period, revision, cells, open_deadlines FROM outcome_cells \
             WHERE dimension = $1 AND span = 'month' AND period IN (VALUES {})",
            periods.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(dimension.as_str().to_owned());
        for period in missing {
            query = query.bind(period);
        }
        let rows = query.fetch_all(&mut *connection).await?;
        let months = decoded(rows, 2, move |rows: &[DB::Row]| decode_months(group_by, rows)).await?;
        let mut decoded = DecodedMonths::lock();
        for (key, revision, groups) in months.into_iter().flatten() {
            let groups = Arc::new(groups);
            decoded.insert(key, revision, Arc::clone(&groups));
            parts.apart.push(groups);
        }
        Ok(())
    }

    /// Per group of `dimension` (or of the one `group`), how many open cases are past their
    /// deadline at `now`: the deadlines the month roll-ups keep (the days' of a month without
    /// one), counted without reading a case. Groups with none are left out.
    pub(crate) async fn open_overdue(
        tx: &mut Transaction<'_, DB>,
        dimension: Dimension,
        group: Option<&str>,
        now: Timestamp,
    ) -> Result<BTreeMap<String, i64>, StoreError> {
        let sql = format!(
            "SELECT open_deadlines FROM outcome_cells AS cell \
             WHERE dimension = $1 AND (span = 'month' OR {UNROLLED})"
        );
        let rows = sqlx::query(&sql)
            .bind(dimension.as_str().to_owned())
            .fetch_all(&mut **tx)
            .await?;
        let now = nanoseconds(now);
        let (mut counts, mut deadlines) = (BTreeMap::new(), Vec::new());
        for row in &rows {
            let mut reader = Reader { bytes: row.try_get(0)? };
            while !reader.is_done() {
                let deadlines_of = reader.deadlines(&mut deadlines)?;
                let passed = deadlines.partition_point(|deadline| *deadline < now) as i64;
                if passed > 0 && group.is_none_or(|group| group == deadlines_of) {
                    *counts.entry(deadlines_of.to_owned()).or_default() += passed;
                }
            }
        }
        Ok(counts)
    }

    /// Writes the rows of `cells` whole (the rebuild's, into emptied tables; a settle's month
    /// roll-ups), inside the caller's transaction. Returns the rows written.
    pub(crate) async fn write_all(
        tx: &mut Transaction<'_, DB>,
        cells: &BTreeMap<CellKey, Cell>,
    ) -> Result<usize, StoreError> {
        let mut rows: Vec<RowKey> = cells.keys().map(RowKey::of).collect();
        rows.dedup();
        Self::write(&mut **tx, &rows, cells).await?;
        Ok(rows.len())
    }

    /// Writes the rows `keys` whole from `cells`, which hold every cell of them.
    async fn write(
        connection: &mut DB::Connection,
        keys: &[RowKey],
        cells: &BTreeMap<CellKey, Cell>,
    ) -> Result<(), StoreError> {
        for chunk in keys.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO outcome_cells ({COLUMNS}) VALUES {} ON CONFLICT ({KEY_COLUMNS}) DO UPDATE \
                 SET cells = excluded.cells, open_deadlines = excluded.open_deadlines, \
                 revision = excluded.revision",
                parameter_rows(chunk.len(), KEY_WIDTH + 3)
            );
            let mut query = sqlx::query(&sql);
            for key in chunk {
                let (encoded, deadlines) = encode_row(cells_in_row(cells, key));
                query = Self::bind_key(query, key)
                    .bind(encoded)
                    .bind(deadlines)
                    .bind(new_revision());
            }
            query.execute(&mut *connection).await?;
        }
        Ok(())
    }

    async fn delete(connection: &mut DB::Connection, keys: &[RowKey]) -> Result<(), StoreError> {
        for chunk in keys.chunks(ROWS_PER_STATEMENT) {
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

    /// Applies to the day cells the change of each case's summary from before a batch (`None`
    /// for a case new to the cells) to after it: netted per cell, then one read of the rows that
    /// change, one write, and one delete of the rows left empty and of the month rows of the
    /// days changed, which [`CellTable::settle`] rolls up again later. Rewriting a month
    /// row here instead would cost every batch the bytes of every case of the month (about 17
    /// bytes a case in a realistic year: some 3 MB a row at a 12345 centre's 170,000 cases a
    /// month). Runs inside the caller's transaction, which must also write the summaries and
    /// move the checkpoint.
    pub(crate) async fn apply(
        tx: &mut Transaction<'_, DB>,
        changes: &[(Option<&CaseSummary>, &CaseSummary)],
        policy: &Policy,
    ) -> Result<(), ProjectorError> {
        let connection = &mut **tx;
        let changes = CellChanges::between(changes.iter().copied(), &[Span::Day], policy);
        if changes.is_empty() {
            return Ok(());
        }
        let mut rows: Vec<RowKey> = changes.keys().map(RowKey::of).collect();
        rows.dedup();
        let mut cells = Self::load(connection, &rows).await?;
        let mut changed: Vec<RowKey> = changes.apply(&mut cells)?.iter().map(RowKey::of).collect();
        changed.dedup();
        let mut months: Vec<RowKey> = changed.iter().map(RowKey::month).collect();
        months.sort_unstable();
        months.dedup();
        let (kept, mut gone): (Vec<RowKey>, Vec<RowKey>) = changed
            .into_iter()
            .partition(|key| cells_in_row(&cells, key).next().is_some());
        // The days left empty and the months of all the days changed, in one statement.
        gone.extend(months);
        Self::write(connection, &kept, &cells).await?;
        Self::delete(connection, &gone).await?;
        Ok(())
    }

    /// Rolls up the months before `month` (`YYYY-MM`) that have day rows but no month row (those
    /// live batches changed since): each month row is written whole from its days, dimension by
    /// dimension. The month in progress is left to its days: rolled up, it would be rewritten
    /// as often as it is settled, and only a read of the whole month, less often asked than
    /// the year so far, would read the roll-up. Runs inside the caller's transaction, which must
    /// hold the case-summary projection's checkpoint, so that no batch changes the days
    /// meanwhile. Returns the month rows written.
    pub(crate) async fn settle(tx: &mut Transaction<'_, DB>, month: &str) -> Result<usize, ProjectorError> {
        // The month's first day bounds the days before it (of one shape, they sort alike in every
        // collation).
        let sql =
            format!("SELECT {COLUMNS} FROM outcome_cells AS cell WHERE dimension = $1 AND period < $2 AND {UNROLLED}");
        let mut written = 0;
        for dimension in Dimension::ALL {
            let rows = sqlx::query(&sql)
                .bind(dimension.as_str().to_owned())
                .bind(format!("{month}-01"))
                .fetch_all(&mut **tx)
                .await?;
            let mut days = BTreeMap::new();
            for row in &rows {
                days.extend(cells_of(row)?);
            }
            written += Self::write_all(tx, &roll_up(&days)).await?;
        }
        Ok(written)
    }

    /// Summaries of the cases submitted in `[from, to)`.
    async fn summaries(
        connection: &mut DB::Connection,
        (from, to): (Timestamp, Timestamp),
    ) -> Result<Vec<CaseSummary>, StoreError> {
        let rows: Vec<Document<CaseSummary>> =
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
        let mut parts = Parts {
            own: Groups::new(group_by),
            apart: Vec::new(),
        };
        if let Some((first, last)) = &coverage.months {
            Self::load_months(connection, &mut parts, dimension, (first, last)).await?;
        }
        for (first, last) in &coverage.days {
            Self::load_days(connection, &mut parts, dimension, (first, last)).await?;
        }
        // The cases of the parts of days at the edges, as cells of their own: a group's figures
        // are the sum of its cells, however its cases are split among them.
        let mut changes = CellChanges::default();
        for part in &coverage.parts {
            for case in Self::summaries(connection, *part).await? {
                changes.add(&case, dimension, Span::Day, policy);
            }
        }
        let mut edges = BTreeMap::new();
        changes.apply(&mut edges).map_err(corrupt)?;
        parts.own.extend(edges);
        let parts: Vec<Arc<Groups>> = std::iter::once(Arc::new(parts.own)).chain(parts.apart).collect();
        if parts.iter().map(|part| part.len()).max().unwrap_or(0) < PARALLEL_GROUPS {
            return Ok(PeriodFigures {
                groups: outcome_figures_of_cells(&parts, now),
                figures: figures_of_cells(&parts, now, weight),
            });
        }
        // Hundreds of groups (members): the two kinds of figures on two threads.
        let parts = Arc::new(parts);
        let (funnel, figures) = beside(
            {
                let parts = Arc::clone(&parts);
                move || outcome_figures_of_cells(&parts, now)
            },
            || figures_of_cells(&parts, now, weight),
        )
        .await?;
        Ok(PeriodFigures {
            groups: funnel,
            figures,
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

/// Every cell, one line each in key order, a month without a row as its days roll up: two cell
/// tables hold the same figures when these are equal, whether or not their months are settled.
#[cfg(feature = "test-hooks")]
pub async fn dump(store: &Store) -> Result<Vec<String>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM outcome_cells");
    let cells = on_pool!(store, |pool| {
        let mut connection = pool.acquire().await?;
        let mut cells = BTreeMap::new();
        for row in sqlx::query(&sql).fetch_all(&mut *connection).await? {
            cells.extend(cells_of(&row)?);
        }
        cells
    });
    let stored: std::collections::BTreeSet<RowKey> = cells.keys().map(RowKey::of).collect();
    let mut all = roll_up(&cells);
    all.retain(|month, _| !stored.contains(&RowKey::of(month)));
    all.extend(cells);
    Ok(all
        .iter()
        .map(|(key, cell)| format!("{key} {:?} {:?}", cell.counts.0, cell.samples))
        .collect())
}

/// The month rows stored, as `dimension period` in order, once every month with day rows that
/// ended by now in the time zone of `policy` has one; `None` while some such month is not
/// rolled up.
#[cfg(feature = "test-hooks")]
pub async fn month_rows_when_settled(store: &Store, policy: &Policy) -> Result<Option<Vec<String>>, StoreError> {
    let month = projections::local_month_of(chrono::Utc::now(), policy.offset);
    let unrolled = format!("SELECT COUNT(*) FROM outcome_cells AS cell WHERE period < '{month}-01' AND {UNROLLED}");
    let months = "SELECT dimension, period FROM outcome_cells WHERE span = 'month' ORDER BY dimension, period";
    let (unrolled, rows): (i64, Vec<(String, String)>) = on_pool!(store, |pool| {
        let mut tx = pool.begin().await?;
        let unrolled = sqlx::query_scalar(&unrolled).fetch_one(&mut *tx).await?;
        (unrolled, sqlx::query_as(months).fetch_all(&mut *tx).await?)
    });
    Ok((unrolled == 0).then(|| {
        rows.into_iter()
            .map(|(dimension, period)| format!("{dimension} {period}"))
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(seed: i64) -> Cell {
        let mut cell = Cell::default();
        cell.counts.0[0] = 1 << 40;
        cell.counts.0[COUNTERS - 1] = -seed;
        cell.samples[Sample::SecondsToClose as usize] = vec![-86_400, 0, 0, 7, seed << 40];
        cell.samples[Sample::OpenLateFrom as usize] = vec![i64::MIN, i64::MAX];
        cell
    }

    #[test]
    fn a_row_reads_back_as_written() {
        let mut with_deadlines = cell(3);
        with_deadlines.samples[Sample::OpenDeadlines as usize] = vec![5, 1_000];
        let cells = [
            ("东胜区", with_deadlines),
            ("康巴什区", cell(4)),
            ("all", Cell::default()),
        ];
        let mut sorted: Vec<(String, Cell)> = cells
            .iter()
            .map(|(group, cell)| (group.to_string(), cell.clone()))
            .collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let (encoded, deadlines) = encode_row(sorted.iter().map(|(group, cell)| (group.as_str(), cell)));
        assert_eq!(decode_row(&encoded, &deadlines).unwrap(), sorted);
        let mut open = Vec::new();
        assert_eq!(
            (Reader { bytes: &deadlines }.deadlines(&mut open).unwrap(), open),
            ("东胜区", vec![5, 1_000]),
            "only the groups with open deadlines, apart"
        );
    }

    #[test]
    fn decoded_months_are_used_at_their_revision_only_and_evicted_least_recent_first() {
        let month = |period: &str| MonthKey {
            group_by: Some(GroupBy::Member),
            period: period.to_owned(),
        };
        let groups = |members: usize| {
            let mut groups = Groups::new(Some(GroupBy::Member));
            for member in 0..members {
                groups.add_samples("2026-01", &format!("m-{member}"), Sample::SecondsToClose, &[1, 2, 3]);
            }
            Arc::new(groups)
        };
        let size = groups(1).footprint();
        let mut decoded = DecodedMonths::new(3 * size);
        decoded.insert(month("2026-01"), 7, groups(1));
        assert!(decoded.get(&month("2026-01"), 7).is_some());
        assert!(decoded.get(&month("2026-01"), 8).is_none(), "another revision");
        assert!(decoded.get(&month("2026-02"), 7).is_none(), "another month");
        decoded.insert(month("2026-01"), 8, groups(1));
        assert!(
            decoded.get(&month("2026-01"), 7).is_none(),
            "the earlier revision replaced"
        );
        assert_eq!(decoded.bytes, size, "and no longer counted");
        decoded.insert(month("2026-02"), 1, groups(1));
        decoded.insert(month("2026-03"), 1, groups(1));
        // 2026-01 read last: 2026-02 is the least recent and goes when 2026-04 comes.
        assert!(decoded.get(&month("2026-01"), 8).is_some());
        decoded.insert(month("2026-04"), 1, groups(1));
        assert!(decoded.get(&month("2026-02"), 1).is_none());
        assert!(decoded.get(&month("2026-01"), 8).is_some());
        assert_eq!(decoded.bytes, 3 * size);
        decoded.insert(month("2026-05"), 1, groups(4));
        assert!(
            decoded.bytes <= 3 * size,
            "evicted down to the budget, itself too when larger"
        );
    }

    #[test]
    fn samples_take_a_byte_or_two() {
        let mut bytes = Vec::new();
        put_samples(&mut bytes, &[3, 4, 300]);
        assert_eq!(bytes.len(), 5, "the count, then one byte for 3 and 1, two for 296");
    }

    #[test]
    fn a_row_cut_short_or_inconsistent_is_refused() {
        let (encoded, deadlines) = encode_row([("a", &cell(1))].into_iter());
        for cut in [1, encoded.len() / 2, encoded.len() - 1] {
            assert!(
                matches!(decode_row(&encoded[..cut], &deadlines), Err(StoreError::Corrupt(_))),
                "cut at {cut}"
            );
        }
        let mut open = Vec::new();
        put_text(&mut open, "b");
        put_samples(&mut open, &[1]);
        assert!(
            matches!(decode_row(&encoded, &open), Err(StoreError::Corrupt(_))),
            "deadlines of a group without a cell"
        );
        assert!(
            matches!(Reader { bytes: &[0xff; 11] }.number(), Err(StoreError::Corrupt(_))),
            "longer than 64 bits"
        );
        assert!(
            matches!(
                Reader { bytes: &[9, 1] }.samples_into(&mut Vec::new()),
                Err(StoreError::Corrupt(_))
            ),
            "more samples counted than bytes left"
        );
    }
}
