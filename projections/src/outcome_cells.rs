//! Outcome cells: the outcome figures kept pre-aggregated, so that the figures of a period are a
//! merge of a few rows instead of a pass over every case summary in it.
//!
//! A cell is keyed by a dimension (all cases, or by kind, category, jurisdiction, department),
//! the month of submission (`YYYY-MM`, UTC) and the group within the dimension. It holds the
//! counters each figure is computed from, every duration sample in whole seconds, ascending, so
//! medians and p90s stay exact, and the deadlines of its open cases, ascending, so that
//! `open_overdue` (which depends on the moment of reading) is a count of those before it.
//! Grouping by month reads the `all` cells month by month.
//!
//! A case counts in one cell per dimension. When its summary changes, the contribution of the
//! summary before is removed and that of the summary after added; a batch's changes are netted
//! per cell first, so an event that moves no figure (a second consultation) writes nothing.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Index, IndexMut};

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use domain::{Outcome, Rating, Timestamp};

use crate::outcomes::{durations_by_rank, ratio};
use crate::{month_of, CaseSummary, ClosedByOutcome, Durations, GroupBy, OutcomeFigures, UNGROUPED};

/// What the cells of one kind are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    All,
    Kind,
    Category,
    Jurisdiction,
    Department,
}

impl Dimension {
    pub const ALL: [Dimension; 5] = [
        Dimension::All,
        Dimension::Kind,
        Dimension::Category,
        Dimension::Jurisdiction,
        Dimension::Department,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::All => "all",
            Dimension::Kind => "kind",
            Dimension::Category => "category",
            Dimension::Jurisdiction => "jurisdiction",
            Dimension::Department => "department",
        }
    }

    pub fn from_name(name: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|dimension| dimension.as_str() == name)
    }

    /// The cells a grouping reads; by month, those of all cases, month by month.
    pub fn of(group_by: Option<GroupBy>) -> Dimension {
        match group_by {
            None | Some(GroupBy::Month) => Dimension::All,
            Some(GroupBy::Kind) => Dimension::Kind,
            Some(GroupBy::Category) => Dimension::Category,
            Some(GroupBy::Jurisdiction) => Dimension::Jurisdiction,
            Some(GroupBy::Department) => Dimension::Department,
        }
    }

    fn group(self, case: &CaseSummary) -> String {
        let group_by = match self {
            Dimension::All => return UNGROUPED.to_owned(),
            Dimension::Kind => GroupBy::Kind,
            Dimension::Category => GroupBy::Category,
            Dimension::Jurisdiction => GroupBy::Jurisdiction,
            Dimension::Department => GroupBy::Department,
        };
        group_by.key(case)
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CellKey {
    pub dimension: Dimension,
    /// The month of submission, `YYYY-MM` in UTC.
    pub month: String,
    pub group: String,
}

impl CellKey {
    fn of(case: &CaseSummary, dimension: Dimension) -> CellKey {
        CellKey {
            dimension,
            month: month_of(case.submitted_at),
            group: dimension.group(case),
        }
    }
}

impl fmt::Display for CellKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.dimension, self.month, self.group)
    }
}

/// The counters a cell keeps: the figures' counts and what their rates divide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    Submitted,
    Relayed,
    Assigned,
    Consulted,
    Adopted,
    Declined,
    Closed,
    ClosedA,
    ClosedB,
    ClosedC,
    Rated,
    /// Rated satisfied or basically satisfied.
    Satisfied,
    ClosedWithDeadline,
    ClosedOnTime,
}

impl Counter {
    pub const ALL: [Counter; 14] = [
        Counter::Submitted,
        Counter::Relayed,
        Counter::Assigned,
        Counter::Consulted,
        Counter::Adopted,
        Counter::Declined,
        Counter::Closed,
        Counter::ClosedA,
        Counter::ClosedB,
        Counter::ClosedC,
        Counter::Rated,
        Counter::Satisfied,
        Counter::ClosedWithDeadline,
        Counter::ClosedOnTime,
    ];

    /// The column the counter is stored in.
    pub fn column(self) -> &'static str {
        match self {
            Counter::Submitted => "submitted",
            Counter::Relayed => "relayed",
            Counter::Assigned => "assigned",
            Counter::Consulted => "consulted",
            Counter::Adopted => "adopted",
            Counter::Declined => "declined",
            Counter::Closed => "closed",
            Counter::ClosedA => "closed_a",
            Counter::ClosedB => "closed_b",
            Counter::ClosedC => "closed_c",
            Counter::Rated => "rated",
            Counter::Satisfied => "satisfied",
            Counter::ClosedWithDeadline => "closed_with_deadline",
            Counter::ClosedOnTime => "closed_on_time",
        }
    }
}

/// One value per [`Counter`], in the order of [`Counter::ALL`]; signed, as changes are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts(pub [i64; Counter::ALL.len()]);

impl Index<Counter> for Counts {
    type Output = i64;

    fn index(&self, counter: Counter) -> &i64 {
        &self.0[counter as usize]
    }
}

impl IndexMut<Counter> for Counts {
    fn index_mut(&mut self, counter: Counter) -> &mut i64 {
        &mut self.0[counter as usize]
    }
}

impl Counts {
    fn add(&mut self, other: &Counts, times: i64) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs * times;
        }
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|count| *count == 0)
    }

    fn figure(&self, counter: Counter) -> u64 {
        u64::try_from(self[counter]).unwrap_or_default()
    }
}

/// What the figures of the cases of one month and group are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cell {
    pub counts: Counts,
    /// Seconds from submission to first assignment, ascending.
    pub to_assign: Vec<i64>,
    /// Seconds from submission to closing, ascending.
    pub to_close: Vec<i64>,
    /// The deadlines of the open cases that have one, as [`nanoseconds`], ascending.
    pub open_deadlines: Vec<i64>,
}

impl Cell {
    fn is_empty(&self) -> bool {
        self.counts.is_zero() && self.to_assign.is_empty() && self.to_close.is_empty() && self.open_deadlines.is_empty()
    }
}

/// A moment as nanoseconds since 1970, the resolution timestamps have (saturating after 2262).
pub fn nanoseconds(at: Timestamp) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellError {
    #[error("outcome cell `{0}` would count below zero: it disagrees with the case summaries")]
    BelowZero(CellKey),
    #[error("outcome cell `{0}` lacks a duration it should hold: it disagrees with the case summaries")]
    MissingSample(CellKey),
}

/// What one case adds to each of its cells.
struct Contribution {
    counts: Counts,
    to_assign: Option<i64>,
    to_close: Option<i64>,
    open_deadline: Option<i64>,
}

fn seconds(from: Timestamp, to: Timestamp) -> i64 {
    (to - from).num_seconds()
}

impl Contribution {
    fn of(case: &CaseSummary) -> Contribution {
        let mut counts = Counts::default();
        let mut count = |counter: Counter, yes: bool| counts[counter] += i64::from(yes);
        count(Counter::Submitted, true);
        count(Counter::Relayed, !case.relayed_by.is_empty());
        count(Counter::Assigned, case.first_assigned_at.is_some());
        count(Counter::Consulted, case.consultations > 0);
        count(Counter::Adopted, case.adoption.is_some());
        count(Counter::Declined, case.declined);
        let closed = case.closed_at.zip(case.outcome);
        if let Some((_, outcome)) = closed {
            count(Counter::Closed, true);
            count(Counter::ClosedA, outcome == Outcome::A);
            count(Counter::ClosedB, outcome == Outcome::B);
            count(Counter::ClosedC, outcome == Outcome::C);
            count(Counter::ClosedWithDeadline, case.due_at.is_some());
            count(Counter::ClosedOnTime, case.due_at.is_some() && !case.late);
        }
        if let Some(rating) = case.rating {
            count(Counter::Rated, true);
            count(
                Counter::Satisfied,
                matches!(rating, Rating::Satisfied | Rating::BasicallySatisfied),
            );
        }
        Contribution {
            counts,
            to_assign: case.first_assigned_at.map(|at| seconds(case.submitted_at, at)),
            to_close: closed.map(|(at, _)| seconds(case.submitted_at, at)),
            open_deadline: case.due_at.filter(|_| case.is_open()).map(nanoseconds),
        }
    }
}

/// Duration samples added to and removed from a cell.
#[derive(Debug, Default)]
struct SampleChange {
    added: Vec<i64>,
    removed: Vec<i64>,
}

impl SampleChange {
    fn push(&mut self, sample: Option<i64>, times: i64) {
        if let Some(sample) = sample {
            let side = if times > 0 { &mut self.added } else { &mut self.removed };
            side.push(sample);
        }
    }

    /// Sorts both sides and cancels each sample removed and added again.
    fn net(&mut self) {
        self.added.sort_unstable();
        self.removed.sort_unstable();
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        let (mut adds, mut removes) = (
            self.added.iter().copied().peekable(),
            self.removed.iter().copied().peekable(),
        );
        loop {
            match (adds.peek().copied(), removes.peek().copied()) {
                (Some(add), Some(remove)) if add == remove => {
                    adds.next();
                    removes.next();
                }
                (Some(add), Some(remove)) if add < remove => added.extend(adds.next()),
                (_, Some(_)) => removed.extend(removes.next()),
                (Some(_), None) => added.extend(adds.next()),
                (None, None) => break,
            }
        }
        (self.added, self.removed) = (added, removed);
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// `samples` (ascending) less the removed plus the added, ascending; `None` when a removed
    /// sample is not among `samples`. The change must be netted (both sides sorted).
    fn applied_to(&self, samples: &[i64]) -> Option<Vec<i64>> {
        let mut result = Vec::with_capacity(samples.len() + self.added.len());
        let mut removed = self.removed.iter().peekable();
        for sample in samples {
            // Both ascending: a removed sample that is not there stays first in line to the end.
            if removed.next_if_eq(&sample).is_none() {
                result.push(*sample);
            }
        }
        if removed.peek().is_some() {
            return None;
        }
        result.extend_from_slice(&self.added);
        // Two ascending runs: the stable sort merges them in one pass.
        result.sort();
        Some(result)
    }
}

#[derive(Debug, Default)]
struct Change {
    counts: Counts,
    to_assign: SampleChange,
    to_close: SampleChange,
    open_deadlines: SampleChange,
}

impl Change {
    fn samples(&mut self) -> [&mut SampleChange; 3] {
        [&mut self.to_assign, &mut self.to_close, &mut self.open_deadlines]
    }
}

/// Changes to cells, per cell.
#[derive(Debug, Default)]
pub struct CellChanges(BTreeMap<CellKey, Change>);

impl CellChanges {
    /// The net change to the cells of every dimension when the summary of each case goes from
    /// `before` (`None` for a case new to the cells) to `after`.
    pub fn between<'a>(pairs: impl IntoIterator<Item = (Option<&'a CaseSummary>, &'a CaseSummary)>) -> Self {
        let mut changes = CellChanges::default();
        for (before, after) in pairs {
            if let Some(before) = before {
                changes.count(before, &Dimension::ALL, -1);
            }
            changes.count(after, &Dimension::ALL, 1);
        }
        changes.net();
        changes
    }

    /// Adds `case` to its cell of `dimension`.
    pub fn add(&mut self, case: &CaseSummary, dimension: Dimension) {
        self.count(case, &[dimension], 1);
    }

    /// Takes `case` out of its cell of `dimension`.
    pub fn remove(&mut self, case: &CaseSummary, dimension: Dimension) {
        self.count(case, &[dimension], -1);
    }

    fn count(&mut self, case: &CaseSummary, dimensions: &[Dimension], times: i64) {
        let contribution = Contribution::of(case);
        for dimension in dimensions {
            let change = self.0.entry(CellKey::of(case, *dimension)).or_default();
            change.counts.add(&contribution.counts, times);
            change.to_assign.push(contribution.to_assign, times);
            change.to_close.push(contribution.to_close, times);
            change.open_deadlines.push(contribution.open_deadline, times);
        }
    }

    fn net(&mut self) {
        self.0.retain(|_, change| {
            let mut moves = !change.counts.is_zero();
            for samples in change.samples() {
                samples.net();
                moves |= !samples.is_empty();
            }
            moves
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The cells that change, once netted by [`CellChanges::between`].
    pub fn keys(&self) -> impl Iterator<Item = &CellKey> {
        self.0.keys()
    }

    /// Applies the changes to `cells`, where a cell missing is empty; a cell left empty is
    /// removed. Returns the keys of the cells changed.
    pub fn apply(mut self, cells: &mut BTreeMap<CellKey, Cell>) -> Result<Vec<CellKey>, CellError> {
        self.net();
        let mut changed = Vec::with_capacity(self.0.len());
        for (key, change) in self.0 {
            let cell = cells.entry(key.clone()).or_default();
            cell.counts.add(&change.counts, 1);
            if cell.counts.0.iter().any(|count| *count < 0) {
                return Err(CellError::BelowZero(key));
            }
            let missing = || CellError::MissingSample(key.clone());
            cell.to_assign = change.to_assign.applied_to(&cell.to_assign).ok_or_else(missing)?;
            cell.to_close = change.to_close.applied_to(&cell.to_close).ok_or_else(missing)?;
            cell.open_deadlines = change
                .open_deadlines
                .applied_to(&cell.open_deadlines)
                .ok_or_else(missing)?;
            if cell.is_empty() {
                cells.remove(&key);
            }
            changed.push(key);
        }
        Ok(changed)
    }
}

/// The figures of a grouping from the cells of its dimension (see [`Dimension::of`]), one row
/// per group in key order (always one, `all`, when not grouped), as `outcome_figures` computes
/// them over the cases of those cells at `now`.
pub fn figures_of_cells(
    cells: &BTreeMap<CellKey, Cell>,
    group_by: Option<GroupBy>,
    now: Timestamp,
) -> Vec<OutcomeFigures> {
    let dimension = Dimension::of(group_by);
    let mut groups: BTreeMap<&str, Vec<&Cell>> = BTreeMap::new();
    if group_by.is_none() {
        groups.insert(UNGROUPED, Vec::new());
    }
    for (key, cell) in cells.iter().filter(|(key, _)| key.dimension == dimension) {
        let group = match group_by {
            Some(GroupBy::Month) => &key.month,
            _ => &key.group,
        };
        groups.entry(group).or_default().push(cell);
    }
    groups
        .into_iter()
        .map(|(group, cells)| figures(group, &cells, now))
        .collect()
}

fn figures(group: &str, cells: &[&Cell], now: Timestamp) -> OutcomeFigures {
    let mut counts = Counts::default();
    let mut open_overdue = 0;
    let now = nanoseconds(now);
    for cell in cells {
        counts.add(&cell.counts, 1);
        open_overdue += cell.open_deadlines.partition_point(|deadline| *deadline < now) as u64;
    }
    let to_assign: Vec<&[i64]> = cells.iter().map(|cell| cell.to_assign.as_slice()).collect();
    let to_close: Vec<&[i64]> = cells.iter().map(|cell| cell.to_close.as_slice()).collect();
    let count = |counter| counts.figure(counter);
    OutcomeFigures {
        group: group.to_owned(),
        submitted: count(Counter::Submitted),
        relayed: count(Counter::Relayed),
        assigned: count(Counter::Assigned),
        consulted: count(Counter::Consulted),
        adopted: count(Counter::Adopted),
        declined: count(Counter::Declined),
        closed: count(Counter::Closed),
        closed_by_outcome: ClosedByOutcome {
            a: count(Counter::ClosedA),
            b: count(Counter::ClosedB),
            c: count(Counter::ClosedC),
        },
        rated: count(Counter::Rated),
        resolution_rate: ratio(count(Counter::ClosedA), count(Counter::Closed)),
        adoption_rate: ratio(
            count(Counter::Adopted),
            count(Counter::Adopted) + count(Counter::Declined),
        ),
        satisfaction_rate: ratio(count(Counter::Satisfied), count(Counter::Rated)),
        on_time_rate: ratio(count(Counter::ClosedOnTime), count(Counter::ClosedWithDeadline)),
        days_to_assign: durations_of_runs(&to_assign),
        days_to_close: durations_of_runs(&to_close),
        open_overdue,
    }
}

/// The durations of the samples (seconds) of ascending `runs`, one run per cell.
fn durations_of_runs(runs: &[&[i64]]) -> Durations {
    let count = runs.iter().map(|run| run.len()).sum();
    durations_by_rank(count, |rank| nth_smallest(runs, rank) as f64 / 86_400.0)
}

/// The sample of rank `rank` (0 the smallest) among ascending `runs`, which hold more than
/// `rank` samples: the smallest value that more than `rank` samples do not exceed, found by
/// bisecting the values, so that no run is merged or copied.
fn nth_smallest(runs: &[&[i64]], rank: usize) -> i64 {
    let (mut low, mut high) = (i64::MAX, i64::MIN);
    for run in runs {
        if let (Some(first), Some(last)) = (run.first(), run.last()) {
            (low, high) = (low.min(*first), high.max(*last));
        }
    }
    while low < high {
        // Rounded down, so that `low <= middle < high` for negative values too.
        let middle = (i128::from(low) + i128::from(high)).div_euclid(2) as i64;
        let at_most: usize = runs
            .iter()
            .map(|run| run.partition_point(|sample| *sample <= middle))
            .sum();
        if at_most > rank {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    low
}

/// A period `[from, to)` laid over months (UTC): the months it touches, first to last, and the
/// months at its edges that it covers only in part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthSpan {
    pub first: String,
    pub last: String,
    pub partial: Vec<PartialMonth>,
}

/// A month `[starts, ends)` of which a period covers only `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialMonth {
    pub month: String,
    pub starts: Timestamp,
    pub ends: Timestamp,
    pub from: Timestamp,
    pub to: Timestamp,
}

fn month_start(at: Timestamp) -> Timestamp {
    NaiveDate::from_ymd_opt(at.year(), at.month(), 1)
        .expect("every month has a first day")
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
}

fn next_month(start: Timestamp) -> Timestamp {
    start
        .checked_add_months(Months::new(1))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn partial_month(starts: Timestamp, from: Timestamp, to: Timestamp) -> PartialMonth {
    let ends = next_month(starts);
    PartialMonth {
        month: month_of(starts),
        starts,
        ends,
        from,
        to: to.min(ends),
    }
}

/// The months of `[from, to)`; `from` must be before `to`.
pub fn month_span(from: Timestamp, to: Timestamp) -> MonthSpan {
    let head = month_start(from);
    let tail = month_start(to);
    let whole_from = if head == from { from } else { next_month(head) };
    let mut partial = Vec::new();
    if head != from {
        partial.push(partial_month(head, from, to));
    }
    if tail != to && tail >= whole_from {
        partial.push(partial_month(tail, tail, to));
    }
    MonthSpan {
        first: month_of(from),
        // The last moment of the period, at the finest resolution timestamps have.
        last: month_of(to - chrono::Duration::nanoseconds(1)),
        partial,
    }
}

#[cfg(test)]
mod tests;
